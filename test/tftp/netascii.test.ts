import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  NetasciiDecoder,
  NetasciiEncoder,
  netasciiDecode,
  netasciiEncode,
  netasciiSize,
} from '../../src/tftp/netascii.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

test('LF → CR LF, CR → CR NUL (RFC 1350 §1 / RFC 764)', () => {
  assert.deepEqual(netasciiEncode(b('a\nb\rc\r\n')), b('a\r\nb\r\0c\r\0\r\n'));
  assert.deepEqual(netasciiEncode(b('')), b(''));
  assert.deepEqual(netasciiEncode(b('\n\n')), b('\r\n\r\n'));
  assert.equal(netasciiSize(b('a\nb\rc\r\n')), 11);
});

test('decode: CR LF → LF, CR NUL → CR, other CR kept', () => {
  assert.deepEqual(netasciiDecode(b('a\r\nb\r\0c\r\0\r\n')), b('a\nb\rc\r\n'));
  assert.deepEqual(netasciiDecode(b('x\ry')), b('x\ry'));
  assert.deepEqual(netasciiDecode(b('end\r')), b('end\r'));
});

test('decoder holds a CR at the end of a chunk until the next one', () => {
  const d = new NetasciiDecoder();
  assert.deepEqual(d.push(b('line\r')), b('line'));
  assert.deepEqual(d.push(b('\nnext\r')), b('\nnext'));
  assert.deepEqual(d.push(b('\0')), b('\r'));
  assert.deepEqual(d.push(b('\r')), b(''));
  assert.deepEqual(d.push(b('')), b(''));
  assert.deepEqual(d.push(b('z')), b('\rz'));
  assert.deepEqual(d.end(), b(''));
  d.push(b('\r'));
  assert.deepEqual(d.end(), b('\r'));
});

const chunked = (data: Uint8Array, cuts: number[]): Uint8Array[] => {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    out.push(data.subarray(from, p));
    from = p;
  }
  out.push(data.subarray(from));
  return out;
};

const bytesWithLineEnds = fc.array(fc.constantFrom(0x0d, 0x0a, 0x00, 0x41, 0x7a), { maxLength: 200 }).map((a) => Uint8Array.from(a));

test('property: decode(encode(x)) = x, and the size is exact', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), bytesWithLineEnds), (x) => {
      const e = netasciiEncode(x);
      assert.equal(e.length, netasciiSize(x));
      assert.deepEqual(netasciiDecode(e), Buffer.from(x));
    }),
  );
});

test('property: streaming agrees with whole-buffer on any chunking', () => {
  fc.assert(
    fc.property(bytesWithLineEnds, fc.array(fc.nat(), { maxLength: 6 }), (x, cuts) => {
      const enc = new NetasciiEncoder();
      const encoded = Buffer.concat(chunked(x, cuts).map((c) => enc.push(c)));
      assert.deepEqual(encoded, netasciiEncode(x));
      const dec = new NetasciiDecoder();
      const decoded = Buffer.concat([...chunked(encoded, cuts).map((c) => dec.push(c)), dec.end()]);
      assert.deepEqual(decoded, Buffer.from(x));
      const dec2 = new NetasciiDecoder();
      const raw = Buffer.concat([...chunked(x, cuts).map((c) => dec2.push(c)), dec2.end()]);
      assert.deepEqual(raw, netasciiDecode(x));
    }),
  );
});

import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  decodeTftpPacket,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodeRequest,
  writeDataHeader,
} from '../../src/tftp/codec.js';
import { MAX_REQUEST_SIZE } from '../../src/tftp/constants.js';
import { TftpDecodeError, TftpEncodeError } from '../../src/tftp/errors.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function decodeError(buf: Uint8Array): TftpDecodeError {
  try {
    decodeTftpPacket(buf);
  } catch (err) {
    if (err instanceof TftpDecodeError) return err;
    throw err;
  }
  return assert.fail(`decoded: ${Buffer.from(buf).toString('hex')}`);
}

// Vectors written out by hand from RFC 1350 §5 figures 5-1..5-4 and RFC 2347's layouts.
const RRQ_HEX = '0001 666f6f2e62696e00 6f6374657400 626c6b73697a6500 3134363800'; // RRQ "foo.bin" octet blksize=1468
const WRQ_HEX = '0002 6100 6e65746173636969 00'; // WRQ "a" netascii
const DATA_HEX = '0003 0002 616263'; // DATA 2 "abc"
const ACK_HEX = '0004 0001'; // ACK 1
const ERROR_HEX = '0005 0001 46696c65206e6f7420666f756e6400'; // ERROR 1 "File not found"
const OACK_HEX = '0006 626c6b73697a650031343638 00 7473697a6500 3130323400'; // OACK blksize=1468 tsize=1024

test('RRQ golden bytes decode and encode', () => {
  const p = decodeTftpPacket(hex(RRQ_HEX));
  assert.deepEqual(p, {
    op: 'RRQ',
    filename: 'foo.bin',
    mode: 'octet',
    options: new Map([['blksize', '1468']]),
    rawNames: ['blksize'],
  });
  assert.deepEqual(encodeRequest('RRQ', 'foo.bin', 'octet', [['blksize', '1468']]), hex(RRQ_HEX));
});

test('WRQ golden bytes decode and encode', () => {
  assert.deepEqual(decodeTftpPacket(hex(WRQ_HEX)), {
    op: 'WRQ', filename: 'a', mode: 'netascii', options: new Map(), rawNames: [],
  });
  assert.deepEqual(encodeRequest('WRQ', 'a', 'netascii'), hex(WRQ_HEX));
});

test('DATA golden bytes; payload is a view, not a copy', () => {
  const buf = hex(DATA_HEX);
  const p = decodeTftpPacket(buf);
  assert.equal(p.op, 'DATA');
  if (p.op !== 'DATA') return;
  assert.equal(p.block, 2);
  assert.deepEqual(Buffer.from(p.data), Buffer.from('abc'));
  assert.equal(p.data.buffer, buf.buffer);
  assert.equal(p.data.byteOffset, buf.byteOffset + 4);
  assert.deepEqual(encodeData(2, Buffer.from('abc')), buf);
});

test('empty DATA and block 65535', () => {
  assert.deepEqual(encodeData(65535, new Uint8Array(0)), hex('0003ffff'));
  const p = decodeTftpPacket(hex('0003ffff'));
  assert.equal(p.op === 'DATA' && p.block, 65535);
  assert.equal(p.op === 'DATA' && p.data.length, 0);
});

test('writeDataHeader fills the header in place around a payload already there', () => {
  const packet = Buffer.from('xxxxhello');
  writeDataHeader(packet, 0x1234);
  assert.deepEqual(packet, hex('0003 1234 68656c6c6f'));
  assert.throws(() => writeDataHeader(Buffer.alloc(3), 1), TftpEncodeError);
});

test('ACK golden bytes', () => {
  assert.deepEqual(decodeTftpPacket(hex(ACK_HEX)), { op: 'ACK', block: 1 });
  assert.deepEqual(encodeAck(1), hex(ACK_HEX));
  assert.deepEqual(encodeAck(0xabcd), hex('0004abcd'));
});

test('ERROR golden bytes', () => {
  assert.deepEqual(decodeTftpPacket(hex(ERROR_HEX)), { op: 'ERROR', code: 1, message: 'File not found' });
  assert.deepEqual(encodeError(1, 'File not found'), hex(ERROR_HEX));
  assert.deepEqual(encodeError(8, ''), hex('0005000800'));
});

test('ERROR without NUL after its message is still an ERROR (it ends the transfer either way)', () => {
  assert.deepEqual(decodeTftpPacket(hex('0005 0000 6f6f7073')), { op: 'ERROR', code: 0, message: 'oops' });
  assert.deepEqual(decodeTftpPacket(hex('0005 0063')), { op: 'ERROR', code: 99, message: '' });
});

test('OACK golden bytes', () => {
  assert.deepEqual(decodeTftpPacket(hex(OACK_HEX)), {
    op: 'OACK', options: new Map([['blksize', '1468'], ['tsize', '1024']]),
  });
  assert.deepEqual(encodeOack(new Map([['blksize', '1468'], ['tsize', '1024']])), hex(OACK_HEX));
});

test('mode and option names are case-insensitive; rawNames keep the case sent', () => {
  const p = decodeTftpPacket(encodeRequest('RRQ', 'pxelinux.0', 'OcTeT', [['BLKSIZE', '1432'], ['TSize', '0']]));
  assert.equal(p.op, 'RRQ');
  if (p.op !== 'RRQ') return;
  assert.equal(p.mode, 'octet');
  assert.deepEqual([...p.options], [['blksize', '1432'], ['tsize', '0']]);
  assert.deepEqual(p.rawNames, ['BLKSIZE', 'TSize']);
});

test('NUL padding after the last option is tolerated', () => {
  const p = decodeTftpPacket(Buffer.concat([encodeRequest('RRQ', 'f', 'octet', [['tsize', '0']]), Buffer.alloc(3)]));
  assert.equal(p.op === 'RRQ' && p.options.get('tsize'), '0');
  const q = decodeTftpPacket(hex('0001 6600 6f6374657400 00'));
  assert.equal(q.op === 'RRQ' && q.options.size, 0);
});

test('UTF-8 filenames decode', () => {
  const p = decodeTftpPacket(encodeRequest('RRQ', 'böot/ü.cfg', 'octet'));
  assert.equal(p.op === 'RRQ' && p.filename, 'böot/ü.cfg');
});

const malformed: [string, string, string][] = [
  ['empty datagram', '', 'TFTP_ERR_TRUNCATED'],
  ['one octet', '00', 'TFTP_ERR_TRUNCATED'],
  ['ACK of 3 octets', '000400', 'TFTP_ERR_TRUNCATED'],
  ['DATA of 3 octets', '000300', 'TFTP_ERR_TRUNCATED'],
  ['ERROR of 2 octets', '0005', 'TFTP_ERR_TRUNCATED'],
  ['opcode 0', '0000 0001', 'TFTP_ERR_BAD_OPCODE'],
  ['opcode 7', '0007 0001', 'TFTP_ERR_BAD_OPCODE'],
  ['opcode 0x0100', '0100 0001', 'TFTP_ERR_BAD_OPCODE'],
  ['RRQ with nothing after the opcode', '0001', 'TFTP_ERR_TRUNCATED'],
  ['RRQ filename without NUL', '0001 666f6f', 'TFTP_ERR_NO_NUL'],
  ['RRQ without mode', '0001 666f6f00', 'TFTP_ERR_TRUNCATED'],
  ['RRQ mode without NUL', '0001 666f6f00 6f63746574', 'TFTP_ERR_NO_NUL'],
  ['RRQ empty filename', '0001 00 6f6374657400', 'TFTP_ERR_EMPTY_FILENAME'],
  ['WRQ empty filename', '0002 00 6f6374657400', 'TFTP_ERR_EMPTY_FILENAME'],
  ['RRQ mode "binary"', '0001 6600 62696e61727900', 'TFTP_ERR_BAD_MODE'],
  ['RRQ empty mode', '0001 6600 00', 'TFTP_ERR_BAD_MODE'],
  ['option name without value', '0001 6600 6f6374657400 7473697a6500', 'TFTP_ERR_ODD_OPTION'],
  ['option name without NUL', '0001 6600 6f6374657400 7473697a65', 'TFTP_ERR_NO_NUL'],
  ['option value without NUL', '0001 6600 6f6374657400 7473697a6500 30', 'TFTP_ERR_NO_NUL'],
  ['empty option name then data', '0001 6600 6f6374657400 00 3000', 'TFTP_ERR_EMPTY_OPTION_NAME'],
  ['duplicate option, other case', '0001 6600 6f6374657400 7473697a650030 00 5453495a450030 00', 'TFTP_ERR_DUPLICATE_OPTION'],
  ['OACK with odd option', '0006 7473697a6500', 'TFTP_ERR_ODD_OPTION'],
];

for (const [name, bytes, code] of malformed) {
  test(`malformed: ${name} → ${code}`, () => {
    assert.equal(decodeError(hex(bytes)).code, code);
  });
}

test('a request over 512 octets is too_long; exactly 512 decodes', () => {
  const base = encodeRequest('RRQ', 'f', 'octet');
  const name = 'x'.repeat(MAX_REQUEST_SIZE - base.length + 1);
  const exact = encodeRequest('RRQ', name, 'octet');
  assert.equal(exact.length, MAX_REQUEST_SIZE);
  assert.equal(decodeTftpPacket(exact).op, 'RRQ');
  const over = encodeRequest('RRQ', name + 'y', 'octet');
  const err = decodeError(over);
  assert.equal(err.code, 'TFTP_ERR_TOO_LONG');
  assert.equal(err.reason, 'too_long');
  assert.equal(decodeTftpPacket(over, { maxRequestSize: 1024 }).op, 'RRQ');
});

test('DATA, ACK and OACK are not bound by the request limit', () => {
  const p = decodeTftpPacket(encodeData(1, Buffer.alloc(1468)));
  assert.equal(p.op === 'DATA' && p.data.length, 1468);
});

test('decode reasons are the documented labels', () => {
  assert.equal(decodeError(hex('00')).reason, 'truncated');
  assert.equal(decodeError(hex('0009')).reason, 'bad_opcode');
  assert.equal(decodeError(hex('0001 666f6f')).reason, 'no_nul');
  assert.equal(decodeError(hex('0001 00 6f6374657400')).reason, 'empty_filename');
  assert.equal(decodeError(hex('0001 6600 6600')).reason, 'bad_mode');
  assert.equal(decodeError(hex('0001 6600 6f6374657400 6100 3000 6100 3000')).reason, 'duplicate_option');
});

test('encoders refuse values they cannot put on the wire', () => {
  for (const f of [
    () => encodeAck(65536),
    () => encodeAck(-1),
    () => encodeData(1.5, new Uint8Array(0)),
    () => encodeError(70000, 'x'),
    () => encodeError(0, 'a\0b'),
    () => encodeRequest('RRQ', 'a\0b', 'octet'),
    () => encodeOack([['', '1']]),
  ]) {
    assert.throws(f, (err: unknown) => err instanceof TftpEncodeError && err.code === 'TFTP_ERR_ENCODE_INVALID');
  }
});

test('property: random bytes decode or throw TftpDecodeError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      try {
        decodeTftpPacket(bytes);
      } catch (err) {
        return err instanceof TftpDecodeError;
      }
      return true;
    }),
    { numRuns: 5000 },
  );
});

test('property: random bytes behind a valid opcode decode or throw TftpDecodeError', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 80 }), (op, rest) => {
      const buf = Buffer.concat([Buffer.from([0, op]), rest]);
      try {
        decodeTftpPacket(buf);
      } catch (err) {
        return err instanceof TftpDecodeError;
      }
      return true;
    }),
    { numRuns: 5000 },
  );
});

const safeString = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes('\0'));

test('property: requests round-trip', () => {
  fc.assert(
    fc.property(
      fc.constantFrom('RRQ' as const, 'WRQ' as const),
      safeString,
      fc.constantFrom('octet', 'netascii', 'mail'),
      fc.uniqueArray(fc.tuple(safeString, fc.string({ maxLength: 10 }).filter((s) => !s.includes('\0'))), {
        maxLength: 6,
        selector: ([k]) => k.toLowerCase(),
      }),
      (op, filename, mode, options) => {
        const p = decodeTftpPacket(encodeRequest(op, filename, mode, options), { maxRequestSize: 4096 });
        assert.equal(p.op, op);
        if (p.op !== 'RRQ' && p.op !== 'WRQ') return;
        assert.equal(p.filename, filename);
        assert.equal(p.mode, mode);
        assert.deepEqual([...p.options], options.map(([k, v]) => [k.toLowerCase(), v]));
        assert.deepEqual(p.rawNames, options.map(([k]) => k));
      },
    ),
  );
});

test('property: DATA, ACK and ERROR round-trip', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 65535 }), fc.uint8Array({ maxLength: 600 }), (block, data) => {
      const d = decodeTftpPacket(encodeData(block, data));
      assert.deepEqual(d.op === 'DATA' && [d.block, Buffer.from(d.data)], [block, Buffer.from(data)]);
      assert.deepEqual(decodeTftpPacket(encodeAck(block)), { op: 'ACK', block });
      assert.deepEqual(decodeTftpPacket(encodeError(block, 'm')), { op: 'ERROR', code: block, message: 'm' });
    }),
  );
});

import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { negotiate } from '../../src/tftp/options.js';
import type { NegotiationPolicy } from '../../src/tftp/options.js';

const policy: NegotiationPolicy = { maxBlksize: 1468, maxWindowsize: 16, allowTsize: true };
const req = (pairs: [string, string][]): Map<string, string> => new Map(pairs);

test('no options: no OACK, RFC 1350 defaults', () => {
  const n = negotiate(req([]), policy, 1000, false);
  assert.deepEqual(n, { accepted: new Map(), blksize: 512, windowsize: 1, timeoutMs: undefined, tsize: undefined });
});

test('all four options accepted, in request order, names lower-case', () => {
  const n = negotiate(
    req([['TSIZE', '0'], ['Windowsize', '8'], ['blksize', '1024'], ['timeout', '3']]),
    policy,
    123456,
    false,
  );
  assert.deepEqual([...n.accepted], [['tsize', '123456'], ['windowsize', '8'], ['blksize', '1024'], ['timeout', '3']]);
  assert.equal(n.blksize, 1024);
  assert.equal(n.windowsize, 8);
  assert.equal(n.timeoutMs, 3000);
  assert.equal(n.tsize, 123456);
});

test('unknown options are left out of the OACK', () => {
  const n = negotiate(req([['multicast', ''], ['rollover', '0'], ['blksize', '512'], ['x', '1']]), policy, 1, false);
  assert.deepEqual([...n.accepted], [['blksize', '512']]);
});

test('only unknown options: nothing accepted → plain transfer', () => {
  const n = negotiate(req([['foo', 'bar']]), policy, 1, false);
  assert.equal(n.accepted.size, 0);
});

const blksizeCases: [string, string | undefined, number][] = [
  ['1468', '1468', 1468],
  ['1469', '1468', 1468], // above the server max → the max
  ['65464', '1468', 1468],
  ['99999999', '1468', 1468],
  ['8', '8', 8],
  ['7', undefined, 512], // below RFC 2348's minimum → ignored
  ['0', undefined, 512],
  ['-512', undefined, 512],
  ['abc', undefined, 512],
  ['', undefined, 512],
  ['1e3', undefined, 512],
  ['0001024', '1024', 1024],
];
for (const [value, answered, blksize] of blksizeCases) {
  test(`blksize ${JSON.stringify(value)} → ${answered ?? 'ignored'}`, () => {
    const n = negotiate(req([['blksize', value]]), policy, 10, false);
    assert.equal(n.accepted.get('blksize'), answered);
    assert.equal(n.blksize, blksize);
  });
}

test('a configured max above 65464 is held to the RFC 2348 maximum', () => {
  const n = negotiate(req([['blksize', '70000']]), { ...policy, maxBlksize: 100000 }, 10, false);
  assert.equal(n.blksize, 65464);
});

test('property: the answered blksize is never above the configured max nor the request', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 200000 }), fc.integer({ min: 8, max: 65464 }), (asked, max) => {
      const n = negotiate(req([['blksize', String(asked)]]), { ...policy, maxBlksize: max }, 0, false);
      if (asked < 8) return n.accepted.size === 0 && n.blksize === 512;
      return n.blksize <= max && n.blksize <= asked && n.accepted.get('blksize') === String(n.blksize);
    }),
  );
});

const timeoutCases: [string, number | undefined][] = [
  ['1', 1000], ['255', 255000], ['5', 5000], ['0', undefined], ['256', undefined], ['x', undefined], ['2.5', undefined],
];
for (const [value, ms] of timeoutCases) {
  test(`timeout ${JSON.stringify(value)} → ${ms ?? 'ignored'}`, () => {
    const n = negotiate(req([['timeout', value]]), policy, 10, false);
    assert.equal(n.timeoutMs, ms);
    assert.equal(n.accepted.get('timeout'), ms === undefined ? undefined : value);
  });
}

test('timeout outside the policy range is ignored, not altered (RFC 2349: the OACK echoes the value)', () => {
  const p = { ...policy, minTimeout: 2, maxTimeout: 10 };
  assert.equal(negotiate(req([['timeout', '1']]), p, 1, false).accepted.size, 0);
  assert.equal(negotiate(req([['timeout', '11']]), p, 1, false).accepted.size, 0);
  assert.equal(negotiate(req([['timeout', '10']]), p, 1, false).timeoutMs, 10000);
});

test('tsize on RRQ answers the real size, whatever the client sent', () => {
  assert.equal(negotiate(req([['tsize', '0']]), policy, 33554432, false).accepted.get('tsize'), '33554432');
  assert.equal(negotiate(req([['tsize', '77']]), policy, 0, false).accepted.get('tsize'), '0');
});

test('tsize on RRQ with an unknown size, or not allowed, is left out', () => {
  assert.equal(negotiate(req([['tsize', '0']]), policy, undefined, false).accepted.size, 0);
  assert.equal(negotiate(req([['tsize', '0']]), { ...policy, allowTsize: false }, 5, false).accepted.size, 0);
});

test('tsize on WRQ echoes the client size for the shell to check', () => {
  const n = negotiate(req([['tsize', '4096']]), policy, undefined, true);
  assert.equal(n.tsize, 4096);
  assert.equal(n.accepted.get('tsize'), '4096');
  assert.equal(negotiate(req([['tsize', 'lots']]), policy, undefined, true).accepted.size, 0);
});

const windowCases: [string, string | undefined, number][] = [
  ['16', '16', 16], ['4', '4', 4], ['1', '1', 1], ['64', '16', 16], ['70000', '16', 16], ['0', undefined, 1], ['w', undefined, 1],
];
for (const [value, answered, ws] of windowCases) {
  test(`windowsize ${JSON.stringify(value)} → ${answered ?? 'ignored'}`, () => {
    const n = negotiate(req([['windowsize', value]]), policy, 10, false);
    assert.equal(n.accepted.get('windowsize'), answered);
    assert.equal(n.windowsize, ws);
  });
}

test('names differing only in case count once (first wins) when a caller builds the map itself', () => {
  const n = negotiate(req([['BLKSIZE', '1024'], ['blksize', '8']]), policy, 1, false);
  assert.deepEqual([...n.accepted], [['blksize', '1024']]);
});

test('windowsize is never granted past 32767, whatever the policy allows (16-bit block numbers)', () => {
  const open = { ...policy, maxWindowsize: 65535 };
  const n = negotiate(req([['windowsize', '65535']]), open, 10, false);
  assert.equal(n.accepted.get('windowsize'), '32767');
  assert.equal(n.windowsize, 32767);
  assert.equal(negotiate(req([['windowsize', '32767']]), open, 10, false).windowsize, 32767);
});

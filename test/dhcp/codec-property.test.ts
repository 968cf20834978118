import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { decodePacket, encodePacket, messageTypeOf, peekMessageType } from '../../src/dhcp/codec.js';
import { DECODE_REASONS, DhcpDecodeError, DhcpEncodeError, DhcpErrorCode } from '../../src/dhcp/errors.js';
import type { DhcpPacket } from '../../src/dhcp/packet.js';

const DECODE_CODES: ReadonlySet<string> = new Set(Object.keys(DECODE_REASONS));

/** Decodes, and checks that a failure is a DhcpDecodeError with a known code and its reason. */
function decodeOrCodedError(buf: Uint8Array, seen?: Map<string, number>): DhcpPacket | undefined {
  try {
    const p = decodePacket(buf);
    seen?.set('decoded', (seen.get('decoded') ?? 0) + 1);
    return p;
  } catch (err) {
    assert.ok(err instanceof DhcpDecodeError, `not a DhcpDecodeError: ${String(err)}`);
    assert.ok(DECODE_CODES.has(err.code), err.code);
    assert.equal(err.reason, DECODE_REASONS[err.code]);
    seen?.set(err.code, (seen.get(err.code) ?? 0) + 1);
    return undefined;
  }
}

function hexOptions(p: DhcpPacket): Array<[number, string]> {
  return [...p.options].map(([code, value]) => [code, Buffer.from(value).toString('hex')]);
}

function plain(p: DhcpPacket, sortOptions = false): Record<string, unknown> {
  const options = hexOptions(p);
  if (sortOptions) options.sort((a, b) => a[0] - b[0]);
  return { ...p, chaddr: Buffer.from(p.chaddr).toString('hex'), options };
}

/** Whatever decodes must re-encode, and decode again to the same packet. */
function assertStable(p: DhcpPacket): void {
  assert.equal(p.chaddr.length, 16);
  for (const code of p.options.keys()) assert.ok(code >= 1 && code <= 254 && code !== 52, `option ${code} in the map`);
  const again = decodePacket(encodePacket(p, { maxSize: 1 << 20 }));
  assert.deepEqual(plain(again, true), plain(p, true));
}

/** A stream of option-like tokens, cut or padded to exactly `size` octets. */
function optionBytes(size: number): fc.Arbitrary<Uint8Array> {
  const token = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.integer({ min: 1, max: 254 }), fc.uint8Array({ maxLength: 40 })).map(([c, v]) => [c, v.length, ...v]) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 254 }), fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 0, max: 255 })).map(([c, v, n]) => [c, n, ...v]) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 4 }).map((v) => [52, 1, v]) },
    { weight: 1, arbitrary: fc.constantFrom([0], [0, 0, 0], [255], [52, 0], [52, 2, 1, 1]) },
  );
  return fc.array(token, { maxLength: 20 }).map((tokens) => {
    const out = new Uint8Array(size);
    const flat = tokens.flat().slice(0, size);
    out.set(flat);
    return out;
  });
}

/** Mostly well-formed headers with option-like contents in every field that can hold options. */
const nearlyValidPacket: fc.Arbitrary<Uint8Array> = fc
  .record({
    header: fc.uint8Array({ minLength: 44, maxLength: 44 }),
    op: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(1, 2) }, { weight: 1, arbitrary: fc.constantFrom(0, 3, 255) }),
    hlen: fc.oneof({ weight: 8, arbitrary: fc.nat(16) }, { weight: 1, arbitrary: fc.integer({ min: 17, max: 255 }) }),
    sname: fc.oneof(optionBytes(64), fc.uint8Array({ minLength: 64, maxLength: 64 })),
    file: fc.oneof(optionBytes(128), fc.uint8Array({ minLength: 128, maxLength: 128 })),
    cookie: fc.oneof({ weight: 9, arbitrary: fc.constant([0x63, 0x82, 0x53, 0x63]) }, { weight: 1, arbitrary: fc.array(fc.nat(255), { minLength: 4, maxLength: 4 }) }),
    optionsLength: fc.integer({ min: 0, max: 400 }),
    seed: fc.integer(),
  })
  .chain((r) => optionBytes(r.optionsLength).map((options) => ({ ...r, options })))
  .chain((r) => fc.integer({ min: 0, max: 240 + r.optionsLength }).map((cut) => ({ ...r, cut })))
  .map((r) => {
    const b = new Uint8Array(240 + r.options.length);
    b.set(r.header, 0);
    b[0] = r.op;
    b[2] = r.hlen;
    b.set(r.sname, 44);
    b.set(r.file, 108);
    b.set(r.cookie, 236);
    b.set(r.options, 240);
    // One run in eight is cut short somewhere.
    return (r.seed & 7) === 0 ? b.subarray(0, r.cut) : b;
  });

const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const latin1 = (max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: max });
const optionCode = fc.integer({ min: 1, max: 254 }).filter((c) => c !== 52);
const optionValue = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 250, maxLength: 600 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }) },
);

function packetArb(fields: { sname: fc.Arbitrary<string>; file: fc.Arbitrary<string>; maxOptions: number }): fc.Arbitrary<DhcpPacket> {
  return fc.record({
    op: fc.constantFrom(1, 2),
    htype: fc.nat(255),
    hlen: fc.nat(16),
    hops: fc.nat(255),
    xid: uint32,
    secs: fc.nat(0xffff),
    flags: fc.nat(0xffff),
    ciaddr: uint32,
    yiaddr: uint32,
    siaddr: uint32,
    giaddr: uint32,
    chaddr: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    sname: fields.sname,
    file: fields.file,
    options: fc
      .uniqueArray(fc.tuple(optionCode, optionValue), { selector: (t) => t[0], maxLength: fields.maxOptions })
      .map((entries) => new Map<number, Uint8Array>(entries)),
  });
}

const anyPacket = packetArb({ sname: latin1(64), file: latin1(128), maxOptions: 12 });

describe('codec properties', () => {
  it('random bytes decode or fail with a coded DhcpDecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
        const p = decodeOrCodedError(bytes);
        if (p !== undefined) assertStable(p);
      }),
      { numRuns: 2000 },
    );
  });

  it('nearly valid packets decode or fail with a coded DhcpDecodeError, and what decodes is stable', () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(nearlyValidPacket, (bytes) => {
        const p = decodeOrCodedError(bytes, seen);
        if (p !== undefined) assertStable(p);
      }),
      { numRuns: 3000 },
    );
    if (process.env.CODEC_PROPERTY_STATS) console.log(seen);
    // The generator must reach every outcome, or the property proves little.
    for (const outcome of ['decoded', ...DECODE_CODES]) assert.ok((seen.get(outcome) ?? 0) > 0, `no run ended in ${outcome}`);
  });

  it('valid packets round-trip: options in order 53, 54, then Map order', () => {
    fc.assert(
      fc.property(anyPacket, fc.boolean(), fc.boolean(), (p, withType, withServerId) => {
        if (withType) p.options.set(53, Uint8Array.of(1));
        if (withServerId) p.options.set(54, Uint8Array.of(10, 0, 0, 1));
        const out = encodePacket(p, { maxSize: 1 << 20 });
        assert.ok(out.length >= 300);
        const d = decodePacket(out);
        const expected = plain(p);
        const order = [...p.options.keys()];
        const first = [53, 54].filter((c) => p.options.has(c));
        const ordered = [...first, ...order.filter((c) => c !== 53 && c !== 54)];
        expected.options = ordered.map((c) => [c, Buffer.from(p.options.get(c) ?? []).toString('hex')]);
        assert.deepEqual(plain(d), expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('peekMessageType (load shedding) agrees with the decoder or says 0, and never throws', () => {
    fc.assert(
      fc.property(fc.oneof(nearlyValidPacket, fc.uint8Array({ maxLength: 400 })), (bytes) => {
        const peeked = peekMessageType(bytes);
        if (peeked === 0) return;
        const p = decodeOrCodedError(bytes);
        // A repeated option 53 is concatenated by the decoder (RFC 3396) into no valid type: the server drops that packet either way.
        const decoded = p === undefined ? undefined : messageTypeOf(p);
        if (decoded !== undefined) assert.equal(peeked, decoded);
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(anyPacket, fc.integer({ min: 1, max: 18 }), (p, type) => {
        p.options.delete(52);
        p.options.set(53, Uint8Array.of(type));
        assert.equal(peekMessageType(encodePacket(p, { maxSize: 1 << 20 })), type);
      }),
      { numRuns: 500 },
    );
  });

  it('packets larger than maxSize overload file/sname and still round-trip, or are refused as too large', () => {
    const arb = packetArb({
      sname: fc.oneof(fc.constant(''), latin1(64)),
      file: fc.oneof(fc.constant(''), latin1(128)),
      maxOptions: 8,
    });
    let overloaded = 0;
    fc.assert(
      fc.property(arb, fc.integer({ min: 244, max: 1500 }), (p, maxSize) => {
        p.options.set(53, Uint8Array.of(2));
        let out: Buffer;
        try {
          out = encodePacket(p, { maxSize });
        } catch (err) {
          assert.ok(err instanceof DhcpEncodeError && err.code === DhcpErrorCode.ENCODE_TOO_LARGE, String(err));
          return;
        }
        assert.ok(out.length <= maxSize, `${out.length} > ${maxSize}`);
        assert.equal(out.length >= Math.min(300, maxSize), true);
        const d = decodePacket(out);
        if (d.options.size > 0 && out[240] !== 53) assert.fail('option 53 is not first');
        let simple = 241;
        for (const v of p.options.values()) simple += v.length === 0 ? 2 : v.length + 2 * Math.ceil(v.length / 255);
        if (simple > maxSize) overloaded++;
        assert.deepEqual(plain(d, true), plain({ ...p, sname: d.sname, file: d.file }, true));
        // A field is only taken for options when it was empty.
        if (p.sname !== '') assert.equal(d.sname, p.sname);
        if (p.file !== '') assert.equal(d.file, p.file);
      }),
      { numRuns: 1500 },
    );
    assert.ok(overloaded > 50, `only ${overloaded} runs needed overload`);
  });

  it('bit flips and truncations of valid packets decode or fail with a coded error', () => {
    const mutation = fc.record({
      flips: fc.array(fc.tuple(fc.nat(), fc.nat(7)), { minLength: 1, maxLength: 8 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
    });
    fc.assert(
      fc.property(anyPacket, mutation, (p, m) => {
        const out = Buffer.from(encodePacket(p, { maxSize: 1 << 20 }));
        for (const [at, bit] of m.flips) {
          const i = at % out.length;
          out[i] = (out[i] as number) ^ (1 << bit);
        }
        const bytes = m.cut === undefined ? out : out.subarray(0, m.cut % (out.length + 1));
        const d = decodeOrCodedError(bytes);
        if (d !== undefined) assertStable(d);
      }),
      { numRuns: 1500 },
    );
  });
});

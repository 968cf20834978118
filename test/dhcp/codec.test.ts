import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { decodePacket, encodePacket, hardwareAddress, messageTypeOf } from '../../src/dhcp/codec.js';
import type { OptionKind } from '../../src/dhcp/constants.js';
import { DhcpDecodeError, DhcpEncodeError, DhcpErrorCode } from '../../src/dhcp/errors.js';
import { encodeOptionValue } from '../../src/dhcp/option-values.js';
import type { DhcpPacket } from '../../src/dhcp/packet.js';
import { parseIpv4 } from '../../src/net/ipv4.js';
import {
  ascii,
  clientHeader,
  hex,
  padTo,
  PXE_DISCOVER,
  PXE_PRL,
  serverHeader,
  UDHCPC_DISCOVER,
  XID,
  zeros,
} from './fixtures/packets.js';

const CHADDR = Buffer.from('52540012345600000000000000000000', 'hex');
const SERVER = ip('10.77.0.1');

function ip(text: string): number {
  const n = parseIpv4(text);
  assert.ok(n !== undefined, text);
  return n;
}

function opt(kind: OptionKind, value: unknown): Buffer {
  return encodeOptionValue(kind, value);
}

function packet(fields: Omit<Partial<DhcpPacket>, 'options'> & { options: Array<[number, Uint8Array]> | Map<number, Uint8Array> }): DhcpPacket {
  const { options, ...rest } = fields;
  return {
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: XID,
    secs: 0,
    flags: 0,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr: CHADDR,
    sname: '',
    file: '',
    ...rest,
    options: options instanceof Map ? options : new Map(options),
  };
}

/** A packet in a form deepStrictEqual compares by content (Buffer vs Uint8Array, Map order). */
function plain(p: DhcpPacket): Record<string, unknown> {
  return {
    ...p,
    chaddr: Buffer.from(p.chaddr).toString('hex'),
    options: [...p.options].map(([code, value]) => [code, Buffer.from(value).toString('hex')]),
  };
}

function assertDecodeError(buf: Uint8Array, code: string): DhcpDecodeError {
  let caught: unknown;
  try {
    decodePacket(buf);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof DhcpDecodeError, `expected DhcpDecodeError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}

function assertEncodeError(p: DhcpPacket, code: string, opts?: { maxSize?: number }): void {
  assert.throws(() => encodePacket(p, opts), (err: unknown) => err instanceof DhcpEncodeError && err.code === code);
}

const MT = (t: number): [number, Buffer] => [53, Buffer.from([t])];
const SID: [number, Buffer] = [54, opt('ip', '10.77.0.1')];
const CLIENT_ID: [number, Buffer] = [61, hex`01 525400123456`];
const LEASE: Array<[number, Buffer]> = [
  [51, opt('uint32', 3600)],
  [58, opt('uint32', 1800)],
  [59, opt('uint32', 3150)],
];
const NET: Array<[number, Buffer]> = [
  [1, opt('ip', '255.255.0.0')],
  [3, opt('ips', ['10.77.0.1'])],
  [6, opt('ips', ['10.77.0.1', '10.77.0.2'])],
];

interface Golden {
  readonly name: string;
  readonly wire: Buffer;
  readonly packet: DhcpPacket;
}

/** One message of every type; the wire bytes are written out by hand, the packets built from values. */
const MESSAGES: Golden[] = [
  {
    name: 'DISCOVER',
    wire: hex`${clientHeader({ flags: '8000' })}
      350101                      # 53 DISCOVER
      3d07 01525400123456         # 61 client id: type 1 + MAC
      3706 0103060f1c2a           # 55 PRL: 1 3 6 15 28 42
      3902 05dc                   # 57 max size 1500
      0c06 ${ascii('node-1')}     # 12 host name
      ff`,
    packet: packet({
      flags: 0x8000,
      options: [MT(1), CLIENT_ID, [55, opt('uint8s', [1, 3, 6, 15, 28, 42])], [57, opt('uint16', 1500)], [12, opt('string', 'node-1')]],
    }),
  },
  {
    name: 'OFFER',
    wire: hex`${serverHeader({ siaddr: '0a4d0001', flags: '8000', file: ascii('undionly.kpxe') + zeros(128 - 13) })}
      350102                      # 53 OFFER
      3604 0a4d0001               # 54 server id 10.77.0.1
      3304 00000e10               # 51 lease 3600
      3a04 00000708               # 58 T1 1800
      3b04 00000c4e               # 59 T2 3150
      0104 ffff0000               # 1 subnet mask 255.255.0.0
      0304 0a4d0001               # 3 routers
      0608 0a4d0001 0a4d0002      # 6 DNS servers
      0f0b ${ascii('dc1.example')} # 15 domain name
      ff`,
    packet: packet({
      op: 2,
      flags: 0x8000,
      yiaddr: ip('10.77.1.10'),
      siaddr: SERVER,
      file: 'undionly.kpxe',
      options: [MT(2), SID, ...LEASE, ...NET, [15, opt('string', 'dc1.example')]],
    }),
  },
  {
    name: 'REQUEST',
    wire: hex`${clientHeader({ secs: '0003' })}
      350103                      # 53 REQUEST
      3604 0a4d0001               # 54 server id (SELECTING)
      3204 0a4d010a               # 50 requested address 10.77.1.10
      3d07 01525400123456         # 61 client id
      3703 010306                 # 55 PRL
      0c06 ${ascii('node-1')}     # 12 host name
      ff`,
    packet: packet({
      secs: 3,
      options: [MT(3), SID, [50, opt('ip', '10.77.1.10')], CLIENT_ID, [55, opt('uint8s', [1, 3, 6])], [12, opt('string', 'node-1')]],
    }),
  },
  {
    name: 'DECLINE',
    wire: hex`${clientHeader()}
      350104                      # 53 DECLINE
      3604 0a4d0001               # 54 server id
      3204 0a4d010a               # 50 the declined address
      3d07 01525400123456         # 61 client id
      ff`,
    packet: packet({ options: [MT(4), SID, [50, opt('ip', '10.77.1.10')], CLIENT_ID] }),
  },
  {
    name: 'ACK',
    wire: hex`${serverHeader()}
      350105                      # 53 ACK
      3604 0a4d0001               # 54 server id
      3304 00000e10 3a04 00000708 3b04 00000c4e  # 51, 58, 59
      0104 ffff0000 0304 0a4d0001 0608 0a4d0001 0a4d0002  # 1, 3, 6
      0c06 ${ascii('node-1')}     # 12 host name
      ff`,
    packet: packet({
      op: 2,
      yiaddr: ip('10.77.1.10'),
      options: [MT(5), SID, ...LEASE, ...NET, [12, opt('string', 'node-1')]],
    }),
  },
  {
    name: 'NAK',
    wire: hex`${serverHeader({ yiaddr: '00000000', flags: '8000' })}
      350106                      # 53 NAK
      3604 0a4d0001               # 54 server id
      3815 ${ascii('address not available')}  # 56 message
      ff`,
    packet: packet({ op: 2, flags: 0x8000, options: [MT(6), SID, [56, opt('string', 'address not available')]] }),
  },
  {
    name: 'RELEASE',
    wire: hex`${clientHeader({ ciaddr: '0a4d010a' })}
      350107                      # 53 RELEASE
      3604 0a4d0001               # 54 server id
      3d07 01525400123456         # 61 client id
      ff`,
    packet: packet({ ciaddr: ip('10.77.1.10'), options: [MT(7), SID, CLIENT_ID] }),
  },
  {
    name: 'INFORM',
    wire: hex`${clientHeader({ ciaddr: '0a4d0114', giaddr: '0a4e0001', hops: '01' })}
      350108                      # 53 INFORM, relayed: hops 1, giaddr 10.78.0.1
      3d07 01525400123456         # 61 client id
      3704 01030f2a               # 55 PRL
      ff`,
    packet: packet({
      hops: 1,
      ciaddr: ip('10.77.1.20'),
      giaddr: ip('10.78.0.1'),
      options: [MT(8), CLIENT_ID, [55, opt('uint8s', [1, 3, 15, 42])]],
    }),
  },
];

describe('golden messages of every type', () => {
  for (const g of MESSAGES) {
    it(`decodes ${g.name}`, () => {
      const p = decodePacket(g.wire);
      assert.deepEqual(plain(p), plain(g.packet));
      assert.equal(messageTypeOf(p), messageTypeOf(g.packet));
    });
    it(`encodes ${g.name} to the same octets, padded to 300`, () => {
      assert.equal(encodePacket(g.packet).toString('hex'), padTo(g.wire, 300).toString('hex'));
    });
  }
  it('covers the eight message types 1..8', () => {
    assert.deepEqual(
      MESSAGES.map((g) => messageTypeOf(g.packet)),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
  });
});

describe('option kinds', () => {
  const KINDS: Array<{ kind: OptionKind; code: number; value: unknown; wire: string }> = [
    { kind: 'ip', code: 1, value: '255.255.255.0', wire: '01 04 ffffff00' },
    { kind: 'ips', code: 6, value: ['10.77.0.1', '10.77.0.2'], wire: '06 08 0a4d0001 0a4d0002' },
    { kind: 'ips', code: 42, value: '10.0.0.1, 192.168.255.254', wire: '2a 08 0a000001 c0a8fffe' },
    { kind: 'string', code: 15, value: 'dc1.example', wire: `0f 0b ${ascii('dc1.example')}` },
    { kind: 'uint8', code: 23, value: 64, wire: '17 01 40' },
    { kind: 'uint16', code: 26, value: 9000, wire: '1a 02 2328' },
    { kind: 'uint32', code: 51, value: 86400, wire: '33 04 00015180' },
    { kind: 'int32', code: 2, value: -3600, wire: '02 04 fffff1f0' },
    { kind: 'bool', code: 19, value: true, wire: '13 01 01' },
    { kind: 'bool', code: 19, value: false, wire: '13 01 00' },
    { kind: 'hex', code: 43, value: '01:04:de:ad:be:ef', wire: '2b 06 0104deadbeef' },
    { kind: 'uint8s', code: 224, value: [1, 2, 255], wire: 'e0 03 0102ff' },
    { kind: 'uint16s', code: 225, value: [1500, 9000], wire: 'e1 04 05dc2328' },
  ];
  for (const k of KINDS) {
    it(`${k.kind} ${JSON.stringify(k.value)} as option ${k.code}`, () => {
      const wire = hex`${serverHeader()} 350105 3604 0a4d0001 ${k.wire} ff`;
      const p = packet({ op: 2, yiaddr: ip('10.77.1.10'), options: [MT(5), SID, [k.code, opt(k.kind, k.value)]] });
      assert.equal(encodePacket(p).toString('hex'), padTo(wire, 300).toString('hex'));
      assert.deepEqual(plain(decodePacket(wire)), plain(p));
    });
  }
});

describe('relay agent information (82)', () => {
  // Sub-options carry octets 0x00 and 0xff, which must not read as PAD or END.
  const wire = hex`${clientHeader({ giaddr: '0a4e0001', hops: '01' })}
    350101
    52 14                      # 82, 20 octets of sub-options
       01 04 00ff00ff          #   1 circuit id
       02 06 001122334455      #   2 remote id
       05 04 0a4e0000          #   5 link selection 10.78.0.0 (RFC 3527)
    ff`;
  const p = packet({
    hops: 1,
    giaddr: ip('10.78.0.1'),
    options: [MT(1), [82, hex`01 04 00ff00ff 02 06 001122334455 05 04 0a4e0000`]],
  });
  it('decodes the sub-options as one opaque value', () => {
    assert.deepEqual(plain(decodePacket(wire)), plain(p));
  });
  it('encodes it back unchanged', () => {
    assert.equal(encodePacket(p).toString('hex'), padTo(wire, 300).toString('hex'));
  });
});

describe('long options (RFC 3396)', () => {
  const value = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7) & 0xff));
  const part = (from: number, to: number): string => value.subarray(from, to).toString('hex');
  const wire = hex`${serverHeader()}
    350105 3604 0a4d0001
    2b ff ${part(0, 255)}          # 43, first 255 octets
    2b ff ${part(255, 510)}        # 43, next 255
    2b 5a ${part(510, 600)}        # 43, last 90
    ff`;
  const p = packet({ op: 2, yiaddr: ip('10.77.1.10'), options: [MT(5), SID, [43, value]] });

  it('splits a 600-octet value into 255 + 255 + 90', () => {
    assert.equal(encodePacket(p, { maxSize: 1500 }).toString('hex'), wire.toString('hex'));
  });
  it('concatenates the instances when decoding', () => {
    assert.deepEqual(plain(decodePacket(wire)), plain(p));
  });
  it('concatenates instances that are not adjacent, in wire order', () => {
    const split = hex`${clientHeader()}
      0c 03 ${ascii('nod')}  350101  0c 00  3d07 01525400123456  0c 03 ${ascii('e-1')}  ff`;
    const d = decodePacket(split);
    assert.equal(Buffer.from(d.options.get(12) ?? []).toString('latin1'), 'node-1');
    assert.deepEqual([...d.options.keys()], [12, 53, 61]);
  });
  it('encodes a value of exactly 255 octets as one instance and 256 as two', () => {
    const one = encodePacket(packet({ options: [MT(1), [43, Buffer.alloc(255, 1)]] }), { maxSize: 1500 });
    assert.equal(one.length, 240 + 3 + 257 + 1);
    assert.equal(one[240 + 3 + 257], 0xff);
    const two = encodePacket(packet({ options: [MT(1), [43, Buffer.alloc(256, 1)]] }), { maxSize: 1500 });
    assert.deepEqual([...two.subarray(243, 245)], [43, 255]);
    assert.deepEqual([...two.subarray(243 + 257, 243 + 257 + 3)], [43, 1, 1]);
  });
});

describe('option overload (RFC 2132 §9.3)', () => {
  // maxSize 260 leaves 16 octets of options field for options (260 - 240 -
  // 1 for END - 3 for option 52), which keeps the golden layouts short.
  const small = { maxSize: 260 };

  it('moves options into file', () => {
    const wire = hex`${serverHeader({
      file: `
        0304 0a4d0001               # 3 routers
        0608 0a4d0001 0a4d0002      # 6 DNS
        0f0b ${ascii('dc1.example')} # 15 domain
        ff                          # END of file options
        ${zeros(128 - 6 - 10 - 13 - 1)}`,
    })}
      350102 3604 0a4d0001          # 53, 54: always in the options field
      0104 ffff0000                 # 1 still fits there (15 of 16 octets)
      340101                        # 52 overload: file
      ff 00                         # END, then one PAD to 260`;
    const p = packet({ op: 2, yiaddr: ip('10.77.1.10'), options: [MT(2), SID, ...NET, [15, opt('string', 'dc1.example')]] });
    const out = encodePacket(p, small);
    assert.equal(out.toString('hex'), wire.toString('hex'));
    assert.deepEqual(plain(decodePacket(out)), plain(p));
  });

  it('moves options into sname when file holds a boot file name', () => {
    const wire = hex`${serverHeader({
      file: ascii('undionly.kpxe') + zeros(128 - 13),
      sname: `0304 0a4d0001 0608 0a4d0001 0a4d0002 ff ${zeros(64 - 6 - 10 - 1)}`,
    })}
      350102 3604 0a4d0001 0104 ffff0000
      340102                        # 52 overload: sname
      ff 00`;
    const p = packet({ op: 2, yiaddr: ip('10.77.1.10'), file: 'undionly.kpxe', options: [MT(2), SID, ...NET] });
    const out = encodePacket(p, small);
    assert.equal(out.toString('hex'), wire.toString('hex'));
    assert.deepEqual(plain(decodePacket(out)), plain(p));
  });

  it('uses both fields, file first', () => {
    const vendor = Buffer.alloc(120, 0xab);
    const wire = hex`${serverHeader({
      file: `2b78 ${vendor.toString('hex')} ff ${zeros(128 - 122 - 1)}`,
      sname: `0f0b ${ascii('dc1.example')} ff ${zeros(64 - 13 - 1)}`,
    })}
      350102 3604 0a4d0001 0104 ffff0000
      340103                        # 52 overload: both
      ff 00`;
    const p = packet({
      op: 2,
      yiaddr: ip('10.77.1.10'),
      options: [MT(2), SID, [1, opt('ip', '255.255.0.0')], [43, vendor], [15, opt('string', 'dc1.example')]],
    });
    const out = encodePacket(p, small);
    assert.equal(out.toString('hex'), wire.toString('hex'));
    assert.deepEqual(plain(decodePacket(out)), plain(p));
  });

  it('splits a long option across the options field, file and sname', () => {
    const value = Buffer.from(Array.from({ length: 450 }, (_, i) => i & 0xff));
    const p = packet({ op: 2, options: [MT(2), SID, [43, value]] });
    const out = encodePacket(p);
    // options field: 53, 54, 43 ×255, 43 ×36 (fills it to 548 - 1 - 3), 52, END
    assert.equal(out.length, 548);
    assert.deepEqual([...out.subarray(249, 251)], [43, 255]);
    assert.deepEqual([...out.subarray(506, 508)], [43, 36]);
    assert.deepEqual([...out.subarray(544, 548)], [52, 1, 3, 255]);
    // file: 43 ×125 then END; sname: 43 ×34 then END
    assert.deepEqual([...out.subarray(108, 110)], [43, 125]);
    assert.equal(out[235], 255);
    assert.deepEqual([...out.subarray(44, 46)], [43, 34]);
    assert.equal(out[80], 255);
    assert.deepEqual(plain(decodePacket(out)), plain(p));
  });

  it('concatenates a split option in the order options, file, sname (RFC 3396 §7)', () => {
    const wire = hex`${clientHeader()}`;
    wire.set(hex`0c 02 ${ascii('-1')} ff`, 44); // sname
    wire.set(hex`0c 02 ${ascii('de')} 00 00 ff`, 108); // file, with PADs before END
    const full = Buffer.concat([wire, hex`350101 0c 02 ${ascii('no')} 340103 ff`]);
    const d = decodePacket(full);
    assert.equal(Buffer.from(d.options.get(12) ?? []).toString('latin1'), 'node-1');
    assert.equal(d.sname, '');
    assert.equal(d.file, '');
    assert.equal(d.options.has(52), false, 'option 52 is consumed by the codec');
  });

  it('reads sname as a string when only file is overloaded', () => {
    const wire = hex`${clientHeader()}`;
    wire.write('boot-server', 44, 'latin1');
    wire.set(hex`3c 03 ${ascii('abc')} ff`, 108);
    const d = decodePacket(Buffer.concat([wire, hex`350101 340101 ff`]));
    assert.equal(d.sname, 'boot-server');
    assert.equal(d.file, '');
    assert.equal(Buffer.from(d.options.get(60) ?? []).toString('latin1'), 'abc');
  });

  it('refuses to overload fields that hold names, or to exceed the space', () => {
    const big: Array<[number, Uint8Array]> = [MT(2), SID, [43, Buffer.alloc(200, 1)], [60, Buffer.alloc(200, 2)], [77, Buffer.alloc(200, 3)]];
    assertEncodeError(packet({ op: 2, sname: 'tftp', file: 'pxelinux.0', options: big }), DhcpErrorCode.ENCODE_TOO_LARGE);
    assertEncodeError(packet({ op: 2, options: [...big, [78, Buffer.alloc(200, 4)]] }), DhcpErrorCode.ENCODE_TOO_LARGE);
    assertEncodeError(packet({ op: 2, options: [MT(2)] }), DhcpErrorCode.ENCODE_TOO_LARGE, { maxSize: 243 });
  });
});

describe('PAD, END and padding', () => {
  it('skips PAD anywhere and ignores everything after END', () => {
    const wire = hex`${clientHeader()} 00 00 350101 00 3d07 01525400123456 00 ff 0c 7f 00 ff 01`;
    const d = decodePacket(wire);
    assert.deepEqual(plain(d), plain(packet({ options: [MT(1), CLIENT_ID] })));
  });
  it('accepts options that run to the end of the packet without END', () => {
    const d = decodePacket(hex`${clientHeader()} 350101 3d07 01525400123456`);
    assert.deepEqual(plain(d), plain(packet({ options: [MT(1), CLIENT_ID] })));
  });
  it('accepts a message with no options at all (plain BOOTP size)', () => {
    assert.equal(decodePacket(hex`${clientHeader()}`).options.size, 0);
  });
  it('pads to minSize with zeros and never past maxSize', () => {
    const p = packet({ options: [MT(1)] });
    assert.equal(encodePacket(p, { minSize: 0 }).length, 244);
    const padded = encodePacket(p, { minSize: 400, maxSize: 1500 });
    assert.equal(padded.length, 400);
    assert.ok(padded.subarray(244).every((b) => b === 0));
    assert.equal(encodePacket(p, { minSize: 400, maxSize: 350 }).length, 350);
  });
  it('writes option 53 first and 54 second, the rest in Map order', () => {
    const p = packet({ op: 2, options: [[3, opt('ip', '10.77.0.1')], SID, [1, opt('ip', '255.255.0.0')], MT(2)] });
    const out = encodePacket(p, { minSize: 0 });
    assert.equal(out.subarray(240).toString('hex'), '350102' + '36040a4d0001' + '03040a4d0001' + '0104ffff0000' + 'ff');
  });
  it('encodes zero-length options (e.g. rapid commit, 80)', () => {
    const p = packet({ options: [MT(1), [80, new Uint8Array(0)]] });
    const out = encodePacket(p, { minSize: 0 });
    assert.equal(out.subarray(240).toString('hex'), '350101' + '5000' + 'ff');
    assert.deepEqual(plain(decodePacket(out)), plain(p));
  });
});

describe('real-world clients', () => {
  it('decodes a PXE BIOS DISCOVER (options 93, 94, 97, 60, 55)', () => {
    const d = decodePacket(PXE_DISCOVER);
    assert.equal(PXE_DISCOVER.length, 548);
    assert.equal(messageTypeOf(d), 1);
    assert.equal(d.flags, 0x8000);
    assert.equal(d.secs, 4);
    assert.equal(d.xid, 0xa1b2c3d4);
    assert.deepEqual(Buffer.from(hardwareAddress(d)).toString('hex'), '001122aabbcc');
    assert.deepEqual([...d.options.keys()], [53, 57, 93, 94, 97, 55, 60]);
    assert.deepEqual([...(d.options.get(55) ?? [])], PXE_PRL);
    assert.equal(Buffer.from(d.options.get(60) ?? []).toString('latin1'), 'PXEClient:Arch:00000:UNDI:002001');
    assert.deepEqual([...(d.options.get(93) ?? [])], [0, 0]);
    assert.deepEqual([...(d.options.get(94) ?? [])], [1, 2, 1]);
    assert.equal(d.options.get(97)?.length, 17);
    assert.equal(Buffer.from(d.options.get(57) ?? []).readUInt16BE(0), 1260);
    assert.equal(encodePacket(d, { minSize: 548 }).toString('hex'), PXE_DISCOVER.toString('hex'));
  });

  it('decodes a DISCOVER captured from BusyBox udhcpc', () => {
    const d = decodePacket(UDHCPC_DISCOVER);
    assert.equal(UDHCPC_DISCOVER.length, 300);
    assert.equal(messageTypeOf(d), 1);
    assert.equal(d.xid, 0xf6902f5a);
    assert.equal(d.flags, 0);
    assert.deepEqual([...d.options.keys()], [53, 57, 55, 60, 61]);
    assert.equal(Buffer.from(d.options.get(60) ?? []).toString('latin1'), 'udhcp 1.35.0');
    assert.deepEqual([...(d.options.get(55) ?? [])], [1, 3, 6, 12, 15, 28, 42]);
    assert.deepEqual(Buffer.from(d.options.get(61) ?? []).toString('hex'), '01525400123456');
    assert.equal(encodePacket(d).toString('hex'), UDHCPC_DISCOVER.toString('hex'));
  });

  it('reads values as views of the received buffer, at any byteOffset', () => {
    const backing = new Uint8Array(UDHCPC_DISCOVER.length + 7);
    backing.set(UDHCPC_DISCOVER, 7);
    const d = decodePacket(backing.subarray(7));
    assert.equal(d.xid, 0xf6902f5a);
    const v = d.options.get(60);
    assert.ok(v !== undefined);
    assert.equal(v.buffer, backing.buffer, 'no copy');
  });
});

describe('malformed packets: each gets its own code', () => {
  const good = hex`${clientHeader()} 350101 ff`;
  const withOptions = (options: string, mutate?: (b: Buffer) => void): Buffer => {
    const b = Buffer.concat([hex`${clientHeader()}`, hex`${options}`]);
    mutate?.(b);
    return b;
  };

  it('truncated header', () => {
    assert.equal(assertDecodeError(good.subarray(0, 239), DhcpErrorCode.TRUNCATED).reason, 'truncated');
    assertDecodeError(new Uint8Array(0), DhcpErrorCode.TRUNCATED);
    assertDecodeError(good.subarray(0, 236), DhcpErrorCode.TRUNCATED);
  });
  it('bad cookie', () => {
    const b = Buffer.from(good);
    b[239] = 0x64;
    assert.equal(assertDecodeError(b, DhcpErrorCode.BAD_COOKIE).reason, 'bad_cookie');
  });
  it('op neither 1 nor 2', () => {
    for (const op of [0, 3, 255]) {
      const b = Buffer.from(good);
      b[0] = op;
      assert.equal(assertDecodeError(b, DhcpErrorCode.BAD_OP).reason, 'bad_op');
    }
  });
  it('hlen 17', () => {
    const b = Buffer.from(good);
    b[2] = 17;
    assert.equal(assertDecodeError(b, DhcpErrorCode.BAD_HLEN).reason, 'bad_hlen');
    b[2] = 16;
    assert.equal(decodePacket(b).hlen, 16);
  });
  it('option length past the end', () => {
    assert.equal(assertDecodeError(withOptions('350101 0c 05 6162'), DhcpErrorCode.OPTION_OVERRUN).reason, 'option_overrun');
    assertDecodeError(withOptions('350101 0c'), DhcpErrorCode.OPTION_OVERRUN);
    assertDecodeError(withOptions('35 02 01'), DhcpErrorCode.OPTION_OVERRUN);
  });
  it('option length past the end of file when overloaded', () => {
    const b = withOptions('350101 340101 ff', (x) => x.set([0x0c, 0x7f], 108));
    assertDecodeError(b, DhcpErrorCode.OPTION_OVERRUN);
    // sname ends at octet 108, where file begins: an option may end there but not cross it.
    const fits = withOptions('350101 340102 ff', (x) => x.set([0x0c, 0x01, 0x61], 105));
    assert.equal(Buffer.from(decodePacket(fits).options.get(12) ?? []).toString('latin1'), 'a');
    const crosses = withOptions('350101 340102 ff', (x) => x.set([0x0c, 0x02, 0x61], 105));
    assertDecodeError(crosses, DhcpErrorCode.OPTION_OVERRUN);
    const noLength = withOptions('350101 340102 ff', (x) => (x[107] = 0x0c));
    assertDecodeError(noLength, DhcpErrorCode.OPTION_OVERRUN);
  });
  it('option 52 inside file or sname is a loop', () => {
    const inFile = withOptions('350101 340101 ff', (x) => x.set(hex`340101 ff`, 108));
    assert.equal(assertDecodeError(inFile, DhcpErrorCode.OVERLOAD_LOOP).reason, 'overload_loop');
    const inSname = withOptions('350101 340103 ff', (x) => x.set(hex`340102 ff`, 44));
    assertDecodeError(inSname, DhcpErrorCode.OVERLOAD_LOOP);
  });
  it('option 52 with a bad value or length', () => {
    for (const o of ['340100', '340104', '3400', '34020101', '340101 340101']) {
      assert.equal(assertDecodeError(withOptions(`350101 ${o} ff`), DhcpErrorCode.BAD_OVERLOAD).reason, 'bad_overload', o);
    }
  });
  it('does not treat a missing message type as a decode error', () => {
    const d = decodePacket(withOptions('3d07 01525400123456 ff'));
    assert.equal(messageTypeOf(d), undefined);
  });
});

describe('encoder input checks', () => {
  const base = (): DhcpPacket => packet({ options: [MT(1)] });
  it('refuses option codes 0, 52, 255 and out of range', () => {
    for (const code of [0, 52, 255, 256, -1, 1.5]) {
      assertEncodeError(packet({ options: [MT(1), [code, new Uint8Array(1)]] }), DhcpErrorCode.ENCODE_INVALID);
    }
  });
  it('refuses header fields out of range', () => {
    assertEncodeError({ ...base(), xid: 2 ** 32 }, DhcpErrorCode.ENCODE_INVALID);
    assertEncodeError({ ...base(), secs: -1 }, DhcpErrorCode.ENCODE_INVALID);
    assertEncodeError({ ...base(), hlen: 17 }, DhcpErrorCode.ENCODE_INVALID);
    assertEncodeError({ ...base(), yiaddr: 1.5 }, DhcpErrorCode.ENCODE_INVALID);
    assertEncodeError({ ...base(), chaddr: new Uint8Array(17) }, DhcpErrorCode.ENCODE_INVALID);
  });
  it('refuses sname/file that do not fit or are not latin1', () => {
    assertEncodeError({ ...base(), sname: 'x'.repeat(65) }, DhcpErrorCode.ENCODE_INVALID);
    assertEncodeError({ ...base(), file: 'x'.repeat(129) }, DhcpErrorCode.ENCODE_INVALID);
    assertEncodeError({ ...base(), file: 'bööt\u20ac' }, DhcpErrorCode.ENCODE_INVALID);
    assertEncodeError({ ...base(), file: 'a\0b' }, DhcpErrorCode.ENCODE_INVALID);
  });
  it('writes a 64-character sname and a 128-character file without NUL and reads them back', () => {
    const p = { ...base(), sname: 's'.repeat(64), file: 'f'.repeat(128) };
    const d = decodePacket(encodePacket(p));
    assert.equal(d.sname, p.sname);
    assert.equal(d.file, p.file);
  });
  it('refuses sizes that are not integers', () => {
    assert.throws(() => encodePacket(base(), { maxSize: Number.NaN }), (e: unknown) => e instanceof DhcpEncodeError && e.code === DhcpErrorCode.ENCODE_INVALID);
    assert.throws(() => encodePacket(base(), { minSize: -1 }), (e: unknown) => e instanceof DhcpEncodeError && e.code === DhcpErrorCode.ENCODE_INVALID);
  });
  it('writes a short chaddr zero-padded to 16 octets', () => {
    const out = encodePacket({ ...base(), chaddr: Buffer.from('525400123456', 'hex') });
    assert.equal(out.subarray(28, 44).toString('hex'), '525400123456' + zeros(10));
  });
});

describe('helpers', () => {
  it('hardwareAddress is the first hlen octets of chaddr, at most 16', () => {
    const p = packet({ options: [] });
    assert.equal(Buffer.from(hardwareAddress(p)).toString('hex'), '525400123456');
    assert.equal(hardwareAddress({ ...p, hlen: 0 }).length, 0);
    assert.equal(hardwareAddress({ ...p, hlen: 20 }).length, 16);
  });
  it('messageTypeOf needs exactly one octet', () => {
    assert.equal(messageTypeOf(packet({ options: [MT(3)] })), 3);
    assert.equal(messageTypeOf(packet({ options: [] })), undefined);
    assert.equal(messageTypeOf(packet({ options: [[53, Buffer.from([1, 1])]] })), undefined);
    assert.equal(messageTypeOf(packet({ options: [[53, Buffer.alloc(0)]] })), undefined);
  });
});

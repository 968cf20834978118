import { strict as assert } from 'node:assert';
import { beforeEach, describe, it } from 'node:test';
import type { DhcpConfig } from '../../src/config/types.js';
import { FLAG_BROADCAST, MessageType as T } from '../../src/dhcp/constants.js';
import type { EngineOutcome, InterfaceInfo, RequestContext } from '../../src/dhcp/engine.js';
import { compileDhcpConfig, DhcpEngine } from '../../src/dhcp/engine.js';
import type { Lease } from '../../src/dhcp/lease.js';
import type { DhcpPacket } from '../../src/dhcp/packet.js';
import { formatIpv4 } from '../../src/net/ipv4.js';
import type { RequestSpec } from '../helpers/memory-lease-view.js';
import { exchange, ip, ipBytes, MemoryLeaseView, request } from '../helpers/memory-lease-view.js';

const CONFIG: DhcpConfig = {
  options: [{ code: 42, value: '10.0.0.3' }, { code: 4, value: ['10.0.0.4'] }],
  subnets: [
    {
      id: 1, subnet: '10.0.0.0/24', interface: 'eth1', pools: ['10.0.0.100-10.0.0.103'],
      routers: ['10.0.0.1'], dns_servers: ['10.0.0.2'], domain_name: 'dc1.example',
      options: [{ code: 26, value: 9000, always_send: true }, { code: 4, value: ['10.0.0.44'] }],
      reservations: [
        { mac: '52:54:00:00:00:aa', ip: '10.0.0.50', hostname: 'node-a', options: [{ code: 42, value: '10.0.0.99' }] },
        { client_id: '01:02:03', ip: '10.0.0.51' },
        { mac: '52:54:00:00:00:bb', ip: '10.0.0.101' },
      ],
    },
    { id: 2, subnet: '10.1.0.0/24', relay_addresses: ['192.168.50.1'], pools: ['10.1.0.10-10.1.0.20'], lease_time: 600 },
    { id: 3, subnet: '10.2.0.0/24', pools: ['10.2.0.10-10.2.0.20'] },
    {
      id: 4, subnet: '10.3.0.0/24', interface: 'eth3',
      pools: [{ range: '10.3.0.10-10.3.0.11', client_class: 'lab', options: [{ code: 42, value: '10.3.0.42' }, { code: 7, value: ['10.3.0.7'] }] }, '10.3.0.20-10.3.0.21'],
    },
  ],
  shared_networks: [{
    name: 'rack', interface: 'eth2', options: [{ code: 15, value: 'rack.example' }],
    subnets: [
      { id: 10, subnet: '10.20.0.0/24', pools: ['10.20.0.10-10.20.0.11'] },
      { id: 11, subnet: '10.21.0.0/24', pools: ['10.21.0.10-10.21.0.12'], client_class: 'nobody' },
      { id: 12, subnet: '10.22.0.0/24', pools: ['10.22.0.10-10.22.0.12'] },
    ],
  }],
  client_classes: [{ name: 'lab', match: { mac_prefix: '02:00:00' }, options: [{ code: 7, value: ['10.0.0.77'] }] }],
};

const IFACES: Record<string, InterfaceInfo> = {
  eth1: { name: 'eth1', addresses: [{ ip: ip('10.0.0.254'), prefix: 24 }] },
  eth2: { name: 'eth2', addresses: [{ ip: ip('10.20.0.1'), prefix: 24 }, { ip: ip('10.21.0.1'), prefix: 24 }] },
  eth3: { name: 'eth3', addresses: [{ ip: ip('10.3.0.1'), prefix: 24 }] },
  eth9: { name: 'eth9', addresses: [{ ip: ip('192.168.50.254'), prefix: 24 }] },
  eth4: { name: 'eth4', addresses: [{ ip: ip('172.16.0.1'), prefix: 24 }] },
};
const NOW = 1_700_000_000;

let view: MemoryLeaseView;
let engine: DhcpEngine;
let now: number;

function ctx(iface = 'eth1', sourceIp = 0): RequestContext {
  return { iface: IFACES[iface] as InterfaceInfo, sourceIp, sourcePort: 68, now };
}

function send(type: number | undefined, spec: RequestSpec = {}, iface = 'eth1'): EngineOutcome {
  return exchange(engine, view, request(type, spec), ctx(iface, spec.ciaddr !== undefined ? ip(spec.ciaddr) : 0));
}

function reply(out: EngineOutcome): DhcpPacket {
  assert.equal(out.kind, 'reply', `expected a reply, got ${JSON.stringify(out.kind === 'drop' ? out : out.event)}`);
  return (out as Extract<EngineOutcome, { kind: 'reply' }>).reply;
}

function typeOf(out: EngineOutcome): number | undefined {
  return out.kind === 'reply' ? out.reply.options.get(53)?.[0] : undefined;
}

function optIp(p: DhcpPacket, code: number): string | undefined {
  const v = p.options.get(code);
  return v === undefined ? undefined : [...v].join('.');
}

function optU32(p: DhcpPacket, code: number): number | undefined {
  const v = p.options.get(code);
  return v === undefined ? undefined : Buffer.from(v).readUInt32BE(0);
}

function optText(p: DhcpPacket, code: number): string | undefined {
  const v = p.options.get(code);
  return v === undefined ? undefined : Buffer.from(v).toString('latin1');
}

/** DISCOVER then REQUEST (SELECTING) for one client; returns the ACKed address. */
function bind(spec: RequestSpec = {}, iface = 'eth1'): string {
  const offer = reply(send(T.DISCOVER, spec, iface));
  const sid = offer.options.get(54) as Uint8Array;
  const ack = reply(send(T.REQUEST, { ...spec, options: { ...spec.options, 50: ipBytes(formatIpv4(offer.yiaddr)), 54: sid } }, iface));
  assert.equal(ack.options.get(53)?.[0], T.ACK);
  return formatIpv4(ack.yiaddr);
}

function leaseAt(text: string): Lease | undefined {
  return view.byIp(ip(text));
}

beforeEach(() => {
  view = new MemoryLeaseView();
  engine = new DhcpEngine(compileDhcpConfig(CONFIG));
  now = NOW;
});

describe('drops', () => {
  const cases: [string, DhcpPacket, string][] = [
    ['BOOTREPLY', request(T.DISCOVER, { op: 2 }), 'not_bootrequest'],
    ['no option 53', request(undefined), 'no_message_type'],
    ['two-octet option 53', request(undefined, { options: { 53: [1, 1] } }), 'bad_message_type'],
    ['OFFER from a client', request(T.OFFER), 'server_message_type'],
    ['ACK from a client', request(T.ACK), 'server_message_type'],
    ['NAK from a client', request(T.NAK), 'server_message_type'],
    ['LEASEQUERY', request(10), 'unsupported_message_type'],
    ['hlen 17', request(T.DISCOVER, { hlen: 17 }), 'bad_hlen'],
    ['Ethernet with hlen 5', request(T.DISCOVER, { hlen: 5 }), 'bad_hlen'],
    ['no chaddr and no client id', request(T.DISCOVER, { htype: 32, hlen: 0 }), 'no_client_identity'],
    ['REQUEST with no address at all', request(T.REQUEST), 'request_without_address'],
  ];
  for (const [name, pkt, reason] of cases) {
    it(name, () => assert.deepEqual(engine.handle(pkt, ctx(), view), { kind: 'drop', reason }));
  }
});

describe('DISCOVER', () => {
  it('offers the first pool address with lease times, server id and mask, held as a non-durable offer', () => {
    const out = send(T.DISCOVER);
    const p = reply(out);
    assert.equal(typeOf(out), T.OFFER);
    assert.equal(formatIpv4(p.yiaddr), '10.0.0.100');
    assert.equal(p.op, 2);
    assert.equal(p.xid, 0x1234);
    assert.equal(p.hops, 0);
    assert.equal(p.ciaddr, 0);
    assert.equal(p.siaddr, 0, 'not a boot client');
    assert.deepEqual([...p.options.keys()].slice(0, 6), [53, 54, 51, 58, 59, 1]);
    assert.equal(optIp(p, 54), '10.0.0.254');
    assert.equal(optU32(p, 51), 3600);
    assert.equal(optU32(p, 58), 1800);
    assert.equal(optU32(p, 59), 3150);
    assert.equal(optIp(p, 1), '255.255.255.0');
    assert.ok(out.kind === 'reply');
    assert.equal(out.changes.length, 1);
    const ch = out.changes[0];
    assert.ok(ch?.kind === 'upsert');
    assert.equal(ch.durable, false);
    assert.deepEqual({ ...ch.lease }, {
      ip: ip('10.0.0.100'), subnetId: 1, mac: '52:54:00:12:34:56', clientId: '', hostname: '',
      state: 'offered', start: NOW, expires: NOW + 60, version: 1,
    });
    assert.deepEqual(out.event, { kind: 'offer', mac: '52:54:00:12:34:56', clientId: '', messageType: 'DISCOVER', subnetId: 1, ip: ip('10.0.0.100') });
  });

  it('gives each client its own address and skips addresses reserved for others', () => {
    const got = ['52:54:00:00:01:01', '52:54:00:00:01:02', '52:54:00:00:01:03'].map((mac) => bind({ mac }));
    assert.deepEqual(got, ['10.0.0.100', '10.0.0.102', '10.0.0.103'], '10.0.0.101 is reserved');
  });

  it('re-offers the same address to a client that asks again', () => {
    const a = formatIpv4(reply(send(T.DISCOVER)).yiaddr);
    const b = formatIpv4(reply(send(T.DISCOVER)).yiaddr);
    assert.equal(a, b);
  });

  it('does not downgrade an active lease when its owner DISCOVERs', () => {
    bind();
    const out = send(T.DISCOVER);
    assert.equal(formatIpv4(reply(out).yiaddr), '10.0.0.100');
    assert.ok(out.kind === 'reply');
    assert.deepEqual(out.changes, []);
    assert.equal(leaseAt('10.0.0.100')?.state, 'active');
  });

  it('honours option 50 when the address is free in a pool, ignores it otherwise', () => {
    assert.equal(formatIpv4(reply(send(T.DISCOVER, { options: { 50: ipBytes('10.0.0.103') } })).yiaddr), '10.0.0.103');
    assert.equal(formatIpv4(reply(send(T.DISCOVER, { mac: '52:54:00:00:02:01', options: { 50: ipBytes('10.0.0.103') } })).yiaddr), '10.0.0.100', 'offered to someone else');
    assert.equal(formatIpv4(reply(send(T.DISCOVER, { mac: '52:54:00:00:02:02', options: { 50: ipBytes('10.0.0.7') } })).yiaddr), '10.0.0.102', 'outside the pools');
    const out = send(T.DISCOVER, { mac: '52:54:00:00:02:03', options: { 50: ipBytes('10.0.0.101') } });
    assert.ok(out.kind === 'no-reply' && out.event.kind === 'exhausted', 'reserved for another: the pool is full without it');
  });

  it('reuses an address whose offer expired', () => {
    reply(send(T.DISCOVER, { mac: '52:54:00:00:03:01' }));
    now += 61;
    assert.equal(formatIpv4(reply(send(T.DISCOVER, { mac: '52:54:00:00:03:02', options: { 50: ipBytes('10.0.0.100') } })).yiaddr), '10.0.0.100');
  });

  it('reports exhaustion without a reply', () => {
    for (const mac of ['52:54:00:00:04:01', '52:54:00:00:04:02', '52:54:00:00:04:03']) bind({ mac });
    const out = send(T.DISCOVER, { mac: '52:54:00:00:04:04' });
    assert.equal(out.kind, 'no-reply');
    assert.ok(out.kind === 'no-reply');
    assert.equal(out.event.kind, 'exhausted');
    assert.deepEqual(out.changes, []);
  });

  it('remembers a full pool for the rest of the second, and forgets it when an address is released or time moves on', () => {
    const macs = ['52:54:00:00:04:11', '52:54:00:00:04:12', '52:54:00:00:04:13'];
    for (const mac of macs) bind({ mac });
    const exhausted = (mac: string): boolean => {
      const out = send(T.DISCOVER, { mac });
      return out.kind === 'no-reply' && out.event.kind === 'exhausted';
    };
    assert.ok(exhausted('52:54:00:00:04:21'));
    // An address freed behind the engine's back (another engine sharing the store) waits for the next second.
    const taken = leaseAt('10.0.0.103') as Lease;
    view.apply([{ kind: 'delete', ip: taken.ip, durable: true }]);
    assert.ok(exhausted('52:54:00:00:04:22'), 'same second: the memo holds');
    now += 1;
    assert.equal(formatIpv4(reply(send(T.DISCOVER, { mac: '52:54:00:00:04:22' })).yiaddr), '10.0.0.103', 'next second: walked again');
    assert.ok(exhausted('52:54:00:00:04:23'));
    // A RELEASE through this engine frees an address at once, in the same second.
    const released = send(T.RELEASE, { mac: macs[0], ciaddr: '10.0.0.100', options: { 54: ipBytes('10.0.0.254') } });
    assert.ok(released.kind !== 'drop');
    view.apply(released.changes);
    const out = send(T.DISCOVER, { mac: '52:54:00:00:04:23' });
    assert.equal(out.kind, 'reply', 'the released address is held for its client but usable when nothing else is');
    // Reclamation through this engine also ends the memo.
    assert.ok(exhausted('52:54:00:00:04:24'));
    const offered = leaseAt('10.0.0.103') as Lease;
    view.apply(engine.reclaim([{ ...offered, expires: now }], now));
    assert.equal(formatIpv4(reply(send(T.DISCOVER, { mac: '52:54:00:00:04:24' })).yiaddr), '10.0.0.103');
  });

  it('keeps an expired client\'s address for it while others are free, and uses it when nothing else is', () => {
    const macs = ['52:54:00:00:05:01', '52:54:00:00:05:02', '52:54:00:00:05:03'];
    assert.equal(bind({ mac: macs[0] }), '10.0.0.100');
    const l = leaseAt('10.0.0.100') as Lease;
    view.apply(engine.reclaim([{ ...l, expires: now }], now + 1));
    now += 10;
    assert.equal(leaseAt('10.0.0.100')?.state, 'expired');
    assert.equal(bind({ mac: macs[1] }), '10.0.0.102');
    assert.equal(bind({ mac: macs[2] }), '10.0.0.103');
    assert.equal(bind({ mac: '52:54:00:00:05:04' }), '10.0.0.100', 'held address used once the pool is otherwise full');
  });

  it('gives the old address back to its client after expiry (affinity)', () => {
    assert.equal(bind(), '10.0.0.100');
    bind({ mac: '52:54:00:00:06:01' });
    now += 4000;
    view.apply(engine.reclaim(view.all(), now));
    assert.equal(bind(), '10.0.0.100');
  });
});

describe('REQUEST', () => {
  it('SELECTING: ACKs our offer with a durable active lease', () => {
    const offer = reply(send(T.DISCOVER, { options: { 12: 'myhost' } }));
    const out = send(T.REQUEST, { options: { 50: ipBytes('10.0.0.100'), 54: offer.options.get(54) as Uint8Array } });
    const p = reply(out);
    assert.equal(typeOf(out), T.ACK);
    assert.equal(formatIpv4(p.yiaddr), '10.0.0.100');
    assert.ok(out.kind === 'reply');
    assert.deepEqual(out.changes, [{ kind: 'upsert', durable: true, lease: {
      ip: ip('10.0.0.100'), subnetId: 1, mac: '52:54:00:12:34:56', clientId: '', hostname: 'myhost',
      state: 'active', start: NOW, expires: NOW + 3600, version: 2,
    } }]);
    assert.equal(out.event.kind, 'ack');
    assert.equal(out.event.hostname, 'myhost');
  });

  it('SELECTING another server: our offer is withdrawn and nothing is sent', () => {
    reply(send(T.DISCOVER));
    const out = send(T.REQUEST, { options: { 50: ipBytes('10.0.0.100'), 54: ipBytes('10.0.0.253') } });
    assert.ok(out.kind === 'no-reply');
    assert.deepEqual(out.changes, [{ kind: 'delete', ip: ip('10.0.0.100'), durable: false }]);
    assert.equal(leaseAt('10.0.0.100'), undefined);
  });

  it('SELECTING an address leased to someone else: NAK', () => {
    bind({ mac: '52:54:00:00:07:01' });
    const out = send(T.REQUEST, { options: { 50: ipBytes('10.0.0.100'), 54: ipBytes('10.0.0.254') } });
    assert.equal(typeOf(out), T.NAK);
    const p = reply(out);
    assert.equal(p.yiaddr, 0);
    assert.equal(p.options.has(51), false);
    assert.equal(optIp(p, 54), '10.0.0.254');
    assert.equal(optText(p, 56), 'address in use by another client');
    assert.deepEqual([...p.options.keys()], [53, 54, 56]);
    assert.ok(out.kind === 'reply');
    assert.deepEqual(out.dest, { ip: 0xffffffff, port: 68, broadcast: true });
    assert.deepEqual(out.changes, []);
    assert.equal(out.event.kind, 'nak');
  });

  it('SELECTING an address whose offer lapsed but is still free: ACK', () => {
    reply(send(T.DISCOVER));
    now += 120;
    assert.equal(typeOf(send(T.REQUEST, { options: { 50: ipBytes('10.0.0.100'), 54: ipBytes('10.0.0.254') } })), T.ACK);
  });

  describe('INIT-REBOOT', () => {
    it('ACKs the client\'s own address', () => {
      bind();
      now += 100;
      const out = send(T.REQUEST, { options: { 50: ipBytes('10.0.0.100') } });
      assert.equal(typeOf(out), T.ACK);
      assert.equal(leaseAt('10.0.0.100')?.expires, now + 3600);
    });
    it('stays silent for a client it has no record of (RFC 2131 §4.3.2 MUST)', () => {
      const out = send(T.REQUEST, { options: { 50: ipBytes('10.0.0.102') } });
      assert.equal(out.kind, 'no-reply');
      assert.ok(out.kind === 'no-reply');
      assert.equal(out.event.reason, 'no record of the client');
    });
    it('NAKs an address on the wrong network', () => {
      const out = send(T.REQUEST, { options: { 50: ipBytes('10.9.0.5') } });
      assert.equal(typeOf(out), T.NAK);
      assert.equal(optText(reply(out), 56), 'requested address is not on the client\'s network');
    });
    it('stays silent on the wrong network when not authoritative', () => {
      engine = new DhcpEngine(compileDhcpConfig({ ...CONFIG, authoritative: false }));
      assert.equal(send(T.REQUEST, { options: { 50: ipBytes('10.9.0.5') } }).kind, 'no-reply');
    });
    it('NAKs an address leased to someone else', () => {
      bind({ mac: '52:54:00:00:08:01' });
      assert.equal(typeOf(send(T.REQUEST, { options: { 50: ipBytes('10.0.0.100') } })), T.NAK);
    });
    it('NAKs a known client asking for an address that is not its own', () => {
      bind();
      assert.equal(typeOf(send(T.REQUEST, { options: { 50: ipBytes('10.0.0.103') } })), T.NAK);
    });
  });

  describe('RENEWING and REBINDING', () => {
    it('RENEWING extends the lease and answers unicast to ciaddr', () => {
      bind();
      now += 1800;
      const out = send(T.REQUEST, { ciaddr: '10.0.0.100' });
      const p = reply(out);
      assert.equal(typeOf(out), T.ACK);
      assert.equal(p.ciaddr, ip('10.0.0.100'), 'ACK carries ciaddr');
      assert.equal(formatIpv4(p.yiaddr), '10.0.0.100');
      assert.ok(out.kind === 'reply');
      assert.deepEqual(out.dest, { ip: ip('10.0.0.100'), port: 68, broadcast: false });
      assert.equal(leaseAt('10.0.0.100')?.expires, now + 3600);
      assert.equal(leaseAt('10.0.0.100')?.version, 3);
    });
    it('REBINDING (broadcast) still answers to ciaddr', () => {
      bind();
      now += 3200;
      const out = send(T.REQUEST, { ciaddr: '10.0.0.100', flags: FLAG_BROADCAST });
      assert.equal(typeOf(out), T.ACK);
      assert.ok(out.kind === 'reply');
      assert.deepEqual(out.dest, { ip: ip('10.0.0.100'), port: 68, broadcast: false });
    });
    it('NAKs a lease that is not the client\'s when authoritative, silent otherwise', () => {
      bind({ mac: '52:54:00:00:09:01' });
      assert.equal(typeOf(send(T.REQUEST, { ciaddr: '10.0.0.100' })), T.NAK);
      assert.equal(typeOf(send(T.REQUEST, { ciaddr: '10.0.0.102' })), T.NAK, 'no lease at all');
      engine = new DhcpEngine(compileDhcpConfig({ ...CONFIG, authoritative: false }));
      assert.equal(send(T.REQUEST, { ciaddr: '10.0.0.100' }).kind, 'no-reply');
    });
    it('NAKs a renewal once the client has a reservation for another address', () => {
      assert.equal(bind({ mac: '52:54:00:00:0a:01' }), '10.0.0.100');
      const cfg: DhcpConfig = {
        ...CONFIG,
        subnets: CONFIG.subnets?.map((s) => (s.id === 1 ? { ...s, reservations: [...(s.reservations ?? []), { mac: '52:54:00:00:0a:01', ip: '10.0.0.60' }] } : s)),
      };
      engine = new DhcpEngine(compileDhcpConfig(cfg));
      const out = send(T.REQUEST, { mac: '52:54:00:00:0a:01', ciaddr: '10.0.0.100' });
      assert.equal(typeOf(out), T.NAK);
      assert.equal(optText(reply(out), 56), 'client has a reservation for another address');
      assert.equal(bind({ mac: '52:54:00:00:0a:01' }), '10.0.0.60');
      assert.equal(leaseAt('10.0.0.100')?.state, 'expired', 'old binding ended when the client was moved');
      assert.equal(bind({ mac: '52:54:00:00:0a:02' }), '10.0.0.102', 'held for its old client while others are free');
    });
  });
});

describe('reservations and client identity', () => {
  it('a MAC reservation gets its address, host name and per-host option', () => {
    const offer = reply(send(T.DISCOVER, { mac: '52:54:00:00:00:AA', options: { 55: [1, 3, 42, 12] } }));
    assert.equal(formatIpv4(offer.yiaddr), '10.0.0.50');
    assert.equal(optText(offer, 12), 'node-a');
    assert.equal(optIp(offer, 42), '10.0.0.99', 'reservation option over global');
    assert.equal(bind({ mac: '52:54:00:00:00:aa' }), '10.0.0.50');
    assert.equal(leaseAt('10.0.0.50')?.hostname, 'node-a');
  });
  it('a reservation host name is sent even when not requested', () => {
    const offer = reply(send(T.DISCOVER, { mac: '52:54:00:00:00:aa' }));
    assert.equal(optText(offer, 12), 'node-a');
  });
  it('a client-id reservation gets its address whatever the MAC', () => {
    assert.equal(bind({ mac: '52:54:00:00:0b:01', options: { 61: [1, 2, 3] } }), '10.0.0.51');
    assert.equal(leaseAt('10.0.0.51')?.clientId, '010203');
  });
  it('the client id, not chaddr, names the client (RFC 2131 §4.2)', () => {
    const a = bind({ mac: '52:54:00:00:0c:01', options: { 61: [0xff, 1] } });
    const b = bind({ mac: '52:54:00:00:0c:01', options: { 61: [0xff, 2] } });
    assert.notEqual(a, b, 'same MAC, two client ids: two clients');
    const c = bind({ mac: '52:54:00:00:0c:99', options: { 61: [0xff, 1] } });
    assert.equal(c, a, 'same client id on another NIC: same client');
  });
  it('echoes option 61 in replies (RFC 6842)', () => {
    const offer = reply(send(T.DISCOVER, { options: { 61: [0xff, 9, 9] } }));
    assert.deepEqual([...(offer.options.get(61) ?? [])], [0xff, 9, 9]);
  });
  it('a reserved address is never given to another client, even if asked', () => {
    for (const req of ['10.0.0.50', '10.0.0.101']) {
      const out = send(T.REQUEST, { mac: '52:54:00:00:0d:01', options: { 50: ipBytes(req), 54: ipBytes('10.0.0.254') } });
      assert.equal(typeOf(out), T.NAK, req);
    }
  });
  it('a reserved address held by another client\'s live lease is not offered: the host gets a pool address (as Kea)', () => {
    view.apply([{ kind: 'upsert', durable: true, lease: { ip: ip('10.0.0.50'), subnetId: 1, mac: '52:54:00:00:0e:01', clientId: '', hostname: '', state: 'active', start: now, expires: now + 100, version: 1 } }]);
    assert.equal(bind({ mac: '52:54:00:00:00:aa' }), '10.0.0.100');
    assert.equal(leaseAt('10.0.0.50')?.mac, '52:54:00:00:0e:01', 'the other client keeps its lease');
    // RENEWING the pool address is fine while the reserved one is taken; once it is free the host is sent back to it.
    assert.equal(typeOf(send(T.REQUEST, { mac: '52:54:00:00:00:aa', ciaddr: '10.0.0.100' })), T.ACK);
    now += 200;
    assert.equal(typeOf(send(T.REQUEST, { mac: '52:54:00:00:00:aa', ciaddr: '10.0.0.100' })), T.NAK);
    assert.equal(formatIpv4(reply(send(T.DISCOVER, { mac: '52:54:00:00:00:aa' })).yiaddr), '10.0.0.50');
  });
  it('a declined reserved address in probation: the host gets a pool address', () => {
    assert.equal(bind({ mac: '52:54:00:00:00:aa' }), '10.0.0.50');
    send(T.DECLINE, { mac: '52:54:00:00:00:aa', options: { 50: ipBytes('10.0.0.50'), 54: ipBytes('10.0.0.254') } });
    assert.equal(leaseAt('10.0.0.50')?.state, 'declined');
    assert.equal(bind({ mac: '52:54:00:00:00:aa' }), '10.0.0.100');
  });
  it('a reserved host keeps its address whether or not it sends option 61 (PXE firmware vs installed OS)', () => {
    const os = { mac: '52:54:00:00:00:aa', options: { 61: [0xff, 1, 2, 3, 4] } };
    assert.equal(bind(os), '10.0.0.50');
    // PXE firmware: same NIC, no client id. DISCOVER gets the reserved address, INIT-REBOOT is ACKed.
    assert.equal(formatIpv4(reply(send(T.DISCOVER, { mac: '52:54:00:00:00:aa' })).yiaddr), '10.0.0.50');
    assert.equal(typeOf(send(T.REQUEST, { mac: '52:54:00:00:00:aa', options: { 50: ipBytes('10.0.0.50') } })), T.ACK);
    assert.equal(leaseAt('10.0.0.50')?.clientId, '');
    // And back: the OS with its client id INIT-REBOOTs onto the lease the firmware took.
    assert.equal(typeOf(send(T.REQUEST, { ...os, options: { ...os.options, 50: ipBytes('10.0.0.50') } })), T.ACK);
    assert.equal(leaseAt('10.0.0.50')?.clientId, 'ff01020304');
  });
  it('client ids are compared only when both sides have one, else hardware addresses (Kea belongsToClient)', () => {
    const a = bind({ mac: '52:54:00:00:0f:01' });
    assert.equal(bind({ mac: '52:54:00:00:0f:01', options: { 61: [0xff, 7] } }), a, 'now with a client id: same binding');
    assert.equal(typeOf(send(T.REQUEST, { mac: '52:54:00:00:0f:01', options: { 50: ipBytes(a) } })), T.ACK, 'and without again');
    const other = send(T.REQUEST, { mac: '52:54:00:00:0f:02', options: { 61: [0xff, 7], 50: ipBytes(a) } });
    assert.equal(typeOf(other), T.NAK, 'another NIC whose client id the lease no longer has');
  });
  it('a dynamic lease taken with option 61 is the same NIC\'s when it later comes without (PXE firmware after the OS, Kea belongsToClient)', () => {
    const os = { mac: '52:54:00:00:10:01', options: { 61: [0xff, 4, 4] } };
    const a = bind(os);
    assert.equal(leaseAt(a)?.clientId, 'ff0404');
    const fw = { mac: '52:54:00:00:10:01' };
    assert.equal(formatIpv4(reply(send(T.DISCOVER, fw)).yiaddr), a, 'DISCOVER: offered its own address');
    assert.equal(typeOf(send(T.REQUEST, { ...fw, options: { 50: ipBytes(a) } })), T.ACK, 'INIT-REBOOT: known, ACKed');
    assert.equal(bind(fw), a, 'a full exchange keeps the address');
    const held = view.all().filter((l) => l.mac === fw.mac && (l.state === 'active' || l.state === 'offered'));
    assert.deepEqual(held.map((l) => formatIpv4(l.ip)), [a], 'one binding, no second address');
    assert.equal(bind({ mac: '52:54:00:00:10:02' }) !== a, true, 'another NIC without option 61 does not get it');
  });
  it('a client without option 61 is known by hardware address and works with hlen 0 plus a client id', () => {
    const out = send(T.DISCOVER, { htype: 32, hlen: 0, options: { 61: [0xff, 0, 1] } });
    const p = reply(out);
    assert.equal(formatIpv4(p.yiaddr), '10.0.0.100');
    assert.ok(out.kind === 'reply');
    assert.equal(out.dest.broadcast, true, 'no hardware address to unicast to');
  });
});

describe('subnet selection', () => {
  it('relay address listed in relay_addresses selects its subnet; reply to the relay on 67', () => {
    const out = send(T.DISCOVER, { giaddr: '192.168.50.1' }, 'eth9');
    const p = reply(out);
    assert.equal(formatIpv4(p.yiaddr), '10.1.0.10');
    assert.equal(optU32(p, 51), 600);
    assert.equal(optU32(p, 58), 300);
    assert.equal(optU32(p, 59), 525);
    assert.equal(p.giaddr, ip('192.168.50.1'));
    assert.equal(optIp(p, 54), '192.168.50.254', 'relayed: the receiving interface address');
    assert.ok(out.kind === 'reply');
    assert.deepEqual(out.dest, { ip: ip('192.168.50.1'), port: 67, broadcast: false });
  });
  it('giaddr inside a subnet selects that subnet', () => {
    assert.equal(formatIpv4(reply(send(T.DISCOVER, { giaddr: '10.2.0.1' }, 'eth9')).yiaddr), '10.2.0.10');
  });
  it('option 118 beats giaddr, and 82.5 link selection beats 118', () => {
    assert.equal(formatIpv4(reply(send(T.DISCOVER, { giaddr: '192.168.50.1', options: { 118: ipBytes('10.2.0.0') } }, 'eth9')).yiaddr), '10.2.0.10');
    const rai = [5, 4, ...ipBytes('10.3.0.0')];
    assert.equal(formatIpv4(reply(send(T.DISCOVER, { mac: '52:54:00:00:10:01', giaddr: '192.168.50.1', options: { 118: ipBytes('10.2.0.0'), 82: rai } }, 'eth9')).yiaddr), '10.3.0.20');
  });
  it('echoes option 82 unchanged and last, and copies the flags for the relay', () => {
    const rai = [1, 4, 0x65, 0x74, 0x68, 0x30, 2, 3, 1, 2, 3];
    const out = send(T.DISCOVER, { giaddr: '192.168.50.1', flags: FLAG_BROADCAST, options: { 82: rai, 55: [1, 3] } }, 'eth9');
    const p = reply(out);
    const keys = [...p.options.keys()];
    assert.equal(keys[keys.length - 1], 82);
    assert.deepEqual([...(p.options.get(82) ?? [])], rai);
    assert.equal(p.flags, FLAG_BROADCAST);
    assert.equal(reply(send(T.DISCOVER, { mac: '52:54:00:00:10:02', giaddr: '192.168.50.1' }, 'eth9')).flags, 0);
  });
  it('a relayed NAK goes to the relay with the broadcast bit set', () => {
    const out = send(T.REQUEST, { giaddr: '192.168.50.1', options: { 50: ipBytes('10.0.0.100'), 82: [1, 1, 7] } }, 'eth9');
    const p = reply(out);
    assert.equal(typeOf(out), T.NAK);
    assert.equal(p.flags & FLAG_BROADCAST, FLAG_BROADCAST);
    assert.equal(p.giaddr, ip('192.168.50.1'));
    assert.deepEqual([...(p.options.get(82) ?? [])], [1, 1, 7]);
    assert.ok(out.kind === 'reply');
    assert.deepEqual(out.dest, { ip: ip('192.168.50.1'), port: 67, broadcast: false });
  });
  it('RFC 5107 server id override is our server id for that relay', () => {
    const rai = [11, 4, ...ipBytes('10.1.0.1')];
    const offer = reply(send(T.DISCOVER, { giaddr: '192.168.50.1', options: { 82: rai } }, 'eth9'));
    assert.equal(optIp(offer, 54), '10.1.0.1');
    assert.equal(typeOf(send(T.REQUEST, { giaddr: '192.168.50.1', options: { 82: rai, 50: ipBytes('10.1.0.10'), 54: ipBytes('10.1.0.1') } }, 'eth9')), T.ACK);
  });
  it('direct clients: the interface named by a subnet, else the subnet holding an interface address', () => {
    assert.equal(formatIpv4(reply(send(T.DISCOVER, {}, 'eth3')).yiaddr), '10.3.0.20');
    const dyn: DhcpConfig = { subnets: [{ id: 7, subnet: '172.16.0.0/24', pools: ['172.16.0.50-172.16.0.60'] }] };
    engine = new DhcpEngine(compileDhcpConfig(dyn));
    const p = reply(send(T.DISCOVER, {}, 'eth4'));
    assert.equal(formatIpv4(p.yiaddr), '172.16.0.50');
    assert.equal(optIp(p, 54), '172.16.0.1');
  });
  it('no matching subnet: ignored with a reason', () => {
    for (const [spec, iface] of [[{}, 'eth4'], [{ giaddr: '192.168.99.1' }, 'eth9']] as const) {
      const out = send(T.DISCOVER, spec, iface);
      assert.ok(out.kind === 'no-reply');
      assert.equal(out.event.kind, 'ignored');
      assert.ok(out.event.reason);
    }
  });
  it('shared network: overflows into the next subnet, skipping one the client\'s classes exclude', () => {
    const got = ['02:00:01:00:00:01', '02:00:01:00:00:02', '02:00:01:00:00:03'].map((mac) => bind({ mac }, 'eth2'));
    assert.deepEqual(got, ['10.20.0.10', '10.20.0.11', '10.22.0.10']);
    const p = reply(send(T.DISCOVER, { mac: '02:00:01:00:00:04', options: { 55: [1, 15] } }, 'eth2'));
    assert.equal(formatIpv4(p.yiaddr), '10.22.0.11');
    assert.equal(optText(p, 15), 'rack.example', 'shared network options');
    assert.equal(leaseAt('10.22.0.10')?.subnetId, 12);
  });
  it('renewal arriving on another served link is answered for that link (NAK), not by ciaddr\'s subnet', () => {
    assert.equal(bind({}, 'eth3'), '10.3.0.20');
    assert.equal(typeOf(send(T.REQUEST, { ciaddr: '10.3.0.20' }, 'eth3')), T.ACK, 'on its own link');
    const out = send(T.REQUEST, { ciaddr: '10.3.0.20' }, 'eth1');
    assert.equal(typeOf(out), T.NAK, 'the client moved to eth1\'s link');
  });
  it('routed unicast renewal on an interface serving no subnet is matched by ciaddr when that subnet is relay-served', () => {
    assert.equal(bind({ giaddr: '192.168.50.1' }, 'eth9'), '10.1.0.10');
    const out = send(T.REQUEST, { ciaddr: '10.1.0.10' }, 'eth4');
    assert.equal(typeOf(out), T.ACK);
    assert.equal(typeOf(send(T.REQUEST, { ciaddr: '10.3.0.20' }, 'eth4')), undefined, 'a directly served subnet is not taken from another interface');
  });
  it('DISCOVER and SELECTING/INIT-REBOOT REQUEST ignore ciaddr: the receiving link picks the subnet', () => {
    const out = send(T.DISCOVER, { mac: '52:54:00:00:11:01', ciaddr: '10.3.0.5' }, 'eth1');
    const p = reply(out);
    assert.equal(formatIpv4(p.yiaddr), '10.0.0.100', 'eth1\'s pool, not eth3\'s');
    assert.equal(optIp(p, 54), '10.0.0.254');
    const rq = send(T.REQUEST, { mac: '52:54:00:00:11:01', ciaddr: '10.3.0.5', options: { 50: ipBytes('10.0.0.100'), 54: ipBytes('10.0.0.254') } }, 'eth1');
    assert.equal(typeOf(rq), T.ACK);
    assert.equal(leaseAt('10.0.0.100')?.subnetId, 1);
  });
  it('INFORM from an address of another link is answered with the receiving link\'s subnet', () => {
    const out = send(T.INFORM, { ciaddr: '10.3.0.50', options: { 55: [1] } }, 'eth1');
    const p = reply(out);
    assert.equal(optIp(p, 1), '255.255.255.0');
    assert.ok(out.kind === 'reply' && out.event.subnetId === 1);
  });
});

describe('client classes and options', () => {
  it('class-restricted pool serves only class members; class options beat pool options, pool beats subnet', () => {
    const lab = reply(send(T.DISCOVER, { mac: '02:00:00:00:00:01', options: { 55: [7, 42] } }, 'eth3'));
    assert.equal(formatIpv4(lab.yiaddr), '10.3.0.10');
    assert.equal(optIp(lab, 7), '10.0.0.77', 'class > pool');
    assert.equal(optIp(lab, 42), '10.3.0.42', 'pool > global');
    const other = reply(send(T.DISCOVER, { mac: '52:54:00:00:11:01', options: { 55: [7, 42] } }, 'eth3'));
    assert.equal(formatIpv4(other.yiaddr), '10.3.0.20');
    assert.equal(other.options.has(7), false);
    assert.equal(optIp(other, 42), '10.0.0.3');
  });
  it('a non-member cannot REQUEST an address of a class pool', () => {
    assert.equal(typeOf(send(T.REQUEST, { mac: '52:54:00:00:11:02', options: { 50: ipBytes('10.3.0.10'), 54: ipBytes('10.3.0.1') } }, 'eth3')), T.NAK);
  });
  it('sends requested options in PRL order, plus the defaults and always_send ones, and nothing unrequested', () => {
    const p = reply(send(T.DISCOVER, { options: { 55: [42, 4, 15, 6, 3, 1, 28] } }));
    assert.deepEqual([...p.options.keys()], [53, 54, 51, 58, 59, 1, 42, 4, 15, 6, 3, 28, 26]);
    assert.equal(optIp(p, 4), '10.0.0.44', 'subnet over global');
    assert.equal(optIp(p, 28), '10.0.0.255', 'broadcast address computed when asked');
    assert.equal(Buffer.from(p.options.get(26) ?? []).readUInt16BE(0), 9000);
    const bare = reply(send(T.DISCOVER));
    assert.deepEqual([...bare.options.keys()], [53, 54, 51, 58, 59, 1, 3, 6, 15, 26]);
    assert.equal(optText(bare, 15), 'dc1.example');
    assert.equal(optIp(bare, 3), '10.0.0.1');
  });
});

describe('destinations (RFC 2131 §4.1)', () => {
  it('no broadcast bit, no ciaddr: unicast to yiaddr with an ARP entry for chaddr', () => {
    const out = send(T.DISCOVER);
    assert.ok(out.kind === 'reply');
    assert.deepEqual(out.dest, { ip: ip('10.0.0.100'), port: 68, broadcast: false, arpMac: new Uint8Array([0x52, 0x54, 0, 0x12, 0x34, 0x56]) });
  });
  it('broadcast bit: broadcast', () => {
    const out = send(T.DISCOVER, { flags: FLAG_BROADCAST });
    assert.ok(out.kind === 'reply');
    assert.deepEqual(out.dest, { ip: 0xffffffff, port: 68, broadcast: true });
    assert.equal(out.reply.flags, FLAG_BROADCAST);
  });
  it('relayed: to giaddr port 67 whatever ciaddr and flags say', () => {
    bind({ giaddr: '192.168.50.1' }, 'eth9');
    const out = send(T.REQUEST, { giaddr: '192.168.50.1', ciaddr: '10.1.0.10', flags: FLAG_BROADCAST }, 'eth9');
    assert.equal(typeOf(out), T.ACK);
    assert.ok(out.kind === 'reply');
    assert.deepEqual(out.dest, { ip: ip('192.168.50.1'), port: 67, broadcast: false });
  });
});

describe('INFORM', () => {
  it('ACK without yiaddr or lease times, unicast to ciaddr, no lease change', () => {
    const out = send(T.INFORM, { ciaddr: '10.0.0.7', options: { 55: [3, 42] } });
    const p = reply(out);
    assert.equal(typeOf(out), T.ACK);
    assert.equal(p.yiaddr, 0);
    assert.equal(p.ciaddr, ip('10.0.0.7'));
    for (const code of [51, 58, 59]) assert.equal(p.options.has(code), false);
    assert.equal(optIp(p, 42), '10.0.0.3');
    assert.ok(out.kind === 'reply');
    assert.deepEqual(out.dest, { ip: ip('10.0.0.7'), port: 68, broadcast: false });
    assert.deepEqual(out.changes, []);
    assert.equal(out.event.kind, 'inform');
  });
  it('relayed INFORM is answered straight to ciaddr:68 (RFC 2131 §4.3.5), with the relayed subnet\'s options', () => {
    const out = send(T.INFORM, { ciaddr: '10.1.0.99', giaddr: '192.168.50.1', options: { 55: [1] } }, 'eth9');
    assert.ok(out.kind === 'reply');
    assert.deepEqual(out.dest, { ip: ip('10.1.0.99'), port: 68, broadcast: false });
    assert.equal(out.event.subnetId, 2);
  });
  it('relayed INFORM without ciaddr (nowhere else to send it) goes to the relay', () => {
    const out = send(T.INFORM, { giaddr: '192.168.50.1' }, 'eth9');
    assert.ok(out.kind === 'reply');
    assert.deepEqual(out.dest, { ip: ip('192.168.50.1'), port: 67, broadcast: false });
  });
});

describe('DECLINE and RELEASE', () => {
  it('DECLINE quarantines the address for the probation time, then it is usable again', () => {
    assert.equal(bind(), '10.0.0.100');
    const out = send(T.DECLINE, { options: { 50: ipBytes('10.0.0.100'), 54: ipBytes('10.0.0.254') } });
    assert.ok(out.kind === 'no-reply');
    assert.equal(out.event.kind, 'decline');
    assert.deepEqual(out.changes, [{ kind: 'upsert', durable: true, lease: {
      ip: ip('10.0.0.100'), subnetId: 1, mac: '', clientId: '', hostname: '', state: 'declined', start: now, expires: now + 86400, version: 3,
    } }]);
    assert.equal(bind(), '10.0.0.102', 'the client gets another address');
    assert.equal(bind({ mac: '52:54:00:00:12:01', options: { 50: ipBytes('10.0.0.100') } }), '10.0.0.103', 'nobody gets it in probation');
    now += 86401;
    assert.equal(formatIpv4(reply(send(T.DISCOVER, { mac: '52:54:00:00:12:02', options: { 50: ipBytes('10.0.0.100') } })).yiaddr), '10.0.0.100');
  });
  it('DECLINE of an address that is not the client\'s is ignored', () => {
    bind({ mac: '52:54:00:00:13:01' });
    const out = send(T.DECLINE, { options: { 50: ipBytes('10.0.0.100'), 54: ipBytes('10.0.0.254') } });
    assert.ok(out.kind === 'no-reply');
    assert.equal(out.event.kind, 'ignored');
    assert.deepEqual(out.changes, []);
    assert.equal(leaseAt('10.0.0.100')?.state, 'active');
  });
  it('RELEASE keeps the lease as released; the next DISCOVER gets the same address', () => {
    assert.equal(bind(), '10.0.0.100');
    bind({ mac: '52:54:00:00:14:01' });
    const out = send(T.RELEASE, { ciaddr: '10.0.0.100', options: { 54: ipBytes('10.0.0.254') } });
    assert.ok(out.kind === 'no-reply');
    assert.equal(out.event.kind, 'release');
    const ch = out.changes[0];
    assert.ok(ch?.kind === 'upsert' && ch.durable && ch.lease.state === 'released' && ch.lease.expires === now);
    now += 5;
    assert.equal(formatIpv4(reply(send(T.DISCOVER, { mac: '52:54:00:00:14:02' })).yiaddr), '10.0.0.103', 'others do not get it');
    assert.equal(formatIpv4(reply(send(T.DISCOVER)).yiaddr), '10.0.0.100');
  });
  it('RELEASE of someone else\'s address, or to another server, is ignored', () => {
    bind({ mac: '52:54:00:00:15:01' });
    for (const spec of [{ ciaddr: '10.0.0.100' }, { mac: '52:54:00:00:15:01', ciaddr: '10.0.0.100', options: { 54: ipBytes('10.0.0.253') } }]) {
      const out = send(T.RELEASE, spec);
      assert.ok(out.kind === 'no-reply');
      assert.equal(out.event.kind, 'ignored');
    }
    assert.equal(leaseAt('10.0.0.100')?.state, 'active');
  });
});

describe('maximum message size (option 57)', () => {
  const cases: [number | undefined, number][] = [[undefined, 548], [576, 548], [1000, 972], [1500, 1472], [9000, 1472], [300, 548]];
  for (const [mms, size] of cases) {
    it(`${mms ?? 'absent'} → ${size}`, () => {
      const out = send(T.DISCOVER, mms === undefined ? {} : { options: { 57: [mms >> 8, mms & 0xff] } });
      assert.ok(out.kind === 'reply');
      assert.equal(out.maxSize, size);
    });
  }
});

describe('replies too large for the client', () => {
  const big: DhcpConfig = {
    subnets: [{
      id: 1, subnet: '10.0.0.0/24', interface: 'eth1', pools: ['10.0.0.100-10.0.0.103'], routers: ['10.0.0.1'], dns_servers: ['10.0.0.2'],
      options: [
        { code: 43, type: 'hex', value: 'aa'.repeat(600) },
        { code: 224, type: 'hex', value: 'bb'.repeat(40) },
        { code: 225, type: 'hex', value: 'cc'.repeat(200), always_send: true },
      ],
    }],
  };
  it('a 600-octet option 43 is left out so that the ACK fits 576 and still leaves, lease and all', () => {
    engine = new DhcpEngine(compileDhcpConfig(big));
    const spec = { options: { 55: [1, 3, 224, 43], 82: [1, 4, 0x65, 0x74, 0x68, 0x30] } };
    const offer = send(T.DISCOVER, spec);
    assert.ok(offer.kind === 'reply');
    assert.ok(offer.bytes.length <= 548, `${offer.bytes.length} octets`);
    const out = send(T.REQUEST, { options: { ...spec.options, 50: ipBytes('10.0.0.100'), 54: ipBytes('10.0.0.254') } });
    assert.ok(out.kind === 'reply');
    assert.equal(typeOf(out), T.ACK);
    assert.ok(out.bytes.length <= 548);
    // 225 was not asked for: dropped first; then 43, last in the PRL; 224, asked before it, fits after that.
    assert.deepEqual(out.dropped, [225, 43]);
    for (const code of [53, 54, 51, 58, 59, 1, 3, 6, 82, 224]) assert.ok(out.reply.options.has(code), `keeps ${code}`);
    assert.equal(out.changes.some((c) => c.kind === 'upsert' && c.lease.state === 'active'), true);
  });
  it('a client that allows 1500 octets gets everything', () => {
    engine = new DhcpEngine(compileDhcpConfig(big));
    const out = send(T.DISCOVER, { options: { 55: [1, 3, 43, 224], 57: [0x05, 0xdc] } });
    assert.ok(out.kind === 'reply');
    assert.deepEqual(out.dropped, []);
    assert.equal(out.reply.options.get(43)?.length, 600);
  });
});

describe('reclaim and poolUsage', () => {
  const base: Lease = { ip: ip('10.0.0.100'), subnetId: 1, mac: '52:54:00:00:16:01', clientId: '', hostname: '', state: 'active', start: NOW - 100, expires: NOW - 1, version: 4 };
  it('maps each expired state to its change and skips unexpired ones', () => {
    const out = engine.reclaim([
      { ...base, state: 'offered' },
      { ...base, ip: ip('10.0.0.101') },
      { ...base, ip: ip('10.0.0.102'), state: 'released' },
      { ...base, ip: ip('10.0.0.103'), state: 'declined' },
      { ...base, ip: ip('10.0.0.104'), state: 'expired' },
      { ...base, ip: ip('10.0.0.105'), expires: NOW + 10 },
    ], NOW);
    assert.deepEqual(out, [
      { kind: 'delete', ip: ip('10.0.0.100'), durable: false },
      { kind: 'upsert', durable: true, lease: { ...base, ip: ip('10.0.0.101'), state: 'expired', version: 5 } },
      { kind: 'upsert', durable: true, lease: { ...base, ip: ip('10.0.0.102'), state: 'expired', version: 5 } },
      { kind: 'delete', ip: ip('10.0.0.103'), durable: true },
    ]);
  });
  it('counts live leases per pool', () => {
    bind({ mac: '52:54:00:00:17:01' });
    reply(send(T.DISCOVER, { mac: '52:54:00:00:17:02' }));
    bind({ mac: '52:54:00:00:17:03', giaddr: '192.168.50.1' }, 'eth9');
    view.apply([{ kind: 'upsert', durable: true, lease: { ...base, ip: ip('10.0.0.103'), state: 'declined', expires: now + 10 } }]);
    const usage = engine.poolUsage(view.all(), now);
    assert.deepEqual(usage.find((u) => u.subnetId === 1), { subnetId: 1, poolIndex: 0, range: '10.0.0.100-10.0.0.103', clientClass: undefined, total: 4, used: 3, declined: 1 });
    assert.equal(usage.find((u) => u.subnetId === 2)?.used, 1);
    assert.equal(usage.find((u) => u.subnetId === 4 && u.poolIndex === 0)?.clientClass, 'lab');
    assert.equal(engine.poolUsage(view.all(), now + 100_000).find((u) => u.subnetId === 1)?.used, 0);
  });
});

describe('compileDhcpConfig', () => {
  it('resolves options by name or by code with a type, and ignores server-computed codes', () => {
    const rt = compileDhcpConfig({
      options: [
        { name: 'ntp-servers', value: ['10.0.0.8', '10.0.0.9'] },
        { code: 224, type: 'hex', value: '01:02' },
        { code: 51, value: 5 },
        { code: 54, type: 'ip', value: '1.2.3.4' },
      ],
      subnets: [{ id: 1, subnet: '10.0.0.0/24', pools: ['10.0.0.10-10.0.0.20'] }],
    });
    const opts = rt.subnets[0]?.options.byCode;
    assert.deepEqual([...(opts?.get(42)?.value ?? [])], [10, 0, 0, 8, 10, 0, 0, 9]);
    assert.deepEqual([...(opts?.get(224)?.value ?? [])], [1, 2]);
    assert.equal(opts?.has(51), false);
    assert.equal(opts?.has(54), false);
  });
  it('refuses an option it cannot encode with a coded error', () => {
    assert.throws(() => compileDhcpConfig({ options: [{ code: 224, value: 'x' }] }), { code: 'DHCP_ERR_RUNTIME_CONFIG' });
    assert.throws(() => compileDhcpConfig({ options: [{ code: 3, value: 'not-an-ip' }] }), { code: 'DHCP_ERR_OPTION_VALUE' });
  });
  it('fills defaults and keeps T1 < T2 < lease', () => {
    const rt = compileDhcpConfig({
      lease_time: 1000,
      subnets: [
        { id: 1, subnet: '10.0.0.0/24' },
        { id: 2, subnet: '10.0.1.0/24', lease_time: 100, renew_timer: 10, rebind_timer: 20 },
        { id: 3, subnet: '10.0.2.0/24', renew_timer: 900, rebind_timer: 800 },
      ],
    });
    assert.deepEqual(rt.subnets.map((s) => [s.leaseTime, s.renewTime, s.rebindTime]), [[1000, 500, 875], [100, 10, 20], [1000, 500, 875]]);
    assert.equal(rt.offerTime, 60);
    assert.equal(rt.declineProbation, 86400);
    assert.equal(rt.authoritative, true);
    assert.equal(compileDhcpConfig({}).subnets.length, 0);
  });
  it('finds the most specific subnet for an address', () => {
    const rt = compileDhcpConfig({ subnets: [{ id: 1, subnet: '10.0.0.0/16' }, { id: 2, subnet: '10.0.5.0/24' }] });
    const engine2 = new DhcpEngine(rt);
    const out = engine2.handle(request(T.DISCOVER, { giaddr: '10.0.5.1' }), ctx('eth9'), view);
    assert.ok(out.kind === 'no-reply');
    assert.equal(out.event.subnetId, 2, 'the /24, not the /16 (and no pools: exhausted)');
    assert.equal(out.event.kind, 'exhausted');
  });
});

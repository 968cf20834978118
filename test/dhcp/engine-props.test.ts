import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { DhcpConfig } from '../../src/config/types.js';
import { MessageType as T } from '../../src/dhcp/constants.js';
import type { RequestContext } from '../../src/dhcp/engine.js';
import { compileDhcpConfig, DhcpEngine } from '../../src/dhcp/engine.js';
import type { Lease } from '../../src/dhcp/lease.js';
import { clientKeyOf } from '../../src/dhcp/lease.js';
import { formatIpv4 } from '../../src/net/ipv4.js';
import type { RequestSpec } from '../helpers/memory-lease-view.js';
import { ip, ipBytes, MemoryLeaseView, request } from '../helpers/memory-lease-view.js';

/** A small pool (6 addresses, one reserved inside it) so that clients compete and exhaust it. */
const CONFIG: DhcpConfig = {
  offer_time: 30,
  lease_time: 300,
  decline_probation: 200,
  hold_reclaimed: 50,
  subnets: [{
    id: 1, subnet: '10.0.0.0/24', interface: 'eth1',
    pools: ['10.0.0.10-10.0.0.13', { range: '10.0.0.14-10.0.0.15', client_class: 'special' }],
    reservations: [
      { mac: '52:54:00:00:00:00', ip: '10.0.0.50' },
      { client_id: '01525400000001', ip: '10.0.0.12' },
    ],
  }],
  client_classes: [{ name: 'special', match: { mac_prefix: '52:54:00:00:00' } }],
};
const RESERVED = new Map<number, string>([[ip('10.0.0.50'), 'hw:52:54:00:00:00:00'], [ip('10.0.0.12'), 'id:01525400000001']]);
const POOL = { start: ip('10.0.0.10'), end: ip('10.0.0.15') };
const CANDIDATE_IPS = ['10.0.0.10', '10.0.0.12', '10.0.0.15', '10.0.0.50', '10.0.0.99', '10.9.0.1'];
const N_CLIENTS = 9;
/** Clients 0…4 have MACs 52:54:00:00:00:xx and so are in class 'special'. */
const SPECIAL_CLIENTS = 5;
const SERVER = '10.0.0.254';

function clientSpec(i: number): RequestSpec & { key: string } {
  const mac = `52:54:00:00:${i < SPECIAL_CLIENTS ? '00' : '01'}:${i.toString(16).padStart(2, '0')}`;
  // Every third client identifies itself by option 61 (type 1 + MAC, as dhclient does).
  if (i % 3 === 1) {
    const cid = [1, 0x52, 0x54, 0, 0, i < SPECIAL_CLIENTS ? 0 : 1, i];
    return { mac, options: { 61: cid }, key: `id:${Buffer.from(cid).toString('hex')}` };
  }
  return { mac, key: `hw:${mac}` };
}

type Action =
  | { k: 'discover'; c: number; want: number | undefined }
  | { k: 'select'; c: number; other: boolean }
  | { k: 'reboot'; c: number; ip: number }
  | { k: 'renew'; c: number; ip: number | undefined }
  | { k: 'release'; c: number }
  | { k: 'decline'; c: number }
  | { k: 'wait'; s: number }
  | { k: 'reclaim' };

const client = fc.integer({ min: 0, max: N_CLIENTS - 1 });
const cand = fc.integer({ min: 0, max: CANDIDATE_IPS.length - 1 });
const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ k: fc.constant('discover' as const), c: client, want: fc.option(cand, { nil: undefined }) }), weight: 4 },
  { arbitrary: fc.record({ k: fc.constant('select' as const), c: client, other: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ k: fc.constant('reboot' as const), c: client, ip: cand }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('renew' as const), c: client, ip: fc.option(cand, { nil: undefined }) }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constant('release' as const), c: client }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('decline' as const), c: client }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('wait' as const), s: fc.integer({ min: 1, max: 400 }) }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('reclaim' as const) }), weight: 1 },
);

function live(l: Lease | undefined, now: number): l is Lease {
  return l !== undefined && (l.state === 'active' || l.state === 'offered') && l.expires > now;
}

function run(actions: readonly Action[]): void {
  const engine = new DhcpEngine(compileDhcpConfig(CONFIG));
  const view = new MemoryLeaseView();
  let now = 1_700_000_000;
  /** What each client last heard from us: the offered or acknowledged address. */
  const known = new Map<number, number>();
  for (const a of actions) {
    if (a.k === 'wait') { now += a.s; continue; }
    if (a.k === 'reclaim') { view.apply(engine.reclaim(view.all().filter((l) => l.expires <= now), now)); continue; }
    const spec = clientSpec(a.c);
    const mine = known.get(a.c);
    let pkt;
    let ciaddr = 0;
    switch (a.k) {
      case 'discover':
        pkt = request(T.DISCOVER, { ...spec, options: { ...spec.options, ...(a.want !== undefined ? { 50: ipBytes(CANDIDATE_IPS[a.want] as string) } : {}) } });
        break;
      case 'select':
        if (mine === undefined) continue;
        pkt = request(T.REQUEST, { ...spec, options: { ...spec.options, 50: ipBytes(formatIpv4(mine)), 54: ipBytes(a.other ? '10.0.0.253' : SERVER) } });
        break;
      case 'reboot':
        pkt = request(T.REQUEST, { ...spec, options: { ...spec.options, 50: ipBytes(CANDIDATE_IPS[a.ip] as string) } });
        break;
      case 'renew': {
        const target = a.ip !== undefined ? CANDIDATE_IPS[a.ip] as string : mine !== undefined ? formatIpv4(mine) : undefined;
        if (target === undefined) continue;
        pkt = request(T.REQUEST, { ...spec, ciaddr: target });
        ciaddr = ip(target);
        break;
      }
      case 'release':
        if (mine === undefined) continue;
        pkt = request(T.RELEASE, { ...spec, ciaddr: formatIpv4(mine), options: { ...spec.options, 54: ipBytes(SERVER) } });
        break;
      case 'decline':
        if (mine === undefined) continue;
        pkt = request(T.DECLINE, { ...spec, options: { ...spec.options, 50: ipBytes(formatIpv4(mine)), 54: ipBytes(SERVER) } });
        break;
    }
    const ctx: RequestContext = { iface: { name: 'eth1', addresses: [{ ip: ip(SERVER), prefix: 24 }] }, sourceIp: ciaddr, sourcePort: 68, now };
    // A reserved address declined (in probation) or live with another client is not its owner's to have now.
    const blocked = new Set<number>();
    for (const [rip, rkey] of RESERVED) {
      const l = view.byIp(rip);
      if (l === undefined || l.expires <= now) continue;
      if (l.state === 'declined' || (live(l, now) && clientKeyOf(l) !== rkey)) blocked.add(rip);
    }
    const out = engine.handle(pkt, ctx, view);
    assert.notEqual(out.kind, 'drop', 'well-formed requests are never dropped');
    if (out.kind === 'drop') return;
    // (a) no change hands a live address of one client to another.
    for (const ch of out.changes) {
      if (ch.kind !== 'upsert' || !live(ch.lease, now)) continue;
      const prev = view.byIp(ch.lease.ip);
      if (live(prev, now)) assert.equal(clientKeyOf(prev), clientKeyOf(ch.lease), `${formatIpv4(ch.lease.ip)} taken from ${clientKeyOf(prev)}`);
    }
    view.apply(out.changes);
    if (out.kind !== 'reply') continue;
    const type = out.reply.options.get(53)?.[0];
    if (type === T.NAK) {
      assert.equal(out.reply.yiaddr, 0);
      continue;
    }
    const y = out.reply.yiaddr;
    assert.ok(type === T.OFFER || type === T.ACK);
    // The address is recorded for this client, live, as the reply says.
    const held = view.byIp(y);
    assert.ok(live(held, now), `${formatIpv4(y)} not held after ${type === T.ACK ? 'ACK' : 'OFFER'}`);
    assert.equal(clientKeyOf(held), spec.key);
    if (type === T.ACK) assert.equal(held.state, 'active');
    // (b) inside a pool, or the client's own reservation.
    const owner = RESERVED.get(y);
    const inPool = y >= POOL.start && y <= POOL.end;
    assert.ok(inPool || owner === spec.key, `${formatIpv4(y)} is neither in a pool nor reserved for ${spec.key}`);
    // (c) a reserved address goes to its owner only; the owner gets nothing else while it can have it.
    if (owner !== undefined) assert.equal(owner, spec.key);
    for (const [rip, rkey] of RESERVED) if (rkey === spec.key && !blocked.has(rip)) assert.equal(y, rip);
    if (y >= ip('10.0.0.14') && y <= POOL.end) assert.ok(a.c < SPECIAL_CLIENTS, 'class-restricted pool');
    known.set(a.c, y);
  }
  // Whole-store check at the end: at most one live lease per client.
  const perClient = new Map<string, number>();
  for (const l of view.all()) if (live(l, now)) perClient.set(clientKeyOf(l), (perClient.get(clientKeyOf(l)) ?? 0) + 1);
  for (const [k, n] of perClient) assert.ok(n <= 1, `${k} holds ${n} live leases`);
}

describe('engine properties over random client sequences', () => {
  it('never double-allocates, stays in pools or reservations, never gives a reserved address away', () => {
    fc.assert(fc.property(fc.array(action, { minLength: 1, maxLength: 80 }), (actions) => run(actions)), { numRuns: 400 });
  });
});

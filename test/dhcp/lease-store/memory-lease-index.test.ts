import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { clientKeyOf } from '../../../src/dhcp/lease.js';
import type { Lease, LeaseChange, LeaseState } from '../../../src/dhcp/lease.js';
import { MemoryLeaseIndex } from '../../../src/dhcp/lease-store/memory-lease-index.js';
import { LeaseStoreError } from '../../../src/dhcp/lease-store/errors.js';

function lease(p: Partial<Lease> & Pick<Lease, 'ip'>): Lease {
  return {
    subnetId: 1,
    mac: '52:54:00:00:00:01',
    clientId: '',
    hostname: '',
    state: 'active',
    start: 100,
    expires: 200,
    version: 1,
    ...p,
  };
}

const up = (l: Lease): LeaseChange => ({ kind: 'upsert', lease: l, durable: false });
const del = (ip: number): LeaseChange => ({ kind: 'delete', ip, durable: false });

describe('MemoryLeaseIndex', () => {
  it('finds a lease by address, client and subnet, and counts it', () => {
    const ix = new MemoryLeaseIndex();
    const a = lease({ ip: 10, mac: 'aa:aa:aa:aa:aa:aa' });
    ix.apply([up(a)]);
    assert.equal(ix.byIp(10), a);
    assert.equal(ix.byClient('hw:aa:aa:aa:aa:aa:aa', 1), a);
    assert.equal(ix.byClient('hw:aa:aa:aa:aa:aa:aa', 2), undefined);
    assert.deepEqual(ix.bySubnet(1), [a]);
    assert.deepEqual(ix.countsOf(1), { offered: 0, active: 1, released: 0, expired: 0, declined: 0 });
    assert.equal(ix.size, 1);
  });

  it('a client moving to another address leaves no stale client entry', () => {
    const ix = new MemoryLeaseIndex();
    ix.apply([up(lease({ ip: 10, clientId: '01aa' }))]);
    const moved = lease({ ip: 11, clientId: '01aa' });
    ix.apply([del(10), up(moved)]);
    assert.equal(ix.byIp(10), undefined);
    assert.equal(ix.byClient('id:01aa', 1), moved);
    assert.deepEqual(ix.clientLeases('id:01aa', 1), [moved]);
  });

  it('finds a hardware address\'s lease whatever client id it was taken with', () => {
    const ix = new MemoryLeaseIndex();
    const withId = lease({ ip: 10, mac: 'aa:aa:aa:aa:aa:aa', clientId: '01aa', state: 'active', start: 100 });
    const without = lease({ ip: 11, mac: 'aa:aa:aa:aa:aa:aa', state: 'released', start: 150 });
    ix.apply([up(withId)]);
    assert.equal(ix.byClient('hw:aa:aa:aa:aa:aa:aa', 1), undefined, 'not under the hardware key it was not taken with');
    assert.equal(ix.byMac('aa:aa:aa:aa:aa:aa', 1), withId);
    ix.apply([up(without)]);
    assert.equal(ix.byMac('aa:aa:aa:aa:aa:aa', 1), withId, 'an active binding beats a later released one');
    ix.apply([del(10)]);
    assert.equal(ix.byMac('aa:aa:aa:aa:aa:aa', 1), without);
    assert.equal(ix.byMac('aa:aa:aa:aa:aa:aa', 2), undefined);
    assert.equal(ix.byMac('', 1), undefined);
  });

  it('an address passing to another client or subnet is unindexed from the old ones', () => {
    const ix = new MemoryLeaseIndex();
    ix.apply([up(lease({ ip: 10, mac: 'aa:aa:aa:aa:aa:aa', subnetId: 1 }))]);
    const b = lease({ ip: 10, mac: 'bb:bb:bb:bb:bb:bb', subnetId: 2, state: 'offered' });
    ix.apply([up(b)]);
    assert.equal(ix.byClient('hw:aa:aa:aa:aa:aa:aa', 1), undefined);
    assert.equal(ix.byClient('hw:bb:bb:bb:bb:bb:bb', 2), b);
    assert.deepEqual(ix.bySubnet(1), []);
    assert.equal(ix.countsBySubnet().has(1), false);
    assert.deepEqual(ix.countsBySubnet().get(2), { offered: 1, active: 0, released: 0, expired: 0, declined: 0 });
  });

  it('byClient prefers the active binding over an older released one, whatever the write order', () => {
    const ix = new MemoryLeaseIndex();
    const active = lease({ ip: 10, clientId: '01aa', state: 'active', start: 50 });
    const released = lease({ ip: 11, clientId: '01aa', state: 'released', start: 90 });
    ix.apply([up(active), up(released)]);
    assert.equal(ix.byClient('id:01aa', 1), active);
  });

  it('byClient answers with the most recent previous address, released or expired', () => {
    const ix = new MemoryLeaseIndex();
    const older = lease({ ip: 10, clientId: '01aa', state: 'released', start: 50 });
    const newer = lease({ ip: 11, clientId: '01aa', state: 'expired', start: 90 });
    ix.apply([up(newer), up(older)]);
    assert.equal(ix.byClient('id:01aa', 1), newer);
    ix.apply([del(11)]);
    assert.equal(ix.byClient('id:01aa', 1), older);
  });

  it('does not index anonymous leases (DECLINE without chaddr) under one shared client', () => {
    const ix = new MemoryLeaseIndex();
    ix.apply([up(lease({ ip: 1, mac: '', state: 'declined' })), up(lease({ ip: 2, mac: '', state: 'declined' }))]);
    assert.equal(ix.byClient(clientKeyOf({ mac: '', clientId: '' }), 1), undefined);
    assert.equal(ix.countsOf(1).declined, 2);
  });

  it('refuses a whole batch when one change is invalid, applying none of it', () => {
    const ix = new MemoryLeaseIndex();
    const bad: LeaseChange[] = [
      up(lease({ ip: 1 })),
      up(lease({ ip: 2 ** 32 })),
    ];
    assert.throws(() => ix.apply(bad), (e: unknown) => e instanceof LeaseStoreError && e.code === 'LEASE_ERR_INVALID_CHANGE');
    assert.equal(ix.size, 0);
    assert.throws(
      () => ix.apply([{ kind: 'upsert', lease: lease({ ip: 3, state: 'offered' }), durable: true }]),
      (e: unknown) => e instanceof LeaseStoreError && e.code === 'LEASE_ERR_INVALID_CHANGE',
    );
    assert.throws(() => ix.apply([up(lease({ ip: 4, expires: Number.NaN }))]), { code: 'LEASE_ERR_INVALID_CHANGE' });
  });

  it('expiredBefore returns due leases earliest first, keeps them due until changed, and skips expired/offered', () => {
    const ix = new MemoryLeaseIndex();
    ix.apply([
      up(lease({ ip: 1, expires: 30 })),
      up(lease({ ip: 2, expires: 10, state: 'released' })),
      up(lease({ ip: 3, expires: 20, state: 'expired' })),
      up(lease({ ip: 4, expires: 5, state: 'offered' })),
      up(lease({ ip: 5, expires: 99 })),
    ]);
    assert.deepEqual(ix.expiredBefore(50, 10).map((l) => l.ip), [2, 1]);
    assert.deepEqual(ix.expiredBefore(50, 1).map((l) => l.ip), [2]);
    assert.deepEqual(ix.expiredBefore(50, 10, { includeOffers: true }).map((l) => l.ip), [4, 2, 1]);
    // Renewal moves a lease out of the due set; the old heap entry must not resurface.
    ix.apply([up(lease({ ip: 2, expires: 500 }))]);
    assert.deepEqual(ix.expiredBefore(50, 10).map((l) => l.ip), [1]);
    ix.apply([up(lease({ ip: 1, expires: 30, state: 'expired' }))]);
    assert.deepEqual(ix.expiredBefore(50, 10), []);
    assert.deepEqual(ix.expiredBefore(1000, 10).map((l) => l.ip), [5, 2]);
  });

  it('re-putting the same Lease object does not make it due twice', () => {
    const ix = new MemoryLeaseIndex();
    const a = lease({ ip: 1, expires: 10 });
    ix.put(a);
    ix.put(a);
    assert.deepEqual(ix.expiredBefore(50, 10), [a]);
  });

  // How fast expiredBefore answers on 100k leases is bench/lease-store.ts's to measure, not a timed assertion's.
  it('stays correct through many renewals (heap compaction), and on 100k leases gives exactly the due ones', () => {
    const ix = new MemoryLeaseIndex();
    for (let i = 0; i < 20_000; i++) ix.put(lease({ ip: i % 7, expires: 1000 + i, version: i }));
    const due = ix.expiredBefore(1_000_000, 100);
    assert.deepEqual(
      due.map((l) => l.ip),
      [...Array(7).keys()].map((k) => (20_000 - 7 + k) % 7),
    );
    const big = new MemoryLeaseIndex();
    for (let i = 0; i < 100_000; i++) big.put(lease({ ip: i, mac: '', expires: 10_000 + i }));
    assert.deepEqual(big.expiredBefore(10_050, 10).map((l) => l.ip), [...Array(10).keys()]);
    assert.equal(big.expiredBefore(10_050, 100).length, 50);
  });

  describe('matches a naive model on random change sequences', () => {
    const STATES: readonly LeaseState[] = ['offered', 'active', 'released', 'expired', 'declined'];
    const RANK: Record<LeaseState, number> = { active: 0, offered: 1, released: 2, expired: 2, declined: 3 };

    const leaseArb = fc.record({
      ip: fc.integer({ min: 0, max: 11 }),
      subnetId: fc.integer({ min: 1, max: 3 }),
      mac: fc.constantFrom('', 'aa:aa:aa:aa:aa:aa', 'bb:bb:bb:bb:bb:bb', 'cc:cc:cc:cc:cc:cc'),
      clientId: fc.constantFrom('', '', '01aa', '01bb'),
      hostname: fc.constantFrom('', 'n1'),
      state: fc.constantFrom(...STATES),
      start: fc.integer({ min: 0, max: 20 }),
      expires: fc.integer({ min: 0, max: 60 }),
      version: fc.integer({ min: 0, max: 5 }),
    });
    type Op =
      | { op: 'upsert'; lease: Lease }
      | { op: 'delete'; ip: number }
      | { op: 'due'; now: number; limit: number; offers: boolean };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: leaseArb.map((l) => ({ op: 'upsert' as const, lease: l })) },
      { weight: 2, arbitrary: fc.integer({ min: 0, max: 11 }).map((ip) => ({ op: 'delete' as const, ip })) },
      {
        weight: 2,
        arbitrary: fc
          .record({ now: fc.integer({ min: 0, max: 70 }), limit: fc.integer({ min: 0, max: 8 }), offers: fc.boolean() })
          .map((q) => ({ op: 'due' as const, ...q })),
      },
    );

    /** The model: a list of (lease, write sequence) with every query answered by a full scan. */
    class Model {
      readonly rows = new Map<number, { lease: Lease; seq: number }>();
      private seq = 0;
      upsert(l: Lease): void {
        this.rows.set(l.ip, { lease: l, seq: this.seq++ });
      }
      delete(ip: number): void {
        this.rows.delete(ip);
      }
      byClient(key: string, subnetId: number): Lease | undefined {
        if (key === 'hw:') return undefined;
        const mine = [...this.rows.values()].filter((r) => clientKeyOf(r.lease) === key && r.lease.subnetId === subnetId);
        mine.sort((a, b) => RANK[a.lease.state] - RANK[b.lease.state] || b.lease.start - a.lease.start || b.seq - a.seq);
        return mine[0]?.lease;
      }
      /** The key's leases in the subnet, least recently written first. */
      clientLeases(key: string, subnetId: number): Lease[] {
        if (key === 'hw:') return [];
        const mine = [...this.rows.values()].filter((r) => clientKeyOf(r.lease) === key && r.lease.subnetId === subnetId);
        return mine.sort((a, b) => a.seq - b.seq).map((r) => r.lease);
      }
      /** Every lease of the hardware address in the subnet, whatever its client id, best first (ties on rank and start in any order). */
      byMac(mac: string, subnetId: number): Lease[] {
        if (mac === '') return [];
        const mine = [...this.rows.values()].map((r) => r.lease).filter((l) => l.mac === mac && l.subnetId === subnetId);
        return mine.sort((a, b) => RANK[a.state] - RANK[b.state] || b.start - a.start);
      }
      due(now: number, offers: boolean): Lease[] {
        return [...this.rows.values()]
          .map((r) => r.lease)
          .filter((l) => l.expires < now && l.state !== 'expired' && (offers || l.state !== 'offered'))
          .sort((a, b) => a.expires - b.expires);
      }
    }

    function compare(ix: MemoryLeaseIndex, m: Model): void {
      assert.equal(ix.size, m.rows.size);
      for (let ip = 0; ip <= 11; ip++) assert.equal(ix.byIp(ip), m.rows.get(ip)?.lease);
      const keys = ['hw:aa:aa:aa:aa:aa:aa', 'hw:bb:bb:bb:bb:bb:bb', 'hw:cc:cc:cc:cc:cc:cc', 'hw:', 'id:01aa', 'id:01bb'];
      for (const k of keys) {
        for (let s = 1; s <= 3; s++) {
          assert.equal(ix.byClient(k, s), m.byClient(k, s), `byClient(${k}, ${s})`);
          assert.deepEqual(ix.clientLeases(k, s), m.clientLeases(k, s), `clientLeases(${k}, ${s})`);
        }
      }
      for (const mac of ['aa:aa:aa:aa:aa:aa', 'bb:bb:bb:bb:bb:bb', 'cc:cc:cc:cc:cc:cc', '']) {
        for (let s = 1; s <= 3; s++) {
          const got = ix.byMac(mac, s);
          const want = m.byMac(mac, s);
          const top = want[0];
          if (top === undefined) {
            assert.equal(got, undefined, `byMac(${mac}, ${s})`);
            continue;
          }
          assert.ok(got !== undefined && want.includes(got), `byMac(${mac}, ${s}) is one of the address's leases`);
          assert.deepEqual([RANK[got.state], got.start], [RANK[top.state], top.start], `byMac(${mac}, ${s}) is a best one`);
        }
      }
      const byIp = (a: Lease, b: Lease): number => a.ip - b.ip;
      for (let s = 1; s <= 3; s++) {
        const want = [...m.rows.values()].map((r) => r.lease).filter((l) => l.subnetId === s);
        assert.deepEqual(ix.bySubnet(s).sort(byIp), want.sort(byIp));
        const counts = { offered: 0, active: 0, released: 0, expired: 0, declined: 0 };
        for (const l of want) counts[l.state]++;
        if (want.length === 0) assert.equal(ix.countsBySubnet().has(s), false);
        else assert.deepEqual(ix.countsBySubnet().get(s), counts);
      }
      assert.deepEqual(ix.all().sort(byIp), [...m.rows.values()].map((r) => r.lease).sort(byIp));
    }

    it('byIp, byClient, bySubnet, counts and expiredBefore agree after every step', () => {
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
          const ix = new MemoryLeaseIndex();
          const m = new Model();
          for (const o of ops) {
            if (o.op === 'upsert') {
              ix.apply([up(o.lease)]);
              m.upsert(o.lease);
            } else if (o.op === 'delete') {
              ix.apply([del(o.ip)]);
              m.delete(o.ip);
            } else {
              const got = ix.expiredBefore(o.now, o.limit, { includeOffers: o.offers });
              const all = m.due(o.now, o.offers);
              const want = all.slice(0, o.limit);
              // Ties on `expires` may come in any order: compare the expiry sequence, then membership.
              assert.deepEqual(got.map((l) => l.expires), want.map((l) => l.expires));
              assert.equal(new Set(got).size, got.length);
              for (const l of got) assert.ok(all.includes(l));
            }
            compare(ix, m);
          }
        }),
        { numRuns: 300 },
      );
    });
  });
});

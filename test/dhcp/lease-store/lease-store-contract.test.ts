/**
 * The lease-store contract, run against every backend (SQLite, PostgreSQL):
 * what the DHCP server relies on when it sends a reply only after apply()
 * resolved, and stops when the store's writer dies.
 */
import { after, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { setTimeout as delay } from 'node:timers/promises';
import type { Lease, LeaseChange, LeaseCommitEvent } from '../../../src/dhcp/lease.js';
import { disposeAll, leaseStoreBackends } from './lease-store-backends.js';

after(disposeAll);

function lease(p: Partial<Lease> & Pick<Lease, 'ip'>): Lease {
  return {
    subnetId: 1,
    mac: `52:54:00:00:${((p.ip >>> 8) & 0xff).toString(16).padStart(2, '0')}:${(p.ip & 0xff).toString(16).padStart(2, '0')}`,
    clientId: '',
    hostname: 'h',
    state: 'active',
    start: 1_700_000_000,
    expires: 1_700_003_600,
    version: 1,
    ...p,
  };
}
const up = (l: Lease, durable = true): LeaseChange => ({ kind: 'upsert', lease: l, durable });
const del = (ip: number, durable = true): LeaseChange => ({ kind: 'delete', ip, durable });
const sortedKeys = (m: Map<number, unknown>): number[] => [...m.keys()].sort((a, b) => a - b);

for (const backend of await leaseStoreBackends()) {
  describe(`lease store contract: ${backend.name}`, { skip: backend.skip }, () => {
    it('persists upserts, moves and deletes across close and reopen', async () => {
      const place = await backend.place();
      const s1 = await place.open();
      await s1.apply([up(lease({ ip: 10, clientId: '01aa' })), up(lease({ ip: 11 })), up(lease({ ip: 12 }))]);
      // The client moves from .10 to .20; .11 is released; .12 is deleted.
      await s1.apply([del(10), up(lease({ ip: 20, clientId: '01aa', version: 2 })), up(lease({ ip: 11, state: 'released', version: 2 })), del(12)]);
      await s1.close();

      const s2 = await place.open();
      assert.equal(s2.size, 2);
      assert.equal(s2.byIp(10), undefined);
      assert.equal(s2.byIp(12), undefined);
      assert.deepEqual(s2.byClient('id:01aa', 1), lease({ ip: 20, clientId: '01aa', version: 2 }));
      assert.equal(s2.byIp(11)?.state, 'released');
      assert.equal(s2.stats().loadedLeases, 2);
      assert.deepEqual(s2.countsBySubnet().get(1), { offered: 0, active: 1, released: 1, expired: 0, declined: 0 });
      await s2.close();
    });

    it('stores every field exactly: extreme addresses, versions and times, any text', async () => {
      const place = await backend.place();
      const s = await place.open();
      const edge = [
        lease({ ip: 0, subnetId: 0, version: 0, start: 0, expires: 0 }),
        lease({ ip: 0xffffffff, subnetId: Number.MAX_SAFE_INTEGER, version: Number.MAX_SAFE_INTEGER, start: 2 ** 40, expires: 2 ** 40 + 0.5 }),
        lease({ ip: 7, mac: '', clientId: 'ff00aa', hostname: `quote' "dq" back\\slash {brace,comma} ünï ${'x'.repeat(300)}`, state: 'declined' }),
        lease({ ip: 8, hostname: '', state: 'expired', start: -5 }),
      ];
      await s.apply(edge.map((l) => up(l)));
      await s.close();
      const s2 = await place.open();
      for (const l of edge) assert.deepEqual(s2.byIp(l.ip), l);
      await s2.close();
    });

    it('keeps a NUL-terminated hostname without its NUL, alike in memory and on disk', async () => {
      const place = await backend.place();
      const s = await place.open();
      await s.apply([up(lease({ ip: 1, hostname: 'pxe-node\u0000\u0000' })), up(lease({ ip: 2, hostname: 'a\u0000b' }))]);
      assert.equal(s.byIp(1)?.hostname, 'pxe-node');
      assert.equal(s.byIp(2)?.hostname, 'a\uFFFDb');
      await s.close();
      const rows = await place.rows();
      assert.equal(rows.get(1)?.hostname, 'pxe-node');
      assert.equal(rows.get(2)?.hostname, 'a\uFFFDb');
    });

    it('shows a change in memory at once, before its commit', async () => {
      const s = await (await backend.place()).open();
      const done = s.apply([up(lease({ ip: 5 }))]);
      assert.equal(s.byIp(5)?.ip, 5);
      assert.equal(s.stats().commits, 0);
      await done;
      assert.equal(s.stats().commits, 1);
      await s.close();
    });

    it('keeps offers in memory only, and a durable delete of a stored lease is durable', async () => {
      const place = await backend.place();
      const s = await place.open();
      await s.apply([up(lease({ ip: 1 })), up(lease({ ip: 2, state: 'offered', expires: 1 }), false)]);
      assert.equal(s.byIp(2)?.state, 'offered');
      assert.deepEqual(sortedKeys(await place.rows()), [1]);
      // An offer over a stored lease shadows it in memory; the stored one stays on disk.
      await s.apply([up(lease({ ip: 1, state: 'offered', mac: 'aa:aa:aa:aa:aa:aa' }), false)]);
      assert.equal((await place.rows()).get(1)?.state, 'active');
      await s.apply([del(1)]);
      assert.equal((await place.rows()).size, 0);
      await s.close();
      const s2 = await place.open();
      assert.equal(s2.size, 0);
      await s2.close();
    });

    it('refuses a durable offer and invalid leases without touching memory or disk', async () => {
      const place = await backend.place();
      const s = await place.open();
      await assert.rejects(s.apply([up(lease({ ip: 1 })), up(lease({ ip: 2, state: 'offered' }))]), { code: 'LEASE_ERR_INVALID_CHANGE' });
      await assert.rejects(s.apply([up(lease({ ip: -1 }))]), { code: 'LEASE_ERR_INVALID_CHANGE' });
      await assert.rejects(s.apply([up(lease({ ip: 3, version: 1.5 }))]), { code: 'LEASE_ERR_INVALID_CHANGE' });
      assert.equal(s.size, 0);
      await s.close();
      assert.equal((await place.rows()).size, 0);
    });

    it('groups every apply() of one event-loop turn into one commit', async () => {
      const s = await (await backend.place()).open();
      const events: LeaseCommitEvent[] = [];
      s.onCommit((e) => events.push(e));
      const all: Promise<void>[] = [];
      for (let i = 0; i < 1000; i++) all.push(s.apply([up(lease({ ip: i }))]));
      await Promise.all(all);
      let st = s.stats();
      assert.equal(st.commits, 1);
      assert.equal(st.changesWritten, 1000);
      assert.equal(st.lastBatchSize, 1000);
      assert.equal(events.length, 1);
      assert.equal(events[0]?.callers, 1000);
      assert.equal(events[0]?.ok, true);

      // Awaiting each one before the next costs one commit each.
      for (let i = 0; i < 5; i++) await s.apply([up(lease({ ip: i, version: 2 }))]);
      st = s.stats();
      assert.equal(st.commits, 6);
      assert.equal(st.changesWritten, 1005);
      assert.equal(st.avgBatchSize, 1005 / 6);
      assert.equal(st.maxBatchSize, 1000);
      await s.close();
    });

    it('writes several changes to one address in a batch as one row, the last one', async () => {
      const place = await backend.place();
      const s = await place.open();
      const p = [s.apply([up(lease({ ip: 7, version: 1 }))]), s.apply([up(lease({ ip: 7, version: 2 }))]), s.apply([up(lease({ ip: 7, version: 3 }))])];
      await Promise.all(p);
      assert.equal(s.stats().changesWritten, 1);
      assert.equal((await place.rows()).get(7)?.version, 3);
      // A delete and an upsert of one address in one batch: the last one wins.
      await Promise.all([s.apply([del(7)]), s.apply([up(lease({ ip: 7, version: 4 }))]), s.apply([up(lease({ ip: 8 }))]), s.apply([del(8)])]);
      assert.deepEqual(sortedKeys(await place.rows()), [7]);
      assert.equal((await place.rows()).get(7)?.version, 4);
      await s.close();
    });

    it('with commitDelayMs, groups changes of several turns into one commit', async () => {
      const s = await (await backend.place()).open({ commitDelayMs: 40 });
      const p: Promise<void>[] = [];
      for (let i = 0; i < 5; i++) {
        p.push(s.apply([up(lease({ ip: i }))]));
        await new Promise((r) => setImmediate(r));
      }
      await Promise.all(p);
      assert.equal(s.stats().commits, 1);
      assert.equal(s.stats().lastBatchSize, 5);
      await s.close();
    });

    it('close() during a long commitDelayMs commits at once and leaves no timer behind', async () => {
      const place = await backend.place();
      const s = await place.open({ commitDelayMs: 60_000 });
      const p = s.apply([up(lease({ ip: 3 }))]);
      // No timer is left: the test would hang for 60 s (and fail its timeout) otherwise.
      await s.close();
      await p;
      assert.equal(s.stats().commits, 1);
      assert.equal((await place.rows()).has(3), true);
    });

    it('close() commits what is queued and settles its promises; apply() after close is refused', async () => {
      const place = await backend.place();
      const s = await place.open();
      const p = s.apply([up(lease({ ip: 3 }))]);
      await s.close();
      await p;
      assert.equal((await place.rows()).has(3), true);
      await assert.rejects(s.apply([up(lease({ ip: 4 }))]), { code: 'LEASE_ERR_CLOSED' });
    });

    describe('a failed commit', () => {
      it('(another connection holds the write lock past the timeout) rejects the batch and rolls memory back', async () => {
        const place = await backend.place();
        const s = await place.open({ busyTimeoutMs: 20 });
        await s.apply([up(lease({ ip: 1, version: 1 })), up(lease({ ip: 2, version: 1 }))]);
        await s.apply([up(lease({ ip: 9, state: 'offered' }), false)]);
        const events: LeaseCommitEvent[] = [];
        s.onCommit((e) => events.push(e));

        const release = await place.holdWriteLock();
        try {
          const a = s.apply([up(lease({ ip: 3 }))]); // new address
          const b = s.apply([up(lease({ ip: 1, version: 2, state: 'released' }))]); // changed
          const c = s.apply([del(2)]); // deleted
          // A memory-only change after a durable one at the same address is undone with it;
          void s.apply([up(lease({ ip: 3, state: 'offered', mac: 'ee:ee:ee:ee:ee:ee' }), false)]);
          // one at an address no durable change touched stays.
          void s.apply([up(lease({ ip: 8, state: 'offered' }), false)]);
          assert.equal(s.byIp(3)?.state, 'offered');
          for (const p of [a, b, c]) await assert.rejects(p, { code: 'LEASE_ERR_COMMIT_FAILED' });
        } finally {
          await release();
        }
        assert.equal(s.byIp(3), undefined);
        assert.equal(s.byIp(1)?.version, 1);
        assert.equal(s.byIp(1)?.state, 'active');
        assert.equal(s.byIp(2)?.version, 1);
        assert.equal(s.byIp(9)?.state, 'offered');
        assert.equal(s.byIp(8)?.state, 'offered');
        assert.equal(s.byClient('hw:52:54:00:00:00:03', 1), undefined);
        assert.equal(s.stats().failedCommits, 1);
        assert.equal(events.length, 1);
        assert.equal(events[0]?.ok, false);
        assert.equal(s.failure, undefined, 'a failed commit is not a dead writer');

        // The store keeps working once the lock is gone.
        await s.apply([up(lease({ ip: 4 }))]);
        await s.close();
        const rows = await place.rows();
        assert.deepEqual(sortedKeys(rows), [1, 2, 4]);
        assert.equal(rows.get(1)?.version, 1);
      });

      it('(a row refused half-way through) leaves none of the batch on disk or in memory', async () => {
        const place = await backend.place();
        const s = await place.open();
        await s.apply([up(lease({ ip: 1 }))]);
        const allow = await place.refuseIp(66);
        const p: Promise<void>[] = [];
        for (let ip = 60; ip < 70; ip++) p.push(s.apply([up(lease({ ip }))]));
        p.push(s.apply([del(1)]));
        const results = await Promise.allSettled(p);
        await allow();
        assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'LEASE_ERR_COMMIT_FAILED'));
        assert.equal(s.size, 1);
        assert.ok(s.byIp(1));
        assert.equal(s.failure, undefined);
        await s.close();
        assert.deepEqual(sortedKeys(await place.rows()), [1]);
      });

      it("(the batch before failed) keeps the next batch's durable changes and undoes memory-only ones made over the failed write", async () => {
        const place = await backend.place();
        // Long enough that the batch below is still waiting for the lock when the next one is built.
        const s = await place.open({ busyTimeoutMs: 2000 });
        await s.apply([up(lease({ ip: 1, version: 1 }))]);
        const release = await place.holdWriteLock();
        let p1: Promise<void>;
        let p4: Promise<void>;
        try {
          const failedN = s.apply([up(lease({ ip: 1, version: 2, state: 'released' })), up(lease({ ip: 3 }))]);
          const released = failedN.catch(() => release());
          await delay(30);
          // Batch N is at the writer, waiting for the lock; what follows is the next batch.
          assert.equal(s.stats().failedCommits, 0);
          p1 = s.apply([up(lease({ ip: 1, version: 3 }))]);
          void s.apply([up(lease({ ip: 3, state: 'offered', mac: 'ee:ee:ee:ee:ee:ee' }), false)]);
          p4 = s.apply([up(lease({ ip: 4 }))]);
          await assert.rejects(failedN, { code: 'LEASE_ERR_COMMIT_FAILED' });
          await released;
        } finally {
          await release();
        }
        // The offer at .3 stood on N's write and went with it; .1's newer durable change stays.
        assert.equal(s.byIp(3), undefined);
        assert.equal(s.byIp(1)?.version, 3);
        await p1;
        await p4;
        assert.deepEqual(s.stats().failedCommits, 1);
        await s.close();
        const rows = await place.rows();
        assert.deepEqual(sortedKeys(rows), [1, 4]);
        assert.equal(rows.get(1)?.version, 3);
      });
    });

    describe('the writer', () => {
      it('keeps this thread free during a commit: the next batch takes changes across turns and goes as one commit after it', async () => {
        const place = await backend.place();
        const s = await place.open({ busyTimeoutMs: 30_000 });
        await s.apply([up(lease({ ip: 1 }))]);
        const events: LeaseCommitEvent[] = [];
        s.onCommit((e) => events.push(e));
        // The lock makes commit N last as long as the test wants, at the writer.
        const release = await place.holdWriteLock();
        let nSettled = false;
        const n = s.apply([up(lease({ ip: 10 }))]).finally(() => (nSettled = true));
        const next: Promise<void>[] = [];
        try {
          // A timer fires while N commits: with a synchronous commit the loop would sit in the lock wait.
          await delay(30);
          assert.equal(nSettled, false);
          assert.equal(s.stats().commits, 1);
          for (const ip of [11, 12, 13]) {
            next.push(s.apply([up(lease({ ip }))]));
            assert.equal(s.byIp(ip)?.ip, ip, 'memory shows the change at once');
            await new Promise((r) => setImmediate(r));
          }
          await delay(10);
          assert.equal(nSettled, false);
          assert.equal(s.stats().commits, 1);
        } finally {
          await release();
        }
        await n;
        await Promise.all(next);
        const st = s.stats();
        assert.equal(st.commits, 3);
        assert.equal(st.lastBatchSize, 3);
        assert.deepEqual(
          events.map((e) => [e.ok, e.rows, e.callers]),
          [
            [true, 1, 1],
            [true, 3, 3],
          ],
        );
        await s.close();
        assert.deepEqual(sortedKeys(await place.rows()), [1, 10, 11, 12, 13]);
      });

      it("releases a big batch's promises a slice per event-loop turn, oldest first, all before close() resolves", async () => {
        const s = await (await backend.place()).open();
        const order: number[] = [];
        let atNextTurn: number | undefined;
        s.onCommit(() => setImmediate(() => (atNextTurn = order.length)));
        const all: Promise<void>[] = [];
        for (let i = 0; i < 1000; i++) all.push(s.apply([up(lease({ ip: i }))]).then(() => void order.push(i)));
        await s.close();
        assert.equal(s.stats().commits, 1);
        assert.equal(order.length, 1000);
        assert.deepEqual(order, [...order].sort((a, b) => a - b));
        // Packets read between slices are not held behind a thousand replies.
        assert.ok(atNextTurn !== undefined && atNextTurn > 0 && atNextTurn < 1000, `${atNextTurn} resolved by the next turn`);
        await Promise.all(all);
      });

      it('dies loudly: a killed writer rejects every waiting apply() with LEASE_ERR_WRITER_DIED, rolls memory back and refuses further writes', async () => {
        const place = await backend.place();
        const s = await place.open({ busyTimeoutMs: 30_000 });
        await s.apply([up(lease({ ip: 1, version: 1 }))]);
        await s.apply([up(lease({ ip: 9, state: 'offered' }), false)]);
        const events: LeaseCommitEvent[] = [];
        s.onCommit((e) => events.push(e));
        const release = await place.holdWriteLock();
        try {
          // Batch N sits at the writer (waiting for the lock); batch P is building behind it.
          const n = s.apply([up(lease({ ip: 1, version: 2, state: 'released' })), up(lease({ ip: 3 }))]);
          await delay(30);
          const p = s.apply([up(lease({ ip: 1, version: 3 })), up(lease({ ip: 4 }))]);
          void s.apply([up(lease({ ip: 3, state: 'offered', mac: 'ee:ee:ee:ee:ee:ee' }), false)]);
          const nDone = assert.rejects(n, { code: 'LEASE_ERR_WRITER_DIED' });
          const pDone = assert.rejects(p, { code: 'LEASE_ERR_WRITER_DIED' });
          await place.killWriter(s, release);
          await nDone;
          await pDone;
        } finally {
          await release();
        }
        assert.equal(s.failure && (s.failure as { code?: string }).code, 'LEASE_ERR_WRITER_DIED');
        assert.equal(s.byIp(1)?.version, 1);
        assert.equal(s.byIp(1)?.state, 'active');
        assert.equal(s.byIp(3), undefined);
        assert.equal(s.byIp(4), undefined);
        assert.equal(s.byIp(9)?.state, 'offered', 'reads keep working');
        assert.deepEqual(
          events.map((e) => [e.ok, e.rows]),
          [
            [false, 2],
            [false, 2],
          ],
        );
        await assert.rejects(s.apply([up(lease({ ip: 5 }))]), { code: 'LEASE_ERR_WRITER_DIED' });
        await assert.rejects(s.apply([up(lease({ ip: 6, state: 'offered' }), false)]), { code: 'LEASE_ERR_WRITER_DIED' });
        assert.equal(s.byIp(6), undefined);
        await s.close();
        const rows = await place.rows();
        assert.deepEqual(sortedKeys(rows), [1]);
        assert.equal(rows.get(1)?.version, 1);
      });
    });

    it('records its schema version and refuses storage from a newer schema', async () => {
      const place = await backend.place();
      await (await place.open()).close();
      await place.bumpSchemaVersion();
      await assert.rejects(place.open(), { code: 'LEASE_ERR_SCHEMA_TOO_NEW' });
      await assert.rejects(place.open({ readOnly: true }), { code: 'LEASE_ERR_SCHEMA_TOO_NEW' });
    });

    it('read-only: reads beside a live writer, creates nothing, refuses apply()', async () => {
      const place = await backend.place();
      const missing = await place.open({ readOnly: true });
      assert.equal(missing.size, 0);
      await missing.close();
      assert.equal(await place.exists(), false);

      const w = await place.open();
      await w.apply([up(lease({ ip: 1 })), up(lease({ ip: 2, subnetId: 2 }))]);
      const r = await place.open({ readOnly: true });
      assert.deepEqual(r.bySubnet(2).map((l) => l.ip), [2]);
      await assert.rejects(r.apply([up(lease({ ip: 3 }))]), { code: 'LEASE_ERR_READ_ONLY' });
      await r.close();
      await w.apply([up(lease({ ip: 3 }))]);
      await w.close();
    });

    it('reloads 100k leases at open, with due leases found through the expiry heap', async (t) => {
      const place = await backend.place();
      const s = await place.open();
      const p: Promise<void>[] = [];
      for (let i = 0; i < 100_000; i++) {
        p.push(s.apply([up(lease({ ip: 0x0a000000 + i, subnetId: 1 + (i % 4), expires: 1_700_000_000 + i }))]));
      }
      await Promise.all(p);
      await s.close();
      const s2 = await place.open();
      const st = s2.stats();
      t.diagnostic(`load of ${st.loadedLeases} leases: ${st.loadMs.toFixed(0)} ms`);
      assert.equal(st.loadedLeases, 100_000);
      assert.equal(s2.countsBySubnet().get(3)?.active, 25_000);
      assert.deepEqual(s2.expiredBefore(1_700_000_003, 10).map((l) => l.ip - 0x0a000000), [0, 1, 2]);
      await s2.close();
    });
  });
}

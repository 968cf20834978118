import { after, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Lease, LeaseChange, LeaseCommitEvent } from '../../../src/dhcp/lease.js';
import { LEASE_DB_FILE, SqliteLeaseStore } from '../../../src/dhcp/lease-store/sqlite-lease-store.js';
import { openLeaseStore } from '../../../src/dhcp/lease-store/open-lease-store.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dcplane-leases-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

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

/** What is on disk, read through a separate connection (not the store's memory). */
function diskRows(dir: string): Map<number, { state: string; version: number; mac: string }> {
  const db = new Database(join(dir, LEASE_DB_FILE), { readonly: true });
  try {
    const rows = db.prepare('SELECT ip, state, version, mac FROM leases').all() as { ip: number; state: string; version: number; mac: string }[];
    return new Map(rows.map((r) => [r.ip, { state: r.state, version: r.version, mac: r.mac }]));
  } finally {
    db.close();
  }
}

describe('SqliteLeaseStore', () => {
  it('persists upserts, moves and deletes across close and reopen', async () => {
    const dir = tempDir();
    const s1 = await SqliteLeaseStore.open({ dataDir: join(dir, 'nested') });
    await s1.apply([up(lease({ ip: 10, clientId: '01aa' })), up(lease({ ip: 11 })), up(lease({ ip: 12 }))]);
    // The client moves from .10 to .20; .11 is released; .12 is deleted.
    await s1.apply([del(10), up(lease({ ip: 20, clientId: '01aa', version: 2 })), up(lease({ ip: 11, state: 'released', version: 2 })), del(12)]);
    await s1.close();

    const s2 = await SqliteLeaseStore.open({ dataDir: join(dir, 'nested') });
    assert.equal(s2.size, 2);
    assert.equal(s2.byIp(10), undefined);
    assert.equal(s2.byIp(12), undefined);
    assert.deepEqual(s2.byClient('id:01aa', 1), lease({ ip: 20, clientId: '01aa', version: 2 }));
    assert.equal(s2.byIp(11)?.state, 'released');
    assert.equal(s2.stats().loadedLeases, 2);
    assert.deepEqual(s2.countsBySubnet().get(1), { offered: 0, active: 1, released: 1, expired: 0, declined: 0 });
    await s2.close();
  });

  it('shows a change in memory at once, before its commit', async () => {
    const s = await SqliteLeaseStore.open({ dataDir: tempDir() });
    const done = s.apply([up(lease({ ip: 5 }))]);
    assert.equal(s.byIp(5)?.ip, 5);
    assert.equal(s.stats().commits, 0);
    await done;
    assert.equal(s.stats().commits, 1);
    await s.close();
  });

  it('keeps offers in memory only, and a durable delete of a stored lease is durable', async () => {
    const dir = tempDir();
    const s = await SqliteLeaseStore.open({ dataDir: dir });
    await s.apply([up(lease({ ip: 1 })), up(lease({ ip: 2, state: 'offered', expires: 1 }), false)]);
    assert.equal(s.byIp(2)?.state, 'offered');
    assert.deepEqual([...diskRows(dir).keys()], [1]);
    // An offer over a stored lease shadows it in memory; the stored one stays on disk.
    await s.apply([up(lease({ ip: 1, state: 'offered', mac: 'aa:aa:aa:aa:aa:aa' }), false)]);
    assert.equal(diskRows(dir).get(1)?.state, 'active');
    await s.apply([del(1)]);
    assert.equal(diskRows(dir).size, 0);
    await s.close();
    const s2 = await SqliteLeaseStore.open({ dataDir: dir });
    assert.equal(s2.size, 0);
    await s2.close();
  });

  it('refuses a durable offer and invalid leases without touching memory or disk', async () => {
    const dir = tempDir();
    const s = await SqliteLeaseStore.open({ dataDir: dir });
    await assert.rejects(s.apply([up(lease({ ip: 1 })), up(lease({ ip: 2, state: 'offered' }))]), { code: 'LEASE_ERR_INVALID_CHANGE' });
    await assert.rejects(s.apply([up(lease({ ip: -1 }))]), { code: 'LEASE_ERR_INVALID_CHANGE' });
    assert.equal(s.size, 0);
    await s.close();
    assert.equal(diskRows(dir).size, 0);
  });

  it('groups every apply() of one event-loop turn into one commit', async () => {
    const s = await SqliteLeaseStore.open({ dataDir: tempDir() });
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
    const dir = tempDir();
    const s = await SqliteLeaseStore.open({ dataDir: dir });
    const p = [s.apply([up(lease({ ip: 7, version: 1 }))]), s.apply([up(lease({ ip: 7, version: 2 }))]), s.apply([up(lease({ ip: 7, version: 3 }))])];
    await Promise.all(p);
    assert.equal(s.stats().changesWritten, 1);
    assert.equal(diskRows(dir).get(7)?.version, 3);
    await s.close();
  });

  it('with commitDelayMs, groups changes of several turns into one commit', async () => {
    const s = await SqliteLeaseStore.open({ dataDir: tempDir(), commitDelayMs: 40 });
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
    const dir = tempDir();
    const s = await SqliteLeaseStore.open({ dataDir: dir, commitDelayMs: 60_000 });
    const t0 = performance.now();
    const p = s.apply([up(lease({ ip: 3 }))]);
    await s.close();
    await p;
    assert.ok(performance.now() - t0 < 5000);
    assert.equal(s.stats().commits, 1);
    assert.equal(diskRows(dir).has(3), true);
  });

  it('close() commits what is queued and settles its promises; apply() after close is refused', async () => {
    const dir = tempDir();
    const s = await SqliteLeaseStore.open({ dataDir: dir });
    const p = s.apply([up(lease({ ip: 3 }))]);
    await s.close();
    await p;
    assert.equal(diskRows(dir).has(3), true);
    await assert.rejects(s.apply([up(lease({ ip: 4 }))]), { code: 'LEASE_ERR_CLOSED' });
  });

  describe('a failed commit', () => {
    it('(SQLITE_BUSY: another connection holds the write lock) rejects the batch and rolls memory back', async () => {
      const dir = tempDir();
      const s = await SqliteLeaseStore.open({ dataDir: dir, busyTimeoutMs: 20 });
      await s.apply([up(lease({ ip: 1, version: 1 })), up(lease({ ip: 2, version: 1 }))]);
      await s.apply([up(lease({ ip: 9, state: 'offered' }), false)]);
      const events: LeaseCommitEvent[] = [];
      s.onCommit((e) => events.push(e));

      const blocker = new Database(join(dir, LEASE_DB_FILE));
      blocker.exec('BEGIN IMMEDIATE');
      try {
        const a = s.apply([up(lease({ ip: 3 }))]); // new address
        const b = s.apply([up(lease({ ip: 1, version: 2, state: 'released' }))]); // changed
        const c = s.apply([del(2)]); // deleted
        // A memory-only change after a durable one at the same address is undone with it;
        s.apply([up(lease({ ip: 3, state: 'offered', mac: 'ee:ee:ee:ee:ee:ee' }), false)]);
        // one at an address no durable change touched stays.
        s.apply([up(lease({ ip: 8, state: 'offered' }), false)]);
        assert.equal(s.byIp(3)?.state, 'offered');
        for (const p of [a, b, c]) await assert.rejects(p, { code: 'LEASE_ERR_COMMIT_FAILED' });
      } finally {
        blocker.exec('ROLLBACK');
        blocker.close();
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

      // The store keeps working once the lock is gone.
      await s.apply([up(lease({ ip: 4 }))]);
      await s.close();
      assert.deepEqual([...diskRows(dir).keys()].sort(), [1, 2, 4]);
      assert.equal(diskRows(dir).get(1)?.version, 1);
    });

    it('(a row refused half-way through) leaves none of the batch on disk or in memory', async () => {
      const dir = tempDir();
      const s = await SqliteLeaseStore.open({ dataDir: dir });
      await s.apply([up(lease({ ip: 1 }))]);
      const other = new Database(join(dir, LEASE_DB_FILE));
      other.exec("CREATE TRIGGER refuse_66 BEFORE INSERT ON leases WHEN NEW.ip = 66 BEGIN SELECT RAISE(ABORT, 'refused'); END");
      const p: Promise<void>[] = [];
      for (let ip = 60; ip < 70; ip++) p.push(s.apply([up(lease({ ip }))]));
      p.push(s.apply([del(1)]));
      const results = await Promise.allSettled(p);
      assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'LEASE_ERR_COMMIT_FAILED'));
      other.exec('DROP TRIGGER refuse_66');
      other.close();
      assert.equal(s.size, 1);
      assert.ok(s.byIp(1));
      await s.close();
      assert.deepEqual([...diskRows(dir).keys()], [1]);
    });

    it('(the batch before failed) keeps the next batch\'s durable changes and undoes memory-only ones made over the failed write', async () => {
      const dir = tempDir();
      // Long enough that the batch below is still waiting for the lock when the next one is built.
      const s = await SqliteLeaseStore.open({ dataDir: dir, busyTimeoutMs: 2000 });
      await s.apply([up(lease({ ip: 1, version: 1 }))]);
      const blocker = new Database(join(dir, LEASE_DB_FILE));
      blocker.exec('BEGIN IMMEDIATE');
      let failedN: Promise<void>;
      let p1: Promise<void>;
      let p4: Promise<void>;
      try {
        failedN = s.apply([up(lease({ ip: 1, version: 2, state: 'released' })), up(lease({ ip: 3 }))]);
        failedN.catch(() => blocker.exec('ROLLBACK'));
        await delay(30);
        // Batch N is at the writer, waiting for the lock; what follows is the next batch.
        assert.equal(s.stats().failedCommits, 0);
        p1 = s.apply([up(lease({ ip: 1, version: 3 }))]);
        s.apply([up(lease({ ip: 3, state: 'offered', mac: 'ee:ee:ee:ee:ee:ee' }), false)]);
        p4 = s.apply([up(lease({ ip: 4 }))]);
        await assert.rejects(failedN, { code: 'LEASE_ERR_COMMIT_FAILED' });
      } finally {
        if (blocker.inTransaction) blocker.exec('ROLLBACK');
      }
      // The offer at .3 stood on N's write and went with it; .1's newer durable change stays.
      assert.equal(s.byIp(3), undefined);
      assert.equal(s.byIp(1)?.version, 3);
      await p1;
      await p4;
      blocker.close();
      assert.deepEqual(s.stats().failedCommits, 1);
      await s.close();
      const disk = diskRows(dir);
      assert.deepEqual([...disk.keys()].sort(), [1, 4]);
      assert.equal(disk.get(1)?.version, 3);
    });
  });

  describe('the writer thread', () => {
    it('keeps this thread free during a commit: the next batch takes changes across turns and goes as one commit after it', async () => {
      const dir = tempDir();
      const s = await SqliteLeaseStore.open({ dataDir: dir, busyTimeoutMs: 30_000 });
      await s.apply([up(lease({ ip: 1 }))]);
      const events: LeaseCommitEvent[] = [];
      s.onCommit((e) => events.push(e));
      // The lock makes commit N last as long as the test wants, on the writer thread.
      const blocker = new Database(join(dir, LEASE_DB_FILE));
      blocker.exec('BEGIN IMMEDIATE');
      let nSettled = false;
      const n = s.apply([up(lease({ ip: 10 }))]).finally(() => (nSettled = true));
      const next: Promise<void>[] = [];
      try {
        // A timer fires while N commits: with a synchronous commit the loop would sit in SQLite's busy wait.
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
        blocker.exec('ROLLBACK');
        blocker.close();
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
      assert.deepEqual([...diskRows(dir).keys()].sort((a, b) => a - b), [1, 10, 11, 12, 13]);
    });

    it('releases a big batch\'s promises a slice per event-loop turn, oldest first, all before close() resolves', async () => {
      const s = await SqliteLeaseStore.open({ dataDir: tempDir() });
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
      const dir = tempDir();
      const s = await SqliteLeaseStore.open({ dataDir: dir, busyTimeoutMs: 30_000 });
      await s.apply([up(lease({ ip: 1, version: 1 }))]);
      await s.apply([up(lease({ ip: 9, state: 'offered' }), false)]);
      const events: LeaseCommitEvent[] = [];
      s.onCommit((e) => events.push(e));
      const blocker = new Database(join(dir, LEASE_DB_FILE));
      blocker.exec('BEGIN IMMEDIATE');
      let n: Promise<void>;
      let p: Promise<void>;
      try {
        // Batch N sits at the writer (waiting for the lock); batch P is building behind it.
        n = s.apply([up(lease({ ip: 1, version: 2, state: 'released' })), up(lease({ ip: 3 }))]);
        await delay(30);
        p = s.apply([up(lease({ ip: 1, version: 3 })), up(lease({ ip: 4 }))]);
        s.apply([up(lease({ ip: 3, state: 'offered', mac: 'ee:ee:ee:ee:ee:ee' }), false)]);
        const writer = s.writerThreadForTests();
        assert.ok(writer);
        const killed = writer.terminate();
        // Let the writer out of SQLite's busy wait so the termination lands; it never reaches JavaScript again.
        blocker.exec('ROLLBACK');
        await killed;
        await assert.rejects(n, { code: 'LEASE_ERR_WRITER_DIED' });
        await assert.rejects(p, { code: 'LEASE_ERR_WRITER_DIED' });
      } finally {
        if (blocker.inTransaction) blocker.exec('ROLLBACK');
        blocker.close();
      }
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
      const disk = diskRows(dir);
      assert.deepEqual([...disk.keys()], [1]);
      assert.equal(disk.get(1)?.version, 1);
    });

    it('keeps the WAL bounded under constant load (automatic checkpoints on the writer thread)', async (t) => {
      const dir = tempDir();
      const s = await SqliteLeaseStore.open({ dataDir: dir });
      const wal = join(dir, `${LEASE_DB_FILE}-wal`);
      let walMax = 0;
      let version = 0;
      // 150 commits of 1000 rows over 50k addresses: about 90 MiB of WAL frames if nothing were checkpointed.
      for (let b = 0; b < 150; b++) {
        const p: Promise<void>[] = [];
        for (let i = 0; i < 1000; i++) {
          version++;
          p.push(s.apply([up(lease({ ip: 0x0a000000 + ((version * 7919) % 50_000), version, hostname: `host-${version}` }))]));
        }
        await Promise.all(p);
        walMax = Math.max(walMax, statSync(wal).size);
      }
      t.diagnostic(`largest WAL seen: ${(walMax / 1048576).toFixed(1)} MiB`);
      assert.ok(walMax <= 24 * 1048576, `WAL grew to ${walMax} bytes`);
      await s.close();
    });
  });

  it('records its schema version and refuses a file from a newer schema', async () => {
    const dir = tempDir();
    await (await SqliteLeaseStore.open({ dataDir: dir })).close();
    const db = new Database(join(dir, LEASE_DB_FILE));
    assert.deepEqual(db.prepare('SELECT version FROM schema_migrations').pluck().all(), [1]);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.prepare("INSERT INTO schema_migrations VALUES (99, 'x')").run();
    db.close();
    await assert.rejects(SqliteLeaseStore.open({ dataDir: dir }), { code: 'LEASE_ERR_SCHEMA_TOO_NEW' });
    await assert.rejects(SqliteLeaseStore.open({ dataDir: dir, readOnly: true }), { code: 'LEASE_ERR_SCHEMA_TOO_NEW' });
  });

  it('refuses a file that is not a database', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, LEASE_DB_FILE), 'not a database, but long enough to be read as a header by sqlite'.repeat(20));
    await assert.rejects(SqliteLeaseStore.open({ dataDir: dir }), { code: 'LEASE_ERR_OPEN_FAILED' });
  });

  it('read-only: reads beside a live writer, creates nothing, refuses apply()', async () => {
    const dir = tempDir();
    const missing = await SqliteLeaseStore.open({ dataDir: join(dir, 'nothing-here'), readOnly: true });
    assert.equal(missing.size, 0);
    await missing.close();

    const w = await SqliteLeaseStore.open({ dataDir: dir });
    await w.apply([up(lease({ ip: 1 })), up(lease({ ip: 2, subnetId: 2 }))]);
    const r = await SqliteLeaseStore.open({ dataDir: dir, readOnly: true });
    assert.deepEqual(r.bySubnet(2).map((l) => l.ip), [2]);
    await assert.rejects(r.apply([up(lease({ ip: 3 }))]), { code: 'LEASE_ERR_READ_ONLY' });
    await r.close();
    await w.apply([up(lease({ ip: 3 }))]);
    await w.close();
  });

  it('reloads 100k leases at open, with due leases found through the expiry heap', async (t) => {
    const dir = tempDir();
    const s = await SqliteLeaseStore.open({ dataDir: dir });
    const p: Promise<void>[] = [];
    for (let i = 0; i < 100_000; i++) {
      p.push(s.apply([up(lease({ ip: 0x0a000000 + i, subnetId: 1 + (i % 4), expires: 1_700_000_000 + i }))]));
    }
    await Promise.all(p);
    await s.close();
    const s2 = await SqliteLeaseStore.open({ dataDir: dir });
    const st = s2.stats();
    t.diagnostic(`load of ${st.loadedLeases} leases: ${st.loadMs.toFixed(0)} ms`);
    assert.equal(st.loadedLeases, 100_000);
    assert.equal(s2.countsBySubnet().get(3)?.active, 25_000);
    assert.deepEqual(s2.expiredBefore(1_700_000_003, 10).map((l) => l.ip - 0x0a000000), [0, 1, 2]);
    await s2.close();
  });
});

describe('openLeaseStore', () => {
  it('opens SQLite in the data directory for "sqlite"', async () => {
    const dir = tempDir();
    const s = await openLeaseStore({ dataDir: dir, database: 'sqlite' });
    await s.apply([up(lease({ ip: 1 }))]);
    await s.close();
    assert.equal(diskRows(dir).size, 1);
  });

  it('refuses anything but "sqlite" and postgres:// URLs, without printing a password', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    await assert.rejects(openLeaseStore({ dataDir: dir, database: 'mysql://u:secret@db/x' }), (e: unknown) => {
      const err = e as { code?: string; message: string };
      assert.equal(err.code, 'LEASE_ERR_UNSUPPORTED_DATABASE');
      assert.ok(!err.message.includes('secret'));
      return true;
    });
  });
});

/** What only the SQLite backend does; the behaviour every backend shares is in lease-store-contract.test.ts. */
import { after, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Lease, LeaseChange } from '../../../src/dhcp/lease.js';
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
  return { subnetId: 1, mac: '52:54:00:00:00:01', clientId: '', hostname: 'h', state: 'active', start: 1_700_000_000, expires: 1_700_003_600, version: 1, ...p };
}
const up = (l: Lease, durable = true): LeaseChange => ({ kind: 'upsert', lease: l, durable });

describe('SqliteLeaseStore', () => {
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

  it('keeps its file in WAL mode and records its schema version', async () => {
    const dir = tempDir();
    await (await SqliteLeaseStore.open({ dataDir: dir })).close();
    const db = new Database(join(dir, LEASE_DB_FILE));
    try {
      assert.deepEqual(db.prepare('SELECT version FROM schema_migrations').pluck().all(), [1]);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  });

  it('refuses a file that is not a database', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, LEASE_DB_FILE), 'not a database, but long enough to be read as a header by sqlite'.repeat(20));
    await assert.rejects(SqliteLeaseStore.open({ dataDir: dir }), { code: 'LEASE_ERR_OPEN_FAILED' });
  });
});

describe('openLeaseStore', () => {
  it('opens SQLite in the data directory for "sqlite"', async () => {
    const dir = tempDir();
    const s = await openLeaseStore({ dataDir: dir, database: 'sqlite' });
    await s.apply([up(lease({ ip: 1 }))]);
    await s.close();
    const db = new Database(join(dir, LEASE_DB_FILE), { readonly: true });
    try {
      assert.equal(db.prepare('SELECT count(*) FROM leases').pluck().get(), 1);
    } finally {
      db.close();
    }
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

import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { migrateToLatest, migrationNames } from '../../src/db/migrations.js';
import { openDatabase } from '../../src/db/open-database.js';
import { DbErrorCode } from '../../src/db/errors.js';
import { openInventory } from '../../src/inventory/inventory.js';
import { testBackends } from './backends.js';

const backends = await testBackends();

for (const backend of backends) {
  describe(`database on ${backend.name}`, { skip: backend.skip }, () => {
    it('migrates at open, and running the migrations again changes nothing', async () => {
      const db = await backend.open();
      try {
        assert.deepEqual(await migrateToLatest(db), []);
        const second = await db.reopen();
        try {
          assert.deepEqual(await migrateToLatest(second), []);
        } finally {
          await second.close();
        }
        const r = await sql<{ n: number }>`select count(*) as n from dcplane_migration`.execute(db.db);
        assert.equal(Number(r.rows[0]?.n), migrationNames(db.dialect).length);
      } finally {
        await db.dispose();
      }
    });

    it('round-trips every column kind in the backend\'s own types', async () => {
      const db = await backend.open();
      try {
        const d = db.dialect;
        const now = '2026-11-22T00:28:57.123Z';
        await db.db
          .insertInto('datacenters')
          .values({
            name: 'DC1',
            code: 'dc1',
            certifications: d.encode('json', ['ISO 27001', 'SOC 2']),
            status: 'active',
            pue_target: 1.35,
            created_at: now,
            updated_at: now,
          })
          .execute();
        await db.db
          .insertInto('users')
          .values({
            username: 'a',
            role: 'admin',
            tenant_ids: d.encode('json', [1, 2]),
            is_active: d.encode('bool', true),
            totp_enabled: d.encode('bool', false),
            failed_logins: 0,
            locked_until: '2027-01-01T00:00:00.000Z',
            created_at: now,
            updated_at: now,
          })
          .execute();
        const dc = await db.db.selectFrom('datacenters').selectAll().executeTakeFirstOrThrow();
        assert.equal(typeof dc['id'], 'number');
        assert.deepEqual(d.decode('json', dc['certifications']), ['ISO 27001', 'SOC 2']);
        assert.equal(d.decode('timestamp', dc['created_at']), now);
        assert.equal(d.decode('float', dc['pue_target']), 1.35);
        assert.equal(dc['version'], 1);
        const u = await db.db.selectFrom('users').selectAll().executeTakeFirstOrThrow();
        assert.equal(d.decode('bool', u['is_active']), true);
        assert.equal(d.decode('bool', u['totp_enabled']), false);
        assert.equal(d.decode('timestamp', u['locked_until']), '2027-01-01T00:00:00.000Z');
        assert.deepEqual(d.decode('json', u['tenant_ids']), [1, 2]);
        const c = await sql<{ n: unknown }>`select count(*) as n from users`.execute(db.db);
        assert.equal(c.rows[0]?.n, 1, 'counts come back as numbers on both backends');
      } finally {
        await db.dispose();
      }
    });

    it('reports a unique violation as a classified constraint error', async () => {
      const db = await backend.open();
      try {
        const now = new Date().toISOString();
        const row = { name: 't', slug: 't', created_at: now, updated_at: now };
        await db.db.insertInto('tenants').values(row).execute();
        const err = await db.db.insertInto('tenants').values(row).execute().then(
          () => undefined,
          (e: unknown) => e,
        );
        const v = db.dialect.classifyError(err);
        assert.equal(v?.kind, 'unique');
        assert.match(v?.constraint ?? '', /ux_tenants_(name|slug)|tenants\.(name|slug)/);
      } finally {
        await db.dispose();
      }
    });
  });
}

describe('openDatabase', () => {
  it('gives SQLite planner statistics for the tables that have rows (PRAGMA optimize at close and open)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dcplane-optimize-'));
    try {
      let db = await openDatabase('sqlite', dir);
      await openInventory(db).servers.bulkCreate(
        Array.from({ length: 500 }, (_, i) => ({ name: `s${i}`, status: i % 3 === 0 ? 'planned' : 'active' })),
        { user: 'test' },
      );
      await db.close();
      db = await openDatabase('sqlite', dir);
      try {
        const rows = (await sql<{ idx: string; stat: string }>`select idx, stat from sqlite_stat1 where tbl = 'servers'`.execute(db.db)).rows;
        const byName = rows.find((r) => r.idx === 'ix_servers_name_id');
        assert.ok(byName !== undefined, `no statistics for servers: ${JSON.stringify(rows)}`);
        assert.match(byName.stat, /^500 /);
      } finally {
        await db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a database that is neither sqlite nor postgres://, without echoing a password', async () => {
    await assert.rejects(openDatabase('mysql://u:secret@h/db', '/tmp'), (e: Error & { code?: string }) => {
      assert.equal(e.code, DbErrorCode.UNSUPPORTED_DATABASE);
      assert.doesNotMatch(e.message, /secret/);
      return true;
    });
  });

  it('reports an unreachable PostgreSQL as DB_ERR_CONNECT with the password masked', async () => {
    // Port 1 on loopback: nothing listens there, the refusal is immediate.
    await assert.rejects(openDatabase('postgres://u:secret@127.0.0.1:1/x', ''), (e: Error & { code?: string }) => {
      assert.equal(e.code, DbErrorCode.CONNECT);
      assert.doesNotMatch(e.message, /secret/);
      return true;
    });
  });
});

import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import { sql } from 'kysely';
import { RESOURCES } from '../../src/inventory/resources.js';
import { describeEachBackend } from './harness.js';

/** Columns kept by the auth store alone, never by the inventory (migration 0004: a trigger moves it). */
const AUTH_ONLY: Readonly<Record<string, readonly string[]>> = { users: ['token_generation'] };

describeEachBackend('inventory schema', (env) => {
  it('has a column for every field of every resource, and no column the definitions do not know', async () => {
    const { db } = env();
    for (const r of RESOURCES) {
      const expected = ['id', 'created_at', 'updated_at', 'version', ...Object.keys(r.fields), ...(AUTH_ONLY[r.name] ?? [])].sort();
      const actual =
        db.dialect.name === 'sqlite'
          ? (await sql<{ name: string }>`select name from pragma_table_info(${r.name})`.execute(db.db)).rows.map((x) => x.name)
          : (await sql<{ name: string }>`select column_name as name from information_schema.columns where table_schema = current_schema() and table_name = ${r.name}`.execute(db.db)).rows.map((x) => x.name);
      assert.deepEqual(actual.sort(), expected, r.name);
    }
  });

  it('serves list and get on every resource', async () => {
    const { inv } = env();
    // What the migrations seed: the `local` boot profile (0003), the default of servers.boot_profile.
    const seeded = new Map([['boot_profiles', 1]]);
    for (const r of RESOURCES) {
      const repo = inv.repository(r.name);
      assert.ok(repo, r.name);
      assert.equal((await repo.list({ limit: 1 })).count, seeded.get(r.name) ?? 0, r.name);
      assert.equal((await repo.get(1)) === undefined, !seeded.has(r.name), r.name);
    }
    assert.equal(inv.repository('audit_log'), undefined);
    assert.equal(inv.repository('__proto__'), undefined);
  });
});

/**
 * Migrations on PostgreSQL while other sessions create and drop their own
 * schemas in the same database (other nodes, other test files): Kysely's
 * stock introspector named every schema in has_schema_privilege() and
 * pg_get_serial_sequence(), and a schema dropped meanwhile failed the
 * migrator with "schema ... does not exist" (seen in CI).
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { migrateToLatest } from '../../src/db/migrations.js';
import { PG_URL, testBackends } from './backends.js';

const backends = await testBackends();
const postgres = backends.find((b) => b.name === 'postgres');

describe('PostgreSQL introspection', { skip: postgres?.skip }, () => {
  it('sees only the connection\'s own schema, with its tables and columns', async () => {
    if (postgres === undefined) return;
    const db = await postgres.open();
    try {
      const tables = await db.db.introspection.getTables({ withInternalKyselyTables: true });
      const own = (await sql<{ s: string }>`select current_schema() as s`.execute(db.db)).rows[0]?.s;
      assert.ok(tables.length > 0);
      for (const t of tables) assert.equal(t.schema, own);
      const servers = tables.find((t) => t.name === 'servers');
      const id = servers?.columns.find((c) => c.name === 'id');
      assert.ok(id !== undefined, 'servers.id is listed');
      assert.equal(id.isNullable, false);
      assert.ok(tables.some((t) => t.name === 'dcplane_migration'), 'the migrator finds its table');
    } finally {
      await db.dispose();
    }
  });

  it('migrates while other sessions create and drop schemas', async () => {
    if (postgres === undefined) return;
    const churn = new pg.Client({ connectionString: PG_URL });
    await churn.connect();
    let stop = false;
    let dropped = 0;
    const churning = (async () => {
      for (let n = 0; !stop; n++) {
        const name = `dcplane_churn_${process.pid}_${n}`;
        await churn.query(`create schema ${name}; create table ${name}.t (id serial primary key, v text)`);
        await churn.query(`drop schema ${name} cascade`);
        dropped++;
      }
    })();
    try {
      const db = await postgres.open();
      try {
        for (let i = 0; i < 40; i++) {
          assert.deepEqual(await migrateToLatest(db), []);
          await db.db.introspection.getTables({ withInternalKyselyTables: true });
        }
      } finally {
        await db.dispose();
      }
    } finally {
      stop = true;
      await churning;
      await churn.end();
    }
    assert.ok(dropped > 0, 'schemas were dropped during the run');
  });
});

/**
 * The backends every storage test runs on: SQLite in a temp directory and
 * PostgreSQL in a fresh schema (`dcplane_test_<pid>_<n>`) dropped afterwards,
 * so parallel runs never meet. PostgreSQL is skipped, loudly, only when it
 * cannot be reached; under CI (CI=true) that is a failure instead.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import type { Database } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open-database.js';
import type { OpenDatabaseOptions } from '../../src/db/open-database.js';

export const PG_URL = process.env['DCPLANE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestBackend {
  readonly name: 'sqlite' | 'postgres';
  /** Why the backend cannot run here; undefined when it can. */
  readonly skip: string | undefined;
  /** A fresh, migrated database of its own. */
  open(opts?: OpenDatabaseOptions): Promise<TestDatabase>;
}

export interface TestDatabase extends Database {
  /** Closes and removes everything open() created (temp dir or schema). */
  dispose(): Promise<void>;
  /** Opens the same storage again (a second process, a restart). */
  reopen(opts?: OpenDatabaseOptions): Promise<Database>;
}

let counter = 0;

async function postgresReachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (err) {
    return `PostgreSQL unreachable at ${PG_URL}: ${(err as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

let cached: Promise<readonly TestBackend[]> | undefined;

export function testBackends(): Promise<readonly TestBackend[]> {
  cached ??= build();
  return cached;
}

async function build(): Promise<readonly TestBackend[]> {
  const sqlite: TestBackend = {
    name: 'sqlite',
    skip: undefined,
    async open(opts = {}) {
      const dir = mkdtempSync(join(tmpdir(), 'dcplane-db-'));
      const database = await openDatabase('sqlite', dir, opts);
      return {
        ...database,
        reopen: (o = {}) => openDatabase('sqlite', dir, o),
        async dispose() {
          await database.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
  const pgSkip = await postgresReachable();
  if (pgSkip !== undefined) {
    if (process.env['CI'] === 'true') throw new Error(`${pgSkip} (CI=true: PostgreSQL tests must run)`);
    process.stderr.write(`\n!!!!!!!! SKIPPING POSTGRESQL STORAGE TESTS: ${pgSkip} !!!!!!!!\n\n`);
  }
  const postgres: TestBackend = {
    name: 'postgres',
    skip: pgSkip,
    async open(opts = {}) {
      const schema = `dcplane_test_${process.pid}_${++counter}`;
      const database = await openDatabase(PG_URL, '', { ...opts, schema });
      return {
        ...database,
        reopen: (o = {}) => openDatabase(PG_URL, '', { ...o, schema }),
        async dispose() {
          try {
            await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(database.db);
          } finally {
            await database.close();
          }
        },
      };
    },
  };
  return [sqlite, postgres];
}

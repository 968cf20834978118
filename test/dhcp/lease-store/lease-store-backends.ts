/**
 * The lease-store backends the contract suite runs on: SQLite in a temp
 * directory and PostgreSQL in a fresh schema (`dcplane_leases_<pid>_<n>`),
 * one place per test, removed by disposeAll(). Each backend also says how to
 * do, from another connection, what the tests need done to a store: read
 * what is committed, hold the write lock, refuse a row, kill the writer.
 * PostgreSQL is skipped loudly when unreachable (a failure under CI=true),
 * as in test/db/backends.ts.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { LeaseStore } from '../../../src/dhcp/lease.js';
import { PG_LEASE_TABLE, PostgresLeaseStore } from '../../../src/dhcp/lease-store/postgres-lease-store.js';
import { LEASE_DB_FILE, SqliteLeaseStore } from '../../../src/dhcp/lease-store/sqlite-lease-store.js';
import { PG_URL } from '../../db/backends.js';

export interface PlaceOpenOptions {
  readonly commitDelayMs?: number;
  /** SQLite's busy timeout, PostgreSQL's lock_timeout. */
  readonly busyTimeoutMs?: number;
  readonly readOnly?: boolean;
}

export interface StoredRow {
  readonly state: string;
  readonly version: number;
  readonly mac: string;
  readonly hostname: string;
}

/** One store's storage: a data directory, or a schema. */
export interface LeasePlace {
  /** How fixtures/ack-writer.ts finds this place: `sqlite <dataDir>` or `postgres <schema>`. */
  readonly fixtureArgs: readonly string[];
  open(opts?: PlaceOpenOptions): Promise<LeaseStore>;
  /** What is committed, read through a connection of its own (not the store's memory), by address. */
  rows(): Promise<Map<number, StoredRow>>;
  /** Whether opening created anything (the file, the schema). */
  exists(): Promise<boolean>;
  /** Another connection takes the write lock on the leases; the returned function lets go. */
  holdWriteLock(): Promise<() => Promise<void>>;
  /** The database refuses to store a lease at `ip` (a trigger); the returned function removes it. */
  refuseIp(ip: number): Promise<() => Promise<void>>;
  /** Records a schema version newer than this build knows. */
  bumpSchemaVersion(): Promise<void>;
  /**
   * Kills the store's writer (the thread; the server session) while another
   * connection holds the write lock (`release` lets go of it), and returns
   * once the store knows its writer is gone.
   */
  killWriter(store: LeaseStore, release: () => Promise<void>): Promise<void>;
}

export interface LeaseStoreBackend {
  readonly name: 'sqlite' | 'postgres';
  /** Why it cannot run here; undefined when it can. */
  readonly skip: string | undefined;
  place(): Promise<LeasePlace>;
}

const cleanups: (() => Promise<void>)[] = [];

/** Removes every place made so far (call from after()). */
export async function disposeAll(): Promise<void> {
  for (const c of cleanups.splice(0)) await c().catch(() => undefined);
}

async function waitForFailure(store: LeaseStore): Promise<void> {
  while (store.failure === undefined) await delay(5);
}

function sqlitePlace(): LeasePlace {
  const root = mkdtempSync(join(tmpdir(), 'dcplane-leases-'));
  cleanups.push(async () => rmSync(root, { recursive: true, force: true }));
  // Not created yet: the store makes it.
  const dir = join(root, 'data');
  const file = join(dir, LEASE_DB_FILE);
  const withDb = <T>(f: (db: Database.Database) => T): T => {
    const db = new Database(file);
    try {
      return f(db);
    } finally {
      db.close();
    }
  };
  return {
    fixtureArgs: ['sqlite', dir],
    open: (o = {}) => SqliteLeaseStore.open({ dataDir: dir, ...o }),
    async rows() {
      const db = new Database(file, { readonly: true });
      try {
        const rows = db.prepare('SELECT ip, state, version, mac, hostname FROM leases').all() as ({ ip: number } & StoredRow)[];
        return new Map(rows.map((r) => [r.ip, { state: r.state, version: r.version, mac: r.mac, hostname: r.hostname }]));
      } finally {
        db.close();
      }
    },
    exists: async () => existsSync(file),
    async holdWriteLock() {
      const db = new Database(file);
      db.exec('BEGIN IMMEDIATE');
      return async () => {
        if (db.inTransaction) db.exec('ROLLBACK');
        db.close();
      };
    },
    async refuseIp(ip) {
      const name = `refuse_${ip}`;
      void withDb((db) => db.exec(`CREATE TRIGGER ${name} BEFORE INSERT ON leases WHEN NEW.ip = ${ip} BEGIN SELECT RAISE(ABORT, 'refused'); END`));
      return async () => void withDb((db) => db.exec(`DROP TRIGGER ${name}`));
    },
    async bumpSchemaVersion() {
      withDb((db) => db.prepare("INSERT INTO schema_migrations VALUES (99, 'x')").run());
    },
    async killWriter(store, release) {
      const writer = (store as SqliteLeaseStore).writerThreadForTests();
      if (writer === undefined) throw new Error('no writer thread');
      const killed = writer.terminate();
      // Let the writer out of SQLite's busy wait so the termination lands; it never reaches JavaScript again.
      await release();
      await killed;
      await waitForFailure(store);
    },
  };
}

let schemaCounter = 0;

async function withClient<T>(schema: string | undefined, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    if (schema !== undefined) await c.query(`SET search_path TO "${schema}"`);
    return await f(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

function postgresPlace(): LeasePlace {
  const schema = `dcplane_leases_${process.pid}_${++schemaCounter}`;
  cleanups.push(() => withClient(undefined, async (c) => void (await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))));
  return {
    fixtureArgs: ['postgres', schema],
    open: (o = {}) =>
      PostgresLeaseStore.open({
        url: PG_URL,
        schema,
        ...(o.commitDelayMs === undefined ? {} : { commitDelayMs: o.commitDelayMs }),
        ...(o.busyTimeoutMs === undefined ? {} : { lockTimeoutMs: o.busyTimeoutMs }),
        ...(o.readOnly === undefined ? {} : { readOnly: o.readOnly }),
      }),
    rows: () =>
      withClient(schema, async (c) => {
        const res = await c.query<{ ip: string; state: string; version: string; mac: string; hostname: string }>(
          `SELECT ip, state, version, mac, hostname FROM ${PG_LEASE_TABLE}`,
        );
        return new Map(res.rows.map((r) => [Number(r.ip), { state: r.state, version: Number(r.version), mac: r.mac, hostname: r.hostname }]));
      }),
    exists: () =>
      withClient(undefined, async (c) => (await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount === 1),
    async holdWriteLock() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`SET search_path TO "${schema}"`);
      // EXCLUSIVE conflicts with the ROW EXCLUSIVE lock every INSERT/DELETE takes; readers still pass.
      await c.query(`BEGIN; LOCK TABLE ${PG_LEASE_TABLE} IN EXCLUSIVE MODE`);
      return async () => {
        await c.query('ROLLBACK').catch(() => undefined);
        await c.end().catch(() => undefined);
      };
    },
    async refuseIp(ip) {
      const name = `refuse_${ip}`;
      await withClient(schema, async (c) => {
        await c.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$`);
        await c.query(`CREATE TRIGGER ${name} BEFORE INSERT ON ${PG_LEASE_TABLE} FOR EACH ROW WHEN (NEW.ip = ${ip}) EXECUTE FUNCTION ${name}()`);
      });
      return () => withClient(schema, async (c) => void (await c.query(`DROP TRIGGER ${name} ON ${PG_LEASE_TABLE}; DROP FUNCTION ${name}()`)));
    },
    bumpSchemaVersion: () => withClient(schema, async (c) => void (await c.query('INSERT INTO dhcp_lease_schema (version) VALUES (99)'))),
    async killWriter(store, release) {
      const pid = (store as PostgresLeaseStore).writerPidForTests();
      await withClient(undefined, async (c) => {
        const res = await c.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
        if (res.rows[0]?.ok !== true) throw new Error(`could not terminate backend ${pid}`);
      });
      await waitForFailure(store);
      await release();
    },
  };
}

async function postgresReachable(): Promise<string | undefined> {
  try {
    await withClient(undefined, async (c) => void (await c.query('SELECT 1')));
    return undefined;
  } catch (err) {
    return `PostgreSQL unreachable at ${PG_URL}: ${(err as Error).message}`;
  }
}

export async function leaseStoreBackends(): Promise<readonly LeaseStoreBackend[]> {
  const pgSkip = await postgresReachable();
  if (pgSkip !== undefined) {
    if (process.env['CI'] === 'true') throw new Error(`${pgSkip} (CI=true: PostgreSQL tests must run)`);
    process.stderr.write(`\n!!!!!!!! SKIPPING POSTGRESQL LEASE STORE TESTS: ${pgSkip} !!!!!!!!\n\n`);
  }
  return [
    { name: 'sqlite', skip: undefined, place: async () => sqlitePlace() },
    { name: 'postgres', skip: pgSkip, place: async () => postgresPlace() },
  ];
}

import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { maskUrl } from '../../db/postgres/connect.js';
import type { Ipv4 } from '../../net/ipv4.js';
import type { Lease } from '../lease.js';
import { LeaseErrorCode, LeaseStoreError } from './errors.js';
import { GroupCommitLeaseStore, leaseFromRow } from './group-commit-lease-store.js';
import type { LeaseRow } from './group-commit-lease-store.js';

export interface PostgresLeaseStoreOptions {
  /** A postgres:// URL (the configuration's `database`, shared with the inventory). */
  readonly url: string;
  /**
   * Schema holding the lease tables, created when missing and put on the
   * connection's search_path. Default: the connection's own search_path
   * (`public`, or what the URL's `options` set). Tests use a fresh one each.
   */
  readonly schema?: string;
  /** See GroupCommitOptions.commitDelayMs. */
  readonly commitDelayMs?: number;
  /**
   * lock_timeout of every commit: how long it waits for a lock another
   * connection holds on lease rows (a maintenance transaction, a backup
   * with LOCK TABLE) before it fails and is rolled back (55P03). Default 2000.
   */
  readonly lockTimeoutMs?: number;
  /**
   * How long open() waits for the lease table's owner lock (see the class
   * comment): after a kill -9 the old server's backend may still be finishing
   * its last statement for a moment before PostgreSQL ends its session.
   * Default 10000.
   */
  readonly ownerWaitMs?: number;
  /** Default 10000. */
  readonly connectTimeoutMs?: number;
  /**
   * For readers beside a running server (`dcplane leases list`): runs no
   * migration, creates nothing (missing tables are an empty store), takes no
   * lock, keeps no connection and refuses apply() with LEASE_ERR_READ_ONLY.
   */
  readonly readOnly?: boolean;
}

export const PG_LEASE_TABLE = 'dhcp_leases';
const PG_SCHEMA_TABLE = 'dhcp_lease_schema';

/**
 * Schema history, recorded in dhcp_lease_schema. Append only: a released
 * step is never edited, a change is a new step. The lease tables are the
 * lease store's own (as leases.sqlite3 is beside inventory.sqlite3), not
 * inventory migrations: the lease store opens and migrates them itself.
 *
 * start and expires are double precision because a Lease's times are any
 * finite numbers (integral in practice: Unix seconds); ip, subnet_id and
 * version are bigint (a uint32 does not fit integer).
 */
const MIGRATIONS: readonly { readonly version: number; readonly sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE dhcp_leases (
        ip        bigint PRIMARY KEY CHECK (ip BETWEEN 0 AND 4294967295),
        subnet_id bigint NOT NULL,
        mac       text   NOT NULL,
        client_id text   NOT NULL,
        hostname  text   NOT NULL,
        state     text   NOT NULL CHECK (state IN ('active', 'released', 'expired', 'declined')),
        start     double precision NOT NULL,
        expires   double precision NOT NULL,
        version   bigint NOT NULL
      );
      CREATE INDEX dhcp_leases_subnet ON dhcp_leases (subnet_id);
    `,
  },
];

/**
 * dcplane's advisory-lock keys are (LOCK_SPACE << 32) | n, so they never
 * meet another application's small integer keys. n = 0 serialises lease
 * schema migrations in the database; n = the lease table's oid is the owner
 * lock (one oid per schema, so tests in their own schemas never meet).
 */
const LOCK_SPACE = 0x6463706c; // 'dcpl'
const MIGRATION_LOCK_SQL = `SELECT pg_advisory_xact_lock(${LOCK_SPACE}::bigint << 32)`;
const OWNER_LOCK_SQL = `SELECT pg_advisory_lock((${LOCK_SPACE}::bigint << 32) | '${PG_LEASE_TABLE}'::regclass::oid::bigint)`;

const SELECT_LEASES = `SELECT ip, subnet_id, mac, client_id, hostname, state, start, expires, version FROM ${PG_LEASE_TABLE}`;

/**
 * One statement per batch, hence one implicit transaction and one round
 * trip: the deletes in a data-modifying CTE, every upsert as one multi-row
 * INSERT over unnest()ed arrays (ten parameters whatever the batch size, so
 * no 65535-parameter limit). A batch holds one change per address, so the
 * DELETE and the INSERT never touch the same row.
 */
const COMMIT_SQL = `
  WITH gone AS (DELETE FROM ${PG_LEASE_TABLE} WHERE ip = ANY ($10::bigint[]))
  INSERT INTO ${PG_LEASE_TABLE} (ip, subnet_id, mac, client_id, hostname, state, start, expires, version)
  SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[], $9::bigint[])
  ON CONFLICT (ip) DO UPDATE SET
    subnet_id = excluded.subnet_id, mac = excluded.mac, client_id = excluded.client_id,
    hostname = excluded.hostname, state = excluded.state, start = excluded.start,
    expires = excluded.expires, version = excluded.version`;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** bigint (int8) as a number: every stored value is a safe integer (checked before it was written). */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * A server error (severity ERROR) ended the statement and rolled back its
 * implicit transaction; the session goes on. Anything else (a socket error,
 * a FATAL or PANIC that ends the session, a connection closed before the
 * answer) leaves the outcome of the statement unknown.
 */
function isRolledBack(e: unknown): boolean {
  return e instanceof pg.DatabaseError && e.severity === 'ERROR';
}

/**
 * Leases in PostgreSQL (`"database": "postgres://…"`): every lease in memory
 * (GroupCommitLeaseStore: group commit, rollback on a failed commit, death),
 * written through one dedicated connection, one statement per batch.
 *
 * Durability: the writer session sets synchronous_commit = on, so a commit
 * is reported only once its WAL record is flushed on the server (and on the
 * synchronous standbys, if the server names any); an apply() promise
 * resolves only after that report. A server running with fsync = off is
 * refused at open: its "flushed" means nothing after a power loss.
 *
 * No thread: node-postgres is asynchronous, so a commit waits on the socket,
 * not on this thread. What this thread pays per batch is building ten arrays
 * and their text form (bench/lease-store.ts's one-batch-of-20k case shows
 * the event-loop delay that adds, alongside SQLite's).
 *
 * Writer connection loss: if the connection fails (socket error, the server
 * ends the session or restarts, TCP keepalive finds the server gone) the store
 * dies (LEASE_ERR_WRITER_DIED) exactly like the SQLite store whose writer
 * thread died: the batch at the connection may or may not have committed, so
 * its ACKs are withheld, everything queued is refused, the DHCP server stops
 * and the process exits 1; the restart reloads what PostgreSQL holds. There
 * is no reconnect: a batch whose commit was not answered cannot be reported
 * committed, and a new session would not hold the owner lock the old one
 * had. A commit that fails with the session alive (an ERROR: lock_timeout,
 * a constraint, disk full) was rolled back: LEASE_ERR_COMMIT_FAILED, the
 * store goes on. A commit that hangs (a synchronous standby gone) holds its
 * ACKs until it returns, as a stalled fsync does under SQLite: there is no
 * statement timeout, since a cancelled commit's outcome is not certain.
 *
 * Ownership, now: the memory index is the source of truth for allocation,
 * so two dcplane processes writing one lease table would offer one address
 * twice. The writer session therefore holds a session-level advisory lock
 * on the lease table (the owner lock) from before it loads the leases until
 * it ends; a second process waits ownerWaitMs for it and then fails with
 * LEASE_ERR_IN_USE. That is all the exclusivity taken: no table lock, no
 * rewrite of the table, readers (`dcplane leases list`, psql) never wait,
 * each write is a per-row upsert carrying the lease's version, and the
 * session's end (crash, kill -9, lost network: the session sets TCP
 * keepalives so the server notices within about 25 s) frees the lock.
 * After a kill -9 the killed session may still finish the statement it was
 * running (rows committed, never acknowledged); because a restarted process
 * loads only once it holds the owner lock, i.e. once that session is gone,
 * its memory view includes them.
 *
 * What a cluster over one PostgreSQL (several dcplane processes sharing
 * leases) will need instead of the owner lock:
 * - ownership per subnet or per hash bucket (RFC 3074), not per table: a
 *   session-level advisory lock per owned subnet/bucket (key
 *   (LOCK_SPACE << 32) | subnet id), taken before serving it and held for as
 *   long as it is served, with failover when a session's lock is released;
 * - conditional upserts: `… ON CONFLICT (ip) DO UPDATE … WHERE
 *   dhcp_leases.version < excluded.version` (or = the version this node
 *   read), with RETURNING to see which rows lost, so a node acting on a
 *   stale memory view learns it instead of overwriting another node's lease;
 *   a lost row fails only its own callers, not the batch;
 * - loading and refreshing the memory view per owned subnet (LISTEN/NOTIFY
 *   or a version scan) instead of the whole table at start;
 * - expiry/reclamation done only by a subnet's owner.
 */
export class PostgresLeaseStore extends GroupCommitLeaseStore {
  /** The URL without its password, for messages. */
  readonly location: string;
  private readonly client: pg.Client | undefined;
  /** close() ended the connection, or the store died: its end is not a (new) death. */
  private ending = false;
  private writerPid = 0;

  /**
   * Connects, creates the schema and tables when missing, takes the owner
   * lock and loads every lease into memory (readOnly: connects, loads, and
   * lets go of the connection).
   */
  static async open(opts: PostgresLeaseStoreOptions): Promise<PostgresLeaseStore> {
    if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) {
      throw new LeaseStoreError(LeaseErrorCode.OPEN_FAILED, `schema name ${JSON.stringify(opts.schema)} must match ${SCHEMA_NAME}`);
    }
    const location = maskUrl(opts.url) + (opts.schema === undefined ? '' : ` (schema ${opts.schema})`);
    const client = new pg.Client({
      connectionString: opts.url,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      keepAlive: true,
      types,
      application_name: opts.readOnly === true ? 'dcplane-lease-reader' : 'dcplane-lease-writer',
    });
    // Until the store listens, an error of an idle connection must not crash the process; the next query reports it.
    const quiet = (): void => undefined;
    client.on('error', quiet);
    let rows: LeaseRow[];
    let t0: number;
    try {
      await client.connect();
      // A schema that does not exist yet may stand on the search_path; prepareWriter() creates it.
      if (opts.schema !== undefined) await client.query(`SET search_path TO "${opts.schema}"`);
      if (opts.readOnly === true) {
        t0 = performance.now();
        rows = (await checkSchemaReadOnly(client, location)) ? await loadRows(client) : [];
      } else {
        await prepareWriter(client, opts, location);
        t0 = performance.now();
        rows = await loadRows(client);
      }
    } catch (e) {
      await client.end().catch(() => undefined);
      if (e instanceof LeaseStoreError) throw e;
      throw new LeaseStoreError(LeaseErrorCode.OPEN_FAILED, `cannot open the lease tables at ${location}: ${(e as Error).message}`, { cause: e });
    }
    if (opts.readOnly === true) await client.end().catch(() => undefined);
    const store = new PostgresLeaseStore(opts, location, opts.readOnly === true ? undefined : client);
    try {
      for (const r of rows) store.index.put(leaseFromRow(r));
    } catch (e) {
      store.ending = true;
      await client.end().catch(() => undefined);
      throw e;
    }
    store.recordLoad(performance.now() - t0);
    client.off('error', quiet);
    return store;
  }

  private constructor(opts: PostgresLeaseStoreOptions, location: string, client: pg.Client | undefined) {
    super({
      ...(opts.commitDelayMs === undefined ? {} : { commitDelayMs: opts.commitDelayMs }),
      readOnly: opts.readOnly === true,
    });
    this.location = location;
    this.client = client;
    if (client !== undefined) {
      this.writerPid = (client as unknown as { processID?: number }).processID ?? 0;
      client.on('error', (e: Error) => this.connectionLost(`lease writer connection to ${location} failed: ${e.message}`, e));
      client.on('end', () => this.connectionLost(`lease writer connection to ${location} ended`, undefined));
    }
  }

  /** Test hook: a setting as the writer session has it (`synchronous_commit`). */
  async writerSettingForTests(name: string): Promise<string | undefined> {
    const res = await this.client?.query<{ v: string }>('SELECT current_setting($1) AS v', [name]);
    return res?.rows[0]?.v;
  }

  /** Test hook: the server process id of the writer session, so a test can end it (pg_terminate_backend). */
  writerPidForTests(): number {
    return this.writerPid;
  }

  protected async writeBatch(writes: ReadonlyMap<Ipv4, Lease | null>): Promise<void> {
    const client = this.client;
    if (client === undefined) throw new Error('no writer connection');
    const ip: number[] = [];
    const subnet: number[] = [];
    const mac: string[] = [];
    const clientId: string[] = [];
    const hostname: string[] = [];
    const state: string[] = [];
    const start: number[] = [];
    const expires: number[] = [];
    const version: number[] = [];
    const gone: number[] = [];
    for (const [addr, l] of writes) {
      if (l === null) {
        gone.push(addr);
        continue;
      }
      ip.push(l.ip);
      subnet.push(l.subnetId);
      mac.push(l.mac);
      clientId.push(l.clientId);
      hostname.push(l.hostname);
      state.push(l.state);
      start.push(l.start);
      expires.push(l.expires);
      version.push(l.version);
    }
    try {
      await client.query({
        name: 'dcplane_lease_commit',
        text: COMMIT_SQL,
        values: [ip, subnet, mac, clientId, hostname, state, start, expires, version, gone],
      });
    } catch (e) {
      if (!isRolledBack(e)) {
        this.connectionLost(`lease commit at ${this.location} has no known outcome: ${(e as Error).message}`, e);
      }
      throw e;
    }
  }

  protected async stopWriter(): Promise<void> {
    const client = this.client;
    if (client === undefined || this.ending) return;
    this.ending = true;
    await client.end().catch(() => undefined);
  }

  /** The writer session is gone, or a commit's outcome is unknown: end the session (and its owner lock) and die. */
  private connectionLost(message: string, cause: unknown): void {
    if (this.ending) return;
    this.ending = true;
    this.client?.end().catch(() => undefined);
    this.die(message, cause);
  }
}

async function prepareWriter(client: pg.Client, opts: PostgresLeaseStoreOptions, location: string): Promise<void> {
  // The session's own settings: a role or database default of synchronous_commit = off must not weaken the promise.
  await client.query(
    "SET synchronous_commit TO on; SET tcp_keepalives_idle TO 10; SET tcp_keepalives_interval TO 5; SET tcp_keepalives_count TO 3",
  );
  const fsync = await client.query<{ fsync: string }>("SELECT current_setting('fsync') AS fsync");
  if (fsync.rows[0]?.fsync !== 'on') {
    throw new LeaseStoreError(
      LeaseErrorCode.NOT_DURABLE,
      `PostgreSQL at ${location} runs with fsync = ${fsync.rows[0]?.fsync ?? '?'}: a committed lease would not survive a power loss, so DHCP cannot promise one`,
    );
  }
  await migrate(client, opts.schema, location);
  const wait = Math.max(0, Math.trunc(opts.ownerWaitMs ?? 10_000));
  await client.query(`SET lock_timeout TO ${wait === 0 ? 1 : wait}`);
  try {
    await client.query(OWNER_LOCK_SQL);
  } catch (e) {
    if ((e as { code?: unknown }).code !== '55P03') throw e;
    throw new LeaseStoreError(
      LeaseErrorCode.IN_USE,
      `another dcplane process writes the leases at ${location} (it holds their owner lock; waited ${wait} ms). DHCP over one shared PostgreSQL from several processes comes with the cluster work`,
      { cause: e },
    );
  }
  await client.query(`SET lock_timeout TO ${Math.max(1, Math.trunc(opts.lockTimeoutMs ?? 2000))}`);
}

async function migrate(client: pg.Client, schema: string | undefined, location: string): Promise<void> {
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  await client.query('BEGIN');
  try {
    // Two processes opening a fresh database at once must not both create the schema or the tables
    // (IF NOT EXISTS does not make concurrent creation safe: the loser fails on a unique index).
    await client.query(MIGRATION_LOCK_SQL);
    if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${PG_SCHEMA_TABLE} (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const current = Number((await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${PG_SCHEMA_TABLE}`)).rows[0]?.v ?? 0);
    if (current > latest) throw schemaTooNew(current, latest, location);
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query(`INSERT INTO ${PG_SCHEMA_TABLE} (version) VALUES ($1)`, [m.version]);
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** For a read-only open: refuses a newer schema; false when there are no lease tables yet. */
async function checkSchemaReadOnly(client: pg.Client, location: string): Promise<boolean> {
  const found = await client.query<{ s: string | null; l: string | null }>(
    `SELECT to_regclass('${PG_SCHEMA_TABLE}')::text AS s, to_regclass('${PG_LEASE_TABLE}')::text AS l`,
  );
  const row = found.rows[0];
  if (row?.s == null) return false;
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  const current = Number((await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${PG_SCHEMA_TABLE}`)).rows[0]?.v ?? 0);
  if (current > latest) throw schemaTooNew(current, latest, location);
  return row.l != null;
}

function schemaTooNew(current: number, latest: number, location: string): LeaseStoreError {
  return new LeaseStoreError(
    LeaseErrorCode.SCHEMA_TOO_NEW,
    `lease tables at ${location} have schema version ${current}, newer than this dcplane knows (${latest}); upgrade dcplane`,
  );
}

async function loadRows(client: pg.Client): Promise<LeaseRow[]> {
  const res = await client.query<LeaseRow>({ text: SELECT_LEASES, rowMode: 'array' });
  return res.rows;
}

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import type { Ipv4 } from '../../net/ipv4.js';
import type {
  Lease,
  LeaseChange,
  LeaseCommitEvent,
  LeaseState,
  LeaseStateCounts,
  LeaseStore,
  LeaseStoreStats,
} from '../lease.js';
import { LeaseErrorCode, LeaseStoreError } from './errors.js';
import { MemoryLeaseIndex, checkLeaseChange } from './memory-lease-index.js';

export interface SqliteLeaseStoreOptions {
  /** Directory holding `leases.sqlite3` (created when missing). */
  readonly dataDir: string;
  /**
   * 0 (default): a batch is committed in the event-loop turn after the one
   * that queued its first change (setImmediate). > 0: the batch stays open
   * this long, trading ACK latency for bigger batches on slow disks.
   */
  readonly commitDelayMs?: number;
  /**
   * How long a commit waits for a write lock held by another connection (a
   * CLI maintenance command, a backup) before it fails with SQLITE_BUSY. The
   * wait blocks the event loop, so it is kept short. Default 2000.
   */
  readonly busyTimeoutMs?: number;
  /**
   * For readers beside a running server (`dcplane leases list`): opens the
   * file read-only, runs no migration, creates nothing (a missing file is an
   * empty store) and refuses apply() with LEASE_ERR_READ_ONLY. WAL lets it
   * read while the server writes.
   */
  readonly readOnly?: boolean;
}

export const LEASE_DB_FILE = 'leases.sqlite3';

const PERSISTED_STATES: readonly LeaseState[] = ['active', 'released', 'expired', 'declined'];
const PERSISTED_SET: ReadonlySet<string> = new Set(PERSISTED_STATES);

/**
 * Schema history; a file records which versions it has in schema_migrations.
 * Append only: a released step is never edited, a change is a new step.
 */
const MIGRATIONS: readonly { readonly version: number; readonly sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE leases (
        ip        INTEGER PRIMARY KEY CHECK (ip BETWEEN 0 AND 4294967295),
        subnet_id INTEGER NOT NULL,
        mac       TEXT    NOT NULL,
        client_id TEXT    NOT NULL,
        hostname  TEXT    NOT NULL,
        state     TEXT    NOT NULL CHECK (state IN ('active', 'released', 'expired', 'declined')),
        start     INTEGER NOT NULL,
        expires   INTEGER NOT NULL,
        version   INTEGER NOT NULL
      );
      CREATE INDEX leases_subnet ON leases (subnet_id);
    `,
  },
];

/** Changes queued during one event-loop turn (or one commitDelayMs window). */
interface Batch {
  /**
   * Every address any change in the window touched: its value before the
   * window and the value the window left. Needed to undo the window's
   * in-memory changes at addresses whose durable write failed.
   */
  readonly touched: Map<Ipv4, { readonly prev: Lease | undefined; last: Lease | undefined; durable: boolean }>;
  /** The last durable change per address: a Lease to upsert, or null to delete. */
  readonly writes: Map<Ipv4, Lease | null>;
  readonly waiters: { resolve: () => void; reject: (e: unknown) => void }[];
  timer: { readonly immediate: NodeJS.Immediate } | { readonly timeout: NodeJS.Timeout } | undefined;
}

type Row = [number, number, string, string, string, string, number, number, number];

function rowToLease(r: Row): Lease {
  const [ip, subnetId, mac, clientId, hostname, state, start, expires, version] = r;
  if (!PERSISTED_SET.has(state)) {
    throw new LeaseStoreError(LeaseErrorCode.CORRUPT_ROW, `lease row ${ip} has state ${state}, which is never stored`);
  }
  return { ip, subnetId, mac, clientId, hostname, state: state as LeaseState, start, expires, version };
}

function sqliteCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The single-node lease store: every lease in a MemoryLeaseIndex, written
 * through to `<dataDir>/leases.sqlite3` with group commit.
 *
 * Durability: the WAL is synced (fsync) at every commit because of
 * `synchronous=FULL`. With `synchronous=NORMAL` a WAL commit is only written
 * to the OS, and synced at the next checkpoint: that survives a crash of this
 * process (kill -9: the OS still has the pages) but not a power loss or
 * kernel panic, which would lose transactions whose ACKs were already sent.
 *
 * Group commit: apply() changes memory at once (the next packet sees the
 * lease) and queues the durable changes; all changes queued in one event-loop
 * turn go into ONE transaction, committed (and fsynced) once, and then every
 * apply() promise of that turn resolves. A slow fsync blocks the loop, so the
 * packets arriving meanwhile form the next, bigger batch: throughput follows
 * load instead of being capped at one fsync per lease.
 *
 * Failure: when a commit throws, the transaction is rolled back, every
 * promise of the batch rejects with LEASE_ERR_COMMIT_FAILED (the server sends
 * no ACK for them), and memory is put back as it was before the batch at each
 * address the batch wrote durably, memory-only changes made there during the
 * batch included (an offer over an address whose durable write failed must
 * not hide the stored lease). Every change made between a batch's first
 * change and its commit belongs to that batch, and better-sqlite3 commits
 * synchronously, so nothing can touch an address between the batch closing
 * and the rollback: its last value is still the current one, which
 * rollBackMemory() checks anyway rather than assumes.
 *
 * Checkpoints: SQLite's automatic WAL checkpoint (every 1000 pages) runs
 * inside the commit that crosses the mark and syncs the main file; that
 * commit is slower, its batch waits, the next one is bigger.
 */
export class SqliteLeaseStore implements LeaseStore {
  readonly path: string;
  /** undefined only for a read-only store whose file does not exist yet. */
  private readonly db: Database.Database | undefined;
  private readonly readOnly: boolean;
  private readonly index = new MemoryLeaseIndex();
  private readonly commitDelayMs: number;
  private readonly writeBatch: ((writes: Map<Ipv4, Lease | null>) => void) | undefined;
  private readonly listeners = new Set<(e: LeaseCommitEvent) => void>();
  private pending: Batch | undefined;
  private closed = false;
  private readonly counters = {
    commits: 0,
    failedCommits: 0,
    changesWritten: 0,
    lastBatchSize: 0,
    maxBatchSize: 0,
    lastCommitMs: 0,
    totalCommitMs: 0,
    loadMs: 0,
    loadedLeases: 0,
  };

  /** Opens (creating or migrating) the database and loads every lease into memory. */
  static open(opts: SqliteLeaseStoreOptions): SqliteLeaseStore {
    return new SqliteLeaseStore(opts);
  }

  private constructor(opts: SqliteLeaseStoreOptions) {
    this.commitDelayMs = Math.max(0, opts.commitDelayMs ?? 0);
    this.readOnly = opts.readOnly === true;
    this.path = join(opts.dataDir, LEASE_DB_FILE);
    const busyTimeoutMs = Math.max(0, Math.trunc(opts.busyTimeoutMs ?? 2000));
    let db: Database.Database | undefined;
    let hasLeases = true;
    try {
      if (this.readOnly) {
        if (existsSync(this.path)) {
          db = new Database(this.path, { readonly: true, fileMustExist: true });
          db.pragma(`busy_timeout = ${busyTimeoutMs}`);
          hasLeases = checkSchemaReadOnly(db);
        }
      } else {
        mkdirSync(opts.dataDir, { recursive: true });
        db = new Database(this.path);
        db.pragma(`busy_timeout = ${busyTimeoutMs}`);
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        if (String(mode).toLowerCase() !== 'wal') throw new Error(`journal_mode is ${String(mode)}, WAL refused`);
        // See the class comment: FULL is what makes a WAL commit durable at commit time.
        db.pragma('synchronous = FULL');
        migrate(db);
        syncDir(opts.dataDir);
      }
    } catch (e) {
      db?.close();
      if (e instanceof LeaseStoreError) throw e;
      throw new LeaseStoreError(LeaseErrorCode.OPEN_FAILED, `cannot open lease database ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    this.db = db;
    this.writeBatch = db === undefined || this.readOnly ? undefined : prepareWriter(db);

    const t0 = performance.now();
    if (db !== undefined && hasLeases) {
      try {
        const rows = db
          .prepare('SELECT ip, subnet_id, mac, client_id, hostname, state, start, expires, version FROM leases')
          .raw(true)
          .iterate() as IterableIterator<Row>;
        for (const r of rows) this.index.put(rowToLease(r));
      } catch (e) {
        db.close();
        if (e instanceof LeaseStoreError) throw e;
        throw new LeaseStoreError(LeaseErrorCode.OPEN_FAILED, `cannot load leases from ${this.path}: ${(e as Error).message}`, { cause: e });
      }
    }
    this.counters.loadMs = performance.now() - t0;
    this.counters.loadedLeases = this.index.size;
  }

  get size(): number {
    return this.index.size;
  }

  byIp(ip: Ipv4): Lease | undefined {
    return this.index.byIp(ip);
  }

  byClient(clientKey: string, subnetId: number): Lease | undefined {
    return this.index.byClient(clientKey, subnetId);
  }

  all(): Lease[] {
    return this.index.all();
  }

  bySubnet(subnetId: number): Lease[] {
    return this.index.bySubnet(subnetId);
  }

  countsBySubnet(): ReadonlyMap<number, LeaseStateCounts> {
    return this.index.countsBySubnet();
  }

  expiredBefore(now: number, limit: number, opts?: { readonly includeOffers?: boolean }): Lease[] {
    return this.index.expiredBefore(now, limit, opts);
  }

  apply(changes: readonly LeaseChange[]): Promise<void> {
    if (this.closed) return Promise.reject(new LeaseStoreError(LeaseErrorCode.CLOSED, 'lease store is closed'));
    if (this.readOnly) return Promise.reject(new LeaseStoreError(LeaseErrorCode.READ_ONLY, 'lease store was opened read-only'));
    try {
      for (const c of changes) checkLeaseChange(c);
    } catch (e) {
      return Promise.reject(e);
    }
    if (changes.length === 0) return Promise.resolve();

    const batch = this.pending ?? this.openBatch();
    let durable = false;
    for (const c of changes) {
      const ip = c.kind === 'upsert' ? c.lease.ip : c.ip;
      let t = batch.touched.get(ip);
      if (t === undefined) {
        t = { prev: this.index.byIp(ip), last: undefined, durable: false };
        batch.touched.set(ip, t);
      }
      if (c.kind === 'upsert') this.index.put(c.lease);
      else this.index.remove(ip);
      t.last = this.index.byIp(ip);
      if (c.durable) {
        t.durable = true;
        durable = true;
        batch.writes.set(ip, c.kind === 'upsert' ? c.lease : null);
      }
    }
    if (!durable) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      batch.waiters.push({ resolve, reject });
    });
  }

  stats(): LeaseStoreStats {
    const c = this.counters;
    return { ...c, avgBatchSize: c.commits === 0 ? 0 : c.changesWritten / c.commits };
  }

  onCommit(listener: (event: LeaseCommitEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Commits whatever is queued, then closes the database. Queued apply() promises settle before this resolves. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    this.db?.close();
  }

  private openBatch(): Batch {
    const batch: Batch = { touched: new Map(), writes: new Map(), waiters: [], timer: undefined };
    batch.timer =
      this.commitDelayMs > 0
        ? { timeout: setTimeout(() => this.flush(), this.commitDelayMs) }
        : { immediate: setImmediate(() => this.flush()) };
    this.pending = batch;
    return batch;
  }

  private flush(): void {
    const batch = this.pending;
    if (batch === undefined) return;
    this.pending = undefined;
    // Each handle goes to its own clear function: Node's clearImmediate does not check what it is given.
    if (batch.timer !== undefined) {
      if ('timeout' in batch.timer) clearTimeout(batch.timer.timeout);
      else clearImmediate(batch.timer.immediate);
    }
    const rows = batch.writes.size;
    if (rows === 0) return;

    const t0 = performance.now();
    let failure: unknown;
    try {
      if (this.writeBatch === undefined) throw new Error('no writable database');
      this.writeBatch(batch.writes);
    } catch (e) {
      failure = e;
    }
    const durationMs = performance.now() - t0;
    const c = this.counters;
    c.lastCommitMs = durationMs;
    c.totalCommitMs += durationMs;

    if (failure === undefined) {
      c.commits++;
      c.changesWritten += rows;
      c.lastBatchSize = rows;
      if (rows > c.maxBatchSize) c.maxBatchSize = rows;
      for (const w of batch.waiters) w.resolve();
    } else {
      c.failedCommits++;
      this.rollBackMemory(batch);
      const code = sqliteCode(failure);
      const err = new LeaseStoreError(
        LeaseErrorCode.COMMIT_FAILED,
        `lease commit of ${rows} change(s) failed${code === undefined ? '' : ` (${code})`}: ${(failure as Error).message}`,
        { cause: failure },
      );
      for (const w of batch.waiters) w.reject(err);
    }
    this.emit({ ok: failure === undefined, rows, callers: batch.waiters.length, durationMs });
  }

  /**
   * Puts each address the batch wrote durably back to its value before the
   * batch — only where memory still holds what the batch left there, so a
   * change made after the batch is never undone by it.
   */
  private rollBackMemory(batch: Batch): void {
    for (const [ip, t] of batch.touched) {
      if (!t.durable) continue;
      if (this.index.byIp(ip) !== t.last) continue;
      if (t.prev === undefined) this.index.remove(ip);
      else this.index.put(t.prev);
    }
  }

  private emit(e: LeaseCommitEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A metrics hook must not turn a committed batch into a failed one.
      }
    }
  }
}

function prepareWriter(db: Database.Database): (writes: Map<Ipv4, Lease | null>) => void {
  const upsert = db.prepare(
    `INSERT INTO leases (ip, subnet_id, mac, client_id, hostname, state, start, expires, version)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (ip) DO UPDATE SET
       subnet_id = excluded.subnet_id, mac = excluded.mac, client_id = excluded.client_id,
       hostname = excluded.hostname, state = excluded.state, start = excluded.start,
       expires = excluded.expires, version = excluded.version`,
  );
  const del = db.prepare('DELETE FROM leases WHERE ip = ?');
  const tx = db.transaction((writes: Map<Ipv4, Lease | null>) => {
    for (const [ip, l] of writes) {
      if (l === null) del.run(ip);
      else upsert.run(l.ip, l.subnetId, l.mac, l.clientId, l.hostname, l.state, l.start, l.expires, l.version);
    }
  });
  // IMMEDIATE takes the write lock at BEGIN (waiting up to busy_timeout), so
  // a batch never fails half-way on a lock taken by another connection.
  return (writes) => tx.immediate(writes);
}

/** For a read-only open: refuses a newer schema; false when the file has no leases table yet. */
function checkSchemaReadOnly(db: Database.Database): boolean {
  const tables = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
  if (!tables.has('schema_migrations')) return false;
  const current = (db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  if (current > latest) {
    throw new LeaseStoreError(
      LeaseErrorCode.SCHEMA_TOO_NEW,
      `lease database schema version ${current} is newer than this dcplane knows (${latest}); upgrade dcplane`,
    );
  }
  return tables.has('leases');
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  const currentVersion = db.prepare('SELECT max(version) FROM schema_migrations').pluck();
  const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
  // IMMEDIATE takes the write lock before reading the version, so two
  // processes opening a fresh directory at once cannot both run a step.
  db.transaction(() => {
    const current = (currentVersion.get() as number | null) ?? 0;
    if (current > latest) {
      throw new LeaseStoreError(
        LeaseErrorCode.SCHEMA_TOO_NEW,
        `lease database schema version ${current} is newer than this dcplane knows (${latest}); upgrade dcplane`,
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      record.run(m.version, new Date().toISOString());
    }
  }).immediate();
}

/** Makes the directory entry of a newly created database file survive a power loss. */
function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

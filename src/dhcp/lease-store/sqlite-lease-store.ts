import { closeSync, existsSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
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
import { encodeBatch } from './sqlite-writer-worker.js';
import type { FromWriter, ToWriter, WriterErrorInfo, WriterInit } from './sqlite-writer-worker.js';

export interface SqliteLeaseStoreOptions {
  /** Directory holding `leases.sqlite3` (created when missing). */
  readonly dataDir: string;
  /**
   * 0 (default): a batch is ready in the event-loop turn after the one that
   * queued its first change (setImmediate), and goes to the writer as soon as
   * the commit before it is done. > 0: the batch stays open at least this
   * long, trading ACK latency for bigger batches on slow disks.
   */
  readonly commitDelayMs?: number;
  /**
   * How long a commit waits for a write lock held by another connection (a
   * CLI maintenance command, a backup) before it fails with SQLITE_BUSY. The
   * wait holds up the writer thread (and the ACKs behind it), not packet
   * handling. Default 2000.
   */
  readonly busyTimeoutMs?: number;
  /**
   * For readers beside a running server (`dcplane leases list`): opens the
   * file read-only, runs no migration, creates nothing (a missing file is an
   * empty store), starts no writer thread and refuses apply() with
   * LEASE_ERR_READ_ONLY. WAL lets it read while the server writes.
   */
  readonly readOnly?: boolean;
}

export const LEASE_DB_FILE = 'leases.sqlite3';

/** Committed apply() calls resolved per event-loop turn (see releaseAcks). */
const ACK_SLICE = 64;

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

/** What a batch did at one address: its value before the batch and the value the batch left. */
interface Touch {
  /** Not readonly: when the batch before this one fails, this becomes that batch's `prev` (see rollBackMemory). */
  prev: Lease | undefined;
  last: Lease | undefined;
  durable: boolean;
}

/** Changes queued while the commit before them runs (or during one commitDelayMs window). */
interface Batch {
  id: number;
  /**
   * Every address any change in the batch touched. Needed to undo the
   * batch's in-memory changes at addresses whose durable write failed.
   */
  readonly touched: Map<Ipv4, Touch>;
  /** The last durable change per address: a Lease to upsert, or null to delete. */
  readonly writes: Map<Ipv4, Lease | null>;
  readonly waiters: { resolve: () => void; reject: (e: unknown) => void }[];
  timer: { readonly immediate: NodeJS.Immediate } | { readonly timeout: NodeJS.Timeout } | undefined;
  /** Its window is over: it goes to the writer as soon as the writer is free (it keeps taking changes until then). */
  ready: boolean;
}

type Row = [number, number, string, string, string, string, number, number, number];

function rowToLease(r: Row): Lease {
  const [ip, subnetId, mac, clientId, hostname, state, start, expires, version] = r;
  if (!PERSISTED_SET.has(state)) {
    throw new LeaseStoreError(LeaseErrorCode.CORRUPT_ROW, `lease row ${ip} has state ${state}, which is never stored`);
  }
  return { ip, subnetId, mac, clientId, hostname, state: state as LeaseState, start, expires, version };
}

/** The writer's error as an Error with SQLite's code, for `cause`. */
function writerError(e: WriterErrorInfo): Error {
  return Object.assign(new Error(e.message), e.code === undefined ? {} : { code: e.code });
}

/**
 * How to start the writer script beside this file: the `.js` file when this
 * module is compiled; from source (under tsx) the `.ts` file, through a
 * bootstrap that registers tsx in the thread first. Node 20 carries module
 * hooks into no worker: neither the parent's nor `--import tsx` in the
 * worker's execArgv (tried: "Unknown file extension .ts").
 */
function writerScript(): { readonly script: string | URL; readonly evalCode: boolean } {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(`./sqlite-writer-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url);
  if (!fromSource) return { script: url, evalCode: false };
  const api = import.meta.resolve('tsx/esm/api');
  return {
    script: `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); });`,
    evalCode: true,
  };
}

/**
 * The single-node lease store: every lease in a MemoryLeaseIndex, written
 * through to `<dataDir>/leases.sqlite3` by a writer thread, with group commit.
 *
 * Durability: the WAL is synced (fsync) at every commit because of
 * `synchronous=FULL`. With `synchronous=NORMAL` a WAL commit is only written
 * to the OS, and synced at the next checkpoint: that survives a crash of this
 * process (kill -9: the OS still has the pages) but not a power loss or
 * kernel panic, which would lose transactions whose ACKs were already sent.
 * An apply() promise resolves only when the writer reports its transaction
 * committed, i.e. after that fsync.
 *
 * Threads: better-sqlite3 is synchronous, and a commit (an fsync of a few
 * ms, an automatic WAL checkpoint of hundreds of ms under disk load) would
 * stall every packet behind it, OFFERs that need no disk included. So a
 * worker thread (sqlite-writer-worker.ts) owns the only write connection.
 * This thread keeps the MemoryLeaseIndex (reads stay synchronous and in
 * memory), and sends the writer one batch of rows at a time.
 *
 * Group commit: apply() changes memory at once (the next packet sees the
 * lease) and queues the durable changes in the open batch. At most one batch
 * is at the writer: while it commits, every apply() joins the next batch,
 * which goes to the writer the moment the commit before it is reported. So a
 * slow fsync makes the next batch bigger instead of capping throughput at
 * one fsync per lease. One batch in flight, not two: the writer has one
 * connection and commits one transaction at a time anyway, and a second
 * batch in flight would only be a second queue, with rollback across two
 * unsettled batches for no throughput gained. A committed batch's promises
 * are released a slice per turn (releaseAcks).
 *
 * Failure: when a commit throws, the transaction is rolled back, every
 * promise of the batch rejects with LEASE_ERR_COMMIT_FAILED (the server sends
 * no ACK for them), and memory is put back as it was before the batch at each
 * address the batch wrote durably, memory-only changes made there after it
 * included (an offer over an address whose durable write failed must not
 * hide the stored lease). Changes the next batch made at such an address
 * durably stay in memory: they are written by that batch, and if it fails
 * too, it puts back what was there before the failed one.
 *
 * Writer death: if the writer thread dies, every batch not yet reported
 * rejects with LEASE_ERR_WRITER_DIED (the one at the writer may or may not
 * have reached the disk; its ACKs are withheld either way and a restart
 * reloads what is on disk), memory is rolled back as for a failed commit, and
 * every later apply() is refused with that code.
 *
 * Checkpoints: SQLite's automatic WAL checkpoint (every 1000 pages) runs on
 * the writer thread inside the commit that crosses the mark; that batch's
 * ACKs wait for it, packets do not, and the next batch grows meanwhile. With
 * no other long-lived reader the checkpoint completes and the WAL restarts,
 * so it stays at a few MiB under constant load (the WAL test: under 7 MiB
 * where 150 commits without checkpoints leave over 400 MiB).
 */
export class SqliteLeaseStore implements LeaseStore {
  readonly path: string;
  private readonly readOnly: boolean;
  private readonly busyTimeoutMs: number;
  private readonly index = new MemoryLeaseIndex();
  private readonly commitDelayMs: number;
  private readonly listeners = new Set<(e: LeaseCommitEvent) => void>();
  private writer: Worker | undefined;
  /** The batch taking changes. */
  private pending: Batch | undefined;
  /** The batch at the writer, not yet reported. */
  private inFlight: Batch | undefined;
  private nextBatchId = 1;
  /** Set once the writer thread died; every apply() is refused with it. */
  private dead: LeaseStoreError | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** close() asked the writer to stop: its exit is not a death. */
  private stoppingWriter = false;
  private idleWaiters: (() => void)[] = [];
  /** Resolvers of committed apply() calls not yet called: a big batch is released a slice per turn (releaseAcks). */
  private acked: (() => void)[] = [];
  private ackedHead = 0;
  private ackTimer: NodeJS.Immediate | undefined;
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

  /**
   * Opens (creating or migrating) the database, loads every lease into
   * memory, and (unless readOnly) starts the writer thread; resolves once the
   * writer has its connection open.
   */
  static async open(opts: SqliteLeaseStoreOptions): Promise<SqliteLeaseStore> {
    const store = new SqliteLeaseStore(opts);
    if (!store.readOnly) await store.startWriter();
    return store;
  }

  private constructor(opts: SqliteLeaseStoreOptions) {
    this.commitDelayMs = Math.max(0, opts.commitDelayMs ?? 0);
    this.readOnly = opts.readOnly === true;
    this.path = join(opts.dataDir, LEASE_DB_FILE);
    this.busyTimeoutMs = Math.max(0, Math.trunc(opts.busyTimeoutMs ?? 2000));
    // This connection only creates, migrates and loads; the writer thread opens its own.
    let db: Database.Database | undefined;
    let hasLeases = true;
    try {
      if (this.readOnly) {
        if (existsSync(this.path)) {
          db = new Database(this.path, { readonly: true, fileMustExist: true });
          db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
          hasLeases = checkSchemaReadOnly(db);
        }
      } else {
        mkdirSync(opts.dataDir, { recursive: true });
        db = new Database(this.path);
        db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
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

    const t0 = performance.now();
    try {
      if (db !== undefined && hasLeases) {
        const rows = db
          .prepare('SELECT ip, subnet_id, mac, client_id, hostname, state, start, expires, version FROM leases')
          .raw(true)
          .iterate() as IterableIterator<Row>;
        for (const r of rows) this.index.put(rowToLease(r));
      }
    } catch (e) {
      if (e instanceof LeaseStoreError) throw e;
      throw new LeaseStoreError(LeaseErrorCode.OPEN_FAILED, `cannot load leases from ${this.path}: ${(e as Error).message}`, { cause: e });
    } finally {
      db?.close();
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
    if (this.dead !== undefined) return Promise.reject(this.dead);
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

  /**
   * Commits whatever is queued, waits for the writer to report it, then stops
   * the writer thread (which closes its connection). Queued apply() promises
   * settle before this resolves.
   */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.closed = true;
      this.closing = this.shutDown();
    }
    return this.closing;
  }

  /** Test hook: the writer thread, so a test can terminate it and watch the store refuse writes. */
  get failure(): Error | undefined {
    return this.dead;
  }

  writerThreadForTests(): Worker | undefined {
    return this.writer;
  }

  private async shutDown(): Promise<void> {
    if (this.pending !== undefined) this.markReady(this.pending);
    this.send();
    if (this.inFlight !== undefined || this.pending !== undefined) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    const w = this.writer;
    if (w === undefined) return;
    this.stoppingWriter = true;
    if (this.dead !== undefined) {
      await w.terminate();
      return;
    }
    w.ref();
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage({ type: 'close' } satisfies ToWriter);
    // The writer is idle here, so closing takes milliseconds; this only guards against a wedged thread.
    const guard = setTimeout(() => void w.terminate(), 10_000);
    await exited;
    clearTimeout(guard);
  }

  private startWriter(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const init: WriterInit = { role: 'dcplane-lease-writer', path: this.path, busyTimeoutMs: this.busyTimeoutMs };
      const script = writerScript();
      let worker: Worker;
      try {
        worker = new Worker(script.script, { workerData: init, eval: script.evalCode });
      } catch (e) {
        reject(new LeaseStoreError(LeaseErrorCode.OPEN_FAILED, `cannot start the lease writer thread: ${(e as Error).message}`, { cause: e }));
        return;
      }
      this.writer = worker;
      let starting = true;
      const failStart = (message: string, cause: unknown): void => {
        if (!starting) return;
        starting = false;
        clearTimeout(guard);
        this.stoppingWriter = true;
        void worker.terminate();
        reject(new LeaseStoreError(LeaseErrorCode.OPEN_FAILED, `lease writer for ${this.path} did not start: ${message}`, { cause }));
      };
      worker.on('message', (m: FromWriter) => {
        if (m.type === 'ready') {
          if (!starting) return;
          starting = false;
          clearTimeout(guard);
          // Idle, the thread must not keep the process alive; send() refs it while a batch is out.
          worker.unref();
          resolve();
        } else if (m.type === 'open-failed') {
          failStart(m.error.message, writerError(m.error));
        } else {
          this.onWriterMessage(m);
        }
      });
      worker.on('error', (e: Error) => {
        failStart(e.message, e);
        this.die(`lease writer thread failed: ${e.message}`, e);
      });
      worker.on('messageerror', (e: Error) => {
        this.die(`lease writer answer could not be read: ${e.message}`, e);
      });
      worker.on('exit', (code: number) => {
        failStart(`it exited with code ${code}`, undefined);
        if (!this.stoppingWriter) this.die(`lease writer thread exited (code ${code})`, undefined);
      });
      // Opening takes milliseconds (a few hundred from source); this only guards against a thread that never answers.
      const guard = setTimeout(() => failStart('no answer within 60 s', undefined), 60_000);
    });
  }

  private openBatch(): Batch {
    const batch: Batch = { id: 0, touched: new Map(), writes: new Map(), waiters: [], timer: undefined, ready: false };
    batch.timer =
      this.commitDelayMs > 0
        ? { timeout: setTimeout(() => this.flush(), this.commitDelayMs) }
        : { immediate: setImmediate(() => this.flush()) };
    this.pending = batch;
    return batch;
  }

  private flush(): void {
    if (this.pending !== undefined) this.markReady(this.pending);
    this.send();
  }

  private markReady(batch: Batch): void {
    // Each handle goes to its own clear function: Node's clearImmediate does not check what it is given.
    if (batch.timer !== undefined) {
      if ('timeout' in batch.timer) clearTimeout(batch.timer.timeout);
      else clearImmediate(batch.timer.immediate);
      batch.timer = undefined;
    }
    batch.ready = true;
  }

  /** Hands the pending batch to the writer if it is ready and the writer is free. */
  private send(): void {
    if (this.inFlight !== undefined || this.dead !== undefined) return;
    const batch = this.pending;
    if (batch === undefined || !batch.ready) return;
    this.pending = undefined;
    const w = this.writer;
    if (batch.writes.size > 0 && w !== undefined) {
      batch.id = this.nextBatchId++;
      const encoded = encodeBatch(batch.writes);
      this.inFlight = batch;
      w.ref();
      w.postMessage({ type: 'commit', id: batch.id, batch: encoded } satisfies ToWriter, [encoded.nums.buffer as ArrayBuffer]);
    }
    this.notifyIfIdle();
  }

  private onWriterMessage(m: FromWriter): void {
    if (m.type !== 'committed' && m.type !== 'failed') return;
    const batch = this.inFlight;
    if (batch === undefined || batch.id !== m.id) {
      this.die(`lease writer reported batch ${m.id}, but batch ${batch?.id ?? 'none'} was at the writer`, undefined);
      return;
    }
    this.inFlight = undefined;
    const c = this.counters;
    c.lastCommitMs = m.durationMs;
    c.totalCommitMs += m.durationMs;
    const rows = batch.writes.size;
    if (m.type === 'committed') {
      c.commits++;
      c.changesWritten += rows;
      c.lastBatchSize = rows;
      if (rows > c.maxBatchSize) c.maxBatchSize = rows;
      for (const w of batch.waiters) this.acked.push(w.resolve);
      if (this.ackTimer === undefined) this.releaseAcks();
      this.emit({ ok: true, rows, callers: batch.waiters.length, durationMs: m.durationMs });
    } else {
      const code = m.error.code;
      const err = new LeaseStoreError(
        LeaseErrorCode.COMMIT_FAILED,
        `lease commit of ${rows} change(s) failed${code === undefined ? '' : ` (${code})`}: ${m.error.message}`,
        { cause: writerError(m.error) },
      );
      this.failBatch(batch, this.pending, err, m.durationMs);
    }
    // The batch that grew during this commit goes at once; with a commit
    // delay, only once its own window is over.
    if (this.pending !== undefined && this.commitDelayMs === 0) this.markReady(this.pending);
    this.send();
    if (this.inFlight === undefined) {
      this.writer?.unref();
      this.notifyIfIdle();
    }
  }

  /** Rejects a batch's promises with `err` and undoes its memory changes; `later` is the batch opened after it, if any. */
  private failBatch(batch: Batch, later: Batch | undefined, err: LeaseStoreError, durationMs: number): void {
    if (batch.writes.size === 0) return;
    this.counters.failedCommits++;
    this.rollBackMemory(batch, later);
    for (const w of batch.waiters) w.reject(err);
    this.emit({ ok: false, rows: batch.writes.size, callers: batch.waiters.length, durationMs });
  }

  /**
   * Puts each address the batch wrote durably back to its value before the
   * batch. Where `later` (the batch that grew while this one was at the
   * writer) also touched the address: a durable change of it stays (it is
   * being written; should it fail too, it now puts back this batch's `prev`),
   * a memory-only one is undone with this batch. Elsewhere, only where memory
   * still holds what the batch left.
   */
  private rollBackMemory(batch: Batch, later: Batch | undefined): void {
    for (const [ip, t] of batch.touched) {
      if (!t.durable) continue;
      const lt = later?.touched.get(ip);
      if (lt !== undefined) {
        if (lt.durable) {
          lt.prev = t.prev;
          continue;
        }
        later?.touched.delete(ip);
        if (this.index.byIp(ip) !== lt.last) continue;
      } else if (this.index.byIp(ip) !== t.last) {
        continue;
      }
      if (t.prev === undefined) this.index.remove(ip);
      else this.index.put(t.prev);
    }
  }

  /** The writer thread is gone: nothing it was given is known to be on disk, and nothing more can be written. */
  private die(message: string, cause: unknown): void {
    if (this.dead !== undefined) return;
    const err = new LeaseStoreError(LeaseErrorCode.WRITER_DIED, message, cause === undefined ? undefined : { cause });
    this.dead = err;
    // A writer that answered out of turn must not write anything more either.
    this.stoppingWriter = true;
    void this.writer?.terminate();
    const inFlight = this.inFlight;
    const pending = this.pending;
    this.inFlight = undefined;
    this.pending = undefined;
    if (pending !== undefined) this.markReady(pending);
    if (inFlight !== undefined) this.failBatch(inFlight, pending, err, 0);
    if (pending !== undefined) this.failBatch(pending, undefined, err, 0);
    this.notifyIfIdle();
  }

  /**
   * Resolves committed apply() calls, ACK_SLICE per event-loop turn, oldest
   * first. Each resolution sends a reply; a batch that grew during a slow
   * commit holds hundreds, and sending them in one go would hold every packet
   * that arrives meanwhile (DISCOVERs that need no disk) and overflow the
   * receive buffer of a relay or client at the other end. Between slices the
   * loop reads packets again.
   */
  private releaseAcks(): void {
    this.ackTimer = undefined;
    const acked = this.acked;
    const end = Math.min(acked.length, this.ackedHead + ACK_SLICE);
    while (this.ackedHead < end) (acked[this.ackedHead++] as () => void)();
    if (this.ackedHead < acked.length) {
      this.ackTimer = setImmediate(() => this.releaseAcks());
      return;
    }
    this.acked = [];
    this.ackedHead = 0;
    this.notifyIfIdle();
  }

  private notifyIfIdle(): void {
    if (this.inFlight !== undefined || this.pending !== undefined || this.ackTimer !== undefined) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
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

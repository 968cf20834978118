import { closeSync, existsSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Ipv4 } from '../../net/ipv4.js';
import type { Lease } from '../lease.js';
import { LeaseErrorCode, LeaseStoreError } from './errors.js';
import { GroupCommitLeaseStore, leaseFromRow } from './group-commit-lease-store.js';
import type { LeaseRow } from './group-commit-lease-store.js';
import { encodeBatch } from './sqlite-writer-worker.js';
import type { FromWriter, ToWriter, WriterErrorInfo, WriterInit } from './sqlite-writer-worker.js';

export interface SqliteLeaseStoreOptions {
  /** Directory holding `leases.sqlite3` (created when missing). */
  readonly dataDir: string;
  /** See GroupCommitOptions.commitDelayMs. */
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
 * The single-node lease store: every lease in memory (GroupCommitLeaseStore:
 * group commit, rollback on failure, death), written through to
 * `<dataDir>/leases.sqlite3` by a writer thread.
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
 * Writer death: if the writer thread dies (or answers out of turn), the
 * store dies (LEASE_ERR_WRITER_DIED, see GroupCommitLeaseStore.die).
 *
 * Checkpoints: SQLite's automatic WAL checkpoint (every 1000 pages) runs on
 * the writer thread inside the commit that crosses the mark; that batch's
 * ACKs wait for it, packets do not, and the next batch grows meanwhile. With
 * no other long-lived reader the checkpoint completes and the WAL restarts,
 * so it stays at a few MiB under constant load (the WAL test: under 7 MiB
 * where 150 commits without checkpoints leave over 400 MiB).
 */
export class SqliteLeaseStore extends GroupCommitLeaseStore {
  readonly path: string;
  private readonly busyTimeoutMs: number;
  private writer: Worker | undefined;
  private nextBatchId = 1;
  /** The batch at the writer thread, waiting for its answer. */
  private awaiting: { readonly id: number; readonly resolve: () => void; readonly reject: (e: Error) => void } | undefined;
  /** close() asked the writer to stop, or it died: its exit is not a (new) death. */
  private stoppingWriter = false;

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
    super({
      ...(opts.commitDelayMs === undefined ? {} : { commitDelayMs: opts.commitDelayMs }),
      readOnly: opts.readOnly === true,
    });
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
          .iterate() as IterableIterator<LeaseRow>;
        for (const r of rows) this.index.put(leaseFromRow(r));
      }
    } catch (e) {
      if (e instanceof LeaseStoreError) throw e;
      throw new LeaseStoreError(LeaseErrorCode.OPEN_FAILED, `cannot load leases from ${this.path}: ${(e as Error).message}`, { cause: e });
    } finally {
      db?.close();
    }
    this.recordLoad(performance.now() - t0);
  }

  /** Test hook: the writer thread, so a test can terminate it and watch the store refuse writes. */
  writerThreadForTests(): Worker | undefined {
    return this.writer;
  }

  protected writeBatch(writes: ReadonlyMap<Ipv4, Lease | null>): Promise<void> {
    const w = this.writer;
    if (w === undefined) return Promise.reject(new Error('no writer thread'));
    const id = this.nextBatchId++;
    const encoded = encodeBatch(writes);
    return new Promise<void>((resolve, reject) => {
      this.awaiting = { id, resolve, reject };
      w.postMessage({ type: 'commit', id, batch: encoded } satisfies ToWriter, [encoded.nums.buffer as ArrayBuffer]);
    });
  }

  /** A batch is out: the thread keeps the process alive until it answers. Idle, it must not. */
  protected override writerBusy(busy: boolean): void {
    if (busy) this.writer?.ref();
    else this.writer?.unref();
  }

  protected async stopWriter(): Promise<void> {
    const w = this.writer;
    if (w === undefined) return;
    if (this.stoppingWriter) {
      await w.terminate();
      return;
    }
    this.stoppingWriter = true;
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
          // Idle, the thread must not keep the process alive; writerBusy() refs it while a batch is out.
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
        this.writerDied(`lease writer thread failed: ${e.message}`, e);
      });
      worker.on('messageerror', (e: Error) => {
        this.writerDied(`lease writer answer could not be read: ${e.message}`, e);
      });
      worker.on('exit', (code: number) => {
        failStart(`it exited with code ${code}`, undefined);
        if (!this.stoppingWriter) this.writerDied(`lease writer thread exited (code ${code})`, undefined);
      });
      // Opening takes milliseconds (a few hundred from source); this only guards against a thread that never answers.
      const guard = setTimeout(() => failStart('no answer within 60 s', undefined), 60_000);
    });
  }

  private onWriterMessage(m: FromWriter): void {
    if (m.type !== 'committed' && m.type !== 'failed') return;
    const a = this.awaiting;
    if (a === undefined || a.id !== m.id) {
      this.writerDied(`lease writer reported batch ${m.id}, but batch ${a?.id ?? 'none'} was at the writer`, undefined);
      return;
    }
    this.awaiting = undefined;
    if (m.type === 'committed') a.resolve();
    else a.reject(writerError(m.error));
  }

  /** The writer thread is gone (or must go: it answered out of turn and must not write anything more either). */
  private writerDied(message: string, cause: unknown): void {
    this.stoppingWriter = true;
    this.awaiting = undefined;
    void this.writer?.terminate();
    this.die(message, cause);
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

/**
 * The lease store's writer thread, and the batch format the main thread sends
 * it. The thread owns the only write connection to `leases.sqlite3`: every
 * commit (its fsync, and SQLite's automatic WAL checkpoint inside some
 * commits) blocks this thread, never the one that answers DHCP packets.
 *
 * The main thread imports this module for encodeBatch(); the writer loop
 * starts only in a worker whose workerData says it is the lease writer.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import type { Lease, LeaseState } from '../lease.js';

/** A row's first number: 0 deletes the address, n > 0 upserts a lease in WIRE_STATES[n - 1]. */
const WIRE_STATES: readonly LeaseState[] = ['offered', 'active', 'released', 'expired', 'declined'];
const WIRE_CODE: ReadonlyMap<LeaseState, number> = new Map(WIRE_STATES.map((s, i) => [s, i + 1]));

/** Numbers per row: op/state, ip, subnetId, start, expires, version, then the lengths of mac, clientId, hostname. */
export const ROW_NUMBERS = 9;

/**
 * One batch as it crosses to the writer: all numbers in one Float64Array
 * (transferred, not copied) and all strings concatenated into one string
 * (one copy). Structured-cloning Lease objects costs about four times as
 * much main-thread time per row (measured at 20k rows).
 */
export interface EncodedBatch {
  readonly rows: number;
  readonly nums: Float64Array;
  readonly strs: string;
}

/** Every value fits a double exactly: ip is a uint32, the others are checked safe integers or finite numbers. */
export function encodeBatch(writes: ReadonlyMap<number, Lease | null>): EncodedBatch {
  const nums = new Float64Array(writes.size * ROW_NUMBERS);
  const parts: string[] = [];
  let o = 0;
  for (const [ip, l] of writes) {
    if (l === null) {
      nums[o] = 0;
      nums[o + 1] = ip;
    } else {
      nums[o] = WIRE_CODE.get(l.state) ?? -1;
      nums[o + 1] = l.ip;
      nums[o + 2] = l.subnetId;
      nums[o + 3] = l.start;
      nums[o + 4] = l.expires;
      nums[o + 5] = l.version;
      nums[o + 6] = l.mac.length;
      nums[o + 7] = l.clientId.length;
      nums[o + 8] = l.hostname.length;
      parts.push(l.mac, l.clientId, l.hostname);
    }
    o += ROW_NUMBERS;
  }
  return { rows: writes.size, nums, strs: parts.join('') };
}

/** What the writer is started with (workerData). */
export interface WriterInit {
  readonly role: 'dcplane-lease-writer';
  readonly path: string;
  readonly busyTimeoutMs: number;
}

export type ToWriter = { readonly type: 'commit'; readonly id: number; readonly batch: EncodedBatch } | { readonly type: 'close' };

export interface WriterErrorInfo {
  readonly message: string;
  /** SQLite's code (SQLITE_BUSY, SQLITE_FULL…) when there is one. */
  readonly code: string | undefined;
}

export type FromWriter =
  | { readonly type: 'ready' }
  | { readonly type: 'open-failed'; readonly error: WriterErrorInfo }
  | { readonly type: 'committed'; readonly id: number; readonly durationMs: number }
  | { readonly type: 'failed'; readonly id: number; readonly durationMs: number; readonly error: WriterErrorInfo }
  | { readonly type: 'closed'; readonly error: WriterErrorInfo | undefined };

/**
 * WAL size cap after a checkpoint resets it. Autocheckpoint (1000 pages,
 * about 4 MiB) keeps the WAL near that size with only this connection
 * writing; a long reader can hold a checkpoint back and let it grow, and this
 * gives the disk space back afterwards.
 */
const JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024;

function errorInfo(e: unknown): WriterErrorInfo {
  const code = (e as { code?: unknown } | null)?.code;
  return { message: e instanceof Error ? e.message : String(e), code: typeof code === 'string' ? code : undefined };
}

function openWriter(init: WriterInit): { db: Database.Database; commit: (b: EncodedBatch) => void } {
  // The main thread created and migrated the file before starting this thread.
  const db = new Database(init.path, { fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${init.busyTimeoutMs}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`journal_mode is ${String(mode)}, WAL refused`);
    // FULL syncs the WAL at every commit: what "durable before the ACK" rests on (see SqliteLeaseStore).
    db.pragma('synchronous = FULL');
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
    const upsert = db.prepare(
      `INSERT INTO leases (ip, subnet_id, mac, client_id, hostname, state, start, expires, version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (ip) DO UPDATE SET
         subnet_id = excluded.subnet_id, mac = excluded.mac, client_id = excluded.client_id,
         hostname = excluded.hostname, state = excluded.state, start = excluded.start,
         expires = excluded.expires, version = excluded.version`,
    );
    const del = db.prepare('DELETE FROM leases WHERE ip = ?');
    const tx = db.transaction((b: EncodedBatch) => {
      const { nums, strs, rows } = b;
      if (nums.length !== rows * ROW_NUMBERS) throw new Error(`batch of ${rows} rows carries ${nums.length} numbers`);
      let s = 0;
      for (let o = 0; o < nums.length; o += ROW_NUMBERS) {
        const op = nums[o] as number;
        const ip = nums[o + 1] as number;
        if (op === 0) {
          del.run(ip);
          continue;
        }
        const state = WIRE_STATES[op - 1];
        if (state === undefined) throw new Error(`row for ${ip} has state code ${op}`);
        const mac = strs.slice(s, (s += nums[o + 6] as number));
        const clientId = strs.slice(s, (s += nums[o + 7] as number));
        const hostname = strs.slice(s, (s += nums[o + 8] as number));
        upsert.run(ip, nums[o + 2], mac, clientId, hostname, state, nums[o + 3], nums[o + 4], nums[o + 5]);
      }
      if (s !== strs.length) throw new Error(`batch strings hold ${strs.length} characters, rows used ${s}`);
    });
    // IMMEDIATE takes the write lock at BEGIN (waiting up to busy_timeout), so
    // a batch never fails half-way on a lock taken by another connection.
    return { db, commit: (b) => tx.immediate(b) };
  } catch (e) {
    db.close();
    throw e;
  }
}

function runWriter(port: MessagePort, init: WriterInit): void {
  const post = (m: FromWriter): void => port.postMessage(m);
  let writer: ReturnType<typeof openWriter>;
  try {
    writer = openWriter(init);
  } catch (e) {
    post({ type: 'open-failed', error: errorInfo(e) });
    port.close();
    return;
  }
  port.on('message', (m: ToWriter) => {
    if (m.type === 'commit') {
      const t0 = performance.now();
      try {
        writer.commit(m.batch);
        post({ type: 'committed', id: m.id, durationMs: performance.now() - t0 });
      } catch (e) {
        post({ type: 'failed', id: m.id, durationMs: performance.now() - t0, error: errorInfo(e) });
      }
      return;
    }
    let error: WriterErrorInfo | undefined;
    try {
      writer.db.close();
    } catch (e) {
      error = errorInfo(e);
    }
    post({ type: 'closed', error });
    // Nothing else keeps this thread alive: it ends once the port is closed.
    port.close();
  });
  post({ type: 'ready' });
}

function isWriterInit(d: unknown): d is WriterInit {
  return typeof d === 'object' && d !== null && (d as { role?: unknown }).role === 'dcplane-lease-writer';
}

if (!isMainThread && parentPort !== null && isWriterInit(workerData)) runWriter(parentPort, workerData);

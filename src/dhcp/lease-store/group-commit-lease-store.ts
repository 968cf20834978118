import { performance } from 'node:perf_hooks';
import type { Ipv4 } from '../../net/ipv4.js';
import type { Lease, LeaseChange, LeaseCommitEvent, LeaseState, LeaseStateCounts, LeaseStore, LeaseStoreStats } from '../lease.js';
import { LeaseErrorCode, LeaseStoreError } from './errors.js';
import { MemoryLeaseIndex, checkLeaseChange } from './memory-lease-index.js';

export interface GroupCommitOptions {
  /**
   * 0 (default): a batch is ready in the event-loop turn after the one that
   * queued its first change (setImmediate), and goes to the writer as soon as
   * the commit before it is done. > 0: the batch stays open at least this
   * long, trading ACK latency for bigger batches on slow disks.
   */
  readonly commitDelayMs?: number;
  /** apply() is refused with LEASE_ERR_READ_ONLY and no writer is started. */
  readonly readOnly?: boolean;
}

const PERSISTED_SET: ReadonlySet<string> = new Set<LeaseState>(['active', 'released', 'expired', 'declined']);

/** A stored lease as every backend selects it: ip, subnet_id, mac, client_id, hostname, state, start, expires, version. */
export type LeaseRow = [number, number, string, string, string, string, number, number, number];

export function leaseFromRow(r: LeaseRow): Lease {
  const [ip, subnetId, mac, clientId, hostname, state, start, expires, version] = r;
  if (!PERSISTED_SET.has(state)) {
    throw new LeaseStoreError(LeaseErrorCode.CORRUPT_ROW, `lease row ${ip} has state ${state}, which is never stored`);
  }
  return { ip, subnetId, mac, clientId, hostname, state: state as LeaseState, start, expires, version };
}

/** Committed apply() calls resolved per event-loop turn (see releaseAcks). */
const ACK_SLICE = 64;

/** What a batch did at one address: its value before the batch and the value the batch left. */
interface Touch {
  /** Not readonly: when the batch before this one fails, this becomes that batch's `prev` (see rollBackMemory). */
  prev: Lease | undefined;
  last: Lease | undefined;
  durable: boolean;
}

/** Changes queued while the commit before them runs (or during one commitDelayMs window). */
interface Batch {
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

/**
 * Text a lease may carry into every backend. PostgreSQL cannot store a NUL
 * character in text, and option 12 arrives as latin1 of whatever bytes the
 * client sent (some firmware NUL-terminates it): trailing NULs are dropped
 * and any other NUL becomes U+FFFD, in memory and on disk alike, so that one
 * such client neither fails the batch it shares with others nor reads back
 * differently after a restart. mac and clientId are hex the engine made.
 */
function storable(lease: Lease): Lease {
  if (!lease.hostname.includes('\u0000')) return lease;
  let end = lease.hostname.length;
  while (end > 0 && lease.hostname.charCodeAt(end - 1) === 0) end--;
  return { ...lease, hostname: lease.hostname.slice(0, end).replaceAll('\u0000', '\uFFFD') };
}

/**
 * The part of a lease store every backend shares: every lease in a
 * MemoryLeaseIndex (reads stay synchronous and in memory), and group commit
 * of the durable changes through one writer (a SQLite thread, a PostgreSQL
 * connection) that the subclass provides through writeBatch().
 *
 * Group commit: apply() changes memory at once (the next packet sees the
 * lease) and queues the durable changes in the open batch. At most one batch
 * is at the writer: while it commits, every apply() joins the next batch,
 * which goes to the writer the moment the commit before it is reported. So a
 * slow commit makes the next batch bigger instead of capping throughput at
 * one commit per lease. One batch in flight, not two: the writer commits one
 * transaction at a time anyway, and a second batch in flight would only be a
 * second queue, with rollback across two unsettled batches for no throughput
 * gained. A committed batch's promises are released a slice per turn
 * (releaseAcks).
 *
 * Failure: when a commit fails with its transaction rolled back, every
 * promise of the batch rejects with LEASE_ERR_COMMIT_FAILED (the server
 * sends no ACK for them), and memory is put back as it was before the batch
 * at each address the batch wrote durably, memory-only changes made there
 * after it included (an offer over an address whose durable write failed
 * must not hide the stored lease). Changes the next batch made at such an
 * address durably stay in memory: they are written by that batch, and if it
 * fails too, it puts back what was there before the failed one.
 *
 * Writer death (die()): when the writer is gone, or a commit's outcome cannot
 * be known, every batch not yet reported rejects with LEASE_ERR_WRITER_DIED
 * (the one at the writer may or may not have reached the disk; its ACKs are
 * withheld either way and a restart reloads what is on disk), memory is
 * rolled back as for a failed commit, and every later apply() is refused
 * with that code.
 */
export abstract class GroupCommitLeaseStore implements LeaseStore {
  protected readonly index = new MemoryLeaseIndex();
  protected readonly readOnly: boolean;
  private readonly commitDelayMs: number;
  private readonly listeners = new Set<(e: LeaseCommitEvent) => void>();
  /** The batch taking changes. */
  private pending: Batch | undefined;
  /** The batch at the writer, not yet reported. */
  private inFlight: Batch | undefined;
  /** Set once the writer died; every apply() is refused with it. */
  private dead: LeaseStoreError | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
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

  protected constructor(opts: GroupCommitOptions) {
    this.commitDelayMs = Math.max(0, opts.commitDelayMs ?? 0);
    this.readOnly = opts.readOnly === true;
  }

  /**
   * Writes one batch (the last durable change per address: a lease to
   * upsert, or null to delete) in one transaction. Resolves once it is
   * committed durably; rejects when it was rolled back and the writer can go
   * on (the batch fails with LEASE_ERR_COMMIT_FAILED, the error's `code`
   * quoted). When the writer is gone or the outcome is unknown, the subclass
   * calls die() instead; the promise is then ignored. Never called again
   * before the previous call settled.
   */
  protected abstract writeBatch(writes: ReadonlyMap<Ipv4, Lease | null>): Promise<void>;

  /** Called by close() once nothing is queued or at the writer (or the writer died): lets go of the writer. */
  protected abstract stopWriter(): Promise<void>;

  /** A batch went to the writer (true) or the writer has nothing left (false). */
  protected writerBusy(_busy: boolean): void {}

  /** After the subclass loaded the stored leases into `index`. */
  protected recordLoad(ms: number): void {
    this.counters.loadMs = ms;
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

  byMac(mac: string, subnetId: number): Lease | undefined {
    return this.index.byMac(mac, subnetId);
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

  get failure(): Error | undefined {
    return this.dead;
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
      const lease = c.kind === 'upsert' ? storable(c.lease) : null;
      if (lease !== null) this.index.put(lease);
      else this.index.remove(ip);
      t.last = this.index.byIp(ip);
      if (c.durable) {
        t.durable = true;
        durable = true;
        batch.writes.set(ip, lease);
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
   * Commits whatever is queued, waits for the writer to report it, then lets
   * go of the writer. Queued apply() promises settle before this resolves.
   */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.closed = true;
      this.closing = this.shutDown();
    }
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    if (this.pending !== undefined) this.markReady(this.pending);
    this.send();
    if (this.inFlight !== undefined || this.pending !== undefined || this.ackTimer !== undefined) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    await this.stopWriter();
  }

  private openBatch(): Batch {
    const batch: Batch = { touched: new Map(), writes: new Map(), waiters: [], timer: undefined, ready: false };
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
    if (batch.writes.size > 0) {
      this.inFlight = batch;
      this.writerBusy(true);
      const t0 = performance.now();
      let written: Promise<void>;
      try {
        written = this.writeBatch(batch.writes);
      } catch (e) {
        written = Promise.reject(e);
      }
      written.then(
        () => this.settle(batch, performance.now() - t0, undefined),
        (e: unknown) => this.settle(batch, performance.now() - t0, e ?? new Error('commit failed')),
      );
    }
    this.notifyIfIdle();
  }

  private settle(batch: Batch, durationMs: number, error: unknown): void {
    // die() already failed it.
    if (this.inFlight !== batch) return;
    this.inFlight = undefined;
    const c = this.counters;
    c.lastCommitMs = durationMs;
    c.totalCommitMs += durationMs;
    const rows = batch.writes.size;
    if (error === undefined) {
      c.commits++;
      c.changesWritten += rows;
      c.lastBatchSize = rows;
      if (rows > c.maxBatchSize) c.maxBatchSize = rows;
      for (const w of batch.waiters) this.acked.push(w.resolve);
      if (this.ackTimer === undefined) this.releaseAcks();
      this.emit({ ok: true, rows, callers: batch.waiters.length, durationMs });
    } else {
      const code = (error as { code?: unknown }).code;
      const err = new LeaseStoreError(
        LeaseErrorCode.COMMIT_FAILED,
        `lease commit of ${rows} change(s) failed${typeof code === 'string' ? ` (${code})` : ''}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
      this.failBatch(batch, this.pending, err, durationMs);
    }
    // The batch that grew during this commit goes at once; with a commit
    // delay, only once its own window is over.
    if (this.pending !== undefined && this.commitDelayMs === 0) this.markReady(this.pending);
    this.send();
    if (this.inFlight === undefined) {
      this.writerBusy(false);
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

  /**
   * The writer is gone, or a commit's outcome cannot be known: nothing it was
   * given is known to be on disk, and nothing more can be written. The
   * subclass stops its writer itself (before or after calling this).
   */
  protected die(message: string, cause: unknown): void {
    if (this.dead !== undefined) return;
    const err = new LeaseStoreError(LeaseErrorCode.WRITER_DIED, message, cause === undefined ? undefined : { cause });
    this.dead = err;
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

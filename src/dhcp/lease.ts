import type { Ipv4 } from '../net/ipv4.js';

/**
 * Lease states. `offered` leases are held in memory only (an OFFER promises
 * nothing, RFC 2131 §4.3.1); every other state is written durably before the
 * message that announces it leaves the server.
 */
export type LeaseState = 'offered' | 'active' | 'released' | 'expired' | 'declined';

export interface Lease {
  readonly ip: Ipv4;
  readonly subnetId: number;
  /** Hardware address, lower-case colon hex (`52:54:00:00:00:01`), or '' when unknown (a DECLINE without chaddr). */
  readonly mac: string;
  /** Client identifier (option 61) as lower-case hex without separators, or '' when the client sent none. */
  readonly clientId: string;
  readonly hostname: string;
  readonly state: LeaseState;
  /** Unix seconds: when the lease was granted (or the state was entered). */
  readonly start: number;
  /** Unix seconds: when the state ends (lease expiry, offer expiry, probation end). */
  readonly expires: number;
  /** Monotonic per-address version, bumped by every change; lets a shared store detect lost updates. */
  readonly version: number;
}

/**
 * The key a client is known by: its client identifier when it sent one
 * (RFC 2131 §4.2: "the combination of 'client identifier' or 'chaddr' and
 * assigned network address constitute a unique identifier"), else its MAC.
 */
export function clientKeyOf(lease: Pick<Lease, 'clientId' | 'mac'>): string {
  return lease.clientId !== '' ? `id:${lease.clientId}` : `hw:${lease.mac}`;
}

/** What the pure engine reads: a synchronous view of current leases. */
export interface LeaseView {
  byIp(ip: Ipv4): Lease | undefined;
  /** The lease this client holds in the given subnet, if any (any state). */
  byClient(clientKey: string, subnetId: number): Lease | undefined;
  /**
   * The lease this hardware address holds in the subnet, whatever client
   * identifier it was taken with (Kea's belongsToClient for a client that
   * sends no option 61: PXE firmware without, the installed OS with). Same
   * choice among several as byClient.
   */
  byMac(mac: string, subnetId: number): Lease | undefined;
}

/** A change the engine wants applied. `durable` changes must be on disk before the reply is sent. */
export type LeaseChange =
  | { readonly kind: 'upsert'; readonly lease: Lease; readonly durable: boolean }
  | { readonly kind: 'delete'; readonly ip: Ipv4; readonly durable: boolean };

/**
 * Where leases live. Both backends keep every lease in memory (the
 * `LeaseView`) and write through to SQLite (`leases.sqlite3` in the data
 * directory) or PostgreSQL (`database` is a postgres:// URL). `apply`
 * resolves once every durable change in it is committed durably; changes
 * from concurrent calls are grouped into one transaction (group commit).
 */
export interface LeaseStore extends LeaseView {
  /**
   * Applies the changes to the in-memory view at once and persists the durable ones.
   * The promise resolves once the batch holding them is committed; when that
   * commit fails it rejects with a coded error and the batch's in-memory
   * changes are rolled back, so nothing that is not on disk stays visible.
   */
  apply(changes: readonly LeaseChange[]): Promise<void>;
  /**
   * Why the store can no longer write anything (its writer thread or connection died),
   * undefined while it can. Once set it stays set: every apply() is refused,
   * non-durable ones included, so a caller checks this before it answers on
   * the strength of a change it cannot wait for.
   */
  readonly failure: Error | undefined;
  /** Every lease, for listing and reclamation (a snapshot). */
  all(): Iterable<Lease>;
  /**
   * Leases whose `expires` is before `now`, in any persisted state except `expired`,
   * earliest first. With `includeOffers`, stale `offered` leases are returned too
   * (memory only; the reclaimer drops them with a non-durable delete).
   */
  expiredBefore(now: number, limit: number, opts?: { readonly includeOffers?: boolean }): Lease[];
  /** The leases of one subnet (a snapshot). */
  bySubnet(subnetId: number): Lease[];
  /** How many leases each subnet holds in each state (only subnets with at least one lease). */
  countsBySubnet(): ReadonlyMap<number, LeaseStateCounts>;
  /** Number of leases in memory, offers included. */
  readonly size: number;
  /** Counters for metrics; a fresh copy on every call. */
  stats(): LeaseStoreStats;
  /** Called after every commit attempt (for a duration histogram); returns an unsubscribe function. */
  onCommit(listener: (event: LeaseCommitEvent) => void): () => void;
  close(): Promise<void>;
}

export type LeaseStateCounts = Readonly<Record<LeaseState, number>>;

export interface LeaseStoreStats {
  /** Transactions committed. */
  readonly commits: number;
  /** Transactions that failed and were rolled back. */
  readonly failedCommits: number;
  /** Durable rows written (upserts and deletes; several changes to one address in a batch count once). */
  readonly changesWritten: number;
  /** Rows in the last committed batch. */
  readonly lastBatchSize: number;
  readonly maxBatchSize: number;
  /** changesWritten / commits (0 before the first commit). */
  readonly avgBatchSize: number;
  readonly lastCommitMs: number;
  readonly totalCommitMs: number;
  /** Time spent loading leases at open, and how many. */
  readonly loadMs: number;
  readonly loadedLeases: number;
}

export interface LeaseCommitEvent {
  readonly ok: boolean;
  /** Rows written (or attempted). */
  readonly rows: number;
  /** apply() calls whose promises this batch settles. */
  readonly callers: number;
  readonly durationMs: number;
}

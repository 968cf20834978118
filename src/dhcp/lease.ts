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
}

/** A change the engine wants applied. `durable` changes must be on disk before the reply is sent. */
export type LeaseChange =
  | { readonly kind: 'upsert'; readonly lease: Lease; readonly durable: boolean }
  | { readonly kind: 'delete'; readonly ip: Ipv4; readonly durable: boolean };

/**
 * Where leases live. The single-node backend keeps every lease in memory
 * (the `LeaseView`) and writes through to SQLite; a PostgreSQL backend comes
 * with the cluster work. `commit` resolves once every durable change in the
 * batch is synced to disk; changes from concurrent calls are grouped into one
 * transaction (group commit).
 */
export interface LeaseStore extends LeaseView {
  /** Applies the changes to the in-memory view at once and persists the durable ones. */
  apply(changes: readonly LeaseChange[]): Promise<void>;
  /** Every lease, for listing and reclamation (a snapshot). */
  all(): Iterable<Lease>;
  /** Leases whose `expires` is before `now`, in any persisted state except `expired`. */
  expiredBefore(now: number, limit: number): Lease[];
  close(): Promise<void>;
}

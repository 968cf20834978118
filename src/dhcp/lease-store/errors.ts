import { DcplaneError } from '../../common/errors.js';

/**
 * Stable codes of the lease store. The DHCP server turns LEASE_ERR_COMMIT_FAILED
 * into "do not send the ACK"; the CLI prints the others and exits non-zero.
 */
export const LeaseErrorCode = {
  /** The transaction holding a batch of durable changes failed (disk full, SQLITE_BUSY, I/O error…); the batch was rolled back. */
  COMMIT_FAILED: 'LEASE_ERR_COMMIT_FAILED',
  /**
   * The writer died: SQLite's writer thread crashed or was terminated, or
   * PostgreSQL's writer connection failed or a commit's answer was lost.
   * Every apply() waiting for a commit rejects with this,
   * whether or not its batch reached the disk, and the store refuses every
   * later apply(): a restart reloads what is on disk.
   */
  WRITER_DIED: 'LEASE_ERR_WRITER_DIED',
  /** apply() after close(). */
  CLOSED: 'LEASE_ERR_CLOSED',
  /** apply() on a store opened with readOnly. */
  READ_ONLY: 'LEASE_ERR_READ_ONLY',
  /** A change the store refuses before touching anything: bad address, durable offer, bad field types. */
  INVALID_CHANGE: 'LEASE_ERR_INVALID_CHANGE',
  /** `database` names a backend this build cannot serve (no longer produced: PostgreSQL is served since the inventory issue). */
  BACKEND_UNAVAILABLE: 'LEASE_ERR_BACKEND_UNAVAILABLE',
  /** `database` is neither "sqlite" nor a postgres:// URL. */
  UNSUPPORTED_DATABASE: 'LEASE_ERR_UNSUPPORTED_DATABASE',
  /** The database could not be opened or prepared (permissions, not a database, unreachable server). */
  OPEN_FAILED: 'LEASE_ERR_OPEN_FAILED',
  /** The file was written by a newer dcplane whose schema this one does not know. */
  SCHEMA_TOO_NEW: 'LEASE_ERR_SCHEMA_TOO_NEW',
  /** Another dcplane process holds the owner lock of the PostgreSQL lease table (one writer per table until the cluster work). */
  IN_USE: 'LEASE_ERR_IN_USE',
  /** The PostgreSQL server runs with fsync = off: a commit it reports would not survive a power loss. */
  NOT_DURABLE: 'LEASE_ERR_NOT_DURABLE',
  /** A stored row cannot be a lease (unknown state, address out of range). */
  CORRUPT_ROW: 'LEASE_ERR_CORRUPT_ROW',
} as const;

export type LeaseErrorCode = (typeof LeaseErrorCode)[keyof typeof LeaseErrorCode];

export class LeaseStoreError extends DcplaneError {
  declare readonly code: LeaseErrorCode;
  constructor(code: LeaseErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

import type { LeaseStore } from '../lease.js';
import { LeaseErrorCode, LeaseStoreError } from './errors.js';
import { SqliteLeaseStore } from './sqlite-lease-store.js';

export interface OpenLeaseStoreOptions {
  /** The configuration's `data_dir`. */
  readonly dataDir: string;
  /** The configuration's `database`: "sqlite" or a postgres:// URL. */
  readonly database: string;
  /** See SqliteLeaseStoreOptions.commitDelayMs. */
  readonly commitDelayMs?: number;
  /** See SqliteLeaseStoreOptions.busyTimeoutMs. */
  readonly busyTimeoutMs?: number;
  /** See SqliteLeaseStoreOptions.readOnly. */
  readonly readOnly?: boolean;
}

/**
 * The lease store the configuration asks for. Async because the PostgreSQL
 * backend will connect before it can answer; SQLite opens synchronously.
 */
export async function openLeaseStore(opts: OpenLeaseStoreOptions): Promise<LeaseStore> {
  const db = opts.database.trim();
  if (db === '' || db === 'sqlite') {
    return SqliteLeaseStore.open({
      dataDir: opts.dataDir,
      ...(opts.commitDelayMs === undefined ? {} : { commitDelayMs: opts.commitDelayMs }),
      ...(opts.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: opts.busyTimeoutMs }),
      ...(opts.readOnly === undefined ? {} : { readOnly: opts.readOnly }),
    });
  }
  if (/^postgres(ql)?:\/\//i.test(db)) {
    throw new LeaseStoreError(
      LeaseErrorCode.BACKEND_UNAVAILABLE,
      'the PostgreSQL lease backend arrives with the cluster issue; this build keeps leases in SQLite only (set "database": "sqlite")',
    );
  }
  throw new LeaseStoreError(
    LeaseErrorCode.UNSUPPORTED_DATABASE,
    `database must be "sqlite" or a postgres:// URL, not ${JSON.stringify(db.replace(/\/\/[^@/]*@/, '//***@'))}`,
  );
}

import type { LeaseStore } from '../lease.js';
import { LeaseErrorCode, LeaseStoreError } from './errors.js';
import { PostgresLeaseStore } from './postgres-lease-store.js';
import { SqliteLeaseStore } from './sqlite-lease-store.js';

export interface OpenLeaseStoreOptions {
  /** The configuration's `data_dir` (SQLite only). */
  readonly dataDir: string;
  /** The configuration's `database`: "sqlite" or a postgres:// URL (the same database as the inventory's). */
  readonly database: string;
  /** See GroupCommitOptions.commitDelayMs. */
  readonly commitDelayMs?: number;
  /** How long a commit waits for a lock another connection holds: SQLite's busy timeout, PostgreSQL's lock_timeout. */
  readonly busyTimeoutMs?: number;
  /** For readers beside a running server: see SqliteLeaseStoreOptions.readOnly and PostgresLeaseStoreOptions.readOnly. */
  readonly readOnly?: boolean;
}

/** The lease store the configuration asks for. */
export async function openLeaseStore(opts: OpenLeaseStoreOptions): Promise<LeaseStore> {
  const db = opts.database.trim();
  const common = {
    ...(opts.commitDelayMs === undefined ? {} : { commitDelayMs: opts.commitDelayMs }),
    ...(opts.readOnly === undefined ? {} : { readOnly: opts.readOnly }),
  };
  if (db === '' || db === 'sqlite') {
    return SqliteLeaseStore.open({
      dataDir: opts.dataDir,
      ...common,
      ...(opts.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: opts.busyTimeoutMs }),
    });
  }
  if (/^postgres(ql)?:\/\//i.test(db)) {
    return PostgresLeaseStore.open({
      url: db,
      ...common,
      ...(opts.busyTimeoutMs === undefined ? {} : { lockTimeoutMs: opts.busyTimeoutMs }),
    });
  }
  throw new LeaseStoreError(
    LeaseErrorCode.UNSUPPORTED_DATABASE,
    `database must be "sqlite" or a postgres:// URL, not ${JSON.stringify(db.replace(/\/\/[^@/]*@/, '//***@'))}`,
  );
}

import type { Database } from './database.js';
import { DbError, DbErrorCode } from './errors.js';
import { migrateToLatest } from './migrations.js';
import { connectPostgres, maskUrl } from './postgres/connect.js';
import { connectSqlite } from './sqlite/connect.js';

export interface OpenDatabaseOptions {
  /** PostgreSQL only: schema to create and use (see PostgresConnectOptions.schema). */
  readonly schema?: string;
  /** Run pending migrations before returning (default true: migrations run at start). */
  readonly migrate?: boolean;
  readonly maxConnections?: number;
  readonly busyTimeoutMs?: number;
}

/**
 * The inventory database the configuration's `database` names: "sqlite"
 * (default; `inventory.sqlite3` in `dataDir`) or a postgres:// URL. Migrated
 * to the latest schema unless `migrate: false`.
 */
export async function openDatabase(database: string, dataDir: string, opts: OpenDatabaseOptions = {}): Promise<Database> {
  const url = database.trim();
  let opened: Database;
  if (url === '' || url === 'sqlite') {
    opened = connectSqlite({ dataDir, ...(opts.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: opts.busyTimeoutMs }) });
  } else if (/^postgres(ql)?:\/\//i.test(url)) {
    opened = await connectPostgres({
      url,
      ...(opts.schema === undefined ? {} : { schema: opts.schema }),
      ...(opts.maxConnections === undefined ? {} : { maxConnections: opts.maxConnections }),
    });
  } else {
    throw new DbError(DbErrorCode.UNSUPPORTED_DATABASE, `database must be "sqlite" or a postgres:// URL, not ${JSON.stringify(maskUrl(url))}`);
  }
  if (opts.migrate !== false) {
    try {
      await migrateToLatest(opened);
    } catch (err) {
      await opened.close().catch(() => undefined);
      throw err;
    }
  }
  return opened;
}

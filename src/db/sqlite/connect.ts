import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database, DynamicDatabase } from '../database.js';
import { DbError, DbErrorCode } from '../errors.js';
import { sqliteDialectInfo } from './dialect-info.js';

/** The inventory's file in the data directory (the lease store keeps its own). */
export const INVENTORY_DB_FILE = 'inventory.sqlite3';

export interface SqliteConnectOptions {
  readonly dataDir: string;
  /** Milliseconds a writer waits for another process's lock before SQLITE_BUSY. */
  readonly busyTimeoutMs?: number;
}

export function connectSqlite(opts: SqliteConnectOptions): Database {
  const file = join(opts.dataDir, INVENTORY_DB_FILE);
  const busy = `busy_timeout = ${Math.max(0, Math.trunc(opts.busyTimeoutMs ?? 5000))}`;
  let handle: BetterSqlite3.Database;
  let readHandle: BetterSqlite3.Database;
  try {
    mkdirSync(opts.dataDir, { recursive: true });
    handle = new BetterSqlite3(file);
    handle.pragma('journal_mode = WAL');
    // An acknowledged API write must survive power loss, as leases do.
    handle.pragma('synchronous = FULL');
    // Off by default in SQLite; the schema's REFERENCES are a safety net under the coded checks.
    handle.pragma('foreign_keys = ON');
    handle.pragma(busy);
    readHandle = new BetterSqlite3(file, { readonly: true });
    readHandle.pragma(busy);
  } catch (err) {
    throw new DbError(DbErrorCode.CONNECT, `cannot open ${file}: ${(err as Error).message}`, { cause: err });
  }
  const db = new Kysely<DynamicDatabase>({ dialect: new SqliteDialect({ database: handle }) });
  const readDb = new Kysely<DynamicDatabase>({ dialect: new SqliteDialect({ database: readHandle }) });
  return {
    db,
    readDb,
    dialect: sqliteDialectInfo,
    location: file,
    close: async () => {
      await readDb.destroy();
      await db.destroy();
    },
  };
}

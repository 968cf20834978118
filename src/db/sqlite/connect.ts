import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database, DynamicDatabase } from '../database.js';
import { DbError, DbErrorCode } from '../errors.js';
import { sqliteDialectInfo } from './dialect-info.js';

/** The inventory's file in the data directory (the lease store keeps its own). */
export const INVENTORY_DB_FILE = 'inventory.sqlite3';

/** How often the long-lived write connection refreshes planner statistics (SQLite's advice: every few hours). */
const OPTIMIZE_EVERY_MS = 4 * 3600_000;

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
    // SQLite never gathers planner statistics by itself: without them a filter such as status + rack_id
    // picks the status index and reads 100x more rows. The pragmas SQLite recommends for a long-lived
    // connection: a bounded ANALYZE of the tables that need it at open, again every few hours and at close.
    handle.pragma('analysis_limit = 400');
    handle.pragma('optimize = 0x10002');
    readHandle = new BetterSqlite3(file, { readonly: true });
    readHandle.pragma(busy);
  } catch (err) {
    throw new DbError(DbErrorCode.CONNECT, `cannot open ${file}: ${(err as Error).message}`, { cause: err });
  }
  const optimizer = setInterval(() => {
    try {
      handle.pragma('optimize');
    } catch {
      // Busy or closing: the next pass or the close runs it.
    }
  }, OPTIMIZE_EVERY_MS);
  optimizer.unref();
  const db = new Kysely<DynamicDatabase>({ dialect: new SqliteDialect({ database: handle }) });
  const readDb = new Kysely<DynamicDatabase>({ dialect: new SqliteDialect({ database: readHandle }) });
  return {
    db,
    readDb,
    dialect: sqliteDialectInfo,
    location: file,
    close: async () => {
      clearInterval(optimizer);
      try {
        handle.pragma('optimize');
      } catch {
        // A database another process holds busy still closes.
      }
      await readDb.destroy();
      await db.destroy();
    },
  };
}

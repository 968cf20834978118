import { Kysely, sql } from 'kysely';
import pg from 'pg';
import type { Database, DynamicDatabase } from '../database.js';
import { DbError, DbErrorCode } from '../errors.js';
import { postgresDialectInfo } from './dialect-info.js';
import { SchemaScopedPostgresDialect } from './introspector.js';

export interface PostgresConnectOptions {
  /** A postgres:// URL. */
  readonly url: string;
  /**
   * Schema to create (when missing) and put first on the search_path of every
   * pooled connection; tests use a fresh one each so parallel runs never meet.
   */
  readonly schema?: string;
  readonly maxConnections?: number;
}

const OID = { INT8: 20, NUMERIC: 1700, DATE: 1082, TIMESTAMPTZ: 1184, TIMESTAMP: 1114 } as const;

/**
 * Per-pool type parsers (the global pg.types registry is shared with every
 * other user of `pg` in the process): dates stay `YYYY-MM-DD` text rather than
 * a local-midnight Date, timestamps come back as the same ISO-8601 text
 * SQLite stores, counts (int8) as numbers.
 */
const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    switch (oid) {
      case OID.INT8:
      case OID.NUMERIC:
        return (v: string) => Number(v);
      case OID.DATE:
        return (v: string) => v;
      case OID.TIMESTAMPTZ:
      case OID.TIMESTAMP:
        return (v: string) => new Date(v.includes('+') || v.endsWith('Z') ? v : `${v}Z`).toISOString();
      default:
        return pg.types.getTypeParser(oid, format ?? 'text');
    }
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export function maskUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export async function connectPostgres(opts: PostgresConnectOptions): Promise<Database> {
  if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) {
    throw new DbError(DbErrorCode.CONNECT, `schema name ${JSON.stringify(opts.schema)} must match ${SCHEMA_NAME}`);
  }
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.maxConnections ?? 10,
    types: typeParsers,
    ...(opts.schema === undefined ? {} : { options: `-c search_path=${opts.schema}` }),
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  const db = new Kysely<DynamicDatabase>({ dialect: new SchemaScopedPostgresDialect({ pool }) });
  try {
    if (opts.schema !== undefined) await sql`create schema if not exists ${sql.id(opts.schema)}`.execute(db);
    else await sql`select 1`.execute(db);
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw new DbError(DbErrorCode.CONNECT, `cannot reach ${maskUrl(opts.url)}: ${(err as Error).message}`, { cause: err });
  }
  return {
    db,
    readDb: db,
    dialect: postgresDialectInfo,
    location: maskUrl(opts.url) + (opts.schema === undefined ? '' : ` (schema ${opts.schema})`),
    close: () => db.destroy(),
  };
}

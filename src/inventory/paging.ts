import { sql } from 'kysely';
import type { Kysely, RawBuilder } from 'kysely';
import type { Database, DynamicDatabase } from '../db/database.js';
import { COUNTED_TABLES } from '../db/migrations.js';
import type { CompiledList } from './query.js';

/** Delta rows of one table past which a reader folds them into one (see compactRowCount). */
const FOLD_AFTER = 64;
/**
 * From this offset on, the count is taken before the page so a page in the back half can be read
 * from the end. Below it the count and the page run at once (on PostgreSQL on two connections).
 */
const DEEP_OFFSET = 1000;

/**
 * The number of rows a list matches. An unfiltered list on PostgreSQL sums the table's deltas in
 * `dcplane_row_counts` (migration 0007: kept by statement triggers in each writer's transaction, so
 * the sum is exactly `count(*)` as of this statement's snapshot); anything else is `count(*)`.
 */
export async function countRows(database: Database, db: Kysely<DynamicDatabase>, table: string, c: CompiledList): Promise<number> {
  if (!c.filtered && database.dialect.name === 'postgres' && COUNTED_TABLES.has(table)) {
    const r = await sql<{ n: number | string | null; parts: number | string }>`select sum(delta) as n, count(*) as parts from dcplane_row_counts where table_name = ${table}`.execute(db);
    const row = r.rows[0];
    // Folding writes, so never inside a caller's transaction (db is the pool only outside one).
    if (Number(row?.parts ?? 0) > FOLD_AFTER && db === database.readDb) void compactRowCount(db, table).catch(() => undefined);
    return Number(row?.n ?? 0);
  }
  const r = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}${c.whereClause}`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

/**
 * Replaces a table's delta rows by their sum, in one statement of its own transaction. Under READ
 * COMMITTED each delta row is deleted by one folder only (a second one waiting on a deleted row skips
 * it once the first commits) and rows not yet committed are left for later, so the sum never changes.
 */
export async function compactRowCount(db: Kysely<DynamicDatabase>, table: string): Promise<void> {
  await sql`with gone as (delete from dcplane_row_counts where table_name = ${table} returning delta)
    insert into dcplane_row_counts (table_name, delta) select ${table}, sum(delta) from gone having count(*) > 0`.execute(db);
}

export interface PageWindow {
  /** The query's order, or its reverse when the page is read from the end. */
  readonly orderBy: RawBuilder<unknown>;
  readonly limit: number;
  readonly offset: number;
}

/**
 * Where to read a page of `c` when `count` rows match: from the start (offset rows skipped), or,
 * for a page in the back half, from the end in reverse order (count - offset - limit rows skipped;
 * the caller puts the rows back in the query's order). Undefined when the page is empty.
 */
export function pageWindow(c: CompiledList, count: number): PageWindow | undefined {
  if (c.limit === 0 || c.offset >= count) return undefined;
  const after = count - c.offset - c.limit;
  if (after >= c.offset) return { orderBy: c.orderBy, limit: c.limit, offset: c.offset };
  return { orderBy: c.reverseOrderBy, limit: Math.min(c.limit, count - c.offset), offset: Math.max(0, after) };
}

/**
 * Whether to take the count before the page: when it is cheap (an unfiltered list on PostgreSQL) or
 * the offset deep enough that reading from the end may pay for waiting on it.
 */
export function countFirst(database: Database, table: string, c: CompiledList): boolean {
  return c.offset >= DEEP_OFFSET || (!c.filtered && database.dialect.name === 'postgres' && COUNTED_TABLES.has(table));
}

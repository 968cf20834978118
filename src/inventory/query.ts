import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import type { DialectInfo } from '../db/database.js';
import { PG_SEARCH_TABLES, SQLITE_TRIGRAM_TABLES } from '../db/migrations.js';
import { InventoryError, InventoryErrorCode, issue } from './errors.js';
import type { InventoryIssue } from './errors.js';
import { NUL_MESSAGE, SYSTEM_COLUMNS, checkValue, enumToken, hasNul, normalizeMac } from './fields.js';
import type { FieldDef } from './fields.js';
import type { TenancyDef } from './resource.js';

/**
 * NetBox's lookups: `exact`, `iexact`, `ic`/`nic` (contains, case-insensitive,
 * and its negation), `isw`/`iew` (starts/ends with, case-insensitive), `gt`,
 * `gte`, `lt`, `lte`, `in`, `n` (not equal / not in, like Django's exclude:
 * rows where the field is null stay in), `isnull`.
 */
export const LOOKUPS = ['exact', 'iexact', 'ic', 'nic', 'isw', 'iew', 'gt', 'gte', 'lt', 'lte', 'in', 'n', 'isnull'] as const;
export type Lookup = (typeof LOOKUPS)[number];

export interface Filter {
  readonly field: string;
  /** Default `exact`. */
  readonly lookup?: Lookup;
  /** Lists for `in`/`n` (a comma-separated string is split); true/false for `isnull`. */
  readonly value: unknown;
}

export interface ListQuery {
  readonly filters?: readonly Filter[];
  /** Field names, `-` for descending (`['-u_position', 'name']`). */
  readonly ordering?: readonly string[];
  /** Default 50, at most 1000. */
  readonly limit?: number;
  readonly offset?: number;
  /** Case-insensitive contains over the resource's search fields. */
  readonly q?: string;
  /**
   * Only objects of these tenants (a scoped user's view). Undefined: no
   * restriction; `[]`: nothing. Resources without tenancy ignore it.
   */
  readonly tenantScope?: readonly number[];
  /**
   * Keyset paging: the rows after the one this cursor names, in the list's order (an opaque string
   * from `nextCursor`; `''` starts at the beginning). Each page costs the same at any depth, where an
   * offset walks every row before it. The result then carries `nextCursor`.
   */
  readonly after?: string;
}

export interface ListResult<T> {
  /** Rows matching the filters, ignoring limit/offset. */
  readonly count: number;
  readonly rows: T[];
  /** With `after`: the cursor of the page's last row when more rows follow, else null. Absent without `after`. */
  readonly nextCursor?: string | null;
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1000;
/**
 * The largest offset a list takes: beyond any table's size, and within what both databases bind as an
 * integer (1e30 reached SQLite as a float and failed the query with a 500).
 */
export const MAX_OFFSET = 2_147_483_647;
const MAX_IN_VALUES = 1000;
const MAX_Q = 200;

/** What a list may touch: every column it may filter or order on, and the search fields. Built from the resource definition. */
export interface ReadSpec {
  readonly table: string;
  readonly columns: ReadonlyMap<string, FieldDef>;
  readonly search: readonly string[];
  readonly defaultOrdering: readonly string[];
  readonly tenancy?: TenancyDef;
}

const TEXT_LOOKUPS: ReadonlySet<Lookup> = new Set(LOOKUPS);
const ORDERED_LOOKUPS: ReadonlySet<Lookup> = new Set(['exact', 'n', 'gt', 'gte', 'lt', 'lte', 'in', 'isnull']);
const BOOL_LOOKUPS: ReadonlySet<Lookup> = new Set(['exact', 'n', 'isnull']);

function lookupsFor(f: FieldDef): ReadonlySet<Lookup> {
  if (f.kind === 'text') return TEXT_LOOKUPS;
  if (f.kind === 'bool') return BOOL_LOOKUPS;
  return ORDERED_LOOKUPS;
}

export function filterable(f: FieldDef): boolean {
  return f.secret !== true && f.kind !== 'json';
}

/** A filter value in the column's stored form; enums and MACs normalized so `status=Active` and `mac=AA-BB-…` match. */
function filterValue(f: FieldDef, lookup: Lookup, raw: unknown, path: string): unknown {
  if (raw === null) return null;
  if (f.kind === 'text') {
    const v = typeof raw === 'number' ? String(raw) : raw;
    if (typeof v !== 'string') throw new InventoryError([issue(InventoryErrorCode.INVALID_QUERY, path, 'must be text')]);
    if (v.length > 1000) throw new InventoryError([issue(InventoryErrorCode.INVALID_QUERY, path, 'is longer than 1000 characters')]);
    if (hasNul(v)) throw new InventoryError([issue(InventoryErrorCode.INVALID_QUERY, path, NUL_MESSAGE)]);
    if (lookup === 'exact' || lookup === 'n' || lookup === 'in') {
      if (f.format === 'mac') return normalizeMac(v) ?? v;
      if (f.enum !== undefined) return enumToken(v);
    }
    return v;
  }
  const c = checkValue({ kind: f.kind, nullable: false }, raw, path);
  if (!c.ok) throw new InventoryError([{ ...c.issue, code: InventoryErrorCode.INVALID_QUERY }]);
  return c.value;
}

function likePattern(v: string, where: 'contains' | 'start' | 'end'): string {
  const esc = v.replace(/[\\%_]/g, (m) => `\\${m}`).toLowerCase();
  return where === 'contains' ? `%${esc}%` : where === 'start' ? `${esc}%` : `%${esc}`;
}

/**
 * Case-insensitive LIKE. SQLite's LIKE already ignores ASCII case, and its
 * lower() folds nothing else, so lower() there only cost a call per row
 * (half of a name__ic or q scan over 100,000 servers).
 */
function like(dialect: DialectInfo, col: RawBuilder<unknown>, pattern: string): RawBuilder<unknown> {
  return dialect.name === 'sqlite' ? sql`${col} like ${pattern} escape '\\'` : sql`lower(${col}) like ${pattern} escape '\\'`;
}

/**
 * On SQLite, the ids whose `columns` may contain `needle`, from the table's FTS5 trigram index
 * (migration 0008), when it covers them and the needle has the 3 characters a trigram needs.
 * Only a pre-filter: the LIKE conditions still decide (trigrams fold case beyond ASCII).
 */
function trigramPrefilter(spec: ReadSpec, dialect: DialectInfo, columns: readonly string[], needle: string): RawBuilder<unknown> | undefined {
  const t = dialect.name === 'sqlite' ? SQLITE_TRIGRAM_TABLES.get(spec.table) : undefined;
  if (t === undefined || columns.length === 0 || !columns.every((c) => t.columns.includes(c)) || [...needle].length < 3 || hasNul(needle)) return undefined;
  // One FTS5 string: a quoted phrase (its own quotes doubled) matches the needle as a substring,
  // limited to the columns when they are not all of the index's.
  const phrase = `"${needle.replace(/"/g, '""')}"`;
  const query = columns.length === t.columns.length ? phrase : `{${columns.join(' ')}} : ${phrase}`;
  return sql`${sql.ref('id')} in (select ${sql.ref('rowid')} from ${sql.table(t.fts)} where ${sql.table(t.fts)} match ${query})`;
}

export interface CompiledList {
  /** The conditions (`1 = 1` when there are none). */
  readonly where: RawBuilder<unknown>;
  /**
   * ` where <conditions>`, or nothing when nothing filters: SQLite counts a
   * whole table off its b-tree pages in microseconds, but not under
   * `where 1 = 1` (29 ms for 100,000 servers, every page of every list).
   */
  readonly whereClause: RawBuilder<unknown>;
  readonly orderBy: RawBuilder<unknown>;
  /**
   * The same order backwards (every key's direction and null placement flipped): a page near the end
   * is read from the end, walking `count - offset` entries of an index rather than `offset`.
   */
  readonly reverseOrderBy: RawBuilder<unknown>;
  /** Whether any condition applies (a filter, q, a tenant scope): without one, the count is the table's. */
  readonly filtered: boolean;
  /**
   * Read the page from the matching rows (gathered through the filters' indexes, then sorted)
   * rather than by walking an index in the list's order and testing each row. Set for a search of
   * 3 characters or more (`q`, `__ic`, `__isw`, `__iew`), which trigram indexes gather (pg_trgm,
   * SQLite FTS5): its matches cluster anywhere in the order (`SN0004`
   * is 10,000 servers named srv-04…), where the planner's guess that they are spread evenly had
   * PostgreSQL walk 40,000 rows of the name index for 50. Gathering them (a trigram index on
   * PostgreSQL) costs what counting them costs anyway, whatever the spread.
   */
  readonly matchFirst: boolean;
  /**
   * PostgreSQL, a `q` of 3+ characters and nothing else filtering, in an order of the search table's
   * order column and id: the list can be counted and paged from the narrow search table (migration
   * 0009) alone, `where` holding there; its rows are then the servers of those ids.
   */
  readonly narrow?: { readonly table: string; readonly where: RawBuilder<unknown> };
  /** The columns the order reads, id last. */
  readonly orderColumns: readonly string[];
  readonly limit: number;
  readonly offset: number;
  /** With `after` (cursor paging): the condition for rows after the cursor's, the empty cursor's being `1 = 1`. */
  readonly keyset?: RawBuilder<unknown>;
  /** A cursor naming `row` in this list's order (its order columns' values). */
  cursorOf(row: Readonly<Record<string, unknown>>): string;
}

interface OrderKey {
  readonly name: string;
  readonly desc: boolean;
  readonly nullable: boolean;
}

/** A cursor's values, checked against the order it was made for; undefined when it does not fit. */
function decodeCursor(cursor: string, signature: string, keys: readonly OrderKey[], spec: ReadSpec): unknown[] | undefined {
  if (cursor.length > 4000 || !/^[A-Za-z0-9_-]*$/.test(cursor)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { o, v } = parsed as { o?: unknown; v?: unknown };
  if (o !== signature || !Array.isArray(v) || v.length !== keys.length) return undefined;
  const fits = keys.every((k, i) => {
    const x: unknown = v[i];
    if (x === null) return k.nullable;
    switch (spec.columns.get(k.name)?.kind) {
      case 'int':
        return Number.isSafeInteger(x);
      case 'float':
        return typeof x === 'number' && Number.isFinite(x);
      case 'bool':
        return typeof x === 'boolean';
      case 'text':
      case 'date':
      case 'timestamp':
        return typeof x === 'string' && !hasNul(x);
      default:
        return false;
    }
  });
  return fits ? v : undefined;
}

/**
 * Rows after `values` in the order `keys` (nulls last ascending, first descending): after on the
 * first key, or equal on it and after on the next, and so on down to id. A non-null first key also
 * bounds the scan (`name >= 'x'`), so the order's index starts at the cursor.
 */
function keysetCondition(keys: readonly OrderKey[], values: readonly unknown[], spec: ReadSpec, dialect: DialectInfo): RawBuilder<unknown> {
  const enc = (k: OrderKey, v: unknown) => sql`${dialect.encode(spec.columns.get(k.name)!.kind, v)}`;
  const alternatives: RawBuilder<unknown>[] = [];
  keys.forEach((k, i) => {
    const col = sql.ref(k.name);
    const v = values[i];
    const equalBefore = keys.slice(0, i).map((p, j) => (values[j] === null ? sql`${sql.ref(p.name)} is null` : sql`${sql.ref(p.name)} = ${enc(p, values[j])}`));
    let after: RawBuilder<unknown> | undefined;
    if (!k.desc) after = v === null ? undefined : k.nullable ? sql`(${col} > ${enc(k, v)} or ${col} is null)` : sql`${col} > ${enc(k, v)}`;
    else after = v === null ? sql`${col} is not null` : sql`${col} < ${enc(k, v)}`;
    if (after !== undefined) alternatives.push(sql`(${sql.join([...equalBefore, after], sql` and `)})`);
  });
  const first = keys[0]!;
  const any = alternatives.length === 0 ? sql`1 = 0` : sql`(${sql.join(alternatives, sql` or `)})`;
  if (first.nullable || values[0] === null) return any;
  return sql`${sql.ref(first.name)} ${sql.raw(first.desc ? '<=' : '>=')} ${enc(first, values[0])} and ${any}`;
}

function tenancyCondition(t: TenancyDef, scope: readonly number[]): RawBuilder<unknown> {
  if (scope.length === 0) return sql`1 = 0`;
  const ids = sql.join(scope.map((x) => sql`${x}`));
  switch (t.kind) {
    case 'column':
      return sql`${sql.ref(t.column)} in (${ids})`;
    case 'self':
      return sql`${sql.ref('id')} in (${ids})`;
    case 'parent':
      return sql`${sql.ref(t.column)} in (select ${sql.ref('id')} from ${sql.table(t.parent)} where ${sql.ref('tenant_id')} in (${ids}))`;
    case 'ends': {
      // Readable when any end is one of the scope's objects.
      const any = t.ends.flatMap((e) =>
        [...t.tables].map(
          ([type, table]) =>
            sql`(${sql.ref(e.typeColumn)} = ${type} and ${sql.ref(e.idColumn)} in (select ${sql.ref('id')} from ${sql.table(table)} where ${sql.ref('tenant_id')} in (${ids})))`,
        ),
      );
      return sql`(${sql.join(any, sql` or `)})`;
    }
  }
}

/**
 * Checks a list query against the resource's whitelist and compiles it. Field
 * names only ever reach SQL as identifiers that are keys of `spec.columns`;
 * every value is a bound parameter.
 */
export function compileList(spec: ReadSpec, dialect: DialectInfo, q: ListQuery): CompiledList {
  const issues: InventoryIssue[] = [];
  const conds: RawBuilder<unknown>[] = [];
  let search = false;
  let narrowWhere: RawBuilder<unknown> | undefined;
  const bad = (path: string, message: string) => issues.push(issue(InventoryErrorCode.INVALID_QUERY, path, message));

  (q.filters ?? []).forEach((flt) => {
    const lookup: Lookup = flt.lookup ?? 'exact';
    const path = lookup === 'exact' ? String(flt.field) : `${String(flt.field)}__${String(lookup)}`;
    const f = typeof flt.field === 'string' && spec.columns.has(flt.field) ? spec.columns.get(flt.field) : undefined;
    if (f === undefined || !filterable(f)) return void bad(path, `unknown filter field ${JSON.stringify(flt.field)}`);
    if (!(LOOKUPS as readonly string[]).includes(lookup)) return void bad(path, `unknown lookup ${JSON.stringify(lookup)}`);
    if (!lookupsFor(f).has(lookup)) return void bad(path, `lookup ${lookup} does not apply to a ${f.kind} field`);
    const col = sql.ref(flt.field);
    // A search an index of trigrams can gather (3 characters or more; not a negation, which matches
    // most rows, where walking the order's index finds a page sooner).
    if ((lookup === 'ic' || lookup === 'isw' || lookup === 'iew') && typeof flt.value === 'string' && [...flt.value].length >= 3) search = true;
    if ((lookup === 'ic' || lookup === 'isw' || lookup === 'iew') && typeof flt.value === 'string') {
      const pre = trigramPrefilter(spec, dialect, [flt.field], flt.value);
      if (pre !== undefined) conds.push(pre);
    }
    try {
      if (lookup === 'isnull') {
        const v = filterValue({ kind: 'bool' }, 'exact', flt.value, path);
        conds.push(v === true ? sql`${col} is null` : sql`${col} is not null`);
        return;
      }
      const many = lookup === 'in' || (lookup === 'n' && (Array.isArray(flt.value) || (typeof flt.value === 'string' && flt.value.includes(',') && f.kind !== 'text')));
      if (many) {
        const list = Array.isArray(flt.value) ? flt.value : typeof flt.value === 'string' ? flt.value.split(',') : [flt.value];
        if (list.length === 0 || list.length > MAX_IN_VALUES) return void bad(path, `takes 1 to ${MAX_IN_VALUES} values`);
        const values = list.map((v, i) => dialect.encode(f.kind, filterValue(f, lookup, v, `${path}[${i}]`)));
        const set = sql.join(values.map((v) => sql`${v}`));
        conds.push(lookup === 'in' ? sql`${col} in (${set})` : sql`(${col} not in (${set}) or ${col} is null)`);
        return;
      }
      const raw = filterValue(f, lookup, flt.value, path);
      if (raw === null) {
        if (lookup === 'exact') conds.push(sql`${col} is null`);
        else if (lookup === 'n') conds.push(sql`${col} is not null`);
        else bad(path, 'null only works with exact, n and isnull');
        return;
      }
      const v = dialect.encode(f.kind, raw);
      switch (lookup) {
        case 'exact':
          conds.push(sql`${col} = ${v}`);
          break;
        case 'n':
          conds.push(sql`(${col} <> ${v} or ${col} is null)`);
          break;
        case 'iexact':
          conds.push(sql`lower(${col}) = ${String(v).toLowerCase()}`);
          break;
        case 'ic':
          conds.push(like(dialect, col, likePattern(String(v), 'contains')));
          break;
        case 'nic':
          conds.push(sql`(not (${like(dialect, col, likePattern(String(v), 'contains'))}) or ${col} is null)`);
          break;
        case 'isw':
          conds.push(like(dialect, col, likePattern(String(v), 'start')));
          break;
        case 'iew':
          conds.push(like(dialect, col, likePattern(String(v), 'end')));
          break;
        case 'gt':
          conds.push(sql`${col} > ${v}`);
          break;
        case 'gte':
          conds.push(sql`${col} >= ${v}`);
          break;
        case 'lt':
          conds.push(sql`${col} < ${v}`);
          break;
        case 'lte':
          conds.push(sql`${col} <= ${v}`);
          break;
        default:
          bad(path, `unknown lookup ${JSON.stringify(lookup)}`);
      }
    } catch (err) {
      if (err instanceof InventoryError) issues.push(...err.issues);
      else throw err;
    }
  });

  if (q.q !== undefined && q.q !== null) {
    if (typeof q.q !== 'string' || q.q.length > MAX_Q) bad('q', `must be text of at most ${MAX_Q} characters`);
    else if (hasNul(q.q)) bad('q', NUL_MESSAGE);
    else if (q.q.trim() !== '' && spec.search.length > 0) {
      const pattern = likePattern(q.q.trim(), 'contains');
      const pre = trigramPrefilter(spec, dialect, spec.search, q.q.trim());
      if (pre !== undefined) conds.push(pre);
      conds.push(sql`(${sql.join(spec.search.map((c) => like(dialect, sql.ref(c), pattern)), sql` or `)})`);
      if ([...q.q.trim()].length >= 3) search = true;
      // The narrow table's text joins the columns' lower() with a separator: a needle without it is in
      // the text exactly when it is in one column (migrations.ts, up0009).
      const t = dialect.name === 'postgres' ? PG_SEARCH_TABLES.get(spec.table) : undefined;
      if (t !== undefined && [...q.q.trim()].length >= 3 && !q.q.includes(t.separator) && spec.search.every((c) => t.columns.includes(c))) {
        narrowWhere = sql`${sql.ref('search')} like ${pattern} escape '\\'`;
      }
    }
  }

  if (q.tenantScope !== undefined && spec.tenancy !== undefined) conds.push(tenancyCondition(spec.tenancy, q.tenantScope));

  const keys: OrderKey[] = [];
  const ordering = q.ordering !== undefined && q.ordering.length > 0 ? q.ordering : spec.defaultOrdering;
  let hasId = false;
  ordering.forEach((o, i) => {
    if (typeof o !== 'string') return void bad(`ordering[${i}]`, 'must be a field name');
    const desc = o.startsWith('-');
    const name = desc ? o.slice(1) : o;
    const f = spec.columns.get(name);
    if (f === undefined || !filterable(f)) return void bad(`ordering[${i}]`, `cannot order by ${JSON.stringify(o)}`);
    if (name === 'id') hasId = true;
    // Never null: a system column, or a field the API requires or defaults (it refuses null for it).
    const notNull = (SYSTEM_COLUMNS as readonly string[]).includes(name) || (f.nullable !== true && (f.required === true || f.default !== undefined));
    if (!hasId || name === 'id') keys.push({ name, desc, nullable: !notNull });
  });
  // A total order, so pages never repeat or skip a row. Ties go by id in the direction of the last
  // key, so one index on (column, id) serves the column both ways (read forwards or backwards).
  if (!hasId) keys.push({ name: 'id', desc: keys.at(-1)?.desc ?? false, nullable: false });
  // Nulls last ascending and first descending on both backends (PostgreSQL's default; SQLite's is the opposite).
  // A column that is never null takes no nulls clause: SQLite walks an index backwards at full speed
  // only without one (with one it sorted the whole table for rowid, and stepped 4x slower on a name).
  const orderOf = (flip: boolean) =>
    sql.join(keys.map((k) => sql`${sql.ref(k.name)} ${sql.raw(k.desc !== flip ? (k.nullable ? 'desc nulls first' : 'desc') : k.nullable ? 'asc nulls last' : 'asc')}`));

  const limit = q.limit ?? DEFAULT_LIMIT;
  const offset = q.offset ?? 0;
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_LIMIT) bad('limit', `must be a whole number from 0 to ${MAX_LIMIT}`);
  if (!Number.isInteger(offset) || offset < 0 || offset > MAX_OFFSET) bad('offset', `must be a whole number from 0 to ${MAX_OFFSET}`);

  const signature = keys.map((k) => `${k.desc ? '-' : ''}${k.name}`).join(',');
  let keyset: RawBuilder<unknown> | undefined;
  if (q.after !== undefined) {
    const values = typeof q.after === 'string' ? (q.after === '' ? [] : decodeCursor(q.after, signature, keys, spec)) : undefined;
    if (values === undefined) bad('cursor', 'is not a cursor of this list and ordering (take it from the previous page)');
    else keyset = values.length === 0 ? sql`1 = 1` : keysetCondition(keys, values, spec, dialect);
  }

  if (issues.length > 0) throw new InventoryError(issues);
  const t = PG_SEARCH_TABLES.get(spec.table);
  // Only the search condition (no other filter, no tenant scope), and an order the table holds.
  const narrow =
    narrowWhere !== undefined && t !== undefined && conds.length === 1 && keys.every((k) => k.name === 'id' || k.name === t.orderColumn)
      ? { table: t.table, where: narrowWhere }
      : undefined;
  return {
    ...(narrow === undefined ? {} : { narrow }),
    ...(keyset === undefined ? {} : { keyset }),
    cursorOf: (row) => Buffer.from(JSON.stringify({ o: signature, v: keys.map((k) => row[k.name] ?? null) })).toString('base64url'),
    where: conds.length === 0 ? sql`1 = 1` : sql.join(conds, sql` and `),
    whereClause: conds.length === 0 ? sql`` : sql` where ${sql.join(conds, sql` and `)}`,
    orderBy: orderOf(false),
    reverseOrderBy: orderOf(true),
    filtered: conds.length > 0,
    matchFirst: search,
    orderColumns: keys.map((k) => k.name),
    limit,
    offset,
  };
}

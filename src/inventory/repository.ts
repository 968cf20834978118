import { sql } from 'kysely';
import type { Kysely, RawBuilder } from 'kysely';
import type { ColumnKind, Database, DialectInfo, DynamicDatabase } from '../db/database.js';
import { REDACTED, REDACTED_CHANGED, appendAudit } from './audit.js';
import type { AuditAction, AuditEntryInput } from './audit.js';
import { InventoryError, InventoryErrorCode as E, issue } from './errors.js';
import type { InventoryErrorCode, InventoryIssue } from './errors.js';
import { SYSTEM_COLUMNS, SYSTEM_KINDS, checkValue } from './fields.js';
import type { FieldDef } from './fields.js';
import { countFirst, countRows, pageWindow } from './paging.js';
import type { PageWindow } from './paging.js';
import { compileList, filterable } from './query.js';
import type { ListQuery, ListResult, ReadSpec } from './query.js';
import type { AnyRow, BatchItem, PowerBudgetMode, ResourceDef, RuleContext } from './resource.js';

/** Who writes, from where, under which request: lands in the audit log with the change. */
export interface WriteContext {
  /** Username at the time of the write. */
  readonly user?: string | null;
  readonly userId?: number | null;
  readonly sourceIp?: string | null;
  readonly requestId?: string | null;
  /**
   * The writer may only touch objects of these tenants (a scoped user).
   * Undefined: no restriction.
   */
  readonly tenantScope?: readonly number[];
  /** Rack power budget: `warn` returns warnings, `refuse` fails the write. Default: the inventory's. */
  readonly powerBudget?: PowerBudgetMode;
  /** The API token the write came through (recorded in the audit log: id and public prefix). */
  readonly apiToken?: { readonly id: number; readonly prefix: string };
}

export interface WriteResult<T> {
  readonly row: T;
  /** Rules that passed with a warning (a rack over its power budget in `warn` mode). */
  readonly warnings: readonly InventoryIssue[];
}

export interface BulkResult<T> {
  readonly rows: T[];
  readonly warnings: readonly InventoryIssue[];
}

/** One change, as committed: what the audit log recorded, emitted to listeners after the commit. */
export interface ChangeEvent {
  readonly action: AuditAction;
  readonly object_type: string;
  readonly object_id: number;
  readonly before: Readonly<Record<string, unknown>> | null;
  readonly after: Readonly<Record<string, unknown>> | null;
  readonly request_id: string | null;
}

export interface DeleteResult {
  /** Everything removed (the object and, with cascade or ownership, its dependents), and references cleared. */
  readonly changes: readonly ChangeEvent[];
}

export type BulkUpdateItem = Readonly<Record<string, unknown>> & { readonly id: number; readonly version?: number };
export type DeleteTarget = number | { readonly id: number; readonly version?: number };

/** The transaction a repository call runs in, and the changes it has made so far. */
export interface TxScope {
  readonly db: Kysely<DynamicDatabase>;
  readonly events: ChangeEvent[];
}

/** Runs work in a transaction: a new one, or the caller's when the inventory is bound to one. */
export interface Executor {
  readonly database: Database;
  readonly powerBudget: PowerBudgetMode;
  /** The connection for reads: the bound transaction or the pool. */
  readonly reader: Kysely<DynamicDatabase>;
  inTransaction<T>(fn: (tx: TxScope) => Promise<T>): Promise<T>;
  resource(name: string): ResourceDef;
  /** Rows other rows imply, kept in step by every write (derived-reservations.ts). */
  readonly derived?: DerivedRows;
}

/**
 * Rows the inventory derives from others (a server's DHCP reservation from
 * its primary interface), maintained inside the transaction of the write
 * that changes their source, so both commit together or not at all.
 */
export interface DerivedRows {
  /** An issue when a caller writes (`after` undefined: deletes) a derived row directly; undefined lets it pass. */
  refuseDirect(def: ResourceDef, before: AnyRow | undefined, after: AnyRow | undefined): InventoryIssue | undefined;
  /** Called after rows of `def` are written (and audited), before the commit; throws InventoryError to refuse the whole write. */
  follow(tx: TxScope, def: ResourceDef, changes: readonly { before: AnyRow | undefined; after: AnyRow | undefined }[], ctx: WriteContext, now: string): Promise<void>;
}

type Row = Record<string, unknown>;

const IGNORED_ON_INPUT: ReadonlySet<string> = new Set(['created_at', 'updated_at']);
const CHUNK = 500;
/** pg_advisory_xact_lock key serialising writes that take away an admin (ASCII 'dcpa'). */
const LAST_ADMIN_LOCK = 0x64637061;

/**
 * Lets other work run between the chunks of a big write. better-sqlite3 runs
 * each statement synchronously and Kysely chains them on microtasks, so
 * without this a 100,000-row import would hold the event loop (and every
 * read on the second connection) for its whole duration.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) return JSON.stringify(a) === JSON.stringify(b);
  return false;
}

function clone(v: unknown): unknown {
  return typeof v === 'object' && v !== null ? structuredClone(v) : v;
}

/** The columns of a resource in select order. */
export function columnsOf(def: ResourceDef): string[] {
  return [...SYSTEM_COLUMNS, ...Object.keys(def.fields)];
}

export function kindOf(def: ResourceDef, col: string): ColumnKind {
  return (SYSTEM_KINDS as Record<string, ColumnKind>)[col] ?? def.fields[col]?.kind ?? 'text';
}

export function readSpecOf(def: ResourceDef): ReadSpec {
  const columns = new Map<string, FieldDef>();
  for (const c of SYSTEM_COLUMNS) columns.set(c, { kind: SYSTEM_KINDS[c] });
  for (const [name, f] of Object.entries(def.fields)) columns.set(name, f);
  return {
    table: def.name,
    columns,
    search: Object.entries(def.fields)
      .filter(([, f]) => f.search === true && filterable(f))
      .map(([n]) => n),
    defaultOrdering: def.defaultOrdering,
    ...(def.tenancy === undefined ? {} : { tenancy: def.tenancy }),
  };
}

export function decodeRow(def: ResourceDef, dialect: DialectInfo, raw: Row): AnyRow {
  const out: Row = {};
  for (const c of columnsOf(def)) out[c] = dialect.decode(kindOf(def, c), raw[c]);
  return out as AnyRow;
}

/**
 * A snapshot for the audit log and change events: secrets replaced by a
 * marker. Given the row before an update, a secret the update changed gets
 * its own marker, so the log shows that a password was set without showing it.
 */
export function redact(def: ResourceDef, row: AnyRow | undefined, before?: AnyRow): Record<string, unknown> | null {
  if (row === undefined) return null;
  const out: Row = { ...row };
  for (const [name, f] of Object.entries(def.fields)) {
    if (f.secret === true && out[name] !== null) out[name] = before !== undefined && before[name] !== row[name] ? REDACTED_CHANGED : REDACTED;
  }
  return out;
}

export async function selectWhereIn(
  db: Kysely<DynamicDatabase>,
  dialect: DialectInfo,
  def: ResourceDef,
  column: string,
  values: readonly unknown[],
  opts: { forUpdate?: boolean; extra?: RawBuilder<unknown> } = {},
): Promise<AnyRow[]> {
  const distinct = [...new Set(values.filter((v) => v !== null && v !== undefined))];
  if (distinct.length === 0) return [];
  const cols = sql.join(columnsOf(def).map((c) => sql.ref(c)));
  const kind = kindOf(def, column);
  const out: AnyRow[] = [];
  for (const part of chunks(distinct, CHUNK)) {
    const list = sql.join(part.map((v) => sql`${dialect.encode(kind, v)}`));
    const extra = opts.extra === undefined ? sql`` : sql` and ${opts.extra}`;
    const lock = opts.forUpdate === true ? dialect.forUpdate : sql``;
    const r = await sql<Row>`select ${cols} from ${sql.table(def.name)} where ${sql.ref(column)} in (${list})${extra} order by ${sql.ref('id')}${lock}`.execute(db);
    for (const raw of r.rows) out.push(decodeRow(def, dialect, raw));
    if (distinct.length > CHUNK) await yieldToEventLoop();
  }
  return out;
}

class IssueCollector {
  readonly failures: InventoryIssue[] = [];
  readonly warnings: InventoryIssue[] = [];
  private readonly failedIdx = new Set<number>();
  constructor(private readonly bulk: boolean) {}
  path(index: number, path: string): string {
    if (!this.bulk) return path;
    return path === '' ? `[${index}]` : path.startsWith('[') ? `[${index}]${path}` : `[${index}].${path}`;
  }
  fail(index: number, code: InventoryErrorCode, path: string, message: string): void {
    this.failedIdx.add(index);
    this.failures.push(issue(code, this.path(index, path), message));
  }
  warn(index: number, code: InventoryErrorCode, path: string, message: string): void {
    this.warnings.push(issue(code, this.path(index, path), message));
  }
  failed(index: number): boolean {
    return this.failedIdx.has(index);
  }
  throwIfAny(): void {
    if (this.failures.length > 0) throw new InventoryError(this.failures);
  }
}

interface ParsedInput {
  readonly values: Row;
  readonly id?: number;
  readonly ifVersion?: number;
}

/**
 * The one repository shape every resource shares: list/get/create/update/
 * delete and their bulk forms. A single write is a bulk write of one, so both
 * run the same checks. Every write runs in one transaction with its audit
 * entries; a refused write leaves nothing behind.
 */
export class Repository<T extends object> {
  readonly spec: ReadSpec;
  constructor(
    readonly def: ResourceDef,
    private readonly exec: Executor,
  ) {
    this.spec = readSpecOf(def);
  }

  private get dialect(): DialectInfo {
    return this.exec.database.dialect;
  }

  async list(query: ListQuery = {}): Promise<ListResult<T>> {
    const c = compileList(this.spec, this.dialect, query);
    const db = this.exec.reader;
    const database = this.exec.database;
    const table = sql.table(this.def.name);
    const cols = sql.join(columnsOf(this.def).map((x) => sql.ref(x)));
    // The page's ids first, then their rows: the offset and the sort walk ids (an index alone, when
    // one covers the filter and the order) instead of carrying every column of every row they pass.
    const read = (w: PageWindow) =>
      sql<Row>`select ${cols} from ${table} where ${sql.ref('id')} in (select ${sql.ref('id')} from ${table}${c.whereClause} order by ${w.orderBy} limit ${w.limit} offset ${w.offset}) order by ${c.orderBy}`.execute(db);
    const decode = (rows: readonly Row[]) => rows.map((raw) => decodeRow(this.def, this.dialect, raw) as unknown as T);
    if (c.keyset !== undefined) {
      // Cursor paging: the rows after the cursor's, from the order's index where one fits, one more
      // than the page to tell whether another page follows.
      const where = c.filtered ? sql`${c.whereClause} and ${c.keyset}` : sql` where ${c.keyset}`;
      const paging =
        c.limit === 0
          ? undefined
          : sql<Row>`select ${cols} from ${table} where ${sql.ref('id')} in (select ${sql.ref('id')} from ${table}${where} order by ${c.orderBy} limit ${c.limit + 1} offset ${c.offset}) order by ${c.orderBy}`.execute(db);
      const [n, r] = await Promise.all([countRows(database, db, this.def.name, c), paging]);
      const rows = (r?.rows ?? []).slice(0, c.limit);
      const last = rows.at(-1);
      return { count: n, rows: decode(rows), nextCursor: last !== undefined && r!.rows.length > c.limit ? c.cursorOf(decodeRow(this.def, this.dialect, last)) : null };
    }
    // One aggregate over the matches of `where` in `from`: their count and the page's ids in order,
    // then those servers by id. Array bounds within int4.
    const aggregated = async (from: RawBuilder<unknown>, where: RawBuilder<unknown>): Promise<ListResult<T>> => {
      const lo = Math.min(c.offset + 1, 2_147_483_647);
      const hi = Math.min(c.offset + c.limit, 2_147_483_647);
      const s = (x: string) => sql.ref(`s.${x}`);
      const r = await sql<Row & { dcplane_n: number | string }>`with ${sql.ref('a')} as (select count(*) as ${sql.ref('n')}, (array_agg(${sql.ref('id')} order by ${c.orderBy}))[${lo}:${hi}] as ${sql.ref('ids')} from ${from} where ${where})
        select ${sql.ref('a.n')} as ${sql.ref('dcplane_n')}, ${sql.join(columnsOf(this.def).map((x) => sql`${s(x)}`))} from ${sql.ref('a')}
        left join lateral unnest(${sql.ref('a.ids')}) with ordinality as ${sql.ref('u')} (${sql.ref('id')}, ${sql.ref('ord')}) on true
        left join ${table} as ${sql.ref('s')} on ${sql.ref('s.id')} = ${sql.ref('u.id')} order by ${sql.ref('u.ord')}`.execute(db);
      return { count: Number(r.rows[0]?.dcplane_n ?? 0), rows: decode(r.rows.filter((x) => x['id'] !== null)) };
    };
    if (c.keyset === undefined && c.limit > 0) {
      // PostgreSQL's q=SN0004 (10,000 of 100,000 servers): counted and sorted in the narrow search
      // table (migration 0009), ~6 ms of PostgreSQL CPU where the wide rows cost ~12.
      if (c.narrow !== undefined) return aggregated(sql.table(c.narrow.table), c.narrow.where);
      // Other PostgreSQL searches in a text order (serial__ic=SN0004 by name): the aggregate sorts the
      // matches once, where materializing them for a count and a top-N sort copied every text twice
      // (8.9 -> 6.9 ms of PostgreSQL CPU). In a numeric order the top-N sort stays ahead (6.9 vs 8.1).
      if (c.matchFirst && this.dialect.name === 'postgres' && c.orderColumns.every((x) => x === 'id' || this.spec.columns.get(x)?.kind === 'text')) {
        return aggregated(table, c.where);
      }
    }
    if (c.matchFirst && c.limit > 0) {
      // One statement: the matches are gathered once (through the filters' indexes), counted, and
      // the page sorted out of them, instead of a count and a walk of the order's index that each
      // test the conditions on their own.
      const r = await sql<Row & { dcplane_n: number | string }>`with ${sql.ref('m')} as materialized (select ${sql.join(c.orderColumns.map((x) => sql.ref(x)))} from ${table}${c.whereClause}),
        ${sql.ref('p')} as (select ${sql.ref('id')} from ${sql.ref('m')} order by ${c.orderBy} limit ${c.limit} offset ${c.offset})
        select (select count(*) from ${sql.ref('m')}) as ${sql.ref('dcplane_n')}, ${cols} from ${table} where ${sql.ref('id')} in (select ${sql.ref('id')} from ${sql.ref('p')}) order by ${c.orderBy}`.execute(db);
      const first = r.rows[0];
      // No row, no count in it: an offset past the end (or nothing matches).
      if (first === undefined) return { count: c.offset === 0 ? 0 : await countRows(database, db, this.def.name, c), rows: [] };
      return { count: Number(first.dcplane_n), rows: decode(r.rows) };
    }
    if (countFirst(database, this.def.name, c)) {
      // A cheap count (PostgreSQL's kept row count) or a deep page: the count says from which end
      // the page is nearer. Count and page are two statements, as they always were, not one snapshot.
      const n = await countRows(database, db, this.def.name, c);
      const w = pageWindow(c, n);
      return { count: n, rows: w === undefined ? [] : decode((await read(w)).rows) };
    }
    // Otherwise the count and the page are asked at once: on PostgreSQL they run on two pooled
    // connections, so a page costs the slower of the two rather than their sum.
    const counting = countRows(database, db, this.def.name, c);
    const paging = c.limit === 0 ? undefined : read({ orderBy: c.orderBy, limit: c.limit, offset: c.offset });
    const [n, r] = await Promise.all([counting, paging]);
    if (r === undefined || c.offset >= n) return { count: n, rows: [] };
    return { count: n, rows: decode(r.rows) };
  }

  /** The object, or undefined when it does not exist or lies outside `tenantScope`. */
  async get(id: number, opts: { tenantScope?: readonly number[] } = {}): Promise<T | undefined> {
    if (!Number.isInteger(id) || id < 1 || id > 2147483647) return undefined;
    const rows = await selectWhereIn(this.exec.reader, this.dialect, this.def, 'id', [id]);
    const row = rows[0];
    if (row === undefined) return undefined;
    if (opts.tenantScope !== undefined && !(await this.inScope([row], opts.tenantScope, this.exec.reader)).has(row.id)) return undefined;
    return row as unknown as T;
  }

  async create(data: Readonly<Record<string, unknown>>, ctx: WriteContext = {}): Promise<WriteResult<T>> {
    const r = await this.createMany([data], ctx, false);
    return { row: r.rows[0] as T, warnings: r.warnings };
  }

  bulkCreate(data: readonly Readonly<Record<string, unknown>>[], ctx: WriteContext = {}): Promise<BulkResult<T>> {
    return this.createMany(data, ctx, true);
  }

  async update(id: number, patch: Readonly<Record<string, unknown>>, opts: { ifVersion?: number } = {}, ctx: WriteContext = {}): Promise<WriteResult<T>> {
    const item: Row = { ...patch, id };
    if (opts.ifVersion !== undefined) item['version'] = opts.ifVersion;
    const r = await this.updateMany([item as BulkUpdateItem], ctx, false);
    return { row: r.rows[0] as T, warnings: r.warnings };
  }

  /** Items are `{id, version?, ...fields}`; `version`, when given, must match (optimistic concurrency). */
  bulkUpdate(items: readonly BulkUpdateItem[], ctx: WriteContext = {}): Promise<BulkResult<T>> {
    return this.updateMany(items, ctx, true);
  }

  delete(id: number, opts: { cascade?: boolean; ifVersion?: number } = {}, ctx: WriteContext = {}): Promise<DeleteResult> {
    return this.deleteMany([opts.ifVersion === undefined ? id : { id, version: opts.ifVersion }], { cascade: opts.cascade === true }, ctx, false);
  }

  bulkDelete(targets: readonly DeleteTarget[], opts: { cascade?: boolean } = {}, ctx: WriteContext = {}): Promise<DeleteResult> {
    return this.deleteMany(targets, { cascade: opts.cascade === true }, ctx, true);
  }

  // ---- input -------------------------------------------------------------

  private parseInput(data: unknown, index: number, mode: 'create' | 'update', issues: IssueCollector): ParsedInput | undefined {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      issues.fail(index, E.INVALID_VALUE, '', 'must be an object');
      return undefined;
    }
    const src = data as Row;
    const values: Row = Object.create(null) as Row;
    let id: number | undefined;
    let ifVersion: number | undefined;
    const given = new Set<string>();
    for (const key of Object.keys(src)) {
      const raw = src[key];
      if (key === 'id') {
        if (mode === 'create' && this.def.explicitId === true && raw !== null && raw !== undefined) {
          const c = checkValue({ kind: 'int', min: 1, max: 2147483647 }, raw, 'id');
          if (c.ok) id = c.value as number;
          else issues.fail(index, c.issue.code, c.issue.path, c.issue.message);
        }
        continue;
      }
      if (key === 'version') {
        if (mode === 'update' && raw !== undefined && raw !== null) {
          const c = checkValue({ kind: 'int', min: 1 }, raw, 'version');
          if (c.ok) ifVersion = c.value as number;
          else issues.fail(index, c.issue.code, c.issue.path, c.issue.message);
        }
        continue;
      }
      if (IGNORED_ON_INPUT.has(key) || raw === undefined) continue;
      let field = key;
      let value = raw;
      const alias = this.def.aliases?.get(key);
      if (alias !== undefined) {
        if (Object.hasOwn(src, alias.field) && src[alias.field] !== undefined) {
          issues.fail(index, E.INVALID_VALUE, key, `give ${alias.field} or ${key}, not both`);
          continue;
        }
        field = alias.field;
        if (alias.scale !== undefined && typeof value === 'number') value = value * alias.scale;
      }
      const f = Object.hasOwn(this.def.fields, field) ? this.def.fields[field] : undefined;
      if (f === undefined) {
        issues.fail(index, E.UNKNOWN_FIELD, key, `${this.def.objectType} has no field ${JSON.stringify(key.slice(0, 64))}`);
        continue;
      }
      const c = checkValue(f, value, key);
      if (!c.ok) issues.fail(index, c.issue.code, c.issue.path, c.issue.message);
      else values[field] = c.value;
      given.add(field);
    }
    if (mode === 'create') {
      for (const [name, f] of Object.entries(this.def.fields)) {
        if (given.has(name)) continue;
        if (f.required === true) issues.fail(index, E.REQUIRED, name, 'is required');
        else values[name] = f.default !== undefined ? clone(f.default) : null;
      }
    }
    return { values, ...(id === undefined ? {} : { id }), ...(ifVersion === undefined ? {} : { ifVersion }) };
  }

  // ---- checks shared by create and update ----------------------------------

  private async check(tx: TxScope, op: 'create' | 'update', items: BatchItem[], issues: IssueCollector, ctx: WriteContext): Promise<void> {
    const dialect = this.dialect;
    const exec = this.exec;
    const rctx: RuleContext = {
      db: tx.db,
      dialect,
      resource: this.def,
      op,
      items,
      powerBudget: ctx.powerBudget ?? exec.powerBudget,
      fail: (item, code, path, message) => issues.fail(item.index, code, path, message),
      warn: (item, code, path, message) => issues.warn(item.index, code, path, message),
      failed: (item) => issues.failed(item.index),
      loadWhereIn: (table, column, values, opts) => selectWhereIn(tx.db, dialect, exec.resource(table), column, values, opts),
      loadWhere: (table, where) => this.selectWhere(tx.db, exec.resource(table), where),
      visibleIds: async (table, rows) =>
        ctx.tenantScope === undefined ? new Set(rows.map((r) => r.id)) : new Repository(exec.resource(table), exec).inScope(rows, ctx.tenantScope, tx.db),
    };

    await this.checkTenancy(tx, items, issues, ctx);

    // References. A scoped writer cannot point at what it cannot see: another
    // tenant's rack or host answers as a missing one, so nothing leaks that it exists.
    const scope = ctx.tenantScope;
    const tenancy = this.def.tenancy;
    const tenantColumn = tenancy?.kind === 'column' ? tenancy.column : undefined;
    for (const [name, f] of Object.entries(this.def.fields)) {
      if (f.ref === undefined) continue;
      const touching = items.filter((i) => i.changed.has(name) && i.after[name] !== null);
      if (touching.length === 0) continue;
      const rows = await rctx.loadWhereIn(f.ref, 'id', touching.map((i) => i.after[name]));
      const found = name === tenantColumn ? new Set(rows.map((r) => r.id)) : await rctx.visibleIds(f.ref, rows);
      for (const item of touching) {
        // A tenant outside the scope, existing or not, is checkTenancy's TENANT_FORBIDDEN alone.
        if (name === tenantColumn && scope !== undefined && !scope.includes(item.after[name] as number)) continue;
        if (!found.has(item.after[name] as number)) {
          issues.fail(item.index, E.REFERENCE_NOT_FOUND, name, `no ${exec.resource(f.ref).objectType} with id ${String(item.after[name])}`);
        }
      }
    }

    // Explicit ids (DHCP subnets) must be free.
    if (op === 'create' && this.def.explicitId === true) {
      const wanted = items.filter((i) => i.after.id > 0);
      const taken = new Set((await rctx.loadWhereIn(this.def.name, 'id', wanted.map((i) => i.after.id))).map((r) => r.id));
      const seen = new Set<number>();
      for (const item of wanted) {
        if (taken.has(item.after.id) || seen.has(item.after.id)) issues.fail(item.index, E.DUPLICATE_VALUE, 'id', `${this.def.objectType} ${item.after.id} already exists`);
        seen.add(item.after.id);
      }
    }

    // Uniqueness, against stored rows and within the batch.
    const rewritten = new Set(items.filter((i) => i.before !== undefined).map((i) => i.after.id));
    for (const u of this.def.uniques) {
      const applies = (r: AnyRow) => u.columns.every((c) => r[c] !== null && r[c] !== undefined) && (u.when === undefined || u.when(r));
      const keyOf = (r: AnyRow) => JSON.stringify([...(u.scope ?? []).map((c) => r[c] ?? null), ...u.columns.map((c) => r[c])]);
      const touched = (i: BatchItem) => i.before === undefined || [...u.columns, ...(u.scope ?? []), ...(u.when === undefined ? [] : Object.keys(this.def.fields))].some((c) => i.changed.has(c));
      const relevant = items.filter((i) => applies(i.after) && touched(i));
      if (relevant.length === 0) continue;
      const holders = new Map<string, string>();
      const first = u.columns[0]!;
      // Narrow by the scope too: interface names ("eth0") repeat on every server.
      const scope0 = u.scope?.[0];
      const scopeValues = scope0 === undefined ? [] : [...new Set(relevant.map((i) => i.after[scope0]))];
      const narrow =
        scope0 !== undefined && scopeValues.length <= CHUNK && scopeValues.every((v) => v !== null && v !== undefined)
          ? { extra: sql`${sql.ref(scope0)} in (${sql.join(scopeValues.map((v) => sql`${dialect.encode(kindOf(this.def, scope0), v)}`))})` }
          : {};
      const stored = await selectWhereIn(tx.db, dialect, this.def, first, relevant.map((i) => i.after[first]), narrow);
      const seen = await rctx.visibleIds(this.def.name, stored);
      for (const r of stored) {
        if (!rewritten.has(r.id) && applies(r)) holders.set(keyOf(r), seen.has(r.id) ? `${this.def.objectType} ${r.id}` : `another ${this.def.objectType}`);
      }
      for (const i of items) if (applies(i.after) && !touched(i)) holders.set(keyOf(i.after), `${this.def.objectType} ${i.after.id}`);
      // Rows are written one statement at a time and the engine checks each
      // statement, so a value another row of this batch gives up is only free
      // once that row has been written: a swap needs two requests.
      const releasedAt = new Map<string, number>();
      relevant.forEach((i, pos) => {
        if (i.before !== undefined && applies(i.before)) releasedAt.set(keyOf(i.before), pos);
      });
      for (const [pos, item] of relevant.entries()) {
        const key = keyOf(item.after);
        const holder = holders.get(key);
        const release = releasedAt.get(key);
        if (holder === undefined && release !== undefined && release > pos) {
          const other = relevant[release]!;
          issues.fail(item.index, u.code, u.path, `${u.what} is still held by ${this.def.objectType} ${other.after.id} (row [${other.index}]), which this request changes later; free it in an earlier row or request`);
        } else if (holder !== undefined) {
          const shown = u.columns.map((c) => String(item.after[c])).join(', ');
          issues.fail(item.index, u.code, u.path, `${u.what} ${JSON.stringify(shown)} is already used by ${holder}`);
        } else {
          holders.set(key, `row [${item.index}] of this request`);
        }
      }
    }

    for (const rule of this.def.rules) await rule(rctx);
    for (const item of items) {
      const refused = exec.derived?.refuseDirect(this.def, item.before, item.after);
      if (refused !== undefined) issues.fail(item.index, refused.code, refused.path, refused.message);
    }
  }

  private async selectWhere(db: Kysely<DynamicDatabase>, def: ResourceDef, where: Readonly<Record<string, unknown>>): Promise<AnyRow[]> {
    const conds = Object.entries(where).map(([c, v]) => (v === null ? sql`${sql.ref(c)} is null` : sql`${sql.ref(c)} = ${this.dialect.encode(kindOf(def, c), v)}`));
    const cols = sql.join(columnsOf(def).map((c) => sql.ref(c)));
    const w = conds.length === 0 ? sql`1 = 1` : sql.join(conds, sql` and `);
    const r = await sql<Row>`select ${cols} from ${sql.table(def.name)} where ${w} order by ${sql.ref('id')}`.execute(db);
    return r.rows.map((raw) => decodeRow(def, this.dialect, raw));
  }

  /**
   * Ids of `rows` the scope may see (`read`) or change (`write`). The two
   * differ for links only: any visible end lets a link be read, every end
   * must be visible to change or delete it.
   */
  private async inScope(rows: readonly AnyRow[], scope: readonly number[], db: Kysely<DynamicDatabase>, purpose: 'read' | 'write' = 'read'): Promise<Set<number>> {
    const t = this.def.tenancy;
    const allowed = new Set(scope);
    if (t === undefined) return new Set(rows.map((r) => r.id));
    if (t.kind === 'self') return new Set(rows.filter((r) => allowed.has(r.id)).map((r) => r.id));
    if (t.kind === 'column') return new Set(rows.filter((r) => allowed.has(r[t.column] as number)).map((r) => r.id));
    if (t.kind === 'ends') {
      const seen = new Set<string>();
      for (const [type, table] of t.tables) {
        const ids = rows.flatMap((r) => t.ends.filter((e) => r[e.typeColumn] === type).map((e) => r[e.idColumn]));
        if (ids.length === 0) continue;
        for (const end of await selectWhereIn(db, this.dialect, this.exec.resource(table), 'id', ids)) {
          if (allowed.has(end['tenant_id'] as number)) seen.add(`${type}:${end.id}`);
        }
      }
      const sees = (r: AnyRow, e: (typeof t.ends)[number]) => seen.has(`${String(r[e.typeColumn])}:${String(r[e.idColumn])}`);
      return new Set(rows.filter((r) => (purpose === 'read' ? t.ends.some((e) => sees(r, e)) : t.ends.every((e) => sees(r, e)))).map((r) => r.id));
    }
    const parents = await selectWhereIn(db, this.dialect, this.exec.resource(t.parent), 'id', rows.map((r) => r[t.column]));
    const ok = new Set(parents.filter((p) => allowed.has(p['tenant_id'] as number)).map((p) => p.id));
    return new Set(rows.filter((r) => ok.has(r[t.column] as number)).map((r) => r.id));
  }

  /** Why a visible object may not be changed: one of its link ends belongs to a tenant outside the scope. */
  private partlyOutside(id: number): string {
    return `${this.def.objectType} ${id} also connects an object of a tenant outside this user's scope; only a user who sees both ends may change or delete it`;
  }

  /** A scoped writer places objects only in its tenants. */
  private async checkTenancy(tx: TxScope, items: readonly BatchItem[], issues: IssueCollector, ctx: WriteContext): Promise<void> {
    const t = this.def.tenancy;
    const scope = ctx.tenantScope;
    if (scope === undefined || t === undefined) return;
    if (t.kind === 'self') {
      for (const item of items) if (item.before === undefined) issues.fail(item.index, E.TENANT_FORBIDDEN, '', 'a user scoped to tenants cannot create tenants');
      return;
    }
    // A parent outside the scope is a reference to a missing object (the reference check says so);
    // so is a link end (the link rule says so).
    if (t.kind === 'parent' || t.kind === 'ends') return;
    const moved = items.filter((i) => i.changed.has(t.column));
    const ok = await this.inScope(moved.map((i) => ({ ...i.after, id: i.index })), scope, tx.db);
    for (const item of moved) {
      if (!ok.has(item.index)) issues.fail(item.index, E.TENANT_FORBIDDEN, t.column, `outside the tenants this user may write (${scope.join(', ') || 'none'})`);
    }
  }

  // ---- create --------------------------------------------------------------

  private async createMany(data: readonly unknown[], ctx: WriteContext, bulk: boolean): Promise<BulkResult<T>> {
    if (!Array.isArray(data)) throw new InventoryError([issue(E.INVALID_VALUE, '', 'must be a list of objects')]);
    const issues = new IssueCollector(bulk);
    const items: BatchItem[] = [];
    const explicitIds = new Map<number, number>();
    data.forEach((d, index) => {
      const p = this.parseInput(d, index, 'create', issues);
      if (p === undefined) return;
      if (p.id !== undefined) explicitIds.set(index, p.id);
      items.push({ index, before: undefined, after: { ...p.values, id: p.id ?? 0, version: 0 } as AnyRow, changed: new Set(Object.keys(this.def.fields)) });
    });
    const now = new Date().toISOString();
    return this.exec.inTransaction(async (tx) => {
      // Rules only run on rows that parsed; the rows that did not already have their issues.
      const parsed = items.filter((i) => !issues.failed(i.index));
      await this.check(tx, 'create', parsed, issues, ctx);
      issues.throwIfAny();

      const fieldCols = Object.keys(this.def.fields);
      let nextId = 0;
      if (this.def.explicitId === true && parsed.some((i) => i.after.id === 0)) {
        const r = await sql<{ m: number | null }>`select max(${sql.ref('id')}) as m from ${sql.table(this.def.name)}`.execute(tx.db);
        nextId = Math.max(Number(r.rows[0]?.m ?? 0), ...parsed.map((i) => i.after.id)) + 1;
      }
      const withIds = this.def.explicitId === true;
      const cols = [...(withIds ? ['id'] : []), ...fieldCols, 'created_at', 'updated_at', 'version'];
      const per = Math.max(1, Math.min(CHUNK, Math.floor(this.dialect.maxParams / cols.length)));
      const created: AnyRow[] = [];
      for (const part of chunks(parsed, per)) {
        const tuples = part.map((item) => {
          const id = withIds ? (item.after.id > 0 ? item.after.id : nextId++) : undefined;
          const vals = [
            ...(withIds ? [id] : []),
            ...fieldCols.map((c) => this.dialect.encode(this.def.fields[c]!.kind, item.after[c])),
            this.dialect.encode('timestamp', now),
            this.dialect.encode('timestamp', now),
            1,
          ];
          return sql`(${sql.join(vals.map((v) => sql`${v}`))})`;
        });
        const ret = sql.join(columnsOf(this.def).map((c) => sql.ref(c)));
        const r = await this.guard(() =>
          sql<Row>`insert into ${sql.table(this.def.name)} (${sql.join(cols.map((c) => sql.ref(c)))}) values ${sql.join(tuples)} returning ${ret}`.execute(tx.db),
        );
        for (const raw of r.rows) created.push(decodeRow(this.def, this.dialect, raw));
        await yieldToEventLoop();
      }
      await this.audit(tx, ctx, now, created.map((row) => ({ action: 'create' as const, before: undefined, after: row })));
      return { rows: created as unknown as T[], warnings: issues.warnings };
    });
  }

  // ---- update --------------------------------------------------------------

  private async updateMany(data: readonly unknown[], ctx: WriteContext, bulk: boolean): Promise<BulkResult<T>> {
    if (!Array.isArray(data)) throw new InventoryError([issue(E.INVALID_VALUE, '', 'must be a list of objects')]);
    const issues = new IssueCollector(bulk);
    const parsed: { index: number; id: number; input: ParsedInput }[] = [];
    const seen = new Set<number>();
    data.forEach((d, index) => {
      const idRaw = typeof d === 'object' && d !== null ? (d as Row)['id'] : undefined;
      const idc = checkValue({ kind: 'int', min: 1, max: 2147483647 }, idRaw ?? null, 'id');
      if (!idc.ok) {
        issues.fail(index, idRaw === undefined ? E.REQUIRED : E.INVALID_VALUE, 'id', idRaw === undefined ? 'is required' : idc.issue.message);
        return;
      }
      const id = idc.value as number;
      if (seen.has(id)) issues.fail(index, E.INVALID_VALUE, 'id', `${this.def.objectType} ${id} appears twice in this request`);
      seen.add(id);
      const p = this.parseInput(d, index, 'update', issues);
      if (p !== undefined) parsed.push({ index, id, input: p });
    });
    const now = new Date().toISOString();
    return this.exec.inTransaction(async (tx) => {
      const stored = new Map((await selectWhereIn(tx.db, this.dialect, this.def, 'id', parsed.map((p) => p.id))).map((r) => [r.id, r]));
      const visible = ctx.tenantScope === undefined ? undefined : await this.inScope([...stored.values()], ctx.tenantScope, tx.db);
      const writable = ctx.tenantScope === undefined ? undefined : await this.inScope([...stored.values()], ctx.tenantScope, tx.db, 'write');
      const items: BatchItem[] = [];
      for (const p of parsed) {
        const before = stored.get(p.id);
        if (before === undefined || (visible !== undefined && !visible.has(p.id))) {
          issues.fail(p.index, E.NOT_FOUND, 'id', `no ${this.def.objectType} with id ${p.id}`);
          continue;
        }
        if (writable !== undefined && !writable.has(p.id)) {
          issues.fail(p.index, E.TENANT_FORBIDDEN, 'id', this.partlyOutside(p.id));
          continue;
        }
        if (p.input.ifVersion !== undefined && p.input.ifVersion !== before.version) {
          issues.fail(p.index, E.VERSION_CONFLICT, 'version', `${this.def.objectType} ${p.id} is at version ${before.version}, not ${p.input.ifVersion}: it changed since it was read`);
          continue;
        }
        const after: Row = { ...before };
        const changed = new Set<string>();
        for (const [k, v] of Object.entries(p.input.values)) {
          if (!sameValue(before[k], v)) changed.add(k);
          after[k] = v;
        }
        items.push({ index: p.index, before, after: after as AnyRow, changed });
      }
      const live = items.filter((i) => !issues.failed(i.index) && i.changed.size > 0);
      await this.check(tx, 'update', live, issues, ctx);
      issues.throwIfAny();

      const results = new Map<number, AnyRow>();
      for (const i of items) results.set(i.index, i.before!);
      const changes: { action: 'update'; before: AnyRow; after: AnyRow }[] = [];
      for (const [n, item] of live.entries()) {
        if (n % CHUNK === CHUNK - 1) await yieldToEventLoop();
        const row = await this.writeUpdate(tx, item.before!, item.after, item.changed, now);
        if (row === undefined) {
          // Someone else's update committed between our read and this write.
          throw new InventoryError([issue(E.VERSION_CONFLICT, issues.path(item.index, 'version'), `${this.def.objectType} ${item.after.id} changed while this update ran`)]);
        }
        results.set(item.index, row);
        changes.push({ action: 'update', before: item.before!, after: row });
      }
      await this.audit(tx, ctx, now, changes);
      return { rows: parsed.filter((p) => results.has(p.index)).map((p) => results.get(p.index)!) as unknown as T[], warnings: issues.warnings };
    });
  }

  /** One row's update, conditional on the version it was read at; undefined when that version is gone. */
  async writeUpdate(tx: TxScope, before: AnyRow, after: Readonly<Record<string, unknown>>, changed: ReadonlySet<string>, now: string): Promise<AnyRow | undefined> {
    const sets = [...changed].map((c) => sql`${sql.ref(c)} = ${this.dialect.encode(kindOf(this.def, c), after[c])}`);
    sets.push(sql`${sql.ref('updated_at')} = ${this.dialect.encode('timestamp', now)}`, sql`${sql.ref('version')} = ${sql.ref('version')} + 1`);
    const ret = sql.join(columnsOf(this.def).map((c) => sql.ref(c)));
    const r = await this.guard(() =>
      sql<Row>`update ${sql.table(this.def.name)} set ${sql.join(sets)} where ${sql.ref('id')} = ${before.id} and ${sql.ref('version')} = ${before.version} returning ${ret}`.execute(tx.db),
    );
    const raw = r.rows[0];
    return raw === undefined ? undefined : decodeRow(this.def, this.dialect, raw);
  }

  // ---- delete --------------------------------------------------------------

  private async deleteMany(targets: readonly DeleteTarget[], opts: { cascade: boolean }, ctx: WriteContext, bulk: boolean): Promise<DeleteResult> {
    if (!Array.isArray(targets)) throw new InventoryError([issue(E.INVALID_VALUE, '', 'must be a list of ids')]);
    const issues = new IssueCollector(bulk);
    const wanted: { index: number; id: number; version?: number }[] = [];
    const seen = new Set<number>();
    targets.forEach((t, index) => {
      const idRaw = typeof t === 'object' && t !== null ? t.id : t;
      const idc = checkValue({ kind: 'int', min: 1, max: 2147483647 }, idRaw ?? null, 'id');
      if (!idc.ok) return void issues.fail(index, E.INVALID_VALUE, 'id', idc.issue.message);
      const id = idc.value as number;
      if (seen.has(id)) return void issues.fail(index, E.INVALID_VALUE, 'id', `${this.def.objectType} ${id} appears twice in this request`);
      seen.add(id);
      const version = typeof t === 'object' && t !== null && t.version !== undefined ? t.version : undefined;
      wanted.push({ index, id, ...(version === undefined ? {} : { version }) });
    });
    const now = new Date().toISOString();
    return this.exec.inTransaction(async (tx) => {
      const stored = new Map((await selectWhereIn(tx.db, this.dialect, this.def, 'id', wanted.map((w) => w.id))).map((r) => [r.id, r]));
      const visible = ctx.tenantScope === undefined ? undefined : await this.inScope([...stored.values()], ctx.tenantScope, tx.db);
      const writable = ctx.tenantScope === undefined ? undefined : await this.inScope([...stored.values()], ctx.tenantScope, tx.db, 'write');
      const rows: AnyRow[] = [];
      const indexOf = new Map<number, number>();
      for (const w of wanted) {
        const row = stored.get(w.id);
        if (row === undefined || (visible !== undefined && !visible.has(w.id))) {
          issues.fail(w.index, E.NOT_FOUND, 'id', `no ${this.def.objectType} with id ${w.id}`);
        } else if (writable !== undefined && !writable.has(w.id)) {
          issues.fail(w.index, E.TENANT_FORBIDDEN, 'id', this.partlyOutside(w.id));
        } else if (w.version !== undefined && w.version !== row.version) {
          issues.fail(w.index, E.VERSION_CONFLICT, 'version', `${this.def.objectType} ${w.id} is at version ${row.version}, not ${w.version}`);
        } else {
          const refused = this.exec.derived?.refuseDirect(this.def, row, undefined);
          if (refused !== undefined) issues.fail(w.index, refused.code, refused.path, refused.message);
          rows.push(row);
          indexOf.set(row.id, w.index);
        }
      }
      for (const dep of this.def.dependents) {
        if (!(dep.mode === 'protect' || (dep.mode === 'restrict' && !opts.cascade))) continue;
        const depDef = this.exec.resource(dep.resource);
        const byKey = new Map(rows.map((r) => [r[dep.key ?? 'id'], r.id]));
        const children = await selectWhereIn(tx.db, this.dialect, depDef, dep.column, [...byKey.keys()], this.typeFilter(dep));
        const per = new Map<number, number>();
        for (const c of children) {
          const parent = byKey.get(c[dep.column]) as number;
          per.set(parent, (per.get(parent) ?? 0) + 1);
        }
        const advice = dep.mode === 'protect' ? 'point them elsewhere first' : 'delete them first or ask for cascade';
        for (const [parent, n] of per) {
          issues.fail(indexOf.get(parent)!, E.HAS_DEPENDENTS, dep.resource, `${this.def.objectType} ${parent} has ${n} ${depDef.objectType}${n === 1 ? '' : 's'} (${dep.column}); ${advice}`);
        }
      }
      issues.throwIfAny();
      const events: ChangeEvent[] = [];
      await this.deleteRows(tx, this.def, rows, opts.cascade, ctx, now, events, new Set());
      return { changes: events };
    });
  }

  private typeFilter(dep: { typeColumn?: string; typeValue?: string }): { extra?: RawBuilder<unknown> } {
    return dep.typeColumn === undefined ? {} : { extra: sql`${sql.ref(dep.typeColumn)} = ${dep.typeValue ?? ''}` };
  }

  /** Deletes rows after their dependents (children first, so foreign keys hold at every step). */
  private async deleteRows(
    tx: TxScope,
    def: ResourceDef,
    rows: readonly AnyRow[],
    cascade: boolean,
    ctx: WriteContext,
    now: string,
    events: ChangeEvent[],
    gone: Set<string>,
  ): Promise<void> {
    const todo = rows.filter((r) => !gone.has(`${def.name}:${r.id}`));
    if (todo.length === 0) return;
    for (const r of todo) gone.add(`${def.name}:${r.id}`);
    const ids = todo.map((r) => r.id);
    for (const dep of def.dependents) {
      const depDef = this.exec.resource(dep.resource);
      const keys = dep.key === undefined ? ids : todo.map((r) => r[dep.key as string]);
      const children = (await selectWhereIn(tx.db, this.dialect, depDef, dep.column, keys, this.typeFilter(dep))).filter((c) => !gone.has(`${depDef.name}:${c.id}`));
      if (children.length === 0) continue;
      if (dep.mode === 'protect' || (dep.mode === 'restrict' && !cascade)) {
        const advice = dep.mode === 'protect' ? 'point them elsewhere first' : 'ask for cascade';
        throw new InventoryError([issue(E.HAS_DEPENDENTS, dep.resource, `${children.length} ${depDef.objectType}(s) still point at ${def.objectType} ${ids.join(', ')}; ${advice}`)]);
      }
      // A scoped writer's cascade or set-null must not reach into another
      // tenant: deleting a tenant-A rack would otherwise delete (or unlink)
      // tenant B's server in it. The whole delete is refused, so nothing of
      // it is left half done.
      if (ctx.tenantScope !== undefined) {
        const ok = await new Repository(depDef, this.exec).inScope(children, ctx.tenantScope, tx.db);
        const outside = children.filter((c) => !ok.has(c.id)).length;
        if (outside > 0) {
          throw new InventoryError([issue(E.TENANT_FORBIDDEN, dep.resource, `${outside} ${depDef.objectType}(s) pointing at ${def.objectType} ${ids.join(', ')} belong to tenants outside this user's scope`)]);
        }
      }
      if (dep.mode === 'set_null') {
        const repo = new Repository(depDef, this.exec);
        const changes: { action: 'update'; before: AnyRow; after: AnyRow }[] = [];
        for (const c of children) {
          const after = await repo.writeUpdate(tx, c, { ...c, [dep.column]: null }, new Set([dep.column]), now);
          if (after === undefined) throw new InventoryError([issue(E.VERSION_CONFLICT, dep.resource, `${depDef.objectType} ${c.id} changed while this delete ran`)]);
          changes.push({ action: 'update', before: c, after });
        }
        await this.audit(tx, ctx, now, changes, depDef, events);
        continue;
      }
      await this.deleteRows(tx, depDef, children, cascade, ctx, now, events, gone);
    }
    for (const part of chunks(ids, CHUNK)) {
      await this.guard(() => sql`delete from ${sql.table(def.name)} where ${sql.ref('id')} in (${sql.join(part.map((i) => sql`${i}`))})`.execute(tx.db));
    }
    await this.audit(
      tx,
      ctx,
      now,
      todo.map((r) => ({ action: 'delete' as const, before: r, after: undefined })),
      def,
      events,
    );
  }

  // ---- audit and engine errors ---------------------------------------------

  private async audit(
    tx: TxScope,
    ctx: WriteContext,
    now: string,
    changes: readonly { action: AuditAction; before: AnyRow | undefined; after: AnyRow | undefined }[],
    def: ResourceDef = this.def,
    events?: ChangeEvent[],
  ): Promise<void> {
    if (changes.length === 0) return;
    const entries: AuditEntryInput[] = changes.map((c) => ({
      at: now,
      user: ctx.user ?? null,
      user_id: ctx.userId ?? null,
      source_ip: ctx.sourceIp ?? null,
      action: c.action,
      object_type: def.objectType,
      object_id: (c.after ?? c.before)!.id,
      before: redact(def, c.before),
      after: redact(def, c.after, c.before),
      request_id: ctx.requestId ?? null,
      api_token_id: ctx.apiToken?.id ?? null,
      api_token_prefix: ctx.apiToken?.prefix ?? null,
    }));
    await appendAudit(tx.db, this.dialect, entries);
    for (const e of entries) {
      const ev: ChangeEvent = { action: e.action, object_type: e.object_type, object_id: e.object_id!, before: e.before, after: e.after, request_id: e.request_id };
      tx.events.push(ev);
      events?.push(ev);
    }
    await this.exec.derived?.follow(tx, def, changes, ctx, now);
    if (def.name === 'users') await this.keepAnAdmin(tx, changes);
  }

  /**
   * Refuses a users write that leaves no active admin (demoting, disabling or
   * deleting the last one, the caller itself included): nobody could manage
   * users again short of editing the database. On PostgreSQL a transaction
   * lock taken after the write orders concurrent ones: the later counts
   * after the earlier committed, so two admins demoting each other at once
   * cannot both succeed (SQLite runs one writer at a time anyway).
   */
  private async keepAnAdmin(tx: TxScope, changes: readonly { before: AnyRow | undefined; after: AnyRow | undefined }[]): Promise<void> {
    const activeAdmin = (r: AnyRow | undefined) => r !== undefined && r['role'] === 'admin' && r['is_active'] === true;
    const lost = changes.filter((c) => activeAdmin(c.before) && !activeAdmin(c.after));
    if (lost.length === 0) return;
    if (this.dialect.name === 'postgres') await sql`select pg_advisory_xact_lock(${LAST_ADMIN_LOCK})`.execute(tx.db);
    const left = await sql<{ n: number | string }>`select count(*) as n from ${sql.table('users')} where ${sql.ref('role')} = 'admin' and ${sql.ref('is_active')} = ${this.dialect.encode('bool', true)}`.execute(tx.db);
    if (Number(left.rows[0]?.n ?? 0) > 0) return;
    const c = lost[0]!;
    const path = c.after === undefined ? 'id' : c.after['is_active'] !== true ? 'is_active' : 'role';
    const what = c.after === undefined ? 'deleting' : path === 'is_active' ? 'disabling' : 'demoting';
    throw new InventoryError([issue(E.LAST_ADMIN, path, `${what} user ${String(c.before!['username'])} would leave no active admin; make another user an active admin first`)]);
  }

  /**
   * Runs a write, turning a constraint the engine caught (a concurrent writer
   * got there between our check and our write) into the code our own check
   * would have given.
   */
  private async guard<R>(fn: () => Promise<R>): Promise<R> {
    try {
      return await fn();
    } catch (err) {
      const v = this.dialect.classifyError(err);
      if (v === undefined) throw err;
      if (v.kind === 'unique') {
        for (const def of [this.def, ...this.def.dependents.map((d) => this.exec.resource(d.resource))]) {
          const u = def.uniques.find((x) => v.constraint === x.index || v.constraint.includes(`'${x.index}'`) || v.constraint === [...(x.scope ?? []), ...x.columns].map((c) => `${def.name}.${c}`).join(', '));
          if (u !== undefined) throw new InventoryError([issue(u.code, u.path, `${u.what} is already used (a concurrent write took it)`)]);
        }
        throw new InventoryError([issue(E.DUPLICATE_VALUE, '', `a unique value is already used (${v.constraint})`)]);
      }
      if (v.kind === 'foreign_key') throw new InventoryError([issue(E.REFERENCE_NOT_FOUND, '', 'a referenced object was deleted concurrently, or another object still points at this one')]);
      throw err;
    }
  }
}

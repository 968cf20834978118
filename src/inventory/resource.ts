import type { Kysely } from 'kysely';
import type { DialectInfo, DynamicDatabase } from '../db/database.js';
import type { InventoryErrorCode } from './errors.js';
import type { Fields } from './fields.js';

/** A row as the repositories hand it around internally: column name → decoded value. */
export type AnyRow = Readonly<Record<string, unknown>> & { readonly id: number; readonly version: number };

/** A uniqueness rule: `columns` unique within `scope` (a null scope value is a scope of its own). */
export interface UniqueDef {
  /** The unique index that backs it (`ux_<table>_<what>`), to map a race caught by the engine to the same code. */
  readonly index: string;
  readonly columns: readonly string[];
  readonly scope?: readonly string[];
  readonly code: InventoryErrorCode;
  /** Field the issue names. */
  readonly path: string;
  /** Rows the rule applies to (a partial index): default, rows whose `columns` are all set. */
  readonly when?: (row: AnyRow) => boolean;
  /** Human name of what must be unique, for messages ("serial", "name in this datacenter"). */
  readonly what: string;
}

/**
 * Rows of another resource that point at this one, and what deleting this one
 * does to them: `restrict` refuses unless the caller asks for cascade (then
 * they are deleted too), `protect` refuses always, `owned` deletes them always
 * (interfaces with their server), `set_null` clears the reference (objects of
 * a deleted tenant).
 */
export interface DependentDef {
  readonly resource: string;
  readonly column: string;
  /** For polymorphic references (network link ends): the type column and this resource's type value. */
  readonly typeColumn?: string;
  readonly typeValue?: string;
  /** The parent's column that `column` holds (default `id`): servers name their boot profile by `name`. */
  readonly key?: string;
  /** `protect`: refused while any exist, cascade or not (a boot profile in use is never deleted with its servers). */
  readonly mode: 'restrict' | 'protect' | 'owned' | 'set_null';
}

/** One end of a polymorphic link: the column naming the end's type, the one holding its id. */
export interface TenancyEnd {
  readonly typeColumn: string;
  readonly idColumn: string;
}

/**
 * How a resource belongs to a tenant: its own tenant_id, through a parent's,
 * it is the tenant, or (`ends`, network links) through the tenant_id of the
 * objects at its ends, whose tables `tables` names by end type. A link is
 * read by a scoped user who sees at least one of its ends (as NetBox shows a
 * device's cable with its far end) and written only by one who sees all of
 * them (the creation rule already refuses an end the writer cannot see).
 */
export type TenancyDef =
  | { readonly kind: 'column'; readonly column: string }
  | { readonly kind: 'parent'; readonly column: string; readonly parent: string }
  | { readonly kind: 'self' }
  | { readonly kind: 'ends'; readonly ends: readonly TenancyEnd[]; readonly tables: ReadonlyMap<string, string> };

/** A name from the seed product's API accepted on input for one of ours (`serial_number` → `serial`). */
export interface AliasDef {
  readonly field: string;
  /** Multiply numbers by this (MW → kW). */
  readonly scale?: number;
}

export interface BatchItem {
  /** Position in the caller's batch (the `[i]` of issue paths). */
  readonly index: number;
  /** The stored row before this write; undefined on create. */
  readonly before: AnyRow | undefined;
  /** The row as it will be stored (on create, without id/version yet: those are 0). */
  readonly after: AnyRow;
  /** Fields whose value this write sets or changes (every field on create). */
  readonly changed: ReadonlySet<string>;
}

export type PowerBudgetMode = 'warn' | 'refuse';

/** What a rule sees: the whole batch at once, so it reads related rows once per batch, not once per row. */
export interface RuleContext {
  readonly db: Kysely<DynamicDatabase>;
  readonly dialect: DialectInfo;
  readonly resource: ResourceDef;
  readonly op: 'create' | 'update';
  readonly items: readonly BatchItem[];
  readonly powerBudget: PowerBudgetMode;
  fail(item: BatchItem, code: InventoryErrorCode, path: string, message: string): void;
  warn(item: BatchItem, code: InventoryErrorCode, path: string, message: string): void;
  /** Has this item already failed (later checks skip it to avoid follow-on noise)? */
  failed(item: BatchItem): boolean;
  /** Decoded rows of `table` whose `column` is one of `values`, optionally locked for the rest of the transaction. */
  loadWhereIn(table: string, column: string, values: readonly unknown[], opts?: { forUpdate?: boolean }): Promise<AnyRow[]>;
  /** Decoded rows of `table` matching every given column = value. */
  loadWhere(table: string, where: Readonly<Record<string, unknown>>): Promise<AnyRow[]>;
  /**
   * Ids of `rows` (of `table`) the writer may see: all of them unless it is
   * scoped to tenants. A rule names an object the writer cannot see only as
   * "another device", so a conflict does not leak another tenant's names.
   */
  visibleIds(table: string, rows: readonly AnyRow[]): Promise<ReadonlySet<number>>;
}

export type Rule = (ctx: RuleContext) => Promise<void>;

export interface ResourceDef<F extends Fields = Fields> {
  /** Key in the inventory and the table name (`servers`). */
  readonly name: string;
  /** `object_type` in the audit log (`server`). */
  readonly objectType: string;
  readonly fields: F;
  readonly uniques: readonly UniqueDef[];
  readonly dependents: readonly DependentDef[];
  readonly tenancy?: TenancyDef;
  readonly defaultOrdering: readonly string[];
  readonly aliases?: ReadonlyMap<string, AliasDef>;
  readonly rules: readonly Rule[];
  /** Ids are the caller's (DHCP subnet ids come from the configuration); max+1 when not given. */
  readonly explicitId?: boolean;
}

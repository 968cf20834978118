import type { Kysely, RawBuilder } from 'kysely';

/**
 * Tables are addressed by name at run time (one generic repository serves
 * every resource), so the Kysely schema type is open; the columns a query may
 * touch are whitelisted by the resource definitions in src/inventory, never
 * taken from input.
 */
export interface DynamicDatabase {
  [table: string]: { [column: string]: unknown };
}

export type DialectName = 'sqlite' | 'postgres';

/** The value kinds a column holds; each backend maps them to its own types. */
export type ColumnKind = 'int' | 'float' | 'text' | 'bool' | 'date' | 'timestamp' | 'json';

/**
 * What differs between backends, behind the same roles in sqlite/ and
 * postgres/: DDL types, value encoding, constraint errors, row locking.
 */
export interface DialectInfo {
  readonly name: DialectName;
  /** DDL type of each kind (`timestamp` is ISO-8601 text on SQLite, timestamptz on PostgreSQL). */
  readonly ddl: Readonly<Record<ColumnKind, string>>;
  /** A JavaScript value of `kind` as the driver must bind it. */
  encode(kind: ColumnKind, value: unknown): unknown;
  /** A value as the driver returned it, back to its JavaScript form. */
  decode(kind: ColumnKind, value: unknown): unknown;
  /** A unique or foreign-key violation raised by the engine, or undefined for anything else. */
  classifyError(err: unknown): ConstraintViolation | undefined;
  /**
   * Appended to a SELECT that reads rows a rule is about to rely on (a rack's
   * occupants, a host's VMs), so concurrent writers queue instead of both
   * passing the check. Empty on SQLite, where a write transaction is already
   * exclusive.
   */
  readonly forUpdate: RawBuilder<unknown>;
  /** Bound parameters one statement may carry (SQLite 32766, PostgreSQL 65535). */
  readonly maxParams: number;
}

export interface ConstraintViolation {
  readonly kind: 'unique' | 'foreign_key' | 'not_null' | 'check';
  /** Index or constraint name when the engine reports it (PostgreSQL), else the columns (SQLite `table.col`). */
  readonly constraint: string;
}

export interface Database {
  /** Reads and writes; transactions start here. */
  readonly db: Kysely<DynamicDatabase>;
  /**
   * Reads outside a transaction. On SQLite a second connection, so a long
   * write transaction (a bulk import) does not hold up every list and get
   * behind it (WAL lets readers see the last commit meanwhile); on
   * PostgreSQL the same pool.
   */
  readonly readDb: Kysely<DynamicDatabase>;
  readonly dialect: DialectInfo;
  /** Where it lives, for logs: a file path or a URL with the password masked. */
  readonly location: string;
  close(): Promise<void>;
}

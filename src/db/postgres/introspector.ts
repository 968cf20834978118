import { DEFAULT_MIGRATION_LOCK_TABLE, DEFAULT_MIGRATION_TABLE, PostgresDialect, sql } from 'kysely';
import type { ColumnMetadata, DatabaseIntrospector, DatabaseMetadata, DatabaseMetadataOptions, Kysely, SchemaMetadata, TableMetadata } from 'kysely';

interface ColumnRow {
  table: string;
  kind: string;
  column: string | null;
  type: string | null;
  type_schema: string | null;
  not_null: boolean | null;
  has_default: boolean | null;
  auto: boolean | null;
  description: string | null;
}

/**
 * Kysely's PostgreSQL introspector reads every schema of the database and
 * calls has_schema_privilege() and pg_get_serial_sequence() with each one's
 * name. A schema dropped by another session while that query runs (several
 * dcplane nodes or test runs sharing one database, each in its own schema)
 * fails it with "schema ... does not exist", and with it the migrator, which
 * only wants to know whether its own tables exist. This one looks at the
 * connection's own schema (current_schema(), the search_path dcplane sets)
 * and names no other.
 */
export class CurrentSchemaIntrospector implements DatabaseIntrospector {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's DatabaseIntrospector is written against Kysely<any>.
  constructor(private readonly db: Kysely<any>) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const r = await sql<{ name: string | null }>`select current_schema() as name`.execute(this.db);
    const name = r.rows[0]?.name;
    return name === null || name === undefined ? [] : [{ name }];
  }

  async getTables(options: DatabaseMetadataOptions = { withInternalKyselyTables: false }): Promise<TableMetadata[]> {
    const r = await sql<ColumnRow>`
      select c.relname as table, c.relkind as kind, a.attname as column, t.typname as type, tn.nspname as type_schema,
             a.attnotnull as not_null, a.atthasdef as has_default,
             (a.attidentity <> '' or coalesce(pg_get_expr(d.adbin, d.adrelid) like 'nextval(%', false)) as auto,
             col_description(c.oid, a.attnum) as description
        from pg_catalog.pg_class c
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        left join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        left join pg_catalog.pg_type t on t.oid = a.atttypid
        left join pg_catalog.pg_namespace tn on tn.oid = t.typnamespace
        left join pg_catalog.pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
       where n.nspname = current_schema() and c.relkind in ('r', 'v', 'p')
       order by c.relname, a.attnum`.execute(this.db);
    const schema = (await this.getSchemas())[0]?.name;
    const tables = new Map<string, { isView: boolean; columns: ColumnMetadata[] }>();
    for (const row of r.rows) {
      if (options.withInternalKyselyTables !== true && (row.table === DEFAULT_MIGRATION_TABLE || row.table === DEFAULT_MIGRATION_LOCK_TABLE)) continue;
      let t = tables.get(row.table);
      if (t === undefined) {
        t = { isView: row.kind === 'v', columns: [] };
        tables.set(row.table, t);
      }
      if (row.column === null) continue;
      t.columns.push({
        name: row.column,
        dataType: row.type ?? '',
        ...(row.type_schema !== null ? { dataTypeSchema: row.type_schema } : {}),
        isNullable: row.not_null !== true,
        hasDefaultValue: row.has_default === true,
        isAutoIncrementing: row.auto === true,
        ...(row.description !== null ? { comment: row.description } : {}),
      });
    }
    return [...tables].map(([name, t]) => ({ name, isView: t.isView, columns: t.columns, ...(schema !== undefined ? { schema } : {}) }));
  }

  async getMetadata(options?: DatabaseMetadataOptions): Promise<DatabaseMetadata> {
    return { tables: await this.getTables(options) };
  }
}

/** PostgresDialect whose introspection (and so the migrator's) stays in the connection's own schema. */
export class SchemaScopedPostgresDialect extends PostgresDialect {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as in Kysely's Dialect interface.
  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new CurrentSchemaIntrospector(db);
  }
}

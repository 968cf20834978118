import { sql } from 'kysely';
import { InventoryError, InventoryErrorCode as E, INVENTORY_ERROR_STATUS } from './errors.js';
import type { InventoryErrorCode, InventoryIssue } from './errors.js';
import { NUL_MESSAGE, checkValue, hasNul } from './fields.js';
import type { Inventory } from './inventory.js';
import type { Filter } from './query.js';
import type { WriteContext } from './repository.js';
import { serverInterfaces, servers } from './resources.js';

/**
 * Bulk import of servers (`dcplane import servers FILE`, `POST
 * /api/v1/servers/import`): thousands of rows validated by the repositories'
 * bulkCreate, written in one transaction, all or nothing, with every bad row
 * reported. On top of bulkCreate it resolves references by name, as NetBox's
 * import does (`rack` by name within its `datacenter`, `tenant` by name or
 * slug), and creates each server's primary interface from `mac`/`ip`
 * columns in the same transaction.
 *
 * Rows go to bulkCreate in chunks inside the one transaction, so progress
 * can be reported as it happens and each check reads a bounded set of rows.
 * A chunk with bad rows is retried without them, so that later chunks are
 * still checked against every good row before them (a serial used twice
 * 40,000 rows apart is reported); any bad row rolls the whole import back.
 */

/** One record of the import file: field → value (CSV cells as text; JSON values as given). */
export interface ImportRecord {
  /** 1-based number of the record in the file (the first data row is 1). */
  readonly row: number;
  /** Line of the file where the record starts (CSV and NDJSON). */
  readonly line?: number;
  readonly values: Readonly<Record<string, unknown>>;
}

export interface ImportIssue {
  /** 1-based record number; 0 for the file as a whole (its header, or a refusal no single row can be named for). */
  readonly row: number;
  readonly line?: number;
  /** The column (field) the issue is about; `''` for the row as a whole. */
  readonly path: string;
  readonly code: InventoryErrorCode;
  readonly message: string;
}

export type ImportPhase = 'resolve' | 'import' | 'commit';

export interface ImportProgress {
  readonly phase: ImportPhase;
  readonly done: number;
  readonly total: number;
}

export interface ImportOptions {
  readonly ctx: WriteContext;
  /** Validate everything (inside a transaction that is rolled back), write nothing. */
  readonly dryRun?: boolean;
  readonly onProgress?: (p: ImportProgress) => void;
  /** Aborting rolls the import back at the next chunk (a client that hung up). */
  readonly signal?: AbortSignal;
  /** Rows per bulkCreate call (default 1000). */
  readonly chunkSize?: number;
  /** Issues found before (rows of the file that did not parse): they refuse the import too, and are reported with the rest. */
  readonly knownErrors?: readonly ImportIssue[];
  /** Records in the file, when some did not parse (default: records.length). */
  readonly total?: number;
}

export interface ImportReport {
  /** True when every row passed (and, unless dry_run, was written). */
  readonly ok: boolean;
  readonly dry_run: boolean;
  readonly total: number;
  /** Servers written (0 when refused or dry_run). */
  readonly created: number;
  /** Primary interfaces written with them. */
  readonly interfaces: number;
  /** The ids of the servers written, in row order (empty when refused or dry_run). */
  readonly ids: readonly number[];
  readonly errors: readonly ImportIssue[];
  /** Rules that passed with a warning (a rack over its power budget in `warn` mode). */
  readonly warnings: readonly ImportIssue[];
}

/** Columns that are not server fields: references by name and the primary interface. */
export const REFERENCE_COLUMNS = ['rack', 'datacenter', 'tenant'] as const;
export const INTERFACE_COLUMNS = ['mac', 'ip', 'interface'] as const;
const DEFAULT_INTERFACE = 'eth0';
const DEFAULT_CHUNK = 1000;
const LIST_PAGE = 1000;
/** Imports at least this large refresh the planner's statistics of what they wrote. */
const ANALYZE_AFTER = 1000;

const EXTRA_COLUMNS: ReadonlySet<string> = new Set([...REFERENCE_COLUMNS, ...INTERFACE_COLUMNS]);

/** Column names an import accepts: server fields, their seed aliases, `id`-less system columns ignored by the repository, and the extra columns. */
export function importColumns(): ReadonlySet<string> {
  return new Set([...Object.keys(servers.fields), ...(servers.aliases?.keys() ?? []), ...EXTRA_COLUMNS, 'created_at', 'updated_at']);
}

/** `Serial Number` → `serial_number`: headers as people type them, to field names. */
export function normalizeColumn(name: string): string {
  return name.trim().toLowerCase().replace(/[\s-]+/g, '_');
}

/** The import was abandoned before its commit (nothing written). */
export class ImportAbortedError extends Error {
  constructor() {
    super('import abandoned before commit: nothing was written');
  }
}

class Rollback extends Error {}

function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() === '' ? undefined : v.trim();
  if (typeof v === 'number') return String(v);
  return undefined;
}

/** `[12].serial` → index 12, path `serial`; undefined for an issue about no row in particular. */
function splitIssuePath(path: string): { index: number; path: string } | undefined {
  const m = /^\[(\d+)\](?:\.)?(.*)$/s.exec(path);
  if (m === null) return undefined;
  return { index: Number(m[1]), path: m[2] ?? '' };
}

interface Prepared {
  readonly record: ImportRecord;
  readonly server: Record<string, unknown>;
  readonly iface: { name?: unknown; mac?: unknown; ip?: unknown } | undefined;
  /** Unresolved `rack` / `tenant`: resolved before the rows are checked. */
  readonly rackName: string | undefined;
  readonly datacenterName: string | undefined;
  readonly tenantName: string | undefined;
  /** Fields whose issues would only repeat one already reported (the tenant_id of a tenant name that was not found). */
  readonly quiet: Set<string>;
}

/** The rows of `repo` whose `field` is one of `values`, in the caller's tenant scope. */
async function listIn(inv: Inventory, table: 'racks' | 'datacenters' | 'tenants', field: string, values: readonly string[], scope: readonly number[] | undefined): Promise<Record<string, unknown>[]> {
  const repo = inv.repository(table)!;
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < values.length; i += LIST_PAGE) {
    const part = values.slice(i, i + LIST_PAGE);
    const filters: Filter[] = [{ field, lookup: 'in', value: part }];
    for (let offset = 0; ; offset += LIST_PAGE) {
      const r = await repo.list({ filters, limit: LIST_PAGE, offset, ...(scope === undefined ? {} : { tenantScope: scope }) });
      out.push(...r.rows);
      if (r.rows.length < LIST_PAGE) break;
    }
  }
  return out;
}

/**
 * Imports servers, all or nothing. Never throws for bad rows: they come back
 * in the report (`ok: false`, nothing written). Throws ImportAbortedError
 * when `signal` aborts, and whatever the database throws.
 */
export async function importServers(inv: Inventory, records: readonly ImportRecord[], opts: ImportOptions): Promise<ImportReport> {
  const total = opts.total ?? records.length;
  const dryRun = opts.dryRun === true;
  const chunkSize = Math.max(1, opts.chunkSize ?? DEFAULT_CHUNK);
  const scope = opts.ctx.tenantScope;
  const errors: ImportIssue[] = [...(opts.knownErrors ?? [])];
  const warnings: ImportIssue[] = [];
  const progress = (phase: ImportPhase, done: number): void => opts.onProgress?.({ phase, done, total: records.length });
  const fail = (rec: ImportRecord, path: string, code: InventoryErrorCode, message: string): void => {
    errors.push({ row: rec.row, ...(rec.line === undefined ? {} : { line: rec.line }), path, code, message });
  };

  // ---- split each record into the server, its references and its interface
  const prepared: Prepared[] = records.map((record) => {
    const server: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    let iface: Prepared['iface'];
    let rackName: string | undefined;
    let datacenterName: string | undefined;
    let tenantName: string | undefined;
    const quiet = new Set<string>();
    const refused = new Set<string>();
    // A name is looked up with the others in one query: one the query layer refuses (a NUL, which PostgreSQL
    // cannot store) would refuse the whole lookup with no row to name, so it is this row's error here.
    const reference = (key: string, value: unknown, expected: string): string | undefined => {
      const name = text(value);
      if (value === null || value === '') return undefined;
      if (name !== undefined && !hasNul(name)) return name;
      fail(record, key, E.INVALID_VALUE, name === undefined ? expected : NUL_MESSAGE);
      refused.add(key);
      return undefined;
    };
    for (const [key, value] of Object.entries(record.values)) {
      if (value === undefined) continue;
      switch (key) {
        case 'rack':
          rackName = reference(key, value, 'must be a rack name');
          break;
        case 'datacenter':
          datacenterName = reference(key, value, 'must be a datacenter name or code');
          break;
        case 'tenant':
          tenantName = reference(key, value, 'must be a tenant name or slug');
          break;
        case 'mac':
        case 'ip':
          if (present(value)) iface = { ...iface, [key]: value };
          break;
        case 'interface':
          if (present(value)) iface = { ...iface, name: value };
          break;
        default:
          server[key] = value;
      }
    }
    if (rackName !== undefined && present(server['rack_id'])) fail(record, 'rack', E.INVALID_VALUE, 'give rack (a name) or rack_id, not both');
    if (tenantName !== undefined && present(server['tenant_id'])) fail(record, 'tenant', E.INVALID_VALUE, 'give tenant (a name or slug) or tenant_id, not both');
    if (iface !== undefined && iface.mac === undefined && iface.ip === undefined) {
      fail(record, 'interface', E.REQUIRED, 'an interface column needs mac or ip beside it');
      iface = undefined;
    }
    if (refused.has('rack') || (refused.has('datacenter') && rackName !== undefined)) {
      // Checked without its rack, as for a rack that is not found (a rack name without its datacenter could be another's).
      rackName = undefined;
      delete server['u_position'];
      quiet.add('rack_id').add('u_position');
    }
    return { record, server, iface, rackName, datacenterName, tenantName, quiet };
  });

  // ---- references by name, in what the caller may see
  progress('resolve', 0);
  const rackNames = [...new Set(prepared.flatMap((p) => (p.rackName === undefined ? [] : [p.rackName])))];
  const racksByName = new Map<string, Record<string, unknown>[]>();
  for (const r of await listIn(inv, 'racks', 'name', rackNames, scope)) {
    const name = r['name'] as string;
    racksByName.set(name, [...(racksByName.get(name) ?? []), r]);
  }
  const dcNames = [...new Set(prepared.flatMap((p) => (p.rackName !== undefined && p.datacenterName !== undefined ? [p.datacenterName] : [])))];
  const dcs = [...(await listIn(inv, 'datacenters', 'name', dcNames, scope)), ...(await listIn(inv, 'datacenters', 'code', dcNames, scope))];
  const dcByKey = new Map<string, Record<string, unknown>>();
  for (const d of dcs) for (const k of [d['name'], d['code']]) if (typeof k === 'string' && !dcByKey.has(k)) dcByKey.set(k, d);
  const tenantKeys = [...new Set(prepared.flatMap((p) => (p.tenantName === undefined ? [] : [p.tenantName])))];
  const tenants = [...(await listIn(inv, 'tenants', 'name', tenantKeys, scope)), ...(await listIn(inv, 'tenants', 'slug', tenantKeys, scope))];
  const tenantByKey = new Map<string, number>();
  // A name wins over another tenant's identical slug.
  for (const t of tenants) if (typeof t['name'] === 'string') tenantByKey.set(t['name'], t['id'] as number);
  for (const t of tenants) if (typeof t['slug'] === 'string' && !tenantByKey.has(t['slug'])) tenantByKey.set(t['slug'], t['id'] as number);
  // Datacenter names for the message about a rack name used in several of them.
  const ambiguous = [...racksByName.values()].filter((list) => list.length > 1).flat();
  const dcNameById = new Map<number, string>();
  const dcIds = [...new Set(ambiguous.map((r) => String(r['datacenter_id'])))];
  for (const d of await listIn(inv, 'datacenters', 'id', dcIds, scope)) dcNameById.set(d['id'] as number, d['name'] as string);

  for (const p of prepared) {
    if (p.rackName !== undefined) {
      let candidates = racksByName.get(p.rackName) ?? [];
      let where = '';
      if (p.datacenterName !== undefined) {
        const dc = dcByKey.get(p.datacenterName);
        if (dc === undefined) {
          fail(p.record, 'datacenter', E.REFERENCE_NOT_FOUND, `no datacenter named (or with code) ${JSON.stringify(p.datacenterName)}`);
          candidates = [];
          where = '';
        } else {
          candidates = candidates.filter((r) => r['datacenter_id'] === dc['id']);
          where = ` in datacenter ${JSON.stringify(dc['name'])}`;
        }
      }
      if (candidates.length === 1) {
        p.server['rack_id'] = candidates[0]!['id'];
      } else {
        if (candidates.length === 0 && (p.datacenterName === undefined || dcByKey.has(p.datacenterName))) {
          fail(p.record, 'rack', E.REFERENCE_NOT_FOUND, `no rack named ${JSON.stringify(p.rackName)}${where}`);
        } else if (candidates.length > 1) {
          const names = candidates.map((r) => JSON.stringify(dcNameById.get(r['datacenter_id'] as number) ?? `#${String(r['datacenter_id'])}`)).join(', ');
          fail(p.record, 'rack', E.INVALID_VALUE, `rack name ${JSON.stringify(p.rackName)} is used in datacenters ${names}: add a datacenter column to say which`);
        }
        // Checked without its rack, so its other fields are still reported.
        delete p.server['u_position'];
        p.quiet.add('rack_id').add('u_position');
      }
    }
    if (p.tenantName !== undefined) {
      const id = tenantByKey.get(p.tenantName);
      if (id === undefined) {
        fail(p.record, 'tenant', E.REFERENCE_NOT_FOUND, `no tenant named (or with slug) ${JSON.stringify(p.tenantName)}`);
        p.quiet.add('tenant_id');
      } else p.server['tenant_id'] = id;
    }
  }
  progress('resolve', total);

  // ---- check and write, chunk by chunk, in one transaction
  const ids: number[] = [];
  let interfaces = 0;
  const ifaceFields = serverInterfaces.fields;
  const ifaceColumn = (path: string): string => (path === 'name' ? 'interface' : path === 'server_id' || path === 'is_primary' ? '' : path);
  try {
    await inv.transaction(async (t) => {
      let done = 0;
      progress('import', 0);
      for (let start = 0; start < prepared.length; start += chunkSize) {
        if (opts.signal?.aborted === true) throw new ImportAbortedError();
        const chunk = prepared.slice(start, start + chunkSize);
        const created = await bulkWithRetry(
          chunk,
          (list) => t.servers.bulkCreate(list.map((p) => p.server), opts.ctx),
          (p, iss) => {
            if (!p.quiet.has(iss.path)) fail(p.record, iss.path, iss.code, iss.message);
          },
          (p, iss) => warnings.push({ row: p.record.row, ...(p.record.line === undefined ? {} : { line: p.record.line }), path: iss.path, code: iss.code, message: iss.message }),
        );
        // Primary interfaces of the servers just written; those of refused rows get their formats checked.
        const withIface: { p: Prepared; value: Record<string, unknown> }[] = [];
        for (const p of chunk) {
          if (p.iface === undefined) continue;
          const id = created.get(p);
          if (id === undefined) {
            for (const k of ['mac', 'ip'] as const) {
              if (p.iface[k] === undefined) continue;
              const c = checkValue(ifaceFields[k], p.iface[k], k);
              if (!c.ok) fail(p.record, k, c.issue.code, c.issue.message);
            }
            continue;
          }
          withIface.push({ p, value: { server_id: id, name: p.iface.name ?? DEFAULT_INTERFACE, mac: p.iface.mac ?? null, ip: p.iface.ip ?? null, is_primary: true } });
        }
        if (withIface.length > 0) {
          const byPrepared = new Map(withIface.map((w) => [w.p, w.value]));
          const made = await bulkWithRetry(
            withIface.map((w) => w.p),
            (list) => t.serverInterfaces.bulkCreate(list.map((p) => byPrepared.get(p)!), opts.ctx),
            (p, iss) => fail(p.record, ifaceColumn(iss.path), iss.code, iss.message),
            () => undefined,
          );
          interfaces += made.size;
        }
        for (const p of chunk) {
          const id = created.get(p);
          if (id !== undefined) ids.push(id);
        }
        done += chunk.length;
        progress('import', done);
      }
      if (errors.length > 0 || dryRun) throw new Rollback();
      progress('commit', total);
    });
  } catch (err) {
    // A refusal no row can be named for (a derived DHCP reservation's
    // conflict, a concurrent writer caught by the engine) refuses the import
    // as a whole; the transaction is gone with it.
    if (err instanceof InventoryError) {
      for (const iss of err.issues) errors.push({ row: 0, path: iss.path, code: iss.code, message: iss.message });
    } else if (!(err instanceof Rollback)) {
      throw err;
    }
  }
  errors.sort((a, b) => a.row - b.row);
  warnings.sort((a, b) => a.row - b.row);
  const ok = errors.length === 0;
  const written = ok && !dryRun;
  if (written && ids.length >= ANALYZE_AFTER) {
    // The planner's row counts are from before the import (PostgreSQL's
    // autovacuum gets to them within minutes, or never where it is off): a
    // list right after importing 100,000 servers sorted the whole table
    // where an index serves the page.
    // On PostgreSQL VACUUM also marks the new pages all-visible, so count(*)
    // and deep offsets read the index alone instead of visiting 100,000 rows.
    const tables = interfaces > 0 ? ['servers', 'server_interfaces'] : ['servers'];
    const refresh = inv.database.dialect.name === 'postgres' ? sql`vacuum (analyze)` : sql`analyze`;
    for (const t of tables) await sql`${refresh} ${sql.table(t)}`.execute(inv.database.db);
  }
  return { ok, dry_run: dryRun, total, created: written ? ids.length : 0, interfaces: written ? interfaces : 0, ids: written ? ids : [], errors, warnings };
}

/**
 * Runs a bulk create of `items`; on refusal reports each issue against its
 * item and runs again without the refused ones, so the good ones are written
 * (inside the import's transaction) for later chunks to be checked against.
 * Returns the id created for each item that went in.
 */
async function bulkWithRetry<P>(
  items: readonly P[],
  write: (list: readonly P[]) => Promise<{ rows: readonly { id: number }[]; warnings: readonly InventoryIssue[] }>,
  onIssue: (item: P, issue: InventoryIssue) => void,
  onWarning: (item: P, issue: InventoryIssue) => void,
): Promise<Map<P, number>> {
  let list = [...items];
  // Each retry drops at least one item, and removing rows only removes conflicts; the bound is a guard.
  for (let attempt = 0; attempt < 5 && list.length > 0; attempt++) {
    try {
      const r = await write(list);
      for (const w of r.warnings) {
        const at = splitIssuePath(w.path);
        const item = at === undefined ? undefined : list[at.index];
        if (at !== undefined && item !== undefined) onWarning(item, { ...w, path: at.path });
      }
      return new Map(list.map((item, i) => [item, r.rows[i]!.id]));
    } catch (err) {
      if (!(err instanceof InventoryError)) throw err;
      const refused = new Set<number>();
      for (const iss of err.issues) {
        const at = splitIssuePath(iss.path);
        const item = at === undefined ? undefined : list[at.index];
        // An issue about no row (a concurrent writer caught by the engine) ends the import: the transaction may be unusable.
        if (at === undefined || item === undefined) throw err;
        refused.add(at.index);
        onIssue(item, { ...iss, path: at.path });
      }
      list = list.filter((_, i) => !refused.has(i));
    }
  }
  return new Map();
}

/** The HTTP status a refused import answers with: the most severe of its issues' (400 > 403 > 404 > 412 > 409 > 422). */
export function importStatus(errors: readonly ImportIssue[]): number {
  const statuses = new Set(errors.map((e) => INVENTORY_ERROR_STATUS[e.code]));
  for (const s of [400, 403, 404, 412, 409]) if (statuses.has(s)) return s;
  return 422;
}

/** The code of a refused import: its issues' when they share one, else INVENTORY_ERR_MULTIPLE. */
export function importCode(errors: readonly ImportIssue[]): InventoryErrorCode {
  const first = errors[0]?.code;
  return first !== undefined && errors.every((e) => e.code === first) ? first : E.MULTIPLE;
}

import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database, DynamicDatabase } from '../db/database.js';
import type { DhcpConfig } from '../config/types.js';
import { AUDIT_FIELDS, AUDIT_READ_SPEC, appendAudit } from './audit.js';
import type { AuditEntry, AuditEntryInput } from './audit.js';
import { ReservationDerivation } from './derived-reservations.js';
import { countRows, pageWindow } from './paging.js';
import { compileList } from './query.js';
import type { ListQuery, ListResult } from './query.js';
import { Repository } from './repository.js';
import type { ChangeEvent, Executor, TxScope } from './repository.js';
import type { PowerBudgetMode, ResourceDef } from './resource.js';
import { RESOURCE_BY_NAME } from './resources.js';
import type {
  ApiToken,
  Container,
  Datacenter,
  DhcpReservation,
  DhcpSubnet,
  NetworkDevice,
  NetworkLink,
  Rack,
  Server,
  ServerInterface,
  StorageSystem,
  Tenant,
  User,
  Vm,
} from './resources.js';

export interface InventoryOptions {
  /** Rack power budget when a write's context does not say: `warn` (default) or `refuse`. */
  readonly powerBudget?: PowerBudgetMode;
  /**
   * The configuration file's dhcp section in force: DHCP subnet and
   * reservation writes must compose with it into a valid configuration
   * (src/provisioning/dhcp-config.ts). Absent: that check is skipped.
   */
  readonly dhcpFile?: () => DhcpConfig;
}

export type ChangeListener = (events: readonly ChangeEvent[]) => void;

/** The audit trail: appended by every repository write, read with the same list/get shape. */
export class AuditLog {
  constructor(private readonly exec: Executor) {}

  async list(query: ListQuery = {}): Promise<ListResult<AuditEntry>> {
    const { dialect } = this.exec.database;
    const c = compileList(AUDIT_READ_SPEC, dialect, query);
    const db = this.exec.reader;
    const n = await countRows(this.exec.database, db, 'audit_log', c);
    const cols = sql.join([...AUDIT_FIELDS.keys()].map((x) => sql.ref(x)));
    if (c.keyset !== undefined) {
      const where = c.filtered ? sql`${c.whereClause} and ${c.keyset}` : sql` where ${c.keyset}`;
      const r = c.limit === 0 ? [] : (await sql<Record<string, unknown>>`select ${cols} from ${sql.table('audit_log')}${where} order by ${c.orderBy} limit ${c.limit + 1} offset ${c.offset}`.execute(db)).rows;
      const rows = r.slice(0, c.limit).map((raw) => this.decode(raw));
      const last = rows.at(-1);
      return { count: n, rows, nextCursor: last !== undefined && r.length > c.limit ? c.cursorOf(last as unknown as Record<string, unknown>) : null };
    }
    const w = pageWindow(c, n);
    if (w === undefined) return { count: n, rows: [] };
    const r = await sql<Record<string, unknown>>`select ${cols} from ${sql.table('audit_log')}${c.whereClause} order by ${w.orderBy} limit ${w.limit} offset ${w.offset}`.execute(db);
    // A page read from the end comes backwards.
    const rows = w.orderBy === c.orderBy ? r.rows : r.rows.reverse();
    return { count: n, rows: rows.map((raw) => this.decode(raw)) };
  }

  async get(id: number): Promise<AuditEntry | undefined> {
    const r = await this.list({ filters: [{ field: 'id', value: id }], limit: 1 });
    return r.rows[0];
  }

  /** For writes outside the repositories (logins, token use); inside `inventory.transaction` it commits with them. */
  async append(entry: Omit<AuditEntryInput, 'at'> & { readonly at?: string }): Promise<void> {
    await this.exec.inTransaction((tx) => appendAudit(tx.db, this.exec.database.dialect, [{ ...entry, at: entry.at ?? new Date().toISOString() }]));
  }

  private decode(raw: Record<string, unknown>): AuditEntry {
    const out: Record<string, unknown> = {};
    for (const [c, f] of AUDIT_FIELDS) out[c] = this.exec.database.dialect.decode(f.kind, raw[c]);
    return out as unknown as AuditEntry;
  }
}

/**
 * The inventory over one database: a repository per resource, the audit log,
 * transactions spanning several repositories, and change notifications after
 * commit (for the WebSocket stream and for DHCP reservations to follow).
 */
export class Inventory {
  readonly tenants: Repository<Tenant>;
  readonly datacenters: Repository<Datacenter>;
  readonly racks: Repository<Rack>;
  readonly servers: Repository<Server>;
  readonly serverInterfaces: Repository<ServerInterface>;
  readonly storageSystems: Repository<StorageSystem>;
  readonly networkDevices: Repository<NetworkDevice>;
  readonly networkLinks: Repository<NetworkLink>;
  readonly vms: Repository<Vm>;
  readonly containers: Repository<Container>;
  readonly users: Repository<User>;
  readonly apiTokens: Repository<ApiToken>;
  readonly dhcpSubnets: Repository<DhcpSubnet>;
  readonly dhcpReservations: Repository<DhcpReservation>;
  readonly audit: AuditLog;
  private readonly exec: Executor;

  constructor(
    readonly database: Database,
    private readonly options: InventoryOptions = {},
    private readonly listeners: Set<ChangeListener> = new Set(),
    bound?: TxScope,
  ) {
    const powerBudget = options.powerBudget ?? 'warn';
    const emit = (events: readonly ChangeEvent[]) => {
      if (events.length === 0) return;
      for (const l of listeners) {
        try {
          l(events);
        } catch {
          // A listener's failure is its own; the write has committed.
        }
      }
    };
    const resource = (name: string): ResourceDef => {
      const def = RESOURCE_BY_NAME.get(name);
      if (def === undefined) throw new TypeError(`unknown resource ${name}`);
      return def;
    };
    this.exec = {
      database,
      powerBudget,
      reader: bound?.db ?? database.readDb,
      resource,
      // Servers' DHCP reservations follow their primary interfaces in the same transaction.
      derived: new ReservationDerivation(database, resource, options.dhcpFile),
      async inTransaction<T>(fn: (tx: TxScope) => Promise<T>): Promise<T> {
        if (bound !== undefined) return fn(bound);
        const events: ChangeEvent[] = [];
        const result = await database.db.transaction().execute((trx) => fn({ db: trx as Kysely<DynamicDatabase>, events }));
        emit(events);
        return result;
      },
    };
    const repo = <T extends object>(name: string) => new Repository<T>(this.exec.resource(name), this.exec);
    this.tenants = repo('tenants');
    this.datacenters = repo('datacenters');
    this.racks = repo('racks');
    this.servers = repo('servers');
    this.serverInterfaces = repo('server_interfaces');
    this.storageSystems = repo('storage_systems');
    this.networkDevices = repo('network_devices');
    this.networkLinks = repo('network_links');
    this.vms = repo('vms');
    this.containers = repo('containers');
    this.users = repo('users');
    this.apiTokens = repo('api_tokens');
    this.dhcpSubnets = repo('dhcp_subnets');
    this.dhcpReservations = repo('dhcp_reservations');
    this.audit = new AuditLog(this.exec);
  }

  /** The repository serving a resource by table name (`servers`), for generic API routes. */
  repository(name: string): Repository<Record<string, unknown>> | undefined {
    if (!RESOURCE_BY_NAME.has(name)) return undefined;
    return new Repository(this.exec.resource(name), this.exec);
  }

  /**
   * Runs `fn` with an inventory bound to one transaction: every write inside
   * commits together (with its audit entries) or not at all; listeners hear
   * of the changes once, after the commit.
   */
  transaction<T>(fn: (inv: Inventory) => Promise<T>): Promise<T> {
    return this.exec.inTransaction((tx) => fn(new Inventory(this.database, this.options, this.listeners, tx)));
  }

  /** Called after each committed transaction with its changes; returns the unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function openInventory(database: Database, options: InventoryOptions = {}): Inventory {
  return new Inventory(database, options);
}

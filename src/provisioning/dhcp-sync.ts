import { sql } from 'kysely';
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import type { ResolvedDhcpConfig } from '../config/defaults.js';
import { ConfigError } from '../config/errors.js';
import type { DhcpConfig, SubnetConfig } from '../config/types.js';
import type { Inventory } from '../inventory/inventory.js';
import type { WriteContext } from '../inventory/repository.js';
import { composeDhcpConfig, composedProblems, fileDrift, reservationRow, resolveComposed, subnetRowConfig } from './dhcp-config.js';
import type { InventoryReservation, InventorySubnet } from './dhcp-config.js';

export interface DhcpInventoryOptions {
  readonly inventory: Inventory;
  readonly logger: Logger;
  readonly registry: Registry;
  /** The configuration file's dhcp section in force. */
  readonly file: () => DhcpConfig;
  /** Hands a composed configuration to the running service (DhcpServer.reload); throws when it is refused. */
  readonly apply: (config: ResolvedDhcpConfig) => Promise<void>;
  /** How long changes gather before one recomposition (ms). */
  readonly debounceMs?: number;
}

const SYSTEM: WriteContext = { user: 'system' };

/** A file subnet seeding writes: created, or replacing the inventory's copy (never written through the API). */
interface SeedStep {
  readonly subnet: SubnetConfig;
  readonly replaces: boolean;
  /** What differs from the inventory's copy it replaces. */
  readonly differs?: readonly string[];
}
const PAGE = 1000;
const noop = (): void => undefined;

/**
 * The DHCP service driven by the inventory: seeds the inventory from the
 * configuration file, composes the running configuration from both
 * (dhcp-config.ts) and applies it after every committed change to DHCP
 * subnets or reservations, so API writes take effect without a restart.
 *
 * Applies are debounced (a bulk import is one apply, not thousands),
 * serialized (one reload at a time, in order) and coalesced (changes that
 * arrive while one runs make one more run, which reads the database then).
 * A refused apply is logged and counted; the configuration in force keeps serving.
 */
export class DhcpInventory {
  private readonly log: Logger;
  private readonly applies: Counter<'outcome'>;
  private readonly debounceMs: number;
  private timer: NodeJS.Timeout | undefined;
  private timerFired: Promise<void> | undefined;
  private queued = false;
  private chain: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: DhcpInventoryOptions) {
    this.log = opts.logger.child({ svc: 'dhcp-inventory' });
    this.debounceMs = opts.debounceMs ?? 5;
    this.applies = new Counter({
      name: 'dcplane_dhcp_config_applies_total',
      help: 'DHCP configurations composed from the inventory and handed to the running service, by outcome (applied, failed)',
      labelNames: ['outcome'],
      registers: [opts.registry],
    });
  }

  /**
   * Brings the configuration file's subnets into the inventory (at start, on reload),
   * audited as user "system". The rule, for a subnet id:
   * - not in the inventory: seeded from the file, with its reservations;
   * - in the inventory and never written there by anyone but "system" since
   *   it was last created (a Kea user who edits the file): the file wins, the
   *   inventory copy is replaced by the file's (its reservations too;
   *   servers' derived ones stay);
   * - written through the API since (a NetBox/MAAS user): the inventory wins,
   *   and a differing file is logged as a warning naming the subnet, what
   *   differs, which copy is served and how to hand it back to the file.
   * A subnet the file seeded and no longer has is not deleted (a start
   * without --config would otherwise wipe them): it is served, with a warning.
   *
   * All or nothing with the start or reload it is part of: in one
   * transaction the file's subnets are written, and `use` is given the way
   * to compose the running configuration from the result (what the
   * transaction sees) to hand it to the services. Only once `use` returns
   * does the transaction commit. A subnet the inventory refuses (the error
   * names it and the field), a composition with problems or a refusal by
   * `use` rolls every write back: nothing is written or audited, no change
   * event goes out (so no apply follows with the file still in force), and
   * the error is thrown, refusing the start or reload.
   */
  async seed(file: DhcpConfig, use: (compose: () => Promise<ResolvedDhcpConfig>) => Promise<void> = async () => undefined): Promise<void> {
    const inv = this.opts.inventory;
    const plan = await inv.transaction(async (tx) => {
      const p = await this.plan(tx, file);
      for (const step of p.steps) {
        try {
          await this.write(tx, file, step, p.reservations);
        } catch (err) {
          throw new Error(`dhcp subnet ${step.subnet.id} (${step.subnet.subnet}) of the configuration file cannot be put into the inventory: ${(err as Error).message}`, { cause: err });
        }
      }
      await use(() => this.compose(file, tx));
      return p;
    });
    for (const step of plan.steps) this.logWritten(step);
    await this.warnRemoved(inv, file, plan.subnets);
  }

  /** A SIGHUP reload's seeding: seed(), all or nothing with the services' reload. */
  async reload(file: DhcpConfig, use: (compose: () => Promise<ResolvedDhcpConfig>) => Promise<void>): Promise<void> {
    await this.seed(file, use);
  }

  /** What seeding `file` writes, as `inv` reads the inventory; differing file subnets the API owns are only warned about. */
  private async plan(inv: Inventory, file: DhcpConfig): Promise<{ steps: SeedStep[]; subnets: InventorySubnet[]; reservations: InventoryReservation[] }> {
    const { subnets, reservations } = await this.read(inv);
    const stored = new Map(subnets.map((s) => [s.id, s]));
    const drift = new Map(fileDrift(file, subnets, reservations).map((d) => [d.id, d]));
    const steps: SeedStep[] = [];
    for (const s of file.subnets ?? []) {
      const had = stored.get(s.id);
      const d = drift.get(s.id);
      if (had !== undefined && d === undefined) continue;
      if (had !== undefined && d !== undefined && (await this.changedThroughApi(inv, s.id))) {
        this.log.warn(
          { subnet_id: s.id, subnet: s.subnet, differs: d.differs },
          `dhcp subnet ${s.id} (${s.subnet}) in the configuration file differs from the inventory's copy (${d.differs.join(', ')}), which was changed through the API; the inventory's copy is served. ` +
            `Change it with PATCH /api/v1/dhcp/subnets/${s.id}, or to hand it back to the file delete it there (DELETE /api/v1/dhcp/subnets/${s.id}?cascade=true) and restart or reload: it is seeded from the file again`,
        );
        continue;
      }
      steps.push({ subnet: s, replaces: had !== undefined, ...(d === undefined ? {} : { differs: d.differs }) });
    }
    return { steps, subnets, reservations };
  }

  private async write(tx: Inventory, file: DhcpConfig, step: SeedStep, reservations: readonly InventoryReservation[]): Promise<void> {
    const s = step.subnet;
    if (!step.replaces) await tx.dhcpSubnets.create({ id: s.id, subnet: s.subnet, config: subnetRowConfig(s, file) }, SYSTEM);
    else {
      // Reservations first: the file's new pools may take in an address one of the old ones holds.
      const manual = reservations.filter((r) => r.subnet_id === s.id && (r.server_id ?? null) === null && r.id !== undefined).map((r) => r.id as number);
      if (manual.length > 0) await tx.dhcpReservations.bulkDelete(manual, { cascade: false }, SYSTEM);
      await tx.dhcpSubnets.update(s.id, { subnet: s.subnet, config: subnetRowConfig(s, file) }, {}, SYSTEM);
    }
    const rows = (s.reservations ?? []).map((r): Record<string, unknown> => ({ ...reservationRow(r, s.id) }));
    if (rows.length > 0) await tx.dhcpReservations.bulkCreate(rows, SYSTEM);
  }

  private logWritten(step: SeedStep): void {
    const s = step.subnet;
    const what = step.replaces ? 'updated in the inventory from the configuration file (never changed through the API)' : 'seeded into the inventory from the configuration file';
    this.log.info({ subnet_id: s.id, subnet: s.subnet, reservations: s.reservations?.length ?? 0, ...(step.differs === undefined ? {} : { differs: step.differs }) }, `dhcp subnet ${what}`);
  }

  private async warnRemoved(inv: Inventory, file: DhcpConfig, subnets: readonly InventorySubnet[]): Promise<void> {
    const inFile = new Set((file.subnets ?? []).map((s) => s.id));
    for (const s of subnets) {
      if (inFile.has(s.id) || (await this.lastCreated(inv, s.id))?.user !== SYSTEM.user) continue;
      this.log.warn(
        { subnet_id: s.id, subnet: s.subnet },
        `dhcp subnet ${s.id} (${s.subnet}) was seeded from the configuration file, which no longer has it; it is still served. Delete it with DELETE /api/v1/dhcp/subnets/${s.id}?cascade=true to stop serving it`,
      );
    }
  }

  /**
   * Has anyone but "system" written this subnet, or a reservation of its own
   * (not derived from a server) in it, since the subnet was last created? A
   * subnet deleted through the API and seeded again is the file's again.
   * Exact however long the audit log: the subnet's entries are found by its
   * id (indexed); its reservations' by the subnet id their snapshots hold
   * before and after the write (a reservation deleted, or moved to another
   * subnet, through the API counts for the subnet it was in).
   */
  private async changedThroughApi(inv: Inventory, subnetId: number): Promise<boolean> {
    const since = (await this.lastCreated(inv, subnetId))?.id ?? 0;
    const notSystem = { field: 'user', lookup: 'n' as const, value: SYSTEM.user };
    const subnet = await inv.audit.list({ filters: [{ field: 'object_type', value: 'dhcp_subnet' }, { field: 'object_id', value: subnetId }, { field: 'id', lookup: 'gte', value: since }, notSystem], limit: 1 });
    if (subnet.rows.length > 0) return true;
    const { dialect, readDb } = inv.database;
    const at = (col: 'before' | 'after', key: string) =>
      dialect.name === 'postgres' ? sql`(${sql.ref(col)} ->> ${sql.lit(key)})` : sql`json_extract(${sql.ref(col)}, ${sql.lit(`$.${key}`)})`;
    const own = (col: 'before' | 'after') => sql`(cast(${at(col, 'subnet_id')} as integer) = ${subnetId} and ${at(col, 'server_id')} is null)`;
    const user = sql.ref('user');
    const r = await sql<{ id: number }>`select id from audit_log where object_type = 'dhcp_reservation' and id > ${since} and (${user} is null or ${user} <> ${SYSTEM.user}) and (${own('before')} or ${own('after')}) limit 1`.execute(readDb);
    return r.rows.length > 0;
  }

  /** The audit entry of the subnet's latest creation (the seed's is user "system"). */
  private async lastCreated(inv: Inventory, subnetId: number): Promise<{ id: number; user: string | null } | undefined> {
    const created = await inv.audit.list({ filters: [{ field: 'object_type', value: 'dhcp_subnet' }, { field: 'object_id', value: subnetId }, { field: 'action', value: 'create' }], ordering: ['-id'], limit: 1 });
    return created.rows[0];
  }

  /** The running configuration: the file's dhcp section with the inventory's subnets. Throws ConfigError when invalid. */
  async compose(file: DhcpConfig, inv: Inventory = this.opts.inventory): Promise<ResolvedDhcpConfig> {
    const { subnets, reservations } = await this.read(inv);
    const composed = composeDhcpConfig(file, subnets, reservations);
    // dhcp.subnets[k] is the inventory's k-th subnet by id, not the file's: say which, and where to change it.
    const problems = composedProblems(composed).map((p) => {
      const id = composed.subnets?.[Number(/^dhcp\.subnets\[(\d+)\]/.exec(p.path)?.[1] ?? -1)]?.id;
      return id === undefined ? p : { ...p, message: `${p.message} (the inventory's subnet ${id}: /api/v1/dhcp/subnets/${id})` };
    });
    if (problems.length > 0) throw new ConfigError('DHCP configuration composed from the inventory', problems);
    return resolveComposed(composed);
  }

  /** Starts following inventory changes. */
  start(): void {
    this.unsubscribe ??= this.opts.inventory.onChange((events) => {
      if (events.some((e) => e.object_type === 'dhcp_subnet' || e.object_type === 'dhcp_reservation')) this.schedule();
    });
  }

  /** Runs `fn` between applies (a SIGHUP reload), so no apply reads a half-changed state. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.then(noop, noop);
    return run;
  }

  /** Resolves once every change seen so far has been applied (or refused). */
  async settled(): Promise<void> {
    for (;;) {
      if (this.timerFired !== undefined) await this.timerFired;
      const c = this.chain;
      await c;
      if (this.timer === undefined && c === this.chain) return;
    }
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.unsubscribe === undefined) return;
    this.timerFired = new Promise((resolve) => {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.timerFired = undefined;
        if (!this.queued) {
          this.queued = true;
          this.chain = this.chain.then(() => {
            // Reset before reading: a change committed from here on makes one more run.
            this.queued = false;
            return this.applyNow();
          });
        }
        resolve();
      }, this.debounceMs);
    });
  }

  private async applyNow(): Promise<void> {
    try {
      const config = await this.compose(this.opts.file());
      await this.opts.apply(config);
      this.applies.inc({ outcome: 'applied' });
      this.log.info({ subnets: config.subnets.length, reservations: config.subnets.reduce((n, s) => n + s.reservations.length, 0) }, 'dhcp configuration from the inventory applied');
    } catch (err) {
      this.applies.inc({ outcome: 'failed' });
      const problems = err instanceof ConfigError ? err.problems : undefined;
      this.log.error({ err, problems }, `dhcp configuration from the inventory not applied; the running configuration keeps serving: ${(err as Error).message}`);
    }
  }

  /** Every subnet and reservation, read by id pages. */
  private async read(inv: Inventory): Promise<{ subnets: InventorySubnet[]; reservations: InventoryReservation[] }> {
    const subnets: InventorySubnet[] = [];
    for (let last = 0; ; ) {
      const page = await inv.dhcpSubnets.list({ filters: [{ field: 'id', lookup: 'gt', value: last }], ordering: ['id'], limit: PAGE });
      for (const r of page.rows) subnets.push({ id: r.id, subnet: r.subnet, config: (r.config ?? {}) as Record<string, unknown> });
      if (page.rows.length < PAGE) break;
      last = page.rows[page.rows.length - 1]!.id;
    }
    const reservations: InventoryReservation[] = [];
    for (let last = 0; ; ) {
      const page = await inv.dhcpReservations.list({ filters: [{ field: 'id', lookup: 'gt', value: last }], ordering: ['id'], limit: PAGE });
      for (const r of page.rows) reservations.push({ id: r.id, subnet_id: r.subnet_id, mac: r.mac, client_id: r.client_id, ip: r.ip, hostname: r.hostname, server_id: r.server_id });
      if (page.rows.length < PAGE) break;
      last = page.rows[page.rows.length - 1]!.id;
    }
    return { subnets, reservations };
  }
}

import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import type { ResolvedDhcpConfig } from '../config/defaults.js';
import { ConfigError } from '../config/errors.js';
import type { DhcpConfig } from '../config/types.js';
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
   * Puts each file subnet (with its reservations) into the inventory when
   * the inventory has no subnet with its id, audited as user "system". The
   * inventory's copy is the one served from then on: a file subnet that
   * differs from it is logged, naming what differs and how to change it.
   */
  async seed(file: DhcpConfig): Promise<void> {
    const inv = this.opts.inventory;
    for (const s of file.subnets ?? []) {
      if ((await inv.dhcpSubnets.get(s.id)) !== undefined) continue;
      try {
        await inv.transaction(async (tx) => {
          await tx.dhcpSubnets.create({ id: s.id, subnet: s.subnet, config: subnetRowConfig(s, file) }, SYSTEM);
          const reservations = (s.reservations ?? []).map((r): Record<string, unknown> => ({ ...reservationRow(r, s.id) }));
          if (reservations.length > 0) await tx.dhcpReservations.bulkCreate(reservations, SYSTEM);
        });
        this.log.info({ subnet_id: s.id, subnet: s.subnet, reservations: s.reservations?.length ?? 0 }, 'dhcp subnet seeded into the inventory from the configuration file');
      } catch (err) {
        this.log.warn({ err, subnet_id: s.id, subnet: s.subnet }, `dhcp subnet ${s.id} (${s.subnet}) of the configuration file could not be seeded into the inventory and is not served: ${(err as Error).message}`);
      }
    }
    const { subnets, reservations } = await this.read();
    for (const d of fileDrift(file, subnets, reservations)) {
      this.log.warn(
        { subnet_id: d.id, subnet: d.subnet, differs: d.differs },
        `dhcp subnet ${d.id} (${d.subnet}) in the configuration file differs from the inventory's copy (${d.differs.join(', ')}); the inventory's copy is served. ` +
          `The file seeds a subnet only while the inventory has none with its id: change it with PATCH /api/v1/dhcp/subnets/${d.id}, or delete it there (with its reservations) and restart or reload to seed it from the file again`,
      );
    }
  }

  /** The running configuration: the file's dhcp section with the inventory's subnets. Throws ConfigError when invalid. */
  async compose(file: DhcpConfig): Promise<ResolvedDhcpConfig> {
    const { subnets, reservations } = await this.read();
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
  private async read(): Promise<{ subnets: InventorySubnet[]; reservations: InventoryReservation[] }> {
    const inv = this.opts.inventory;
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

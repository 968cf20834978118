import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { ResolvedConfig } from './config/defaults.js';
import type { DhcpConfig } from './config/types.js';
import { createLogger } from './common/logger.js';
import type { Logger } from './common/logger.js';
import { createRegistry } from './common/metrics.js';
import { lockDataDir } from './common/data-dir-lock.js';
import { DhcpServer } from './dhcp/server.js';
import type { LeaseStore } from './dhcp/lease.js';
import { openLeaseStore } from './dhcp/lease-store/open-lease-store.js';
import { bootstrapAdmin } from './auth/bootstrap.js';
import { DbAuthStore } from './auth/db-auth-store.js';
import { PasswordHasher } from './auth/passwords.js';
import { LoginRateLimiter } from './auth/rate-limit.js';
import { loadOrCreateSecret } from './auth/tokens.js';
import type { Database } from './db/database.js';
import { openDatabase } from './db/open-database.js';
import { buildApi, parseListen } from './http/api.js';
import { dhcpPoolsFromRegistry } from './http/dashboard.js';
import type { DhcpPoolSample } from './http/dashboard.js';
import { EventHub } from './http/event-hub.js';
import { openInventory } from './inventory/inventory.js';
import { DhcpInventory } from './provisioning/dhcp-sync.js';
import { registerBootFiles, httpBaseFromIpxeUrl } from './provisioning/boot-files.js';
import { TftpServer } from './tftp/server.js';
import { VERSION } from './version.js';

/** A running dcplane process: every service its configuration enables. */
export class Dcplane {
  private dhcp: DhcpServer | undefined;
  private tftp: TftpServer | undefined;
  private store: LeaseStore | undefined;
  private api: FastifyInstance | undefined;
  private inventoryDb: Database | undefined;
  private unlock: (() => void) | undefined;
  private dhcpInventory: DhcpInventory | undefined;
  /** The file's dhcp section that inventory writes must compose with: the one in force, or the one a reload is applying. */
  private dhcpFileForWrites: DhcpConfig;
  /** Live events for the WebSocket at /api/v1/ws: inventory changes, TFTP transfers and (once DHCP publishes to it) lease events. */
  readonly events = new EventHub();

  private constructor(
    private config: ResolvedConfig,
    readonly logger: Logger,
    readonly registry: Registry,
  ) {
    this.dhcpFileForWrites = config.dhcp;
  }

  static async start(config: ResolvedConfig, logger: Logger = createLogger(config.log.level)): Promise<Dcplane> {
    const app = new Dcplane(config, logger, createRegistry());
    try {
      await app.startServices();
    } catch (err) {
      await app.stop();
      throw err;
    }
    return app;
  }

  get dataDir(): string {
    return resolve(this.config.data_dir);
  }

  private async startServices(): Promise<void> {
    const c = this.config;
    mkdirSync(this.dataDir, { recursive: true });
    this.unlock = lockDataDir(this.dataDir);
    // The inventory database (migrated at start), users and tokens over it, and the first admin on a first start.
    // Before the network services, so that admin's argon2 hash does not sit between "dhcp ready" and a listening API.
    this.inventoryDb = await openDatabase(c.database, this.dataDir);
    const inventory = openInventory(this.inventoryDb, { dhcpFile: () => this.dhcpFileForWrites });
    // DHCP subnets live in the inventory: the file seeds those it lacks, then the inventory's copy is served (dhcp-sync.ts).
    const dhcpInventory = new DhcpInventory({
      inventory,
      logger: this.logger,
      registry: this.registry,
      file: () => this.config.dhcp,
      apply: async (config) => this.dhcp?.reload(config),
    });
    this.dhcpInventory = dhcpInventory;
    // Ahead of the seeding transaction below (on SQLite the auth store's writes would wait behind it).
    const authStore = new DbAuthStore(this.inventoryDb);
    const hasher = new PasswordHasher();
    const boot = await bootstrapAdmin({ store: authStore, hasher, dataDir: this.dataDir });
    if (boot.created) this.logger.warn({ username: boot.user.username, source: boot.source, password_file: boot.passwordFile }, 'created the first admin user');
    const tokens = { secret: await loadOrCreateSecret(this.dataDir) };
    // Requests that reach the API before the start has committed wait for it (they would not see the file's
    // subnets yet); if the start is refused they are answered 503 while the API closes.
    let started: (ok: boolean) => void = () => undefined;
    const startCommitted = new Promise<boolean>((resolveStart) => (started = resolveStart));
    // All or nothing, as a reload: the file's subnets are seeded in a transaction that commits only once every
    // service has started with them and the API listens, so a start refused by the inventory, the composition,
    // DHCP, TFTP or the API's address leaves nothing written.
    try {
      await dhcpInventory.seed(c.dhcp, async (compose) => {
        if (c.dhcp.enabled) {
          this.store = await openLeaseStore({ dataDir: this.dataDir, database: c.database, commitDelayMs: c.dhcp.commit_delay_ms });
          this.dhcp = await DhcpServer.start({ config: await compose(), store: this.store, logger: this.logger, registry: this.registry, onEvent: (ev) => this.events.publishLease(ev) });
        } else {
          this.logger.info('dhcp disabled (set dhcp.enabled and name dhcp.interfaces in the configuration to serve)');
        }
        if (c.tftp.enabled) {
          this.tftp = await TftpServer.start({ config: c.tftp, logger: this.logger, registry: this.registry, ipxeUrl: c.dhcp.boot?.ipxe });
          this.tftp.onTransfer((phase, rec) => this.events.publishTransfer(phase, rec));
          // Per-host pxelinux/GRUB files from each server's boot profile (src/provisioning/boot-files.ts).
          registerBootFiles(this.tftp.generated, inventory, { httpBase: () => httpBaseFromIpxeUrl(this.config.dhcp.boot?.ipxe) });
        } else {
          this.logger.info('tftp disabled (set tftp.enabled in the configuration to serve)');
        }
        this.api = await buildApi({
          logger: this.logger,
          registry: this.registry,
          leases: () => this.store,
          services: () => ({ dhcp: this.dhcp === undefined ? 'disabled' : this.dhcp.failed !== undefined ? 'failed' : 'running', tftp: this.tftp !== undefined ? 'running' : 'disabled' }),
          tftpTransfers: () => this.tftp?.transfersList() ?? [],
          dhcpPools: () => this.dhcpPools(),
          events: this.events,
          version: VERSION,
          inventory,
          auth: { store: authStore, hasher, tokens, rateLimiter: new LoginRateLimiter() },
        });
        this.api.addHook('onRequest', async (_req, reply) => {
          if (!(await startCommitted)) return reply.code(503).send({ code: 'API_ERR_INTERNAL', message: 'dcplane is not running: its start was refused', errors: [] });
          return undefined;
        });
        const { host, port } = parseListen(c.api.listen);
        await this.api.listen({ host, port });
      });
    } catch (err) {
      started(false);
      throw err;
    }
    // After the commit: the seed's own changes need no apply, the API's from now on do.
    dhcpInventory.start();
    started(true);
    this.logger.info({ listen: c.api.listen, data_dir: this.dataDir }, 'api ready');
  }

  /** Pool utilisation of the running DHCP service, for the dashboard; undefined when DHCP is off. */
  async dhcpPools(): Promise<DhcpPoolSample[] | undefined> {
    return this.dhcp === undefined ? undefined : dhcpPoolsFromRegistry(this.registry);
  }

  /** Waits until every inventory change so far has reached the running DHCP service (tests, tools). */
  async dhcpSettled(): Promise<void> {
    await this.dhcpInventory?.settled();
  }

  /**
   * Applies a new configuration without a restart; leases are kept. Services turned on or off need a restart.
   * DHCP runs the new file's dhcp section composed with the inventory's subnets (new file subnets seeded first).
   * All or nothing: the file's subnets are seeded in a transaction that commits only once every service has
   * taken the new configuration, so a refused reload leaves the inventory as it was, too.
   */
  async reload(config: ResolvedConfig): Promise<void> {
    this.refuseRestartOnlyChanges(config);
    const sync = this.dhcpInventory;
    if (sync === undefined) return this.reloadServices(config, config.dhcp);
    // Between inventory applies, so none of them runs with half of the new configuration.
    return sync.exclusive(async () => {
      const previous = this.config;
      let switched = false;
      this.dhcpFileForWrites = config.dhcp;
      try {
        await sync.reload(config.dhcp, async (compose) => {
          await this.reloadServices(config, this.dhcp === undefined ? config.dhcp : await compose());
          switched = true;
        });
      } catch (err) {
        // The services took the new configuration but its seeding did not commit: back to the one in force.
        if (switched) await this.revert(previous, sync);
        throw err;
      } finally {
        this.dhcpFileForWrites = this.config.dhcp;
      }
    });
  }

  private async revert(previous: ResolvedConfig, sync: DhcpInventory): Promise<void> {
    try {
      await this.reloadServices(previous, this.dhcp === undefined ? previous.dhcp : await sync.compose(previous.dhcp));
    } catch (err) {
      this.logger.error({ err }, 'the services could not return to the running configuration after a reload whose inventory changes did not commit');
    }
  }

  private refuseRestartOnlyChanges(config: ResolvedConfig): void {
    if (
      config.dhcp.enabled !== this.config.dhcp.enabled ||
      config.tftp.enabled !== this.config.tftp.enabled ||
      config.database !== this.config.database ||
      config.api.listen !== this.config.api.listen
    ) {
      throw new Error('enabling/disabling DHCP or TFTP, or changing database or api.listen, needs a restart');
    }
  }

  private async reloadServices(config: ResolvedConfig, dhcp: ResolvedConfig['dhcp']): Promise<void> {
    // All or nothing: each service switches only once its new sockets are bound, and if DHCP then refuses,
    // TFTP goes back to the configuration still in force, so a refused reload changes nothing.
    const previous = this.config;
    if (this.tftp !== undefined) await this.tftp.reload(config.tftp, config.dhcp.boot?.ipxe);
    try {
      if (this.dhcp !== undefined) await this.dhcp.reload(dhcp);
    } catch (err) {
      await this.tftp?.reload(previous.tftp, previous.dhcp.boot?.ipxe).catch((e: unknown) => {
        this.logger.error({ err: e }, 'tftp could not return to the running configuration after a refused reload');
      });
      throw err;
    }
    this.config = config;
  }

  async stop(): Promise<void> {
    this.dhcpInventory?.stop();
    this.dhcpInventory = undefined;
    await this.api?.close();
    await this.tftp?.stop();
    await this.dhcp?.stop();
    await this.store?.close();
    await this.inventoryDb?.close();
    this.inventoryDb = undefined;
    this.api = undefined;
    this.tftp = undefined;
    this.dhcp = undefined;
    this.store = undefined;
    this.unlock?.();
    this.unlock = undefined;
  }
}

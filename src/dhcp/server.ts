import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DhcpConfig } from '../config/types.js';
import { formatIpv4 } from '../net/ipv4.js';
import { interfaceAddresses, interfaceExists } from '../net/interfaces.js';
import { decodePacket, messageTypeOf, peekMessageType } from './codec.js';
import { MessageType } from './constants.js';
import { DhcpEngine, compileDhcpConfig } from './engine.js';
import type { EngineEvent, EngineOutcome, InterfaceInfo, ReplyDestination } from './engine.js';
import { DhcpDecodeError } from './errors.js';
import { LeaseErrorCode } from './lease-store/errors.js';
import type { LeaseStore } from './lease.js';
import { DhcpMetrics } from './metrics.js';
import { DhcpTransport, DhcpTransportError } from './transport.js';
import type { DhcpPacket } from './packet.js';

/** The longest delay setInterval honours (2^31-1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

const fatalListeners = new Set<(err: Error) => void>();

/**
 * Called when a DHCP server can no longer serve (its lease store's writer
 * died): the process should stop non-zero so that its supervisor restarts
 * it. Returns an unsubscribe function.
 */
export function onDhcpFatal(listener: (err: Error) => void): () => void {
  fatalListeners.add(listener);
  return () => {
    fatalListeners.delete(listener);
  };
}

function isWriterDeath(err: unknown): err is Error {
  return err instanceof Error && (err as { code?: unknown }).code === LeaseErrorCode.WRITER_DIED;
}

export interface DhcpServerOptions {
  readonly config: DhcpConfig;
  readonly store: LeaseStore;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Told of every handled request's lease event once it stands (after its commit, for durable ones): the live view. */
  readonly onEvent?: (ev: EngineEvent) => void;
}

/**
 * The DHCP service: the thin shell around the pure engine. It owns the
 * sockets, the clock and the reclamation timer; the engine decides, the
 * lease store makes decisions durable, and only then does a reply leave
 * (PRODUCT.md: "a lease is on disk before its DHCPACK leaves").
 */
export class DhcpServer {
  private engine: DhcpEngine;
  private config: DhcpConfig;
  private transport: DhcpTransport | undefined;
  private readonly interfaces = new Map<string, InterfaceInfo>();
  private addressesReadAt = 0;
  private reclaimTimer: NodeJS.Timeout | undefined;
  private readonly metrics: DhcpMetrics;
  private readonly store: LeaseStore;
  private readonly log: Logger;
  private lastExhaustLog = 0;
  private trimLogged = false;
  private stopped = false;
  private failure: Error | undefined;
  private readonly unsubscribeCommits: () => void;
  private readonly onEvent: ((ev: EngineEvent) => void) | undefined;
  /** Shared by every apply() whose changes need no disk: an error there is only logged. */
  private readonly onStoreFailure = (err: unknown): void => {
    if (isWriterDeath(err)) this.fail(err);
    else this.log.error({ err }, 'lease store failed');
  };
  /** Shared by every apply() whose reply waits for the disk. */
  private readonly onNotDurable = (err: unknown): void => {
    // Not on disk: the reply must not leave. The client retries.
    this.metrics.dropped('store_error');
    if (isWriterDeath(err)) this.fail(err);
    else this.log.error({ err }, 'lease not made durable; reply withheld');
  };

  private constructor(opts: DhcpServerOptions) {
    this.config = opts.config;
    this.onEvent = opts.onEvent;
    this.engine = new DhcpEngine(compileDhcpConfig(opts.config));
    this.store = opts.store;
    this.log = opts.logger.child({ svc: 'dhcp' });
    this.metrics = new DhcpMetrics(opts.registry, () =>
      this.engine.poolUsage(this.store.all(), Math.floor(Date.now() / 1000)).map((u) => ({ subnetId: u.subnetId, pool: u.range, total: u.total, used: u.used })),
    );
    // Observed per commit, not per reply: one commit makes a whole group of replies durable.
    this.unsubscribeCommits = this.store.onCommit((e) => {
      if (!e.ok) return;
      this.metrics.commitSeconds.observe(e.durationMs / 1000);
      this.metrics.commitBatch.observe(e.rows);
    });
  }

  static async start(opts: DhcpServerOptions): Promise<DhcpServer> {
    const server = new DhcpServer(opts);
    server.refreshInterfaces();
    server.transport = await server.openTransport(server.config);
    server.scheduleReclaim();
    server.log.info(
      { interfaces: server.config.interfaces ?? [], port: server.config.port ?? 67, leases: countOf(server.store.all()) },
      'dhcp ready',
    );
    return server;
  }

  /**
   * Applies a new (already validated) configuration; leases are kept. All or
   * nothing: when it throws, the configuration, engine and sockets in force
   * before it still serve (the caller says so). New sockets cannot be opened
   * beside the old ones (no SO_REUSEADDR: one socket per device and port),
   * so interfaces are checked first, the old sockets closed, the new ones
   * opened, and on failure the old ones opened again.
   */
  async reload(config: DhcpConfig): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    const engine = new DhcpEngine(compileDhcpConfig(config));
    const sameSockets = this.transport !== undefined &&
      JSON.stringify(config.interfaces ?? []) === JSON.stringify(this.config.interfaces ?? []) &&
      (config.port ?? 67) === (this.config.port ?? 67);
    if (!sameSockets) {
      for (const name of config.interfaces ?? []) {
        if (!interfaceExists(name)) throw new DhcpTransportError('DHCP_ERR_NO_INTERFACE', name, `interface ${name} does not exist in this network namespace`);
      }
      const old = this.transport;
      this.transport = undefined;
      old?.close();
      try {
        this.transport = await this.openTransport(config);
      } catch (err) {
        try {
          this.transport = await this.openTransport(this.config);
        } catch (again) {
          // Not even the old sockets: nothing is served. A later SIGHUP tries again (sameSockets is false without a transport).
          this.log.fatal({ err: again, interfaces: this.config.interfaces ?? [] }, 'dhcp sockets could not be reopened after a refused reload: DHCP is not served');
        }
        throw err;
      }
    }
    this.engine = engine;
    this.config = config;
    this.refreshInterfaces();
    this.scheduleReclaim();
    this.log.info({ interfaces: config.interfaces ?? [] }, 'dhcp configuration reloaded');
  }

  /** Why the service stopped serving on its own (its lease store can no longer write); undefined while it serves. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /**
   * The lease store can write nothing more, so no lease can be granted or
   * made durable: answering on would offer one address to many clients and
   * withhold every ACK. Stop answering at once, say so loudly, and let the
   * process stop non-zero so that systemd or Kubernetes restarts it (a new
   * process reloads what is on disk).
   */
  private fail(err: Error): void {
    if (this.failure !== undefined || this.stopped) return;
    this.failure = err;
    this.metrics.storeUp.set(0);
    if (this.reclaimTimer !== undefined) clearInterval(this.reclaimTimer);
    this.transport?.close();
    this.transport = undefined;
    this.log.fatal({ err }, 'lease store can no longer write: DHCP stops answering; the process must be restarted');
    if (fatalListeners.size === 0) process.exitCode = 1;
    for (const l of fatalListeners) {
      try {
        l(err);
      } catch (e) {
        this.log.error({ err: e }, 'dhcp fatal listener failed');
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribeCommits();
    if (this.reclaimTimer !== undefined) clearInterval(this.reclaimTimer);
    this.transport?.close();
    this.transport = undefined;
  }

  private refreshInterfaces(): void {
    this.interfaces.clear();
    this.addressesReadAt = Date.now();
    for (const name of this.config.interfaces ?? []) {
      this.interfaces.set(name, { name, addresses: interfaceAddresses(name) });
    }
  }

  /**
   * The interface a packet came in on, with its addresses. Addresses are read
   * again when they may have changed: at most once a second when the
   * interface had none (a link without carrier at start shows no address),
   * and every 30 s otherwise, so renumbering needs no restart.
   */
  private interfaceFor(name: string, nowMs: number): InterfaceInfo | undefined {
    const iface = this.interfaces.get(name);
    if (iface === undefined) return undefined;
    const age = nowMs - this.addressesReadAt;
    if (age > 30_000 || (iface.addresses.length === 0 && age > 1_000)) {
      this.refreshInterfaces();
      return this.interfaces.get(name);
    }
    return iface;
  }

  private openTransport(config: DhcpConfig): Promise<DhcpTransport> {
    return DhcpTransport.open({
      interfaces: config.interfaces ?? [],
      port: config.port ?? 67,
      onPacket: (msg, info) => {
        // Behind the offered load: a DISCOVER starts an exchange the server may not finish, a REQUEST finishes one.
        // Shedding DISCOVERs unread leaves the CPU to the REQUESTs (Kea drops them by age; this drops them by backlog).
        if (info.backlogged && peekMessageType(msg) === MessageType.DISCOVER) this.metrics.dropped('overload_discover');
        else this.onPacket(msg, info.iface, info.sourceIp, info.sourcePort);
      },
      onError: (err, iface) => {
        if ((err as { handler?: unknown }).handler === true) {
          this.metrics.dropped('handler_error');
          this.log.error({ err, iface }, 'dhcp packet handling failed; the service goes on');
        } else this.log.error({ err, iface }, 'dhcp socket error');
      },
    });
  }

  private scheduleReclaim(): void {
    if (this.reclaimTimer !== undefined) clearInterval(this.reclaimTimer);
    // Node turns a delay above 2^31-1 ms into 1 ms: a huge interval would reclaim a thousand times a second.
    const every = Math.min((this.config.reclaim_interval ?? 10) * 1000, MAX_TIMER_MS);
    this.reclaimTimer = setInterval(() => this.reclaim(), every);
    this.reclaimTimer.unref();
  }

  /** Reclaims leases past their end, a bounded batch at a time. */
  reclaim(now: number = Math.floor(Date.now() / 1000)): void {
    const dead = this.store.failure;
    if (dead !== undefined) {
      this.fail(dead);
      return;
    }
    const expired = this.store.expiredBefore(now, 5000, { includeOffers: true });
    if (expired.length === 0) return;
    const changes = this.engine.reclaim(expired, now);
    if (changes.length === 0) return;
    this.store.apply(changes).then(
      () => this.log.debug({ count: changes.length }, 'leases reclaimed'),
      (err: unknown) => {
        if (isWriterDeath(err)) this.fail(err);
        else this.log.error({ err }, 'lease reclamation failed; will retry');
      },
    );
  }

  private onPacket(msg: Buffer, ifaceName: string, sourceIp: number, sourcePort: number): void {
    if (this.stopped || this.failure !== undefined) return;
    // Checked before anything is answered: a dead store refuses even the non-durable offer, whose reply would not wait for it.
    const dead = this.store.failure;
    if (dead !== undefined) {
      this.metrics.dropped('store_failed');
      this.fail(dead);
      return;
    }
    let req: DhcpPacket;
    try {
      req = decodePacket(msg);
    } catch (err) {
      if (err instanceof DhcpDecodeError) {
        this.metrics.dropped(err.reason);
        return;
      }
      throw err;
    }
    this.metrics.received(messageTypeOf(req));
    const nowMs = Date.now();
    const iface = this.interfaceFor(ifaceName, nowMs);
    if (iface === undefined) {
      this.metrics.dropped('unknown_interface');
      return;
    }
    let outcome: EngineOutcome;
    try {
      outcome = this.engine.handle(req, { iface, sourceIp, sourcePort, now: Math.floor(nowMs / 1000) }, this.store);
    } catch (err) {
      // An engine bug must not take the service down: count, log, keep serving.
      this.metrics.dropped('engine_error');
      this.log.error({ err, iface: ifaceName }, 'dhcp engine failed on a packet');
      return;
    }
    if (outcome.kind === 'drop') {
      this.metrics.dropped(outcome.reason);
      return;
    }
    const ev = outcome.event;
    this.metrics.event(ev.kind, ev.subnetId);
    if (ev.kind === 'exhausted') this.onExhausted(ev.subnetId, ev.mac);
    else if (this.log.isLevelEnabled('debug')) {
      this.log.debug({ event: ev.kind, ip: ev.ip !== undefined ? formatIpv4(ev.ip) : undefined, mac: ev.mac, subnet: ev.subnetId, reason: ev.reason }, 'lease event');
    }

    if (outcome.kind === 'reply' && outcome.dropped.length > 0) this.onTrimmed(outcome.dropped, ev.subnetId);
    const changes = outcome.changes;
    const publish = this.onEvent;
    if (changes.length === 0) {
      if (outcome.kind === 'reply') this.sendReply(ifaceName, outcome.bytes, outcome.dest, outcome.reply);
      publish?.(ev);
      return;
    }
    let durable = false;
    for (const c of changes) if (c.durable) durable = true;
    const done = this.store.apply(changes);
    if (!durable) {
      if (outcome.kind === 'reply') this.sendReply(ifaceName, outcome.bytes, outcome.dest, outcome.reply);
      publish?.(ev);
      done.catch(this.onStoreFailure);
      return;
    }
    if (outcome.kind === 'reply') {
      done.then(() => {
        this.sendReply(ifaceName, outcome.bytes, outcome.dest, outcome.reply);
        publish?.(ev);
      }, this.onNotDurable);
    } else done.then(() => publish?.(ev), this.onNotDurable);
  }

  /** `bytes` is the engine's encoding of `reply`, made (and fitted to the client's size) before any lease changed. */
  private sendReply(iface: string, bytes: Buffer, dest: ReplyDestination, reply: DhcpPacket): void {
    const transport = this.transport;
    if (transport === undefined) return;
    try {
      transport.send(iface, bytes, dest);
      this.metrics.sent(messageTypeOf(reply));
    } catch (err) {
      this.metrics.sendError(iface);
      this.log.warn({ err, iface }, 'reply not sent');
    }
  }

  /** Options left out of a reply that would not fit: counted always, logged once, since one configuration does it to every such client. */
  private onTrimmed(dropped: readonly number[], subnetId: number | undefined): void {
    this.metrics.repliesTrimmed.inc();
    if (this.trimLogged) return;
    this.trimLogged = true;
    this.log.warn(
      { subnet: subnetId, dropped },
      'a reply did not fit the client\'s maximum message size: options left out (logged once; see dcplane_dhcp_replies_trimmed_total). Shorten large option values or have clients send option 57',
    );
  }

  private onExhausted(subnetId: number | undefined, mac: string): void {
    this.metrics.exhausted(subnetId);
    const now = Date.now();
    if (now - this.lastExhaustLog > 10_000) {
      this.lastExhaustLog = now;
      this.log.warn({ subnet: subnetId, mac }, 'address pool exhausted: no free address for a client (logged at most every 10 s; see dcplane_dhcp_pool_exhausted_total)');
    }
  }
}

function countOf(it: Iterable<unknown>): number {
  let n = 0;
  for (const _ of it) n++;
  return n;
}

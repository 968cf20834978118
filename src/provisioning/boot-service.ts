import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import type { LeaseStore } from '../dhcp/lease.js';
import { leaseEventData } from '../http/event-hub.js';
import type { EventHub } from '../http/event-hub.js';
import { transferToJson } from '../tftp/transfer-log.js';
import type { TransferRecord } from '../tftp/transfer-log.js';
import type { EngineEvent } from '../dhcp/engine.js';
import { InventoryError, InventoryErrorCode } from '../inventory/errors.js';
import type { Inventory } from '../inventory/inventory.js';
import type { WriteContext } from '../inventory/repository.js';
import { parseIpv4 } from '../net/ipv4.js';
import { BootDirectory } from './boot-directory.js';
import type { BootHost } from './boot-directory.js';
import { perHostFile } from './boot-render.js';
import { nextStatus } from './boot-status.js';
import type { BootSignal, ServerStatus } from './boot-status.js';
import { ServerTimeline } from './timeline.js';
import type { RecordedEvent, TimelineInput, TimelineOptions } from './timeline.js';

/** Status moves and other writes network boot makes on its own are audited as this user. */
export const SYSTEM_USER = 'system';

const SYSTEM: WriteContext = Object.freeze({ user: SYSTEM_USER, userId: null, sourceIp: null, requestId: null });

/** DHCP reply kinds recorded as an event of their own, after the client's message. */
const REPLIES: ReadonlySet<string> = new Set(['offer', 'ack', 'nak']);

export interface BootServiceDeps {
  readonly inventory: Inventory;
  readonly hub: EventHub;
  readonly leases: () => LeaseStore | undefined;
  readonly logger: Logger;
  readonly registry?: Registry;
  readonly timeline?: Omit<TimelineOptions, 'registry' | 'onError'>;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** DHCP lease events (the hub's `dhcp` data) as timeline entries: the client's message, then the reply when there is one. */
export function dhcpTimelineEntries(d: Readonly<Record<string, unknown>>, at: number): TimelineInput[] {
  const mac = str(d['mac']);
  if (mac === undefined) return [];
  const kind = String(d['event']);
  const ip = str(d['ip']) ?? null;
  const msg = str(d['message_type'])?.toLowerCase();
  const data = { subnet_id: d['subnet_id'] ?? null, hostname: d['hostname'] ?? null, outcome: kind, reason: d['reason'] ?? null };
  const out: TimelineInput[] = [];
  if (msg !== undefined) out.push({ at, source: 'dhcp', type: `dhcp.${msg}`, mac, ip: REPLIES.has(kind) ? null : ip, message: `DHCP${msg.toUpperCase()} from ${mac}${REPLIES.has(kind) ? '' : ` (${kind})`}`, data });
  if (REPLIES.has(kind)) out.push({ at, source: 'dhcp', type: `dhcp.${kind}`, mac, ip, message: `DHCP${kind.toUpperCase()}${ip === null ? '' : ` ${ip}`}`, data });
  return out;
}

/** A TFTP transfer's start or end (the hub's `tftp` data) as a timeline entry; the MAC from a per-host file name when it has one. */
export function tftpTimelineEntry(d: Readonly<Record<string, unknown>>, at: number): TimelineInput | undefined {
  const t = d['transfer'] as Readonly<Record<string, unknown>> | undefined;
  if (t === undefined) return undefined;
  const client = String(t['client'] ?? '');
  const ip = client.slice(0, client.lastIndexOf(':'));
  const file = String(t['file'] ?? '');
  const state = String(t['state']);
  const type = d['event'] === 'start' ? 'tftp.start' : state === 'completed' ? 'tftp.complete' : 'tftp.fail';
  const verb = t['direction'] === 'write' ? 'WRQ' : 'RRQ';
  const message =
    type === 'tftp.start' ? `${verb} ${file}` : type === 'tftp.complete' ? `${file}: ${String(t['bytes'])} bytes in ${String(t['duration_ms'])} ms` : `${file}: ${state} (${String(t['reason'] ?? 'unknown')})`;
  const data = { file, direction: t['direction'], state, reason: t['reason'] ?? null, bytes: t['bytes'], size: t['size'] ?? null, source: t['source'] ?? null, transfer_id: t['id'] };
  return { at, source: 'tftp', type, mac: perHostFile(file)?.mac ?? null, ip: ip === '' ? null : ip, message, data };
}

function expandLease(r: { readonly ev: EngineEvent; readonly at: number }): TimelineInput[] {
  return dhcpTimelineEntries(leaseEventData(r.ev), r.at);
}

/** The record is final at `end`; of a `start` only what does not change later (client, name) is used. */
function expandTransfer(r: { readonly phase: 'start' | 'end'; readonly rec: TransferRecord; readonly at: number }): TimelineInput[] {
  const x = tftpTimelineEntry({ event: r.phase, transfer: transferToJson(r.rec, r.at) }, r.at);
  return x === undefined ? [] : [x];
}

/**
 * Network boot driven by the inventory, as one service: the boot timeline
 * fed by the DHCP and TFTP events on the hub (and by the HTTP boot routes),
 * published on the WebSocket as `server_event` inventory events, and the
 * status moves those events cause (see boot-status.ts), written as the user
 * `system` so they land in the audit log and on the WebSocket like any edit.
 */
export class BootService {
  readonly directory: BootDirectory;
  readonly timeline: ServerTimeline;
  private readonly unsubscribe: (() => void)[] = [];
  /** Status moves run one after another (and are awaited by close). */
  private moving: Promise<void> = Promise.resolve();

  constructor(private readonly deps: BootServiceDeps) {
    const log = deps.logger.child({ svc: 'boot' });
    this.directory = new BootDirectory(deps.inventory);
    const dir = this.directory;
    this.timeline = new ServerTimeline(
      deps.inventory.database,
      {
        hostsByMac: (macs) => dir.hostsByMac(macs),
        tenantsOf: (ids) => dir.tenantsOf(ids),
        macOfIp: (ip) => {
          const n = parseIpv4(ip);
          const lease = n === undefined ? undefined : deps.leases()?.byIp(n);
          return lease !== undefined ? lease.mac : dir.macOfAddress(ip);
        },
      },
      { ...deps.timeline, ...(deps.registry === undefined ? {} : { registry: deps.registry }), onError: (err) => log.error({ err }, 'boot timeline write failed') },
    );
    // Raw taps, not a hub subscription: a subscriber would make the hub build JSON for every DHCP packet.
    // What is kept here is the event object and the time; the entries are made when the batch is written.
    // DHCP events of MACs no server has are left out here, with a set lookup: under perfdhcp's 50,000
    // unknown clients, resolving them in batches of 500 through the inventory cost about half as much
    // CPU as serving DHCP itself.
    this.unsubscribe.push(
      // First: close() stops the hub tap before it settles the queue.
      deps.hub.tap({
        lease: (ev) => {
          if (dir.mayKnowMac(ev.mac)) this.timeline.recordLater({ ev, at: Date.now() }, expandLease);
        },
        transfer: (phase, rec) => this.timeline.recordLater({ phase, rec, at: Date.now() }, expandTransfer),
      }),
    );
    this.unsubscribe.push(dir.watchMacs((err) => log.error({ err }, 'boot timeline: known MACs not read; every DHCP event is looked up')));
    this.unsubscribe.push(
      deps.inventory.onChange((events) => {
        for (const e of events) {
          if (e.object_type === 'server' && e.action === 'delete') this.timeline.forget([e.object_id]);
          if (e.object_type !== 'server' || e.action !== 'update' || e.before === null || e.after === null) continue;
          const from = e.before['status'];
          const to = e.after['status'];
          if (from === to) continue;
          this.timeline.record({
            source: 'inventory',
            type: 'status',
            serverId: e.object_id,
            message: `status ${String(from)} → ${String(to)}`,
            data: { from, to, request_id: e.request_id },
          });
        }
      }),
    );
    this.unsubscribe.push(
      this.timeline.onRecorded((rows) => {
        this.publish(rows);
        this.moving = this.moving.then(() => this.moveStatuses(rows)).catch((err: unknown) => log.error({ err }, 'boot status move failed'));
      }),
    );
  }

  /** Timeline rows as WebSocket events: inventory events of object type `server_event`, seen by whoever may see the server. */
  private publish(rows: readonly RecordedEvent[]): void {
    for (const { event, tenantId } of rows) {
      this.deps.hub.publish({
        type: 'inventory',
        at: event.at,
        data: { action: 'create', object_type: 'server_event', object_id: event.id, before: null, after: { ...event }, request_id: null },
        audience: { rbac: 'servers', tenanted: true, tenantBefore: tenantId, tenantAfter: tenantId },
      });
    }
  }

  /** A host fetched its own boot file: the signal that moves planned → provisioning → active. */
  private async moveStatuses(rows: readonly RecordedEvent[]): Promise<void> {
    const booted = new Set<number>();
    for (const { event } of rows) {
      if (event.type === 'ipxe.script' || (event.type === 'tftp.complete' && perHostFile(String(event.data['file'] ?? '')) !== undefined)) booted.add(event.server_id);
    }
    for (const id of booted) await this.signal(id, 'netboot');
  }

  /**
   * Applies a signal to one server: reads it, decides (nextStatus), writes
   * against the version it read. `done` also switches the profile to local.
   * Returns the status it moved to, or undefined when nothing moved.
   */
  async signal(serverId: number, signal: BootSignal): Promise<ServerStatus | undefined> {
    const inv = this.deps.inventory;
    const server = await inv.servers.get(serverId);
    if (server === undefined) return undefined;
    const profile = await this.directory.profile(server.boot_profile);
    const to = nextStatus(server.status, profile?.kind ?? 'local', signal);
    const patch: Record<string, unknown> = {};
    if (to !== undefined) patch['status'] = to;
    if (signal === 'done' && server.boot_profile !== 'local') patch['boot_profile'] = 'local';
    if (Object.keys(patch).length === 0) return undefined;
    try {
      await inv.servers.update(serverId, patch, { ifVersion: server.version }, SYSTEM);
    } catch (err) {
      // Someone edited the server meanwhile: their write stands; the next boot signal decides again.
      if (err instanceof InventoryError && err.code === InventoryErrorCode.VERSION_CONFLICT) return undefined;
      throw err;
    }
    return to;
  }

  /** The host with this MAC fetched its iPXE script over HTTP. */
  recordIpxeFetch(host: BootHost, mac: string, ip: string, profile: string): void {
    this.timeline.record({ source: 'http', type: 'ipxe.script', serverId: host.server.id, mac, ip, message: `iPXE script fetched (profile ${profile})`, data: { profile } });
  }

  /** The installer said it is done: recorded, then status active and profile local. */
  async installerDone(host: BootHost, mac: string, ip: string): Promise<ServerStatus | undefined> {
    this.timeline.record({ source: 'http', type: 'boot.done', serverId: host.server.id, mac, ip, message: `installer reported done from ${ip}`, data: { profile: host.server.boot_profile } });
    return this.signal(host.server.id, 'done');
  }

  /** Writes what is queued and waits for the status moves it causes (tests; shutdown). */
  async settle(): Promise<void> {
    do {
      await this.timeline.flush();
      await this.moving;
      // A move's own status event was queued by the inventory's change listener: write it too.
    } while (this.timeline.queued > 0);
  }

  async close(): Promise<void> {
    const [hub, ...rest] = this.unsubscribe.splice(0);
    hub?.();
    await this.settle();
    for (const u of rest) u();
    await this.timeline.close();
  }
}

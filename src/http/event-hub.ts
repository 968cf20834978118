import type { EngineEvent } from '../dhcp/engine.js';
import type { Inventory } from '../inventory/inventory.js';
import type { ChangeEvent } from '../inventory/repository.js';
import type { ResourceDef } from '../inventory/resource.js';
import { RESOURCES } from '../inventory/resources.js';
import { formatIpv4 } from '../net/ipv4.js';
import { transferToJson } from '../tftp/transfer-log.js';
import type { TransferRecord } from '../tftp/transfer-log.js';
import { API_RESOURCES, hiddenFields } from './api-resources.js';

/** What a WebSocket client may subscribe to. */
export const EVENT_TOPICS = ['inventory', 'tftp', 'dhcp'] as const;
export type EventTopic = (typeof EVENT_TOPICS)[number];

/**
 * Who may see an inventory event: the RBAC name of its resource (undefined:
 * admins only, as users and API tokens are) and, for a resource with
 * tenancy, the tenant of its before and after images (null: no tenant).
 */
export interface InventoryAudience {
  readonly rbac: string | undefined;
  readonly tenanted: boolean;
  readonly tenantBefore: number | null;
  readonly tenantAfter: number | null;
}

/** One event as published; `data` is what clients receive, already free of secrets. */
export type HubEvent =
  | { readonly type: 'inventory'; readonly at: string; readonly data: InventoryEventData; readonly audience: InventoryAudience }
  | { readonly type: 'tftp'; readonly at: string; readonly data: Readonly<Record<string, unknown>> }
  | { readonly type: 'dhcp'; readonly at: string; readonly data: Readonly<Record<string, unknown>> };

export interface InventoryEventData {
  readonly action: string;
  readonly object_type: string;
  readonly object_id: number;
  readonly before: Readonly<Record<string, unknown>> | null;
  readonly after: Readonly<Record<string, unknown>> | null;
  readonly request_id: string | null;
}

export type HubListener = (e: HubEvent) => void;

/**
 * Raw events for in-process consumers that must cost next to nothing on the
 * packet paths (the boot timeline): called before any JSON is built, with
 * objects they must not change. A tap must not throw.
 */
export interface HubTap {
  lease?(ev: EngineEvent): void;
  transfer?(phase: 'start' | 'end', rec: TransferRecord): void;
}

/** A DHCP lease event as clients of the hub see it. */
export function leaseEventData(ev: EngineEvent): Readonly<Record<string, unknown>> {
  return {
    event: ev.kind,
    subnet_id: ev.subnetId ?? null,
    ip: ev.ip === undefined ? null : formatIpv4(ev.ip),
    mac: ev.mac,
    client_id: ev.clientId === '' ? null : ev.clientId,
    hostname: ev.hostname ?? null,
    message_type: ev.messageType ?? null,
    reason: ev.reason ?? null,
  };
}

/**
 * In-process fan-out of live events (inventory changes, TFTP transfers, DHCP
 * lease events) to the WebSocket connections. Publishing is synchronous and
 * cheap when nobody listens, so the packet paths can call it unconditionally;
 * each listener decides on its own what to drop (see ws.ts).
 */
export class EventHub {
  private readonly listeners = new Set<HubListener>();
  private readonly taps = new Set<HubTap>();

  get listenerCount(): number {
    return this.listeners.size;
  }

  subscribe(listener: HubListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Adds a raw tap (see HubTap); returns the function that removes it. */
  tap(t: HubTap): () => void {
    this.taps.add(t);
    return () => this.taps.delete(t);
  }

  publish(e: HubEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // One connection's failure must not stop the others' events, nor the publisher (a DHCP reply, a TFTP transfer).
      }
    }
  }

  /** A TFTP transfer began (`start`) or ended (`end`: completed, failed or refused). */
  publishTransfer(phase: 'start' | 'end', rec: TransferRecord): void {
    for (const t of this.taps) t.transfer?.(phase, rec);
    if (this.listeners.size === 0) return;
    const now = Date.now();
    this.publish({ type: 'tftp', at: new Date(now).toISOString(), data: { event: phase, transfer: transferToJson(rec, now) } });
  }

  /**
   * A DHCP lease event as the engine reports it (offer, ack, nak, release,
   * decline, inform, exhausted, ignored). The DHCP server calls this once per
   * handled packet; see the report of the WebSocket change for the hook.
   */
  publishLease(ev: EngineEvent): void {
    for (const t of this.taps) t.lease?.(ev);
    if (this.listeners.size === 0) return;
    this.publish({ type: 'dhcp', at: new Date().toISOString(), data: leaseEventData(ev) });
  }
}

const DEF_BY_OBJECT_TYPE: ReadonlyMap<string, ResourceDef> = new Map(RESOURCES.map((d) => [d.objectType, d as ResourceDef]));
const API_BY_TABLE = new Map(API_RESOURCES.map((r) => [r.table, r]));

function strip(image: Readonly<Record<string, unknown>> | null, hidden: ReadonlySet<string>): Readonly<Record<string, unknown>> | null {
  if (image === null || hidden.size === 0) return image;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(image)) if (!hidden.has(k)) out[k] = v;
  return out;
}

const asTenant = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/**
 * Feeds the inventory's committed changes into the hub: secret fields removed
 * (the audit images only mask them), each event labelled with who may see
 * it. A server interface's tenant is its server's: taken from the same commit
 * when the server is in it (a cascade delete), else read once per commit.
 * Commits are published in order. Returns the unsubscribe function.
 */
export function bridgeInventory(inv: Inventory, hub: EventHub, onError: (err: unknown) => void = () => {}): () => void {
  let chain: Promise<void> = Promise.resolve();
  return inv.onChange((events) => {
    if (hub.listenerCount === 0) return;
    const at = new Date().toISOString();
    chain = chain.then(() => publishCommit(inv, hub, events, at)).catch(onError);
  });
}

async function publishCommit(inv: Inventory, hub: EventHub, events: readonly ChangeEvent[], at: string): Promise<void> {
  const parentTenants = new Map<string, Map<number, number | null>>();
  const need = new Map<string, Set<number>>();
  for (const e of events) {
    const def = DEF_BY_OBJECT_TYPE.get(e.object_type);
    const t = def?.tenancy;
    if (t?.kind !== 'parent') continue;
    for (const img of [e.before, e.after]) {
      const pid = img?.[t.column];
      if (typeof pid === 'number') {
        let s = need.get(t.parent);
        if (s === undefined) need.set(t.parent, (s = new Set()));
        s.add(pid);
      }
    }
  }
  for (const [parent, ids] of need) {
    const known = new Map<number, number | null>();
    parentTenants.set(parent, known);
    const parentDef = [...DEF_BY_OBJECT_TYPE.values()].find((d) => d.name === parent);
    for (const e of events) {
      if (e.object_type !== parentDef?.objectType) continue;
      const img = e.after ?? e.before;
      if (img !== null && ids.has(e.object_id)) known.set(e.object_id, asTenant(img['tenant_id']));
    }
    const missing = [...ids].filter((id) => !known.has(id));
    const repo = inv.repository(parent);
    for (let i = 0; i < missing.length && repo !== undefined; i += 1000) {
      const chunk = missing.slice(i, i + 1000);
      const res = await repo.list({ filters: [{ field: 'id', lookup: 'in', value: chunk }], limit: 1000 });
      for (const row of res.rows) known.set(row['id'] as number, asTenant(row['tenant_id']));
    }
  }
  for (const e of events) {
    const def = DEF_BY_OBJECT_TYPE.get(e.object_type);
    const api = def === undefined ? undefined : API_BY_TABLE.get(def.name);
    const hidden = api !== undefined ? hiddenFields(api) : new Set(Object.entries(def?.fields ?? {}).filter(([, f]) => f.secret === true).map(([n]) => n));
    const t = def?.tenancy;
    const tenantOf = (img: Readonly<Record<string, unknown>> | null): number | null => {
      if (img === null || t === undefined) return null;
      if (t.kind === 'self') return e.object_id;
      if (t.kind === 'column') return asTenant(img[t.column]);
      // A link has two tenants (its ends'); its events go to unscoped readers only.
      if (t.kind === 'ends') return null;
      const pid = img[t.column];
      return typeof pid === 'number' ? (parentTenants.get(t.parent)?.get(pid) ?? null) : null;
    };
    hub.publish({
      type: 'inventory',
      at,
      data: { action: e.action, object_type: e.object_type, object_id: e.object_id, before: strip(e.before, hidden), after: strip(e.after, hidden), request_id: e.request_id },
      audience: {
        rbac: api === undefined || api.adminOnly === true ? undefined : api.rbac,
        tenanted: t !== undefined,
        tenantBefore: tenantOf(e.before),
        tenantAfter: tenantOf(e.after),
      },
    });
  }
}

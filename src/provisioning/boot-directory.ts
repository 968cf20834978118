import { sql } from 'kysely';
import type { Inventory } from '../inventory/inventory.js';
import type { BootProfile, Server, ServerInterface } from '../inventory/resources.js';
import type { RenderProfile } from './boot-render.js';

/** A server as network boot sees it: found by one of its interfaces' MACs. */
export interface BootHost {
  readonly server: Server;
  readonly iface: ServerInterface;
  /** Its boot profile; undefined only if the row vanished between two reads (the rules keep it existing). */
  readonly profile: BootProfile | undefined;
}

/** Who a timeline event belongs to. */
export interface HostRef {
  readonly serverId: number;
  readonly tenantId: number | null;
}

/** `aa:bb:…` lower case, or undefined when the text is not a MAC. */
export function normalizeBootMac(text: string): string | undefined {
  const hex = text.trim().toLowerCase().replace(/[:-]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return undefined;
  return hex.replace(/(..)(?!$)/g, '$1:');
}

export function renderProfileOf(p: BootProfile): RenderProfile {
  return {
    name: p.name,
    kind: p.kind,
    kernel_url: p.kernel_url,
    initrd_url: p.initrd_url,
    cmdline: p.cmdline,
    ipxe_script: p.ipxe_script,
    local_method: p.local_method,
  };
}

const CHUNK = 500;

/**
 * Inventory reads of network boot: which server a MAC or an address
 * belongs to, and its boot profile. Always the committed state, so a PATCH
 * of boot_profile is what the very next boot file shows.
 */
export class BootDirectory {
  /**
   * Every interface MAC of the inventory (lower case, colons), kept by the inventory's change events;
   * undefined until the first read is done. Only a filter in front of hostsByMac: a MAC missing here
   * loses its DHCP timeline events, one wrongly present costs one read, so removals may lag (a server
   * deleted with its interfaces) but additions never do.
   */
  private known: Set<string> | undefined;

  constructor(private readonly inv: Inventory) {}

  /**
   * Starts keeping the set of known MACs: the change listener first (so nothing written during the
   * read is missed), then one read of every interface's MAC. Returns the function that stops it.
   */
  watchMacs(onError: (err: unknown) => void): () => void {
    const added: string[] = [];
    let loaded = false;
    const stop = this.inv.onChange((events) => {
      for (const e of events) {
        if (e.object_type !== 'server_interface') continue;
        const before = e.before?.['mac'];
        const after = e.after?.['mac'];
        if (before === after) continue;
        if (typeof before === 'string') this.known?.delete(before);
        if (typeof after === 'string') {
          if (loaded) this.known?.add(after);
          else added.push(after);
        }
      }
    });
    sql<{ mac: string }>`select mac from server_interfaces where mac is not null`.execute(this.inv.database.readDb).then(
      (r) => {
        const set = new Set<string>(added);
        for (const row of r.rows) set.add(row.mac);
        this.known = set;
        loaded = true;
      },
      (err: unknown) => onError(err),
    );
    return stop;
  }

  /** False only when the MAC is surely no interface of the inventory (true while the set is still loading). */
  mayKnowMac(mac: string): boolean {
    return this.known === undefined || this.known.has(mac);
  }

  async byMac(mac: string): Promise<BootHost | undefined> {
    const ifaces = await this.inv.serverInterfaces.list({ filters: [{ field: 'mac', value: mac }], limit: 1 });
    const iface = ifaces.rows[0];
    if (iface === undefined) return undefined;
    const server = await this.inv.servers.get(iface.server_id);
    if (server === undefined) return undefined;
    return { server, iface, profile: await this.profile(server.boot_profile) };
  }

  async profile(name: string): Promise<BootProfile | undefined> {
    const repo = this.inv.repository('boot_profiles');
    const r = await repo?.list({ filters: [{ field: 'name', value: name }], limit: 1 });
    return r?.rows[0] as BootProfile | undefined;
  }

  /** The servers of these MACs (one read per 500), for a batch of timeline events. */
  async hostsByMac(macs: readonly string[]): Promise<Map<string, HostRef>> {
    const out = new Map<string, HostRef>();
    const byServer = new Map<number, string[]>();
    for (let i = 0; i < macs.length; i += CHUNK) {
      const part = macs.slice(i, i + CHUNK);
      const r = await this.inv.serverInterfaces.list({ filters: [{ field: 'mac', lookup: 'in', value: part }], limit: 1000 });
      for (const f of r.rows) if (f.mac !== null) byServer.set(f.server_id, [...(byServer.get(f.server_id) ?? []), f.mac]);
    }
    const tenants = await this.tenantsOf([...byServer.keys()]);
    for (const [id, ms] of byServer) {
      const tenantId = tenants.get(id);
      if (tenantId === undefined) continue;
      for (const m of ms) out.set(m, { serverId: id, tenantId });
    }
    return out;
  }

  /** Tenant of each existing server (null: none); deleted servers are left out. */
  async tenantsOf(ids: readonly number[]): Promise<Map<number, number | null>> {
    const out = new Map<number, number | null>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const r = await this.inv.servers.list({ filters: [{ field: 'id', lookup: 'in', value: ids.slice(i, i + CHUNK) }], limit: 1000 });
      for (const s of r.rows) out.set(s.id, s.tenant_id);
    }
    return out;
  }

  /** The MAC of the interface the inventory gives this fixed address (when no lease says). */
  async macOfAddress(ip: string): Promise<string | undefined> {
    const r = await this.inv.serverInterfaces.list({ filters: [{ field: 'ip', value: ip }, { field: 'mac', lookup: 'isnull', value: false }], limit: 1 });
    return r.rows[0]?.mac ?? undefined;
  }
}

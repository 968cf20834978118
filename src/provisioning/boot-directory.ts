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
  constructor(private readonly inv: Inventory) {}

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

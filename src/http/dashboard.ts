import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Inventory } from '../inventory/inventory.js';
import { servers as serverDef } from '../inventory/resources.js';
import type { TransferRecord } from '../tftp/transfer-log.js';
import type { Guard } from './access.js';
import { ERROR_SCHEMA } from './resource-schemas.js';
import type { JsonSchema } from './resource-schemas.js';

/** One dynamic pool of the running DHCP service. */
export interface DhcpPoolSample {
  readonly subnetId: number;
  readonly pool: string;
  readonly total: number;
  readonly used: number;
}

/**
 * The running DHCP service's pools, read through the gauges it registers
 * (src/dhcp/metrics.ts), which compute them from the lease view on each
 * read: DhcpServer has no public accessor for its pool usage.
 */
export async function dhcpPoolsFromRegistry(registry: Registry): Promise<DhcpPoolSample[]> {
  const read = async (name: string): Promise<Map<string, { subnetId: number; pool: string; value: number }>> => {
    const out = new Map<string, { subnetId: number; pool: string; value: number }>();
    const metric = registry.getSingleMetric(name);
    if (metric === undefined) return out;
    for (const v of (await metric.get()).values) {
      const subnetId = Number(v.labels['subnet']);
      const pool = String(v.labels['pool']);
      out.set(`${subnetId}/${pool}`, { subnetId, pool, value: v.value });
    }
    return out;
  };
  const sizes = await read('dcplane_dhcp_pool_addresses');
  const used = await read('dcplane_dhcp_pool_addresses_used');
  return [...sizes].map(([key, s]) => ({ subnetId: s.subnetId, pool: s.pool, total: s.value, used: used.get(key)?.value ?? 0 }));
}

export interface DashboardDeps {
  readonly inventory: Inventory;
  readonly guard: Guard;
  /** Pools of the running DHCP service; undefined when DHCP is off. */
  readonly dhcpPools?: () => Promise<readonly DhcpPoolSample[] | undefined>;
  /** Running TFTP transfers, then finished ones newest first; undefined when TFTP is off. */
  readonly tftpTransfers?: () => readonly TransferRecord[] | undefined;
  readonly now?: () => number;
}

/** Finished transfers the TFTP server keeps (TransferLog in src/tftp/server.ts): a full ring may not reach a minute back. */
export const TFTP_TRANSFER_RING = 1000;
const WINDOW_MS = 60_000;

const SERVER_STATUSES: readonly string[] = serverDef.fields.status.enum;

const ratio = (used: number, total: number): number | null => (total > 0 ? used / total : null);
const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** `tenant_id in (…)` for a scoped caller (`1 = 0` for no tenants), `1 = 1` for everyone else. */
function tenantCond(scope: readonly number[] | undefined, column: string): RawBuilder<unknown> {
  if (scope === undefined) return sql`1 = 1`;
  if (scope.length === 0) return sql`1 = 0`;
  return sql`${sql.ref(column)} in (${sql.join(scope.map((t) => sql`${t}`))})`;
}

interface RackRow {
  datacenter_id: unknown;
  racks: unknown;
  u_total: unknown;
  u_used: unknown;
  capacity_kw: unknown;
  power_w_with_capacity: unknown;
  power_w: unknown;
}

/**
 * The inventory's figures, each an aggregate in SQL (no rows loaded), within
 * the caller's tenants: a scoped caller's rack figures count their racks and,
 * in them, their devices only.
 */
export async function inventoryFigures(inv: Inventory, scope: readonly number[] | undefined): Promise<Record<string, unknown>> {
  const db = inv.database.readDb;
  const t = (col = 'tenant_id') => tenantCond(scope, col);
  const counts = await sql<Record<string, unknown>>`select
    (select count(*) from ${sql.table('datacenters')} where ${t()}) as datacenters,
    (select count(*) from ${sql.table('racks')} where ${t()}) as racks,
    (select count(*) from ${sql.table('vms')} where ${t()}) as vms,
    (select count(*) from ${sql.table('containers')} where ${t()}) as containers,
    (select count(*) from ${sql.table('network_devices')} where ${t()}) as network_devices,
    (select count(*) from ${sql.table('storage_systems')} where ${t()}) as storage`.execute(db);
  const byStatus = await sql<{ status: string; n: unknown }>`select status, count(*) as n from ${sql.table('servers')} where ${t()} group by status`.execute(db);
  // Devices placed in a rack (a U position) take its U; every device in a rack draws from its power (nameplate watts).
  const racked = sql`select rack_id, u_position, u_size, power_supply_w as power from ${sql.table('servers')} where rack_id is not null and ${t()}
    union all select rack_id, u_position, u_size, power_w as power from ${sql.table('network_devices')} where rack_id is not null and ${t()}
    union all select rack_id, u_position, u_size, power_w as power from ${sql.table('storage_systems')} where rack_id is not null and ${t()}`;
  const racks = await sql<RackRow>`select r.datacenter_id as datacenter_id, count(*) as racks, sum(r.u_height) as u_total,
      sum(coalesce(d.used_u, 0)) as u_used, sum(r.power_capacity_kw) as capacity_kw,
      sum(case when r.power_capacity_kw is not null then coalesce(d.power_w, 0) else 0 end) as power_w_with_capacity,
      sum(coalesce(d.power_w, 0)) as power_w
    from ${sql.table('racks')} as r left join (
      select rack_id, sum(case when u_position is not null then u_size else 0 end) as used_u, sum(coalesce(power, 0)) as power_w
      from (${racked}) as x group by rack_id
    ) as d on d.rack_id = r.id
    where ${t('r.tenant_id')}
    group by r.datacenter_id
    order by r.datacenter_id`.execute(db);
  const dcs = await sql<{ id: unknown; name: string; code: string; pue_target: unknown }>`select id, name, code, pue_target from ${sql.table('datacenters')} where ${t()} order by name, id`.execute(db);

  const c = counts.rows[0] ?? {};
  const statuses: Record<string, number> = {};
  for (const s of SERVER_STATUSES) statuses[s] = 0;
  let serverTotal = 0;
  for (const r of byStatus.rows) {
    statuses[r.status] = num(r.n);
    serverTotal += num(r.n);
  }
  const names = new Map(dcs.rows.map((d) => [num(d.id), d]));
  let uUsed = 0;
  let uTotal = 0;
  let capacityKw = 0;
  let powerWithCapacityW = 0;
  let powerW = 0;
  const byDatacenter = racks.rows.map((r) => {
    const id = num(r.datacenter_id);
    const used = num(r.u_used);
    const total = num(r.u_total);
    const cap = numOrNull(r.capacity_kw);
    const withCap = num(r.power_w_with_capacity) / 1000;
    uUsed += used;
    uTotal += total;
    capacityKw += cap ?? 0;
    powerWithCapacityW += num(r.power_w_with_capacity);
    powerW += num(r.power_w);
    return {
      datacenter_id: id,
      name: names.get(id)?.name ?? null,
      racks: num(r.racks),
      u_used: used,
      u_total: total,
      u_utilisation: ratio(used, total),
      power_used_kw: num(r.power_w) / 1000,
      power_capacity_kw: cap,
      power_utilisation: cap === null ? null : ratio(withCap, cap),
    };
  });
  return {
    counts: {
      datacenters: num(c['datacenters']),
      racks: num(c['racks']),
      servers: { total: serverTotal, by_status: statuses },
      vms: num(c['vms']),
      containers: num(c['containers']),
      network_devices: num(c['network_devices']),
      storage: num(c['storage']),
    },
    racks: {
      u_used: uUsed,
      u_total: uTotal,
      u_utilisation: ratio(uUsed, uTotal),
      power_used_kw: powerW / 1000,
      power_capacity_kw: capacityKw,
      power_utilisation: ratio(powerWithCapacityW / 1000, capacityKw),
      by_datacenter: byDatacenter,
    },
    pue: dcs.rows.map((d) => ({ datacenter_id: num(d.id), name: d.name, code: d.code, target: numOrNull(d.pue_target), measured: null })),
  };
}

/**
 * What a tenant-scoped caller gets instead of the DHCP or TFTP figures: pools,
 * leases and transfers belong to every tenant and none (rbac.ts keeps scoped
 * users from them), so they cannot be narrowed to the caller's tenants; they
 * are withheld, marked `hidden`, in the same shape (zeros, no pools).
 */
const HIDDEN_DHCP = { enabled: false, hidden: true, addresses: 0, used: 0, utilisation: null, pools: [] };
const HIDDEN_TFTP = { enabled: false, hidden: true, active_transfers: 0, completed_last_minute: 0, failed_last_minute: 0, bytes_last_minute: 0, bytes_per_second: 0, window_truncated: false };

export function dhcpFigures(pools: readonly DhcpPoolSample[] | undefined): Record<string, unknown> {
  if (pools === undefined) return { enabled: false, addresses: 0, used: 0, utilisation: null, pools: [] };
  let total = 0;
  let used = 0;
  const rows = [...pools]
    .sort((a, b) => a.subnetId - b.subnetId || (a.pool < b.pool ? -1 : a.pool > b.pool ? 1 : 0))
    .map((p) => {
      total += p.total;
      used += p.used;
      return { subnet_id: p.subnetId, pool: p.pool, addresses: p.total, used: p.used, utilisation: ratio(p.used, p.total) };
    });
  return { enabled: true, addresses: total, used, utilisation: ratio(used, total), pools: rows };
}

/** Transfers now, and over the last minute from the transfer log's ring of finished ones. */
export function tftpFigures(list: readonly TransferRecord[] | undefined, nowMs: number): Record<string, unknown> {
  if (list === undefined) return { enabled: false, active_transfers: 0, completed_last_minute: 0, failed_last_minute: 0, bytes_last_minute: 0, bytes_per_second: 0, window_truncated: false };
  const since = nowMs - WINDOW_MS;
  let active = 0;
  let finished = 0;
  let completed = 0;
  let failed = 0;
  let bytes = 0;
  let oldestEnd = Infinity;
  for (const r of list) {
    if (r.state === 'active') {
      active++;
      continue;
    }
    finished++;
    const end = r.endedAt ?? 0;
    oldestEnd = Math.min(oldestEnd, end);
    if (end < since) continue;
    if (r.state === 'completed') {
      completed++;
      bytes += r.bytes;
    } else if (r.state === 'failed') {
      failed++;
      bytes += r.bytes;
    }
  }
  return {
    enabled: true,
    active_transfers: active,
    completed_last_minute: completed,
    failed_last_minute: failed,
    bytes_last_minute: bytes,
    bytes_per_second: bytes / (WINDOW_MS / 1000),
    // The ring is full and its oldest entry is inside the minute: more finished than it holds, so the figures are low.
    window_truncated: finished >= TFTP_TRANSFER_RING && oldestEnd >= since,
  };
}

const ratioSchema: JsonSchema = { type: ['number', 'null'], description: 'used / total, null when the total is 0' };
const intSchema: JsonSchema = { type: 'integer' };

export const DASHBOARD_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    generated_at: { type: 'string', format: 'date-time' },
    tenant_scoped: {
      type: 'boolean',
      description: "The inventory figures count only the caller's tenants' objects; DHCP and TFTP, which belong to no tenant, are withheld (`hidden: true`).",
    },
    counts: {
      type: 'object',
      properties: {
        datacenters: intSchema,
        racks: intSchema,
        servers: { type: 'object', properties: { total: intSchema, by_status: { type: 'object', additionalProperties: intSchema } } },
        vms: intSchema,
        containers: intSchema,
        network_devices: intSchema,
        storage: intSchema,
      },
    },
    racks: {
      type: 'object',
      description: 'U space taken by devices with a U position, and nameplate power of every device in a rack against the racks\' capacity.',
      properties: {
        u_used: intSchema,
        u_total: intSchema,
        u_utilisation: ratioSchema,
        power_used_kw: { type: 'number', description: 'All racked devices, whether their rack has a capacity or not.' },
        power_capacity_kw: { type: 'number' },
        power_utilisation: { ...ratioSchema, description: 'Devices in racks that have a power capacity, against that capacity.' },
        by_datacenter: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              datacenter_id: intSchema,
              name: { type: ['string', 'null'] },
              racks: intSchema,
              u_used: intSchema,
              u_total: intSchema,
              u_utilisation: ratioSchema,
              power_used_kw: { type: 'number' },
              power_capacity_kw: { type: ['number', 'null'] },
              power_utilisation: ratioSchema,
            },
          },
        },
      },
    },
    pue: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          datacenter_id: intSchema,
          name: { type: 'string' },
          code: { type: 'string' },
          target: { type: ['number', 'null'] },
          measured: { type: ['number', 'null'], description: 'Measured PUE: always null until metrics ingestion (the operations issue) records facility power.' },
        },
      },
    },
    alerts: {
      type: 'object',
      description: 'Active alerts. Alert rules come with the operations issue: until then `active` is 0 and `items` is empty.',
      properties: { active: intSchema, items: { type: 'array', items: { type: 'object' } } },
    },
    dhcp: {
      type: 'object',
      description: 'Dynamic pools of the running DHCP service (addresses held by active, offered or declined leases).',
      properties: {
        enabled: { type: 'boolean' },
        hidden: { type: 'boolean', description: 'Present and true for a tenant-scoped caller: the figures are withheld (zeros), not measured.' },
        addresses: intSchema,
        used: intSchema,
        utilisation: ratioSchema,
        pools: {
          type: 'array',
          items: { type: 'object', properties: { subnet_id: intSchema, pool: { type: 'string' }, addresses: intSchema, used: intSchema, utilisation: ratioSchema } },
        },
      },
    },
    tftp: {
      type: 'object',
      properties: {
        enabled: { type: 'boolean' },
        hidden: { type: 'boolean', description: 'Present and true for a tenant-scoped caller: the figures are withheld (zeros), not measured.' },
        active_transfers: intSchema,
        completed_last_minute: intSchema,
        failed_last_minute: intSchema,
        bytes_last_minute: { type: 'integer', description: 'Bytes of transfers that ended in the last minute (completed or failed).' },
        bytes_per_second: { type: 'number', description: 'bytes_last_minute / 60' },
        window_truncated: { type: 'boolean', description: `More transfers ended in the last minute than the transfer log keeps (${TFTP_TRANSFER_RING}): the figures are low.` },
      },
    },
  },
};

/** `GET /api/v1/dashboard/metrics`. */
export function registerDashboard(app: FastifyInstance, deps: DashboardDeps): void {
  const now = deps.now ?? Date.now;
  app.get(
    '/api/v1/dashboard/metrics',
    {
      schema: {
        tags: ['dashboard'],
        summary: 'Dashboard figures: counts, rack U and power utilisation, PUE, active alerts, DHCP pool utilisation, TFTP activity',
        response: { 200: DASHBOARD_SCHEMA, 401: ERROR_SCHEMA, 403: ERROR_SCHEMA },
      },
    },
    async (req) => {
      const caller = deps.guard(req, 'read', 'dashboard');
      const scoped = caller.tenantScope !== undefined;
      const [inventory, pools] = await Promise.all([
        inventoryFigures(deps.inventory, caller.tenantScope),
        scoped ? Promise.resolve(undefined) : (deps.dhcpPools?.() ?? Promise.resolve(undefined)),
      ]);
      const at = now();
      return {
        generated_at: new Date(at).toISOString(),
        tenant_scoped: scoped,
        ...inventory,
        alerts: { active: 0, items: [] },
        dhcp: scoped ? HIDDEN_DHCP : dhcpFigures(pools),
        tftp: scoped ? HIDDEN_TFTP : tftpFigures(deps.tftpTransfers?.(), at),
      };
    },
  );
}

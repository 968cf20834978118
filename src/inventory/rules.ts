import { cidrContains, cidrTextsHolding, formatIpv4, parseCidr, parseIpv4, parseRange, rangeContains, rangesOverlap } from '../net/ipv4.js';
import type { Cidr, Ipv4Range } from '../net/ipv4.js';
import { InventoryErrorCode as E } from './errors.js';
import type { AnyRow, BatchItem, RuleContext } from './resource.js';

/**
 * The inventory's cross-row rules. Each takes the whole batch, reads what it
 * needs once (locking rows it relies on, on PostgreSQL), and checks items in
 * batch order so that a bulk import sees its own earlier rows.
 */

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const int = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** Object types a link end may name, and their tables. */
export const LINK_END_TABLES: ReadonlyMap<string, string> = new Map([
  ['server', 'servers'],
  ['network_device', 'network_devices'],
  ['storage_system', 'storage_systems'],
]);

/** Tables whose rows take U space and power in a rack, and the column holding their draw in watts. */
export const RACKED: ReadonlyArray<{ readonly table: string; readonly objectType: string; readonly power: string }> = [
  { table: 'servers', objectType: 'server', power: 'power_supply_w' },
  { table: 'network_devices', objectType: 'network_device', power: 'power_w' },
  { table: 'storage_systems', objectType: 'storage_system', power: 'power_w' },
];

interface Occupant {
  readonly label: string;
  readonly bottom: number | undefined;
  readonly top: number | undefined;
  readonly watts: number;
}

/** `visible` false: the writer may not see the device (another tenant's), so it is not named. */
function occupant(objectType: string, row: AnyRow, powerCol: string, visible = true): Occupant {
  const pos = num(row['u_position']);
  const size = num(row['u_size']) ?? 1;
  return {
    label: visible ? `${objectType} ${JSON.stringify(row['name'])}${row['id'] === 0 ? '' : ` (id ${row['id']})`}` : 'another device',
    bottom: pos,
    top: pos === undefined ? undefined : pos + size - 1,
    watts: num(row[powerCol]) ?? 0,
  };
}

/** Every device in the given racks except the rows this batch rewrites. */
async function loadOccupants(ctx: RuleContext, rackIds: readonly number[]): Promise<Map<number, Occupant[]>> {
  const byRack = new Map<number, Occupant[]>();
  for (const id of rackIds) byRack.set(id, []);
  const rewritten = new Set(ctx.items.filter((i) => i.before !== undefined).map((i) => i.after.id));
  for (const r of RACKED) {
    const rows = await ctx.loadWhereIn(r.table, 'rack_id', rackIds);
    const visible = await ctx.visibleIds(r.table, rows);
    for (const row of rows) {
      if (r.table === ctx.resource.name && rewritten.has(row.id)) continue;
      byRack.get(row['rack_id'] as number)?.push(occupant(r.objectType, row, r.power, visible.has(row.id)));
    }
  }
  return byRack;
}

function rackLabel(rack: AnyRow): string {
  return `rack ${JSON.stringify(rack['name'])} (id ${rack.id})`;
}

/**
 * Devices in racks: inside the rack's U range, no two sharing a U, and the
 * rack's power budget (sum of device draw against power_capacity_kw) warned
 * about or refused as the caller's mode says.
 */
export async function rackPlacement(ctx: RuleContext): Promise<void> {
  const powerCol = RACKED.find((r) => r.table === ctx.resource.name)?.power ?? 'power_w';
  const objectType = ctx.resource.objectType;
  const relevant: BatchItem[] = [];
  for (const item of ctx.items) {
    const a = item.after;
    if (a['rack_id'] === null && a['u_position'] !== null) {
      ctx.fail(item, E.U_POSITION_WITHOUT_RACK, 'u_position', 'a U position needs a rack_id');
      continue;
    }
    if (a['rack_id'] === null) continue;
    const c = item.changed;
    if (item.before === undefined || c.has('rack_id') || c.has('u_position') || c.has('u_size') || c.has(powerCol)) relevant.push(item);
  }
  if (relevant.length === 0) return;
  const rackIds = [...new Set(relevant.map((i) => i.after['rack_id'] as number))];
  const racks = new Map((await ctx.loadWhereIn('racks', 'id', rackIds, { forUpdate: true })).map((r) => [r.id, r]));
  const occupants = await loadOccupants(ctx, rackIds);
  const watts = new Map<number, number>();
  for (const [id, list] of occupants) watts.set(id, list.reduce((s, o) => s + o.watts, 0));

  for (const item of relevant) {
    const a = item.after;
    const rack = racks.get(a['rack_id'] as number);
    if (rack === undefined || ctx.failed(item)) continue; // a missing rack is the reference check's to report
    const me = occupant(objectType, a, powerCol);
    const height = int(rack['u_height']);
    let placed = true;
    if (me.bottom !== undefined && me.top !== undefined) {
      if (me.bottom < 1) {
        ctx.fail(item, E.U_OUT_OF_RANGE, 'u_position', `U positions start at 1 (the bottom of ${rackLabel(rack)}), not ${me.bottom}`);
        placed = false;
      } else if (me.top > height) {
        ctx.fail(item, E.U_OUT_OF_RANGE, 'u_position', `a ${me.top - me.bottom + 1}U device at U${me.bottom} reaches U${me.top}, past the top of the ${height}U ${rackLabel(rack)}`);
        placed = false;
      } else {
        const clash = occupants.get(rack.id)?.find((o) => o.bottom !== undefined && o.top !== undefined && o.bottom <= me.top! && me.bottom! <= o.top);
        if (clash !== undefined) {
          ctx.fail(item, E.U_OVERLAP, 'u_position', `U${me.bottom}-U${me.top} of ${rackLabel(rack)} overlaps ${clash.label} at U${clash.bottom}-U${clash.top}`);
          placed = false;
        }
      }
    }
    if (!placed) continue;
    occupants.get(rack.id)?.push(me);
    // Only a write that adds draw to this rack can break its budget.
    const beforeWatts = item.before !== undefined && item.before['rack_id'] === rack.id ? (num(item.before[powerCol]) ?? 0) : 0;
    const total = (watts.get(rack.id) ?? 0) + me.watts;
    watts.set(rack.id, total);
    const capKw = num(rack['power_capacity_kw']);
    if (capKw !== undefined && me.watts > beforeWatts && total > capKw * 1000) {
      const msg = `${rackLabel(rack)} would draw ${total} W, over its ${capKw} kW budget`;
      if (ctx.powerBudget === 'refuse') ctx.fail(item, E.RACK_POWER_BUDGET, powerCol, msg);
      else ctx.warn(item, E.RACK_POWER_BUDGET, powerCol, msg);
    }
  }
}

/** A rack made shorter or given less power must still hold what is in it. */
export async function rackShrink(ctx: RuleContext): Promise<void> {
  const shrinking = ctx.items.filter(
    (i) =>
      i.before !== undefined &&
      ((i.changed.has('u_height') && int(i.after['u_height']) < int(i.before['u_height'])) ||
        (i.changed.has('power_capacity_kw') && i.after['power_capacity_kw'] !== null)),
  );
  if (shrinking.length === 0) return;
  const occupants = await loadOccupants(ctx, shrinking.map((i) => i.after.id));
  for (const item of shrinking) {
    const list = occupants.get(item.after.id) ?? [];
    const height = int(item.after['u_height']);
    const above = list.find((o) => o.top !== undefined && o.top > height);
    if (above !== undefined) {
      ctx.fail(item, E.U_OUT_OF_RANGE, 'u_height', `${above.label} occupies U${above.bottom}-U${above.top}, above U${height}`);
    }
    const capKw = num(item.after['power_capacity_kw']);
    const total = list.reduce((s, o) => s + o.watts, 0);
    if (capKw !== undefined && total > capKw * 1000) {
      const msg = `the devices in this rack draw ${total} W, over a ${capKw} kW budget`;
      if (ctx.powerBudget === 'refuse') ctx.fail(item, E.RACK_POWER_BUDGET, 'power_capacity_kw', msg);
      else ctx.warn(item, E.RACK_POWER_BUDGET, 'power_capacity_kw', msg);
    }
  }
}

const HOST_DIMENSIONS = [
  { vm: 'vcpus', host: 'cpu_cores', factor: 1, unit: 'vCPUs' },
  { vm: 'ram_gb', host: 'ram_gb', factor: 1, unit: 'GB of RAM' },
  // storage_tb is decimal terabytes, as vendors count them.
  { vm: 'disk_gb', host: 'storage_tb', factor: 1000, unit: 'GB of disk' },
] as const;

/** The VMs on a host fit in its CPU cores, RAM and storage. */
export async function vmHostCapacity(ctx: RuleContext): Promise<void> {
  const relevant = ctx.items.filter(
    (i) =>
      i.after['host_server_id'] !== null &&
      (i.before === undefined || ['host_server_id', 'vcpus', 'ram_gb', 'disk_gb'].some((f) => i.changed.has(f))),
  );
  if (relevant.length === 0) return;
  const hostIds = [...new Set(relevant.map((i) => i.after['host_server_id'] as number))];
  const hosts = new Map((await ctx.loadWhereIn('servers', 'id', hostIds, { forUpdate: true })).map((r) => [r.id, r]));
  const rewritten = new Set(ctx.items.filter((i) => i.before !== undefined).map((i) => i.after.id));
  const used = new Map<number, Record<string, number>>();
  for (const id of hostIds) used.set(id, { vcpus: 0, ram_gb: 0, disk_gb: 0 });
  for (const vm of await ctx.loadWhereIn('vms', 'host_server_id', hostIds)) {
    if (rewritten.has(vm.id)) continue;
    const u = used.get(vm['host_server_id'] as number)!;
    for (const d of HOST_DIMENSIONS) u[d.vm] = (u[d.vm] ?? 0) + int(vm[d.vm]);
  }
  for (const item of relevant) {
    const host = hosts.get(item.after['host_server_id'] as number);
    if (host === undefined || ctx.failed(item)) continue;
    const u = used.get(host.id)!;
    let fits = true;
    for (const d of HOST_DIMENSIONS) {
      const cap = num(host[d.host]);
      const total = (u[d.vm] ?? 0) + int(item.after[d.vm]);
      if (cap !== undefined && total > cap * d.factor) {
        ctx.fail(item, E.HOST_CAPACITY, d.vm, `VMs on server ${JSON.stringify(host['name'])} (id ${host.id}) would use ${total} ${d.unit}, over its ${cap * d.factor}`);
        fits = false;
      }
    }
    if (fits) for (const d of HOST_DIMENSIONS) u[d.vm] = (u[d.vm] ?? 0) + int(item.after[d.vm]);
  }
}

/** A host server given fewer cores, less RAM or storage must still hold its VMs. */
export async function hostShrink(ctx: RuleContext): Promise<void> {
  const shrinking = ctx.items.filter((i) => i.before !== undefined && HOST_DIMENSIONS.some((d) => i.changed.has(d.host) && i.after[d.host] !== null));
  if (shrinking.length === 0) return;
  const vmsByHost = new Map<number, AnyRow[]>();
  for (const vm of await ctx.loadWhereIn('vms', 'host_server_id', shrinking.map((i) => i.after.id))) {
    const h = vm['host_server_id'] as number;
    vmsByHost.set(h, [...(vmsByHost.get(h) ?? []), vm]);
  }
  for (const item of shrinking) {
    const list = vmsByHost.get(item.after.id) ?? [];
    for (const d of HOST_DIMENSIONS) {
      const cap = num(item.after[d.host]);
      const total = list.reduce((s, vm) => s + int(vm[d.vm]), 0);
      if (cap !== undefined && total > cap * d.factor) {
        ctx.fail(item, E.HOST_CAPACITY, d.host, `its ${list.length} VMs use ${total} ${d.unit}, more than ${cap * d.factor}`);
      }
    }
  }
}

/** A container runs on exactly one of a server or a VM. */
export function containerHost(ctx: RuleContext): Promise<void> {
  for (const item of ctx.items) {
    const s = item.after['host_server_id'] !== null;
    const v = item.after['vm_id'] !== null;
    if (s === v) {
      const msg = s ? 'a container runs on a server or on a VM, not both' : 'a container needs host_server_id or vm_id';
      ctx.fail(item, E.CONTAINER_HOST, 'host_server_id', msg);
      if (s) ctx.fail(item, E.CONTAINER_HOST, 'vm_id', msg);
    }
  }
  return Promise.resolve();
}

/** Storage: no more used than capacity; its rack stands in its datacenter. */
export async function storageRules(ctx: RuleContext): Promise<void> {
  for (const item of ctx.items) {
    const cap = num(item.after['capacity_tb']);
    const used = num(item.after['used_tb']);
    if (cap !== undefined && used !== undefined && used > cap) ctx.fail(item, E.INVALID_VALUE, 'used_tb', `${used} TB used is more than the ${cap} TB capacity`);
  }
  const racked = ctx.items.filter((i) => i.after['rack_id'] !== null && (i.changed.has('rack_id') || i.changed.has('datacenter_id')));
  if (racked.length === 0) return;
  const racks = new Map((await ctx.loadWhereIn('racks', 'id', [...new Set(racked.map((i) => i.after['rack_id']))])).map((r) => [r.id, r]));
  for (const item of racked) {
    const rack = racks.get(item.after['rack_id'] as number);
    if (rack !== undefined && rack['datacenter_id'] !== item.after['datacenter_id']) {
      ctx.fail(item, E.RACK_DATACENTER_MISMATCH, 'rack_id', `${rackLabel(rack)} is in datacenter ${rack['datacenter_id']}, not ${item.after['datacenter_id']}`);
    }
  }
}

interface SubnetPools {
  readonly row: AnyRow;
  readonly cidr: Cidr;
  readonly pools: readonly { readonly text: string; readonly range: Ipv4Range }[];
}

function poolText(p: unknown): string | undefined {
  if (typeof p === 'string') return p;
  if (typeof p === 'object' && p !== null && typeof (p as { range?: unknown }).range === 'string') return (p as { range: string }).range;
  return undefined;
}

function subnetPools(row: AnyRow): SubnetPools | undefined {
  const cidr = parseCidr(String(row['subnet']));
  if (cidr === undefined) return undefined;
  const config = row['config'] as { pools?: unknown } | null;
  const pools: { text: string; range: Ipv4Range }[] = [];
  for (const p of Array.isArray(config?.pools) ? config.pools : []) {
    const text = poolText(p);
    const range = text === undefined ? undefined : parseRange(text);
    if (text !== undefined && range !== undefined) pools.push({ text, range });
  }
  return { row, cidr, pools };
}

/** The dynamic pool holding `ip`, if any, among all DHCP subnets. */
function poolHolding(subnets: readonly SubnetPools[], ip: number): { subnet: SubnetPools; pool: string } | undefined {
  for (const s of subnets) {
    if (!cidrContains(s.cidr, ip)) continue;
    const p = s.pools.find((x) => rangeContains(x.range, ip));
    if (p !== undefined) return { subnet: s, pool: p.text };
  }
  return undefined;
}

/** Up to this many addresses, the subnets holding them are looked up by their texts; beyond, every subnet is read. */
const LOOKUP_ADDRESSES = 64;

async function allSubnets(ctx: RuleContext): Promise<SubnetPools[]> {
  const rows = await ctx.loadWhere('dhcp_subnets', {});
  return rows.map(subnetPools).filter((s): s is SubnetPools => s !== undefined);
}

/**
 * A fixed address in a DHCP subnet sits outside its dynamic pools: the pool's
 * addresses are the server's to hand out to anyone, so a host configured with
 * one would sooner or later meet a duplicate.
 */
export async function serverInterfaceAddress(ctx: RuleContext): Promise<void> {
  const relevant = ctx.items.filter((i) => i.after['ip'] !== null && i.changed.has('ip'));
  if (relevant.length === 0) return;
  const ips = relevant.flatMap((i) => parseIpv4(String(i.after['ip'])) ?? []);
  // A few addresses: only the subnets that can hold them, through the index on the subnet's text.
  const subnets =
    ips.length > LOOKUP_ADDRESSES ? await allSubnets(ctx) : (await ctx.loadWhereIn('dhcp_subnets', 'subnet', ips.flatMap(cidrTextsHolding))).map(subnetPools).filter((s): s is SubnetPools => s !== undefined);
  for (const item of relevant) {
    const ip = parseIpv4(String(item.after['ip']));
    if (ip === undefined) continue;
    const hit = poolHolding(subnets, ip);
    if (hit !== undefined) {
      ctx.fail(item, E.IP_IN_DYNAMIC_POOL, 'ip', `${formatIpv4(ip)} is inside dynamic pool ${hit.pool} of DHCP subnet ${hit.subnet.row['subnet']} (id ${hit.subnet.row.id})`);
    }
  }
}

/** A reservation names its client (MAC or client id) and an address of its subnet outside the dynamic pools. */
export async function reservationAddress(ctx: RuleContext): Promise<void> {
  for (const item of ctx.items) {
    if (item.after['mac'] === null && item.after['client_id'] === null) {
      ctx.fail(item, E.REQUIRED, 'mac', 'a reservation needs "mac" or "client_id" to know which client it is for');
    }
  }
  const relevant = ctx.items.filter((i) => i.after['ip'] !== null && (i.changed.has('ip') || i.changed.has('subnet_id')));
  if (relevant.length === 0) return;
  const subnets = new Map(
    (await ctx.loadWhereIn('dhcp_subnets', 'id', relevant.map((i) => i.after['subnet_id']))).map(subnetPools).filter((s): s is SubnetPools => s !== undefined).map((s) => [s.row.id, s]),
  );
  for (const item of relevant) {
    const s = subnets.get(item.after['subnet_id'] as number);
    const ip = parseIpv4(String(item.after['ip']));
    if (s === undefined || ip === undefined) continue;
    if (!cidrContains(s.cidr, ip)) {
      ctx.fail(item, E.IP_OUTSIDE_SUBNET, 'ip', `${formatIpv4(ip)} is outside subnet ${s.row['subnet']}`);
      continue;
    }
    const pool = s.pools.find((p) => rangeContains(p.range, ip));
    if (pool !== undefined) ctx.fail(item, E.IP_IN_DYNAMIC_POOL, 'ip', `${formatIpv4(ip)} is inside dynamic pool ${pool.text} of subnet ${s.row['subnet']}`);
  }
}

const SUBNET_KEYS_ELSEWHERE = ['id', 'subnet', 'reservations'] as const;

/**
 * A subnet's configuration: pools that parse, lie inside the subnet and do
 * not overlap; and no fixed address (server interface, reservation) left
 * inside a pool by a change of pools.
 */
export async function subnetConfig(ctx: RuleContext): Promise<void> {
  const changedPools: { item: BatchItem; s: SubnetPools }[] = [];
  for (const item of ctx.items) {
    const config = item.after['config'] as Record<string, unknown>;
    for (const k of SUBNET_KEYS_ELSEWHERE) {
      if (Object.hasOwn(config, k)) ctx.fail(item, E.INVALID_VALUE, `config.${k}`, `"${k}" lives outside config (${k === 'reservations' ? 'in dhcp_reservations' : 'as a column'})`);
    }
    const cidr = parseCidr(String(item.after['subnet']));
    if (cidr === undefined) continue;
    const pools = config['pools'];
    if (pools === undefined) continue;
    if (!Array.isArray(pools)) {
      ctx.fail(item, E.INVALID_VALUE, 'config.pools', 'must be a list');
      continue;
    }
    const seen: { text: string; range: Ipv4Range }[] = [];
    pools.forEach((p: unknown, i: number) => {
      const path = `config.pools[${i}]`;
      const text = poolText(p);
      const range = text === undefined ? undefined : parseRange(text);
      if (text === undefined || range === undefined) {
        ctx.fail(item, E.INVALID_VALUE, path, 'must be "a.b.c.d-e.f.g.h", a CIDR, or {"range": …}');
        return;
      }
      if (!cidrContains(cidr, range.start) || !cidrContains(cidr, range.end)) {
        ctx.fail(item, E.INVALID_VALUE, path, `${text} is outside subnet ${String(item.after['subnet'])}`);
        return;
      }
      const other = seen.find((x) => rangesOverlap(x.range, range));
      if (other !== undefined) ctx.fail(item, E.INVALID_VALUE, path, `${text} overlaps pool ${other.text}`);
      seen.push({ text, range });
    });
    if (!ctx.failed(item) && (item.changed.has('config') || item.changed.has('subnet'))) changedPools.push({ item, s: { row: item.after, cidr, pools: seen } });
  }
  if (changedPools.length === 0) return;
  const fixed: { what: string; ip: number; subnetId?: number }[] = [];
  const interfaces = await ctx.loadWhere('server_interfaces', {});
  const visible = await ctx.visibleIds('server_interfaces', interfaces);
  for (const r of interfaces) {
    const ip = typeof r['ip'] === 'string' ? parseIpv4(r['ip']) : undefined;
    const what = visible.has(r.id) ? `interface ${JSON.stringify(r['name'])} of server ${r['server_id']}` : 'a server interface';
    if (ip !== undefined) fixed.push({ what, ip });
  }
  for (const r of await ctx.loadWhereIn('dhcp_reservations', 'subnet_id', changedPools.map((c) => c.item.after.id))) {
    const ip = typeof r['ip'] === 'string' ? parseIpv4(r['ip']) : undefined;
    if (ip !== undefined) fixed.push({ what: `reservation ${r.id}`, ip, subnetId: r['subnet_id'] as number });
  }
  for (const { item, s } of changedPools) {
    s.pools.forEach((p, i) => {
      const hit = fixed.find((f) => (f.subnetId === undefined || f.subnetId === item.after.id) && rangeContains(p.range, f.ip));
      if (hit !== undefined) ctx.fail(item, E.IP_IN_DYNAMIC_POOL, `config.pools[${i}]`, `${p.text} would take in ${formatIpv4(hit.ip)}, the fixed address of ${hit.what}`);
    });
  }
}

/** A link joins two different ports, each of an existing object, each port on at most one link. */
export async function linkEnds(ctx: RuleContext): Promise<void> {
  const ends = ['a', 'b'] as const;
  const wanted = new Map<string, Set<number>>();
  for (const item of ctx.items) {
    for (const e of ends) {
      const t = String(item.after[`${e}_type`]);
      const set = wanted.get(t) ?? new Set<number>();
      set.add(item.after[`${e}_id`] as number);
      wanted.set(t, set);
    }
  }
  const existing = new Set<string>();
  for (const [type, ids] of wanted) {
    const table = LINK_END_TABLES.get(type);
    if (table === undefined) continue;
    // Another tenant's device is no end a scoped writer can name: it answers as a missing one.
    const rows = await ctx.loadWhereIn(table, 'id', [...ids]);
    const visible = await ctx.visibleIds(table, rows);
    for (const r of rows) if (visible.has(r.id)) existing.add(`${type}:${r.id}`);
  }
  const key = (item: BatchItem, e: 'a' | 'b') => `${String(item.after[`${e}_type`])}:${item.after[`${e}_id`]}:${String(item.after[`${e}_interface`])}`;
  const taken = new Map<string, string>();
  const rewritten = new Set(ctx.items.filter((i) => i.before !== undefined).map((i) => i.after.id));
  for (const e of ends) {
    const cols = ctx.items.map((i) => i.after[`${e}_id`]);
    for (const side of ends) {
      for (const r of await ctx.loadWhereIn('network_links', `${side}_id`, cols)) {
        if (rewritten.has(r.id)) continue;
        taken.set(`${String(r[`${side}_type`])}:${r[`${side}_id`]}:${String(r[`${side}_interface`])}`, `link ${r.id}`);
      }
    }
  }
  for (const item of ctx.items) {
    let ok = true;
    for (const e of ends) {
      if (!existing.has(`${String(item.after[`${e}_type`])}:${item.after[`${e}_id`]}`)) {
        ctx.fail(item, E.REFERENCE_NOT_FOUND, `${e}_id`, `no ${String(item.after[`${e}_type`])} with id ${item.after[`${e}_id`]}`);
        ok = false;
      }
    }
    if (!ok) continue;
    if (key(item, 'a') === key(item, 'b')) {
      ctx.fail(item, E.LINK_SELF, 'b_interface', 'a link joins two different ports');
      continue;
    }
    for (const e of ends) {
      const holder = taken.get(key(item, e));
      if (holder !== undefined) {
        ctx.fail(item, E.LINK_ENDPOINT_IN_USE, `${e}_interface`, `port ${String(item.after[`${e}_interface`])} is already on ${holder}`);
        ok = false;
      }
    }
    if (ok) for (const e of ends) taken.set(key(item, e), item.before === undefined ? `row [${item.index}] of this batch` : `link ${item.after.id}`);
  }
}

/** The tenants a user is scoped to exist. */
export async function userTenants(ctx: RuleContext): Promise<void> {
  const relevant = ctx.items.filter((i) => i.changed.has('tenant_ids'));
  const ids = [...new Set(relevant.flatMap((i) => i.after['tenant_ids'] as number[]))];
  if (ids.length === 0) return;
  const found = new Set((await ctx.loadWhereIn('tenants', 'id', ids)).map((r) => r.id));
  for (const item of relevant) {
    (item.after['tenant_ids'] as number[]).forEach((id, i) => {
      if (!found.has(id)) ctx.fail(item, E.REFERENCE_NOT_FOUND, `tenant_ids[${i}]`, `no tenant with id ${id}`);
    });
  }
}

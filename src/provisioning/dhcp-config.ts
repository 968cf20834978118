/**
 * The running DHCP configuration as the inventory makes it: the
 * configuration file's dhcp section (interfaces, globals, client classes,
 * shared networks) with its subnets replaced by the inventory's subnets and
 * their reservations. Pure functions: no database, no sockets.
 *
 * Who owns a subnet (dhcp-sync.ts seed): the file seeds the inventory with
 * each subnet id it lacks; a subnet never written through the API follows
 * the file after that; once the API has written it, the inventory's copy is
 * served and a differing file subnet (fileDrift) is only reported. Shared
 * networks stay in the file only.
 */
import { OPTION_DEFS_BY_CODE, OPTION_DEFS_BY_NAME } from '../dhcp/constants.js';
import { applyDefaults } from '../config/defaults.js';
import type { ResolvedDhcpConfig } from '../config/defaults.js';
import { ConfigErrorCode } from '../config/errors.js';
import type { ConfigProblem } from '../config/errors.js';
import type { DhcpConfig, OptionConfig, PoolConfig, ReservationConfig, SubnetConfig } from '../config/types.js';
import { validateConfig } from '../config/validate.js';
import { parseCidr, parseIpv4, parseRange, rangesOverlap } from '../net/ipv4.js';
import type { Ipv4Range } from '../net/ipv4.js';

/** A DHCP subnet as the inventory stores it (dhcp_subnets). */
export interface InventorySubnet {
  readonly id: number;
  readonly subnet: string;
  /** The file's subnet object without id, subnet and reservations. */
  readonly config: Readonly<Record<string, unknown>>;
}

/** A reservation as the inventory stores it (dhcp_reservations). */
export interface InventoryReservation {
  readonly id?: number;
  readonly subnet_id: number;
  readonly mac: string | null;
  readonly client_id: string | null;
  readonly ip: string | null;
  readonly hostname: string | null;
  /** Set on the reservation derived from a server's primary interface (src/inventory/derived-reservations.ts). */
  readonly server_id?: number | null;
}

type Json = Record<string, unknown>;

function sameMac(a: string | null | undefined, b: string | null | undefined): boolean {
  const norm = (x: string) => x.replace(/[:\-.\s]/g, '').toLowerCase();
  return a !== null && a !== undefined && b !== null && b !== undefined && norm(a) === norm(b);
}

/**
 * An option as the user would have written it: applyDefaults adds `code`,
 * `type` and `always_send: false`, which would otherwise show in the
 * inventory as if the user had written them.
 */
function plainOption(o: OptionConfig): OptionConfig {
  const out: Record<string, unknown> = { ...o };
  const byName = o.name === undefined ? undefined : OPTION_DEFS_BY_NAME.get(o.name);
  if (byName !== undefined && byName.code === o.code) delete out['code'];
  const code = o.code ?? byName?.code;
  if (code !== undefined && o.type !== undefined && OPTION_DEFS_BY_CODE.get(code)?.kind === o.type) delete out['type'];
  if (o.always_send === false) delete out['always_send'];
  return out as unknown as OptionConfig;
}

function plainOptions(list: readonly OptionConfig[] | undefined): readonly OptionConfig[] | undefined {
  return list === undefined || list.length === 0 ? undefined : list.map(plainOption);
}

function plainPool(p: PoolConfig): PoolConfig {
  if (typeof p === 'string') return p;
  const options = plainOptions(p.options);
  if (options === undefined && p.client_class === undefined) return p.range;
  return { range: p.range, ...(p.client_class === undefined ? {} : { client_class: p.client_class }), ...(options === undefined ? {} : { options }) };
}

/**
 * A file subnet as the inventory stores it (its `config` column). The loaded
 * file is already resolved, so what resolution added is taken out again:
 * empty lists, option codes and types, and timers equal to the global ones
 * they were inherited from (kept, they would stop following the global value).
 */
export function subnetRowConfig(s: SubnetConfig, dhcp: DhcpConfig): Json {
  const { id: _id, subnet: _subnet, reservations: _reservations, ...rest } = s;
  const out: Json = { ...rest };
  for (const k of ['routers', 'dns_servers', 'relay_addresses'] as const) {
    const v = rest[k];
    if (v !== undefined && v.length === 0) delete out[k];
  }
  if (rest.pools !== undefined) {
    if (rest.pools.length === 0) delete out['pools'];
    else out['pools'] = rest.pools.map(plainPool);
  }
  const options = plainOptions(rest.options);
  if (options === undefined) delete out['options'];
  else out['options'] = options;
  for (const k of ['lease_time', 'renew_timer', 'rebind_timer'] as const) {
    if (rest[k] !== undefined && rest[k] === dhcp[k]) delete out[k];
  }
  if (rest.lease_time === 3600 && dhcp.lease_time === undefined) delete out['lease_time'];
  return out;
}

/** A file reservation as the inventory stores it; options, boot and client_classes stay in the file (composeDhcpConfig). */
export function reservationRow(r: ReservationConfig, subnetId: number): InventoryReservation {
  return { subnet_id: subnetId, mac: r.mac ?? null, client_id: r.client_id ?? null, ip: r.ip ?? null, hostname: r.hostname ?? null };
}

/** The file reservation a stored one stands for (same client), whose options, boot and classes it keeps. */
function fileReservationFor(file: DhcpConfig, r: InventoryReservation): ReservationConfig | undefined {
  const subnet = file.subnets?.find((s) => s.id === r.subnet_id);
  const hex = (x: string | null | undefined) => (x === null || x === undefined ? undefined : x.replace(/[:\-\s]/g, '').toLowerCase());
  return subnet?.reservations?.find((f) => (r.mac !== null && sameMac(f.mac, r.mac)) || (r.client_id !== null && hex(f.client_id) === hex(r.client_id)));
}

function reservationConfig(file: DhcpConfig, r: InventoryReservation): ReservationConfig {
  const fromFile = fileReservationFor(file, r);
  const extra: Json = {};
  if (fromFile?.options !== undefined && fromFile.options.length > 0) extra['options'] = fromFile.options;
  if (fromFile?.boot !== undefined) extra['boot'] = fromFile.boot;
  if (fromFile?.client_classes !== undefined && fromFile.client_classes.length > 0) extra['client_classes'] = fromFile.client_classes;
  return {
    ...(r.mac === null ? {} : { mac: r.mac }),
    ...(r.client_id === null ? {} : { client_id: r.client_id }),
    ...(r.ip === null ? {} : { ip: r.ip }),
    ...(r.hostname === null ? {} : { hostname: r.hostname }),
    ...extra,
  };
}

/**
 * The file's dhcp section with its subnets replaced by the inventory's, in
 * id order, each with its reservations (in the order given). A reservation
 * the file also has (same subnet, same MAC or client id) keeps the file's
 * options, boot settings and client classes: the inventory has no fields
 * for them yet.
 */
export function composeDhcpConfig(file: DhcpConfig, subnets: readonly InventorySubnet[], reservations: readonly InventoryReservation[]): DhcpConfig {
  const bySubnet = new Map<number, InventoryReservation[]>();
  for (const r of reservations) {
    const list = bySubnet.get(r.subnet_id) ?? [];
    list.push(r);
    bySubnet.set(r.subnet_id, list);
  }
  const composed = [...subnets]
    .sort((a, b) => a.id - b.id)
    .map((s): SubnetConfig => {
      const own = bySubnet.get(s.id) ?? [];
      return {
        ...(s.config as Partial<SubnetConfig>),
        id: s.id,
        subnet: s.subnet,
        ...(own.length === 0 ? {} : { reservations: own.map((r) => reservationConfig(file, r)) }),
      };
    });
  return { ...file, subnets: composed };
}

/**
 * What the configuration file's check says about a composed section. An
 * inventory without subnets is not a mistake here (they come through the
 * API), so "DHCP is enabled but no subnet is configured" is left out.
 */
export function composedProblems(dhcp: DhcpConfig): ConfigProblem[] {
  const r = validateConfig({ dhcp });
  return r.ok ? [] : r.problems.filter((p) => p.code !== ConfigErrorCode.NO_SUBNETS);
}

/** Defaults filled in, as DhcpServer runs it; the caller has checked composedProblems. */
export function resolveComposed(dhcp: DhcpConfig): ResolvedDhcpConfig {
  return applyDefaults({ dhcp }).dhcp;
}

/** A refusal of an inventory write, by the field of the written row it concerns. */
export interface RowProblem {
  /** The written row's id. */
  readonly id: number;
  /** Field path in the row (`config.pools[0]`, `ip`), `''` for the row as a whole. */
  readonly path: string;
  readonly message: string;
}

const problemText = (p: ConfigProblem): string => `${p.path}: ${p.message}`;

/** What of a subnet the configuration check compares across subnets; undefined parts could not be read (then it meets everything). */
interface Reach {
  /** The network and the pools. */
  readonly ranges: readonly Ipv4Range[] | undefined;
  readonly iface: string | undefined;
  readonly relays: ReadonlySet<number>;
}

/** Up to this many written subnets, the others they cannot meet are left out of the check (the pairs cost more beyond). */
const REACH_LIMIT = 64;

function reach(s: InventorySubnet): Reach {
  const cidr = parseCidr(s.subnet);
  const pools = Array.isArray(s.config['pools']) ? (s.config['pools'] as unknown[]) : [];
  const ranges: Ipv4Range[] = cidr === undefined ? [] : [{ start: cidr.network, end: cidr.broadcast }];
  let readable = cidr !== undefined;
  for (const p of pools) {
    const text = typeof p === 'string' ? p : typeof p === 'object' && p !== null && typeof (p as { range?: unknown }).range === 'string' ? (p as { range: string }).range : undefined;
    const range = text === undefined ? undefined : parseRange(text);
    if (range === undefined) readable = false;
    else ranges.push(range);
  }
  const relays = new Set<number>();
  for (const r of Array.isArray(s.config['relay_addresses']) ? (s.config['relay_addresses'] as unknown[]) : []) {
    const ip = typeof r === 'string' ? parseIpv4(r) : undefined;
    if (ip !== undefined) relays.add(ip);
  }
  const iface = s.config['interface'];
  return { ranges: readable ? ranges : undefined, iface: typeof iface === 'string' ? iface : undefined, relays };
}

/**
 * Whether two inventory subnets can make a problem together in the composed
 * configuration. The check's only rules across subnets: networks and pools
 * overlap, one interface per subnet, one relay address per subnet (ids are
 * the table's key, and the others are composed without their reservations).
 */
function mayMeet(a: Reach, b: Reach): boolean {
  if (a.ranges === undefined || b.ranges === undefined) return true;
  if (a.iface !== undefined && a.iface === b.iface) return true;
  for (const r of a.relays) if (b.relays.has(r)) return true;
  return a.ranges.some((x) => b.ranges!.some((y) => rangesOverlap(x, y)));
}

/**
 * Problems a write of subnets `written` (ids) brings into the composed
 * configuration: those found with the written subnets and not without them,
 * so a problem already there (a file changed under the inventory) does not
 * block unrelated writes, and a subnet's own mistakes are named by its fields.
 * `reservations` are the stored ones of the written subnets.
 */
export function subnetWriteProblems(
  file: DhcpConfig,
  all: readonly InventorySubnet[],
  written: ReadonlySet<number>,
  reservations: readonly InventoryReservation[],
): RowProblem[] {
  // Written subnets last, so the others keep their indexes (and the messages naming them) in both runs.
  const mine = all.filter((s) => written.has(s.id)).sort((a, b) => a.id - b.id);
  // Only the others a written subnet can meet: the check of thousands of subnets is most of a write's cost.
  const reaches = mine.length > REACH_LIMIT ? undefined : mine.map(reach);
  const others = all.filter((s) => !written.has(s.id) && (reaches === undefined || reaches.some((m) => mayMeet(m, reach(s))))).sort((a, b) => a.id - b.id);
  const base = { ...file, subnets: others.map((s) => ({ ...(s.config as Partial<SubnetConfig>), id: s.id, subnet: s.subnet })) };
  const before = new Set(composedProblems(base).map(problemText));
  const subnets: SubnetConfig[] = [
    ...(base.subnets as SubnetConfig[]),
    ...mine.map((s) => ({
      ...(s.config as Partial<SubnetConfig>),
      id: s.id,
      subnet: s.subnet,
      reservations: reservations.filter((r) => r.subnet_id === s.id).map((r) => reservationConfig(file, r)),
    })),
  ];
  const problems = composedProblems({ ...file, subnets }).filter((p) => !before.has(problemText(p)));
  const out: RowProblem[] = [];
  for (const p of problems) {
    const m = /^dhcp\.subnets\[(\d+)\](.*)$/.exec(p.path);
    const at = m === null ? -1 : Number(m[1]) - others.length;
    const s = at >= 0 ? mine[at] : undefined;
    if (s === undefined || m === null) {
      // Found elsewhere (another subnet, a shared network) but caused by this write: named by its place in the configuration.
      const first = mine[0];
      if (first !== undefined) out.push({ id: first.id, path: '', message: `the DHCP configuration would be invalid at ${p.path} (${p.code}): ${p.message}` });
      continue;
    }
    const rest = m[2] ?? '';
    const field = /^\.(id|subnet)$/.exec(rest);
    const reservation = /^\.reservations\[(\d+)\]/.exec(rest);
    if (field !== null) out.push({ id: s.id, path: field[1] as string, message: `${p.message} (${p.code})` });
    else if (reservation !== null) {
      const r = reservations.filter((x) => x.subnet_id === s.id)[Number(reservation[1])];
      out.push({ id: s.id, path: 'subnet', message: `reservation ${r?.id ?? ''} (${r?.ip ?? r?.mac ?? ''}) would be invalid: ${p.message} (${p.code})` });
    } else out.push({ id: s.id, path: rest === '' ? 'config' : `config${rest}`, message: `${p.message} (${p.code})` });
  }
  return out;
}

/**
 * Problems of written reservations (by their index in `written`) in the
 * composed configuration: each checked inside its subnet, alone, because
 * what reservations share (MAC, client id, address per subnet) is the
 * inventory's unique indexes' to check.
 */
export function reservationWriteProblems(
  file: DhcpConfig,
  subnets: readonly InventorySubnet[],
  written: readonly InventoryReservation[],
): { index: number; path: string; message: string }[] {
  const used = subnets.filter((s) => written.some((r) => r.subnet_id === s.id));
  const out: { index: number; path: string; message: string }[] = [];
  if (used.length === 0) return out;
  const composed = composeDhcpConfig(file, used, written);
  const sorted = [...used].sort((a, b) => a.id - b.id);
  for (const p of composedProblems({ ...composed, shared_networks: [] })) {
    const m = /^dhcp\.subnets\[(\d+)\]\.reservations\[(\d+)\](?:\.(\w+))?/.exec(p.path);
    if (m === null) continue;
    const s = sorted[Number(m[1])];
    if (s === undefined) continue;
    const mineInSubnet = written.map((r, index) => ({ r, index })).filter((x) => x.r.subnet_id === s.id);
    const hit = mineInSubnet[Number(m[2])];
    if (hit === undefined) continue;
    out.push({ index: hit.index, path: m[3] ?? '', message: `${p.message} (${p.code})` });
  }
  return out;
}

/** Keys in a stable order, so two copies compare by content. */
function stable(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stable);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, stable((v as Json)[k])]),
    );
  }
  return v;
}

/** A file subnet whose inventory copy differs, and how. */
export interface SubnetDrift {
  readonly id: number;
  readonly subnet: string;
  /** What differs: `subnet`, config keys, `reservations`. */
  readonly differs: readonly string[];
}

/**
 * File subnets the inventory has under the same id but with other content.
 * Compared resolved (defaults filled in) on both sides, so a value written
 * out in one and left to its default in the other is no difference.
 * Reservations derived from servers are the inventory's own, never the
 * file's, so they are no difference either.
 */
export function fileDrift(file: DhcpConfig, subnets: readonly InventorySubnet[], reservations: readonly InventoryReservation[]): SubnetDrift[] {
  const out: SubnetDrift[] = [];
  const stored = new Map(subnets.map((s) => [s.id, s]));
  for (const f of file.subnets ?? []) {
    const db = stored.get(f.id);
    if (db === undefined) continue;
    const a = resolveComposed({ ...file, subnets: [f] }).subnets[0];
    const own = reservations.filter((r) => r.subnet_id === db.id && (r.server_id ?? null) === null);
    const b = resolveComposed(composeDhcpConfig(file, [db], own)).subnets[0];
    if (a === undefined || b === undefined) continue;
    const differs: string[] = [];
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of [...keys].sort()) {
      const av = (a as unknown as Json)[k];
      const bv = (b as unknown as Json)[k];
      if (k === 'reservations') {
        // MACs and client ids as the inventory stores them (case and separators normalized).
        const hex = (x: string | null) => (x === null ? null : x.replace(/[:\-.\s]/g, '').toLowerCase());
        const key = (r: ReservationConfig) => {
          const row = reservationRow(r, 0);
          return JSON.stringify(stable({ ...row, mac: hex(row.mac), client_id: hex(row.client_id) }));
        };
        const rows = (list: unknown) => JSON.stringify(((list ?? []) as ReservationConfig[]).map(key).sort());
        if (rows(av) !== rows(bv)) differs.push(k);
      } else if (JSON.stringify(stable(av)) !== JSON.stringify(stable(bv))) differs.push(k);
    }
    if (differs.length > 0) out.push({ id: f.id, subnet: f.subnet, differs });
  }
  return out;
}

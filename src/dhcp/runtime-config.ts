import { DcplaneError } from '../common/errors.js';
import type {
  ClientClassConfig, DhcpConfig, OptionConfig, PoolConfig, ReservationConfig, SharedNetworkConfig, SubnetConfig,
} from '../config/types.js';
import type { Ipv4 } from '../net/ipv4.js';
import { formatIpv4, parseCidr, parseIpv4, parseMac, parseRange, formatMac } from '../net/ipv4.js';
import type { RuntimeBoot } from './boot.js';
import { compileBoot, mergeBoot } from './boot.js';
import type { CompiledMatch } from './classify.js';
import { compileMatch } from './classify.js';
import { OPTION_DEFS_BY_CODE, OPTION_DEFS_BY_NAME, Opt, SERVER_OWNED_OPTIONS } from './constants.js';
import { encodeOptionValue } from './option-values.js';

export const RuntimeConfigErrorCode = {
  /** The configuration is not one validate.ts accepts (the engine is handed only valid configurations). */
  INVALID: 'DHCP_ERR_RUNTIME_CONFIG',
} as const;

/** Defaults applied when the configuration leaves a value out. */
export const DHCP_DEFAULTS = {
  leaseTime: 3600,
  offerTime: 60,
  declineProbation: 86400,
  authoritative: true,
  /** Expired and released addresses stay reserved for their last client this long, while other addresses are free. */
  holdReclaimed: 3600,
  /** T1 = 50 % and T2 = 87.5 % of the lease (RFC 2131 §4.4.5). */
  renewFraction: 0.5,
  rebindFraction: 0.875,
} as const;

/**
 * Option codes whose values the engine computes per lease; a configured value
 * would contradict the lease it is sent with, so configuration for them is ignored.
 */
const COMPUTED_OPTIONS: ReadonlySet<number> = new Set([Opt.LEASE_TIME, Opt.RENEWAL_TIME, Opt.REBINDING_TIME]);

/** One option's value, encoded once at compile time. */
export interface RuntimeOption {
  readonly code: number;
  readonly value: Uint8Array;
  readonly alwaysSend: boolean;
}

/** Options by code, after precedence between configuration levels is applied. */
export interface OptionLayer {
  readonly byCode: ReadonlyMap<number, RuntimeOption>;
  /** The entries of byCode flagged always_send, in configuration order. */
  readonly alwaysSend: readonly RuntimeOption[];
}

export interface RuntimePool {
  readonly index: number;
  readonly start: Ipv4;
  readonly end: Ipv4;
  readonly size: number;
  readonly text: string;
  readonly clientClass: string | undefined;
  /** Pool > subnet > shared network > global, merged. */
  readonly options: OptionLayer;
  /**
   * Next address to try. Soft state: only a hint that spreads allocations,
   * never trusted for correctness (every candidate is checked in the LeaseView).
   */
  cursor: Ipv4;
  /**
   * The second (`now`) in which a walk of the whole pool found no address:
   * later DISCOVERs in that second skip the pool instead of walking it again.
   * Soft state like the cursor: cleared when this engine frees an address in
   * the subnet, and worth one second at most otherwise (an address freed by
   * time or by another engine sharing the store is found in the next one).
   * -1 while not known to be exhausted.
   */
  exhaustedAt: number;
}

export interface RuntimeReservation {
  readonly subnetId: number;
  /** 0 when the reservation gives options or classes but no address. */
  readonly ip: Ipv4;
  readonly mac: string | undefined;
  readonly clientId: string | undefined;
  readonly hostname: string | undefined;
  readonly hostnameValue: Uint8Array | undefined;
  /** The reservation's own options only (it sits above classes). */
  readonly options: OptionLayer | undefined;
  /** The reservation's own boot fields only. */
  readonly boot: RuntimeBoot | undefined;
  readonly classes: readonly string[] | undefined;
}

export interface RuntimeSubnet {
  readonly id: number;
  readonly text: string;
  readonly network: Ipv4;
  readonly prefix: number;
  readonly mask: Ipv4;
  readonly broadcast: Ipv4;
  readonly pools: readonly RuntimePool[];
  readonly leaseTime: number;
  readonly renewTime: number;
  readonly rebindTime: number;
  readonly leaseTimeValue: Uint8Array;
  readonly renewTimeValue: Uint8Array;
  readonly rebindTimeValue: Uint8Array;
  readonly broadcastValue: Uint8Array;
  readonly interface: string | undefined;
  readonly clientClass: string | undefined;
  /** Subnet > shared network > global, merged, with the subnet mask (1) filled in. */
  readonly options: OptionLayer;
  /** Subnet boot over global boot, merged field by field. */
  readonly boot: RuntimeBoot | undefined;
  readonly reservationsByMac: ReadonlyMap<string, RuntimeReservation>;
  readonly reservationsByClientId: ReadonlyMap<string, RuntimeReservation>;
  readonly reservationsByIp: ReadonlyMap<Ipv4, RuntimeReservation>;
  /** The subnets a client selected into this subnet may use: its shared network's, in order, or itself alone. */
  group: readonly RuntimeSubnet[];
  readonly sharedNetwork: string | undefined;
}

export interface RuntimeClientClass {
  readonly name: string;
  readonly match: CompiledMatch;
  readonly options: OptionLayer | undefined;
  readonly boot: RuntimeBoot | undefined;
}

export interface DhcpRuntime {
  readonly subnets: readonly RuntimeSubnet[];
  readonly subnetsById: ReadonlyMap<number, RuntimeSubnet>;
  /** Prefix lengths present, longest first, each with its subnets by network address. */
  readonly byPrefix: readonly { readonly prefix: number; readonly mask: Ipv4; readonly subnets: ReadonlyMap<Ipv4, RuntimeSubnet> }[];
  readonly byInterface: ReadonlyMap<string, RuntimeSubnet>;
  readonly byRelay: ReadonlyMap<Ipv4, RuntimeSubnet>;
  readonly classes: readonly RuntimeClientClass[];
  readonly offerTime: number;
  readonly declineProbation: number;
  readonly authoritative: boolean;
  readonly holdReclaimed: number;
}

function invalid(path: string, why: string): DcplaneError {
  return new DcplaneError(RuntimeConfigErrorCode.INVALID, `${path}: ${why}`);
}

function uint32(n: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function compileOption(o: OptionConfig, path: string): RuntimeOption | undefined {
  const code = o.code ?? (o.name !== undefined ? OPTION_DEFS_BY_NAME.get(o.name)?.code : undefined);
  if (code === undefined) throw invalid(path, 'option has neither a code nor a known name');
  if (SERVER_OWNED_OPTIONS.has(code) || COMPUTED_OPTIONS.has(code)) return undefined;
  const kind = o.type ?? OPTION_DEFS_BY_CODE.get(code)?.kind;
  if (kind === undefined) throw invalid(path, `option ${code} needs a type`);
  return { code, value: encodeOptionValue(kind, o.value), alwaysSend: o.always_send === true };
}

function ownOptions(list: readonly OptionConfig[] | undefined, path: string): RuntimeOption[] {
  const out: RuntimeOption[] = [];
  list?.forEach((o, i) => {
    const c = compileOption(o, `${path}.options[${i}]`);
    if (c !== undefined) out.push(c);
  });
  return out;
}

const EMPTY_LAYER: OptionLayer = Object.freeze({ byCode: new Map(), alwaysSend: [] });

/** `high` entries replace `low` ones with the same code. */
function layer(high: readonly RuntimeOption[], low: OptionLayer = EMPTY_LAYER): OptionLayer {
  if (high.length === 0) return low;
  const byCode = new Map(low.byCode);
  for (const o of high) byCode.set(o.code, o);
  return Object.freeze({ byCode, alwaysSend: [...byCode.values()].filter((o) => o.alwaysSend) });
}

function normaliseClientId(text: string): string {
  return text.toLowerCase().replace(/^0x/, '').replace(/[^0-9a-f]/g, '');
}

function compileReservation(r: ReservationConfig, subnetId: number, path: string): RuntimeReservation {
  let mac: string | undefined;
  if (r.mac !== undefined) {
    const bytes = parseMac(r.mac);
    if (bytes === undefined) throw invalid(`${path}.mac`, 'not a MAC address');
    mac = formatMac(bytes);
  }
  const ip = r.ip !== undefined ? parseIpv4(r.ip) : 0;
  if (ip === undefined) throw invalid(`${path}.ip`, 'not an IPv4 address');
  const own = ownOptions(r.options, path);
  return Object.freeze({
    subnetId,
    ip,
    mac,
    clientId: r.client_id !== undefined ? normaliseClientId(r.client_id) : undefined,
    hostname: r.hostname,
    hostnameValue: r.hostname !== undefined && r.hostname !== '' ? Buffer.from(r.hostname, 'latin1') : undefined,
    options: own.length > 0 ? layer(own) : undefined,
    boot: compileBoot(r.boot),
    classes: r.client_classes,
  });
}

interface Timers { leaseTime: number; renewTime: number; rebindTime: number }

/** T1 < T2 < lease (RFC 2131 §4.4.5); an inconsistent setting falls back to the RFC's fractions. */
function timers(dhcp: DhcpConfig, s: SubnetConfig): Timers {
  const leaseTime = s.lease_time ?? dhcp.lease_time ?? DHCP_DEFAULTS.leaseTime;
  let renewTime = s.renew_timer ?? (s.lease_time === undefined ? dhcp.renew_timer : undefined) ?? Math.floor(leaseTime * DHCP_DEFAULTS.renewFraction);
  let rebindTime = s.rebind_timer ?? (s.lease_time === undefined ? dhcp.rebind_timer : undefined) ?? Math.floor(leaseTime * DHCP_DEFAULTS.rebindFraction);
  if (!(renewTime < rebindTime && rebindTime < leaseTime) && leaseTime > 1) {
    renewTime = Math.floor(leaseTime * DHCP_DEFAULTS.renewFraction);
    rebindTime = Math.floor(leaseTime * DHCP_DEFAULTS.rebindFraction);
  }
  return { leaseTime, renewTime, rebindTime };
}

function poolObject(p: PoolConfig): { range: string; client_class?: string; options?: readonly OptionConfig[] } {
  return typeof p === 'string' ? { range: p } : p;
}

function compileSubnet(
  dhcp: DhcpConfig,
  s: SubnetConfig,
  path: string,
  upper: OptionLayer,
  globalBoot: RuntimeBoot | undefined,
  shared: SharedNetworkConfig | undefined,
): RuntimeSubnet {
  const cidr = parseCidr(s.subnet);
  if (cidr === undefined) throw invalid(`${path}.subnet`, 'not a CIDR network');
  // Convenience keys first, so an explicit `options` entry at the same level overrides them.
  const conv: RuntimeOption[] = [{ code: Opt.SUBNET_MASK, value: uint32(cidr.mask), alwaysSend: false }];
  if (s.routers !== undefined && s.routers.length > 0) conv.push({ code: Opt.ROUTERS, value: encodeOptionValue('ips', s.routers), alwaysSend: false });
  if (s.dns_servers !== undefined && s.dns_servers.length > 0) conv.push({ code: Opt.DNS_SERVERS, value: encodeOptionValue('ips', s.dns_servers), alwaysSend: false });
  if (s.domain_name !== undefined && s.domain_name !== '') conv.push({ code: Opt.DOMAIN_NAME, value: encodeOptionValue('string', s.domain_name), alwaysSend: false });
  const options = layer([...conv, ...ownOptions(s.options, path)], upper);
  const pools = (s.pools ?? []).map((pc, i): RuntimePool => {
    const p = poolObject(pc);
    const r = parseRange(p.range);
    if (r === undefined) throw invalid(`${path}.pools[${i}]`, 'not an address range');
    return {
      index: i,
      start: r.start,
      end: r.end,
      size: r.end - r.start + 1,
      text: `${formatIpv4(r.start)}-${formatIpv4(r.end)}`,
      clientClass: p.client_class,
      options: layer(ownOptions(p.options, `${path}.pools[${i}]`), options),
      cursor: r.start,
      exhaustedAt: -1,
    };
  });
  const byMac = new Map<string, RuntimeReservation>();
  const byCid = new Map<string, RuntimeReservation>();
  const byIp = new Map<Ipv4, RuntimeReservation>();
  s.reservations?.forEach((rc, i) => {
    const r = compileReservation(rc, s.id, `${path}.reservations[${i}]`);
    if (r.mac !== undefined && !byMac.has(r.mac)) byMac.set(r.mac, r);
    if (r.clientId !== undefined && r.clientId !== '' && !byCid.has(r.clientId)) byCid.set(r.clientId, r);
    if (r.ip !== 0 && !byIp.has(r.ip)) byIp.set(r.ip, r);
  });
  const t = timers(dhcp, s);
  const self: RuntimeSubnet = {
    id: s.id,
    text: s.subnet,
    network: cidr.network,
    prefix: cidr.prefix,
    mask: cidr.mask,
    broadcast: cidr.broadcast,
    pools,
    ...t,
    leaseTimeValue: uint32(t.leaseTime),
    renewTimeValue: uint32(t.renewTime),
    rebindTimeValue: uint32(t.rebindTime),
    broadcastValue: uint32(cidr.broadcast),
    interface: s.interface ?? shared?.interface,
    clientClass: s.client_class,
    options,
    boot: mergeBoot(compileBoot(s.boot), globalBoot),
    reservationsByMac: byMac,
    reservationsByClientId: byCid,
    reservationsByIp: byIp,
    group: [],
    sharedNetwork: shared?.name,
  };
  self.group = [self];
  return self;
}

function compileClass(c: ClientClassConfig, path: string): RuntimeClientClass {
  const own = ownOptions(c.options, path);
  return Object.freeze({
    name: c.name,
    match: compileMatch(c.match),
    options: own.length > 0 ? layer(own) : undefined,
    boot: compileBoot(c.boot),
  });
}

/**
 * Turns a validated DhcpConfig into the structures the engine reads per
 * packet: option values encoded to bytes, precedence layers merged,
 * reservations in Maps, subnets indexed by prefix, relay address and
 * interface.
 */
export function compileDhcpConfig(dhcp: DhcpConfig): DhcpRuntime {
  const global = layer(ownOptions(dhcp.options, 'dhcp'));
  const globalBoot = compileBoot(dhcp.boot);
  const subnets: RuntimeSubnet[] = [];
  const byInterface = new Map<string, RuntimeSubnet>();
  const byRelay = new Map<Ipv4, RuntimeSubnet>();
  const addRelays = (list: readonly string[] | undefined, s: RuntimeSubnet, path: string): void => {
    list?.forEach((a, i) => {
      const ip = parseIpv4(a);
      if (ip === undefined) throw invalid(`${path}.relay_addresses[${i}]`, 'not an IPv4 address');
      if (!byRelay.has(ip)) byRelay.set(ip, s);
    });
  };
  dhcp.subnets?.forEach((sc, i) => {
    const path = `dhcp.subnets[${i}]`;
    const s = compileSubnet(dhcp, sc, path, global, globalBoot, undefined);
    subnets.push(s);
    addRelays(sc.relay_addresses, s, path);
  });
  dhcp.shared_networks?.forEach((nc, n) => {
    const npath = `dhcp.shared_networks[${n}]`;
    const upper = layer(ownOptions(nc.options, npath), global);
    const group = nc.subnets.map((sc, i) => compileSubnet(dhcp, sc, `${npath}.subnets[${i}]`, upper, globalBoot, nc));
    const frozen = Object.freeze(group);
    group.forEach((s, i) => {
      s.group = frozen;
      subnets.push(s);
      addRelays(nc.subnets[i]?.relay_addresses, s, `${npath}.subnets[${i}]`);
    });
    if (group[0] !== undefined) addRelays(nc.relay_addresses, group[0], npath);
  });
  for (const s of subnets) if (s.interface !== undefined && !byInterface.has(s.interface)) byInterface.set(s.interface, s);
  const prefixes = [...new Set(subnets.map((s) => s.prefix))].sort((a, b) => b - a);
  const byPrefix = prefixes.map((prefix) => {
    const m = new Map<Ipv4, RuntimeSubnet>();
    for (const s of subnets) if (s.prefix === prefix && !m.has(s.network)) m.set(s.network, s);
    return { prefix, mask: subnets.find((s) => s.prefix === prefix)?.mask ?? 0, subnets: m };
  });
  return {
    subnets,
    subnetsById: new Map(subnets.map((s) => [s.id, s])),
    byPrefix,
    byInterface,
    byRelay,
    classes: (dhcp.client_classes ?? []).map((c, i) => compileClass(c, `dhcp.client_classes[${i}]`)),
    offerTime: dhcp.offer_time ?? DHCP_DEFAULTS.offerTime,
    declineProbation: dhcp.decline_probation ?? DHCP_DEFAULTS.declineProbation,
    authoritative: dhcp.authoritative ?? DHCP_DEFAULTS.authoritative,
    holdReclaimed: dhcp.hold_reclaimed ?? DHCP_DEFAULTS.holdReclaimed,
  };
}

/** The most specific configured subnet containing `ip`. */
export function subnetContaining(rt: DhcpRuntime, ip: Ipv4): RuntimeSubnet | undefined {
  for (const p of rt.byPrefix) {
    const s = p.subnets.get((ip & p.mask) >>> 0);
    if (s !== undefined) return s;
  }
  return undefined;
}

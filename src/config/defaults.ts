import { OPTION_DEFS_BY_CODE, OPTION_DEFS_BY_NAME } from '../dhcp/constants.js';
import type { OptionKind } from '../dhcp/constants.js';
import type {
  ClientClassConfig,
  DcplaneConfig,
  DhcpConfig,
  LogConfig,
  OptionConfig,
  PoolConfig,
  PoolObjectConfig,
  ReservationConfig,
  SharedNetworkConfig,
  SubnetConfig,
  TftpConfig,
  TftpRemapRule,
} from './types.js';

/**
 * Every default in one place; schema/dcplane.schema.json documents the same
 * values (a test keeps the two in step).
 */
export const DEFAULTS = Object.freeze({
  data_dir: './data',
  database: 'sqlite',
  api_listen: '127.0.0.1:8080',
  log_level: 'info',
  dhcp_enabled: false,
  dhcp_port: 67,
  lease_time: 3600,
  offer_time: 60,
  decline_probation: 86400,
  authoritative: true,
  reclaim_interval: 10,
  // Addresses are reusable as soon as a lease is reclaimed; the allocator prefers never-used ones, so clients usually keep theirs anyway.
  hold_reclaimed: 3600,
  commit_delay_ms: 0,
  tftp_enabled: false,
  tftp_listen: '0.0.0.0:69',
  tftp_root: '/srv/tftp',
  // 1500-byte Ethernet MTU − 20 (IPv4) − 8 (UDP) − 4 (TFTP header).
  tftp_max_blksize: 1468,
  tftp_max_windowsize: 64,
  tftp_timeout: 1,
  tftp_retries: 5,
  tftp_max_transfers: 1000,
  // Above the 500 clients a storm test (and a rack behind one NAT) sends from one address, below max_transfers, so one address cannot take every slot.
  tftp_max_transfers_per_client: 512,
  tftp_max_timeout: 10,
  tftp_rate_limit_burst: 30,
  tftp_cache_max_bytes: 256 * 1024 * 1024,
  tftp_cache_max_file_bytes: 64 * 1024 * 1024,
  tftp_netascii_max_bytes: 4 * 1024 * 1024,
  tftp_write_enabled: false,
  tftp_write_max_bytes: 100 * 1024 * 1024,
  tftp_write_overwrite: false,
  tftp_generated_enabled: true,
  tftp_remap_replace: '$&',
  tftp_remap_flags: '',
  tftp_remap_lowercase: false,
} as const);

export type LogLevel = NonNullable<LogConfig['level']>;

/** An option with its code and value kind resolved (from `name` or the known definitions). */
export interface ResolvedOption extends OptionConfig {
  readonly code: number;
  readonly type: OptionKind;
  readonly always_send: boolean;
}

/** Pools are always objects once resolved; a plain range string becomes `{ range }`. */
export interface ResolvedPool extends PoolObjectConfig {
  readonly options: readonly ResolvedOption[];
}

export interface ResolvedReservation extends ReservationConfig {
  readonly options: readonly ResolvedOption[];
  readonly client_classes: readonly string[];
}

/** A subnet with lists present and lease_time (and T1/T2 when set globally) inherited from dhcp. */
export interface ResolvedSubnet extends SubnetConfig {
  readonly pools: readonly ResolvedPool[];
  readonly routers: readonly string[];
  readonly dns_servers: readonly string[];
  readonly lease_time: number;
  readonly relay_addresses: readonly string[];
  readonly reservations: readonly ResolvedReservation[];
  readonly options: readonly ResolvedOption[];
}

export interface ResolvedSharedNetwork extends SharedNetworkConfig {
  readonly relay_addresses: readonly string[];
  readonly options: readonly ResolvedOption[];
  readonly subnets: readonly ResolvedSubnet[];
}

export interface ResolvedClientClass extends ClientClassConfig {
  readonly options: readonly ResolvedOption[];
}

export interface ResolvedDhcpConfig extends DhcpConfig {
  readonly enabled: boolean;
  readonly interfaces: readonly string[];
  readonly port: number;
  readonly lease_time: number;
  readonly offer_time: number;
  readonly decline_probation: number;
  readonly authoritative: boolean;
  readonly reclaim_interval: number;
  readonly hold_reclaimed: number;
  readonly commit_delay_ms: number;
  readonly subnets: readonly ResolvedSubnet[];
  readonly shared_networks: readonly ResolvedSharedNetwork[];
  readonly client_classes: readonly ResolvedClientClass[];
  readonly options: readonly ResolvedOption[];
}

export interface ResolvedTftpRemapRule extends TftpRemapRule {
  readonly replace: string;
  readonly flags: string;
  readonly lowercase: boolean;
}

export interface ResolvedTftpConfig {
  readonly enabled: boolean;
  readonly listen: string;
  readonly root: string;
  readonly max_blksize: number;
  readonly max_windowsize: number;
  readonly timeout: number;
  readonly retries: number;
  readonly max_transfers: number;
  readonly max_transfers_per_client: number;
  readonly max_timeout: number;
  readonly netascii_max_bytes: number;
  /** Absent: no rate limit. */
  readonly rate_limit?: { readonly requests_per_second: number; readonly burst: number };
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly remap: readonly ResolvedTftpRemapRule[];
  readonly cache: { readonly max_bytes: number; readonly max_file_bytes: number };
  readonly write: { readonly enabled: boolean; readonly upload_dir?: string; readonly max_bytes: number; readonly overwrite: boolean };
  readonly generated: { readonly enabled: boolean };
}

function resolveTftp(t: TftpConfig): ResolvedTftpConfig {
  const rate = t.rate_limit;
  const uploadDir = t.write?.upload_dir;
  return {
    enabled: t.enabled ?? DEFAULTS.tftp_enabled,
    listen: t.listen ?? DEFAULTS.tftp_listen,
    root: t.root ?? DEFAULTS.tftp_root,
    max_blksize: t.max_blksize ?? DEFAULTS.tftp_max_blksize,
    max_windowsize: t.max_windowsize ?? DEFAULTS.tftp_max_windowsize,
    timeout: t.timeout ?? DEFAULTS.tftp_timeout,
    retries: t.retries ?? DEFAULTS.tftp_retries,
    max_transfers: t.max_transfers ?? DEFAULTS.tftp_max_transfers,
    max_transfers_per_client: t.max_transfers_per_client ?? DEFAULTS.tftp_max_transfers_per_client,
    max_timeout: t.max_timeout ?? DEFAULTS.tftp_max_timeout,
    netascii_max_bytes: t.netascii_max_bytes ?? DEFAULTS.tftp_netascii_max_bytes,
    ...(rate !== undefined ? { rate_limit: { requests_per_second: rate.requests_per_second, burst: rate.burst ?? DEFAULTS.tftp_rate_limit_burst } } : {}),
    allow: t.allow ?? [],
    deny: t.deny ?? [],
    remap: (t.remap ?? []).map((r) => ({
      ...r,
      replace: r.replace ?? DEFAULTS.tftp_remap_replace,
      flags: r.flags ?? DEFAULTS.tftp_remap_flags,
      lowercase: r.lowercase ?? DEFAULTS.tftp_remap_lowercase,
    })),
    cache: {
      max_bytes: t.cache?.max_bytes ?? DEFAULTS.tftp_cache_max_bytes,
      max_file_bytes: t.cache?.max_file_bytes ?? DEFAULTS.tftp_cache_max_file_bytes,
    },
    write: {
      enabled: t.write?.enabled ?? DEFAULTS.tftp_write_enabled,
      ...(uploadDir !== undefined ? { upload_dir: uploadDir } : {}),
      max_bytes: t.write?.max_bytes ?? DEFAULTS.tftp_write_max_bytes,
      overwrite: t.write?.overwrite ?? DEFAULTS.tftp_write_overwrite,
    },
    generated: { enabled: t.generated?.enabled ?? DEFAULTS.tftp_generated_enabled },
  };
}

/**
 * A validated configuration with every default filled in, deep-frozen. It is
 * still a DcplaneConfig, so code written against the file's shape accepts it.
 */
export interface ResolvedConfig extends DcplaneConfig {
  readonly data_dir: string;
  readonly database: string;
  readonly api: { readonly listen: string };
  readonly log: { readonly level: LogLevel };
  readonly dhcp: ResolvedDhcpConfig;
  readonly tftp: ResolvedTftpConfig;
}

function resolveOption(o: OptionConfig): ResolvedOption {
  const code = o.code ?? (o.name === undefined ? undefined : OPTION_DEFS_BY_NAME.get(o.name)?.code);
  if (code === undefined) throw new Error(`applyDefaults: option ${JSON.stringify(o)} has no code; validate the configuration first`);
  const type = o.type ?? OPTION_DEFS_BY_CODE.get(code)?.kind;
  if (type === undefined) throw new Error(`applyDefaults: option ${code} has no type; validate the configuration first`);
  return { ...o, code, type, always_send: o.always_send ?? false };
}

function resolveOptions(list: readonly OptionConfig[] | undefined): ResolvedOption[] {
  return (list ?? []).map(resolveOption);
}

function resolvePool(p: PoolConfig): ResolvedPool {
  if (typeof p === 'string') return { range: p, options: [] };
  return { ...p, options: resolveOptions(p.options) };
}

function resolveSubnet(s: SubnetConfig, dhcp: DhcpConfig, leaseTime: number): ResolvedSubnet {
  const renew = s.renew_timer ?? dhcp.renew_timer;
  const rebind = s.rebind_timer ?? dhcp.rebind_timer;
  return {
    ...s,
    pools: (s.pools ?? []).map(resolvePool),
    routers: s.routers ?? [],
    dns_servers: s.dns_servers ?? [],
    lease_time: s.lease_time ?? leaseTime,
    ...(renew !== undefined ? { renew_timer: renew } : {}),
    ...(rebind !== undefined ? { rebind_timer: rebind } : {}),
    relay_addresses: s.relay_addresses ?? [],
    reservations: (s.reservations ?? []).map((r) => ({ ...r, options: resolveOptions(r.options), client_classes: r.client_classes ?? [] })),
    options: resolveOptions(s.options),
  };
}

/** Freezes an object graph of plain objects and arrays (configuration is never mutated after loading). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Fills every default into a configuration that validateConfig accepted and
 * returns a deep-frozen copy; the input is not changed. Option codes and
 * kinds are resolved, pool strings become pool objects, and subnets inherit
 * lease_time (and renew/rebind timers when set globally). T1/T2 left unset
 * are for the engine to derive from the lease it grants (RFC 2131 §4.4.5).
 */
export function applyDefaults(config: DcplaneConfig): ResolvedConfig {
  const d = config.dhcp ?? {};
  const leaseTime = d.lease_time ?? DEFAULTS.lease_time;
  const dhcp: ResolvedDhcpConfig = {
    ...d,
    enabled: d.enabled ?? DEFAULTS.dhcp_enabled,
    interfaces: d.interfaces ?? [],
    port: d.port ?? DEFAULTS.dhcp_port,
    lease_time: leaseTime,
    offer_time: d.offer_time ?? DEFAULTS.offer_time,
    decline_probation: d.decline_probation ?? DEFAULTS.decline_probation,
    authoritative: d.authoritative ?? DEFAULTS.authoritative,
    reclaim_interval: d.reclaim_interval ?? DEFAULTS.reclaim_interval,
    hold_reclaimed: d.hold_reclaimed ?? DEFAULTS.hold_reclaimed,
    commit_delay_ms: d.commit_delay_ms ?? DEFAULTS.commit_delay_ms,
    subnets: (d.subnets ?? []).map((s) => resolveSubnet(s, d, leaseTime)),
    shared_networks: (d.shared_networks ?? []).map((sn) => ({
      ...sn,
      relay_addresses: sn.relay_addresses ?? [],
      options: resolveOptions(sn.options),
      subnets: sn.subnets.map((s) => resolveSubnet(s, d, leaseTime)),
    })),
    client_classes: (d.client_classes ?? []).map((c) => ({ ...c, options: resolveOptions(c.options) })),
    options: resolveOptions(d.options),
  };
  const { $schema: _editorHint, ...rest } = config;
  const resolved: ResolvedConfig = {
    ...rest,
    data_dir: config.data_dir ?? DEFAULTS.data_dir,
    database: config.database ?? DEFAULTS.database,
    api: { ...config.api, listen: config.api?.listen ?? DEFAULTS.api_listen },
    log: { ...config.log, level: config.log?.level ?? DEFAULTS.log_level },
    dhcp,
    tftp: resolveTftp(config.tftp ?? {}),
  };
  // structuredClone: the result shares nothing with the caller's object, so freezing it leaves theirs alone.
  return deepFreeze(structuredClone(resolved));
}

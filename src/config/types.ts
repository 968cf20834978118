/**
 * The configuration file as users write it (snake_case JSON, PRODUCT.md).
 * The JSON Schema in schema/dcplane.schema.json is the published contract;
 * these types mirror it. Every key is optional unless a service is enabled.
 */

export type OptionValue = string | number | boolean | readonly string[] | readonly number[];

/** An option by code (or by known name), with a typed value (`type` needed for unknown codes). */
export interface OptionConfig {
  readonly code?: number;
  readonly name?: string;
  readonly type?: 'ip' | 'ips' | 'string' | 'uint8' | 'uint16' | 'uint32' | 'int32' | 'bool' | 'hex' | 'uint8s' | 'uint16s';
  readonly value: OptionValue;
  /** Send even when the client did not ask for it in option 55 (Kea's always-send). */
  readonly always_send?: boolean;
}

export interface BootConfig {
  readonly next_server?: string;
  readonly server_name?: string;
  /** Boot file for legacy BIOS PXE (arch 0). */
  readonly bios?: string;
  /** Boot file for UEFI x64 (arch 7, 9). */
  readonly uefi?: string;
  /** Boot file for UEFI ia32 (arch 6). */
  readonly uefi32?: string;
  /** Boot file for UEFI arm64 (arch 11). */
  readonly uefi_arm64?: string;
  /** What iPXE (user class "iPXE" or option 175) gets: usually an HTTP script URL. */
  readonly ipxe?: string;
  /** UEFI HTTP boot URL (arch 16, 19). */
  readonly http?: string;
}

export interface ReservationConfig {
  readonly mac?: string;
  /** Client identifier (option 61) as hex, with or without colons. */
  readonly client_id?: string;
  readonly ip?: string;
  readonly hostname?: string;
  readonly options?: readonly OptionConfig[];
  readonly boot?: BootConfig;
  readonly client_classes?: readonly string[];
}

export interface PoolObjectConfig {
  readonly range: string;
  /** Only clients of this class get addresses from this pool. */
  readonly client_class?: string;
  readonly options?: readonly OptionConfig[];
}

export type PoolConfig = string | PoolObjectConfig;

export interface SubnetConfig {
  readonly id: number;
  readonly subnet: string;
  readonly pools?: readonly PoolConfig[];
  readonly routers?: readonly string[];
  readonly dns_servers?: readonly string[];
  readonly domain_name?: string;
  readonly lease_time?: number;
  readonly renew_timer?: number;
  readonly rebind_timer?: number;
  /** Interface whose directly attached clients this subnet serves (otherwise: the interface with an address in it). */
  readonly interface?: string;
  /** Relay (giaddr) addresses that select this subnet besides those inside it. */
  readonly relay_addresses?: readonly string[];
  readonly reservations?: readonly ReservationConfig[];
  readonly options?: readonly OptionConfig[];
  readonly boot?: BootConfig;
  /** Only clients of this class may use this subnet. */
  readonly client_class?: string;
}

export interface SharedNetworkConfig {
  readonly name: string;
  readonly interface?: string;
  readonly relay_addresses?: readonly string[];
  readonly options?: readonly OptionConfig[];
  readonly subnets: readonly SubnetConfig[];
}

export interface ClientClassMatch {
  /** Vendor class (60); `*` is a wildcard (`PXEClient:Arch:00007*`). */
  readonly vendor_class?: string;
  /** User class (77), plain bytes or RFC 3004 framed; `*` is a wildcard. */
  readonly user_class?: string;
  /** Client architectures (93). */
  readonly client_arch?: readonly number[];
  /** Relay agent circuit id (82.1), text or `0x…` hex; `*` wildcard for text. */
  readonly circuit_id?: string;
  /** Relay agent remote id (82.2). */
  readonly remote_id?: string;
  /** MAC prefix, e.g. `52:54:00`. */
  readonly mac_prefix?: string;
}

export interface ClientClassConfig {
  readonly name: string;
  /** Every given field must match. */
  readonly match: ClientClassMatch;
  readonly options?: readonly OptionConfig[];
  readonly boot?: BootConfig;
}

export interface DhcpConfig {
  readonly enabled?: boolean;
  readonly interfaces?: readonly string[];
  readonly port?: number;
  readonly lease_time?: number;
  readonly renew_timer?: number;
  readonly rebind_timer?: number;
  /** How long an offered address is held for the client (seconds). */
  readonly offer_time?: number;
  /** How long a declined address stays out of use (seconds). */
  readonly decline_probation?: number;
  /** Reject REQUESTs for unknown addresses (NAK) rather than staying silent (RFC 2131 §4.3.2). */
  readonly authoritative?: boolean;
  /** How often expired leases are reclaimed (seconds). */
  readonly reclaim_interval?: number;
  /** How long an expired lease is kept for its client before its address is reused by another (seconds). */
  readonly hold_reclaimed?: number;
  readonly subnets?: readonly SubnetConfig[];
  readonly shared_networks?: readonly SharedNetworkConfig[];
  readonly client_classes?: readonly ClientClassConfig[];
  readonly options?: readonly OptionConfig[];
  readonly boot?: BootConfig;
  /** Group commit window (ms) for lease writes; 0 commits once per event loop turn. */
  readonly commit_delay_ms?: number;
}

/** One file name rewrite rule (tftpd-hpa's -m rules), applied in order. */
export interface TftpRemapRule {
  /** JavaScript regular expression matched against the requested name. */
  readonly match: string;
  /** Replacement, with $1…$9 and $&; default "$&". */
  readonly replace?: string;
  /** "g" every match, "i" case-insensitive, "e" stop after this rule when it matched. */
  readonly flags?: string;
  /** Only clients in this network (CIDR). */
  readonly client?: string;
  /** Lower-case the resulting name when the rule matched. */
  readonly lowercase?: boolean;
}

export interface TftpRateLimitConfig {
  readonly requests_per_second: number;
  readonly burst?: number;
}

export interface TftpCacheConfig {
  readonly max_bytes?: number;
  readonly max_file_bytes?: number;
}

export interface TftpWriteConfig {
  readonly enabled?: boolean;
  /** Required when enabled; must lie outside the root. */
  readonly upload_dir?: string;
  readonly max_bytes?: number;
  readonly overwrite?: boolean;
}

export interface TftpGeneratedConfig {
  readonly enabled?: boolean;
}

export interface TftpConfig {
  readonly enabled?: boolean;
  readonly listen?: string;
  readonly root?: string;
  /** Largest RFC 2348 block size granted. */
  readonly max_blksize?: number;
  /** Largest RFC 7440 window granted. */
  readonly max_windowsize?: number;
  /** Initial retransmission timeout (seconds) when the client does not ask. */
  readonly timeout?: number;
  readonly retries?: number;
  /** Concurrent transfers over all clients. */
  readonly max_transfers?: number;
  /** Concurrent transfers one client IP address may hold. */
  readonly max_transfers_per_client?: number;
  /** Largest RFC 2349 timeout (seconds) a client may ask for; a larger one is left out of the OACK. */
  readonly max_timeout?: number;
  /** Largest file served in netascii mode (converted in memory); larger ones are refused. */
  readonly netascii_max_bytes?: number;
  /** Per-client request rate limit; none when absent. */
  readonly rate_limit?: TftpRateLimitConfig;
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
  readonly remap?: readonly TftpRemapRule[];
  readonly cache?: TftpCacheConfig;
  readonly write?: TftpWriteConfig;
  readonly generated?: TftpGeneratedConfig;
}

export interface ApiConfig {
  readonly listen?: string;
}

export interface LogConfig {
  readonly level?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
}

export interface DcplaneConfig {
  /** Reference to the schema for editors (completion, checks); dcplane ignores it. */
  readonly $schema?: string;
  readonly data_dir?: string;
  readonly database?: string;
  readonly api?: ApiConfig;
  readonly log?: LogConfig;
  readonly dhcp?: DhcpConfig;
  readonly tftp?: TftpConfig;
}

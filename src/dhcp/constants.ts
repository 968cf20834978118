/**
 * DHCPv4 protocol numbers, each with the document that defines it.
 */

/** BOOTP op field (RFC 2131 §2). */
export const BootpOp = { REQUEST: 1, REPLY: 2 } as const;

/** The magic cookie that opens the options field (RFC 2131 §3, RFC 1497). */
export const MAGIC_COOKIE = 0x63825363;

/** Fixed BOOTP header length before the cookie: 236 octets (RFC 2131 §2). */
export const BOOTP_HEADER_LENGTH = 236;
/** Smallest DHCP message a client must accept: 576 octet IP datagram (RFC 2131 §2) → 548 octets of DHCP. */
export const MIN_MESSAGE_SIZE = 548;
/** The BOOTP minimum a server pads replies to (RFC 1542 §3.4 / RFC 951). */
export const BOOTP_MIN_LENGTH = 300;

/** Flags field: the broadcast bit (RFC 2131 §2, figure 2). */
export const FLAG_BROADCAST = 0x8000;

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;

/** Option 53 values (RFC 2132 §9.6, RFC 4388 for LEASEQUERY and later). */
export const MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const MESSAGE_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [1, 'DISCOVER'], [2, 'OFFER'], [3, 'REQUEST'], [4, 'DECLINE'],
  [5, 'ACK'], [6, 'NAK'], [7, 'RELEASE'], [8, 'INFORM'],
]);

/** Option codes dcplane's engine reads or writes by name (RFC 2132 unless noted). */
export const Opt = {
  PAD: 0,
  SUBNET_MASK: 1,
  TIME_OFFSET: 2,
  ROUTERS: 3,
  DNS_SERVERS: 6,
  HOSTNAME: 12,
  DOMAIN_NAME: 15,
  BROADCAST_ADDRESS: 28,
  NTP_SERVERS: 42,
  VENDOR_SPECIFIC: 43,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS_ID: 60,
  CLIENT_ID: 61,
  TFTP_SERVER_NAME: 66,
  BOOTFILE_NAME: 67,
  USER_CLASS: 77, // RFC 3004
  FQDN: 81, // RFC 4702
  RELAY_AGENT_INFO: 82, // RFC 3046
  CLIENT_ARCH: 93, // RFC 4578
  CLIENT_NDI: 94, // RFC 4578
  CLIENT_UUID: 97, // RFC 4578
  SUBNET_SELECTION: 118, // RFC 3011
  DOMAIN_SEARCH: 119, // RFC 3397
  CLASSLESS_STATIC_ROUTE: 121, // RFC 3442
  IPXE_ENCAP: 175, // iPXE's encapsulated options
  END: 255,
} as const;

/** Option 52 values (RFC 2132 §9.3). */
export const Overload = { FILE: 1, SNAME: 2, BOTH: 3 } as const;

/** Relay agent information sub-options (RFC 3046 §2.0, RFC 3527, RFC 5107). */
export const RelaySubOpt = {
  CIRCUIT_ID: 1,
  REMOTE_ID: 2,
  LINK_SELECTION: 5, // RFC 3527
  SERVER_ID_OVERRIDE: 11, // RFC 5107
} as const;

/** Client system architecture types (RFC 4578 §2.1, IANA "Processor Architecture Types"). */
export const ClientArch = {
  BIOS_X86: 0,
  EFI_IA32: 6,
  EFI_BC: 7,
  EFI_X86_64: 9,
  EFI_ARM32: 10,
  EFI_ARM64: 11,
  EFI_X86_64_HTTP: 16,
  EFI_ARM64_HTTP: 19,
} as const;

/** Value kinds a configured option may carry. */
export type OptionKind =
  | 'ip'
  | 'ips'
  | 'string'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'int32'
  | 'bool'
  | 'hex'
  | 'uint8s'
  | 'uint16s';

export interface OptionDef {
  readonly code: number;
  readonly name: string;
  readonly kind: OptionKind;
}

/**
 * Known option definitions (RFC 2132 and successors). Configured options may
 * name any code; for codes here the kind is implied, for others it must be given.
 */
export const OPTION_DEFS: readonly OptionDef[] = [
  { code: 1, name: 'subnet-mask', kind: 'ip' },
  { code: 2, name: 'time-offset', kind: 'int32' },
  { code: 3, name: 'routers', kind: 'ips' },
  { code: 4, name: 'time-servers', kind: 'ips' },
  { code: 6, name: 'domain-name-servers', kind: 'ips' },
  { code: 7, name: 'log-servers', kind: 'ips' },
  { code: 12, name: 'host-name', kind: 'string' },
  { code: 13, name: 'boot-size', kind: 'uint16' },
  { code: 15, name: 'domain-name', kind: 'string' },
  { code: 17, name: 'root-path', kind: 'string' },
  { code: 19, name: 'ip-forwarding', kind: 'bool' },
  { code: 23, name: 'default-ip-ttl', kind: 'uint8' },
  { code: 26, name: 'interface-mtu', kind: 'uint16' },
  { code: 28, name: 'broadcast-address', kind: 'ip' },
  { code: 33, name: 'static-routes', kind: 'ips' },
  { code: 35, name: 'arp-cache-timeout', kind: 'uint32' },
  { code: 40, name: 'nis-domain', kind: 'string' },
  { code: 41, name: 'nis-servers', kind: 'ips' },
  { code: 42, name: 'ntp-servers', kind: 'ips' },
  { code: 43, name: 'vendor-encapsulated-options', kind: 'hex' },
  { code: 44, name: 'netbios-name-servers', kind: 'ips' },
  { code: 46, name: 'netbios-node-type', kind: 'uint8' },
  { code: 51, name: 'dhcp-lease-time', kind: 'uint32' },
  { code: 56, name: 'dhcp-message', kind: 'string' },
  { code: 58, name: 'dhcp-renewal-time', kind: 'uint32' },
  { code: 59, name: 'dhcp-rebinding-time', kind: 'uint32' },
  { code: 60, name: 'vendor-class-identifier', kind: 'string' },
  { code: 64, name: 'nisplus-domain-name', kind: 'string' },
  { code: 66, name: 'tftp-server-name', kind: 'string' },
  { code: 67, name: 'boot-file-name', kind: 'string' },
  { code: 69, name: 'smtp-server', kind: 'ips' },
  { code: 72, name: 'www-server', kind: 'ips' },
  { code: 100, name: 'pcode', kind: 'string' },
  { code: 101, name: 'tcode', kind: 'string' },
  { code: 114, name: 'captive-portal', kind: 'string' },
  { code: 119, name: 'domain-search', kind: 'hex' },
  { code: 121, name: 'classless-static-route', kind: 'hex' },
  { code: 150, name: 'tftp-server-address', kind: 'ips' },
  { code: 175, name: 'ipxe-encap-opts', kind: 'hex' },
  { code: 209, name: 'pxelinux-configfile', kind: 'string' },
  { code: 210, name: 'pxelinux-pathprefix', kind: 'string' },
  { code: 211, name: 'pxelinux-reboottime', kind: 'uint32' },
  { code: 252, name: 'wpad-url', kind: 'string' },
];

export const OPTION_DEFS_BY_CODE: ReadonlyMap<number, OptionDef> = new Map(OPTION_DEFS.map((d) => [d.code, d]));
export const OPTION_DEFS_BY_NAME: ReadonlyMap<string, OptionDef> = new Map(OPTION_DEFS.map((d) => [d.name, d]));

/**
 * Options the server owns and that configuration may not set: they are
 * computed per message (RFC 2131 §4.3.1 table 3).
 */
export const SERVER_OWNED_OPTIONS: ReadonlySet<number> = new Set([0, 50, 52, 53, 54, 55, 57, 61, 82, 255]);

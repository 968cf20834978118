import type { Ipv4 } from '../net/ipv4.js';
import { Opt, RelaySubOpt } from './constants.js';
import type { DhcpPacket } from './packet.js';

/**
 * What the engine needs from one request, read once from its options.
 * Absent values are 0 / '' / undefined so the hot path compares numbers
 * rather than testing for presence.
 */
export interface RequestInfo {
  /** Option 53; 0 when absent, -1 when present but not one octet. */
  readonly messageType: number;
  /** Hardware address as `aa:bb:…` (first hlen octets of chaddr), '' when hlen is 0. */
  readonly mac: string;
  /** Option 61 as lower-case hex without separators, '' when absent. */
  readonly clientId: string;
  /** `id:<hex>` when the client sent option 61, else `hw:<mac>` (RFC 2131 §4.2; same as clientKeyOf). */
  readonly clientKey: string;
  /** Option 50; 0 when absent or malformed. */
  readonly requestedIp: Ipv4;
  /** Option 54; 0 when absent or malformed. */
  readonly serverId: Ipv4;
  /** Option 55, or undefined. */
  readonly prl: Uint8Array | undefined;
  /** Option 57; 0 when absent or malformed. */
  readonly maxMessageSize: number;
  /** Option 60 as latin1 text, '' when absent. */
  readonly vendorClass: string;
  /** Option 77 instances as latin1 text (RFC 3004 framed or one plain string as iPXE sends it). */
  readonly userClasses: readonly string[];
  /** First architecture type of option 93 (RFC 4578 §2.1); -1 when absent. */
  readonly clientArch: number;
  /** iPXE: user class "iPXE" or option 175 present. */
  readonly ipxe: boolean;
  /** Option 12 as latin1 text, '' when absent. */
  readonly hostname: string;
  /** Option 82 value bytes as received (echoed unchanged, RFC 3046 §2.2). */
  readonly relayAgentInfo: Uint8Array | undefined;
  readonly circuitId: Uint8Array | undefined;
  readonly remoteId: Uint8Array | undefined;
  /** 82.5 link selection (RFC 3527); 0 when absent. */
  readonly linkSelection: Ipv4;
  /** 82.11 server identifier override (RFC 5107); 0 when absent. */
  readonly serverIdOverride: Ipv4;
  /** Option 118 subnet selection (RFC 3011); 0 when absent. */
  readonly subnetSelection: Ipv4;
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i] as number] as string;
  return s;
}

/** `aa:bb:…` through a lookup table: this runs for every packet. */
function macText(bytes: Uint8Array, n: number): string {
  let s = HEX[bytes[0] as number] as string;
  for (let i = 1; i < n; i++) s += `:${HEX[bytes[i] as number] as string}`;
  return s;
}

function latin1(bytes: Uint8Array | undefined): string {
  if (bytes === undefined || bytes.length === 0) return '';
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

function ipv4(bytes: Uint8Array | undefined): Ipv4 {
  if (bytes === undefined || bytes.length !== 4) return 0;
  return (((bytes[0] as number) << 24) | ((bytes[1] as number) << 16) | ((bytes[2] as number) << 8) | (bytes[3] as number)) >>> 0;
}

/**
 * Option 77 comes RFC 3004 framed (`[len][data]…`, every len ≥ 1) from
 * conforming clients, but iPXE sends the bare bytes `iPXE`. The framing is
 * used only when it covers the value exactly; otherwise the whole value is
 * one class.
 */
export function parseUserClasses(value: Uint8Array | undefined): string[] {
  if (value === undefined || value.length === 0) return [];
  let i = 0;
  let framed = true;
  while (i < value.length) {
    const len = value[i] as number;
    if (len === 0 || i + 1 + len > value.length) {
      framed = false;
      break;
    }
    i += 1 + len;
  }
  if (!framed) return [latin1(value)];
  const out: string[] = [];
  for (i = 0; i < value.length; ) {
    const len = value[i] as number;
    out.push(latin1(value.subarray(i + 1, i + 1 + len)));
    i += 1 + len;
  }
  return out;
}

interface RelayInfo {
  circuitId: Uint8Array | undefined;
  remoteId: Uint8Array | undefined;
  linkSelection: Ipv4;
  serverIdOverride: Ipv4;
}

/** Reads the sub-options of option 82 (RFC 3046 §2.0); stops at the first one that runs past the end. */
function parseRelayInfo(value: Uint8Array): RelayInfo {
  const r: RelayInfo = { circuitId: undefined, remoteId: undefined, linkSelection: 0, serverIdOverride: 0 };
  for (let i = 0; i + 2 <= value.length; ) {
    const code = value[i] as number;
    const len = value[i + 1] as number;
    if (i + 2 + len > value.length) break;
    const data = value.subarray(i + 2, i + 2 + len);
    if (code === RelaySubOpt.CIRCUIT_ID) r.circuitId = data;
    else if (code === RelaySubOpt.REMOTE_ID) r.remoteId = data;
    else if (code === RelaySubOpt.LINK_SELECTION) r.linkSelection = ipv4(data);
    else if (code === RelaySubOpt.SERVER_ID_OVERRIDE) r.serverIdOverride = ipv4(data);
    i += 2 + len;
  }
  return r;
}

export function extractRequestInfo(pkt: DhcpPacket): RequestInfo {
  const o = pkt.options;
  const mt = o.get(Opt.MESSAGE_TYPE);
  const messageType = mt === undefined ? 0 : mt.length === 1 ? (mt[0] as number) : -1;
  const hlen = pkt.hlen <= pkt.chaddr.length ? pkt.hlen : pkt.chaddr.length;
  const mac = hlen === 0 ? '' : macText(pkt.chaddr, hlen);
  const cid = o.get(Opt.CLIENT_ID);
  const clientId = cid === undefined || cid.length === 0 ? '' : hex(cid);
  const mms = o.get(Opt.MAX_MESSAGE_SIZE);
  const arch = o.get(Opt.CLIENT_ARCH);
  const userClasses = parseUserClasses(o.get(Opt.USER_CLASS));
  const ro = o.get(Opt.RELAY_AGENT_INFO);
  const relay = ro === undefined ? undefined : parseRelayInfo(ro);
  return {
    messageType,
    mac,
    clientId,
    clientKey: clientId !== '' ? `id:${clientId}` : `hw:${mac}`,
    requestedIp: ipv4(o.get(Opt.REQUESTED_IP)),
    serverId: ipv4(o.get(Opt.SERVER_ID)),
    prl: o.get(Opt.PARAMETER_REQUEST_LIST),
    maxMessageSize: mms !== undefined && mms.length === 2 ? ((mms[0] as number) << 8) | (mms[1] as number) : 0,
    vendorClass: latin1(o.get(Opt.VENDOR_CLASS_ID)),
    userClasses,
    clientArch: arch !== undefined && arch.length >= 2 ? ((arch[0] as number) << 8) | (arch[1] as number) : -1,
    ipxe: o.has(Opt.IPXE_ENCAP) || userClasses.includes('iPXE'),
    hostname: latin1(o.get(Opt.HOSTNAME)),
    relayAgentInfo: ro,
    circuitId: relay?.circuitId,
    remoteId: relay?.remoteId,
    linkSelection: relay?.linkSelection ?? 0,
    serverIdOverride: relay?.serverIdOverride ?? 0,
    subnetSelection: ipv4(o.get(Opt.SUBNET_SELECTION)),
  };
}

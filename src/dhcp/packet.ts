import type { Ipv4 } from '../net/ipv4.js';

/**
 * A decoded DHCPv4 message (RFC 2131 §2, figure 1).
 *
 * Addresses are host-order uint32. `options` holds each option's value bytes
 * keyed by code, in wire order; repeated instances of one code are already
 * concatenated (RFC 3396 §7), and options carried in `sname`/`file` through
 * overload (option 52) are merged in. When overload was used, `sname`/`file`
 * are empty strings.
 */
export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: Ipv4;
  yiaddr: Ipv4;
  siaddr: Ipv4;
  giaddr: Ipv4;
  /** The 16 octets of chaddr as sent; the hardware address is the first `hlen`. */
  chaddr: Uint8Array;
  /** Server host name (64 octets, NUL-terminated on the wire). */
  sname: string;
  /** Boot file name (128 octets, NUL-terminated on the wire). */
  file: string;
  options: Map<number, Uint8Array>;
}

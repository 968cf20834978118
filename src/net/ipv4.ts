/**
 * IPv4 addresses as unsigned 32-bit integers (host order), the form every
 * comparison and range walk in dcplane uses. Strings only at the edges.
 */
export type Ipv4 = number;

export interface Cidr {
  readonly network: Ipv4;
  readonly prefix: number;
  readonly mask: Ipv4;
  readonly broadcast: Ipv4;
}

export interface Ipv4Range {
  readonly start: Ipv4;
  readonly end: Ipv4;
}

const DOTTED = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Parses dotted-quad notation; returns undefined when the text is not one. */
export function parseIpv4(text: string): Ipv4 | undefined {
  if (!DOTTED.test(text)) return undefined;
  const p = text.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

export function formatIpv4(ip: Ipv4): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

export function prefixToMask(prefix: number): Ipv4 {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n`; the address must be the network address. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIpv4(text.slice(0, slash));
  const ptext = text.slice(slash + 1);
  if (ip === undefined || !/^\d{1,2}$/.test(ptext)) return undefined;
  const prefix = Number(ptext);
  if (prefix > 32) return undefined;
  const mask = prefixToMask(prefix);
  const network = (ip & mask) >>> 0;
  if (network !== ip) return undefined;
  return { network, prefix, mask, broadcast: (network | ~mask) >>> 0 };
}

/**
 * Every text a CIDR holding `ip` can be written as and parseCidr accepts: its
 * network at each prefix length (parseCidr wants the network address, so
 * a.b.c.d/n is exact), with both forms of a one-digit prefix ("/8", "/08").
 * A stored CIDR holding `ip` is one of these: an index on the text finds it.
 */
export function cidrTextsHolding(ip: Ipv4): string[] {
  const out: string[] = [];
  for (let p = 0; p <= 32; p++) {
    const net = formatIpv4((ip & prefixToMask(p)) >>> 0);
    out.push(`${net}/${p}`);
    if (p < 10) out.push(`${net}/0${p}`);
  }
  return out;
}

export function cidrContains(c: Cidr, ip: Ipv4): boolean {
  return ((ip & c.mask) >>> 0) === c.network;
}

/** Parses a pool: `a.b.c.d-e.f.g.h` or a CIDR (whole block, network and broadcast left out for prefixes < 31). */
export function parseRange(text: string): Ipv4Range | undefined {
  const dash = text.indexOf('-');
  if (dash >= 0) {
    const start = parseIpv4(text.slice(0, dash).trim());
    const end = parseIpv4(text.slice(dash + 1).trim());
    if (start === undefined || end === undefined || end < start) return undefined;
    return { start, end };
  }
  const c = parseCidr(text.trim());
  if (c === undefined) return undefined;
  if (c.prefix >= 31) return { start: c.network, end: c.broadcast };
  return { start: c.network + 1, end: c.broadcast - 1 };
}

export function rangesOverlap(a: Ipv4Range, b: Ipv4Range): boolean {
  return a.start <= b.end && b.start <= a.end;
}

export function rangeContains(r: Ipv4Range, ip: Ipv4): boolean {
  return ip >= r.start && ip <= r.end;
}

export function rangeSize(r: Ipv4Range): number {
  return r.end - r.start + 1;
}

/** Parses a MAC address in `aa:bb:cc:dd:ee:ff` or `aa-bb-…` form to 6 bytes. */
export function parseMac(text: string): Buffer | undefined {
  if (!/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(text)) return undefined;
  return Buffer.from(text.replace(/[:-]/g, ''), 'hex');
}

export function formatMac(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0) s += ':';
    s += (bytes[i] as number).toString(16).padStart(2, '0');
  }
  return s;
}

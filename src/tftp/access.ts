import { isIPv4 } from 'node:net';
import { cidrContains, parseCidr, parseIpv4 } from '../net/ipv4.js';
import type { Cidr, Ipv4 } from '../net/ipv4.js';

export interface AccessOptions {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly rateLimit?: { readonly requests_per_second: number; readonly burst: number } | undefined;
  readonly maxTransfers: number;
  /** Concurrent transfers one client IP address may hold; unlimited when absent. */
  readonly maxTransfersPerClient?: number | undefined;
}

/** Why acquire() gave no slot: the global cap, or this client's own. */
export type SlotRefusal = 'busy' | 'client_busy';

/** The client's IPv4 address (also from an IPv4-mapped IPv6 address), or undefined for a real IPv6 client. */
export function clientIpv4(address: string): Ipv4 | undefined {
  if (isIPv4(address)) return parseIpv4(address);
  if (address.startsWith('::ffff:')) return parseIpv4(address.slice(7));
  return undefined;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets kept before idle ones (refilled to full: forgetting them changes nothing) are swept. */
const SWEEP_AT = 10_000;

/**
 * Who may start a transfer: CIDR allow/deny lists (deny wins; an empty allow
 * list allows everyone), a token bucket per client IP address for requests,
 * and the count of running transfers, over all and per client IP address (so
 * one address cannot hold every slot).
 */
export class TftpAccessControl {
  private allow: readonly Cidr[] = [];
  private deny: readonly Cidr[] = [];
  private rate: { perMs: number; burst: number } | undefined;
  private max = 1;
  private maxPerClient = Number.POSITIVE_INFINITY;
  private readonly buckets = new Map<string, Bucket>();
  private running = 0;
  /** Running transfers by client IP address; an address leaves when its count drops to 0. */
  private readonly perClient = new Map<string, number>();

  constructor(opts: AccessOptions) {
    this.configure(opts);
  }

  /** Applies new lists and limits; running transfers and buckets are kept. */
  configure(opts: AccessOptions): void {
    this.allow = opts.allow.map(cidrOf);
    this.deny = opts.deny.map(cidrOf);
    const r = opts.rateLimit;
    this.rate = r === undefined ? undefined : { perMs: r.requests_per_second / 1000, burst: r.burst };
    if (this.rate === undefined) this.buckets.clear();
    this.max = opts.maxTransfers;
    this.maxPerClient = opts.maxTransfersPerClient ?? Number.POSITIVE_INFINITY;
  }

  /**
   * True when the lists let this client in. The lists hold IPv4 networks only,
   * so a native IPv6 client is let in only when no list is set at all: with a
   * deny list it could not be checked against it, and failing open would let
   * a denied host in over IPv6.
   */
  permits(address: string): boolean {
    const ip = clientIpv4(address);
    if (ip === undefined) return this.allow.length === 0 && this.deny.length === 0;
    for (const c of this.deny) if (cidrContains(c, ip)) return false;
    if (this.allow.length === 0) return true;
    for (const c of this.allow) if (cidrContains(c, ip)) return true;
    return false;
  }

  /** Takes one request token for this client; false when its bucket is empty. */
  takeToken(address: string, nowMs: number): boolean {
    const rate = this.rate;
    if (rate === undefined) return true;
    let b = this.buckets.get(address);
    if (b === undefined) {
      if (this.buckets.size >= SWEEP_AT) this.sweep(nowMs);
      b = { tokens: rate.burst, at: nowMs };
      this.buckets.set(address, b);
    } else {
      b.tokens = Math.min(rate.burst, b.tokens + Math.max(0, nowMs - b.at) * rate.perMs);
      b.at = nowMs;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Reserves a transfer slot for a client; undefined when taken, else which cap is reached. */
  acquire(address: string): SlotRefusal | undefined {
    if (this.running >= this.max) return 'busy';
    const held = this.perClient.get(address) ?? 0;
    if (held >= this.maxPerClient) return 'client_busy';
    this.running++;
    this.perClient.set(address, held + 1);
    return undefined;
  }

  /** Frees a slot acquire(address) reserved. */
  release(address: string): void {
    if (this.running > 0) this.running--;
    const held = this.perClient.get(address);
    if (held === undefined) return;
    if (held <= 1) this.perClient.delete(address);
    else this.perClient.set(address, held - 1);
  }

  get active(): number {
    return this.running;
  }

  get trackedClients(): number {
    return this.buckets.size;
  }

  private sweep(nowMs: number): void {
    const rate = this.rate;
    if (rate === undefined) return;
    for (const [k, b] of this.buckets) {
      if (b.tokens + (nowMs - b.at) * rate.perMs >= rate.burst) this.buckets.delete(k);
    }
    // Still full (a flood from many sources): forget the oldest tenth, so each sweep buys many inserts.
    if (this.buckets.size >= SWEEP_AT) {
      let drop = Math.ceil(SWEEP_AT / 10);
      for (const k of this.buckets.keys()) {
        if (drop-- <= 0) break;
        this.buckets.delete(k);
      }
    }
  }
}

function cidrOf(text: string): Cidr {
  const c = parseCidr(text);
  if (c === undefined) throw new Error(`TftpAccessControl: ${text} is not a CIDR network; validate the configuration first`);
  return c;
}

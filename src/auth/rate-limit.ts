import { isIPv4, isIPv6 } from 'node:net';

export interface TokenBucketOptions {
  /** Attempts allowed in a burst. */
  readonly capacity: number;
  /** Attempts regained per second. */
  readonly refillPerSecond: number;
  /** Most source keys remembered; beyond it the least recently seen is forgotten. */
  readonly maxKeys: number;
}

/** 10 attempts at once, then one every 6 s (10 a minute) per source. */
export const DEFAULT_LOGIN_RATE_LIMIT: TokenBucketOptions = Object.freeze({
  capacity: 10,
  refillPerSecond: 1 / 6,
  maxKeys: 10_000,
});

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * A token bucket per source address, in bounded memory. Keys live in a Map in
 * least-recently-used order; when it is full the oldest is dropped. A dropped
 * bucket comes back full, so forgetting one is at worst as generous as the
 * bucket's own capacity; an attacker must cycle through `maxKeys` other
 * sources to earn that, and then has that many sources anyway.
 */
export class LoginRateLimiter {
  readonly options: TokenBucketOptions;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: TokenBucketOptions = DEFAULT_LOGIN_RATE_LIMIT) {
    if (!(options.capacity >= 1) || !(options.refillPerSecond > 0) || !(options.maxKeys >= 1)) {
      throw new RangeError('rate limit needs capacity >= 1, refillPerSecond > 0, maxKeys >= 1');
    }
    this.options = Object.freeze({ ...options });
  }

  /**
   * Takes one attempt from the source's bucket. Returns 0 when allowed, else
   * the seconds (rounded up) until an attempt will be.
   */
  take(sourceIp: string, now: Date): number {
    const key = sourceKey(sourceIp);
    const t = now.getTime();
    const { capacity, refillPerSecond, maxKeys } = this.options;
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = { tokens: capacity, updatedMs: t };
      if (this.#buckets.size >= maxKeys) {
        const oldest = this.#buckets.keys().next();
        if (oldest.done !== true) this.#buckets.delete(oldest.value);
      }
    } else {
      this.#buckets.delete(key);
      // A clock that stepped back must not mint attempts; it just refills nothing.
      const elapsed = Math.max(0, t - b.updatedMs) / 1000;
      b.tokens = Math.min(capacity, b.tokens + elapsed * refillPerSecond);
      b.updatedMs = Math.max(b.updatedMs, t);
    }
    this.#buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / refillPerSecond));
  }

  /** Sources currently remembered. */
  get size(): number {
    return this.#buckets.size;
  }
}

/**
 * The bucket key of an address: IPv4 as is; IPv4-mapped IPv6 as the IPv4
 * address; other IPv6 by its /64, since one host usually holds a whole /64
 * and could otherwise mint a fresh bucket per address.
 */
export function sourceKey(ip: string): string {
  if (isIPv4(ip)) return ip;
  if (!isIPv6(ip)) return `other:${ip}`;
  const groups = expandIPv6(ip);
  const g5 = groups[5];
  const g6 = groups[6];
  const g7 = groups[7];
  if (groups.slice(0, 5).every((g) => g === 0) && g5 === 0xffff && g6 !== undefined && g7 !== undefined) {
    return `${g6 >> 8}.${g6 & 0xff}.${g7 >> 8}.${g7 & 0xff}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** Eight 16-bit groups of a valid IPv6 address (zone id dropped, embedded IPv4 tail converted). */
function expandIPv6(ip: string): number[] {
  let s = ip.split('%')[0] as string;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

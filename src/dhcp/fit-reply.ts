import { encodePacket } from './codec.js';
import { Opt } from './constants.js';
import { DhcpEncodeError } from './errors.js';
import type { DhcpPacket } from './packet.js';

/**
 * Options a reply keeps whatever it costs: message type, server id, lease
 * times, mask, routers, DNS, host and domain name, and the relay agent
 * information (RFC 3046 §2.2: it "MUST" be echoed).
 */
const KEPT: ReadonlySet<number> = new Set([
  Opt.MESSAGE_TYPE, Opt.SERVER_ID, Opt.LEASE_TIME, Opt.RENEWAL_TIME, Opt.REBINDING_TIME,
  Opt.SUBNET_MASK, Opt.ROUTERS, Opt.DNS_SERVERS, Opt.HOSTNAME, Opt.DOMAIN_NAME, Opt.RELAY_AGENT_INFO,
]);

export interface FittedReply {
  readonly bytes: Buffer;
  /** Option codes left out so that the reply fits, in the order they were dropped; empty when none. */
  readonly dropped: readonly number[];
}

function isTooLarge(err: unknown): boolean {
  return err instanceof DhcpEncodeError && err.reason === 'encode_too_large';
}

/**
 * Encodes a reply within `maxSize`, leaving options out when it does not
 * fit (configuration allows values up to 1024 octets; a client without
 * option 57 takes 576). Lowest priority goes first: options the client did
 * not ask for in its PRL (the last added first), then the asked-for ones in
 * reverse PRL order; KEPT ones never. `reply.options` is trimmed in place,
 * so it describes what was sent. Throws DHCP_ERR_ENCODE_TOO_LARGE only when
 * the kept options alone do not fit.
 */
export function encodeFitting(reply: DhcpPacket, maxSize: number, prl: Uint8Array | undefined): FittedReply {
  try {
    return { bytes: encodePacket(reply, { maxSize }), dropped: [] };
  } catch (err) {
    if (!isTooLarge(err)) throw err;
  }
  const asked = new Map<number, number>();
  if (prl !== undefined) prl.forEach((code, i) => { if (!asked.has(code)) asked.set(code, i); });
  const candidates = [...reply.options.keys()].filter((code) => !KEPT.has(code));
  const unasked = candidates.filter((code) => !asked.has(code)).reverse();
  const byPrl = candidates.filter((code) => asked.has(code)).sort((a, b) => (asked.get(b) as number) - (asked.get(a) as number));
  const options = reply.options;
  const dropped: number[] = [];
  for (const code of [...unasked, ...byPrl]) {
    options.delete(code);
    dropped.push(code);
    try {
      return { bytes: encodePacket(reply, { maxSize }), dropped };
    } catch (err) {
      if (!isTooLarge(err)) throw err;
    }
  }
  return { bytes: encodePacket(reply, { maxSize }), dropped };
}

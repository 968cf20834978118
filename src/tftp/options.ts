/**
 * RFC 2347 option negotiation for blksize (RFC 2348), timeout and tsize
 * (RFC 2349) and windowsize (RFC 7440). Pure: the request's options and the
 * server's policy in, the OACK contents and the transfer parameters out.
 */
import {
  BLKSIZE_MAX,
  BLKSIZE_MIN,
  DEFAULT_BLKSIZE,
  DEFAULT_WINDOWSIZE,
  TIMEOUT_MAX_S,
  TIMEOUT_MIN_S,
  TftpOption,
  WINDOWSIZE_SAFE_MAX,
  WINDOWSIZE_MIN,
} from './constants.js';

export interface NegotiationPolicy {
  /** Largest blksize the server answers; clamped to 8–65464. */
  readonly maxBlksize: number;
  /** Largest windowsize the server answers; clamped to 1–WINDOWSIZE_SAFE_MAX (32767). */
  readonly maxWindowsize: number;
  /** Timeouts (seconds) outside [minTimeout, maxTimeout] are ignored; defaults 1 and 255. */
  readonly minTimeout?: number | undefined;
  readonly maxTimeout?: number | undefined;
  /** Whether tsize is answered at all. */
  readonly allowTsize: boolean;
}

export interface Negotiated {
  /** For the OACK: accepted options in request order, names lower-case. Empty → no OACK, plain RFC 1350 transfer. */
  readonly accepted: Map<string, string>;
  readonly blksize: number;
  readonly windowsize: number;
  /** The client's timeout in ms when accepted; undefined → the session adapts its own. */
  readonly timeoutMs: number | undefined;
  /** RRQ: the file's size; WRQ: the size the client announced (the shell checks it against its cap). */
  readonly tsize: number | undefined;
}

/** Decimal digits only, no sign, no exponent; at most 15 digits so the number is exact. */
function parseUnsigned(value: string): number | undefined {
  if (value.length === 0 || value.length > 15) return undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  return Number(value);
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

/**
 * Decides which requested options to accept. `requested` is the decoded
 * request's map (names already lower-case; case is folded again here so the
 * function stands alone). `fileSize` is the size the transfer will really
 * have — for netascii, the converted size — or undefined when unknown, which
 * leaves tsize out on a read.
 */
export function negotiate(
  requested: ReadonlyMap<string, string>,
  policy: NegotiationPolicy,
  fileSize: number | undefined,
  isWrite: boolean,
): Negotiated {
  const accepted = new Map<string, string>();
  let blksize = DEFAULT_BLKSIZE;
  let windowsize = DEFAULT_WINDOWSIZE;
  let timeoutMs: number | undefined;
  let tsize: number | undefined;
  const maxBlksize = clamp(Math.floor(policy.maxBlksize), BLKSIZE_MIN, BLKSIZE_MAX);
  const maxWindowsize = clamp(Math.floor(policy.maxWindowsize), WINDOWSIZE_MIN, WINDOWSIZE_SAFE_MAX);
  const minTimeout = Math.max(policy.minTimeout ?? TIMEOUT_MIN_S, TIMEOUT_MIN_S);
  const maxTimeout = Math.min(policy.maxTimeout ?? TIMEOUT_MAX_S, TIMEOUT_MAX_S);

  for (const [rawName, value] of requested) {
    const name = rawName.toLowerCase();
    if (accepted.has(name)) continue;
    const n = parseUnsigned(value);
    switch (name) {
      case TftpOption.BLKSIZE:
        // RFC 2348: values below 8 are invalid; a larger request than the
        // server allows may be answered with a smaller value ("the server MUST
        // NOT" answer a larger one than requested, so min() is the rule).
        if (n === undefined || n < BLKSIZE_MIN) break;
        blksize = Math.min(n, maxBlksize);
        accepted.set(name, String(blksize));
        break;
      case TftpOption.WINDOWSIZE:
        // RFC 7440 §3: the server may answer a smaller window, never a larger one.
        if (n === undefined || n < WINDOWSIZE_MIN) break;
        windowsize = Math.min(n, maxWindowsize);
        accepted.set(name, String(windowsize));
        break;
      case TftpOption.TIMEOUT:
        // RFC 2349: the OACK must carry the client's own value, so a timeout
        // the server will not use is left out rather than altered.
        if (n === undefined || n < minTimeout || n > maxTimeout) break;
        timeoutMs = n * 1000;
        accepted.set(name, String(n));
        break;
      case TftpOption.TSIZE:
        if (!policy.allowTsize || n === undefined) break;
        if (isWrite) {
          tsize = n;
        } else {
          // RFC 2349: on a read the client sends 0 and the server answers the size.
          if (fileSize === undefined) break;
          tsize = fileSize;
        }
        accepted.set(name, String(tsize));
        break;
      default:
        // RFC 2347: options the server does not support are left out of the OACK.
        break;
    }
  }
  return { accepted, blksize, windowsize, timeoutMs, tsize };
}

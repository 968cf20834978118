import { BenchError, BenchErrorCode } from './errors.js';

/** Figures perfdhcp prints for one exchange type (DISCOVER-OFFER or REQUEST-ACK). */
export interface ExchangeStats {
  readonly sent: number;
  readonly received: number;
  readonly drops: number;
  /** Percent; null when nothing was sent (perfdhcp prints `-nan`). */
  readonly dropsRatioPct: number | null;
  readonly orphans: number;
  readonly rejectedLeases: number;
  readonly nonUniqueAddresses: number;
  /** Delays in milliseconds; null when no reply arrived (perfdhcp prints `inf` or `n/a`). */
  readonly minDelayMs: number | null;
  readonly avgDelayMs: number | null;
  readonly maxDelayMs: number | null;
  readonly stdDevMs: number | null;
  readonly collected: number;
}

export interface PerfdhcpResult {
  /** Completed 4-way exchanges per second (perfdhcp's "Rate:" line: ACKs received over the test period). */
  readonly exchangesPerSecond: number;
  readonly expectedRate: number | null;
  readonly malformed: number;
  readonly discoverOffer: ExchangeStats;
  readonly requestAck: ExchangeStats;
}

type Section = 'DISCOVER-OFFER' | 'REQUEST-ACK';

const RATE_LINE = /^Rate:\s*(\S+)\s+4-way exchanges\/second(?:,\s*expected rate:\s*(\S+))?/;
const SECTION_LINE = /^\*\*\*Statistics for:\s*(\S+)\*\*\*$/;
const KEY_VALUE = /^([a-z][a-z ]*[a-z]):\s*(.*)$/;

/** Keys of a statistics section as perfdhcp spells them, mapped to our field names. */
const FIELDS = new Map<string, keyof ExchangeStats>([
  ['sent packets', 'sent'],
  ['received packets', 'received'],
  ['drops', 'drops'],
  ['drops ratio', 'dropsRatioPct'],
  ['orphans', 'orphans'],
  ['rejected leases', 'rejectedLeases'],
  ['non unique addresses', 'nonUniqueAddresses'],
  ['min delay', 'minDelayMs'],
  ['avg delay', 'avgDelayMs'],
  ['max delay', 'maxDelayMs'],
  ['std deviation', 'stdDevMs'],
  ['collected packets', 'collected'],
]);

const REQUIRED_COUNTS: readonly (keyof ExchangeStats)[] = ['sent', 'received', 'drops'];

/** A number, or null for the words perfdhcp prints when it has no samples (`inf`, `n/a`, `-nan`). */
function numberOrNull(text: string): number | null {
  const m = /^(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)(?:\s*(?:ms|%))?$/i.exec(text.trim());
  if (m === null || m[1] === undefined) return null;
  return Number(m[1]);
}

function toStats(section: Section, values: Map<keyof ExchangeStats, number | null>): ExchangeStats {
  for (const key of REQUIRED_COUNTS) {
    if (typeof values.get(key) !== 'number') {
      throw new BenchError(BenchErrorCode.PERFDHCP_PARSE, `perfdhcp output: ${section} has no numeric "${key}"`);
    }
  }
  const count = (k: keyof ExchangeStats): number => values.get(k) ?? 0;
  const maybe = (k: keyof ExchangeStats): number | null => values.get(k) ?? null;
  return {
    sent: count('sent'),
    received: count('received'),
    drops: count('drops'),
    dropsRatioPct: maybe('dropsRatioPct'),
    orphans: count('orphans'),
    rejectedLeases: count('rejectedLeases'),
    nonUniqueAddresses: count('nonUniqueAddresses'),
    minDelayMs: maybe('minDelayMs'),
    avgDelayMs: maybe('avgDelayMs'),
    maxDelayMs: maybe('maxDelayMs'),
    stdDevMs: maybe('stdDevMs'),
    collected: count('collected'),
  };
}

/**
 * Reads the report perfdhcp (Kea 2.2) prints on stdout for a DHCPv4 4-way run.
 * A section without replies prints garbled delay lines (`avg delay: min delay: n/a`
 * then `avg delay: n/a`): the last value of a key wins and non-numbers become null.
 */
export function parsePerfdhcpOutput(text: string): PerfdhcpResult {
  let rate: number | null = null;
  let expectedRate: number | null = null;
  let malformed = 0;
  let current: Section | null = null;
  const sections = new Map<Section, Map<keyof ExchangeStats, number | null>>();

  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const rateMatch = RATE_LINE.exec(line);
    if (rateMatch !== null) {
      rate = numberOrNull(rateMatch[1] ?? '');
      expectedRate = rateMatch[2] === undefined ? null : numberOrNull(rateMatch[2]);
      continue;
    }
    const malformedMatch = /^Malformed packets:\s*(\d+)$/.exec(line);
    if (malformedMatch !== null) {
      malformed = Number(malformedMatch[1]);
      continue;
    }
    const sectionMatch = SECTION_LINE.exec(line);
    if (sectionMatch !== null) {
      const name = sectionMatch[1];
      current = name === 'DISCOVER-OFFER' || name === 'REQUEST-ACK' ? name : null;
      if (current !== null) sections.set(current, new Map());
      continue;
    }
    if (line.startsWith('***')) {
      current = null;
      continue;
    }
    if (current === null) continue;
    const kv = KEY_VALUE.exec(line);
    if (kv === null || kv[1] === undefined || kv[2] === undefined) continue;
    const field = FIELDS.get(kv[1]);
    if (field === undefined) continue;
    sections.get(current)?.set(field, numberOrNull(kv[2]));
  }

  if (rate === null) {
    throw new BenchError(BenchErrorCode.PERFDHCP_PARSE, 'perfdhcp output: no "Rate: N 4-way exchanges/second" line');
  }
  const discover = sections.get('DISCOVER-OFFER');
  const request = sections.get('REQUEST-ACK');
  if (discover === undefined || request === undefined) {
    throw new BenchError(BenchErrorCode.PERFDHCP_PARSE, 'perfdhcp output: missing DISCOVER-OFFER or REQUEST-ACK statistics');
  }
  return {
    exchangesPerSecond: rate,
    expectedRate,
    malformed,
    discoverOffer: toStats('DISCOVER-OFFER', discover),
    requestAck: toStats('REQUEST-ACK', request),
  };
}

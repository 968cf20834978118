import type { UdpCounters } from './namespaces.js';
import type { ExchangeStats, PerfdhcpResult } from './perfdhcp-output.js';

export interface ServerRun {
  readonly server: 'kea' | 'dcplane';
  readonly ok: boolean;
  readonly perfdhcp?: PerfdhcpResult;
  /** perfdhcp exit status: 0, or 3 when some exchanges were not completed. */
  readonly perfdhcpStatus?: number | null;
  /** CPU seconds the server used during the perfdhcp run (user + system). */
  readonly serverCpuSeconds?: number;
  readonly perfdhcpCpuSeconds?: number;
  /** CPU seconds the whole host was busy during the run: server, perfdhcp and everyone else. */
  readonly hostBusyCpuSeconds?: number;
  /** UDP counters of the server's and perfdhcp's namespaces over the run: where packets were lost. */
  readonly serverUdp?: UdpCounters;
  readonly clientUdp?: UdpCounters;
  readonly loadAverageBefore?: readonly number[];
  readonly loadAverageAfter?: readonly number[];
  readonly error?: { readonly code: string; readonly message: string };
}

interface Row {
  readonly label: string;
  readonly value: (r: ServerRun) => number | null | undefined;
  readonly digits: number;
  /** Ratio only where it means something (rates, delays); counts of drops get none. */
  readonly ratio: boolean;
}

function exchangeRows(title: string, pick: (p: PerfdhcpResult) => ExchangeStats): Row[] {
  const s = (f: (e: ExchangeStats) => number | null) => (r: ServerRun) => (r.perfdhcp === undefined ? undefined : f(pick(r.perfdhcp)));
  return [
    { label: `${title} sent`, value: s((e) => e.sent), digits: 0, ratio: false },
    { label: `${title} received`, value: s((e) => e.received), digits: 0, ratio: false },
    { label: `${title} drops`, value: s((e) => e.drops), digits: 0, ratio: false },
    { label: `${title} drops %`, value: s((e) => e.dropsRatioPct), digits: 3, ratio: false },
    { label: `${title} delay avg (ms)`, value: s((e) => e.avgDelayMs), digits: 3, ratio: true },
    { label: `${title} delay min (ms)`, value: s((e) => e.minDelayMs), digits: 3, ratio: true },
    { label: `${title} delay max (ms)`, value: s((e) => e.maxDelayMs), digits: 3, ratio: true },
    { label: `${title} delay std (ms)`, value: s((e) => e.stdDevMs), digits: 3, ratio: true },
    { label: `${title} rejected leases`, value: s((e) => e.rejectedLeases), digits: 0, ratio: false },
    { label: `${title} non-unique addresses`, value: s((e) => e.nonUniqueAddresses), digits: 0, ratio: false },
  ];
}

function rows(durationS: number): Row[] {
  return [
    { label: '4-way exchanges/s', value: (r) => r.perfdhcp?.exchangesPerSecond, digits: 1, ratio: true },
    { label: 'offered rate (/s)', value: (r) => r.perfdhcp?.expectedRate, digits: 0, ratio: false },
    ...exchangeRows('DISCOVER-OFFER', (p) => p.discoverOffer),
    ...exchangeRows('REQUEST-ACK', (p) => p.requestAck),
    { label: 'malformed replies', value: (r) => r.perfdhcp?.malformed, digits: 0, ratio: false },
    { label: 'UDP datagrams into server ns', value: (r) => r.serverUdp?.inDatagrams, digits: 0, ratio: false },
    { label: 'server socket overflows', value: (r) => r.serverUdp?.rcvbufErrors, digits: 0, ratio: false },
    { label: 'perfdhcp socket overflows', value: (r) => r.clientUdp?.rcvbufErrors, digits: 0, ratio: false },
    { label: 'server CPU (% of one core)', value: (r) => percentOfCore(r.serverCpuSeconds, durationS), digits: 0, ratio: true },
    { label: 'server CPU per exchange (µs)', value: (r) => cpuPerExchangeUs(r, durationS), digits: 1, ratio: true },
    { label: 'perfdhcp CPU (% of one core)', value: (r) => percentOfCore(r.perfdhcpCpuSeconds, durationS), digits: 0, ratio: false },
    { label: 'other processes CPU (% of one core)', value: (r) => percentOfCore(otherCpuSeconds(r), durationS), digits: 0, ratio: false },
  ];
}

function percentOfCore(seconds: number | undefined, durationS: number): number | undefined {
  return seconds === undefined ? undefined : (100 * seconds) / durationS;
}

/** Server CPU time (all its threads) over the 4-way exchanges completed: the cost of one exchange, less sensitive to host load than exchanges/s. */
export function cpuPerExchangeUs(r: ServerRun, durationS: number): number | undefined {
  const rate = r.perfdhcp?.exchangesPerSecond;
  if (r.serverCpuSeconds === undefined || rate === undefined || rate <= 0) return undefined;
  return (1e6 * r.serverCpuSeconds) / (rate * durationS);
}

/** What the host spent on neither the server nor perfdhcp: other engineers' work, which skews the figures. */
export function otherCpuSeconds(r: ServerRun): number | undefined {
  if (r.hostBusyCpuSeconds === undefined || r.serverCpuSeconds === undefined || r.perfdhcpCpuSeconds === undefined) return undefined;
  return Math.max(0, r.hostBusyCpuSeconds - r.serverCpuSeconds - r.perfdhcpCpuSeconds);
}

function fmt(v: number | null | undefined, digits: number): string {
  if (v === undefined) return '-';
  if (v === null) return 'n/a';
  return v.toFixed(digits);
}

/**
 * The round to show for one server: the (lower) median of its completed
 * rounds by exchanges/s, a real run rather than a blend of several; the first
 * failure when no round completed.
 */
export function medianRun(runs: readonly ServerRun[]): ServerRun | undefined {
  const done = runs.filter((r) => r.ok && r.perfdhcp !== undefined);
  if (done.length === 0) return runs[0];
  const sorted = [...done].sort((a, b) => (a.perfdhcp?.exchangesPerSecond ?? 0) - (b.perfdhcp?.exchangesPerSecond ?? 0));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** dcplane's figure over Kea's, or undefined when either is missing or Kea's is zero. */
export function ratio(dcplane: number | null | undefined, kea: number | null | undefined): number | undefined {
  if (dcplane === null || dcplane === undefined || kea === null || kea === undefined || kea === 0) return undefined;
  return dcplane / kea;
}

/** The side-by-side table: metric | Kea | dcplane | dcplane/Kea. */
export function formatTable(kea: ServerRun | undefined, dcplane: ServerRun | undefined, durationS: number): string {
  const header = ['metric', 'Kea', 'dcplane', 'dcplane/Kea'];
  const body = rows(durationS).map((row) => {
    const k = kea === undefined ? undefined : row.value(kea);
    const d = dcplane === undefined ? undefined : row.value(dcplane);
    const q = row.ratio ? ratio(d, k) : undefined;
    return [row.label, fmt(k, row.digits), fmt(d, row.digits), q === undefined ? '' : q.toFixed(2)];
  });
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((cells) => (cells[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ');
  const rule = widths.map((w) => '-'.repeat(w)).join('-|-');
  return [line(header), rule, ...body.map(line)].join('\n');
}

/** The one line a reader looks for. */
export function ratioLine(kea: ServerRun | undefined, dcplane: ServerRun | undefined): string {
  const q = ratio(dcplane?.perfdhcp?.exchangesPerSecond, kea?.perfdhcp?.exchangesPerSecond);
  if (q !== undefined) return `dcplane/Kea exchanges/s ratio: ${q.toFixed(2)}`;
  const missing = [kea, dcplane].filter((r) => r !== undefined && !r.ok).map((r) => r?.server);
  const why = missing.length > 0 ? `${missing.join(' and ')} failed` : 'a server was not run or completed no exchange';
  return `dcplane/Kea exchanges/s ratio: n/a (${why})`;
}

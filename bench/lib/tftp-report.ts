/** Figures of one server in the TFTP bench, and the side-by-side table. */

export interface TransferFigure {
  readonly ok: boolean;
  readonly bytes: number;
  readonly seconds: number;
  readonly mibPerSecond: number;
  /** CPU seconds the server used during the transfer (dcplane only: see RunningTftpServer.cpuSeconds). */
  readonly serverCpuSeconds: number | undefined;
  /** CPU seconds the whole host was busy: server, client and everyone else. */
  readonly hostBusyCpuSeconds: number | undefined;
  readonly error?: string;
}

export interface StormFigure {
  readonly ok: boolean;
  readonly clients: number;
  readonly succeeded: number;
  readonly failed: number;
  /** From the first request to the last transfer's end. */
  readonly wallSeconds: number;
  readonly transfersPerSecond: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
  readonly clientRetransmits: number;
  /** Successful completions in each second since the start. */
  readonly completionsPerSecond: readonly number[];
  readonly errors: Record<string, number>;
  readonly serverCpuSeconds: number | undefined;
  readonly hostBusyCpuSeconds: number | undefined;
}

export interface TftpServerRun {
  readonly server: 'tftpd-hpa' | 'dcplane';
  readonly ok: boolean;
  readonly curl?: TransferFigure;
  readonly atftp?: TransferFigure;
  /** What the server put in its OACK to atftp's `blksize 1468, windowsize 16` (from atftp --trace). */
  readonly atftpOack?: Record<string, string>;
  readonly storm?: StormFigure;
  readonly error?: { readonly code: string; readonly message: string };
}

interface Row {
  readonly label: string;
  readonly value: (r: TftpServerRun) => number | string | undefined;
  readonly digits: number;
  /** Only rates get a ratio (dcplane / tftpd-hpa, higher is better for dcplane). */
  readonly ratio: boolean;
}

function rows(sizeMiB: number, clients: number, stormKiB: number): Row[] {
  const storm = `storm ${clients} x ${stormKiB} KiB`;
  return [
    { label: `curl ${sizeMiB} MiB blksize 1468 (MiB/s)`, value: (r) => okValue(r.curl, r.curl?.mibPerSecond), digits: 1, ratio: true },
    { label: `curl ${sizeMiB} MiB time (s)`, value: (r) => okValue(r.curl, r.curl?.seconds), digits: 3, ratio: false },
    { label: 'curl: dcplane CPU (s)', value: (r) => r.curl?.serverCpuSeconds, digits: 2, ratio: false },
    { label: 'curl: host CPU busy (s)', value: (r) => r.curl?.hostBusyCpuSeconds, digits: 2, ratio: false },
    { label: `atftp ${sizeMiB} MiB windowsize 16 (MiB/s)`, value: (r) => okValue(r.atftp, r.atftp?.mibPerSecond), digits: 1, ratio: true },
    { label: `atftp ${sizeMiB} MiB time (s)`, value: (r) => okValue(r.atftp, r.atftp?.seconds), digits: 3, ratio: false },
    { label: 'atftp windowsize granted', value: (r) => (r.atftpOack === undefined ? undefined : (r.atftpOack['windowsize'] ?? 'refused (not in OACK)')), digits: 0, ratio: false },
    { label: 'atftp: dcplane CPU (s)', value: (r) => r.atftp?.serverCpuSeconds, digits: 2, ratio: false },
    { label: 'atftp: host CPU busy (s)', value: (r) => r.atftp?.hostBusyCpuSeconds, digits: 2, ratio: false },
    { label: `${storm}: all done (s)`, value: (r) => r.storm?.wallSeconds, digits: 2, ratio: false },
    { label: `${storm}: transfers/s`, value: (r) => (r.storm?.ok === true ? r.storm.transfersPerSecond : undefined), digits: 1, ratio: true },
    { label: `${storm}: p50 transfer (ms)`, value: (r) => r.storm?.p50Ms, digits: 0, ratio: false },
    { label: `${storm}: p95 transfer (ms)`, value: (r) => r.storm?.p95Ms, digits: 0, ratio: false },
    { label: `${storm}: failed`, value: (r) => r.storm?.failed, digits: 0, ratio: false },
    { label: `${storm}: client resends`, value: (r) => r.storm?.clientRetransmits, digits: 0, ratio: false },
    { label: `${storm}: dcplane CPU (s)`, value: (r) => r.storm?.serverCpuSeconds, digits: 2, ratio: false },
    { label: `${storm}: host CPU busy (s)`, value: (r) => r.storm?.hostBusyCpuSeconds, digits: 2, ratio: false },
  ];
}

function okValue(f: { readonly ok: boolean } | undefined, v: number | undefined): number | undefined {
  return f?.ok === true ? v : undefined;
}

export function ratio(dcplane: number | string | undefined, peer: number | string | undefined): number | undefined {
  if (typeof dcplane !== 'number' || typeof peer !== 'number' || peer === 0) return undefined;
  return dcplane / peer;
}

function fmt(v: number | string | undefined, digits: number): string {
  if (v === undefined) return '-';
  return typeof v === 'string' ? v : v.toFixed(digits);
}

/** metric | tftpd-hpa | dcplane | dcplane/tftpd-hpa */
export function formatTftpTable(peer: TftpServerRun | undefined, dcplane: TftpServerRun | undefined, sizeMiB: number, clients: number, stormKiB: number): string {
  const header = ['metric', 'tftpd-hpa', 'dcplane', 'dcplane/tftpd-hpa'];
  const body = rows(sizeMiB, clients, stormKiB).map((row) => {
    const p = peer === undefined ? undefined : row.value(peer);
    const d = dcplane === undefined ? undefined : row.value(dcplane);
    const q = row.ratio ? ratio(d, p) : undefined;
    return [row.label, fmt(p, row.digits), fmt(d, row.digits), q === undefined ? '' : q.toFixed(2)];
  });
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((cells) => (cells[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(line)].join('\n');
}

/** The ratios a reader looks for, one per load. */
export function ratioLines(peer: TftpServerRun | undefined, dcplane: TftpServerRun | undefined): string[] {
  const one = (label: string, d: number | undefined, p: number | undefined): string => {
    const q = ratio(d, p);
    return `dcplane/tftpd-hpa ${label}: ${q === undefined ? 'n/a (a run failed or was not made)' : q.toFixed(2)}`;
  };
  return [
    one('curl MiB/s', okValue(dcplane?.curl, dcplane?.curl?.mibPerSecond), okValue(peer?.curl, peer?.curl?.mibPerSecond)),
    one('atftp MiB/s', okValue(dcplane?.atftp, dcplane?.atftp?.mibPerSecond), okValue(peer?.atftp, peer?.atftp?.mibPerSecond)),
    one('storm transfers/s', dcplane?.storm?.ok === true ? dcplane.storm.transfersPerSecond : undefined, peer?.storm?.ok === true ? peer.storm.transfersPerSecond : undefined),
  ];
}

/** Median by `rate` (lower middle for an even count); a failed figure counts as the slowest. */
function medianBy<T extends { readonly ok: boolean }>(figures: readonly (T | undefined)[], rate: (f: T) => number): T | undefined {
  const present = figures.filter((f): f is T => f !== undefined);
  if (present.length === 0) return undefined;
  const score = (f: T): number => (f.ok ? rate(f) : -1);
  const sorted = [...present].sort((a, b) => score(a) - score(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/**
 * One server's rounds folded into one run: each load's figure is the round
 * that is the median for that load (a real measurement, not a blend), so a
 * round disturbed by other work on the host moves no figure. ok only when
 * every round was.
 */
export function medianTftpRun(runs: readonly TftpServerRun[]): TftpServerRun | undefined {
  const first = runs[0];
  if (first === undefined) return undefined;
  if (runs.length === 1) return first;
  const curl = medianBy(runs.map((r) => r.curl), (f) => f.mibPerSecond);
  const atftp = medianBy(runs.map((r) => r.atftp), (f) => f.mibPerSecond);
  const storm = medianBy(runs.map((r) => r.storm), (f) => f.transfersPerSecond);
  const atftpOack = runs.find((r) => r.atftpOack !== undefined)?.atftpOack;
  const error = runs.find((r) => r.error !== undefined)?.error;
  return {
    server: first.server,
    ok: runs.every((r) => r.ok),
    ...(curl !== undefined ? { curl } : {}),
    ...(atftp !== undefined ? { atftp } : {}),
    ...(atftpOack !== undefined ? { atftpOack } : {}),
    ...(storm !== undefined ? { storm } : {}),
    ...(error !== undefined ? { error } : {}),
  };
}

/** Each load's rate per round for both servers, and the ratio within each round (same host load). */
export function roundLines(peer: readonly TftpServerRun[], dcplane: readonly TftpServerRun[]): string[] {
  const loads: [string, (r: TftpServerRun) => number | undefined][] = [
    ['curl MiB/s', (r) => okValue(r.curl, r.curl?.mibPerSecond)],
    ['atftp MiB/s', (r) => okValue(r.atftp, r.atftp?.mibPerSecond)],
    ['storm transfers/s', (r) => (r.storm?.ok === true ? r.storm.transfersPerSecond : undefined)],
  ];
  const show = (v: number | undefined, digits: number): string => (v === undefined ? '-' : v.toFixed(digits));
  const lines: string[] = [];
  for (const [label, value] of loads) {
    const n = Math.max(peer.length, dcplane.length);
    const cells: string[] = [];
    for (let i = 0; i < n; i++) {
      const p = peer[i] === undefined ? undefined : value(peer[i] as TftpServerRun);
      const d = dcplane[i] === undefined ? undefined : value(dcplane[i] as TftpServerRun);
      const q = ratio(d, p);
      cells.push(`${show(p, 1)}/${show(d, 1)}${q === undefined ? '' : ` (${q.toFixed(2)})`}`);
    }
    lines.push(`${label} by round, tftpd-hpa/dcplane (ratio): ${cells.join(', ')}`);
  }
  return lines;
}

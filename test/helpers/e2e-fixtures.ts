/**
 * What the end-to-end DHCP tests share: the real `dcplane serve` started
 * from the build (bin/dcplane, as users run it), `dcplane leases list` on
 * its data directory, and its Prometheus endpoint scraped from inside the
 * server's namespace.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDhcpServerProcess } from './dhcp-server-process.js';
import type { DhcpServerProcess } from './dhcp-server-process.js';
import type { Topology } from './netns.js';

const here = fileURLToPath(new URL('.', import.meta.url));
/** test/helpers or dist/test/helpers → the package root. */
export const PACKAGE_ROOT = join(here, '..', '..', ...(import.meta.url.endsWith('.ts') ? [] : ['..']));
const BIN = join(PACKAGE_ROOT, 'bin', 'dcplane');

/** The server runs from dist/ through bin/dcplane: fail at once, and say why, when there is no build. */
export function assertBuilt(): void {
  const entry = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` before the end-to-end tests (they run bin/dcplane)`);
}

export interface E2eServerOptions {
  /** Reuse a data directory (restart after kill -9). */
  readonly dataDir?: string;
  readonly timeoutMs?: number;
}

/** `dcplane serve` in `ns` with this configuration, ready to answer DHCP. */
export async function startServer(topo: Topology, ns: string, config: object | string, opts: E2eServerOptions = {}): Promise<DhcpServerProcess> {
  assertBuilt();
  return startDhcpServerProcess(topo, ns, { config, entry: 'bin', dataDir: opts.dataDir, timeoutMs: opts.timeoutMs ?? 30_000 });
}

/** A data directory the caller owns (it survives the server process); remove it with the returned function. */
export function tempDataDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'dcplane-e2e-data-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One row of `dcplane leases list --json`. */
export interface LeaseRow {
  readonly ip: string;
  readonly subnet_id: number;
  readonly mac: string;
  readonly client_id: string | null;
  readonly hostname: string | null;
  readonly state: string;
  readonly starts: string;
  readonly expires: string;
}

/** Runs `dcplane leases list --json --data-dir DIR` (the CLI users run, on the host: it only reads files). */
export function listLeases(dataDir: string, extra: readonly string[] = []): Promise<LeaseRow[]> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, 'leases', 'list', '--json', '--data-dir', dataDir, ...extra], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      if (err !== null) return reject(new Error(`dcplane leases list failed: ${err.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout) as LeaseRow[]);
      } catch {
        reject(new Error(`dcplane leases list printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}

/** Polls `fn` until it returns something other than undefined, or gives up (returning undefined) after `timeoutMs`. */
export async function eventually<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, stepMs = 200): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() >= end) return undefined;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Parsed Prometheus text: every sample as name, labels and value. */
export interface Sample {
  readonly name: string;
  readonly labels: ReadonlyMap<string, string>;
  readonly value: number;
}

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const labels = new Map<string, string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels.set(l[1] as string, (l[2] as string).replace(/\\(.)/g, '$1'));
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the sample with this name whose labels include `labels`; 0 when no such sample (a counter never incremented is absent). */
export function metricValue(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels.get(k) === v)) sum += s.value;
  }
  return sum;
}

/** GET /api/v1/metrics/prometheus on the server's API, from inside its namespace (the API listens on the namespace's loopback). */
export async function scrapeMetrics(topo: Topology, ns: string, listen: string): Promise<{ text: string; samples: Sample[] }> {
  const r = await topo.exec(ns, 'curl', ['-sS', '--fail', '--max-time', '10', `http://${listen}/api/v1/metrics/prometheus`], { timeoutMs: 15_000 });
  return { text: r.stdout, samples: parsePrometheus(r.stdout) };
}

/** Adds an address to an interface of a namespace (a client that has configured its lease). */
export async function addAddress(topo: Topology, ns: string, ifname: string, cidr: string): Promise<void> {
  await topo.exec(ns, 'ip', ['addr', 'add', cidr, 'dev', ifname]);
}

export async function delAddress(topo: Topology, ns: string, ifname: string, cidr: string): Promise<void> {
  await topo.exec(ns, 'ip', ['addr', 'del', cidr, 'dev', ifname], { allowFail: true });
}

/** Whether the server process still runs. */
export function isRunning(server: DhcpServerProcess): boolean {
  return server.child.exitCode === null && server.child.signalCode === null;
}

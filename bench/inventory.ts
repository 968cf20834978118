/**
 * Inventory API at scale: 100,000 servers in 2,500 racks imported through
 * POST /api/v1/servers/import (timed), then list pages, filters, ordering
 * and detail requests measured with autocannon (p50/p99, req/s) through the
 * real HTTP stack (`dcplane serve` as a child process, a real bearer token),
 * on SQLite and on PostgreSQL (a fresh schema). Goal: p99 under 20 ms for a
 * page of 50. bench/README.md explains the figures.
 *
 *   npm run bench:inventory [-- --only sqlite|postgres] [--servers N] [--racks N]
 *                           [--duration S] [--connections 1,4] [--json FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import pg from 'pg';
import { BenchCleanup } from './lib/cleanup.js';
import { BenchError, BenchErrorCode } from './lib/errors.js';
import { liveChildren, repoRoot, startDaemon } from './lib/process.js';
import type { Daemon } from './lib/process.js';
import { freeTcpPort } from '../test/helpers/app-fixtures.js';
import { dcplaneNodeArgs } from '../test/helpers/cli.js';

const GOAL_P99_MS = 20;
const ADMIN_PASSWORD = 'inventory bench admin password';

interface Options {
  readonly only: 'sqlite' | 'postgres' | undefined;
  readonly servers: number;
  readonly racks: number;
  readonly duration: number;
  /** Concurrent connections, one autocannon run each: 1 shows a request's own latency, more show throughput and queueing. */
  readonly connections: readonly number[];
  readonly pgUrl: string;
  readonly json: string | undefined;
}

const USAGE = `usage: npm run bench:inventory -- [options]   (PostgreSQL at --pg-url for the postgres run)

  --only NAME         run only "sqlite" or "postgres"
  --servers N         servers imported (default 100000)
  --racks N           racks they are spread over (default 2500)
  --duration S        seconds of autocannon per request type (default 5)
  --connections L     comma-separated connection counts (default 1,4)
  --pg-url URL        PostgreSQL to use (default $DCPLANE_BENCH_PG_URL or
                      postgres://postgres@127.0.0.1:5432/test; a fresh schema, dropped after)
  --json FILE         write the results there (default bench/results/inventory-<time>.json)
  --help              this text

DCPLANE_NODE_ARGS passes flags to the server's node (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").`;

function parseArgs(argv: readonly string[]): Options | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  const opts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new BenchError(BenchErrorCode.USAGE, `unexpected argument ${a}`);
    const v = argv[i + 1];
    if (v === undefined) throw new BenchError(BenchErrorCode.USAGE, `${a} needs a value`);
    opts[a.slice(2)] = v;
    i++;
  }
  const known = new Set(['only', 'servers', 'racks', 'duration', 'connections', 'pg-url', 'json']);
  for (const k of Object.keys(opts)) if (!known.has(k)) throw new BenchError(BenchErrorCode.USAGE, `unknown option --${k} (known: ${[...known].map((x) => `--${x}`).join(' ')})`);
  const int = (k: string, d: number, min: number): number => {
    const n = opts[k] === undefined ? d : Number(opts[k]);
    if (!Number.isInteger(n) || n < min) throw new BenchError(BenchErrorCode.USAGE, `--${k} must be a whole number of at least ${min}`);
    return n;
  };
  const only = opts['only'];
  if (only !== undefined && only !== 'sqlite' && only !== 'postgres') throw new BenchError(BenchErrorCode.USAGE, '--only is sqlite or postgres');
  return {
    only,
    servers: int('servers', 100_000, 1),
    racks: int('racks', 2_500, 1),
    duration: int('duration', 5, 1),
    connections: (opts['connections'] ?? '1,4').split(',').map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < 1) throw new BenchError(BenchErrorCode.USAGE, '--connections is a list of whole numbers (1,4)');
      return n;
    }),
    pgUrl: opts['pg-url'] ?? process.env['DCPLANE_BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test',
    json: opts['json'],
  };
}

interface CaseResult {
  readonly backend: string;
  readonly name: string;
  readonly path: string;
  readonly connections: number;
  readonly count: number | undefined;
  readonly p50: number;
  readonly p99: number;
  readonly reqPerSec: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
  /** CPU the server process spent per request (ms): unlike latency, barely moved by other work on a busy host. */
  readonly cpuMsPerRequest: number | undefined;
  /** The goal applies to pages of 50 (every list case); detail requests are shown against it too. */
  readonly meetsGoal: boolean;
}

interface BackendRun {
  readonly backend: 'sqlite' | 'postgres';
  readonly racksSeconds: number;
  readonly importSeconds: number;
  readonly imported: number;
  readonly cases: CaseResult[];
  readonly serverCpuSeconds: number | undefined;
}

async function api(base: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

function must(r: { status: number; body: Record<string, unknown> }, want: number, what: string): Record<string, unknown> {
  if (r.status !== want) throw new BenchError(BenchErrorCode.TOOL_FAILED, `${what}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
  return r.body;
}

const rackName = (i: number): string => `R${String(i).padStart(5, '0')}`;

/** The import file: realistic spread of vendors, statuses and sizes, `perRack` servers per rack from U1 up. */
function serversCsv(servers: number, racks: number): string {
  const perRack = Math.ceil(servers / racks);
  const statuses = ['planned', 'provisioning', 'active', 'active', 'active', 'maintenance'];
  const vendors = ['Dell', 'HPE', 'Lenovo', 'Supermicro'];
  const lines = ['name,serial,datacenter,rack,u_position,vendor,model,cpu_cores,ram_gb,power_supply_w,status,os'];
  for (let i = 0; i < servers; i++) {
    lines.push(
      [
        `srv-${String(i).padStart(6, '0')}`,
        `SN${String(i).padStart(8, '0')}`,
        'DC-BENCH',
        rackName(Math.floor(i / perRack)),
        1 + (i % perRack),
        vendors[i % vendors.length],
        `Model ${i % 17}`,
        16 + (i % 4) * 16,
        128 * (1 + (i % 4)),
        400,
        statuses[i % statuses.length],
        i % 3 === 0 ? 'Debian 12' : 'Ubuntu 22.04',
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Sends the import and follows its progress stream; resolves to the final report line. */
async function importServers(base: string, token: string, csv: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}/api/v1/servers/import`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv', accept: 'application/x-ndjson' }, body: csv });
  if (res.status !== 200 || res.body === null) throw new BenchError(BenchErrorCode.TOOL_FAILED, `import: HTTP ${res.status} ${(await res.text()).slice(0, 500)}`);
  const decoder = new TextDecoder();
  let buffered = '';
  let last: Record<string, unknown> | undefined;
  let shown = -1;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>;
      buffered = buffered.slice(nl + 1);
      last = line;
      const total = Number(line['total']);
      const tenth = Math.floor((10 * Number(line['done'])) / Math.max(1, total));
      if (line['phase'] === 'import' && tenth !== shown) {
        shown = tenth;
        process.stderr.write(`  import: ${String(line['done'])}/${total} rows\n`);
      }
    }
  }
  if (last === undefined || last['phase'] !== 'done') throw new BenchError(BenchErrorCode.TOOL_FAILED, 'import: the stream ended without a report');
  if (last['status'] !== 201) throw new BenchError(BenchErrorCode.TOOL_FAILED, `import refused: ${JSON.stringify(last).slice(0, 1000)}`);
  return last;
}

interface Case {
  readonly name: string;
  /** One path, or several taken in turn (detail requests over many ids). */
  readonly paths: readonly string[];
}

async function measure(base: string, token: string, c: Case, connections: number, opts: Options, daemon: Daemon): Promise<Omit<CaseResult, 'backend'>> {
  let next = 0;
  const first = await api(base, token, 'GET', c.paths[0]!);
  if (first.status !== 200) throw new BenchError(BenchErrorCode.TOOL_FAILED, `${c.name}: GET ${c.paths[0]} answered ${first.status} ${JSON.stringify(first.body).slice(0, 300)}`);
  const count = typeof first.body['count'] === 'number' ? first.body['count'] : undefined;
  const cpuBefore = daemon.cpuSeconds();
  const r = await autocannon({
    url: base,
    connections,
    duration: opts.duration,
    headers: { authorization: `Bearer ${token}` },
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: c.paths[next++ % c.paths.length]! }),
      },
    ],
  });
  const cpuAfter = daemon.cpuSeconds();
  return {
    name: c.name,
    path: c.paths[0]!,
    connections,
    cpuMsPerRequest: cpuBefore === undefined || cpuAfter === undefined || r.requests.total === 0 ? undefined : ((cpuAfter - cpuBefore) * 1000) / r.requests.total,
    count,
    p50: r.latency.p50,
    p99: r.latency.p99,
    reqPerSec: r.requests.average,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    meetsGoal: r.latency.p99 < GOAL_P99_MS && r.non2xx === 0 && r.errors === 0,
  };
}

async function runBackend(backend: 'sqlite' | 'postgres', opts: Options, cleanup: BenchCleanup): Promise<BackendRun> {
  const dir = cleanup.tempDir('dcplane-inv-bench-');
  let database = 'sqlite';
  const schema = `bench_inventory_${process.pid}`;
  if (backend === 'postgres') {
    const client = new pg.Client({ connectionString: opts.pgUrl });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.query(`create schema ${schema}`);
    await client.end();
    const u = new URL(opts.pgUrl);
    u.searchParams.set('options', `-c search_path=${schema}`);
    database = u.toString();
  }
  const port = await freeTcpPort();
  const base = `http://127.0.0.1:${port}`;
  const configFile = join(dir, 'dcplane.json');
  writeFileSync(configFile, JSON.stringify({ database, api: { listen: `127.0.0.1:${port}` }, log: { level: 'info' } }));
  let daemon: Daemon | undefined;
  try {
    console.error(`${backend}: starting dcplane serve (${backend === 'postgres' ? `schema ${schema}` : dir})`);
    // DCPLANE_NODE_ARGS passes flags to dcplane's node ("--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server under autocannon).
    const nodeArgs = (process.env['DCPLANE_NODE_ARGS'] ?? '').split(/\s+/).filter((a) => a !== '');
    daemon = await startDaemon(process.execPath, [...nodeArgs, ...dcplaneNodeArgs(['serve', '--config', configFile, '--data-dir', join(dir, 'data')])], {
      name: `dcplane (${backend})`,
      env: { ...process.env, DCPLANE_ADMIN_PASSWORD: ADMIN_PASSWORD },
      ready: /api ready/,
      // A first start hashes the admin's password with production argon2: slow on a loaded host.
      readyTimeoutMs: 180_000,
    });
    await waitForHealth(base);
    const token = must(await api(base, undefined, 'POST', '/api/v1/auth/token', { username: 'admin', password: ADMIN_PASSWORD }), 200, 'login')['access_token'] as string;

    let t = performance.now();
    const dc = must(await api(base, token, 'POST', '/api/v1/datacenters', { name: 'DC-BENCH', code: 'dc-bench' }), 201, 'datacenter');
    for (let i = 0; i < opts.racks; i += 500) {
      const batch = Array.from({ length: Math.min(500, opts.racks - i) }, (_, k) => ({
        datacenter_id: dc['id'],
        name: rackName(i + k),
        row: String.fromCharCode(65 + ((i + k) % 26)),
        u_height: 42,
        power_capacity_kw: 20,
      }));
      must(await api(base, token, 'POST', '/api/v1/racks', batch), 201, 'racks');
    }
    const racksSeconds = (performance.now() - t) / 1000;
    const csv = serversCsv(opts.servers, opts.racks);
    console.error(`${backend}: ${opts.racks} racks in ${racksSeconds.toFixed(1)} s; importing ${opts.servers} servers (${(csv.length / 1e6).toFixed(1)} MB of CSV)`);
    t = performance.now();
    const report = await importServers(base, token, csv);
    const importSeconds = (performance.now() - t) / 1000;
    console.error(`${backend}: imported ${String(report['created'])} servers in ${importSeconds.toFixed(1)} s`);

    const midRack = (must(await api(base, token, 'GET', `/api/v1/racks?name=${rackName(Math.floor(opts.racks / 2))}`), 200, 'rack')['results'] as { id: number }[])[0]!.id;
    const sample = must(await api(base, token, 'GET', `/api/v1/servers?ordering=id&limit=1000&offset=${Math.floor(opts.servers / 2)}&brief=1`), 200, 'ids');
    const ids = (sample['results'] as { id: number }[]).map((r) => r.id);
    const deep = Math.max(0, opts.servers - 50);
    // A cursor naming the row before the last page: a keyset page at the deepest point.
    const deepCursor = must(await api(base, token, 'GET', `/api/v1/servers?limit=1&offset=${Math.max(0, deep - 1)}&cursor=&brief=1`), 200, 'cursor')['next'] as string | null;
    const cases: Case[] = [
      { name: 'list, page of 50 (offset 0)', paths: ['/api/v1/servers?limit=50'] },
      { name: 'list, offset 5,000', paths: ['/api/v1/servers?limit=50&offset=5000'] },
      { name: 'list, offset 50,000', paths: [`/api/v1/servers?limit=50&offset=${Math.floor(opts.servers / 2)}`] },
      { name: 'list, last page', paths: [`/api/v1/servers?limit=50&offset=${deep}`] },
      ...(deepCursor === null ? [] : [{ name: 'list, last page by cursor', paths: [deepCursor.replace('limit=1', 'limit=50').replace('&brief=1', '')] }]),
      { name: 'filter status=active&rack_id=R', paths: [`/api/v1/servers?status=active&rack_id=${midRack}&limit=50`] },
      { name: 'filter status=active (1/2 of rows)', paths: ['/api/v1/servers?status=active&limit=50'] },
      { name: 'filter name__ic=srv-0500', paths: ['/api/v1/servers?name__ic=srv-0500&limit=50'] },
      { name: 'filter vendor=Dell, ordering=-cpu_cores', paths: ['/api/v1/servers?vendor=Dell&ordering=-cpu_cores&limit=50'] },
      { name: 'ordering=-ram_gb', paths: ['/api/v1/servers?ordering=-ram_gb&limit=50'] },
      { name: 'q=SN0004 (search)', paths: ['/api/v1/servers?q=SN0004&limit=50'] },
      { name: 'detail GET /servers/{id}', paths: ids.map((id) => `/api/v1/servers/${id}`) },
    ];
    const results: CaseResult[] = [];
    for (const c of cases) {
      for (const conns of opts.connections) {
        const r = await measure(base, token, c, conns, opts, daemon);
        console.error(`${backend}: ${c.name} (${conns} conn.): p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.reqPerSec.toFixed(0)} req/s, server CPU ${r.cpuMsPerRequest?.toFixed(2) ?? '?'} ms/request`);
        results.push({ backend, ...r });
      }
    }
    return { backend, racksSeconds, importSeconds, imported: Number(report['created']), cases: results, serverCpuSeconds: daemon.cpuSeconds() };
  } finally {
    await daemon?.stop(10_000);
    cleanup.removeDir(dir);
    if (backend === 'postgres') {
      const client = new pg.Client({ connectionString: opts.pgUrl });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    }
  }
}

async function waitForHealth(base: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/api/v1/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new BenchError(BenchErrorCode.SERVER_NOT_READY, `${base}/api/v1/health never answered`);
}

function table(runs: readonly BackendRun[], opts: Options): string {
  const head = ['backend', 'request', 'conns', 'matches', 'p50 ms', 'p99 ms', 'req/s', 'CPU ms/req', `p99 < ${GOAL_P99_MS} ms`];
  const rows = runs.flatMap((run) =>
    run.cases.map((c) => [
      run.backend,
      c.name,
      String(c.connections),
      c.count === undefined ? '' : String(c.count),
      c.p50.toFixed(1),
      c.p99.toFixed(1),
      c.reqPerSec.toFixed(0),
      c.cpuMsPerRequest === undefined ? '' : c.cpuMsPerRequest.toFixed(2),
      c.non2xx + c.errors > 0 ? `errors (${c.non2xx} non-2xx, ${c.errors} failed)` : c.meetsGoal ? 'yes' : 'NO',
    ]),
  );
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) => r.map((x, i) => (i >= 2 && i <= 7 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  out.push('');
  for (const run of runs) {
    out.push(
      `${run.backend}: ${opts.racks} racks in ${run.racksSeconds.toFixed(1)} s; ${run.imported} servers imported (one CSV, one transaction, audited) in ${run.importSeconds.toFixed(1)} s = ${Math.round(run.imported / run.importSeconds)} rows/s`,
    );
  }
  out.push(`autocannon: ${opts.connections.join(' and ')} connection(s), ${opts.duration} s per request type, bearer access token, dcplane serve in a child process; CPU ms/req = the server process's CPU time over the run / requests (SQLite work included; PostgreSQL's own CPU not)`);
  out.push('No NetBox here to compare with: these are dcplane figures alone, against the goal (p99 < 20 ms for a page of 50), not a ratio to a peer.');
  return out.join('\n');
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts === 'help') {
    console.log(USAGE);
    return;
  }
  const cleanup = new BenchCleanup(liveChildren);
  cleanup.install();
  const before = loadavg();
  const runs: BackendRun[] = [];
  for (const b of ['sqlite', 'postgres'] as const) {
    if (opts.only !== undefined && opts.only !== b) continue;
    if (cleanup.stopping) break;
    try {
      runs.push(await runBackend(b, opts, cleanup));
    } catch (err) {
      // One backend failing still leaves the other's figures worth printing.
      console.error(`bench: ${b}: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    }
  }
  const after = loadavg();
  console.log(table(runs, opts));
  console.log(`host: ${cpus().length} CPUs, load average ${before.map((x) => x.toFixed(2)).join(' ')} before, ${after.map((x) => x.toFixed(2)).join(' ')} after (a shared, busy host inflates p99)`);
  const file = opts.json ?? join(repoRoot(), 'bench', 'results', `inventory-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, JSON.stringify({ options: opts, loadAverageBefore: before, loadAverageAfter: after, runs }, null, 2));
  console.log(`figures: ${file}`);
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});

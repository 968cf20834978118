/**
 * DHCPv4 benchmark: perfdhcp against Kea 2.2 and against dcplane, on the
 * same namespaces in one run, with the ratio. Needs root (namespaces).
 * `npm run bench:dhcp -- --help` for the flags; bench/README.md for caveats.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseRange, rangeSize } from '../src/net/ipv4.js';
import { DcplaneError } from '../src/common/errors.js';
import { BenchCleanup } from './lib/cleanup.js';
import { BenchError, BenchErrorCode } from './lib/errors.js';
import { ensureDhcpBenchTools, strayKeaProcesses } from './lib/install.js';
import type { Topology } from './lib/namespaces.js';
import { DHCP_BENCH_TOPOLOGY, createTopology, inNamespace, udpCounters, udpDelta } from './lib/namespaces.js';
import { parsePerfdhcpOutput } from './lib/perfdhcp-output.js';
import type { Daemon } from './lib/process.js';
import { hostBusyCpuSeconds, liveChildren, repoRoot, runToCompletion, stopAllChildren } from './lib/process.js';
import type { ServerRun } from './lib/report.js';
import { formatTable, medianRun, otherCpuSeconds, ratio, ratioLine } from './lib/report.js';
import type { ServerUnderTest } from './lib/servers.js';
import { dcplaneServer, keaServer } from './lib/servers.js';

const USAGE = `usage: npm run bench:dhcp -- [options]   (as root)

  --rate N        DISCOVERs per second perfdhcp offers (default 20000)
  --duration S    seconds of load per server (default 10)
  --clients N     distinct client MACs perfdhcp cycles through (default 50000;
                  at most the pool size, so the pool never runs out)
  --only NAME     run only "kea" or "dcplane"
  --recv-buffer B receive buffer (bytes) of sockets that do not size their own,
                  perfdhcp's included: the host's net.core.rmem_default is set
                  to B for the run and put back after (default 4194304; 0 keeps
                  the host's). perfdhcp reads replies on one socket, and at the
                  Linux default (208 KiB) a server that answers faster than
                  perfdhcp reads has its replies dropped in perfdhcp's socket,
                  counted as the server's drops. Both servers get the same.
  --pin           keep the server on CPU 0 and perfdhcp on CPU 1 (taskset), so
                  neither preempts the other; a server's threads (dcplane's
                  lease writer, Kea's) then share its one CPU
  --rounds N      run each server N times, alternating which goes first, and
                  show the median round (default 1); use it on a busy host
  --json FILE     write the results there (default bench/results/dhcp-<time>.json)
  --help          this text`;

interface Options {
  readonly rate: number;
  readonly durationS: number;
  readonly clients: number;
  readonly only: 'kea' | 'dcplane' | undefined;
  readonly rounds: number;
  readonly recvBuffer: number;
  readonly pin: boolean;
  readonly jsonFile: string | undefined;
}

function positiveInt(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) <= 0) {
    throw new BenchError(BenchErrorCode.USAGE, `--${flag} wants a positive integer, got "${text}"`);
  }
  return Number(text);
}

function parseOptions(argv: readonly string[], poolSize: number): Options | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rate: { type: 'string' },
      duration: { type: 'string' },
      clients: { type: 'string' },
      only: { type: 'string' },
      rounds: { type: 'string' },
      'recv-buffer': { type: 'string' },
      pin: { type: 'boolean' },
      json: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help === true) return 'help';
  const only = values.only;
  if (only !== undefined && only !== 'kea' && only !== 'dcplane') {
    throw new BenchError(BenchErrorCode.USAGE, `--only wants "kea" or "dcplane", got "${only}"`);
  }
  const clients = positiveInt('clients', values.clients, 50000);
  if (clients > poolSize) {
    throw new BenchError(BenchErrorCode.USAGE, `--clients ${clients} exceeds the pool (${poolSize} addresses): the pool would run out`);
  }
  return {
    rate: positiveInt('rate', values.rate, 20000),
    durationS: positiveInt('duration', values.duration, 10),
    clients,
    only,
    rounds: positiveInt('rounds', values.rounds, 1),
    pin: values.pin === true,
    recvBuffer: values['recv-buffer'] === '0' ? 0 : positiveInt('recv-buffer', values['recv-buffer'], 4 * 1024 * 1024),
    jsonFile: values.json,
  };
}

/** Share of one core that other processes may take before the figures are flagged as skewed. */
const OTHER_LOAD_WARNING = 0.2;

const RMEM_DEFAULT = '/proc/sys/net/core/rmem_default';
const RMEM_MAX = '/proc/sys/net/core/rmem_max';

/**
 * Sets the host's default socket receive buffer for the run (put back by the
 * cleanup, also on a signal); `bytes` 0 leaves it. The setting is not per
 * network namespace on the kernels this runs on, so it is the host's.
 * Returns the default in force during the run.
 */
function setRecvBufferDefault(bytes: number): number {
  const before = Number(readFileSync(RMEM_DEFAULT, 'utf8').trim());
  if (bytes === 0 || bytes === before) return before;
  const max = Number(readFileSync(RMEM_MAX, 'utf8').trim());
  if (bytes > max) {
    throw new BenchError(BenchErrorCode.USAGE, `--recv-buffer ${bytes} is above net.core.rmem_max (${max}); give at most that, or raise rmem_max first`);
  }
  writeFileSync(RMEM_DEFAULT, String(bytes));
  cleanup.onCleanup(() => writeFileSync(RMEM_DEFAULT, String(before)));
  console.log(`bench: net.core.rmem_default ${before} -> ${bytes} for the run (put back at the end)`);
  return bytes;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Namespaces, temp dirs and children to undo on any exit; a signal lets servers stop politely first. */
const cleanup = new BenchCleanup(liveChildren, () => stopAllChildren(2000));

async function benchOne(server: ServerUnderTest, t: Topology, opts: Options, perfdhcpPath: string): Promise<ServerRun> {
  const dir = cleanup.tempDir(`dcpb-${server.name}-`);
  let daemon: Daemon | undefined;
  try {
    console.log(`bench: starting ${server.name} in ${t.serverNs} (data in ${dir})`);
    daemon = await server.start(t, dir, opts.pin ? 0 : undefined);
    // Let the server finish whatever it does right after its ready line.
    await sleep(500);
    const args = ['-4', '-l', t.clientIface, '-r', String(opts.rate), '-R', String(opts.clients), '-p', String(opts.durationS), t.serverAddress];
    const [cmd, argv] = inNamespace(t.clientNs, perfdhcpPath, args, opts.pin ? 1 : undefined);
    const loadAverageBefore = loadavg();
    console.log(`bench: load average ${loadAverageBefore.map((l) => l.toFixed(2)).join(' ')}; running perfdhcp ${args.join(' ')}`);
    const serverUdpBefore = udpCounters(t.serverNs);
    const clientUdpBefore = udpCounters(t.clientNs);
    const cpuBefore = daemon.cpuSeconds();
    const hostBefore = hostBusyCpuSeconds();
    const run = await runToCompletion(cmd, argv, opts.durationS * 1000 + 30000);
    const cpuAfter = daemon.cpuSeconds();
    const hostAfter = hostBusyCpuSeconds();
    const serverUdp = udpDelta(serverUdpBefore, udpCounters(t.serverNs));
    const clientUdp = udpDelta(clientUdpBefore, udpCounters(t.clientNs));
    const loadAverageAfter = loadavg();
    if (run.timedOut || (run.status !== 0 && run.status !== 3)) {
      throw new BenchError(
        BenchErrorCode.PERFDHCP_FAILED,
        `perfdhcp ${run.timedOut ? 'overran its time and was killed' : `exited with ${String(run.status)}`}: ${run.stderr.trim() || run.stdout.trim()}`,
      );
    }
    const perfdhcp = parsePerfdhcpOutput(run.stdout);
    if (!daemon.running()) {
      throw new BenchError(BenchErrorCode.SERVER_EXITED, `${server.name} died during the run; its output ended with:\n${daemon.output()}`);
    }
    if (perfdhcp.discoverOffer.received === 0) {
      throw new BenchError(
        BenchErrorCode.NO_REPLIES,
        `${server.name} answered none of ${perfdhcp.discoverOffer.sent} DISCOVERs (relayed from ${t.clientAddress}, replies expected at its port 67); its output ended with:\n${daemon.output()}`,
      );
    }
    return {
      server: server.name,
      ok: true,
      perfdhcp,
      perfdhcpStatus: run.status,
      ...(cpuBefore !== undefined && cpuAfter !== undefined ? { serverCpuSeconds: cpuAfter - cpuBefore } : {}),
      ...(run.cpuSeconds !== undefined ? { perfdhcpCpuSeconds: run.cpuSeconds } : {}),
      ...(hostBefore !== undefined && hostAfter !== undefined ? { hostBusyCpuSeconds: hostAfter - hostBefore } : {}),
      ...(serverUdp !== undefined ? { serverUdp } : {}),
      ...(clientUdp !== undefined ? { clientUdp } : {}),
      loadAverageBefore,
      loadAverageAfter,
    };
  } catch (err) {
    const code = err instanceof DcplaneError ? err.code : 'BENCH_ERR_UNEXPECTED';
    const message = err instanceof Error ? err.message : String(err);
    if (!cleanup.stopping) console.error(`bench: ${server.name} failed [${code}]: ${message}`);
    return { server: server.name, ok: false, error: { code, message } };
  } finally {
    if (daemon !== undefined) await daemon.stop();
    cleanup.removeDir(dir);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const t = DHCP_BENCH_TOPOLOGY;
  const pool = parseRange(`${t.pool.first}-${t.pool.last}`);
  if (pool === undefined) throw new BenchError(BenchErrorCode.USAGE, 'bad built-in pool');
  const opts = parseOptions(argv, rangeSize(pool));
  if (opts === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    console.error('bench: needs root (it creates network namespaces); run it with sudo');
    return 1;
  }

  if (opts.pin && cpus().length < 2) {
    throw new BenchError(BenchErrorCode.USAGE, `--pin needs 2 CPUs (server on 0, perfdhcp on 1); this host has ${cpus().length}`);
  }
  const tools = ensureDhcpBenchTools();
  for (const p of strayKeaProcesses()) {
    console.warn(`bench: warning: ${p.name} (pid ${p.pid}) runs outside this bench and competes for the same CPU; stop it for clean figures`);
  }

  cleanup.install();
  const recvBuffer = setRecvBufferDefault(opts.recvBuffer);
  cleanup.topology = t;
  createTopology(t);
  console.log(`bench: namespaces ${t.serverNs} (${t.serverAddress}/${t.prefixLength} on ${t.serverIface}) and ${t.clientNs} (${t.clientAddress} on ${t.clientIface}); perfdhcp relays from ${t.clientAddress}`);

  const servers: ServerUnderTest[] = [];
  if (opts.only !== 'dcplane') servers.push(keaServer(tools.keaDhcp4));
  if (opts.only !== 'kea') servers.push(dcplaneServer());
  const runs = new Map<string, ServerRun[]>(servers.map((s) => [s.name, []]));
  for (let round = 1; round <= opts.rounds && !cleanup.stopping; round++) {
    // Alternating the order spreads slow drifts in the host's load over both servers.
    const order = round % 2 === 1 ? servers : [...servers].reverse();
    if (opts.rounds > 1) console.log(`bench: round ${round}/${opts.rounds}: ${order.map((x) => x.name).join(', ')}`);
    for (const server of order) {
      if (cleanup.stopping) break;
      runs.get(server.name)?.push(await benchOne(server, t, opts, tools.perfdhcp));
      await sleep(1000);
    }
  }
  cleanup.now();

  const kea = medianRun(runs.get('kea') ?? []);
  const dcplane = medianRun(runs.get('dcplane') ?? []);
  const shown = new Map<string, ServerRun>();
  if (kea !== undefined) shown.set('kea', kea);
  if (dcplane !== undefined) shown.set('dcplane', dcplane);
  const cores = cpus().length;
  console.log('');
  console.log(
    `DHCPv4 perfdhcp: offered ${opts.rate}/s for ${opts.durationS} s, ${opts.clients} clients, relayed (giaddr ${t.clientAddress}), ` +
      `default socket receive buffer ${recvBuffer} bytes${opts.pin ? ', server on CPU 0 and perfdhcp on CPU 1' : ''}`,
  );
  if ([...shown.values()].some((r) => r.ok)) {
    if (opts.rounds > 1) console.log('(each column is that server\'s median round by exchanges/s)');
    console.log(formatTable(kea, dcplane, opts.durationS));
    console.log('');
  }
  for (const [name, list] of runs) {
    if (opts.rounds > 1) {
      const rates = list.map((r) => (r.perfdhcp === undefined ? 'failed' : r.perfdhcp.exchangesPerSecond.toFixed(1)));
      console.log(`${name} exchanges/s by round: ${rates.join(', ')}`);
    }
    for (const run of list) {
      if (run.error !== undefined) console.log(`${run.server}: FAILED [${run.error.code}] ${run.error.message.split('\n', 1)[0] ?? ''}`);
    }
  }
  console.log(ratioLine(kea, dcplane));
  console.log(
    `note: this host has ${cores} CPU core${cores === 1 ? '' : 's'}, shared by the server under test and perfdhcp ` +
      '(and anything else running); figures are relative, compare the ratio.',
  );
  for (const run of [kea, dcplane]) {
    if (run?.loadAverageBefore !== undefined) {
      console.log(`note: load average before ${run.server}: ${run.loadAverageBefore.map((l) => l.toFixed(2)).join(' ')}`);
    }
    const other = run === undefined ? undefined : otherCpuSeconds(run);
    if (run !== undefined && other !== undefined && other / opts.durationS > OTHER_LOAD_WARNING) {
      console.log(
        `warning: other processes used ${((100 * other) / opts.durationS).toFixed(0)}% of a core during the ${run.server} run: ` +
          'its figures are low by an unknown amount; rerun on a quiet host',
      );
    }
  }

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const jsonFile = resolve(opts.jsonFile ?? join(repoRoot(), 'bench', 'results', `dhcp-${stamp}.json`));
  mkdirSync(dirname(jsonFile), { recursive: true });
  const report = {
    bench: 'dhcp-perfdhcp',
    date: new Date().toISOString(),
    host: { cores, cpu: cpus()[0]?.model ?? 'unknown', kernel: release(), node: process.version },
    params: {
      rate: opts.rate,
      duration_s: opts.durationS,
      clients: opts.clients,
      rounds: opts.rounds,
      recv_buffer_default: recvBuffer,
      pinned: opts.pin,
      subnet: t.subnet,
      pool: `${t.pool.first}-${t.pool.last}`,
    },
    median: Object.fromEntries(shown),
    runs: Object.fromEntries(runs),
    ratio_exchanges_per_second: ratio(dcplane?.perfdhcp?.exchangesPerSecond, kea?.perfdhcp?.exchangesPerSecond) ?? null,
  };
  writeFileSync(jsonFile, JSON.stringify(report, null, 2) + '\n');
  console.log(`bench: results written to ${jsonFile}`);
  return [...runs.values()].every((list) => list.every((r) => r.ok)) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const code = err instanceof DcplaneError ? ` [${err.code}]` : '';
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}${code}`);
    cleanup.now();
    process.exitCode = 1;
  },
);

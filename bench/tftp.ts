/**
 * TFTP benchmark: tftpd-hpa and dcplane on the same namespaces in one run,
 * with the ratios. Three loads: one big file with curl at blksize 1468, the
 * same with atftp asking for windowsize 16, and a boot storm of concurrent
 * downloads. Needs root (namespaces). bench/README.md describes it.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DcplaneError } from '../src/common/errors.js';
import { parseAtftpOack, sha256, sha256File } from '../test/helpers/tftp-clients.js';
import { stormInNamespace } from '../test/helpers/tftp-storm.js';
import { BenchCleanup } from './lib/cleanup.js';
import { BenchError, BenchErrorCode } from './lib/errors.js';
import type { Topology } from './lib/namespaces.js';
import { createTopology, inNamespace } from './lib/namespaces.js';
import { hostBusyCpuSeconds, liveChildren, repoRoot, runToCompletion } from './lib/process.js';
import type { TftpBenchTools } from './lib/tftp-install.js';
import { ensureTftpBenchTools } from './lib/tftp-install.js';
import type { StormFigure, TftpServerRun, TransferFigure } from './lib/tftp-report.js';
import { formatTftpTable, medianTftpRun, ratio, ratioLines, roundLines } from './lib/tftp-report.js';
import type { RunningTftpServer, TftpServerName } from './lib/tftp-servers.js';
import { MAX_BLKSIZE, liveTftpServers, startTftpServer } from './lib/tftp-servers.js';

const USAGE = `usage: npm run bench:tftp -- [options]   (as root)

  --size-mib N      size of the big file for curl and atftp (default 64)
  --clients N       concurrent downloads in the storm (default 300)
  --storm-kib N     size of the storm's boot file in KiB (default 1024)
  --only NAME       run only "tftpd-hpa" or "dcplane"
  --rounds N        run each server N times, alternating which goes first,
                    and show each load's median round (default 1); use it on
                    a busy host
  --pin             keep each server, curl and atftp on CPU 0 and the storm's
                    client on CPU 1 (taskset): a lock-step transfer then always
                    has its client on the server's CPU, where otherwise the
                    scheduler decides (and cross-CPU wake-ups cost far more)
  --json FILE       write the results there (default bench/results/tftp-<time>.json)
  --help            this text`;

const TOPOLOGY: Topology = Object.freeze({
  serverNs: 'dcpbt-srv',
  clientNs: 'dcpbt-cli',
  serverIface: 'dcpbt-s0',
  clientIface: 'dcpbt-c0',
  serverAddress: '10.98.0.1',
  clientAddress: '10.98.0.2',
  prefixLength: 24,
  // Required by the shared topology type (the DHCP bench's); TFTP uses neither.
  subnet: '10.98.0.0/24',
  pool: Object.freeze({ first: '10.98.0.100', last: '10.98.0.200' }),
});

interface Options {
  readonly sizeMiB: number;
  readonly clients: number;
  readonly stormKiB: number;
  readonly only: TftpServerName | undefined;
  readonly rounds: number;
  readonly pin: boolean;
  readonly jsonFile: string | undefined;
}

function positiveInt(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) <= 0) throw new BenchError(BenchErrorCode.USAGE, `--${flag} wants a positive integer, got "${text}"`);
  return Number(text);
}

function parseOptions(argv: readonly string[]): Options | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'size-mib': { type: 'string' },
      clients: { type: 'string' },
      'storm-kib': { type: 'string' },
      only: { type: 'string' },
      rounds: { type: 'string' },
      pin: { type: 'boolean' },
      json: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help === true) return 'help';
  const only = values.only;
  if (only !== undefined && only !== 'tftpd-hpa' && only !== 'dcplane') {
    throw new BenchError(BenchErrorCode.USAGE, `--only wants "tftpd-hpa" or "dcplane", got "${only}"`);
  }
  return {
    sizeMiB: positiveInt('size-mib', values['size-mib'], 64),
    clients: positiveInt('clients', values.clients, 300),
    stormKiB: positiveInt('storm-kib', values['storm-kib'], 1024),
    only,
    rounds: positiveInt('rounds', values.rounds, 1),
    pin: values.pin === true,
    jsonFile: values.json,
  };
}

/** Namespaces, temp dirs and children to undo on any exit. */
const cleanup = new BenchCleanup(() => [...liveChildren(), ...liveTftpServers()]);
const tempDir = (prefix: string, base?: string): string => cleanup.tempDir(prefix, base);

interface Files {
  readonly root: string;
  readonly big: { readonly name: string; readonly bytes: number; readonly sha256: string };
  readonly boot: { readonly name: string; readonly bytes: number; readonly sha256: string };
  /** Where clients write: tmpfs when there is one, so the disk is not what is measured. */
  readonly out: string;
}

function makeFiles(o: Options): Files {
  const root = tempDir('dcpbt-root-');
  // Both servers drop privileges to nobody; tftpd-hpa also serves only world-readable files.
  chmodSync(root, 0o755);
  const write = (name: string, data: Buffer): { name: string; bytes: number; sha256: string } => {
    writeFileSync(join(root, name), data);
    chmodSync(join(root, name), 0o644);
    return { name, bytes: data.length, sha256: sha256(data) };
  };
  const big = write('big.bin', randomBytes(o.sizeMiB * 1024 * 1024));
  const boot = write('boot.bin', randomBytes(o.stormKiB * 1024));
  const out = tempDir('dcpbt-out-', existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
  return { root, big, boot, out };
}

async function timedDownload(
  server: RunningTftpServer,
  tool: string,
  args: readonly string[],
  dest: string,
  want: { readonly bytes: number; readonly sha256: string },
  cpu: number | undefined,
  check: (output: string) => string | undefined = () => undefined,
): Promise<TransferFigure> {
  const [cmd, argv] = inNamespace(TOPOLOGY.clientNs, tool, args, cpu);
  const cpuBefore = server.cpuSeconds();
  const hostBefore = hostBusyCpuSeconds();
  const started = performance.now();
  const run = await runToCompletion(cmd, argv, 300_000);
  const seconds = (performance.now() - started) / 1000;
  const base = {
    bytes: want.bytes,
    seconds,
    mibPerSecond: want.bytes / 1024 / 1024 / seconds,
    serverCpuSeconds: delta(cpuBefore, server.cpuSeconds()),
    hostBusyCpuSeconds: delta(hostBefore, hostBusyCpuSeconds()),
  };
  let error: string | undefined;
  if (run.timedOut) error = 'killed after 300 s';
  else if (run.status !== 0) error = `exit ${String(run.status)}: ${(run.stderr || run.stdout).trim().slice(-300)}`;
  else error = check(run.stdout + run.stderr);
  if (error === undefined) {
    const size = existsSync(dest) ? statSync(dest).size : -1;
    if (size !== want.bytes) error = `wrote ${size} bytes, expected ${want.bytes}`;
    else if ((await sha256File(dest)) !== want.sha256) error = 'SHA-256 differs from the file served';
  }
  rmSync(dest, { force: true });
  return error === undefined ? { ok: true, ...base } : { ok: false, ...base, error };
}

function delta(before: number | undefined, after: number | undefined): number | undefined {
  return before === undefined || after === undefined ? undefined : after - before;
}

async function runStorm(server: RunningTftpServer, files: Files, clients: number, cpu: number | undefined): Promise<StormFigure> {
  const cpuBefore = server.cpuSeconds();
  const hostBefore = hostBusyCpuSeconds();
  // As PXE ROMs ask: blksize 1468 and tsize, lock-step (no windowsize), a second before each resend.
  const s = await stormInNamespace(TOPOLOGY.clientNs, {
    server: TOPOLOGY.serverAddress,
    files: [files.boot.name],
    clients,
    blksize: MAX_BLKSIZE,
    tsize: true,
    retransmitMs: 1000,
    retries: 8,
  }, 300_000, cpu);
  const serverCpuSeconds = delta(cpuBefore, server.cpuSeconds());
  const hostCpu = delta(hostBefore, hostBusyCpuSeconds());
  const intact = s.hashes[files.boot.sha256] ?? 0;
  const wallSeconds = s.wallMs / 1000;
  return {
    ok: s.ok === clients && intact === clients,
    clients,
    succeeded: Math.min(s.ok, intact),
    failed: clients - Math.min(s.ok, intact),
    wallSeconds,
    transfersPerSecond: s.ok / wallSeconds,
    p50Ms: s.durationMs.p50,
    p95Ms: s.durationMs.p95,
    maxMs: s.durationMs.max,
    clientRetransmits: s.retransmits,
    completionsPerSecond: s.completionsPerSecond,
    errors: s.errors,
    serverCpuSeconds,
    hostBusyCpuSeconds: hostCpu,
  };
}

async function benchOne(name: TftpServerName, files: Files, o: Options, tools: TftpBenchTools): Promise<TftpServerRun> {
  const work = tempDir(`dcpbt-${name}-`);
  let server: RunningTftpServer | undefined;
  try {
    console.log(`bench: starting ${name} in ${TOPOLOGY.serverNs}`);
    // --pin: the server and the one-transfer clients on CPU 0, the storm's client on CPU 1.
    const serverCpu = o.pin ? 0 : undefined;
    server = await startTftpServer(name, TOPOLOGY, files.root, work, tools.tftpdHpa, serverCpu);
    await new Promise((r) => setTimeout(r, 500));
    const host = TOPOLOGY.serverAddress;
    console.log(`bench: ${name}: curl ${files.big.name} (${o.sizeMiB} MiB) at blksize ${MAX_BLKSIZE}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const curlOut = join(files.out, 'curl.bin');
    const curl = await timedDownload(server, tools.curl, ['-sS', `tftp://${host}/${files.big.name}`, '--tftp-blksize', String(MAX_BLKSIZE), '-o', curlOut], curlOut, files.big, serverCpu);

    // What the server grants atftp, seen on a small file with --trace (a trace of the big file would cost the time measured).
    const probeOut = join(files.out, 'probe.bin');
    const probe = await runToCompletion(...inNamespace(TOPOLOGY.clientNs, tools.atftp, ['--trace', '--option', `blksize ${MAX_BLKSIZE}`, '--option', 'windowsize 16', '-g', '-r', files.boot.name, '-l', probeOut, host]), 60_000);
    rmSync(probeOut, { force: true });
    const oack = parseAtftpOack(probe.stdout + probe.stderr);
    const atftpOack = oack === undefined ? undefined : Object.fromEntries(oack);

    console.log(`bench: ${name}: atftp ${files.big.name} asking windowsize 16, blksize ${MAX_BLKSIZE}`);
    const atftpOutFile = join(files.out, 'atftp.bin');
    const atftp = await timedDownload(
      server,
      tools.atftp,
      ['--option', `blksize ${MAX_BLKSIZE}`, '--option', 'windowsize 16', '-g', '-r', files.big.name, '-l', atftpOutFile, host],
      atftpOutFile,
      files.big,
      serverCpu,
      (out) => (/error received from server/.test(out) ? out.trim().slice(-300) : undefined),
    );

    console.log(`bench: ${name}: storm of ${o.clients} concurrent ${files.boot.name} (${o.stormKiB} KiB) downloads`);
    const storm = await runStorm(server, files, o.clients, o.pin ? 1 : undefined);
    if (!server.running()) throw new BenchError(BenchErrorCode.SERVER_EXITED, `${name} died during the run; its output ended with:\n${server.output().slice(-3000)}`);
    for (const [what, f] of [['curl', curl], ['atftp', atftp]] as const) if (!f.ok) console.error(`bench: ${name}: ${what} failed: ${f.error ?? ''}`);
    if (!storm.ok) console.error(`bench: ${name}: storm: ${storm.failed} of ${storm.clients} failed: ${JSON.stringify(storm.errors)}`);
    return { server: name, ok: curl.ok && atftp.ok && storm.ok, curl, atftp, ...(atftpOack !== undefined ? { atftpOack } : {}), storm };
  } catch (err) {
    const code = err instanceof DcplaneError ? err.code : 'BENCH_ERR_UNEXPECTED';
    const message = err instanceof Error ? err.message : String(err);
    if (!cleanup.stopping) console.error(`bench: ${name} failed [${code}]: ${message}`);
    return { server: name, ok: false, error: { code, message } };
  } finally {
    await server?.stop();
    cleanup.removeDir(work);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const o = parseOptions(argv);
  if (o === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    console.error('bench: needs root (it creates network namespaces); run it with sudo');
    return 1;
  }
  if (o.pin && cpus().length < 2) {
    throw new BenchError(BenchErrorCode.USAGE, `--pin needs 2 CPUs (server and single clients on 0, the storm's client on 1); this host has ${cpus().length}`);
  }
  const tools = ensureTftpBenchTools();
  cleanup.install();
  cleanup.topology = TOPOLOGY;
  createTopology(TOPOLOGY);
  const t = TOPOLOGY;
  console.log(`bench: namespaces ${t.serverNs} (${t.serverAddress}/${t.prefixLength} on ${t.serverIface}) and ${t.clientNs} (${t.clientAddress} on ${t.clientIface})`);
  const files = makeFiles(o);
  console.log(`bench: tftpd-hpa is ${tools.tftpdHpa}; root ${files.root}; clients write to ${files.out}`);

  const names: TftpServerName[] = [];
  if (o.only !== 'dcplane') names.push('tftpd-hpa');
  if (o.only !== 'tftpd-hpa') names.push('dcplane');
  const runs = new Map<TftpServerName, TftpServerRun[]>(names.map((n) => [n, []]));
  const loads: number[] = [];
  for (let round = 1; round <= o.rounds && !cleanup.stopping; round++) {
    // Alternating the order spreads a drift in the host's load over both servers.
    const order = round % 2 === 1 ? names : [...names].reverse();
    loads.push(loadavg()[0] ?? 0);
    if (o.rounds > 1) console.log(`bench: round ${round}/${o.rounds}: ${order.join(', ')}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    for (const name of order) {
      if (cleanup.stopping) break;
      runs.get(name)?.push(await benchOne(name, files, o, tools));
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  cleanup.now();

  const peer = medianTftpRun(runs.get('tftpd-hpa') ?? []);
  const dcplane = medianTftpRun(runs.get('dcplane') ?? []);
  const cores = cpus().length;
  console.log('');
  console.log(`TFTP: ${o.sizeMiB} MiB with curl (blksize ${MAX_BLKSIZE}) and atftp (blksize ${MAX_BLKSIZE}, windowsize 16); storm of ${o.clients} x ${o.stormKiB} KiB (raw clients, blksize ${MAX_BLKSIZE}, lock-step)${o.pin ? '; servers, curl and atftp on CPU 0, the storm client on CPU 1' : ''}`);
  console.log(formatTftpTable(peer, dcplane, o.sizeMiB, o.clients, o.stormKiB));
  if (o.rounds > 1) console.log(`(${o.rounds} rounds: each load's figures are that server's median round for it; 1-minute load average at each round's start: ${loads.map((l) => l.toFixed(2)).join(' ')})`);
  console.log('');
  if (o.rounds > 1) for (const line of roundLines(runs.get('tftpd-hpa') ?? [], runs.get('dcplane') ?? [])) console.log(line);
  for (const r of [peer, dcplane]) {
    if (r?.storm !== undefined) console.log(`${r.server} storm completions per second: ${r.storm.completionsPerSecond.join(' ')}`);
    if (r?.error !== undefined) console.log(`${r.server}: FAILED [${r.error.code}] ${r.error.message.split('\n', 1)[0] ?? ''}`);
  }
  for (const line of ratioLines(peer, dcplane)) console.log(line);
  console.log(`note: this host has ${cores} CPU core${cores === 1 ? '' : 's'}, shared by the server, the clients and anything else running; compare the ratios.`);

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const jsonFile = resolve(o.jsonFile ?? join(repoRoot(), 'bench', 'results', `tftp-${stamp}.json`));
  mkdirSync(dirname(jsonFile), { recursive: true });
  const report = {
    bench: 'tftp',
    date: new Date().toISOString(),
    host: { cores, cpu: cpus()[0]?.model ?? 'unknown', kernel: release(), node: process.version },
    params: { size_mib: o.sizeMiB, clients: o.clients, storm_kib: o.stormKiB, rounds: o.rounds, pinned: o.pin, max_blksize: MAX_BLKSIZE, tftpd_hpa: tools.tftpdHpa },
    load_average_at_round_start: loads,
    rounds: Object.fromEntries(runs),
    median: { ...(peer !== undefined ? { 'tftpd-hpa': peer } : {}), ...(dcplane !== undefined ? { dcplane } : {}) },
    ratios: {
      curl_mib_per_second: ratio(dcplane?.curl?.ok === true ? dcplane.curl.mibPerSecond : undefined, peer?.curl?.ok === true ? peer.curl.mibPerSecond : undefined) ?? null,
      atftp_mib_per_second: ratio(dcplane?.atftp?.ok === true ? dcplane.atftp.mibPerSecond : undefined, peer?.atftp?.ok === true ? peer.atftp.mibPerSecond : undefined) ?? null,
      storm_transfers_per_second: ratio(dcplane?.storm?.ok === true ? dcplane.storm.transfersPerSecond : undefined, peer?.storm?.ok === true ? peer.storm.transfersPerSecond : undefined) ?? null,
    },
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

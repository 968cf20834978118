import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError, BenchErrorCode } from './errors.js';

/** The repository root (the directory with package.json), from bench/lib or dist/bench/lib. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new BenchError(BenchErrorCode.TOOL_FAILED, 'package.json not found above the bench');
    dir = up;
  }
  return dir;
}

/** Looks a program up on PATH and in the sbin directories Debian puts kea and perfdhcp in. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here; next directory
    }
  }
  return undefined;
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a short command to completion; throws a coded error unless `allowFailure`. */
export function runSync(cmd: string, args: readonly string[], opts: { allowFailure?: boolean } = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error !== undefined) {
    throw new BenchError(BenchErrorCode.TOOL_FAILED, `${cmd}: ${r.error.message}`, { cause: r.error });
  }
  const result = { status: r.status, stdout: r.stdout, stderr: r.stderr };
  if (r.status !== 0 && opts.allowFailure !== true) {
    throw new BenchError(
      BenchErrorCode.TOOL_FAILED,
      `${cmd} ${args.join(' ')} exited with ${String(r.status)}: ${r.stderr.trim()}`,
    );
  }
  return result;
}

/** Keeps the last `limit` characters of a stream, enough to explain a failure. */
class Tail {
  private text = '';
  constructor(private readonly limit: number) {}
  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.limit * 2) this.text = this.text.slice(-this.limit);
  }
  get value(): string {
    return this.text.slice(-this.limit);
  }
}

const live = new Set<ChildProcess>();

/** Every child still running, so a signal handler can stop them before the namespaces go. */
export function liveChildren(): readonly ChildProcess[] {
  return [...live];
}

/** SIGTERM to every child still running, SIGKILL to those left after `graceMs`; resolves when all are gone. */
export async function stopAllChildren(graceMs: number): Promise<void> {
  const children = [...live];
  const gone = children.map((c) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()))));
  for (const c of children) c.kill('SIGTERM');
  const timer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), graceMs);
  await Promise.all(gone);
  clearTimeout(timer);
}

function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

export interface Daemon {
  readonly name: string;
  readonly pid: number;
  /** Last few KiB of stdout and stderr, interleaved as they came. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** CPU seconds (user + system) the process has used so far, from /proc. */
  cpuSeconds(): number | undefined;
  /** False once the process has exited, for whatever reason. */
  running(): boolean;
}

export interface DaemonOptions {
  readonly name: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Output that means the daemon serves. */
  readonly ready: RegExp;
  readonly readyTimeoutMs: number;
}

/** Clock ticks per second for /proc/<pid>/stat; Linux fixes it at 100 for user space. */
const CLOCK_TICKS = 100;

export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return (utime + stime) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** CPU seconds every core of the host has spent busy since boot (all processes, from /proc/stat). */
export function hostBusyCpuSeconds(): number | undefined {
  try {
    const first = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const ticks = first.trim().split(/\s+/).slice(1, 8).map(Number);
    if (ticks.length < 7 || ticks.some((n) => !Number.isFinite(n))) return undefined;
    // Fields: user nice system idle iowait irq softirq steal; idle, iowait and steal (the hypervisor's) are not our work.
    const [user, nice, system, , , irq, softirq] = ticks as [number, number, number, number, number, number, number];
    return (user + nice + system + irq + softirq) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * Starts a long-running server and resolves once its output matches `ready`.
 * If it exits first or stays silent past the timeout, it is killed and the
 * error carries the tail of what it printed.
 */
export function startDaemon(cmd: string, args: readonly string[], opts: DaemonOptions): Promise<Daemon> {
  const tail = new Tail(4096);
  const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });

  const daemon: Daemon = {
    name: opts.name,
    pid: child.pid ?? -1,
    output: () => tail.value,
    cpuSeconds: () => (child.pid === undefined ? undefined : processCpuSeconds(child.pid)),
    running: () => !exited,
    async stop(graceMs = 5000): Promise<void> {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exitPromise;
      clearTimeout(timer);
    },
  };

  return new Promise<Daemon>((resolve, reject) => {
    let settled = false;
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      tail.push(text);
      if (!settled && opts.ready.test(tail.value)) {
        settled = true;
        clearTimeout(timer);
        resolve(daemon);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      void daemon.stop(1000).then(() =>
        reject(
          new BenchError(
            BenchErrorCode.SERVER_NOT_READY,
            `${opts.name} printed no ${String(opts.ready)} within ${opts.readyTimeoutMs} ms; its output ended with:\n${tail.value}`,
          ),
        ),
      );
    }, opts.readyTimeoutMs);
    child.once('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new BenchError(BenchErrorCode.SERVER_EXITED, `${opts.name} could not start: ${err.message}`, { cause: err }));
    });
    child.once('exit', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(
        new BenchError(
          BenchErrorCode.SERVER_EXITED,
          `${opts.name} exited (${signal ?? `status ${String(code)}`}) before it was ready; its output ended with:\n${tail.value}`,
        ),
      );
    });
  });
}

/**
 * Runs a command to completion, collecting its output, and kills it if it
 * overruns `timeoutMs` (a perfdhcp without replies must not hang the bench).
 */
export function runToCompletion(
  cmd: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<RunResult & { readonly timedOut: boolean; readonly cpuSeconds: number | undefined }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    // /proc/<pid> is gone once the child is reaped, so its CPU time is sampled while it runs.
    let cpuSeconds: number | undefined;
    const sampler = setInterval(() => {
      if (child.pid !== undefined) cpuSeconds = processCpuSeconds(child.pid) ?? cpuSeconds;
    }, 100);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      clearInterval(sampler);
      reject(new BenchError(BenchErrorCode.TOOL_FAILED, `${cmd}: ${err.message}`, { cause: err }));
    });
    child.once('close', (status) => {
      clearTimeout(timer);
      clearInterval(sampler);
      resolve({ status, stdout, stderr, timedOut, cpuSeconds });
    });
  });
}

/** Processes whose command name is one of `names`, other than those in `except`. */
export function findProcesses(names: readonly string[], except: ReadonlySet<number> = new Set()): { pid: number; name: string }[] {
  const wanted = new Set(names);
  const found: { pid: number; name: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (except.has(pid)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (wanted.has(comm)) found.push({ pid, name: comm });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

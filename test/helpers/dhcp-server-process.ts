/**
 * Runs `dcplane serve` inside a namespace of a test topology, as users run
 * it, and waits until it logs that DHCP is ready.
 *
 * Compiled tests (dist/test) run `node bin/dcplane serve ...`, the real
 * executable; tests run from source (tsx) run src/cli/main.ts the same way,
 * so a change is tested without a build.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { dcplaneNodeArgs } from './cli.js';
import type { Topology } from './netns.js';

/** One line of the server's output: the pino JSON object, or `{ msg: line }` for a line that is not JSON. */
export type LogEntry = Record<string, unknown> & { msg?: unknown };

export type LogMatch = string | RegExp | ((entry: LogEntry, line: string) => boolean);

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ServerProcessOptions {
  /** The configuration: an object is written as JSON; a string is written as it is (to test refusals). */
  readonly config: object | string;
  /**
   * Reuse a data directory (a restart after kill -9: pass the first run's
   * dataDir and dispose the first run only after); a fresh one in this run's
   * temporary directory when absent.
   */
  readonly dataDir?: string;
  /** What the readiness line's msg contains (default `dhcp ready`). */
  readonly readyText?: string;
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** More arguments after `serve --config F --data-dir D`. */
  readonly args?: readonly string[];
  /** `bin`: node bin/dcplane (needs a build); `source`: src/cli/main.ts via tsx; `auto` (default): as this file runs. */
  readonly entry?: 'bin' | 'source' | 'auto';
}

export class ServerStartError extends Error {
  constructor(
    message: string,
    readonly logs: readonly string[],
    readonly exit: ExitInfo | undefined,
  ) {
    super(message);
  }
}

export interface DhcpServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly configFile: string;
  readonly dataDir: string;
  /** Every output line, stdout and stderr, in arrival order. */
  readonly logs: readonly string[];
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitInfo>;
  entries(): LogEntry[];
  logText(): string;
  /** Resolves with the first line (already seen or still to come) that matches. */
  waitForLog(match: LogMatch, timeoutMs?: number): Promise<LogEntry>;
  /** Sends the signal (default SIGTERM) and waits for the exit; SIGKILL after `graceMs` if it does not stop. */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitInfo>;
  /** Writes a new configuration and sends SIGHUP. */
  reload(config: object | string): void;
  /** Kills the process if it still runs and removes this run's temporary directory (a dataDir given in the options is left alone). */
  dispose(): Promise<void>;
}

const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

function parseLine(line: string): LogEntry {
  if (line.startsWith('{')) {
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v === 'object' && v !== null) return v as LogEntry;
    } catch {
      // not JSON after all
    }
  }
  return { msg: line };
}

function matches(m: LogMatch, e: LogEntry, line: string): boolean {
  if (typeof m === 'function') return m(e, line);
  const msg = typeof e.msg === 'string' ? e.msg : line;
  return typeof m === 'string' ? msg.includes(m) : m.test(msg);
}

function writeConfig(file: string, config: object | string): void {
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
}

/** Starts the server in `ns`; rejects with a ServerStartError (carrying the logs) if it exits or is not ready in time. */
export async function startDhcpServerProcess(topo: Topology, ns: string, opts: ServerProcessOptions): Promise<DhcpServerProcess> {
  const work = mkdtempSync(join(tmpdir(), 'dcplane-serve-'));
  tempDirs.add(work);
  const configFile = join(work, 'dcplane.json');
  writeConfig(configFile, opts.config);
  const dataDir = opts.dataDir ?? join(work, 'data');
  const cliArgs = ['serve', '--config', configFile, '--data-dir', dataDir, ...(opts.args ?? [])];
  const nodeArgs = dcplaneNodeArgs(cliArgs, opts.entry ?? 'auto');
  const child = topo.spawn(ns, process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: work });
  const logs: string[] = [];
  const parsed: LogEntry[] = [];
  const waiters = new Set<{ match: LogMatch; resolve: (e: LogEntry) => void }>();
  const onLine = (line: string): void => {
    const e = parseLine(line);
    logs.push(line);
    parsed.push(e);
    for (const w of waiters) {
      if (matches(w.match, e, line)) {
        waiters.delete(w);
        w.resolve(e);
      }
    }
  };
  if (child.stdout !== null) createInterface({ input: child.stdout }).on('line', onLine);
  if (child.stderr !== null) createInterface({ input: child.stderr }).on('line', onLine);
  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      // Let the last output lines arrive before anyone reads the logs.
      setImmediate(() => resolve({ code, signal }));
    });
  });

  const waitForLog = (match: LogMatch, timeoutMs = 10_000): Promise<LogEntry> => {
    for (let i = 0; i < parsed.length; i++) {
      const e = parsed[i] as LogEntry;
      if (matches(match, e, logs[i] as string)) return Promise.resolve(e);
    }
    return new Promise((resolve, reject) => {
      const w = {
        match,
        resolve: (e: LogEntry) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new ServerStartError(`no log line matching ${String(match)} within ${timeoutMs} ms:\n${logs.slice(-40).join('\n')}`, logs, exitInfo));
      }, timeoutMs);
      waiters.add(w);
      void exited.then((x) => {
        if (!waiters.has(w)) return;
        waiters.delete(w);
        clearTimeout(timer);
        reject(new ServerStartError(`dcplane exited (${x.code ?? x.signal}) before logging ${String(match)}:\n${logs.slice(-40).join('\n')}`, logs, x));
      });
    });
  };

  const kill = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<ExitInfo> => {
    if (exitInfo === undefined) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    return exited;
  };

  const server: DhcpServerProcess = {
    child,
    pid: child.pid ?? -1,
    configFile,
    dataDir,
    logs,
    exited,
    entries: () => [...parsed],
    logText: () => logs.join('\n'),
    waitForLog,
    kill,
    reload: (config) => {
      writeConfig(configFile, config);
      child.kill('SIGHUP');
    },
    dispose: async () => {
      await kill('SIGKILL');
      rmSync(work, { recursive: true, force: true });
      tempDirs.delete(work);
    },
  };
  try {
    await waitForLog(opts.readyText ?? 'dhcp ready', opts.timeoutMs ?? 20_000);
  } catch (err) {
    await server.dispose();
    throw err;
  }
  return server;
}

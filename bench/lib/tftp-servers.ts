import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchError, BenchErrorCode } from './errors.js';
import type { Topology } from './namespaces.js';
import { inNamespace } from './namespaces.js';
import { processCpuSeconds, repoRoot, runSync } from './process.js';

export type TftpServerName = 'tftpd-hpa' | 'dcplane';

/** Both servers get the same ceiling: the blksize that fits an Ethernet frame (tftpd-hpa's man page advice). */
export const MAX_BLKSIZE = 1468;
export const MAX_WINDOWSIZE = 64;
export const TFTP_PORT = 69;

export interface RunningTftpServer {
  readonly name: TftpServerName;
  readonly pid: number;
  /**
   * CPU seconds (user + system) the server has used; undefined for
   * tftpd-hpa, which serves each transfer in a forked child it never waits
   * for (SIGCHLD ignored), so the kernel adds the children's time nowhere.
   */
  cpuSeconds(): number | undefined;
  running(): boolean;
  output(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();

/** Every server still running, for a signal handler. */
export function liveTftpServers(): readonly ChildProcess[] {
  return [...live];
}

function listening(t: Topology, port: number): boolean {
  const r = runSync('ip', ['netns', 'exec', t.serverNs, 'ss', '-Hlun'], { allowFailure: true });
  return r.stdout.includes(`${t.serverAddress}:${port}`);
}

/**
 * Starts the server and resolves once it serves: dcplane when it logs
 * `tftp ready`, tftpd-hpa (which logs only to syslog) when its socket is
 * bound in the namespace. `cpu`: the server (its every thread, tftpd-hpa's
 * forked children too) is kept on that CPU (--pin).
 */
export async function startTftpServer(name: TftpServerName, t: Topology, root: string, workDir: string, tftpdHpa: string, cpu?: number): Promise<RunningTftpServer> {
  let cmd: string;
  let args: string[];
  if (name === 'tftpd-hpa') {
    // -L: foreground; -s: chroot to the root; -B: blksize ceiling. It drops to nobody: the root is world-readable.
    [cmd, args] = inNamespace(t.serverNs, tftpdHpa, ['-L', '-a', `${t.serverAddress}:${TFTP_PORT}`, '-s', root, '-B', String(MAX_BLKSIZE)], cpu);
  } else {
    const config = {
      data_dir: workDir,
      log: { level: 'info' },
      tftp: { enabled: true, listen: `${t.serverAddress}:${TFTP_PORT}`, root, max_blksize: MAX_BLKSIZE, max_windowsize: MAX_WINDOWSIZE },
    };
    const file = join(workDir, 'dcplane.json');
    writeFileSync(file, JSON.stringify(config, null, 2));
    [cmd, args] = inNamespace(t.serverNs, process.execPath, [join(repoRoot(), 'bin', 'dcplane'), 'serve', '--config', file, '--data-dir', workDir], cpu);
  }
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: workDir });
  live.add(child);
  let out = '';
  const keep = (c: Buffer): void => {
    out += c.toString('utf8');
    // A storm logs a line per transfer; keep enough to explain a failure.
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      live.delete(child);
      resolve();
    }),
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (name === 'dcplane' ? /tftp ready/.test(out) : listening(t, TFTP_PORT)) break;
    if (exited) throw new BenchError(BenchErrorCode.SERVER_EXITED, `${name} exited before it served; its output ended with:\n${out.slice(-3000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new BenchError(BenchErrorCode.SERVER_NOT_READY, `${name} did not serve within 30 s; its output ended with:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    name,
    pid: child.pid ?? -1,
    cpuSeconds: () => (child.pid === undefined || name === 'tftpd-hpa' ? undefined : processCpuSeconds(child.pid)),
    running: () => !exited,
    output: () => out,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exit;
      clearTimeout(timer);
    },
  };
}

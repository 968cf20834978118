/**
 * A TFTP server under test, started inside a namespace of a test topology:
 * dcplane (`dcplane serve` with only TFTP enabled, unless the caller adds
 * more), or one of the peers the end-to-end harness is validated against,
 * tftpd-hpa and atftpd.
 *
 * The peers come from Debian's packages. They conflict with each other, so
 * the bench extracts them (`apt-get download` + `dpkg -x`) into
 * PEER_CACHE_DIR; an installed package is used as well.
 *
 * DCPLANE_E2E_TFTP_SERVER=tftpd-hpa|atftpd runs the end-to-end TFTP tests
 * against that peer instead of dcplane: that is how the tests themselves are
 * checked (a test that fails against tftpd-hpa is testing the test).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DhcpServerProcess } from './dhcp-server-process.js';
import { startDhcpServerProcess } from './dhcp-server-process.js';
import type { Topology } from './netns.js';

export type TftpServerKind = 'dcplane' | 'tftpd-hpa' | 'atftpd';

export const PEER_CACHE_DIR = '/var/cache/dcplane-bench';

/** Where each peer's binary is looked for: an installed package first, then an extracted .deb. */
const PEER_PATHS: Readonly<Record<Exclude<TftpServerKind, 'dcplane'>, readonly string[]>> = {
  // Debian's atftpd package takes over /usr/sbin/in.tftpd, so that path counts only while the tftpd-hpa package owns it.
  'tftpd-hpa': [...(packageInstalled('tftpd-hpa') ? ['/usr/sbin/in.tftpd'] : []), join(PEER_CACHE_DIR, 'tftpd-hpa', 'usr', 'sbin', 'in.tftpd')],
  atftpd: ['/usr/sbin/atftpd', join(PEER_CACHE_DIR, 'atftpd', 'usr', 'sbin', 'atftpd')],
};

function packageInstalled(name: string): boolean {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

/** The server the e2e TFTP tests run against (DCPLANE_E2E_TFTP_SERVER, default dcplane). */
export function tftpServerKind(): TftpServerKind {
  const v = process.env['DCPLANE_E2E_TFTP_SERVER'] ?? 'dcplane';
  if (v !== 'dcplane' && v !== 'tftpd-hpa' && v !== 'atftpd') throw new Error(`DCPLANE_E2E_TFTP_SERVER: "${v}" is not dcplane, tftpd-hpa or atftpd`);
  return v;
}

export function findPeerServer(kind: Exclude<TftpServerKind, 'dcplane'>): string | undefined {
  for (const p of PEER_PATHS[kind]) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next place
    }
  }
  return undefined;
}

export interface StartTftpOptions {
  readonly address: string;
  readonly port?: number;
  readonly root: string;
  /** Largest blksize granted (tftpd-hpa `-B`, dcplane `max_blksize`); atftpd has no such limit. */
  readonly maxBlksize?: number;
  /** dcplane `max_windowsize`; tftpd-hpa refuses windowsize, atftpd grants what is asked. */
  readonly maxWindowsize?: number;
  /** dcplane only: more top-level configuration (a `dhcp` section, say); `tftp` keys here are merged over the defaults. */
  readonly extraConfig?: Record<string, unknown>;
  /** dcplane only: the data directory (kept by the caller). */
  readonly dataDir?: string;
  readonly readyTimeoutMs?: number;
}

export interface TftpServerHandle {
  readonly kind: TftpServerKind;
  readonly address: string;
  readonly port: number;
  readonly pid: number;
  /** The dcplane process (logs, data dir) when kind is dcplane. */
  readonly dcplane: DhcpServerProcess | undefined;
  /** Everything the server printed so far. */
  logText(): string;
  stop(): Promise<void>;
}

const roots = new Set<string>();
process.on('exit', () => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/**
 * A TFTP root readable by everyone: tftpd-hpa and atftpd drop to nobody, which
 * cannot read a mktemp -d directory (mode 0700). Removed at process exit.
 */
export function makeTftpRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dcplane-tftp-root-'));
  chmodSync(dir, 0o755);
  roots.add(dir);
  return dir;
}

export function removeTftpRoot(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  roots.delete(dir);
}

/** Writes a file into the root, world-readable (tftpd-hpa serves only o+r files). */
export function writeRootFile(root: string, name: string, data: Buffer | string): string {
  const p = join(root, name);
  writeFileSync(p, data);
  chmodSync(p, 0o644);
  return p;
}

export function dcplaneTftpConfig(o: StartTftpOptions): Record<string, unknown> {
  const extraTftp = (o.extraConfig?.['tftp'] ?? {}) as Record<string, unknown>;
  const tftp: Record<string, unknown> = { enabled: true, listen: `${o.address}:${o.port ?? 69}`, root: o.root };
  if (o.maxBlksize !== undefined) tftp['max_blksize'] = o.maxBlksize;
  if (o.maxWindowsize !== undefined) tftp['max_windowsize'] = o.maxWindowsize;
  return { log: { level: 'info' }, ...o.extraConfig, tftp: { ...tftp, ...extraTftp } };
}

export async function startTftpServer(topo: Topology, ns: string, kind: TftpServerKind, o: StartTftpOptions): Promise<TftpServerHandle> {
  const port = o.port ?? 69;
  if (kind === 'dcplane') {
    const p = await startDhcpServerProcess(topo, ns, {
      config: dcplaneTftpConfig(o),
      readyText: 'tftp ready',
      timeoutMs: o.readyTimeoutMs ?? 20_000,
      ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
    });
    return { kind, address: o.address, port, pid: p.pid, dcplane: p, logText: () => p.logText(), stop: () => p.dispose() };
  }
  const bin = findPeerServer(kind);
  if (bin === undefined) {
    throw new Error(`${kind} not found in ${PEER_PATHS[kind].join(' or ')}; extract it: cd ${PEER_CACHE_DIR} && apt-get download ${kind} && dpkg -x ${kind}_*.deb ${kind}`);
  }
  const args =
    kind === 'tftpd-hpa'
      ? ['-L', '-a', `${o.address}:${port}`, '-s', o.root, '-v', '-v', ...(o.maxBlksize !== undefined ? ['-B', String(o.maxBlksize)] : [])]
      : ['--daemon', '--no-fork', '--logfile', '-', '--port', String(port), '--bind-address', o.address, '-v6', o.root];
  const child = topo.spawn(ns, bin, args);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  // Neither peer says when it listens (tftpd-hpa logs to syslog): watch for the socket.
  const deadline = Date.now() + (o.readyTimeoutMs ?? 10_000);
  for (;;) {
    const ss = spawnSync('ip', ['netns', 'exec', topo.netns(ns), 'ss', '-Hlun'], { encoding: 'utf8' });
    if (ss.stdout.includes(`${o.address}:${port}`)) break;
    if (gone) throw new Error(`${kind} exited before it listened: ${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${kind} did not listen on ${o.address}:${port}: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    kind,
    address: o.address,
    port,
    pid: child.pid ?? -1,
    dcplane: undefined,
    logText: () => out,
    stop: async () => {
      if (gone) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
    },
  };
}

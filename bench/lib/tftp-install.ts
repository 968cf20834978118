import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BenchError, BenchErrorCode } from './errors.js';
import { findExecutable, runSync } from './process.js';

/** Where the peer servers' .debs are unpacked: Debian's atftpd and tftpd-hpa conflict, so neither is installed. */
export const TFTP_PEER_CACHE = '/var/cache/dcplane-bench';

export interface TftpBenchTools {
  readonly tftpdHpa: string;
  readonly curl: string;
  readonly atftp: string;
}

function aptGet(args: readonly string[], cwd?: string): number | null {
  // apt waits for a concurrent apt/dpkg holding the lock instead of failing at once.
  const full = ['-o', 'DPkg::Lock::Timeout=600', ...args];
  console.log(`bench: running apt-get ${full.join(' ')}`);
  const r = spawnSync('apt-get', full, { stdio: 'inherit', cwd, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.error !== undefined) throw new BenchError(BenchErrorCode.TOOL_FAILED, `apt-get: ${r.error.message}`);
  return r.status;
}

function packageInstalled(name: string): boolean {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

/**
 * tftpd-hpa's in.tftpd: the installed package's, else one unpacked from the
 * .deb into TFTP_PEER_CACHE (downloaded first when absent). Unpacking instead
 * of installing leaves an installed atftpd alone and starts no service.
 */
export function ensureTftpdHpa(): string {
  if (packageInstalled('tftpd-hpa')) return '/usr/sbin/in.tftpd';
  const dir = join(TFTP_PEER_CACHE, 'tftpd-hpa');
  const bin = join(dir, 'usr', 'sbin', 'in.tftpd');
  if (existsSync(bin)) return bin;
  mkdirSync(TFTP_PEER_CACHE, { recursive: true });
  const deb = (): string | undefined => readdirSync(TFTP_PEER_CACHE).find((f) => f.startsWith('tftpd-hpa_') && f.endsWith('.deb'));
  if (deb() === undefined && aptGet(['download', 'tftpd-hpa'], TFTP_PEER_CACHE) !== 0) {
    if (aptGet(['update']) !== 0 || aptGet(['download', 'tftpd-hpa'], TFTP_PEER_CACHE) !== 0) {
      throw new BenchError(BenchErrorCode.TOOL_FAILED, 'apt-get download tftpd-hpa failed');
    }
  }
  const file = deb();
  if (file === undefined) throw new BenchError(BenchErrorCode.TOOL_FAILED, `no tftpd-hpa .deb in ${TFTP_PEER_CACHE} after apt-get download`);
  runSync('dpkg', ['-x', join(TFTP_PEER_CACHE, file), dir]);
  if (!existsSync(bin)) throw new BenchError(BenchErrorCode.TOOL_FAILED, `${file} holds no usr/sbin/in.tftpd`);
  return bin;
}

/** The clients (Debian's curl and atftp, installed when missing) and the peer server. */
export function ensureTftpBenchTools(): TftpBenchTools {
  const missing = ['curl', 'atftp'].filter((c) => findExecutable(c) === undefined);
  if (missing.length > 0) {
    const install = ['install', '-y', '--no-install-recommends', ...missing];
    if (aptGet(install) !== 0 && (aptGet(['update']) !== 0 || aptGet(install) !== 0)) {
      throw new BenchError(BenchErrorCode.TOOL_FAILED, `apt-get install ${missing.join(' ')} failed`);
    }
  }
  const curl = findExecutable('curl');
  const atftp = findExecutable('atftp');
  if (curl === undefined || atftp === undefined) throw new BenchError(BenchErrorCode.TOOL_FAILED, 'curl or atftp still missing after apt-get install');
  return { tftpdHpa: ensureTftpdHpa(), curl, atftp };
}

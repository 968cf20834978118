import { spawnSync } from 'node:child_process';
import { BenchError, BenchErrorCode } from './errors.js';
import { findExecutable, findProcesses, runSync } from './process.js';

/** Debian packages that carry what the DHCP bench runs: perfdhcp (kea-admin) and kea-dhcp4. */
export const DHCP_BENCH_PACKAGES = ['kea-admin', 'kea-dhcp4-server'] as const;

const KEA_DAEMONS = ['kea-dhcp4', 'kea-dhcp6', 'kea-ctrl-agent', 'kea-dhcp-ddns'] as const;

function aptGet(args: readonly string[]): number | null {
  // apt waits for a concurrent apt/dpkg holding the lock instead of failing at once.
  const full = ['-o', 'DPkg::Lock::Timeout=600', ...args];
  console.log(`bench: running apt-get ${full.join(' ')}`);
  const r = spawnSync('apt-get', full, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.error !== undefined) throw new BenchError(BenchErrorCode.TOOL_FAILED, `apt-get: ${r.error.message}`);
  return r.status;
}

/** Paths of perfdhcp and kea-dhcp4, installing Debian's packages first when either is missing. */
export function ensureDhcpBenchTools(): { perfdhcp: string; keaDhcp4: string } {
  let perfdhcp = findExecutable('perfdhcp');
  let keaDhcp4 = findExecutable('kea-dhcp4');
  if (perfdhcp === undefined || keaDhcp4 === undefined) {
    console.log(`bench: perfdhcp or kea-dhcp4 missing; installing ${DHCP_BENCH_PACKAGES.join(' ')} from Debian`);
    const install = ['install', '-y', ...DHCP_BENCH_PACKAGES];
    if (aptGet(install) !== 0) {
      // A fresh image has no package lists yet.
      if (aptGet(['update']) !== 0 || aptGet(install) !== 0) {
        throw new BenchError(BenchErrorCode.TOOL_FAILED, `apt-get install ${DHCP_BENCH_PACKAGES.join(' ')} failed`);
      }
    }
    stopPackagedKeaServices();
    perfdhcp = findExecutable('perfdhcp');
    keaDhcp4 = findExecutable('kea-dhcp4');
    if (perfdhcp === undefined || keaDhcp4 === undefined) {
      throw new BenchError(BenchErrorCode.TOOL_FAILED, 'perfdhcp or kea-dhcp4 still missing after apt-get install');
    }
  }
  return { perfdhcp, keaDhcp4 };
}

/**
 * Debian's postinst starts kea-dhcp4-server where systemd runs. A Kea on the
 * host would take CPU from the run (and answer on the host's network), so the
 * services the install just started are stopped again.
 */
function stopPackagedKeaServices(): void {
  if (findExecutable('systemctl') === undefined) return;
  for (const unit of ['kea-dhcp4-server', 'kea-dhcp6-server', 'kea-ctrl-agent', 'kea-dhcp-ddns-server']) {
    const active = runSync('systemctl', ['is-active', '--quiet', unit], { allowFailure: true });
    if (active.status === 0) {
      console.log(`bench: stopping ${unit}, started by its package install`);
      runSync('systemctl', ['stop', unit], { allowFailure: true });
    }
  }
}

/** Kea daemons running outside this bench: they compete for the same cores. */
export function strayKeaProcesses(ours: ReadonlySet<number> = new Set()): { pid: number; name: string }[] {
  return findProcesses(KEA_DAEMONS, ours);
}

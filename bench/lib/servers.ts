import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DcplaneConfig } from '../../src/config/types.js';
import type { Topology } from './namespaces.js';
import { inNamespace } from './namespaces.js';
import type { Daemon } from './process.js';
import { repoRoot, startDaemon } from './process.js';

export const LEASE_TIME_S = 3600;

/** How a server under test is started; each gets its own fresh temp dir so no run sees another's leases. */
export interface ServerUnderTest {
  readonly name: 'kea' | 'dcplane';
  /** `cpu`: the CPU the server (every thread of it) is kept on, when the run pins (--pin). */
  start(topology: Topology, dir: string, cpu?: number): Promise<Daemon>;
}

/**
 * Kea as its users run it for speed: memfile with persist on (every lease
 * appended to a CSV in the temp dir), one thread, UDP sockets so relayed
 * traffic takes the same path as dcplane's. Per-lease INFO logging is turned
 * off: it costs Kea throughput and is not what a loaded server runs with.
 */
export function keaConfig(t: Topology, dir: string): object {
  return {
    Dhcp4: {
      'interfaces-config': { interfaces: [t.serverIface], 'dhcp-socket-type': 'udp' },
      'lease-database': { type: 'memfile', persist: true, name: join(dir, 'kea-leases4.csv'), 'lfc-interval': 0 },
      'multi-threading': { 'enable-multi-threading': false },
      'valid-lifetime': LEASE_TIME_S,
      subnet4: [{ id: 1, subnet: t.subnet, pools: [{ pool: `${t.pool.first} - ${t.pool.last}` }] }],
      loggers: [
        { name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'INFO' },
        { name: 'kea-dhcp4.leases', output_options: [{ output: 'stdout' }], severity: 'WARN' },
      ],
    },
  };
}

export function keaServer(keaDhcp4: string): ServerUnderTest {
  return {
    name: 'kea',
    start(t, dir, cpu) {
      const file = join(dir, 'kea-dhcp4.json');
      writeFileSync(file, JSON.stringify(keaConfig(t, dir), null, 2));
      const [cmd, args] = inNamespace(t.serverNs, keaDhcp4, ['-c', file], cpu);
      return startDaemon(cmd, args, {
        name: 'kea-dhcp4',
        // Debian's Kea writes its pid and logger lock under /run/kea, which may not exist outside systemd.
        env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir },
        ready: /DHCP4_STARTED/,
        readyTimeoutMs: 15000,
      });
    },
  };
}

export function dcplaneConfig(t: Topology, dir: string): DcplaneConfig {
  return {
    data_dir: dir,
    dhcp: {
      enabled: true,
      interfaces: [t.serverIface],
      subnets: [{ id: 1, subnet: t.subnet, pools: [`${t.pool.first}-${t.pool.last}`], lease_time: LEASE_TIME_S }],
    },
  };
}

export function dcplaneServer(): ServerUnderTest {
  return {
    name: 'dcplane',
    start(t, dir, cpu) {
      const root = repoRoot();
      const file = join(dir, 'dcplane.json');
      writeFileSync(file, JSON.stringify(dcplaneConfig(t, dir), null, 2));
      // DCPLANE_NODE_ARGS passes flags to dcplane's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it under load.
      const nodeArgs = (process.env['DCPLANE_NODE_ARGS'] ?? '').split(/\s+/).filter((a) => a !== '');
      const [cmd, args] = inNamespace(t.serverNs, process.execPath, [
        ...nodeArgs,
        join(root, 'bin', 'dcplane'),
        'serve',
        '--config',
        file,
        '--data-dir',
        dir,
      ], cpu);
      return startDaemon(cmd, args, { name: 'dcplane', cwd: root, ready: /dhcp ready/, readyTimeoutMs: 30000 });
    },
  };
}

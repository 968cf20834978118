import { runSync } from './process.js';

/**
 * Two network namespaces joined by one veth pair: the server under test in
 * one, perfdhcp in the other. The addresses exist only inside them, so no
 * benchmark packet can reach a real network.
 */
export interface Topology {
  readonly serverNs: string;
  readonly clientNs: string;
  readonly serverIface: string;
  readonly clientIface: string;
  readonly serverAddress: string;
  readonly clientAddress: string;
  readonly prefixLength: number;
  /** The subnet both addresses are in; the relay address (giaddr) selects it. */
  readonly subnet: string;
  /** Dynamic pool, kept clear of the two link addresses. */
  readonly pool: { readonly first: string; readonly last: string };
}

export const DHCP_BENCH_TOPOLOGY: Topology = Object.freeze({
  serverNs: 'dcpb-srv',
  clientNs: 'dcpb-cli',
  serverIface: 'dcpb-s0',
  clientIface: 'dcpb-c0',
  serverAddress: '10.97.0.1',
  clientAddress: '10.97.0.2',
  prefixLength: 16,
  subnet: '10.97.0.0/16',
  pool: Object.freeze({ first: '10.97.1.0', last: '10.97.255.254' }),
});

function ip(...args: string[]): void {
  runSync('ip', args);
}

function namespaceExists(name: string): boolean {
  const r = runSync('ip', ['netns', 'list'], { allowFailure: true });
  return r.stdout.split('\n').some((line) => line.split(' ')[0] === name);
}

/** Deletes the namespaces (their veth ends go with them); quiet when they are already gone. */
export function removeTopology(t: Topology): void {
  for (const ns of [t.serverNs, t.clientNs]) {
    if (namespaceExists(ns)) runSync('ip', ['netns', 'del', ns], { allowFailure: true });
  }
  // A veth left in the host namespace by an interrupted setup does not go with the namespaces.
  runSync('ip', ['link', 'del', t.serverIface], { allowFailure: true });
}

/** Builds the topology from scratch, removing anything a previous run left behind. */
export function createTopology(t: Topology): void {
  removeTopology(t);
  ip('netns', 'add', t.serverNs);
  ip('netns', 'add', t.clientNs);
  ip('link', 'add', t.serverIface, 'type', 'veth', 'peer', 'name', t.clientIface);
  ip('link', 'set', t.serverIface, 'netns', t.serverNs);
  ip('link', 'set', t.clientIface, 'netns', t.clientNs);
  ip('-n', t.serverNs, 'addr', 'add', `${t.serverAddress}/${t.prefixLength}`, 'dev', t.serverIface);
  ip('-n', t.clientNs, 'addr', 'add', `${t.clientAddress}/${t.prefixLength}`, 'dev', t.clientIface);
  for (const [ns, iface] of [
    [t.serverNs, t.serverIface],
    [t.clientNs, t.clientIface],
  ] as const) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'set', iface, 'up');
  }
}

/** argv prefix that runs a command inside a namespace (`ip netns exec` execs in place, so the pid is the command's). */
/** `cmd args` run inside network namespace `ns`; on CPU `cpu` only (taskset) when given. */
export function inNamespace(ns: string, cmd: string, args: readonly string[], cpu?: number): [string, string[]] {
  const pinned = cpu === undefined ? [cmd, ...args] : ['taskset', '-c', String(cpu), cmd, ...args];
  return ['ip', ['netns', 'exec', ns, ...pinned]];
}

/** UDP counters of one namespace (/proc/net/snmp is per namespace). */
export interface UdpCounters {
  readonly inDatagrams: number;
  /** Datagrams dropped because a socket's receive buffer was full: its reader fell behind. */
  readonly rcvbufErrors: number;
  readonly sndbufErrors: number;
}

/** Reads the `Udp:` header/value line pair of /proc/net/snmp; undefined if its shape is unexpected. */
export function parseUdpCounters(snmp: string): UdpCounters | undefined {
  const lines = snmp.split('\n').filter((l) => l.startsWith('Udp: '));
  const names = lines[0]?.split(/\s+/).slice(1);
  const values = lines[1]?.split(/\s+/).slice(1).map(Number);
  if (names === undefined || values === undefined) return undefined;
  const get = (name: string): number | undefined => {
    const v = values[names.indexOf(name)];
    return v === undefined || !Number.isFinite(v) ? undefined : v;
  };
  const inDatagrams = get('InDatagrams');
  const rcvbufErrors = get('RcvbufErrors');
  const sndbufErrors = get('SndbufErrors');
  if (inDatagrams === undefined || rcvbufErrors === undefined || sndbufErrors === undefined) return undefined;
  return { inDatagrams, rcvbufErrors, sndbufErrors };
}

export function udpCounters(ns: string): UdpCounters | undefined {
  const r = runSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp'], { allowFailure: true });
  return r.status === 0 ? parseUdpCounters(r.stdout) : undefined;
}

export function udpDelta(before: UdpCounters | undefined, after: UdpCounters | undefined): UdpCounters | undefined {
  if (before === undefined || after === undefined) return undefined;
  return {
    inDatagrams: after.inDatagrams - before.inDatagrams,
    rcvbufErrors: after.rcvbufErrors - before.rcvbufErrors,
    sndbufErrors: after.sndbufErrors - before.sndbufErrors,
  };
}

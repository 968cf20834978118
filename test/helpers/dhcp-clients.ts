/**
 * Real DHCP clients (busybox udhcpc, ISC dhclient) run inside a namespace of
 * a test topology; each returns the lease it got, every script event it saw,
 * and its raw output for the failure message.
 *
 * The clients configure nothing unless asked (`configure: true`): their
 * scripts only write what they were told into a file this helper reads.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Topology } from './netns.js';

export interface Lease {
  readonly ip: string;
  readonly subnetMask: string | undefined;
  readonly routers: readonly string[];
  readonly dns: readonly string[];
  readonly leaseTime: number | undefined;
  readonly serverId: string | undefined;
  /** `file` of the reply (or option 67). */
  readonly bootFile: string | undefined;
  /** siaddr, the next server. */
  readonly siaddr: string | undefined;
  readonly serverName: string | undefined;
  readonly domain: string | undefined;
  readonly hostname: string | undefined;
}

export interface ScriptEvent {
  /** udhcpc's $1 (deconfig, bound, renew, leasefail, nak) or dhclient's $reason (PREINIT, BOUND, REBOOT, RENEW, FAIL...). */
  readonly event: string;
  readonly env: ReadonlyMap<string, string>;
}

export interface DhcpClientResult {
  readonly client: 'udhcpc' | 'dhclient';
  /** The lease of the last bound/renew (udhcpc) or BOUND/REBOOT/RENEW/REBIND (dhclient) event. */
  readonly lease: Lease | undefined;
  readonly events: readonly ScriptEvent[];
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  /** stdout and stderr of the client, for assertion messages. */
  readonly output: string;
  readonly durationMs: number;
}

export interface CommonClientOptions {
  /** Set on the interface (link down, address, up) before the client starts. */
  readonly mac?: string;
  /** Whole run; the client is killed after it (default 20 s). */
  readonly timeoutMs?: number;
  readonly hostname?: string;
  /** Vendor class identifier, option 60. */
  readonly vendorClass?: string;
  /** Client identifier, option 61, as hex (colons allowed), type octet included. */
  readonly clientId?: string;
  /** Requested address, option 50. */
  readonly requestIp?: string;
  /** The script adds the leased address to the interface (and removes it on deconfig/expiry). */
  readonly configure?: boolean;
}

export interface UdhcpcOptions extends CommonClientOptions {
  /** DISCOVERs to send before giving up (-t, default 3). */
  readonly discoverTries?: number;
  /** Seconds between them (-T, default 1). */
  readonly discoverInterval?: number;
  /** Ask for broadcast replies (-B). */
  readonly broadcast?: boolean;
  /** Send no client identifier (-C); udhcpc sends 01+MAC otherwise. */
  readonly noClientId?: boolean;
  /** More `-x OPT:VAL` options, e.g. `0x4d:69505845` (user class "iPXE"). */
  readonly sendOptions?: readonly string[];
  /** Options to request (-O), by name or number. */
  readonly requestOptions?: readonly string[];
  /** Send DHCPRELEASE on exit (-R). */
  readonly release?: boolean;
}

export interface DhclientOptions extends CommonClientOptions {
  /** More dhclient.conf statements, each ending in `;`. */
  readonly extraConfig?: readonly string[];
  /** Keep state here (lease file): a second run then starts in INIT-REBOOT. A temporary directory when absent. */
  readonly workDir?: string;
  /** After the lease, run `dhclient -r` (DHCPRELEASE) instead of just stopping the daemon. */
  readonly release?: boolean;
}

const VAR_PREFIX = 'DCP_EVENT ';
const END = 'DCP_END';

/** The body shared by both scripts: record the event and every variable, then optionally configure. */
function scriptText(outFile: string, event: string, configure: string): string {
  return `#!/bin/sh
# Written by test/helpers/dhcp-clients.ts: records what the client reports.
{
  echo "${VAR_PREFIX}${event}"
  env
  echo "${END}"
} >> '${outFile}'
${configure}
exit 0
`;
}

const UDHCPC_CONFIGURE = `case "$1" in
  deconfig) ip -4 addr flush dev "$interface" ;;
  bound|renew) ip -4 addr flush dev "$interface"; ip addr add "$ip/\${mask:-24}" dev "$interface" ;;
esac`;

const DHCLIENT_CONFIGURE = `case "$reason" in
  BOUND|REBOOT|RENEW|REBIND) [ -n "$old_ip_address" ] && [ "$old_ip_address" != "$new_ip_address" ] && ip -4 addr flush dev "$interface"
    ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface" 2>/dev/null || true ;;
  EXPIRE|FAIL|RELEASE|STOP) ip -4 addr flush dev "$interface" ;;
esac`;

/** Runs `udhcpc -f -q -n` once: discover, take the lease, exit. */
export async function runUdhcpc(topo: Topology, ns: string, iface: string, opts: UdhcpcOptions = {}): Promise<DhcpClientResult> {
  const dir = mkdtempSync(join(tmpdir(), 'dcplane-udhcpc-'));
  try {
    const out = join(dir, 'events');
    const script = join(dir, 'script.sh');
    writeFileSync(out, '');
    writeFileSync(script, scriptText(out, '$1', opts.configure === true ? UDHCPC_CONFIGURE : ''), { mode: 0o755 });
    if (opts.mac !== undefined) await topo.setMac(ns, iface, opts.mac);
    const args = ['-i', iface, '-n', '-q', '-f', '-s', script];
    args.push('-t', String(opts.discoverTries ?? 3), '-T', String(opts.discoverInterval ?? 1));
    if (opts.broadcast === true) args.push('-B');
    if (opts.noClientId === true) args.push('-C');
    if (opts.release === true) args.push('-R');
    if (opts.requestIp !== undefined) args.push('-r', opts.requestIp);
    if (opts.vendorClass !== undefined) args.push('-V', opts.vendorClass);
    if (opts.hostname !== undefined) args.push('-x', `hostname:${opts.hostname}`);
    if (opts.clientId !== undefined) args.push('-x', `0x3d:${opts.clientId.replaceAll(':', '')}`);
    for (const x of opts.sendOptions ?? []) args.push('-x', x);
    for (const o of opts.requestOptions ?? []) args.push('-O', o);
    const started = Date.now();
    const r = await topo.exec(ns, 'udhcpc', args, { timeoutMs: opts.timeoutMs ?? 20_000, allowFail: true });
    const events = parseEvents(readFileSync(out, 'utf8'));
    const bound = [...events].reverse().find((e) => e.event === 'bound' || e.event === 'renew');
    return {
      client: 'udhcpc',
      lease: bound !== undefined ? udhcpcLease(bound.env) : undefined,
      events,
      exitCode: r.code,
      timedOut: r.timedOut,
      output: `$ udhcpc ${args.join(' ')}\n${r.stdout}${r.stderr}`,
      durationMs: Date.now() - started,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs `dhclient -1` once. dhclient forks a daemon once it has a lease; that
 * daemon is stopped (or releases, with `release`) before this returns.
 */
export async function runDhclient(topo: Topology, ns: string, iface: string, opts: DhclientOptions = {}): Promise<DhcpClientResult> {
  const tmp = opts.workDir === undefined ? mkdtempSync(join(tmpdir(), 'dcplane-dhclient-')) : undefined;
  const dir = opts.workDir ?? (tmp as string);
  try {
    const out = join(dir, 'events');
    const script = join(dir, 'script.sh');
    const conf = join(dir, 'dhclient.conf');
    const leases = join(dir, 'dhclient.leases');
    const pid = join(dir, 'dhclient.pid');
    writeFileSync(out, '');
    writeFileSync(script, scriptText(out, '$reason', opts.configure === true ? DHCLIENT_CONFIGURE : ''), { mode: 0o755 });
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const lines = [
      // dhclient waits `timeout` seconds for a lease; keep it inside our own kill timer.
      `timeout ${Math.max(2, Math.floor(timeoutMs / 1000) - 2)};`,
      'initial-interval 1;',
      'backoff-cutoff 2;',
      'reboot 3;',
      'request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, host-name, dhcp-lease-time, dhcp-server-identifier;',
    ];
    if (opts.hostname !== undefined) lines.push(`send host-name ${JSON.stringify(opts.hostname)};`);
    if (opts.vendorClass !== undefined) lines.push(`send vendor-class-identifier ${JSON.stringify(opts.vendorClass)};`);
    if (opts.clientId !== undefined) lines.push(`send dhcp-client-identifier ${hexToColons(opts.clientId)};`);
    if (opts.requestIp !== undefined) lines.push(`send dhcp-requested-address ${opts.requestIp};`);
    lines.push(...(opts.extraConfig ?? []));
    writeFileSync(conf, `${lines.join('\n')}\n`);
    if (opts.mac !== undefined) await topo.setMac(ns, iface, opts.mac);
    const files = ['-cf', conf, '-sf', script, '-lf', leases, '-pf', pid];
    const args = ['-v', '-1', ...files, iface];
    const started = Date.now();
    const r = await topo.exec(ns, 'dhclient', args, { timeoutMs, allowFail: true });
    let output = `$ dhclient ${args.join(' ')}\n${r.stdout}${r.stderr}`;
    // The daemon is forked before the parent exits, but writes its pid file
    // only afterwards: find it by the unique pid-file path on its command line.
    const daemon = findProcess(topo.netns(ns), pid);
    if (opts.release === true && daemon !== undefined) {
      await waitUntil(() => readPid(pid) === daemon, 2000);
      // -r releases the lease of the daemon named by the pid file and stops it.
      const rel = await topo.exec(ns, 'dhclient', ['-v', '-r', ...files, iface], { timeoutMs: 10_000, allowFail: true });
      output += `$ dhclient -r\n${rel.stdout}${rel.stderr}`;
    }
    if (daemon !== undefined) {
      try {
        process.kill(daemon, 'SIGKILL');
      } catch {
        // already gone (released)
      }
    }
    const events = parseEvents(readFileSync(out, 'utf8'));
    const bound = [...events].reverse().find((e) => ['BOUND', 'REBOOT', 'RENEW', 'REBIND'].includes(e.event));
    return {
      client: 'dhclient',
      lease: bound !== undefined ? dhclientLease(bound.env) : undefined,
      events,
      exitCode: r.code,
      timedOut: r.timedOut,
      output,
      durationMs: Date.now() - started,
    };
  } finally {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  }
}

/** The pid of the process in `netns` whose command line contains `marker`. */
function findProcess(netns: string, marker: string): number | undefined {
  const r = spawnSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' });
  for (const p of r.stdout.split(/\s+/)) {
    const pid = Number(p);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(marker)) return pid;
    } catch {
      // exited meanwhile
    }
  }
  return undefined;
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function hexToColons(hex: string): string {
  const h = hex.replaceAll(':', '');
  if (!/^([0-9a-fA-F]{2})+$/.test(h)) throw new Error(`bad hex ${hex}`);
  return h.match(/../g)?.join(':') ?? '';
}

/** Splits the script's records (`DCP_EVENT name`, `k=v` lines, `DCP_END`). */
export function parseEvents(text: string): ScriptEvent[] {
  const events: ScriptEvent[] = [];
  let current: { event: string; env: Map<string, string> } | undefined;
  let lastKey: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith(VAR_PREFIX)) {
      current = { event: line.slice(VAR_PREFIX.length).trim(), env: new Map() };
      lastKey = undefined;
    } else if (line === END) {
      if (current !== undefined) events.push(current);
      current = undefined;
    } else if (current !== undefined) {
      const eq = line.indexOf('=');
      if (eq > 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(line.slice(0, eq))) {
        lastKey = line.slice(0, eq);
        current.env.set(lastKey, line.slice(eq + 1));
      } else if (lastKey !== undefined) {
        // A value with a newline in it: env prints the rest on the next lines.
        current.env.set(lastKey, `${current.env.get(lastKey) ?? ''}\n${line}`);
      }
    }
  }
  return events;
}

const words = (v: string | undefined): string[] => (v === undefined ? [] : v.split(/\s+/).filter((w) => w !== ''));
const num = (v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : Number(v));

function udhcpcLease(env: ReadonlyMap<string, string>): Lease {
  return {
    ip: env.get('ip') ?? '',
    subnetMask: env.get('subnet'),
    routers: words(env.get('router')),
    dns: words(env.get('dns')),
    leaseTime: num(env.get('lease')),
    serverId: env.get('serverid'),
    bootFile: env.get('boot_file'),
    siaddr: env.get('siaddr'),
    serverName: env.get('sname'),
    domain: env.get('domain'),
    hostname: env.get('hostname'),
  };
}

function dhclientLease(env: ReadonlyMap<string, string>): Lease {
  return {
    ip: env.get('new_ip_address') ?? '',
    subnetMask: env.get('new_subnet_mask'),
    routers: words(env.get('new_routers')),
    dns: words(env.get('new_domain_name_servers')),
    leaseTime: num(env.get('new_dhcp_lease_time')),
    serverId: env.get('new_dhcp_server_identifier'),
    bootFile: env.get('new_filename'),
    siaddr: env.get('new_next_server'),
    serverName: env.get('new_server_name'),
    domain: env.get('new_domain_name'),
    hostname: env.get('new_host_name'),
  };
}

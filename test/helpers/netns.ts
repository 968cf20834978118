/**
 * Network namespaces for end-to-end tests: namespaces joined by veth pairs,
 * with private 10.x addresses that exist only inside them. Nothing is ever
 * created in or attached to the host's own namespace, so a test cannot put a
 * packet on a real network.
 *
 * Names carry the pid (base 36) and a per-process counter, so test files
 * running in parallel never collide; a run killed with -9 leaves namespaces
 * behind, and the next createTopology() removes those whose pid is gone.
 */
import { execFile, execFileSync, spawn as spawnChild, spawnSync } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

/** Every namespace this harness creates starts with this. */
export const NETNS_PREFIX = 'dcpt';
/** Every namespace this process creates starts with this. */
export const PROCESS_PREFIX = `${NETNS_PREFIX}${process.pid.toString(36)}_`;

const SKIP_MESSAGE = 'SKIPPED: needs root and ip netns; CI runs as root';
const IFNAMSIZ = 16;

export interface EndSpec {
  /** Logical namespace name, one of TopologySpec.namespaces. */
  readonly ns: string;
  /** Interface name inside the namespace; a unique one is made up when absent. */
  readonly name?: string;
  /** Address with prefix length, e.g. `10.91.1.1/24`; none when absent. */
  readonly cidr?: string;
  readonly mac?: string;
  /**
   * `false`: this end answers no ARP request (arp_ignore=8), so a peer can
   * reach its address only through a static neighbour entry. (`ip link set
   * arp off` would go further and send even broadcasts to the link's own MAC.)
   */
  readonly answerArp?: boolean;
}

export interface LinkSpec {
  /** Logical link name, used with Topology.end(). */
  readonly name: string;
  readonly a: EndSpec;
  readonly b: EndSpec;
}

export interface RouteSpec {
  readonly ns: string;
  /** `default`, a CIDR or an address. */
  readonly to: string;
  readonly via?: string;
  /** Route straight out of this interface (e.g. `default` on a client that must send to 255.255.255.255). */
  readonly dev?: string;
}

export interface TopologySpec {
  /** Logical names (letters, digits, `-`), e.g. `['srv', 'c1', 'c2']`. */
  readonly namespaces: readonly string[];
  readonly links?: readonly LinkSpec[];
  readonly routes?: readonly RouteSpec[];
  /** Namespaces that forward IPv4 (a relay's router). */
  readonly forwarding?: readonly string[];
}

export interface LinkEnd {
  /** Logical namespace name. */
  readonly ns: string;
  /** Real namespace name, for `ip netns exec`. */
  readonly netns: string;
  readonly ifname: string;
  readonly mac: string;
  /** Address without prefix length, when the spec gave one. */
  readonly ip: string | undefined;
  readonly cidr: string | undefined;
}

export interface ExecOptions {
  readonly timeoutMs?: number;
  readonly input?: string | Buffer;
  readonly env?: NodeJS.ProcessEnv;
  /** Resolve instead of reject on a non-zero exit or a timeout. */
  readonly allowFail?: boolean;
}

export interface ExecResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export class ExecError extends Error {
  constructor(
    message: string,
    readonly result: ExecResult,
  ) {
    super(message);
  }
}

export interface Topology {
  /** Unique id of this topology; every namespace name starts with it. */
  readonly id: string;
  /** The real name of a logical namespace. */
  netns(ns: string): string;
  /** One end of a link: `a` or `b` as in the spec. */
  end(link: string, side: 'a' | 'b'): LinkEnd;
  /** Runs a command to completion inside a namespace. */
  exec(ns: string, cmd: string, args?: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Starts a long-running process inside a namespace; it is killed by destroy(). */
  spawn(ns: string, cmd: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Sets an interface's MAC address (the link is taken down and up around it). */
  setMac(ns: string, ifname: string, mac: string): Promise<void>;
  /** Kills every process left in the namespaces and removes them (their veths go with them). Idempotent. */
  destroy(): Promise<void>;
}

let counter = 0;
const live = new Set<TopologyImpl>();
let hooksInstalled = false;
let staleSwept = false;
let usable: boolean | undefined;

/** Root, `ip` present, and a namespace can actually be made (not in a locked-down container). */
export function canUseNetns(): boolean {
  if (usable !== undefined) return usable;
  usable = false;
  if (process.getuid?.() !== 0) return false;
  const probe = `${PROCESS_PREFIX}probe`;
  if (spawnSync('ip', ['netns', 'add', probe], { stdio: 'ignore' }).status !== 0) return false;
  usable = spawnSync('ip', ['netns', 'del', probe], { stdio: 'ignore' }).status === 0;
  return usable;
}

/**
 * In CI (CI=true, root) a test never skips for want of namespaces: it runs, and fails at createTopology
 * with the reason, so a broken runner cannot pass by skipping every end-to-end test.
 */
const MUST_RUN = process.env['CI'] === 'true';

/** For `test(name, { skip: netnsSkipReason() }, ...)`. */
export function netnsSkipReason(): string | false {
  if (canUseNetns() || MUST_RUN) return false;
  loudSkip('');
  return SKIP_MESSAGE;
}

/** Skips the running test, loudly, when namespaces cannot be used; returns true when it did. */
export function skipUnlessRoot(t: TestContext): boolean {
  if (canUseNetns() || MUST_RUN) return false;
  loudSkip(t.name);
  t.skip(SKIP_MESSAGE);
  return true;
}

function loudSkip(what: string): void {
  process.stderr.write(`\n*** ${SKIP_MESSAGE}${what === '' ? '' : ` (${what})`} ***\n\n`);
}

/** Names of the namespaces that exist now, from `ip netns list`. */
export function listNetns(): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (out.status !== 0) return [];
  return out.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '');
}

export async function createTopology(spec: TopologySpec): Promise<Topology> {
  if (!canUseNetns()) throw new Error('network namespaces cannot be used here (needs root and `ip netns`); CI=true refuses to skip end-to-end tests');
  installHooks();
  if (!staleSwept) {
    staleSwept = true;
    sweepStale();
  }
  const topo = new TopologyImpl(`${PROCESS_PREFIX}${(counter++).toString(36)}`, spec);
  live.add(topo);
  try {
    await topo.build();
  } catch (err) {
    await topo.destroy();
    throw err;
  }
  return topo;
}

class TopologyImpl implements Topology {
  private readonly names = new Map<string, string>();
  private readonly ends = new Map<string, LinkEnd>();
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  constructor(
    readonly id: string,
    private readonly spec: TopologySpec,
  ) {
    for (const ns of spec.namespaces) {
      if (!/^[A-Za-z0-9-]{1,20}$/.test(ns)) throw new Error(`bad namespace name ${JSON.stringify(ns)}`);
      if (this.names.has(ns)) throw new Error(`namespace ${ns} named twice`);
      this.names.set(ns, `${id}-${ns}`);
    }
    const links = spec.links ?? [];
    if (links.length > 36) throw new Error('at most 36 links per topology');
    links.forEach((link, i) => {
      if (this.ends.has(`${link.name}:a`)) throw new Error(`link ${link.name} named twice`);
      for (const side of ['a', 'b'] as const) {
        const e = link[side];
        const netns = this.netns(e.ns);
        const ifname = e.name ?? `${id}${i.toString(36)}${side}`;
        if (ifname.length >= IFNAMSIZ) throw new Error(`interface name ${ifname} is longer than 15 characters`);
        const slash = e.cidr?.indexOf('/') ?? -1;
        this.ends.set(`${link.name}:${side}`, {
          ns: e.ns,
          netns,
          ifname,
          mac: (e.mac ?? randomMac()).toLowerCase(),
          ip: e.cidr !== undefined && slash > 0 ? e.cidr.slice(0, slash) : undefined,
          cidr: e.cidr,
        });
      }
    });
  }

  netns(ns: string): string {
    const n = this.names.get(ns);
    if (n === undefined) throw new Error(`no namespace ${ns} in this topology`);
    return n;
  }

  end(link: string, side: 'a' | 'b'): LinkEnd {
    const e = this.ends.get(`${link}:${side}`);
    if (e === undefined) throw new Error(`no link ${link} in this topology`);
    return e;
  }

  async build(): Promise<void> {
    for (const netns of this.names.values()) {
      await run('ip', ['netns', 'add', netns]);
      // No IPv6: router solicitations and DAD would be stray traffic on links whose every packet a test may count.
      await run('ip', ['netns', 'exec', netns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    }
    for (const link of this.spec.links ?? []) {
      const a = this.end(link.name, 'a');
      const b = this.end(link.name, 'b');
      // Both ends are created directly inside their namespaces: nothing appears in the host's.
      await run('ip', ['link', 'add', a.ifname, 'address', a.mac, 'netns', a.netns, 'type', 'veth', 'peer', 'name', b.ifname, 'address', b.mac, 'netns', b.netns]);
      for (const [e, es] of [
        [a, link.a],
        [b, link.b],
      ] as const) {
        if (e.cidr !== undefined) await run('ip', ['-n', e.netns, 'addr', 'add', e.cidr, 'dev', e.ifname]);
        if (es.answerArp === false) {
          await run('ip', ['netns', 'exec', e.netns, 'sysctl', '-q', '-w', `net.ipv4.conf.${e.ifname}.arp_ignore=8`]);
        }
        await run('ip', ['-n', e.netns, 'link', 'set', e.ifname, 'up']);
      }
    }
    for (const ns of this.spec.forwarding ?? []) {
      await run('ip', ['netns', 'exec', this.netns(ns), 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    }
    for (const r of this.spec.routes ?? []) {
      const args = ['-n', this.netns(r.ns), 'route', 'add', r.to];
      if (r.via !== undefined) args.push('via', r.via);
      if (r.dev !== undefined) args.push('dev', r.dev);
      await run('ip', args);
    }
  }

  exec(ns: string, cmd: string, args: readonly string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.netns(ns), cmd, ...args], opts);
  }

  spawn(ns: string, cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): ChildProcess {
    if (this.destroyed) throw new Error('topology destroyed');
    // `ip netns exec` execs the command after entering the namespace, so the child's pid is the command's.
    const child = spawnChild('ip', ['netns', 'exec', this.netns(ns), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  async setMac(ns: string, ifname: string, mac: string): Promise<void> {
    const netns = this.netns(ns);
    await run('ip', ['-n', netns, 'link', 'set', ifname, 'down']);
    await run('ip', ['-n', netns, 'link', 'set', ifname, 'address', mac]);
    await run('ip', ['-n', netns, 'link', 'set', ifname, 'up']);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    const exits = [...this.children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const timer = setTimeout(() => {
            c.kill('SIGKILL');
          }, 1000);
          c.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
    for (const netns of this.names.values()) removeNetnsSync(netns);
  }

  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    for (const netns of this.names.values()) removeNetnsSync(netns);
  }
}

/** Kills what still runs inside (a daemonised dhclient, say), then deletes the namespace. */
function removeNetnsSync(netns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' });
  if (pids.status !== 0) return; // already gone
  for (const p of pids.stdout.split(/\s+/)) {
    const pid = Number(p);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  try {
    execFileSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
  } catch {
    // Removed concurrently; the listing in the cleanup test tells if anything is left.
  }
}

/** Removes namespaces of earlier runs whose process no longer exists (killed with -9, say). */
function sweepStale(): void {
  const re = new RegExp(`^${NETNS_PREFIX}([0-9a-z]+)_`);
  for (const name of listNetns()) {
    const m = re.exec(name);
    if (m?.[1] === undefined) continue;
    const pid = parseInt(m[1], 36);
    if (pid === process.pid || processAlive(pid)) continue;
    removeNetnsSync(name);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const cleanAll = (): void => {
    for (const t of [...live]) t.destroySync();
  };
  process.on('exit', cleanAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanAll();
      process.kill(process.pid, sig);
    });
  }
}

function run(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const child = execFile(
      cmd,
      args,
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: unknown; signal?: NodeJS.Signals | null }) | null;
        const timedOut = e?.killed === true;
        const result: ExecResult = {
          code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
          signal: e?.signal ?? null,
          stdout,
          stderr,
          timedOut,
        };
        if (e === null || opts.allowFail === true) return resolve(result);
        const why = timedOut ? `timed out after ${timeoutMs} ms` : typeof e.code === 'string' ? e.message : `exited with ${result.code ?? result.signal}`;
        reject(new ExecError(`${cmd} ${args.join(' ')}: ${why}\n${stderr}`, result));
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** A locally administered unicast MAC (02:...). */
export function randomMac(): string {
  const b = [0x02];
  for (let i = 0; i < 5; i++) b.push(Math.floor(Math.random() * 256));
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/**
 * Arguments for `node` to run a module of this repository: a .ts file (tests
 * run from source) gets the tsx loader, a compiled .js file runs as it is.
 */
export function nodeArgsFor(moduleUrl: string | URL): string[] {
  const path = fileURLToPath(moduleUrl);
  return path.endsWith('.ts') ? ['--import', import.meta.resolve('tsx'), path] : [path];
}

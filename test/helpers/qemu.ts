/**
 * A QEMU virtual machine that network-boots (Debian's qemu-system-x86 with
 * the iPXE option ROMs of ipxe-qemu, software emulation, no KVM) on a tap
 * device inside a namespace of a test topology, and its serial console.
 *
 * The tap sits in a bridge that carries the server's address, with a veth
 * pair as a second port. A tap has no carrier until QEMU opens it, and
 * libuv's os.networkInterfaces() leaves an interface without carrier out, so
 * a server started before QEMU would see no address on the tap; the veth
 * keeps the bridge up from the start, as a switch port would be.
 */
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import type { Topology } from './netns.js';
import { toolSkip } from './skip.js';

/** Where Debian's ipxe-qemu puts the ROM QEMU loads for virtio-net-pci. */
const VIRTIO_ROMS = ['/usr/lib/ipxe/qemu/efi-virtio.rom', '/usr/share/qemu/efi-virtio.rom', '/usr/lib/ipxe/qemu/pxe-virtio.rom'];

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why a PXE VM cannot run here (no QEMU, no iPXE ROM), or false. */
export function qemuSkipReason(): string | false {
  if (!['/usr/bin/qemu-system-x86_64', '/usr/local/bin/qemu-system-x86_64'].some(executable)) {
    return toolSkip('SKIPPED: qemu-system-x86_64 missing (apt-get install qemu-system-x86 ipxe-qemu)');
  }
  if (!VIRTIO_ROMS.some((p) => {
    try {
      accessSync(p, constants.R_OK);
      return true;
    } catch {
      return false;
    }
  })) {
    return toolSkip('SKIPPED: iPXE ROM for virtio-net missing (apt-get install ipxe-qemu)');
  }
  return false;
}

export interface PxeLanSpec {
  /** Logical namespace of the topology. */
  readonly ns: string;
  readonly tap: string;
  readonly bridge: string;
  /** The server's address on the bridge, with prefix length. */
  readonly cidr: string;
}

/** Creates tap + bridge (+ veth to keep it up) in the namespace; they go when the namespace is destroyed. */
export async function createPxeLan(topo: Topology, s: PxeLanSpec): Promise<void> {
  const ip = (...args: string[]): Promise<unknown> => topo.exec(s.ns, 'ip', args);
  const keep = `${s.bridge.slice(0, 12)}k`;
  await ip('tuntap', 'add', s.tap, 'mode', 'tap');
  // No STP and no forward delay: the tap port forwards the moment QEMU opens it.
  await ip('link', 'add', s.bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
  await ip('link', 'add', keep, 'type', 'veth', 'peer', 'name', `${keep}p`);
  await ip('link', 'set', s.tap, 'master', s.bridge);
  await ip('link', 'set', keep, 'master', s.bridge);
  await ip('addr', 'add', s.cidr, 'dev', s.bridge);
  for (const l of [s.tap, keep, `${keep}p`, s.bridge]) await ip('link', 'set', l, 'up');
  // dcplane reads its interfaces' addresses once, at start: the bridge must have carrier before the server starts.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await topo.exec(s.ns, 'cat', [`/sys/class/net/${s.bridge}/carrier`], { allowFail: true });
    if (r.stdout.trim() === '1') return;
    if (Date.now() > deadline) throw new Error(`bridge ${s.bridge} has no carrier after 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface PxeVmOptions {
  readonly ns: string;
  readonly tap: string;
  readonly mac: string;
  readonly memoryMb?: number;
}

export interface PxeVm {
  readonly pid: number;
  /** Everything the serial console printed, terminal escapes removed. */
  console(): string;
  /** Resolves with the console text once it matches; rejects on timeout or if QEMU exits first. */
  waitForConsole(match: string | RegExp, timeoutMs: number): Promise<string>;
  stop(): Promise<void>;
}

/** Strips CSI sequences (colours, cursor moves) that iPXE and SeaBIOS write to the console. */
function plain(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1bc/g, '');
}

/**
 * `qemu-system-x86_64 -nographic -m 256 -boot n -accel tcg -netdev tap,...
 * -device virtio-net-pci,...` in the namespace (QEMU must open the tap by name
 * where the tap lives). The serial console is QEMU's stdout.
 */
export function startPxeVm(topo: Topology, o: PxeVmOptions): PxeVm {
  const args = [
    '-nographic',
    '-nodefaults',
    '-serial',
    'stdio',
    '-m',
    String(o.memoryMb ?? 256),
    '-boot',
    'n',
    '-accel',
    'tcg',
    '-netdev',
    `tap,id=n0,ifname=${o.tap},script=no,downscript=no`,
    '-device',
    `virtio-net-pci,netdev=n0,mac=${o.mac}`,
  ];
  const child: ChildProcess = topo.spawn(o.ns, 'qemu-system-x86_64', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let raw = '';
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (c: Buffer): void => {
    raw += c.toString('latin1');
    text = plain(raw);
    for (const w of waiters) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      for (const w of waiters) w();
      resolve();
    }),
  );
  const test = (m: string | RegExp): boolean => (typeof m === 'string' ? text.includes(m) : m.test(text));
  return {
    pid: child.pid ?? -1,
    console: () => text,
    waitForConsole(match, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (test(match)) {
            done();
            resolve(text);
          } else if (exited) {
            done();
            reject(new Error(`QEMU exited before the console showed ${String(match)}:\n${text.slice(-3000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${String(match)} on the console within ${timeoutMs} ms:\n${text.slice(-3000)}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (exited) return;
      child.kill('SIGKILL');
      await exit;
    },
  };
}

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../common/package-root.js';
import { DcplaneError } from '../common/errors.js';

export { packageRoot };

/**
 * Errors of the network edge.
 *
 * | code | when |
 * | --- | --- |
 * | NET_ERR_ADDON_MISSING | build/Release/dcplane_net.node is not there: `npm install` was not run or could not compile it |
 * | NET_ERR_ADDON_LOAD | the addon is there but does not load (built for another Node ABI or architecture), or was built from an older source |
 */
export class NetError extends DcplaneError {}

/** The native addon (native/dcplane_net.c): what dgram cannot do. */
export interface NativeNet {
  /**
   * A non-blocking UDP socket bound to 0.0.0.0:port and, when `ifname` is
   * given, to that interface (SO_BINDTODEVICE); `bufferBytes` sizes both
   * socket buffers, past net.core.*mem_max when the process may. Throws an
   * Error whose `code` is the errno name (ENODEV, EACCES, EADDRINUSE, EPERM...)
   * and whose `syscall` names the call that failed.
   */
  openUdpSocket(ifname: string | null, port: number, bufferBytes?: number): number;
  /** Installs a neighbour (ARP) entry: `ip` dotted or a host-order number, `mac` six octets. */
  setArp(ifname: string, ip: string | number, mac: Uint8Array): void;
  /**
   * Sends packets[start..end) on socket `fd`, packet i to ips[i] (host
   * order):ports[i], with sendmmsg(2). Returns how many from `start` on the
   * kernel accepted (> 0), or -errno when it refused the one at `start`
   * (-EAGAIN: the send buffer is full). Fewer than end - start means the
   * packet after the last one accepted was not sent.
   */
  sendBatch(fd: number, packets: readonly Buffer[], ips: Uint32Array, ports: Uint16Array, start: number, end: number): number;
  /**
   * Reads socket `fd` with recvmmsg(2) whenever it is readable, on this
   * thread's event loop: datagram i of a batch lands in slab slot i
   * (`slotBytes` each) and meta[4i..4i+3] = [length, source ip (host order),
   * source port, 1 if cut to the slot else 0]; then `onPackets(n)` runs. A
   * negative n is -errno of a failed poll. `onWritable` runs when the socket
   * can be written again after setWritable(handle, true). The slab and meta
   * are reused by the next batch: copy what must outlive the call.
   */
  startReceiver(
    fd: number,
    slab: Buffer,
    meta: Uint32Array,
    slotBytes: number,
    onPackets: (n: number) => void,
    onWritable: () => void,
  ): ReceiverHandle;
  setWritable(handle: ReceiverHandle, on: boolean): void;
  /** Stops the receiver and closes its socket; none of its callbacks runs afterwards. */
  stopReceiver(handle: ReceiverHandle): void;
  /** [receive, send] buffer sizes of the socket as the kernel reports them. */
  socketBuffers(fd: number): [number, number];
  /**
   * A non-blocking IPv4 UDP socket bound to ip:port (0: the kernel picks),
   * with SO_REUSEADDR when `reuseAddr`, and SO_SNDBUF `sendBufferBytes` when
   * not 0 (capped by net.core.wmem_max). Throws like openUdpSocket.
   */
  openBoundSocket(ip: string, port: number, reuseAddr: boolean, sendBufferBytes: number): number;
  /** connect(2)s a UDP socket to ip (dotted, or host order):port: it then receives that peer's datagrams only. */
  connectSocket(fd: number, ip: string | number, port: number): void;
  /** The port a socket is bound to. */
  localPort(fd: number): number;
  /**
   * Sends packets[start..end) on a connected socket: send(2) for one,
   * sendmmsg(2) for more, from the Buffers' memory (free again on return).
   * Returns how many the kernel took (> 0), or -errno when it refused the one
   * at `start` (-EAGAIN: send buffer full; -ECONNREFUSED: the peer's ICMP
   * port unreachable was pending).
   */
  sendPackets(fd: number, packets: readonly Buffer[], start: number, end: number): number;
  /**
   * A socket group: many sockets read through one epoll set on this thread's
   * event loop. Whenever members are readable they are drained with recvmmsg
   * and `onBatch(n)` gets n entries: meta[5i..5i+4] = [member id, kind,
   * value, source ip (host order), source port]; kind GROUP_KIND.DATAGRAM
   * (value: length, bytes in slab slot i of `slotBytes`), TRUNCATED (longer
   * than a slot, dropped), WRITABLE (after groupWatchWritable), ERROR (value:
   * errno). A negative n is -errno of a failed poll. Slab and meta are reused
   * by the next batch.
   */
  createGroup(slab: Buffer, meta: Uint32Array, slotBytes: number, onBatch: (n: number) => void): GroupHandle;
  groupAdd(group: GroupHandle, fd: number, id: number): void;
  groupWatchWritable(group: GroupHandle, fd: number, id: number, on: boolean): void;
  /** Stops reading fd (call before closing it). */
  groupRemove(group: GroupHandle, fd: number): void;
  /** No callback runs after it; members stay open. */
  stopGroup(group: GroupHandle): void;
  /**
   * Has member `fd` (connected to clientIp (host order):clientPort) answer
   * the steady state of a lock-step TFTP read itself: the in-order ACK of
   * block `sent` (logical number, the last block on the wire) is answered
   * with DATA sent + 1 read from `source` (the file's bytes, or a descriptor
   * read ahead with pread), with no call into JS, and so on. Any other
   * packet, the ACK of lastBlock, a short read or a failed send stops it: a
   * GROUP_KIND.PUMP entry for fd then precedes that packet's entry in the
   * batch. `sampleFirst`: block `sent` left once (its ACK's round trip is a
   * sample); `sentAgoMs` (default 0): how long ago block `sent` left, so
   * that sample runs from its send, not from this call. A descriptor source must stay open while armed; a Uint8Array is
   * held by the addon until re-armed or the member is removed. Returns false
   * when the group is stopped.
   */
  pumpArm(
    group: GroupHandle,
    fd: number,
    source: Uint8Array | number,
    size: number,
    blksize: number,
    lastBlock: number,
    sent: number,
    clientIp: number,
    clientPort: number,
    sampleFirst: boolean,
    sentAgoMs?: number,
  ): boolean;
  /**
   * The ACKs member fd's pump answered since armed or last collected (each
   * put one new block on the wire); out[0] = ms since its last send, out[1]
   * = the last timed round trip in ms (-1: none), out[2] = errno of the last
   * send when it failed (that block did not leave; 0 otherwise). `disarm`
   * stops it. 0 for a member without a pump.
   */
  pumpCollect(group: GroupHandle, fd: number, disarm: boolean, out: Float64Array): number;
}

/** An addon socket group (opaque). */
export type GroupHandle = { readonly __brand: 'dcplane-group' };

/** Words per entry of a group batch, and the entry kinds (native/dcplane_net.c). */
export const GROUP_FIELDS = 5;
export const GROUP_KIND = { DATAGRAM: 0, TRUNCATED: 1, WRITABLE: 2, ERROR: 3, PUMP: 4 } as const;

/** An addon receiver (opaque). */
export type ReceiverHandle = { readonly __brand: 'dcplane-receiver' };

/** What an addon from before the current native/dcplane_net.c lacks: it must be rebuilt, not half used. */
const REQUIRED: readonly (keyof NativeNet)[] = [
  'openUdpSocket',
  'setArp',
  'sendBatch',
  'startReceiver',
  'setWritable',
  'stopReceiver',
  'socketBuffers',
  'openBoundSocket',
  'connectSocket',
  'localPort',
  'sendPackets',
  'createGroup',
  'groupAdd',
  'groupWatchWritable',
  'groupRemove',
  'stopGroup',
  'pumpArm',
  'pumpCollect',
];

const ADDON = join('build', 'Release', 'dcplane_net.node');

let cached: NativeNet | undefined;

/** Loads the addon once; a missing or unloadable build is a coded error that says how to fix it. */
export function loadNative(): NativeNet {
  if (cached !== undefined) return cached;
  const root = packageRoot();
  const path = join(root, ADDON);
  if (!existsSync(path)) {
    throw new NetError(
      'NET_ERR_ADDON_MISSING',
      `the native socket addon ${path} is missing: run \`npm install\` in ${root} (it compiles native/dcplane_net.c and needs g++, make and python3)`,
    );
  }
  try {
    const addon = createRequire(import.meta.url)(path) as Partial<NativeNet>;
    const missing = REQUIRED.filter((f) => typeof addon[f] !== 'function');
    if (missing.length > 0) throw new Error(`it was built from an older native/dcplane_net.c (no ${missing.join(', ')})`);
    cached = addon as NativeNet;
  } catch (err) {
    throw new NetError(
      'NET_ERR_ADDON_LOAD',
      `the native socket addon ${path} does not load (${(err as Error).message}): rebuild it for this Node with \`npx node-gyp rebuild\` in ${root}`,
      { cause: err },
    );
  }
  return cached;
}

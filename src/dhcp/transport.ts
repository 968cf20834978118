import { closeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { DcplaneError } from '../common/errors.js';
import type { Ipv4 } from '../net/ipv4.js';
import { interfaceExists } from '../net/interfaces.js';
import { loadNative } from '../net/native.js';
import type { NativeNet, ReceiverHandle } from '../net/native.js';

/**
 * Errors of the DHCP socket layer; `iface` names the interface concerned.
 *
 * | code | when |
 * | --- | --- |
 * | DHCP_ERR_NO_INTERFACE | a configured interface does not exist in this network namespace |
 * | DHCP_ERR_BIND_DENIED | binding the port or the interface is not permitted (root, CAP_NET_BIND_SERVICE for ports below 1024, CAP_NET_RAW for SO_BINDTODEVICE) |
 * | DHCP_ERR_PORT_IN_USE | another socket already holds the port on that interface or on all interfaces (another DHCP server) |
 * | DHCP_ERR_BIND_FAILED | any other failure to open the interface's socket |
 * | DHCP_ERR_UNKNOWN_INTERFACE | send() named an interface the transport was not opened on (a caller bug) |
 * | DHCP_ERR_CLOSED | send() after close() |
 * | DHCP_ERR_RECEIVER_STOPPED | (through onError) polling an interface's socket failed too often in a row; it is no longer read |
 */
export class DhcpTransportError extends DcplaneError {
  readonly iface: string;
  constructor(code: string, iface: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.iface = iface;
  }
}

export interface PacketInfo {
  /** The interface the datagram arrived on: the socket it was read from is bound to it. */
  readonly iface: string;
  readonly sourceIp: Ipv4;
  readonly sourcePort: number;
  /**
   * The socket has not run dry for BACKLOG_BATCHES full reads in a row: the
   * server is behind its offered load, and may shed what it cannot finish.
   */
  readonly backlogged: boolean;
}

export interface SendDestination {
  readonly ip: Ipv4;
  readonly port: number;
  /** Send to 255.255.255.255 out of the interface; `ip` is then ignored. */
  readonly broadcast: boolean;
  /** Install ip → arpMac as a neighbour entry first: unicast to a client that has no address yet. */
  readonly arpMac?: Uint8Array | undefined;
}

export interface DhcpTransportOptions {
  readonly interfaces: readonly string[];
  readonly port: number;
  readonly onPacket: (msg: Buffer, info: PacketInfo) => void;
  readonly onError: (err: Error, iface: string) => void;
  /** Receive and send buffer size per socket; 4 MiB unless given (perfdhcp sends in bursts). */
  readonly bufferBytes?: number;
}

export interface TransportCounters {
  received: number;
  /** Datagrams the kernel accepted. */
  sent: number;
  sendErrors: number;
  /** Unicasts to a client without an address that went out as broadcasts because the ARP entry could not be set. */
  arpFallbacks: number;
  /** Datagrams longer than RECV_SLOT_BYTES, dropped unread (no DHCP message comes near it). */
  truncated: number;
  /** Datagrams whose onPacket threw: counted and reported through onError, and the next one is read. */
  handlerErrors: number;
}

const LIMITED_BROADCAST_IP = 0xffffffff;
const DEFAULT_BUFFER_BYTES = 4 * 1024 * 1024;
/** Send errors are all counted; at most one per interface per interval is reported, so a dead link does not flood the log. */
const ERROR_REPORT_INTERVAL_MS = 5000;
/** Replies queued per interface: sent at the end of the turn, or at once when this many wait. */
const SEND_QUEUE_LENGTH = 256;
/**
 * Replies sent per flush; the rest of a queue wait for the next event-loop
 * turn, after more requests have been read. A whole commit's ACKs at once
 * overran the client's own socket (perfdhcp's, default 208 KiB, lost most of
 * them), and a client gains nothing from replies it drops.
 */
const PACE_BATCH = 64;
/** Datagrams read per recvmmsg. */
const RECV_SLOTS = 64;
/** A jumbo frame's payload fits; a DHCP message is rarely over 1,500 octets. */
const RECV_SLOT_BYTES = 9216;
const META_FIELDS = 4;
/**
 * Full reads in a row (every slot filled: more may wait) after which the
 * socket counts as backlogged: 8 × 64 datagrams read without the socket
 * running dry is tens of milliseconds of work queued, beyond what a GC pause
 * or a burst of the client leaves.
 */
const BACKLOG_BATCHES = 8;
const EAGAIN = osConstants.errno.EAGAIN;
/** The addon's word for "polling this socket failed too often in a row; it is no longer read". */
const EIO = osConstants.errno.EIO;

interface Endpoint {
  readonly name: string;
  /** The socket's descriptor (the addon opened it; the receiver closes it). */
  readonly fd: number;
  readonly receiver: ReceiverHandle;
  readonly counters: TransportCounters;
  /** Replies waiting for the end of this event-loop turn, with their destinations. */
  readonly queue: Buffer[];
  readonly queueIps: Uint32Array;
  readonly queuePorts: Uint16Array;
  /** The send buffer was full: the queue waits for the socket to be writable. */
  blocked: boolean;
  arpDenied: boolean;
  lastErrorReport: number;
}

/**
 * One UDP socket per configured interface, each bound to its interface with
 * SO_BINDTODEVICE: a broadcast is read from the socket of the interface it
 * arrived on, and a reply leaves through the interface the request came in on
 * (RFC 2131 §4.1 on a multi-homed host). Interfaces not named are never
 * listened on (PRODUCT.md: "DHCP serves only interfaces ... named in the
 * configuration").
 *
 * The sockets are read and written by the addon, not dgram: a readable
 * socket is drained with recvmmsg, a batch of datagrams per call into JS, and
 * the replies given in one event-loop turn leave together in one sendmmsg.
 * dgram costs per datagram a 64 KiB allocation, an address string, a
 * callback and, on send, a lookup tick and a libuv request: at tens of
 * thousands of packets a second that was most of the service's CPU.
 */
export class DhcpTransport {
  private readonly endpoints = new Map<string, Endpoint>();
  private closed = false;
  private flushTimer: NodeJS.Immediate | undefined;
  private readonly flushAll = (): void => {
    this.flushTimer = undefined;
    // A flush scheduled before close() must not send on descriptors close() gave back (their numbers may
    // already belong to another socket).
    if (this.closed) return;
    for (const ep of this.endpoints.values()) if (ep.queue.length > 0 && !ep.blocked) this.flush(ep);
  };

  private constructor(
    private readonly native: NativeNet,
    private readonly onError: (err: Error, iface: string) => void,
  ) {}

  static async open(opts: DhcpTransportOptions): Promise<DhcpTransport> {
    const native = loadNative();
    const t = new DhcpTransport(native, opts.onError);
    try {
      for (const name of new Set(opts.interfaces)) {
        t.endpoints.set(name, t.openEndpoint(name, opts));
      }
    } catch (err) {
      t.close();
      throw err;
    }
    return t;
  }

  private openEndpoint(name: string, opts: DhcpTransportOptions): Endpoint {
    if (!interfaceExists(name)) {
      throw new DhcpTransportError('DHCP_ERR_NO_INTERFACE', name, `interface ${name} does not exist in this network namespace`);
    }
    let fd: number;
    try {
      // Buffer sizes are set by the addon (SO_RCVBUFFORCE can pass rmem_max).
      fd = this.native.openUdpSocket(name, opts.port, opts.bufferBytes ?? DEFAULT_BUFFER_BYTES);
    } catch (err) {
      throw bindError(err, name, opts.port);
    }
    const counters: TransportCounters = { received: 0, sent: 0, sendErrors: 0, arpFallbacks: 0, truncated: 0, handlerErrors: 0 };
    const slab = Buffer.alloc(RECV_SLOTS * RECV_SLOT_BYTES);
    const meta = new Uint32Array(RECV_SLOTS * META_FIELDS);
    const onPacket = opts.onPacket;
    let fullReads = 0;
    const onPackets = (n: number): void => {
      if (n < 0) {
        // The addon clears the socket's error and polls again; -EIO means it gave up on this socket.
        const err = n === -EIO
          ? new DhcpTransportError('DHCP_ERR_RECEIVER_STOPPED', name, `${name} kept failing to poll and is no longer read: restart dcplane or reload with the interface removed and added again`)
          : systemError(n, name, 'poll');
        this.onError(err, name);
        return;
      }
      fullReads = n === RECV_SLOTS ? fullReads + 1 : 0;
      const backlogged = fullReads >= BACKLOG_BATCHES;
      for (let i = 0; i < n && !this.closed; i++) {
        const m = i * META_FIELDS;
        if (meta[m + 3] !== 0) {
          counters.truncated++;
          continue;
        }
        const length = meta[m] as number;
        const from = i * RECV_SLOT_BYTES;
        // A copy: the slab is overwritten by the next batch, and a packet may be held until its lease is committed.
        const msg = Buffer.allocUnsafe(length);
        slab.copy(msg, 0, from, from + length);
        counters.received++;
        // An exception escaping to the addon is fatal to the process (napi_fatal_exception): one
        // packet's failure (os.networkInterfaces() under EMFILE, say) must not end the service.
        try {
          onPacket(msg, { iface: name, sourceIp: meta[m + 1] as number, sourcePort: meta[m + 2] as number, backlogged });
        } catch (err) {
          counters.handlerErrors++;
          this.onError(Object.assign(err instanceof Error ? err : new Error(String(err)), { handler: true }), name);
        }
      }
    };
    let receiver: ReceiverHandle;
    try {
      receiver = this.native.startReceiver(fd, slab, meta, RECV_SLOT_BYTES, onPackets, () => {
        const ep = this.endpoints.get(name);
        try {
          if (ep !== undefined) this.onWritable(ep);
        } catch (err) {
          this.onError(err instanceof Error ? err : new Error(String(err)), name);
        }
      });
    } catch (err) {
      closeSync(fd);
      throw new DhcpTransportError('DHCP_ERR_BIND_FAILED', name, `cannot use the socket of ${name}: ${(err as Error).message}`, { cause: err });
    }
    return {
      name,
      fd,
      receiver,
      counters,
      queue: [],
      queueIps: new Uint32Array(SEND_QUEUE_LENGTH),
      queuePorts: new Uint16Array(SEND_QUEUE_LENGTH),
      blocked: false,
      arpDenied: false,
      lastErrorReport: 0,
    };
  }

  /**
   * Sends one datagram out of `iface`. Replies given in one event-loop turn
   * leave together at its end, in one sendmmsg per interface. Errors are
   * counted per datagram (and reported through onError, rate-limited).
   */
  send(iface: string, msg: Buffer, dest: SendDestination): void {
    const ep = this.endpoints.get(iface);
    if (ep === undefined) {
      throw new DhcpTransportError('DHCP_ERR_UNKNOWN_INTERFACE', iface, `the DHCP transport is not open on ${iface}`);
    }
    if (this.closed) throw new DhcpTransportError('DHCP_ERR_CLOSED', iface, 'the DHCP transport is closed');
    let ip = dest.ip;
    if (dest.broadcast) {
      ip = LIMITED_BROADCAST_IP;
    } else if (dest.arpMac !== undefined) {
      if (ep.arpDenied || !this.trySetArp(ep, dest.ip, dest.arpMac)) {
        // RFC 2131 §4.1: "If unicasting is not possible, the message MAY be
        // sent as an IP broadcast using an IP broadcast address (preferably
        // 0xffffffff) as the IP destination address".
        ep.counters.arpFallbacks++;
        ip = LIMITED_BROADCAST_IP;
      }
    }
    const n = ep.queue.length;
    if (n === SEND_QUEUE_LENGTH) {
      // Only while blocked: the send buffer has been full for a whole queue of replies. The client retries.
      ep.counters.sendErrors++;
      this.report(ep, systemError(-EAGAIN, ep.name, 'sendmmsg'));
      return;
    }
    ep.queueIps[n] = ip;
    ep.queuePorts[n] = dest.port;
    ep.queue.push(msg);
    if (ep.blocked) return;
    if (n + 1 === SEND_QUEUE_LENGTH) this.flush(ep);
    else this.flushTimer ??= setImmediate(this.flushAll);
  }

  /** Sends an interface's queued replies; on a full send buffer (EAGAIN) the rest wait until the socket is writable. */
  private flush(ep: Endpoint): void {
    const queue = ep.queue;
    const length = queue.length;
    const end = Math.min(length, PACE_BATCH);
    let at = 0;
    while (at < end) {
      const r = this.native.sendBatch(ep.fd, queue, ep.queueIps, ep.queuePorts, at, end);
      if (r > 0) {
        ep.counters.sent += r;
        at += r;
      } else if (r === -EAGAIN || r === 0) {
        queue.splice(0, at);
        ep.queueIps.copyWithin(0, at, length);
        ep.queuePorts.copyWithin(0, at, length);
        ep.blocked = true;
        this.native.setWritable(ep.receiver, true);
        return;
      } else {
        // This datagram's destination was refused (EACCES, ENETUNREACH...): count it, send the rest.
        ep.counters.sendErrors++;
        this.report(ep, systemError(r, ep.name, 'sendmmsg'));
        at++;
      }
    }
    if (end === length) {
      queue.length = 0;
      return;
    }
    queue.splice(0, end);
    ep.queueIps.copyWithin(0, end, length);
    ep.queuePorts.copyWithin(0, end, length);
    this.flushTimer ??= setImmediate(this.flushAll);
  }

  private onWritable(ep: Endpoint): void {
    if (!ep.blocked) return;
    ep.blocked = false;
    this.native.setWritable(ep.receiver, false);
    this.flush(ep);
  }

  private trySetArp(ep: Endpoint, ip: Ipv4, mac: Uint8Array): boolean {
    try {
      this.native.setArp(ep.name, ip, mac);
      return true;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      // Without CAP_NET_ADMIN every later attempt fails the same way: stop paying for the syscall.
      if (code === 'EPERM' || code === 'EACCES') ep.arpDenied = true;
      this.report(ep, err as Error);
      return false;
    }
  }

  private report(ep: Endpoint, err: Error): void {
    const now = Date.now();
    if (now - ep.lastErrorReport < ERROR_REPORT_INTERVAL_MS) return;
    ep.lastErrorReport = now;
    this.onError(err, ep.name);
  }

  get interfaces(): readonly string[] {
    return [...this.endpoints.keys()];
  }

  /** Counters of one interface, or the sum over all when `iface` is not given. */
  counters(iface?: string): TransportCounters {
    const sum: TransportCounters = { received: 0, sent: 0, sendErrors: 0, arpFallbacks: 0, truncated: 0, handlerErrors: 0 };
    for (const ep of this.endpoints.values()) {
      if (iface !== undefined && ep.name !== iface) continue;
      sum.received += ep.counters.received;
      sum.sent += ep.counters.sent;
      sum.sendErrors += ep.counters.sendErrors;
      sum.arpFallbacks += ep.counters.arpFallbacks;
      sum.truncated += ep.counters.truncated;
      sum.handlerErrors += ep.counters.handlerErrors;
    }
    return sum;
  }

  /** The socket buffer sizes the kernel granted (it reports twice what was asked: bookkeeping overhead). */
  bufferSizes(iface: string): { recv: number; send: number } {
    const ep = this.endpoints.get(iface);
    if (ep === undefined) throw new DhcpTransportError('DHCP_ERR_UNKNOWN_INTERFACE', iface, `the DHCP transport is not open on ${iface}`);
    const [recv, send] = this.native.socketBuffers(ep.fd);
    return { recv, send };
  }

  /** Sends what is queued (unless the send buffer is full), then closes every socket. */
  close(): void {
    if (this.closed) return;
    // Everything queued goes now, past the pacing (there is no next read to pace by), unless the send
    // buffer is full; then the timer a paced flush set is cancelled before the sockets close.
    for (const ep of this.endpoints.values()) {
      while (ep.queue.length > 0 && !ep.blocked) this.flush(ep);
    }
    if (this.flushTimer !== undefined) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    this.closed = true;
    for (const ep of this.endpoints.values()) this.native.stopReceiver(ep.receiver);
  }
}

/** A failed system call as Node reports one: `code` is the errno name. */
function systemError(negErrno: number, iface: string, syscall: string): Error {
  const code = getSystemErrorName(negErrno);
  return Object.assign(new Error(`${syscall} on ${iface}: ${code}`), { code, errno: negErrno, syscall });
}

function bindError(err: unknown, iface: string, port: number): Error {
  const code = (err as { code?: unknown }).code;
  const syscall = (err as { syscall?: unknown }).syscall;
  const why = (err as Error).message;
  if (code === 'ENODEV') {
    return new DhcpTransportError('DHCP_ERR_NO_INTERFACE', iface, `interface ${iface} does not exist in this network namespace`, { cause: err });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    const need =
      typeof syscall === 'string' && syscall.includes('SO_BINDTODEVICE')
        ? 'root or CAP_NET_RAW (to bind a socket to an interface)'
        : `root or CAP_NET_BIND_SERVICE (UDP port ${port} is below 1024)`;
    return new DhcpTransportError('DHCP_ERR_BIND_DENIED', iface, `cannot listen for DHCP on ${iface} port ${port}: ${why}; this needs ${need}`, { cause: err });
  }
  if (code === 'EADDRINUSE') {
    return new DhcpTransportError(
      'DHCP_ERR_PORT_IN_USE',
      iface,
      `UDP port ${port} on ${iface} is already in use, by another DHCP server (dnsmasq, Kea, another dcplane) or by a socket on all interfaces`,
      { cause: err },
    );
  }
  if (err instanceof DcplaneError) return err;
  return new DhcpTransportError('DHCP_ERR_BIND_FAILED', iface, `cannot listen for DHCP on ${iface} port ${port}: ${why}`, { cause: err });
}


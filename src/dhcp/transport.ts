import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { constants as osConstants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { DcplaneError } from '../common/errors.js';
import type { Ipv4 } from '../net/ipv4.js';
import { formatIpv4 } from '../net/ipv4.js';
import { interfaceExists } from '../net/interfaces.js';
import { loadNative } from '../net/native.js';
import type { NativeNet } from '../net/native.js';

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
}

const LIMITED_BROADCAST = '255.255.255.255';
const LIMITED_BROADCAST_IP = 0xffffffff;
const DEFAULT_BUFFER_BYTES = 4 * 1024 * 1024;
/** Send errors are all counted; at most one per interface per interval is reported, so a dead link does not flood the log. */
const ERROR_REPORT_INTERVAL_MS = 5000;
/** Replies queued per interface before they are sent without waiting for the end of the turn. */
const SEND_QUEUE_LENGTH = 256;
const EAGAIN = osConstants.errno.EAGAIN;

interface Endpoint {
  readonly name: string;
  readonly socket: Socket;
  /** The socket's descriptor (ours: the addon opened it), for sendBatch. */
  readonly fd: number;
  /** Replies waiting for the end of this event-loop turn, with their destinations. */
  readonly queue: Buffer[];
  readonly queueIps: Uint32Array;
  readonly queuePorts: Uint16Array;
  readonly counters: TransportCounters;
  /** Shared by every send on this interface, so a send allocates no closure. */
  readonly afterSend: (err: Error | null) => void;
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
 */
export class DhcpTransport {
  private readonly endpoints = new Map<string, Endpoint>();
  private closed = false;
  /** An addon built before sendBatch existed sends through dgram, one request per reply. */
  private readonly batched: boolean;
  private flushTimer: NodeJS.Immediate | undefined;
  private readonly flushAll = (): void => {
    this.flushTimer = undefined;
    for (const ep of this.endpoints.values()) if (ep.queue.length > 0) this.flush(ep);
  };

  private constructor(
    private readonly native: NativeNet,
    private readonly onError: (err: Error, iface: string) => void,
  ) {
    this.batched = typeof native.sendBatch === 'function';
  }

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
      fd = this.native.openUdpSocket(name, opts.port, opts.bufferBytes ?? DEFAULT_BUFFER_BYTES);
    } catch (err) {
      throw bindError(err, name, opts.port);
    }
    const socket = createSocket({ type: 'udp4' });
    const counters: TransportCounters = { received: 0, sent: 0, sendErrors: 0, arpFallbacks: 0 };
    const ep: Endpoint = {
      name,
      socket,
      fd,
      queue: [],
      queueIps: new Uint32Array(SEND_QUEUE_LENGTH),
      queuePorts: new Uint16Array(SEND_QUEUE_LENGTH),
      counters,
      arpDenied: false,
      lastErrorReport: 0,
      afterSend: (err) => {
        if (err === null) {
          counters.sent++;
          return;
        }
        counters.sendErrors++;
        this.report(ep, err);
      },
    };
    const onPacket = opts.onPacket;
    socket.on('message', (msg, rinfo) => {
      counters.received++;
      onPacket(msg, { iface: name, sourceIp: parseDottedQuad(rinfo.address), sourcePort: rinfo.port });
    });
    socket.on('error', (err) => this.onError(err, name));
    try {
      // Buffer sizes are set by the addon (SO_RCVBUFFORCE can pass rmem_max);
      // dgram's recvBufferSize option would shrink them back to the sysctl.
      socket.bind({ fd });
    } catch (err) {
      socket.close();
      throw new DhcpTransportError('DHCP_ERR_BIND_FAILED', name, `cannot use the socket of ${name}: ${(err as Error).message}`, { cause: err });
    }
    return ep;
  }

  /**
   * Sends one datagram out of `iface`. Replies given in one event-loop turn
   * leave together at its end, in one sendmmsg per interface: a reply costs
   * a share of one system call instead of a sendmsg, a libuv request and an
   * address lookup of its own. Errors are counted (and reported through
   * onError, rate-limited), per datagram.
   */
  send(iface: string, msg: Buffer, dest: SendDestination): void {
    const ep = this.endpoints.get(iface);
    if (ep === undefined) {
      throw new DhcpTransportError('DHCP_ERR_UNKNOWN_INTERFACE', iface, `the DHCP transport is not open on ${iface}`);
    }
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
    if (!this.batched || this.closed) {
      // A closed transport: dgram throws ERR_SOCKET_DGRAM_NOT_RUNNING, as before batching.
      ep.socket.send(msg, dest.port, ip === LIMITED_BROADCAST_IP ? LIMITED_BROADCAST : formatIpv4(ip), ep.afterSend);
      return;
    }
    const n = ep.queue.length;
    ep.queueIps[n] = ip;
    ep.queuePorts[n] = dest.port;
    ep.queue.push(msg);
    if (n + 1 === SEND_QUEUE_LENGTH) this.flush(ep);
    else this.flushTimer ??= setImmediate(this.flushAll);
  }

  /** Sends an interface's queued replies; on a full send buffer (EAGAIN) dgram queues the rest until the socket is writable. */
  private flush(ep: Endpoint): void {
    const queue = ep.queue;
    const end = queue.length;
    let at = 0;
    while (at < end) {
      const r = this.native.sendBatch(ep.fd, queue, ep.queueIps, ep.queuePorts, at, end);
      if (r > 0) {
        ep.counters.sent += r;
        at += r;
      } else if (r === -EAGAIN || r === 0) {
        for (; at < end; at++) {
          const ip = ep.queueIps[at] as number;
          ep.socket.send(queue[at] as Buffer, ep.queuePorts[at] as number, ip === LIMITED_BROADCAST_IP ? LIMITED_BROADCAST : formatIpv4(ip), ep.afterSend);
        }
      } else {
        // This datagram's destination was refused (EACCES, ENETUNREACH...): count it, send the rest.
        ep.counters.sendErrors++;
        this.report(ep, sendError(r, ep.name));
        at++;
      }
    }
    queue.length = 0;
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
    const sum: TransportCounters = { received: 0, sent: 0, sendErrors: 0, arpFallbacks: 0 };
    for (const ep of this.endpoints.values()) {
      if (iface !== undefined && ep.name !== iface) continue;
      sum.received += ep.counters.received;
      sum.sent += ep.counters.sent;
      sum.sendErrors += ep.counters.sendErrors;
      sum.arpFallbacks += ep.counters.arpFallbacks;
    }
    return sum;
  }

  /** The socket buffer sizes the kernel granted (it reports twice what was asked: bookkeeping overhead). */
  bufferSizes(iface: string): { recv: number; send: number } {
    const ep = this.endpoints.get(iface);
    if (ep === undefined) throw new DhcpTransportError('DHCP_ERR_UNKNOWN_INTERFACE', iface, `the DHCP transport is not open on ${iface}`);
    return { recv: ep.socket.getRecvBufferSize(), send: ep.socket.getSendBufferSize() };
  }

  close(): void {
    if (this.closed) return;
    // Replies already handed over still leave.
    if (this.flushTimer !== undefined) {
      clearImmediate(this.flushTimer);
      this.flushAll();
    }
    this.closed = true;
    for (const ep of this.endpoints.values()) {
      try {
        ep.socket.close();
      } catch {
        // Already closed by an error: nothing left to release.
      }
    }
  }
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

/** A failed sendmmsg as dgram reports a failed send: `code` is the errno name. */
function sendError(negErrno: number, iface: string): Error {
  const code = getSystemErrorName(negErrno);
  return Object.assign(new Error(`send on ${iface}: ${code}`), { code, errno: negErrno, syscall: 'sendmmsg' });
}

/** rinfo.address of a udp4 socket is always a well-formed dotted quad: parse it without allocating. */
function parseDottedQuad(s: string): Ipv4 {
  let ip = 0;
  let part = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      ip = ip * 256 + part;
      part = 0;
    } else {
      part = part * 10 + (c - 48);
    }
  }
  return (ip * 256 + part) >>> 0;
}

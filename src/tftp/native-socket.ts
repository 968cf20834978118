import { closeSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { constants as osConstants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { GROUP_FIELDS, GROUP_KIND, loadNative } from '../net/native.js';
import type { GroupHandle, NativeNet } from '../net/native.js';
import { parseIpv4 } from '../net/ipv4.js';
import { DRAIN_WAIT_MS, PORT_ATTEMPTS } from './transfer-socket.js';
import type { PumpReport, PumpRequest, TransferSocket, TransferSocketFactory, TransferSocketRequest } from './transfer-socket.js';

/** Datagrams handed to JS per batch (all transfers together). */
const SLOTS = 32;
/** Larger than any UDP payload: a write's DATA at the largest blksize fits. */
const SLOT_BYTES = 65536;
/** Destinations sendBatch takes at once for an unconnected transfer socket (a window up to this many per call). */
const UNCONNECTED_CHUNK = 64;
const EAGAIN = osConstants.errno.EAGAIN;

/** An error for a failed call; `errno` negative, as the addon returns it. */
function errnoError(errno: number, syscall: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(errno);
  const err: NodeJS.ErrnoException = new Error(`${syscall} ${code}`);
  err.code = code;
  err.errno = errno;
  err.syscall = syscall;
  return err;
}

function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Closed already.
  }
}

/** A transfer socket read by the group and written with send/sendmmsg (connected) or sendmmsg to the client (not). */
class NativeTransferSocket implements TransferSocket {
  /** Packets the send buffer had no room for, in order; sent when the socket is writable. */
  private readonly queue: Buffer[] = [];
  private closing = false;
  private closed = false;
  private drainTimer: NodeJS.Timeout | undefined;
  private readonly clientIp: number;
  private readonly ips: Uint32Array | undefined;
  private readonly ports: Uint16Array | undefined;
  private pumping = false;
  private readonly report: PumpReport = { steps: 0, sinceLastSendMs: 0, rttMs: undefined, unsentErrno: 0 };

  constructor(
    private readonly owner: NativeTransferSockets,
    readonly key: number,
    private readonly fd: number,
    private readonly strangerFd: number | undefined,
    readonly connected: boolean,
    readonly port: number,
    private readonly req: TransferSocketRequest,
  ) {
    this.clientIp = parseIpv4(req.clientIp) ?? 0;
    if (!connected) {
      this.ips = new Uint32Array(UNCONNECTED_CHUNK).fill(this.clientIp);
      this.ports = new Uint16Array(UNCONNECTED_CHUNK).fill(req.clientPort);
    }
  }

  /** A datagram of the group's batch, read from the transfer socket or (`fromStranger`) its stranger socket. */
  onDatagram(fromStranger: boolean, slab: Buffer, offset: number, length: number, ip: number, port: number): void {
    if (this.closed) return;
    // Connected, the kernel passes only the client's packets; one may still have queued before connect().
    if (!fromStranger && ip === this.clientIp && port === this.req.clientPort) {
      this.req.handlers.onPacket(slab, offset, length);
      return;
    }
    const opcode = length >= 2 && slab[offset] === 0 ? slab[offset + 1] : undefined;
    if (this.closing || !this.req.handlers.onStranger(opcode)) return;
    const net = this.owner.net;
    const r = net.sendBatch(this.strangerFd ?? this.fd, [this.req.strangerReply], Uint32Array.of(ip), Uint16Array.of(port), 0, 1);
    if (r < 0 && r !== -EAGAIN) this.req.handlers.onError(errnoError(r, 'sendmmsg'));
  }

  onError(errno: number): void {
    if (!this.closed) this.req.handlers.onError(errnoError(-errno, 'recvmmsg'));
  }

  /** The addon stopped the pump (the next entry of this socket is a packet it did not answer, if any). */
  onPumpStopped(): void {
    this.pumping = false;
    if (!this.closed) this.req.handlers.onPumpStopped?.();
  }

  pump(p: PumpRequest): boolean {
    if (!this.connected || this.closing || this.queue.length > 0) return false;
    const o = this.owner;
    // Re-armed after a packet JS handled (a duplicate ACK), block `sent` left earlier than now: its round trip runs from then.
    const sentAgoMs = p.sentAt === undefined ? 0 : Math.max(0, performance.now() - p.sentAt);
    this.pumping = o.net.pumpArm(o.group(), this.fd, p.source, p.size, p.blksize, p.lastBlock, p.sent, this.clientIp, this.req.clientPort, p.sampleFirst, sentAgoMs);
    return this.pumping;
  }

  collectPump(disarm: boolean): PumpReport {
    const r = this.report;
    const out = this.owner.pumpOut;
    r.steps = this.closed ? 0 : this.owner.net.pumpCollect(this.owner.group(), this.fd, disarm, out);
    if (disarm) this.pumping = false;
    r.sinceLastSendMs = out[0] as number;
    r.rttMs = (out[1] as number) < 0 ? undefined : out[1];
    r.unsentErrno = out[2] === 0 ? 0 : -(out[2] as number);
    return r;
  }

  /** Sends packets[start..end) until the buffer is full; returns where it stopped. */
  private push(packets: readonly Buffer[], start: number, end: number): number {
    const net = this.owner.net;
    let at = start;
    while (at < end) {
      let r: number;
      if (this.connected) r = net.sendPackets(this.fd, packets, at, end);
      else {
        // sendBatch indexes the destinations as the packets: a slice of at most UNCONNECTED_CHUNK from `at`.
        const n = Math.min(end - at, UNCONNECTED_CHUNK);
        r = net.sendBatch(this.fd, packets.slice(at, at + n), this.ips as Uint32Array, this.ports as Uint16Array, 0, n);
      }
      if (r > 0) at += r;
      else if (r === -EAGAIN) break;
      else {
        // Refused for this destination (the client's ICMP port unreachable, no route): dropped, as a lost packet; the timer resends.
        this.req.handlers.onError(errnoError(r, this.connected ? 'send' : 'sendmmsg'));
        at++;
      }
    }
    return at;
  }

  send(packets: readonly Buffer[], count: number): number {
    if (this.closed) return count;
    if (this.queue.length > 0) {
      for (let i = 0; i < count; i++) this.queue.push(packets[i] as Buffer);
      return 0;
    }
    const at = this.push(packets, 0, count);
    if (at < count) {
      for (let i = at; i < count; i++) this.queue.push(packets[i] as Buffer);
      this.owner.net.groupWatchWritable(this.owner.group(), this.fd, this.key * 2, true);
    }
    return at;
  }

  /** The send buffer has room again: the queue goes out, oldest first. */
  onWritable(): void {
    if (this.closed) return;
    const at = this.push(this.queue, 0, this.queue.length);
    const sent = this.queue.splice(0, at);
    if (this.queue.length === 0) this.owner.net.groupWatchWritable(this.owner.group(), this.fd, this.key * 2, false);
    if (!this.closing) for (const p of sent) this.req.handlers.onSent(p);
    else if (this.queue.length === 0) this.finalClose();
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    // Its file may be closed next: the pump answers nothing more.
    if (this.pumping) this.collectPump(true);
    if (this.queue.length === 0) this.finalClose();
    else {
      this.drainTimer = setTimeout(() => this.finalClose(), DRAIN_WAIT_MS);
      this.drainTimer.unref();
    }
  }

  private finalClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
    this.queue.length = 0;
    this.owner.release(this);
    closeFd(this.fd);
    if (this.strangerFd !== undefined) closeFd(this.strangerFd);
  }

  /** The descriptors to take out of the group before closing. */
  get fds(): readonly number[] {
    return this.strangerFd === undefined ? [this.fd] : [this.fd, this.strangerFd];
  }
}

/**
 * Transfer sockets on the addon, for IPv4: every transfer's port is bound to
 * the request address and connected to the client, beside an unconnected
 * socket on the same port for strangers (as DgramTransferSockets). All of
 * them are members of one socket group, so the ready ones of a boot storm
 * are read in one event-loop callback with recvmmsg, and a block costs a
 * send(2) from the session's own buffer: no per-datagram allocation, address
 * string, callback or libuv request as with dgram. A lock-step read in its
 * steady state goes further: the socket's pump (pumpArm) answers each
 * in-order ACK with the next block inside the addon, and JS hears of the
 * transfer again only for anything else (pump(), collectPump()).
 */
export class NativeTransferSockets implements TransferSocketFactory {
  readonly net: NativeNet;
  private handle: GroupHandle | undefined;
  private readonly slab = Buffer.allocUnsafeSlow(SLOTS * SLOT_BYTES);
  private readonly meta = new Uint32Array(SLOTS * GROUP_FIELDS);
  /** pumpCollect's out array, shared by every socket. */
  readonly pumpOut = new Float64Array(3);
  /** Sockets by key; member ids are 2·key (the transfer socket) and 2·key + 1 (its stranger socket). */
  private readonly sockets = new Map<number, NativeTransferSocket>();
  private nextKey = 1;
  private stopping = false;

  /** Throws NetError when the addon is missing or stale; `onGroupError` hears of a failed poll or a handler that threw. */
  constructor(private readonly onGroupError: (err: Error) => void) {
    this.net = loadNative();
  }

  /** Whether this factory can serve a transfer between these addresses. */
  static serves(host: string, clientIp: string): boolean {
    return isIPv4(host) && isIPv4(clientIp);
  }

  group(): GroupHandle {
    this.handle ??= this.net.createGroup(this.slab, this.meta, SLOT_BYTES, (n) => this.onBatch(n));
    return this.handle;
  }

  private onBatch(n: number): void {
    if (n < 0) {
      this.onGroupError(errnoError(n, 'epoll_wait'));
      return;
    }
    const meta = this.meta;
    for (let i = 0; i < n; i++) {
      const base = i * GROUP_FIELDS;
      const id = meta[base] as number;
      const s = this.sockets.get(id >>> 1);
      if (s === undefined) continue;
      const kind = meta[base + 1];
      try {
        if (kind === GROUP_KIND.DATAGRAM) s.onDatagram((id & 1) === 1, this.slab, i * SLOT_BYTES, meta[base + 2] as number, meta[base + 3] as number, meta[base + 4] as number);
        else if (kind === GROUP_KIND.WRITABLE) s.onWritable();
        else if (kind === GROUP_KIND.ERROR) s.onError(meta[base + 2] as number);
        else if (kind === GROUP_KIND.PUMP) s.onPumpStopped();
        // TRUNCATED: longer than any TFTP packet; dropped.
      } catch (err) {
        // One transfer's failure must not cost the others in the batch their packets, nor the process.
        this.onGroupError(err as Error);
      }
    }
  }

  open(req: TransferSocketRequest): Promise<TransferSocket> {
    try {
      return Promise.resolve(this.openSync(req));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  private openSync(req: TransferSocketRequest): NativeTransferSocket {
    const net = this.net;
    const rejected: number[] = [];
    let fd = -1;
    let port = 0;
    try {
      for (let attempt = 0; attempt < PORT_ATTEMPTS && fd < 0; attempt++) {
        const candidate = net.openBoundSocket(req.host, 0, true, req.sendBufferBytes);
        const p = net.localPort(candidate);
        // With SO_REUSEADDR the kernel may pick a port another SO_REUSEADDR socket holds: ours must each have their own.
        if (req.portTaken(p)) rejected.push(candidate);
        else {
          fd = candidate;
          port = p;
        }
      }
    } finally {
      for (const r of rejected) closeFd(r);
    }
    if (fd < 0) {
      // Only ports our transfers hold came back: one plain socket, which the kernel gives a port of its own.
      fd = net.openBoundSocket(req.host, 0, false, req.sendBufferBytes);
      return this.add(fd, undefined, false, net.localPort(fd), req);
    }
    let stranger: number | undefined;
    try {
      stranger = net.openBoundSocket(req.host, port, true, 0);
      net.connectSocket(fd, req.clientIp, req.clientPort);
    } catch {
      if (stranger !== undefined) closeFd(stranger);
      return this.add(fd, undefined, false, port, req);
    }
    return this.add(fd, stranger, true, port, req);
  }

  private add(fd: number, stranger: number | undefined, connected: boolean, port: number, req: TransferSocketRequest): NativeTransferSocket {
    this.stopping = false;
    const key = this.nextKey;
    this.nextKey = this.nextKey >= 0x7fffffff ? 1 : this.nextKey + 1;
    const s = new NativeTransferSocket(this, key, fd, stranger, connected, port, req);
    const group = this.group();
    try {
      this.net.groupAdd(group, fd, key * 2);
      if (stranger !== undefined) this.net.groupAdd(group, stranger, key * 2 + 1);
    } catch (err) {
      closeFd(fd);
      if (stranger !== undefined) closeFd(stranger);
      throw err;
    }
    this.sockets.set(key, s);
    return s;
  }

  /** Takes a closing socket out of the group (its descriptors are closed next). */
  release(s: NativeTransferSocket): void {
    this.sockets.delete(s.key);
    if (this.handle !== undefined) for (const fd of s.fds) this.net.groupRemove(this.handle, fd);
    if (this.stopping) this.stop();
  }

  /** Stops the group once no socket is left (the server closes its transfers first; a draining one keeps it until it closes). */
  stop(): void {
    this.stopping = true;
    if (this.handle !== undefined && this.sockets.size === 0) {
      this.net.stopGroup(this.handle);
      this.handle = undefined;
    }
  }
}

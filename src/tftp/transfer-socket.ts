import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { PumpState } from './session.js';

/**
 * A transfer's own port (its TID, RFC 1350 §4), which talks to one client.
 * Two implementations: the addon's (native-socket.ts: IPv4, read through one
 * epoll set for all transfers, sent with send/sendmmsg) and dgram's (below:
 * IPv6, or where the addon cannot serve).
 */
export interface TransferSocket {
  readonly port: number;
  /** Connected to the client: the kernel passes it only the client's packets and sends without an address lookup. */
  readonly connected: boolean;
  /**
   * Sends packets[0..count) to the client, in order. Returns how many are no
   * longer held (sent, or refused by the network and dropped: the session's
   * timer resends), a prefix; the rest wait in a queue for the socket to be
   * writable and are reported to onSent when they leave.
   */
  send(packets: readonly Buffer[], count: number): number;
  /** Closes once queued sends have left (closing would drop a final ERROR), or after DRAIN_WAIT_MS. */
  close(): void;
  /**
   * Only the addon's connected sockets: answers the client's in-order ACKs
   * of a lock-step read below JS (native-socket.ts). False when it cannot now
   * (not connected, sends queued, closing). Until collectPump(true) or
   * handlers.onPumpStopped, the session's state lags behind the wire.
   */
  pump?(p: PumpRequest): boolean;
  /** What the pump did since armed or last collected (PumpReport is reused); `disarm` stops it. */
  collectPump?(disarm: boolean): PumpReport;
}

/** A lock-step read's steady state, handed to a socket's pump (ReadSession.pumpable()). */
export type PumpRequest = PumpState;

export interface PumpReport {
  /** In-order ACKs answered, each with the next block. */
  steps: number;
  /** ms since the pump's last send. */
  sinceLastSendMs: number;
  /** Round trip of the last ACK timed (ms), undefined when none. */
  rttMs: number | undefined;
  /** The last block it answered with did not leave (-errno of the failed send, 0 when it did). */
  unsentErrno: number;
}

export interface TransferSocketHandlers {
  /** A datagram from the client: buf[offset, offset + length), valid during the call only. */
  onPacket(buf: Buffer, offset: number, length: number): void;
  /**
   * A datagram from anyone else (RFC 1350 §4's unknown TID) with its opcode
   * (undefined when it has none): true answers it with the stranger reply
   * from the transfer's port, without disturbing the transfer.
   */
  onStranger(opcode: number | undefined): boolean;
  /** A queued packet has left: its buffer may be reused. */
  onSent(packet: Buffer): void;
  onError(err: NodeJS.ErrnoException): void;
  /** The pump stopped (a packet that is not its own follows, or its send failed): collect it now. */
  onPumpStopped?(): void;
}

export interface TransferSocketRequest {
  /** The address the request socket is bound to; the transfer's port is opened on it. */
  readonly host: string;
  readonly clientIp: string;
  readonly clientPort: number;
  /** SO_SNDBUF to ask for: a window must fit. */
  readonly sendBufferBytes: number;
  /** What a stranger is answered with (ERROR 5). */
  readonly strangerReply: Buffer;
  /** Whether another running transfer holds `port` (SO_REUSEADDR lets the kernel hand it out twice). */
  readonly portTaken: (port: number) => boolean;
  readonly handlers: TransferSocketHandlers;
}

/** Opens transfer sockets; stop() once no transfer uses them any more. */
export interface TransferSocketFactory {
  open(req: TransferSocketRequest): Promise<TransferSocket>;
  stop(): void;
}

/** Binds tried before giving up on a port that no other transfer of ours holds. */
export const PORT_ATTEMPTS = 8;
/** How long a closing transfer waits for queued sends before closing anyway. */
export const DRAIN_WAIT_MS = 2000;

/** Binds a dgram socket (exclusive: not shared with cluster workers); rejects with the bind error. */
export function bindSocket(socket: Socket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    socket.once('error', onError);
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

function connectSocket(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.connect(port, address, (err?: Error) => (err === undefined || err === null ? resolve() : reject(err)));
  });
}

export function closeDgram(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // Already closed.
  }
}

/** Closes once the sends libuv still holds have left (closing drops them), or after DRAIN_WAIT_MS. */
function closeWhenDrained(socket: Socket, deadline = performance.now() + DRAIN_WAIT_MS): void {
  let queued: number;
  try {
    queued = socket.getSendQueueCount();
  } catch {
    return; // Closed already.
  }
  if (queued === 0 || performance.now() >= deadline) closeDgram(socket);
  else setTimeout(() => closeWhenDrained(socket, deadline), 5).unref();
}

/** A transfer socket on dgram. */
class DgramTransferSocket implements TransferSocket {
  /** Unconnected sends not yet handed to the kernel: closing the socket would cancel them. */
  private pendingSends = 0;
  private closing = false;

  constructor(
    private readonly socket: Socket,
    private readonly stranger: Socket | undefined,
    readonly connected: boolean,
    readonly port: number,
    private readonly req: TransferSocketRequest,
  ) {
    const h = req.handlers;
    socket.on('message', (msg, from) => this.onMessage(msg, from));
    socket.on('error', (err) => h.onError(err));
    stranger?.on('message', (msg, from) => this.answer(msg, from));
    stranger?.on('error', (err) => h.onError(err));
  }

  private onMessage(msg: Buffer, from: RemoteInfo): void {
    // Connected, the kernel passes only the client's packets; one may still have queued before connect().
    if (from.port !== this.req.clientPort || from.address !== this.req.clientIp) this.answer(msg, from);
    else this.req.handlers.onPacket(msg, 0, msg.length);
  }

  private answer(msg: Buffer, from: RemoteInfo): void {
    const opcode = msg.length >= 2 && msg[0] === 0 ? msg[1] : undefined;
    if (this.closing || !this.req.handlers.onStranger(opcode)) return;
    (this.stranger ?? this.socket).send(this.req.strangerReply, from.port, from.address, () => undefined);
  }

  send(packets: readonly Buffer[], count: number): number {
    if (this.connected) {
      // Connected: no address to resolve, so dgram sends at once, without a callback or a tick. When
      // libuv queued nothing the kernel has the packet and its buffer is free; a queued one stays held
      // (its session fills a fresh buffer for that slot).
      let free = 0;
      for (let i = 0; i < count; i++) {
        this.socket.send(packets[i] as Buffer);
        if (free === i && this.socket.getSendQueueCount() === 0) free++;
      }
      return free;
    }
    const h = this.req.handlers;
    for (let i = 0; i < count; i++) {
      const packet = packets[i] as Buffer;
      this.pendingSends++;
      this.socket.send(packet, this.req.clientPort, this.req.clientIp, (err) => {
        this.pendingSends--;
        h.onSent(packet);
        if (err !== null && err !== undefined && !this.closing) h.onError(err);
        if (this.closing && this.pendingSends === 0) closeDgram(this.socket);
      });
    }
    return 0;
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    if (this.stranger !== undefined) closeDgram(this.stranger);
    if (this.connected) closeWhenDrained(this.socket);
    else if (this.pendingSends === 0) closeDgram(this.socket);
  }
}

/**
 * dgram transfer sockets: one bound to the request address's port 0 and
 * connected to the client; strangers' packets, which a connected socket
 * would answer with ICMP, reach a second, unconnected socket on the same
 * address and port (SO_REUSEADDR on both; Linux prefers the connected one
 * for the client's packets). When the second socket cannot share the port,
 * one unconnected socket serves the transfer.
 */
export class DgramTransferSockets implements TransferSocketFactory {
  async open(req: TransferSocketRequest): Promise<TransferSocket> {
    const type = isIPv6(req.host) ? 'udp6' : 'udp4';
    const rejected: Socket[] = [];
    try {
      for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
        const socket = createSocket({ type, reuseAddr: true });
        try {
          await bindSocket(socket, req.host, 0);
        } catch (err) {
          closeDgram(socket);
          throw err;
        }
        const port = socket.address().port;
        // With SO_REUSEADDR the kernel may pick a port another SO_REUSEADDR socket holds: ours must each have their own.
        if (req.portTaken(port)) {
          rejected.push(socket);
          continue;
        }
        setSendBuffer(socket, req.sendBufferBytes);
        const stranger = createSocket({ type, reuseAddr: true });
        try {
          await bindSocket(stranger, req.host, port);
          await connectSocket(socket, req.clientPort, req.clientIp);
        } catch {
          closeDgram(stranger);
          return new DgramTransferSocket(socket, undefined, false, port, req);
        }
        return new DgramTransferSocket(socket, stranger, true, port, req);
      }
    } finally {
      for (const r of rejected) closeDgram(r);
    }
    // Only ports our transfers hold came back: one plain socket, which the kernel gives a port of its own.
    const socket = createSocket({ type });
    try {
      await bindSocket(socket, req.host, 0);
    } catch (err) {
      closeDgram(socket);
      throw err;
    }
    setSendBuffer(socket, req.sendBufferBytes);
    return new DgramTransferSocket(socket, undefined, false, socket.address().port, req);
  }

  stop(): void {
    // Each socket closes with its transfer.
  }
}

function setSendBuffer(socket: Socket, bytes: number): void {
  try {
    socket.setSendBufferSize(bytes);
  } catch {
    // Capped by net.core.wmem_max; a window then waits on the socket buffer.
  }
}

/**
 * TFTP transfer state machines, one per transfer: ReadSession is the sender
 * of an RRQ, WriteSession the receiver of a WRQ (RFC 1350, RFC 2347 OACK,
 * RFC 7440 windows). Pure: no sockets, timers, files or clock. Time comes in
 * as `now` (ms, any monotonic origin); packets go out as `send` actions the
 * shell puts on the wire; file bytes come through BlockSource / BlockSink.
 *
 * The shell's contract:
 * - call `start(now)` once, then `onAck`/`onData` for each packet from the
 *   transfer's TID, and `onTimeout(now)` when `now >= nextTimeoutAt` (an early
 *   call does nothing, so one coarse timer per server is enough);
 * - send every `send` packet in order; a `ReadSession` DATA packet is a view
 *   of a buffer the session reuses for later blocks, so pass it to
 *   `onSent(packet)` from the dgram send callback. The session never rewrites
 *   a buffer whose send is still pending; if `onSent` is never called it
 *   simply allocates a fresh buffer per block (correct, only slower);
 * - on `done` or `fail`, stop. A ReadSession that runs out of retries fails
 *   silently (RFC 1350 abandons the transfer; the peer is presumably gone and
 *   an ERROR to it would be lost too). Failures caused locally (read or write
 *   error, size cap, illegal packet) come with an ERROR packet to send first.
 */
import { BLKSIZE_MAX, BLOCK_MODULO, DATA_HEADER_SIZE, TftpErrorCode, WINDOWSIZE_SAFE_MAX } from './constants.js';
import { encodeAck, encodeError, encodeOack, writeDataHeader } from './codec.js';

/** File bytes for a read; `size` is known before the transfer starts. */
export interface BlockSource {
  readonly size: number;
  /**
   * Copies `length` bytes from file offset `offset` into `into` at `at` and
   * returns how many were copied. Fewer than asked (the file shrank) fails
   * the transfer. Synchronous: a cached Buffer or fs.readSync on an open fd.
   */
  read(offset: number, length: number, into: Buffer, at: number): number;
  /**
   * The same bytes for the socket layer's pump (native-socket.ts), which
   * reads them itself: the file's bytes in memory, or an open descriptor
   * (read with pread). Absent: the pump is not used.
   */
  readonly native?: Uint8Array | number | undefined;
}

/** What ReadSession.pumpable() hands the socket layer's pump (transfer-socket.ts). */
export interface PumpState {
  /** The file: its bytes, or an open descriptor (kept open while the pump runs). */
  readonly source: Uint8Array | number;
  readonly size: number;
  readonly blksize: number;
  readonly lastBlock: number;
  /** The last block on the wire (logical number); every block before it is acknowledged. */
  readonly sent: number;
  /** Block `sent` left once: its ACK's round trip may be sampled (Karn). */
  readonly sampleFirst: boolean;
  /** When block `sent` left (the session's clock): its ACK's round trip runs from then, not from when the pump is armed. Absent: now. */
  readonly sentAt?: number | undefined;
}

/** Where a write's bytes go, in order, each exactly once. `data` is only valid during the call. */
export interface BlockSink {
  write(data: Uint8Array): void;
}

export type FailReason =
  | 'timeout' // retries exhausted
  | 'peer_error' // the peer sent ERROR
  | 'read_error' // BlockSource threw or came up short
  | 'write_error' // BlockSink threw
  | 'too_large' // a write went past maxBytes
  | 'illegal_operation'; // the peer sent a DATA larger than blksize

export type SessionAction =
  | { readonly kind: 'send'; readonly packet: Buffer }
  | { readonly kind: 'done' }
  | { readonly kind: 'fail'; readonly reason: FailReason; readonly cause?: unknown };

/** Retransmission timing shared by both directions. */
export interface TimingParams {
  /** The negotiated timeout (RFC 2349) in ms; undefined → adaptive, from measured RTT. */
  readonly timeoutMs?: number | undefined;
  /** Consecutive timeouts answered with a resend; the next one fails the transfer. */
  readonly maxRetries: number;
  /** The same while the OACK is unacknowledged (at most maxRetries); default maxRetries. */
  readonly maxOackRetries?: number | undefined;
  /** Adaptive bounds and the value before the first RTT sample; defaults 200, 5000, 1000 ms. */
  readonly minTimeoutMs?: number | undefined;
  readonly maxTimeoutMs?: number | undefined;
  readonly initialTimeoutMs?: number | undefined;
}

export interface ReadSessionParams extends TimingParams {
  readonly blksize: number;
  readonly windowsize: number;
  /**
   * The accepted options (negotiate().accepted). Non-empty → an OACK is sent
   * first and ACK 0 confirms it (RFC 2347); empty or absent → the transfer
   * starts with DATA 1.
   */
  readonly oack?: ReadonlyMap<string, string> | undefined;
}

export interface WriteSessionParams extends TimingParams {
  readonly blksize: number;
  readonly windowsize: number;
  /** As for ReadSessionParams; on a write DATA 1 confirms the OACK (RFC 2347). */
  readonly oack?: ReadonlyMap<string, string> | undefined;
  /** Upload cap in bytes; a DATA that would pass it is answered with ERROR 3. */
  readonly maxBytes?: number | undefined;
}

export type ReadState = 'oack-sent' | 'sending' | 'done' | 'failed';
export type WriteState = 'oack-sent' | 'receiving' | 'done' | 'failed';

export interface ReadStats {
  /** DATA payload bytes put on the wire, resends included. */
  bytesSent: number;
  /** DATA packets put on the wire, resends included. */
  blocksSent: number;
  /** DATA (and OACK) packets sent again: on timeout or after a partial-window ACK. */
  resends: number;
  /** Timeouts that led to a resend. */
  retries: number;
  /** ACKs ignored because their block was already acknowledged (never answered: RFC 1123 §4.2.3.1). */
  duplicateAcks: number;
  /** ACKs ignored because their block was never sent. */
  strayAcks: number;
  /** Smoothed RTT in ms, undefined until a sample (Karn: only from packets sent once). */
  srttMs: number | undefined;
}

export interface WriteStats {
  /** Payload bytes handed to the sink (each once). */
  bytesReceived: number;
  blocksReceived: number;
  /** DATA that was not the next expected block (duplicates and out of order). */
  strayBlocks: number;
  acksSent: number;
  retries: number;
  srttMs: number | undefined;
}

/** A BlockSource over bytes in memory (a cached file, a generated file, tests). */
export function bufferSource(data: Uint8Array): BlockSource {
  return {
    size: data.length,
    native: data,
    read(offset, length, into, at) {
      const end = Math.min(offset + length, data.length);
      if (end <= offset) return 0;
      into.set(data.subarray(offset, end), at);
      return end - offset;
    },
  };
}

/**
 * Retransmission timeout. With a negotiated timeout it is fixed; without one
 * it follows RFC 6298 (srtt + 4·rttvar, clamped), because on a LAN a 1 s
 * fixed timeout turns every lost packet into a second of stall.
 * Consecutive timeouts double it (up to max(base, maxTimeoutMs)).
 */
class RetransmitTimer {
  srtt: number | undefined;
  private rttvar = 0;
  private readonly fixed: number | undefined;
  private readonly min: number;
  private readonly max: number;
  private readonly initial: number;

  constructor(p: TimingParams) {
    this.fixed = p.timeoutMs;
    this.min = p.minTimeoutMs ?? 200;
    this.max = p.maxTimeoutMs ?? 5000;
    this.initial = p.initialTimeoutMs ?? 1000;
  }

  sample(rtt: number): void {
    const r = Math.max(0, rtt);
    if (this.srtt === undefined) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
  }

  private base(): number {
    if (this.fixed !== undefined) return this.fixed;
    if (this.srtt === undefined) return this.initial;
    return Math.min(Math.max(this.srtt + 4 * this.rttvar, this.min), this.max);
  }

  /** Whether the timeout rests on something: a negotiated value, or a measured round trip (not just the initial guess). */
  get settled(): boolean {
    return this.fixed !== undefined || this.srtt !== undefined;
  }

  /** The wait before timeout number `retries + 1`. */
  after(retries: number): number {
    const base = this.base();
    return Math.min(base * 2 ** retries, Math.max(base, this.max));
  }
}

/** One reusable DATA packet buffer of the send window. */
interface Slot {
  buf: Buffer;
  packet: Buffer;
  block: number;
  /** Sends handed to the shell and not yet confirmed by onSent. */
  pending: number;
  sentAt: number;
  resent: boolean;
}

class ShortReadError extends Error {}

/** Parameters come from negotiate() and configuration; out-of-range ones are a bug in the caller. */
function checkParams(p: { blksize: number; windowsize: number; maxRetries: number }): void {
  if (!Number.isInteger(p.blksize) || p.blksize < 1 || p.blksize > BLKSIZE_MAX) {
    throw new RangeError(`blksize ${p.blksize} is not in 1–${BLKSIZE_MAX}`);
  }
  // Past WINDOWSIZE_SAFE_MAX a stale ACK can pass for a new one (16-bit block numbers), so such a window is refused here too.
  if (!Number.isInteger(p.windowsize) || p.windowsize < 1 || p.windowsize > WINDOWSIZE_SAFE_MAX) {
    throw new RangeError(`windowsize ${p.windowsize} is not in 1–${WINDOWSIZE_SAFE_MAX}`);
  }
  if (!Number.isInteger(p.maxRetries) || p.maxRetries < 0) throw new RangeError(`maxRetries ${p.maxRetries} is not a count`);
}

/** Sender state machine for one RRQ. */
export class ReadSession {
  state: ReadState = 'sending';
  /** When the shell should call onTimeout; undefined once done or failed. */
  nextTimeoutAt: number | undefined;
  readonly stats: ReadStats = {
    bytesSent: 0,
    blocksSent: 0,
    resends: 0,
    retries: 0,
    duplicateAcks: 0,
    strayAcks: 0,
    srttMs: undefined,
  };

  private readonly source: BlockSource;
  private readonly blksize: number;
  private readonly windowsize: number;
  private readonly maxRetries: number;
  private readonly maxOackRetries: number;
  private readonly timer: RetransmitTimer;
  private readonly oack: Buffer | undefined;
  private oackSentAt = 0;
  private oackResent = false;
  /** Logical (unwrapped) number of the last DATA block: the short or empty one. */
  readonly lastBlock: number;
  private acked = 0;
  private sent = 0;
  private retries = 0;
  private readonly slots: (Slot | undefined)[];
  private readonly byBuffer = new Map<ArrayBufferLike, Slot>();

  constructor(source: BlockSource, params: ReadSessionParams) {
    checkParams(params);
    this.source = source;
    this.blksize = params.blksize;
    this.windowsize = params.windowsize;
    this.maxRetries = params.maxRetries;
    this.maxOackRetries = Math.min(params.maxOackRetries ?? params.maxRetries, params.maxRetries);
    this.timer = new RetransmitTimer(params);
    this.oack = params.oack !== undefined && params.oack.size > 0 ? encodeOack(params.oack) : undefined;
    // RFC 1350 §6: a block shorter than blksize ends the transfer, so a size
    // that is a multiple of blksize (0 included) needs a trailing empty block.
    this.lastBlock = Math.floor(source.size / this.blksize) + 1;
    this.slots = new Array<Slot | undefined>(this.windowsize);
  }

  /** Bytes the receiver has acknowledged. */
  get bytesAcked(): number {
    return this.acked >= this.lastBlock ? this.source.size : this.acked * this.blksize;
  }

  start(now: number): SessionAction[] {
    if (this.oack !== undefined) {
      this.state = 'oack-sent';
      this.oackSentAt = now;
      this.nextTimeoutAt = now + this.timer.after(0);
      return [{ kind: 'send', packet: this.oack }];
    }
    this.state = 'sending';
    return this.sendFrom(1, now);
  }

  onAck(block: number, now: number): SessionAction[] {
    if (this.state === 'oack-sent') {
      // RFC 2347: on a read, ACK 0 acknowledges the OACK.
      if (block !== 0) {
        this.stats.strayAcks++;
        return [];
      }
      if (!this.oackResent) this.sampleRtt(now - this.oackSentAt);
      this.state = 'sending';
      this.retries = 0;
      return this.sendFrom(1, now);
    }
    if (this.state !== 'sending') return [];
    const inFlight = this.sent - this.acked;
    const d = (block - (this.acked % BLOCK_MODULO) + BLOCK_MODULO) % BLOCK_MODULO;
    if (d === 0) {
      // RFC 1123 §4.2.3.1: a duplicate ACK must not cause a resend, or every
      // delayed packet doubles the traffic for the rest of the transfer
      // (Sorcerer's Apprentice). Only the timer resends.
      this.stats.duplicateAcks++;
      return [];
    }
    if (d > inFlight) {
      // Older than the last acknowledged block, or never sent.
      if (d > BLOCK_MODULO - this.windowsize - 1) this.stats.duplicateAcks++;
      else this.stats.strayAcks++;
      return [];
    }
    const ackedBlock = this.acked + d;
    const slot = this.slots[(ackedBlock - 1) % this.windowsize];
    if (slot !== undefined && slot.block === ackedBlock && !slot.resent) this.sampleRtt(now - slot.sentAt);
    this.acked = ackedBlock;
    this.retries = 0;
    if (ackedBlock >= this.lastBlock) {
      this.state = 'done';
      this.nextTimeoutAt = undefined;
      return [{ kind: 'done' }];
    }
    // RFC 7440 §4: an ACK inside the window says the receiver has everything
    // up to that block; the window slides to start right after it (the rest
    // of the old window is sent again, as tftp-hpa and atftp do).
    return this.sendFrom(ackedBlock + 1, now);
  }

  onTimeout(now: number): SessionAction[] {
    if (this.state !== 'sending' && this.state !== 'oack-sent') {
      this.nextTimeoutAt = undefined;
      return [];
    }
    if (this.nextTimeoutAt === undefined || now < this.nextTimeoutAt) return [];
    if (this.retries >= (this.state === 'oack-sent' ? this.maxOackRetries : this.maxRetries)) return this.fail('timeout');
    this.retries++;
    this.stats.retries++;
    if (this.state === 'oack-sent') {
      this.oackResent = true;
      this.stats.resends++;
      this.nextTimeoutAt = now + this.timer.after(this.retries);
      return [{ kind: 'send', packet: this.oack as Buffer }];
    }
    const actions = this.emitRange(this.acked + 1, this.sent, now);
    this.nextTimeoutAt = now + this.timer.after(this.retries);
    return actions;
  }

  /** The peer sent ERROR: the transfer ends (RFC 1350 §7), nothing is answered. */
  onError(): SessionAction[] {
    if (this.state === 'done' || this.state === 'failed') return [];
    return this.fail('peer_error');
  }

  /**
   * A lock-step read in its steady state (the last block sent is the only
   * one unacknowledged, and has left): what the socket layer needs to answer
   * the in-order ACKs itself, exactly as onAck would (see pumped). Undefined
   * when it cannot (a window, the OACK or the final block outstanding, a send
   * still queued, a source without `native`), or should not yet: an adaptive
   * timeout with no round trip measured. The pump's samples reach the session
   * only when collected (a timer, another packet), so a transfer pumped from
   * its first block would run on the initial timeout (1 s) for that long: a
   * lost block in a short transfer would wait that instead of about srtt.
   */
  pumpable(): PumpState | undefined {
    if (this.state !== 'sending' || this.windowsize !== 1 || this.source.native === undefined || !this.timer.settled) return undefined;
    if (this.sent >= this.lastBlock || this.acked !== this.sent - 1) return undefined;
    const slot = this.slots[0];
    if (slot === undefined || slot.block !== this.sent || slot.pending > 0) return undefined;
    return { source: this.source.native, size: this.source.size, blksize: this.blksize, lastBlock: this.lastBlock, sent: this.sent, sampleFirst: !slot.resent, sentAt: slot.sentAt };
  }

  /**
   * The socket layer answered `steps` in-order ACKs after pumpable(): for
   * each, what onAck does for the ACK of the last block sent, i.e. that
   * block acknowledged and the next one sent (never the final ACK, which
   * comes here). `lastSentAt`: when the last of them left; `rttMs`: the last
   * round trip it timed. `unsent`: the last block did not leave (its send
   * failed): the returned action sends it.
   */
  pumped(steps: number, lastSentAt: number, rttMs: number | undefined, unsent: boolean): SessionAction[] {
    if (steps <= 0 || this.state !== 'sending') return [];
    const before = this.sent;
    this.sent += steps;
    this.acked = this.sent - 1;
    this.retries = 0;
    this.stats.blocksSent += steps;
    this.stats.bytesSent += Math.min(this.sent * this.blksize, this.source.size) - Math.min(before * this.blksize, this.source.size);
    if (rttMs !== undefined) this.sampleRtt(rttMs);
    this.nextTimeoutAt = lastSentAt + this.timer.after(0);
    // The slot holds the last block sent, for a resend.
    let slot: Slot;
    try {
      slot = this.fill(this.sent);
    } catch (err) {
      return this.fail('read_error', err instanceof ShortReadError ? undefined : err);
    }
    slot.sentAt = lastSentAt;
    slot.resent = unsent;
    if (!unsent) return [];
    slot.pending++;
    return [{ kind: 'send', packet: slot.packet }];
  }

  /** The send of `packet` completed (dgram callback): its buffer may be reused. */
  onSent(packet: Buffer): void {
    const slot = this.byBuffer.get(packet.buffer);
    if (slot !== undefined && slot.pending > 0) slot.pending--;
  }

  private sampleRtt(rtt: number): void {
    this.timer.sample(rtt);
    this.stats.srttMs = this.timer.srtt;
  }

  private fail(reason: FailReason, cause?: unknown): SessionAction[] {
    this.state = 'failed';
    this.nextTimeoutAt = undefined;
    if (reason === 'read_error') {
      return [
        { kind: 'send', packet: encodeError(TftpErrorCode.NOT_DEFINED, 'read error') },
        { kind: 'fail', reason, cause },
      ];
    }
    return [{ kind: 'fail', reason }];
  }

  /** Sends the window that starts at `first` (new blocks filled, older ones resent). */
  private sendFrom(first: number, now: number): SessionAction[] {
    const last = Math.min(first + this.windowsize - 1, this.lastBlock);
    let actions: SessionAction[];
    try {
      actions = this.emitRange(first, last, now);
    } catch (err) {
      return this.fail('read_error', err instanceof ShortReadError ? undefined : err);
    }
    this.nextTimeoutAt = now + this.timer.after(0);
    return actions;
  }

  private emitRange(first: number, last: number, now: number): SessionAction[] {
    const actions: SessionAction[] = [];
    for (let b = first; b <= last; b++) {
      let slot: Slot;
      if (b > this.sent) {
        slot = this.fill(b);
        this.sent = b;
        slot.resent = false;
        slot.sentAt = now;
      } else {
        slot = this.slots[(b - 1) % this.windowsize] as Slot;
        slot.resent = true;
        this.stats.resends++;
      }
      slot.pending++;
      this.stats.blocksSent++;
      this.stats.bytesSent += slot.packet.length - DATA_HEADER_SIZE;
      actions.push({ kind: 'send', packet: slot.packet });
    }
    return actions;
  }

  /** Reads block `b` into its slot; the slot's previous block is acknowledged by now. */
  private fill(b: number): Slot {
    const index = (b - 1) % this.windowsize;
    let slot = this.slots[index];
    const size = DATA_HEADER_SIZE + this.blksize;
    if (slot === undefined || slot.pending > 0) {
      // A send of the old block may still be queued in libuv (socket buffer
      // full): dgram reads the buffer only when it really sends, so a pending
      // buffer is left alone and this slot gets a new one.
      if (slot !== undefined) this.byBuffer.delete(slot.buf.buffer);
      // allocUnsafeSlow: an ArrayBuffer of its own, so onSent can find the slot by it.
      const buf = Buffer.allocUnsafeSlow(size);
      slot = { buf, packet: buf, block: 0, pending: 0, sentAt: 0, resent: false };
      this.slots[index] = slot;
      this.byBuffer.set(buf.buffer, slot);
    }
    const offset = (b - 1) * this.blksize;
    const length = Math.max(0, Math.min(this.blksize, this.source.size - offset));
    if (length > 0) {
      const n = this.source.read(offset, length, slot.buf, DATA_HEADER_SIZE);
      if (n !== length) throw new ShortReadError();
    }
    writeDataHeader(slot.buf, b % BLOCK_MODULO);
    slot.block = b;
    slot.packet = length === this.blksize ? slot.buf : slot.buf.subarray(0, DATA_HEADER_SIZE + length);
    return slot;
  }
}

/** Receiver state machine for one WRQ. */
export class WriteSession {
  state: WriteState = 'receiving';
  nextTimeoutAt: number | undefined;
  readonly stats: WriteStats = {
    bytesReceived: 0,
    blocksReceived: 0,
    strayBlocks: 0,
    acksSent: 0,
    retries: 0,
    srttMs: undefined,
  };

  private readonly sink: BlockSink;
  private readonly blksize: number;
  private readonly windowsize: number;
  private readonly maxRetries: number;
  private readonly maxOackRetries: number;
  private readonly maxBytes: number;
  private readonly timer: RetransmitTimer;
  private readonly oack: Buffer | undefined;
  /** Logical number of the next block expected. */
  private next = 1;
  /** Blocks received in order since the last ACK. */
  private inWindow = 0;
  /** Non-expected blocks since the last progress. */
  private strays = 0;
  private retries = 0;
  /** What a timeout sends again: the OACK, or the ACK of the last in-order block. */
  private lastReply: Buffer | undefined;
  private lastReplyAt = 0;
  private lastReplyResent = false;
  private finalBlock16 = -1;

  constructor(sink: BlockSink, params: WriteSessionParams) {
    checkParams(params);
    this.sink = sink;
    this.blksize = params.blksize;
    this.windowsize = params.windowsize;
    this.maxRetries = params.maxRetries;
    this.maxOackRetries = Math.min(params.maxOackRetries ?? params.maxRetries, params.maxRetries);
    this.maxBytes = params.maxBytes ?? Number.POSITIVE_INFINITY;
    this.timer = new RetransmitTimer(params);
    this.oack = params.oack !== undefined && params.oack.size > 0 ? encodeOack(params.oack) : undefined;
  }

  /** Sends the OACK, or ACK 0 when no option was accepted (RFC 1350 §4). */
  start(now: number): SessionAction[] {
    if (this.oack !== undefined) {
      this.state = 'oack-sent';
      return [this.reply(this.oack, now)];
    }
    this.state = 'receiving';
    return [this.ack(0, now)];
  }

  onData(block: number, data: Uint8Array, now: number): SessionAction[] {
    if (this.state === 'failed') return [];
    if (this.state === 'done') {
      // The final ACK may have been lost: the client sends its last DATA
      // again, and RFC 1350 §6 has the receiver answer it while it dallies.
      if (block !== this.finalBlock16) return [];
      this.stats.acksSent++;
      return [{ kind: 'send', packet: encodeAck(block) }];
    }
    if (data.length > this.blksize) {
      return this.fail('illegal_operation', TftpErrorCode.ILLEGAL_OPERATION, 'block larger than blksize');
    }
    const expected16 = this.next % BLOCK_MODULO;
    if (block !== expected16) {
      this.stats.strayBlocks++;
      this.strays++;
      // RFC 7440 §4: on a gap or a duplicate the receiver ACKs the last block
      // it has in order, and the sender restarts the window after it. One ACK
      // per window's worth of strays: a resent window of 16 duplicates must
      // not draw 16 ACKs (with windowsize 1 this is RFC 1350's re-ACK).
      if ((this.strays - 1) % this.windowsize !== 0 || this.state === 'oack-sent') return [];
      this.inWindow = 0;
      return [this.ack((this.next - 1) % BLOCK_MODULO, now)];
    }
    // In order. On a write, DATA 1 is what acknowledges the OACK (RFC 2347).
    if (this.state === 'oack-sent' || (this.inWindow === 0 && this.lastReply !== undefined)) {
      if (!this.lastReplyResent) this.sampleRtt(now - this.lastReplyAt);
    }
    this.state = 'receiving';
    if (this.stats.bytesReceived + data.length > this.maxBytes) {
      return this.fail('too_large', TftpErrorCode.DISK_FULL, 'Disk full or allocation exceeded');
    }
    try {
      if (data.length > 0) this.sink.write(data);
    } catch (err) {
      return this.fail('write_error', TftpErrorCode.NOT_DEFINED, 'write error', err);
    }
    this.stats.bytesReceived += data.length;
    this.stats.blocksReceived++;
    this.next++;
    this.inWindow++;
    this.strays = 0;
    this.retries = 0;
    if (data.length < this.blksize) {
      this.state = 'done';
      this.finalBlock16 = block;
      const ack = this.ack(block, now);
      this.nextTimeoutAt = undefined;
      return [ack, { kind: 'done' }];
    }
    if (this.inWindow >= this.windowsize) {
      this.inWindow = 0;
      return [this.ack(block, now)];
    }
    // Mid-window: wait for the rest; the timer re-ACKs if it never comes.
    this.nextTimeoutAt = now + this.timer.after(0);
    return [];
  }

  onTimeout(now: number): SessionAction[] {
    if (this.state !== 'receiving' && this.state !== 'oack-sent') {
      this.nextTimeoutAt = undefined;
      return [];
    }
    if (this.nextTimeoutAt === undefined || now < this.nextTimeoutAt) return [];
    if (this.retries >= (this.state === 'oack-sent' ? this.maxOackRetries : this.maxRetries)) {
      this.state = 'failed';
      this.nextTimeoutAt = undefined;
      return [{ kind: 'fail', reason: 'timeout' }];
    }
    this.retries++;
    this.stats.retries++;
    this.inWindow = 0;
    const packet =
      this.state === 'oack-sent' ? (this.oack as Buffer) : encodeAck((this.next - 1) % BLOCK_MODULO);
    this.lastReply = packet;
    this.lastReplyAt = now;
    this.lastReplyResent = true;
    if (packet !== this.oack) this.stats.acksSent++;
    this.nextTimeoutAt = now + this.timer.after(this.retries);
    return [{ kind: 'send', packet }];
  }

  onError(): SessionAction[] {
    if (this.state === 'done' || this.state === 'failed') return [];
    this.state = 'failed';
    this.nextTimeoutAt = undefined;
    return [{ kind: 'fail', reason: 'peer_error' }];
  }

  private sampleRtt(rtt: number): void {
    this.timer.sample(rtt);
    this.stats.srttMs = this.timer.srtt;
  }

  private ack(block: number, now: number): SessionAction {
    this.stats.acksSent++;
    return this.reply(encodeAck(block), now);
  }

  private reply(packet: Buffer, now: number): SessionAction {
    this.lastReply = packet;
    this.lastReplyAt = now;
    this.lastReplyResent = false;
    this.nextTimeoutAt = now + this.timer.after(0);
    return { kind: 'send', packet };
  }

  private fail(reason: FailReason, code: number, message: string, cause?: unknown): SessionAction[] {
    this.state = 'failed';
    this.nextTimeoutAt = undefined;
    return [
      { kind: 'send', packet: encodeError(code, message) },
      { kind: 'fail', reason, cause },
    ];
  }
}

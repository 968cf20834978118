/**
 * A TFTP read client in plain Node (one UDP socket per transfer), for storms:
 * hundreds of transfers in one process, where hundreds of curl processes
 * would measure process start-up on a 2-core machine rather than the server.
 *
 * It is deliberately independent of src/tftp: a client that shared the
 * server's codec would share its mistakes. It speaks RFC 1350 (octet only),
 * RFC 2347 option negotiation, RFC 2348 blksize, RFC 2349 tsize and RFC 7440
 * windowsize, follows block numbers past 65535, locks onto the server's TID
 * and answers a stranger's packet with ERROR 5 as RFC 1350 §4 asks.
 */
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';

const OP_RRQ = 1;
const OP_DATA = 3;
const OP_ACK = 4;
const OP_ERROR = 5;
const OP_OACK = 6;
const ERR_UNKNOWN_TID = 5;
const ERR_OPTION_REFUSED = 8;

export interface RawGetOptions {
  readonly server: string;
  readonly port?: number;
  readonly file: string;
  /** Asked for in the RRQ; no options at all when blksize, windowsize and tsize are all absent. */
  readonly blksize?: number;
  readonly windowsize?: number;
  readonly tsize?: boolean;
  /** Wait before resending the last packet (default 1000 ms). */
  readonly retransmitMs?: number;
  /** Resends of one packet before giving up (default 5). */
  readonly retries?: number;
}

export interface RawGetResult {
  readonly ok: boolean;
  readonly bytes: number;
  readonly sha256: string;
  readonly blocks: number;
  /** Options the server acknowledged, names lower-cased; undefined when it answered with DATA (no OACK). */
  readonly oack: ReadonlyMap<string, string> | undefined;
  /** `TIMEOUT`, `PROTOCOL` (a packet that makes no sense) or `ERROR <code>: <text>` from the server. */
  readonly error: string | undefined;
  readonly retransmits: number;
  /** Packets from a port other than the server's TID (each answered with ERROR 5). */
  readonly strangerPackets: number;
  readonly startMs: number;
  readonly endMs: number;
}

export function encodeRrq(file: string, mode: string, options: ReadonlyMap<string, string>): Buffer {
  const parts = [Buffer.from([0, OP_RRQ]), Buffer.from(`${file}\0${mode}\0`, 'ascii')];
  for (const [k, v] of options) parts.push(Buffer.from(`${k}\0${v}\0`, 'ascii'));
  return Buffer.concat(parts);
}

function ack(block: number): Buffer {
  return Buffer.from([0, OP_ACK, (block >> 8) & 0xff, block & 0xff]);
}

function errorPacket(code: number, text: string): Buffer {
  return Buffer.concat([Buffer.from([0, OP_ERROR, 0, code]), Buffer.from(`${text}\0`, 'ascii')]);
}

/** NUL-terminated strings after the opcode; undefined when the last one is not terminated. */
function parseStrings(msg: Buffer, from: number): string[] | undefined {
  const out: string[] = [];
  let i = from;
  while (i < msg.length) {
    const nul = msg.indexOf(0, i);
    if (nul < 0) return undefined;
    out.push(msg.subarray(i, nul).toString('ascii'));
    i = nul + 1;
  }
  return out;
}

/** Downloads one file; never rejects (a socket error ends the transfer with `error` set). */
export function rawGet(o: RawGetOptions): Promise<RawGetResult> {
  return new Promise((resolve) => {
    const port = o.port ?? 69;
    const retransmitMs = o.retransmitMs ?? 1000;
    const maxRetries = o.retries ?? 5;
    const requested = new Map<string, string>();
    if (o.blksize !== undefined) requested.set('blksize', String(o.blksize));
    if (o.windowsize !== undefined) requested.set('windowsize', String(o.windowsize));
    if (o.tsize === true) requested.set('tsize', '0');
    const hash = createHash('sha256');
    const startMs = performance.now();
    let sock: Socket | undefined = createSocket('udp4');
    let tid: number | undefined;
    let blksize = 512;
    let windowsize = 1;
    let oack: Map<string, string> | undefined;
    /** Last block received in order, as the 16-bit number on the wire, and as an absolute count. */
    let lastBlock = 0;
    let blocks = 0;
    let bytes = 0;
    let inWindow = 0;
    let lastSent: Buffer = encodeRrq(o.file, 'octet', requested);
    let lastAcked = -1;
    let retries = 0;
    let retransmits = 0;
    let strangerPackets = 0;
    let timer: NodeJS.Timeout | undefined;
    let done = false;

    const finish = (error: string | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const s = sock;
      sock = undefined;
      // Closing at once could lose the final ACK still in the send queue; close on the next turn.
      setImmediate(() => s?.close());
      resolve({ ok: error === undefined, bytes, sha256: hash.digest('hex'), blocks, oack, error, retransmits, strangerPackets, startMs, endMs: performance.now() });
    };
    const send = (pkt: Buffer): void => {
      lastSent = pkt;
      sock?.send(pkt, tid ?? port, o.server);
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (done) return;
        if (retries >= maxRetries) return finish('TIMEOUT');
        retries++;
        retransmits++;
        sock?.send(lastSent, tid ?? port, o.server);
        arm();
      }, retransmitMs);
    };
    const sendAck = (block: number): void => {
      lastAcked = block;
      // The server starts a new window after the block acknowledged (RFC 7440 §4).
      inWindow = 0;
      send(ack(block));
    };

    const onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
      if (done) return;
      if (rinfo.address !== o.server) return;
      if (tid === undefined) tid = rinfo.port;
      else if (rinfo.port !== tid) {
        strangerPackets++;
        sock?.send(errorPacket(ERR_UNKNOWN_TID, 'Unknown transfer ID'), rinfo.port, rinfo.address);
        return;
      }
      if (msg.length < 4) return finish('PROTOCOL');
      const op = msg.readUInt16BE(0);
      if (op === OP_ERROR) {
        const text = msg.subarray(4, msg.indexOf(0, 4) < 0 ? msg.length : msg.indexOf(0, 4)).toString('ascii');
        return finish(`ERROR ${msg.readUInt16BE(2)}: ${text}`);
      }
      if (op === OP_OACK) {
        // An OACK is the answer to the RRQ only; one later is a stray duplicate (answered again with ACK 0).
        if (blocks > 0) return;
        if (requested.size === 0) {
          send(errorPacket(ERR_OPTION_REFUSED, 'no options were requested'));
          return finish('PROTOCOL');
        }
        const strs = parseStrings(msg, 2);
        if (strs === undefined || strs.length % 2 !== 0) return finish('PROTOCOL');
        oack = new Map();
        for (let i = 0; i < strs.length; i += 2) oack.set((strs[i] ?? '').toLowerCase(), strs[i + 1] ?? '');
        const b = Number(oack.get('blksize') ?? 512);
        const w = Number(oack.get('windowsize') ?? 1);
        // RFC 2347: the server may only lower what was asked, never raise it or add an option.
        for (const k of oack.keys()) if (!requested.has(k)) return finish('PROTOCOL');
        if (!(b >= 8 && b <= (o.blksize ?? 512)) || !(w >= 1 && w <= (o.windowsize ?? 1))) return finish('PROTOCOL');
        blksize = b;
        windowsize = w;
        retries = 0;
        sendAck(0);
        arm();
        return;
      }
      if (op !== OP_DATA) return finish('PROTOCOL');
      const block = msg.readUInt16BE(2);
      const expected = (lastBlock + 1) & 0xffff;
      if (block !== expected) {
        // A resent block we already have (our ACK was lost) or a gap in a window: say where we are (RFC 7440 §4).
        if (block === lastBlock || lastAcked !== lastBlock) sendAck(lastBlock);
        return;
      }
      const data = msg.subarray(4);
      if (data.length > blksize) return finish('PROTOCOL');
      hash.update(data);
      bytes += data.length;
      blocks++;
      lastBlock = block;
      inWindow++;
      retries = 0;
      if (data.length < blksize) {
        sendAck(block);
        return finish(undefined);
      }
      if (inWindow >= windowsize) sendAck(block);
      arm();
    };

    sock.on('message', onMessage);
    sock.on('error', (err) => finish(`SOCKET ${err.message}`));
    sock.bind(0, () => {
      if (done) return;
      send(lastSent);
      arm();
    });
  });
}

export interface StormOptions extends Omit<RawGetOptions, 'file'> {
  /** Files to fetch; client i fetches files[i % files.length]. */
  readonly files: readonly string[];
  readonly clients: number;
}

export interface StormSummary {
  readonly clients: number;
  readonly ok: number;
  readonly failed: number;
  /** How many transfers ended with each SHA-256 (failed ones included, with what they had). */
  readonly hashes: Record<string, number>;
  /** How many transfers failed with each error. */
  readonly errors: Record<string, number>;
  /** From the first RRQ to the last transfer's end. */
  readonly wallMs: number;
  /** Successful completions in each second since the start. */
  readonly completionsPerSecond: readonly number[];
  readonly durationMs: { readonly p50: number; readonly p95: number; readonly max: number };
  readonly retransmits: number;
  readonly strangerPackets: number;
  readonly bytes: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** Starts every transfer at once and waits for all of them. */
export async function runStorm(o: StormOptions): Promise<StormSummary> {
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: o.clients }, (_, i) => rawGet({ ...o, file: o.files[i % o.files.length] ?? '' })),
  );
  const end = Math.max(t0, ...results.map((r) => r.endMs));
  const hashes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const perSecond: number[] = [];
  for (const r of results) {
    hashes[r.sha256] = (hashes[r.sha256] ?? 0) + 1;
    if (r.error !== undefined) errors[r.error] = (errors[r.error] ?? 0) + 1;
    else {
      const s = Math.floor((r.endMs - t0) / 1000);
      while (perSecond.length <= s) perSecond.push(0);
      perSecond[s] = (perSecond[s] ?? 0) + 1;
    }
  }
  const durations = results.map((r) => r.endMs - r.startMs).sort((a, b) => a - b);
  const ok = results.filter((r) => r.ok).length;
  return {
    clients: o.clients,
    ok,
    failed: o.clients - ok,
    hashes,
    errors,
    wallMs: end - t0,
    completionsPerSecond: perSecond,
    durationMs: { p50: quantile(durations, 0.5), p95: quantile(durations, 0.95), max: durations[durations.length - 1] ?? 0 },
    retransmits: results.reduce((a, r) => a + r.retransmits, 0),
    strangerPackets: results.reduce((a, r) => a + r.strangerPackets, 0),
    bytes: results.reduce((a, r) => a + r.bytes, 0),
  };
}

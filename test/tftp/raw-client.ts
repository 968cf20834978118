/**
 * A raw TFTP client for loopback tests of the server shell. It builds and
 * parses packets by hand (not with src/tftp/codec.ts), so a codec mistake
 * cannot hide in both ends.
 */
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';

export interface Received {
  readonly msg: Buffer;
  readonly rinfo: RemoteInfo;
}

export type Parsed =
  | { op: 'DATA'; block: number; data: Buffer }
  | { op: 'ACK'; block: number }
  | { op: 'ERROR'; code: number; message: string }
  | { op: 'OACK'; options: Map<string, string> }
  | { op: 'OTHER'; opcode: number };

function strings(buf: Buffer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < buf.length) {
    const nul = buf.indexOf(0, i);
    if (nul < 0) break;
    out.push(buf.subarray(i, nul).toString('utf8'));
    i = nul + 1;
  }
  return out;
}

export function parse(msg: Buffer): Parsed {
  const opcode = msg.readUInt16BE(0);
  switch (opcode) {
    case 3:
      return { op: 'DATA', block: msg.readUInt16BE(2), data: Buffer.from(msg.subarray(4)) };
    case 4:
      return { op: 'ACK', block: msg.readUInt16BE(2) };
    case 5:
      return { op: 'ERROR', code: msg.readUInt16BE(2), message: strings(msg.subarray(4))[0] ?? '' };
    case 6: {
      const s = strings(msg.subarray(2));
      const options = new Map<string, string>();
      for (let i = 0; i + 1 < s.length; i += 2) options.set(s[i] as string, s[i + 1] as string);
      return { op: 'OACK', options };
    }
    default:
      return { op: 'OTHER', opcode };
  }
}

function request(opcode: number, name: string, mode: string, options: Record<string, string | number>): Buffer {
  const parts: Buffer[] = [Buffer.from([0, opcode]), Buffer.from(name, 'utf8'), Buffer.from([0]), Buffer.from(mode), Buffer.from([0])];
  for (const [k, v] of Object.entries(options)) parts.push(Buffer.from(k), Buffer.from([0]), Buffer.from(String(v)), Buffer.from([0]));
  return Buffer.concat(parts);
}

export function rrq(name: string, mode = 'octet', options: Record<string, string | number> = {}): Buffer {
  return request(1, name, mode, options);
}

export function wrq(name: string, mode = 'octet', options: Record<string, string | number> = {}): Buffer {
  return request(2, name, mode, options);
}

export function ack(block: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(4, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  return b;
}

export function data(block: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + payload.length);
  b.writeUInt16BE(3, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  b.set(payload, 4);
  return b;
}

export function errorPacket(code: number, message: string): Buffer {
  return Buffer.concat([Buffer.from([0, 5, code >> 8, code & 0xff]), Buffer.from(message), Buffer.from([0])]);
}

export class RawClient {
  private readonly queue: Received[] = [];
  private waiter: ((r: Received) => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('message', (msg, rinfo) => {
      const r = { msg, rinfo };
      const w = this.waiter;
      if (w !== undefined) {
        this.waiter = undefined;
        w(r);
      } else this.queue.push(r);
    });
  }

  /** A client socket on `address` (an IPv6 one makes a udp6 socket). */
  static async open(address = '127.0.0.1'): Promise<RawClient> {
    const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    return new RawClient(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(buf: Buffer, port: number, address = '127.0.0.1'): void {
    this.socket.send(buf, port, address);
  }

  /** The next packet, or a rejection after `timeoutMs`. */
  recv(timeoutMs = 3000): Promise<Received> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no packet within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
  }

  /** The next packet, parsed. */
  async next(timeoutMs = 3000): Promise<Parsed & { from: RemoteInfo; at: number }> {
    const r = await this.recv(timeoutMs);
    return { ...parse(r.msg), from: r.rinfo, at: performance.now() };
  }

  /** Resolves undefined when nothing arrives within `ms`, or the packet that did. */
  async quiet(ms: number): Promise<Parsed | undefined> {
    try {
      return parse((await this.recv(ms)).msg);
    } catch {
      return undefined;
    }
  }

  /** Closes after queued sends have left (closing cancels them). */
  async close(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    this.socket.close();
  }
}

export interface DownloadResult {
  readonly data: Buffer;
  readonly oack: Map<string, string> | undefined;
  /** The server's transfer port. */
  readonly tid: number;
  readonly blocks: number;
  readonly error?: { code: number; message: string };
}

/**
 * Reads a file: ACK 0 after an OACK, one ACK per window (windowsize from the
 * OACK), block numbers followed past 65535. An ERROR ends it with `error`.
 */
export async function download(
  serverPort: number,
  name: string,
  opts: { mode?: string; options?: Record<string, string | number> } = {},
): Promise<DownloadResult> {
  const c = await RawClient.open();
  try {
    c.send(rrq(name, opts.mode ?? 'octet', opts.options ?? {}), serverPort);
    let first = await c.next();
    const tid = first.from.port;
    let oack: Map<string, string> | undefined;
    if (first.op === 'ERROR') return { data: Buffer.alloc(0), oack, tid, blocks: 0, error: { code: first.code, message: first.message } };
    let blksize = 512;
    let windowsize = 1;
    if (first.op === 'OACK') {
      oack = first.options;
      blksize = Number(oack.get('blksize') ?? 512);
      windowsize = Number(oack.get('windowsize') ?? 1);
      c.send(ack(0), tid);
      first = await c.next();
    }
    const chunks: Buffer[] = [];
    let expected = 1;
    let inWindow = 0;
    let p: typeof first = first;
    for (;;) {
      if (p.op === 'ERROR') return { data: Buffer.concat(chunks), oack, tid, blocks: expected - 1, error: { code: p.code, message: p.message } };
      if (p.op !== 'DATA') throw new Error(`unexpected ${p.op}`);
      if (p.from.port !== tid) throw new Error('DATA from another port');
      if (p.block === (expected & 0xffff)) {
        chunks.push(p.data);
        expected++;
        inWindow++;
        const last = p.data.length < blksize;
        if (last || inWindow === windowsize) {
          c.send(ack(p.block), tid);
          inWindow = 0;
        }
        if (last) return { data: Buffer.concat(chunks), oack, tid, blocks: expected - 1 };
      }
      p = await c.next();
    }
  } finally {
    await c.close();
  }
}

/**
 * A scriptable raw DHCP peer for end-to-end tests: it sends any DhcpPacket
 * (or any bytes at all) from inside a namespace of a test topology and
 * collects every datagram that comes back, with its source address.
 *
 * Bound to port 68 it is a client (several, by chaddr); bound to port 67 it
 * is a relay agent that sets giaddr and receives the server's replies at
 * giaddr:67. The socket lives in raw-dhcp-agent.ts, spawned in the
 * namespace; this side only encodes, decodes and waits.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { decodePacket, encodePacket, messageTypeOf } from '../../src/dhcp/codec.js';
import { FLAG_BROADCAST, MESSAGE_TYPE_NAMES, MessageType, Opt } from '../../src/dhcp/constants.js';
import type { DhcpPacket } from '../../src/dhcp/packet.js';
import { formatIpv4, parseIpv4 } from '../../src/net/ipv4.js';
import { nodeArgsFor } from './netns.js';
import type { Topology } from './netns.js';

const agentUrl = new URL(`./raw-dhcp-agent.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

/** One datagram received by the agent. `packet` is undefined when the bytes do not decode. */
export interface RawReply {
  readonly bytes: Buffer;
  readonly packet: DhcpPacket | undefined;
  readonly fromIp: string;
  readonly fromPort: number;
  /** Date.now() when this side read it. */
  readonly at: number;
}

export type OptionInput = Uint8Array | readonly number[] | string;

export interface ClientPacketSpec {
  /** Option 53; omit to send a packet without a message type. */
  readonly type?: number;
  /** Hardware address, `aa:bb:cc:dd:ee:ff`. */
  readonly mac: string;
  /** Random when absent. */
  readonly xid?: number;
  readonly ciaddr?: string;
  readonly giaddr?: string;
  readonly hops?: number;
  readonly secs?: number;
  /** Sets the broadcast flag (default true: replies then reach the agent whatever chaddr is). */
  readonly broadcast?: boolean;
  readonly sname?: string;
  readonly file?: string;
  /** In this order after 53; a string is latin1, an array is octets. */
  readonly options?: ReadonlyArray<readonly [number, OptionInput]>;
}

/** Option value builders. */
export const ov = {
  ip: (...ips: string[]): Uint8Array => {
    const out = new Uint8Array(4 * ips.length);
    ips.forEach((s, i) => {
      const n = parseIpv4(s);
      if (n === undefined) throw new Error(`bad address ${s}`);
      out.set([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff], 4 * i);
    });
    return out;
  },
  u16: (n: number): Uint8Array => Uint8Array.of(n >>> 8, n & 0xff),
  u32: (n: number): Uint8Array => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff),
  text: (s: string): Uint8Array => Buffer.from(s, 'latin1'),
  /** One relay agent sub-option (RFC 3046 §2.0): code, length, value. */
  sub: (code: number, value: OptionInput): Uint8Array => {
    const v = toBytes(value);
    return Uint8Array.of(code, v.length, ...v);
  },
  concat: (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts)),
};

function toBytes(v: OptionInput): Uint8Array {
  if (typeof v === 'string') return Buffer.from(v, 'latin1');
  return v instanceof Uint8Array ? v : Uint8Array.from(v);
}

export function macBytes(mac: string): Uint8Array {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`bad MAC ${mac}`);
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

function ipOrZero(s: string | undefined): number {
  if (s === undefined) return 0;
  const n = parseIpv4(s);
  if (n === undefined) throw new Error(`bad address ${s}`);
  return n;
}

export function randomXid(): number {
  return (Math.random() * 0xffffffff) >>> 0;
}

/** A BOOTREQUEST as a client (or, with giaddr, a relay) sends it. */
export function clientPacket(spec: ClientPacketSpec): DhcpPacket {
  const chaddr = new Uint8Array(16);
  chaddr.set(macBytes(spec.mac));
  const options = new Map<number, Uint8Array>();
  if (spec.type !== undefined) options.set(Opt.MESSAGE_TYPE, Uint8Array.of(spec.type));
  for (const [code, value] of spec.options ?? []) options.set(code, toBytes(value));
  return {
    op: 1,
    htype: 1,
    hlen: 6,
    hops: spec.hops ?? 0,
    xid: spec.xid ?? randomXid(),
    secs: spec.secs ?? 0,
    flags: spec.broadcast === false ? 0 : FLAG_BROADCAST,
    ciaddr: ipOrZero(spec.ciaddr),
    yiaddr: 0,
    siaddr: 0,
    giaddr: ipOrZero(spec.giaddr),
    chaddr,
    sname: spec.sname ?? '',
    file: spec.file ?? '',
    options,
  };
}

/** What tests assert on, read from a reply. */
export interface ReplyView {
  readonly type: string;
  readonly xid: number;
  readonly yiaddr: string;
  readonly siaddr: string;
  readonly giaddr: string;
  readonly ciaddr: string;
  readonly file: string;
  readonly sname: string;
  readonly serverId: string | undefined;
  readonly leaseTime: number | undefined;
  readonly subnetMask: string | undefined;
  readonly routers: string[];
  readonly dns: string[];
  readonly hostname: string | undefined;
  readonly domain: string | undefined;
  readonly bootFileOption: string | undefined;
  readonly tftpServerOption: string | undefined;
  readonly message: string | undefined;
  readonly options: ReadonlyMap<number, Uint8Array>;
}

function ipList(v: Uint8Array | undefined): string[] {
  if (v === undefined) return [];
  const out: string[] = [];
  for (let i = 0; i + 4 <= v.length; i += 4) out.push(formatIpv4(Buffer.from(v).readUInt32BE(i)));
  return out;
}

function textOf(v: Uint8Array | undefined): string | undefined {
  return v === undefined ? undefined : Buffer.from(v).toString('latin1');
}

export function viewReply(p: DhcpPacket): ReplyView {
  const o = p.options;
  const lt = o.get(Opt.LEASE_TIME);
  const t = messageTypeOf(p);
  return {
    type: (t !== undefined ? MESSAGE_TYPE_NAMES.get(t) : undefined) ?? `type ${String(t)}`,
    xid: p.xid,
    yiaddr: formatIpv4(p.yiaddr),
    siaddr: formatIpv4(p.siaddr),
    giaddr: formatIpv4(p.giaddr),
    ciaddr: formatIpv4(p.ciaddr),
    file: p.file,
    sname: p.sname,
    serverId: ipList(o.get(Opt.SERVER_ID))[0],
    leaseTime: lt !== undefined && lt.length === 4 ? Buffer.from(lt).readUInt32BE(0) : undefined,
    subnetMask: ipList(o.get(Opt.SUBNET_MASK))[0],
    routers: ipList(o.get(Opt.ROUTERS)),
    dns: ipList(o.get(Opt.DNS_SERVERS)),
    hostname: textOf(o.get(Opt.HOSTNAME)),
    domain: textOf(o.get(Opt.DOMAIN_NAME)),
    bootFileOption: textOf(o.get(Opt.BOOTFILE_NAME)),
    tftpServerOption: textOf(o.get(Opt.TFTP_SERVER_NAME)),
    message: textOf(o.get(Opt.MESSAGE)),
    options: o,
  };
}

/** A one-line description of a reply, for assertion messages. */
export function describeReply(r: RawReply | undefined): string {
  if (r === undefined) return 'no reply';
  if (r.packet === undefined) return `${r.bytes.length} undecodable octets from ${r.fromIp}:${r.fromPort}`;
  const v = viewReply(r.packet);
  const opts = [...v.options].map(([c, b]) => `${c}=${Buffer.from(b).toString('hex')}`).join(' ');
  return `${v.type} from ${r.fromIp}:${r.fromPort} xid=${v.xid.toString(16)} yiaddr=${v.yiaddr} siaddr=${v.siaddr} giaddr=${v.giaddr} file=${JSON.stringify(v.file)} ${opts}`;
}

export interface SendTarget {
  /** Default 255.255.255.255. */
  readonly ip?: string;
  /** Default 67. */
  readonly port?: number;
}

export interface ExchangeOptions extends SendTarget {
  /** Message types that end the wait (default OFFER, ACK and NAK). */
  readonly want?: readonly number[];
  /** Per attempt (default 1500 ms). */
  readonly timeoutMs?: number;
  /** Attempts, the packet re-sent each time as a client would (default 3). */
  readonly attempts?: number;
}

export interface RawClientOptions {
  /** 68 (a client, default) or 67 (a relay agent). */
  readonly port?: number;
}

export class RawDhcpClient {
  /** Every datagram received so far, in order. */
  readonly received: RawReply[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly sends = new Map<number, (error: string | undefined) => void>();
  private nextId = 1;
  private stderr = '';
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly ns: string,
    readonly iface: string,
  ) {}

  /** Starts the agent in `ns` on `iface` and waits until its socket is bound. */
  static async start(topo: Topology, ns: string, iface: string, opts: RawClientOptions = {}): Promise<RawDhcpClient> {
    const port = opts.port ?? 68;
    const child = topo.spawn(ns, process.execPath, [...nodeArgsFor(agentUrl), iface, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const client = new RawDhcpClient(child, ns, iface);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`raw DHCP agent in ${ns} on ${iface}:${port} not ready in 20 s:\n${client.stderr}`)), 20_000);
      child.stderr?.on('data', (d: Buffer) => {
        client.stderr += d.toString();
      });
      child.once('exit', (code) => {
        client.exited = true;
        clearTimeout(timer);
        reject(new Error(`raw DHCP agent in ${ns} on ${iface}:${port} exited (${code}):\n${client.stderr}`));
      });
      if (child.stdout === null) throw new Error('agent has no stdout');
      createInterface({ input: child.stdout }).on('line', (line) => {
        let ev: Record<string, unknown>;
        try {
          ev = JSON.parse(line) as Record<string, unknown>;
        } catch {
          client.stderr += `${line}\n`;
          return;
        }
        if (ev.ev === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (ev.ev === 'error') {
          client.stderr += `${String(ev.code)}: ${String(ev.message)}\n`;
        } else if (ev.ev === 'sent') {
          const done = client.sends.get(ev.id as number);
          client.sends.delete(ev.id as number);
          done?.(ev.error as string | undefined);
        } else if (ev.ev === 'packet') {
          client.onPacket(Buffer.from(ev.data as string, 'hex'), ev.ip as string, ev.port as number);
        }
      });
    });
    return client;
  }

  private onPacket(bytes: Buffer, fromIp: string, fromPort: number): void {
    let packet: DhcpPacket | undefined;
    try {
      packet = decodePacket(bytes);
    } catch {
      packet = undefined;
    }
    this.received.push({ bytes, packet, fromIp, fromPort, at: Date.now() });
    for (const w of [...this.waiters]) w();
  }

  /** Sends a packet (encoded here) or raw bytes; resolves once the kernel took it, rejects with the send error. */
  send(what: DhcpPacket | Uint8Array, to: SendTarget = {}): Promise<void> {
    if (this.exited) return Promise.reject(new Error(`raw DHCP agent in ${this.ns} has exited:\n${this.stderr}`));
    const bytes = what instanceof Uint8Array ? Buffer.from(what) : encodePacket(what);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.sends.set(id, (error) => (error === undefined ? resolve() : reject(new Error(`send from ${this.ns}: ${error}`))));
      this.child.stdin?.write(`${JSON.stringify({ id, ip: to.ip ?? '255.255.255.255', port: to.port ?? 67, data: bytes.toString('hex') })}\n`);
    });
  }

  /** The first datagram received from `since` on (an index into `received`) that matches, or undefined after `timeoutMs`. */
  waitFor(match: (r: RawReply) => boolean, timeoutMs: number, since = 0): Promise<RawReply | undefined> {
    const find = (): RawReply | undefined => this.received.slice(since).find(match);
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => {
      const w = (): void => {
        const r = find();
        if (r === undefined) return;
        this.waiters.delete(w);
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  /** Datagrams received from `since` on during `ms` milliseconds (to prove silence). */
  async collect(ms: number, since = this.received.length): Promise<RawReply[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.received.slice(since);
  }

  /**
   * Sends `p` and waits for a BOOTREPLY with its xid and one of the wanted
   * message types, re-sending on each timeout as a client would; undefined
   * when none came.
   */
  async exchange(p: DhcpPacket, opts: ExchangeOptions = {}): Promise<RawReply | undefined> {
    const want = opts.want ?? [MessageType.OFFER, MessageType.ACK, MessageType.NAK];
    const attempts = opts.attempts ?? 3;
    const since = this.received.length;
    for (let i = 0; i < attempts; i++) {
      await this.send(p, opts);
      const r = await this.waitFor(
        (x) => x.packet !== undefined && x.packet.op === 2 && x.packet.xid === p.xid && want.includes(messageTypeOf(x.packet) ?? -1),
        opts.timeoutMs ?? 1500,
        since,
      );
      if (r !== undefined) return r;
    }
    return undefined;
  }

  /**
   * DISCOVER → OFFER → REQUEST (SELECTING) → ACK for one client, broadcast
   * as a client without an address does. Rejects, with what came back, when
   * a step gets no OFFER or ACK.
   */
  async dora(mac: string, extra: ReadonlyArray<readonly [number, OptionInput]> = [], opts: ExchangeOptions = {}): Promise<{ offer: RawReply; ack: RawReply; ip: string }> {
    const xid = randomXid();
    const discover = clientPacket({ type: MessageType.DISCOVER, mac, xid, options: [[Opt.PARAMETER_REQUEST_LIST, [1, 3, 6, 12, 15, 51, 54]], ...extra] });
    const offer = await this.exchange(discover, { ...opts, want: [MessageType.OFFER] });
    if (offer?.packet === undefined) throw new Error(`${mac}: no OFFER`);
    const view = viewReply(offer.packet);
    if (view.serverId === undefined) throw new Error(`${mac}: OFFER without server id: ${describeReply(offer)}`);
    const request = clientPacket({
      type: MessageType.REQUEST,
      mac,
      xid,
      options: [[Opt.REQUESTED_IP, ov.ip(view.yiaddr)], [Opt.SERVER_ID, ov.ip(view.serverId)], [Opt.PARAMETER_REQUEST_LIST, [1, 3, 6, 12, 15, 51, 54]], ...extra],
    });
    const ack = await this.exchange(request, { ...opts, want: [MessageType.ACK, MessageType.NAK] });
    if (ack?.packet === undefined || messageTypeOf(ack.packet) !== MessageType.ACK) throw new Error(`${mac}: REQUEST for ${view.yiaddr} got ${describeReply(ack)}`);
    return { offer, ack, ip: viewReply(ack.packet).yiaddr };
  }

  /** Stops the agent (closing its stdin ends it; SIGKILL if it lingers). */
  async close(): Promise<void> {
    if (this.exited || this.child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.stdin?.end();
    });
  }
}

import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { loadNative } from '../net/native.js';
import { formatIpv4 } from '../net/ipv4.js';
import { decodePacket, encodePacket, messageTypeOf } from './codec.js';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, FLAG_BROADCAST, MessageType, Opt } from './constants.js';
import type { DhcpPacket } from './packet.js';

/** A lease a simulated client obtained. */
export interface SimulatedLease {
  readonly mac: string;
  readonly ip: string;
  readonly serverId: string;
  readonly leaseTime: number;
  readonly ms: number;
}

export interface SimulateOptions {
  readonly iface: string;
  readonly clients: number;
  /** First MAC; client i gets this + i. */
  readonly macBase?: readonly number[];
  readonly concurrency?: number;
  readonly timeoutMs?: number;
  readonly onLease?: (lease: SimulatedLease) => void;
  readonly onFailure?: (mac: string, why: string) => void;
}

function macOf(base: readonly number[], i: number): Uint8Array {
  const m = Uint8Array.from(base.slice(0, 6));
  let carry = i;
  for (let b = 5; b >= 0 && carry > 0; b--) {
    const v = (m[b] ?? 0) + carry;
    m[b] = v & 0xff;
    carry = v >>> 8;
  }
  return m;
}

function hex(mac: Uint8Array): string {
  return [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function request(type: number, xid: number, mac: Uint8Array, extra: [number, Uint8Array][]): Buffer {
  const chaddr = new Uint8Array(16);
  chaddr.set(mac);
  const options = new Map<number, Uint8Array>([[Opt.MESSAGE_TYPE, Uint8Array.of(type)]]);
  for (const [code, value] of extra) options.set(code, value);
  options.set(Opt.PARAMETER_REQUEST_LIST, Uint8Array.of(1, 3, 6, 15, 51, 54));
  const p: DhcpPacket = {
    op: 1, htype: 1, hlen: 6, hops: 0, xid, secs: 0, flags: FLAG_BROADCAST,
    ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr, sname: '', file: '', options,
  };
  return encodePacket(p);
}

function ip4(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/**
 * A DHCP client simulator: many clients with distinct MACs doing the
 * DISCOVER/OFFER/REQUEST/ACK exchange through one socket bound to `iface`
 * (broadcast flag set, so replies come back to port 68 whatever the MAC).
 * It is what `dcplane demo` and `dcplane dhcp simulate` run; it sends only on
 * the interface it is given.
 */
export async function simulateClients(opts: SimulateOptions): Promise<SimulatedLease[]> {
  const fd = loadNative().openUdpSocket(opts.iface, DHCP_CLIENT_PORT);
  const socket: Socket = createSocket({ type: 'udp4' });
  await new Promise<void>((resolve) => socket.bind({ fd }, resolve));
  socket.setBroadcast(true);
  const waiting = new Map<number, (p: DhcpPacket) => void>();
  socket.on('message', (msg) => {
    try {
      const p = decodePacket(msg);
      if (p.op === 2) waiting.get(p.xid)?.(p);
    } catch {
      // Not a reply we can read: ignore, as a client would.
    }
  });
  const send = (buf: Buffer): void => {
    socket.send(buf, DHCP_SERVER_PORT, '255.255.255.255');
  };
  const base = opts.macBase ?? [0x02, 0xdc, 0, 0, 0, 0];
  const timeoutMs = opts.timeoutMs ?? 4000;
  const results: SimulatedLease[] = [];

  const exchange = (xid: number, buf: Buffer, want: number): Promise<DhcpPacket | undefined> =>
    new Promise((resolve) => {
      let tries = 0;
      const attempt = (): void => {
        tries++;
        send(buf);
        timer = setTimeout(() => (tries < 3 ? attempt() : done(undefined)), timeoutMs / 3);
      };
      const done = (p: DhcpPacket | undefined): void => {
        clearTimeout(timer);
        waiting.delete(xid);
        resolve(p);
      };
      let timer: NodeJS.Timeout;
      waiting.set(xid, (p) => {
        const t = messageTypeOf(p);
        if (t === want || t === MessageType.NAK) done(p);
      });
      attempt();
    });

  const one = async (i: number): Promise<void> => {
    const mac = macOf(base, i);
    const started = Date.now();
    const xid = (Math.random() * 0xffffffff) >>> 0;
    const offer = await exchange(xid, request(MessageType.DISCOVER, xid, mac, []), MessageType.OFFER);
    if (offer === undefined || messageTypeOf(offer) !== MessageType.OFFER) {
      opts.onFailure?.(hex(mac), offer === undefined ? 'no OFFER' : 'NAK to DISCOVER');
      return;
    }
    const sid = offer.options.get(Opt.SERVER_ID);
    if (sid === undefined) {
      opts.onFailure?.(hex(mac), 'OFFER without server identifier');
      return;
    }
    const ack = await exchange(
      xid,
      request(MessageType.REQUEST, xid, mac, [[Opt.REQUESTED_IP, ip4(offer.yiaddr)], [Opt.SERVER_ID, sid]]),
      MessageType.ACK,
    );
    if (ack === undefined || messageTypeOf(ack) !== MessageType.ACK) {
      opts.onFailure?.(hex(mac), ack === undefined ? 'no ACK' : 'NAK');
      return;
    }
    const lt = ack.options.get(Opt.LEASE_TIME);
    const lease: SimulatedLease = {
      mac: hex(mac),
      ip: formatIpv4(ack.yiaddr),
      serverId: formatIpv4(Buffer.from(sid).readUInt32BE(0)),
      leaseTime: lt !== undefined && lt.length === 4 ? Buffer.from(lt).readUInt32BE(0) : 0,
      ms: Date.now() - started,
    };
    results.push(lease);
    opts.onLease?.(lease);
  };

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < opts.clients) await one(next++);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 8, opts.clients) }, worker));
  } finally {
    socket.close();
  }
  return results;
}

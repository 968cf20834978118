import { BootpOp } from '../../src/dhcp/constants.js';
import type { DhcpEngine, EngineOutcome, RequestContext } from '../../src/dhcp/engine.js';
import type { Lease, LeaseChange, LeaseView } from '../../src/dhcp/lease.js';
import { clientKeyOf } from '../../src/dhcp/lease.js';
import type { DhcpPacket } from '../../src/dhcp/packet.js';
import type { Ipv4 } from '../../src/net/ipv4.js';
import { parseIpv4, parseMac } from '../../src/net/ipv4.js';

/**
 * A LeaseView over two Maps that applies LeaseChanges the way a store must:
 * one lease per address, one index entry per client and subnet.
 */
export class MemoryLeaseView implements LeaseView {
  private readonly leases = new Map<Ipv4, Lease>();
  private readonly clients = new Map<string, Ipv4>();
  /** Every change applied, in order. */
  readonly log: LeaseChange[] = [];

  byIp(ip: Ipv4): Lease | undefined {
    return this.leases.get(ip);
  }

  byClient(clientKey: string, subnetId: number): Lease | undefined {
    const ip = this.clients.get(`${subnetId}|${clientKey}`);
    if (ip === undefined) return undefined;
    const l = this.leases.get(ip);
    return l !== undefined && clientKeyOf(l) === clientKey && l.subnetId === subnetId ? l : undefined;
  }

  /** By a scan, unlike the store's index: the reference the index is checked against. Active first, then offered, then the rest, latest start. */
  byMac(mac: string, subnetId: number): Lease | undefined {
    if (mac === '') return undefined;
    const rank = (l: Lease): number => (l.state === 'active' ? 0 : l.state === 'offered' ? 1 : l.state === 'declined' ? 3 : 2);
    let best: Lease | undefined;
    for (const l of this.leases.values()) {
      if (l.mac !== mac || l.subnetId !== subnetId) continue;
      if (best === undefined || rank(l) < rank(best) || (rank(l) === rank(best) && l.start >= best.start)) best = l;
    }
    return best;
  }

  apply(changes: readonly LeaseChange[]): void {
    for (const ch of changes) {
      this.log.push(ch);
      if (ch.kind === 'upsert') {
        this.remove(ch.lease.ip);
        this.leases.set(ch.lease.ip, ch.lease);
        if (ch.lease.mac !== '' || ch.lease.clientId !== '') this.clients.set(`${ch.lease.subnetId}|${clientKeyOf(ch.lease)}`, ch.lease.ip);
      } else {
        this.remove(ch.ip);
      }
    }
  }

  all(): Lease[] {
    return [...this.leases.values()];
  }

  private remove(ip: Ipv4): void {
    const old = this.leases.get(ip);
    if (old === undefined) return;
    this.leases.delete(ip);
    const k = `${old.subnetId}|${clientKeyOf(old)}`;
    if (this.clients.get(k) === ip) this.clients.delete(k);
  }
}

export function ip(text: string): Ipv4 {
  const v = parseIpv4(text);
  if (v === undefined) throw new Error(`bad ip ${text}`);
  return v;
}

export function ipBytes(text: string): Uint8Array {
  const v = ip(text);
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

export interface RequestSpec {
  mac?: string;
  xid?: number;
  ciaddr?: string;
  giaddr?: string;
  flags?: number;
  htype?: number;
  hlen?: number;
  op?: number;
  /** Options by code; strings are latin1 bytes, number arrays are bytes. */
  options?: Record<number, Uint8Array | string | readonly number[] | undefined>;
}

/** A decoded BOOTREQUEST as the codec would hand it to the engine. */
export function request(type: number | undefined, spec: RequestSpec = {}): DhcpPacket {
  const mac = parseMac(spec.mac ?? '52:54:00:12:34:56');
  if (mac === undefined) throw new Error('bad mac');
  const chaddr = new Uint8Array(16);
  chaddr.set(mac);
  const options = new Map<number, Uint8Array>();
  if (type !== undefined) options.set(53, new Uint8Array([type]));
  for (const [k, v] of Object.entries(spec.options ?? {})) {
    if (v === undefined) continue;
    options.set(Number(k), typeof v === 'string' ? Buffer.from(v, 'latin1') : v instanceof Uint8Array ? v : new Uint8Array(v));
  }
  return {
    op: spec.op ?? BootpOp.REQUEST,
    htype: spec.htype ?? 1,
    hlen: spec.hlen ?? 6,
    hops: 0,
    xid: spec.xid ?? 0x1234,
    secs: 0,
    flags: spec.flags ?? 0,
    ciaddr: spec.ciaddr !== undefined ? ip(spec.ciaddr) : 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: spec.giaddr !== undefined ? ip(spec.giaddr) : 0,
    chaddr,
    sname: '',
    file: '',
    options,
  };
}

/** Hands the packet to the engine and applies its changes, as the shell would once they are committed. */
export function exchange(engine: DhcpEngine, view: MemoryLeaseView, pkt: DhcpPacket, ctx: RequestContext): EngineOutcome {
  const out = engine.handle(pkt, ctx, view);
  if (out.kind !== 'drop') view.apply(out.changes);
  return out;
}

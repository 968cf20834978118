import type { Ipv4 } from '../net/ipv4.js';
import { formatIpv4 } from '../net/ipv4.js';
import type { RuntimeBoot } from './boot.js';
import { mergeBoot, selectBoot } from './boot.js';
import { classify } from './classify.js';
import {
  BootpOp, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, FLAG_BROADCAST, MessageType, MIN_MESSAGE_SIZE, Opt,
} from './constants.js';
import type { Lease, LeaseChange, LeaseView } from './lease.js';
import type { DhcpPacket } from './packet.js';
import type { RequestInfo } from './request-info.js';
import { extractRequestInfo } from './request-info.js';
import { encodeFitting } from './fit-reply.js';
import { DhcpEncodeError } from './errors.js';
import type { DhcpRuntime, OptionLayer, RuntimeOption, RuntimePool, RuntimeReservation, RuntimeSubnet } from './runtime-config.js';
import { subnetContaining } from './runtime-config.js';

export { compileDhcpConfig } from './runtime-config.js';
export type { DhcpRuntime } from './runtime-config.js';

export interface InterfaceInfo {
  readonly name: string;
  readonly addresses: readonly { ip: Ipv4; prefix: number }[];
}

export interface RequestContext {
  readonly iface: InterfaceInfo;
  readonly sourceIp: Ipv4;
  readonly sourcePort: number;
  /** Unix seconds. */
  readonly now: number;
}

export interface ReplyDestination {
  readonly ip: Ipv4;
  readonly port: number;
  readonly broadcast: boolean;
  /** Set when the reply is unicast to yiaddr of a client that has no address yet: the shell installs an ARP entry for it first. */
  readonly arpMac?: Uint8Array;
}

export type LeaseEventKind = 'offer' | 'ack' | 'nak' | 'release' | 'decline' | 'inform' | 'exhausted' | 'ignored';

export interface EngineEvent {
  kind: LeaseEventKind;
  subnetId?: number;
  ip?: Ipv4;
  mac: string;
  clientId: string;
  hostname?: string;
  reason?: string;
  /** Name of the request's message type (DISCOVER, REQUEST, …) for logs and counters. */
  messageType?: string;
}

export type EngineOutcome =
  | {
    kind: 'reply'; reply: DhcpPacket; dest: ReplyDestination; maxSize: number; changes: LeaseChange[]; event: EngineEvent;
    /**
     * The reply encoded within maxSize, before any change is applied: a
     * reply that cannot leave must not leave a committed lease behind.
     */
    bytes: Buffer;
    /** Options left out so that the reply fits (see encodeFitting); empty when none. */
    dropped: readonly number[];
  }
  | { kind: 'no-reply'; changes: LeaseChange[]; event: EngineEvent }
  | { kind: 'drop'; reason: string };

export interface PoolUsage {
  readonly subnetId: number;
  readonly poolIndex: number;
  readonly range: string;
  readonly clientClass: string | undefined;
  readonly total: number;
  /** Addresses in use: active or offered and not yet expired, or declined and still in probation. */
  readonly used: number;
  readonly declined: number;
}

/** Drop reasons: stable Prometheus label values. */
export const DropReason = {
  NOT_BOOTREQUEST: 'not_bootrequest',
  BAD_HLEN: 'bad_hlen',
  NO_CLIENT_IDENTITY: 'no_client_identity',
  NO_MESSAGE_TYPE: 'no_message_type',
  BAD_MESSAGE_TYPE: 'bad_message_type',
  SERVER_MESSAGE_TYPE: 'server_message_type',
  UNSUPPORTED_MESSAGE_TYPE: 'unsupported_message_type',
  REQUEST_WITHOUT_ADDRESS: 'request_without_address',
  /** Even the options every reply keeps do not fit the client's maximum size. */
  REPLY_TOO_LARGE: 'reply_too_large',
} as const;

const HTYPE_ETHERNET = 1;
const BROADCAST_IP = 0xffffffff;
/** IPv4 (20) + UDP (8) headers: option 57 counts the whole datagram, as its 576 minimum shows (RFC 2131 §2, RFC 2132 §9.10). */
const IP_UDP_HEADERS = 28;
/** Replies are kept within one Ethernet frame: DHCP has no fragmentation story. */
const MAX_DATAGRAM = 1500;
const SNAME_MAX = 63;
const FILE_MAX = 127;

/** Options sent whenever they are configured, whatever the PRL says (as Kea does for these). */
const DEFAULT_OPTIONS: readonly number[] = [Opt.ROUTERS, Opt.DNS_SERVERS, Opt.DOMAIN_NAME];

const MESSAGE_NAMES = ['', 'DISCOVER', 'OFFER', 'REQUEST', 'DECLINE', 'ACK', 'NAK', 'RELEASE', 'INFORM'];

const enum Avail { FREE, HELD, TAKEN }

/** What per-request work resolves once and passes along. */
interface Client {
  readonly req: DhcpPacket;
  readonly info: RequestInfo;
  readonly ctx: RequestContext;
  readonly leases: LeaseView;
  readonly group: readonly RuntimeSubnet[];
  readonly reservation: RuntimeReservation | undefined;
  readonly classes: readonly string[];
  readonly serverId: Ipv4;
}

interface Assign { sub: RuntimeSubnet; pool: RuntimePool | undefined }

function u32(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function inSubnet(s: RuntimeSubnet, ip: Ipv4): boolean {
  return ((ip & s.mask) >>> 0) === s.network;
}

/**
 * Same client as a lease (RFC 2131 §4.2): by client id when both the lease
 * and the request carry one, else by hardware address. This is Kea's
 * belongsToClient: one host sends option 61 from its installed OS and none
 * from its PXE firmware, and must still own the address it holds.
 */
function isMine(l: Lease, info: RequestInfo): boolean {
  if (l.clientId !== '' && info.clientId !== '') return l.clientId === info.clientId;
  return l.mac !== '' && l.mac === info.mac;
}

/** A lease taken by the host a reservation names (by either of its identities) is that host's, whatever it sent then. */
function heldByReservedHost(l: Lease, r: RuntimeReservation): boolean {
  return (r.mac !== undefined && l.mac === r.mac) || (r.clientId !== undefined && l.clientId === r.clientId);
}

function subnetAllowed(s: RuntimeSubnet, classes: readonly string[]): boolean {
  return s.clientClass === undefined || classes.includes(s.clientClass);
}

function poolFor(s: RuntimeSubnet, ip: Ipv4, classes: readonly string[]): RuntimePool | undefined {
  for (const p of s.pools) {
    if (ip >= p.start && ip <= p.end) return p.clientClass === undefined || classes.includes(p.clientClass) ? p : undefined;
  }
  return undefined;
}

function findReservation(group: readonly RuntimeSubnet[], info: RequestInfo): RuntimeReservation | undefined {
  for (const s of group) {
    if (info.clientId !== '') {
      const r = s.reservationsByClientId.get(info.clientId);
      if (r !== undefined) return r;
    }
    if (info.mac !== '') {
      const r = s.reservationsByMac.get(info.mac);
      if (r !== undefined) return r;
    }
  }
  return undefined;
}

const latin1 = (s: string): Uint8Array => Buffer.from(s, 'latin1');

/**
 * The DHCPv4 protocol engine (RFC 2131/2132): one request, its context and a
 * view of the leases in; one outcome out. It keeps no lease state of its own
 * (only pool cursors, which are hints), so any number of engines can share a
 * lease store.
 */
export class DhcpEngine {
  readonly runtime: DhcpRuntime;

  constructor(runtime: DhcpRuntime) {
    this.runtime = runtime;
  }

  handle(req: DhcpPacket, ctx: RequestContext, leases: LeaseView): EngineOutcome {
    if (req.op !== BootpOp.REQUEST) return { kind: 'drop', reason: DropReason.NOT_BOOTREQUEST };
    if (req.hlen > 16 || (req.htype === HTYPE_ETHERNET && req.hlen !== 6)) return { kind: 'drop', reason: DropReason.BAD_HLEN };
    const info = extractRequestInfo(req);
    switch (info.messageType) {
      case 0: return { kind: 'drop', reason: DropReason.NO_MESSAGE_TYPE };
      case -1: return { kind: 'drop', reason: DropReason.BAD_MESSAGE_TYPE };
      case MessageType.OFFER:
      case MessageType.ACK:
      case MessageType.NAK:
        return { kind: 'drop', reason: DropReason.SERVER_MESSAGE_TYPE };
      case MessageType.DISCOVER:
      case MessageType.REQUEST:
      case MessageType.DECLINE:
      case MessageType.RELEASE:
      case MessageType.INFORM:
        break;
      default:
        return { kind: 'drop', reason: DropReason.UNSUPPORTED_MESSAGE_TYPE };
    }
    if (info.mac === '' && info.clientId === '') return { kind: 'drop', reason: DropReason.NO_CLIENT_IDENTITY };
    if (info.messageType === MessageType.REQUEST && info.serverId === 0 && info.requestedIp === 0 && req.ciaddr === 0) {
      return { kind: 'drop', reason: DropReason.REQUEST_WITHOUT_ADDRESS };
    }

    const selected = this.selectSubnet(req, info, ctx);
    if (selected === undefined) return this.ignored(info, 'no subnet for the client\'s link');
    const serverId = this.serverIdFor(selected, info, ctx);
    if (serverId === 0) return this.ignored(info, 'no server address on the receiving interface', selected.id);
    const group = selected.group;
    const reservation = findReservation(group, info);
    const classes = classify(info, this.runtime.classes, reservation?.classes);
    const c: Client = { req, info, ctx, leases, group, reservation, classes, serverId };

    let out: EngineOutcome;
    switch (info.messageType) {
      case MessageType.DISCOVER: out = this.discover(c); break;
      case MessageType.REQUEST: out = this.request(c); break;
      case MessageType.DECLINE: out = this.decline(c); break;
      case MessageType.RELEASE: out = this.release(c); break;
      default: out = this.inform(c);
    }
    if (out.kind !== 'drop') this.noteFreed(out.changes, leases);
    return out;
  }

  /**
   * A change that may give an address back to the pools (an offer withdrawn,
   * a binding ended or released, a probation over) ends the exhaustion memo
   * of the pools of that address's subnet (RuntimePool.exhaustedAt).
   */
  private noteFreed(changes: readonly LeaseChange[], leases: LeaseView | undefined): void {
    for (const ch of changes) {
      let subnetId: number | undefined;
      if (ch.kind === 'delete') subnetId = leases?.byIp(ch.ip)?.subnetId ?? -1;
      else if (ch.lease.state === 'released' || ch.lease.state === 'expired') subnetId = ch.lease.subnetId;
      if (subnetId === undefined) continue;
      // A deleted lease the view no longer knows: its subnet is unknown, so every pool may have room again.
      if (subnetId === -1) {
        for (const s of this.runtime.subnets) for (const p of s.pools) p.exhaustedAt = -1;
        continue;
      }
      const sub = this.runtime.subnetsById.get(subnetId);
      if (sub !== undefined) for (const p of sub.pools) p.exhaustedAt = -1;
    }
  }

  /**
   * Reclamation of leases whose time is up:
   * - offered → deleted (an offer was never durable);
   * - active → 'expired', durable, keeping client and times so the client gets
   *   the address back (affinity) and others get it only after hold_reclaimed;
   * - released → 'expired' as well: both mean "free, remembered for the last
   *   client"; converting stops the store returning it to every pass;
   * - declined past probation → deleted, durable: the address is clean again;
   * - expired → untouched.
   * Leases not actually past their end are skipped.
   */
  reclaim(expired: readonly Lease[], now: number): LeaseChange[] {
    const out: LeaseChange[] = [];
    for (const l of expired) {
      if (l.expires > now) continue;
      switch (l.state) {
        case 'offered':
          out.push({ kind: 'delete', ip: l.ip, durable: false });
          break;
        case 'active':
        case 'released':
          out.push({ kind: 'upsert', lease: { ...l, state: 'expired', version: l.version + 1 }, durable: true });
          break;
        case 'declined':
          out.push({ kind: 'delete', ip: l.ip, durable: true });
          break;
        case 'expired':
          break;
      }
    }
    this.noteFreed(out, undefined);
    return out;
  }

  poolUsage(leases: Iterable<Lease>, now: number): PoolUsage[] {
    const rows = new Map<RuntimePool, { sub: RuntimeSubnet; used: number; declined: number }>();
    for (const s of this.runtime.subnets) for (const p of s.pools) rows.set(p, { sub: s, used: 0, declined: 0 });
    for (const l of leases) {
      const s = this.runtime.subnetsById.get(l.subnetId);
      if (s === undefined || l.expires <= now) continue;
      const live = l.state === 'active' || l.state === 'offered' || l.state === 'declined';
      if (!live) continue;
      for (const p of s.pools) {
        if (l.ip < p.start || l.ip > p.end) continue;
        const r = rows.get(p);
        if (r !== undefined) {
          r.used++;
          if (l.state === 'declined') r.declined++;
        }
        break;
      }
    }
    const out: PoolUsage[] = [];
    for (const [p, r] of rows) {
      out.push({ subnetId: r.sub.id, poolIndex: p.index, range: p.text, clientClass: p.clientClass, total: p.size, used: r.used, declined: r.declined });
    }
    return out;
  }

  // ---- subnet selection -------------------------------------------------

  /**
   * Relayed: link selection 82.5 (RFC 3527) > subnet selection 118
   * (RFC 3011) > giaddr, each matched against relay_addresses and against
   * subnet ranges. Direct: the subnet bound to the receiving interface, else
   * the one holding one of its addresses. ciaddr counts only from a client
   * that says it has an address (RENEWING/REBINDING, INFORM, RELEASE,
   * DECLINE; not DISCOVER nor SELECTING/INIT-REBOOT, where RFC 2131 has it
   * 0 and any value is junk), and only for a subnet served on the receiving
   * link (its shared network), so no reply goes out for another link's
   * subnet; a client that moved links gets the link's answer (a NAK). A
   * routed unicast renewal arriving on an interface that serves no subnet
   * is taken by ciaddr when that subnet is one served through relays.
   */
  private selectSubnet(req: DhcpPacket, info: RequestInfo, ctx: RequestContext): RuntimeSubnet | undefined {
    const rt = this.runtime;
    if (req.giaddr !== 0) {
      const link = info.linkSelection !== 0 ? info.linkSelection : info.subnetSelection;
      if (link !== 0) return subnetContaining(rt, link) ?? rt.byRelay.get(link);
      return rt.byRelay.get(req.giaddr) ?? subnetContaining(rt, req.giaddr);
    }
    let local = rt.byInterface.get(ctx.iface.name);
    if (local === undefined) {
      for (const a of ctx.iface.addresses) {
        local = subnetContaining(rt, a.ip);
        if (local !== undefined) break;
      }
    }
    const t = info.messageType;
    const hasAddress = t === MessageType.INFORM || t === MessageType.RELEASE || t === MessageType.DECLINE
      || (t === MessageType.REQUEST && info.serverId === 0 && info.requestedIp === 0);
    if (req.ciaddr === 0 || !hasAddress) return local;
    const s = subnetContaining(rt, req.ciaddr);
    if (s === undefined) return local;
    if (local !== undefined) return local.group.includes(s) ? s : local;
    for (const r of rt.byRelay.values()) if (r.group === s.group) return s;
    return undefined;
  }

  /**
   * Option 54: the relay's override (RFC 5107) when it set one; else our
   * address on the client's link when we have one there; else the receiving
   * interface's first address.
   */
  private serverIdFor(sub: RuntimeSubnet, info: RequestInfo, ctx: RequestContext): Ipv4 {
    if (info.serverIdOverride !== 0) return info.serverIdOverride;
    const addrs = ctx.iface.addresses;
    for (const s of sub.group) for (const a of addrs) if (inSubnet(s, a.ip)) return a.ip;
    return addrs[0]?.ip ?? 0;
  }

  private isOurs(sid: Ipv4, c: Client): boolean {
    if (sid === c.serverId || sid === c.info.serverIdOverride) return true;
    for (const a of c.ctx.iface.addresses) if (a.ip === sid) return true;
    return false;
  }

  // ---- address availability --------------------------------------------

  /**
   * FREE: the client may have it. HELD: another client's expired or released
   * lease still inside its hold time (usable when nothing else is). TAKEN:
   * reserved for, leased to, offered to, or declined by someone else.
   */
  private availability(ip: Ipv4, sub: RuntimeSubnet, c: Client): Avail {
    const r = sub.reservationsByIp.get(ip);
    if (r !== undefined && r !== c.reservation) return Avail.TAKEN;
    const l = c.leases.byIp(ip);
    if (l === undefined) return Avail.FREE;
    const now = c.ctx.now;
    if (l.state === 'declined') return l.expires <= now ? Avail.FREE : Avail.TAKEN;
    if (isMine(l, c.info) || (r !== undefined && heldByReservedHost(l, r))) return Avail.FREE;
    if (l.state === 'offered' || l.state === 'active') {
      if (l.expires > now) return Avail.TAKEN;
      if (l.state === 'offered') return Avail.FREE;
    }
    return l.expires + this.runtime.holdReclaimed <= now ? Avail.FREE : Avail.HELD;
  }

  /**
   * The client's binding in a subnet, by isMine (Kea's belongsToClient). The
   * view indexes a lease by the key it was taken with: a client that now
   * sends option 61 also looks under its hardware address for one taken
   * without; a client that sends none (PXE firmware after the installed OS,
   * or the other way round) owns whatever its hardware address took.
   */
  private ownLease(c: Client, subnetId: number): Lease | undefined {
    const { info, leases } = c;
    if (info.clientId === '') return leases.byMac(info.mac, subnetId);
    const l = leases.byClient(info.clientKey, subnetId);
    if (l !== undefined) return l;
    if (info.mac === '') return undefined;
    const h = leases.byClient(`hw:${info.mac}`, subnetId);
    return h !== undefined && isMine(h, info) ? h : undefined;
  }

  /** The client's reserved address when it has one it can have now; 0 when none, or when it is in use by another client or declined. */
  private reservedIp(c: Client): Ipv4 {
    const res = c.reservation;
    if (res === undefined || res.ip === 0) return 0;
    const sub = this.runtime.subnetsById.get(res.subnetId);
    if (sub === undefined || this.availability(res.ip, sub, c) === Avail.TAKEN) return 0;
    return res.ip;
  }

  /** Why `ip` cannot be this client's, or the subnet and pool it would come from. */
  private refuse(ip: Ipv4, c: Client): string | Assign {
    let sub: RuntimeSubnet | undefined;
    for (const s of c.group) if (inSubnet(s, ip)) { sub = s; break; }
    if (sub === undefined) return 'address not on the client\'s network';
    const res = c.reservation;
    if (res !== undefined && res.ip !== 0) {
      if (res.ip === ip) {
        if (this.availability(ip, sub, c) === Avail.TAKEN) return 'reserved address is in use';
        return { sub, pool: undefined };
      }
      // Only while the reserved address is someone else's (or declined) may the host use a pool address, as Kea does.
      if (this.reservedIp(c) !== 0) return 'client has a reservation for another address';
    }
    if (sub.reservationsByIp.has(ip)) return 'address reserved for another client';
    if (!subnetAllowed(sub, c.classes)) return 'subnet not allowed for the client\'s classes';
    const pool = poolFor(sub, ip, c.classes);
    if (pool === undefined) return 'address not in a pool the client may use';
    if (this.availability(ip, sub, c) !== Avail.FREE) return 'address in use by another client';
    return { sub, pool };
  }

  // ---- messages -----------------------------------------------------------

  private discover(c: Client): EngineOutcome {
    const { info, leases } = c;
    const res = c.reservation;
    let pick: Assign | undefined;
    let ip = 0;
    const reserved = this.reservedIp(c);
    const resSub = reserved !== 0 && res !== undefined ? this.runtime.subnetsById.get(res.subnetId) : undefined;
    if (resSub !== undefined) {
      pick = { sub: resSub, pool: undefined };
      ip = reserved;
    } else {
      // No reservation, or its address is really in use by another client or declined: a pool address, as Kea gives.
      // The client's own binding first: RFC 2131 §4.3.1 "the client's current address … or … previous address".
      for (const s of c.group) {
        if (!subnetAllowed(s, c.classes)) continue;
        const l = this.ownLease(c, s.id);
        if (l === undefined || l.state === 'declined') continue;
        const r = this.refuse(l.ip, c);
        if (typeof r !== 'string') { pick = r; ip = l.ip; break; }
      }
      if (pick === undefined && info.requestedIp !== 0) {
        const r = this.refuse(info.requestedIp, c);
        if (typeof r !== 'string') { pick = r; ip = info.requestedIp; }
      }
      if (pick === undefined) {
        const found = this.allocate(c);
        if (found === undefined) {
          return { kind: 'no-reply', changes: [], event: this.event('exhausted', info, c.group[0], undefined, 'no free address in the client\'s pools') };
        }
        pick = found.a;
        ip = found.ip;
      }
    }
    const changes: LeaseChange[] = [];
    const prev = leases.byIp(ip);
    const hostname = res?.hostname ?? (info.hostname !== '' ? info.hostname : prev !== undefined && isMine(prev, info) ? prev.hostname : '');
    // An unexpired active binding stays as it is: an OFFER promises nothing (RFC 2131 §4.3.1), so it must not downgrade it.
    if (!(prev !== undefined && prev.state === 'active' && prev.expires > c.ctx.now && isMine(prev, info))) {
      const own = this.ownLease(c, pick.sub.id);
      if (own !== undefined && own.ip !== ip) {
        // One binding per client and subnet: the old one is no longer the client's to keep (the steps above refused it).
        if (own.state === 'offered') changes.push({ kind: 'delete', ip: own.ip, durable: false });
        else if (own.state === 'active') changes.push(this.ended(own, c.ctx.now));
      }
      changes.push({ kind: 'upsert', durable: false, lease: {
        ip, subnetId: pick.sub.id, mac: info.mac, clientId: info.clientId, hostname,
        state: 'offered', start: c.ctx.now, expires: c.ctx.now + this.runtime.offerTime, version: (prev?.version ?? 0) + 1,
      } });
    }
    const reply = this.buildReply(c, MessageType.OFFER, ip, pick, true);
    return this.replyOutcome(c, reply, changes, this.event('offer', info, pick.sub, ip, undefined, hostname));
  }

  /** Next free address from the pools, walking each pool from its cursor; HELD addresses only when nothing is FREE. */
  private allocate(c: Client): { a: Assign; ip: Ipv4 } | undefined {
    const now = c.ctx.now;
    let held: { a: Assign; ip: Ipv4 } | undefined;
    for (const s of c.group) {
      if (!subnetAllowed(s, c.classes)) continue;
      for (const p of s.pools) {
        if (p.clientClass !== undefined && !c.classes.includes(p.clientClass)) continue;
        // Walked in full this second and nothing was found: a flood of new clients on a full pool costs a lookup each, not a walk.
        if (p.exhaustedAt === now) continue;
        let ip = p.cursor;
        if (ip < p.start || ip > p.end) ip = p.start;
        let heldHere = false;
        for (let n = 0; n < p.size; n++) {
          const av = this.availability(ip, s, c);
          const next = ip === p.end ? p.start : ip + 1;
          if (av === Avail.FREE) {
            p.cursor = next;
            p.exhaustedAt = -1;
            return { a: { sub: s, pool: p }, ip };
          }
          if (av === Avail.HELD) {
            heldHere = true;
            held ??= { a: { sub: s, pool: p }, ip };
          }
          ip = next;
        }
        if (!heldHere) p.exhaustedAt = now;
      }
    }
    if (held !== undefined && held.a.pool !== undefined) held.a.pool.cursor = held.ip === held.a.pool.end ? held.a.pool.start : held.ip + 1;
    return held;
  }

  private request(c: Client): EngineOutcome {
    const { req, info, leases } = c;
    if (info.serverId !== 0) {
      // SELECTING (RFC 2131 §4.3.2).
      if (!this.isOurs(info.serverId, c)) {
        // "the client has chosen another server": our offer is void.
        const changes: LeaseChange[] = [];
        for (const s of c.group) {
          const l = this.ownLease(c, s.id);
          if (l !== undefined && l.state === 'offered') changes.push({ kind: 'delete', ip: l.ip, durable: false });
        }
        return { kind: 'no-reply', changes, event: this.event('ignored', info, undefined, undefined, 'client selected another server') };
      }
      const ip = info.requestedIp !== 0 ? info.requestedIp : req.ciaddr;
      if (ip === 0) return this.nak(c, 'no requested address');
      const r = this.refuse(ip, c);
      return typeof r === 'string' ? this.nak(c, r, ip) : this.ack(c, ip, r);
    }
    if (req.ciaddr === 0) {
      // INIT-REBOOT: "the client is on the wrong net … the server SHOULD send a DHCPNAK".
      const ip = info.requestedIp;
      let sub: RuntimeSubnet | undefined;
      for (const s of c.group) if (inSubnet(s, ip)) { sub = s; break; }
      if (sub === undefined) {
        return this.runtime.authoritative ? this.nak(c, 'requested address is not on the client\'s network', ip)
          : this.silent(c, 'requested address is not on the client\'s network', ip);
      }
      const res = c.reservation;
      const l = leases.byIp(ip);
      const known = (res !== undefined && res.ip !== 0)
        || (l !== undefined && l.state !== 'declined' && isMine(l, info))
        || this.ownLease(c, sub.id) !== undefined;
      if (!known) {
        // "If the DHCP server has no record of this client, then it MUST remain silent" — unless the address is plainly someone else's.
        if (l !== undefined && !isMine(l, info) && this.availability(ip, sub, c) === Avail.TAKEN) {
          return this.nak(c, 'address in use by another client', ip);
        }
        return this.silent(c, 'no record of the client', ip, sub);
      }
      const r = this.refuse(ip, c);
      if (typeof r === 'string') return this.nak(c, r, ip);
      if (res === undefined || res.ip !== ip) {
        if (l === undefined || !isMine(l, info) || l.state === 'declined') return this.nak(c, 'not the client\'s address', ip);
      }
      return this.ack(c, ip, r);
    }
    // RENEWING (unicast) or REBINDING (broadcast): ciaddr is the address in use, 50/54 absent.
    const ip = req.ciaddr;
    const res = c.reservation;
    const reserved = this.reservedIp(c);
    if (reserved !== 0 && reserved !== ip) return this.nak(c, 'client has a reservation for another address', ip);
    const l = leases.byIp(ip);
    const mine = l !== undefined && l.state !== 'declined' && isMine(l, info);
    if (mine || (res !== undefined && res.ip === ip)) {
      const r = this.refuse(ip, c);
      if (typeof r !== 'string') return this.ack(c, ip, r);
      return this.nak(c, r, ip);
    }
    return this.runtime.authoritative ? this.nak(c, 'no lease for the client', ip) : this.silent(c, 'no lease for the client', ip);
  }

  private ack(c: Client, ip: Ipv4, a: Assign): EngineOutcome {
    const { info, leases } = c;
    const now = c.ctx.now;
    const prev = leases.byIp(ip);
    const res = c.reservation;
    const hostname = res?.hostname ?? (info.hostname !== '' ? info.hostname : prev !== undefined && isMine(prev, info) ? prev.hostname : '');
    const changes: LeaseChange[] = [];
    const own = this.ownLease(c, a.sub.id);
    if (own !== undefined && own.ip !== ip && own.state !== 'declined') {
      // The client moved to another address: its old binding ends now (one binding per client per subnet).
      changes.push(own.state === 'offered' ? { kind: 'delete', ip: own.ip, durable: false } : this.ended(own, now));
    }
    changes.push({ kind: 'upsert', durable: true, lease: {
      ip, subnetId: a.sub.id, mac: info.mac, clientId: info.clientId, hostname,
      state: 'active', start: now, expires: now + a.sub.leaseTime, version: (prev?.version ?? 0) + 1,
    } });
    const reply = this.buildReply(c, MessageType.ACK, ip, a, true);
    return this.replyOutcome(c, reply, changes, this.event('ack', info, a.sub, ip, undefined, hostname));
  }

  private ended(l: Lease, now: number): LeaseChange {
    return { kind: 'upsert', durable: true, lease: { ...l, state: 'expired', expires: Math.min(l.expires, now), version: l.version + 1 } };
  }

  private decline(c: Client): EngineOutcome {
    const { info, req, leases } = c;
    if (info.serverId !== 0 && !this.isOurs(info.serverId, c)) return this.ignored(info, 'DECLINE for another server');
    const ip = info.requestedIp !== 0 ? info.requestedIp : req.ciaddr;
    const l = ip !== 0 ? leases.byIp(ip) : undefined;
    if (l === undefined || l.state === 'declined' || !isMine(l, info)) return this.ignored(info, 'declined address is not the client\'s', undefined, ip);
    const now = c.ctx.now;
    // The address leaves the client (its binding is dropped) and every pool until probation ends.
    const lease: Lease = { ...l, mac: '', clientId: '', hostname: '', state: 'declined', start: now, expires: now + this.runtime.declineProbation, version: l.version + 1 };
    const sub = this.runtime.subnetsById.get(l.subnetId);
    return { kind: 'no-reply', changes: [{ kind: 'upsert', lease, durable: true }], event: this.event('decline', info, sub, ip) };
  }

  private release(c: Client): EngineOutcome {
    const { info, req, leases } = c;
    if (info.serverId !== 0 && !this.isOurs(info.serverId, c)) return this.ignored(info, 'RELEASE for another server');
    const l = req.ciaddr !== 0 ? leases.byIp(req.ciaddr) : undefined;
    if (l === undefined || (l.state !== 'active' && l.state !== 'offered') || !isMine(l, info)) {
      return this.ignored(info, 'released address is not the client\'s', undefined, req.ciaddr);
    }
    // Kept, not deleted: the client gets the same address next time (affinity).
    const lease: Lease = { ...l, state: 'released', expires: c.ctx.now, version: l.version + 1 };
    const sub = this.runtime.subnetsById.get(l.subnetId);
    return { kind: 'no-reply', changes: [{ kind: 'upsert', lease, durable: true }], event: this.event('release', info, sub, l.ip, undefined, l.hostname) };
  }

  private inform(c: Client): EngineOutcome {
    const ciaddr = c.req.ciaddr;
    let sub = c.group[0] as RuntimeSubnet;
    for (const s of c.group) if (inSubnet(s, ciaddr)) { sub = s; break; }
    const a: Assign = { sub, pool: ciaddr !== 0 ? poolFor(sub, ciaddr, c.classes) : undefined };
    // RFC 2131 §4.3.5: "The server MUST NOT send a lease expiration time to the client and SHOULD NOT fill in 'yiaddr'."
    const reply = this.buildReply(c, MessageType.ACK, 0, a, false);
    return this.replyOutcome(c, reply, [], this.event('inform', c.info, sub, ciaddr, undefined, c.reservation?.hostname));
  }

  private nak(c: Client, reason: string, ip?: Ipv4): EngineOutcome {
    const { req, info } = c;
    const options = new Map<number, Uint8Array>();
    options.set(Opt.MESSAGE_TYPE, NAK_TYPE);
    options.set(Opt.SERVER_ID, u32(c.serverId));
    options.set(Opt.MESSAGE, latin1(reason));
    this.echo(req, options);
    const relayed = req.giaddr !== 0;
    const reply: DhcpPacket = {
      op: BootpOp.REPLY, htype: req.htype, hlen: req.hlen, hops: 0, xid: req.xid, secs: 0,
      // "The server MUST set the broadcast bit in the DHCPNAK, so that the relay agent will broadcast the DHCPNAK to the client."
      flags: relayed ? req.flags | FLAG_BROADCAST : req.flags,
      ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: req.giaddr, chaddr: req.chaddr.slice(0, 16), sname: '', file: '', options,
    };
    // §4.1: "In all cases, when 'giaddr' is zero, the server broadcasts any DHCPNAK messages to 0xffffffff."
    const dest: ReplyDestination = relayed
      ? { ip: req.giaddr, port: DHCP_SERVER_PORT, broadcast: false }
      : { ip: BROADCAST_IP, port: DHCP_CLIENT_PORT, broadcast: true };
    let sub: RuntimeSubnet | undefined;
    if (ip !== undefined) for (const s of c.group) if (inSubnet(s, ip)) { sub = s; break; }
    return this.encoded(c, reply, dest, [], this.event('nak', info, sub ?? c.group[0], ip, reason));
  }

  private silent(c: Client, reason: string, ip: Ipv4, sub?: RuntimeSubnet): EngineOutcome {
    return { kind: 'no-reply', changes: [], event: this.event('ignored', c.info, sub ?? c.group[0], ip, reason) };
  }

  private ignored(info: RequestInfo, reason: string, subnetId?: number, ip?: Ipv4): EngineOutcome {
    const event: EngineEvent = { kind: 'ignored', mac: info.mac, clientId: info.clientId, reason, messageType: MESSAGE_NAMES[info.messageType] };
    if (subnetId !== undefined) event.subnetId = subnetId;
    if (ip !== undefined && ip !== 0) event.ip = ip;
    return { kind: 'no-reply', changes: [], event };
  }

  private event(kind: LeaseEventKind, info: RequestInfo, sub: RuntimeSubnet | undefined, ip: Ipv4 | undefined, reason?: string, hostname?: string): EngineEvent {
    const e: EngineEvent = { kind, mac: info.mac, clientId: info.clientId, messageType: MESSAGE_NAMES[info.messageType] };
    if (sub !== undefined) e.subnetId = sub.id;
    if (ip !== undefined && ip !== 0) e.ip = ip;
    if (reason !== undefined) e.reason = reason;
    if (hostname !== undefined && hostname !== '') e.hostname = hostname;
    return e;
  }

  // ---- replies ----------------------------------------------------------------

  /** Option 57 counts the IP datagram; the reply must fit it, and never be asked below the 576 every client accepts. */
  private maxSize(info: RequestInfo): number {
    const mms = info.maxMessageSize;
    if (mms < 576) return MIN_MESSAGE_SIZE;
    return (mms < MAX_DATAGRAM ? mms : MAX_DATAGRAM) - IP_UDP_HEADERS;
  }

  /** RFC 6842: the client identifier comes back; RFC 3046 §2.2: option 82 "MUST" be echoed, and it goes last. */
  private echo(req: DhcpPacket, options: Map<number, Uint8Array>): void {
    const cid = req.options.get(Opt.CLIENT_ID);
    if (cid !== undefined && cid.length > 0) options.set(Opt.CLIENT_ID, cid.slice());
    const rai = req.options.get(Opt.RELAY_AGENT_INFO);
    if (rai !== undefined) options.set(Opt.RELAY_AGENT_INFO, rai.slice());
  }

  private effectiveBoot(c: Client, sub: RuntimeSubnet): RuntimeBoot | undefined {
    let classBoot: RuntimeBoot | undefined;
    for (const k of this.runtime.classes) {
      if (k.boot !== undefined && c.classes.includes(k.name)) classBoot = classBoot === undefined ? k.boot : mergeBoot(classBoot, k.boot);
    }
    return mergeBoot(c.reservation?.boot, mergeBoot(classBoot, sub.boot));
  }

  /**
   * OFFER/ACK body. Options go in this order: 53, 54, lease times, 1 (RFC
   * 2132 §3.3: the subnet mask "MUST be first" before routers), then what
   * the client listed in 55 in its order, then the defaults (3, 6, 15, 12 of
   * a reservation), always_send ones, boot options for boot clients, and the
   * echoed 61 and 82. Precedence: reservation > class > pool > subnet >
   * shared network > global.
   */
  private buildReply(c: Client, type: number, yiaddr: Ipv4, a: Assign, withLease: boolean): DhcpPacket {
    const { req, info } = c;
    const sub = a.sub;
    const res = c.reservation;
    const base: OptionLayer = a.pool !== undefined ? a.pool.options : sub.options;
    let classLayers: OptionLayer[] | undefined;
    for (const k of this.runtime.classes) {
      if (k.options !== undefined && c.classes.includes(k.name)) (classLayers ??= []).push(k.options);
    }
    const resLayer = res?.options;
    const lookup = (code: number): RuntimeOption | undefined => {
      let o = resLayer?.byCode.get(code);
      if (o !== undefined) return o;
      if (classLayers !== undefined) for (const l of classLayers) { o = l.byCode.get(code); if (o !== undefined) return o; }
      return base.byCode.get(code);
    };
    const boot = selectBoot(info, this.effectiveBoot(c, sub));
    // Values computed for this client (reservation host name, boot choice) beat configured options
    // of classes, pools, subnets and globals; only the reservation's own options beat them.
    const special = (code: number): Uint8Array | undefined => {
      switch (code) {
        case Opt.HOSTNAME: return res?.hostnameValue;
        case Opt.VENDOR_CLASS_ID: return boot?.vendorClass !== undefined ? VENDOR_CLASS_VALUES.get(boot.vendorClass) : undefined;
        case Opt.TFTP_SERVER_NAME: return boot === undefined ? undefined : latin1(boot.serverName ?? formatIpv4(boot.nextServer ?? c.serverId));
        case Opt.BOOTFILE_NAME: return boot?.file !== undefined ? latin1(boot.file) : undefined;
        default: return undefined;
      }
    };
    const valueFor = (code: number): Uint8Array | undefined => {
      const own = resLayer?.byCode.get(code);
      if (own !== undefined) return own.value;
      if (code === Opt.BROADCAST_ADDRESS) return lookup(code)?.value ?? sub.broadcastValue;
      return special(code) ?? lookup(code)?.value;
    };
    const options = new Map<number, Uint8Array>();
    options.set(Opt.MESSAGE_TYPE, type === MessageType.OFFER ? OFFER_TYPE : ACK_TYPE);
    options.set(Opt.SERVER_ID, u32(c.serverId));
    if (withLease) {
      options.set(Opt.LEASE_TIME, sub.leaseTimeValue);
      options.set(Opt.RENEWAL_TIME, sub.renewTimeValue);
      options.set(Opt.REBINDING_TIME, sub.rebindTimeValue);
    }
    const mask = lookup(Opt.SUBNET_MASK);
    if (mask !== undefined) options.set(Opt.SUBNET_MASK, mask.value);
    const prl = info.prl;
    if (prl !== undefined) {
      for (let i = 0; i < prl.length; i++) {
        const code = prl[i] as number;
        if (options.has(code) || code === Opt.CLIENT_ID || code === Opt.RELAY_AGENT_INFO) continue;
        const v = valueFor(code);
        if (v !== undefined) options.set(code, v);
      }
    }
    for (const code of DEFAULT_OPTIONS) {
      if (options.has(code)) continue;
      const o = lookup(code);
      if (o !== undefined) options.set(code, o.value);
    }
    if (res?.hostnameValue !== undefined && !options.has(Opt.HOSTNAME)) options.set(Opt.HOSTNAME, valueFor(Opt.HOSTNAME) as Uint8Array);
    let file = '';
    let sname = '';
    let siaddr = 0;
    if (boot !== undefined) {
      siaddr = boot.nextServer ?? c.serverId;
      if (boot.serverName !== undefined && boot.serverName.length <= SNAME_MAX) sname = boot.serverName;
      if (boot.file !== undefined) {
        if (boot.file.length <= FILE_MAX) file = boot.file;
        if (!options.has(Opt.BOOTFILE_NAME)) options.set(Opt.BOOTFILE_NAME, valueFor(Opt.BOOTFILE_NAME) as Uint8Array);
      }
      if (boot.vendorClass !== undefined && !options.has(Opt.VENDOR_CLASS_ID)) {
        options.set(Opt.VENDOR_CLASS_ID, valueFor(Opt.VENDOR_CLASS_ID) as Uint8Array);
      }
    }
    const addAlways = (l: OptionLayer | undefined): void => {
      if (l === undefined) return;
      for (const o of l.alwaysSend) {
        if (options.has(o.code) || lookup(o.code) !== o) continue;
        const v = valueFor(o.code);
        if (v !== undefined) options.set(o.code, v);
      }
    };
    addAlways(resLayer);
    if (classLayers !== undefined) for (const l of classLayers) addAlways(l);
    addAlways(base);
    this.echo(req, options);
    return {
      op: BootpOp.REPLY, htype: req.htype, hlen: req.hlen, hops: 0, xid: req.xid, secs: 0, flags: req.flags,
      ciaddr: type === MessageType.ACK ? req.ciaddr : 0,
      yiaddr, siaddr, giaddr: req.giaddr, chaddr: req.chaddr.slice(0, 16), sname, file, options,
    };
  }

  /**
   * RFC 2131 §4.1, in its order: relay; ciaddr; broadcast bit; else unicast
   * to yiaddr at the client's hardware address. An INFORM's ACK goes to
   * ciaddr even when relayed (§4.3.5: "The server then sends a DHCPACK …
   * directly to the address given in the 'ciaddr' field"; Kea does the same):
   * its yiaddr is 0, so a relay could not deliver it.
   */
  private replyOutcome(c: Client, reply: DhcpPacket, changes: LeaseChange[], event: EngineEvent): EngineOutcome {
    const { req } = c;
    let dest: ReplyDestination;
    if (c.info.messageType === MessageType.INFORM && req.ciaddr !== 0) dest = { ip: req.ciaddr, port: DHCP_CLIENT_PORT, broadcast: false };
    else if (req.giaddr !== 0) dest = { ip: req.giaddr, port: DHCP_SERVER_PORT, broadcast: false };
    else if (req.ciaddr !== 0) dest = { ip: req.ciaddr, port: DHCP_CLIENT_PORT, broadcast: false };
    else if ((req.flags & FLAG_BROADCAST) !== 0 || reply.yiaddr === 0 || req.hlen === 0) dest = { ip: BROADCAST_IP, port: DHCP_CLIENT_PORT, broadcast: true };
    else dest = { ip: reply.yiaddr, port: DHCP_CLIENT_PORT, broadcast: false, arpMac: req.chaddr.slice(0, req.hlen) };
    return this.encoded(c, reply, dest, changes, event);
  }

  private encoded(c: Client, reply: DhcpPacket, dest: ReplyDestination, changes: LeaseChange[], event: EngineEvent): EngineOutcome {
    const maxSize = this.maxSize(c.info);
    let fitted;
    try {
      fitted = encodeFitting(reply, maxSize, c.info.prl);
    } catch (err) {
      if (err instanceof DhcpEncodeError && err.reason === 'encode_too_large') return { kind: 'drop', reason: DropReason.REPLY_TOO_LARGE };
      throw err;
    }
    return { kind: 'reply', reply, dest, maxSize, changes, event, bytes: fitted.bytes, dropped: fitted.dropped };
  }
}

const OFFER_TYPE = new Uint8Array([MessageType.OFFER]);
const ACK_TYPE = new Uint8Array([MessageType.ACK]);
const NAK_TYPE = new Uint8Array([MessageType.NAK]);
const VENDOR_CLASS_VALUES: ReadonlyMap<string, Uint8Array> = new Map([
  ['PXEClient', latin1('PXEClient')],
  ['HTTPClient', latin1('HTTPClient')],
]);

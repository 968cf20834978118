import type { Ipv4 } from '../../net/ipv4.js';
import type { Lease, LeaseChange, LeaseState, LeaseStateCounts, LeaseView } from '../lease.js';
import { LeaseErrorCode, LeaseStoreError } from './errors.js';

const STATES: readonly LeaseState[] = ['offered', 'active', 'released', 'expired', 'declined'];
const STATE_SET: ReadonlySet<string> = new Set(STATES);

/**
 * Which of a client's leases in a subnet `byClient` answers with, lowest first:
 * the binding it holds now, then the offer it is considering, then an address
 * it had before (RFC 2131 §4.3.1 offers "the client's previous address"; the
 * latest `start` among them wins), and a declined address last.
 */
const CLIENT_RANK: Readonly<Record<LeaseState, number>> = {
  active: 0,
  offered: 1,
  released: 2,
  expired: 2,
  declined: 3,
};

function zeroCounts(): Record<LeaseState, number> {
  return { offered: 0, active: 0, released: 0, expired: 0, declined: 0 };
}

function isUint32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

function invalid(message: string): LeaseStoreError {
  return new LeaseStoreError(LeaseErrorCode.INVALID_CHANGE, message);
}

/**
 * Refuses a change that no backend could store faithfully. Throws
 * LEASE_ERR_INVALID_CHANGE; called for a whole batch before any of it is applied.
 */
export function checkLeaseChange(change: LeaseChange): void {
  if (change.kind === 'delete') {
    if (!isUint32(change.ip)) throw invalid(`delete: ip ${String(change.ip)} is not an IPv4 address as uint32`);
    return;
  }
  if (change.kind !== 'upsert') throw invalid(`unknown change kind ${String((change as { kind: unknown }).kind)}`);
  const l = change.lease;
  if (!isUint32(l.ip)) throw invalid(`upsert: ip ${String(l.ip)} is not an IPv4 address as uint32`);
  if (!Number.isSafeInteger(l.subnetId)) throw invalid(`upsert: subnetId ${String(l.subnetId)} is not an integer`);
  if (typeof l.mac !== 'string' || typeof l.clientId !== 'string' || typeof l.hostname !== 'string') {
    throw invalid('upsert: mac, clientId and hostname must be strings');
  }
  if (!STATE_SET.has(l.state)) throw invalid(`upsert: unknown state ${String(l.state)}`);
  if (!Number.isFinite(l.start) || !Number.isFinite(l.expires)) throw invalid('upsert: start and expires must be finite numbers');
  if (!Number.isSafeInteger(l.version)) throw invalid(`upsert: version ${String(l.version)} is not an integer`);
  // An OFFER promises nothing (RFC 2131 §4.3.1); writing it would make a
  // restart resurrect offers nobody accepted.
  if (change.durable && l.state === 'offered') throw invalid('upsert: an offered lease cannot be durable');
}

/** The better of two leases by CLIENT_RANK, then latest `start`; `l` (written later) wins a tie. */
function better(l: Lease, best: Lease | undefined): Lease {
  if (
    best === undefined ||
    CLIENT_RANK[l.state] < CLIENT_RANK[best.state] ||
    (CLIENT_RANK[l.state] === CLIENT_RANK[best.state] && l.start >= best.start)
  ) {
    return l;
  }
  return best;
}

/**
 * One identity's leases in a subnet: the lease itself while there is one
 * (nearly every client), a Map by address, least recently written first,
 * while there are several.
 */
type Slot = Lease | Map<Ipv4, Lease>;

/**
 * Leases grouped by subnet and a client identity (a client id, or a MAC),
 * several per identity. Nested maps, not a `${subnet}/${key}` string: no
 * string is built per lookup or per write on the packet path. A slot is the
 * Lease itself until a second one joins it: a Map per client (and its
 * removal and re-creation on every write of the client's lease) was most of
 * the index's cost at tens of thousands of writes a second.
 */
class SlotIndex {
  private readonly bySubnet = new Map<number, Map<string, Slot>>();
  /** Identities indexed, over every subnet. */
  size = 0;

  /** The best of the identity's leases (see bestOf), `best` competing. */
  best(subnetId: number, key: string, best: Lease | undefined): Lease | undefined {
    const slot = this.bySubnet.get(subnetId)?.get(key);
    if (slot === undefined) return best;
    if (!(slot instanceof Map)) return better(slot, best);
    for (const l of slot.values()) best = better(l, best);
    return best;
  }

  /** The identity's leases, least recently written first. */
  list(subnetId: number, key: string): Lease[] {
    const slot = this.bySubnet.get(subnetId)?.get(key);
    if (slot === undefined) return [];
    return slot instanceof Map ? Array.from(slot.values()) : [slot];
  }

  add(key: string, lease: Lease): void {
    let sub = this.bySubnet.get(lease.subnetId);
    if (sub === undefined) {
      sub = new Map();
      this.bySubnet.set(lease.subnetId, sub);
    }
    const slot = sub.get(key);
    if (slot === undefined) {
      sub.set(key, lease);
      this.size++;
    } else if (slot instanceof Map) {
      slot.set(lease.ip, lease);
    } else if (slot.ip === lease.ip) {
      sub.set(key, lease);
    } else {
      sub.set(key, new Map([[slot.ip, slot], [lease.ip, lease]]));
    }
  }

  /** `prev` is the identity's only lease: `replace` may put another in its place. */
  isOnly(key: string, prev: Lease): boolean {
    return this.bySubnet.get(prev.subnetId)?.get(key) === prev;
  }

  /** Puts `lease` in the place of the identity's only lease (isOnly was true, same subnet): no delete and add. */
  replace(key: string, lease: Lease): void {
    this.bySubnet.get(lease.subnetId)?.set(key, lease);
  }

  delete(key: string, lease: Lease): void {
    const sub = this.bySubnet.get(lease.subnetId);
    const slot = sub?.get(key);
    if (sub === undefined || slot === undefined) return;
    if (slot instanceof Map) {
      slot.delete(lease.ip);
      if (slot.size > 1) return;
      const rest = slot.values().next();
      if (!rest.done) {
        sub.set(key, rest.value);
        return;
      }
    } else if (slot.ip !== lease.ip) {
      return;
    }
    sub.delete(key);
    this.size--;
    if (sub.size === 0) this.bySubnet.delete(lease.subnetId);
  }
}

interface HeapEntry {
  readonly expires: number;
  readonly lease: Lease;
}

/**
 * A binary min-heap on `expires` with lazy deletion: an entry is live only
 * while it is still the current entry of its address, so a
 * renewal or delete costs no heap search; dead entries fall out when they
 * reach the top, and the heap is rebuilt when they outnumber live ones.
 */
class ExpiryHeap {
  private items: HeapEntry[] = [];

  get length(): number {
    return this.items.length;
  }

  push(e: HeapEntry): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent] as HeapEntry;
      if (p.expires <= e.expires) break;
      a[i] = p;
      i = parent;
    }
    a[i] = e;
  }

  peek(): HeapEntry | undefined {
    return this.items[0];
  }

  pop(): HeapEntry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    let i = 0;
    const n = a.length;
    while (true) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && (a[r] as HeapEntry).expires < (a[l] as HeapEntry).expires) c = r;
      const child = a[c] as HeapEntry;
      if (child.expires >= last.expires) break;
      a[i] = child;
      i = c;
    }
    a[i] = last;
    return top;
  }

  /** Keeps only the entries `live` accepts, as a new heap. */
  compact(live: (e: HeapEntry) => boolean): void {
    const entries = this.items.filter(live);
    entries.sort((x, y) => x.expires - y.expires);
    // A sorted array is a valid min-heap.
    this.items = entries;
  }
}

/** The two expiry categories: offers are reclaimed from memory, the others by a durable change. */
function heapCategory(state: LeaseState): 'offer' | 'persisted' | undefined {
  if (state === 'offered') return 'offer';
  // An `expired` lease has nothing left to expire; it waits for reuse of its address.
  if (state === 'expired') return undefined;
  return 'persisted';
}

/**
 * Every lease in memory, with the indexes the engine, the reclaimer and the
 * CLI query. Pure data structure: no I/O, no timers. Every lease store
 * (GroupCommitLeaseStore) keeps one as its view and the source of truth for reads.
 */
export class MemoryLeaseIndex implements LeaseView {
  private readonly byAddress = new Map<Ipv4, Lease>();
  /** Leases taken with a client identifier, by it: that client's leases in a subnet, least recently written first. */
  private readonly byClientId = new SlotIndex();
  /** Leases taken without a client identifier, by hardware address (the `hw:` clients). */
  private readonly byMacOnly = new SlotIndex();
  /** Leases taken WITH a client identifier, by hardware address. */
  private readonly withIdByMac = new SlotIndex();
  private readonly bySubnetId = new Map<number, Map<Ipv4, Lease>>();
  private readonly counts = new Map<number, Record<LeaseState, number>>();
  private readonly heaps = { offer: new ExpiryHeap(), persisted: new ExpiryHeap() };
  private readonly live = { offer: 0, persisted: 0 };
  /** The one live heap entry of each address (entries are compared by identity, so re-putting the same Lease object cannot duplicate it). */
  private readonly heapEntryOf = new Map<Ipv4, HeapEntry>();

  get size(): number {
    return this.byAddress.size;
  }

  byIp(ip: Ipv4): Lease | undefined {
    return this.byAddress.get(ip);
  }

  /**
   * The client's lease in the subnet. A client may have several (an active
   * one and an old released one, say): the lowest CLIENT_RANK wins, then the
   * latest `start` (stable across restarts), then the most recently written.
   */
  byClient(clientKey: string, subnetId: number): Lease | undefined {
    if (clientKey.startsWith('id:')) return this.byClientId.best(subnetId, clientKey.slice(3), undefined);
    if (clientKey.startsWith('hw:')) return this.byMacOnly.best(subnetId, clientKey.slice(3), undefined);
    return undefined;
  }

  /**
   * The hardware address's lease in the subnet, whatever client identifier it
   * was taken with.
   */
  byMac(mac: string, subnetId: number): Lease | undefined {
    if (mac === '') return undefined;
    const own = this.byMacOnly.best(subnetId, mac, undefined);
    return this.withIdByMac.size === 0 ? own : this.withIdByMac.best(subnetId, mac, own);
  }

  /** Every lease this client has in the subnet, least recently written first. */
  clientLeases(clientKey: string, subnetId: number): Lease[] {
    if (clientKey.startsWith('id:')) return this.byClientId.list(subnetId, clientKey.slice(3));
    if (clientKey.startsWith('hw:')) return this.byMacOnly.list(subnetId, clientKey.slice(3));
    return [];
  }

  all(): Lease[] {
    return Array.from(this.byAddress.values());
  }

  bySubnet(subnetId: number): Lease[] {
    const m = this.bySubnetId.get(subnetId);
    return m === undefined ? [] : Array.from(m.values());
  }

  countsOf(subnetId: number): LeaseStateCounts {
    return { ...(this.counts.get(subnetId) ?? zeroCounts()) };
  }

  countsBySubnet(): ReadonlyMap<number, LeaseStateCounts> {
    const out = new Map<number, LeaseStateCounts>();
    for (const [id, c] of this.counts) out.set(id, { ...c });
    return out;
  }

  /** Validates every change, then applies them in order (all or none are applied). */
  apply(changes: readonly LeaseChange[]): void {
    for (const c of changes) checkLeaseChange(c);
    for (const c of changes) {
      if (c.kind === 'upsert') this.put(c.lease);
      else this.remove(c.ip);
    }
  }

  /** Stores the lease at its address, replacing (and unindexing) whatever was there. Returns the previous lease. */
  put(lease: Lease): Lease | undefined {
    const same = this.byAddress.get(lease.ip);
    if (same !== undefined && this.replaceInPlace(same, lease)) return same;
    const prev = this.remove(lease.ip);
    this.byAddress.set(lease.ip, lease);

    this.indexClient(lease, true);

    let sub = this.bySubnetId.get(lease.subnetId);
    if (sub === undefined) {
      sub = new Map();
      this.bySubnetId.set(lease.subnetId, sub);
    }
    sub.set(lease.ip, lease);

    let cnt = this.counts.get(lease.subnetId);
    if (cnt === undefined) {
      cnt = zeroCounts();
      this.counts.set(lease.subnetId, cnt);
    }
    cnt[lease.state]++;
    this.track(lease);
    return prev;
  }

  /**
   * The write every exchange makes (offered -> active, a renewal): a new
   * lease at the same address for the same client in the same subnet, the
   * client's only lease there. Each index gets the new object in the old one's
   * place; nothing is removed and added again. False (nothing done) otherwise.
   */
  private replaceInPlace(prev: Lease, lease: Lease): boolean {
    if (prev.subnetId !== lease.subnetId || prev.clientId !== lease.clientId || prev.mac !== lease.mac) return false;
    const { clientId, mac } = lease;
    if (clientId !== '') {
      if (!this.byClientId.isOnly(clientId, prev) || (mac !== '' && !this.withIdByMac.isOnly(mac, prev))) return false;
      this.byClientId.replace(clientId, lease);
      if (mac !== '') this.withIdByMac.replace(mac, lease);
    } else if (mac !== '') {
      if (!this.byMacOnly.isOnly(mac, prev)) return false;
      this.byMacOnly.replace(mac, lease);
    } else {
      return false;
    }
    this.byAddress.set(lease.ip, lease);
    this.bySubnetId.get(lease.subnetId)?.set(lease.ip, lease);
    const cnt = this.counts.get(lease.subnetId);
    if (cnt !== undefined) {
      cnt[prev.state]--;
      cnt[lease.state]++;
    }
    const before = heapCategory(prev.state);
    // The old heap entry dies in the heap (it is no longer the address's entry), as in remove().
    this.heapEntryOf.delete(lease.ip);
    if (before !== undefined) this.live[before]--;
    this.track(lease);
    return true;
  }

  /** Gives a put lease its live expiry entry. */
  private track(lease: Lease): void {
    const cat = heapCategory(lease.state);
    if (cat === undefined) return;
    this.live[cat]++;
    const heap = this.heaps[cat];
    const entry: HeapEntry = { expires: lease.expires, lease };
    this.heapEntryOf.set(lease.ip, entry);
    heap.push(entry);
    if (heap.length > 2 * this.live[cat] + 1024) this.rebuildHeap(cat);
  }

  /** Adds the lease to (or removes it from) the client indexes; a lease that names no client (a DECLINE without chaddr) is in none. */
  private indexClient(lease: Lease, add: boolean): void {
    if (lease.clientId !== '') {
      if (add) this.byClientId.add(lease.clientId, lease);
      else this.byClientId.delete(lease.clientId, lease);
      if (lease.mac === '') return;
      if (add) this.withIdByMac.add(lease.mac, lease);
      else this.withIdByMac.delete(lease.mac, lease);
    } else if (lease.mac !== '') {
      if (add) this.byMacOnly.add(lease.mac, lease);
      else this.byMacOnly.delete(lease.mac, lease);
    }
  }

  /** Removes the lease at `ip` from every index. Returns it. */
  remove(ip: Ipv4): Lease | undefined {
    const prev = this.byAddress.get(ip);
    if (prev === undefined) return undefined;
    this.byAddress.delete(ip);

    this.indexClient(prev, false);

    const sub = this.bySubnetId.get(prev.subnetId);
    if (sub !== undefined) {
      sub.delete(ip);
      if (sub.size === 0) {
        this.bySubnetId.delete(prev.subnetId);
        this.counts.delete(prev.subnetId);
      } else {
        const cnt = this.counts.get(prev.subnetId);
        if (cnt !== undefined) cnt[prev.state]--;
      }
    }

    const cat = heapCategory(prev.state);
    // The heap entry stays in the heap and dies there: it is no longer the address's current entry.
    this.heapEntryOf.delete(ip);
    if (cat !== undefined) this.live[cat]--;
    return prev;
  }

  /**
   * Leases whose `expires` is before `now` in state active, released or
   * declined (and offered with `includeOffers`), earliest first, at most
   * `limit`. Costs O((limit + dead entries passed) · log n), not a scan.
   */
  expiredBefore(now: number, limit: number, opts?: { readonly includeOffers?: boolean }): Lease[] {
    const out: Lease[] = [];
    if (limit <= 0) return out;
    const persisted = this.heaps.persisted;
    const offers = opts?.includeOffers === true ? this.heaps.offer : undefined;
    const taken: [ExpiryHeap, HeapEntry][] = [];
    while (out.length < limit) {
      const a = this.liveTop(persisted);
      const b = offers === undefined ? undefined : this.liveTop(offers);
      let heap: ExpiryHeap;
      if (a !== undefined && (b === undefined || a.expires <= b.expires)) heap = persisted;
      else if (b !== undefined && offers !== undefined) heap = offers;
      else break;
      const top = heap.peek() as HeapEntry;
      if (!(top.expires < now)) break;
      heap.pop();
      taken.push([heap, top]);
      out.push(top.lease);
    }
    // Still live: the caller decides what becomes of them, and until it does they stay due.
    for (const [heap, e] of taken) heap.push(e);
    return out;
  }

  /** The top entry after dropping dead ones. */
  private liveTop(heap: ExpiryHeap): HeapEntry | undefined {
    while (true) {
      const top = heap.peek();
      if (top === undefined) return undefined;
      if (this.isLiveEntry(top)) return top;
      heap.pop();
    }
  }

  /**
   * Drops the heap's dead entries. Every live lease of the category has its
   * one live entry in this heap, so the heap alone is read: not every lease
   * (offers churn at the DISCOVER rate while the address map holds every
   * binding, and a scan of it per compaction was a visible share of a busy
   * server's CPU).
   */
  private rebuildHeap(cat: 'offer' | 'persisted'): void {
    this.heaps[cat].compact(this.isLiveEntry);
  }

  private readonly isLiveEntry = (e: HeapEntry): boolean => this.heapEntryOf.get(e.lease.ip) === e;
}

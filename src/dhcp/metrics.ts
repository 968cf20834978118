import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { MESSAGE_TYPE_NAMES } from './constants.js';

export interface PoolUsageSample {
  readonly subnetId: number;
  readonly pool: string;
  readonly total: number;
  readonly used: number;
}

/**
 * Totals by label value, counted on the packet path as plain numbers and
 * handed to prom-client only when it collects: a prom-client inc() hashes
 * its label object on every call, several times per packet.
 */
class Tally<K> {
  readonly counts = new Map<K, number>();

  add(key: K, n = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }
}

/** A counter whose values come from a Tally when scraped; the label set per key is computed once. */
function tallied<L extends string, K>(
  registers: Registry[],
  name: string,
  help: string,
  labelNames: readonly L[],
  tally: Tally<K>,
  labelsOf: (key: K) => Partial<Record<L, string>>,
): Counter<L> {
  const labelCache = new Map<K, Partial<Record<L, string>>>();
  return new Counter<L>({
    name,
    help,
    labelNames,
    registers,
    collect() {
      this.reset();
      for (const [key, n] of tally.counts) {
        let labels = labelCache.get(key);
        if (labels === undefined) {
          labels = labelsOf(key);
          labelCache.set(key, labels);
        }
        this.inc(labels, n);
      }
    },
  });
}

function typeLabel(type: number): string {
  return MESSAGE_TYPE_NAMES.get(type) ?? 'unknown';
}

/** Message type key for a packet without a readable option 53. */
const UNKNOWN_TYPE = -1;

/** The DHCP service's Prometheus metrics (names and label values stable once published). */
export class DhcpMetrics {
  private readonly receivedByType = new Tally<number>();
  private readonly sentByType = new Tally<number>();
  private readonly droppedByReason = new Tally<string>();
  /** event kind → subnet label ('' when none) → count. */
  private readonly eventsByKind = new Map<string, Tally<string>>();
  private readonly exhaustedBySubnet = new Tally<string>();
  private readonly sendErrorsByIface = new Tally<string>();
  readonly poolSize: Gauge<'subnet' | 'pool'>;
  readonly poolUsed: Gauge<'subnet' | 'pool'>;
  readonly commitSeconds: Histogram;
  readonly repliesTrimmed: Counter;
  readonly storeUp: Gauge;
  readonly commitBatch: Histogram;

  constructor(registry: Registry, poolUsage: () => Iterable<PoolUsageSample>) {
    const registers = [registry];
    const typeLabels = (k: number): { type: string } => ({ type: k === UNKNOWN_TYPE ? 'unknown' : typeLabel(k) });
    tallied(registers, 'dcplane_dhcp_packets_received_total', 'DHCP messages received, by message type', ['type'], this.receivedByType, typeLabels);
    tallied(registers, 'dcplane_dhcp_packets_sent_total', 'DHCP messages sent, by message type', ['type'], this.sentByType, typeLabels);
    tallied(registers, 'dcplane_dhcp_packets_dropped_total', 'DHCP messages dropped, by reason', ['reason'], this.droppedByReason, (reason) => ({ reason }));
    const events = this.eventsByKind;
    new Counter({
      name: 'dcplane_dhcp_lease_events_total',
      help: 'Lease events (offer, ack, nak, release, decline, inform, exhausted, ignored)',
      labelNames: ['event', 'subnet'],
      registers,
      collect() {
        this.reset();
        for (const [event, bySubnet] of events) for (const [subnet, n] of bySubnet.counts) this.inc({ event, subnet }, n);
      },
    });
    tallied(registers, 'dcplane_dhcp_pool_exhausted_total', 'Requests that found no free address', ['subnet'], this.exhaustedBySubnet, (subnet) => ({ subnet }));
    tallied(registers, 'dcplane_dhcp_send_errors_total', 'Replies the kernel refused to send', ['iface'], this.sendErrorsByIface, (iface) => ({ iface }));
    // Pool utilisation is computed from the lease view when Prometheus scrapes.
    this.poolSize = new Gauge({
      name: 'dcplane_dhcp_pool_addresses', help: 'Addresses in each dynamic pool', labelNames: ['subnet', 'pool'], registers,
      collect() {
        this.reset();
        for (const u of poolUsage()) this.set({ subnet: String(u.subnetId), pool: u.pool }, u.total);
      },
    });
    this.poolUsed = new Gauge({
      name: 'dcplane_dhcp_pool_addresses_used', help: 'Addresses in each pool held by an active, offered or declined lease', labelNames: ['subnet', 'pool'], registers,
      collect() {
        this.reset();
        for (const u of poolUsage()) this.set({ subnet: String(u.subnetId), pool: u.pool }, u.used);
      },
    });
    this.storeUp = new Gauge({
      name: 'dcplane_dhcp_lease_store_up',
      help: '1 while the lease store can make leases durable; 0 once its writer died (the service then stops)',
      registers,
    });
    this.storeUp.set(1);
    this.repliesTrimmed = new Counter({
      name: 'dcplane_dhcp_replies_trimmed_total',
      help: 'Replies sent with options left out because they did not fit the client\'s maximum message size',
      registers,
    });
    this.commitSeconds = new Histogram({
      name: 'dcplane_dhcp_lease_commit_seconds',
      help: 'Time to make one group of lease changes durable',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
      registers,
    });
    this.commitBatch = new Histogram({
      name: 'dcplane_dhcp_lease_commit_batch_size',
      help: 'Lease changes made durable per commit (group commit)',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers,
    });
  }

  /** A message received; `type` is its option 53, undefined when unreadable. */
  received(type: number | undefined): void {
    this.receivedByType.add(type ?? UNKNOWN_TYPE);
  }

  sent(type: number | undefined): void {
    this.sentByType.add(type ?? UNKNOWN_TYPE);
  }

  dropped(reason: string): void {
    this.droppedByReason.add(reason);
  }

  /** A lease event; `subnetId` undefined counts under subnet "". */
  event(kind: string, subnetId: number | undefined): void {
    let bySubnet = this.eventsByKind.get(kind);
    if (bySubnet === undefined) {
      bySubnet = new Tally<string>();
      this.eventsByKind.set(kind, bySubnet);
    }
    bySubnet.add(subnetLabel(subnetId));
  }

  exhausted(subnetId: number | undefined): void {
    this.exhaustedBySubnet.add(subnetLabel(subnetId));
  }

  sendError(iface: string): void {
    this.sendErrorsByIface.add(iface);
  }
}

/** Subnet ids are few: their label strings are made once. */
const SUBNET_LABELS = new Map<number, string>();

function subnetLabel(id: number | undefined): string {
  if (id === undefined) return '';
  let s = SUBNET_LABELS.get(id);
  if (s === undefined) {
    s = String(id);
    if (SUBNET_LABELS.size < 65536) SUBNET_LABELS.set(id, s);
  }
  return s;
}

import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

export interface PoolUsageSample {
  readonly subnetId: number;
  readonly pool: string;
  readonly total: number;
  readonly used: number;
}

/** The DHCP service's Prometheus metrics (names stable once published). */
export class DhcpMetrics {
  readonly received: Counter<'type'>;
  readonly sent: Counter<'type'>;
  readonly dropped: Counter<'reason'>;
  readonly events: Counter<'event' | 'subnet'>;
  readonly exhausted: Counter<'subnet'>;
  readonly sendErrors: Counter<'iface'>;
  readonly poolSize: Gauge<'subnet' | 'pool'>;
  readonly poolUsed: Gauge<'subnet' | 'pool'>;
  readonly commitSeconds: Histogram;
  readonly commitBatch: Histogram;

  constructor(registry: Registry, poolUsage: () => Iterable<PoolUsageSample>) {
    const registers = [registry];
    this.received = new Counter({ name: 'dcplane_dhcp_packets_received_total', help: 'DHCP messages received, by message type', labelNames: ['type'], registers });
    this.sent = new Counter({ name: 'dcplane_dhcp_packets_sent_total', help: 'DHCP messages sent, by message type', labelNames: ['type'], registers });
    this.dropped = new Counter({ name: 'dcplane_dhcp_packets_dropped_total', help: 'DHCP messages dropped, by reason', labelNames: ['reason'], registers });
    this.events = new Counter({ name: 'dcplane_dhcp_lease_events_total', help: 'Lease events (offer, ack, nak, release, decline, inform, exhausted, ignored)', labelNames: ['event', 'subnet'], registers });
    this.exhausted = new Counter({ name: 'dcplane_dhcp_pool_exhausted_total', help: 'Requests that found no free address', labelNames: ['subnet'], registers });
    this.sendErrors = new Counter({ name: 'dcplane_dhcp_send_errors_total', help: 'Replies the kernel refused to send', labelNames: ['iface'], registers });
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
}

import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { FileCacheStats } from './file-cache.js';

/** Distinct `file` and `client` label values kept before new ones are counted as "other". */
export const FILE_LABEL_CAP = 200;
export const CLIENT_LABEL_CAP = 256;

/**
 * A file's label: its base name with per-host parts folded, so that the
 * names pxelinux probes for every machine (01-<mac>, the hex IP prefixes,
 * the UUID) and GRUB's grub.cfg-<mac> count as one series each.
 */
export function fileLabel(name: string): string {
  const slash = name.lastIndexOf('/');
  const base = slash >= 0 ? name.slice(slash + 1) : name;
  return base
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/(?:[0-9a-f]{2}[-:]){5}[0-9a-f]{2}/gi, '<mac>')
    .replace(/^01-<mac>$/, '<mac>')
    .replace(/^[0-9A-F]{1,8}$/, '<hexip>')
    .slice(0, 64);
}

/** Keeps the first `cap` distinct values of a label and folds later ones into "other". */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly cap: number) {}

  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.cap) return 'other';
    this.seen.add(value);
    return value;
  }
}

/**
 * The TFTP service's Prometheus metrics (names stable once published).
 * Per-file and per-client series are bounded: files by folded base name
 * (fileLabel) and clients by IP address, each capped (FILE_LABEL_CAP,
 * CLIENT_LABEL_CAP); values past the cap count as "other", so a boot storm
 * of thousands of machines cannot blow up the series count. Per-client
 * detail beyond that is in the transfer log and /api/v1/tftp/transfers.
 */
export class TftpMetrics {
  readonly active: Gauge<'direction'>;
  readonly transfers: Counter<'direction' | 'outcome'>;
  readonly failures: Counter<'reason'>;
  readonly refusals: Counter<'reason'>;
  readonly bytesSent: Counter;
  readonly bytesReceived: Counter;
  readonly resends: Counter;
  readonly requests: Counter<'opcode'>;
  readonly dropped: Counter<'reason'>;
  readonly errorsSent: Counter<'code'>;
  readonly fileTransfers: Counter<'file' | 'outcome'>;
  readonly fileBytes: Counter<'file'>;
  readonly clientTransfers: Counter<'client' | 'outcome'>;
  readonly clientBytes: Counter<'client'>;
  readonly duration: Histogram<'direction'>;
  readonly cacheHits: Counter;
  readonly cacheMisses: Counter;
  readonly cacheBytes: Gauge;
  readonly cacheEntries: Gauge;
  readonly reloads: Counter<'result'>;
  readonly files = new BoundedLabel(FILE_LABEL_CAP);
  readonly clients = new BoundedLabel(CLIENT_LABEL_CAP);

  /**
   * `flushProgress` brings the byte and resend counters of running transfers
   * up to date; it is called before those counters are read, so the transfer
   * path adds to them once per transfer instead of once per packet.
   */
  constructor(registry: Registry, cacheStats: () => FileCacheStats, flushProgress: () => void = () => undefined) {
    const registers = [registry];
    const collect = (): void => flushProgress();
    this.active = new Gauge({ name: 'dcplane_tftp_transfers_active', help: 'Transfers running now, by direction (read, write)', labelNames: ['direction'], registers });
    this.transfers = new Counter({ name: 'dcplane_tftp_transfers_total', help: 'Transfers ended, by direction and outcome (completed, failed, refused)', labelNames: ['direction', 'outcome'], registers });
    this.failures = new Counter({ name: 'dcplane_tftp_transfer_failures_total', help: 'Failed transfers by reason (timeout: retries exhausted and abandoned; peer_error, read_error, write_error, too_large, illegal_operation)', labelNames: ['reason'], registers });
    this.refusals = new Counter({ name: 'dcplane_tftp_requests_refused_total', help: 'Requests answered with an ERROR instead of a transfer, by reason', labelNames: ['reason'], registers });
    this.bytesSent = new Counter({ name: 'dcplane_tftp_bytes_sent_total', help: 'DATA payload bytes sent, resends included', registers, collect });
    this.bytesReceived = new Counter({ name: 'dcplane_tftp_bytes_received_total', help: 'Upload payload bytes received and kept', registers });
    this.resends = new Counter({ name: 'dcplane_tftp_resends_total', help: 'Packets sent again after a timeout or a partial-window ACK', registers, collect });
    this.requests = new Counter({ name: 'dcplane_tftp_requests_total', help: 'Packets received on the request port, by opcode (RRQ, WRQ, DATA, ACK, ERROR, OACK, unknown)', labelNames: ['opcode'], registers });
    this.dropped = new Counter({ name: 'dcplane_tftp_packets_dropped_total', help: 'Packets dropped (malformed, stray, rate limited, duplicate request; from a stranger to a transfer port: unknown_tid answered with ERROR 5, unknown_tid_suppressed over the answer rate, unknown_tid_not_answered an ERROR or other packet never answered), by reason', labelNames: ['reason'], registers });
    this.errorsSent = new Counter({ name: 'dcplane_tftp_errors_sent_total', help: 'ERROR packets sent, by TFTP error code', labelNames: ['code'], registers });
    this.fileTransfers = new Counter({ name: 'dcplane_tftp_file_transfers_total', help: `Transfers by file (base name, per-host parts folded; at most ${FILE_LABEL_CAP} files, then "other") and outcome`, labelNames: ['file', 'outcome'], registers });
    this.fileBytes = new Counter({ name: 'dcplane_tftp_file_bytes_sent_total', help: 'DATA payload bytes sent by file (same labels as dcplane_tftp_file_transfers_total)', labelNames: ['file'], registers });
    this.clientTransfers = new Counter({ name: 'dcplane_tftp_client_transfers_total', help: `Transfers by client IP address (at most ${CLIENT_LABEL_CAP} clients, then "other") and outcome`, labelNames: ['client', 'outcome'], registers });
    this.clientBytes = new Counter({ name: 'dcplane_tftp_client_bytes_sent_total', help: 'DATA payload bytes sent by client IP address (same cap)', labelNames: ['client'], registers });
    this.duration = new Histogram({
      name: 'dcplane_tftp_transfer_seconds',
      help: 'Duration of completed transfers',
      labelNames: ['direction'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers,
    });
    this.cacheHits = new Counter({ name: 'dcplane_tftp_cache_hits_total', help: 'Reads served from the in-memory file cache', registers });
    this.cacheMisses = new Counter({ name: 'dcplane_tftp_cache_misses_total', help: 'Reads served from disk (not cached, or the file changed)', registers });
    this.cacheBytes = new Gauge({
      name: 'dcplane_tftp_cache_bytes', help: 'Bytes held by the file cache', registers,
      collect() {
        this.set(cacheStats().bytes);
      },
    });
    this.cacheEntries = new Gauge({
      name: 'dcplane_tftp_cache_files', help: 'Files held by the file cache', registers,
      collect() {
        this.set(cacheStats().entries);
      },
    });
    this.reloads = new Counter({ name: 'dcplane_tftp_reloads_total', help: 'TFTP configuration reloads, by result', labelNames: ['result'], registers });
  }
}

export type TransferOutcome = 'completed' | 'failed' | 'refused';
export type TransferState = 'active' | TransferOutcome;
export type TransferDirection = 'read' | 'write';
/** Where a read's bytes came from. */
export type TransferSource = 'disk' | 'cache' | 'generated' | 'builtin';

/** One transfer as the transfer log, the API and the metrics see it. */
export interface TransferRecord {
  readonly id: number;
  readonly clientIp: string;
  readonly clientPort: number;
  readonly direction: TransferDirection;
  /** The name as requested, before remapping. */
  readonly requested: string;
  /** The name after remapping and the jail's checks (empty when refused before). */
  file: string;
  readonly mode: string;
  /** The options the client asked for, as sent. */
  readonly requestedOptions: Readonly<Record<string, string>>;
  /** The options granted in the OACK. */
  negotiated: Readonly<Record<string, string>>;
  source: TransferSource | undefined;
  readonly startedAt: number;
  endedAt: number | undefined;
  state: TransferState;
  /** Why it failed or was refused (a fixed word, also a metric label). */
  reason: string | undefined;
  /** The ERROR code sent, if any. */
  errorCode: number | undefined;
  bytes: number;
  blocks: number;
  resends: number;
  /** Size of the file (after netascii conversion) for reads, announced tsize for writes. */
  size: number | undefined;
}

/** A record as the API shows it (snake_case, ISO times). */
export function transferToJson(r: TransferRecord, nowMs: number = Date.now()): Record<string, unknown> {
  return {
    id: r.id,
    client: `${r.clientIp}:${r.clientPort}`,
    direction: r.direction,
    file: r.file === '' ? r.requested : r.file,
    requested: r.requested,
    mode: r.mode,
    options: r.negotiated,
    requested_options: r.requestedOptions,
    source: r.source ?? null,
    state: r.state,
    reason: r.reason ?? null,
    error_code: r.errorCode ?? null,
    size: r.size ?? null,
    bytes: r.bytes,
    blocks: r.blocks,
    resends: r.resends,
    started: new Date(r.startedAt).toISOString(),
    ended: r.endedAt === undefined ? null : new Date(r.endedAt).toISOString(),
    duration_ms: (r.endedAt ?? nowMs) - r.startedAt,
  };
}

/**
 * Running transfers and a bounded ring of the most recent finished ones,
 * for GET /api/v1/tftp/transfers.
 */
export class TransferLog {
  private readonly running = new Map<number, TransferRecord>();
  private readonly ring: (TransferRecord | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number = 1000) {
    this.ring = new Array<TransferRecord | undefined>(capacity);
  }

  begin(r: TransferRecord): void {
    this.running.set(r.id, r);
  }

  end(r: TransferRecord): void {
    this.running.delete(r.id);
    if (this.capacity === 0) return;
    this.ring[this.next] = r;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** Running transfers, oldest first. */
  active(): TransferRecord[] {
    return [...this.running.values()];
  }

  /** Finished transfers, newest first. */
  recent(): TransferRecord[] {
    const out: TransferRecord[] = [];
    for (let i = 1; i <= this.count; i++) {
      const r = this.ring[(this.next - i + this.capacity) % this.capacity];
      if (r !== undefined) out.push(r);
    }
    return out;
  }
}

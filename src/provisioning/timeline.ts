import { sql } from 'kysely';
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Database } from '../db/database.js';
import type { FieldDef } from '../inventory/fields.js';
import { compileList } from '../inventory/query.js';
import type { ListQuery, ListResult, ReadSpec } from '../inventory/query.js';
import type { HostRef } from './boot-directory.js';

/** Where a timeline event came from. */
export type TimelineSource = 'dhcp' | 'tftp' | 'http' | 'inventory';

/** An event as recorded (cheap to make on a packet path: no I/O happens until the batch is written). */
export interface TimelineInput {
  /** Milliseconds since the epoch; now when absent. */
  readonly at?: number;
  readonly source: TimelineSource;
  /** `dhcp.discover`, `dhcp.offer`, `tftp.start`, `tftp.complete`, `tftp.fail`, `ipxe.script`, `boot.done`, `status`. */
  readonly type: string;
  readonly mac?: string | null;
  readonly ip?: string | null;
  /** The server, when the recorder knows it; else found by `mac` (or by `ip` through `macOfIp`) when the batch is written. */
  readonly serverId?: number;
  readonly message: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** One row of a server's boot timeline as the API shows it. */
export interface ServerEvent {
  readonly id: number;
  readonly server_id: number;
  readonly at: string;
  readonly source: TimelineSource;
  readonly type: string;
  readonly mac: string | null;
  readonly ip: string | null;
  readonly message: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export const SERVER_EVENT_FIELDS: ReadonlyMap<string, FieldDef> = new Map<string, FieldDef>([
  ['id', { kind: 'int' }],
  ['server_id', { kind: 'int' }],
  ['at', { kind: 'timestamp' }],
  ['source', { kind: 'text', enum: ['dhcp', 'tftp', 'http', 'inventory'] }],
  ['type', { kind: 'text' }],
  ['mac', { kind: 'text', nullable: true }],
  ['ip', { kind: 'text', nullable: true }],
  ['message', { kind: 'text' }],
  ['data', { kind: 'json' }],
]);

const READ_SPEC: ReadSpec = { table: 'server_events', columns: SERVER_EVENT_FIELDS, search: ['type', 'message'], defaultOrdering: ['-id'] };

/** Who the timeline asks which server an event is for. */
export interface TimelineResolver {
  hostsByMac(macs: readonly string[]): Promise<ReadonlyMap<string, HostRef>>;
  tenantsOf(ids: readonly number[]): Promise<ReadonlyMap<number, number | null>>;
  /** The MAC behind a client address (a DHCP lease, else a fixed address in the inventory). */
  macOfIp(ip: string): string | undefined | Promise<string | undefined>;
}

export interface TimelineOptions {
  /** Events waiting to be written above which new ones are dropped and counted (default 10,000). */
  readonly maxQueue?: number;
  /** Events per write (default 500). */
  readonly batchSize?: number;
  /** How long the first event of a batch waits for others (default 100 ms). */
  readonly flushDelayMs?: number;
  /** Events kept per server, newest (default 1,000). */
  readonly retention?: number;
  /**
   * Servers whose writes since their last trim are counted (default 50,000). Above it the counts are
   * dropped: a server without one is trimmed at its next write, so this only bounds memory where
   * deletions are not heard (forget), such as servers another node deletes.
   */
  readonly maxTracked?: number;
  readonly registry?: Registry;
  readonly onError?: (err: unknown) => void;
}

/** A written event, with whose it is (for publishing and status moves). */
export interface RecordedEvent {
  readonly event: ServerEvent;
  readonly tenantId: number | null;
}

interface Pending extends TimelineInput {
  readonly atMs: number;
}

/**
 * Events made only when their batch is written: the packet path pays for two
 * small objects and nothing else (a closure per event cost several times
 * more, measured with bench/boot-timeline.ts).
 */
interface Deferred {
  readonly raw: unknown;
  readonly expand: (raw: never) => readonly TimelineInput[];
}

type Queued = Pending | Deferred;

/** An event with the server it belongs to, ready to insert. */
interface Row {
  readonly e: Pending;
  readonly serverId: number;
  readonly tenantId: number | null;
  readonly mac: string | null;
}

/**
 * Each server's boot timeline (table server_events): DHCP and TFTP events of
 * its MACs, iPXE script fetches, installer callbacks and status changes.
 *
 * `record` never waits and never does I/O: it appends to a bounded queue
 * (dropping, and counting, once `maxQueue` events wait), so the DHCP reply
 * path and the TFTP transfer path are not slowed by it. A timer writes the
 * queue in batches: MACs resolved to servers with one read per batch,
 * events of no known server discarded, one multi-row insert, then the
 * oldest events beyond `retention` removed for the servers written. After
 * each write the listeners hear of the rows (published on the WebSocket,
 * status moves).
 */
export class ServerTimeline {
  private queue: Queued[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private droppedCount = 0;
  /** Events written per server since its last trim (see insert); entries of deleted servers go with forget. */
  private readonly sinceTrim = new Map<number, number>();
  private readonly maxTracked: number;
  private readonly listeners = new Set<(rows: readonly RecordedEvent[]) => void>();
  private readonly maxQueue: number;
  private readonly batchSize: number;
  private readonly flushDelayMs: number;
  readonly retention: number;
  private readonly metrics: { dropped: Counter; written: Counter; unmatched: Counter } | undefined;

  constructor(
    private readonly database: Database,
    private readonly resolver: TimelineResolver,
    private readonly opts: TimelineOptions = {},
  ) {
    this.maxQueue = opts.maxQueue ?? 10_000;
    this.batchSize = opts.batchSize ?? 500;
    this.flushDelayMs = opts.flushDelayMs ?? 100;
    this.retention = opts.retention ?? 1000;
    this.maxTracked = Math.max(1, opts.maxTracked ?? 50_000);
    const registers = opts.registry === undefined ? undefined : [opts.registry];
    if (registers !== undefined) {
      const queue = (): number => this.queue.length;
      new Gauge({ name: 'dcplane_boot_timeline_queue', help: 'Boot timeline events waiting to be written', registers, collect() { this.set(queue()); } });
      this.metrics = {
        dropped: new Counter({ name: 'dcplane_boot_timeline_dropped_total', help: 'Boot timeline events dropped because the queue was full', registers }),
        written: new Counter({ name: 'dcplane_boot_timeline_written_total', help: 'Boot timeline events written', registers }),
        unmatched: new Counter({ name: 'dcplane_boot_timeline_unmatched_total', help: 'Boot events of MACs no server has (not recorded)', registers }),
      };
    }
  }

  /** Events dropped because the queue was full. */
  get dropped(): number {
    return this.droppedCount;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Servers whose writes since their last trim are being counted. */
  get tracked(): number {
    return this.sinceTrim.size;
  }

  /** Deleted servers: their events went with them (on delete cascade), and so does what is kept about them here. */
  forget(serverIds: Iterable<number>): void {
    for (const id of serverIds) this.sinceTrim.delete(id);
  }

  /** Queues an event; false when it was dropped (queue full, or closed). */
  record(e: TimelineInput): boolean {
    return this.enqueue({ ...e, atMs: e.at ?? Date.now() });
  }

  /**
   * Queues `raw`, turned into events by `expand(raw)` when its batch is
   * written (`raw` carries its own time stamp; `expand` should be one
   * function shared by every call, not a closure per event); false when
   * dropped.
   */
  recordLater<R>(raw: R, expand: (raw: R) => readonly TimelineInput[]): boolean {
    return this.enqueue({ raw, expand: expand as (raw: never) => readonly TimelineInput[] });
  }

  private enqueue(q: Queued): boolean {
    if (this.closed || this.queue.length >= this.maxQueue) {
      this.droppedCount++;
      this.metrics?.dropped.inc();
      return false;
    }
    this.queue.push(q);
    if (this.timer === undefined && this.running === undefined) {
      this.timer = setTimeout(() => void this.drain(), this.flushDelayMs);
      this.timer.unref();
    }
    return true;
  }

  /** Called with each written batch; returns the unsubscribe function. */
  onRecorded(listener: (rows: readonly RecordedEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Writes everything queued so far (tests; shutdown). */
  async flush(): Promise<void> {
    while (this.running !== undefined || this.queue.length > 0) {
      await (this.running ?? this.drain());
    }
  }

  /** Stops taking events and writes what is queued. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private drain(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running !== undefined) return this.running;
    this.running = (async () => {
      try {
        while (this.queue.length > 0) {
          const batch: Pending[] = [];
          for (const q of this.queue.splice(0, this.batchSize)) {
            if (!('expand' in q)) batch.push(q);
            else {
              try {
                for (const e of q.expand(q.raw as never)) batch.push({ ...e, atMs: e.at ?? Date.now() });
              } catch (err) {
                this.opts.onError?.(err);
              }
            }
          }
          try {
            await this.write(batch);
          } catch (err) {
            // A failed write loses its batch, not the process; the timeline is a record, not the state.
            this.opts.onError?.(err);
          }
        }
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async write(batch: readonly Pending[]): Promise<void> {
    // Who each event is for: known server ids, else MAC, else client address → MAC.
    const macOf = new Map<Pending, string | undefined>();
    for (const e of batch) {
      if (e.serverId !== undefined) continue;
      let mac = e.mac ?? undefined;
      if (mac === undefined && e.ip !== undefined && e.ip !== null) mac = await this.resolver.macOfIp(e.ip);
      macOf.set(e, mac);
    }
    const macs = [...new Set([...macOf.values()].filter((m): m is string => m !== undefined))];
    const hosts = macs.length === 0 ? new Map<string, HostRef>() : await this.resolver.hostsByMac(macs);
    const ids = [...new Set(batch.filter((e) => e.serverId !== undefined).map((e) => e.serverId as number))];
    const tenants = ids.length === 0 ? new Map<number, number | null>() : await this.resolver.tenantsOf(ids);
    const rows: Row[] = [];
    for (const e of batch) {
      if (e.serverId !== undefined) {
        const t = tenants.get(e.serverId);
        if (t !== undefined) rows.push({ e, serverId: e.serverId, tenantId: t, mac: e.mac ?? null });
        continue;
      }
      const mac = macOf.get(e);
      const host = mac === undefined ? undefined : hosts.get(mac);
      if (host === undefined) {
        this.metrics?.unmatched.inc();
        continue;
      }
      rows.push({ e, serverId: host.serverId, tenantId: host.tenantId, mac: mac ?? null });
    }
    if (rows.length === 0) return;

    let written: RecordedEvent[];
    try {
      written = await this.insert(rows);
    } catch (err) {
      // A server deleted between the lookup and the insert fails the whole batch on its foreign key:
      // once, the batch is written again without the servers that are gone.
      if (this.database.dialect.classifyError(err)?.kind !== 'foreign_key') throw err;
      const alive = await this.resolver.tenantsOf([...new Set(rows.map((r) => r.serverId))]);
      written = await this.insert(rows.filter((r) => alive.has(r.serverId)));
    }
    this.metrics?.written.inc(written.length);
    for (const l of this.listeners) {
      try {
        l(written);
      } catch (err) {
        this.opts.onError?.(err);
      }
    }
  }

  /** One transaction: the rows, then each touched server trimmed to `retention` when it is due. */
  private async insert(rows: readonly Row[]): Promise<RecordedEvent[]> {
    if (rows.length === 0) return [];
    const { db, dialect } = this.database;
    const written: RecordedEvent[] = [];
    await db.transaction().execute(async (trx) => {
      const cols = ['server_id', 'at', 'source', 'type', 'mac', 'ip', 'message', 'data'];
      const per = Math.max(1, Math.min(500, Math.floor(dialect.maxParams / cols.length)));
      for (let i = 0; i < rows.length; i += per) {
        const part = rows.slice(i, i + per);
        const values = part.map((r) => {
          const at = new Date(r.e.atMs).toISOString();
          return sql`(${r.serverId}, ${dialect.encode('timestamp', at)}, ${r.e.source}, ${r.e.type}, ${r.mac}, ${r.e.ip ?? null}, ${r.e.message}, ${dialect.encode('json', r.e.data ?? {})})`;
        });
        const res = await sql<{ id: number | string }>`insert into server_events (${sql.join(cols.map((c) => sql.ref(c)))}) values ${sql.join(values)} returning id`.execute(trx);
        part.forEach((r, k) => {
          const event: ServerEvent = {
            id: Number(res.rows[k]?.id),
            server_id: r.serverId,
            at: new Date(r.e.atMs).toISOString(),
            source: r.e.source,
            type: r.e.type,
            mac: r.mac,
            ip: r.e.ip ?? null,
            message: r.e.message,
            data: r.e.data ?? {},
          };
          written.push({ event, tenantId: r.tenantId });
        });
      }
      // Bounded retention: a server is trimmed to its newest `retention` events on its first write
      // and then after every tenth of `retention` more (so a boot storm does not pay a trim per server per batch).
      const due = Math.max(1, Math.floor(this.retention / 10));
      const counts = new Map<number, number>();
      for (const r of rows) counts.set(r.serverId, (counts.get(r.serverId) ?? 0) + 1);
      for (const [serverId, n] of counts) {
        const since = this.sinceTrim.get(serverId);
        if (since !== undefined && since + n < due) {
          this.sinceTrim.set(serverId, since + n);
          continue;
        }
        const cut = await sql<{ id: number | string }>`select id from server_events where server_id = ${serverId} order by id desc limit 1 offset ${this.retention}`.execute(trx);
        const edge = cut.rows[0];
        if (edge !== undefined) await sql`delete from server_events where server_id = ${serverId} and id <= ${Number(edge.id)}`.execute(trx);
        if (!this.sinceTrim.has(serverId) && this.sinceTrim.size >= this.maxTracked) this.sinceTrim.clear();
        this.sinceTrim.set(serverId, 0);
      }
    });
    return written;
  }

  /** One server's events, newest first by default; `query` as every list takes it (type, source, at__gte, q, limit, offset, ordering). */
  async list(serverId: number, query: ListQuery = {}): Promise<ListResult<ServerEvent>> {
    const { dialect } = this.database;
    const c = compileList(READ_SPEC, dialect, { ...query, filters: [...(query.filters ?? []), { field: 'server_id', value: serverId }] });
    const db = this.database.readDb;
    const count = await sql<{ n: number | string }>`select count(*) as n from server_events where ${c.where}`.execute(db);
    const n = Number(count.rows[0]?.n ?? 0);
    // A cursor (query.after) pages by keyset: one row more than the page tells whether another follows.
    const cursor = c.keyset !== undefined;
    if (c.limit === 0 || (!cursor && c.offset >= n)) return { count: n, rows: [], ...(cursor ? { nextCursor: null } : {}) };
    const cols = sql.join([...SERVER_EVENT_FIELDS.keys()].map((x) => sql.ref(x)));
    const where = c.keyset === undefined ? c.where : sql`${c.where} and ${c.keyset}`;
    const r = await sql<Record<string, unknown>>`select ${cols} from server_events where ${where} order by ${c.orderBy} limit ${c.limit + (cursor ? 1 : 0)} offset ${c.offset}`.execute(db);
    const rows = r.rows.slice(0, c.limit).map((raw) => {
      const out: Record<string, unknown> = {};
      for (const [col, f] of SERVER_EVENT_FIELDS) out[col] = dialect.decode(f.kind, raw[col]);
      return out as unknown as ServerEvent;
    });
    if (!cursor) return { count: n, rows };
    const last = rows.at(-1);
    return { count: n, rows, nextCursor: last !== undefined && r.rows.length > c.limit ? c.cursorOf(last as unknown as Record<string, unknown>) : null };
  }
}

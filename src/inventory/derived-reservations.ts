import { sql } from 'kysely';
import type { Database } from '../db/database.js';
import type { DhcpConfig } from '../config/types.js';
import { cidrContains, cidrTextsHolding, parseCidr, parseIpv4 } from '../net/ipv4.js';
import type { Cidr, Ipv4 } from '../net/ipv4.js';
import { reservationWriteProblems, subnetWriteProblems } from '../provisioning/dhcp-config.js';
import type { InventoryReservation, InventorySubnet } from '../provisioning/dhcp-config.js';
import { InventoryError, InventoryErrorCode as E, issue } from './errors.js';
import type { InventoryErrorCode, InventoryIssue } from './errors.js';
import { Repository, columnsOf, decodeRow, selectWhereIn } from './repository.js';
import type { DerivedRows, Executor, TxScope, WriteContext } from './repository.js';
import type { AnyRow, ResourceDef } from './resource.js';

/**
 * A server whose primary interface has a MAC and an address inside a DHCP
 * subnet is a reservation of that subnet (hostname = the server's name):
 * MAAS's model, where the machine record is what DHCP serves. The
 * reservation row (dhcp_reservations with server_id set) is derived: it is
 * created, moved, renamed and deleted inside the transaction of the server,
 * interface or subnet write that changes it, and the API refuses to edit it
 * directly. A derived row that would clash with another reservation of its
 * subnet (same MAC or address) refuses the write that caused it.
 *
 * It also holds writes of subnets and reservations to the configuration
 * file's rules (src/provisioning/dhcp-config.ts): what the API stores is what
 * the DHCP service will be asked to serve, so it must compose into a valid
 * configuration with the file's interfaces, client classes and shared networks.
 */

/** RFC 1123 host name, as the configuration schema's `hostname` (option 12 must be one). */
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** The fields of a derived reservation, as the derivation wants them. */
type Wanted = {
  readonly subnet_id: number;
  readonly mac: string;
  readonly ip: string;
  readonly hostname: string | null;
  readonly server_id: number;
};

type Change = { readonly before: AnyRow | undefined; readonly after: AnyRow | undefined };

const RESERVATION_FIELDS = ['subnet_id', 'mac', 'ip', 'hostname'] as const;

/** Up to this many addresses, the subnets holding them are looked up by their texts; beyond, every subnet is read. */
const LOOKUP_ADDRESSES = 64;

function subnetRow(r: AnyRow): InventorySubnet {
  return { id: r.id, subnet: String(r['subnet']), config: (r['config'] ?? {}) as Record<string, unknown> };
}

function reservationRow(r: Readonly<Record<string, unknown>>): InventoryReservation {
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  return { ...(typeof r['id'] === 'number' && r['id'] > 0 ? { id: r['id'] } : {}), subnet_id: r['subnet_id'] as number, mac: text(r['mac']), client_id: text(r['client_id']), ip: text(r['ip']), hostname: text(r['hostname']) };
}

export class ReservationDerivation implements DerivedRows {
  /**
   * `dhcpFile`: the configuration file's dhcp section in force, which writes
   * must compose with; undefined (an inventory without a DHCP service, as in
   * storage tests) skips that check.
   */
  constructor(
    private readonly database: Database,
    private readonly resource: (name: string) => ResourceDef,
    private readonly dhcpFile: (() => DhcpConfig) | undefined,
  ) {}

  refuseDirect(def: ResourceDef, before: AnyRow | undefined, after: AnyRow | undefined): InventoryIssue | undefined {
    if (def.name !== 'dhcp_reservations') return undefined;
    const server = before?.['server_id'] ?? null;
    if (server !== null) {
      const what = after === undefined ? 'deleted' : 'edited';
      return issue(
        E.RESERVATION_DERIVED,
        after === undefined ? '' : 'server_id',
        `reservation ${before?.id} is derived from server ${String(server)}'s primary interface and cannot be ${what} here; edit the server or its primary interface (MAC, IP, name) instead, or clear is_primary to drop the reservation`,
      );
    }
    if (after !== undefined && after['server_id'] !== null) {
      return issue(E.RESERVATION_DERIVED, 'server_id', `server_id is set only by dcplane, on the reservation it derives from a server's primary interface (MAC and IP inside a DHCP subnet); create the server's primary interface instead`);
    }
    return undefined;
  }

  async follow(tx: TxScope, def: ResourceDef, changes: readonly Change[], ctx: WriteContext): Promise<void> {
    if (changes.length === 0) return;
    switch (def.name) {
      case 'servers': {
        // Only a rename matters here: a new server has no interfaces yet, and a deleted one's go first (and bring their reservation along).
        const ids = changes.filter((c) => c.before !== undefined && c.after !== undefined && c.before['name'] !== c.after['name']).map((c) => c.after!.id);
        if (ids.length > 0) await this.reconcile(tx, ctx, def, ids);
        return;
      }
      case 'server_interfaces': {
        const moved = (c: Change) =>
          c.before === undefined || c.after === undefined || ['server_id', 'mac', 'ip', 'is_primary'].some((f) => c.before?.[f] !== c.after?.[f]);
        const ids = new Set<number>();
        for (const c of changes.filter(moved)) {
          for (const r of [c.before, c.after]) if (r !== undefined) ids.add(r['server_id'] as number);
        }
        if (ids.size > 0) await this.reconcile(tx, ctx, def, [...ids]);
        return;
      }
      case 'dhcp_subnets': {
        const written = changes.filter((c) => c.after !== undefined);
        if (written.length > 0) await this.checkSubnets(tx, new Set(written.map((c) => c.after!.id)));
        await this.reconcile(tx, ctx, def, 'all');
        return;
      }
      case 'dhcp_reservations': {
        const written = changes.flatMap((c) => (c.after === undefined ? [] : [c.after]));
        const problems = await this.reservationProblems(tx, written.map(reservationRow));
        if (problems.length > 0) throw new InventoryError(problems.map((p) => issue(E.DHCP_CONFIG_INVALID, p.path, `reservation ${written[p.index]?.id}: ${p.message}`)));
        return;
      }
      default:
        return;
    }
  }

  private executor(tx: TxScope): Executor {
    return { database: this.database, powerBudget: 'warn', reader: tx.db, resource: this.resource, inTransaction: (fn) => fn(tx) };
  }

  private async reservationProblems(tx: TxScope, rows: readonly InventoryReservation[]): Promise<{ index: number; path: string; message: string }[]> {
    const file = this.dhcpFile?.();
    if (file === undefined || rows.length === 0) return [];
    const subnets = await selectWhereIn(tx.db, this.database.dialect, this.resource('dhcp_subnets'), 'id', rows.map((r) => r.subnet_id));
    return reservationWriteProblems(file, subnets.map(subnetRow), rows);
  }

  private async checkSubnets(tx: TxScope, written: ReadonlySet<number>): Promise<void> {
    const file = this.dhcpFile?.();
    if (file === undefined) return;
    // Every subnet: what the written ones must compose with (overlaps, interfaces, relay addresses) may be any of them.
    const all = await this.allSubnets(tx);
    const reservations = await selectWhereIn(tx.db, this.database.dialect, this.resource('dhcp_reservations'), 'subnet_id', [...written]);
    const problems = subnetWriteProblems(file, all.map(subnetRow), written, reservations.map(reservationRow));
    if (problems.length > 0) throw new InventoryError(problems.map((p) => issue(E.DHCP_CONFIG_INVALID, p.path, written.size > 1 ? `subnet ${p.id}: ${p.message}` : p.message)));
  }

  /** Every DHCP subnet, by id, as the transaction sees them. */
  private async allSubnets(tx: TxScope): Promise<AnyRow[]> {
    const def = this.resource('dhcp_subnets');
    const cols = sql.join(columnsOf(def).map((c) => sql.ref(c)));
    const r = await sql<Record<string, unknown>>`select ${cols} from ${sql.table(def.name)} order by ${sql.ref('id')}`.execute(tx.db);
    return r.rows.map((raw) => decodeRow(def, this.database.dialect, raw));
  }

  /** The subnets that can hold these addresses (all of them for many addresses), through the index on the subnet's text. */
  private async subnetsHolding(tx: TxScope, addresses: readonly unknown[]): Promise<AnyRow[]> {
    const ips = [...new Set(addresses.flatMap((a) => (typeof a === 'string' ? [parseIpv4(a)] : [])).filter((ip): ip is Ipv4 => ip !== undefined))];
    if (ips.length === 0) return [];
    if (ips.length > LOOKUP_ADDRESSES) return this.allSubnets(tx);
    return selectWhereIn(tx.db, this.database.dialect, this.resource('dhcp_subnets'), 'subnet', ips.flatMap(cidrTextsHolding));
  }

  /**
   * Brings the derived reservations of `servers` (every server, after a
   * subnet write) in step with their primary interfaces and the subnets.
   */
  private async reconcile(tx: TxScope, ctx: WriteContext, source: ResourceDef, servers: readonly number[] | 'all'): Promise<void> {
    const dialect = this.database.dialect;
    const load = (table: string, column: string, values: readonly unknown[]) => selectWhereIn(tx.db, dialect, this.resource(table), column, values);
    let subnetRows: AnyRow[];
    let primaries: AnyRow[];
    let existing: AnyRow[];
    if (servers === 'all') {
      subnetRows = await this.allSubnets(tx);
      primaries = await load('server_interfaces', 'is_primary', [true]);
      existing = (await load('dhcp_reservations', 'subnet_id', subnetRows.map((s) => s.id))).filter((r) => r['server_id'] !== null);
      // Derived rows of a subnet just deleted went with it (cascade); the rest are found through their servers.
      const seen = new Set(existing.map((e) => e.id));
      existing.push(...(await load('dhcp_reservations', 'server_id', primaries.map((p) => p['server_id']))).filter((r) => !seen.has(r.id)));
    } else {
      primaries = (await load('server_interfaces', 'server_id', servers)).filter((r) => r['is_primary'] === true);
      existing = await load('dhcp_reservations', 'server_id', servers);
      // Only the subnets that can hold the primary addresses matter here.
      subnetRows = await this.subnetsHolding(tx, primaries.map((p) => p['ip']));
    }
    const subnets = subnetRows.flatMap((r) => {
      const cidr = parseCidr(String(r['subnet']));
      return cidr === undefined ? [] : [{ row: r, cidr }];
    });
    const serverIds = servers === 'all' ? [...new Set([...primaries.map((p) => p['server_id'] as number), ...existing.map((e) => e['server_id'] as number)])] : servers;
    const serverRows = new Map((await load('servers', 'id', serverIds)).map((s) => [s.id, s]));
    const primaryOf = new Map(primaries.map((p) => [p['server_id'] as number, p]));
    const existingOf = new Map<number, AnyRow[]>();
    for (const e of existing) existingOf.set(e['server_id'] as number, [...(existingOf.get(e['server_id'] as number) ?? []), e]);

    const creates: Wanted[] = [];
    const updates: { id: number; version: number; wanted: Wanted }[] = [];
    const deletes: number[] = [];
    for (const id of serverIds) {
      const wanted = this.wanted(serverRows.get(id), primaryOf.get(id), subnets);
      const [keep, ...extra] = existingOf.get(id) ?? [];
      deletes.push(...extra.map((e) => e.id));
      if (wanted === undefined) {
        if (keep !== undefined) deletes.push(keep.id);
      } else if (keep === undefined) creates.push(wanted);
      else if (RESERVATION_FIELDS.some((f) => keep[f] !== wanted[f])) updates.push({ id: keep.id, version: keep.version, wanted });
    }
    if (creates.length === 0 && updates.length === 0 && deletes.length === 0) return;
    const repo = new Repository(this.resource('dhcp_reservations'), this.executor(tx));
    const nested: WriteContext = { ...(ctx.user === undefined ? {} : { user: ctx.user }), ...(ctx.userId === undefined ? {} : { userId: ctx.userId }), ...(ctx.sourceIp === undefined ? {} : { sourceIp: ctx.sourceIp }), ...(ctx.requestId === undefined ? {} : { requestId: ctx.requestId }) };
    // Deletes first, so an address or MAC one server gives up is free for another in the same write.
    if (deletes.length > 0) await repo.bulkDelete(deletes, { cascade: false }, nested);
    const asSource = async (list: readonly Wanted[], write: () => Promise<unknown>) => {
      try {
        await write();
      } catch (err) {
        if (!(err instanceof InventoryError)) throw err;
        throw this.refusal(err, source, list, serverRows);
      }
    };
    if (updates.length > 0) await asSource(updates.map((u) => u.wanted), () => repo.bulkUpdate(updates.map((u) => ({ id: u.id, version: u.version, ...u.wanted })), nested));
    if (creates.length > 0) await asSource(creates, () => repo.bulkCreate(creates, nested));
    const batch = [...updates.map((u) => u.wanted), ...creates];
    const problems = await this.reservationProblems(tx, batch.map((w) => ({ ...w, client_id: null })));
    if (problems.length > 0) {
      throw new InventoryError(problems.map((p) => this.sourceIssue(source, E.DHCP_CONFIG_INVALID, p.path, batch[p.index], serverRows, p.message)));
    }
  }

  private wanted(server: AnyRow | undefined, primary: AnyRow | undefined, subnets: readonly { row: AnyRow; cidr: Cidr }[]): Wanted | undefined {
    if (server === undefined || primary === undefined) return undefined;
    const mac = primary['mac'];
    const ipText = primary['ip'];
    if (typeof mac !== 'string' || typeof ipText !== 'string') return undefined;
    const ip = parseIpv4(ipText);
    const subnet = ip === undefined ? undefined : subnets.find((s) => cidrContains(s.cidr, ip));
    if (subnet === undefined) return undefined;
    const name = String(server['name']);
    // Option 12 must be a DNS name; a server named "rack 3 / db" is still reserved, without a host name.
    return { subnet_id: subnet.row.id, mac, ip: ipText, hostname: HOSTNAME.test(name) ? name : null, server_id: server.id };
  }

  /** A nested reservation write refused (`list` its batch): said as a refusal of the write that caused it, by that write's fields. */
  private refusal(err: InventoryError, source: ResourceDef, list: readonly Wanted[], servers: ReadonlyMap<number, AnyRow>): InventoryError {
    return new InventoryError(
      err.issues.map((i) => {
        const m = /^\[(\d+)\]\.?(.*)$/.exec(i.path);
        const w = m === null ? list[0] : list[Number(m[1])];
        // Another reservation of the subnet holds this MAC or address (the subnet's unique indexes).
        const taken = i.code === E.DUPLICATE_MAC || i.code === E.DUPLICATE_VALUE;
        // "row [k] of this request" is the nested batch's row: name the server it was derived for instead.
        const message = i.message.replace(/row \[(\d+)\] of this request/g, (all, k: string) => {
          const s = servers.get(list[Number(k)]?.server_id ?? 0);
          return s === undefined ? all : `the reservation of server ${JSON.stringify(s['name'])} (id ${s.id}) in this write`;
        });
        return this.sourceIssue(source, taken ? E.RESERVATION_CONFLICT : i.code, m?.[2] ?? i.path, w, servers, message);
      }),
    );
  }

  private sourceIssue(source: ResourceDef, code: InventoryErrorCode, field: string, w: Wanted | undefined, servers: ReadonlyMap<number, AnyRow>, message: string): InventoryIssue {
    const server = w === undefined ? undefined : servers.get(w.server_id);
    const who = server === undefined ? 'a server' : `server ${JSON.stringify(server['name'])} (id ${server.id})`;
    let path = '';
    if (source.name === 'server_interfaces') path = field === 'mac' || field === 'ip' ? field : field === 'hostname' ? '' : 'ip';
    else if (source.name === 'servers') path = field === 'hostname' ? 'name' : '';
    else if (source.name === 'dhcp_subnets') path = 'subnet';
    const what = w === undefined ? '' : ` (MAC ${w.mac}, ${w.ip} in subnet ${w.subnet_id})`;
    return issue(code, path, `${who} is a DHCP reservation of its primary interface${what}, and that reservation is refused: ${message}`);
  }
}

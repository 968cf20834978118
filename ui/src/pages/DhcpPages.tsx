import { useCallback, useEffect, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { api, query } from '../api/client';
import type { Page, Row } from '../api/client';
import type { LiveEvent } from '../api/live';
import { useLiveEvents } from '../api/live';
import { useLiveStats } from '../api/live-stats';
import { listAll } from '../api/rack-devices';
import { useRefNames } from '../api/ref-names';
import { useSignedIn } from '../api/session';
import { useDebouncedUrlParam } from '../api/url-params';
import { useAsync } from '../api/use-async';
import { DataTable, Pagination } from '../components/DataTable';
import type { Column } from '../components/DataTable';
import { EmptyState } from '../components/EmptyState';
import { ErrorBanner } from '../components/ErrorBanner';
import { Meter } from '../components/Meter';
import { StatusBadge } from '../components/Value';
import { enumLabel } from '../resources';
import '../ops.css';

/** The DHCP part of GET /api/v1/dashboard/metrics. */
interface DhcpFigures {
  readonly dhcp: { readonly enabled: boolean; readonly pools: readonly { subnet_id: number; pool: string; addresses: number; used: number; utilisation: number | null }[] };
}

const LEASE_STATES = ['offered', 'active', 'released', 'expired', 'declined'] as const;
/** Lease events that change the lease table. */
const LEASE_CHANGES: ReadonlySet<string> = new Set(['ack', 'offer', 'release', 'decline', 'expire', 'expired', 'nak']);
const PAGE_SIZES = 50;

const pct = (r: number | null): string => (r === null ? '—' : `${Math.round(r * 100)}%`);

/** Calls `reload` after DHCP lease events, at most every `ms` (a burst of clients is one reload). */
function useReloadOnLease(reload: () => void, ms: number, onEvent?: (e: LiveEvent) => void): void {
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const handler = useCallback(
    (e: LiveEvent) => {
      if (e.type !== 'dhcp' || !LEASE_CHANGES.has(String(e.data['event']))) return;
      onEvent?.(e);
      if (pending.current !== undefined) return;
      pending.current = setTimeout(() => {
        pending.current = undefined;
        reload();
      }, ms);
    },
    [reload, ms, onEvent],
  );
  useLiveEvents(handler);
  useEffect(() => () => clearTimeout(pending.current), []);
}

function poolLabel(p: unknown): string {
  if (typeof p === 'string') return p;
  if (typeof p === 'object' && p !== null && typeof (p as Record<string, unknown>)['range'] === 'string') {
    const o = p as Record<string, unknown>;
    return `${String(o['range'])}${typeof o['client_class'] === 'string' ? ` (class ${o['client_class']})` : ''}`;
  }
  return JSON.stringify(p);
}

const config = (s: Row): Record<string, unknown> => (typeof s['config'] === 'object' && s['config'] !== null ? (s['config'] as Record<string, unknown>) : {});

/** `/dhcp-subnets`: every subnet with its pools' use from the running DHCP service (live), leases and reservations. */
export function DhcpSubnetsPage() {
  const { meta } = useSignedIn();
  const writable = meta.byPath.get('dhcp/subnets')?.writable === true;
  const subnets = useAsync(() => listAll('dhcp/subnets', { ordering: 'id' }), 'dhcp-subnets');
  const figures = useAsync(() => api.get<DhcpFigures>('/api/v1/dashboard/metrics'), 'dhcp-figures');
  useReloadOnLease(figures.reload, 2000);
  const reservations = useAsync(async () => {
    const ids = (subnets.data ?? []).map((s) => Number(s['id']));
    const counts = await Promise.all(ids.map(async (id) => (await api.get<Page<Row>>(`/api/v1/dhcp/reservations${query({ subnet_id: id, limit: 1 })}`)).count));
    return new Map(ids.map((id, i) => [id, counts[i] ?? 0]));
  }, `dhcp-subnet-res/${(subnets.data ?? []).map((s) => String(s['id'])).join(',')}`);
  const pools = figures.data?.dhcp.pools ?? [];
  const enabled = figures.data?.dhcp.enabled;

  const columns: Column<Row>[] = [
    { key: 'subnet', label: 'Subnet', render: (s) => <Link to={`/dhcp-subnets/${String(s['id'])}`}>{String(s['subnet'])}</Link> },
    { key: 'id', label: 'ID', numeric: true, render: (s) => String(s['id']) },
    {
      key: 'pools',
      label: 'Pool use',
      render: (s) => {
        const mine = pools.filter((p) => p.subnet_id === Number(s['id']));
        const declared = Array.isArray(config(s)['pools']) ? (config(s)['pools'] as unknown[]) : [];
        if (mine.length > 0)
          return (
            <div className="subnet-pools">
              {mine.map((p) => (
                <Meter key={p.pool} ratio={p.utilisation} text={`${p.pool}: ${p.used.toLocaleString()} of ${p.addresses.toLocaleString()} leased (${pct(p.utilisation)})`} small />
              ))}
            </div>
          );
        if (declared.length === 0) return <span className="muted">No dynamic pool: reservations only</span>;
        return <span className="muted">{declared.map(poolLabel).join(', ')} {enabled === false ? '(DHCP is off on this node)' : '(not served yet)'}</span>;
      },
    },
    { key: 'interface', label: 'Interface', render: (s) => (typeof config(s)['interface'] === 'string' ? <code>{String(config(s)['interface'])}</code> : <span className="muted">by address</span>) },
    { key: 'routers', label: 'Routers', render: (s) => (Array.isArray(config(s)['routers']) ? <code>{(config(s)['routers'] as string[]).join(', ')}</code> : <span className="muted">—</span>) },
    { key: 'lease_time', label: 'Lease time', numeric: true, render: (s) => (typeof config(s)['lease_time'] === 'number' ? `${Number(config(s)['lease_time']) / 60} min` : <span className="muted">default</span>) },
    {
      key: 'links',
      label: 'Leases · reservations',
      render: (s) => (
        <span className="actions-cell">
          <Link to={`/dhcp/leases?subnet_id=${String(s['id'])}`}>Leases</Link>
          <Link to={`/dhcp-reservations?subnet_id=${String(s['id'])}`}>{reservations.data?.get(Number(s['id']))?.toLocaleString() ?? ''} reservations</Link>
        </span>
      ),
    },
  ];

  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>DHCP subnets</h1>
        <div className="page-actions">
          {writable && (
            <Link className="btn btn-primary" to="/dhcp-subnets/new">
              Add subnet
            </Link>
          )}
        </div>
      </div>
      <p className="note">Pool use is the running DHCP service's, updated as leases are handed out. A subnet from the configuration file is seeded here once; the inventory's copy is what is served.</p>
      {enabled === false && (
        <div className="banner banner-info" role="status">
          DHCP is off on this node: subnets can be prepared, but no address is leased until <code>dhcp.enabled</code> and <code>dhcp.interfaces</code> are set and dcplane restarted.
        </div>
      )}
      {subnets.error !== undefined && <ErrorBanner error={subnets.error} title="Subnets could not be loaded" onRetry={subnets.reload} />}
      {figures.error !== undefined && <ErrorBanner error={figures.error} title="Pool use could not be loaded" onRetry={figures.reload} />}
      {subnets.data === undefined ? (
        subnets.error === undefined && <p className="muted">Loading subnets…</p>
      ) : (
        <DataTable
          caption="DHCP subnets"
          columns={columns}
          rows={subnets.data}
          rowKey={(s) => String(s['id'])}
          empty={
            <EmptyState title="No DHCP subnets yet" action={writable ? <Link className="btn btn-primary" to="/dhcp-subnets/new">Add the first subnet</Link> : undefined}>
              <p>A subnet (its CIDR, pools and options) is what DHCP serves on an interface. Servers whose primary interface has an address in it become reservations.</p>
            </EmptyState>
          }
        />
      )}
    </>
  );
}

/** The inventory's server behind each MAC (its interface's), for a page of leases: two requests, whatever the page size. */
function useServersByMac(macs: readonly string[]): ReadonlyMap<string, { id: number; name: string }> {
  const wanted = [...new Set(macs)].sort();
  const res = useAsync(async () => {
    const out = new Map<string, { id: number; name: string }>();
    if (wanted.length === 0) return out;
    const nics = await api.get<Page<Row>>(`/api/v1/server-interfaces${query({ mac__in: wanted.join(','), limit: 1000 })}`);
    const ids = [...new Set(nics.results.map((n) => Number(n['server_id'])))];
    if (ids.length === 0) return out;
    const servers = await api.get<Page<Row>>(`/api/v1/servers${query({ id__in: ids.join(','), brief: 1, limit: ids.length })}`);
    const names = new Map(servers.results.map((s) => [Number(s['id']), String(s['display'])]));
    for (const n of nics.results) out.set(String(n['mac']), { id: Number(n['server_id']), name: names.get(Number(n['server_id'])) ?? `#${String(n['server_id'])}` });
    return out;
  }, wanted.join(','));
  return res.data ?? new Map();
}

/** `/dhcp/leases`: the lease table, live: lease events from the WebSocket reload it and mark the rows they touched. */
export function DhcpLeasesPage() {
  const [params, setParams] = useSearchParams();
  const subnetId = params.get('subnet_id') ?? '';
  const state = params.get('state') ?? '';
  const offset = Number(params.get('offset') ?? 0) || 0;
  const limit = Number(params.get('limit') ?? PAGE_SIZES) || PAGE_SIZES;
  const url = `/api/v1/dhcp/leases${query({ subnet_id: subnetId, state, limit, offset })}`;
  const leases = useAsync(() => api.get<Page<Row>>(url), url);
  const subnets = useAsync(() => listAll('dhcp/subnets', { ordering: 'id' }), 'lease-subnets');
  const [touched, setTouched] = useState<ReadonlyMap<string, number>>(new Map());
  const mark = useCallback((e: LiveEvent) => {
    const ip = e.data['ip'];
    if (typeof ip === 'string') setTouched((m) => new Map(m).set(ip, Date.now()));
  }, []);
  useReloadOnLease(leases.reload, 1000, mark);
  const stats = useLiveStats();
  const recent = stats.recent.filter((e) => e.type === 'dhcp').slice(0, 12);
  const subnetName = new Map((subnets.data ?? []).map((s) => [Number(s['id']), String(s['subnet'])]));
  const owners = useServersByMac((leases.data?.results ?? []).map((l) => String(l['mac'])));

  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v === '') next.delete(k);
    else next.set(k, v);
    next.delete('offset');
    setParams(next);
  };

  const columns: Column<Row>[] = [
    { key: 'ip', label: 'Address', render: (l) => <code>{String(l['ip'])}</code> },
    { key: 'state', label: 'State', render: (l) => <StatusBadge value={String(l['state'])} /> },
    { key: 'mac', label: 'MAC address', render: (l) => <code>{String(l['mac'])}</code> },
    { key: 'hostname', label: 'Hostname', render: (l) => (l['hostname'] === null ? <span className="muted">—</span> : String(l['hostname'])) },
    {
      key: 'server',
      label: 'Server',
      render: (l) => {
        const o = owners.get(String(l['mac']));
        return o === undefined ? <span className="muted">not in inventory</span> : <Link to={`/servers/${o.id}`}>{o.name}</Link>;
      },
    },
    { key: 'subnet_id', label: 'Subnet', render: (l) => <Link to={`/dhcp-subnets/${String(l['subnet_id'])}`}>{subnetName.get(Number(l['subnet_id'])) ?? `#${String(l['subnet_id'])}`}</Link> },
    { key: 'starts', label: 'Since', render: (l) => <time dateTime={String(l['starts'])}>{new Date(String(l['starts'])).toLocaleString()}</time> },
    { key: 'expires', label: 'Expires', render: (l) => <time dateTime={String(l['expires'])}>{new Date(String(l['expires'])).toLocaleString()}</time> },
  ];
  const rows = leases.data?.results ?? [];
  const now = Date.now();

  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>DHCP leases</h1>
        <span className="muted small">Live: updated as clients are served</span>
      </div>
      <form className="toolbar" onSubmit={(e) => e.preventDefault()} aria-label="Filter leases">
        <label className="filter">
          <span>Subnet</span>
          <select value={subnetId} onChange={(e) => set('subnet_id', e.target.value)}>
            <option value="">Any</option>
            {(subnets.data ?? []).map((s) => (
              <option key={String(s['id'])} value={String(s['id'])}>
                {String(s['subnet'])}
              </option>
            ))}
          </select>
        </label>
        <label className="filter">
          <span>State</span>
          <select value={state} onChange={(e) => set('state', e.target.value)}>
            <option value="">Any</option>
            {LEASE_STATES.map((s) => (
              <option key={s} value={s}>
                {enumLabel(s)}
              </option>
            ))}
          </select>
        </label>
      </form>
      {leases.error !== undefined && <ErrorBanner error={leases.error} title="Leases could not be loaded" onRetry={leases.reload} />}
      {leases.data === undefined ? (
        leases.error === undefined && <p className="muted">Loading leases…</p>
      ) : (
        <>
          {rows.length === 0 ? (
            <EmptyState title={subnetId !== '' || state !== '' ? 'No leases match' : 'No leases yet'}>
              <p>{subnetId !== '' || state !== '' ? 'Nothing matches these filters; set them to Any to see every lease.' : 'When a client is given an address it appears here at once. Check that DHCP is on and the subnet has a pool or reservations.'}</p>
            </EmptyState>
          ) : (
            <div className="table-wrap">
              <table className="data">
                <caption className="sr-only">DHCP leases</caption>
                <thead>
                  <tr>
                    {columns.map((c) => (
                      <th key={c.key} scope="col">
                        {c.label}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody aria-live="polite">
                  {rows.map((l) => {
                    const at = touched.get(String(l['ip']));
                    return (
                      <tr key={`${String(l['subnet_id'])}-${String(l['ip'])}-${at ?? 0}`} className={at !== undefined && now - at < 5000 ? 'row-new' : undefined} data-ip={String(l['ip'])}>
                        {columns.map((c) => (
                          <td key={c.key}>{c.render(l)}</td>
                        ))}
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
          {leases.data.count > 0 && <Pagination count={leases.data.count} limit={limit} offset={offset} onChange={(l, o) => setParams((p) => { const n = new URLSearchParams(p); n.set('limit', String(l)); n.set('offset', String(o)); return n; })} />}
        </>
      )}
      <section className="panel" aria-labelledby="lease-events-title" style={{ marginTop: '1rem' }}>
        <h2 id="lease-events-title">Lease events</h2>
        {recent.length === 0 ? (
          <p className="muted">No DHCP traffic since you opened dcplane. Discovers, offers, acks and releases appear here as they happen.</p>
        ) : (
          <ol className="events">
            {recent.map((e, i) => {
              const ev = String(e.data['event']);
              return (
                <li key={`${e.at}-${i}`} className={`event event-${ev === 'ack' ? 'ok' : ev === 'nak' || ev === 'decline' || ev === 'exhausted' ? 'bad' : 'info'}`}>
                  <time dateTime={e.at}>{new Date(e.at).toLocaleTimeString()}</time>
                  <span className="event-what">DHCP {ev}</span>
                  <span className="event-detail">
                    {typeof e.data['ip'] === 'string' ? `${e.data['ip']} → ` : ''}
                    {String(e.data['mac'] ?? '')} {typeof e.data['hostname'] === 'string' ? e.data['hostname'] : ''}
                    {typeof e.data['reason'] === 'string' ? ` (${e.data['reason']})` : ''}
                  </span>
                </li>
              );
            })}
          </ol>
        )}
      </section>
    </>
  );
}

/** `/dhcp-reservations`: fixed addresses; those derived from a server's primary interface say so and link to it. */
export function DhcpReservationsPage() {
  const { meta } = useSignedIn();
  const rm = meta.byPath.get('dhcp/reservations');
  const [params, setParams] = useSearchParams();
  const subnetId = params.get('subnet_id') ?? '';
  const q = params.get('q') ?? '';
  const source = params.get('source') ?? '';
  const offset = Number(params.get('offset') ?? 0) || 0;
  const limit = Number(params.get('limit') ?? PAGE_SIZES) || PAGE_SIZES;
  const [search, setSearch] = useDebouncedUrlParam('q');
  const url = `/api/v1/dhcp/reservations${query({ subnet_id: subnetId, q, limit, offset, server_id__isnull: source === '' ? undefined : source === 'manual' ? 'True' : 'False' })}`;
  const list = useAsync(() => api.get<Page<Row>>(url), url);
  const subnets = useAsync(() => listAll('dhcp/subnets', { ordering: 'id' }), 'res-subnets');
  const refs = useRefNames(rm, list.data?.results, ['server_id', 'subnet_id']);

  const set = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === '') next.delete(k);
      else next.set(k, v);
    }
    next.delete('offset');
    setParams(next);
  };

  const columns: Column<Row>[] = [
    { key: 'ip', label: 'Address', render: (r) => <Link to={`/dhcp-reservations/${String(r['id'])}`}>{typeof r['ip'] === 'string' ? r['ip'] : 'no address'}</Link> },
    { key: 'mac', label: 'MAC / client id', render: (r) => <code>{String(r['mac'] ?? r['client_id'] ?? '—')}</code> },
    { key: 'hostname', label: 'Hostname', render: (r) => (typeof r['hostname'] === 'string' ? r['hostname'] : <span className="muted">—</span>) },
    { key: 'subnet_id', label: 'Subnet', render: (r) => <Link to={`/dhcp-subnets/${String(r['subnet_id'])}`}>{refs.get('subnet_id')?.get(Number(r['subnet_id'])) ?? `#${String(r['subnet_id'])}`}</Link> },
    {
      key: 'source',
      label: 'Source',
      render: (r) =>
        typeof r['server_id'] === 'number' ? (
          <span>
            <span className="badge badge-info">From server</span> <Link to={`/servers/${r['server_id']}`}>{refs.get('server_id')?.get(r['server_id']) ?? `#${r['server_id']}`}</Link>
          </span>
        ) : (
          <span className="badge badge-off">Manual</span>
        ),
    },
  ];

  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>DHCP reservations</h1>
        <div className="page-actions">
          {rm?.writable === true && (
            <Link className="btn btn-primary" to={`/dhcp-reservations/new${query({ subnet_id: subnetId })}`}>
              Add reservation
            </Link>
          )}
        </div>
      </div>
      <p className="note">A server whose primary interface has a MAC and an address inside a subnet is reserved automatically (“From server”); change those on the server. Manual reservations are edited here.</p>
      <form className="toolbar" role="search" onSubmit={(e) => (e.preventDefault(), set({ q: search }))}>
        <label className="filter filter-search">
          <span>Search</span>
          <input type="search" value={search} placeholder="Address, MAC, hostname…" onChange={(e) => setSearch(e.target.value)} />
        </label>
        <label className="filter">
          <span>Subnet</span>
          <select value={subnetId} onChange={(e) => set({ subnet_id: e.target.value })}>
            <option value="">Any</option>
            {(subnets.data ?? []).map((s) => (
              <option key={String(s['id'])} value={String(s['id'])}>
                {String(s['subnet'])}
              </option>
            ))}
          </select>
        </label>
        <label className="filter">
          <span>Source</span>
          <select value={source} onChange={(e) => set({ source: e.target.value })}>
            <option value="">Any</option>
            <option value="server">From a server</option>
            <option value="manual">Manual</option>
          </select>
        </label>
      </form>
      {list.error !== undefined && <ErrorBanner error={list.error} title="Reservations could not be loaded" onRetry={list.reload} />}
      {list.data === undefined ? (
        list.error === undefined && <p className="muted">Loading reservations…</p>
      ) : (
        <>
          <DataTable
            caption="DHCP reservations"
            columns={columns}
            rows={list.data.results}
            rowKey={(r) => String(r['id'])}
            loading={list.loading}
            empty={
              <EmptyState title={q !== '' || subnetId !== '' || source !== '' ? 'No reservations match' : 'No reservations yet'}>
                <p>Give a server a primary interface with a MAC and an address in a DHCP subnet, or add a manual reservation.</p>
              </EmptyState>
            }
          />
          {list.data.count > 0 && <Pagination count={list.data.count} limit={limit} offset={offset} onChange={(l, o) => setParams((p) => { const n = new URLSearchParams(p); n.set('limit', String(l)); n.set('offset', String(o)); return n; })} />}
        </>
      )}
    </>
  );
}

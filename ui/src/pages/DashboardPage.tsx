import { useCallback, useEffect, useMemo, useRef } from 'react';
import type { ReactNode } from 'react';
import { Link } from 'react-router-dom';
import { api } from '../api/client';
import type { LiveEvent } from '../api/live';
import { useLiveEvents } from '../api/live';
import { SAMPLE_SECONDS, useLiveStats } from '../api/live-stats';
import { useSignedIn } from '../api/session';
import { useAsync } from '../api/use-async';
import { EmptyState } from '../components/EmptyState';
import { ErrorBanner } from '../components/ErrorBanner';
import { Meter } from '../components/Meter';
import { TimeSeriesChart } from '../components/TimeSeriesChart';
import { StatusBadge } from '../components/Value';
import { enumLabel, viewPath } from '../resources';

/** GET /api/v1/dashboard/metrics (src/http/dashboard.ts). */
interface Metrics {
  readonly generated_at: string;
  readonly tenant_scoped: boolean;
  readonly counts: { datacenters: number; racks: number; servers: { total: number; by_status: Record<string, number> }; vms: number; containers: number; network_devices: number; storage: number };
  readonly racks: { u_used: number; u_total: number; u_utilisation: number | null; power_used_kw: number; power_capacity_kw: number; power_utilisation: number | null; by_datacenter: { datacenter_id: number; name: string | null; racks: number; u_used: number; u_total: number; u_utilisation: number | null; power_used_kw: number; power_capacity_kw: number | null; power_utilisation: number | null }[] };
  readonly pue: { datacenter_id: number; name: string; code: string; target: number | null; measured: number | null }[];
  readonly alerts: { active: number; items: Record<string, unknown>[] };
  readonly dhcp: { enabled: boolean; addresses: number; used: number; utilisation: number | null; pools: { subnet_id: number; pool: string; addresses: number; used: number; utilisation: number | null }[] };
  readonly tftp: { enabled: boolean; active_transfers: number; completed_last_minute: number; failed_last_minute: number; bytes_last_minute: number; bytes_per_second: number; window_truncated: boolean };
}

const POLL_MS = 15_000;

export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

const pct = (r: number | null): string => (r === null ? '—' : `${(r * 100).toFixed(r < 0.1 ? 1 : 0)}%`);

function Kpi({ label, value, sub, to }: { readonly label: string; readonly value: string; readonly sub?: ReactNode; readonly to?: string }) {
  const body = (
    <>
      <span className="kpi-label">{label}</span>
      <span className="kpi-value">{value}</span>
      {sub !== undefined && <span className="kpi-sub">{sub}</span>}
    </>
  );
  return to === undefined ? <div className="kpi">{body}</div> : <Link className="kpi kpi-link" to={to}>{body}</Link>;
}

/** What an event says, for the list; `to` links an inventory object's page (not after a delete). */
function describe(e: LiveEvent, pathOfType: ReadonlyMap<string, string>): { what: string; detail: string; tone: string; to?: string } {
  const d = e.data;
  if (e.type === 'dhcp') {
    const ev = String(d['event']);
    const who = [d['hostname'], d['mac']].filter((x) => typeof x === 'string' && x !== '').join(' ');
    return { what: `DHCP ${ev}`, detail: `${typeof d['ip'] === 'string' ? `${d['ip']} → ` : ''}${who}${typeof d['reason'] === 'string' ? ` (${d['reason']})` : ''}`, tone: ev === 'ack' ? 'ok' : ev === 'nak' || ev === 'decline' || ev === 'exhausted' ? 'bad' : 'info' };
  }
  if (e.type === 'tftp') {
    const t = (d['transfer'] ?? {}) as Record<string, unknown>;
    const state = String(t['state'] ?? '');
    const size = typeof t['bytes'] === 'number' ? ` ${formatBytes(t['bytes'])}` : '';
    return { what: `TFTP ${String(d['event'])}`, detail: `${String(t['file'] ?? '')} → ${String(t['client'] ?? '')}${d['event'] === 'end' ? ` ${state}${size}` : ''}`, tone: state === 'failed' || state === 'refused' ? 'bad' : d['event'] === 'end' ? 'ok' : 'info' };
  }
  const img = (d['after'] ?? d['before'] ?? {}) as Record<string, unknown>;
  const name = typeof img['name'] === 'string' ? img['name'] : `#${String(d['object_id'])}`;
  const api = pathOfType.get(String(d['object_type']));
  const to = d['action'] === 'delete' || api === undefined ? undefined : viewPath(api, Number(d['object_id']));
  return { what: `${enumLabel(String(d['object_type']))} ${String(d['action'])}`, detail: name, tone: d['action'] === 'delete' ? 'warn' : 'info', ...(to === undefined ? {} : { to }) };
}

/**
 * The operator's first screen: inventory and capacity figures (polled, and
 * refreshed when the inventory changes), and what is happening now from the
 * WebSocket: DHCP leases, TFTP transfers and their throughput, recent events.
 */
export function DashboardPage() {
  const m = useAsync(() => api.get<Metrics>('/api/v1/dashboard/metrics'), 'dashboard');
  const { meta } = useSignedIn();
  const pathOfType = useMemo(() => new Map([...meta.byPath.values()].map((r) => [r.object_type, r.path])), [meta]);
  const stats = useLiveStats();
  const { reload } = m;

  useEffect(() => {
    const t = setInterval(reload, POLL_MS);
    return () => clearInterval(t);
  }, [reload]);

  // Inventory changes move the counts: refresh, at most once a second.
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const onEvent = useCallback(
    (e: LiveEvent) => {
      if (e.type !== 'inventory' || pending.current !== undefined) return;
      pending.current = setTimeout(() => {
        pending.current = undefined;
        reload();
      }, 1000);
    },
    [reload],
  );
  useLiveEvents(onEvent);
  useEffect(() => () => clearTimeout(pending.current), []);

  const xs = useMemo(() => stats.samples.map((s) => s.t), [stats.samples]);
  const leaseSeries = useMemo(
    () => [
      { label: 'Leases (ACK)', color: '#1f7a4d', values: stats.samples.map((s) => s.leasesPerMinute) },
      { label: 'Offers', color: '#2f6fb3', values: stats.samples.map((s) => s.offersPerMinute) },
    ],
    [stats.samples],
  );
  const tftpCount = useMemo(() => [{ label: 'Transfers started', color: '#8a4fbf', values: stats.samples.map((s) => s.tftpStartsPerMinute) }], [stats.samples]);
  const tftpRate = useMemo(() => [{ label: 'Throughput', color: '#c2410c', values: stats.samples.map((s) => s.tftpBytesPerSecond / 1024) }], [stats.samples]);

  const d = m.data;
  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>Dashboard</h1>
        <div className="page-actions">
          {d !== undefined && (
            <span className="muted small">
              Figures at {new Date(d.generated_at).toLocaleTimeString()}
              {d.tenant_scoped ? ' · your tenants only' : ''}
            </span>
          )}
        </div>
      </div>
      {m.error !== undefined && <ErrorBanner error={m.error} title="Dashboard figures could not be loaded" onRetry={reload} />}
      {d === undefined && m.error === undefined && <p className="muted">Loading figures…</p>}
      {d !== undefined && (
        <>
          {d.counts.datacenters === 0 && (
            <EmptyState title="No inventory yet" action={<Link className="btn btn-primary" to="/datacenters/new">Add a datacenter</Link>}>
              <p>Start with a datacenter, then add its racks and the servers in them. Servers with a MAC address on an interface are what DHCP will recognise when they boot.</p>
            </EmptyState>
          )}
          <section className="kpis" aria-label="Key figures">
            <Kpi label="Datacenters" value={d.counts.datacenters.toLocaleString()} to="/datacenters" />
            <Kpi label="Racks" value={d.counts.racks.toLocaleString()} to="/racks" />
            <Kpi
              label="Servers"
              value={d.counts.servers.total.toLocaleString()}
              to="/servers"
              sub={
                <span className="status-counts">
                  {Object.entries(d.counts.servers.by_status)
                    .filter(([, n]) => n > 0)
                    .map(([s, n]) => (
                      <span key={s}>
                        <StatusBadge value={s} /> {n.toLocaleString()}
                      </span>
                    ))}
                  {d.counts.servers.total === 0 && 'none yet'}
                </span>
              }
            />
            <Kpi label="Active alerts" value={d.alerts.active.toLocaleString()} sub={d.alerts.active === 0 ? 'No active alerts' : undefined} />
            <Kpi label="VMs · containers" value={`${d.counts.vms.toLocaleString()} · ${d.counts.containers.toLocaleString()}`} to="/vms" />
            <Kpi label="Network · storage" value={`${d.counts.network_devices.toLocaleString()} · ${d.counts.storage.toLocaleString()}`} to="/network-devices" />
          </section>

          <section className="panels">
            <div className="panel">
              <h2>Rack capacity</h2>
              <Meter label="U space" ratio={d.racks.u_utilisation} text={`${d.racks.u_used.toLocaleString()} of ${d.racks.u_total.toLocaleString()} U (${pct(d.racks.u_utilisation)})`} />
              <Meter
                label="Power"
                ratio={d.racks.power_utilisation}
                text={d.racks.power_capacity_kw > 0 ? `${d.racks.power_used_kw.toFixed(1)} of ${d.racks.power_capacity_kw.toFixed(1)} kW (${pct(d.racks.power_utilisation)})` : `${d.racks.power_used_kw.toFixed(1)} kW drawn; no rack has a power capacity set`}
              />
              {d.racks.by_datacenter.length > 0 && (
                <table className="data compact">
                  <caption className="sr-only">Capacity by datacenter</caption>
                  <thead>
                    <tr>
                      <th scope="col">Datacenter</th>
                      <th scope="col" className="num">Racks</th>
                      <th scope="col">U used</th>
                      <th scope="col">Power</th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.racks.by_datacenter.map((r) => (
                      <tr key={r.datacenter_id}>
                        <td>
                          <Link to={viewPath('datacenters', r.datacenter_id) ?? '/'}>{r.name ?? `#${r.datacenter_id}`}</Link>
                        </td>
                        <td className="num">{r.racks}</td>
                        <td>
                          <Meter ratio={r.u_utilisation} text={`${r.u_used}/${r.u_total} U`} small />
                        </td>
                        <td>
                          <Meter ratio={r.power_utilisation} text={r.power_capacity_kw === null ? `${r.power_used_kw.toFixed(1)} kW, no capacity set` : `${r.power_used_kw.toFixed(1)}/${r.power_capacity_kw.toFixed(1)} kW`} small />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </div>
            <div className="panel">
              <h2>DHCP pools</h2>
              {!d.dhcp.enabled ? (
                <EmptyState title="DHCP is off on this node">
                  <p>
                    Set <code>dhcp.enabled</code> and <code>dhcp.interfaces</code> in the configuration and restart to serve leases.
                  </p>
                </EmptyState>
              ) : (
                <>
                  <Meter label="All pools" ratio={d.dhcp.utilisation} text={`${d.dhcp.used.toLocaleString()} of ${d.dhcp.addresses.toLocaleString()} addresses (${pct(d.dhcp.utilisation)})`} />
                  {d.dhcp.pools.map((p) => (
                    <Meter key={`${p.subnet_id}/${p.pool}`} label={`Subnet ${p.subnet_id} · ${p.pool}`} ratio={p.utilisation} text={`${p.used}/${p.addresses} (${pct(p.utilisation)})`} small />
                  ))}
                </>
              )}
              <h2>PUE</h2>
              <p className="muted small">Measured PUE needs facility power metrics, which dcplane does not ingest yet.</p>
              {d.pue.length === 0 ? (
                <p className="muted">No datacenters yet.</p>
              ) : (
                <ul className="plain">
                  {d.pue.map((p) => (
                    <li key={p.datacenter_id}>
                      <strong>{p.name}</strong>: measured {p.measured ?? <span className="muted">not yet</span>} · target {p.target ?? <span className="muted">not set</span>}
                    </li>
                  ))}
                </ul>
              )}
            </div>
            <div className="panel">
              <h2>TFTP now</h2>
              {!d.tftp.enabled ? (
                <EmptyState title="TFTP is off on this node">
                  <p>
                    Set <code>tftp.enabled</code> in the configuration and restart to serve boot files.
                  </p>
                </EmptyState>
              ) : (
                <dl className="facts">
                  <dt>Active transfers</dt>
                  <dd>{d.tftp.active_transfers}</dd>
                  <dt>Completed (last minute)</dt>
                  <dd>{d.tftp.completed_last_minute}</dd>
                  <dt>Failed (last minute)</dt>
                  <dd className={d.tftp.failed_last_minute > 0 ? 'text-bad' : undefined}>{d.tftp.failed_last_minute}</dd>
                  <dt>Throughput</dt>
                  <dd>
                    {formatBytes(d.tftp.bytes_per_second)}/s{d.tftp.window_truncated ? ' (at least: more transfers than the log keeps)' : ''}
                  </dd>
                </dl>
              )}
            </div>
          </section>
        </>
      )}

      <h2 className="section-title">Live activity <span className="muted small">rates over the last minute, one point every {SAMPLE_SECONDS} s, since dcplane was opened in this tab</span></h2>
      <section className="panels charts" aria-label="Live activity">
        <div className="panel">
          <TimeSeriesChart title="DHCP leases per minute" xs={xs} series={leaseSeries} unit="per min" note={d !== undefined && !d.dhcp.enabled ? 'DHCP is off on this node' : undefined} />
        </div>
        <div className="panel">
          <TimeSeriesChart title="TFTP transfers per minute" xs={xs} series={tftpCount} unit="per min" note={d !== undefined && !d.tftp.enabled ? 'TFTP is off on this node' : undefined} />
        </div>
        <div className="panel">
          <TimeSeriesChart title="TFTP throughput" xs={xs} series={tftpRate} unit="KiB/s" note={d !== undefined && !d.tftp.enabled ? 'TFTP is off on this node' : undefined} />
        </div>
      </section>

      <section className="panel" aria-labelledby="recent-title">
        <h2 id="recent-title">Live events</h2>
        {stats.recent.length === 0 ? (
          <p className="muted">No events since you opened dcplane. Leases, boot file transfers and inventory changes appear here as they happen.</p>
        ) : (
          <ol className="events" aria-live="polite">
            {stats.recent.slice(0, 15).map((e, i) => {
              const x = describe(e, pathOfType);
              return (
                <li key={`${e.at}-${i}`} className={`event event-${x.tone}`}>
                  <time dateTime={e.at}>{new Date(e.at).toLocaleTimeString()}</time>
                  <span className="event-what">{x.what}</span>
                  <span className="event-detail">{x.to !== undefined ? <Link to={x.to}>{x.detail}</Link> : x.detail}</span>
                </li>
              );
            })}
          </ol>
        )}
      </section>
    </>
  );
}

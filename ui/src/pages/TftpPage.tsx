import { useCallback, useEffect, useRef, useState } from 'react';
import { api, query } from '../api/client';
import type { Page, Row } from '../api/client';
import type { LiveEvent } from '../api/live';
import { useLiveEvents } from '../api/live';
import { useAsync } from '../api/use-async';
import { EmptyState } from '../components/EmptyState';
import { ErrorBanner } from '../components/ErrorBanner';
import { Meter } from '../components/Meter';
import { enumLabel } from '../resources';
import { formatBytes } from './DashboardPage';
import '../ops.css';

/** While transfers run, their byte counts are polled this often (events come at start and end only). */
const ACTIVE_POLL_MS = 2000;
const RECENT_LIMIT = 100;

const TONE_OF_STATE: Readonly<Record<string, string>> = { active: 'progress', completed: 'ok', failed: 'bad', refused: 'bad' };

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function rate(t: Row): string {
  const ms = Number(t['duration_ms']);
  const bytes = Number(t['bytes']);
  return ms > 0 ? `${formatBytes((bytes * 1000) / ms)}/s` : '—';
}

function TransferTable({ rows, active, fresh }: { readonly rows: readonly Row[]; readonly active: boolean; readonly fresh: ReadonlySet<number> }) {
  return (
    <div className="table-wrap">
      <table className="data">
        <caption className="sr-only">{active ? 'Active transfers' : 'Recent transfers'}</caption>
        <thead>
          <tr>
            <th scope="col">File</th>
            <th scope="col">Client</th>
            <th scope="col">{active ? 'Progress' : 'Result'}</th>
            <th scope="col" className="num">
              Size
            </th>
            <th scope="col" className="num">
              Rate
            </th>
            <th scope="col" className="num">
              Resends
            </th>
            <th scope="col">Block size</th>
            <th scope="col">{active ? 'Started' : 'Ended'}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((t) => {
            const size = typeof t['size'] === 'number' ? t['size'] : null;
            const bytes = Number(t['bytes']);
            const opts = (t['options'] ?? {}) as Record<string, string>;
            const state = String(t['state']);
            return (
              <tr key={String(t['id'])} className={fresh.has(Number(t['id'])) ? 'row-new' : undefined} data-file={String(t['file'])}>
                <td>
                  <code>{String(t['file'])}</code>
                  {t['direction'] === 'write' && <span className="muted small"> (upload)</span>}
                </td>
                <td>
                  <code>{String(t['client'])}</code>
                </td>
                <td className="progress-cell">
                  {active ? (
                    <Meter ratio={size === null || size === 0 ? null : bytes / size} text={size === null ? `${formatBytes(bytes)} so far` : `${formatBytes(bytes)} of ${formatBytes(size)}`} small />
                  ) : (
                    <>
                      <span className={`badge badge-${TONE_OF_STATE[state] ?? 'off'}`}>{enumLabel(state)}</span>{' '}
                      {state !== 'completed' && typeof t['reason'] === 'string' && <span className="small">{enumLabel(t['reason'])}</span>}
                    </>
                  )}
                </td>
                <td className="num">{size === null ? '—' : formatBytes(size)}</td>
                <td className="num">{active || state === 'completed' ? rate(t) : '—'}</td>
                <td className="num">{String(t['resends'])}</td>
                <td>{opts['blksize'] ?? '512'}</td>
                <td>
                  {active ? new Date(String(t['started'])).toLocaleTimeString() : typeof t['ended'] === 'string' ? new Date(t['ended']).toLocaleTimeString() : '—'}
                  <span className="muted small"> · {seconds(Number(t['duration_ms']))}</span>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/**
 * `/tftp`: transfers running now and the most recent finished ones, live:
 * the WebSocket's transfer start/end events reload the lists, and running
 * transfers' byte counts are polled while there are any.
 */
export function TftpPage() {
  const active = useAsync(() => api.get<Page<Row>>(`/api/v1/tftp/transfers${query({ state: 'active', limit: 200 })}`), 'tftp-active');
  const recent = useAsync(async () => {
    const page = await api.get<Page<Row>>(`/api/v1/tftp/transfers${query({ limit: RECENT_LIMIT + 200 })}`);
    return { count: page.count, rows: page.results.filter((t) => t['state'] !== 'active').slice(0, RECENT_LIMIT) };
  }, 'tftp-recent');
  const health = useAsync(() => api.get<{ services: Record<string, string> }>('/api/v1/health').catch(() => undefined), 'tftp-health');
  const [fresh, setFresh] = useState<ReadonlySet<number>>(new Set());
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const { reload: reloadActive } = active;
  const { reload: reloadRecent } = recent;

  const onEvent = useCallback(
    (e: LiveEvent) => {
      if (e.type !== 'tftp') return;
      const t = e.data['transfer'] as Row | undefined;
      if (typeof t?.['id'] === 'number') {
        const id = t['id'];
        setFresh((s) => new Set(s).add(id));
      }
      if (pending.current !== undefined) return;
      pending.current = setTimeout(() => {
        pending.current = undefined;
        reloadActive();
        reloadRecent();
      }, 300);
    },
    [reloadActive, reloadRecent],
  );
  useLiveEvents(onEvent);
  useEffect(() => () => clearTimeout(pending.current), []);

  const running = active.data?.count ?? 0;
  useEffect(() => {
    if (running === 0) return;
    const t = setInterval(reloadActive, ACTIVE_POLL_MS);
    return () => clearInterval(t);
  }, [running, reloadActive]);

  const tftpState = health.data?.services['tftp'];
  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>TFTP transfers</h1>
        <span className="muted small">Live: transfers appear as they start and end</span>
      </div>
      {tftpState !== undefined && tftpState !== 'running' && (
        <div className="banner banner-info" role="status">
          TFTP is {tftpState} on this node. Set <code>tftp.enabled</code> (and <code>tftp.root</code>) in the configuration and restart to serve boot files.
        </div>
      )}
      {active.error !== undefined && <ErrorBanner error={active.error} title="Transfers could not be loaded" onRetry={active.reload} />}
      <section className="panel" aria-labelledby="tftp-active-title">
        <h2 id="tftp-active-title">
          Active now <span className="count">{active.data === undefined ? '' : running.toLocaleString()}</span>
        </h2>
        {active.data === undefined ? (
          <p className="muted">Loading…</p>
        ) : running === 0 ? (
          <p className="muted empty-inline">No transfer is running. A PXE client fetching its boot loader shows up here while it downloads.</p>
        ) : (
          <TransferTable rows={active.data.results} active fresh={fresh} />
        )}
      </section>
      <section className="panel" aria-labelledby="tftp-recent-title">
        <h2 id="tftp-recent-title">
          Recent <span className="count">{recent.data === undefined ? '' : `last ${recent.data.rows.length.toLocaleString()}`}</span>
        </h2>
        {recent.error !== undefined && <ErrorBanner error={recent.error} onRetry={recent.reload} />}
        {recent.data === undefined ? (
          <p className="muted">Loading…</p>
        ) : recent.data.rows.length === 0 ? (
          <EmptyState title="No transfers yet">
            <p>Finished and refused transfers are kept here (the most recent {RECENT_LIMIT} shown), with why one failed.</p>
          </EmptyState>
        ) : (
          <TransferTable rows={recent.data.rows} active={false} fresh={fresh} />
        )}
      </section>
    </>
  );
}

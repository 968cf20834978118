import { ApiError, api } from '../api/client';
import { useAsync } from '../api/use-async';
import { EmptyState } from './EmptyState';
import { ErrorBanner } from './ErrorBanner';

type TimelineEvent = Readonly<Record<string, unknown>>;

const text = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : JSON.stringify(v));

/**
 * A server's boot timeline from GET /api/v1/servers/{id}/events (DHCP
 * discover/offer/ack, TFTP and HTTP fetches of its boot files). A slot for
 * that endpoint: it shows whatever list it returns (`results` or an array,
 * each with a time and a kind), and says so when the server does not have it yet.
 */
export function BootTimeline({ serverId }: { readonly serverId: string }) {
  const res = useAsync(async () => {
    const body = await api.get<{ results?: TimelineEvent[] } | TimelineEvent[]>(`/api/v1/servers/${serverId}/events`);
    return Array.isArray(body) ? body : (body.results ?? []);
  }, serverId);
  const missing = res.error instanceof ApiError && res.error.status === 404 && res.error.code === 'API_ERR_NOT_FOUND';
  return (
    <section className="panel" aria-labelledby="boot-title">
      <h2 id="boot-title">Boot timeline</h2>
      {missing ? (
        <p className="muted">This dcplane version does not record boot events yet.</p>
      ) : res.error !== undefined ? (
        <ErrorBanner error={res.error} onRetry={res.reload} />
      ) : res.data === undefined ? (
        <p className="muted">Loading…</p>
      ) : res.data.length === 0 ? (
        <EmptyState title="No boots recorded">
          <p>When this server's interfaces PXE-boot, its DHCP and TFTP steps appear here. Give it an interface with its MAC address first.</p>
        </EmptyState>
      ) : (
        <ol className="events">
          {res.data.map((e, i) => (
            <li key={i} className="event event-info">
              <time>{text(e['at'] ?? e['time'] ?? e['ts'])}</time>
              <span className="event-what">{text(e['type'] ?? e['event'] ?? e['kind'])}</span>
              <span className="event-detail">{text(e['detail'] ?? e['message'] ?? e['file'] ?? e['ip'])}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

import { Fragment, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { api, query } from '../api/client';
import type { Page, Row } from '../api/client';
import { useSignedIn } from '../api/session';
import { useDebouncedUrlParam } from '../api/url-params';
import { useAsync } from '../api/use-async';
import { Pagination } from '../components/DataTable';
import { EmptyState } from '../components/EmptyState';
import { ErrorBanner } from '../components/ErrorBanner';
import { enumLabel, viewPath } from '../resources';
import '../ops.css';

/** src/inventory/audit.ts AUDIT_ACTIONS. */
const ACTIONS = ['create', 'update', 'delete', 'login', 'login_failed', 'logout', 'password_change', 'totp_enrol', 'totp_confirm', 'totp_disable', 'unlock'] as const;
const ACTION_TONE: Readonly<Record<string, string>> = { create: 'ok', update: 'info', delete: 'warn', login_failed: 'bad', unlock: 'progress' };
const DEFAULT_LIMIT = 50;
const TYPE_LABELS: Readonly<Record<string, string>> = { dhcp_subnet: 'DHCP subnet', dhcp_reservation: 'DHCP reservation', api_token: 'API token', vm: 'VM' };
const typeLabel = (t: string): string => TYPE_LABELS[t] ?? enumLabel(t);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

type Image = Readonly<Record<string, unknown>> | null;

const show = (v: unknown): string => (v === undefined ? '' : v === null ? 'null' : typeof v === 'string' ? v : JSON.stringify(v));

/** Before and after side by side: changed fields first and marked, the rest below them greyed. */
export function AuditDiff({ before, after }: { readonly before: Image; readonly after: Image }) {
  const [all, setAll] = useState(false);
  const keys = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])];
  const changed = keys.filter((k) => show(before?.[k]) !== show(after?.[k]) && k !== 'updated_at' && k !== 'version');
  const same = keys.filter((k) => !changed.includes(k));
  const rows = all ? [...changed, ...same] : changed;
  if (keys.length === 0) return <p className="muted">No object images were recorded for this entry.</p>;
  return (
    <>
      <table className="diff">
        <thead>
          <tr>
            <th scope="col" style={{ width: '14rem' }}>
              Field
            </th>
            <th scope="col">Before</th>
            <th scope="col">After</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((k) => {
            const c = changed.includes(k);
            return (
              <tr key={k} className={c ? undefined : 'diff-same'}>
                <td>{k}</td>
                <td className={c && before !== null && before[k] !== undefined ? 'diff-before' : undefined}>{before === null ? <span className="muted">(did not exist)</span> : show(before[k])}</td>
                <td className={c && after !== null && after[k] !== undefined ? 'diff-after' : undefined}>{after === null ? <span className="muted">(deleted)</span> : show(after[k])}</td>
              </tr>
            );
          })}
          {rows.length === 0 && (
            <tr>
              <td colSpan={3} className="muted">
                No field changed.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {same.length > 0 && (
        <button type="button" className="btn btn-small btn-ghost" onClick={() => setAll(!all)}>
          {all ? 'Show only what changed' : `Show the ${same.length} unchanged field${same.length === 1 ? '' : 's'} too`}
        </button>
      )}
    </>
  );
}

/** A datetime-local value (local time) as ISO, or undefined. */
function isoOf(local: string): string | undefined {
  if (local === '') return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** `/audit`: every write and account event, newest first, filtered by user, object type, action and time; each with its before/after. */
export function AuditPage() {
  const { me, meta } = useSignedIn();
  const [params, setParams] = useSearchParams();
  const user = params.get('user') ?? '';
  const type = params.get('object_type') ?? '';
  const action = params.get('action') ?? '';
  const from = params.get('from') ?? '';
  const to = params.get('to') ?? '';
  const objectId = params.get('object_id') ?? '';
  const offset = Number(params.get('offset') ?? 0) || 0;
  const limit = Number(params.get('limit') ?? DEFAULT_LIMIT) || DEFAULT_LIMIT;
  const [userText, setUserText] = useDebouncedUrlParam('user');
  const [open, setOpen] = useState<ReadonlySet<number>>(new Set());
  const url = `/api/v1/audit/logs${query({ user__ic: user, object_type: type, action, object_id: objectId, at__gte: isoOf(from), at__lte: isoOf(to), limit, offset })}`;
  const list = useAsync(() => api.get<Page<Row>>(url), url);
  const types = [...new Set([...[...meta.byPath.values()].map((r) => r.object_type), 'api_token'])].sort();
  const pathOfType = new Map([...meta.byPath.values()].map((r) => [r.object_type, r.path]));

  const set = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === '') next.delete(k);
      else next.set(k, v);
    }
    next.delete('offset');
    setParams(next);
  };

  if (me.role !== 'admin')
    return (
      <>
        <h1 tabIndex={-1}>Audit log</h1>
        <EmptyState title="Only administrators read the audit log" action={<Link to="/">Back to the dashboard</Link>}>
          <p>It holds before and after images of every tenant's objects. Ask an administrator if you need an entry.</p>
        </EmptyState>
      </>
    );

  const filtered = user !== '' || type !== '' || action !== '' || from !== '' || to !== '' || objectId !== '';
  const rows = list.data?.results ?? [];
  const toggle = (id: number) => setOpen((s) => {
    const n = new Set(s);
    if (n.has(id)) n.delete(id);
    else n.add(id);
    return n;
  });

  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>Audit log</h1>
        <span className="muted small">Every change and sign-in, newest first</span>
      </div>
      <form className="toolbar" role="search" aria-label="Filter the audit log" onSubmit={(e) => (e.preventDefault(), set({ user: userText }))}>
        <label className="filter">
          <span>User</span>
          <input type="search" value={userText} placeholder="username" onChange={(e) => setUserText(e.target.value)} />
        </label>
        <label className="filter">
          <span>Object type</span>
          <select value={type} onChange={(e) => set({ object_type: e.target.value })}>
            <option value="">Any</option>
            {types.map((t) => (
              <option key={t} value={t}>
                {typeLabel(t)}
              </option>
            ))}
          </select>
        </label>
        <label className="filter">
          <span>Action</span>
          <select value={action} onChange={(e) => set({ action: e.target.value })}>
            <option value="">Any</option>
            {ACTIONS.map((a) => (
              <option key={a} value={a}>
                {enumLabel(a)}
              </option>
            ))}
          </select>
        </label>
        <label className="filter">
          <span>From</span>
          <input type="datetime-local" value={from} onChange={(e) => set({ from: e.target.value })} />
        </label>
        <label className="filter">
          <span>To</span>
          <input type="datetime-local" value={to} onChange={(e) => set({ to: e.target.value })} />
        </label>
        {filtered && (
          <button type="button" className="btn btn-ghost" onClick={() => (setUserText(''), setParams(new URLSearchParams()))}>
            Clear filters
          </button>
        )}
      </form>
      {list.error !== undefined && <ErrorBanner error={list.error} title="The audit log could not be loaded" onRetry={list.reload} />}
      {list.data === undefined ? (
        list.error === undefined && <p className="muted">Loading…</p>
      ) : rows.length === 0 ? (
        <EmptyState title={filtered ? 'No entries match' : 'No entries yet'}>
          <p>{filtered ? 'Loosen the filters above, or clear them.' : 'Changes made through the API, the UI or an import are recorded here with who made them.'}</p>
        </EmptyState>
      ) : (
        <>
          <div className={`table-wrap${list.loading ? ' is-loading' : ''}`}>
            <table className="data">
              <caption className="sr-only">Audit log entries</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">User</th>
                  <th scope="col">Action</th>
                  <th scope="col">Object</th>
                  <th scope="col">From</th>
                  <th scope="col">Changes</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((e) => {
                  const id = Number(e['id']);
                  const before = (e['before'] ?? null) as Image;
                  const after = (e['after'] ?? null) as Image;
                  const img = after ?? before;
                  const objType = String(e['object_type']);
                  const objId = typeof e['object_id'] === 'number' ? e['object_id'] : null;
                  const path = pathOfType.get(objType);
                  const link = objId === null || path === undefined || e['action'] === 'delete' ? undefined : viewPath(path, objId);
                  // Account events carry no image: the account is the acting user when the ids agree.
                  const self = objType === 'user' && objId !== null && e['user_id'] === objId ? str(e['user']) : undefined;
                  const name = str(img?.['name']) ?? str(img?.['username']) ?? str(img?.['subnet']) ?? str(img?.['hostname']) ?? str(img?.['ip']) ?? self ?? (objId === null ? '' : `#${objId}`);
                  const account = before === null && after !== null && e['action'] !== 'create';
                  const isOpen = open.has(id);
                  return (
                    <Fragment key={id}>
                      <tr>
                        <td>
                          <time dateTime={String(e['at'])}>{new Date(String(e['at'])).toLocaleString()}</time>
                        </td>
                        <td>{typeof e['user'] === 'string' ? e['user'] : <span className="muted">system</span>}</td>
                        <td>
                          <span className={`badge badge-${ACTION_TONE[String(e['action'])] ?? 'off'}`}>{enumLabel(String(e['action']))}</span>
                        </td>
                        <td>
                          {typeLabel(objType)} {link === undefined ? <strong>{name}</strong> : <Link to={link}>{name}</Link>}
                        </td>
                        <td>{typeof e['source_ip'] === 'string' ? <code>{e['source_ip']}</code> : <span className="muted">—</span>}</td>
                        <td>
                          <button type="button" className="btn btn-small audit-toggle" aria-expanded={isOpen} aria-controls={`audit-${id}`} onClick={() => toggle(id)}>
                            {isOpen ? 'Hide' : account ? 'Details' : 'Before / after'}
                          </button>
                        </td>
                      </tr>
                      {isOpen && (
                        <tr className="audit-row-detail" id={`audit-${id}`}>
                          <td colSpan={6}>
                            {account ? (
                              <dl className="facts">
                                {Object.entries(after ?? {}).map(([k, v]) => (
                                  <Fragment key={k}>
                                    <dt>{enumLabel(k)}</dt>
                                    <dd>
                                      <code>{show(v)}</code>
                                    </dd>
                                  </Fragment>
                                ))}
                              </dl>
                            ) : (
                              <AuditDiff before={before} after={after} />
                            )}
                            {typeof e['request_id'] === 'string' && <p className="muted small">Request id <code>{e['request_id']}</code></p>}
                          </td>
                        </tr>
                      )}
                    </Fragment>
                  );
                })}
              </tbody>
            </table>
          </div>
          <Pagination count={list.data.count} limit={limit} offset={offset} onChange={(l, o) => setParams((p) => { const n = new URLSearchParams(p); n.set('limit', String(l)); n.set('offset', String(o)); return n; })} />
        </>
      )}
    </>
  );
}

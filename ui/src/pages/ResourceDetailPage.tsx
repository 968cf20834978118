import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, query } from '../api/client';
import type { Page, Row } from '../api/client';
import type { ResourceMeta } from '../api/meta';
import { useRefNames } from '../api/ref-names';
import { useSignedIn } from '../api/session';
import { useAsync } from '../api/use-async';
import { BootTimeline } from '../components/BootTimeline';
import { DataTable } from '../components/DataTable';
import type { Column } from '../components/DataTable';
import { EmptyState } from '../components/EmptyState';
import { DatacenterRacks, RackElevationPanel } from '../components/RackPanels';
import { UserAdminPanel } from '../components/UserAdminPanel';
import { ErrorBanner } from '../components/ErrorBanner';
import { Value } from '../components/Value';
import { VIEW_BY_API, fieldLabel, formFields } from '../resources';
import type { Related, ResourceView } from '../resources';

const RELATED_LIMIT = 25;

/** The first page of objects pointing at this one, with a link to the full, filtered list. */
function RelatedList({ rel, id, meta }: { readonly rel: Related; readonly id: string; readonly meta: ResourceMeta | undefined }) {
  const relView = VIEW_BY_API.get(rel.api);
  const url = `/api/v1/${rel.api}${query({ [rel.field]: id, limit: RELATED_LIMIT })}`;
  const list = useAsync(() => api.get<Page<Row>>(url), url);
  const refs = useRefNames(meta, list.data?.results, rel.columns);
  if (meta === undefined || !meta.readable) return null;
  const columns: Column<Row>[] = rel.columns.map((name, i) => {
    const f = meta.fields.find((x) => x.name === name);
    return {
      key: name,
      label: fieldLabel(name),
      render: (r: Row) =>
        i === 0 && relView !== undefined ? (
          <Link to={`/${relView.key}/${String(r['id'])}`}>{String(r[name] ?? r['display'])}</Link>
        ) : (
          <Value field={f} value={r[name]} refName={typeof r[name] === 'number' ? refs.get(name)?.get(r[name]) : undefined} />
        ),
    };
  });
  const count = list.data?.count ?? 0;
  return (
    <section className="panel" aria-labelledby={`rel-${rel.api}`}>
      <div className="panel-head">
        <h2 id={`rel-${rel.api}`}>
          {rel.label} <span className="count">{list.data === undefined ? '' : count.toLocaleString()}</span>
        </h2>
        <div className="page-actions">
          {relView !== undefined && count > RELATED_LIMIT && <Link to={`/${relView.key}${query({ [rel.field]: id })}`}>All {count.toLocaleString()} →</Link>}
          {relView !== undefined && meta.writable && (
            <Link className="btn btn-small" to={`/${relView.key}/new${query({ [rel.field]: id })}`}>
              Add {relView.singular}
            </Link>
          )}
        </div>
      </div>
      {list.error !== undefined && <ErrorBanner error={list.error} onRetry={list.reload} />}
      {list.data !== undefined && (
        <DataTable caption={rel.label} columns={columns} rows={list.data.results} rowKey={(r) => String(r['id'])} empty={<p className="muted empty-inline">None.</p>} />
      )}
    </section>
  );
}

/** One object: its fields (references by name), its related objects, and edit/delete for those who may. */
export function ResourceDetailPage({ view }: { readonly view: ResourceView }) {
  const { id = '' } = useParams();
  const { meta } = useSignedIn();
  const navigate = useNavigate();
  const rm = meta.byPath.get(view.api);
  const obj = useAsync(() => api.get<Row>(`/api/v1/${view.api}/${id}`), `${view.api}/${id}`);
  const refs = useRefNames(rm, obj.data === undefined ? undefined : [obj.data], rm?.fields.map((f) => f.name) ?? []);
  const [deleteError, setDeleteError] = useState<unknown>(undefined);

  if (rm === undefined) return <ErrorBanner error={new Error(`The server does not serve ${view.api}`)} />;
  if (obj.error !== undefined && obj.data === undefined)
    return (
      <>
        <h1 tabIndex={-1}>{view.singular.charAt(0).toUpperCase() + view.singular.slice(1)} {id}</h1>
        <ErrorBanner error={obj.error} title={`This ${view.singular} could not be loaded`} onRetry={obj.reload} />
        <Link to={`/${view.key}`}>Back to {view.label.toLowerCase()}</Link>
      </>
    );
  const row = obj.data;
  if (row === undefined) return <p className="muted">Loading…</p>;

  const remove = async () => {
    if (!window.confirm(`Delete ${view.singular} ${String(row['display'])}? This cannot be undone.`)) return;
    try {
      await api.request('DELETE', `/api/v1/${view.api}/${id}`);
      navigate(`/${view.key}`);
    } catch (e) {
      setDeleteError(e);
    }
  };

  const order = formFields(view);
  const shown = [...order.filter((n) => rm.fields.some((f) => f.name === n)), ...rm.fields.map((f) => f.name).filter((n) => !order.includes(n))];
  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to={`/${view.key}`}>{view.label}</Link> <span aria-hidden="true">/</span> <span>{String(row['display'])}</span>
      </nav>
      <div className="page-head">
        <h1 tabIndex={-1}>
          {String(row['display'])} {rm.fields.some((f) => f.name === 'status') && <Value field={rm.fields.find((f) => f.name === 'status')} value={row['status']} />}
        </h1>
        <div className="page-actions">
          {rm.writable && (
            <>
              <Link className="btn btn-primary" to={`/${view.key}/${id}/edit`}>
                Edit
              </Link>
              <button type="button" className="btn btn-danger" onClick={() => void remove()}>
                Delete
              </button>
            </>
          )}
        </div>
      </div>
      {deleteError !== undefined && <ErrorBanner error={deleteError} title="Not deleted" />}
      <div className="detail-grid">
        <section className="panel" aria-labelledby="fields-title">
          <h2 id="fields-title">Details</h2>
          <dl className="facts">
            {typeof row['u_position'] === 'number' && typeof row['u_size'] === 'number' && (
              <div className="fact">
                <dt>Occupies</dt>
                <dd>
                  <strong>
                    {row['u_size'] === 1 ? `U${row['u_position']}` : `U${row['u_position']}–U${row['u_position'] + row['u_size'] - 1}`} ({row['u_size']}U)
                  </strong>
                  {typeof row['rack_id'] === 'number' && <> in <Value field={rm.fields.find((f) => f.name === 'rack_id')} value={row['rack_id']} refName={refs.get('rack_id')?.get(row['rack_id'])} /></>}
                </dd>
              </div>
            )}
            {shown.map((name) => {
              const f = rm.fields.find((x) => x.name === name);
              return (
                <div key={name} className="fact">
                  <dt>{fieldLabel(name)}</dt>
                  <dd>
                    <Value field={f} value={row[name]} refName={typeof row[name] === 'number' ? refs.get(name)?.get(row[name]) : undefined} />
                  </dd>
                </div>
              );
            })}
            <div className="fact">
              <dt>Updated</dt>
              <dd>
                {new Date(String(row['updated_at'])).toLocaleString()} (version {String(row['version'])})
              </dd>
            </div>
          </dl>
        </section>
        <div className="detail-side">
          {view.api === 'servers' && <BootTimeline serverId={id} />}
          {view.api === 'racks' && <RackElevationPanel rack={row} />}
          {view.api === 'users' && <UserAdminPanel user={row} onChanged={obj.reload} />}
          {(view.related ?? []).map((rel) => (
            <RelatedList key={rel.api + rel.field} rel={rel} id={id} meta={meta.byPath.get(rel.api)} />
          ))}
          {(view.related ?? []).length === 0 && view.api !== 'servers' && view.api !== 'users' && <EmptyState title="No related objects for this kind" />}
        </div>
      </div>
      {view.api === 'datacenters' && <DatacenterRacks datacenterId={id} />}
    </>
  );
}

import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { api } from '../api/client';
import type { Row } from '../api/client';
import { useSignedIn } from '../api/session';
import { useAsync } from '../api/use-async';
import { EmptyState } from '../components/EmptyState';
import { ErrorBanner } from '../components/ErrorBanner';
import { ResourceForm } from '../components/ResourceForm';
import type { ResourceView } from '../resources';

/** `/<resource>/new` (query parameters preset fields: `?rack_id=3`) and `/<resource>/:id/edit`. */
export function ResourceEditPage({ view }: { readonly view: ResourceView }) {
  const { id } = useParams();
  const [params] = useSearchParams();
  const { meta } = useSignedIn();
  const navigate = useNavigate();
  const rm = meta.byPath.get(view.api);
  const obj = useAsync(async () => (id === undefined ? undefined : api.get<Row>(`/api/v1/${view.api}/${id}`)), `${view.api}/${id ?? 'new'}`);
  const title = id === undefined ? `Add ${view.singular}` : `Edit ${view.singular}`;

  if (rm === undefined) return <ErrorBanner error={new Error(`The server does not serve ${view.api}`)} />;
  if (!rm.writable)
    return (
      <>
        <h1 tabIndex={-1}>{title}</h1>
        <EmptyState title="Your role cannot change this" action={<Link to={`/${view.key}`}>Back to {view.label.toLowerCase()}</Link>}>
          <p>Viewers can look but not change. Ask an administrator for the operator role if you need to edit {view.label.toLowerCase()}.</p>
        </EmptyState>
      </>
    );
  if (id !== undefined && obj.error !== undefined) return <ErrorBanner error={obj.error} title={`This ${view.singular} could not be loaded`} onRetry={obj.reload} />;
  if (id !== undefined && obj.data === undefined) return <p className="muted">Loading…</p>;

  const preset: Record<string, unknown> = {};
  for (const [k, v] of params) preset[k] = v;
  const back = id === undefined ? `/${view.key}` : `/${view.key}/${id}`;
  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to={`/${view.key}`}>{view.label}</Link> <span aria-hidden="true">/</span> <span>{obj.data === undefined ? 'New' : String(obj.data['display'])}</span>
      </nav>
      <div className="page-head">
        <h1 tabIndex={-1}>{title}</h1>
      </div>
      <section className="panel">
        <ResourceForm
          key={String(obj.data?.['version'] ?? 'new')}
          meta={rm}
          sections={view.form}
          {...(obj.data === undefined ? { preset } : { initial: obj.data })}
          submitLabel={id === undefined ? `Create ${view.singular}` : 'Save changes'}
          onSaved={(row) => navigate(`/${view.key}/${String(row['id'])}`)}
          onCancel={() => navigate(back)}
        />
      </section>
    </>
  );
}

import { Link, useSearchParams } from 'react-router-dom';
import { api, query } from '../api/client';
import type { Page, Row } from '../api/client';
import type { FieldMeta } from '../api/meta';
import { useRefNames } from '../api/ref-names';
import { useSignedIn } from '../api/session';
import { useDebouncedUrlParam } from '../api/url-params';
import { useAsync } from '../api/use-async';
import { DataTable, Pagination } from '../components/DataTable';
import type { Column } from '../components/DataTable';
import { EmptyState } from '../components/EmptyState';
import { ErrorBanner } from '../components/ErrorBanner';
import { RefSelect } from '../components/ResourceForm';
import { Value } from '../components/Value';
import { enumLabel, fieldLabel } from '../resources';
import type { ResourceView } from '../resources';

const DEFAULT_LIMIT = 50;

function FilterControl({ field, value, onChange }: { readonly field: FieldMeta; readonly value: string; readonly onChange: (v: string) => void }) {
  const label = fieldLabel(field.name);
  if (field.ref !== undefined)
    return (
      <label className="filter">
        <span>{label}</span>
        <RefSelect field={field} value={value} onChange={onChange} emptyLabel="Any" />
      </label>
    );
  const options = field.kind === 'bool' ? ['true', 'false'] : (field.enum ?? []);
  return (
    <label className="filter">
      <span>{label}</span>
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">Any</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {field.kind === 'bool' ? (o === 'true' ? 'Yes' : 'No') : enumLabel(o)}
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * Any inventory list: search (`q`), field filters, sorting and paging all
 * done by the server, so it stays fast with 100,000 servers; the state is in
 * the URL, so a filtered list can be bookmarked and Back works.
 */
export function ResourceListPage({ view }: { readonly view: ResourceView }) {
  const { meta } = useSignedIn();
  const rm = meta.byPath.get(view.api);
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const ordering = params.get('ordering') ?? undefined;
  const limit = Number(params.get('limit') ?? DEFAULT_LIMIT) || DEFAULT_LIMIT;
  const offset = Number(params.get('offset') ?? 0) || 0;
  const filterDefs = view.filters.map((n) => rm?.fields.find((f) => f.name === n)).filter((f): f is FieldMeta => f !== undefined);
  const filters: Record<string, string> = {};
  for (const f of filterDefs) {
    const v = params.get(f.name);
    if (v !== null && v !== '') filters[f.name] = v;
  }
  const [search, setSearch] = useDebouncedUrlParam('q');

  const update = (changes: Record<string, string | undefined>, resetOffset = true) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined || v === '') next.delete(k);
      else next.set(k, v);
    }
    if (resetOffset && !('offset' in changes)) next.delete('offset');
    setParams(next, { replace: 'q' in changes });
  };


  const url = `/api/v1/${view.api}${query({ q, ordering, limit, offset, ...filters })}`;
  const list = useAsync(() => api.get<Page<Row>>(url), url);
  const rows = list.data?.results;
  const refs = useRefNames(rm, rows, view.columns);

  if (rm === undefined) return <ErrorBanner error={new Error(`The server does not serve ${view.api}; is the UI newer than the server?`)} />;
  if (!rm.readable)
    return (
      <>
        <h1 tabIndex={-1}>{view.label}</h1>
        <EmptyState title={`Your role cannot see ${view.label.toLowerCase()}`} action={<Link to="/">Back to the dashboard</Link>}>
          <p>Only administrators manage {view.label.toLowerCase()}. Ask one if you need a change.</p>
        </EmptyState>
      </>
    );

  const columns: Column<Row>[] = view.columns.map((name, i) => {
    const f = rm.fields.find((x) => x.name === name);
    return {
      key: name,
      label: fieldLabel(name),
      sortable: f?.filterable ?? false,
      numeric: f?.kind === 'int' || f?.kind === 'float' ? f.ref === undefined : false,
      render: (r: Row) =>
        i === 0 ? (
          <Link to={`/${view.key}/${String(r['id'])}`}>{typeof r[name] === 'string' && r[name] !== '' ? String(r[name]) : String(r['display'])}</Link>
        ) : (
          <Value field={f} value={r[name]} refName={typeof r[name] === 'number' ? refs.get(name)?.get(r[name]) : undefined} />
        ),
    };
  });

  const filtered = q !== '' || Object.keys(filters).length > 0;
  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>
          {view.label}
          {list.data !== undefined && <span className="count">{list.data.count.toLocaleString()}</span>}
        </h1>
        <div className="page-actions">
          {rm.writable && (
            <Link className="btn btn-primary" to={`/${view.key}/new${query(filters)}`}>
              Add {view.singular}
            </Link>
          )}
        </div>
      </div>
      <form className="toolbar" role="search" onSubmit={(e) => (e.preventDefault(), update({ q: search }))}>
        <label className="filter filter-search">
          <span>Search</span>
          <input type="search" value={search} placeholder={view.searchHint ?? 'Name, serial, model…'} onChange={(e) => setSearch(e.target.value)} />
        </label>
        {filterDefs.map((f) => (
          <FilterControl key={f.name} field={f} value={filters[f.name] ?? ''} onChange={(v) => update({ [f.name]: v })} />
        ))}
        {filtered && (
          <button type="button" className="btn btn-ghost" onClick={() => setParams(new URLSearchParams())}>
            Clear filters
          </button>
        )}
      </form>
      {list.error !== undefined && <ErrorBanner error={list.error} title={`${view.label} could not be loaded`} onRetry={list.reload} />}
      {list.data === undefined ? (
        list.error === undefined && <p className="muted">Loading {view.label.toLowerCase()}…</p>
      ) : (
        <>
          <DataTable
            caption={view.label}
            columns={columns}
            rows={rows ?? []}
            rowKey={(r) => String(r['id'])}
            ordering={ordering ?? rm.default_ordering.join(',')}
            onOrder={(o) => update({ ordering: o })}
            loading={list.loading}
            empty={
              filtered ? (
                <EmptyState title={`No ${view.label.toLowerCase()} match`} action={<button type="button" className="btn" onClick={() => setParams(new URLSearchParams())}>Clear search and filters</button>}>
                  <p>Nothing matches the search and filters above. Loosen them, or clear them to see everything.</p>
                </EmptyState>
              ) : (
                <EmptyState title={`No ${view.label.toLowerCase()} yet`} action={rm.writable ? <Link className="btn btn-primary" to={`/${view.key}/new`}>Add the first {view.singular}</Link> : undefined}>
                  <p>{view.blurb}</p>
                  {!rm.writable && <p>Your role can only view; an operator or administrator adds them.</p>}
                </EmptyState>
              )
            }
          />
          {list.data !== undefined && list.data.count > 0 && <Pagination count={list.data.count} limit={limit} offset={offset} onChange={(l, o) => update({ limit: String(l), offset: String(o) }, false)} />}
        </>
      )}
    </>
  );
}

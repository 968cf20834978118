import type { ReactNode } from 'react';

export interface Column<T> {
  readonly key: string;
  readonly label: string;
  /** Offered as a sort key (the server sorts: `ordering=key` / `-key`). */
  readonly sortable?: boolean;
  readonly numeric?: boolean;
  readonly render: (row: T) => ReactNode;
}

export interface DataTableProps<T> {
  /** Read by screen readers; shown visually hidden. */
  readonly caption: string;
  readonly columns: readonly Column<T>[];
  readonly rows: readonly T[];
  readonly rowKey: (row: T) => string | number;
  /** Current server-side ordering (`name`, `-u_position`). */
  readonly ordering?: string | undefined;
  readonly onOrder?: (ordering: string) => void;
  readonly loading?: boolean;
  /** Shown instead of the body when there are no rows (and not loading). */
  readonly empty?: ReactNode;
}

/**
 * A table of rows the server has already filtered, sorted and paged: the
 * column headers are buttons that ask for another ordering (asc, then desc),
 * with aria-sort on the sorted column.
 */
export function DataTable<T>({ caption, columns, rows, rowKey, ordering, onOrder, loading = false, empty }: DataTableProps<T>) {
  const desc = ordering?.startsWith('-') === true;
  const sortKey = ordering?.replace(/^-/, '');
  if (rows.length === 0 && !loading && empty !== undefined) return <>{empty}</>;
  return (
    <div className={`table-wrap${loading ? ' is-loading' : ''}`} aria-busy={loading}>
      <table className="data">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => {
              const sorted = sortKey === c.key;
              const aria = sorted ? (desc ? 'descending' : 'ascending') : undefined;
              return (
                <th key={c.key} scope="col" aria-sort={aria} className={c.numeric === true ? 'num' : undefined}>
                  {c.sortable === true && onOrder !== undefined ? (
                    <button type="button" className="th-sort" onClick={() => onOrder(sorted && !desc ? `-${c.key}` : c.key)} title={`Sort by ${c.label}`}>
                      {c.label}
                      <span className="sort-mark" aria-hidden="true">
                        {sorted ? (desc ? '▼' : '▲') : '↕'}
                      </span>
                    </button>
                  ) : (
                    c.label
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={rowKey(r)}>
              {columns.map((c) => (
                <td key={c.key} className={c.numeric === true ? 'num' : undefined}>
                  {c.render(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const SIZES = [25, 50, 100, 250] as const;

/** limit/offset paging with the total from the server's `count`. */
export function Pagination({ count, limit, offset, onChange }: { readonly count: number; readonly limit: number; readonly offset: number; readonly onChange: (limit: number, offset: number) => void }) {
  const first = count === 0 ? 0 : offset + 1;
  const last = Math.min(count, offset + limit);
  const page = Math.floor(offset / limit) + 1;
  const pages = Math.max(1, Math.ceil(count / limit));
  return (
    <nav className="pager" aria-label="Pages">
      <span>
        {first.toLocaleString()}–{last.toLocaleString()} of {count.toLocaleString()}
      </span>
      <span className="pager-buttons">
        <button type="button" className="btn btn-small" disabled={offset === 0} onClick={() => onChange(limit, 0)} aria-label="First page">
          «
        </button>
        <button type="button" className="btn btn-small" disabled={offset === 0} onClick={() => onChange(limit, Math.max(0, offset - limit))}>
          Previous
        </button>
        <span>
          Page {page.toLocaleString()} of {pages.toLocaleString()}
        </span>
        <button type="button" className="btn btn-small" disabled={last >= count} onClick={() => onChange(limit, offset + limit)}>
          Next
        </button>
        <button type="button" className="btn btn-small" disabled={last >= count} onClick={() => onChange(limit, (pages - 1) * limit)} aria-label="Last page">
          »
        </button>
      </span>
      <label className="pager-size">
        Rows per page{' '}
        <select value={limit} onChange={(e) => onChange(Number(e.target.value), 0)}>
          {SIZES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
    </nav>
  );
}

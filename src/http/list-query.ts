import { LOOKUPS } from '../inventory/query.js';
import type { Filter, Lookup, ListQuery } from '../inventory/query.js';
import { ApiError, ApiErrorCode } from './errors.js';

/** List parameters that are not filters. */
const RESERVED: ReadonlySet<string> = new Set(['limit', 'offset', 'ordering', 'q', 'brief', 'cursor']);
const LOOKUP_SET: ReadonlySet<string> = new Set(LOOKUPS);
const MAX_FILTERS = 50;
const BOOL_WORDS: ReadonlyMap<string, boolean> = new Map([
  ['1', true],
  ['0', false],
  ['True', true],
  ['False', false],
]);

export interface ParsedList {
  readonly query: ListQuery;
  readonly brief: boolean;
  readonly limit: number;
  readonly offset: number;
}

export function isTrue(v: unknown): boolean {
  return v === true || v === '1' || v === 'true' || v === 'True';
}

/**
 * A list request's query string as a repository ListQuery: `field=value`,
 * `field__lookup=value` (NetBox's spelling), a repeated filter matching any
 * of its values (`status=active&status=planned`). Names and lookups are
 * passed on as given: the repository checks them against the resource's
 * whitelist and answers INVENTORY_ERR_INVALID_QUERY with the parameter's name.
 */
export function parseListQuery(raw: Readonly<Record<string, unknown>>, tenantScope: readonly number[] | undefined): ParsedList {
  const filters: Filter[] = [];
  for (const key of Object.keys(raw)) {
    if (RESERVED.has(key)) continue;
    const value = raw[key];
    const sep = key.lastIndexOf('__');
    const suffix = sep > 0 ? key.slice(sep + 2) : '';
    const [field, lookup] = sep > 0 && LOOKUP_SET.has(suffix) ? [key.slice(0, sep), suffix as Lookup] : [key, 'exact' as Lookup];
    if (Array.isArray(value)) {
      if (lookup === 'exact' || lookup === 'in') filters.push({ field, lookup: 'in', value: value.flatMap((v) => String(v).split(',')) });
      else if (lookup === 'n') filters.push({ field, lookup: 'n', value: value.map(String) });
      else throw new ApiError(ApiErrorCode.VALIDATION, `${key} takes one value`, [{ path: `query.${key.slice(0, 100)}`, message: 'takes one value' }]);
    } else {
      const bool = lookup === 'isnull' && typeof value === 'string' ? BOOL_WORDS.get(value) : undefined;
      filters.push({ field, lookup, value: bool ?? value });
    }
    if (filters.length > MAX_FILTERS) throw new ApiError(ApiErrorCode.VALIDATION, `at most ${MAX_FILTERS} filters`, [{ path: 'query', message: `at most ${MAX_FILTERS} filters` }]);
  }
  const limit = typeof raw['limit'] === 'number' ? raw['limit'] : 50;
  const offset = typeof raw['offset'] === 'number' ? raw['offset'] : 0;
  const ordering = typeof raw['ordering'] === 'string' && raw['ordering'].trim() !== '' ? raw['ordering'].split(',').map((s) => s.trim()) : undefined;
  const q = typeof raw['q'] === 'string' ? raw['q'] : undefined;
  const cursor = typeof raw['cursor'] === 'string' ? raw['cursor'] : undefined;
  return {
    query: {
      filters,
      limit,
      offset,
      ...(ordering === undefined ? {} : { ordering }),
      ...(q === undefined ? {} : { q }),
      ...(cursor === undefined ? {} : { after: cursor }),
      ...(tenantScope === undefined ? {} : { tenantScope }),
    },
    brief: isTrue(raw['brief']),
    limit,
    offset,
  };
}

/**
 * `next` / `previous` links: the same query with another offset (relative URLs, as the leases list
 * gives). A cursor-paged list (`cursor` given; `nextCursor` from the repository) links forward only:
 * `next` carries the next cursor, `previous` is null.
 */
export function pageLinks(url: string, count: number, limit: number, offset: number, nextCursor?: string | null): { next: string | null; previous: string | null } {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const params = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  const at = (o: number): string => {
    const p = new URLSearchParams(params);
    p.set('limit', String(limit));
    p.set('offset', String(o));
    return `${path}?${p.toString()}`;
  };
  if (limit === 0) return { next: null, previous: null };
  if (nextCursor !== undefined) {
    if (nextCursor === null) return { next: null, previous: null };
    const p = new URLSearchParams(params);
    p.set('limit', String(limit));
    p.delete('offset');
    p.set('cursor', nextCursor);
    return { next: `${path}?${p.toString()}`, previous: null };
  }
  return {
    next: offset + limit < count ? at(offset + limit) : null,
    previous: offset > 0 ? at(Math.max(0, offset - limit)) : null,
  };
}

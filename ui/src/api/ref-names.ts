import { useAsync } from './use-async';
import { api, query } from './client';
import type { Page, Row } from './client';
import type { ResourceMeta } from './meta';

/** Display names of the objects a page of rows points at: field → id → display. */
export type RefNames = ReadonlyMap<string, ReadonlyMap<number, string>>;

/**
 * One `?id__in=…&brief=1` request per reference column of the page (at most
 * one page of ids), so a list of servers shows rack names, not numbers.
 */
export function useRefNames(meta: ResourceMeta | undefined, rows: readonly Row[] | undefined, fields: readonly string[]): RefNames {
  const wanted: [string, string, number[]][] = [];
  for (const name of fields) {
    const f = meta?.fields.find((x) => x.name === name);
    if (f?.ref === undefined || rows === undefined) continue;
    const ids = [...new Set(rows.map((r) => r[name]).filter((v): v is number => typeof v === 'number'))].sort((a, b) => a - b);
    if (ids.length > 0) wanted.push([name, f.ref, ids]);
  }
  const key = JSON.stringify(wanted);
  const res = useAsync(async () => {
    const out = new Map<string, Map<number, string>>();
    await Promise.all(
      wanted.map(async ([name, ref, ids]) => {
        const page = await api.get<Page<Row>>(`/api/v1/${ref}${query({ id__in: ids.join(','), brief: 1, limit: ids.length })}`);
        out.set(name, new Map(page.results.map((r) => [r['id'] as number, String(r['display'])])));
      }),
    );
    return out;
  }, key);
  return res.data ?? new Map();
}

import { ApiError, ApiErrorCode } from './errors.js';

/**
 * Entity tags from row versions. Weak (`W/"3"`): the tag names a version of
 * the object's data, not the bytes of one representation (brief and full
 * views of version 3 share it). RFC 9110 §13.1.1: If-Match "MUST use the
 * strong comparison function", under which a weak tag never matches; we
 * still honour `W/"3"` because NetBox-style clients send back what ETag
 * gave them, and accepting it is what makes a lost update detectable at all.
 */
export function etagOf(version: number): string {
  return `W/"${version}"`;
}

/** `*` (any current version), or the versions listed. */
export type IfMatch = { readonly any: true } | { readonly any: false; readonly versions: readonly number[] };

const TAG = /^\s*(?:W\/)?"([^"]*)"\s*$/;

/** Parses If-Match / If-None-Match; undefined when absent. An unparseable header is a 400 naming it. */
export function parseIfMatch(header: string | string[] | undefined, name = 'if-match'): IfMatch | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text.trim() === '*') return { any: true };
  const versions: number[] = [];
  for (const part of text.split(',')) {
    const m = TAG.exec(part);
    const v = m?.[1];
    if (v === undefined) throw new ApiError(ApiErrorCode.BAD_HEADER, `${name} must be * or a list of entity tags like W/"3"`, [{ path: `headers.${name}`, message: 'is not a list of entity tags' }]);
    // A tag that is not one of our versions can match nothing; keep parsing so the request fails with 412, as RFC 9110 says a non-matching If-Match does.
    if (/^\d{1,10}$/.test(v)) versions.push(Number(v));
    else versions.push(-1);
  }
  return { any: false, versions };
}

export function matches(cond: IfMatch, version: number): boolean {
  return cond.any || cond.versions.includes(version);
}

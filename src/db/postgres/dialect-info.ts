import { sql } from 'kysely';
import type { ColumnKind, ConstraintViolation, DialectInfo } from '../database.js';

function encode(kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  // node-postgres turns a JS array into a PostgreSQL array literal, so JSON
  // goes over the wire as text and the server casts it to jsonb.
  if (kind === 'json') return JSON.stringify(value);
  return value;
}

function decode(kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if ((kind === 'int' || kind === 'float') && typeof value === 'string') return Number(value);
  return value;
}

function classifyError(err: unknown): ConstraintViolation | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  const constraint = String((err as { constraint?: unknown }).constraint ?? '');
  switch (code) {
    case '23505':
      return { kind: 'unique', constraint };
    case '23503':
      return { kind: 'foreign_key', constraint };
    case '23502':
      return { kind: 'not_null', constraint: String((err as { column?: unknown }).column ?? '') };
    case '23514':
      return { kind: 'check', constraint };
    default:
      return undefined;
  }
}

export const postgresDialectInfo: DialectInfo = Object.freeze({
  name: 'postgres',
  ddl: Object.freeze({
    int: 'integer',
    float: 'double precision',
    // Byte-order comparison and sorting, as SQLite's default BINARY collation
    // does: both backends order and compare text alike, and indexes serve
    // ORDER BY without a per-query COLLATE.
    text: 'text collate "C"',
    bool: 'boolean',
    date: 'date',
    timestamp: 'timestamptz',
    json: 'jsonb',
  }),
  encode,
  decode,
  classifyError,
  forUpdate: sql` for update`,
  maxParams: 65535,
});

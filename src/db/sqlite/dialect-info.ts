import { sql } from 'kysely';
import type { ColumnKind, ConstraintViolation, DialectInfo } from '../database.js';

function encode(kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    // better-sqlite3 binds numbers, strings, bigints and buffers only.
    case 'bool':
      return value === true ? 1 : 0;
    case 'json':
      return JSON.stringify(value);
    default:
      return value;
  }
}

function decode(kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'bool':
      return value === 1 || value === 1n || value === true;
    case 'json':
      return typeof value === 'string' ? JSON.parse(value) : value;
    case 'int':
    case 'float':
      return typeof value === 'bigint' ? Number(value) : value;
    default:
      return value;
  }
}

function classifyError(err: unknown): ConstraintViolation | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  const message = String((err as { message?: unknown }).message ?? '');
  if (typeof code !== 'string' || !code.startsWith('SQLITE_CONSTRAINT')) return undefined;
  // "UNIQUE constraint failed: servers.serial" names columns, not the index.
  const constraint = message.replace(/^.*constraint failed:\s*/i, '');
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return { kind: 'unique', constraint };
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return { kind: 'foreign_key', constraint };
  if (code === 'SQLITE_CONSTRAINT_NOTNULL') return { kind: 'not_null', constraint };
  return { kind: 'check', constraint };
}

export const sqliteDialectInfo: DialectInfo = Object.freeze({
  name: 'sqlite',
  ddl: Object.freeze({
    int: 'integer',
    float: 'real',
    text: 'text',
    bool: 'integer',
    date: 'text',
    timestamp: 'text',
    json: 'text',
  }),
  encode,
  decode,
  classifyError,
  forUpdate: sql``,
  maxParams: 32766,
});

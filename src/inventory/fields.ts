import type { ColumnKind } from '../db/database.js';
import { formatMac, parseCidr, parseIpv4 } from '../net/ipv4.js';
import { InventoryErrorCode, issue } from './errors.js';
import type { InventoryIssue } from './errors.js';

/** One column of a resource as the API exposes it and the repository validates it. */
export interface FieldDef {
  readonly kind: ColumnKind;
  /** Must be present (and not null) on create. */
  readonly required?: boolean;
  readonly nullable?: boolean;
  /** Value on create when absent. */
  readonly default?: unknown;
  readonly enum?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** Text length cap (default 255). */
  readonly maxLength?: number;
  readonly format?: 'mac' | 'ipv4' | 'cidr' | 'slug' | 'email';
  /** Element type of a JSON list (`certifications`, `tenant_ids`). */
  readonly items?: 'text' | 'int';
  /** Table this id points at; checked to exist on every write. */
  readonly ref?: string;
  /** Part of the `q` search (case-insensitive contains). */
  readonly search?: boolean;
  /** Never filtered, ordered or searched on, redacted in the audit log (hashes, TOTP secrets). */
  readonly secret?: boolean;
  /** Accepts the spellings users of the seed product send (`"Tier 3"`, `"Liquid Cooling"`, RAID `5`) before checking. */
  readonly coerce?: (v: unknown) => unknown;
}

export type Fields = Readonly<Record<string, FieldDef>>;

type Scalar<F extends FieldDef> = F['kind'] extends 'int' | 'float'
  ? number
  : F['kind'] extends 'bool'
    ? boolean
    : F['kind'] extends 'json'
      ? F extends { items: 'int' }
        ? number[]
        : F extends { items: 'text' }
          ? string[]
          : Record<string, unknown>
      : F extends { enum: readonly (infer E)[] }
        ? E
        : string;

export interface SystemColumns {
  readonly id: number;
  /** ISO-8601 UTC. */
  readonly created_at: string;
  readonly updated_at: string;
  /** 1 on create, +1 per update; the ETag. */
  readonly version: number;
}

/** A stored row of a resource, derived from its field definitions so the two cannot drift. */
export type RowOf<F extends Fields> = SystemColumns & {
  readonly [K in keyof F]: Scalar<F[K]> | (F[K] extends { nullable: true } ? null : never);
};

export const SYSTEM_COLUMNS = ['id', 'created_at', 'updated_at', 'version'] as const;
export const SYSTEM_KINDS: Readonly<Record<(typeof SYSTEM_COLUMNS)[number], ColumnKind>> = {
  id: 'int',
  created_at: 'timestamp',
  updated_at: 'timestamp',
  version: 'int',
};

const DEFAULT_MAX_LENGTH = 255;
const SLUG = /^[a-z0-9][a-z0-9_-]*$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `aa:bb:cc:dd:ee:ff`, `AA-BB-…`, `aabb.ccdd.eeff` or bare hex → lower-case colon form. */
export function normalizeMac(text: string): string | undefined {
  const hex = text.trim().replace(/[:.-]/g, '');
  if (!/^[0-9a-fA-F]{12}$/.test(hex)) return undefined;
  // Separators must be consistent with one of the usual notations, not sprinkled anywhere.
  if (!/^([0-9a-fA-F]{2}([:-]?)){5}[0-9a-fA-F]{2}$/.test(text.trim()) && !/^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$/.test(text.trim())) {
    return undefined;
  }
  return formatMac(Buffer.from(hex, 'hex'));
}

/** Enum input as users type it (`Liquid Cooling`, `Core-Switch`) → the stored token. */
export function enumToken(text: string): string {
  return text.trim().toLowerCase().replace(/[\s-]+/g, '_');
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : String(v);
}

export type Checked = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly issue: InventoryIssue };

const bad = (path: string, message: string): Checked => ({ ok: false, issue: issue(InventoryErrorCode.INVALID_VALUE, path, message) });

function checkNumber(f: FieldDef, raw: unknown, path: string): Checked {
  let v = raw;
  // Numbers may arrive as text from CSV imports and query strings.
  if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim())) v = Number(v.trim());
  if (typeof v !== 'number' || !Number.isFinite(v)) return bad(path, `must be a number, not ${describe(raw)}`);
  if (f.kind === 'int' && !Number.isInteger(v)) return bad(path, `must be a whole number, not ${v}`);
  if (f.kind === 'int' && Math.abs(v) > 2147483647) return bad(path, `${v} is out of range`);
  if (f.min !== undefined && v < f.min) return bad(path, `must be at least ${f.min}, not ${v}`);
  if (f.max !== undefined && v > f.max) return bad(path, `must be at most ${f.max}, not ${v}`);
  return { ok: true, value: v };
}

/**
 * Whether a string, or any string or key inside a JSON value, holds U+0000.
 * PostgreSQL text and jsonb cannot store it (SQLite can), so it is refused on
 * both backends rather than left to fail as a 500 on one.
 */
export function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(hasNul);
  if (typeof value === 'object' && value !== null) return Object.entries(value).some(([k, v]) => k.includes('\u0000') || hasNul(v));
  return false;
}

export const NUL_MESSAGE = 'must not contain a NUL character (U+0000)';

function checkText(f: FieldDef, raw: unknown, path: string): Checked {
  if (typeof raw !== 'string') return bad(path, `must be text, not ${describe(raw)}`);
  if (hasNul(raw)) return bad(path, NUL_MESSAGE);
  let v = raw;
  if (f.enum !== undefined) {
    const t = enumToken(v);
    if (!f.enum.includes(t)) return bad(path, `must be one of ${f.enum.join(', ')}, not ${describe(raw)}`);
    return { ok: true, value: t };
  }
  if (f.required === true && v.trim() === '') return bad(path, 'must not be empty');
  const max = f.maxLength ?? DEFAULT_MAX_LENGTH;
  if (v.length > max) return bad(path, `must be at most ${max} characters, not ${v.length}`);
  switch (f.format) {
    case 'mac': {
      const m = normalizeMac(v);
      if (m === undefined) return bad(path, `${describe(raw)} is not a MAC address`);
      v = m;
      break;
    }
    case 'ipv4':
      if (parseIpv4(v.trim()) === undefined) return bad(path, `${describe(raw)} is not an IPv4 address`);
      v = v.trim();
      break;
    case 'cidr':
      if (parseCidr(v.trim()) === undefined) return bad(path, `${describe(raw)} is not a network in CIDR form (a.b.c.d/n, host bits zero)`);
      v = v.trim();
      break;
    case 'slug':
      if (!SLUG.test(v)) return bad(path, `${describe(raw)} must be lower-case letters, digits, - and _`);
      break;
    case 'email':
      if (!EMAIL.test(v)) return bad(path, `${describe(raw)} is not an e-mail address`);
      break;
    default:
      break;
  }
  return { ok: true, value: v };
}

function checkDate(raw: unknown, path: string): Checked {
  if (typeof raw !== 'string') return bad(path, `must be a date (YYYY-MM-DD), not ${describe(raw)}`);
  const m = DATE.exec(raw);
  if (m !== null) {
    const d = new Date(`${raw}T00:00:00Z`);
    if (!Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === raw) return { ok: true, value: raw };
  }
  return bad(path, `${describe(raw)} is not a date (YYYY-MM-DD)`);
}

function checkTimestamp(raw: unknown, path: string): Checked {
  const d = raw instanceof Date ? raw : typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(raw) ? new Date(raw) : undefined;
  if (d === undefined || Number.isNaN(d.getTime())) return bad(path, `${describe(raw)} is not an ISO-8601 timestamp`);
  return { ok: true, value: d.toISOString() };
}

function checkJson(f: FieldDef, raw: unknown, path: string): Checked {
  if (f.items !== undefined) {
    if (!Array.isArray(raw)) return bad(path, `must be a list, not ${describe(raw)}`);
    if (raw.length > 1000) return bad(path, 'must hold at most 1000 items');
    const out: unknown[] = [];
    for (let i = 0; i < raw.length; i++) {
      const r =
        f.items === 'int'
          ? checkNumber({ kind: 'int', min: 1 }, raw[i], `${path}[${i}]`)
          : checkText({ kind: 'text', required: true }, raw[i], `${path}[${i}]`);
      if (!r.ok) return r;
      if (!out.includes(r.value)) out.push(r.value);
    }
    return { ok: true, value: out };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad(path, `must be an object, not ${describe(raw)}`);
  if (JSON.stringify(raw).length > 256 * 1024) return bad(path, 'is larger than 256 KiB');
  if (hasNul(raw)) return bad(path, NUL_MESSAGE);
  return { ok: true, value: raw };
}

/** One value checked against its field and brought to its stored form. */
export function checkValue(f: FieldDef, input: unknown, path: string): Checked {
  const raw = f.coerce === undefined || input === null ? input : f.coerce(input);
  if (raw === null) {
    return f.nullable === true ? { ok: true, value: null } : bad(path, 'must not be null');
  }
  switch (f.kind) {
    case 'int':
    case 'float':
      return checkNumber(f, raw, path);
    case 'bool':
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      if (raw === 'true' || raw === 'false') return { ok: true, value: raw === 'true' };
      return bad(path, `must be true or false, not ${describe(raw)}`);
    case 'text':
      return checkText(f, raw, path);
    case 'date':
      return checkDate(raw, path);
    case 'timestamp':
      return checkTimestamp(raw, path);
    case 'json':
      return checkJson(f, raw, path);
  }
}

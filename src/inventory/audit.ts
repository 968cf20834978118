import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { DialectInfo, DynamicDatabase } from '../db/database.js';
import type { FieldDef } from './fields.js';
import type { ReadSpec } from './query.js';

/** What a write through the repositories records. */
export type AuditAction = 'create' | 'update' | 'delete';

/**
 * What the auth endpoints record about accounts (src/http/auth-routes.ts):
 * logins and their failures, logouts, password and TOTP changes, unlocks.
 * Their entries name the account as object `user`; `after` says what
 * happened (a reason code, a flag), never a secret or a hash.
 */
export const ACCOUNT_AUDIT_ACTIONS = ['login', 'login_failed', 'logout', 'password_change', 'totp_enrol', 'totp_confirm', 'totp_disable', 'unlock'] as const;
export type AccountAuditAction = (typeof ACCOUNT_AUDIT_ACTIONS)[number];

export const AUDIT_ACTIONS: readonly (AuditAction | AccountAuditAction)[] = ['create', 'update', 'delete', ...ACCOUNT_AUDIT_ACTIONS];

/** One audit entry as appended; `before`/`after` are full snapshots with secrets redacted. */
export interface AuditEntryInput<A extends string = AuditAction> {
  readonly at: string;
  readonly user: string | null;
  readonly user_id: number | null;
  readonly source_ip: string | null;
  readonly action: A;
  readonly object_type: string;
  readonly object_id: number | null;
  readonly before: Readonly<Record<string, unknown>> | null;
  readonly after: Readonly<Record<string, unknown>> | null;
  readonly request_id: string | null;
  /** The API token the write came through (its id and public prefix, never the secret); null or absent: not through one. */
  readonly api_token_id?: number | null;
  readonly api_token_prefix?: string | null;
}

export interface AuditEntry extends AuditEntryInput<AuditAction | AccountAuditAction> {
  readonly id: number;
}

export const AUDIT_FIELDS: ReadonlyMap<string, FieldDef> = new Map<string, FieldDef>([
  ['id', { kind: 'int' }],
  ['at', { kind: 'timestamp' }],
  ['user', { kind: 'text', nullable: true }],
  ['user_id', { kind: 'int', nullable: true }],
  ['source_ip', { kind: 'text', nullable: true }],
  ['action', { kind: 'text', enum: AUDIT_ACTIONS }],
  ['object_type', { kind: 'text' }],
  ['object_id', { kind: 'int', nullable: true }],
  ['before', { kind: 'json', nullable: true }],
  ['after', { kind: 'json', nullable: true }],
  ['request_id', { kind: 'text', nullable: true }],
  ['api_token_id', { kind: 'int', nullable: true }],
  ['api_token_prefix', { kind: 'text', nullable: true }],
]);

export const AUDIT_READ_SPEC: ReadSpec = {
  table: 'audit_log',
  columns: AUDIT_FIELDS,
  search: ['user', 'object_type', 'request_id'],
  defaultOrdering: ['-id'],
};

export const REDACTED = '[redacted]';
/** A secret an update changed (a password set through the users API). */
export const REDACTED_CHANGED = '[redacted: changed]';

/**
 * Appends entries to the audit log on `db`, which should be the transaction
 * of the write they describe so the entry and the change commit together.
 * Exported for writers outside the repositories (logins, token use).
 */
export async function appendAudit(
  db: Kysely<DynamicDatabase>,
  dialect: DialectInfo,
  entries: readonly AuditEntryInput<AuditAction | AccountAuditAction>[],
): Promise<void> {
  const cols = [...AUDIT_FIELDS.keys()].filter((c) => c !== 'id');
  const per = Math.max(1, Math.min(500, Math.floor(dialect.maxParams / cols.length)));
  for (let i = 0; i < entries.length; i += per) {
    const chunk = entries.slice(i, i + per);
    const rows = chunk.map(
      (e) => sql`(${sql.join(cols.map((c) => sql`${dialect.encode(AUDIT_FIELDS.get(c)!.kind, (e as unknown as Record<string, unknown>)[c] ?? null)}`))})`,
    );
    await sql`insert into ${sql.table('audit_log')} (${sql.join(cols.map((c) => sql.ref(c)))}) values ${sql.join(rows)}`.execute(db);
    // See yieldToEventLoop in repository.ts: big appends must not hold the event loop.
    if (entries.length > per) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

import type { Kysely } from 'kysely';
import type { ColumnKind, Database, DialectInfo, DynamicDatabase } from '../db/database.js';
import { InventoryError, InventoryErrorCode, issue } from '../inventory/errors.js';
import { isRole } from './store.js';
import type { ApiTokenRecord, AuthStore, LoginState, NewApiToken, NewUser, RefreshTokenRecord, UserId, UserRecord } from './store.js';

type Row = Record<string, unknown>;

const USER_COLUMNS = [
  'id',
  'username',
  'password_hash',
  'role',
  'tenant_ids',
  'is_active',
  'totp_secret',
  'totp_enabled',
  'totp_last_step',
  'failed_logins',
  'locked_until',
  'last_login',
  'token_generation',
] as const;

const REFRESH_COLUMNS = ['token_hash', 'user_id', 'family_id', 'created_at', 'expires_at', 'used_at', 'revoked_at', 'generation'] as const;

const API_TOKEN_COLUMNS = ['id', 'user_id', 'description', 'prefix', 'token_hash', 'read_only', 'expires_at', 'last_used_at', 'created_at', 'revoked_at'] as const;

/**
 * AuthStore over the inventory database (SQLite or PostgreSQL, migrated to
 * 0004_sessions or later): `users`, `refresh_tokens`, `api_tokens`.
 *
 * Writes here are the auth core's bookkeeping (login state, TOTP steps,
 * token use) and do not pass through the inventory repository: no audit
 * entry and no change event, and the row's `version` moves only for
 * `setPasswordHash` and `setTotp`, which change the account itself, so an
 * editor's If-Match is not spoilt by every login.
 */
export class DbAuthStore implements AuthStore {
  readonly #db: Kysely<DynamicDatabase>;
  readonly #readDb: Kysely<DynamicDatabase>;
  readonly #d: DialectInfo;
  readonly #now: () => Date;

  /** `now` stamps created_at/updated_at of the rows this store inserts or edits. */
  constructor(database: Database, opts: { now?: () => Date } = {}) {
    this.#db = database.db;
    this.#readDb = database.readDb;
    this.#d = database.dialect;
    this.#now = opts.now ?? (() => new Date());
  }

  // ---- users ---------------------------------------------------------------

  async getUserByUsername(username: string): Promise<UserRecord | undefined> {
    const row = await this.#readDb.selectFrom('users').select(USER_COLUMNS).where('username', '=', username).executeTakeFirst();
    return row === undefined ? undefined : this.#user(row);
  }

  async getUserById(id: UserId): Promise<UserRecord | undefined> {
    const row = await this.#readDb.selectFrom('users').select(USER_COLUMNS).where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : this.#user(row);
  }

  async createUser(user: NewUser): Promise<UserRecord> {
    const now = this.#ts(this.#now());
    const row = await this.#unique(
      () =>
        this.#db
          .insertInto('users')
          .values({
            username: user.username,
            email: null,
            password_hash: user.password_hash,
            role: user.role,
            tenant_ids: this.#enc('json', [...user.tenant_ids]),
            is_active: this.#enc('bool', true),
            totp_secret: null,
            totp_enabled: this.#enc('bool', false),
            totp_last_step: null,
            failed_logins: 0,
            locked_until: null,
            last_login: null,
            created_at: now,
            updated_at: now,
            version: 1,
          })
          .returning(USER_COLUMNS)
          .executeTakeFirstOrThrow(),
      InventoryErrorCode.DUPLICATE_NAME,
      'username',
      'username',
    );
    return this.#user(row);
  }

  async countAdmins(): Promise<number> {
    const row = await this.#readDb
      .selectFrom('users')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('role', '=', 'admin')
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async updateLoginState(userId: UserId, state: LoginState): Promise<void> {
    await this.#db
      .updateTable('users')
      .set({
        failed_logins: state.failed_logins,
        locked_until: this.#ts(state.locked_until),
        last_login: this.#ts(state.last_login),
      })
      .where('id', '=', userId)
      .execute();
  }

  async recordLoginFailure(userId: UserId, lockUntil: (failures: number) => Date | null): Promise<number> {
    // The increment happens in the engine and RETURNING (PostgreSQL; SQLite
    // 3.35+) reports the count this call made, so of N parallel wrong guesses
    // each counts: a read-then-write would let them all write the same stale + 1.
    const row = await this.#db
      .updateTable('users')
      .set((eb) => ({ failed_logins: eb('failed_logins', '+', 1) }))
      .where('id', '=', userId)
      .returning('failed_logins')
      .executeTakeFirst();
    if (row === undefined) return 0;
    const failures = Number(row.failed_logins);
    const until = lockUntil(failures);
    if (until !== null) {
      await this.#db
        .updateTable('users')
        .set({ locked_until: this.#ts(until) })
        .where('id', '=', userId)
        .where('failed_logins', '=', failures)
        .execute();
    }
    return failures;
  }

  async setPasswordHash(userId: UserId, passwordHash: string): Promise<void> {
    await this.#editUser(userId, { password_hash: passwordHash });
  }

  async setTotp(userId: UserId, totpSecret: string | null, totpEnabled: boolean): Promise<void> {
    await this.#editUser(userId, { totp_secret: totpSecret, totp_enabled: this.#enc('bool', totpEnabled) });
  }

  async recordTotpStep(userId: UserId, step: number): Promise<boolean> {
    // One conditional UPDATE: of two racing logins with one code, the engine
    // lets one change the row and re-checks the condition for the other
    // (PostgreSQL re-reads the locked row; SQLite runs writers one at a time).
    const r = await this.#db
      .updateTable('users')
      .set({ totp_last_step: step })
      .where('id', '=', userId)
      .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  // ---- refresh tokens ------------------------------------------------------

  async saveRefreshToken(token: RefreshTokenRecord): Promise<void> {
    await this.#db
      .insertInto('refresh_tokens')
      .values({
        token_hash: token.token_hash,
        user_id: token.user_id,
        family_id: token.family_id,
        created_at: this.#ts(token.created_at),
        expires_at: this.#ts(token.expires_at),
        used_at: this.#ts(token.used_at),
        revoked_at: this.#ts(token.revoked_at),
        generation: token.generation,
      })
      .execute();
  }

  async findRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    const row = await this.#readDb.selectFrom('refresh_tokens').select(REFRESH_COLUMNS).where('token_hash', '=', tokenHash).executeTakeFirst();
    if (row === undefined) return undefined;
    return {
      token_hash: String(row.token_hash),
      user_id: this.#int(row.user_id),
      family_id: String(row.family_id),
      created_at: this.#date(row.created_at)!,
      expires_at: this.#date(row.expires_at)!,
      used_at: this.#date(row.used_at),
      revoked_at: this.#date(row.revoked_at),
      generation: this.#int(row.generation),
    };
  }

  async markRefreshTokenUsed(tokenHash: string, usedAt: Date): Promise<boolean> {
    // Compare-and-set, as recordTotpStep: a second refresh with the same
    // token finds used_at set and changes nothing, which the caller treats as reuse.
    const r = await this.#db
      .updateTable('refresh_tokens')
      .set({ used_at: this.#ts(usedAt) })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async revokeRefreshFamily(familyId: string, revokedAt: Date): Promise<void> {
    await this.#db
      .updateTable('refresh_tokens')
      .set({ revoked_at: this.#ts(revokedAt) })
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  // ---- API tokens ----------------------------------------------------------

  async saveApiToken(token: NewApiToken): Promise<ApiTokenRecord> {
    const created = this.#ts(token.created_at);
    const row = await this.#unique(
      () =>
        this.#db
          .insertInto('api_tokens')
          .values({
            user_id: token.user_id,
            description: token.description,
            prefix: token.prefix,
            token_hash: token.token_hash,
            read_only: this.#enc('bool', token.read_only),
            expires_at: this.#ts(token.expires_at),
            last_used_at: null,
            revoked_at: null,
            created_at: created,
            updated_at: created,
            version: 1,
          })
          .returning(API_TOKEN_COLUMNS)
          .executeTakeFirstOrThrow(),
      InventoryErrorCode.DUPLICATE_VALUE,
      'prefix',
      'token prefix',
    );
    return this.#apiToken(row);
  }

  async findApiTokenByPrefix(prefix: string): Promise<ApiTokenRecord | undefined> {
    const row = await this.#readDb.selectFrom('api_tokens').select(API_TOKEN_COLUMNS).where('prefix', '=', prefix).executeTakeFirst();
    return row === undefined ? undefined : this.#apiToken(row);
  }

  async touchApiToken(id: number, lastUsedAt: Date): Promise<void> {
    await this.#db.updateTable('api_tokens').set({ last_used_at: this.#ts(lastUsedAt) }).where('id', '=', id).execute();
  }

  // ---- encoding ------------------------------------------------------------

  async #editUser(userId: UserId, set: Row): Promise<void> {
    await this.#db
      .updateTable('users')
      .set((eb) => ({ ...set, updated_at: this.#ts(this.#now()), version: eb('version', '+', 1) }))
      .where('id', '=', userId)
      .execute();
  }

  /** Turns the engine's unique violation into the coded error the inventory gives for the same index. */
  async #unique<R>(fn: () => Promise<R>, code: InventoryErrorCode, path: string, what: string): Promise<R> {
    try {
      return await fn();
    } catch (err) {
      if (this.#d.classifyError(err)?.kind === 'unique') throw new InventoryError([issue(code, path, `${what} is already used`)]);
      throw err;
    }
  }

  #enc(kind: ColumnKind, value: unknown): unknown {
    return this.#d.encode(kind, value);
  }

  #ts(value: Date | null): string | null {
    return value === null ? null : (this.#d.encode('timestamp', value.toISOString()) as string);
  }

  #date(value: unknown): Date | null {
    const v = this.#d.decode('timestamp', value);
    if (v === null) return null;
    const date = v instanceof Date ? v : new Date(String(v));
    if (Number.isNaN(date.getTime())) throw new Error(`unreadable timestamp ${JSON.stringify(v)} in the auth tables`);
    return date;
  }

  #int(value: unknown): number {
    return this.#d.decode('int', value) as number;
  }

  #bool(value: unknown): boolean {
    return this.#d.decode('bool', value) === true;
  }

  #user(row: Row): UserRecord {
    const role = row['role'];
    if (!isRole(role)) throw new Error(`user ${String(row['id'])} has unknown role ${JSON.stringify(role)}`);
    const tenants = this.#d.decode('json', row['tenant_ids']);
    // Empty means every tenant, so a value that is not a list of ids must not quietly read as empty.
    if (!Array.isArray(tenants) || !tenants.every((t) => Number.isInteger(t))) {
      throw new Error(`user ${String(row['id'])} has unreadable tenant_ids ${JSON.stringify(tenants)}`);
    }
    const step = this.#d.decode('int', row['totp_last_step']);
    return {
      id: this.#int(row['id']),
      username: String(row['username']),
      password_hash: (row['password_hash'] ?? null) as string | null,
      role,
      tenant_ids: tenants as number[],
      is_active: this.#bool(row['is_active']),
      totp_secret: (row['totp_secret'] ?? null) as string | null,
      totp_enabled: this.#bool(row['totp_enabled']),
      totp_last_step: step === null ? null : (step as number),
      failed_logins: this.#int(row['failed_logins']),
      locked_until: this.#date(row['locked_until']),
      last_login: this.#date(row['last_login']),
      token_generation: this.#int(row['token_generation']),
    };
  }

  #apiToken(row: Row): ApiTokenRecord {
    return {
      id: this.#int(row['id']),
      user_id: this.#int(row['user_id']),
      description: (row['description'] ?? null) as string | null,
      prefix: String(row['prefix']),
      token_hash: String(row['token_hash']),
      read_only: this.#bool(row['read_only']),
      expires_at: this.#date(row['expires_at']),
      last_used_at: this.#date(row['last_used_at']),
      created_at: this.#date(row['created_at'])!,
      revoked_at: this.#date(row['revoked_at']),
    };
  }
}

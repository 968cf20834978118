/**
 * What the auth core needs from storage. The database layer implements it
 * over the `users`, `refresh_tokens` and `api_tokens` tables; field names are
 * the column names (snake_case, as in the API). Timestamps are `Date`s (the
 * tables hold ISO-8601 text; the backend converts). Rows may carry more
 * columns than listed here (email, created_at, version…); auth ignores them.
 *
 * Methods whose doc says "atomically" are compare-and-set operations: two
 * concurrent calls must not both succeed, or replay and reuse detection break
 * (for SQL: one `UPDATE … WHERE <condition>` and a check of the affected row count).
 * test/auth/auth-store-contract.ts holds the behaviour every backend must show.
 */

export const ROLES = ['admin', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(x: unknown): x is Role {
  return x === 'admin' || x === 'operator' || x === 'viewer';
}

export type UserId = number;
export type TenantId = number;

/** A row of `users`. */
export interface UserRecord {
  readonly id: UserId;
  readonly username: string;
  /** An argon2 PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`); null: no password login. */
  readonly password_hash: string | null;
  readonly role: Role;
  /**
   * The tenants the user is scoped to; empty: not scoped, sees every tenant's
   * objects. Ignored for admins, who always see everything.
   */
  readonly tenant_ids: readonly TenantId[];
  /** False: the account is disabled; it cannot log in, refresh, or use its API tokens. */
  readonly is_active: boolean;
  /** Base32 TOTP secret; set (with `totp_enabled` false) between enrolment and confirmation. */
  readonly totp_secret: string | null;
  readonly totp_enabled: boolean;
  /** The last TOTP time step (Unix time / 30 s) accepted for this user: a code of this step or an earlier one is a replay. */
  readonly totp_last_step: number | null;
  readonly failed_logins: number;
  readonly locked_until: Date | null;
  readonly last_login: Date | null;
  /**
   * Moves on whenever the password, role, tenants or active flag change (a
   * trigger in the database, migration 0004): access and refresh tokens carry
   * the generation they were issued under and are refused after it moved.
   */
  readonly token_generation: number;
}

export interface NewUser {
  readonly username: string;
  readonly password_hash: string;
  readonly role: Role;
  readonly tenant_ids: readonly TenantId[];
}

export interface LoginState {
  readonly failed_logins: number;
  readonly locked_until: Date | null;
  readonly last_login: Date | null;
}

/** A row of `refresh_tokens`. The token itself is never stored, only its SHA-256. */
export interface RefreshTokenRecord {
  /** Lower-case hex SHA-256 of the opaque token; the primary key. */
  readonly token_hash: string;
  readonly user_id: UserId;
  /** Every token rotated from one login shares the family id; reuse of any revokes the family. */
  readonly family_id: string;
  readonly created_at: Date;
  readonly expires_at: Date;
  /** When it was exchanged for a new one; a second use after this is reuse. */
  readonly used_at: Date | null;
  readonly revoked_at: Date | null;
  /** The user's token_generation when the token was issued; refused once the user's has moved on. */
  readonly generation: number;
}

/** A row of `api_tokens`. */
export interface ApiTokenRecord {
  readonly id: number;
  readonly user_id: UserId;
  readonly description: string | null;
  /** The public part of the token (`dcp_<prefix>_…`), unique, shown in listings. */
  readonly prefix: string;
  /** Lower-case hex SHA-256 of the whole token string. */
  readonly token_hash: string;
  readonly read_only: boolean;
  readonly expires_at: Date | null;
  readonly last_used_at: Date | null;
  readonly created_at: Date;
  readonly revoked_at: Date | null;
}

export type NewApiToken = Omit<ApiTokenRecord, 'id' | 'last_used_at' | 'revoked_at'>;

export interface AuthStore {
  /** Exact match; whether usernames are case-insensitive is the backend's unique index's choice. */
  getUserByUsername(username: string): Promise<UserRecord | undefined>;
  getUserById(id: UserId): Promise<UserRecord | undefined>;
  /** Inserts an active user with no TOTP, no failed logins. Rejects when the username exists. */
  createUser(user: NewUser): Promise<UserRecord>;
  /** Users whose role is `admin`. */
  countAdmins(): Promise<number>;
  updateLoginState(userId: UserId, state: LoginState): Promise<void>;
  /**
   * Counts one failed login atomically (`failed_logins + 1` in the engine, not
   * a value read earlier, so parallel wrong guesses each count) and returns the
   * new count. When `lockUntil(count)` is a date, `locked_until` is set to it
   * unless a later failure has already moved the count on (that one sets its
   * own, longer lock). A null leaves `locked_until` as it is.
   */
  recordLoginFailure(userId: UserId, lockUntil: (failures: number) => Date | null): Promise<number>;
  /**
   * Replaces the hash (a rehash with current parameters, or a password
   * change) and, as every change of the hash does, moves token_generation on.
   */
  setPasswordHash(userId: UserId, passwordHash: string): Promise<void>;
  setTotp(userId: UserId, totpSecret: string | null, totpEnabled: boolean): Promise<void>;
  /**
   * Atomically sets `totp_last_step` to `step` when it is null or smaller, and
   * says whether it did. False means the code's step was already used: a replay.
   */
  recordTotpStep(userId: UserId, step: number): Promise<boolean>;

  saveRefreshToken(token: RefreshTokenRecord): Promise<void>;
  findRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined>;
  /**
   * Atomically sets `used_at` when it is null and the token is not revoked,
   * and says whether it did. Two concurrent refreshes with one token: one wins,
   * the other is treated as reuse.
   */
  markRefreshTokenUsed(tokenHash: string, usedAt: Date): Promise<boolean>;
  /** Sets `revoked_at` on every token of the family that has none. */
  revokeRefreshFamily(familyId: string, revokedAt: Date): Promise<void>;

  /** Inserts; rejects when the prefix exists (prefixes are unique). */
  saveApiToken(token: NewApiToken): Promise<ApiTokenRecord>;
  findApiTokenByPrefix(prefix: string): Promise<ApiTokenRecord | undefined>;
  touchApiToken(id: number, lastUsedAt: Date): Promise<void>;
}

import type {
  ApiTokenRecord,
  AuthStore,
  LoginState,
  NewApiToken,
  NewUser,
  RefreshTokenRecord,
  UserId,
  UserRecord,
} from '../../src/auth/store.js';

/**
 * AuthStore in memory, for the auth core's tests: the reference the SQL
 * backends are held to by auth-store-contract.ts. Records are copied in and
 * out, as a database would, so a caller cannot change stored state by
 * mutating what it got back.
 */
export class MemoryAuthStore implements AuthStore {
  readonly users = new Map<UserId, UserRecord>();
  readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  readonly apiTokens = new Map<number, ApiTokenRecord>();
  #nextUserId = 1;
  #nextTokenId = 1;

  async getUserByUsername(username: string): Promise<UserRecord | undefined> {
    for (const u of this.users.values()) if (u.username === username) return { ...u };
    return undefined;
  }

  async getUserById(id: UserId): Promise<UserRecord | undefined> {
    const u = this.users.get(id);
    return u === undefined ? undefined : { ...u };
  }

  async createUser(user: NewUser): Promise<UserRecord> {
    if ((await this.getUserByUsername(user.username)) !== undefined) {
      throw new Error(`username ${user.username} exists`);
    }
    const record: UserRecord = {
      id: this.#nextUserId++,
      username: user.username,
      password_hash: user.password_hash,
      role: user.role,
      tenant_ids: [...user.tenant_ids],
      is_active: true,
      totp_secret: null,
      totp_enabled: false,
      totp_last_step: null,
      failed_logins: 0,
      locked_until: null,
      last_login: null,
      token_generation: 0,
    };
    this.users.set(record.id, record);
    return { ...record };
  }

  async countAdmins(): Promise<number> {
    let n = 0;
    for (const u of this.users.values()) if (u.role === 'admin') n++;
    return n;
  }

  #update(id: UserId, patch: Partial<UserRecord>): void {
    const u = this.users.get(id);
    if (u === undefined) throw new Error(`no user ${id}`);
    this.users.set(id, { ...u, ...patch });
  }

  async updateLoginState(userId: UserId, state: LoginState): Promise<void> {
    this.#update(userId, { ...state });
  }

  async recordLoginFailure(userId: UserId, lockUntil: (failures: number) => Date | null): Promise<number> {
    const u = this.users.get(userId);
    if (u === undefined) return 0;
    const failures = u.failed_logins + 1;
    const until = lockUntil(failures);
    this.#update(userId, until === null ? { failed_logins: failures } : { failed_logins: failures, locked_until: until });
    return failures;
  }

  async setPasswordHash(userId: UserId, passwordHash: string): Promise<void> {
    const u = this.users.get(userId);
    // As the database's trigger does (migration 0004): a new hash ends the user's sessions.
    this.#update(userId, { password_hash: passwordHash, token_generation: (u?.token_generation ?? 0) + 1 });
  }

  /** Test helper (the users API's job in production, where a trigger moves the generation): change role or tenants. */
  setRole(userId: UserId, role: UserRecord['role'], tenantIds: readonly number[]): void {
    const u = this.users.get(userId);
    this.#update(userId, { role, tenant_ids: [...tenantIds], token_generation: (u?.token_generation ?? 0) + 1 });
  }

  async setTotp(userId: UserId, totpSecret: string | null, totpEnabled: boolean): Promise<void> {
    this.#update(userId, { totp_secret: totpSecret, totp_enabled: totpEnabled });
  }

  async recordTotpStep(userId: UserId, step: number): Promise<boolean> {
    const u = this.users.get(userId);
    if (u === undefined) return false;
    if (u.totp_last_step !== null && u.totp_last_step >= step) return false;
    this.#update(userId, { totp_last_step: step });
    return true;
  }

  async saveRefreshToken(token: RefreshTokenRecord): Promise<void> {
    if (this.refreshTokens.has(token.token_hash)) throw new Error('duplicate refresh token');
    this.refreshTokens.set(token.token_hash, { ...token });
  }

  async findRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    const t = this.refreshTokens.get(tokenHash);
    return t === undefined ? undefined : { ...t };
  }

  async markRefreshTokenUsed(tokenHash: string, usedAt: Date): Promise<boolean> {
    const t = this.refreshTokens.get(tokenHash);
    if (t === undefined || t.used_at !== null || t.revoked_at !== null) return false;
    this.refreshTokens.set(tokenHash, { ...t, used_at: usedAt });
    return true;
  }

  async revokeRefreshFamily(familyId: string, revokedAt: Date): Promise<void> {
    for (const [k, t] of this.refreshTokens) {
      if (t.family_id === familyId && t.revoked_at === null) this.refreshTokens.set(k, { ...t, revoked_at: revokedAt });
    }
  }

  async saveApiToken(token: NewApiToken): Promise<ApiTokenRecord> {
    for (const t of this.apiTokens.values()) if (t.prefix === token.prefix) throw new Error('duplicate prefix');
    const record: ApiTokenRecord = { ...token, id: this.#nextTokenId++, last_used_at: null, revoked_at: null };
    this.apiTokens.set(record.id, record);
    return { ...record };
  }

  async findApiTokenByPrefix(prefix: string): Promise<ApiTokenRecord | undefined> {
    for (const t of this.apiTokens.values()) if (t.prefix === prefix) return { ...t };
    return undefined;
  }

  async touchApiToken(id: number, lastUsedAt: Date): Promise<void> {
    const t = this.apiTokens.get(id);
    if (t !== undefined) this.apiTokens.set(id, { ...t, last_used_at: lastUsedAt });
  }

  /** Test helper (the API's job in production): revoke one API token. */
  revokeApiToken(id: number, at: Date): void {
    const t = this.apiTokens.get(id);
    if (t !== undefined) this.apiTokens.set(id, { ...t, revoked_at: at });
  }
}

import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { AuthError, AuthErrorCode } from './errors.js';
import { isRole } from './store.js';
import type { ApiTokenRecord, AuthStore, Role, TenantId, UserId, UserRecord } from './store.js';

/** Who a request acts as, once its bearer token checked out. */
export interface Principal {
  readonly userId: UserId;
  readonly username: string;
  readonly role: Role;
  /** Empty: not scoped to tenants (see UserRecord.tenant_ids). */
  readonly tenants: readonly TenantId[];
  /** True for a read-only API token: such a principal never writes, whatever its role. */
  readonly readOnly: boolean;
  readonly via: 'jwt' | 'api_token';
  /** The API token's id when `via` is `api_token` (for the audit log). */
  readonly apiTokenId?: number;
  /** Its public prefix (`dcp_<prefix>_…`), also for the audit log. */
  readonly apiTokenPrefix?: string;
}

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const REFRESH_TOKEN_TTL_SECONDS = 14 * 24 * 60 * 60;
/** last_used_at is written at most this often per API token, so a busy script does not turn every read into a write. */
export const API_TOKEN_TOUCH_INTERVAL_MS = 60_000;

const JWT_ISSUER = 'dcplane';
const JWT_AUDIENCE = 'dcplane-api';
/** Bytes of HMAC key. RFC 7518 §3.2: a key "of the same size as the hash output (for instance, 256 bits for HS256) or larger MUST be used". */
const SECRET_BYTES = 64;
const MIN_SECRET_BYTES = 32;

export interface TokenConfig {
  /** The HS256 key; every node of a cluster needs the same one. */
  readonly secret: Uint8Array;
  readonly accessTtlSeconds?: number;
  readonly refreshTtlSeconds?: number;
}

/** What `POST /api/v1/auth/token` answers (OAuth 2 token response names, RFC 6749 §5.1). */
export interface TokenPair {
  readonly access_token: string;
  readonly token_type: 'bearer';
  readonly expires_in: number;
  readonly refresh_token: string;
}

function invalid(message: string, cause?: unknown): AuthError {
  return new AuthError(AuthErrorCode.TOKEN_INVALID, message, cause !== undefined ? { cause } : {});
}

function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 base32 in lower case without padding: no `_` or `-`, so it can sit between `_` separators. */
function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

// ---------------------------------------------------------------------------
// The signing secret

export const SECRET_FILE_NAME = 'jwt-secret';

/**
 * The HS256 key kept in `<dataDir>/jwt-secret` (base64url text, mode 0600),
 * created with 64 random bytes on first start. Creation is atomic and
 * first-writer-wins: the key is written to a temporary file and hard-linked to
 * its name, so a crash leaves no half-written key and two processes starting
 * at once end up with the same one.
 */
export async function loadOrCreateSecret(dataDir: string): Promise<Uint8Array> {
  const file = join(dataDir, SECRET_FILE_NAME);
  const existing = await readSecret(file);
  if (existing !== undefined) return existing;

  await mkdir(dataDir, { recursive: true });
  const tmp = join(dataDir, `.${SECRET_FILE_NAME}.${process.pid}.${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${randomBytes(SECRET_BYTES).toString('base64url')}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    // The mode given to open() is narrowed by the umask only; chmod makes it exactly 0600.
    await chmod(tmp, 0o600);
    await link(tmp, file).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  const secret = await readSecret(file);
  if (secret === undefined) throw new AuthError(AuthErrorCode.SECRET_FILE, `${file} vanished while being created`);
  return secret;
}

async function readSecret(file: string): Promise<Uint8Array | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AuthError(AuthErrorCode.SECRET_FILE, `cannot read ${file}`, { cause: e });
  }
  const t = text.trim();
  const key = Buffer.from(t, 'base64url');
  if (!/^[A-Za-z0-9_-]+$/.test(t) || key.length < MIN_SECRET_BYTES) {
    throw new AuthError(
      AuthErrorCode.SECRET_FILE,
      `${file} must hold at least ${MIN_SECRET_BYTES} bytes of base64url text; remove it to have a new one made (every issued token becomes invalid)`,
    );
  }
  return new Uint8Array(key);
}

// ---------------------------------------------------------------------------
// Access tokens (JWT, HS256)

export async function issueAccessToken(
  user: Pick<UserRecord, 'id' | 'username' | 'role' | 'tenant_ids' | 'token_generation'>,
  config: TokenConfig,
  now: Date,
): Promise<{ access_token: string; expires_in: number }> {
  const ttl = config.accessTtlSeconds ?? ACCESS_TOKEN_TTL_SECONDS;
  const iat = Math.floor(now.getTime() / 1000);
  const token = await new SignJWT({
    username: user.username,
    role: user.role,
    tenants: [...user.tenant_ids],
    gen: user.token_generation,
    type: 'access',
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(String(user.id))
    .setIssuer(JWT_ISSUER)
    .setAudience(JWT_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .setJti(randomUUID())
    .sign(config.secret);
  return { access_token: token, expires_in: ttl };
}

function isTenantList(x: unknown): x is TenantId[] {
  return Array.isArray(x) && x.every((t) => Number.isSafeInteger(t));
}

/** What a valid access token says: the principal at issue time and the user's token generation then. */
export interface AccessClaims extends Principal {
  readonly generation: number;
}

/**
 * Checks the signature, expiry and shape of an access token. It says who the
 * user was when it was issued; `currentPrincipal` says whether that still holds.
 */
export async function verifyAccessToken(token: string, config: TokenConfig, now: Date): Promise<AccessClaims> {
  let payload;
  try {
    // Pinning the algorithm keeps a token from choosing how it is checked (`none`, or RS256 with our secret as a public key).
    ({ payload } = await jwtVerify(token, config.secret, {
      algorithms: ['HS256'],
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      currentDate: now,
      requiredClaims: ['exp', 'sub'],
    }));
  } catch (e) {
    if (e instanceof joseErrors.JWTExpired) {
      throw new AuthError(AuthErrorCode.TOKEN_EXPIRED, 'access token expired', { cause: e });
    }
    throw invalid('access token is not valid', e);
  }
  const { sub, username, role, tenants, gen, type } = payload;
  if (type !== 'access') throw invalid('not an access token');
  if (typeof sub !== 'string' || !/^[1-9][0-9]{0,15}$/.test(sub) || !Number.isSafeInteger(Number(sub))) {
    throw invalid('access token subject is not a user id');
  }
  if (typeof username !== 'string' || !isRole(role) || !isTenantList(tenants) || typeof gen !== 'number' || !Number.isSafeInteger(gen) || gen < 0) {
    throw invalid('access token claims are malformed');
  }
  return { userId: Number(sub), username, role, tenants, readOnly: false, via: 'jwt', generation: gen };
}

/**
 * The principal an access token stands for now. The user is read on every
 * request: a deleted or disabled user's tokens stop at once, and a token
 * issued before a change of password, role or tenants (which moves the
 * user's token_generation) is refused, so a demoted or re-scoped user cannot
 * go on with the rights the token was issued with until it expires.
 */
export async function currentPrincipal(claims: AccessClaims, store: AuthStore): Promise<Principal> {
  const user = await store.getUserById(claims.userId);
  if (user === undefined || !user.is_active) {
    throw new AuthError(AuthErrorCode.TOKEN_REVOKED, 'the user of this access token is gone or disabled');
  }
  if (user.token_generation !== claims.generation) {
    throw new AuthError(AuthErrorCode.TOKEN_REVOKED, 'this session ended when the password, role or tenants changed; log in again');
  }
  return { userId: user.id, username: user.username, role: user.role, tenants: user.tenant_ids, readOnly: false, via: 'jwt' };
}

// ---------------------------------------------------------------------------
// Refresh tokens (opaque, rotated on use, families revoked on reuse)

const REFRESH_PREFIX = 'dcr_';
const REFRESH_RE = /^dcr_[A-Za-z0-9_-]{43}$/;

async function saveNewRefreshToken(
  store: AuthStore,
  user: Pick<UserRecord, 'id' | 'token_generation'>,
  familyId: string,
  config: TokenConfig,
  now: Date,
): Promise<string> {
  const token = `${REFRESH_PREFIX}${randomBytes(32).toString('base64url')}`;
  const ttl = config.refreshTtlSeconds ?? REFRESH_TOKEN_TTL_SECONDS;
  await store.saveRefreshToken({
    token_hash: sha256Hex(token),
    user_id: user.id,
    family_id: familyId,
    created_at: now,
    expires_at: new Date(now.getTime() + ttl * 1000),
    used_at: null,
    revoked_at: null,
    generation: user.token_generation,
  });
  return token;
}

/** An access token and a refresh token starting a new family (after a login). */
export async function issueTokenPair(
  store: AuthStore,
  user: UserRecord,
  config: TokenConfig,
  now: Date,
  familyId: string = randomUUID(),
): Promise<TokenPair> {
  const { access_token, expires_in } = await issueAccessToken(user, config, now);
  const refresh_token = await saveNewRefreshToken(store, user, familyId, config, now);
  return { access_token, token_type: 'bearer', expires_in, refresh_token };
}

/**
 * Exchanges a refresh token for a new pair; the old one is spent. A spent
 * token presented again means it was copied (the thief or the owner is
 * replaying it), so its whole family is revoked and both parties must log in
 * again (OAuth 2.0 Security BCP, RFC 9700 §4.14.2). Role and tenants are
 * read afresh from the user record; a token issued before the user's
 * token_generation moved (password, role, tenants changed) ends its family.
 */
export async function refreshTokens(
  refreshToken: string,
  store: AuthStore,
  config: TokenConfig,
  now: Date,
): Promise<TokenPair> {
  if (!REFRESH_RE.test(refreshToken)) throw invalid('not a refresh token');
  const hash = sha256Hex(refreshToken);
  const record = await store.findRefreshToken(hash);
  if (record === undefined) throw invalid('unknown refresh token');
  if (record.revoked_at !== null) throw new AuthError(AuthErrorCode.TOKEN_REVOKED, 'refresh token revoked');
  const reused = async (): Promise<never> => {
    await store.revokeRefreshFamily(record.family_id, now);
    throw new AuthError(AuthErrorCode.TOKEN_REVOKED, 'refresh token reused; its session is revoked');
  };
  if (record.used_at !== null) await reused();
  if (record.expires_at.getTime() <= now.getTime()) {
    throw new AuthError(AuthErrorCode.TOKEN_EXPIRED, 'refresh token expired');
  }
  // Losing this race means another request spent the token between our read and now: reuse as well.
  if (!(await store.markRefreshTokenUsed(hash, now))) await reused();
  const user = await store.getUserById(record.user_id);
  if (user === undefined || !user.is_active) {
    await store.revokeRefreshFamily(record.family_id, now);
    throw new AuthError(AuthErrorCode.TOKEN_REVOKED, 'the user of this refresh token is gone or disabled');
  }
  if (user.token_generation !== record.generation) {
    await store.revokeRefreshFamily(record.family_id, now);
    throw new AuthError(AuthErrorCode.TOKEN_REVOKED, 'this session ended when the password, role or tenants changed; log in again');
  }
  const pair = await issueTokenPair(store, user, config, now, record.family_id);
  // A concurrent reuse may have revoked the family between our spend and the
  // save of the new token, missing it: look again now that it is stored.
  if ((await store.findRefreshToken(hash))?.revoked_at !== null) await reused();
  return pair;
}

/**
 * Logout: revokes the token's family and says whose session it was (for the
 * audit log). Unknown or malformed tokens are ignored (logout is idempotent).
 */
export async function revokeRefreshToken(refreshToken: string, store: AuthStore, now: Date): Promise<UserId | undefined> {
  if (!REFRESH_RE.test(refreshToken)) return undefined;
  const record = await store.findRefreshToken(sha256Hex(refreshToken));
  if (record === undefined) return undefined;
  await store.revokeRefreshFamily(record.family_id, now);
  return record.user_id;
}

// ---------------------------------------------------------------------------
// API tokens (`dcp_<prefix>_<secret>`)

const API_TOKEN_RE = /^dcp_([a-z2-7]{10})_([a-z2-7]{52})$/;

export interface CreateApiTokenOptions {
  readonly description?: string | null;
  readonly read_only: boolean;
  readonly expires_at?: Date | null;
}

/**
 * Makes an API token for a user. The returned `token` is the only copy of the
 * secret: the store keeps its SHA-256 (a 256-bit random secret needs no slow
 * hash) and the 50-bit prefix it is looked up by.
 */
export async function createApiToken(
  store: AuthStore,
  userId: UserId,
  options: CreateApiTokenOptions,
  now: Date,
): Promise<{ token: string; record: ApiTokenRecord }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const prefix = base32(randomBytes(7)).slice(0, 10);
    if ((await store.findApiTokenByPrefix(prefix)) !== undefined) continue;
    const token = `dcp_${prefix}_${base32(randomBytes(32))}`;
    const record = await store.saveApiToken({
      user_id: userId,
      description: options.description ?? null,
      prefix,
      token_hash: sha256Hex(token),
      read_only: options.read_only,
      expires_at: options.expires_at ?? null,
      created_at: now,
    });
    return { token, record };
  }
  throw new Error('no free API token prefix after 5 attempts');
}

export function isApiTokenFormat(token: string): boolean {
  return API_TOKEN_RE.test(token);
}

export async function verifyApiToken(token: string, store: AuthStore, now: Date): Promise<Principal> {
  const m = API_TOKEN_RE.exec(token);
  if (m === null) throw invalid('not an API token');
  const record = await store.findApiTokenByPrefix(m[1] as string);
  if (record === undefined) throw invalid('unknown API token');
  const expected = Buffer.from(record.token_hash, 'hex');
  const actual = createHash('sha256').update(token, 'utf8').digest();
  // Constant time, so response times do not tell a guesser how many leading bytes of the stored hash it matched.
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw invalid('unknown API token');
  if (record.revoked_at !== null) throw new AuthError(AuthErrorCode.TOKEN_REVOKED, 'API token revoked');
  if (record.expires_at !== null && record.expires_at.getTime() <= now.getTime()) {
    throw new AuthError(AuthErrorCode.TOKEN_EXPIRED, 'API token expired');
  }
  const user = await store.getUserById(record.user_id);
  if (user === undefined || !user.is_active) {
    throw new AuthError(AuthErrorCode.TOKEN_REVOKED, 'the user of this API token is gone or disabled');
  }
  if (record.last_used_at === null || now.getTime() - record.last_used_at.getTime() >= API_TOKEN_TOUCH_INTERVAL_MS) {
    await store.touchApiToken(record.id, now);
  }
  return {
    userId: user.id,
    username: user.username,
    role: user.role,
    tenants: user.tenant_ids,
    readOnly: record.read_only,
    via: 'api_token',
    apiTokenId: record.id,
    apiTokenPrefix: record.prefix,
  };
}

// ---------------------------------------------------------------------------

/**
 * The principal of an `Authorization` header value: `Bearer <jwt>` or
 * `Bearer dcp_…`. The scheme is case-insensitive (RFC 9110 §11.1).
 */
export async function verifyBearer(
  header: string | undefined,
  store: AuthStore,
  config: TokenConfig,
  now: Date = new Date(),
): Promise<Principal> {
  if (header === undefined || header.trim() === '') {
    throw new AuthError(AuthErrorCode.TOKEN_MISSING, 'no bearer token');
  }
  const m = /^Bearer +([^\s]+) *$/i.exec(header);
  if (m === null) throw invalid('Authorization is not a bearer token');
  const token = m[1] as string;
  if (token.startsWith('dcp_')) return verifyApiToken(token, store, now);
  if (token.split('.').length === 3) return currentPrincipal(await verifyAccessToken(token, config, now), store);
  throw invalid('bearer token is neither an access token nor an API token');
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { changePassword } from '../auth/account.js';
import { AuthError, AuthErrorCode, isAuthError } from '../auth/errors.js';
import { login } from '../auth/login.js';
import type { LockoutPolicy } from '../auth/login.js';
import type { PasswordHasher } from '../auth/passwords.js';
import type { LoginRateLimiter } from '../auth/rate-limit.js';
import { authorize, tenantFilter } from '../auth/rbac.js';
import type { AuthStore, UserRecord } from '../auth/store.js';
import { createApiToken, refreshTokens, revokeRefreshToken, verifyBearer } from '../auth/tokens.js';
import type { Principal, TokenConfig } from '../auth/tokens.js';
import { beginTotpEnrolment, confirmTotp, disableTotp, verifyTotpCode } from '../auth/totp.js';
import { appendAudit } from '../inventory/audit.js';
import type { AccountAuditAction, AuditAction } from '../inventory/audit.js';
import { InventoryError, InventoryErrorCode, issue } from '../inventory/errors.js';
import type { Inventory } from '../inventory/inventory.js';
import { redact } from '../inventory/repository.js';
import type { AnyRow } from '../inventory/resource.js';
import type { Caller, Guard } from './access.js';
import { writeContext } from './access.js';
import type { UserChangeFeed } from './ws.js';
import { ERROR_SCHEMA, ID_PARAMS } from './resource-schemas.js';
import type { JsonSchema } from './resource-schemas.js';
import { MAX_OFFSET } from '../inventory/query.js';

/** What the API needs to authenticate requests and serve the auth endpoints. */
export interface ApiAuth {
  readonly store: AuthStore;
  readonly tokens: TokenConfig;
  readonly hasher: PasswordHasher;
  readonly rateLimiter: LoginRateLimiter;
  readonly lockout?: LockoutPolicy;
  /** Clock (tests move it to expire locks and tokens). */
  readonly now?: () => Date;
}

const principals = new WeakMap<FastifyRequest, Principal>();

/**
 * Paths answered without a bearer: health (load balancers), the Prometheus
 * scrape (scrapers of the e2e and ops setups send no token), logging in and
 * refreshing (the caller has no access token yet), and the API docs. The
 * WebSocket checks its token itself after the upgrade (ws.ts), so that a
 * browser gets a close code it can read instead of a failed handshake.
 */
const PUBLIC: readonly RegExp[] = [
  /^\/api\/v1\/health\/?$/,
  /^\/api\/v1\/ws\/?$/,
  /^\/api\/v1\/metrics\/prometheus\/?$/,
  /^\/api\/v1\/auth\/(token|refresh|logout)\/?$/,
  /^\/api\/docs(\/.*)?$/,
];

/** Everything else under /api/v1 needs a principal, the DHCP lease and TFTP transfer lists included. */
const PROTECTED: readonly RegExp[] = [/^\/api\/v1\//];

/**
 * Decided on the route that matched (its pattern), not on the raw URL, so no
 * spelling of a path (`//api/v1/…`, encoded characters, a trailing slash)
 * reaches a protected handler as if it were a public one. Unmatched URLs
 * under /api/v1 need a bearer too: a 404 tells a stranger nothing.
 */
function needsBearer(req: FastifyRequest): boolean {
  const url = req.routeOptions.url ?? req.url;
  const path = url.split('?')[0] ?? url;
  if (PUBLIC.some((re) => re.test(path))) return false;
  return PROTECTED.some((re) => re.test(path));
}

/** The onRequest hook: every protected request carries a valid bearer (JWT access token or API token). */
export function authenticate(app: FastifyInstance, auth: ApiAuth): void {
  const now = auth.now ?? (() => new Date());
  app.addHook('onRequest', async (req) => {
    if (!needsBearer(req)) return;
    const header = req.headers.authorization;
    principals.set(req, await verifyBearer(header, auth.store, auth.tokens, now()));
  });
}

export function principalOf(req: FastifyRequest): Principal | undefined {
  return principals.get(req);
}

/** RBAC (src/auth/rbac.ts) and tenant scope for the inventory routes. */
export const bearerGuard: Guard = (req, action, resource): Caller => {
  const p = principals.get(req);
  if (p === undefined) throw new AuthError(AuthErrorCode.TOKEN_MISSING, 'no bearer token');
  authorize(p, action, resource);
  const token = p.apiTokenId !== undefined && p.apiTokenPrefix !== undefined ? { apiToken: { id: p.apiTokenId, prefix: p.apiTokenPrefix } } : {};
  return { user: p.username, userId: p.userId, tenantScope: tenantFilter(p), ...token };
};

/**
 * RBAC for a read outside the inventory routes (DHCP leases, TFTP
 * transfers): with auth on, every protected request has a principal by now;
 * with auth off (tests) there is none and nothing to check.
 */
export function readGuard(req: FastifyRequest, resource: string): void {
  const p = principals.get(req);
  if (p !== undefined) authorize(p, 'read', resource);
}

const TOKEN_PAIR: JsonSchema = {
  type: 'object',
  properties: {
    access_token: { type: 'string' },
    token_type: { type: 'string', enum: ['bearer'] },
    expires_in: { type: 'integer' },
    refresh_token: { type: 'string' },
  },
};

const errors = { 400: ERROR_SCHEMA, 401: ERROR_SCHEMA, 403: ERROR_SCHEMA, 423: ERROR_SCHEMA, 429: ERROR_SCHEMA };

type Who = Pick<UserRecord, 'id' | 'username'>;
const whoOf = (p: Principal): Who => ({ id: p.userId, username: p.username });

/**
 * What an API token may not do, whatever its rights: change the password or
 * TOTP of its account, or mint more API tokens. A leaked script token would
 * otherwise lock its owner out, or outlive its own expiry and revocation
 * through a never-expiring child.
 */
function requireSession(p: Principal, what: string): void {
  if (p.via !== 'jwt') throw new AuthError(AuthErrorCode.SESSION_REQUIRED, `an API token cannot ${what}: log in with a password`);
}

/** RFC 6749 §4.3 form fields sent along by OAuth clients; accepted and ignored. */
const OAUTH_EXTRAS = { grant_type: { type: 'string', maxLength: 32 }, scope: { type: 'string', maxLength: 200 }, client_id: { type: 'string', maxLength: 200 } };

function parseForm(body: string): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  return out;
}

/**
 * `POST /api/v1/auth/token` (JSON or form: username, password, otp),
 * `/auth/refresh`, `/auth/logout`, `GET /auth/me`, `POST /auth/api-tokens`,
 * TOTP enrolment (`/auth/totp/enrol`, `/confirm`, `/disable`), a user's own
 * password change (`/auth/password`) and an admin's unlock of an account
 * (`/users/{id}/unlock`). Each of them records its outcome in the audit log.
 * In their own plugin so the form parser serves these routes only.
 */
export async function registerAuthRoutes(app: FastifyInstance, auth: ApiAuth, inventory?: Inventory, users?: Pick<UserChangeFeed, 'announce'>): Promise<void> {
  const now = auth.now ?? (() => new Date());
  const tags = ['auth'];
  await auth.hasher.prepare();

  /**
   * Appends an account event to the audit log: who (the account acting, or
   * tried as; null for a name that is no account, which is not recorded, as it
   * may be a mistyped password), from where, under which request, about which
   * object. `after` says what happened: a reason code or a flag, never a
   * secret or a hash.
   */
  const audit = async (
    req: FastifyRequest,
    action: AccountAuditAction | AuditAction,
    who: Who | undefined,
    object: { readonly type: string; readonly id: number | null },
    after: Record<string, unknown> | null,
    before: Record<string, unknown> | null = null,
  ): Promise<void> => {
    if (inventory === undefined) return;
    const entry = { at: now().toISOString(), user: who?.username ?? null, user_id: who?.id ?? null, source_ip: req.ip, action, object_type: object.type, object_id: object.id, before, after, request_id: req.id };
    await appendAudit(inventory.database.db, inventory.database.dialect, [entry]);
  };
  // As login does: no stored name holds U+0000, and PostgreSQL refuses to compare one.
  const userByName = (username: string): Promise<UserRecord | undefined> =>
    username === '' || username.includes('\u0000') ? Promise.resolve(undefined) : auth.store.getUserByUsername(username);
  const accountOf = (u: Who | undefined) => ({ type: 'user', id: u?.id ?? null });

  await app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => {
      done(null, parseForm(body as string));
    });

    scope.post<{ Body: { username: string; password: string; otp?: string } }>(
      '/api/v1/auth/token',
      {
        schema: {
          tags,
          summary: 'Log in: an access token (JWT) and a refresh token. JSON or form; otp when TOTP is on.',
          security: [],
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['username', 'password'],
            properties: {
              username: { type: 'string', maxLength: 150 },
              password: { type: 'string', maxLength: 1024 },
              otp: { type: 'string', maxLength: 16 },
              ...OAUTH_EXTRAS,
            },
          },
          response: { 200: TOKEN_PAIR, ...errors },
        },
      },
      async (req, reply) => {
        const { username, password, otp } = req.body;
        let pair;
        try {
          pair = await login({ username, password, otp }, req.ip, auth.store, now(), {
            hasher: auth.hasher,
            tokens: auth.tokens,
            rateLimiter: auth.rateLimiter,
            ...(auth.lockout === undefined ? {} : { lockout: auth.lockout }),
          });
        } catch (e) {
          // A rate-limited attempt never reached an account: it is the limiter's to count, not the audit log's.
          if (isAuthError(e) && e.code !== AuthErrorCode.RATE_LIMITED) {
            const u = await userByName(username);
            await audit(req, 'login_failed', u, accountOf(u), { reason: e.code });
          }
          throw e;
        }
        const u = await userByName(username);
        await audit(req, 'login', u, accountOf(u), { totp: u?.totp_enabled ?? false });
        // RFC 6749 §5.1: responses carrying tokens "MUST include" Cache-Control: no-store.
        return reply.header('cache-control', 'no-store').send(pair);
      },
    );

    const refreshBody: JsonSchema = {
      type: 'object',
      additionalProperties: false,
      required: ['refresh_token'],
      properties: { refresh_token: { type: 'string', maxLength: 200 }, ...OAUTH_EXTRAS },
    };
    scope.post<{ Body: { refresh_token: string } }>(
      '/api/v1/auth/refresh',
      { schema: { tags, summary: 'A new token pair for a refresh token (which is spent; reuse revokes the session)', security: [], body: refreshBody, response: { 200: TOKEN_PAIR, ...errors } } },
      async (req, reply) => reply.header('cache-control', 'no-store').send(await refreshTokens(req.body.refresh_token, auth.store, auth.tokens, now())),
    );
    scope.post<{ Body: { refresh_token: string } }>(
      '/api/v1/auth/logout',
      { schema: { tags, summary: 'Revoke the session of a refresh token', security: [], body: refreshBody } },
      async (req, reply) => {
        const userId = await revokeRefreshToken(req.body.refresh_token, auth.store, now());
        if (userId !== undefined) {
          const u = await auth.store.getUserById(userId);
          await audit(req, 'logout', u, accountOf(u), null);
        }
        return reply.code(204).send();
      },
    );

    scope.get('/api/v1/auth/me', { schema: { tags, summary: 'Who the bearer is' } }, async (req) => {
      const p = principals.get(req);
      if (p === undefined) throw new AuthError(AuthErrorCode.TOKEN_MISSING, 'no bearer token');
      authorize(p, 'read', 'me');
      return { user_id: p.userId, username: p.username, role: p.role, tenant_ids: p.tenants, read_only: p.readOnly, via: p.via };
    });

    scope.post<{ Body: { description?: string | null; read_only?: boolean; expires_at?: string | null; user_id?: number } }>(
      '/api/v1/auth/api-tokens',
      {
        schema: {
          tags,
          summary: 'Create an API token for scripts; the token is shown once, only its hash is kept',
          body: {
            type: 'object',
            additionalProperties: false,
            properties: {
              description: { type: ['string', 'null'], maxLength: 2000 },
              read_only: { type: 'boolean', default: false },
              expires_at: { type: ['string', 'null'], format: 'date-time' },
              user_id: { type: 'integer', minimum: 1, description: 'Admins may create tokens for another user.' },
            },
          },
          response: { 201: { type: 'object', properties: { id: { type: 'integer' }, token: { type: 'string' }, prefix: { type: 'string' } } }, ...errors },
        },
      },
      async (req, reply) => {
        const p = principals.get(req);
        if (p === undefined) throw new AuthError(AuthErrorCode.TOKEN_MISSING, 'no bearer token');
        const forOther = req.body.user_id !== undefined && req.body.user_id !== p.userId;
        authorize(p, forOther ? 'admin' : 'write', forOther ? 'users' : 'me');
        requireSession(p, 'create API tokens');
        const userId = req.body.user_id ?? p.userId;
        if ((await auth.store.getUserById(userId)) === undefined) {
          throw new InventoryError([issue(InventoryErrorCode.REFERENCE_NOT_FOUND, 'user_id', `no user with id ${userId}`)]);
        }
        let expires: Date | null = null;
        if (typeof req.body.expires_at === 'string') {
          expires = new Date(req.body.expires_at);
          if (Number.isNaN(expires.getTime()) || expires.getTime() <= now().getTime()) {
            return reply.code(422).send({ code: 'API_ERR_VALIDATION', message: 'expires_at must be a future ISO-8601 time', errors: [{ path: 'body.expires_at', message: 'must be in the future' }] });
          }
        }
        // A read-only principal was refused above, so a token never carries more rights than its creator's bearer.
        const readOnly = req.body.read_only === true;
        const { token, record } = await createApiToken(auth.store, userId, { description: req.body.description ?? null, read_only: readOnly, expires_at: expires }, now());
        const row = await inventory?.apiTokens.get(record.id);
        await audit(req, 'create', whoOf(p), { type: 'api_token', id: record.id }, row === undefined ? null : redact(inventory!.apiTokens.def, row as unknown as AnyRow));
        return reply
          .code(201)
          .header('cache-control', 'no-store')
          .send({
            id: record.id,
            token,
            prefix: record.prefix,
            user_id: record.user_id,
            description: record.description,
            read_only: record.read_only,
            expires_at: record.expires_at?.toISOString() ?? null,
            created_at: record.created_at.toISOString(),
          });
      },
    );

    if (inventory !== undefined) {
      const tokensOf = (row: Readonly<Record<string, unknown>>) => ({
        id: row['id'],
        url: `/api/v1/auth/api-tokens/${String(row['id'])}`,
        user_id: row['user_id'],
        prefix: row['prefix'],
        description: row['description'],
        read_only: row['read_only'],
        expires_at: row['expires_at'],
        last_used_at: row['last_used_at'],
        created_at: row['created_at'],
      });
      scope.get<{ Querystring: { user_id?: number; limit?: number; offset?: number } }>(
        '/api/v1/auth/api-tokens',
        {
          schema: {
            tags,
            summary: 'Your API tokens (admins: anyone\'s, with user_id); the secrets are never shown again',
            querystring: {
              type: 'object',
              additionalProperties: false,
              properties: { user_id: { type: 'integer', minimum: 1 }, limit: { type: 'integer', minimum: 0, maximum: 1000, default: 50 }, offset: { type: 'integer', minimum: 0, maximum: MAX_OFFSET, default: 0 } },
            },
          },
        },
        async (req) => {
          const p = principals.get(req);
          if (p === undefined) throw new AuthError(AuthErrorCode.TOKEN_MISSING, 'no bearer token');
          const userId = req.query.user_id ?? p.userId;
          authorize(p, userId === p.userId ? 'read' : 'admin', userId === p.userId ? 'me' : 'users');
          const res = await inventory.apiTokens.list({ filters: [{ field: 'user_id', value: userId }], limit: req.query.limit ?? 50, offset: req.query.offset ?? 0, ordering: ['id'] });
          return { count: res.count, results: res.rows.map((r) => tokensOf(r as unknown as Record<string, unknown>)) };
        },
      );
      scope.delete<{ Params: { id: string } }>(
        '/api/v1/auth/api-tokens/:id',
        { schema: { tags, summary: 'Revoke (delete) an API token', params: { type: 'object', properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' } } } } },
        async (req, reply) => {
          const p = principals.get(req);
          if (p === undefined) throw new AuthError(AuthErrorCode.TOKEN_MISSING, 'no bearer token');
          const id = Number(req.params.id);
          const row = (await inventory.apiTokens.get(id)) as unknown as Record<string, unknown> | undefined;
          const own = row !== undefined && row['user_id'] === p.userId;
          // Someone else's token does not exist for a non-admin, as another tenant's object does not.
          if (row === undefined || (!own && p.role !== 'admin')) throw new InventoryError([issue(InventoryErrorCode.NOT_FOUND, 'id', `no API token with id ${id}`)]);
          authorize(p, own ? 'write' : 'admin', own ? 'me' : 'users');
          await inventory.apiTokens.delete(id, {}, writeContext(req, { user: p.username, userId: p.userId, tenantScope: undefined }));
          return reply.code(204).send();
        },
      );
    }

    /** The caller's own account, for an account-security action (`what`) only a login session may do. */
    const self = async (req: FastifyRequest, what: string) => {
      const p = principals.get(req);
      if (p === undefined) throw new AuthError(AuthErrorCode.TOKEN_MISSING, 'no bearer token');
      authorize(p, 'write', 'me');
      requireSession(p, what);
      const user = await auth.store.getUserById(p.userId);
      if (user === undefined) throw new AuthError(AuthErrorCode.TOKEN_REVOKED, 'the user of this token is gone');
      return user;
    };
    const otpBody: JsonSchema = { type: 'object', additionalProperties: false, required: ['otp'], properties: { otp: { type: 'string', maxLength: 16 } } };

    scope.post('/api/v1/auth/totp/enrol', { schema: { tags, summary: 'Start TOTP enrolment: a new secret and its otpauth:// URI (not enforced until confirmed; with TOTP on, send a current code as otp)' } }, async (req, reply) => {
      const user = await self(req, 'enrol TOTP');
      const body: unknown = req.body;
      const otp = typeof body === 'object' && body !== null && 'otp' in body && typeof body.otp === 'string' ? body.otp : undefined;
      const e = await beginTotpEnrolment(auth.store, user, otp, now());
      await audit(req, 'totp_enrol', user, accountOf(user), { totp_enabled: user.totp_enabled, pending: !user.totp_enabled }, { totp_enabled: user.totp_enabled });
      return reply.header('cache-control', 'no-store').send({ secret: e.secret, otpauth_uri: e.uri });
    });
    scope.post<{ Body: { otp: string } }>(
      '/api/v1/auth/totp/confirm',
      { schema: { tags, summary: 'Confirm TOTP with a code from the app: from now on logins need one', body: otpBody } },
      async (req, reply) => {
        const user = await self(req, 'confirm TOTP');
        if (user.totp_secret === null) throw new AuthError(AuthErrorCode.OTP_NOT_ENROLLED, 'start with POST /api/v1/auth/totp/enrol');
        await confirmTotp(auth.store, user, req.body.otp, now());
        await audit(req, 'totp_confirm', user, accountOf(user), { totp_enabled: true }, { totp_enabled: user.totp_enabled });
        return reply.code(204).send();
      },
    );
    scope.post<{ Body: { otp: string } }>(
      '/api/v1/auth/totp/disable',
      { schema: { tags, summary: 'Turn TOTP off (needs a current code)', body: otpBody } },
      async (req, reply) => {
        const user = await self(req, 'turn TOTP off');
        if (!user.totp_enabled || user.totp_secret === null) throw new AuthError(AuthErrorCode.OTP_NOT_ENROLLED, 'TOTP is not on');
        await verifyTotpCode(auth.store, user, req.body.otp, now());
        await disableTotp(auth.store, user.id);
        await audit(req, 'totp_disable', user, accountOf(user), { totp_enabled: false }, { totp_enabled: true });
        return reply.code(204).send();
      },
    );

    scope.post<{ Body: { current_password: string; new_password: string; otp?: string } }>(
      '/api/v1/auth/password',
      {
        schema: {
          tags,
          summary: 'Change your own password (the current one, and a TOTP code when TOTP is on); every session of yours ends and a new token pair is returned',
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['current_password', 'new_password'],
            // Longer than the policy's 1024 code points, so the policy (422, reason too_long) answers, not the schema.
            properties: { current_password: { type: 'string', maxLength: 1024 }, new_password: { type: 'string', maxLength: 8192 }, otp: { type: 'string', maxLength: 16 } },
          },
          response: { 200: TOKEN_PAIR, ...errors, 422: ERROR_SCHEMA },
        },
      },
      async (req, reply) => {
        const user = await self(req, 'change the password');
        // Each try costs an argon2 run: as many as logins from this address, no more.
        const wait = auth.rateLimiter.take(req.ip, now());
        if (wait > 0) throw new AuthError(AuthErrorCode.RATE_LIMITED, 'too many attempts from this address', { retryAfterSeconds: wait });
        let pair;
        try {
          pair = await changePassword(auth.store, user, { currentPassword: req.body.current_password, newPassword: req.body.new_password, otp: req.body.otp }, now(), {
            hasher: auth.hasher,
            tokens: auth.tokens,
            ...(auth.lockout === undefined ? {} : { lockout: auth.lockout }),
          });
        } catch (e) {
          if (isAuthError(e)) await audit(req, 'password_change', user, accountOf(user), { refused: e.code });
          throw e;
        }
        await audit(req, 'password_change', user, accountOf(user), { sessions_ended: true });
        // The user's event streams end too (their access tokens just did).
        users?.announce([user.id]);
        return reply.header('cache-control', 'no-store').send(pair);
      },
    );

    scope.post<{ Params: { id: string } }>(
      '/api/v1/users/:id/unlock',
      {
        schema: {
          tags: ['users'],
          summary: 'Unlock an account locked by failed logins: clears its failure count and lock (admins; audited)',
          params: ID_PARAMS,
          response: { 204: { type: 'null', description: 'Unlocked.' }, ...errors, 404: ERROR_SCHEMA },
        },
      },
      async (req, reply) => {
        const p = principals.get(req);
        if (p === undefined) throw new AuthError(AuthErrorCode.TOKEN_MISSING, 'no bearer token');
        authorize(p, 'admin', 'users');
        const id = Number(req.params.id);
        const u = await auth.store.getUserById(id);
        if (u === undefined) throw new InventoryError([issue(InventoryErrorCode.NOT_FOUND, 'id', `no user with id ${id}`)]);
        await auth.store.updateLoginState(id, { failed_logins: 0, locked_until: null, last_login: u.last_login });
        const before = { failed_logins: u.failed_logins, locked_until: u.locked_until?.toISOString() ?? null };
        await audit(req, 'unlock', whoOf(p), accountOf(u), { failed_logins: 0, locked_until: null }, before);
        return reply.code(204).send();
      },
    );
  });
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthError, AuthErrorCode } from '../auth/errors.js';
import { login } from '../auth/login.js';
import type { LockoutPolicy } from '../auth/login.js';
import type { PasswordHasher } from '../auth/passwords.js';
import type { LoginRateLimiter } from '../auth/rate-limit.js';
import { authorize, tenantFilter } from '../auth/rbac.js';
import type { AuthStore } from '../auth/store.js';
import { createApiToken, refreshTokens, revokeRefreshToken, verifyBearer } from '../auth/tokens.js';
import type { Principal, TokenConfig } from '../auth/tokens.js';
import { beginTotpEnrolment, confirmTotp, disableTotp, verifyTotpCode } from '../auth/totp.js';
import { InventoryError, InventoryErrorCode, issue } from '../inventory/errors.js';
import type { Inventory } from '../inventory/inventory.js';
import type { Caller, Guard } from './access.js';
import { writeContext } from './access.js';
import { ERROR_SCHEMA } from './resource-schemas.js';
import type { JsonSchema } from './resource-schemas.js';

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
  return { user: p.username, userId: p.userId, tenantScope: tenantFilter(p) };
};

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
 * and TOTP enrolment (`/auth/totp/enrol`, `/confirm`, `/disable`). In their
 * own plugin so the form parser serves these routes only.
 */
export async function registerAuthRoutes(app: FastifyInstance, auth: ApiAuth, inventory?: Inventory): Promise<void> {
  const now = auth.now ?? (() => new Date());
  const tags = ['auth'];
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
        const pair = await login({ username, password, otp }, req.ip, auth.store, now(), {
          hasher: auth.hasher,
          tokens: auth.tokens,
          rateLimiter: auth.rateLimiter,
          ...(auth.lockout === undefined ? {} : { lockout: auth.lockout }),
        });
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
        await revokeRefreshToken(req.body.refresh_token, auth.store, now());
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
        const userId = req.body.user_id ?? p.userId;
        if ((await auth.store.getUserById(userId)) === undefined) {
          throw new AuthError(AuthErrorCode.FORBIDDEN, `no user ${userId}`);
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
              properties: { user_id: { type: 'integer', minimum: 1 }, limit: { type: 'integer', minimum: 0, maximum: 1000, default: 50 }, offset: { type: 'integer', minimum: 0, default: 0 } },
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

    const self = async (req: FastifyRequest, action: 'read' | 'write') => {
      const p = principals.get(req);
      if (p === undefined) throw new AuthError(AuthErrorCode.TOKEN_MISSING, 'no bearer token');
      authorize(p, action, 'me');
      const user = await auth.store.getUserById(p.userId);
      if (user === undefined) throw new AuthError(AuthErrorCode.TOKEN_REVOKED, 'the user of this token is gone');
      return user;
    };
    const otpBody: JsonSchema = { type: 'object', additionalProperties: false, required: ['otp'], properties: { otp: { type: 'string', maxLength: 16 } } };

    scope.post('/api/v1/auth/totp/enrol', { schema: { tags, summary: 'Start TOTP enrolment: a new secret and its otpauth:// URI (not enforced until confirmed; with TOTP on, send a current code as otp)' } }, async (req, reply) => {
      const user = await self(req, 'write');
      const body: unknown = req.body;
      const otp = typeof body === 'object' && body !== null && 'otp' in body && typeof body.otp === 'string' ? body.otp : undefined;
      const e = await beginTotpEnrolment(auth.store, user, otp, now());
      return reply.header('cache-control', 'no-store').send({ secret: e.secret, otpauth_uri: e.uri });
    });
    scope.post<{ Body: { otp: string } }>(
      '/api/v1/auth/totp/confirm',
      { schema: { tags, summary: 'Confirm TOTP with a code from the app: from now on logins need one', body: otpBody } },
      async (req, reply) => {
        const user = await self(req, 'write');
        if (user.totp_secret === null) throw new AuthError(AuthErrorCode.OTP_NOT_ENROLLED, 'start with POST /api/v1/auth/totp/enrol');
        await confirmTotp(auth.store, user, req.body.otp, now());
        return reply.code(204).send();
      },
    );
    scope.post<{ Body: { otp: string } }>(
      '/api/v1/auth/totp/disable',
      { schema: { tags, summary: 'Turn TOTP off (needs a current code)', body: otpBody } },
      async (req, reply) => {
        const user = await self(req, 'write');
        if (!user.totp_enabled || user.totp_secret === null) throw new AuthError(AuthErrorCode.OTP_NOT_ENROLLED, 'TOTP is not on');
        await verifyTotpCode(auth.store, user, req.body.otp, now());
        await disableTotp(auth.store, user.id);
        return reply.code(204).send();
      },
    );
  });
}

import { randomUUID } from 'node:crypto';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { PasswordHasher } from '../auth/passwords.js';
import type { Inventory } from '../inventory/inventory.js';
import type { Caller, Guard } from './access.js';
import { authenticate, bearerGuard, readGuard, registerAuthRoutes } from './auth-routes.js';
import type { ApiAuth } from './auth-routes.js';
import { registerBootRoutes } from './boot-routes.js';
import { registerDashboard } from './dashboard.js';
import type { DhcpPoolSample } from './dashboard.js';
import { registerDocs } from './docs.js';
import { EventHub, bridgeInventory } from './event-hub.js';
import { registerHttpMetrics } from './http-metrics.js';
import { UserChangeFeed, registerWebSocket } from './ws.js';
import { registerUi } from './ui-static.js';
import { ApiErrorCode, errorResponse } from './errors.js';
import { inputPartOf, registerInventoryRoutes, versionFromHeader } from './inventory-routes.js';
import { registerImportRoutes } from './import-routes.js';
import { validatorCompiler } from './validation.js';
import { formatIpv4 } from '../net/ipv4.js';
import type { Lease, LeaseStore } from '../dhcp/lease.js';
import { transferToJson } from '../tftp/transfer-log.js';
import type { TransferRecord } from '../tftp/transfer-log.js';
import { MAX_OFFSET } from '../inventory/query.js';

export interface ApiDeps {
  readonly logger: Logger;
  readonly registry: Registry;
  readonly leases: () => LeaseStore | undefined;
  readonly services: () => Record<string, 'running' | 'disabled' | 'failed'>;
  /** Running TFTP transfers, then finished ones newest first (empty when TFTP is off). */
  readonly tftpTransfers?: () => readonly TransferRecord[];
  readonly version: string;
  /** The inventory to serve under /api/v1 (datacenters, racks, servers, …, audit/logs). */
  readonly inventory?: Inventory;
  /**
   * How requests to the inventory are authenticated. `{ disabled: true }`
   * serves every request as an unscoped anonymous admin: for tests of the
   * routes only; `Dcplane` always passes real auth.
   */
  readonly auth?: ApiAuth | { readonly disabled: true };
  /** Hashes passwords set through `users` (default: production argon2id parameters). */
  readonly passwordHasher?: PasswordHasher;
  /** Largest request body in bytes (default 8 MiB: a bulk import of some thousands of servers). */
  readonly bodyLimit?: number;
  /** Live events for the WebSocket at /api/v1/ws (a private hub when not given: inventory changes only). */
  readonly events?: EventHub;
  /** Pools of the running DHCP service for the dashboard; undefined (or resolving to undefined) when DHCP is off. */
  readonly dhcpPools?: () => Promise<readonly DhcpPoolSample[] | undefined>;
  /** WebSocket heartbeat and per-client buffer limit (tests shorten them). */
  readonly ws?: { readonly heartbeatMs?: number; readonly maxBufferedBytes?: number };
}

export const DEFAULT_BODY_LIMIT = 8 << 20;

const ANONYMOUS: Caller = Object.freeze({ user: null, userId: null, tenantScope: undefined });

/** A client's X-Request-Id is kept when it is a plain token, so its logs and our audit log line up. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** A lease as the API and the CLI show it (snake_case, dotted addresses, ISO times). */
export function leaseToJson(l: Lease): Record<string, unknown> {
  return {
    ip: formatIpv4(l.ip),
    subnet_id: l.subnetId,
    mac: l.mac,
    client_id: l.clientId === '' ? null : l.clientId,
    hostname: l.hostname === '' ? null : l.hostname,
    state: l.state,
    starts: new Date(l.start * 1000).toISOString(),
    expires: new Date(l.expires * 1000).toISOString(),
  };
}

/**
 * The HTTP API: health, Prometheus metrics, DHCP leases, TFTP transfers and,
 * given an inventory, its resources under /api/v1 with NetBox's conventions.
 * Every error is `{code, message, errors: [{path, message}]}`.
 */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const events = deps.events ?? new EventHub();
  const app = Fastify({
    loggerInstance: deps.logger.child({ svc: 'http' }) as FastifyBaseLogger,
    // Requests are counted in http-metrics.ts; one log line per request would drown the DHCP and TFTP logs.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit ?? DEFAULT_BODY_LIMIT,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  registerHttpMetrics(app, deps.registry);
  app.setValidatorCompiler(validatorCompiler);
  // Response schemas document the API (OpenAPI); replies are sent as built, so a schema can never drop a field from one.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // Bodies are JSON (and forms, for the token endpoint): text is a 415, not a string the schema then refuses.
  app.removeContentTypeParser('text/plain');
  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-request-id', req.id);
  });
  app.setErrorHandler((err, req, reply) => {
    const { status, body, headers } = errorResponse(err, inputPartOf(req), versionFromHeader(req));
    if (status >= 500) deps.logger.error({ err, request_id: req.id, url: req.url }, 'http handler failed');
    for (const [k, v] of headers) void reply.header(k, v);
    void reply.status(status).send(body);
  });
  await registerDocs(app, deps.version);
  const auth = deps.auth !== undefined && !('disabled' in deps.auth) ? deps.auth : undefined;
  // Streams of a changed user are checked again at once (ws.ts).
  const users = new UserChangeFeed();
  const stopUsers = deps.inventory === undefined ? undefined : users.follow(deps.inventory);
  app.addHook('onClose', async () => stopUsers?.());
  // Before the other routes: the plugin must see every route to refuse upgrades on the plain ones.
  await registerWebSocket(app, { hub: events, auth, registry: deps.registry, userChanges: users.subscribe, ...deps.ws });
  if (auth !== undefined) {
    authenticate(app, auth);
    await registerAuthRoutes(app, auth, deps.inventory, users);
  }

  // 503 when an enabled service has failed, so load balancers and supervisors take the node out.
  app.get('/api/v1/health', async (_req, reply) => {
    const services = deps.services();
    const failed = Object.values(services).includes('failed');
    void reply.status(failed ? 503 : 200);
    return { status: failed ? 'failed' : 'ok', version: deps.version, services };
  });

  app.get('/api/v1/metrics/prometheus', async (_req, reply) => {
    reply.header('content-type', deps.registry.contentType);
    return deps.registry.metrics();
  });

  app.get<{ Querystring: { subnet_id?: number; state?: string; limit?: number; offset?: number } }>(
    '/api/v1/dhcp/leases',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            subnet_id: { type: 'integer', minimum: 1 },
            state: { type: 'string', enum: ['offered', 'active', 'released', 'expired', 'declined'] },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
            offset: { type: 'integer', minimum: 0, maximum: MAX_OFFSET, default: 0 },
          },
        },
      },
    },
    async (req) => {
      readGuard(req, 'dhcp/leases');
      const store = deps.leases();
      const { subnet_id, state, limit = 50, offset = 0 } = req.query;
      const all = store === undefined ? [] : [...store.all()];
      const rows = all
        .filter((l) => (subnet_id === undefined || l.subnetId === subnet_id) && (state === undefined || l.state === state))
        .sort((a, b) => a.ip - b.ip);
      const page = rows.slice(offset, offset + limit).map(leaseToJson);
      const base = '/api/v1/dhcp/leases';
      const q = (o: number): string => {
        const p = new URLSearchParams();
        if (subnet_id !== undefined) p.set('subnet_id', String(subnet_id));
        if (state !== undefined) p.set('state', state);
        p.set('limit', String(limit));
        p.set('offset', String(o));
        return `${base}?${p.toString()}`;
      };
      return {
        count: rows.length,
        next: offset + limit < rows.length ? q(offset + limit) : null,
        previous: offset > 0 ? q(Math.max(0, offset - limit)) : null,
        results: page,
      };
    },
  );

  app.get<{ Querystring: { state?: string; client?: string; limit?: number; offset?: number } }>(
    '/api/v1/tftp/transfers',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            state: { type: 'string', enum: ['active', 'completed', 'failed', 'refused'] },
            client: { type: 'string', maxLength: 64 },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
            offset: { type: 'integer', minimum: 0, maximum: MAX_OFFSET, default: 0 },
          },
        },
      },
    },
    async (req) => {
      readGuard(req, 'tftp/transfers');
      const { state, client, limit = 50, offset = 0 } = req.query;
      const now = Date.now();
      const rows = (deps.tftpTransfers?.() ?? []).filter((t) => (state === undefined || t.state === state) && (client === undefined || t.clientIp === client));
      const q = (o: number): string => {
        const p = new URLSearchParams();
        if (state !== undefined) p.set('state', state);
        if (client !== undefined) p.set('client', client);
        p.set('limit', String(limit));
        p.set('offset', String(o));
        return `/api/v1/tftp/transfers?${p.toString()}`;
      };
      return {
        count: rows.length,
        next: offset + limit < rows.length ? q(offset + limit) : null,
        previous: offset > 0 ? q(Math.max(0, offset - limit)) : null,
        results: rows.slice(offset, offset + limit).map((t) => transferToJson(t, now)),
      };
    },
  );

  if (deps.inventory !== undefined) {
    let guard: Guard;
    if (auth !== undefined) guard = bearerGuard;
    else if (deps.auth !== undefined && 'disabled' in deps.auth && deps.auth.disabled) guard = () => ANONYMOUS;
    else throw new TypeError('buildApi: an inventory needs auth (or auth: { disabled: true } in tests)');
    registerInventoryRoutes(app, { inventory: deps.inventory, guard, hasher: auth?.hasher ?? deps.passwordHasher ?? new PasswordHasher() });
    await registerImportRoutes(app, { inventory: deps.inventory, guard });
    registerDashboard(app, {
      inventory: deps.inventory,
      guard,
      ...(deps.dhcpPools === undefined ? {} : { dhcpPools: deps.dhcpPools }),
      tftpTransfers: () => (deps.services()['tftp'] === 'running' ? (deps.tftpTransfers?.() ?? []) : undefined),
    });
    registerBootRoutes(app, { inventory: deps.inventory, guard, hub: events, leases: deps.leases, logger: deps.logger, registry: deps.registry });
    const unbridge = bridgeInventory(deps.inventory, events, (err) => deps.logger.error({ err }, 'inventory events not published'));
    app.addHook('onClose', async () => unbridge());
  }

  const ui = await registerUi(app);
  app.setNotFoundHandler((req, reply) => {
    if (ui.fallback(req, reply)) return;
    void reply.status(404).send({ code: ApiErrorCode.NOT_FOUND, message: `no route ${req.method} ${req.url.slice(0, 200)}`, errors: [] });
  });
  return app;
}

export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) };
}

import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { formatIpv4 } from '../net/ipv4.js';
import type { Lease, LeaseStore } from '../dhcp/lease.js';
import { transferToJson } from '../tftp/transfer-log.js';
import type { TransferRecord } from '../tftp/transfer-log.js';

export interface ApiDeps {
  readonly logger: Logger;
  readonly registry: Registry;
  readonly leases: () => LeaseStore | undefined;
  readonly services: () => Record<string, 'running' | 'disabled'>;
  /** Running TFTP transfers, then finished ones newest first (empty when TFTP is off). */
  readonly tftpTransfers?: () => readonly TransferRecord[];
  readonly version: string;
}

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
 * The HTTP API. This first cut carries health, Prometheus metrics and a
 * read-only lease list; the inventory issue grows it (auth, OpenAPI, CRUD).
 */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: deps.logger.child({ svc: 'http' }) as FastifyBaseLogger, disableRequestLogging: true, bodyLimit: 1 << 20 });

  app.get('/api/v1/health', async () => ({ status: 'ok', version: deps.version, services: deps.services() }));

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
            offset: { type: 'integer', minimum: 0, default: 0 },
          },
        },
      },
    },
    async (req) => {
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
            offset: { type: 'integer', minimum: 0, default: 0 },
          },
        },
      },
    },
    async (req) => {
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

  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string; validation?: unknown }, _req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) deps.logger.error({ err }, 'http handler failed');
    void reply.status(status).send({
      code: err.validation !== undefined ? 'API_ERR_VALIDATION' : (err.code ?? 'API_ERR_INTERNAL'),
      message: status === 500 ? 'internal error' : err.message,
      errors: [],
    });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ code: 'API_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url}`, errors: [] });
  });
  return app;
}

export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) };
}

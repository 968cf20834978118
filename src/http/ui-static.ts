import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { can } from '../auth/rbac.js';
import { packageRoot } from '../common/package-root.js';
import { filterable } from '../inventory/query.js';
import { API_RESOURCES, hiddenFields } from './api-resources.js';
import { principalOf } from './auth-routes.js';

/** Where `npm run build:ui` (vite, ui/vite.config.ts) writes the single-page app: `<package>/dist/ui`. */
export function defaultUiRoot(): string {
  return join(packageRoot(), 'dist', 'ui');
}

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dcplane: web UI not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem;color:#1b2430}code{background:#eef1f5;padding:.1rem .3rem;border-radius:3px}</style>
</head><body>
<h1>The web UI has not been built</h1>
<p>This dcplane is running, but the directory it serves the web UI from holds no <code>index.html</code>.</p>
<p>Build it from the project directory with <code>npm run build:ui</code> (<code>npm install</code> and <code>npm ci</code> build it too), then reload this page. No restart is needed.</p>
<p>The API answers meanwhile: <a href="/api/v1/health">/api/v1/health</a>, documentation at <a href="/api/docs">/api/docs</a>.</p>
</body></html>
`;

export interface UiHandle {
  /** For the API's not-found handler: answers a browser's GET of a client route with the app; false when it is not one. */
  fallback(req: FastifyRequest, reply: FastifyReply): boolean;
}

/**
 * The web UI at `/`: hashed files under `/assets/` cached for a year as
 * immutable (their names change with their content), `index.html` with
 * `no-cache` so a new build is picked up on the next load, and the app's
 * client routes (`/servers/12`) answered with `index.html` by the API's
 * not-found handler. That fallback never answers under `/api/`, so an
 * unknown API path stays a JSON 404 behind the bearer check. Without a
 * build, pages say how to build one.
 *
 * Also `GET /api/v1/meta/resources`: the inventory's fields as the UI's
 * forms, filters and tables need them (kind, required, enum, range,
 * reference) and what the caller may read and write, derived from the same
 * definitions as the API so the UI cannot drift from it.
 */
export async function registerUi(app: FastifyInstance, root: string = defaultUiRoot()): Promise<UiHandle> {
  const assets = join(root, 'assets');
  await app.register(fastifyStatic, {
    root: assets,
    prefix: '/assets/',
    decorateReply: false,
    index: false,
    cacheControl: true,
    maxAge: '365d',
    immutable: true,
  });

  const sendIndex = async (reply: FastifyReply): Promise<FastifyReply> => {
    let html: string;
    try {
      html = await readFile(join(root, 'index.html'), 'utf8');
    } catch {
      return reply.code(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
    }
    return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(html);
  };

  app.get('/', { schema: { hide: true } }, async (_req, reply) => sendIndex(reply));
  for (const file of ['favicon.svg']) {
    app.get(`/${file}`, { schema: { hide: true } }, async (_req, reply) => {
      try {
        const body = await readFile(join(root, file));
        return reply.header('cache-control', 'public, max-age=86400').type('image/svg+xml').send(body);
      } catch {
        return reply.callNotFound();
      }
    });
  }

  app.get('/api/v1/meta/resources', { schema: { tags: ['meta'], summary: 'Inventory fields for forms and filters, and what the caller may read and write' } }, async (req) => {
    const p = principalOf(req);
    // No principal only with auth disabled (route tests): the anonymous admin.
    const may = (action: 'read' | 'write', rbac: string): boolean => p === undefined || can(p, action, rbac);
    const byTable = new Map(API_RESOURCES.map((r) => [r.table, r.path]));
    return {
      resources: API_RESOURCES.map((r) => {
        const hidden = hiddenFields(r);
        return {
          path: r.path,
          object_type: r.def.objectType,
          readable: may('read', r.rbac) && (r.adminOnly !== true || p === undefined || p.role === 'admin'),
          writable: may('write', r.rbac),
          default_ordering: r.def.defaultOrdering ?? [],
          fields: Object.entries(r.def.fields)
            .filter(([name]) => !hidden.has(name))
            .map(([name, f]) => ({
              name,
              kind: f.kind,
              required: f.required === true,
              nullable: f.nullable === true,
              read_only: r.readOnly.has(name),
              filterable: filterable(f),
              search: f.search === true,
              ...(f.enum === undefined ? {} : { enum: f.enum }),
              ...(f.min === undefined ? {} : { min: f.min }),
              ...(f.max === undefined ? {} : { max: f.max }),
              ...(f.maxLength === undefined ? {} : { max_length: f.maxLength }),
              ...(f.format === undefined ? {} : { format: f.format }),
              ...(f.items === undefined ? {} : { items: f.items }),
              ...(f.default === undefined ? {} : { default: f.default }),
              ...(f.ref === undefined ? {} : { ref: byTable.get(f.ref) ?? f.ref }),
            })),
          write_only: [...r.virtualInputs.keys()],
        };
      }),
    };
  });

  return {
    fallback(req, reply) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      // Only a browser navigating to a page gets the app: scripts, curl and API clients asking for an unknown
      // path (Accept without text/html) get the JSON 404 they can act on.
      if (!String(req.headers.accept ?? '').includes('text/html')) return false;
      const path = req.url.split('?')[0] ?? '';
      // API paths (however many leading slashes), odd paths and files that were not found (a dot in the last
      // segment) stay 404s.
      const squeezed = path.replace(/\/{2,}/g, '/');
      if (squeezed !== path || path.includes('%') || squeezed === '/api' || squeezed.startsWith('/api/') || squeezed.startsWith('/assets/') || /\.[A-Za-z0-9]+$/.test(path)) return false;
      void sendIndex(reply);
      return true;
    },
  };
}

/**
 * Serving the web UI (src/http/ui-static.ts) from a directory laid out as
 * `npm run build:ui` lays out dist/ui, and from one with no build in it.
 */
import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { registerUi } from '../../src/http/ui-static.js';


/** What a browser sends when it navigates to a page. */
const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
/** A server wired as buildApi wires it: an API route, the UI, and the API's JSON 404 behind the UI's fallback. */
async function serve(root: string): Promise<FastifyInstance> {
  const app = Fastify();
  app.get('/api/v1/health', async () => ({ status: 'ok' }));
  const ui = await registerUi(app, root);
  app.setNotFoundHandler((req, reply) => {
    if (ui.fallback(req, reply)) return;
    void reply.status(404).send({ code: 'API_ERR_NOT_FOUND', message: 'no route', errors: [] });
  });
  await app.ready();
  return app;
}

describe('web UI static serving', () => {
  let dir: string;
  let built: FastifyInstance;
  let empty: FastifyInstance;
  const INDEX = '<!doctype html><html><body><div id="root"></div><script type="module" src="/assets/index-Ab12Cd34.js"></script></body></html>';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dcplane-ui-static-'));
    mkdirSync(join(dir, 'ui', 'assets'), { recursive: true });
    writeFileSync(join(dir, 'ui', 'index.html'), INDEX);
    writeFileSync(join(dir, 'ui', 'assets', 'index-Ab12Cd34.js'), 'console.log(1)');
    built = await serve(join(dir, 'ui'));
    empty = await serve(join(dir, 'nothing-here'));
  });
  after(async () => {
    await built.close();
    await empty.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at / and for client routes, never cached without revalidation', async () => {
    for (const url of ['/', '/servers', '/servers/12/edit', '/racks?q=r01']) {
      const r = await built.inject({ url, headers: { accept: HTML } });
      assert.equal(r.statusCode, 200, url);
      assert.equal(r.headers['cache-control'], 'no-cache', url);
      assert.match(String(r.headers['content-type']), /^text\/html/);
      assert.equal(r.body, INDEX);
    }
  });

  it('serves hashed assets as immutable for a year', async () => {
    const r = await built.inject({ url: '/assets/index-Ab12Cd34.js' });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(r.body, 'console.log(1)');
  });

  it('never answers API paths, missing assets, files or non-GET requests with the app', async () => {
    for (const [method, url] of [
      ['GET', '/api/v1/no-such-thing'],
      ['GET', '/api'],
      ['GET', '/api/docs/nope'],
      ['GET', '/assets/index-gone.js'],
      ['GET', '/robots.txt'],
      ['POST', '/servers'],
      ['DELETE', '/'],
      ['GET', '//api/v1/servers'],
      ['GET', '/%61pi/v1/servers'],
    ] as const) {
      const r = await built.inject({ method, url, headers: { accept: HTML } });
      assert.equal(r.statusCode, 404, `${method} ${url}`);
      assert.equal(r.json<{ code: string }>().code, 'API_ERR_NOT_FOUND', `${method} ${url}`);
    }
    assert.equal((await built.inject({ url: '/api/v1/health' })).json<{ status: string }>().status, 'ok');
  });

  it('answers a client route with the JSON 404 when the caller is not a browser asking for a page', async () => {
    for (const headers of [{}, { accept: 'application/json' }, { accept: '*/*' }]) {
      const r = await built.inject({ url: '/servers/12', headers });
      assert.equal(r.statusCode, 404, JSON.stringify(headers));
      assert.equal(r.json<{ code: string }>().code, 'API_ERR_NOT_FOUND');
    }
  });

  it('says how to build the UI when it is not built, and the API still answers', async () => {
    for (const url of ['/', '/servers/3']) {
      const r = await empty.inject({ url, headers: { accept: HTML } });
      assert.equal(r.statusCode, 503, url);
      assert.match(String(r.headers['content-type']), /^text\/html/);
      assert.match(r.body, /npm run build:ui/);
      assert.equal(r.headers['cache-control'], 'no-store');
    }
    assert.equal((await empty.inject({ url: '/api/v1/health' })).statusCode, 200);
    assert.equal((await empty.inject({ url: '/api/v1/other' })).statusCode, 404);
  });
});

/**
 * The OpenAPI document generated from the route schemas, and Swagger UI
 * served from the package's own assets.
 */
import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openDatabase } from '../../src/db/open-database.js';
import type { Database } from '../../src/db/database.js';
import { buildApi } from '../../src/http/api.js';
import { API_RESOURCES } from '../../src/http/api-resources.js';
import { openInventory } from '../../src/inventory/inventory.js';
import { baseDeps, call } from './harness.js';

type Json = Record<string, unknown>;

describe('OpenAPI document and Swagger UI', () => {
  let app: FastifyInstance;
  let db: Database;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dcplane-docs-'));
    db = await openDatabase('sqlite', dir);
    app = await buildApi({ ...baseDeps(), inventory: openInventory(db), auth: { disabled: true } });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every resource with its methods, body schemas from the fields, and the error shape', async () => {
    const r = await call(app, 'GET', '/api/docs/json');
    assert.equal(r.status, 200);
    const doc = r.body as { openapi: string; paths: Record<string, Record<string, Json>> };
    assert.equal(doc.openapi, '3.1.0');
    for (const res of API_RESOURCES) {
      const col = doc.paths[`/api/v1/${res.path}`];
      const one = doc.paths[`/api/v1/${res.path}/{id}`];
      assert.ok(col !== undefined && one !== undefined, res.path);
      assert.deepEqual(Object.keys(col).sort(), ['delete', 'get', 'patch', 'post', 'put'], res.path);
      assert.deepEqual(Object.keys(one).sort(), ['delete', 'get', 'patch', 'put'], res.path);
    }
    for (const p of ['/api/v1/audit/logs', '/api/v1/audit/logs/{id}', '/api/v1/health', '/api/v1/dhcp/leases', '/api/v1/tftp/transfers']) assert.ok(doc.paths[p], p);
    assert.equal(doc.paths['/api/v1/audit/logs']?.['post'], undefined, 'the audit log is read-only');

    const post = doc.paths['/api/v1/servers']?.['post'] as { requestBody: { content: Record<string, { schema: { oneOf: Json[] } }> }; responses: Record<string, Json> };
    const single = post.requestBody.content['application/json']?.schema.oneOf[0] as { additionalProperties: boolean; properties: Record<string, Json> };
    assert.equal(single.additionalProperties, false);
    assert.deepEqual(single.properties['u_position']?.['type'], ['integer', 'null']);
    assert.ok(single.properties['serial_number'], 'aliases are documented');
    assert.ok(post.responses['201'] && post.responses['409'] && post.responses['422']);
    const users = doc.paths['/api/v1/users']?.['post'] as { requestBody: { content: Record<string, { schema: { oneOf: Array<{ properties: Json }> } }> } };
    const userProps = users.requestBody.content['application/json']?.schema.oneOf[0]?.properties ?? {};
    assert.ok('password' in userProps && !('password_hash' in userProps) && !('totp_secret' in userProps), 'secrets are not inputs; password is');
    const list = doc.paths['/api/v1/racks']?.['get'] as { parameters: Array<{ name: string; in: string }> };
    assert.deepEqual(list.parameters.filter((p) => p.in === 'query').map((p) => p.name).sort(), ['brief', 'cursor', 'limit', 'offset', 'ordering', 'q']);
  });

  it('serves Swagger UI from its own assets, with no CDN', async () => {
    const page = await app.inject({ method: 'GET', url: '/api/docs/' });
    const html = page.statusCode === 302 ? await app.inject({ method: 'GET', url: String(page.headers.location) }) : page;
    assert.equal(html.statusCode, 200);
    assert.match(String(html.headers['content-type']), /text\/html/);
    assert.doesNotMatch(html.body, /https?:\/\/(?!localhost)[^"']*\.(js|css)/, 'no remote scripts or styles');
    const bundle = await app.inject({ method: 'GET', url: '/api/docs/static/swagger-ui-bundle.js' });
    assert.equal(bundle.statusCode, 200);
    assert.ok(bundle.body.length > 100_000);
  });
});

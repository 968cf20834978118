/**
 * Bulk writes (all or nothing, every bad row reported by index) and
 * optimistic concurrency with ETag / If-Match, through the HTTP stack on
 * SQLite and PostgreSQL.
 */
import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import { call, describeApi, uniq } from './harness.js';

type Body = Record<string, unknown>;

describeApi('bulk writes and ETags over HTTP', (env) => {
  it('bulk create is all or nothing and reports every bad row by index', async () => {
    const { app } = env();
    const tag = uniq('bulk');
    const serial = uniq('SN');
    const bad = await call(app, 'POST', '/api/v1/servers', [
      { name: `${tag}-0`, serial, description: tag },
      { name: `${tag}-1`, description: tag, cpu_cores: -1 },
      { name: `${tag}-2`, serial, description: tag },
      { description: tag },
    ]);
    assert.equal(bad.status, 409, bad.raw);
    assert.equal(bad.body.code, 'INVENTORY_ERR_MULTIPLE');
    const got = bad.body.errors.map((e: Body) => `${String(e['path'])} ${String(e['code'])}`).sort();
    assert.deepEqual(got, [
      'body[1].cpu_cores INVENTORY_ERR_INVALID_VALUE',
      'body[2].serial INVENTORY_ERR_DUPLICATE_SERIAL',
      'body[3].name INVENTORY_ERR_REQUIRED',
    ]);
    const none = await call(app, 'GET', `/api/v1/servers?description=${tag}`);
    assert.equal(none.body.count, 0, 'nothing of a refused batch is stored');

    const ok = await call(app, 'POST', '/api/v1/servers', [0, 1, 2].map((i) => ({ name: `${tag}-${i}`, description: tag })));
    assert.equal(ok.status, 201);
    assert.equal(ok.body.length, 3);
    assert.deepEqual(ok.body.map((s: Body) => s['version']), [1, 1, 1]);
    const audit = await call(app, 'GET', `/api/v1/audit/logs?object_type=server&action=create&request_id=${String(ok.headers['x-request-id'])}`);
    assert.equal(audit.body.count, 3, 'one audit entry per created row, under the request id');
  });

  it('bulk PATCH and PUT update many by id, all or nothing, with versions per row', async () => {
    const { app } = env();
    const tag = uniq('bp');
    const made = await call(app, 'POST', '/api/v1/vms', [0, 1, 2].map((i) => ({ name: `${tag}-${i}`, vcpus: 1, ram_gb: 1, description: tag })));
    const ids = made.body.map((v: Body) => v['id'] as number);
    const patched = await call(app, 'PATCH', '/api/v1/vms', ids.map((id: number) => ({ id, status: 'running' })));
    assert.equal(patched.status, 200, patched.raw);
    assert.deepEqual(patched.body.map((v: Body) => [v['status'], v['version']]), [['running', 2], ['running', 2], ['running', 2]]);

    const stale = await call(app, 'PATCH', '/api/v1/vms', [
      { id: ids[0], version: 2, vcpus: 4 },
      { id: ids[1], version: 1, vcpus: 4 },
    ]);
    assert.equal(stale.status, 412);
    assert.equal(stale.body.code, 'API_ERR_PRECONDITION_FAILED');
    assert.deepEqual(stale.body.errors.map((e: Body) => [e['path'], e['code']]), [['body[1].version', 'INVENTORY_ERR_VERSION_CONFLICT']]);
    const first = await call(app, 'GET', `/api/v1/vms/${String(ids[0])}`);
    assert.equal(first.body.vcpus, 1, 'the good row of a refused batch is not written');

    const missingId = await call(app, 'PATCH', '/api/v1/vms', [{ status: 'stopped' }]);
    assert.equal(missingId.status, 400);
    assert.deepEqual(missingId.body.errors.map((e: Body) => e['path']), ['body[0].id']);
    const unknown = await call(app, 'PATCH', '/api/v1/vms', [{ id: 99999999, status: 'stopped' }]);
    assert.equal(unknown.status, 404);

    const put = await call(app, 'PUT', '/api/v1/vms', [{ id: ids[2], name: `${tag}-2`, vcpus: 2, ram_gb: 2 }]);
    assert.equal(put.status, 200, put.raw);
    assert.equal(put.body[0].description, null, 'PUT resets what it leaves out');
    assert.equal(put.body[0].status, 'planned');
  });

  it('bulk DELETE takes ids or {id, version}, all or nothing; cascade reaches dependents', async () => {
    const { app } = env();
    const tag = uniq('bd');
    const made = await call(app, 'POST', '/api/v1/tenants', [0, 1, 2].map((i) => ({ name: `${tag}-${i}`, slug: `${tag}-${i}`.toLowerCase(), description: tag })));
    const ids = made.body.map((t: Body) => t['id'] as number);
    const refused = await call(app, 'DELETE', '/api/v1/tenants', [ids[0], { id: ids[1], version: 7 }, 99999999]);
    assert.equal(refused.status, 404, refused.raw);
    assert.deepEqual(
      refused.body.errors.map((e: Body) => `${String(e['path'])} ${String(e['code'])}`).sort(),
      ['body[1].version INVENTORY_ERR_VERSION_CONFLICT', 'body[2].id INVENTORY_ERR_NOT_FOUND'],
    );
    assert.equal((await call(app, 'GET', `/api/v1/tenants?description=${tag}`)).body.count, 3);
    const ok = await call(app, 'DELETE', '/api/v1/tenants', [ids[0], { id: ids[1], version: 1 }]);
    assert.equal(ok.status, 204, ok.raw);
    assert.equal((await call(app, 'GET', `/api/v1/tenants?description=${tag}`)).body.count, 1);

    const dc = await call(app, 'POST', '/api/v1/datacenters', { name: uniq('DC'), code: uniq('dc').toLowerCase() });
    const racks = await call(app, 'POST', '/api/v1/racks', [0, 1].map((i) => ({ datacenter_id: dc.body.id, name: `${tag}-${i}` })));
    await call(app, 'POST', '/api/v1/servers', { name: uniq('s'), rack_id: racks.body[0].id });
    const rackIds = racks.body.map((r: Body) => r['id']);
    const restrict = await call(app, 'DELETE', '/api/v1/racks', rackIds);
    assert.equal(restrict.status, 409);
    assert.equal(restrict.body.code, 'INVENTORY_ERR_HAS_DEPENDENTS');
    const cascade = await call(app, 'DELETE', '/api/v1/racks?cascade=true', rackIds);
    assert.equal(cascade.status, 204);
    for (const bad of [[], ['x'], [0], [{ version: 1 }], { id: 1 }]) {
      const r = await call(app, 'DELETE', '/api/v1/racks', bad);
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.equal(r.body.code, 'API_ERR_VALIDATION');
    }
  });

  it('ETag tracks the version; If-Match refuses a lost update with 412; If-None-Match answers 304', async () => {
    const { app } = env();
    const made = await call(app, 'POST', '/api/v1/datacenters', { name: uniq('DC'), code: uniq('dc').toLowerCase() });
    const url = String(made.body.url);
    const etag = String(made.headers.etag);
    assert.equal(etag, 'W/"1"');

    // Two clients read version 1; the first write wins, the second is told it lost.
    const a = await call(app, 'PATCH', url, { location: 'A' }, { 'if-match': etag });
    assert.equal(a.status, 200);
    assert.equal(a.headers.etag, 'W/"2"');
    const b = await call(app, 'PATCH', url, { location: 'B' }, { 'if-match': etag });
    assert.equal(b.status, 412);
    assert.deepEqual(b.body, {
      code: 'API_ERR_PRECONDITION_FAILED',
      message: b.body.message,
      errors: [{ path: 'headers.if-match', message: b.body.errors[0].message, code: 'INVENTORY_ERR_VERSION_CONFLICT' }],
    });
    assert.equal((await call(app, 'GET', url)).body.location, 'A', 'the lost update did not land');

    // Strong form, lists, and * are understood too.
    assert.equal((await call(app, 'PATCH', url, { location: 'C' }, { 'if-match': '"2"' })).status, 200);
    assert.equal((await call(app, 'PATCH', url, { location: 'D' }, { 'if-match': 'W/"1", W/"3"' })).status, 200);
    assert.equal((await call(app, 'PATCH', url, { location: 'E' }, { 'if-match': 'W/"1", W/"2"' })).status, 412);
    assert.equal((await call(app, 'PATCH', url, { location: 'F' }, { 'if-match': '*' })).status, 200);
    assert.equal((await call(app, 'PATCH', url, { location: 'G' }, { 'if-match': 'W/"abc"' })).status, 412);
    const garbage = await call(app, 'PATCH', url, { location: 'H' }, { 'if-match': 'version five' });
    assert.equal(garbage.status, 400);
    assert.equal(garbage.body.code, 'API_ERR_BAD_HEADER');
    assert.deepEqual(garbage.body.errors.map((e: Body) => e['path']), ['headers.if-match']);

    const current = await call(app, 'GET', url);
    assert.equal(current.headers.etag, 'W/"5"');
    const notModified = await call(app, 'GET', url, undefined, { 'if-none-match': 'W/"5"' });
    assert.equal(notModified.status, 304);
    assert.equal((await call(app, 'GET', url, undefined, { 'if-none-match': 'W/"4"' })).status, 200);

    // A version in the body counts as If-Match.
    const bodyVersion = await call(app, 'PATCH', url, { location: 'I', version: 4 });
    assert.equal(bodyVersion.status, 412);
    assert.equal(bodyVersion.body.errors[0].path, 'body.version');

    const staleDelete = await call(app, 'DELETE', url, undefined, { 'if-match': 'W/"4"' });
    assert.equal(staleDelete.status, 412);
    assert.equal(staleDelete.body.code, 'API_ERR_PRECONDITION_FAILED');
    const del = await call(app, 'DELETE', url, undefined, { 'if-match': 'W/"5"' });
    assert.equal(del.status, 204);
  });

  it('a PUT of an unchanged object keeps its version and ETag', async () => {
    const { app } = env();
    const made = await call(app, 'POST', '/api/v1/tenants', { name: uniq('T'), slug: uniq('t').toLowerCase() });
    const same = await call(app, 'PUT', String(made.body.url), { name: made.body.name, slug: made.body.slug }, { 'if-match': String(made.headers.etag) });
    assert.equal(same.status, 200);
    assert.equal(same.headers.etag, 'W/"1"');
  });
});

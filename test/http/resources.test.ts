/**
 * Every inventory resource through the HTTP stack, on SQLite and PostgreSQL:
 * create, get, list, PATCH, PUT, DELETE, with the NetBox list envelope, and
 * the inventory's refusals as {code, message, errors[{path}]} with their
 * statuses.
 */
import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { FastifyInstance } from 'fastify';
import { call, describeApi, uniq } from './harness.js';

type Body = Record<string, unknown>;

interface Case {
  readonly path: string;
  /** A valid new object (prerequisites created on the way). */
  create(): Body;
  /** A field to change and its new value, as the API returns it. */
  readonly patch: readonly [string, unknown];
  /** What PUT must be given (the required fields). */
  put(created: Body): Body;
}

async function post(app: FastifyInstance, path: string, body: Body): Promise<Body> {
  const r = await call(app, 'POST', `/api/v1/${path}`, body);
  assert.equal(r.status, 201, `POST ${path}: ${r.raw}`);
  return r.body as Body;
}

/** The resources in dependency order, each with a valid body built on objects made by the ones before. */
async function cases(app: FastifyInstance): Promise<Case[]> {
  const dc = await post(app, 'datacenters', { name: uniq('DC'), code: uniq('dc').toLowerCase() });
  const rack = await post(app, 'racks', { datacenter_id: dc['id'], name: uniq('R') });
  const server = await post(app, 'servers', { name: uniq('host'), rack_id: rack['id'], u_position: 1 });
  const server2 = await post(app, 'servers', { name: uniq('host') });
  const device = await post(app, 'network/devices', { name: uniq('sw'), role: 'access_switch' });
  const vm = await post(app, 'vms', { name: uniq('vm'), vcpus: 1, ram_gb: 1 });
  const subnetId = 100 + Math.floor(Math.random() * 100000);
  const subnet = await post(app, 'dhcp/subnets', { id: subnetId, subnet: `10.${subnetId % 200}.0.0/16` });
  let n = 0;
  const mac = () => `52:54:00:aa:${(++n).toString(16).padStart(2, '0')}:${(n * 7 % 256).toString(16).padStart(2, '0')}`;
  return [
    { path: 'tenants', create: () => ({ name: uniq('T'), slug: uniq('t').toLowerCase() }), patch: ['description', 'changed'], put: (c) => ({ name: c['name'], slug: c['slug'] }) },
    { path: 'datacenters', create: () => ({ name: uniq('DC'), code: uniq('dc').toLowerCase(), tier: 'Tier 3' }), patch: ['tier', 4], put: (c) => ({ name: c['name'], code: c['code'] }) },
    { path: 'racks', create: () => ({ datacenter_id: dc['id'], name: uniq('R'), u_capacity: 48 }), patch: ['u_height', 44], put: (c) => ({ datacenter_id: c['datacenter_id'], name: c['name'] }) },
    { path: 'servers', create: () => ({ name: uniq('srv'), serial_number: uniq('SN'), status: 'Active' }), patch: ['status', 'maintenance'], put: (c) => ({ name: c['name'] }) },
    { path: 'server-interfaces', create: () => ({ server_id: server['id'], name: uniq('eth'), mac: mac().toUpperCase() }), patch: ['is_primary', true], put: (c) => ({ server_id: c['server_id'], name: c['name'] }) },
    { path: 'storage', create: () => ({ name: uniq('st'), type: 'nas', datacenter_id: dc['id'], raid_level: 5 }), patch: ['capacity_tb', 12.5], put: (c) => ({ name: c['name'], type: 'san', datacenter_id: dc['id'] }) },
    { path: 'network/devices', create: () => ({ name: uniq('rt'), role: 'router', management_ip: '10.0.0.1' }), patch: ['port_count', 48], put: (c) => ({ name: c['name'], role: 'firewall' }) },
    {
      path: 'network/links',
      create: () => ({ a_type: 'server', a_id: server2['id'], a_interface: uniq('eth'), b_type: 'network_device', b_id: device['id'], b_interface: uniq('ge') }),
      patch: ['speed_gbps', 25],
      put: (c) => ({ a_type: c['a_type'], a_id: c['a_id'], a_interface: c['a_interface'], b_type: c['b_type'], b_id: c['b_id'], b_interface: c['b_interface'] }),
    },
    { path: 'vms', create: () => ({ name: uniq('vm'), cpu_cores: 2, ram_gb: 4 }), patch: ['status', 'running'], put: (c) => ({ name: c['name'], vcpus: 1, ram_gb: 2 }) },
    { path: 'containers', create: () => ({ name: uniq('ct'), image: 'nginx:1', vm_id: vm['id'] }), patch: ['status', 'running'], put: (c) => ({ name: c['name'], image: 'nginx:2', vm_id: vm['id'] }) },
    { path: 'users', create: () => ({ username: uniq('user'), password: 'a long enough passphrase', role: 'operator' }), patch: ['role', 'viewer'], put: (c) => ({ username: c['username'], email: 'ops@example.com' }) },
    {
      path: 'dhcp/subnets',
      create: () => {
        const id = 1000 + Math.floor(Math.random() * 1_000_000);
        return { id, subnet: `172.${16 + (id % 16)}.${id % 256}.0/24` };
      },
      patch: ['description', 'lab'],
      put: (c) => ({ subnet: c['subnet'] }),
    },
    { path: 'dhcp/reservations', create: () => ({ subnet_id: subnet['id'], mac: mac(), ip: `10.${subnetId % 200}.1.${++n}` }), patch: ['hostname', 'node-x'], put: (c) => ({ subnet_id: c['subnet_id'], mac: c['mac'] }) },
  ];
}

describeApi('inventory resources over HTTP', (env) => {
  it('create, get, list, PATCH, PUT and DELETE work on every resource', async () => {
    const { app } = env();
    for (const c of await cases(app)) {
      const base = `/api/v1/${c.path}`;
      const created = await call(app, 'POST', base, c.create());
      assert.equal(created.status, 201, `${c.path} create: ${created.raw}`);
      const id = created.body.id as number;
      assert.equal(created.headers.etag, 'W/"1"', c.path);
      assert.equal(created.headers.location, `${base}/${id}`);
      assert.equal(created.body.url, `${base}/${id}`);
      assert.equal(typeof created.body.display, 'string');
      assert.ok(!('password_hash' in created.body) && !('totp_secret' in created.body), `${c.path}: secrets never shown`);

      const got = await call(app, 'GET', `${base}/${id}`);
      assert.equal(got.status, 200, c.path);
      assert.deepEqual(got.body, created.body, `${c.path}: GET returns what POST returned`);
      assert.equal(got.headers.etag, 'W/"1"');

      const list = await call(app, 'GET', `${base}?id=${id}`);
      assert.equal(list.status, 200, `${c.path} list: ${list.raw}`);
      assert.deepEqual(Object.keys(list.body), ['count', 'next', 'previous', 'results']);
      assert.equal(list.body.count, 1);
      assert.deepEqual(list.body.results[0], created.body);

      const [field, value] = c.patch;
      const patched = await call(app, 'PATCH', `${base}/${id}`, { [field]: value });
      assert.equal(patched.status, 200, `${c.path} patch: ${patched.raw}`);
      assert.equal(patched.body[field], value, c.path);
      assert.equal(patched.body.version, 2);
      assert.equal(patched.headers.etag, 'W/"2"');

      const put = await call(app, 'PUT', `${base}/${id}`, c.put(patched.body as Body));
      assert.equal(put.status, 200, `${c.path} put: ${put.raw}`);
      assert.equal(put.body.version, 3, `${c.path}: PUT writes`);

      const del = await call(app, 'DELETE', `${base}/${id}`);
      assert.equal(del.status, 204, `${c.path} delete: ${del.raw}`);
      assert.equal(del.raw, '');
      const gone = await call(app, 'GET', `${base}/${id}`);
      assert.equal(gone.status, 404, c.path);
      assert.equal(gone.body.code, 'INVENTORY_ERR_NOT_FOUND');
    }
  });

  it('PUT puts what the body leaves out back to its default, and needs the required fields', async () => {
    const { app } = env();
    const dc = await post(app, 'datacenters', { name: uniq('DC'), code: uniq('dc').toLowerCase(), location: 'Paris', tier: 2 });
    const put = await call(app, 'PUT', `/api/v1/datacenters/${String(dc['id'])}`, { name: dc['name'], code: dc['code'] });
    assert.equal(put.status, 200, put.raw);
    assert.equal(put.body.location, null);
    assert.equal(put.body.tier, null);
    assert.equal(put.body.status, 'active');
    const missing = await call(app, 'PUT', `/api/v1/datacenters/${String(dc['id'])}`, { name: dc['name'] });
    assert.equal(missing.status, 422);
    assert.equal(missing.body.code, 'INVENTORY_ERR_REQUIRED');
    assert.deepEqual(missing.body.errors.map((e: { path: string }) => e.path), ['body.code']);
  });

  it('lists page with limit/offset and link to the next and previous pages', async () => {
    const { app } = env();
    const tag = uniq('page');
    const created = await call(
      app,
      'POST',
      '/api/v1/tenants',
      Array.from({ length: 7 }, (_, i) => ({ name: `${tag}-${i}`, slug: `${tag}-${i}`.toLowerCase(), description: tag })),
    );
    assert.equal(created.status, 201, created.raw);
    const first = await call(app, 'GET', `/api/v1/tenants?description=${tag}&limit=3`);
    assert.equal(first.body.count, 7);
    assert.deepEqual(first.body.results.map((t: Body) => t['name']), [0, 1, 2].map((i) => `${tag}-${i}`));
    assert.equal(first.body.previous, null);
    assert.equal(first.body.next, `/api/v1/tenants?description=${tag}&limit=3&offset=3`);
    const last = await call(app, 'GET', `/api/v1/tenants?description=${tag}&limit=3&offset=6`);
    assert.deepEqual(last.body.results.map((t: Body) => t['name']), [`${tag}-6`]);
    assert.equal(last.body.next, null);
    assert.equal(last.body.previous, `/api/v1/tenants?description=${tag}&limit=3&offset=3`);
    const countOnly = await call(app, 'GET', `/api/v1/tenants?description=${tag}&limit=0`);
    assert.equal(countOnly.body.count, 7);
    assert.deepEqual(countOnly.body.results, []);
    const defaults = await call(app, 'GET', `/api/v1/tenants?description=${tag}`);
    assert.equal(defaults.body.results.length, 7, 'default limit 50 covers them');
    for (const bad of ['limit=1001', 'limit=-1', 'offset=-5', 'limit=abc']) {
      const r = await call(app, 'GET', `/api/v1/tenants?${bad}`);
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.code, 'API_ERR_VALIDATION');
      assert.equal(r.body.errors[0].path, `query.${bad.split('=')[0]}`);
    }
  });

  it('filters with lookups, repeated values, ordering, q and brief', async () => {
    const { app } = env();
    const tag = uniq('flt').toLowerCase();
    const mk = (name: string, cores: number, status: string, vendor: string | null) => ({ name: `${tag}-${name}`, cpu_cores: cores, status, vendor, description: tag });
    const r = await call(app, 'POST', '/api/v1/servers', [mk('alpha', 8, 'active', 'Dell'), mk('beta', 16, 'planned', 'HPE'), mk('gamma', 32, 'active', null), mk('delta', 64, 'maintenance', 'Dell')]);
    assert.equal(r.status, 201, r.raw);
    const names = async (q: string): Promise<string[]> => {
      const res = await call(app, 'GET', `/api/v1/servers?description=${tag}&${q}`);
      assert.equal(res.status, 200, `${q}: ${res.raw}`);
      return res.body.results.map((s: Body) => String(s['name']).slice(tag.length + 1));
    };
    assert.deepEqual(await names('cpu_cores__gte=16&ordering=cpu_cores'), ['beta', 'gamma', 'delta']);
    assert.deepEqual(await names('cpu_cores__lt=32&ordering=-cpu_cores'), ['beta', 'alpha']);
    assert.deepEqual(await names('status=active&status=maintenance&ordering=name'), ['alpha', 'delta', 'gamma']);
    assert.deepEqual(await names('status__in=planned,maintenance&ordering=name'), ['beta', 'delta']);
    assert.deepEqual(await names('status__n=active&ordering=name'), ['beta', 'delta']);
    assert.deepEqual(await names('name__ic=ALP'), ['alpha']);
    assert.deepEqual(await names('vendor__isnull=true'), ['gamma']);
    assert.deepEqual(await names('vendor__iexact=dell&ordering=-name'), ['delta', 'alpha']);
    // Descending puts nulls first (PostgreSQL's default, kept on SQLite too).
    assert.deepEqual(await names('ordering=-vendor,name'), ['gamma', 'beta', 'alpha', 'delta']);
    assert.deepEqual(await names('q=HPE'), ['beta']);
    const brief = await call(app, 'GET', `/api/v1/servers?description=${tag}&brief=1&ordering=name&limit=1`);
    assert.deepEqual(Object.keys(brief.body.results[0]).sort(), ['display', 'id', 'name', 'url']);
    const one = await call(app, 'GET', `${String(brief.body.results[0].url)}?brief=true`);
    assert.deepEqual(Object.keys(one.body).sort(), ['display', 'id', 'name', 'url']);
  });

  it('refuses bad filters, orderings and lookups with 400 and the parameter as path', async () => {
    const { app } = env();
    const cases: Array<[string, string]> = [
      ['nosuch=1', 'query.nosuch'],
      ['name__regex=x', 'query.name__regex'],
      ['cpu_cores__ic=1', 'query.cpu_cores__ic'],
      ['cpu_cores=many', 'query.cpu_cores'],
      ['ordering=-nosuch', 'query.ordering[0]'],
      ['name__ic=a&name__ic=b', 'query.name__ic'],
    ];
    for (const [q, path] of cases) {
      const r = await call(app, 'GET', `/api/v1/servers?${q}`);
      assert.equal(r.status, 400, `${q}: ${r.raw}`);
      assert.ok(['INVENTORY_ERR_INVALID_QUERY', 'API_ERR_VALIDATION'].includes(r.body.code), q);
      assert.deepEqual(r.body.errors.map((e: { path: string }) => e.path), [path], q);
    }
    // Secret fields are never filters: a user's password hash cannot be probed.
    const secret = await call(app, 'GET', '/api/v1/users?password_hash__isw=$argon2');
    assert.equal(secret.status, 400);
    assert.equal(secret.body.errors[0].path, 'query.password_hash__isw');
  });

  it('answers the inventory rules with their codes, statuses and body paths', async () => {
    const { app } = env();
    const dc = await post(app, 'datacenters', { name: uniq('DC'), code: uniq('dc').toLowerCase() });
    const rack = await post(app, 'racks', { datacenter_id: dc['id'], name: uniq('R'), u_height: 10 });
    const serial = uniq('SN');
    await post(app, 'servers', { name: uniq('s'), serial, rack_id: rack['id'], u_position: 1, u_size: 2 });

    const dup = await call(app, 'POST', '/api/v1/servers', { name: uniq('s'), serial });
    assert.equal(dup.status, 409);
    assert.deepEqual(dup.body.errors.map((e: Body) => [e['path'], e['code']]), [['body.serial', 'INVENTORY_ERR_DUPLICATE_SERIAL']]);
    assert.equal(dup.body.code, 'INVENTORY_ERR_DUPLICATE_SERIAL');

    const overlap = await call(app, 'POST', '/api/v1/servers', { name: uniq('s'), rack_id: rack['id'], u_position: 2 });
    assert.equal(overlap.status, 409);
    assert.equal(overlap.body.code, 'INVENTORY_ERR_U_OVERLAP');
    assert.equal(overlap.body.errors[0].path, 'body.u_position');

    const top = await call(app, 'POST', '/api/v1/servers', { name: uniq('s'), rack_id: rack['id'], u_position: 10, u_size: 2 });
    assert.equal(top.status, 422);
    assert.equal(top.body.code, 'INVENTORY_ERR_U_OUT_OF_RANGE');

    const required = await call(app, 'POST', '/api/v1/racks', { name: uniq('R') });
    assert.equal(required.status, 422);
    assert.deepEqual(required.body.errors.map((e: Body) => e['path']), ['body.datacenter_id']);

    const badRef = await call(app, 'POST', '/api/v1/racks', { name: uniq('R'), datacenter_id: 999999 });
    assert.equal(badRef.status, 422);
    assert.equal(badRef.body.code, 'INVENTORY_ERR_REFERENCE_NOT_FOUND');

    const badEnum = await call(app, 'PATCH', `/api/v1/racks/${String(rack['id'])}`, { status: 'on fire' });
    assert.equal(badEnum.status, 422);
    assert.deepEqual(badEnum.body.errors.map((e: Body) => [e['path'], e['code']]), [['body.status', 'INVENTORY_ERR_INVALID_VALUE']]);

    const restrict = await call(app, 'DELETE', `/api/v1/racks/${String(rack['id'])}`);
    assert.equal(restrict.status, 409);
    assert.equal(restrict.body.code, 'INVENTORY_ERR_HAS_DEPENDENTS');
    const cascade = await call(app, 'DELETE', `/api/v1/racks/${String(rack['id'])}?cascade=true`);
    assert.equal(cascade.status, 204);
    const left = await call(app, 'GET', `/api/v1/servers?serial=${serial}`);
    assert.equal(left.body.count, 0, 'cascade took the server with the rack');

    const missing = await call(app, 'PATCH', '/api/v1/racks/999999', { name: 'x' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'INVENTORY_ERR_NOT_FOUND');
    const missingDelete = await call(app, 'DELETE', '/api/v1/racks/999999');
    assert.equal(missingDelete.status, 404);
  });

  it('checks body shape and types against the route schema: 400 with field paths', async () => {
    const { app } = env();
    const cases: Array<[unknown, string[]]> = [
      [{ name: 'x', code: 'x', nosuch: 1 }, ['body.nosuch']],
      [{ name: 5, code: 'x' }, ['body.name']],
      [{ name: 'x', code: 'x', tier: 2.5 }, ['body.tier']],
      [{ name: 'x', code: 'x', certifications: 'tier' }, ['body.certifications']],
      [{ name: 'x', code: 'x', certifications: [1] }, ['body.certifications[0]']],
      [{ name: 'x', code: 'x', power_capacity_kw: '10' }, ['body.power_capacity_kw']],
      [[{ name: 'x', code: 'x' }, { name: 'y', code: 'y', bogus: true }], ['body[1].bogus']],
      ['just text', ['body']],
      [[], ['body']],
    ];
    for (const [body, paths] of cases) {
      const r = await call(app, 'POST', '/api/v1/datacenters', typeof body === 'string' ? JSON.stringify(body) : body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.raw}`);
      assert.equal(r.body.code, 'API_ERR_VALIDATION');
      assert.deepEqual(r.body.errors.map((e: { path: string }) => e.path), paths, JSON.stringify(body));
    }
    const id = await call(app, 'GET', '/api/v1/datacenters/0');
    assert.equal(id.status, 400);
    assert.deepEqual(id.body.errors.map((e: { path: string }) => e.path), ['params.id']);
    const u = await call(app, 'PATCH', '/api/v1/users/1', { password_hash: 'x' });
    assert.equal(u.status, 400, 'hashes are not input');
    assert.deepEqual(u.body.errors.map((e: { path: string }) => e.path), ['body.password_hash']);
  });

  it('hashes a user password set through the API and applies the password policy', async () => {
    const { app, inv } = env();
    const name = uniq('alice');
    const weak = await call(app, 'POST', '/api/v1/users', { username: name, password: 'short' });
    assert.equal(weak.status, 422);
    assert.deepEqual(weak.body.errors.map((e: { path: string }) => e.path), ['body.password']);
    const ok = await call(app, 'POST', '/api/v1/users', { username: name, password: 'a long enough passphrase' });
    assert.equal(ok.status, 201, ok.raw);
    const stored = (await inv.users.get(ok.body.id as number)) as unknown as Body;
    assert.match(String(stored['password_hash']), /^\$argon2id\$/);
    const audit = await call(app, 'GET', `/api/v1/audit/logs?object_type=user&object_id=${String(ok.body.id)}`);
    assert.equal(audit.body.results[0].after.password_hash, '[redacted]');
  });

  it('lists the audit log with filters, newest first, with source address and request id', async () => {
    const { app } = env();
    const r = await call(app, 'POST', '/api/v1/tenants', { name: uniq('T'), slug: uniq('t').toLowerCase() }, { 'x-request-id': 'req-audit-1' });
    assert.equal(r.headers['x-request-id'], 'req-audit-1');
    const id = r.body.id as number;
    await call(app, 'PATCH', `/api/v1/tenants/${id}`, { description: 'x' });
    const logs = await call(app, 'GET', `/api/v1/audit/logs?object_type=tenant&object_id=${id}`);
    assert.equal(logs.status, 200);
    assert.equal(logs.body.count, 2);
    assert.deepEqual(logs.body.results.map((e: Body) => e['action']), ['update', 'create']);
    const created = logs.body.results[1] as Body;
    assert.equal(created['request_id'], 'req-audit-1');
    assert.equal(created['source_ip'], '127.0.0.1');
    const one = await call(app, 'GET', String(created['url']));
    assert.equal(one.status, 200);
    assert.equal(one.body.id, created['id']);
    const byRequest = await call(app, 'GET', '/api/v1/audit/logs?request_id=req-audit-1');
    assert.equal(byRequest.body.count, 1);
    const bad = await call(app, 'GET', '/api/v1/audit/logs?before__ic=x');
    assert.equal(bad.status, 400);
    const write = await call(app, 'POST', '/api/v1/audit/logs', {});
    assert.equal(write.status, 404, 'the audit log is read-only');
  });
});

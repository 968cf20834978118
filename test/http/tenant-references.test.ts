/**
 * Tenant scope through references, over HTTP on both backends: a user scoped
 * to tenant A cannot point a new or changed object at tenant B's rack, host,
 * VM, server or device (nor at an untenanted one it cannot see), and the
 * answer is the one a missing object gets, so B's objects do not leak by
 * existing. Conflicts with B's objects do not name them.
 */
import { before, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { uniq } from './harness.js';
import type { Res } from './harness.js';
import { describeAuthApi } from './auth-harness.js';

const MISSING = 2_000_000_000;

describeAuthApi('tenant scope through references', (env) => {
  let admin: string;
  let scoped: string;
  const ids: Record<string, number> = {};
  const secretName = uniq('db-7-secret');
  const secretSerial = uniq('SER-B');

  before(async () => {
    const e = env();
    admin = (await e.login((await e.user('admin')).username)).access_token;
    const mk = (url: string, body: Record<string, unknown>) => e.make(admin, url, body);
    ids['tA'] = await mk('/api/v1/tenants', { name: uniq('A'), slug: uniq('a').toLowerCase() });
    ids['tB'] = await mk('/api/v1/tenants', { name: uniq('B'), slug: uniq('b').toLowerCase() });
    ids['dcA'] = await mk('/api/v1/datacenters', { name: uniq('dcA'), code: uniq('dca').toLowerCase(), tenant_id: ids['tA'] });
    ids['dcB'] = await mk('/api/v1/datacenters', { name: uniq('dcB'), code: uniq('dcb').toLowerCase(), tenant_id: ids['tB'] });
    ids['rackA'] = await mk('/api/v1/racks', { datacenter_id: ids['dcA'], name: 'RA', tenant_id: ids['tA'] });
    ids['rackB'] = await mk('/api/v1/racks', { datacenter_id: ids['dcB'], name: 'RB', tenant_id: ids['tB'] });
    ids['rackNone'] = await mk('/api/v1/racks', { datacenter_id: ids['dcA'], name: 'R-untenanted' });
    ids['serverA'] = await mk('/api/v1/servers', { name: uniq('sA'), tenant_id: ids['tA'], cpu_cores: 64, ram_gb: 512, storage_tb: 10 });
    ids['serverB'] = await mk('/api/v1/servers', {
      name: secretName,
      serial: secretSerial,
      tenant_id: ids['tB'],
      rack_id: ids['rackB'],
      u_position: 10,
      cpu_cores: 64,
      ram_gb: 512,
      storage_tb: 10,
    });
    // Tenant B's server in tenant A's rack (colocation): A sees the rack, not the server.
    ids['serverBinA'] = await mk('/api/v1/servers', { name: `${secretName}-colo`, tenant_id: ids['tB'], rack_id: ids['rackA'], u_position: 10 });
    ids['vmB'] = await mk('/api/v1/vms', { name: uniq('vmB'), host_server_id: ids['serverB'], vcpus: 2, ram_gb: 4, tenant_id: ids['tB'] });
    ids['vmA'] = await mk('/api/v1/vms', { name: uniq('vmA'), host_server_id: ids['serverA'], vcpus: 2, ram_gb: 4, tenant_id: ids['tA'] });
    ids['devB'] = await mk('/api/v1/network/devices', { name: uniq('swB'), role: 'access_switch', tenant_id: ids['tB'] });
    ids['ifB'] = await mk('/api/v1/server-interfaces', { server_id: ids['serverB'], name: 'eth0', ip: '10.98.0.10' });
    ids['subnet'] = await mk('/api/v1/dhcp/subnets', { subnet: '10.98.0.0/24', config: { pools: ['10.98.0.100-10.98.0.200'] } });
    scoped = (await e.login((await e.user('operator', [ids['tA']!])).username)).access_token;
  });

  /** The body shape of an error, with the ids it names masked, so two answers can be compared. */
  const shape = (r: Res, id: number) => ({
    status: r.status,
    code: r.body?.code,
    errors: (r.body?.errors ?? []).map((x: { path: string; message: string; code?: string }) => ({ ...x, message: x.message.replaceAll(String(id), '<id>') })),
  });

  /** Sends `body` with `field` set to the out-of-scope id and to a missing one: the answers must be the same refusal. */
  async function sameAsMissing(method: string, url: string, body: Record<string, unknown>, field: string, outside: number): Promise<void> {
    const r1 = await env().as(scoped, method, url, { ...body, [field]: outside });
    const r2 = await env().as(scoped, method, url, { ...body, [field]: MISSING });
    assert.equal(r1.status, 422, `${method} ${url} ${field}=${outside}: ${r1.raw}`);
    assert.equal(r1.body.code, 'INVENTORY_ERR_REFERENCE_NOT_FOUND', r1.raw);
    assert.deepEqual(shape(r1, outside), shape(r2, MISSING), `${field}: out of scope and missing answer alike`);
    assert.ok(!r1.raw.includes(secretName), r1.raw);
  }

  it('a server cannot go into another tenant’s rack, or an untenanted one the user cannot see', async () => {
    const body = { name: uniq('s'), tenant_id: ids['tA'] };
    await sameAsMissing('POST', '/api/v1/servers', body, 'rack_id', ids['rackB']!);
    await sameAsMissing('POST', '/api/v1/servers', body, 'rack_id', ids['rackNone']!);
    await sameAsMissing('PATCH', `/api/v1/servers/${ids['serverA']}`, {}, 'rack_id', ids['rackB']!);
    const own = await env().as(scoped, 'POST', '/api/v1/servers', { ...body, rack_id: ids['rackA'], u_position: 20 });
    assert.equal(own.status, 201, own.raw);
  });

  it('a VM cannot run on another tenant’s server; a container on neither its server nor its VM', async () => {
    await sameAsMissing('POST', '/api/v1/vms', { name: uniq('vm'), vcpus: 1, ram_gb: 1, tenant_id: ids['tA'] }, 'host_server_id', ids['serverB']!);
    await sameAsMissing('PATCH', `/api/v1/vms/${ids['vmA']}`, {}, 'host_server_id', ids['serverB']!);
    const c = { name: uniq('c'), image: 'nginx', tenant_id: ids['tA'] };
    await sameAsMissing('POST', '/api/v1/containers', c, 'host_server_id', ids['serverB']!);
    await sameAsMissing('POST', '/api/v1/containers', c, 'vm_id', ids['vmB']!);
    assert.equal((await env().as(scoped, 'POST', '/api/v1/containers', { ...c, vm_id: ids['vmA'] })).status, 201);
    // The same references are fine for an unscoped admin: the refusal is the scope's, not the reference's.
    assert.equal((await env().as(admin, 'POST', '/api/v1/containers', { ...c, name: uniq('c'), vm_id: ids['vmB'] })).status, 201);
  });

  it('an interface cannot be added to another tenant’s server (a missing server, not a 403)', async () => {
    await sameAsMissing('POST', '/api/v1/server-interfaces', { name: uniq('eth') }, 'server_id', ids['serverB']!);
    const mine = await env().make(scoped, '/api/v1/server-interfaces', { server_id: ids['serverA'], name: uniq('eth') });
    await sameAsMissing('PATCH', `/api/v1/server-interfaces/${mine}`, {}, 'server_id', ids['serverB']!);
    const theirs = await env().as(scoped, 'PATCH', `/api/v1/server-interfaces/${ids['ifB']}`, { name: 'x' });
    assert.equal(theirs.status, 404, theirs.raw);
  });

  it('a link cannot end on a device or server of another tenant', async () => {
    const link = { a_type: 'server', a_id: ids['serverA'], a_interface: uniq('p'), b_interface: 'p1' };
    await sameAsMissing('POST', '/api/v1/network/links', { ...link, b_type: 'server' }, 'b_id', ids['serverB']!);
    await sameAsMissing('POST', '/api/v1/network/links', { ...link, b_type: 'network_device' }, 'b_id', ids['devB']!);
    const ok = await env().as(admin, 'POST', '/api/v1/network/links', { ...link, b_type: 'network_device', b_id: ids['devB'] });
    assert.equal(ok.status, 201, ok.raw);
  });

  it('DHCP and TFTP data, which name every tenant’s servers, are out of a scoped user’s reach', async () => {
    for (const url of ['/api/v1/dhcp/reservations', '/api/v1/dhcp/subnets', '/api/v1/dhcp/leases', '/api/v1/tftp/transfers']) {
      const r = await env().as(scoped, 'GET', url);
      assert.equal(r.status, 403, `${url}: ${r.raw}`);
      assert.equal(r.body.code, 'AUTH_ERR_FORBIDDEN');
      assert.ok(!r.raw.includes(secretName));
      assert.equal((await env().as(admin, 'GET', url)).status, 200, url);
    }
    const write = await env().as(scoped, 'POST', '/api/v1/dhcp/reservations', { subnet_id: ids['subnet'], mac: '02:00:00:98:00:11', ip: '10.98.0.11' });
    assert.equal(write.status, 403, write.raw);
    const unscoped = (await env().login((await env().user('viewer')).username)).access_token;
    assert.equal((await env().as(unscoped, 'GET', '/api/v1/dhcp/leases')).status, 200, 'an unscoped viewer reads them');
  });

  it('an out-of-scope tenant_id is refused alike whether the tenant exists or not', async () => {
    const r1 = await env().as(scoped, 'POST', '/api/v1/servers', { name: uniq('s'), tenant_id: ids['tB'] });
    const r2 = await env().as(scoped, 'POST', '/api/v1/servers', { name: uniq('s'), tenant_id: MISSING });
    assert.equal(r1.status, 403, r1.raw);
    assert.deepEqual([r1.body.code, r1.body.errors.length], ['INVENTORY_ERR_TENANT_FORBIDDEN', 1]);
    assert.deepEqual(shape(r1, ids['tB']!), shape(r2, MISSING));
  });

  it('conflicts with another tenant’s objects do not name them', async () => {
    const clash = await env().as(scoped, 'POST', '/api/v1/servers', { name: uniq('s'), tenant_id: ids['tA'], rack_id: ids['rackA'], u_position: 10 });
    assert.equal(clash.status, 409, clash.raw);
    assert.equal(clash.body.code, 'INVENTORY_ERR_U_OVERLAP');
    assert.match(clash.body.errors[0].message, /another device/);
    assert.ok(!clash.raw.includes(secretName) && !clash.raw.includes(`id ${ids['serverBinA']}`), clash.raw);
    // An admin sees whose U it is.
    const adminClash = await env().as(admin, 'POST', '/api/v1/servers', { name: uniq('s'), rack_id: ids['rackA'], u_position: 10 });
    assert.ok(adminClash.raw.includes(`${secretName}-colo`), adminClash.raw);

    const serial = await env().as(scoped, 'POST', '/api/v1/servers', { name: uniq('s'), tenant_id: ids['tA'], serial: secretSerial });
    assert.equal(serial.status, 409, serial.raw);
    assert.equal(serial.body.code, 'INVENTORY_ERR_DUPLICATE_SERIAL');
    assert.ok(!serial.raw.includes(`server ${ids['serverB']}`), serial.raw);
    assert.match(serial.body.errors[0].message, /another server/);

    const shrink = await env().as(scoped, 'PATCH', `/api/v1/racks/${ids['rackA']}`, { u_height: 9 });
    assert.equal(shrink.status, 422, shrink.raw);
    assert.ok(!shrink.raw.includes(secretName), shrink.raw);

    // A scoped writer never reaches DHCP subnets over HTTP (above); the rule names no hidden interface all the same.
    const pool = await env().as(admin, 'POST', '/api/v1/dhcp/subnets', { subnet: '10.98.1.0/24' });
    assert.equal(pool.status, 201, pool.raw);
    assert.equal((await env().as(admin, 'POST', '/api/v1/server-interfaces', { server_id: ids['serverB'], name: 'eth1', ip: '10.98.1.50' })).status, 201);
    const take = await env()
      .inv.dhcpSubnets.update(pool.body.id as number, { config: { pools: ['10.98.1.40-10.98.1.60'] } }, {}, { tenantScope: [ids['tA']!] })
      .then(() => assert.fail('took in a fixed address'), (err: { code?: string; message: string }) => err);
    assert.equal(take.code, 'INVENTORY_ERR_IP_IN_DYNAMIC_POOL');
    assert.ok(!take.message.includes(`server ${ids['serverB']}`) && take.message.includes('a server interface'), take.message);
  });
});

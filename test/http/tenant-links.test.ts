/**
 * Network links and tenant scope, over HTTP on both backends. A link has the
 * tenants of its two ends: a scoped user reads a link when it sees at least
 * one end (its server's uplink to another tenant's switch), and changes or
 * deletes it only when it sees both; links between two other tenants' objects
 * are not listed and answer 404.
 */
import { before, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { uniq } from './harness.js';
import { describeAuthApi } from './auth-harness.js';

describeAuthApi('network links and tenant scope', (env) => {
  let admin: string;
  let scoped: string;
  const ids: Record<string, number> = {};

  before(async () => {
    const e = env();
    admin = (await e.login((await e.user('admin')).username)).access_token;
    const mk = (url: string, body: Record<string, unknown>) => e.make(admin, url, body);
    ids['tA'] = await mk('/api/v1/tenants', { name: uniq('A'), slug: uniq('a').toLowerCase() });
    ids['tB'] = await mk('/api/v1/tenants', { name: uniq('B'), slug: uniq('b').toLowerCase() });
    ids['sA'] = await mk('/api/v1/servers', { name: uniq('sA'), tenant_id: ids['tA'] });
    ids['sA2'] = await mk('/api/v1/servers', { name: uniq('sA2'), tenant_id: ids['tA'] });
    ids['sB'] = await mk('/api/v1/servers', { name: uniq('sB'), tenant_id: ids['tB'] });
    ids['swB'] = await mk('/api/v1/network/devices', { name: uniq('swB'), role: 'access_switch', tenant_id: ids['tB'] });
    const link = (a: string, b: string, ai: string) =>
      mk('/api/v1/network/links', { a_type: 'server', a_id: ids[a], a_interface: ai, b_type: b === 'swB' ? 'network_device' : 'server', b_id: ids[b], b_interface: ai });
    ids['AA'] = await link('sA', 'sA2', 'eth1');
    ids['AB'] = await link('sA', 'swB', 'eth0');
    ids['BB'] = await link('sB', 'swB', 'eth9');
    scoped = (await e.login((await e.user('operator', [ids['tA']!])).username)).access_token;
  });

  it('lists and reads links with at least one end in scope, never two other tenants’ links', async () => {
    const list = await env().as(scoped, 'GET', '/api/v1/network/links?limit=1000');
    assert.equal(list.status, 200, list.raw);
    const seen = (list.body.results as { id: number }[]).map((r) => r.id).sort((x, y) => x - y);
    assert.deepEqual(seen, [ids['AA'], ids['AB']].sort((x, y) => x! - y!));
    assert.equal(list.body.count, 2);
    assert.equal((await env().as(scoped, 'GET', `/api/v1/network/links/${ids['AB']}`)).status, 200);
    const other = await env().as(scoped, 'GET', `/api/v1/network/links/${ids['BB']}`);
    assert.equal(other.status, 404, other.raw);
    // The admin still sees all three.
    const all = await env().as(admin, 'GET', `/api/v1/network/links?id__in=${ids['AA']},${ids['AB']},${ids['BB']}`);
    assert.equal(all.body.count, 3, all.raw);
  });

  it('cannot delete or change another tenant’s link (404) nor a shared one (403), but can its own', async () => {
    const gone = await env().as(scoped, 'DELETE', `/api/v1/network/links/${ids['BB']}`);
    assert.equal(gone.status, 404, gone.raw);
    const patchOther = await env().as(scoped, 'PATCH', `/api/v1/network/links/${ids['BB']}`, { status: 'planned' });
    assert.equal(patchOther.status, 404, patchOther.raw);

    const shared = await env().as(scoped, 'DELETE', `/api/v1/network/links/${ids['AB']}`);
    assert.equal(shared.status, 403, shared.raw);
    assert.equal(shared.body.code, 'INVENTORY_ERR_TENANT_FORBIDDEN', shared.raw);
    const patchShared = await env().as(scoped, 'PATCH', `/api/v1/network/links/${ids['AB']}`, { status: 'planned' });
    assert.equal(patchShared.status, 403, patchShared.raw);
    assert.equal((await env().as(admin, 'GET', `/api/v1/network/links/${ids['BB']}`)).status, 200, 'the other tenant’s link is still there');
    assert.equal((await env().as(admin, 'GET', `/api/v1/network/links/${ids['AB']}`)).body.status, 'connected');

    const own = await env().as(scoped, 'PATCH', `/api/v1/network/links/${ids['AA']}`, { status: 'planned' });
    assert.equal(own.status, 200, own.raw);
    assert.equal((await env().as(scoped, 'DELETE', `/api/v1/network/links/${ids['AA']}`)).status, 204);
  });

  it('cannot create a link to another tenant’s device', async () => {
    const r = await env().as(scoped, 'POST', '/api/v1/network/links', {
      a_type: 'server',
      a_id: ids['sA'],
      a_interface: 'eth5',
      b_type: 'network_device',
      b_id: ids['swB'],
      b_interface: 'eth5',
    });
    assert.equal(r.status, 422, r.raw);
    assert.equal(r.body.code, 'INVENTORY_ERR_REFERENCE_NOT_FOUND', r.raw);
  });
});

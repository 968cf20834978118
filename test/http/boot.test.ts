/**
 * Network boot driven by the inventory, through the HTTP stack on SQLite and
 * PostgreSQL: boot profiles and their rules, the iPXE script per MAC, the
 * installer callback, the boot timeline fed by DHCP and TFTP events, and the
 * status moves (audited as "system").
 */
import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { FastifyInstance } from 'fastify';
import { bootServiceOf } from '../../src/http/boot-routes.js';
import { EventHub } from '../../src/http/event-hub.js';
import type { HubEvent } from '../../src/http/event-hub.js';
import { parseIpv4 } from '../../src/net/ipv4.js';
import type { TransferRecord } from '../../src/tftp/transfer-log.js';
import { describeAuthApi } from './auth-harness.js';
import { call, describeApi, uniq } from './harness.js';

type Body = Record<string, unknown>;

let macSeq = 0;
function newMac(): string {
  const n = (process.pid * 131 + ++macSeq) & 0xffffff;
  return `52:54:00:${[n >> 16, (n >> 8) & 0xff, n & 0xff].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

async function post(app: FastifyInstance, path: string, body: Body): Promise<Body> {
  const r = await call(app, 'POST', `/api/v1/${path}`, body);
  assert.equal(r.status, 201, `POST ${path}: ${r.raw}`);
  return r.body as Body;
}

/** A server with one primary interface (MAC, address) booting `profile`. */
async function serverWithMac(app: FastifyInstance, profile: string, ip: string | null = null): Promise<{ id: number; mac: string }> {
  const server = await post(app, 'servers', { name: uniq('node'), boot_profile: profile });
  const mac = newMac();
  await post(app, 'server-interfaces', { server_id: server['id'], name: 'eth0', mac, ip, is_primary: true });
  return { id: server['id'] as number, mac };
}

async function linuxProfile(app: FastifyInstance): Promise<string> {
  const name = uniq('ubuntu');
  await post(app, 'boot/profiles', {
    name,
    kind: 'linux',
    os: 'Ubuntu 24.04',
    kernel_url: 'http://10.9.0.1:8080/images/noble/vmlinuz',
    initrd_url: 'http://10.9.0.1:8080/images/noble/initrd',
    cmdline: 'ip=dhcp hostname={{hostname}} ds=nocloud-net',
  });
  return name;
}

function transfer(file: string, clientIp: string, state: 'completed' | 'failed' = 'completed'): TransferRecord {
  return {
    id: 1,
    clientIp,
    clientPort: 2000,
    direction: 'read',
    requested: file,
    file,
    mode: 'octet',
    requestedOptions: {},
    negotiated: {},
    source: 'generated',
    startedAt: Date.now() - 5,
    endedAt: Date.now(),
    state,
    reason: state === 'failed' ? 'timeout' : undefined,
    errorCode: undefined,
    bytes: 120,
    blocks: 1,
    resends: 0,
    size: 120,
  };
}

const hub = new EventHub();

describeApi(
  'boot profiles, per-host iPXE scripts, the boot timeline and status moves',
  (env) => {
    const settle = async (): Promise<void> => bootServiceOf(env().app)?.settle();

    it('seeds "local"; refuses a linux profile without a kernel, an iPXE script without #!ipxe, unknown placeholders and unsafe characters, with paths', async () => {
      const { app } = env();
      const list = await call(app, 'GET', '/api/v1/boot/profiles?name=local');
      assert.equal(list.body.count, 1);
      assert.equal(list.body.results[0].kind, 'local');
      const bad = await call(app, 'POST', '/api/v1/boot/profiles', { name: uniq('p'), kind: 'linux', cmdline: 'quiet' });
      assert.equal(bad.status, 422);
      assert.equal(bad.body.code, 'INVENTORY_ERR_REQUIRED');
      assert.deepEqual(bad.body.errors.map((e: Body) => e['path']), ['body.kernel_url']);
      const noShebang = await call(app, 'POST', '/api/v1/boot/profiles', { name: uniq('p'), kind: 'ipxe', ipxe_script: 'echo hi\nexit' });
      assert.equal(noShebang.status, 422);
      assert.deepEqual(noShebang.body.errors.map((e: Body) => [e['code'], e['path']]), [['INVENTORY_ERR_INVALID_VALUE', 'body.ipxe_script']]);
      const unknown = await call(app, 'POST', '/api/v1/boot/profiles', { name: uniq('p'), kind: 'linux', kernel_url: 'vmlinuz', cmdline: 'host={{nope}}' });
      assert.deepEqual(unknown.body.errors.map((e: Body) => [e['code'], e['path']]), [['INVENTORY_ERR_INVALID_VALUE', 'body.cmdline']]);
      const inject = await call(app, 'POST', '/api/v1/boot/profiles', { name: uniq('p'), kind: 'linux', kernel_url: 'vmlinuz\nLOCALBOOT 0', cmdline: 'a"; reboot' });
      assert.deepEqual(inject.body.errors.map((e: Body) => e['path']).sort(), ['body.cmdline', 'body.kernel_url']);
      const mixed = await call(app, 'POST', '/api/v1/boot/profiles', { name: uniq('p'), kind: 'local', kernel_url: 'vmlinuz' });
      assert.deepEqual(mixed.body.errors.map((e: Body) => e['path']), ['body.kernel_url']);
      const dup = await call(app, 'POST', '/api/v1/boot/profiles', { name: 'local', kind: 'local' });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.code, 'INVENTORY_ERR_DUPLICATE_NAME');
    });

    it('a server names an existing profile; a profile in use is neither renamed nor deleted, not even with cascade', async () => {
      const { app } = env();
      const missing = await call(app, 'POST', '/api/v1/servers', { name: uniq('n'), boot_profile: 'no-such-profile' });
      assert.equal(missing.status, 422);
      assert.equal(missing.body.code, 'INVENTORY_ERR_REFERENCE_NOT_FOUND');
      assert.deepEqual(missing.body.errors.map((e: Body) => e['path']), ['body.boot_profile']);
      const profile = await linuxProfile(app);
      const { id } = await serverWithMac(app, profile);
      const p = (await call(app, 'GET', `/api/v1/boot/profiles?name=${profile}`)).body.results[0] as Body;
      const rename = await call(app, 'PATCH', `/api/v1/boot/profiles/${String(p['id'])}`, { name: uniq('renamed') });
      assert.equal(rename.status, 409);
      assert.deepEqual(rename.body.errors.map((e: Body) => [e['code'], e['path']]), [['INVENTORY_ERR_HAS_DEPENDENTS', 'body.name']]);
      for (const url of [`/api/v1/boot/profiles/${String(p['id'])}`, `/api/v1/boot/profiles/${String(p['id'])}?cascade=true`]) {
        const del = await call(app, 'DELETE', url);
        assert.equal(del.status, 409, url);
        assert.equal(del.body.code, 'INVENTORY_ERR_HAS_DEPENDENTS');
      }
      assert.equal((await call(app, 'GET', `/api/v1/servers/${id}`)).status, 200);
      // Pointed elsewhere, the profile goes.
      assert.equal((await call(app, 'PATCH', `/api/v1/servers/${id}`, { boot_profile: 'local' })).status, 200);
      assert.equal((await call(app, 'DELETE', `/api/v1/boot/profiles/${String(p['id'])}`)).status, 204);
    });

    it('serves the iPXE bootstrap and the per-MAC script: the profile rendered for a known MAC, a local boot for an unknown one, 400 for no MAC', async () => {
      const { app } = env();
      const boot = await call(app, 'GET', '/boot.ipxe');
      assert.equal(boot.status, 200);
      assert.match(boot.raw, /^#!ipxe\n/);
      assert.match(boot.raw, /\nchain --autofree boot\/ipxe\?mac=\$\{netX\/mac:hexhyp\}\n/);
      const profile = await linuxProfile(app);
      const { mac } = await serverWithMac(app, profile, '10.9.0.20');
      const script = await app.inject({ method: 'GET', url: `/boot/ipxe?mac=${mac.toUpperCase().replace(/:/g, '-')}`, headers: { host: '10.9.0.1:8080' } });
      assert.equal(script.statusCode, 200);
      assert.match(script.body, /^#!ipxe\n/);
      assert.match(script.body, /\nkernel http:\/\/10\.9\.0\.1:8080\/images\/noble\/vmlinuz initrd=initrd ip=dhcp hostname=node-[^ ]+ ds=nocloud-net\n/);
      assert.match(script.body, /\ninitrd http:\/\/10\.9\.0\.1:8080\/images\/noble\/initrd\nboot\n$/);
      const unknown = await call(app, 'GET', '/boot/ipxe?mac=02:00:00:00:00:01');
      assert.equal(unknown.status, 200);
      assert.match(unknown.raw, /\nexit\n$/);
      const none = await call(app, 'GET', '/boot/ipxe');
      assert.equal(none.status, 400);
      assert.equal(none.body.code, 'BOOT_ERR_INVALID_MAC');
      assert.deepEqual(none.body.errors.map((e: Body) => e['path']), ['query.mac']);
    });

    it('records DHCP and TFTP events of a known MAC and moves planned → provisioning → active, audited as system; unknown MACs are not recorded', async () => {
      const { app } = env();
      const profile = await linuxProfile(app);
      const { id, mac } = await serverWithMac(app, profile, '10.9.0.21');
      const ip = parseIpv4('10.9.0.21') as number;
      hub.publishLease({ kind: 'offer', mac, clientId: '', messageType: 'DISCOVER', ip, subnetId: 1 });
      hub.publishLease({ kind: 'ack', mac, clientId: '', messageType: 'REQUEST', ip, subnetId: 1 });
      hub.publishLease({ kind: 'offer', mac: '02:00:00:00:00:02', clientId: '', messageType: 'DISCOVER', ip, subnetId: 1 });
      const file = `pxelinux.cfg/01-${mac.replace(/:/g, '-')}`;
      hub.publishTransfer('start', { ...transfer(file, '10.9.0.21'), state: 'active', endedAt: undefined });
      hub.publishTransfer('end', transfer(file, '10.9.0.21'));
      // A transfer of another file is matched to the server by its fixed address.
      hub.publishTransfer('end', transfer('images/noble/vmlinuz', '10.9.0.21', 'failed'));
      await settle();
      const ev = await call(app, 'GET', `/api/v1/servers/${id}/events?limit=50`);
      assert.equal(ev.status, 200, ev.raw);
      const types = (ev.body.results as Body[]).map((e) => e['type']);
      assert.deepEqual(types, ['status', 'tftp.fail', 'tftp.complete', 'tftp.start', 'dhcp.ack', 'dhcp.request', 'dhcp.offer', 'dhcp.discover'], 'newest first');
      const status = (ev.body.results as Body[])[0] as Body;
      assert.deepEqual(status['data'], { from: 'planned', to: 'provisioning', request_id: null });
      assert.equal((ev.body.results as Body[])[2]?.['mac'], mac);
      assert.equal((await call(app, 'GET', `/api/v1/servers/${id}`)).body.status, 'provisioning');
      const audit = await call(app, 'GET', `/api/v1/audit/logs?object_type=server&object_id=${id}&action=update`);
      assert.equal(audit.body.results[0].user, 'system');
      assert.equal(audit.body.results[0].after.status, 'provisioning');

      // Paging, filters and the envelope.
      const page = await call(app, 'GET', `/api/v1/servers/${id}/events?limit=2&offset=2&type__isw=tftp`);
      assert.equal(page.body.count, 3);
      assert.deepEqual((page.body.results as Body[]).map((e) => e['type']), ['tftp.start']);
      assert.equal(page.body.next, null);
      assert.match(String(page.body.previous), /offset=0/);

      // Switched back to local after the install (one call), the next network boot makes it active.
      assert.equal((await call(app, 'PATCH', `/api/v1/servers/${id}`, { boot_profile: 'local' })).status, 200);
      const local = await call(app, 'GET', `/boot/ipxe?mac=${mac}`);
      assert.match(local.raw, /\nexit\n$/);
      await settle();
      assert.equal((await call(app, 'GET', `/api/v1/servers/${id}`)).body.status, 'active');
      const latest = await call(app, 'GET', `/api/v1/servers/${id}/events?limit=2`);
      assert.deepEqual((latest.body.results as Body[]).map((e) => e['type']), ['status', 'ipxe.script']);
    });

    it('publishes timeline rows on the WebSocket hub as server_event inventory events', async () => {
      const { app } = env();
      const { id, mac } = await serverWithMac(app, 'local');
      const seen: HubEvent[] = [];
      const off = hub.subscribe((e) => {
        if (e.type === 'inventory' && e.data.object_type === 'server_event') seen.push(e);
      });
      try {
        hub.publishLease({ kind: 'nak', mac, clientId: '', messageType: 'REQUEST', subnetId: 1, reason: 'wrong subnet' });
        await settle();
      } finally {
        off();
      }
      assert.deepEqual(
        seen.map((e) => (e.type === 'inventory' ? [e.data.after?.['server_id'], e.data.after?.['type'], e.audience.rbac] : [])),
        [
          [id, 'dhcp.request', 'servers'],
          [id, 'dhcp.nak', 'servers'],
        ],
      );
    });

    it('takes the installer callback only from the host itself: then active with profile local', async () => {
      const { app } = env();
      const profile = await linuxProfile(app);
      const { id, mac } = await serverWithMac(app, profile, '10.9.0.22');
      const foreign = await app.inject({ method: 'POST', url: `/boot/done?mac=${mac}`, remoteAddress: '10.9.0.99' });
      assert.equal(foreign.statusCode, 403);
      assert.equal(JSON.parse(foreign.body).code, 'BOOT_ERR_SOURCE_MISMATCH');
      const unknown = await app.inject({ method: 'POST', url: '/boot/done?mac=02:00:00:00:00:03', remoteAddress: '10.9.0.22' });
      assert.equal(unknown.statusCode, 404);
      assert.equal(JSON.parse(unknown.body).code, 'BOOT_ERR_UNKNOWN_MAC');
      const done = await app.inject({ method: 'POST', url: `/boot/done?mac=${mac}`, remoteAddress: '10.9.0.22' });
      assert.equal(done.statusCode, 200, done.body);
      assert.deepEqual(JSON.parse(done.body), { server_id: id, status: 'active', boot_profile: 'local' });
      await settle();
      const types = ((await call(app, 'GET', `/api/v1/servers/${id}/events`)).body.results as Body[]).map((e) => e['type']);
      assert.deepEqual(types, ['status', 'boot.done']);
    });

    it('404 for the events of a server that does not exist; 400 naming a bad filter', async () => {
      const { app } = env();
      const r = await call(app, 'GET', '/api/v1/servers/999999/events');
      assert.equal(r.status, 404);
      assert.equal(r.body.code, 'INVENTORY_ERR_NOT_FOUND');
      const { id } = await serverWithMac(app, 'local');
      const bad = await call(app, 'GET', `/api/v1/servers/${id}/events?nope=1`);
      assert.equal(bad.status, 400);
      assert.ok((bad.body.errors as Body[]).some((e) => String(e['path']).startsWith('query.')), bad.raw);
    });
  },
  { events: hub },
);

describeAuthApi('the boot timeline is read like the server: RBAC and tenant scope', (env) => {
  it('a viewer reads it, a user of another tenant gets 404, nobody without a token', async () => {
    const e = env();
    const admin = await e.login((await e.user('admin')).username);
    const t1 = await e.make(admin.access_token, '/api/v1/tenants', { name: uniq('T'), slug: uniq('t').toLowerCase() });
    const t2 = await e.make(admin.access_token, '/api/v1/tenants', { name: uniq('T'), slug: uniq('t').toLowerCase() });
    const server = await e.make(admin.access_token, '/api/v1/servers', { name: uniq('n'), tenant_id: t1 });
    const viewer = await e.login((await e.user('viewer', [t1])).username);
    const other = await e.login((await e.user('operator', [t2])).username);
    assert.equal((await e.as(viewer.access_token, 'GET', `/api/v1/servers/${server}/events`)).status, 200);
    const hidden = await e.as(other.access_token, 'GET', `/api/v1/servers/${server}/events`);
    assert.equal(hidden.status, 404);
    assert.equal(hidden.body.code, 'INVENTORY_ERR_NOT_FOUND');
    assert.equal((await e.as(undefined, 'GET', `/api/v1/servers/${server}/events`)).status, 401);
    // Boot profiles are written by operators, read by viewers.
    assert.equal((await e.as(viewer.access_token, 'GET', '/api/v1/boot/profiles')).status, 200);
    assert.equal((await e.as(viewer.access_token, 'POST', '/api/v1/boot/profiles', { name: uniq('p'), kind: 'local' })).status, 403);
    assert.equal((await e.as(other.access_token, 'POST', '/api/v1/boot/profiles', { name: uniq('p'), kind: 'local' })).status, 201);
  });
});

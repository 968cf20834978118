/**
 * DHCP subnets, reservations and servers through the HTTP stack, with an
 * inventory that knows the configuration file's dhcp section (as the app's
 * does), on SQLite and PostgreSQL: writes that would make the composed DHCP
 * configuration invalid are refused with 422 and the field path; derived
 * reservations answer 409 to direct edits; a server whose reservation would
 * clash with another is refused with 409 by field.
 */
import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { FastifyInstance } from 'fastify';
import { applyDefaults } from '../../src/config/defaults.js';
import { buildApi } from '../../src/http/api.js';
import { openInventory } from '../../src/inventory/inventory.js';
import { testBackends } from '../db/backends.js';
import type { TestDatabase } from '../db/backends.js';
import { baseDeps, call } from './harness.js';

const FILE = applyDefaults({
  dhcp: {
    enabled: true,
    interfaces: ['eth1', 'eth2'],
    client_classes: [{ name: 'pxe', match: { vendor_class: 'PXEClient*' } }],
    shared_networks: [{ name: 'campus', interface: 'eth2', subnets: [{ id: 500, subnet: '10.50.0.0/24', pools: ['10.50.0.10-10.50.0.20'] }] }],
    subnets: [],
  },
}).dhcp;

for (const backend of await testBackends()) {
  describe(`DHCP inventory through the API [${backend.name}]`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let app: FastifyInstance;
    before(async () => {
      db = await backend.open();
      const inv = openInventory(db, { dhcpFile: () => FILE });
      app = await buildApi({ ...baseDeps(), inventory: inv, auth: { disabled: true } });
      await app.ready();
    });
    after(async () => {
      await app.close();
      await db.dispose();
    });

    it('refuses a subnet the configuration file could not serve, by field (422)', async () => {
      const ok = await call(app, 'POST', '/api/v1/dhcp/subnets', { id: 1, subnet: '10.60.0.0/24', config: { interface: 'eth1', pools: ['10.60.0.100-10.60.0.199'], client_class: 'pxe' } });
      assert.equal(ok.status, 201, ok.raw);
      const cases: Array<[Record<string, unknown>, string, string]> = [
        [{ id: 2, subnet: '10.61.0.0/24', config: { interface: 'eth9' } }, 'config.interface', 'CONFIG_ERR_INTERFACE_NOT_SERVED'],
        [{ id: 2, subnet: '10.61.0.0/24', config: { client_class: 'nosuch' } }, 'config.client_class', 'CONFIG_ERR_UNKNOWN_CLASS'],
        [{ id: 2, subnet: '10.61.0.0/24', config: { lease_time: 100, renew_timer: 200 } }, 'config.renew_timer', 'CONFIG_ERR_TIMERS'],
        [{ id: 2, subnet: '10.61.0.0/24', config: { no_such_key: 1 } }, 'config.no_such_key', 'CONFIG_ERR_UNKNOWN_KEY'],
        // Another subnet already serves eth1's direct clients.
        [{ id: 2, subnet: '10.61.0.0/24', config: { interface: 'eth1' } }, 'config.interface', 'CONFIG_ERR_DUPLICATE_SUBNET_INTERFACE'],
        // The id of a subnet of the file's shared network.
        [{ id: 500, subnet: '10.61.0.0/24' }, '', 'CONFIG_ERR_DUPLICATE_SUBNET_ID'],
        // Overlapping the file's shared-network subnet, or another subnet of the inventory.
        [{ id: 2, subnet: '10.50.0.0/16' }, '', 'CONFIG_ERR_SUBNET_OVERLAP'],
        [{ id: 2, subnet: '10.60.0.128/25' }, 'subnet', 'CONFIG_ERR_SUBNET_OVERLAP'],
        // What subnetConfig alone let through: a pool holding the network address, a router that is the broadcast address.
        [{ id: 2, subnet: '10.61.0.0/24', config: { pools: ['10.61.0.0-10.61.0.9'] } }, 'config.pools[0]', 'CONFIG_ERR_POOL_SPECIAL_ADDRESS'],
        [{ id: 2, subnet: '10.61.0.0/24', config: { routers: ['10.61.0.255'] } }, 'config.routers[0]', 'CONFIG_ERR_BAD_IP'],
      ];
      for (const [body, path, configCode] of cases) {
        const r = await call(app, 'POST', '/api/v1/dhcp/subnets', body);
        assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.raw}`);
        assert.equal(r.body.code, 'INVENTORY_ERR_DHCP_CONFIG_INVALID', r.raw);
        assert.deepEqual(r.body.errors.map((e: { path: string }) => e.path), [path === '' ? 'body' : `body.${path}`], r.raw);
        assert.match(r.body.errors[0].message, new RegExp(configCode), r.raw);
      }
      // The same rules hold on PATCH; a refused write leaves the stored subnet as it was.
      const p = await call(app, 'PATCH', '/api/v1/dhcp/subnets/1', { config: { interface: 'eth9' } });
      assert.equal(p.status, 422, p.raw);
      assert.equal((await call(app, 'GET', '/api/v1/dhcp/subnets/1')).body.config.interface, 'eth1');
    });

    it('refuses a reservation the file could not serve (network address, host name) by field', async () => {
      await call(app, 'POST', '/api/v1/dhcp/subnets', { id: 3, subnet: '10.62.0.0/24' });
      let r = await call(app, 'POST', '/api/v1/dhcp/reservations', { subnet_id: 3, mac: '52:54:00:62:00:01', ip: '10.62.0.0' });
      assert.equal(r.status, 422, r.raw);
      assert.deepEqual([r.body.code, r.body.errors[0].path], ['INVENTORY_ERR_DHCP_CONFIG_INVALID', 'body.ip']);
      r = await call(app, 'POST', '/api/v1/dhcp/reservations', { subnet_id: 3, mac: '52:54:00:62:00:01', ip: '10.62.0.5', hostname: 'not a host name' });
      assert.equal(r.status, 422, r.raw);
      assert.deepEqual([r.body.code, r.body.errors[0].path], ['INVENTORY_ERR_DHCP_CONFIG_INVALID', 'body.hostname']);
      r = await call(app, 'POST', '/api/v1/dhcp/reservations', { subnet_id: 3, mac: '52:54:00:62:00:01', ip: '10.62.0.5', hostname: 'spare-1' });
      assert.equal(r.status, 201, r.raw);
    });

    it('servers become reservations; direct edits of those answer 409; a clash refuses the interface by field', async () => {
      await call(app, 'POST', '/api/v1/dhcp/subnets', { id: 4, subnet: '10.63.0.0/24', config: { pools: ['10.63.0.100-10.63.0.199'] } });
      const manual = await call(app, 'POST', '/api/v1/dhcp/reservations', { subnet_id: 4, mac: '52:54:00:63:00:01', ip: '10.63.0.7' });
      assert.equal(manual.status, 201, manual.raw);
      const server = (await call(app, 'POST', '/api/v1/servers', { name: 'db-7' })).body;
      const clash = await call(app, 'POST', '/api/v1/server-interfaces', { server_id: server.id, name: 'eth0', mac: '52:54:00:63:00:02', ip: '10.63.0.7', is_primary: true });
      assert.equal(clash.status, 409, clash.raw);
      assert.equal(clash.body.code, 'INVENTORY_ERR_RESERVATION_CONFLICT');
      assert.deepEqual(clash.body.errors.map((e: { path: string }) => e.path), ['body.ip']);

      const nic = await call(app, 'POST', '/api/v1/server-interfaces', { server_id: server.id, name: 'eth0', mac: '52:54:00:63:00:02', ip: '10.63.0.8', is_primary: true });
      assert.equal(nic.status, 201, nic.raw);
      const list = await call(app, 'GET', `/api/v1/dhcp/reservations?server_id=${server.id}`);
      assert.equal(list.body.count, 1);
      const derived = list.body.results[0];
      assert.deepEqual([derived.ip, derived.mac, derived.hostname, derived.subnet_id], ['10.63.0.8', '52:54:00:63:00:02', 'db-7', 4]);
      for (const [method, body] of [['PATCH', { hostname: 'other' }], ['DELETE', undefined]] as const) {
        const r = await call(app, method, `/api/v1/dhcp/reservations/${derived.id}`, body);
        assert.equal(r.status, 409, r.raw);
        assert.equal(r.body.code, 'INVENTORY_ERR_RESERVATION_DERIVED');
        assert.match(r.body.message, /edit the server/);
      }
      const named = await call(app, 'POST', '/api/v1/dhcp/reservations', { subnet_id: 4, mac: '52:54:00:63:00:03', ip: '10.63.0.9', server_id: server.id });
      assert.equal(named.status, 409, named.raw);
      assert.deepEqual([named.body.code, named.body.errors[0].path], ['INVENTORY_ERR_RESERVATION_DERIVED', 'body.server_id']);
      // Editing the server is the way: its reservation follows.
      assert.equal((await call(app, 'PATCH', `/api/v1/servers/${server.id}`, { name: 'db-8' })).status, 200);
      assert.equal((await call(app, 'GET', `/api/v1/dhcp/reservations/${derived.id}`)).body.hostname, 'db-8');
    });
  });
}

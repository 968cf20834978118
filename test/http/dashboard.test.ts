/**
 * GET /api/v1/dashboard/metrics on a small known inventory, on SQLite and
 * PostgreSQL, for an admin and for a tenant-scoped user; the DHCP and TFTP
 * parts from their sources (the DHCP pool gauges, the transfer log).
 */
import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { DbAuthStore } from '../../src/auth/db-auth-store.js';
import { LoginRateLimiter } from '../../src/auth/rate-limit.js';
import { DhcpMetrics } from '../../src/dhcp/metrics.js';
import { buildApi } from '../../src/http/api.js';
import { TFTP_TRANSFER_RING, dhcpPoolsFromRegistry, tftpFigures } from '../../src/http/dashboard.js';
import { openInventory } from '../../src/inventory/inventory.js';
import type { TransferRecord } from '../../src/tftp/transfer-log.js';
import { testBackends } from '../db/backends.js';
import type { TestDatabase } from '../db/backends.js';
import { FAST_HASHER, baseDeps, call, uniq } from './harness.js';

const PASSWORD = 'correct horse battery staple';
const backends = await testBackends();

function transfer(id: number, state: TransferRecord['state'], endedAt: number | undefined, bytes: number): TransferRecord {
  return {
    id,
    clientIp: '127.0.0.1',
    clientPort: 1000 + id,
    direction: 'read',
    requested: 'f',
    file: 'f',
    mode: 'octet',
    requestedOptions: {},
    negotiated: {},
    source: 'disk',
    startedAt: (endedAt ?? 0) - 10,
    endedAt,
    state,
    reason: undefined,
    errorCode: undefined,
    bytes,
    blocks: 0,
    resends: 0,
    size: undefined,
  };
}

const NOW = Date.parse('2026-01-01T12:00:00Z');
const TRANSFERS = [
  transfer(9, 'active', undefined, 100),
  transfer(8, 'completed', NOW - 1_000, 1000),
  transfer(7, 'failed', NOW - 20_000, 500),
  transfer(6, 'refused', NOW - 30_000, 0),
  transfer(5, 'completed', NOW - 59_000, 2000),
  transfer(4, 'completed', NOW - 61_000, 1_000_000),
];

for (const backend of backends) {
  describe(`GET /api/v1/dashboard/metrics [${backend.name}]`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let app: FastifyInstance;
    let store: DbAuthStore;
    let admin: string;
    let scoped: string;
    const ids: Record<string, number> = {};

    async function login(role: 'admin' | 'viewer', tenantIds: number[] = []): Promise<string> {
      const username = uniq(role);
      await store.createUser({ username, password_hash: await FAST_HASHER.hash(PASSWORD), role, tenant_ids: tenantIds });
      const r = await call(app, 'POST', '/api/v1/auth/token', { username, password: PASSWORD });
      assert.equal(r.status, 200, r.raw);
      return r.body.access_token as string;
    }

    before(async () => {
      db = await backend.open();
      store = new DbAuthStore(db);
      app = await buildApi({
        ...baseDeps(),
        services: () => ({ dhcp: 'running', tftp: 'running' }),
        tftpTransfers: () => TRANSFERS,
        dhcpPools: async () => [
          { subnetId: 2, pool: '10.2.0.10-10.2.0.19', total: 10, used: 10 },
          { subnetId: 1, pool: '10.1.0.100-10.1.0.199', total: 100, used: 25 },
        ],
        inventory: openInventory(db),
        auth: { store, hasher: FAST_HASHER, tokens: { secret: randomBytes(64) }, rateLimiter: new LoginRateLimiter({ capacity: 1000, refillPerSecond: 100, maxKeys: 100 }) },
      });
      await app.ready();
      admin = await login('admin');
      const mk = async (key: string, path: string, body: Record<string, unknown>): Promise<number> => {
        const r = await call(app, 'POST', path, body, { authorization: `Bearer ${admin}` });
        assert.equal(r.status, 201, `${key}: ${r.raw}`);
        ids[key] = r.body.id as number;
        return r.body.id as number;
      };
      const tA = await mk('tA', '/api/v1/tenants', { name: 'Tenant A', slug: 'tenant-a' });
      const tB = await mk('tB', '/api/v1/tenants', { name: 'Tenant B', slug: 'tenant-b' });
      const dc1 = await mk('dc1', '/api/v1/datacenters', { name: 'DC One', code: 'dc1', pue_target: 1.4, tenant_id: tA });
      const dc2 = await mk('dc2', '/api/v1/datacenters', { name: 'DC Two', code: 'dc2', tenant_id: tB });
      const r1 = await mk('r1', '/api/v1/racks', { datacenter_id: dc1, name: 'R1', u_height: 42, power_capacity_kw: 10, tenant_id: tA });
      const r2 = await mk('r2', '/api/v1/racks', { datacenter_id: dc1, name: 'R2', u_height: 42, tenant_id: tA });
      const r3 = await mk('r3', '/api/v1/racks', { datacenter_id: dc2, name: 'R3', u_height: 48, power_capacity_kw: 5, tenant_id: tB });
      const s1 = await mk('s1', '/api/v1/servers', { name: 's1', rack_id: r1, u_position: 1, u_size: 2, power_supply_w: 500, status: 'active', tenant_id: tA });
      await mk('s2', '/api/v1/servers', { name: 's2', rack_id: r1, u_position: 3, power_supply_w: 750, status: 'planned', tenant_id: tA });
      await mk('s3', '/api/v1/servers', { name: 's3', rack_id: r2, u_position: 1, u_size: 4, power_supply_w: 1000, status: 'active', tenant_id: tA });
      // In a rack but not mounted at a U: draws power, takes no U.
      await mk('s4', '/api/v1/servers', { name: 's4', rack_id: r1, power_supply_w: 250, status: 'provisioning', tenant_id: tA });
      await mk('s5', '/api/v1/servers', { name: 's5', status: 'planned' });
      await mk('s6', '/api/v1/servers', { name: 's6', rack_id: r3, u_position: 10, u_size: 2, power_supply_w: 2000, status: 'maintenance', tenant_id: tB });
      await mk('nd', '/api/v1/network/devices', { name: 'sw1', role: 'access_switch', rack_id: r1, u_position: 40, power_w: 150, tenant_id: tA });
      await mk('st', '/api/v1/storage', { name: 'san1', type: 'san', datacenter_id: dc2, rack_id: r3, u_position: 20, u_size: 2, power_w: 400, tenant_id: tB });
      const vm = await mk('vm1', '/api/v1/vms', { name: 'vm1', vcpus: 2, ram_gb: 4, host_server_id: s1, tenant_id: tA });
      await mk('vm2', '/api/v1/vms', { name: 'vm2', vcpus: 2, ram_gb: 4, host_server_id: s1, tenant_id: tA });
      await mk('c1', '/api/v1/containers', { name: 'c1', image: 'nginx', vm_id: vm, tenant_id: tA });
      scoped = await login('viewer', [tA]);
    });
    after(async () => {
      await app.close();
      await db.dispose();
    });

    const approx = (actual: unknown, expected: number, what: string) => assert.ok(typeof actual === 'number' && Math.abs(actual - expected) < 1e-9, `${what}: ${String(actual)} ≠ ${expected}`);

    it('needs a bearer', async () => {
      assert.equal((await call(app, 'GET', '/api/v1/dashboard/metrics')).status, 401);
    });

    it('gives an admin the figures of the whole inventory', async () => {
      const r = await call(app, 'GET', '/api/v1/dashboard/metrics', undefined, { authorization: `Bearer ${admin}` });
      assert.equal(r.status, 200, r.raw);
      const b = r.body;
      assert.equal(b.tenant_scoped, false);
      assert.deepEqual(b.counts, {
        datacenters: 2,
        racks: 3,
        servers: { total: 6, by_status: { planned: 2, provisioning: 1, active: 2, maintenance: 1, decommissioned: 0 } },
        vms: 2,
        containers: 1,
        network_devices: 1,
        storage: 1,
      });
      // U: R1 2+1+1 (switch), R2 4, R3 2+2; power: R1 500+750+250+150, R2 1000, R3 2000+400.
      assert.equal(b.racks.u_used, 12);
      assert.equal(b.racks.u_total, 132);
      approx(b.racks.u_utilisation, 12 / 132, 'u_utilisation');
      approx(b.racks.power_used_kw, 5.05, 'power_used_kw');
      approx(b.racks.power_capacity_kw, 15, 'power_capacity_kw');
      approx(b.racks.power_utilisation, 4.05 / 15, 'power_utilisation (racks with a capacity)');
      assert.equal(b.racks.by_datacenter.length, 2);
      const [d1, d2] = b.racks.by_datacenter;
      assert.deepEqual([d1.datacenter_id, d1.name, d1.racks, d1.u_used, d1.u_total], [ids['dc1'], 'DC One', 2, 8, 84]);
      approx(d1.power_used_kw, 2.65, 'dc1 power');
      approx(d1.power_capacity_kw, 10, 'dc1 capacity');
      approx(d1.power_utilisation, 0.165, 'dc1 power utilisation');
      assert.deepEqual([d2.datacenter_id, d2.racks, d2.u_used, d2.u_total], [ids['dc2'], 1, 4, 48]);
      approx(d2.power_utilisation, 0.48, 'dc2 power utilisation');
      assert.deepEqual(b.pue, [
        { datacenter_id: ids['dc1'], name: 'DC One', code: 'dc1', target: 1.4, measured: null },
        { datacenter_id: ids['dc2'], name: 'DC Two', code: 'dc2', target: null, measured: null },
      ]);
      assert.deepEqual(b.alerts, { active: 0, items: [] });
      assert.deepEqual(b.dhcp, {
        enabled: true,
        addresses: 110,
        used: 35,
        utilisation: 35 / 110,
        pools: [
          { subnet_id: 1, pool: '10.1.0.100-10.1.0.199', addresses: 100, used: 25, utilisation: 0.25 },
          { subnet_id: 2, pool: '10.2.0.10-10.2.0.19', addresses: 10, used: 10, utilisation: 1 },
        ],
      });
      assert.equal(b.tftp.enabled, true);
      assert.equal(b.tftp.active_transfers, 1);
    });

    it('gives a tenant-scoped user the figures of their tenants only', async () => {
      const r = await call(app, 'GET', '/api/v1/dashboard/metrics', undefined, { authorization: `Bearer ${scoped}` });
      assert.equal(r.status, 200, r.raw);
      const b = r.body;
      assert.equal(b.tenant_scoped, true);
      assert.deepEqual(b.counts, {
        datacenters: 1,
        racks: 2,
        servers: { total: 4, by_status: { planned: 1, provisioning: 1, active: 2, maintenance: 0, decommissioned: 0 } },
        vms: 2,
        containers: 1,
        network_devices: 1,
        storage: 0,
      });
      assert.equal(b.racks.u_used, 8);
      assert.equal(b.racks.u_total, 84);
      approx(b.racks.power_used_kw, 2.65, 'power_used_kw');
      approx(b.racks.power_utilisation, 0.165, 'power_utilisation');
      assert.deepEqual(b.racks.by_datacenter.map((d: { datacenter_id: number }) => d.datacenter_id), [ids['dc1']]);
      assert.deepEqual(b.pue.map((p: { code: string }) => p.code), ['dc1']);
      // Pools, leases and transfers belong to every tenant: withheld, not narrowed.
      assert.deepEqual(b.dhcp, { enabled: false, hidden: true, addresses: 0, used: 0, utilisation: null, pools: [] });
      assert.equal(b.tftp.hidden, true);
      assert.equal(b.tftp.active_transfers, 0);
      assert.equal(b.tftp.bytes_last_minute, 0);
      assert.ok(!r.raw.includes('10.1.0.') && !r.raw.includes('10.2.0.'), 'no pool of any subnet is named');
    });

    it('is in the OpenAPI document with its response schema, next to the WebSocket', async () => {
      const doc = (await call(app, 'GET', '/api/docs/json')).body;
      const op = doc.paths['/api/v1/dashboard/metrics'].get;
      assert.ok(op.responses['200'].content['application/json'].schema.properties.racks.properties.by_datacenter);
      assert.match(op.responses['200'].content['application/json'].schema.properties.alerts.description, /operations issue/);
      const ws = doc.paths['/api/v1/ws'].get;
      assert.match(ws.description, /access_token/);
      assert.match(ws.description, /4401/);
    });
  });
}

describe('dashboard sources', () => {
  it('TFTP: active transfers, and the last minute of the transfer log', () => {
    const f = tftpFigures(TRANSFERS, NOW);
    assert.deepEqual(f, {
      enabled: true,
      active_transfers: 1,
      completed_last_minute: 2,
      failed_last_minute: 1,
      bytes_last_minute: 3500,
      bytes_per_second: 3500 / 60,
      window_truncated: false,
    });
    const full = Array.from({ length: TFTP_TRANSFER_RING }, (_, i) => transfer(i, 'completed', NOW - 100 - i, 10));
    assert.equal(tftpFigures(full, NOW)['window_truncated'], true, 'a full ring within the minute says the figures are low');
    assert.equal(tftpFigures(undefined, NOW)['enabled'], false);
  });

  it('DHCP: pool usage read from the gauges the DHCP service registers', async () => {
    const registry = new Registry();
    new DhcpMetrics(registry, () => [
      { subnetId: 1, pool: '10.1.0.100-10.1.0.199', total: 100, used: 7 },
      { subnetId: 3, pool: '10.3.0.1-10.3.0.4', total: 4, used: 0 },
    ]);
    assert.deepEqual(await dhcpPoolsFromRegistry(registry), [
      { subnetId: 1, pool: '10.1.0.100-10.1.0.199', total: 100, used: 7 },
      { subnetId: 3, pool: '10.3.0.1-10.3.0.4', total: 4, used: 0 },
    ]);
    assert.deepEqual(await dhcpPoolsFromRegistry(new Registry()), []);
  });
});

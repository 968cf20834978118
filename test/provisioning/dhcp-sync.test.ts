/**
 * The inventory-driven DHCP configuration (src/provisioning): seeding from
 * the configuration file, the file-vs-inventory rule, live applies and
 * refused ones, on SQLite and PostgreSQL.
 */
import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { packageRoot } from '../../src/common/package-root.js';
import { applyDefaults } from '../../src/config/defaults.js';
import type { ResolvedDhcpConfig } from '../../src/config/defaults.js';
import { ConfigError } from '../../src/config/errors.js';
import type { SubnetConfig } from '../../src/config/types.js';
import { parseConfigText } from '../../src/config/load.js';
import { validateConfig } from '../../src/config/validate.js';
import { openInventory } from '../../src/inventory/inventory.js';
import { DhcpInventory } from '../../src/provisioning/dhcp-sync.js';
import { jsonLogSink } from '../helpers/app-fixtures.js';
import { describeEachBackend } from '../inventory/harness.js';

const FILE = applyDefaults({
  dhcp: {
    enabled: true,
    interfaces: ['eth1'],
    lease_time: 7200,
    subnets: [
      {
        id: 7,
        subnet: '10.70.0.0/24',
        interface: 'eth1',
        pools: ['10.70.0.100-10.70.0.199'],
        routers: ['10.70.0.1'],
        options: [{ name: 'domain-name', value: 'lab.example' }],
        reservations: [{ mac: '52:54:00:70:00:01', ip: '10.70.0.10', hostname: 'pdu-1', options: [{ code: 66, value: 'tftp.lab' }] }],
      },
    ],
  },
}).dhcp;

describeEachBackend('DHCP configuration from the inventory', (env) => {
  it('seeds the file once, audited as system; a differing file later is named in a warning and the inventory copy is served', async () => {
    const { inv } = env();
    const { logs, sink } = jsonLogSink();
    const applied: ResolvedDhcpConfig[] = [];
    let file: ResolvedDhcpConfig = FILE;
    const registry = new Registry();
    const sync = new DhcpInventory({ inventory: inv, logger: pino({ level: 'info' }, sink), registry, file: () => file, apply: async (c) => void applied.push(c) });
    await sync.seed(FILE);
    const subnet = await inv.dhcpSubnets.get(7);
    // What resolution added (inherited lease time, empty lists, option codes) is not stored as if the user wrote it.
    assert.deepEqual(subnet?.config, { interface: 'eth1', pools: ['10.70.0.100-10.70.0.199'], routers: ['10.70.0.1'], options: [{ name: 'domain-name', value: 'lab.example' }] });
    assert.equal((await inv.audit.list({ filters: [{ field: 'object_type', value: 'dhcp_subnet' }, { field: 'object_id', value: 7 }] })).rows[0]?.user, 'system');
    // A server in the subnet is a reservation of the inventory's own: no difference from the file either.
    const server = (await inv.servers.create({ name: 'node-7' })).row;
    await inv.serverInterfaces.create({ server_id: server.id, name: 'eth0', mac: '52:54:00:70:00:99', ip: '10.70.0.99', is_primary: true });
    await sync.seed(FILE);
    assert.equal(logs.filter((l) => l.level === 40).length, 0, 'the same file is no drift');
    // Composed: the file's reservation options survive (the inventory has no field for them).
    const composed = await sync.compose(FILE);
    assert.deepEqual(composed.subnets[0]?.reservations[0]?.options.map((o) => o.code), [66]);

    // The file changed and nobody wrote the subnet through the API (a Kea user): the file wins, audited as system.
    file = applyDefaults({ dhcp: { ...FILE, subnets: [{ ...FILE.subnets[0]!, pools: ['10.70.0.150-10.70.0.199'], reservations: [{ mac: '52:54:00:70:00:01', ip: '10.70.0.20' }] }] } }).dhcp;
    await sync.seed(file);
    assert.deepEqual((await inv.dhcpSubnets.get(7))?.config['pools'], ['10.70.0.150-10.70.0.199']);
    const own = await inv.dhcpReservations.list({ filters: [{ field: 'subnet_id', value: 7 }], ordering: ['ip'] });
    assert.deepEqual(own.rows.map((r) => [r.ip, r.server_id === null]), [['10.70.0.20', true], ['10.70.0.99', false]], 'the server-derived reservation stays');
    assert.equal(logs.filter((l) => l.level === 40).length, 0);

    // Changed through the API (a NetBox/MAAS user): from then on the inventory wins and a differing file is a warning.
    await inv.dhcpSubnets.update(7, { config: { ...(await inv.dhcpSubnets.get(7))!.config, pools: ['10.70.0.100-10.70.0.199'] } }, {}, { user: 'alice' });
    await sync.seed(file);
    const warning = logs.find((l) => l.level === 40 && l.subnet_id === 7);
    assert.ok(warning !== undefined, JSON.stringify(logs));
    assert.deepEqual(warning['differs'], ['pools']);
    assert.match(String(warning['msg']), /changed through the API; the inventory's copy is served.*PATCH \/api\/v1\/dhcp\/subnets\/7/);
    assert.deepEqual((await inv.dhcpSubnets.get(7))?.config['pools'], ['10.70.0.100-10.70.0.199']);
    file = FILE;

    // Live: an API write is recomposed and applied; a refused apply is counted and the next one applies again.
    sync.start();
    await inv.dhcpReservations.create({ subnet_id: 7, mac: '52:54:00:70:00:02', ip: '10.70.0.11' });
    await sync.settled();
    assert.deepEqual(applied.at(-1)?.subnets[0]?.reservations.map((r) => r.ip), ['10.70.0.99', '10.70.0.20', '10.70.0.11']);
    file = applyDefaults({ dhcp: { ...FILE, interfaces: ['eth2'] } }).dhcp; // subnet 7 names eth1, no longer served
    await inv.dhcpReservations.create({ subnet_id: 7, mac: '52:54:00:70:00:03', ip: '10.70.0.12' });
    await sync.settled();
    await assert.rejects(sync.compose(file), (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.code === 'CONFIG_ERR_INTERFACE_NOT_SERVED' && p.message.includes('/api/v1/dhcp/subnets/7')));
    file = FILE;
    await inv.dhcpReservations.create({ subnet_id: 7, mac: '52:54:00:70:00:04', ip: '10.70.0.13' });
    await sync.settled();
    sync.stop();
    const text = await registry.metrics();
    assert.match(text, /dcplane_dhcp_config_applies_total\{outcome="failed"\} 1\n/);
    assert.match(text, /dcplane_dhcp_config_applies_total\{outcome="applied"\} 2\n/);
    assert.equal(applied.at(-1)?.subnets[0]?.reservations.length, 5);
    // The next test seeds its own file into the same database.
    await inv.dhcpSubnets.delete(7, { cascade: true });
  });

  it('a reload seeds all or nothing with it: a refusal by the service, a subnet that cannot go in or a composition with problems writes nothing', async () => {
    const { inv } = env();
    const { logs, sink } = jsonLogSink();
    const applied: ResolvedDhcpConfig[] = [];
    const sync = new DhcpInventory({ inventory: inv, logger: pino({ level: 'info' }, sink), registry: new Registry(), file: () => FILE, apply: async (c) => void applied.push(c), debounceMs: 1 });
    sync.start();
    // Behind relays: one interface serves one subnet's direct clients.
    const subnet = (id: number, cidr: string) => ({ id, subnet: `${cidr}.0/24`, relay_addresses: [`10.99.1.${id}`], pools: [`${cidr}.100-${cidr}.199`], reservations: [{ mac: `52:54:00:00:${id}:01`, ip: `${cidr}.10` }] });
    const file = (subnets: SubnetConfig[], interfaces = ['eth1', 'eth2']) => {
      const check = validateConfig({ dhcp: { ...FILE, interfaces, subnets } });
      assert.ok(check.ok, JSON.stringify(check));
      return applyDefaults({ dhcp: { ...FILE, interfaces, subnets } }).dhcp;
    };
    const stored = async () => ({
      subnets: (await inv.dhcpSubnets.list({ filters: [{ field: 'id', lookup: 'in', value: [50, 51, 52, 53] }], ordering: ['id'] })).rows.map((r) => r.id),
      audited: (await inv.audit.list({ filters: [{ field: 'object_type', value: 'dhcp_subnet' }, { field: 'object_id', lookup: 'in', value: [50, 51, 52] }] })).count,
      reservations: (await inv.dhcpReservations.list({ filters: [{ field: 'subnet_id', lookup: 'in', value: [50, 51, 52] }] })).count,
    });
    // An API subnet the file does not have, on eth1.
    await inv.dhcpSubnets.create({ id: 53, subnet: '10.153.0.0/24', config: { interface: 'eth1', pools: ['10.153.0.100-10.153.0.199'] } }, { user: 'alice' });
    await sync.settled();
    const before = applied.length;

    let composedInUse: ResolvedDhcpConfig | undefined;
    await assert.rejects(
      sync.reload(file([subnet(50, '10.150.0'), subnet(51, '10.151.0')]), async (compose) => {
        composedInUse = await compose();
        throw new Error('refused by the service');
      }),
      /refused by the service/,
    );
    assert.deepEqual(composedInUse?.subnets.map((s) => s.id).filter((id) => id >= 50), [50, 51, 53], 'the service was offered the composition with the seeded subnets');
    // A file subnet the inventory refuses (it overlaps subnet 53): the other one goes neither.
    await assert.rejects(sync.reload(file([subnet(50, '10.150.0'), { ...subnet(52, '10.153.0'), pools: ['10.153.0.10-10.153.0.20'], reservations: [] }]), async () => undefined), /dhcp subnet 52 \(10\.153\.0\.0\/24\).*cannot be put into the inventory/);
    // The file no longer serves eth1, which subnet 53 names: the composition is refused.
    await assert.rejects(
      sync.reload(file([subnet(50, '10.150.0')], ['eth2']), async (compose) => void (await compose())),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.code === 'CONFIG_ERR_INTERFACE_NOT_SERVED' && p.message.includes('/api/v1/dhcp/subnets/53')),
    );
    await sync.settled();
    assert.deepEqual(await stored(), { subnets: [53], audited: 0, reservations: 0 }, 'nothing written, nothing audited');
    assert.equal(applied.length, before, 'no change event, so no apply');
    assert.equal(logs.filter((l) => /seeded into the inventory/.test(String(l.msg))).length, 0);

    // Accepted: committed once the service has taken it.
    await sync.reload(file([subnet(50, '10.150.0'), subnet(51, '10.151.0')]), async (compose) => void (await compose()));
    await sync.settled();
    assert.deepEqual(await stored(), { subnets: [50, 51, 53], audited: 2, reservations: 2 });
    assert.equal(logs.filter((l) => /seeded into the inventory/.test(String(l.msg))).length, 2);
    sync.stop();
    for (const id of [50, 51, 53]) await inv.dhcpSubnets.delete(id, { cascade: true });
  });

  it('at start, seeding is all or nothing with the start too: a file subnet the inventory refuses is named with its field, and nothing is written', async () => {
    // As the app's: writes must compose with the file's dhcp section.
    const inv = openInventory(env().db, { dhcpFile: () => FILE });
    const { logs, sink } = jsonLogSink();
    const sync = new DhcpInventory({ inventory: inv, logger: pino({ level: 'info' }, sink), registry: new Registry(), file: () => FILE, apply: async () => undefined });
    const subnet = (id: number, cidr: string) => ({ id, subnet: `${cidr}.0/24`, relay_addresses: [`10.99.2.${id}`], pools: [`${cidr}.100-${cidr}.199`], reservations: [{ mac: `52:54:00:00:${id}:01`, ip: `${cidr}.10` }] });
    const file = (subnets: SubnetConfig[]) => {
      const check = validateConfig({ dhcp: { ...FILE, subnets } });
      assert.ok(check.ok, JSON.stringify(check));
      return applyDefaults({ dhcp: { ...FILE, subnets } }).dhcp;
    };
    const stored = async () => ({
      subnets: (await inv.dhcpSubnets.list({ filters: [{ field: 'id', lookup: 'in', value: [80, 81, 83] }], ordering: ['id'] })).rows.map((r) => r.id),
      audited: (await inv.audit.list({ filters: [{ field: 'object_type', value: 'dhcp_subnet' }, { field: 'object_id', lookup: 'in', value: [80, 81] }] })).count,
      reservations: (await inv.dhcpReservations.list({ filters: [{ field: 'subnet_id', lookup: 'in', value: [80, 81] }] })).count,
    });
    await inv.dhcpSubnets.create({ id: 83, subnet: '10.183.0.0/25', config: { relay_addresses: ['10.99.2.83'] } }, { user: 'alice' });
    // Subnet 81 overlaps subnet 83 of the API: the start is refused, naming it and the field; subnet 80 is not seeded either.
    await assert.rejects(sync.seed(file([subnet(80, '10.180.0'), subnet(81, '10.183.0')])), /dhcp subnet 81 \(10\.183\.0\.0\/24\) of the configuration file cannot be put into the inventory: subnet: .*overlaps/);
    // The services refuse the start.
    await assert.rejects(sync.seed(file([subnet(80, '10.180.0')]), async (compose) => {
      assert.deepEqual((await compose()).subnets.map((s) => s.id).filter((id) => id >= 80), [80, 83]);
      throw new Error('refused by the service');
    }), /refused by the service/);
    assert.deepEqual(await stored(), { subnets: [83], audited: 0, reservations: 0 }, 'nothing written, nothing audited');
    assert.equal(logs.filter((l) => /seeded into the inventory/.test(String(l.msg))).length, 0);

    await sync.seed(file([subnet(80, '10.180.0')]), async (compose) => void (await compose()));
    assert.deepEqual(await stored(), { subnets: [80, 83], audited: 1, reservations: 1 });
    for (const id of [80, 83]) await inv.dhcpSubnets.delete(id, { cascade: true });
  });

  it('tells a subnet written through the API from the file\'s exactly, however long the audit log, and gives it back to the file once deleted', async () => {
    const { inv } = env();
    const { logs, sink } = jsonLogSink();
    const sync = new DhcpInventory({ inventory: inv, logger: pino({ level: 'info' }, sink), registry: new Registry(), file: () => FILE, apply: async () => undefined });
    const alice = { user: 'alice' };
    const subnet = (id: number, cidr: string, pools: string, reservations: Record<string, unknown>[] = []) => ({ id, subnet: `${cidr}.0/24`, relay_addresses: [`10.99.1.${id}`], pools: [pools], reservations });
    const file = (first: number) => {
      const dhcp = { ...FILE, interfaces: ['eth1', 'eth2'], subnets: [subnet(60, '10.160.0', `10.160.0.${first}-10.160.0.199`), subnet(62, '10.162.0', `10.162.0.${first}-10.162.0.199`, [{ mac: '52:54:00:62:00:01', ip: '10.162.0.5' }])] };
      const check = validateConfig({ dhcp });
      assert.ok(check.ok, JSON.stringify(check));
      return applyDefaults({ dhcp }).dhcp;
    };
    const pools = async (id: number) => (await inv.dhcpSubnets.get(id))?.config['pools'];
    const warned = (id: number) => logs.filter((l) => l.level === 40 && l.subnet_id === id && /changed through the API/.test(String(l.msg))).length;
    await sync.seed(file(100));
    // Subnet 60: a reservation of its own created and deleted through the API. Subnet 62: the file's reservation moved out through the API.
    const r = await inv.dhcpReservations.create({ subnet_id: 60, mac: '52:54:00:60:00:09', ip: '10.160.0.9' }, alice);
    await inv.dhcpReservations.delete(r.row.id, {}, alice);
    await inv.dhcpSubnets.create({ id: 61, subnet: '10.164.0.0/22', config: { relay_addresses: ['10.99.1.61'] } }, alice);
    const moved = (await inv.dhcpReservations.list({ filters: [{ field: 'subnet_id', value: 62 }] })).rows[0]!;
    await inv.dhcpReservations.update(moved.id, { subnet_id: 61, ip: '10.164.3.250' }, {}, alice);
    // Then more API reservation deletes than the old check looked at (the newest 1000), all in subnet 61.
    const hex = (n: number) => n.toString(16).padStart(2, '0');
    const rows = Array.from({ length: 1001 }, (_, i) => ({ subnet_id: 61, mac: `02:61:00:00:${hex((i + 1) >> 8)}:${hex((i + 1) & 255)}`, ip: `10.164.${(i + 1) >> 8}.${(i + 1) & 255}` }));
    const made = await inv.dhcpReservations.bulkCreate(rows, alice);
    await inv.dhcpReservations.bulkDelete(made.rows.map((x) => x.id), {}, alice);

    await sync.seed(file(150));
    assert.equal(warned(60), 1, JSON.stringify(logs.filter((l) => Number(l.level) >= 40)));
    assert.equal(warned(62), 1);
    assert.deepEqual(await pools(60), ['10.160.0.100-10.160.0.199'], 'the API-owned copy is served, not overwritten');
    assert.deepEqual(await pools(62), ['10.162.0.100-10.162.0.199']);

    // Handed back to the file (deleted through the API, seeded again): the file's from then on.
    await inv.dhcpSubnets.delete(60, { cascade: true }, alice);
    await sync.seed(file(150));
    await sync.seed(file(120));
    assert.deepEqual(await pools(60), ['10.160.0.120-10.160.0.199'], 'the file wins again');
    assert.equal(warned(60), 1, 'no new warning');
    for (const id of [60, 61, 62]) await inv.dhcpSubnets.delete(id, { cascade: true });
  });

  it('seeding the full example file and comparing it again finds no difference', async () => {
    const { inv } = env();
    const example = parseConfigText(readFileSync(join(packageRoot(), 'examples', 'dcplane.example.json'), 'utf8')).dhcp;
    const { logs, sink } = jsonLogSink();
    const sync = new DhcpInventory({ inventory: inv, logger: pino({ level: 'info' }, sink), registry: new Registry(), file: () => example, apply: async () => undefined });
    await sync.seed(example);
    await sync.seed(example);
    assert.deepEqual(logs.filter((l) => Number(l.level) >= 40), []);
    assert.equal((await sync.compose(example)).subnets.length, example.subnets.length);
  });
});

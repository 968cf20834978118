/**
 * More DHCP subnets than one list page (1,000): a subnet write is checked
 * against every other subnet, and servers' derived reservations are found in
 * every subnet, on SQLite and PostgreSQL.
 */
import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import { applyDefaults } from '../../src/config/defaults.js';
import { InventoryErrorCode as E } from '../../src/inventory/errors.js';
import { describeEachBackend, rejectsWith, uniq } from './harness.js';

const FILE = applyDefaults({ dhcp: { enabled: true, interfaces: ['eth1', 'eth2'], subnets: [] } }).dhcp;
const COUNT = 1100;
/** Subnet i (1..COUNT) is 10.(100 + i / 256).(i % 256).0/24. */
const net = (i: number) => `10.${100 + (i >> 8)}.${i & 255}`;

describeEachBackend(
  'DHCP subnets beyond the first 1,000',
  (env) => {
    it('a subnet write sees every other subnet, and a server in the last subnet keeps its reservation', async () => {
      const { inv } = env();
      const rows = Array.from({ length: COUNT }, (_, k) => ({ id: k + 1, subnet: `${net(k + 1)}.0/24`, config: { pools: [`${net(k + 1)}.100-${net(k + 1)}.199`] } }));
      // The last one serves eth1's direct clients and those behind relay 10.99.5.1.
      rows[COUNT - 1] = { ...rows[COUNT - 1]!, config: { ...rows[COUNT - 1]!.config, interface: 'eth1', relay_addresses: ['10.99.5.1'] } as { pools: string[] } };
      await inv.dhcpSubnets.bulkCreate(rows);
      assert.equal((await inv.dhcpSubnets.list({ limit: 1 })).count, COUNT);

      // The written subnet itself is past the first 1,000: its own configuration is checked.
      await rejectsWith(inv.dhcpSubnets.update(COUNT, { config: { interface: 'eth1', pools: [`${net(COUNT)}.0-${net(COUNT)}.9`] } }), [[E.DHCP_CONFIG_INVALID, 'config.pools[0]']]);
      // A new subnet overlapping subnet 1044 (10.104.20.0/24), or claiming the interface subnet 1100 serves.
      await rejectsWith(inv.dhcpSubnets.create({ id: COUNT + 1, subnet: `${net(1044)}.128/25` }), [[E.DHCP_CONFIG_INVALID, 'subnet']]);
      await rejectsWith(inv.dhcpSubnets.update(5, { config: { interface: 'eth1', pools: [`${net(5)}.100-${net(5)}.199`] } }), [[E.DHCP_CONFIG_INVALID, 'config.interface']]);
      await rejectsWith(inv.dhcpSubnets.update(5, { config: { relay_addresses: ['10.99.5.1'], pools: [`${net(5)}.100-${net(5)}.199`] } }), [[E.DHCP_CONFIG_INVALID, 'config.relay_addresses[0]']]);
      // What meets no other subnet is accepted.
      await inv.dhcpSubnets.update(5, { config: { interface: 'eth2', relay_addresses: ['10.99.5.2'], pools: [`${net(5)}.100-${net(5)}.199`] } });
      assert.deepEqual((await inv.dhcpSubnets.get(COUNT))?.config['pools'], [`${net(COUNT)}.100-${net(COUNT)}.199`], 'the refused write left it as it was');
      assert.equal(await inv.dhcpSubnets.get(COUNT + 1), undefined);

      // A server whose primary address is in the last subnet is its reservation, and stays one after another subnet's write.
      const server = (await inv.servers.create({ name: uniq('far').toLowerCase() })).row;
      await inv.serverInterfaces.create({ server_id: server.id, name: 'eth0', mac: '52:54:00:11:00:01', ip: `${net(COUNT)}.10`, is_primary: true });
      const derived = async () => (await inv.dhcpReservations.list({ filters: [{ field: 'server_id', value: server.id }] })).rows.map((r) => [r.subnet_id, r.ip]);
      assert.deepEqual(await derived(), [[COUNT, `${net(COUNT)}.10`]]);
      await inv.dhcpSubnets.update(7, { description: 'touched' });
      assert.deepEqual(await derived(), [[COUNT, `${net(COUNT)}.10`]], 'a subnet write does not drop reservations in subnets past the first 1,000');
      // Moved into an early subnet and back: found both ways.
      const nic = (await inv.serverInterfaces.list({ filters: [{ field: 'server_id', value: server.id }] })).rows[0]!;
      await inv.serverInterfaces.update(nic.id, { ip: `${net(3)}.10` });
      assert.deepEqual(await derived(), [[3, `${net(3)}.10`]]);
      await inv.serverInterfaces.update(nic.id, { ip: `${net(1099)}.10` });
      assert.deepEqual(await derived(), [[1099, `${net(1099)}.10`]]);
      // A subnet stored with a two-digit short prefix is found as well.
      await inv.dhcpSubnets.create({ id: 2000, subnet: '11.0.0.0/08', config: { pools: ['11.0.0.100-11.0.0.199'] } });
      await inv.serverInterfaces.update(nic.id, { ip: '11.0.0.10' });
      assert.deepEqual(await derived(), [[2000, '11.0.0.10']]);

      // A fixed address inside a dynamic pool of a subnet past the first 1,000 is refused: a server's, a reservation's.
      await rejectsWith(inv.serverInterfaces.update(nic.id, { ip: `${net(COUNT)}.150` }), [[E.IP_IN_DYNAMIC_POOL, 'ip']]);
      await rejectsWith(inv.serverInterfaces.update(nic.id, { ip: '11.0.0.150' }), [[E.IP_IN_DYNAMIC_POOL, 'ip']]);
      await rejectsWith(inv.dhcpReservations.create({ subnet_id: COUNT, mac: '52:54:00:11:00:02', ip: `${net(COUNT)}.150` }), [[E.IP_IN_DYNAMIC_POOL, 'ip']]);
      await rejectsWith(inv.dhcpReservations.create({ subnet_id: COUNT, mac: '52:54:00:11:00:02', ip: `${net(1)}.20` }), [[E.IP_OUTSIDE_SUBNET, 'ip']]);
      assert.deepEqual(await derived(), [[2000, '11.0.0.10']]);
    });
  },
  { dhcpFile: () => FILE },
);

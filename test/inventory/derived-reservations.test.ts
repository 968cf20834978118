/**
 * A server's primary interface (MAC + IP inside a DHCP subnet) is a DHCP
 * reservation, kept in step in the same transaction as the write that
 * changes it; on SQLite and PostgreSQL.
 */
import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import { InventoryErrorCode as E } from '../../src/inventory/errors.js';
import type { Inventory } from '../../src/inventory/inventory.js';
import { describeEachBackend, rejectsWith, uniq } from './harness.js';

let subnetSeq = 0;
/** A subnet of its own (10.<n>.0.0/24, pool .100-.199) for one test. */
async function subnetFixture(inv: Inventory): Promise<{ id: number; net: string }> {
  const n = 20 + ++subnetSeq;
  const id = 1000 + n;
  await inv.dhcpSubnets.create({ id, subnet: `10.${n}.0.0/24`, config: { pools: [`10.${n}.0.100-10.${n}.0.199`] } });
  return { id, net: `10.${n}.0` };
}

let macSeq = 0;
const mac = () => `52:54:00:10:${Math.floor(++macSeq / 256).toString(16).padStart(2, '0')}:${(macSeq % 256).toString(16).padStart(2, '0')}`;

async function derivedOf(inv: Inventory, serverId: number) {
  return (await inv.dhcpReservations.list({ filters: [{ field: 'server_id', value: serverId }] })).rows;
}

describeEachBackend('derived DHCP reservations', (env) => {
  it('follows the primary interface: created, moved, renamed, dropped, with the server', async () => {
    const { inv } = env();
    const { id: subnetId, net } = await subnetFixture(inv);
    const name = uniq('web').toLowerCase();
    const server = (await inv.servers.create({ name })).row;
    const m = mac();
    const nic = (await inv.serverInterfaces.create({ server_id: server.id, name: 'eth0', mac: m, ip: `${net}.10`, is_primary: true })).row;
    let rows = await derivedOf(inv, server.id);
    assert.equal(rows.length, 1);
    assert.deepEqual(
      { subnet_id: rows[0]!.subnet_id, mac: rows[0]!.mac, ip: rows[0]!.ip, hostname: rows[0]!.hostname, server_id: rows[0]!.server_id },
      { subnet_id: subnetId, mac: m, ip: `${net}.10`, hostname: name, server_id: server.id },
    );
    // The derived row is audited with the write that caused it.
    const audit = await inv.audit.list({ filters: [{ field: 'object_type', value: 'dhcp_reservation' }, { field: 'object_id', value: rows[0]!.id }] });
    assert.equal(audit.count, 1);

    await inv.serverInterfaces.update(nic.id, { ip: `${net}.11` });
    await inv.servers.update(server.id, { name: `${name}-b` });
    rows = await derivedOf(inv, server.id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.ip, `${net}.11`);
    assert.equal(rows[0]!.hostname, `${name}-b`);

    // An address outside every DHCP subnet, or no longer primary: no reservation.
    await inv.serverInterfaces.update(nic.id, { ip: '192.168.250.5' });
    assert.equal((await derivedOf(inv, server.id)).length, 0);
    await inv.serverInterfaces.update(nic.id, { ip: `${net}.12` });
    assert.equal((await derivedOf(inv, server.id)).length, 1);
    await inv.serverInterfaces.update(nic.id, { is_primary: false });
    assert.equal((await derivedOf(inv, server.id)).length, 0);
    await inv.serverInterfaces.update(nic.id, { is_primary: true });
    const before = (await derivedOf(inv, server.id))[0]!;
    await inv.servers.delete(server.id);
    assert.equal(await inv.dhcpReservations.get(before.id), undefined);
  });

  it('a subnet created (or widened) to cover a server address makes its reservation; a host name that is no DNS name is left out', async () => {
    const { inv } = env();
    const server = (await inv.servers.create({ name: uniq('rack 3 / db') })).row;
    await inv.serverInterfaces.create({ server_id: server.id, name: 'eth0', mac: mac(), ip: '10.99.0.10', is_primary: true });
    assert.equal((await derivedOf(inv, server.id)).length, 0);
    const subnet = (await inv.dhcpSubnets.create({ id: 1099, subnet: '10.99.0.0/25' })).row;
    const rows = await derivedOf(inv, server.id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.subnet_id, subnet.id);
    assert.equal(rows[0]!.hostname, null);
    // Narrowed so that it no longer holds the address: the reservation goes, in the same write.
    await inv.dhcpSubnets.update(subnet.id, { subnet: '10.99.0.128/25' });
    assert.equal((await derivedOf(inv, server.id)).length, 0);
  });

  it('refuses a server whose reservation would take a MAC or address another reservation of the subnet holds; nothing of the write is left', async () => {
    const { inv } = env();
    const { id: subnetId, net } = await subnetFixture(inv);
    const takenMac = mac();
    await inv.dhcpReservations.create({ subnet_id: subnetId, mac: takenMac, ip: `${net}.20` });
    const server = (await inv.servers.create({ name: uniq('s') })).row;
    const e = await rejectsWith(inv.serverInterfaces.create({ server_id: server.id, name: 'eth0', mac: mac(), ip: `${net}.20`, is_primary: true }), [[E.RESERVATION_CONFLICT, 'ip']]);
    assert.match(e.message, /already used by dhcp_reservation/);
    assert.equal(e.status, 409);
    await rejectsWith(inv.serverInterfaces.create({ server_id: server.id, name: 'eth0', mac: takenMac, ip: `${net}.21`, is_primary: true }), [[E.RESERVATION_CONFLICT, 'mac']]);
    assert.equal((await inv.serverInterfaces.list({ filters: [{ field: 'server_id', value: server.id }] })).count, 0);
    // Two servers of one transaction wanting one address: the second is refused, and so is the whole transaction.
    const other = (await inv.servers.create({ name: uniq('s') })).row;
    await rejectsWith(
      inv.transaction(async (tx) => {
        await tx.serverInterfaces.create({ server_id: server.id, name: 'eth0', mac: mac(), ip: `${net}.30`, is_primary: true });
        await tx.serverInterfaces.create({ server_id: other.id, name: 'eth0', mac: mac(), ip: `${net}.30`, is_primary: true });
      }),
      [[E.RESERVATION_CONFLICT, 'ip']],
    );
    assert.equal((await derivedOf(inv, server.id)).length, 0);
    // In one bulk write: the clash names the other server, not a row of dcplane's own inner write.
    const clash = await rejectsWith(
      inv.serverInterfaces.bulkCreate([
        { server_id: server.id, name: 'eth0', mac: mac(), ip: `${net}.31`, is_primary: true },
        { server_id: other.id, name: 'eth0', mac: mac(), ip: `${net}.31`, is_primary: true },
      ]),
      [[E.RESERVATION_CONFLICT, 'ip']],
    );
    assert.match(clash.message, new RegExp(`the reservation of server "${String(server.name)}" \\(id ${server.id}\\) in this write`));
  });

  it('refuses direct edits and deletes of a derived reservation, and a reservation naming a server', async () => {
    const { inv } = env();
    const { id: subnetId, net } = await subnetFixture(inv);
    const server = (await inv.servers.create({ name: uniq('s') })).row;
    await inv.serverInterfaces.create({ server_id: server.id, name: 'eth0', mac: mac(), ip: `${net}.40`, is_primary: true });
    const derived = (await derivedOf(inv, server.id))[0]!;
    await rejectsWith(inv.dhcpReservations.update(derived.id, { ip: `${net}.41` }), [[E.RESERVATION_DERIVED, 'server_id']]);
    const e = await rejectsWith(inv.dhcpReservations.delete(derived.id), [[E.RESERVATION_DERIVED, '']]);
    assert.match(e.message, /edit the server/);
    await rejectsWith(inv.dhcpReservations.create({ subnet_id: subnetId, mac: mac(), ip: `${net}.42`, server_id: server.id }), [[E.RESERVATION_DERIVED, 'server_id']]);
    // A subnet holding derived reservations is deleted only with cascade, which takes them along.
    await rejectsWith(inv.dhcpSubnets.delete(subnetId), [[E.HAS_DEPENDENTS, 'dhcp_reservations']]);
    await inv.dhcpSubnets.delete(subnetId, { cascade: true });
    assert.equal((await derivedOf(inv, server.id)).length, 0);
  });

  it('bulk: a thousand servers with primary interfaces become a thousand reservations in one write', async () => {
    const { inv } = env();
    await inv.dhcpSubnets.create({ id: 1200, subnet: '10.200.0.0/16', config: { pools: ['10.200.255.1-10.200.255.200'] } });
    const servers = (await inv.servers.bulkCreate(Array.from({ length: 1000 }, () => ({ name: uniq('bulk') })))).rows;
    await inv.serverInterfaces.bulkCreate(servers.map((s, i) => ({ server_id: s.id, name: 'eth0', mac: mac(), ip: `10.200.${Math.floor(i / 250)}.${(i % 250) + 1}`, is_primary: true })));
    assert.equal((await inv.dhcpReservations.list({ filters: [{ field: 'subnet_id', value: 1200 }, { field: 'server_id', lookup: 'isnull', value: false }] })).count, 1000);
  });
});

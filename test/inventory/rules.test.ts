import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import { InventoryErrorCode as E } from '../../src/inventory/errors.js';
import { describeEachBackend, rackFixture, rejectsWith, uniq } from './harness.js';

describeEachBackend('inventory rules', (env) => {
  it('refuses two devices in the same U of a rack, across servers, network devices and storage', async () => {
    const { inv } = env();
    const { dcId, rackId } = await rackFixture(inv);
    await inv.servers.create({ name: uniq('s'), rack_id: rackId, u_position: 10, u_size: 2 });
    const e = await rejectsWith(inv.servers.create({ name: uniq('s'), rack_id: rackId, u_position: 11, u_size: 1 }), [[E.U_OVERLAP, 'u_position']]);
    assert.match(e.message, /U11-U11 .* overlaps server/);
    await rejectsWith(inv.networkDevices.create({ name: uniq('sw'), role: 'access_switch', rack_id: rackId, u_position: 9, u_size: 2 }), [[E.U_OVERLAP, 'u_position']]);
    await rejectsWith(inv.storageSystems.create({ name: uniq('st'), type: 'san', datacenter_id: dcId, rack_id: rackId, u_position: 11, u_size: 4 }), [[E.U_OVERLAP, 'u_position']]);
    // Adjacent is fine: a 2U at 10 holds 10-11.
    await inv.networkDevices.create({ name: uniq('sw'), role: 'access_switch', rack_id: rackId, u_position: 12 });
    await inv.storageSystems.create({ name: uniq('st'), type: 'nas', datacenter_id: dcId, rack_id: rackId, u_position: 8, u_size: 2 });
    // Moving a device onto another is refused; moving it within its own span is not an overlap with itself.
    const s = await inv.servers.create({ name: uniq('s'), rack_id: rackId, u_position: 20, u_size: 2 });
    await inv.servers.update(s.row.id, { u_position: 21 });
    await rejectsWith(inv.servers.update(s.row.id, { u_position: 11 }), [[E.U_OVERLAP, 'u_position']]);
    // A device in another rack may use the same U.
    const other = await rackFixture(inv);
    await inv.servers.create({ name: uniq('s'), rack_id: other.rackId, u_position: 10, u_size: 2 });
  });

  it('refuses anything past the top of the rack or positioned without a rack', async () => {
    const { inv } = env();
    const { rackId } = await rackFixture(inv, { u_height: 42 });
    await inv.servers.create({ name: uniq('top'), rack_id: rackId, u_position: 41, u_size: 2 });
    const e = await rejectsWith(inv.servers.create({ name: uniq('s'), rack_id: rackId, u_position: 42, u_size: 2 }), [[E.U_OUT_OF_RANGE, 'u_position']]);
    assert.match(e.message, /reaches U43/);
    await rejectsWith(inv.servers.create({ name: uniq('s'), rack_id: rackId, u_position: 0 }), [[E.U_OUT_OF_RANGE, 'u_position']]);
    await rejectsWith(inv.networkDevices.create({ name: uniq('s'), role: 'router', rack_id: rackId, u_position: -2, u_size: 4 }), [[E.U_OUT_OF_RANGE, 'u_position']]);
    await rejectsWith(inv.servers.create({ name: uniq('s'), u_position: 3 }), [[E.U_POSITION_WITHOUT_RACK, 'u_position']]);
    // A rack cannot shrink below what it holds.
    await rejectsWith(inv.racks.update(rackId, { u_height: 40 }), [[E.U_OUT_OF_RANGE, 'u_height']]);
    await inv.racks.update(rackId, { u_height: 44 });
  });

  it('warns about a rack over its power budget, or refuses when asked', async () => {
    const { inv } = env();
    const { rackId } = await rackFixture(inv, { power_capacity_kw: 1 });
    const a = await inv.servers.create({ name: uniq('p'), rack_id: rackId, power_supply_w: 600 });
    assert.deepEqual(a.warnings, []);
    const b = await inv.servers.create({ name: uniq('p'), rack_id: rackId, power_supply_w: 300 });
    assert.deepEqual(b.warnings, []);
    // Default mode warns and writes.
    const c = await inv.networkDevices.create({ name: uniq('fw'), role: 'firewall', rack_id: rackId, power_w: 200 });
    assert.deepEqual(c.warnings.map((w) => [w.code, w.path]), [[E.RACK_POWER_BUDGET, 'power_w']]);
    assert.match(c.warnings[0]?.message ?? '', /1100 W, over its 1 kW budget/);
    // Refuse mode fails and writes nothing.
    const name = uniq('p');
    await rejectsWith(inv.servers.create({ name, rack_id: rackId, power_supply_w: 50 }, { powerBudget: 'refuse' }), [[E.RACK_POWER_BUDGET, 'power_supply_w']]);
    assert.equal((await inv.servers.list({ filters: [{ field: 'name', value: name }] })).count, 0);
    // A write that adds no draw is not blamed for an existing overload.
    await inv.servers.update(a.row.id, { os: 'Debian' }, {}, { powerBudget: 'refuse' });
    await inv.servers.update(a.row.id, { power_supply_w: 500 }, {}, { powerBudget: 'refuse' });
    // Lowering the rack's capacity under its draw is the rack's problem.
    await rejectsWith(inv.racks.update(rackId, { power_capacity_kw: 0.5 }, {}, { powerBudget: 'refuse' }), [[E.RACK_POWER_BUDGET, 'power_capacity_kw']]);
    const w = await inv.racks.update(rackId, { power_capacity_kw: 0.5 });
    assert.deepEqual(w.warnings.map((x) => x.path), ['power_capacity_kw']);
  });

  it('keeps serials unique per device table', async () => {
    const { inv } = env();
    const serial = uniq('SN');
    await inv.servers.create({ name: uniq('s'), serial });
    await rejectsWith(inv.servers.create({ name: uniq('s'), serial }), [[E.DUPLICATE_SERIAL, 'serial']]);
    const s2 = await inv.servers.create({ name: uniq('s') });
    await rejectsWith(inv.servers.update(s2.row.id, { serial }), [[E.DUPLICATE_SERIAL, 'serial']]);
    // Unset serials do not collide.
    await inv.servers.create({ name: uniq('s') });
    const nd = await inv.networkDevices.create({ name: uniq('n'), role: 'router', serial: `${serial}-N` });
    await rejectsWith(inv.networkDevices.create({ name: uniq('n'), role: 'router', serial: nd.row.serial }), [[E.DUPLICATE_SERIAL, 'serial']]);
  });

  it('keeps names unique in their scope', async () => {
    const { inv } = env();
    const { dcId } = await rackFixture(inv);
    const dc2 = await inv.datacenters.create({ name: uniq('DC'), code: uniq('dc').toLowerCase() });
    await inv.racks.create({ datacenter_id: dcId, name: 'R-SAME' });
    await rejectsWith(inv.racks.create({ datacenter_id: dcId, name: 'R-SAME' }), [[E.DUPLICATE_NAME, 'name']]);
    await inv.racks.create({ datacenter_id: dc2.row.id, name: 'R-SAME' });
    const dcName = (await inv.datacenters.get(dcId))!.name;
    await rejectsWith(inv.datacenters.create({ name: dcName, code: uniq('x').toLowerCase() }), [[E.DUPLICATE_NAME, 'name']]);
    // Servers: per tenant, "no tenant" being a scope of its own.
    const t1 = await inv.tenants.create({ name: uniq('T'), slug: uniq('t').toLowerCase() });
    const t2 = await inv.tenants.create({ name: uniq('T'), slug: uniq('t').toLowerCase() });
    const n = uniq('web');
    await inv.servers.create({ name: n });
    await rejectsWith(inv.servers.create({ name: n }), [[E.DUPLICATE_NAME, 'name']]);
    await inv.servers.create({ name: n, tenant_id: t1.row.id });
    await inv.servers.create({ name: n, tenant_id: t2.row.id });
    await rejectsWith(inv.servers.create({ name: n, tenant_id: t2.row.id }), [[E.DUPLICATE_NAME, 'name']]);
    await rejectsWith(inv.tenants.create({ name: uniq('T'), slug: t1.row.slug }), [[E.DUPLICATE_VALUE, 'slug']]);
  });

  it('keeps MACs unique whatever their spelling, and one primary interface per server', async () => {
    const { inv } = env();
    const s = await inv.servers.create({ name: uniq('m') });
    await inv.serverInterfaces.create({ server_id: s.row.id, name: 'eth0', mac: '52:54:00:AB:00:01', is_primary: true });
    const e = await rejectsWith(inv.serverInterfaces.create({ server_id: s.row.id, name: 'eth1', mac: '52-54-00-ab-00-01' }), [[E.DUPLICATE_MAC, 'mac']]);
    assert.match(e.message, /52:54:00:ab:00:01/);
    await rejectsWith(inv.serverInterfaces.create({ server_id: s.row.id, name: 'eth0', mac: '52:54:00:ab:00:02' }), [[E.DUPLICATE_NAME, 'name']]);
    await rejectsWith(inv.serverInterfaces.create({ server_id: s.row.id, name: 'eth2', is_primary: true }), [[E.DUPLICATE_VALUE, 'is_primary']]);
    await inv.serverInterfaces.create({ server_id: s.row.id, name: 'eth2', is_primary: false });
  });

  it('refuses a server interface address inside a DHCP dynamic pool', async () => {
    const { inv } = env();
    const subnet = await inv.dhcpSubnets.create({ id: 77, subnet: '10.77.0.0/16', config: { pools: ['10.77.1.0-10.77.1.255', { range: '10.77.2.0/24' }] } });
    assert.equal(subnet.row.id, 77);
    const s = await inv.servers.create({ name: uniq('ip') });
    const e = await rejectsWith(inv.serverInterfaces.create({ server_id: s.row.id, name: 'eth0', ip: '10.77.1.20' }), [[E.IP_IN_DYNAMIC_POOL, 'ip']]);
    assert.match(e.message, /10\.77\.1\.0-10\.77\.1\.255/);
    await rejectsWith(inv.serverInterfaces.create({ server_id: s.row.id, name: 'eth0', ip: '10.77.2.9' }), [[E.IP_IN_DYNAMIC_POOL, 'ip']]);
    const ok = await inv.serverInterfaces.create({ server_id: s.row.id, name: 'eth0', ip: '10.77.0.50' });
    // Outside every DHCP subnet is fine too.
    await inv.serverInterfaces.create({ server_id: s.row.id, name: 'eth1', ip: '192.168.5.5' });
    await rejectsWith(inv.serverInterfaces.update(ok.row.id, { ip: '10.77.1.1' }), [[E.IP_IN_DYNAMIC_POOL, 'ip']]);
    // Growing a pool over a fixed address is refused on the subnet.
    await rejectsWith(inv.dhcpSubnets.update(77, { config: { pools: ['10.77.0.0-10.77.0.255'] } }), [[E.IP_IN_DYNAMIC_POOL, 'config.pools[0]']]);
    await rejectsWith(inv.dhcpSubnets.update(77, { config: { pools: ['10.78.0.1-10.78.0.9', 'nonsense', '10.77.5.1-10.77.5.9', '10.77.5.5-10.77.5.20'], reservations: [] } }), [
      [E.INVALID_VALUE, 'config.pools[0]'],
      [E.INVALID_VALUE, 'config.pools[1]'],
      [E.INVALID_VALUE, 'config.pools[3]'],
      [E.INVALID_VALUE, 'config.reservations'],
    ]);
    // Subnet ids are free or taken; a missing id is the next free one.
    await rejectsWith(inv.dhcpSubnets.create({ id: 77, subnet: '10.79.0.0/16' }), [[E.DUPLICATE_VALUE, 'id']]);
    const next = await inv.dhcpSubnets.create({ subnet: '10.79.0.0/16' });
    assert.equal(next.row.id, 78);
  });

  it('checks DHCP reservations: a client identifier, an address in the subnet and outside its pools', async () => {
    const { inv } = env();
    const sn = await inv.dhcpSubnets.create({ subnet: '10.66.0.0/24', config: { pools: ['10.66.0.100-10.66.0.199'] } });
    await rejectsWith(inv.dhcpReservations.create({ subnet_id: sn.row.id, ip: '10.66.0.5' }), [[E.REQUIRED, 'mac']]);
    await rejectsWith(inv.dhcpReservations.create({ subnet_id: sn.row.id, mac: '02:00:00:00:00:01', ip: '10.67.0.5' }), [[E.IP_OUTSIDE_SUBNET, 'ip']]);
    await rejectsWith(inv.dhcpReservations.create({ subnet_id: sn.row.id, mac: '02:00:00:00:00:01', ip: '10.66.0.150' }), [[E.IP_IN_DYNAMIC_POOL, 'ip']]);
    await inv.dhcpReservations.create({ subnet_id: sn.row.id, mac: '02:00:00:00:00:01', ip: '10.66.0.5', hostname: 'node-1' });
    await rejectsWith(inv.dhcpReservations.create({ subnet_id: sn.row.id, mac: '02:00:00:00:00:01', ip: '10.66.0.6' }), [[E.DUPLICATE_MAC, 'mac']]);
    await rejectsWith(inv.dhcpReservations.create({ subnet_id: sn.row.id, client_id: '01:02:00:00:00:00:09', ip: '10.66.0.5' }), [[E.DUPLICATE_VALUE, 'ip']]);
    await rejectsWith(inv.dhcpSubnets.delete(sn.row.id), [[E.HAS_DEPENDENTS, 'dhcp_reservations']]);
  });

  it('keeps the VMs on a host within its cores, RAM and storage', async () => {
    const { inv } = env();
    const host = await inv.servers.create({ name: uniq('hv'), cpu_cores: 16, ram_gb: 64, storage_tb: 1 });
    await inv.vms.create({ name: uniq('vm'), host_server_id: host.row.id, vcpus: 8, ram_gb: 32, disk_gb: 500 });
    await rejectsWith(inv.vms.create({ name: uniq('vm'), host_server_id: host.row.id, vcpus: 9, ram_gb: 40, disk_gb: 501 }), [
      [E.HOST_CAPACITY, 'vcpus'],
      [E.HOST_CAPACITY, 'ram_gb'],
      [E.HOST_CAPACITY, 'disk_gb'],
    ]);
    const v2 = await inv.vms.create({ name: uniq('vm'), host_server_id: host.row.id, vcpus: 8, ram_gb: 32, disk_gb: 500 });
    await rejectsWith(inv.vms.update(v2.row.id, { vcpus: 9 }), [[E.HOST_CAPACITY, 'vcpus']]);
    // Resizing a VM within its own share is fine (its old size is not counted twice).
    await inv.vms.update(v2.row.id, { ram_gb: 30 });
    await rejectsWith(inv.servers.update(host.row.id, { cpu_cores: 8 }), [[E.HOST_CAPACITY, 'cpu_cores']]);
    // A host with unknown resources does not limit.
    const bare = await inv.servers.create({ name: uniq('hv') });
    await inv.vms.create({ name: uniq('vm'), host_server_id: bare.row.id, vcpus: 512, ram_gb: 4096 });
  });

  it('puts a container on exactly one of a server or a VM', async () => {
    const { inv } = env();
    const host = await inv.servers.create({ name: uniq('ch') });
    const vm = await inv.vms.create({ name: uniq('cv'), host_server_id: host.row.id, vcpus: 1, ram_gb: 1 });
    await rejectsWith(inv.containers.create({ name: 'c', image: 'nginx:1' }), [[E.CONTAINER_HOST, 'host_server_id']]);
    await rejectsWith(inv.containers.create({ name: 'c', image: 'nginx:1', host_server_id: host.row.id, vm_id: vm.row.id }), [
      [E.CONTAINER_HOST, 'host_server_id'],
      [E.CONTAINER_HOST, 'vm_id'],
    ]);
    const c = await inv.containers.create({ name: 'c', image: 'nginx:1', vm_id: vm.row.id });
    await inv.containers.create({ name: 'c', image: 'nginx:1', host_server_id: host.row.id });
    await rejectsWith(inv.containers.create({ name: 'c', image: 'nginx:2', vm_id: vm.row.id }), [[E.DUPLICATE_NAME, 'name']]);
    await rejectsWith(inv.containers.update(c.row.id, { host_server_id: host.row.id }), [
      [E.CONTAINER_HOST, 'host_server_id'],
      [E.CONTAINER_HOST, 'vm_id'],
    ]);
    await inv.containers.update(c.row.id, { host_server_id: host.row.id, vm_id: null, name: 'c2' });
  });

  it('checks storage: used within capacity, rack in its own datacenter', async () => {
    const { inv } = env();
    const a = await rackFixture(inv);
    const b = await rackFixture(inv);
    await rejectsWith(inv.storageSystems.create({ name: uniq('st'), type: 'object', datacenter_id: a.dcId, capacity_tb: 10, used_tb: 11 }), [[E.INVALID_VALUE, 'used_tb']]);
    await rejectsWith(inv.storageSystems.create({ name: uniq('st'), type: 'block', datacenter_id: a.dcId, rack_id: b.rackId, u_position: 1 }), [[E.RACK_DATACENTER_MISMATCH, 'rack_id']]);
  });

  it('links two different ports of existing devices, each port once', async () => {
    const { inv } = env();
    const s = await inv.servers.create({ name: uniq('ls') });
    const sw = await inv.networkDevices.create({ name: uniq('lsw'), role: 'access_switch', port_count: 48, port_speed_gbps: 25 });
    const l = await inv.networkLinks.create({ a_type: 'server', a_id: s.row.id, a_interface: 'eth0', b_type: 'network_device', b_id: sw.row.id, b_interface: 'Ethernet1/1', speed_gbps: 25, media: 'dac' });
    assert.equal(l.row.status, 'connected');
    await rejectsWith(inv.networkLinks.create({ a_type: 'network_device', a_id: sw.row.id, a_interface: 'Ethernet1/1', b_type: 'server', b_id: s.row.id, b_interface: 'eth1' }), [[E.LINK_ENDPOINT_IN_USE, 'a_interface']]);
    await rejectsWith(inv.networkLinks.create({ a_type: 'server', a_id: s.row.id, a_interface: 'eth1', b_type: 'server', b_id: s.row.id, b_interface: 'eth1' }), [[E.LINK_SELF, 'b_interface']]);
    await rejectsWith(inv.networkLinks.create({ a_type: 'server', a_id: 987654, a_interface: 'eth0', b_type: 'network_device', b_id: sw.row.id, b_interface: 'Ethernet1/2' }), [[E.REFERENCE_NOT_FOUND, 'a_id']]);
    // Deleting a device takes its links with it.
    const d = await inv.networkDevices.delete(sw.row.id);
    assert.deepEqual(d.changes.map((c) => `${c.action}:${c.object_type}`).sort(), ['delete:network_device', 'delete:network_link']);
    assert.equal(await inv.networkLinks.get(l.row.id), undefined);
  });

  it('refuses to delete a rack holding devices unless cascade, then deletes them all in one transaction', async () => {
    const { inv } = env();
    const { dcId, rackId } = await rackFixture(inv);
    const s = await inv.servers.create({ name: uniq('c'), rack_id: rackId, u_position: 1 });
    const nic = await inv.serverInterfaces.create({ server_id: s.row.id, name: 'eth0', mac: '02:00:00:00:aa:01' });
    const nd = await inv.networkDevices.create({ name: uniq('c'), role: 'access_switch', rack_id: rackId, u_position: 2 });
    const st = await inv.storageSystems.create({ name: uniq('c'), type: 'san', datacenter_id: dcId, rack_id: rackId, u_position: 3 });
    const e = await rejectsWith(inv.racks.delete(rackId), [
      [E.HAS_DEPENDENTS, 'servers'],
      [E.HAS_DEPENDENTS, 'network_devices'],
      [E.HAS_DEPENDENTS, 'storage_systems'],
    ]);
    assert.equal(e.status, 409);
    assert.ok(await inv.racks.get(rackId));
    const r = await inv.racks.delete(rackId, { cascade: true }, { user: 'carol', requestId: 'cascade-1' });
    assert.deepEqual(r.changes.map((c) => `${c.object_type}:${c.object_id}`).sort(), [
      `network_device:${nd.row.id}`,
      `rack:${rackId}`,
      `server:${s.row.id}`,
      `server_interface:${nic.row.id}`,
      `storage_system:${st.row.id}`,
    ].sort());
    for (const [repo, id] of [[inv.servers, s.row.id], [inv.serverInterfaces, nic.row.id], [inv.networkDevices, nd.row.id], [inv.storageSystems, st.row.id]] as const) {
      assert.equal(await repo.get(id), undefined);
    }
    const audit = await inv.audit.list({ filters: [{ field: 'request_id', value: 'cascade-1' }] });
    assert.equal(audit.count, 5);
    assert.ok(audit.rows.every((a) => a.action === 'delete' && a.user === 'carol' && a.after === null && a.before !== null));
  });

  it('refuses to delete a server with VMs or containers unless cascade', async () => {
    const { inv } = env();
    const host = await inv.servers.create({ name: uniq('h') });
    const vm = await inv.vms.create({ name: uniq('v'), host_server_id: host.row.id, vcpus: 1, ram_gb: 1 });
    await inv.containers.create({ name: 'in-vm', image: 'busybox', vm_id: vm.row.id });
    await inv.containers.create({ name: 'on-host', image: 'busybox', host_server_id: host.row.id });
    await rejectsWith(inv.servers.delete(host.row.id), [
      [E.HAS_DEPENDENTS, 'vms'],
      [E.HAS_DEPENDENTS, 'containers'],
    ]);
    await rejectsWith(inv.vms.delete(vm.row.id), [[E.HAS_DEPENDENTS, 'containers']]);
    const r = await inv.servers.delete(host.row.id, { cascade: true });
    assert.deepEqual(r.changes.map((c) => c.object_type).sort(), ['container', 'container', 'server', 'vm']);
  });

  it('clears the tenant of objects when their tenant is deleted, bumping their version', async () => {
    const { inv } = env();
    const t = await inv.tenants.create({ name: uniq('gone'), slug: uniq('gone').toLowerCase() });
    const s = await inv.servers.create({ name: uniq('ts'), tenant_id: t.row.id });
    const r = await inv.tenants.delete(t.row.id);
    assert.deepEqual(r.changes.map((c) => `${c.action}:${c.object_type}`), ['update:server', 'delete:tenant']);
    const after = await inv.servers.get(s.row.id);
    assert.equal(after?.tenant_id, null);
    assert.equal(after?.version, 2);
  });

  it('confines a tenant-scoped caller to its tenants for reads and writes', async () => {
    const { inv } = env();
    const mine = await inv.tenants.create({ name: uniq('mine'), slug: uniq('mine').toLowerCase() });
    const theirs = await inv.tenants.create({ name: uniq('theirs'), slug: uniq('theirs').toLowerCase() });
    const a = await inv.servers.create({ name: uniq('a'), tenant_id: mine.row.id });
    const b = await inv.servers.create({ name: uniq('b'), tenant_id: theirs.row.id });
    const bn = await inv.serverInterfaces.create({ server_id: b.row.id, name: 'eth0' });
    const scope = [mine.row.id];
    const seen = await inv.servers.list({ tenantScope: scope, limit: 1000 });
    assert.deepEqual(seen.rows.map((r) => r.id), [a.row.id]);
    assert.equal(await inv.servers.get(b.row.id, { tenantScope: scope }), undefined);
    assert.equal((await inv.serverInterfaces.list({ tenantScope: scope, filters: [{ field: 'server_id', value: b.row.id }] })).count, 0);
    assert.deepEqual((await inv.tenants.list({ tenantScope: scope })).rows.map((r) => r.id), [mine.row.id]);
    await rejectsWith(inv.servers.update(b.row.id, { os: 'x' }, {}, { tenantScope: scope }), [[E.NOT_FOUND, 'id']]);
    await rejectsWith(inv.servers.delete(b.row.id, {}, { tenantScope: scope }), [[E.NOT_FOUND, 'id']]);
    await rejectsWith(inv.servers.update(a.row.id, { tenant_id: theirs.row.id }, {}, { tenantScope: scope }), [[E.TENANT_FORBIDDEN, 'tenant_id']]);
    await rejectsWith(inv.servers.create({ name: uniq('c') }, { tenantScope: scope }), [[E.TENANT_FORBIDDEN, 'tenant_id']]);
    // Another tenant's server answers as a missing one, so its existence does not leak.
    await rejectsWith(inv.serverInterfaces.create({ server_id: b.row.id, name: 'eth1' }, { tenantScope: scope }), [[E.REFERENCE_NOT_FOUND, 'server_id']]);
    await rejectsWith(inv.serverInterfaces.update(bn.row.id, { name: 'x' }, {}, { tenantScope: scope }), [[E.NOT_FOUND, 'id']]);
    await rejectsWith(inv.tenants.create({ name: uniq('t'), slug: uniq('t').toLowerCase() }, { tenantScope: scope }), [[E.TENANT_FORBIDDEN, '']]);
    await inv.servers.create({ name: uniq('c'), tenant_id: mine.row.id }, { tenantScope: scope });
  });

  it('a scoped cascade delete is refused when it would reach another tenant\'s objects', async () => {
    const { inv } = env();
    const mine = await inv.tenants.create({ name: uniq('mine'), slug: uniq('mine').toLowerCase() });
    const theirs = await inv.tenants.create({ name: uniq('theirs'), slug: uniq('theirs').toLowerCase() });
    const scope = [mine.row.id];
    const { rackId } = await rackFixture(inv, { tenant_id: mine.row.id });
    const a = await inv.servers.create({ name: uniq('a'), tenant_id: mine.row.id, rack_id: rackId, u_position: 1 });
    const b = await inv.servers.create({ name: uniq('b'), tenant_id: theirs.row.id, rack_id: rackId, u_position: 5 });
    await rejectsWith(inv.racks.delete(rackId, { cascade: true }, { tenantScope: scope }), [[E.TENANT_FORBIDDEN, 'servers']]);
    assert.ok(await inv.racks.get(rackId), 'the rack is still there');
    assert.ok(await inv.servers.get(a.row.id), 'nothing of the refused delete happened');
    assert.ok(await inv.servers.get(b.row.id), "the other tenant's server is still there");

    await inv.servers.delete(b.row.id);
    const done = await inv.racks.delete(rackId, { cascade: true }, { tenantScope: scope });
    assert.ok(done.changes.some((c) => c.object_type === 'server' && c.object_id === a.row.id));
    assert.equal(await inv.racks.get(rackId), undefined);
  });

  it('lets exactly one of two concurrent writers take the same rack slot', async () => {
    const { inv } = env();
    const { rackId } = await rackFixture(inv);
    const results = await Promise.allSettled([
      inv.servers.create({ name: uniq('race'), rack_id: rackId, u_position: 5 }),
      inv.networkDevices.create({ name: uniq('race'), role: 'router', rack_id: rackId, u_position: 5 }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal((failed.reason as { code?: string }).code, E.U_OVERLAP);
  });

  it('lets exactly one of two concurrent writers take the same serial', async () => {
    const { inv } = env();
    const serial = uniq('RACE');
    const results = await Promise.allSettled([inv.servers.create({ name: uniq('r1'), serial }), inv.servers.create({ name: uniq('r2'), serial })]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal((failed.reason as { code?: string }).code, E.DUPLICATE_SERIAL);
  });
});

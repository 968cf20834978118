import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import { InventoryErrorCode as E } from '../../src/inventory/errors.js';
import { describeEachBackend, rackFixture, rejectsWith, uniq } from './harness.js';

const ctx = { user: 'alice', userId: 7, sourceIp: '10.9.0.1', requestId: 'req-1' };

describeEachBackend('inventory create/get/update/delete', (env) => {
  it('creates with defaults, reads back, and versions each update', async () => {
    const { inv } = env();
    const { rackId } = await rackFixture(inv);
    const { row, warnings } = await inv.servers.create(
      { name: 'srv-1', rack_id: rackId, u_position: 1, u_size: 2, serial: 'SN-CRUD-1', warranty_end: '2028-02-29', ram_gb: 512 },
      ctx,
    );
    assert.deepEqual(warnings, []);
    assert.equal(typeof row.id, 'number');
    assert.equal(row.version, 1);
    assert.equal(row.status, 'planned');
    assert.equal(row.boot_profile, 'local');
    assert.equal(row.type, 'physical');
    assert.equal(row.warranty_end, '2028-02-29');
    assert.match(row.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(await inv.servers.get(row.id), row);

    const u = await inv.servers.update(row.id, { status: 'active', os: 'Debian 12' }, { ifVersion: 1 }, ctx);
    assert.equal(u.row.version, 2);
    assert.equal(u.row.status, 'active');
    assert.equal(u.row.created_at, row.created_at);

    // A patch that changes nothing writes nothing: same version, no audit entry.
    const same = await inv.servers.update(row.id, { status: 'active' }, {}, ctx);
    assert.equal(same.row.version, 2);
    const entries = await inv.audit.list({ filters: [{ field: 'object_type', value: 'server' }, { field: 'object_id', value: row.id }], ordering: ['id'] });
    assert.deepEqual(entries.rows.map((e) => e.action), ['create', 'update']);
  });

  it('refuses a stale version with INVENTORY_ERR_VERSION_CONFLICT and keeps the stored row', async () => {
    const { inv } = env();
    const t = await inv.tenants.create({ name: uniq('T'), slug: uniq('t').toLowerCase() });
    await inv.tenants.update(t.row.id, { description: 'first' }, { ifVersion: 1 });
    await rejectsWith(inv.tenants.update(t.row.id, { description: 'lost' }, { ifVersion: 1 }), [[E.VERSION_CONFLICT, 'version']]);
    // The body's own `version` counts as If-Match too.
    await rejectsWith(inv.tenants.update(t.row.id, { description: 'lost', version: 1 }), [[E.VERSION_CONFLICT, 'version']]);
    assert.equal((await inv.tenants.get(t.row.id))?.description, 'first');
    await rejectsWith(inv.tenants.delete(t.row.id, { ifVersion: 1 }), [[E.VERSION_CONFLICT, 'version']]);
    await inv.tenants.delete(t.row.id, { ifVersion: 2 });
    assert.equal(await inv.tenants.get(t.row.id), undefined);
  });

  it('records create, update and delete in the audit log with before/after, who, where and request id', async () => {
    const { inv } = env();
    const dc = await inv.datacenters.create({ name: uniq('AUD'), code: uniq('aud').toLowerCase(), certifications: ['ISO 27001'] }, ctx);
    await inv.datacenters.update(dc.row.id, { pue_target: 1.3 }, {}, { ...ctx, requestId: 'req-2' });
    await inv.datacenters.delete(dc.row.id, {}, { ...ctx, requestId: 'req-3' });
    const log = await inv.audit.list({ filters: [{ field: 'object_type', value: 'datacenter' }, { field: 'object_id', value: dc.row.id }], ordering: ['id'] });
    assert.equal(log.count, 3);
    const [c, u, d] = log.rows;
    assert.equal(c?.action, 'create');
    assert.equal(c?.before, null);
    assert.deepEqual(c?.after, dc.row);
    assert.equal(c?.user, 'alice');
    assert.equal(c?.user_id, 7);
    assert.equal(c?.source_ip, '10.9.0.1');
    assert.equal(c?.request_id, 'req-1');
    assert.equal(u?.action, 'update');
    assert.equal((u?.before as Record<string, unknown>)['pue_target'], null);
    assert.equal((u?.after as Record<string, unknown>)['pue_target'], 1.3);
    assert.equal((u?.after as Record<string, unknown>)['version'], 2);
    assert.equal(u?.request_id, 'req-2');
    assert.equal(d?.action, 'delete');
    assert.equal(d?.after, null);
    assert.equal((d?.before as Record<string, unknown>)['id'], dc.row.id);
    assert.deepEqual((d?.before as Record<string, unknown>)['certifications'], ['ISO 27001']);
    const byRequest = await inv.audit.list({ filters: [{ field: 'request_id', value: 'req-3' }] });
    assert.equal(byRequest.count, 1);
  });

  it('redacts secrets in the audit log but stores them', async () => {
    const { inv } = env();
    const u = await inv.users.create({ username: uniq('bob'), password_hash: '$argon2id$v=19$secret', role: 'operator', totp_secret: 'JBSWY3DP' });
    assert.equal(u.row.password_hash, '$argon2id$v=19$secret');
    assert.equal(u.row.totp_enabled, false);
    assert.equal(u.row.is_active, true);
    assert.deepEqual(u.row.tenant_ids, []);
    const e = await inv.audit.list({ filters: [{ field: 'object_type', value: 'user' }, { field: 'object_id', value: u.row.id }] });
    const after = e.rows[0]?.after as Record<string, unknown>;
    assert.equal(after['password_hash'], '[redacted]');
    assert.equal(after['totp_secret'], '[redacted]');
    assert.equal(JSON.stringify(e.rows).includes('argon2id'), false);
    assert.equal(JSON.stringify(e.rows).includes('JBSWY3DP'), false);
    // Secret fields are not filters: they could be probed one character at a time.
    await rejectsWith(inv.users.list({ filters: [{ field: 'password_hash', lookup: 'isw', value: '$' }] }), [[E.INVALID_QUERY, 'password_hash__isw']]);
  });

  it('validates bodies: unknown fields, required fields, types, enums and formats, each by path', async () => {
    const { inv } = env();
    const { rackId } = await rackFixture(inv);
    await rejectsWith(inv.servers.create({ rack_id: rackId, colour: 'red', u_size: 'big', status: 'exploded', warranty_end: '2027-02-30', cpu_cores: 2.5 }), [
      [E.REQUIRED, 'name'],
      [E.UNKNOWN_FIELD, 'colour'],
      [E.INVALID_VALUE, 'u_size'],
      [E.INVALID_VALUE, 'status'],
      [E.INVALID_VALUE, 'warranty_end'],
      [E.INVALID_VALUE, 'cpu_cores'],
    ]);
    await rejectsWith(inv.servers.create({ name: '' }), [[E.INVALID_VALUE, 'name']]);
    // JSON.parse makes "__proto__" an own key, as a request body would.
    await rejectsWith(inv.servers.create(JSON.parse('{"name":"x","__proto__":{"polluted":true}}') as Record<string, unknown>), [[E.UNKNOWN_FIELD, '__proto__']]);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    await rejectsWith(inv.serverInterfaces.create({ server_id: 1, name: 'eth0', mac: '52:54:00:zz:00:01', ip: '10.0.0.300' }), [
      [E.INVALID_VALUE, 'mac'],
      [E.INVALID_VALUE, 'ip'],
    ]);
    await rejectsWith(inv.tenants.create({ name: 'x', slug: 'Not A Slug' }), [[E.INVALID_VALUE, 'slug']]);
    await rejectsWith(inv.datacenters.create({ name: 'x', code: 'x', tier: 5 }), [[E.INVALID_VALUE, 'tier']]);
    await rejectsWith(inv.servers.create('not an object' as unknown as Record<string, unknown>), [[E.INVALID_VALUE, '']]);
    // Read-only columns in a body (a GET result sent back) are ignored rather than refused.
    const t = await inv.tenants.create({ name: uniq('ro'), slug: uniq('ro').toLowerCase(), id: 999999, created_at: 'x', updated_at: 'y', version: 42 });
    assert.notEqual(t.row.id, 999999);
    assert.equal(t.row.version, 1);
  });

  it('accepts the seed product\'s field names and spellings as aliases', async () => {
    const { inv } = env();
    const dc = await inv.datacenters.create({ name: uniq('DC-PRIMARY'), code: uniq('dcp').toLowerCase(), location: 'New York, USA', tier: 'Tier 3', total_space_sqm: 5000, power_capacity_mw: 10, cooling_capacity_mw: 6, pue_target: 1.4 });
    assert.equal(dc.row.tier, 3);
    assert.equal(dc.row.power_capacity_kw, 10000);
    assert.equal(dc.row.cooling_capacity_kw, 6000);
    const rack = await inv.racks.create({ name: 'RACK-A-001', datacenter_id: dc.row.id, row: 'A', position: 1, u_capacity: 48, power_capacity_kw: 10, cooling_type: 'Liquid Cooling', security_zone: 'Confidential' });
    assert.equal(rack.row.u_height, 48);
    assert.equal(rack.row.cooling_type, 'liquid');
    const srv = await inv.servers.create({ name: uniq('SRV-WEB'), rack_id: rack.row.id, server_type: 'Compute', manufacturer: 'Dell', model: 'PowerEdge R750', serial_number: uniq('SRV'), u_position: 1, u_size: 2, cpu_cores: 64, ram_gb: 512, storage_tb: 4, power_supply_w: 750 });
    assert.equal(srv.row.type, 'compute');
    assert.equal(srv.row.vendor, 'Dell');
    assert.match(srv.row.serial ?? '', /^SRV-/);
    const vm = await inv.vms.create({ name: uniq('VM-WEB-APP'), host_server_id: srv.row.id, os: 'Ubuntu 22.04', cpu_cores: 4, ram_gb: 16, disk_gb: 200 });
    assert.equal(vm.row.vcpus, 4);
    const st = await inv.storageSystems.create({ name: uniq('SAN'), type: 'SAN', raid_level: 5, datacenter_id: dc.row.id });
    assert.equal(st.row.raid_level, '5');
    assert.equal(st.row.type, 'san');
    await rejectsWith(inv.servers.create({ name: 'x', serial: 'a', serial_number: 'b' }), [[E.INVALID_VALUE, 'serial_number']]);
  });

  it('normalizes MACs to lower-case colon form', async () => {
    const { inv } = env();
    const s = await inv.servers.create({ name: uniq('mac') });
    for (const [i, form] of ['AA-BB-CC-00-11-22', 'aabb.cc00.1123', 'AABBCC001124'].entries()) {
      const r = await inv.serverInterfaces.create({ server_id: s.row.id, name: `eth${i}`, mac: form });
      assert.match(r.row.mac ?? '', /^aa:bb:cc:00:11:2[234]$/);
    }
  });

  it('reports a missing referenced object as INVENTORY_ERR_REFERENCE_NOT_FOUND on its field', async () => {
    const { inv } = env();
    await rejectsWith(inv.racks.create({ datacenter_id: 987654, name: 'r' }), [[E.REFERENCE_NOT_FOUND, 'datacenter_id']]);
    await rejectsWith(inv.servers.create({ name: uniq('s'), rack_id: 987654, tenant_id: 987654 }), [
      [E.REFERENCE_NOT_FOUND, 'rack_id'],
      [E.REFERENCE_NOT_FOUND, 'tenant_id'],
    ]);
    await rejectsWith(inv.users.create({ username: uniq('u'), tenant_ids: [987654] }), [[E.REFERENCE_NOT_FOUND, 'tenant_ids[0]']]);
    await rejectsWith(inv.servers.update(987654, { name: 'x' }), [[E.NOT_FOUND, 'id']]);
    await rejectsWith(inv.servers.delete(987654), [[E.NOT_FOUND, 'id']]);
    assert.equal(await inv.servers.get(987654), undefined);
    assert.equal(await inv.servers.get(-1), undefined);
  });

  it('keeps serving reads while a long bulk write is in progress, showing the last commit', async () => {
    const { inv } = env();
    const prefix = uniq('slow');
    const rows = Array.from({ length: 3000 }, (_, i) => ({ name: `${prefix}-${i}`, serial: `${prefix}-${i}` }));
    let writeDone = false;
    const write = inv.servers.bulkCreate(rows).then((r) => {
      writeDone = true;
      return r;
    });
    // Let the write take its transaction first.
    await new Promise((r) => setImmediate(r));
    const during = await inv.servers.list({ filters: [{ field: 'name', lookup: 'isw', value: prefix }] });
    assert.equal(writeDone, false, 'the read did not wait for the write to commit');
    assert.equal(during.count, 0, 'uncommitted rows are not visible');
    await write;
    assert.equal((await inv.servers.list({ filters: [{ field: 'name', lookup: 'isw', value: prefix }] })).count, 3000);
  });

  it('commits a multi-resource transaction together, and notifies listeners only after the commit', async () => {
    const { inv } = env();
    const seen: string[] = [];
    const off = inv.onChange((events) => seen.push(...events.map((e) => `${e.action}:${e.object_type}`)));
    const name = uniq('tx');
    await assert.rejects(
      inv.transaction(async (tx) => {
        const s = await tx.servers.create({ name });
        await tx.serverInterfaces.create({ server_id: s.row.id, name: 'eth0', mac: '02:00:00:00:99:01' });
        assert.deepEqual(seen, [], 'nothing is announced before the commit');
        throw new Error('abort');
      }),
      /abort/,
    );
    assert.equal((await inv.servers.list({ filters: [{ field: 'name', value: name }] })).count, 0);
    assert.deepEqual(seen, []);
    await inv.transaction(async (tx) => {
      const s = await tx.servers.create({ name });
      await tx.serverInterfaces.create({ server_id: s.row.id, name: 'eth0', mac: '02:00:00:00:99:01' });
    });
    assert.deepEqual(seen, ['create:server', 'create:server_interface']);
    off();
  });
});

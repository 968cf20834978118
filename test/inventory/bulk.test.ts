import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import { InventoryErrorCode as E } from '../../src/inventory/errors.js';
import { describeEachBackend, rackFixture, rejectsWith, uniq } from './harness.js';

describeEachBackend('inventory bulk writes', (env) => {
  it('creates a batch in one go, checking rows against each other as well as the database', async () => {
    const { inv } = env();
    const { rackId } = await rackFixture(inv, { u_height: 10 });
    const rows = Array.from({ length: 5 }, (_, i) => ({ name: uniq('b'), rack_id: rackId, u_position: 1 + i * 2, u_size: 2, serial: uniq('BS') }));
    const r = await inv.servers.bulkCreate(rows, { user: 'importer', requestId: 'bulk-ok' });
    assert.equal(r.rows.length, 5);
    assert.deepEqual(r.rows.map((x) => x.name), rows.map((x) => x.name), 'results in request order');
    assert.equal((await inv.audit.list({ filters: [{ field: 'request_id', value: 'bulk-ok' }] })).count, 5);
  });

  it('writes nothing when any row is bad, and reports every bad row by index', async () => {
    const { inv } = env();
    const { rackId } = await rackFixture(inv, { u_height: 42 });
    const taken = uniq('TAKEN');
    await inv.servers.create({ name: uniq('pre'), serial: taken });
    const prefix = uniq('batch');
    const rows: Record<string, unknown>[] = Array.from({ length: 8 }, (_, i) => ({ name: `${prefix}-${i}`, rack_id: rackId, u_position: 1 + i, serial: `${prefix}-SN${i}` }));
    rows[3] = { ...rows[3], serial: taken };
    rows[5] = { ...rows[5], u_position: 3 }; // lands on row 2's U
    rows[6] = { ...rows[6], serial: `${prefix}-SN0` }; // same serial as row 0
    rows[7] = { ...rows[7], bogus: 1, u_position: 42, u_size: 2 };
    await rejectsWith(inv.servers.bulkCreate(rows, { requestId: 'bulk-bad' }), [
      [E.DUPLICATE_SERIAL, '[3].serial'],
      [E.U_OVERLAP, '[5].u_position'],
      [E.DUPLICATE_SERIAL, '[6].serial'],
      [E.UNKNOWN_FIELD, '[7].bogus'],
    ]);
    assert.equal((await inv.servers.list({ filters: [{ field: 'name', lookup: 'isw', value: prefix }] })).count, 0);
    assert.equal((await inv.audit.list({ filters: [{ field: 'request_id', value: 'bulk-bad' }] })).count, 0);
    // With the bad rows fixed, the same batch goes in.
    rows[3] = { ...rows[3], serial: `${prefix}-SN3` };
    rows[5] = { ...rows[5], u_position: 6 };
    rows[6] = { ...rows[6], serial: `${prefix}-SN6` };
    rows[7] = { name: `${prefix}-7`, rack_id: rackId, u_position: 41, u_size: 2, power_supply_w: 100 };
    const ok = await inv.servers.bulkCreate(rows);
    assert.equal(ok.rows.length, 8);
  });

  it('reports a bad row in the middle of a large batch without writing any of it', async () => {
    const { inv } = env();
    const { rackId } = await rackFixture(inv);
    const prefix = uniq('big');
    const rows: Record<string, unknown>[] = Array.from({ length: 1500 }, (_, i) => ({ name: `${prefix}-${i}`, serial: `${prefix}-${i}` }));
    rows[750] = { name: `${prefix}-750`, rack_id: rackId, u_position: 43 };
    await rejectsWith(inv.servers.bulkCreate(rows), [[E.U_OUT_OF_RANGE, '[750].u_position']]);
    assert.equal((await inv.servers.list({ filters: [{ field: 'name', lookup: 'isw', value: prefix }] })).count, 0);
  });

  it('updates a batch all or nothing, with per-row versions; a unique value passes between rows in write order', async () => {
    const { inv } = env();
    const a = await inv.servers.create({ name: uniq('ua'), serial: uniq('SA') });
    const b = await inv.servers.create({ name: uniq('ub'), serial: uniq('SB') });
    // A swap would need the engine to check uniqueness at commit; it checks per statement.
    await rejectsWith(
      inv.servers.bulkUpdate([
        { id: a.row.id, serial: b.row.serial },
        { id: b.row.id, serial: a.row.serial },
      ]),
      [[E.DUPLICATE_SERIAL, '[0].serial']],
    );
    const fresh = uniq('SC');
    const moved = await inv.servers.bulkUpdate([
      { id: a.row.id, version: 1, serial: fresh },
      { id: b.row.id, version: 1, serial: a.row.serial },
    ]);
    assert.deepEqual(moved.rows.map((r) => [r.serial, r.version]), [[fresh, 2], [a.row.serial, 2]]);
    await rejectsWith(
      inv.servers.bulkUpdate([
        { id: a.row.id, status: 'active' },
        { id: b.row.id, version: 1, status: 'active' },
        { id: 987654, status: 'active' },
        { status: 'active' } as unknown as { id: number },
        { id: a.row.id, os: 'dup' },
      ]),
      [
        [E.VERSION_CONFLICT, '[1].version'],
        [E.NOT_FOUND, '[2].id'],
        [E.REQUIRED, '[3].id'],
        [E.INVALID_VALUE, '[4].id'],
      ],
    );
    assert.equal((await inv.servers.get(a.row.id))?.status, 'planned', 'the good row was not written either');
  });

  it('deletes a batch all or nothing', async () => {
    const { inv } = env();
    const { rackId } = await rackFixture(inv);
    const free = await inv.racks.create({ datacenter_id: (await inv.racks.get(rackId))!.datacenter_id, name: uniq('free') });
    await inv.servers.create({ name: uniq('in'), rack_id: rackId });
    await rejectsWith(inv.racks.bulkDelete([free.row.id, rackId, 987654]), [
      [E.HAS_DEPENDENTS, '[1].servers'],
      [E.NOT_FOUND, '[2].id'],
    ]);
    assert.ok(await inv.racks.get(free.row.id));
    const r = await inv.racks.bulkDelete([free.row.id, { id: rackId, version: 1 }], { cascade: true });
    assert.equal(r.changes.filter((c) => c.object_type === 'rack').length, 2);
  });

  it('checks power budgets across the rows of one batch', async () => {
    const { inv } = env();
    const { rackId } = await rackFixture(inv, { power_capacity_kw: 2 });
    const rows = Array.from({ length: 5 }, () => ({ name: uniq('pw'), rack_id: rackId, power_supply_w: 500 }));
    const warned = await inv.servers.bulkCreate(rows.slice(0, 5).map((r) => ({ ...r, name: uniq('pw') })));
    assert.deepEqual(warned.warnings.map((w) => [w.code, w.path]), [[E.RACK_POWER_BUDGET, '[4].power_supply_w']]);
    const other = await rackFixture(inv, { power_capacity_kw: 2 });
    await rejectsWith(inv.servers.bulkCreate(rows.map((r) => ({ ...r, rack_id: other.rackId })), { powerBudget: 'refuse' }), [[E.RACK_POWER_BUDGET, '[4].power_supply_w']]);
  });
});

describeEachBackend(
  'inventory configured to refuse over-budget racks',
  (env) => {
    it('refuses by default, and a call may still ask to be warned', async () => {
      const { inv } = env();
      const { rackId } = await rackFixture(inv, { power_capacity_kw: 0.1 });
      await rejectsWith(inv.servers.create({ name: uniq('r'), rack_id: rackId, power_supply_w: 200 }), [[E.RACK_POWER_BUDGET, 'power_supply_w']]);
      const w = await inv.servers.create({ name: uniq('r'), rack_id: rackId, power_supply_w: 200 }, { powerBudget: 'warn' });
      assert.equal(w.warnings.length, 1);
    });
  },
  { powerBudget: 'refuse' },
);

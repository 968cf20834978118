import { before, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { InventoryErrorCode as E } from '../../src/inventory/errors.js';
import type { Filter, Lookup } from '../../src/inventory/query.js';
import type { Server } from '../../src/inventory/resources.js';
import { describeEachBackend, rejectsWith } from './harness.js';

/** Twelve servers with known values; each test filters them with one lookup and compares names. */
const FIXTURE = Array.from({ length: 12 }, (_, i) => ({
  name: `node-${String(i + 1).padStart(2, '0')}`,
  vendor: i % 3 === 0 ? 'Dell' : i % 3 === 1 ? 'HPE' : null,
  model: i < 4 ? 'PowerEdge R750' : i < 8 ? 'ProLiant DL380' : 'Custom_50%',
  cpu_cores: 8 * (i + 1),
  ram_gb: i % 2 === 0 ? 128 : 256.5,
  status: i < 6 ? 'active' : i < 9 ? 'planned' : 'maintenance',
  warranty_end: i < 10 ? `2027-0${(i % 9) + 1}-15` : null,
  serial: `SN${1000 + i}`,
  os: i % 4 === 0 ? 'Debian 12' : 'Ubuntu 22.04',
}));

describeEachBackend('inventory list queries', (env) => {
  before(async () => {
    await env().inv.servers.bulkCreate(FIXTURE);
  });

  const names = async (filters: Filter[], ordering: string[] = ['name']): Promise<string[]> =>
    (await env().inv.servers.list({ filters, ordering, limit: 1000 })).rows.map((r) => r.name);
  const expected = (pred: (s: (typeof FIXTURE)[number]) => boolean) => FIXTURE.filter(pred).map((s) => s.name);
  const f = (field: string, lookup: Lookup, value: unknown): Filter => ({ field, lookup, value });

  it('exact and iexact', async () => {
    assert.deepEqual(await names([f('vendor', 'exact', 'Dell')]), expected((s) => s.vendor === 'Dell'));
    assert.deepEqual(await names([f('vendor', 'exact', 'dell')]), []);
    assert.deepEqual(await names([f('vendor', 'iexact', 'dELL')]), expected((s) => s.vendor === 'Dell'));
    assert.deepEqual(await names([{ field: 'cpu_cores', value: 16 }]), ['node-02']);
    assert.deepEqual(await names([{ field: 'cpu_cores', value: '16' }]), ['node-02'], 'numbers may arrive as query-string text');
    assert.deepEqual(await names([f('status', 'exact', 'Maintenance')]), expected((s) => s.status === 'maintenance'), 'enum values are normalized like on write');
    assert.deepEqual(await names([f('vendor', 'exact', null)]), expected((s) => s.vendor === null));
  });

  it('ic / nic / isw / iew, with % and _ taken literally', async () => {
    assert.deepEqual(await names([f('model', 'ic', 'edge')]), expected((s) => s.model.includes('Edge')));
    assert.deepEqual(await names([f('model', 'nic', 'edge')]), expected((s) => !s.model.includes('Edge')));
    assert.deepEqual(await names([f('model', 'isw', 'proliant')]), expected((s) => s.model.startsWith('ProLiant')));
    assert.deepEqual(await names([f('model', 'iew', 'r750')]), expected((s) => s.model.endsWith('R750')));
    assert.deepEqual(await names([f('model', 'ic', '_50%')]), expected((s) => s.model.includes('_50%')));
    assert.deepEqual(await names([f('model', 'ic', '%')]), expected((s) => s.model.includes('%')));
    assert.deepEqual(await names([f('model', 'ic', 'cust_m')]), [], '_ is not a wildcard');
    // nic keeps rows whose field is null, like Django's exclude().
    assert.deepEqual(await names([f('vendor', 'nic', 'dell')]), expected((s) => s.vendor !== 'Dell'));
  });

  it('gt / gte / lt / lte on numbers, dates and text', async () => {
    assert.deepEqual(await names([f('cpu_cores', 'gt', 80)]), expected((s) => s.cpu_cores > 80));
    assert.deepEqual(await names([f('cpu_cores', 'gte', 80)]), expected((s) => s.cpu_cores >= 80));
    assert.deepEqual(await names([f('ram_gb', 'lt', 200)]), expected((s) => s.ram_gb < 200));
    assert.deepEqual(await names([f('ram_gb', 'lte', 256.5)]), expected((s) => s.ram_gb <= 256.5));
    assert.deepEqual(await names([f('warranty_end', 'lt', '2027-04-01')]), expected((s) => s.warranty_end !== null && s.warranty_end < '2027-04-01'));
    assert.deepEqual(await names([f('name', 'gte', 'node-10')]), expected((s) => s.name >= 'node-10'));
    assert.deepEqual(await names([f('cpu_cores', 'gt', 8), f('cpu_cores', 'lt', 32)]), ['node-02', 'node-03']);
  });

  it('in / n / isnull', async () => {
    assert.deepEqual(await names([f('status', 'in', ['planned', 'maintenance'])]), expected((s) => s.status !== 'active'));
    assert.deepEqual(await names([f('cpu_cores', 'in', '8,16,24')]), ['node-01', 'node-02', 'node-03']);
    assert.deepEqual(await names([f('status', 'n', 'active')]), expected((s) => s.status !== 'active'));
    assert.deepEqual(await names([f('vendor', 'n', 'Dell')]), expected((s) => s.vendor !== 'Dell'));
    assert.deepEqual(await names([f('vendor', 'n', ['Dell', 'HPE'])]), expected((s) => s.vendor === null));
    assert.deepEqual(await names([f('warranty_end', 'isnull', true)]), expected((s) => s.warranty_end === null));
    assert.deepEqual(await names([f('warranty_end', 'isnull', 'false')]), expected((s) => s.warranty_end !== null));
    assert.deepEqual(await names([f('vendor', 'n', null)]), expected((s) => s.vendor !== null));
  });

  it('orders by any whitelisted field, descending with -, ties broken by id, nulls last ascending', async () => {
    const byRamThenName = [...FIXTURE].sort((a, b) => b.ram_gb - a.ram_gb || (a.name < b.name ? -1 : 1)).map((s) => s.name);
    assert.deepEqual(await names([], ['-ram_gb', 'name']), byRamThenName);
    const byVendor = await names([], ['vendor', 'name']);
    assert.deepEqual(byVendor.slice(-4), expected((s) => s.vendor === null), 'nulls last ascending');
    const byVendorDesc = await names([], ['-vendor', 'name']);
    assert.deepEqual(byVendorDesc.slice(0, 4), expected((s) => s.vendor === null), 'nulls first descending');
    // Byte order on both backends: upper case before lower case.
    const { inv } = env();
    await inv.tenants.bulkCreate([{ name: 'beta', slug: 'beta' }, { name: 'Alpha', slug: 'alpha' }, { name: 'alpha2', slug: 'alpha2' }]);
    assert.deepEqual((await inv.tenants.list({ ordering: ['name'] })).rows.map((r) => r.name), ['Alpha', 'alpha2', 'beta']);
  });

  it('paginates with a total count, and pages never overlap', async () => {
    const { inv } = env();
    const seen: string[] = [];
    for (let offset = 0; offset < 12; offset += 5) {
      const page = await inv.servers.list({ limit: 5, offset, ordering: ['-status'] });
      assert.equal(page.count, 12);
      seen.push(...page.rows.map((r) => r.name));
    }
    assert.equal(new Set(seen).size, 12);
    const past = await inv.servers.list({ limit: 5, offset: 50 });
    assert.deepEqual([past.count, past.rows.length], [12, 0]);
    const filtered = await inv.servers.list({ filters: [f('status', 'exact', 'active')], limit: 2 });
    assert.deepEqual([filtered.count, filtered.rows.length], [6, 2]);
    const countOnly = await inv.servers.list({ limit: 0 });
    assert.deepEqual([countOnly.count, countOnly.rows.length], [12, 0]);
    assert.equal((await inv.servers.list({})).rows.length, 12, 'default limit 50');
  });

  it('searches the declared text fields with q', async () => {
    const { inv } = env();
    const r = await inv.servers.list({ q: 'debian', limit: 100 });
    assert.deepEqual(r.rows.map((s: Server) => s.name).sort(), expected((s) => s.os === 'Debian 12'));
    assert.equal((await inv.servers.list({ q: 'SN1003' })).count, 1);
    assert.equal((await inv.servers.list({ q: 'no-such-thing' })).count, 0);
    assert.equal((await inv.servers.list({ q: '   ' })).count, 12);
  });

  it('refuses unknown fields, lookups that do not fit, and bad paging, naming each; values never reach SQL as text', async () => {
    const { inv } = env();
    await rejectsWith(inv.servers.list({ filters: [{ field: 'name; drop table servers; --', value: 'x' }] }), [[E.INVALID_QUERY, 'name; drop table servers; --']]);
    await rejectsWith(inv.servers.list({ filters: [f('cpu_cores', 'ic', '1')] }), [[E.INVALID_QUERY, 'cpu_cores__ic']]);
    await rejectsWith(inv.servers.list({ filters: [f('name', 'regex' as Lookup, '.*')] }), [[E.INVALID_QUERY, 'name__regex']]);
    await rejectsWith(inv.servers.list({ filters: [f('cpu_cores', 'gt', 'lots')] }), [[E.INVALID_QUERY, 'cpu_cores__gt']]);
    await rejectsWith(inv.servers.list({ filters: [f('name', 'in', [])] }), [[E.INVALID_QUERY, 'name__in']]);
    await rejectsWith(inv.servers.list({ ordering: ['-nope', 'name'] }), [[E.INVALID_QUERY, 'ordering[0]']]);
    await rejectsWith(inv.servers.list({ limit: 1001, offset: -1 }), [
      [E.INVALID_QUERY, 'limit'],
      [E.INVALID_QUERY, 'offset'],
    ]);
    await rejectsWith(inv.datacenters.list({ filters: [f('certifications', 'exact', 'x')] }), [[E.INVALID_QUERY, 'certifications']]);
    const inj = await inv.servers.list({ filters: [f('name', 'exact', "x' or '1'='1")] });
    assert.equal(inj.count, 0);
    assert.equal((await inv.servers.list({})).count, 12, 'still there');
  });

  it('lists the audit log with the same filters', async () => {
    const { inv } = env();
    const r = await inv.audit.list({ filters: [f('object_type', 'exact', 'server'), f('action', 'exact', 'create')], limit: 5 });
    assert.equal(r.count, 12);
    assert.equal(r.rows.length, 5);
    assert.ok(r.rows[0]!.id > r.rows[1]!.id, 'newest first by default');
    await rejectsWith(inv.audit.list({ filters: [f('after', 'ic', 'x')] }), [[E.INVALID_QUERY, 'after__ic']]);
  });
});

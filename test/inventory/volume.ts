/**
 * Volume check, run by hand (not part of the suite):
 *   node --import tsx test/inventory/volume.ts [sqlite|postgres] [servers=100000] [racks=2500]
 * Imports the servers through bulkCreate (one call, one transaction) and
 * times list pages of 50 the way the API will ask for them.
 */
import { performance } from 'node:perf_hooks';
import { openInventory } from '../../src/inventory/inventory.js';
import type { ListQuery } from '../../src/inventory/query.js';
import { testBackends } from '../db/backends.js';

const which = process.argv[2] ?? 'sqlite';
const nServers = Number(process.argv[3] ?? 100_000);
const nRacks = Number(process.argv[4] ?? 2_500);
const backend = (await testBackends()).find((b) => b.name === which);
if (backend === undefined || backend.skip !== undefined) throw new Error(`backend ${which} unavailable: ${backend?.skip}`);

const db = await backend.open();
try {
  const inv = openInventory(db);
  const ctx = { user: 'volume', requestId: 'volume' };
  const dc = await inv.datacenters.create({ name: 'DC-VOL', code: 'dc-vol' }, ctx);
  let t = performance.now();
  const racks = await inv.racks.bulkCreate(
    Array.from({ length: nRacks }, (_, i) => ({ datacenter_id: dc.row.id, name: `R${String(i).padStart(5, '0')}`, row: String.fromCharCode(65 + (i % 26)), u_height: 42, power_capacity_kw: 20 })),
    ctx,
  );
  const rackMs = performance.now() - t;
  const perRack = Math.ceil(nServers / nRacks);
  const statuses = ['planned', 'provisioning', 'active', 'active', 'active', 'maintenance'];
  const vendors = ['Dell', 'HPE', 'Lenovo', 'Supermicro'];
  const rows = Array.from({ length: nServers }, (_, i) => ({
    name: `srv-${String(i).padStart(6, '0')}`,
    rack_id: racks.rows[Math.floor(i / perRack)]!.id,
    u_position: 1 + (i % perRack),
    u_size: 1,
    serial: `SN${String(i).padStart(8, '0')}`,
    vendor: vendors[i % vendors.length],
    model: `Model ${i % 17}`,
    cpu_cores: 16 + (i % 4) * 16,
    ram_gb: 128 * (1 + (i % 4)),
    power_supply_w: 400,
    status: statuses[i % statuses.length],
    os: i % 3 === 0 ? 'Debian 12' : 'Ubuntu 22.04',
  }));
  t = performance.now();
  const created = await inv.servers.bulkCreate(rows, ctx);
  const serverMs = performance.now() - t;
  console.log(`${which}: ${nRacks} racks in ${rackMs.toFixed(0)} ms; ${created.rows.length} servers in one bulkCreate in ${(serverMs / 1000).toFixed(1)} s (${Math.round(created.rows.length / (serverMs / 1000))}/s), ${created.warnings.length} warnings`);

  const midRack = racks.rows[Math.floor(nRacks / 2)]!.id;
  const queries: Record<string, ListQuery> = {
    'page 50, default order (name)': { limit: 50, offset: 5000 },
    'status=active, vendor=Dell, ordered by -cpu_cores': {
      filters: [
        { field: 'status', value: 'active' },
        { field: 'vendor', value: 'Dell' },
      ],
      ordering: ['-cpu_cores'],
      limit: 50,
    },
    'rack_id=<one rack>, ordered by u_position': { filters: [{ field: 'rack_id', value: midRack }], ordering: ['u_position'], limit: 50 },
    'name__isw=srv-0500': { filters: [{ field: 'name', lookup: 'isw', value: 'srv-0500' }], limit: 50 },
    'q=SN0004 (search, scan)': { q: 'SN0004', limit: 50 },
  };
  for (const [label, q] of Object.entries(queries)) {
    const samples: number[] = [];
    let count = 0;
    for (let i = 0; i < 60; i++) {
      const s = performance.now();
      const r = await inv.servers.list(q);
      samples.push(performance.now() - s);
      count = r.count;
    }
    samples.splice(0, 10); // warm-up
    samples.sort((a, b) => a - b);
    const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!.toFixed(2);
    console.log(`  ${label}: count=${count} p50=${pct(0.5)} ms p99=${pct(0.99)} ms`);
  }
  const s = performance.now();
  await inv.servers.get(created.rows[77_777 % created.rows.length]!.id);
  console.log(`  get by id: ${(performance.now() - s).toFixed(2)} ms`);
} finally {
  await db.dispose();
}

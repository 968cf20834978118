/**
 * POST /api/v1/servers/import through the HTTP stack, on SQLite and
 * PostgreSQL: CSV, JSON and NDJSON; references by name; primary interfaces;
 * all or nothing with every bad row reported; dry_run; streamed progress;
 * the route's own body limit; RBAC, tenant scope and the audit trail.
 */
import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { DbAuthStore } from '../../src/auth/db-auth-store.js';
import { LoginRateLimiter } from '../../src/auth/rate-limit.js';
import type { Role } from '../../src/auth/store.js';
import { buildApi } from '../../src/http/api.js';
import { openInventory } from '../../src/inventory/inventory.js';
import type { Inventory } from '../../src/inventory/inventory.js';
import { testBackends } from '../db/backends.js';
import type { TestDatabase } from '../db/backends.js';
import { FAST_HASHER, baseDeps, call, describeApi, uniq } from './harness.js';

const URL = '/api/v1/servers/import';
const CSV = { 'content-type': 'text/csv' };

async function site(inv: Inventory, racks: readonly string[], extra: Record<string, unknown> = {}): Promise<{ dc: string; dcId: number; rackIds: number[] }> {
  const dc = uniq('DC');
  const d = await inv.datacenters.create({ name: dc, code: dc.toLowerCase(), ...extra });
  const ids: number[] = [];
  for (const r of racks) ids.push((await inv.racks.create({ datacenter_id: d.row.id, name: r, u_height: 42, ...extra })).row.id);
  return { dc, dcId: d.row.id, rackIds: ids };
}

const issueKeys = (errors: readonly { row: number; path: string; code: string }[]) => errors.map((e) => `${e.row} ${e.path} ${e.code}`);

describeApi(
  'server import',
  (env) => {
    it('imports CSV with racks and tenants by name and primary interfaces from mac/ip, audited per row under the request id', async () => {
      const { app, inv } = env();
      const rack = uniq('R');
      const { dc, rackIds } = await site(inv, [rack]);
      const tenant = uniq('t').toLowerCase();
      await inv.tenants.create({ name: `Tenant ${tenant}`, slug: tenant });
      const p = uniq('csv');
      const csv = [
        'Name,Serial Number,datacenter,rack,u_position,status,tenant,mac,ip,manufacturer',
        `${p}-1,${p}-S1,${dc},${rack},1,active,${tenant},52:54:00:aa:00:01,10.200.0.1,Dell`,
        `${p}-2,${p}-S2,${dc},${rack},2,planned,Tenant ${tenant},52-54-00-AA-00-02,,HPE`,
        `${p}-3,${p}-S3,,,,,,,,`,
      ].join('\n');
      const r = await call(app, 'POST', URL, csv, { ...CSV, 'x-request-id': `${p}-req` });
      assert.equal(r.status, 201, r.raw);
      assert.deepEqual({ ok: r.body.ok, created: r.body.created, interfaces: r.body.interfaces, total: r.body.total, errors: r.body.errors }, { ok: true, created: 3, interfaces: 2, total: 3, errors: [] });
      const rows = (await inv.servers.list({ filters: [{ field: 'name', lookup: 'isw', value: p }], ordering: ['name'] })).rows;
      assert.deepEqual(rows.map((s) => [s.rack_id, s.u_position, s.status, s.vendor, s.tenant_id === null]), [
        [rackIds[0], 1, 'active', 'Dell', false],
        [rackIds[0], 2, 'planned', 'HPE', false],
        [null, null, 'planned', null, true],
      ]);
      const nics = (await inv.serverInterfaces.list({ filters: [{ field: 'server_id', lookup: 'in', value: rows.map((s) => s.id) }], ordering: ['mac'] })).rows;
      assert.deepEqual(nics.map((n) => [n.name, n.mac, n.ip, n.is_primary]), [
        ['eth0', '52:54:00:aa:00:01', '10.200.0.1', true],
        ['eth0', '52:54:00:aa:00:02', null, true],
      ]);
      const audit = await inv.audit.list({ filters: [{ field: 'request_id', value: `${p}-req` }], limit: 100 });
      assert.deepEqual(audit.rows.map((a) => `${a.action} ${a.object_type}`).sort(), ['create server', 'create server', 'create server', 'create server_interface', 'create server_interface']);
    });

    it('refuses the whole file and reports every bad row with its line, column and code', async () => {
      const { app, inv } = env();
      const rack = uniq('R');
      const twin = uniq('twin');
      const { dc } = await site(inv, [rack, twin]);
      await site(inv, [twin]);
      const taken = uniq('TAKEN');
      await inv.servers.create({ name: uniq('pre'), serial: taken });
      const p = uniq('bad');
      const csv = [
        'name,serial,datacenter,rack,u_position,status,mac',
        `${p}-1,${p}-S1,${dc},${rack},1,active,52:54:00:bb:00:01`,
        `${p}-2,${taken},${dc},${rack},2,active,`, // serial already stored
        `${p}-3,${p}-S3,${dc},${rack},1,active,`, // U1 taken by row 1
        `${p}-4,${p}-S4,,no-such-rack,5,active,`, // unknown rack
        `${p}-5,${p}-S5,,${twin},6,active,`, // rack name in two datacenters
        `${p}-6,${p}-S6,${dc},${rack},7,exploded,not-a-mac`, // bad enum and bad MAC
        `${p}-7,${p}-S1,${dc},${rack},8,active,`, // serial of row 1
        `${p}-8,${p}-S8,${dc}`, // too few cells
        `${p}-9,${p}-S9,${dc},${rack},9,active,52:54:00:bb:00:01`, // MAC of row 1
      ].join('\n');
      const r = await call(app, 'POST', URL, csv, { ...CSV, 'x-request-id': `${p}-req` });
      assert.equal(r.status, 409, r.raw);
      assert.equal(r.body.code, 'INVENTORY_ERR_MULTIPLE');
      assert.equal(r.body.ok, false);
      assert.equal(r.body.created, 0);
      assert.deepEqual(issueKeys(r.body.errors).sort(), [
        '2 serial INVENTORY_ERR_DUPLICATE_SERIAL',
        '3 u_position INVENTORY_ERR_U_OVERLAP',
        '4 rack INVENTORY_ERR_REFERENCE_NOT_FOUND',
        '5 rack INVENTORY_ERR_INVALID_VALUE',
        '6 mac INVENTORY_ERR_INVALID_VALUE',
        '6 status INVENTORY_ERR_INVALID_VALUE',
        '7 serial INVENTORY_ERR_DUPLICATE_SERIAL',
        '8  INVENTORY_ERR_INVALID_VALUE',
        '9 mac INVENTORY_ERR_DUPLICATE_MAC',
      ]);
      const byRow = new Map<number, { line: number; message: string }>(r.body.errors.map((e: { row: number; line: number; message: string }) => [e.row, e]));
      assert.equal(byRow.get(4)?.line, 5, 'line counts the header');
      assert.match(byRow.get(5)?.message ?? '', /datacenter/);
      assert.equal((await inv.servers.list({ filters: [{ field: 'name', lookup: 'isw', value: p }] })).count, 0, 'nothing written');
      assert.equal((await inv.audit.list({ filters: [{ field: 'request_id', value: `${p}-req` }] })).count, 0, 'nothing audited');
    });

    it('names the row and line of a NUL in a rack, datacenter or tenant name, with the other bad rows', async () => {
      const { app, inv } = env();
      const rack = uniq('R');
      const { dc } = await site(inv, [rack]);
      const p = uniq('nul');
      const csv = [
        'name,serial,datacenter,rack,u_position,tenant',
        `${p}-1,${p}-S1,${dc},${rack},1,`,
        `${p}-2,${p}-S2,${dc},r\u0000ck,2,`,
        `${p}-3,${p}-S3,,,,t\u0000nant`,
        `${p}-4,${p}-S4,d\u0000c,${rack},4,`,
        `${p}-5,${p}-S5,,no-such-rack,5,`,
      ].join('\n');
      const r = await call(app, 'POST', URL, csv, CSV);
      assert.equal(r.status, 422, r.raw);
      assert.deepEqual(
        r.body.errors.map((e: { row: number; line: number; path: string; code: string; message: string }) => [e.row, e.line, e.path, e.code, /NUL/.test(e.message)]),
        [
          [2, 3, 'rack', 'INVENTORY_ERR_INVALID_VALUE', true],
          [3, 4, 'tenant', 'INVENTORY_ERR_INVALID_VALUE', true],
          [4, 5, 'datacenter', 'INVENTORY_ERR_INVALID_VALUE', true],
          [5, 6, 'rack', 'INVENTORY_ERR_REFERENCE_NOT_FOUND', false],
        ],
      );
      assert.equal((await inv.servers.list({ filters: [{ field: 'name', lookup: 'isw', value: p }] })).count, 0, 'nothing written');
    });

    it('sees a duplicate far apart in a large file (across chunks) and a header with an unknown column', async () => {
      const { app, inv } = env();
      const p = uniq('far');
      const lines = ['name,serial'];
      for (let i = 0; i < 2500; i++) lines.push(`${p}-${i},${p}-S${i === 2400 ? 3 : i}`);
      const r = await call(app, 'POST', URL, lines.join('\n'), CSV);
      assert.equal(r.status, 409, r.raw.slice(0, 500));
      assert.deepEqual(issueKeys(r.body.errors), ['2401 serial INVENTORY_ERR_DUPLICATE_SERIAL']);
      assert.equal((await inv.servers.list({ filters: [{ field: 'name', lookup: 'isw', value: p }] })).count, 0);

      const h = await call(app, 'POST', URL, `name,serial,colour\n${p}-x,${p}-X,red\n`, CSV);
      assert.equal(h.status, 422, h.raw);
      assert.deepEqual(issueKeys(h.body.errors), ['0 colour INVENTORY_ERR_UNKNOWN_FIELD']);
    });

    it('takes a JSON array and NDJSON the same way; dry_run checks and writes nothing', async () => {
      const { app, inv } = env();
      const rack = uniq('R');
      const { rackIds } = await site(inv, [rack]);
      const p = uniq('js');
      const rows = [
        { name: `${p}-1`, serial: `${p}-S1`, rack, u_position: 10, cpu_cores: 32 },
        { name: `${p}-2`, serial: `${p}-S2`, rack_id: rackIds[0], u_position: 11, mac: '52:54:00:cc:00:02' },
      ];
      const dry = await call(app, 'POST', `${URL}?dry_run=true`, rows);
      assert.equal(dry.status, 200, dry.raw);
      assert.deepEqual([dry.body.ok, dry.body.dry_run, dry.body.created], [true, true, 0]);
      assert.equal((await inv.servers.list({ filters: [{ field: 'name', lookup: 'isw', value: p }] })).count, 0, 'dry run wrote nothing');
      const badDry = await call(app, 'POST', `${URL}?dry_run=true`, [{ name: `${p}-x`, cpu_cores: 'many' }, 7]);
      assert.equal(badDry.status, 422, badDry.raw);
      assert.deepEqual(issueKeys(badDry.body.errors), ['1 cpu_cores INVENTORY_ERR_INVALID_VALUE', '2  INVENTORY_ERR_INVALID_VALUE']);

      const ok = await call(app, 'POST', URL, rows);
      assert.equal(ok.status, 201, ok.raw);
      assert.deepEqual([ok.body.created, ok.body.interfaces], [2, 1]);

      const nd = [`{"name":"${p}-3","serial":"${p}-S3","rack":"${rack}","u_position":12}`, '', '{"name": broken', `{"name":"${p}-4","serial":"${p}-S1"}`].join('\n');
      const bad = await call(app, 'POST', URL, nd, { 'content-type': 'application/x-ndjson' });
      assert.equal(bad.status, 409, bad.raw);
      assert.deepEqual(issueKeys(bad.body.errors), ['2  INVENTORY_ERR_INVALID_VALUE', '3 serial INVENTORY_ERR_DUPLICATE_SERIAL']);
      assert.equal(bad.body.errors[0].line, 3);
      assert.equal((await inv.servers.list({ filters: [{ field: 'name', lookup: 'isw', value: p }] })).count, 2, 'only the earlier import');
    });

    it('streams {phase, done, total} lines and then the report when asked for NDJSON', async () => {
      const { app, inv } = env();
      const p = uniq('st');
      const lines = ['name,serial'];
      for (let i = 0; i < 2300; i++) lines.push(`${p}-${i},${p}-S${i}`);
      const r = await call(app, 'POST', URL, lines.join('\n'), { ...CSV, accept: 'application/x-ndjson' });
      assert.equal(r.status, 200);
      assert.match(String(r.headers['content-type']), /^application\/x-ndjson/);
      const out = r.raw.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const imports = out.filter((o) => o['phase'] === 'import').map((o) => o['done']);
      assert.deepEqual(imports, [0, 1000, 2000, 2300]);
      assert.ok(out.every((o) => o['phase'] === 'done' || o['total'] === 2300));
      const last = out.at(-1)!;
      assert.deepEqual([last['phase'], last['status'], last['created']], ['done', 201, 2300]);
      assert.equal((await inv.servers.list({ filters: [{ field: 'name', lookup: 'isw', value: p }] })).count, 2300);

      const refused = await call(app, 'POST', URL, `name,u_position\n${p}-z,3\n`, { ...CSV, accept: 'application/x-ndjson' });
      const end = JSON.parse(refused.raw.trim().split('\n').at(-1)!) as Record<string, unknown>;
      assert.deepEqual([end['phase'], end['status'], end['code']], ['done', 422, 'INVENTORY_ERR_U_POSITION_WITHOUT_RACK']);
    });

    it('refuses, as a whole, an import whose primary interfaces would take one reserved address twice', async () => {
      const { app, inv } = env();
      // Not 200: the first test's server has 10.200.0.1, and a subnet covering it derives that server's reservation.
      const id = 201 + (process.pid % 50);
      const sub = await call(app, 'POST', '/api/v1/dhcp/subnets', { id, subnet: `10.${id}.0.0/16`, config: { pools: [`10.${id}.1.0-10.${id}.1.255`] } });
      assert.equal(sub.status, 201, sub.raw);
      const p = uniq('rsv');
      const csv = [
        'name,mac,ip',
        `${p}-1,52:54:00:dd:00:01,10.${id}.0.10`,
        `${p}-2,52:54:00:dd:00:02,10.${id}.0.10`, // the address row 1's reservation takes
        `${p}-3,52:54:00:dd:00:03,10.${id}.1.7`, // inside the dynamic pool
      ].join('\n');
      const r = await call(app, 'POST', URL, csv, CSV);
      assert.equal(r.status, 409, r.raw);
      assert.equal(r.body.ok, false);
      // The reservation clash is found when the reservations are derived, after the interfaces went in: it names the servers, not a row.
      assert.deepEqual(issueKeys(r.body.errors), ['0 ip INVENTORY_ERR_RESERVATION_CONFLICT', '3 ip INVENTORY_ERR_IP_IN_DYNAMIC_POOL']);
      assert.match(r.body.errors[0].message, new RegExp(`${p}-1`));
      assert.equal((await inv.servers.list({ filters: [{ field: 'name', lookup: 'isw', value: p }] })).count, 0, 'nothing written');
      assert.equal((await inv.dhcpReservations.list({ filters: [{ field: 'subnet_id', value: id }] })).count, 0, 'no reservation derived');
    });

    it('has a body limit of its own: a file far above the API limit goes in; other routes keep theirs', async () => {
      const { app, inv } = env();
      const p = uniq('big');
      const lines = ['name,serial,description'];
      for (let i = 0; i < 600; i++) lines.push(`${p}-${i},${p}-S${i},${'x'.repeat(200)}`);
      const body = lines.join('\n');
      assert.ok(body.length > 64 * 1024);
      const r = await call(app, 'POST', URL, body, CSV);
      assert.equal(r.status, 201, r.raw.slice(0, 300));
      assert.equal((await inv.servers.list({ filters: [{ field: 'name', lookup: 'isw', value: p }] })).count, 600);
      const plain = await call(app, 'POST', '/api/v1/servers', Array.from({ length: 600 }, (_, i) => ({ name: `${p}-b${i}`, description: 'x'.repeat(200) })));
      assert.equal(plain.status, 413);
      assert.equal(plain.body.code, 'API_ERR_BODY_TOO_LARGE');
      const text = await call(app, 'POST', URL, 'name\nx\n', { 'content-type': 'text/plain' });
      assert.equal(text.status, 415);
      const empty = await call(app, 'POST', URL, '', CSV);
      assert.equal(empty.status, 400, empty.raw);
    });
  },
  { bodyLimit: 64 * 1024 },
);

const PASSWORD = 'correct horse battery staple';
for (const backend of await testBackends()) {
  describe(`server import auth [${backend.name}]`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let app: FastifyInstance;
    let store: DbAuthStore;
    let inv: Inventory;
    before(async () => {
      db = await backend.open();
      store = new DbAuthStore(db);
      inv = openInventory(db);
      app = await buildApi({
        ...baseDeps(),
        inventory: inv,
        auth: { store, hasher: FAST_HASHER, tokens: { secret: randomBytes(64) }, rateLimiter: new LoginRateLimiter({ capacity: 1000, refillPerSecond: 100, maxKeys: 100 }) },
      });
      await app.ready();
    });
    after(async () => {
      await app.close();
      await db.dispose();
    });

    async function bearer(role: Role, tenantIds: number[] = []): Promise<{ username: string; headers: Record<string, string> }> {
      const username = uniq(role);
      await store.createUser({ username, password_hash: await FAST_HASHER.hash(PASSWORD), role, tenant_ids: tenantIds });
      const r = await call(app, 'POST', '/api/v1/auth/token', { username, password: PASSWORD });
      assert.equal(r.status, 200, r.raw);
      return { username, headers: { authorization: `Bearer ${r.body.access_token as string}` } };
    }

    it('needs a bearer, refuses viewers, lets operators import and audits them', async () => {
      const p = uniq('rb');
      const csv = `name,serial\n${p}-1,${p}-S1\n`;
      assert.equal((await call(app, 'POST', URL, csv, CSV)).status, 401);
      const viewer = await bearer('viewer');
      const v = await call(app, 'POST', URL, csv, { ...CSV, ...viewer.headers });
      assert.equal(v.status, 403);
      assert.equal(v.body.code, 'AUTH_ERR_FORBIDDEN');
      const op = await bearer('operator');
      const o = await call(app, 'POST', URL, csv, { ...CSV, ...op.headers, 'x-request-id': `${p}-req` });
      assert.equal(o.status, 201, o.raw);
      const audit = await inv.audit.list({ filters: [{ field: 'request_id', value: `${p}-req` }] });
      assert.deepEqual(audit.rows.map((a) => a.user), [op.username]);
    });

    it('resolves names only within the caller\'s tenants and places servers only there', async () => {
      const a = await inv.tenants.create({ name: uniq('A'), slug: uniq('a').toLowerCase() });
      const b = await inv.tenants.create({ name: uniq('B'), slug: uniq('b').toLowerCase() });
      const rackA = uniq('RA');
      const rackB = uniq('RB');
      await site(inv, [rackA], { tenant_id: a.row.id });
      await site(inv, [rackB], { tenant_id: b.row.id });
      const scoped = await bearer('operator', [a.row.id]);
      const p = uniq('ts');
      const csv = [
        'name,rack,u_position,tenant',
        `${p}-1,${rackA},1,${a.row.slug}`,
        `${p}-2,${rackB},1,${a.row.slug}`, // another tenant's rack: not visible
        `${p}-3,${rackA},2,${b.row.slug}`, // another tenant: not visible
      ].join('\n');
      const r = await call(app, 'POST', URL, csv, { ...CSV, ...scoped.headers });
      assert.equal(r.status, 422, r.raw);
      assert.deepEqual(issueKeys(r.body.errors), ['2 rack INVENTORY_ERR_REFERENCE_NOT_FOUND', '3 tenant INVENTORY_ERR_REFERENCE_NOT_FOUND']);
      const good = await call(app, 'POST', URL, csv.split('\n').slice(0, 2).join('\n'), { ...CSV, ...scoped.headers });
      assert.equal(good.status, 201, good.raw);
    });
  });
}

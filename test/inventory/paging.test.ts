/**
 * What makes large lists cheap must not change what they answer (migration 0007, src/inventory/paging.ts):
 * the count PostgreSQL keeps by triggers equals count(*) through every kind of write, pages read from
 * the end equal pages read from the start, and searches read from their matches give the same rows.
 */
import { before, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { sql } from 'kysely';
import type { ListQuery } from '../../src/inventory/query.js';
import type { Server } from '../../src/inventory/resources.js';
import { InventoryErrorCode as E } from '../../src/inventory/errors.js';
import { describeEachBackend, rackFixture, rejectsWith, uniq } from './harness.js';

/** More than paging.ts's DEEP_OFFSET (1000), so filtered lists too are read from the end on both backends. */
const N = 1230;

describeEachBackend('inventory paging and counts', (env) => {
  let all: Server[] = [];

  before(async () => {
    const { inv } = env();
    const rows = Array.from({ length: N }, (_, i) => ({
      name: `pg-${String((i * 7919) % N).padStart(5, '0')}`,
      serial: `PSN${String(i).padStart(6, '0')}`,
      vendor: i % 5 === 0 ? null : ['Dell', 'HPE', 'Lenovo'][i % 3],
      cpu_cores: i % 7 === 0 ? null : 8 * (1 + (i % 4)),
      ram_gb: 64 * (1 + (i % 3)),
      status: i % 2 === 0 ? 'active' : 'planned',
      model: i % 10 === 0 ? 'Big Box' : 'Small Box',
    }));
    for (let i = 0; i < rows.length; i += 500) await inv.servers.bulkCreate(rows.slice(i, i + 500));
    all = (await inv.servers.list({ ordering: ['id'], limit: 1000 })).rows;
    all.push(...(await inv.servers.list({ ordering: ['id'], limit: 1000, offset: 1000 })).rows);
    assert.equal(all.length, N);
  });

  /** Every page of `query` (limit 50 and a ragged 37), in order, joined: must equal the rows sorted in JS. */
  async function everyPage(query: ListQuery, expected: readonly Server[]): Promise<void> {
    const { inv } = env();
    for (const limit of [50, 37]) {
      const got: number[] = [];
      for (let offset = 0; offset < expected.length + limit; offset += limit) {
        const page = await inv.servers.list({ ...query, limit, offset });
        assert.equal(page.count, expected.length, `count at offset ${offset}`);
        got.push(...page.rows.map((r) => r.id));
      }
      assert.deepEqual(got, expected.map((r) => r.id), `${JSON.stringify(query)} limit ${limit}`);
    }
  }

  const byte = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  /** Nulls last ascending, first descending; ties by id in the direction of the key. */
  const by = (key: 'name' | 'ram_gb' | 'cpu_cores', desc: boolean) => (a: Server, b: Server) => {
    const x = a[key] as string | number | null;
    const y = b[key] as string | number | null;
    let c = x === y ? 0 : x === null ? 1 : y === null ? -1 : typeof x === 'string' ? byte(x, y as string) : x - (y as number);
    if (desc) c = -c;
    return c !== 0 ? c : desc ? b.id - a.id : a.id - b.id;
  };

  it('pages read from the end (the back half) equal pages read from the start, in every order', async () => {
    await everyPage({}, [...all].sort(by('name', false)));
    await everyPage({ ordering: ['-ram_gb'] }, [...all].sort(by('ram_gb', true)));
    await everyPage({ ordering: ['cpu_cores'] }, [...all].sort(by('cpu_cores', false)));
    await everyPage({ ordering: ['-name'] }, [...all].sort(by('name', true)));
  });

  it('filtered deep pages too, and a search read from its matches', async () => {
    const active = all.filter((s) => s.status === 'active');
    await everyPage({ filters: [{ field: 'status', value: 'active' }] }, [...active].sort(by('name', false)));
    const dell = all.filter((s) => s.vendor === 'Dell');
    await everyPage({ filters: [{ field: 'vendor', value: 'Dell' }], ordering: ['-cpu_cores'] }, [...dell].sort(by('cpu_cores', true)));
    const big = all.filter((s) => s.model === 'Big Box');
    await everyPage({ q: 'BIG box' }, [...big].sort(by('name', false)));
    const sn = all.filter((s) => s.serial!.startsWith('PSN0001'));
    await everyPage({ filters: [{ field: 'serial', lookup: 'ic', value: 'sn0001' }], ordering: ['-ram_gb'] }, [...sn].sort(by('ram_gb', true)));
    await everyPage({ filters: [{ field: 'serial', lookup: 'ic', value: 'sn0001' }] }, [...sn].sort(by('name', false)));
    await everyPage({ filters: [{ field: 'serial', lookup: 'ic', value: 'SN0001' }, { field: 'status', value: 'active' }], q: 'psn' }, sn.filter((x) => x.status === 'active').sort(by('name', false)));
    const { inv } = env();
    assert.deepEqual(await inv.servers.list({ q: 'no such server' }), { count: 0, rows: [] });
    assert.deepEqual(await inv.servers.list({ q: 'big box', offset: 5000 }), { count: big.length, rows: [] });
    assert.deepEqual(await inv.servers.list({ q: 'big box', limit: 0 }), { count: big.length, rows: [] });
  });

  /** Every page by cursor, joined: the same rows as `expected`, and the count of the whole list on each page. */
  async function everyCursorPage(query: ListQuery, expected: readonly Server[], limit: number): Promise<void> {
    const { inv } = env();
    const got: number[] = [];
    let after: string | null | undefined = '';
    for (let pages = 0; typeof after === 'string'; pages++) {
      assert.ok(pages <= expected.length / limit + 1, 'the cursor walk ends');
      const page: Awaited<ReturnType<typeof inv.servers.list>> = await inv.servers.list({ ...query, limit, after });
      assert.equal(page.count, expected.length);
      got.push(...page.rows.map((r) => r.id));
      after = page.nextCursor;
    }
    assert.equal(after, null);
    assert.deepEqual(got, expected.map((r) => r.id), `${JSON.stringify(query)} by cursor, limit ${limit}`);
  }

  it('cursor pages walk the same rows as offsets, through nulls, ties and filters, in every order', async () => {
    await everyCursorPage({}, [...all].sort(by('name', false)), 100);
    await everyCursorPage({ ordering: ['-ram_gb'] }, [...all].sort(by('ram_gb', true)), 97);
    await everyCursorPage({ ordering: ['cpu_cores'] }, [...all].sort(by('cpu_cores', false)), 101);
    await everyCursorPage({ ordering: ['-cpu_cores'] }, [...all].sort(by('cpu_cores', true)), 89);
    const active = all.filter((s) => s.status === 'active');
    await everyCursorPage({ filters: [{ field: 'status', value: 'active' }], ordering: ['-name'] }, [...active].sort(by('name', true)), 50);
    const big = all.filter((s) => s.model === 'Big Box');
    await everyCursorPage({ q: 'big box' }, [...big].sort(by('name', false)), 50);
    await everyCursorPage({ q: 'big box' }, [...big].sort(by('name', false)), big.length);
    await everyCursorPage({ filters: [{ field: 'name', value: 'no such' }] }, [], 10);
  });

  it('refuses a cursor that is not one, or was made for another ordering', async () => {
    const { inv } = env();
    const first = await inv.servers.list({ limit: 3, after: '', ordering: ['-ram_gb'] });
    assert.equal(typeof first.nextCursor, 'string');
    await rejectsWith(inv.servers.list({ after: first.nextCursor!, ordering: ['ram_gb'] }), [[E.INVALID_QUERY, 'cursor']]);
    await rejectsWith(inv.servers.list({ after: 'not a cursor!' }), [[E.INVALID_QUERY, 'cursor']]);
    const forged = Buffer.from(JSON.stringify({ o: 'name,id', v: [1, 'x'] })).toString('base64url');
    await rejectsWith(inv.servers.list({ after: forged }), [[E.INVALID_QUERY, 'cursor']]);
    assert.equal((await inv.servers.list({ limit: 3 })).nextCursor, undefined, 'offset paging has no cursor');
  });

  it('the audit log pages by cursor too', async () => {
    const { inv } = env();
    const head = await inv.audit.list({ ordering: ['id'], limit: 1000 });
    const got: number[] = [];
    let after: string | null | undefined = '';
    while (typeof after === 'string') {
      const page: Awaited<ReturnType<typeof inv.audit.list>> = await inv.audit.list({ ordering: ['id'], limit: 300, after });
      got.push(...page.rows.map((e) => e.id));
      after = page.nextCursor;
    }
    assert.equal(got.length, head.count);
    assert.deepEqual(got.slice(0, 1000), head.rows.map((e) => e.id));
    assert.equal(new Set(got).size, got.length);
    assert.deepEqual([...got].sort((a, b) => a - b), got, 'in id order');
  });

  /** What the list says, against count(*) asked directly. */
  async function countsAgree(table: 'servers' | 'racks' | 'audit_log'): Promise<number> {
    const { inv, db } = env();
    const direct = Number((await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(db.db)).rows[0]!.n);
    const listed = table === 'audit_log' ? (await inv.audit.list({ limit: 0 })).count : (await inv.repository(table)!.list({ limit: 1 })).count;
    assert.equal(listed, direct, `${table}: list count ${listed}, count(*) ${direct}`);
    return direct;
  }

  it('the count stays exact through creates, deletes, cascades, imports and rolled-back transactions', async () => {
    const { inv } = env();
    const start = await countsAgree('servers');
    await countsAgree('audit_log');
    const { rackId } = await rackFixture(inv);
    const one = await inv.servers.create({ name: uniq('cnt'), rack_id: rackId, u_position: 1 });
    assert.equal(await countsAgree('servers'), start + 1);
    await inv.servers.bulkCreate(Array.from({ length: 30 }, (_, i) => ({ name: uniq('cnt'), rack_id: rackId, u_position: 2 + i })));
    assert.equal(await countsAgree('servers'), start + 31);
    await inv.servers.delete(one.row.id);
    assert.equal(await countsAgree('servers'), start + 30);
    // Refused writes and rolled-back transactions leave the count alone.
    await assert.rejects(inv.servers.create({ name: uniq('cnt'), rack_id: rackId, u_position: 2 }));
    await assert.rejects(
      inv.transaction(async (tx) => {
        await tx.servers.bulkCreate(Array.from({ length: 5 }, () => ({ name: uniq('gone') })));
        assert.equal((await tx.servers.list({ limit: 0 })).count, start + 35, 'the transaction sees its own rows');
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.equal(await countsAgree('servers'), start + 30);
    // A cascade deletes the rack's servers with it.
    await inv.racks.delete(rackId, { cascade: true });
    assert.equal(await countsAgree('servers'), start);
    await countsAgree('racks');
    await countsAgree('audit_log');
  });

  it('counts writes made in plain SQL; on PostgreSQL folding the kept deltas keeps the sum', async () => {
    const { inv, db, backend } = env();
    const start = await countsAgree('servers');
    const now = new Date().toISOString();
    // Many statements, each a delta row on PostgreSQL, past the point where a reader folds them.
    for (let i = 0; i < 80; i++) {
      await sql`insert into servers (name, u_size, type, status, boot_profile, created_at, updated_at) values (${uniq('sql')}, 1, 'physical', 'active', 'local', ${now}, ${now})`.execute(db.db);
    }
    const parts = async () => Number((await sql<{ n: number | string }>`select count(*) as n from dcplane_row_counts where table_name = 'servers'`.execute(db.db)).rows[0]!.n);
    // On PostgreSQL a read folds the deltas (past 64), so the first read comes after the delete, below.
    if (backend === 'postgres') assert.ok((await parts()) > 64);
    else assert.equal(await countsAgree('servers'), start + 80);
    await sql`delete from servers where name like ${'sql-%'}`.execute(db.db);
    assert.equal((await inv.servers.list({ limit: 0 })).count, start);
    // SQLite counts with count(*): nothing is kept to fold.
    if (backend !== 'postgres') return void assert.equal(await countsAgree('servers'), start);
    // The fold runs after the read, on its own; wait for it rather than for a time.
    for (let i = 0; i < 200 && (await parts()) > 1; i++) await new Promise((r) => setImmediate(r));
    assert.equal(await parts(), 1);
    assert.equal(await countsAgree('servers'), start);
  });
});

describeEachBackend('inventory search indexes follow every write', (env) => {
  it('finds a server by q and __ic after create, rename and delete, as the LIKE alone would', async () => {
    const { inv } = env();
    const tag = uniq('Zq').replace(/-/g, '');
    const a = await inv.servers.create({ name: `${tag}-alpha`, model: 'Quux "Box" 9000', serial: `${tag}SER` });
    const q = async (text: string) => (await inv.servers.list({ q: text, limit: 10 })).rows.map((r) => r.id);
    const ic = async (text: string) => (await inv.servers.list({ filters: [{ field: 'name', lookup: 'ic', value: text }], limit: 10 })).rows.map((r) => r.id);
    assert.deepEqual(await q(tag.toLowerCase()), [a.row.id]);
    assert.deepEqual(await q('"box" 90'), [a.row.id], 'quotes are text, not query syntax');
    assert.deepEqual(await ic(`${tag.toUpperCase()}-AL`), [a.row.id]);
    assert.deepEqual(await ic(`${tag}SER`), [], '__ic on name does not look in serial');
    await inv.servers.update(a.row.id, { name: `${tag}-beta` });
    assert.deepEqual(await ic(`${tag}-alpha`), []);
    assert.deepEqual(await ic(`${tag}-beta`), [a.row.id]);
    assert.deepEqual(
      (await inv.servers.list({ filters: [{ field: 'name', lookup: 'isw', value: `${tag}-BE` }] })).rows.map((r) => r.id),
      [a.row.id],
    );
    assert.deepEqual((await inv.servers.list({ filters: [{ field: 'name', lookup: 'iew', value: `${tag}-be` }] })).count, 0, 'a prefix is no suffix');
    // Two characters are below a trigram: the scan still answers.
    assert.deepEqual(await q('zQ'), [a.row.id]);
    await inv.servers.delete(a.row.id);
    assert.deepEqual(await q(tag), []);
  });

  it('q counts and pages what the seven LIKEs match through every kind of write (PostgreSQL reads its narrow search table)', async () => {
    const { inv, db, backend } = env();
    const tag = uniq('Nw').replace(/-/g, '').toLowerCase();
    const SEARCH = ['name', 'vendor', 'model', 'serial', 'cpu_model', 'os', 'description'] as const;
    // The tag in a different column of each server, or in none; one server holds its two halves at the
    // end of its name and the start of its vendor, which the joined text must not take for a match.
    const rows = Array.from({ length: 90 }, (_, i) => ({
      name: i % 4 === 0 ? `${tag.toUpperCase()}-${String(i).padStart(3, '0')}` : `nw-${String((i * 37) % 90).padStart(3, '0')}-${tag.slice(0, 3)}`,
      serial: i % 4 === 1 ? `X${tag}${i}` : `NS${tag.slice(2)}-${i}`,
      description: i % 4 === 2 ? `rack note: ${tag} here` : null,
      cpu_model: i % 4 === 3 ? 'Plain CPU' : null,
      vendor: i % 5 === 0 ? null : 'Dell',
    }));
    const split = await inv.servers.create({ name: `nw-split-${tag.slice(0, 4)}`, vendor: `${tag.slice(4)}-vendor` });
    const created = await inv.servers.bulkCreate(rows);
    const ids = created.rows.map((r) => r.id);

    const check = async (step: string) => {
      let tagHits = 0;
      const all: Server[] = [];
      for (let offset = 0; ; offset += 1000) {
        const page = await inv.servers.list({ ordering: ['id'], limit: 1000, offset });
        all.push(...page.rows);
        if (page.rows.length < 1000) break;
      }
      for (const needle of [tag, tag.toUpperCase(), ` ${tag.slice(1)} `, `${tag.slice(0, 4)}\u0001${tag.slice(4)}`, 'nw-0']) {
        const n = needle.trim().toLowerCase();
        const hits = all.filter((s) => SEARCH.some((c) => typeof s[c] === 'string' && (s[c] as string).toLowerCase().includes(n)));
        if (needle === tag) tagHits = hits.length;
        for (const [ordering, desc] of [[undefined, false], [['-name'], true], [['name', 'id'], false]] as const) {
          const expected = [...hits].sort((a, b) => (a.name === b.name ? a.id - b.id : a.name < b.name ? -1 : 1) * (desc ? -1 : 1)).map((s) => s.id);
          for (const [limit, offset] of [[50, 0], [7, 5], [1000, 0], [10, expected.length - 3], [10, expected.length + 1]] as const) {
            const page = await inv.servers.list({ q: needle, limit, offset: Math.max(0, offset), ...(ordering === undefined ? {} : { ordering: [...ordering] }) });
            assert.equal(page.count, hits.length, `${step}: count of q=${JSON.stringify(needle)}`);
            assert.deepEqual(
              page.rows.map((r) => r.id),
              expected.slice(Math.max(0, offset), Math.max(0, offset) + limit),
              `${step}: q=${JSON.stringify(needle)} ordering ${String(ordering)} limit ${limit} offset ${offset}`,
            );
            // Whole rows, as the per-column path (another filter) returns them.
            if (limit === 7) {
              const other = await inv.servers.list({ q: needle, limit, offset, filters: [{ field: 'id', lookup: 'gte', value: 1 }], ...(ordering === undefined ? {} : { ordering: [...ordering] }) });
              assert.deepEqual(page, other, `${step}: q=${JSON.stringify(needle)} as the per-column path answers`);
            }
          }
        }
      }
      if (backend === 'postgres') {
        // The narrow table holds exactly each server's id, name and joined lower-cased search columns.
        const off = await sql<{ n: number | string }>`select count(*) as n from servers s full join server_search_text t on t.id = s.id
          where t.id is null or s.id is null or t.name <> s.name
            or t.search <> concat_ws(chr(1), lower(s.name), lower(s.vendor), lower(s.model), lower(s.serial), lower(s.cpu_model), lower(s.os), lower(s.description))`.execute(db.db);
        assert.equal(Number(off.rows[0]!.n), 0, `${step}: server_search_text follows servers`);
      }
      return tagHits;
    };

    const first = await check('created');
    assert.equal(first, 23 + 23 + 22, 'the tag in names, serials and descriptions, not across a name and a vendor');
    // Renames, a search column cleared, one moved into the tag, in single and bulk updates.
    await inv.servers.update(ids[0]!, { name: `renamed-${ids[0]}` });
    await inv.servers.update(ids[2]!, { description: null });
    await inv.servers.update(ids[3]!, { cpu_model: `CPU ${tag.toUpperCase()} v2` });
    await inv.servers.update(split.row.id, { vendor: 'Dell' });
    await inv.servers.bulkUpdate(ids.slice(8, 20).map((id, i) => ({ id, os: i % 2 === 0 ? `os-${tag}` : 'Debian 12', status: 'active' })));
    await check('updated');
    await inv.servers.delete(ids[4]!);
    await inv.servers.bulkDelete(ids.slice(40, 50));
    await check('deleted');
    // Plain SQL writes (an operator's psql) and a rolled-back transaction.
    await sql`update servers set model = ${`M-${tag}`} where id = ${ids[60]!}`.execute(db.db);
    await sql`update servers set serial = ${'NOPE-61'} where id = ${ids[61]!}`.execute(db.db);
    await sql`delete from servers where id = ${ids[64]!}`.execute(db.db);
    await assert.rejects(
      inv.transaction(async (tx) => {
        await tx.servers.update(ids[70]!, { name: `gone-${ids[70]}` });
        await tx.servers.create({ name: `${tag}-rolled-back` });
        throw new Error('roll back');
      }),
      /roll back/,
    );
    await check('plain SQL and a rollback');
  });
});

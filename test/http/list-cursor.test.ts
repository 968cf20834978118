/**
 * Cursor paging over HTTP (`cursor`, src/http/list-query.ts): `cursor=` starts, each `next` link
 * carries the next cursor until the last page, `previous` stays null, and a bad cursor is a 400
 * naming it. On SQLite and PostgreSQL.
 */
import { before, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { call, describeApi, uniq } from './harness.js';

describeApi('list cursor paging', (env) => {
  const names: string[] = [];
  before(async () => {
    const { app } = env();
    const prefix = uniq('cur');
    for (let i = 0; i < 7; i++) names.push(`${prefix}-${i}`);
    const r = await call(app, 'POST', '/api/v1/servers', names.map((name, i) => ({ name, ram_gb: i % 2 === 0 ? 64 : null })));
    assert.equal(r.status, 201, r.raw);
  });

  it('follows next links by cursor to the end, in the requested order', async () => {
    const { app } = env();
    const seen: string[] = [];
    let url: string | null = `/api/v1/servers?name__isw=${names[0]!.slice(0, -2)}&ordering=-ram_gb,name&limit=3&cursor=`;
    let pages = 0;
    while (url !== null) {
      const r = await call(app, 'GET', url);
      assert.equal(r.status, 200, r.raw);
      assert.equal(r.body.count, 7);
      assert.equal(r.body.previous, null);
      seen.push(...(r.body.results as { name: string }[]).map((x) => x.name));
      url = r.body.next as string | null;
      if (url !== null) {
        assert.match(url, /[?&]cursor=[A-Za-z0-9_-]+/);
        assert.doesNotMatch(url, /offset=/);
      }
      assert.ok(++pages <= 3);
    }
    // Nulls first descending, then ram 64 by name.
    const nulls = names.filter((_, i) => i % 2 === 1);
    const withRam = names.filter((_, i) => i % 2 === 0);
    assert.deepEqual(seen, [...nulls, ...withRam]);
  });

  it('answers 400 naming cursor for one it did not make', async () => {
    const { app } = env();
    const r = await call(app, 'GET', '/api/v1/servers?cursor=bm90LWEtY3Vyc29y');
    assert.equal(r.status, 400, r.raw);
    assert.ok((r.body.errors as { path: string }[]).some((e) => /cursor/.test(e.path)), r.raw);
  });
});

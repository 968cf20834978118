/**
 * Junk at the API: every answer is a 4xx with the error shape, never a 500
 * and never a dropped connection. Fixed cases for the framing errors, then
 * fast-check generated bodies, query strings and headers.
 */
import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { call, describeApi, uniq } from './harness.js';

function assertErrorShape(r: { status: number; body: unknown; raw: string }, what: string): void {
  assert.ok(r.status >= 400 && r.status < 500, `${what}: status ${r.status} ${r.raw.slice(0, 300)}`);
  const b = r.body as { code?: unknown; message?: unknown; errors?: unknown };
  assert.equal(typeof b?.code, 'string', `${what}: code`);
  assert.equal(typeof b?.message, 'string', `${what}: message`);
  assert.ok(Array.isArray(b?.errors), `${what}: errors`);
  for (const e of b.errors as Array<{ path?: unknown; message?: unknown }>) {
    assert.equal(typeof e.path, 'string');
    assert.equal(typeof e.message, 'string');
  }
}

const ROUTES = ['/api/v1/servers', '/api/v1/racks', '/api/v1/dhcp/subnets', '/api/v1/users', '/api/v1/network/links'];

async function raw(app: FastifyInstance, method: 'POST' | 'PATCH', url: string, payload: string | Buffer, contentType = 'application/json') {
  const r = await app.inject({ method, url, payload, headers: { 'content-type': contentType } });
  let body: unknown;
  try {
    body = JSON.parse(r.body);
  } catch {
    body = undefined;
  }
  return { status: r.statusCode, body, raw: r.body };
}

describeApi('bad input never gets a 500', (env) => {
  it('framing errors: not JSON, empty, wrong media type, prototype poisoning, oversized', async () => {
    const { app } = env();
    const cases: Array<[string | Buffer, string, number, string]> = [
      ['{"name": ', 'application/json', 400, 'API_ERR_MALFORMED_JSON'],
      ['', 'application/json', 400, 'API_ERR_EMPTY_BODY'],
      ['name=x', 'text/plain', 415, 'API_ERR_UNSUPPORTED_MEDIA_TYPE'],
      ['{"__proto__": {"admin": true}}', 'application/json', 400, 'API_ERR_MALFORMED_JSON'],
      ['{"constructor": {"prototype": {"admin": true}}}', 'application/json', 400, 'API_ERR_MALFORMED_JSON'],
      ['null', 'application/json', 400, 'API_ERR_VALIDATION'],
      ['123', 'application/json', 400, 'API_ERR_VALIDATION'],
      [Buffer.from([0xff, 0xfe, 0x00, 0x7b]), 'application/json', 400, 'API_ERR_MALFORMED_JSON'],
    ];
    for (const [payload, type, status, code] of cases) {
      const r = await raw(app, 'POST', '/api/v1/servers', payload, type);
      assertErrorShape(r, String(payload));
      assert.equal(r.status, status, `${String(payload)}: ${r.raw}`);
      assert.equal((r.body as { code: string }).code, code, String(payload));
    }
    const big = JSON.stringify(Array.from({ length: 50_000 }, (_, i) => ({ name: `s-${i}`, description: 'x'.repeat(200) })));
    const tooBig = await raw(app, 'POST', '/api/v1/servers', big);
    assert.equal(tooBig.status, 413);
    assert.equal((tooBig.body as { code: string }).code, 'API_ERR_BODY_TOO_LARGE');
    assert.equal((await call(app, 'GET', '/api/v1/servers?name=s-1')).body.count, 0);
  });

  it('odd values: huge and non-finite numbers, deep nesting, long strings, injection text', async () => {
    const { app } = env();
    const bodies: unknown[] = [
      { name: uniq('s'), cpu_cores: 1e308 },
      { name: uniq('s'), cpu_cores: 2 ** 70 },
      { name: uniq('s'), ram_gb: -1e-320 },
      { name: uniq('s'), u_position: 2147483648 },
      { name: { $gt: '' } },
      { name: [[[[[['deep']]]]]] },
      { name: 'x'.repeat(100_000) },
      { name: "'; drop table servers; --" , serial: "' or 1=1 --" },
      { name: uniq('s'), warranty_end: '2025-02-30' },
      { name: uniq('s'), rack_id: 0 },
    ];
    for (const b of bodies) {
      const r = await call(app, 'POST', '/api/v1/servers', b);
      if (r.status === 201) continue; // Injection text is just a name: stored verbatim, bound as a parameter.
      assertErrorShape(r, JSON.stringify(b).slice(0, 80));
    }
    const weird = await call(app, 'GET', `/api/v1/servers?name=${encodeURIComponent("'; drop table servers; --")}`);
    assert.equal(weird.status, 200);
    assert.equal(weird.body.count, 1, 'the injection text matched as a plain value');
    const hugeLiteral = await raw(app, 'POST', '/api/v1/servers', `{"name": "${uniq('s')}", "cpu_cores": 99999999999999999999999, "ram_gb": 1e400}`);
    assertErrorShape(hugeLiteral, 'huge literals');
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    assertErrorShape(await raw(app, 'POST', '/api/v1/servers', deep), 'deep array');
    // Offsets past any table: a 400 with the parameter named, on every list (a list's count and page run at once,
    // so an offset the database cannot bind must be refused before either runs).
    for (const url of ['/api/v1/servers', '/api/v1/audit/logs', '/api/v1/dhcp/leases', '/api/v1/tftp/transfers']) {
      for (const offset of ['1e30', '99999999999999999999', '2147483648']) {
        const r = await call(app, 'GET', `${url}?offset=${offset}`);
        assert.equal(r.status, 400, `${url}?offset=${offset}: ${r.raw.slice(0, 200)}`);
        assertErrorShape(r, `${url}?offset=${offset}`);
      }
    }
    assert.equal((await call(app, 'GET', '/api/v1/servers?offset=2147483647')).status, 200);
    const stillThere = await call(app, 'GET', '/api/v1/servers?limit=1');
    assert.equal(stillThere.status, 200);
  });

  it('a NUL character (PostgreSQL cannot store it) is refused with the path on both backends', async () => {
    const { app } = env();
    for (const [url, path] of [
      ['/api/v1/servers?name=%00', 'query.name'],
      ['/api/v1/servers?name__ic=a%00b', 'query.name__ic'],
      ['/api/v1/servers?name__in=a,%00', 'query.name__in[1]'],
      ['/api/v1/servers?q=%00', 'query.q'],
    ] as const) {
      const r = await call(app, 'GET', url);
      assertErrorShape(r, url);
      assert.equal(r.status, 400, `${url}: ${r.raw}`);
      assert.deepEqual((r.body as { errors: Array<{ path: string }> }).errors.map((e) => e.path), [path], url);
    }
    const name = uniq('nul');
    for (const b of [{ name: `${name}\u0000` }, { name, description: 'a\u0000b' }]) {
      const r = await call(app, 'POST', '/api/v1/servers', b);
      assertErrorShape(r, JSON.stringify(b));
      assert.equal(r.status, 422, r.raw);
      const paths = (r.body as { errors: Array<{ path: string }> }).errors.map((e) => e.path);
      assert.ok(paths.some((p) => p === 'body.name' || p === 'body.description'), JSON.stringify(paths));
    }
    assert.equal((await call(app, 'GET', `/api/v1/servers?name__isw=${name}`)).body.count, 0);
  });

  it('generated junk in bodies, filter names and values, ordering and headers stays 4xx', async () => {
    const { app } = env();
    const json = fc.jsonValue({ maxDepth: 4 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), fc.oneof(json, fc.dictionary(fc.string({ maxLength: 12 }), json, { maxKeys: 6 })), async (route, body) => {
        const r = await call(app, 'POST', route, body);
        if (r.status === 201) return;
        assertErrorShape(r, `${route} ${JSON.stringify(body).slice(0, 120)}`);
      }),
      { numRuns: 150 },
    );
    const nasty = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom("' or 1=1 --", '"; select pg_sleep(5); --', '%', '_', '\\', '__proto__', 'constructor', 'name__', '__in', 'id__in', '\u0000', '😀', '-'),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), nasty, nasty, async (route, key, value) => {
        const url = `${route}?${encodeURIComponent(key)}=${encodeURIComponent(value)}`;
        const r = await call(app, 'GET', url);
        if (r.status === 200) {
          assert.deepEqual(Object.keys(r.body), ['count', 'next', 'previous', 'results'], url);
          return;
        }
        assertErrorShape(r, url);
      }),
      { numRuns: 200 },
    );
    await fc.assert(
      fc.asyncProperty(nasty, async (value) => {
        const r = await call(app, 'GET', `/api/v1/racks?ordering=${encodeURIComponent(value)}`);
        if (r.status !== 200) assertErrorShape(r, `ordering=${value}`);
      }),
      { numRuns: 100 },
    );
    const made = await call(app, 'POST', '/api/v1/tenants', { name: uniq('T'), slug: uniq('t').toLowerCase() });
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 30 }).filter((s) => /^[\x20-\x7e]*$/.test(s)), async (h) => {
        const r = await call(app, 'PATCH', String(made.body.url), { description: 'x' }, { 'if-match': h });
        if (r.status !== 200) assertErrorShape(r, `if-match ${h}`);
      }),
      { numRuns: 100 },
    );
    for (const id of ['-1', '1.5', '99999999999999999999', 'NaN', '0x10', '%00']) {
      assertErrorShape(await call(app, 'GET', `/api/v1/servers/${id}`), `id ${id}`);
    }
  });
});

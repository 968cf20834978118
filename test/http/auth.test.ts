/**
 * Auth through the HTTP stack with the AuthStore over the inventory
 * database, on SQLite and PostgreSQL: bearer required, login (JSON and form),
 * refresh, API tokens, RBAC, tenant scoping, lockout, TOTP, and the audit
 * trail naming the user and request of every write.
 */
import { before, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { FastifyInstance } from 'fastify';
import { totpCodeAt } from '../../src/auth/totp.js';
import type { Role } from '../../src/auth/store.js';
import { call, uniq } from './harness.js';
import { PASSWORD, describeAuthApi } from './auth-harness.js';

describeAuthApi('API auth', (env) => {
  let app: FastifyInstance;
  before(() => {
    app = env().app;
  });
  const now = () => env().now();
  const user = (role: Role, tenantIds: number[] = []) => env().user(role, tenantIds);
  const tokenFor = async (username: string, password = PASSWORD) => (await env().login(username, password)).access_token;

  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  it('a NUL character in login fields is a 4xx, not a 500 (PostgreSQL cannot compare it)', async () => {
    for (const body of [{ username: 'a\u0000b', password: PASSWORD }, { username: 'nobody', password: 'x\u0000' }]) {
      const r = await call(app, 'POST', '/api/v1/auth/token', body);
      assert.ok(r.status >= 400 && r.status < 500, `${JSON.stringify(body)}: ${r.status} ${r.raw}`);
    }
  });

  it('everything but health, metrics, login and docs needs a bearer', async () => {
    for (const url of ['/api/v1/servers', '/api/v1/servers/1', '/api/v1/audit/logs', '/api/v1/auth/me', '/api/v1/nosuch']) {
      const r = await call(app, 'GET', url);
      assert.equal(r.status, 401, url);
      assert.equal(r.body.code, 'AUTH_ERR_TOKEN_MISSING', url);
      assert.equal(r.headers['www-authenticate'], 'Bearer');
    }
    for (const url of ['//api/v1/servers', '/api/v1/servers/', '/api/v1/%73ervers', '/api/v1/health/../servers', '/api/v1/auth/token/../../servers']) {
      const r = await call(app, 'GET', url);
      assert.ok(r.status === 401 || r.status === 404, `${url}: ${r.status}`);
      if (r.status === 404) assert.equal(r.body.results, undefined, url);
    }
    const post = await call(app, 'POST', '/api/v1/servers', { name: 'x' });
    assert.equal(post.status, 401, 'no write without a token');
    const bad = await call(app, 'GET', '/api/v1/servers', undefined, bearer('not.a.jwt'));
    assert.equal(bad.status, 401);
    assert.equal(bad.body.code, 'AUTH_ERR_TOKEN_INVALID');
    assert.equal((await call(app, 'GET', '/api/v1/health')).status, 200);
    assert.equal((await call(app, 'GET', '/api/v1/metrics/prometheus')).status, 200);
    assert.equal((await call(app, 'GET', '/api/docs/json')).status, 200);
  });

  it('logs in with JSON or a form, refreshes once, and the spent refresh token revokes the session', async () => {
    const u = await user('viewer');
    const form = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      payload: `grant_type=password&username=${encodeURIComponent(u.username)}&password=${encodeURIComponent(PASSWORD)}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.statusCode, 200, form.body);
    const pair = JSON.parse(form.body) as { access_token: string; token_type: string; expires_in: number; refresh_token: string };
    assert.equal(pair.token_type, 'bearer');
    assert.ok(pair.expires_in > 0);
    assert.equal(form.headers['cache-control'], 'no-store');
    const me = await call(app, 'GET', '/api/v1/auth/me', undefined, bearer(pair.access_token));
    assert.deepEqual([me.body.username, me.body.role, me.body.via], [u.username, 'viewer', 'jwt']);

    const wrong = await call(app, 'POST', '/api/v1/auth/token', { username: u.username, password: 'wrong password here' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.code, 'AUTH_ERR_INVALID_CREDENTIALS');
    for (const body of ['{"username": ', '{"__proto__": {}}', 'username=a&password=b&evil=1']) {
      const r = await app.inject({ method: 'POST', url: '/api/v1/auth/token', payload: body, headers: { 'content-type': body.startsWith('{') ? 'application/json' : 'application/x-www-form-urlencoded' } });
      assert.equal(r.statusCode, 400, body);
      assert.equal(typeof (JSON.parse(r.body) as { code: unknown }).code, 'string');
    }
    const junk = await call(app, 'POST', '/api/v1/auth/token', { username: u.username });
    assert.equal(junk.status, 400);
    assert.deepEqual(junk.body.errors.map((e: { path: string }) => e.path), ['body.password']);

    const refreshed = await call(app, 'POST', '/api/v1/auth/refresh', { refresh_token: pair.refresh_token });
    assert.equal(refreshed.status, 200, refreshed.raw);
    assert.equal((await call(app, 'GET', '/api/v1/servers', undefined, bearer(refreshed.body.access_token))).status, 200);
    const reuse = await call(app, 'POST', '/api/v1/auth/refresh', { refresh_token: pair.refresh_token });
    assert.equal(reuse.status, 401);
    assert.equal(reuse.body.code, 'AUTH_ERR_TOKEN_REVOKED');
    const family = await call(app, 'POST', '/api/v1/auth/refresh', { refresh_token: refreshed.body.refresh_token });
    assert.equal(family.status, 401, 'reuse revoked the whole session');
  });

  it('roles: a viewer reads but cannot write; an operator writes servers but not users; only admins see users and the audit log', async () => {
    const viewer = await tokenFor((await user('viewer')).username);
    const operator = await tokenFor((await user('operator')).username);
    const admin = await tokenFor((await user('admin')).username);

    assert.equal((await call(app, 'GET', '/api/v1/servers', undefined, bearer(viewer))).status, 200);
    const vWrite = await call(app, 'POST', '/api/v1/servers', { name: uniq('s') }, bearer(viewer));
    assert.equal(vWrite.status, 403);
    assert.equal(vWrite.body.code, 'AUTH_ERR_FORBIDDEN');

    const oWrite = await call(app, 'POST', '/api/v1/servers', { name: uniq('s') }, bearer(operator));
    assert.equal(oWrite.status, 201, oWrite.raw);
    const nic = await call(app, 'POST', '/api/v1/server-interfaces', { server_id: oWrite.body.id, name: 'eth0' }, bearer(operator));
    assert.equal(nic.status, 201, 'interfaces are written by whoever writes servers');
    for (const [method, url, body] of [
      ['POST', '/api/v1/users', { username: uniq('u') }],
      ['POST', '/api/v1/tenants', { name: uniq('T'), slug: uniq('t').toLowerCase() }],
      ['GET', '/api/v1/users', undefined],
      ['GET', '/api/v1/audit/logs', undefined],
    ] as const) {
      const r = await call(app, method, url, body, bearer(operator));
      assert.equal(r.status, 403, `operator ${method} ${url}`);
    }
    assert.equal((await call(app, 'GET', '/api/v1/users', undefined, bearer(viewer))).status, 403);
    assert.equal((await call(app, 'GET', '/api/v1/users', undefined, bearer(admin))).status, 200);
    assert.equal((await call(app, 'POST', '/api/v1/tenants', { name: uniq('T'), slug: uniq('t').toLowerCase() }, bearer(admin))).status, 201);
  });

  it('API tokens: shown once, authenticate scripts, and a read-only one cannot write', async () => {
    const op = await user('operator');
    const jwt = await tokenFor(op.username);
    const ro = await call(app, 'POST', '/api/v1/auth/api-tokens', { description: 'monitoring', read_only: true }, bearer(jwt));
    assert.equal(ro.status, 201, ro.raw);
    assert.match(ro.body.token, /^dcp_[a-z2-7]{10}_[a-z2-7]{52}$/);
    assert.equal(ro.body.read_only, true);
    assert.equal((await call(app, 'GET', '/api/v1/racks', undefined, bearer(ro.body.token))).status, 200);
    const write = await call(app, 'POST', '/api/v1/servers', { name: uniq('s') }, bearer(ro.body.token));
    assert.equal(write.status, 403);
    assert.equal(write.body.code, 'AUTH_ERR_TOKEN_READ_ONLY');
    const escalate = await call(app, 'POST', '/api/v1/auth/api-tokens', { read_only: false }, bearer(ro.body.token));
    assert.equal(escalate.status, 403, 'a read-only token cannot mint a writing one');

    const rw = await call(app, 'POST', '/api/v1/auth/api-tokens', {}, bearer(jwt));
    assert.equal(rw.status, 201);
    const made = await call(app, 'POST', '/api/v1/servers', { name: uniq('s') }, bearer(rw.body.token));
    assert.equal(made.status, 201, made.raw);
    const mine = await call(app, 'GET', '/api/v1/auth/api-tokens', undefined, bearer(jwt));
    assert.equal(mine.status, 200, mine.raw);
    assert.deepEqual(mine.body.results.map((t: { id: number }) => t.id), [ro.body.id, rw.body.id]);
    assert.ok(!mine.raw.includes(String(rw.body.token)) && !mine.raw.includes('token_hash'), 'secrets are never listed');
    const revoke = await call(app, 'DELETE', `/api/v1/auth/api-tokens/${String(ro.body.id)}`, undefined, bearer(jwt));
    assert.equal(revoke.status, 204, revoke.raw);
    assert.equal((await call(app, 'GET', '/api/v1/racks', undefined, bearer(ro.body.token))).status, 401, 'a revoked token stops working');
    const otherUser = await tokenFor((await user('operator')).username);
    assert.equal((await call(app, 'DELETE', `/api/v1/auth/api-tokens/${String(rw.body.id)}`, undefined, bearer(otherUser))).status, 404, 'not theirs');
    assert.equal((await call(app, 'GET', `/api/v1/auth/api-tokens?user_id=${op.id}`, undefined, bearer(otherUser))).status, 403);
    const forOther = await call(app, 'POST', '/api/v1/auth/api-tokens', { user_id: 1 }, bearer(jwt));
    assert.equal(forOther.status, 403, 'only admins make tokens for others');
    const expired = await call(app, 'POST', '/api/v1/auth/api-tokens', { expires_at: '2000-01-01T00:00:00Z' }, bearer(jwt));
    assert.equal(expired.status, 422);
  });

  it('a tenant-scoped user sees and writes only their tenants’ objects', async () => {
    const admin = await tokenFor((await user('admin')).username);
    const mk = async (url: string, body: Record<string, unknown>) => {
      const r = await call(app, 'POST', url, body, bearer(admin));
      assert.equal(r.status, 201, r.raw);
      return r.body.id as number;
    };
    const tA = await mk('/api/v1/tenants', { name: uniq('A'), slug: uniq('a').toLowerCase() });
    const tB = await mk('/api/v1/tenants', { name: uniq('B'), slug: uniq('b').toLowerCase() });
    const tag = uniq('scoped');
    const sA = await mk('/api/v1/servers', { name: `${tag}-a`, tenant_id: tA, description: tag });
    const sB = await mk('/api/v1/servers', { name: `${tag}-b`, tenant_id: tB, description: tag });
    await mk('/api/v1/servers', { name: `${tag}-none`, description: tag });

    const scoped = await tokenFor((await user('operator', [tA])).username);
    const list = await call(app, 'GET', `/api/v1/servers?description=${tag}`, undefined, bearer(scoped));
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.results.map((s: { id: number }) => s.id), [sA]);
    assert.equal((await call(app, 'GET', `/api/v1/servers/${sA}`, undefined, bearer(scoped))).status, 200);
    const other = await call(app, 'GET', `/api/v1/servers/${sB}`, undefined, bearer(scoped));
    assert.equal(other.status, 404, 'another tenant’s object does not exist for them');
    const tenants = await call(app, 'GET', '/api/v1/tenants', undefined, bearer(scoped));
    assert.deepEqual(tenants.body.results.map((t: { id: number }) => t.id), [tA]);

    assert.equal((await call(app, 'PATCH', `/api/v1/servers/${sB}`, { os: 'x' }, bearer(scoped))).status, 404);
    assert.equal((await call(app, 'DELETE', `/api/v1/servers/${sB}`, undefined, bearer(scoped))).status, 404);
    const intoB = await call(app, 'POST', '/api/v1/servers', { name: uniq('s'), tenant_id: tB }, bearer(scoped));
    assert.equal(intoB.status, 403);
    assert.equal(intoB.body.code, 'INVENTORY_ERR_TENANT_FORBIDDEN');
    const move = await call(app, 'PATCH', `/api/v1/servers/${sA}`, { tenant_id: tB }, bearer(scoped));
    assert.equal(move.status, 403, 'cannot hand an object to another tenant');
    assert.equal((await call(app, 'PATCH', `/api/v1/servers/${sA}`, { os: 'linux' }, bearer(scoped))).status, 200);
  });

  it('five wrong passwords lock the account: 423 with Retry-After, even with the right password, until the lock ends', async () => {
    const u = await user('viewer');
    for (let i = 0; i < 5; i++) {
      const r = await call(app, 'POST', '/api/v1/auth/token', { username: u.username, password: `wrong password ${i}` });
      assert.equal(r.status, 401);
    }
    const locked = await call(app, 'POST', '/api/v1/auth/token', { username: u.username, password: PASSWORD });
    assert.equal(locked.status, 423);
    assert.equal(locked.body.code, 'AUTH_ERR_ACCOUNT_LOCKED');
    assert.ok(Number(locked.headers['retry-after']) > 0);
    env().advance(61_000);
    try {
      assert.equal((await call(app, 'POST', '/api/v1/auth/token', { username: u.username, password: PASSWORD })).status, 200);
    } finally {
      env().advance(-61_000);
    }
  });

  it('TOTP: enrol, confirm, then a login needs a fresh code', async () => {
    const u = await user('operator');
    const jwt = await tokenFor(u.username);
    const enrol = await call(app, 'POST', '/api/v1/auth/totp/enrol', undefined, bearer(jwt));
    assert.equal(enrol.status, 200, enrol.raw);
    assert.match(enrol.body.otpauth_uri, /^otpauth:\/\/totp\//);
    const secret = enrol.body.secret as string;
    assert.equal((await call(app, 'POST', '/api/v1/auth/totp/confirm', { otp: '000000' }, bearer(jwt))).status, 401);
    const confirm = await call(app, 'POST', '/api/v1/auth/totp/confirm', { otp: totpCodeAt(secret, now()) }, bearer(jwt));
    assert.equal(confirm.status, 204, confirm.raw);

    const noCode = await call(app, 'POST', '/api/v1/auth/token', { username: u.username, password: PASSWORD });
    assert.equal(noCode.status, 401);
    assert.equal(noCode.body.code, 'AUTH_ERR_OTP_REQUIRED');
    env().advance(30_000);
    try {
      const ok = await call(app, 'POST', '/api/v1/auth/token', { username: u.username, password: PASSWORD, otp: totpCodeAt(secret, now()) });
      assert.equal(ok.status, 200, ok.raw);
      const replay = await call(app, 'POST', '/api/v1/auth/token', { username: u.username, password: PASSWORD, otp: totpCodeAt(secret, now()) });
      assert.equal(replay.body.code, 'AUTH_ERR_OTP_REPLAYED');
    } finally {
      env().advance(-30_000);
    }

    // A session alone must not re-enrol: that used to turn TOTP off and let the password alone log in.
    const bare = await call(app, 'POST', '/api/v1/auth/totp/enrol', undefined, bearer(jwt));
    assert.equal(bare.status, 401, bare.raw);
    assert.equal(bare.body.code, 'AUTH_ERR_OTP_REQUIRED');
    const wrong = await call(app, 'POST', '/api/v1/auth/totp/enrol', { otp: totpCodeAt(secret, now()) === '000000' ? '111111' : '000000' }, bearer(jwt));
    assert.equal(wrong.body.code, 'AUTH_ERR_OTP_INVALID');
    const still = await call(app, 'POST', '/api/v1/auth/token', { username: u.username, password: PASSWORD });
    assert.equal(still.body.code, 'AUTH_ERR_OTP_REQUIRED');
    env().advance(60_000);
    try {
      const again = await call(app, 'POST', '/api/v1/auth/totp/enrol', { otp: totpCodeAt(secret, now()) }, bearer(jwt));
      assert.equal(again.status, 200, again.raw);
      const after = await call(app, 'POST', '/api/v1/auth/token', { username: u.username, password: PASSWORD });
      assert.equal(after.body.code, 'AUTH_ERR_OTP_REQUIRED');
    } finally {
      env().advance(-60_000);
    }
  });

  it('the audit log names the user, source address and request id of every write', async () => {
    const op = await user('operator');
    const jwt = await tokenFor(op.username);
    const made = await call(app, 'POST', '/api/v1/servers', { name: uniq('audited') }, { ...bearer(jwt), 'x-request-id': 'audit-req-42' });
    assert.equal(made.status, 201);
    await call(app, 'PATCH', String(made.body.url), { os: 'debian' }, bearer(jwt));
    await call(app, 'DELETE', String(made.body.url), undefined, bearer(jwt));
    const admin = await tokenFor((await user('admin')).username);
    const logs = await call(app, 'GET', `/api/v1/audit/logs?object_type=server&object_id=${String(made.body.id)}`, undefined, bearer(admin));
    assert.equal(logs.status, 200);
    assert.deepEqual(logs.body.results.map((e: { action: string }) => e.action), ['delete', 'update', 'create']);
    for (const e of logs.body.results) {
      assert.equal(e.user, op.username);
      assert.equal(e.user_id, op.id);
      assert.equal(e.source_ip, '127.0.0.1');
      assert.equal(typeof e.request_id, 'string');
    }
    assert.equal(logs.body.results[2].request_id, 'audit-req-42');
    const byUser = await call(app, 'GET', `/api/v1/audit/logs?user=${op.username}`, undefined, bearer(admin));
    // The three writes, and the login before them.
    assert.deepEqual(byUser.body.results.map((e: { action: string }) => e.action), ['delete', 'update', 'create', 'login']);
  });
});

/**
 * Sessions end with the grant they were issued on, over HTTP on both
 * backends: an admin changing a user's password, role or tenants, or
 * disabling the user, makes the user's access tokens and refresh tokens
 * issued before useless at once (the database trigger of migration 0004
 * moves the user's token generation; every request reads it).
 */
import { before, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { uniq } from './harness.js';
import { describeAuthApi } from './auth-harness.js';

describeAuthApi('sessions end when the grant changes', (env) => {
  let admin: string;
  let tenant: number;

  before(async () => {
    const e = env();
    admin = (await e.login((await e.user('admin')).username)).access_token;
    tenant = await e.make(admin, '/api/v1/tenants', { name: uniq('T'), slug: uniq('t').toLowerCase() });
  });

  /** A user logged in, an admin changes `patch` on it: both its tokens stop working, and a new login works. */
  async function endsSessions(patch: Record<string, unknown>, loginAfter: 'ok' | 'disabled' | 'password'): Promise<void> {
    const e = env();
    const u = await e.user('operator');
    const pair = await e.login(u.username);
    assert.equal((await e.as(pair.access_token, 'GET', '/api/v1/servers')).status, 200);
    const changed = await e.as(admin, 'PATCH', `/api/v1/users/${u.id}`, patch);
    assert.equal(changed.status, 200, changed.raw);

    const stale = await e.as(pair.access_token, 'GET', '/api/v1/servers');
    assert.equal(stale.status, 401, `${JSON.stringify(patch)}: ${stale.raw}`);
    assert.equal(stale.body.code, 'AUTH_ERR_TOKEN_REVOKED');
    const refresh = await e.as(undefined, 'POST', '/api/v1/auth/refresh', { refresh_token: pair.refresh_token });
    assert.equal(refresh.status, 401, refresh.raw);
    assert.equal(refresh.body.code, 'AUTH_ERR_TOKEN_REVOKED');

    const again = await e.as(undefined, 'POST', '/api/v1/auth/token', { username: u.username, password: loginAfter === 'password' ? patch['password'] : 'correct horse battery staple' });
    if (loginAfter === 'disabled') {
      assert.equal(again.body.code, 'AUTH_ERR_ACCOUNT_DISABLED', again.raw);
      return;
    }
    assert.equal(again.status, 200, again.raw);
    const me = await e.as(again.body.access_token, 'GET', '/api/v1/auth/me');
    assert.equal(me.status, 200, me.raw);
    if (patch['role'] !== undefined) assert.equal(me.body.role, patch['role']);
  }

  it('a role change', () => endsSessions({ role: 'viewer' }, 'ok'));
  it('a tenant-scope change', () => endsSessions({ tenant_ids: [tenant] }, 'ok'));
  it('a password set by an admin, which the audit log shows as changed (not what it is)', async () => {
    await endsSessions({ password: 'a brand new passphrase' }, 'password');
    const log = await env().as(admin, 'GET', '/api/v1/audit/logs?object_type=user&action=update&limit=1');
    const e = log.body.results[0];
    assert.deepEqual([e.before.password_hash, e.after.password_hash], ['[redacted]', '[redacted: changed]']);
    assert.ok(!log.raw.includes('a brand new passphrase') && !log.raw.includes('$argon2'));
  });
  it('disabling the user', () => endsSessions({ is_active: false }, 'disabled'));

  it('other edits of the user leave its sessions alone', async () => {
    const e = env();
    const u = await e.user('viewer');
    const pair = await e.login(u.username);
    const changed = await e.as(admin, 'PATCH', `/api/v1/users/${u.id}`, { email: `${uniq('m')}@example.com` });
    assert.equal(changed.status, 200, changed.raw);
    assert.equal((await e.as(pair.access_token, 'GET', '/api/v1/servers')).status, 200);
    assert.equal((await e.as(undefined, 'POST', '/api/v1/auth/refresh', { refresh_token: pair.refresh_token })).status, 200);
    // Setting the same role again changes nothing, so it ends nothing.
    assert.equal((await e.as(admin, 'PATCH', `/api/v1/users/${u.id}`, { role: 'viewer' })).status, 200);
  });

  it('a deleted user’s tokens stop at once', async () => {
    const e = env();
    const u = await e.user('operator');
    const pair = await e.login(u.username);
    assert.equal((await e.as(admin, 'DELETE', `/api/v1/users/${u.id}`)).status, 204);
    const stale = await e.as(pair.access_token, 'GET', '/api/v1/servers');
    assert.equal(stale.status, 401);
    assert.equal(stale.body.code, 'AUTH_ERR_TOKEN_REVOKED');
  });
});

/**
 * Account security over HTTP on both backends: account events in the audit
 * log (without secrets), the login state out of the users API's reach with a
 * dedicated unlock, the lock told only to the right password, a user's own
 * password change, and what an API token may not do to its account.
 */
import { before, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { totpCodeAt } from '../../src/auth/totp.js';
import { uniq } from './harness.js';
import { PASSWORD, describeAuthApi } from './auth-harness.js';

const NEW_PASSWORD = 'an entirely different passphrase';

describeAuthApi('account security', (env) => {
  let admin: string;

  before(async () => {
    admin = (await env().login((await env().user('admin')).username)).access_token;
  });

  /** Audit entries about one object, oldest first. */
  async function auditOf(type: string, id: number): Promise<{ entries: Record<string, unknown>[]; raw: string }> {
    const r = await env().as(admin, 'GET', `/api/v1/audit/logs?object_type=${type}&object_id=${id}&ordering=id&limit=1000`);
    assert.equal(r.status, 200, r.raw);
    return { entries: r.body.results, raw: r.raw };
  }

  const lockOut = async (username: string): Promise<void> => {
    for (let i = 0; i < 5; i++) {
      const r = await env().as(undefined, 'POST', '/api/v1/auth/token', { username, password: `wrong guess number ${i}` });
      assert.equal(r.status, 401, r.raw);
    }
  };

  it('logins, failures, logout, API tokens and TOTP changes land in the audit log with who, where and request id, never a secret', async () => {
    const e = env();
    const u = await e.user('operator');
    const rid = (n: string) => ({ 'x-request-id': `acct-${u.id}-${n}` });
    const wrong = await e.as(undefined, 'POST', '/api/v1/auth/token', { username: u.username, password: 'not the right one' }, rid('fail'));
    assert.equal(wrong.status, 401);
    const nobody = uniq('nobody');
    await e.as(undefined, 'POST', '/api/v1/auth/token', { username: nobody, password: 'typed-my-password-as-name' }, rid('unknown'));
    const ok = await e.as(undefined, 'POST', '/api/v1/auth/token', { username: u.username, password: PASSWORD }, rid('login'));
    assert.equal(ok.status, 200);
    const jwt = ok.body.access_token as string;

    const made = await e.as(jwt, 'POST', '/api/v1/auth/api-tokens', { description: 'ci' }, rid('token'));
    assert.equal(made.status, 201, made.raw);
    assert.equal((await e.as(jwt, 'DELETE', `/api/v1/auth/api-tokens/${made.body.id}`, undefined, rid('revoke'))).status, 204);

    const enrol = await e.as(jwt, 'POST', '/api/v1/auth/totp/enrol', undefined, rid('enrol'));
    assert.equal(enrol.status, 200, enrol.raw);
    const secret = enrol.body.secret as string;
    assert.equal((await e.as(jwt, 'POST', '/api/v1/auth/totp/confirm', { otp: totpCodeAt(secret, e.now()) }, rid('confirm'))).status, 204);
    e.advance(30_000);
    assert.equal((await e.as(jwt, 'POST', '/api/v1/auth/totp/disable', { otp: totpCodeAt(secret, e.now()) }, rid('disable'))).status, 204);
    assert.equal((await e.as(undefined, 'POST', '/api/v1/auth/logout', { refresh_token: ok.body.refresh_token }, rid('logout'))).status, 204);

    const { entries, raw } = await auditOf('user', u.id);
    assert.deepEqual(
      entries.map((x) => [x['action'], x['request_id']]),
      [
        ['login_failed', `acct-${u.id}-fail`],
        ['login', `acct-${u.id}-login`],
        ['totp_enrol', `acct-${u.id}-enrol`],
        ['totp_confirm', `acct-${u.id}-confirm`],
        ['totp_disable', `acct-${u.id}-disable`],
        ['logout', `acct-${u.id}-logout`],
      ],
    );
    for (const x of entries) {
      assert.deepEqual([x['user'], x['user_id'], x['source_ip']], [u.username, u.id, '127.0.0.1']);
    }
    assert.deepEqual(entries[0]!['after'], { reason: 'AUTH_ERR_INVALID_CREDENTIALS' });
    const tokens = await auditOf('api_token', made.body.id as number);
    assert.deepEqual(tokens.entries.map((x) => [x['action'], x['user'], x['request_id']]), [
      ['create', u.username, `acct-${u.id}-token`],
      ['delete', u.username, `acct-${u.id}-revoke`],
    ]);
    assert.equal((tokens.entries[0]!['after'] as Record<string, unknown>)['token_hash'], '[redacted]');
    const tokenHash = createHash('sha256').update(String(made.body.token)).digest('hex');
    for (const text of [raw, tokens.raw]) {
      for (const leak of [PASSWORD, 'not the right one', secret, String(made.body.token), tokenHash, '$argon2']) assert.ok(!text.includes(leak), `audit shows ${leak}`);
    }

    // A name that is no account is not recorded (it may be a password typed in the wrong field).
    const failures = await e.as(admin, 'GET', `/api/v1/audit/logs?action=login_failed&request_id=acct-${u.id}-unknown`);
    assert.equal(failures.status, 200, failures.raw);
    assert.equal(failures.body.count, 1);
    assert.deepEqual([failures.body.results[0].user, failures.body.results[0].object_id], [null, null]);
    assert.ok(!failures.raw.includes(nobody) && !failures.raw.includes('typed-my-password-as-name'));
  });

  it('the users API refuses writes of the login state, hash and TOTP secret; PUT leaves a lock alone; unlock is its own audited action', async () => {
    const e = env();
    const u = await e.user('viewer');
    for (const body of [{ failed_logins: 0 }, { locked_until: null }, { password_hash: '$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA' }, { totp_secret: 'JBSWY3DPEHPK3PXP' }, { totp_enabled: false }]) {
      const r = await e.as(admin, 'PATCH', `/api/v1/users/${u.id}`, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.raw}`);
      assert.equal(r.body.code, 'API_ERR_VALIDATION');
      assert.deepEqual(r.body.errors.map((x: { path: string }) => x.path), [`body.${Object.keys(body)[0]}`]);
    }
    await lockOut(u.username);
    const got = await e.as(admin, 'GET', `/api/v1/users/${u.id}`);
    assert.equal(got.body.failed_logins, 5);
    const put = await e.as(admin, 'PUT', `/api/v1/users/${u.id}`, { username: u.username, role: 'viewer' });
    assert.equal(put.status, 200, put.raw);
    assert.equal(put.body.failed_logins, 5, 'a PUT does not reset the counters to their defaults');
    assert.equal((await e.as(undefined, 'POST', '/api/v1/auth/token', { username: u.username, password: PASSWORD })).status, 423);

    const operator = (await e.login((await e.user('operator')).username)).access_token;
    assert.equal((await e.as(operator, 'POST', `/api/v1/users/${u.id}/unlock`)).status, 403);
    const missing = await e.as(admin, 'POST', '/api/v1/users/2000000000/unlock');
    assert.equal(missing.status, 404, missing.raw);
    const unlock = await e.as(admin, 'POST', `/api/v1/users/${u.id}/unlock`, undefined, { 'x-request-id': `unlock-${u.id}` });
    assert.equal(unlock.status, 204, unlock.raw);
    assert.equal((await e.as(undefined, 'POST', '/api/v1/auth/token', { username: u.username, password: PASSWORD })).status, 200);
    const entry = (await auditOf('user', u.id)).entries.find((x) => x['action'] === 'unlock');
    assert.ok(entry);
    assert.equal(entry['request_id'], `unlock-${u.id}`);
    assert.equal(entry['user_id'], (await e.as(admin, 'GET', '/api/v1/auth/me')).body.user_id, 'the admin who unlocked');
    assert.deepEqual(entry['after'], { failed_logins: 0, locked_until: null });
    assert.equal((entry['before'] as Record<string, unknown>)['failed_logins'], 5);
  });

  it('a locked account answers a wrong password as any wrong password; only the right one hears it is locked', async () => {
    const e = env();
    const u = await e.user('viewer');
    await lockOut(u.username);
    const lockedWrong = await e.as(undefined, 'POST', '/api/v1/auth/token', { username: u.username, password: 'still guessing away' });
    const unknownWrong = await e.as(undefined, 'POST', '/api/v1/auth/token', { username: uniq('nobody'), password: 'still guessing away' });
    assert.equal(lockedWrong.status, 401);
    assert.deepEqual(lockedWrong.body, unknownWrong.body);
    assert.equal(lockedWrong.headers['retry-after'], undefined);
    const right = await e.as(undefined, 'POST', '/api/v1/auth/token', { username: u.username, password: PASSWORD });
    assert.equal(right.status, 423, right.raw);
    assert.equal(right.body.code, 'AUTH_ERR_ACCOUNT_LOCKED');
  });

  it('a user changes their own password: the current one is proven, the policy holds, every older session ends', async () => {
    const e = env();
    const u = await e.user('operator');
    const pair = await e.login(u.username);
    const other = await e.login(u.username);
    const wrong = await e.as(pair.access_token, 'POST', '/api/v1/auth/password', { current_password: 'not my password', new_password: NEW_PASSWORD });
    assert.equal(wrong.status, 401, wrong.raw);
    assert.equal(wrong.body.code, 'AUTH_ERR_INVALID_CREDENTIALS');
    const weak = await e.as(pair.access_token, 'POST', '/api/v1/auth/password', { current_password: PASSWORD, new_password: 'short' });
    assert.equal(weak.status, 422, weak.raw);
    assert.equal(weak.body.code, 'AUTH_ERR_WEAK_PASSWORD');

    const changed = await e.as(pair.access_token, 'POST', '/api/v1/auth/password', { current_password: PASSWORD, new_password: NEW_PASSWORD }, { 'x-request-id': `pw-${u.id}` });
    assert.equal(changed.status, 200, changed.raw);
    assert.equal(changed.headers['cache-control'], 'no-store');
    for (const stale of [pair.access_token, other.access_token]) {
      const r = await e.as(stale, 'GET', '/api/v1/servers');
      assert.equal(r.body.code, 'AUTH_ERR_TOKEN_REVOKED', r.raw);
    }
    const refresh = await e.as(undefined, 'POST', '/api/v1/auth/refresh', { refresh_token: other.refresh_token });
    assert.equal(refresh.body.code, 'AUTH_ERR_TOKEN_REVOKED');
    assert.equal((await e.as(changed.body.access_token, 'GET', '/api/v1/servers')).status, 200, 'the new pair works');
    assert.equal((await e.as(undefined, 'POST', '/api/v1/auth/token', { username: u.username, password: PASSWORD })).status, 401);
    await e.login(u.username, NEW_PASSWORD);

    const { entries, raw } = await auditOf('user', u.id);
    const changes = entries.filter((x) => x['action'] === 'password_change');
    assert.deepEqual(changes.map((x) => x['after']), [{ refused: 'AUTH_ERR_INVALID_CREDENTIALS' }, { refused: 'AUTH_ERR_WEAK_PASSWORD' }, { sessions_ended: true }]);
    assert.equal(changes[2]!['request_id'], `pw-${u.id}`);
    assert.ok(!raw.includes(NEW_PASSWORD) && !raw.includes(PASSWORD));
  });

  it('an API token cannot change its account’s password or TOTP, nor mint API tokens', async () => {
    const e = env();
    const u = await e.user('operator');
    const jwt = (await e.login(u.username)).access_token;
    const token = (await e.as(jwt, 'POST', '/api/v1/auth/api-tokens', { description: 'script' })).body.token as string;
    for (const [url, body] of [
      ['/api/v1/auth/password', { current_password: PASSWORD, new_password: NEW_PASSWORD }],
      ['/api/v1/auth/totp/enrol', undefined],
      ['/api/v1/auth/api-tokens', {}],
    ] as const) {
      const r = await e.as(token, 'POST', url, body);
      assert.equal(r.status, 403, `${url}: ${r.raw}`);
      assert.equal(r.body.code, 'AUTH_ERR_SESSION_REQUIRED');
    }
    assert.equal((await e.as(token, 'GET', '/api/v1/servers')).status, 200, 'the token still does its job');
    const forNobody = await e.as(admin, 'POST', '/api/v1/auth/api-tokens', { user_id: 2000000000 });
    assert.equal(forNobody.status, 422, forNobody.raw);
    assert.equal(forNobody.body.code, 'INVENTORY_ERR_REFERENCE_NOT_FOUND');
  });
});

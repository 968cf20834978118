import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { AuthErrorCode } from '../../src/auth/errors.js';
import { DEFAULT_LOCKOUT, lockSeconds, login } from '../../src/auth/login.js';
import type { LoginOptions } from '../../src/auth/login.js';
import { LoginRateLimiter } from '../../src/auth/rate-limit.js';
import { refreshTokens, verifyAccessToken } from '../../src/auth/tokens.js';
import { totpCodeAt } from '../../src/auth/totp.js';
import { MemoryAuthStore } from './memory-auth-store.js';
import { CountingHasher, T0, TEST_ARGON2, after, rejectsWithCode } from './helpers.js';

const PASSWORD = 'correct horse battery staple';
const TOTP_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const IP = '10.9.8.7';

async function setup(opts: { totp?: boolean; capacity?: number } = {}) {
  const store = new MemoryAuthStore();
  const hasher = new CountingHasher(TEST_ARGON2);
  const user = await store.createUser({
    username: 'alice',
    password_hash: await hasher.hash(PASSWORD),
    role: 'operator',
    tenant_ids: [5],
  });
  hasher.hashes = 0;
  if (opts.totp === true) await store.setTotp(user.id, TOTP_SECRET, true);
  const options: LoginOptions = {
    hasher,
    tokens: { secret: new Uint8Array(32).fill(1) },
    rateLimiter: new LoginRateLimiter({ capacity: opts.capacity ?? 1000, refillPerSecond: 1, maxKeys: 100 }),
  };
  const state = async () => {
    const u = await store.getUserById(user.id);
    assert.ok(u);
    return u;
  };
  return { store, hasher, user, options, state };
}

describe('login', () => {
  it('returns a bearer token pair for the right password and records the login', async () => {
    const { store, options, user, state } = await setup();
    await store.updateLoginState(user.id, { failed_logins: 2, locked_until: null, last_login: null });
    const r = await login({ username: 'alice', password: PASSWORD }, IP, store, T0, options);
    assert.equal(r.token_type, 'bearer');
    assert.equal(r.expires_in, 900);
    const p = await verifyAccessToken(r.access_token, options.tokens, T0);
    assert.deepEqual(p, { userId: user.id, username: 'alice', role: 'operator', tenants: [5], readOnly: false, via: 'jwt', generation: 0 });
    assert.ok(await refreshTokens(r.refresh_token, store, options.tokens, after(60)));
    const u = await state();
    assert.equal(u.failed_logins, 0);
    assert.equal(u.last_login?.getTime(), T0.getTime());
  });

  it('an unknown user gets the same code as a wrong password, after a dummy argon2 verify', async () => {
    const { store, options, hasher } = await setup();
    const e1 = await rejectsWithCode(login({ username: 'mallory', password: PASSWORD }, IP, store, T0, options), AuthErrorCode.INVALID_CREDENTIALS);
    assert.equal(hasher.dummies, 1);
    assert.equal(hasher.verifies, 1, 'the dummy is a real verify');
    const e2 = await rejectsWithCode(login({ username: 'alice', password: 'wrong password!' }, IP, store, T0, options), AuthErrorCode.INVALID_CREDENTIALS);
    assert.equal(hasher.verifies, 2);
    assert.equal(e1.message, e2.message);
    assert.equal(e1.status, 401);
    await rejectsWithCode(login({ username: '', password: '' }, IP, store, T0, options), AuthErrorCode.INVALID_CREDENTIALS);
    assert.equal(hasher.dummies, 2);
  });

  it('locks after 5 failures: even the right password is refused with 423 until the lock ends', async () => {
    const { store, options, state, hasher } = await setup();
    for (let i = 1; i <= 5; i++) {
      await rejectsWithCode(login({ username: 'alice', password: `wrong ${i}` }, IP, store, after(i), options), AuthErrorCode.INVALID_CREDENTIALS);
      assert.equal((await state()).failed_logins, i);
    }
    const locked = (await state()).locked_until;
    assert.equal(locked?.getTime(), after(5 + 60).getTime());

    const verifies = hasher.verifies;
    const e = await rejectsWithCode(login({ username: 'alice', password: PASSWORD }, IP, store, after(6), options), AuthErrorCode.ACCOUNT_LOCKED);
    assert.equal(e.status, 423);
    assert.equal(e.retryAfterSeconds, 59);
    assert.equal(hasher.verifies, verifies + 1, 'the lock is told only after the password was checked');
    await rejectsWithCode(login({ username: 'alice', password: PASSWORD }, IP, store, after(64.5), options), AuthErrorCode.ACCOUNT_LOCKED);

    // The lock expires on its own.
    const r = await login({ username: 'alice', password: PASSWORD }, IP, store, after(65), options);
    assert.equal(r.token_type, 'bearer');
    const u = await state();
    assert.equal(u.failed_logins, 0);
    assert.equal(u.locked_until, null);
  });

  it('a wrong password on a locked account is an ordinary 401 after a real argon2 run, and lengthens the lock', async () => {
    const { store, options, state, hasher } = await setup();
    for (let i = 1; i <= 5; i++) await rejectsWithCode(login({ username: 'alice', password: `wrong ${i}` }, IP, store, after(i), options), AuthErrorCode.INVALID_CREDENTIALS);
    const unlocked = await rejectsWithCode(login({ username: 'alice', password: 'wrong before' }, IP, store, T0, { ...options, lockout: { ...DEFAULT_LOCKOUT, maxFailedAttempts: 100 } }), AuthErrorCode.INVALID_CREDENTIALS);
    const verifies = hasher.verifies;
    const e = await rejectsWithCode(login({ username: 'alice', password: 'wrong while locked' }, IP, store, after(10), options), AuthErrorCode.INVALID_CREDENTIALS);
    assert.equal(hasher.verifies, verifies + 1);
    assert.deepEqual([e.status, e.message, e.retryAfterSeconds], [unlocked.status, unlocked.message, undefined]);
    const u = await state();
    assert.equal(u.failed_logins, 7);
    assert.equal(u.locked_until?.getTime(), after(10 + lockSeconds(7)).getTime(), 'each guess during the lock lengthens it');
    await rejectsWithCode(login({ username: 'alice', password: PASSWORD }, IP, store, after(11), options), AuthErrorCode.ACCOUNT_LOCKED);
  });

  it('parallel wrong guesses each count: ten at once lock the account', async () => {
    const { store, options, state } = await setup();
    const guesses = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => login({ username: 'alice', password: `wrong ${i}` }, IP, store, after(1), options)));
    for (const g of guesses) await rejectsWithCode(g.status === 'rejected' ? Promise.reject(g.reason as Error) : Promise.resolve(), AuthErrorCode.INVALID_CREDENTIALS);
    const u = await state();
    assert.equal(u.failed_logins, 10);
    assert.equal(u.locked_until?.getTime(), after(1 + lockSeconds(10)).getTime());
    await rejectsWithCode(login({ username: 'alice', password: PASSWORD }, IP, store, after(2), options), AuthErrorCode.ACCOUNT_LOCKED);
  });

  it('the lock grows with each failure after it ends, up to the maximum; success resets it', async () => {
    assert.deepEqual(
      [4, 5, 6, 7, 8, 11, 12, 40].map((n) => lockSeconds(n)),
      [0, 60, 120, 240, 480, 3600, 3600, 3600],
    );
    const { store, options, state } = await setup();
    let now = T0;
    for (let i = 0; i < 5; i++) {
      await rejectsWithCode(login({ username: 'alice', password: 'nope nope nope' }, IP, store, now, options), AuthErrorCode.INVALID_CREDENTIALS);
    }
    assert.equal((await state()).locked_until?.getTime(), after(60, now).getTime());
    now = after(60, now);
    await rejectsWithCode(login({ username: 'alice', password: 'nope nope nope' }, IP, store, now, options), AuthErrorCode.INVALID_CREDENTIALS);
    assert.equal((await state()).failed_logins, 6);
    assert.equal((await state()).locked_until?.getTime(), after(120, now).getTime());
    await rejectsWithCode(login({ username: 'alice', password: PASSWORD }, IP, store, after(119, now), options), AuthErrorCode.ACCOUNT_LOCKED);
    now = after(120, now);
    await login({ username: 'alice', password: PASSWORD }, IP, store, now, options);
    await rejectsWithCode(login({ username: 'alice', password: 'nope nope nope' }, IP, store, now, options), AuthErrorCode.INVALID_CREDENTIALS);
    assert.equal((await state()).failed_logins, 1);
    assert.equal((await state()).locked_until, null);
  });

  it('a disabled account is refused once the password is right; a user without a password cannot log in', async () => {
    const { store, options, user, hasher } = await setup();
    store.users.set(user.id, { ...user, is_active: false });
    await rejectsWithCode(login({ username: 'alice', password: 'wrong password' }, IP, store, T0, options), AuthErrorCode.INVALID_CREDENTIALS);
    const e = await rejectsWithCode(login({ username: 'alice', password: PASSWORD }, IP, store, T0, options), AuthErrorCode.ACCOUNT_DISABLED);
    assert.equal(e.status, 403);
    const noPassword = await store.createUser({ username: 'svc', password_hash: 'x', role: 'viewer', tenant_ids: [] });
    store.users.set(noPassword.id, { ...noPassword, password_hash: null });
    const dummies = hasher.dummies;
    await rejectsWithCode(login({ username: 'svc', password: '' }, IP, store, T0, options), AuthErrorCode.INVALID_CREDENTIALS);
    assert.equal(hasher.dummies, dummies + 1);
  });

  it('rate-limits per source address with 429 and Retry-After, before touching the user', async () => {
    const { store, options, hasher } = await setup({ capacity: 3 });
    for (let i = 0; i < 3; i++) {
      await rejectsWithCode(login({ username: 'nobody', password: 'x' }, IP, store, T0, options), AuthErrorCode.INVALID_CREDENTIALS);
    }
    const verifies = hasher.verifies;
    const e = await rejectsWithCode(login({ username: 'alice', password: PASSWORD }, IP, store, T0, options), AuthErrorCode.RATE_LIMITED);
    assert.equal(e.status, 429);
    assert.equal(e.retryAfterSeconds, 1);
    assert.equal(hasher.verifies, verifies);
    // Another source is not affected, and the first recovers with time.
    await login({ username: 'alice', password: PASSWORD }, '10.9.8.8', store, T0, options);
    await login({ username: 'alice', password: PASSWORD }, IP, store, after(1), options);
  });

  it('with TOTP on: the code is required, checked, and not accepted twice', async () => {
    const { store, options, state } = await setup({ totp: true });
    const code = totpCodeAt(TOTP_SECRET, T0);
    const e = await rejectsWithCode(login({ username: 'alice', password: PASSWORD }, IP, store, T0, options), AuthErrorCode.OTP_REQUIRED);
    assert.equal(e.status, 401);
    assert.equal((await state()).failed_logins, 0, 'asking for the code is not a failure');
    await rejectsWithCode(login({ username: 'alice', password: PASSWORD, otp: '  ' }, IP, store, T0, options), AuthErrorCode.OTP_REQUIRED);

    const wrong = code === '000000' ? '111111' : '000000';
    await rejectsWithCode(login({ username: 'alice', password: PASSWORD, otp: wrong }, IP, store, T0, options), AuthErrorCode.OTP_INVALID);
    assert.equal((await state()).failed_logins, 1, 'a wrong code counts toward the lock');

    const r = await login({ username: 'alice', password: PASSWORD, otp: code }, IP, store, T0, options);
    assert.equal(r.token_type, 'bearer');
    assert.equal((await state()).failed_logins, 0);
    await rejectsWithCode(login({ username: 'alice', password: PASSWORD, otp: code }, IP, store, after(5), options), AuthErrorCode.OTP_REPLAYED);
    assert.equal((await state()).failed_logins, 1);
    // A wrong password with a good code is still a wrong password, and spends no code.
    const next = totpCodeAt(TOTP_SECRET, after(30));
    await rejectsWithCode(login({ username: 'alice', password: 'bad password', otp: next }, IP, store, after(30), options), AuthErrorCode.INVALID_CREDENTIALS);
    await login({ username: 'alice', password: PASSWORD, otp: next }, IP, store, after(30), options);
  });

  it('guessing codes locks the account like guessing passwords', async () => {
    const { store, options } = await setup({ totp: true });
    const code = totpCodeAt(TOTP_SECRET, T0);
    const guesses = ['000001', '000002', '000003', '000004', '000005'].filter((g) => g !== code).slice(0, 5);
    for (const g of guesses) {
      await rejectsWithCode(login({ username: 'alice', password: PASSWORD, otp: g }, IP, store, T0, options), AuthErrorCode.OTP_INVALID);
    }
    await rejectsWithCode(login({ username: 'alice', password: PASSWORD, otp: code }, IP, store, T0, options), AuthErrorCode.ACCOUNT_LOCKED);
  });

  it('rehashes a password made with old parameters on a successful login', async () => {
    const { store, options, state, hasher } = await setup();
    const stronger = new CountingHasher({ ...TEST_ARGON2, timeCost: 2 });
    const before = (await state()).password_hash ?? '';
    assert.equal(stronger.needsRehash(before), true);
    await login({ username: 'alice', password: PASSWORD }, IP, store, T0, { ...options, hasher: stronger });
    const after1 = (await state()).password_hash ?? '';
    assert.notEqual(after1, before);
    assert.equal(stronger.needsRehash(after1), false);
    assert.equal(await stronger.verify(after1, PASSWORD), true);
    await login({ username: 'alice', password: PASSWORD }, IP, store, T0, { ...options, hasher: stronger });
    assert.equal((await state()).password_hash, after1, 'no rehash when current');
    assert.equal(hasher.hashes, 0);
  });
});

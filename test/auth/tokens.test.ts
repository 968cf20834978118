import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import type * as NodeCrypto from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after as afterAll, before, describe, it } from 'node:test';
import { SignJWT, UnsecuredJWT, decodeJwt } from 'jose';
import { AuthErrorCode } from '../../src/auth/errors.js';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  API_TOKEN_TOUCH_INTERVAL_MS,
  createApiToken,
  issueAccessToken,
  issueTokenPair,
  loadOrCreateSecret,
  refreshTokens,
  revokeRefreshToken,
  verifyAccessToken,
  verifyApiToken,
  verifyBearer,
} from '../../src/auth/tokens.js';
import type { TokenConfig } from '../../src/auth/tokens.js';
import type { UserRecord } from '../../src/auth/store.js';
import { MemoryAuthStore } from './memory-auth-store.js';
import { T0, after, rejectsWithCode } from './helpers.js';

const secret = new Uint8Array(64).fill(7);
const config: TokenConfig = { secret };

async function withUser(
  role: UserRecord['role'] = 'operator',
  tenant_ids: readonly number[] = [4, 9],
): Promise<{ store: MemoryAuthStore; user: UserRecord }> {
  const store = new MemoryAuthStore();
  const user = await store.createUser({ username: 'alice', password_hash: 'x', role, tenant_ids });
  return { store, user };
}

describe('JWT secret file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcplane-auth-secret-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is created on first start with mode 0600 and at least 256 bits, then reused', async () => {
    const d = join(dir, 'fresh', 'data');
    const first = await loadOrCreateSecret(d);
    assert.ok(first.length >= 32);
    const st = await stat(join(d, 'jwt-secret'));
    assert.equal(st.mode & 0o777, 0o600);
    const again = await loadOrCreateSecret(d);
    assert.deepEqual(again, first);
    const text = (await readFile(join(d, 'jwt-secret'), 'utf8')).trim();
    assert.deepEqual(new Uint8Array(Buffer.from(text, 'base64url')), first);
  });

  it('two processes starting at once end up with one secret and no temporary files', async () => {
    const d = join(dir, 'race');
    const results = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateSecret(d)));
    for (const r of results) assert.deepEqual(r, results[0]);
    const { readdir } = await import('node:fs/promises');
    assert.deepEqual(await readdir(d), ['jwt-secret']);
  });

  it('a file that is not a usable secret is refused, not replaced', async () => {
    const d = join(dir, 'bad');
    await loadOrCreateSecret(d);
    await writeFile(join(d, 'jwt-secret'), 'short\n');
    await rejectsWithCode(loadOrCreateSecret(d), AuthErrorCode.SECRET_FILE);
    await writeFile(join(d, 'jwt-secret'), '');
    await rejectsWithCode(loadOrCreateSecret(d), AuthErrorCode.SECRET_FILE);
    await writeFile(join(d, 'jwt-secret'), `${'not base64 !'.repeat(10)}\n`);
    await rejectsWithCode(loadOrCreateSecret(d), AuthErrorCode.SECRET_FILE);
    assert.equal((await readFile(join(d, 'jwt-secret'), 'utf8')).startsWith('not base64'), true);
  });
});

describe('access tokens', () => {
  it('carry sub, username, role, tenants and type, and expire after 15 minutes by default', async () => {
    const { user } = await withUser();
    const { access_token, expires_in } = await issueAccessToken(user, config, T0);
    assert.equal(expires_in, ACCESS_TOKEN_TTL_SECONDS);
    assert.equal(expires_in, 900);
    const claims = decodeJwt(access_token);
    assert.equal(claims.sub, String(user.id));
    assert.equal(claims['username'], 'alice');
    assert.equal(claims['role'], 'operator');
    assert.deepEqual(claims['tenants'], [4, 9]);
    assert.equal(claims['type'], 'access');
    assert.equal(claims['gen'], 0);
    assert.equal(claims.exp, Math.floor(T0.getTime() / 1000) + 900);

    const p = await verifyAccessToken(access_token, config, after(899));
    assert.deepEqual(p, { userId: user.id, username: 'alice', role: 'operator', tenants: [4, 9], readOnly: false, via: 'jwt', generation: 0 });
    await rejectsWithCode(verifyAccessToken(access_token, config, after(900)), AuthErrorCode.TOKEN_EXPIRED);
  });

  it('unscoped users carry an empty tenant list; a custom ttl is honoured', async () => {
    const { user } = await withUser('admin', []);
    const { access_token, expires_in } = await issueAccessToken(user, { secret, accessTtlSeconds: 60 }, T0);
    assert.equal(expires_in, 60);
    assert.deepEqual((await verifyAccessToken(access_token, config, after(59))).tenants, []);
    await rejectsWithCode(verifyAccessToken(access_token, config, after(60)), AuthErrorCode.TOKEN_EXPIRED);
  });

  it('refuses another secret, a changed payload, alg none, and tokens that are not access tokens', async () => {
    const { user } = await withUser();
    const { access_token } = await issueAccessToken(user, config, T0);
    await rejectsWithCode(verifyAccessToken(access_token, { secret: new Uint8Array(64).fill(8) }, T0), AuthErrorCode.TOKEN_INVALID);

    const [h, , s] = access_token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...decodeJwt(access_token), role: 'admin' })).toString('base64url');
    await rejectsWithCode(verifyAccessToken(`${h}.${forged}.${s}`, config, T0), AuthErrorCode.TOKEN_INVALID);

    const unsecured = new UnsecuredJWT({ username: 'alice', role: 'admin', tenants: [], type: 'access' })
      .setSubject('1')
      .setIssuer('dcplane')
      .setAudience('dcplane-api')
      .setExpirationTime(Math.floor(T0.getTime() / 1000) + 60)
      .encode();
    await rejectsWithCode(verifyAccessToken(unsecured, config, T0), AuthErrorCode.TOKEN_INVALID);

    const sign = (claims: Record<string, unknown>, sub = '1') =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(sub)
        .setIssuer('dcplane')
        .setAudience('dcplane-api')
        .setExpirationTime(Math.floor(T0.getTime() / 1000) + 60)
        .sign(secret);
    const good = { username: 'alice', role: 'viewer', tenants: [], gen: 0, type: 'access' };
    assert.equal((await verifyAccessToken(await sign(good), config, T0)).role, 'viewer');
    await rejectsWithCode(verifyAccessToken(await sign({ ...good, type: 'refresh' }), config, T0), AuthErrorCode.TOKEN_INVALID);
    await rejectsWithCode(verifyAccessToken(await sign({ ...good, role: 'root' }), config, T0), AuthErrorCode.TOKEN_INVALID);
    await rejectsWithCode(verifyAccessToken(await sign({ ...good, tenants: ['x'] }), config, T0), AuthErrorCode.TOKEN_INVALID);
    // A token without its generation (issued before sessions could end) is no token.
    await rejectsWithCode(verifyAccessToken(await sign({ ...good, gen: undefined }), config, T0), AuthErrorCode.TOKEN_INVALID);
    await rejectsWithCode(verifyAccessToken(await sign({ ...good, gen: -1 }), config, T0), AuthErrorCode.TOKEN_INVALID);
    await rejectsWithCode(verifyAccessToken(await sign(good, 'alice'), config, T0), AuthErrorCode.TOKEN_INVALID);
    await rejectsWithCode(verifyAccessToken(await sign(good, '0'), config, T0), AuthErrorCode.TOKEN_INVALID);
    await rejectsWithCode(verifyAccessToken('a.b.c', config, T0), AuthErrorCode.TOKEN_INVALID);
  });
});

describe('refresh tokens', () => {
  it('rotate on use: the new pair works, the old refresh token is spent', async () => {
    const { store, user } = await withUser();
    const first = await issueTokenPair(store, user, config, T0);
    assert.equal(first.token_type, 'bearer');
    assert.match(first.refresh_token, /^dcr_[A-Za-z0-9_-]{43}$/);
    // Only the hash is stored.
    const stored = [...store.refreshTokens.values()];
    assert.equal(stored.length, 1);
    assert.equal(stored[0]?.token_hash, createHash('sha256').update(first.refresh_token).digest('hex'));

    const second = await refreshTokens(first.refresh_token, store, config, after(600));
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.equal((await verifyAccessToken(second.access_token, config, after(600))).userId, user.id);
    const third = await refreshTokens(second.refresh_token, store, config, after(1200));
    assert.ok(third.refresh_token);
    const families = new Set([...store.refreshTokens.values()].map((t) => t.family_id));
    assert.equal(families.size, 1, 'rotation stays in the login family');
  });

  it('reuse of a spent token revokes the whole family, including the newest token', async () => {
    const { store, user } = await withUser();
    const other = await issueTokenPair(store, user, config, T0); // another login, another family
    const first = await issueTokenPair(store, user, config, T0);
    const second = await refreshTokens(first.refresh_token, store, config, after(10));
    await rejectsWithCode(refreshTokens(first.refresh_token, store, config, after(20)), AuthErrorCode.TOKEN_REVOKED);
    await rejectsWithCode(refreshTokens(second.refresh_token, store, config, after(30)), AuthErrorCode.TOKEN_REVOKED);
    // The other session is untouched.
    assert.ok((await refreshTokens(other.refresh_token, store, config, after(40))).access_token);
  });

  it('two concurrent refreshes with one token: reuse, so the family ends revoked and no new token survives', async () => {
    const { store, user } = await withUser();
    const pair = await issueTokenPair(store, user, config, T0);
    const results = await Promise.allSettled([
      refreshTokens(pair.refresh_token, store, config, after(1)),
      refreshTokens(pair.refresh_token, store, config, after(1)),
    ]);
    const bad = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.ok(bad.length >= 1);
    for (const r of bad) assert.equal(r.reason.code, AuthErrorCode.TOKEN_REVOKED);
    // Whichever request spent the token, the token it got (if any) is dead too.
    for (const r of results) {
      if (r.status === 'fulfilled') {
        await rejectsWithCode(refreshTokens(r.value.refresh_token, store, config, after(2)), AuthErrorCode.TOKEN_REVOKED);
      }
    }
    assert.equal([...store.refreshTokens.values()].filter((t) => t.revoked_at === null).length, 0);
  });

  it('expire after their ttl; unknown and malformed tokens are invalid', async () => {
    const { store, user } = await withUser();
    const cfg = { secret, refreshTtlSeconds: 3600 };
    const pair = await issueTokenPair(store, user, cfg, T0);
    await rejectsWithCode(refreshTokens(pair.refresh_token, store, cfg, after(3600)), AuthErrorCode.TOKEN_EXPIRED);
    const fresh = await issueTokenPair(store, user, cfg, T0);
    assert.ok(await refreshTokens(fresh.refresh_token, store, cfg, after(3599)));
    await rejectsWithCode(refreshTokens(`dcr_${'A'.repeat(43)}`, store, cfg, T0), AuthErrorCode.TOKEN_INVALID);
    await rejectsWithCode(refreshTokens('garbage', store, cfg, T0), AuthErrorCode.TOKEN_INVALID);
    await rejectsWithCode(refreshTokens(pair.access_token, store, cfg, T0), AuthErrorCode.TOKEN_INVALID);
  });

  it('logout revokes the family; a deleted user cannot refresh', async () => {
    const { store, user } = await withUser();
    const pair = await issueTokenPair(store, user, config, T0);
    await revokeRefreshToken(pair.refresh_token, store, after(1));
    await revokeRefreshToken('garbage', store, after(1));
    await rejectsWithCode(refreshTokens(pair.refresh_token, store, config, after(2)), AuthErrorCode.TOKEN_REVOKED);

    const p2 = await issueTokenPair(store, user, config, T0);
    store.users.delete(user.id);
    await rejectsWithCode(refreshTokens(p2.refresh_token, store, config, after(3)), AuthErrorCode.TOKEN_REVOKED);
  });

  it('a disabled user cannot refresh, and the family is revoked', async () => {
    const { store, user } = await withUser();
    const pair = await issueTokenPair(store, user, config, T0);
    store.users.set(user.id, { ...user, is_active: false });
    await rejectsWithCode(refreshTokens(pair.refresh_token, store, config, after(1)), AuthErrorCode.TOKEN_REVOKED);
    store.users.set(user.id, { ...user, is_active: true });
    await rejectsWithCode(refreshTokens(pair.refresh_token, store, config, after(2)), AuthErrorCode.TOKEN_REVOKED);
  });

  it('a refresh picks up the user’s current role and tenants', async () => {
    const { store, user } = await withUser('operator', [1]);
    const pair = await issueTokenPair(store, user, config, T0);
    store.users.set(user.id, { ...user, role: 'viewer', tenant_ids: [2, 3] });
    const next = await refreshTokens(pair.refresh_token, store, config, after(5));
    const p = await verifyAccessToken(next.access_token, config, after(5));
    assert.equal(p.role, 'viewer');
    assert.deepEqual(p.tenants, [2, 3]);
  });
});

describe('API tokens', () => {
  it('have the dcp_<prefix>_<secret> shape; only prefix and SHA-256 are stored', async () => {
    const { store, user } = await withUser();
    const { token, record } = await createApiToken(store, user.id, { description: 'ci', read_only: true }, T0);
    assert.match(token, /^dcp_[a-z2-7]{10}_[a-z2-7]{52}$/);
    assert.equal(token.split('_')[1], record.prefix);
    assert.equal(record.token_hash, createHash('sha256').update(token).digest('hex'));
    assert.ok(!JSON.stringify([...store.apiTokens.values()]).includes(token.split('_')[2] as string));
    assert.equal(record.read_only, true);
    assert.equal(record.expires_at, null);
    assert.equal(record.description, 'ci');
    const { token: other } = await createApiToken(store, user.id, { description: 'ci2', read_only: false }, T0);
    assert.notEqual(other.split('_')[1], record.prefix);
  });

  it('verify to a principal with the user’s role and tenants and the token’s read-only flag', async () => {
    const { store, user } = await withUser('operator', [4]);
    const ro = await createApiToken(store, user.id, { description: 'ro', read_only: true }, T0);
    const rw = await createApiToken(store, user.id, { description: 'rw', read_only: false }, T0);
    assert.deepEqual(await verifyApiToken(ro.token, store, T0), {
      userId: user.id,
      username: 'alice',
      role: 'operator',
      tenants: [4],
      readOnly: true,
      via: 'api_token',
      apiTokenId: ro.record.id,
      apiTokenPrefix: ro.record.prefix,
    });
    assert.equal((await verifyApiToken(rw.token, store, T0)).readOnly, false);
  });

  it('a wrong secret behind a real prefix is invalid, compared with crypto.timingSafeEqual', async (t) => {
    const { store, user } = await withUser();
    const { token } = await createApiToken(store, user.id, { description: 'ci', read_only: false }, T0);
    const last = token.at(-1) === 'a' ? 'b' : 'a';
    const wrong = `${token.slice(0, -1)}${last}`;

    const require = createRequire(import.meta.url);
    const cryptoCjs = require('node:crypto') as typeof NodeCrypto;
    const spy = t.mock.method(cryptoCjs, 'timingSafeEqual');
    syncBuiltinESMExports();
    try {
      await rejectsWithCode(verifyApiToken(wrong, store, T0), AuthErrorCode.TOKEN_INVALID);
      assert.equal(spy.mock.callCount(), 1);
      assert.equal(spy.mock.calls[0]?.result, false);
      await verifyApiToken(token, store, T0);
      assert.equal(spy.mock.callCount(), 2);
      assert.equal(spy.mock.calls[1]?.result, true);
    } finally {
      spy.mock.restore();
      syncBuiltinESMExports();
    }
    await rejectsWithCode(verifyApiToken(`dcp_${'a'.repeat(10)}_${'b'.repeat(52)}`, store, T0), AuthErrorCode.TOKEN_INVALID);
    await rejectsWithCode(verifyApiToken('dcp_short_token', store, T0), AuthErrorCode.TOKEN_INVALID);
    await rejectsWithCode(verifyApiToken(token.toUpperCase(), store, T0), AuthErrorCode.TOKEN_INVALID);
  });

  it('expire, can be revoked, and die with their user', async () => {
    const { store, user } = await withUser();
    const exp = await createApiToken(store, user.id, { description: 'e', read_only: false, expires_at: after(3600) }, T0);
    assert.ok(await verifyApiToken(exp.token, store, after(3599)));
    await rejectsWithCode(verifyApiToken(exp.token, store, after(3600)), AuthErrorCode.TOKEN_EXPIRED);

    const rev = await createApiToken(store, user.id, { description: 'r', read_only: false }, T0);
    store.revokeApiToken(rev.record.id, after(1));
    await rejectsWithCode(verifyApiToken(rev.token, store, after(2)), AuthErrorCode.TOKEN_REVOKED);

    const disabled = await createApiToken(store, user.id, { read_only: false }, T0);
    assert.equal(disabled.record.description, null);
    store.users.set(user.id, { ...user, is_active: false });
    await rejectsWithCode(verifyApiToken(disabled.token, store, after(2)), AuthErrorCode.TOKEN_REVOKED);
    store.users.set(user.id, { ...user, is_active: true });
    assert.ok(await verifyApiToken(disabled.token, store, after(2)));

    const orphan = await createApiToken(store, user.id, { description: 'o', read_only: false }, T0);
    store.users.delete(user.id);
    await rejectsWithCode(verifyApiToken(orphan.token, store, after(2)), AuthErrorCode.TOKEN_REVOKED);
  });

  it('record last use, at most once a minute', async () => {
    const { store, user } = await withUser();
    const { token, record } = await createApiToken(store, user.id, { description: 'ci', read_only: false }, T0);
    const lastUsed = () => store.apiTokens.get(record.id)?.last_used_at?.getTime();
    assert.equal(lastUsed(), undefined);
    await verifyApiToken(token, store, after(10));
    assert.equal(lastUsed(), after(10).getTime());
    await verifyApiToken(token, store, after(30));
    assert.equal(lastUsed(), after(10).getTime());
    await verifyApiToken(token, store, after(10 + API_TOKEN_TOUCH_INTERVAL_MS / 1000));
    assert.equal(lastUsed(), after(70).getTime());
  });
});

describe('verifyBearer', () => {
  it('accepts a JWT access token or an API token', async () => {
    const { store, user } = await withUser();
    const { access_token } = await issueAccessToken(user, config, T0);
    const jwt = await verifyBearer(`Bearer ${access_token}`, store, config, T0);
    assert.equal(jwt.via, 'jwt');
    assert.equal(jwt.userId, user.id);
    const { token } = await createApiToken(store, user.id, { description: 'ci', read_only: true }, T0);
    const api = await verifyBearer(`bearer ${token}`, store, config, T0);
    assert.equal(api.via, 'api_token');
    assert.equal(api.readOnly, true);
  });

  it('reads the user on every request: a changed password, role or tenants, or a disabled user, end the session', async () => {
    const { store, user } = await withUser();
    const pair = await issueTokenPair(store, user, config, T0);
    assert.equal((await verifyBearer(`Bearer ${pair.access_token}`, store, config, T0)).role, 'operator');
    store.setRole(user.id, 'viewer', []);
    const e = await rejectsWithCode(verifyBearer(`Bearer ${pair.access_token}`, store, config, T0), AuthErrorCode.TOKEN_REVOKED);
    assert.match(e.message, /log in again/);
    await rejectsWithCode(refreshTokens(pair.refresh_token, store, config, after(1)), AuthErrorCode.TOKEN_REVOKED);
    assert.ok([...store.refreshTokens.values()].every((t) => t.revoked_at !== null), 'the old session’s family is revoked');

    const fresh = await issueTokenPair(store, (await store.getUserById(user.id))!, config, after(2));
    const p = await verifyBearer(`Bearer ${fresh.access_token}`, store, config, after(2));
    assert.deepEqual([p.role, p.tenants], ['viewer', []], 'role and tenants come from the user, not the token');
    await store.setPasswordHash(user.id, '$argon2id$other');
    await rejectsWithCode(verifyBearer(`Bearer ${fresh.access_token}`, store, config, after(3)), AuthErrorCode.TOKEN_REVOKED);

    const again = await issueTokenPair(store, (await store.getUserById(user.id))!, config, after(4));
    await store.updateLoginState(user.id, { failed_logins: 3, locked_until: null, last_login: null });
    assert.ok(await verifyBearer(`Bearer ${again.access_token}`, store, config, after(4)), 'login bookkeeping ends nothing');
    store.users.set(user.id, { ...(await store.getUserById(user.id))!, is_active: false });
    await rejectsWithCode(verifyBearer(`Bearer ${again.access_token}`, store, config, after(5)), AuthErrorCode.TOKEN_REVOKED);
    store.users.delete(user.id);
    await rejectsWithCode(verifyBearer(`Bearer ${again.access_token}`, store, config, after(5)), AuthErrorCode.TOKEN_REVOKED);
  });

  it('maps every failure to a code', async () => {
    const { store, user } = await withUser();
    const { access_token } = await issueAccessToken(user, config, T0);
    const pair = await issueTokenPair(store, user, config, T0);
    await rejectsWithCode(verifyBearer(undefined, store, config, T0), AuthErrorCode.TOKEN_MISSING);
    await rejectsWithCode(verifyBearer('  ', store, config, T0), AuthErrorCode.TOKEN_MISSING);
    await rejectsWithCode(verifyBearer(`Basic ${Buffer.from('a:b').toString('base64')}`, store, config, T0), AuthErrorCode.TOKEN_INVALID);
    await rejectsWithCode(verifyBearer('Bearer', store, config, T0), AuthErrorCode.TOKEN_INVALID);
    await rejectsWithCode(verifyBearer(`Bearer ${access_token} extra`, store, config, T0), AuthErrorCode.TOKEN_INVALID);
    await rejectsWithCode(verifyBearer('Bearer nonsense', store, config, T0), AuthErrorCode.TOKEN_INVALID);
    await rejectsWithCode(verifyBearer(`Bearer ${pair.refresh_token}`, store, config, T0), AuthErrorCode.TOKEN_INVALID);
    await rejectsWithCode(verifyBearer(`Bearer ${access_token}`, store, config, after(900)), AuthErrorCode.TOKEN_EXPIRED);
    const { token, record } = await createApiToken(store, user.id, { description: 'ci', read_only: true }, T0);
    store.revokeApiToken(record.id, T0);
    await rejectsWithCode(verifyBearer(`Bearer ${token}`, store, config, T0), AuthErrorCode.TOKEN_REVOKED);
  });
});


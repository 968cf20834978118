import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { AuthStore, RefreshTokenRecord } from '../../src/auth/store.js';

/**
 * The behaviour every AuthStore backend must show. Run it against a fresh,
 * empty store per test: `authStoreContract('sqlite', () => openFreshStore())`.
 * The compare-and-set methods are checked with concurrent calls, since that is
 * what they exist for.
 */
export function authStoreContract(name: string, fresh: () => Promise<AuthStore>): void {
  const t0 = new Date('2030-01-01T00:00:00.000Z');
  const at = (s: number): Date => new Date(t0.getTime() + s * 1000);
  const newUser = (username: string, role: 'admin' | 'operator' | 'viewer' = 'viewer') => ({
    username,
    password_hash: '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhh',
    role,
    tenant_ids: [],
  });
  const refresh = (hash: string, family: string, userId: number): RefreshTokenRecord => ({
    token_hash: hash,
    user_id: userId,
    family_id: family,
    created_at: t0,
    expires_at: at(3600),
    used_at: null,
    revoked_at: null,
    generation: 0,
  });

  describe(`AuthStore contract: ${name}`, () => {
    it('creates users with clean login and TOTP state, found by id and by username', async () => {
      const s = await fresh();
      const u = await s.createUser(newUser('alice', 'operator'));
      assert.equal(u.username, 'alice');
      assert.equal(u.role, 'operator');
      assert.equal(u.failed_logins, 0);
      assert.equal(u.locked_until, null);
      assert.equal(u.last_login, null);
      assert.equal(u.totp_secret, null);
      assert.equal(u.totp_enabled, false);
      assert.equal(u.totp_last_step, null);
      assert.equal(u.is_active, true);
      assert.deepEqual(await s.getUserById(u.id), u);
      assert.deepEqual(await s.getUserByUsername('alice'), u);
      assert.equal(await s.getUserByUsername('bob'), undefined);
      assert.equal(await s.getUserById(u.id + 1000), undefined);
    });

    it('refuses a second user with the same username', async () => {
      const s = await fresh();
      await s.createUser(newUser('alice'));
      await assert.rejects(s.createUser(newUser('alice', 'admin')));
      assert.equal(await s.countAdmins(), 0);
    });

    it('keeps tenant_ids, empty or not', async () => {
      const s = await fresh();
      const b = await s.createUser({ ...newUser('b'), tenant_ids: [] });
      const c = await s.createUser({ ...newUser('c'), tenant_ids: [3, 7] });
      assert.deepEqual((await s.getUserById(b.id))?.tenant_ids, []);
      assert.deepEqual((await s.getUserById(c.id))?.tenant_ids, [3, 7]);
    });

    it('counts admins only', async () => {
      const s = await fresh();
      await s.createUser(newUser('v'));
      await s.createUser(newUser('o', 'operator'));
      assert.equal(await s.countAdmins(), 0);
      await s.createUser(newUser('a1', 'admin'));
      await s.createUser(newUser('a2', 'admin'));
      assert.equal(await s.countAdmins(), 2);
    });

    it('stores login state, password hash and TOTP settings', async () => {
      const s = await fresh();
      const u = await s.createUser(newUser('alice'));
      await s.updateLoginState(u.id, { failed_logins: 3, locked_until: at(60), last_login: at(-10) });
      let r = await s.getUserById(u.id);
      assert.equal(r?.failed_logins, 3);
      assert.equal(r?.locked_until?.getTime(), at(60).getTime());
      assert.equal(r?.last_login?.getTime(), at(-10).getTime());
      await s.updateLoginState(u.id, { failed_logins: 0, locked_until: null, last_login: at(5) });
      await s.setPasswordHash(u.id, '$argon2id$new');
      await s.setTotp(u.id, 'JBSWY3DPEHPK3PXP', true);
      r = await s.getUserById(u.id);
      assert.equal(r?.failed_logins, 0);
      assert.equal(r?.locked_until, null);
      assert.equal(r?.password_hash, '$argon2id$new');
      assert.equal(r?.totp_secret, 'JBSWY3DPEHPK3PXP');
      assert.equal(r?.totp_enabled, true);
      await s.setTotp(u.id, null, false);
      r = await s.getUserById(u.id);
      assert.equal(r?.totp_secret, null);
      assert.equal(r?.totp_enabled, false);
    });

    it('a new password hash moves token_generation on; login bookkeeping and TOTP do not; refresh tokens keep theirs', async () => {
      const s = await fresh();
      const u = await s.createUser(newUser('gen'));
      assert.equal(u.token_generation, 0);
      await s.updateLoginState(u.id, { failed_logins: 2, locked_until: at(60), last_login: at(-10) });
      await s.recordLoginFailure(u.id, () => at(120));
      await s.setTotp(u.id, 'JBSWY3DPEHPK3PXP', true);
      assert.equal(await s.recordTotpStep(u.id, 7), true);
      assert.equal((await s.getUserById(u.id))?.token_generation, 0);
      await s.setPasswordHash(u.id, '$argon2id$changed');
      assert.equal((await s.getUserById(u.id))?.token_generation, 1);
      await s.saveRefreshToken({ ...refresh('gen-h', 'gen-f', u.id), generation: 1 });
      assert.equal((await s.findRefreshToken('gen-h'))?.generation, 1);
    });

    it('recordLoginFailure counts every one of many concurrent failures and locks from the count it made', async () => {
      const s = await fresh();
      const u = await s.createUser(newUser('alice'));
      await s.updateLoginState(u.id, { failed_logins: 0, locked_until: null, last_login: at(-10) });
      assert.equal(await s.recordLoginFailure(u.id, () => null), 1);
      assert.equal((await s.getUserById(u.id))?.locked_until, null);
      const counts = await Promise.all(Array.from({ length: 12 }, () => s.recordLoginFailure(u.id, (n) => (n >= 5 ? at(n * 60) : null))));
      assert.deepEqual([...counts].sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i + 2));
      const r = await s.getUserById(u.id);
      assert.equal(r?.failed_logins, 13);
      // The lock of the last failure stands, not one of an earlier, shorter one that finished later.
      assert.equal(r?.locked_until?.getTime(), at(13 * 60).getTime());
      assert.equal(r?.last_login?.getTime(), at(-10).getTime());
      assert.equal(await s.recordLoginFailure(u.id + 1000, () => at(1)), 0);
    });

    it('recordTotpStep only moves forward, and one of two concurrent calls for a step wins', async () => {
      const s = await fresh();
      const u = await s.createUser(newUser('alice'));
      assert.equal(await s.recordTotpStep(u.id, 100), true);
      assert.equal(await s.recordTotpStep(u.id, 100), false);
      assert.equal(await s.recordTotpStep(u.id, 99), false);
      assert.equal(await s.recordTotpStep(u.id, 101), true);
      assert.equal((await s.getUserById(u.id))?.totp_last_step, 101);
      const results = await Promise.all([s.recordTotpStep(u.id, 200), s.recordTotpStep(u.id, 200)]);
      assert.deepEqual(results.sort(), [false, true]);
    });

    it('refresh tokens: found by hash, spent once (also under concurrency), families revoked together', async () => {
      const s = await fresh();
      const u = await s.createUser(newUser('alice'));
      await s.saveRefreshToken(refresh('h1', 'fam-a', u.id));
      await s.saveRefreshToken(refresh('h2', 'fam-a', u.id));
      await s.saveRefreshToken(refresh('h3', 'fam-b', u.id));
      const h1 = await s.findRefreshToken('h1');
      assert.equal(h1?.family_id, 'fam-a');
      assert.equal(h1?.expires_at.getTime(), at(3600).getTime());
      assert.equal(await s.findRefreshToken('nope'), undefined);

      assert.equal(await s.markRefreshTokenUsed('h1', at(1)), true);
      assert.equal(await s.markRefreshTokenUsed('h1', at(2)), false);
      assert.equal((await s.findRefreshToken('h1'))?.used_at?.getTime(), at(1).getTime());
      assert.equal(await s.markRefreshTokenUsed('nope', at(2)), false);

      const both = await Promise.all([s.markRefreshTokenUsed('h3', at(3)), s.markRefreshTokenUsed('h3', at(3))]);
      assert.deepEqual(both.sort(), [false, true]);

      await s.revokeRefreshFamily('fam-a', at(10));
      assert.equal((await s.findRefreshToken('h1'))?.revoked_at?.getTime(), at(10).getTime());
      assert.equal((await s.findRefreshToken('h2'))?.revoked_at?.getTime(), at(10).getTime());
      assert.equal((await s.findRefreshToken('h3'))?.revoked_at, null);
      assert.equal(await s.markRefreshTokenUsed('h2', at(11)), false, 'a revoked token cannot be spent');
      await s.revokeRefreshFamily('fam-a', at(20));
      assert.equal((await s.findRefreshToken('h2'))?.revoked_at?.getTime(), at(10).getTime(), 'first revocation time kept');
    });

    it('API tokens: ids assigned, unique prefixes, found by prefix, touched', async () => {
      const s = await fresh();
      const u = await s.createUser(newUser('alice'));
      const base = {
        user_id: u.id,
        description: 'ci' as string | null,
        token_hash: 'ab'.repeat(32),
        read_only: true,
        expires_at: at(86400),
        created_at: t0,
      };
      const a = await s.saveApiToken({ ...base, prefix: 'aaaaaaaaaa' });
      const b = await s.saveApiToken({ ...base, prefix: 'bbbbbbbbbb', read_only: false, expires_at: null, description: null });
      assert.notEqual(a.id, b.id);
      assert.equal(a.last_used_at, null);
      assert.equal(a.revoked_at, null);
      await assert.rejects(s.saveApiToken({ ...base, prefix: 'aaaaaaaaaa' }));
      const found = await s.findApiTokenByPrefix('bbbbbbbbbb');
      assert.equal(found?.id, b.id);
      assert.equal(found?.read_only, false);
      assert.equal(found?.expires_at, null);
      assert.equal(found?.description, null);
      assert.equal((await s.findApiTokenByPrefix('aaaaaaaaaa'))?.description, 'ci');
      assert.equal((await s.findApiTokenByPrefix('aaaaaaaaaa'))?.expires_at?.getTime(), at(86400).getTime());
      assert.equal(await s.findApiTokenByPrefix('cccccccccc'), undefined);
      await s.touchApiToken(a.id, at(7));
      assert.equal((await s.findApiTokenByPrefix('aaaaaaaaaa'))?.last_used_at?.getTime(), at(7).getTime());
    });
  });
}

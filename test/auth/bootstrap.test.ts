import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after as afterAll, before, describe, it } from 'node:test';
import { ADMIN_PASSWORD_ENV, bootstrapAdmin } from '../../src/auth/bootstrap.js';
import { AuthErrorCode } from '../../src/auth/errors.js';
import { checkPasswordPolicy } from '../../src/auth/passwords.js';
import { MemoryAuthStore } from './memory-auth-store.js';
import { CountingHasher, TEST_ARGON2, rejectsWithCode } from './helpers.js';

describe('first admin bootstrap', () => {
  let root: string;
  let n = 0;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'dcplane-auth-bootstrap-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const fresh = () => ({ store: new MemoryAuthStore(), hasher: new CountingHasher(TEST_ARGON2), dataDir: join(root, `d${n++}`) });

  it('generates a strong password, prints it once, writes it mode 0600, and creates one admin', async () => {
    const { store, hasher, dataDir } = fresh();
    const lines: string[] = [];
    const r = await bootstrapAdmin({ store, hasher, dataDir, env: {}, print: (l) => lines.push(l) });
    assert.equal(r.created, true);
    assert.ok(r.created && r.source === 'generated');
    const file = join(dataDir, 'initial-admin-password');
    assert.equal(r.passwordFile, file);
    const st = await stat(file);
    assert.equal(st.mode & 0o777, 0o600);
    const password = (await readFile(file, 'utf8')).trim();
    assert.match(password, /^[A-Za-z0-9_-]{32}$/);
    checkPasswordPolicy(password, 'admin');
    assert.equal(lines.length, 1);
    assert.ok(lines[0]?.includes(password));
    assert.deepEqual(await readdir(dataDir), ['initial-admin-password'], 'no temporary file left');

    const admin = await store.getUserByUsername('admin');
    assert.equal(admin?.role, 'admin');
    assert.deepEqual(admin?.tenant_ids, []);
    assert.ok(admin?.password_hash);
    assert.ok(await hasher.verify(admin.password_hash, password));
    assert.ok(!admin.password_hash.includes(password));

    // Idempotent: a second start creates nothing, prints nothing, keeps the file.
    const again = await bootstrapAdmin({ store, hasher, dataDir, env: {}, print: (l) => lines.push(l) });
    assert.deepEqual(again, { created: false });
    assert.equal(lines.length, 1);
    assert.equal(await store.countAdmins(), 1);
    assert.equal((await readFile(file, 'utf8')).trim(), password);
  });

  it('two generated passwords differ', async () => {
    const a = fresh();
    const b = fresh();
    await bootstrapAdmin({ ...a, env: {}, print: () => undefined });
    await bootstrapAdmin({ ...b, env: {}, print: () => undefined });
    const pa = await readFile(join(a.dataDir, 'initial-admin-password'), 'utf8');
    const pb = await readFile(join(b.dataDir, 'initial-admin-password'), 'utf8');
    assert.notEqual(pa, pb);
  });

  it('uses DCPLANE_ADMIN_PASSWORD when set: no file, nothing printed', async () => {
    const { store, hasher, dataDir } = fresh();
    const lines: string[] = [];
    const r = await bootstrapAdmin({
      store,
      hasher,
      dataDir,
      env: { [ADMIN_PASSWORD_ENV]: 'a long operator-chosen passphrase' },
      print: (l) => lines.push(l),
      username: 'root',
    });
    assert.ok(r.created && r.source === 'env');
    assert.equal(lines.length, 0);
    await assert.rejects(stat(join(dataDir, 'initial-admin-password')), { code: 'ENOENT' });
    const u = await store.getUserByUsername('root');
    assert.ok(u?.password_hash);
    assert.ok(await hasher.verify(u.password_hash, 'a long operator-chosen passphrase'));
  });

  it('refuses a weak DCPLANE_ADMIN_PASSWORD and creates nobody', async () => {
    const { store, hasher, dataDir } = fresh();
    for (const [pw, reason] of [
      ['admin123', 'too_short'],
      ['ADMINISTRATOR', 'same_as_username'],
    ] as const) {
      const e = await rejectsWithCode(
        bootstrapAdmin({ store, hasher, dataDir, env: { [ADMIN_PASSWORD_ENV]: pw }, username: 'administrator', print: () => undefined }),
        AuthErrorCode.WEAK_PASSWORD,
      );
      assert.equal(e.reason, reason);
    }
    assert.equal(await store.countAdmins(), 0);
    assert.equal(store.users.size, 0);
  });

  it('does nothing when an admin exists, whatever the environment says', async () => {
    const { store, hasher, dataDir } = fresh();
    await store.createUser({ username: 'ops-admin', password_hash: 'x', role: 'admin', tenant_ids: [] });
    const r = await bootstrapAdmin({ store, hasher, dataDir, env: { [ADMIN_PASSWORD_ENV]: 'weak' }, print: () => undefined });
    assert.deepEqual(r, { created: false });
    assert.equal(store.users.size, 1);
    assert.equal(hasher.hashes, 0);
  });
});

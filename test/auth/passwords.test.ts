import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { AuthErrorCode } from '../../src/auth/errors.js';
import { PASSWORD_MAX_LENGTH, PRODUCTION_ARGON2, PasswordHasher, checkPasswordPolicy } from '../../src/auth/passwords.js';
import { CountingHasher, TEST_ARGON2, throwsWithCode } from './helpers.js';

describe('password hashing', () => {
  const hasher = new PasswordHasher(TEST_ARGON2);

  it('hashes with argon2id and a fresh salt, and verifies only the right password', async () => {
    const h1 = await hasher.hash('correct horse battery staple');
    const h2 = await hasher.hash('correct horse battery staple');
    assert.match(h1, /^\$argon2id\$v=19\$m=1024,p=1,t=1\$/);
    assert.notEqual(h1, h2, 'salted');
    assert.equal(await hasher.verify(h1, 'correct horse battery staple'), true);
    assert.equal(await hasher.verify(h2, 'correct horse battery staple'), true);
    assert.equal(await hasher.verify(h1, 'correct horse battery stapl'), false);
    assert.equal(await hasher.verify(h1, ''), false);
  });

  it('a stored hash that does not parse never matches (and does not throw)', async () => {
    assert.equal(await hasher.verify('', 'x'), false);
    assert.equal(await hasher.verify('plaintext-password', 'plaintext-password'), false);
    assert.equal(await hasher.verify('$argon2id$v=19$m=1024,t=1,p=1$broken', 'x'), false);
  });

  it('normalises to NFKC, so composed and decomposed forms of one passphrase match', async () => {
    const composed = 'caf\u00e9-au-lait-2030';
    const decomposed = 'cafe\u0301-au-lait-2030';
    assert.notEqual(composed, decomposed);
    const h = await hasher.hash(composed);
    assert.equal(await hasher.verify(h, decomposed), true);
  });

  it('needsRehash flags hashes made with other parameters', async () => {
    const h = await hasher.hash('some long password');
    assert.equal(hasher.needsRehash(h), false);
    assert.equal(new PasswordHasher({ ...TEST_ARGON2, timeCost: 2 }).needsRehash(h), true);
    assert.equal(new PasswordHasher({ ...TEST_ARGON2, memoryCost: 2048 }).needsRehash(h), true);
    assert.equal(new PasswordHasher(PRODUCTION_ARGON2).needsRehash(h), true);
    assert.equal(hasher.needsRehash('not a hash'), true);
  });

  it('dummyVerify costs a verify with the same parameters', async () => {
    await hasher.dummyVerify('whatever');
    await hasher.dummyVerify('again');
  });

  it('prepare makes the dummy hash once, ahead: the first unknown-user login costs no extra hash', async () => {
    const hasher = new CountingHasher(TEST_ARGON2);
    const made = await hasher.prepare();
    assert.equal(hasher.hashes, 1);
    assert.equal(await hasher.prepare(), made);
    await hasher.dummyVerify('anything at all');
    assert.deepEqual([hasher.hashes, hasher.verifies], [1, 1]);
  });

  it('the production parameters: RFC 9106 second recommended option, verified round trip', async () => {
    assert.deepEqual({ ...PRODUCTION_ARGON2 }, { memoryCost: 65536, timeCost: 3, parallelism: 4 });
    const prod = new PasswordHasher();
    const started = process.hrtime.bigint();
    const h = await prod.hash('production parameters once');
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.match(h, /^\$argon2id\$v=19\$m=65536,p=4,t=3\$/);
    assert.equal(await prod.verify(h, 'production parameters once'), true);
    assert.equal(prod.needsRehash(h), false);
    // Slow by design: a hash that took under a few ms would mean the parameters are not applied.
    assert.ok(ms > 10, `production hash took ${ms.toFixed(1)} ms`);
  });
});

describe('password policy', () => {
  it('accepts 12 characters or more that are not the username', () => {
    checkPasswordPolicy('abcdefghijkl', 'alice');
    checkPasswordPolicy('x'.repeat(PASSWORD_MAX_LENGTH), 'alice');
  });

  it('refuses fewer than 12 characters, counting code points, not UTF-16 units', () => {
    assert.equal(throwsWithCode(() => checkPasswordPolicy('abcdefghijk', 'alice'), AuthErrorCode.WEAK_PASSWORD).reason, 'too_short');
    assert.equal(throwsWithCode(() => checkPasswordPolicy('', 'alice'), AuthErrorCode.WEAK_PASSWORD).reason, 'too_short');
    // Six emoji are twelve UTF-16 units but six characters.
    const e = throwsWithCode(() => checkPasswordPolicy('\u{1F511}'.repeat(6), 'alice'), AuthErrorCode.WEAK_PASSWORD);
    assert.equal(e.reason, 'too_short');
    assert.equal(e.status, 422);
  });

  it('refuses more than the maximum length', () => {
    const e = throwsWithCode(() => checkPasswordPolicy('x'.repeat(PASSWORD_MAX_LENGTH + 1), 'alice'), AuthErrorCode.WEAK_PASSWORD);
    assert.equal(e.reason, 'too_long');
  });

  it('refuses the username as password, ignoring case', () => {
    const e = throwsWithCode(() => checkPasswordPolicy('Administrator', 'administrator'), AuthErrorCode.WEAK_PASSWORD);
    assert.equal(e.reason, 'same_as_username');
    checkPasswordPolicy('administrator1', 'administrator');
  });
});

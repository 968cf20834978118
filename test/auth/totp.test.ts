import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { AuthErrorCode } from '../../src/auth/errors.js';
import {
  beginTotpEnrolment,
  confirmTotp,
  disableTotp,
  generateTotpEnrolment,
  matchTotpStep,
  totpCodeAt,
  totpStep,
  verifyTotpCode,
} from '../../src/auth/totp.js';
import { MemoryAuthStore } from './memory-auth-store.js';
import { T0, after, rejectsWithCode } from './helpers.js';

/** RFC 6238 Appendix B: the SHA-1 seed "12345678901234567890", base32. */
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const at = (unixSeconds: number) => new Date(unixSeconds * 1000);

async function enrolledUser() {
  const store = new MemoryAuthStore();
  const user = await store.createUser({ username: 'alice', password_hash: 'x', role: 'viewer', tenant_ids: [] });
  await store.setTotp(user.id, RFC_SECRET, true);
  return { store, user: { ...user, totp_secret: RFC_SECRET, totp_enabled: true } };
}

describe('TOTP', () => {
  it('codes match RFC 6238 Appendix B (SHA-1, last 6 of the 8 digits)', () => {
    assert.equal(totpCodeAt(RFC_SECRET, at(59)), '287082');
    assert.equal(totpCodeAt(RFC_SECRET, at(1111111109)), '081804');
    assert.equal(totpCodeAt(RFC_SECRET, at(1234567890)), '005924');
    assert.equal(totpCodeAt(RFC_SECRET, at(2000000000)), '279037');
    assert.equal(totpStep(at(59)), 1);
    assert.equal(totpStep(at(1234567890)), 41152263);
  });

  it('enrolment gives a 160-bit base32 secret and an otpauth URI with issuer dcplane and the username', () => {
    const e = generateTotpEnrolment('alice@dc1');
    assert.match(e.secret, /^[A-Z2-7]{32}$/);
    const u = new URL(e.uri);
    assert.equal(u.protocol, 'otpauth:');
    assert.equal(u.host, 'totp');
    assert.equal(decodeURIComponent(u.pathname), '/dcplane:alice@dc1');
    assert.equal(u.searchParams.get('issuer'), 'dcplane');
    assert.equal(u.searchParams.get('secret'), e.secret);
    assert.equal(u.searchParams.get('algorithm'), 'SHA1');
    assert.equal(u.searchParams.get('digits'), '6');
    assert.equal(u.searchParams.get('period'), '30');
    assert.notEqual(generateTotpEnrolment('alice@dc1').secret, e.secret);
  });

  it('accepts the current step and one either side, not two', () => {
    const now = at(1_800_000_015);
    const step = totpStep(now);
    for (const d of [-1, 0, 1]) {
      assert.equal(matchTotpStep(RFC_SECRET, totpCodeAt(RFC_SECRET, at((step + d) * 30)), now), step + d);
    }
    for (const d of [-2, 2]) {
      assert.equal(matchTotpStep(RFC_SECRET, totpCodeAt(RFC_SECRET, at((step + d) * 30)), now), undefined);
    }
  });

  it('ignores spaces, refuses anything but six digits', () => {
    const now = at(1_800_000_015);
    const code = totpCodeAt(RFC_SECRET, now);
    assert.equal(matchTotpStep(RFC_SECRET, `${code.slice(0, 3)} ${code.slice(3)}`, now), totpStep(now));
    assert.equal(matchTotpStep(RFC_SECRET, `${code}0`, now), undefined);
    assert.equal(matchTotpStep(RFC_SECRET, code.slice(1), now), undefined);
    assert.equal(matchTotpStep(RFC_SECRET, 'abcdef', now), undefined);
    assert.equal(matchTotpStep(RFC_SECRET, '', now), undefined);
  });

  it('a code is accepted once: the same code again, or an older one, is a replay', async () => {
    const { store, user } = await enrolledUser();
    const now = at(1_800_000_015);
    const step = totpStep(now);
    const current = totpCodeAt(RFC_SECRET, now);
    const previous = totpCodeAt(RFC_SECRET, at((step - 1) * 30));
    await verifyTotpCode(store, user, current, now);
    await rejectsWithCode(verifyTotpCode(store, user, current, now), AuthErrorCode.OTP_REPLAYED);
    // Still inside the window ten seconds later, still refused.
    await rejectsWithCode(verifyTotpCode(store, user, current, after(10, now)), AuthErrorCode.OTP_REPLAYED);
    await rejectsWithCode(verifyTotpCode(store, user, previous, now), AuthErrorCode.OTP_REPLAYED);
    // The next step's code is new.
    await verifyTotpCode(store, user, totpCodeAt(RFC_SECRET, after(30, now)), after(30, now));
    assert.equal((await store.getUserById(user.id))?.totp_last_step, step + 1);
  });

  it('a wrong code is invalid and spends nothing', async () => {
    const { store, user } = await enrolledUser();
    const now = at(1_800_000_015);
    const right = totpCodeAt(RFC_SECRET, now);
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    await rejectsWithCode(verifyTotpCode(store, user, wrong, now), AuthErrorCode.OTP_INVALID);
    assert.equal((await store.getUserById(user.id))?.totp_last_step, null);
    await verifyTotpCode(store, user, right, now);
  });

  it('enrolment is pending until confirmed with a code; re-enrolling needs a current code and keeps TOTP on; disable clears it', async () => {
    const store = new MemoryAuthStore();
    const user = await store.createUser({ username: 'bob', password_hash: 'x', role: 'viewer', tenant_ids: [] });
    await rejectsWithCode(confirmTotp(store, user, '123456', T0), AuthErrorCode.OTP_NOT_ENROLLED);

    const e = await beginTotpEnrolment(store, user, undefined, T0);
    let u = await store.getUserById(user.id);
    assert.equal(u?.totp_secret, e.secret);
    assert.equal(u?.totp_enabled, false);
    assert.ok(u !== undefined);
    await rejectsWithCode(confirmTotp(store, u, '000000' === totpCodeAt(e.secret, T0) ? '111111' : '000000', T0), AuthErrorCode.OTP_INVALID);
    assert.equal((await store.getUserById(user.id))?.totp_enabled, false);
    await confirmTotp(store, u, totpCodeAt(e.secret, T0), T0);
    u = await store.getUserById(user.id);
    assert.equal(u?.totp_enabled, true);

    assert.ok(u !== undefined);
    // With TOTP on, re-enrolment needs the current factor and never turns enforcement off.
    await rejectsWithCode(beginTotpEnrolment(store, u, undefined, after(60)), AuthErrorCode.OTP_REQUIRED);
    await rejectsWithCode(beginTotpEnrolment(store, u, totpCodeAt(e.secret, after(60)) === '000000' ? '111111' : '000000', after(60)), AuthErrorCode.OTP_INVALID);
    assert.equal((await store.getUserById(user.id))?.totp_secret, e.secret);
    assert.equal((await store.getUserById(user.id))?.totp_enabled, true);
    const e2 = await beginTotpEnrolment(store, u, totpCodeAt(e.secret, after(60)), after(60));
    u = await store.getUserById(user.id);
    assert.notEqual(e2.secret, e.secret);
    assert.equal(u?.totp_secret, e2.secret);
    assert.equal(u?.totp_enabled, true);
    assert.ok(u !== undefined);
    await confirmTotp(store, u, totpCodeAt(e2.secret, after(120)), after(120));
    assert.equal((await store.getUserById(user.id))?.totp_enabled, true);

    await disableTotp(store, user.id);
    u = await store.getUserById(user.id);
    assert.equal(u?.totp_secret, null);
    assert.equal(u?.totp_enabled, false);
  });
});

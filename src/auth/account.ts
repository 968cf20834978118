import { AuthError, AuthErrorCode } from './errors.js';
import { DEFAULT_LOCKOUT, recordFailure } from './login.js';
import type { LockoutPolicy } from './login.js';
import { checkPasswordPolicy } from './passwords.js';
import type { PasswordHasher } from './passwords.js';
import type { AuthStore, UserRecord } from './store.js';
import { issueTokenPair } from './tokens.js';
import type { TokenConfig, TokenPair } from './tokens.js';
import { verifyTotpCode } from './totp.js';

export interface PasswordChange {
  readonly currentPassword: string;
  readonly newPassword: string;
  /** A current TOTP code; required when the user has TOTP on. */
  readonly otp?: string | undefined;
}

export interface PasswordChangeOptions {
  readonly hasher: PasswordHasher;
  readonly tokens: TokenConfig;
  readonly lockout?: LockoutPolicy;
}

/**
 * A user changes their own password (`POST /api/v1/auth/password`). The
 * current password is proven as at login, so a stolen access token alone
 * cannot take the account over: a wrong one counts toward the lock and is
 * AUTH_ERR_INVALID_CREDENTIALS, a locked account is AUTH_ERR_ACCOUNT_LOCKED
 * (told only after the password was right), and with TOTP on a current code
 * is needed too. The new hash moves the user's token generation on, which
 * ends every session, this one included: the caller gets a new token pair.
 */
export async function changePassword(
  store: AuthStore,
  user: UserRecord,
  change: PasswordChange,
  now: Date,
  options: PasswordChangeOptions,
): Promise<TokenPair> {
  const policy = options.lockout ?? DEFAULT_LOCKOUT;
  if (user.password_hash === null) {
    await options.hasher.dummyVerify(change.currentPassword);
    throw new AuthError(AuthErrorCode.INVALID_CREDENTIALS, 'the current password is wrong');
  }
  if (!(await options.hasher.verify(user.password_hash, change.currentPassword))) {
    await recordFailure(store, user, now, policy);
    throw new AuthError(AuthErrorCode.INVALID_CREDENTIALS, 'the current password is wrong');
  }
  if (user.locked_until !== null && user.locked_until.getTime() > now.getTime()) {
    throw new AuthError(AuthErrorCode.ACCOUNT_LOCKED, 'account locked after too many failed logins', {
      retryAfterSeconds: Math.ceil((user.locked_until.getTime() - now.getTime()) / 1000),
    });
  }
  if (user.totp_enabled) {
    if (change.otp === undefined || change.otp.trim() === '') throw new AuthError(AuthErrorCode.OTP_REQUIRED, 'TOTP is on: send a current code as otp');
    try {
      await verifyTotpCode(store, user, change.otp, now);
    } catch (e) {
      await recordFailure(store, user, now, policy);
      throw e;
    }
  }
  checkPasswordPolicy(change.newPassword, user.username);
  await store.setPasswordHash(user.id, await options.hasher.hash(change.newPassword));
  const current = await store.getUserById(user.id);
  if (current === undefined) throw new AuthError(AuthErrorCode.TOKEN_REVOKED, 'the user is gone');
  return issueTokenPair(store, current, options.tokens, now);
}

import { AuthError, AuthErrorCode } from './errors.js';
import type { PasswordHasher } from './passwords.js';
import type { LoginRateLimiter } from './rate-limit.js';
import type { AuthStore, UserRecord } from './store.js';
import { issueTokenPair } from './tokens.js';
import type { TokenConfig, TokenPair } from './tokens.js';
import { verifyTotpCode } from './totp.js';

export interface LoginRequest {
  readonly username: string;
  readonly password: string;
  readonly otp?: string | undefined;
}

export interface LockoutPolicy {
  /** Failed attempts in a row that lock the account. */
  readonly maxFailedAttempts: number;
  /** Length of the first lock; each further failure doubles it. */
  readonly baseLockSeconds: number;
  readonly maxLockSeconds: number;
}

/**
 * Five failures lock for 1 minute; after the lock ends the count is kept, so
 * the sixth failure locks for 2, the seventh for 4, … up to an hour. Only a
 * successful login resets the count.
 */
export const DEFAULT_LOCKOUT: LockoutPolicy = Object.freeze({
  maxFailedAttempts: 5,
  baseLockSeconds: 60,
  maxLockSeconds: 3600,
});

export interface LoginOptions {
  readonly hasher: PasswordHasher;
  readonly tokens: TokenConfig;
  readonly rateLimiter: LoginRateLimiter;
  readonly lockout?: LockoutPolicy;
}

/** How long the lock after the `failures`-th failure in a row lasts (0: no lock). */
export function lockSeconds(failures: number, policy: LockoutPolicy = DEFAULT_LOCKOUT): number {
  if (failures < policy.maxFailedAttempts) return 0;
  const doublings = Math.min(failures - policy.maxFailedAttempts, 30);
  return Math.min(policy.maxLockSeconds, policy.baseLockSeconds * 2 ** doublings);
}

function invalidCredentials(): AuthError {
  return new AuthError(AuthErrorCode.INVALID_CREDENTIALS, 'invalid username or password');
}

/**
 * Password login (`POST /api/v1/auth/token`). In order:
 * 1. one attempt from the source address's bucket (AUTH_ERR_RATE_LIMITED);
 * 2. an unknown user (or one without a password) costs one argon2 verify against a dummy hash, so response
 *    time does not say whether the name exists (AUTH_ERR_INVALID_CREDENTIALS);
 * 3. a wrong password counts a failure and may lock (AUTH_ERR_INVALID_CREDENTIALS), on a
 *    locked account too: it gets the same answer and takes the same argon2 time as any other;
 * 4. the right password on a locked account is refused (AUTH_ERR_ACCOUNT_LOCKED). While the
 *    lock lasts a guesser still learns whether a guess was right, so the lock no longer stops
 *    the guessing: each wrong guess lengthens it (up to maxLockSeconds) and the per-source
 *    rate limit of step 1 bounds how fast guesses come;
 * 5. a disabled account is refused (AUTH_ERR_ACCOUNT_DISABLED);
 * 6. with TOTP on: no code → AUTH_ERR_OTP_REQUIRED (not a failure: the password
 *    was right and the client must now ask for the code); a wrong or replayed
 *    code counts a failure, so codes cannot be guessed faster than passwords;
 * 7. success resets the failures, records last_login, upgrades a hash made with
 *    old argon2 parameters, and returns a new token pair.
 */
export async function login(
  request: LoginRequest,
  sourceIp: string,
  store: AuthStore,
  now: Date,
  options: LoginOptions,
): Promise<TokenPair> {
  const policy = options.lockout ?? DEFAULT_LOCKOUT;
  const wait = options.rateLimiter.take(sourceIp, now);
  if (wait > 0) {
    throw new AuthError(AuthErrorCode.RATE_LIMITED, 'too many login attempts from this address', {
      retryAfterSeconds: wait,
    });
  }

  const { username, password, otp } = request;
  // No stored name holds U+0000, and PostgreSQL refuses to compare one (a 500): such a name is simply unknown.
  const user = username === '' || username.includes('\u0000') ? undefined : await store.getUserByUsername(username);
  if (user === undefined || user.password_hash === null) {
    await options.hasher.dummyVerify(password);
    throw invalidCredentials();
  }

  // The password is checked before the lock, locked or not: answering a
  // locked account at once would tell a guesser (by the code and by the time
  // saved on argon2) which accounts its guessing has locked.
  if (!(await options.hasher.verify(user.password_hash, password))) {
    await recordFailure(store, user, now, policy);
    throw invalidCredentials();
  }

  if (user.locked_until !== null && user.locked_until.getTime() > now.getTime()) {
    throw new AuthError(AuthErrorCode.ACCOUNT_LOCKED, 'account locked after too many failed logins', {
      retryAfterSeconds: Math.ceil((user.locked_until.getTime() - now.getTime()) / 1000),
    });
  }

  // Said only to someone who knows the password, so it reveals nothing to a guesser.
  if (!user.is_active) throw new AuthError(AuthErrorCode.ACCOUNT_DISABLED, 'account disabled');

  if (user.totp_enabled) {
    if (otp === undefined || otp.trim() === '') {
      throw new AuthError(AuthErrorCode.OTP_REQUIRED, 'a one-time code is required');
    }
    try {
      await verifyTotpCode(store, user, otp, now);
    } catch (e) {
      await recordFailure(store, user, now, policy);
      throw e;
    }
  }

  let current = user;
  if (options.hasher.needsRehash(user.password_hash)) {
    await store.setPasswordHash(user.id, await options.hasher.hash(password));
    // A new hash moves token_generation on: the new tokens must carry the new one.
    current = (await store.getUserById(user.id)) ?? user;
  }
  await store.updateLoginState(user.id, { failed_logins: 0, locked_until: null, last_login: now });
  return issueTokenPair(store, current, options.tokens, now);
}

/** Counts a failed proof of the password (or code) toward the account's lock. */
export async function recordFailure(store: AuthStore, user: Pick<UserRecord, 'id'>, now: Date, policy: LockoutPolicy = DEFAULT_LOCKOUT): Promise<void> {
  // Counted by the store, not from `user.failed_logins`: that value was read
  // before the password check, so parallel guesses would all write the same
  // count and never reach the lock.
  await store.recordLoginFailure(user.id, (failures) => {
    const lock = lockSeconds(failures, policy);
    return lock > 0 ? new Date(now.getTime() + lock * 1000) : null;
  });
}

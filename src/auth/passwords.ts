import { randomBytes } from 'node:crypto';
import * as argon2 from 'argon2';
import { AuthError, AuthErrorCode } from './errors.js';

/** argon2id cost parameters (the salt is 16 random bytes, the hash 32 bytes). */
export interface Argon2Params {
  /** KiB of memory. */
  readonly memoryCost: number;
  /** Passes over the memory. */
  readonly timeCost: number;
  /** Lanes. */
  readonly parallelism: number;
}

/**
 * RFC 9106 §4, second recommended option ("if much less memory is available"
 * than the 2 GiB of the first): argon2id, t=3, p=4, m=64 MiB. About 90 ms per
 * hash on a 2-core build host; argon2 runs on libuv's pool, so the event loop
 * stays free. Raising these later is safe: `needsRehash` flags old hashes and
 * a successful login rewrites them.
 */
export const PRODUCTION_ARGON2: Argon2Params = Object.freeze({ memoryCost: 65536, timeCost: 3, parallelism: 4 });

export const PASSWORD_MIN_LENGTH = 12;
/** Long enough for any passphrase; bounds the work one request can ask for. */
export const PASSWORD_MAX_LENGTH = 1024;

/**
 * NIST SP 800-63B §5.1.1.2: passwords "SHOULD" be normalised (NFKC) before
 * hashing, so the same passphrase typed on two keyboards matches.
 */
function normalise(password: string): string {
  return password.normalize('NFKC');
}

/** Hashes and verifies passwords with one set of argon2id parameters. */
export class PasswordHasher {
  readonly params: Argon2Params;
  #dummyHash: Promise<string> | undefined;

  constructor(params: Argon2Params = PRODUCTION_ARGON2) {
    this.params = Object.freeze({ ...params });
  }

  hash(password: string): Promise<string> {
    return argon2.hash(normalise(password), { type: argon2.argon2id, ...this.params });
  }

  /**
   * Whether `password` matches the PHC string. argon2 recomputes the hash with
   * the stored parameters and compares with crypto.timingSafeEqual, so the time
   * taken does not depend on how much of the hash matched. A hash that does not
   * parse never matches.
   */
  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await argon2.verify(passwordHash, normalise(password));
    } catch {
      return false;
    }
  }

  /** True when the hash was made with other parameters than this hasher's (or does not parse). */
  needsRehash(passwordHash: string): boolean {
    try {
      return argon2.needsRehash(passwordHash, this.params);
    } catch {
      return true;
    }
  }

  /**
   * Spends the time of one `verify` against a hash of a random password with
   * this hasher's parameters, so a login for an unknown user takes as long as
   * one with a wrong password.
   */
  async dummyVerify(password: string): Promise<void> {
    await this.verify(await this.prepare(), password);
  }

  /**
   * Makes the dummy hash now. Made on first use, it would cost the first
   * login for an unknown name one extra argon2 run: a name a guesser could
   * tell is unknown by the time.
   */
  prepare(): Promise<string> {
    this.#dummyHash ??= this.hash(randomBytes(24).toString('base64url'));
    return this.#dummyHash;
  }
}

/**
 * The password rules: at least 12 characters (code points, after NFKC), at most
 * 1024, not the username (ignoring case). Throws AUTH_ERR_WEAK_PASSWORD with the
 * broken rule in `reason`.
 */
export function checkPasswordPolicy(password: string, username: string): void {
  const p = normalise(password);
  const length = [...p].length;
  if (length < PASSWORD_MIN_LENGTH) {
    throw new AuthError(AuthErrorCode.WEAK_PASSWORD, `password must be at least ${PASSWORD_MIN_LENGTH} characters`, {
      reason: 'too_short',
    });
  }
  if (length > PASSWORD_MAX_LENGTH) {
    throw new AuthError(AuthErrorCode.WEAK_PASSWORD, `password must be at most ${PASSWORD_MAX_LENGTH} characters`, {
      reason: 'too_long',
    });
  }
  if (p.toLowerCase() === normalise(username).toLowerCase()) {
    throw new AuthError(AuthErrorCode.WEAK_PASSWORD, 'password must not be the username', { reason: 'same_as_username' });
  }
}

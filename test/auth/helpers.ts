import { strict as assert } from 'node:assert';
import { PasswordHasher } from '../../src/auth/passwords.js';
import type { AuthErrorCode } from '../../src/auth/errors.js';
import { AuthError } from '../../src/auth/errors.js';

/**
 * Cheap argon2id parameters for tests (about 1 ms a hash); the production
 * parameters are exercised once in passwords.test.ts.
 */
export const TEST_ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1 } as const;

/** A hasher that counts what it is asked to do. */
export class CountingHasher extends PasswordHasher {
  verifies = 0;
  dummies = 0;
  hashes = 0;
  override async verify(passwordHash: string, password: string): Promise<boolean> {
    this.verifies++;
    return super.verify(passwordHash, password);
  }
  override async dummyVerify(password: string): Promise<void> {
    this.dummies++;
    return super.dummyVerify(password);
  }
  override async hash(password: string): Promise<string> {
    this.hashes++;
    return super.hash(password);
  }
}

/** Asserts that `p` rejects with an AuthError of `code`; returns it for further checks. */
export async function rejectsWithCode(p: Promise<unknown>, code: AuthErrorCode): Promise<AuthError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof AuthError, `expected AuthError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    return e;
  }
  assert.fail(`expected rejection with ${code}`);
}

export function throwsWithCode(f: () => unknown, code: AuthErrorCode): AuthError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof AuthError, `expected AuthError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    return e;
  }
  assert.fail(`expected throw with ${code}`);
}

export const T0 = new Date('2030-06-01T12:00:00.000Z');
export function after(seconds: number, base: Date = T0): Date {
  return new Date(base.getTime() + seconds * 1000);
}

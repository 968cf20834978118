/**
 * How long a failed login takes, by what is wrong, with the production
 * argon2 parameters and the real auth store (SQLite in a temp dir): an
 * unknown name, a wrong password, a wrong password on a locked account,
 * and the right password on a locked account. A guesser must not tell
 * these apart by time (the codes of the first three are the same 401).
 * Rounds interleave the cases so drift in machine load hits all alike;
 * medians and their ratio to the wrong-password case are printed.
 *
 *   node --import tsx bench/login-timing.ts [rounds]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DbAuthStore } from '../src/auth/db-auth-store.js';
import { isAuthError } from '../src/auth/errors.js';
import { login } from '../src/auth/login.js';
import type { LoginOptions } from '../src/auth/login.js';
import { PasswordHasher } from '../src/auth/passwords.js';
import { LoginRateLimiter } from '../src/auth/rate-limit.js';
import { openDatabase } from '../src/db/open-database.js';

const rounds = Number(process.argv[2] ?? 15);
const PASSWORD = 'correct horse battery staple';
const dir = mkdtempSync(join(tmpdir(), 'dcplane-login-bench-'));
const db = await openDatabase('sqlite', dir);
try {
  const store = new DbAuthStore(db);
  const hasher = new PasswordHasher();
  const hash = await hasher.hash(PASSWORD);
  await store.createUser({ username: 'open', password_hash: hash, role: 'viewer', tenant_ids: [] });
  const locked = await store.createUser({ username: 'locked', password_hash: hash, role: 'viewer', tenant_ids: [] });
  const far = new Date(Date.now() + 365 * 86400_000);
  const options: LoginOptions = {
    hasher,
    tokens: { secret: new Uint8Array(32).fill(7) },
    rateLimiter: new LoginRateLimiter({ capacity: 1_000_000, refillPerSecond: 1_000_000, maxKeys: 10 }),
    // The open account must not lock while it is measured.
    lockout: { maxFailedAttempts: 1_000_000, baseLockSeconds: 60, maxLockSeconds: 3600 },
  };
  const cases: Record<string, { username: string; password: string; expect: string }> = {
    'unknown user': { username: 'nobody', password: 'wrong password here', expect: 'AUTH_ERR_INVALID_CREDENTIALS' },
    'wrong password': { username: 'open', password: 'wrong password here', expect: 'AUTH_ERR_INVALID_CREDENTIALS' },
    'locked, wrong password': { username: 'locked', password: 'wrong password here', expect: 'AUTH_ERR_INVALID_CREDENTIALS' },
    'locked, right password': { username: 'locked', password: PASSWORD, expect: 'AUTH_ERR_ACCOUNT_LOCKED' },
  };
  const times = new Map<string, number[]>(Object.keys(cases).map((k) => [k, []]));
  const once = async (name: string): Promise<number> => {
    const c = cases[name]!;
    await store.updateLoginState(locked.id, { failed_logins: 5, locked_until: far, last_login: null });
    const t = process.hrtime.bigint();
    try {
      await login({ username: c.username, password: c.password }, '127.0.0.1', store, new Date(), options);
      throw new Error(`${name}: logged in`);
    } catch (e) {
      if (!isAuthError(e) || e.code !== c.expect) throw e;
    }
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  for (const name of Object.keys(cases)) await once(name); // warm-up: the dummy hash, JIT, page cache
  for (let r = 0; r < rounds; r++) for (const name of Object.keys(cases)) times.get(name)!.push(await once(name));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(times.get('wrong password')!);
  console.log(`login timing, production argon2id (m=${hasher.params.memoryCost} KiB, t=${hasher.params.timeCost}, p=${hasher.params.parallelism}), ${rounds} rounds, SQLite store`);
  for (const [name, xs] of times) {
    console.log(`${name.padEnd(24)} median ${median(xs).toFixed(1).padStart(7)} ms  ratio to wrong password ${(median(xs) / base).toFixed(3)}`);
  }
} finally {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}

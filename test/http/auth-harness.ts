/**
 * The API with real auth (DbAuthStore over the inventory database) on every
 * backend, for tests that act as several users: admins set things up, scoped
 * operators try to reach past their tenants.
 */
import { after, before, describe } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { DbAuthStore } from '../../src/auth/db-auth-store.js';
import { LoginRateLimiter } from '../../src/auth/rate-limit.js';
import type { Role } from '../../src/auth/store.js';
import { buildApi } from '../../src/http/api.js';
import { openInventory } from '../../src/inventory/inventory.js';
import type { Inventory } from '../../src/inventory/inventory.js';
import { testBackends } from '../db/backends.js';
import type { TestDatabase } from '../db/backends.js';
import { FAST_HASHER, baseDeps, call, uniq } from './harness.js';
import type { Res } from './harness.js';

export const PASSWORD = 'correct horse battery staple';

export interface AuthEnv {
  readonly app: FastifyInstance;
  readonly db: TestDatabase;
  readonly inv: Inventory;
  readonly store: DbAuthStore;
  /** Moves the API's clock (lock and token expiry). */
  advance(ms: number): void;
  now(): Date;
  /** A user made directly in the store, with PASSWORD. */
  user(role: Role, tenantIds?: number[]): Promise<{ username: string; id: number }>;
  /** Logs in; asserts it worked. */
  login(username: string, password?: string): Promise<{ access_token: string; refresh_token: string }>;
  /** A request as the holder of `token` (undefined: no bearer). */
  as(token: string | undefined, method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<Res>;
  /** Creates through the API as `token`; asserts 201 and returns the id. */
  make(token: string, url: string, body: Record<string, unknown>): Promise<number>;
}

const backends = await testBackends();

export function describeAuthApi(title: string, body: (env: () => AuthEnv) => void): void {
  for (const backend of backends) {
    describe(`${title} [${backend.name}]`, { skip: backend.skip }, () => {
      let env: AuthEnv | undefined;
      before(async () => {
        const db = await backend.open();
        const store = new DbAuthStore(db);
        const inv = openInventory(db);
        let clock = Date.now();
        const now = () => new Date(clock);
        const app = await buildApi({
          ...baseDeps(),
          inventory: inv,
          auth: {
            store,
            hasher: FAST_HASHER,
            tokens: { secret: randomBytes(64) },
            rateLimiter: new LoginRateLimiter({ capacity: 1000, refillPerSecond: 100, maxKeys: 100 }),
            now,
          },
        });
        await app.ready();
        const as: AuthEnv['as'] = (token, method, url, b, headers = {}) =>
          call(app, method, url, b, token === undefined ? headers : { ...headers, authorization: `Bearer ${token}` });
        env = {
          app,
          db,
          inv,
          store,
          now,
          advance: (ms) => {
            clock += ms;
          },
          async user(role, tenantIds = []) {
            const username = uniq(role);
            const u = await store.createUser({ username, password_hash: await FAST_HASHER.hash(PASSWORD), role, tenant_ids: tenantIds });
            return { username, id: u.id };
          },
          async login(username, password = PASSWORD) {
            const r = await call(app, 'POST', '/api/v1/auth/token', { username, password });
            assert.equal(r.status, 200, r.raw);
            return r.body as { access_token: string; refresh_token: string };
          },
          as,
          async make(token, url, b) {
            const r = await as(token, 'POST', url, b);
            assert.equal(r.status, 201, `${url}: ${r.raw}`);
            return r.body.id as number;
          },
        };
      });
      after(async () => {
        await env?.app.close();
        await env?.db.dispose();
      });
      body(() => {
        if (env === undefined) throw new Error('suite environment not ready');
        return env;
      });
    });
  }
}

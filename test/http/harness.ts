/**
 * The API over a real inventory on every backend (test/db/backends.ts):
 * Fastify's full stack through app.inject, SQLite and PostgreSQL alike.
 */
import { after, before, describe } from 'node:test';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { PasswordHasher } from '../../src/auth/passwords.js';
import { openInventory } from '../../src/inventory/inventory.js';
import type { Inventory } from '../../src/inventory/inventory.js';
import { buildApi } from '../../src/http/api.js';
import type { ApiDeps } from '../../src/http/api.js';
import { testBackends } from '../db/backends.js';
import type { TestDatabase } from '../db/backends.js';

/** Cheap argon2 parameters: the tests exercise the API, not the hash's cost. */
export const FAST_HASHER = new PasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });

export interface ApiEnv {
  readonly app: FastifyInstance;
  readonly inv: Inventory;
  readonly db: TestDatabase;
  readonly backend: 'sqlite' | 'postgres';
}

const backends = await testBackends();

export function baseDeps(): Omit<ApiDeps, 'inventory' | 'auth'> {
  return {
    logger: pino({ level: 'silent' }),
    registry: new Registry(),
    leases: () => undefined,
    services: () => ({ dhcp: 'disabled', tftp: 'disabled' }),
    version: 'test',
    passwordHasher: FAST_HASHER,
  };
}

/** `describe` once per backend with a fresh database and an API over it, auth disabled (route tests). */
export function describeApi(title: string, body: (env: () => ApiEnv) => void, extra: Partial<ApiDeps> = {}): void {
  for (const backend of backends) {
    describe(`${title} [${backend.name}]`, { skip: backend.skip }, () => {
      let env: ApiEnv | undefined;
      before(async () => {
        const db = await backend.open();
        const inv = openInventory(db);
        const app = await buildApi({ ...baseDeps(), inventory: inv, auth: { disabled: true }, ...extra });
        await app.ready();
        env = { app, inv, db, backend: backend.name };
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

export interface Res {
  readonly status: number;
  readonly headers: LightMyRequestResponse['headers'];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
  readonly raw: string;
}

/** One request; a JSON body is sent as JSON unless `payload` is given raw. */
export async function call(app: FastifyInstance, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const opts: InjectOptions = { method: method as InjectOptions['method'], url, headers: { ...headers } };
  if (body !== undefined) {
    opts.payload = typeof body === 'string' ? body : JSON.stringify(body);
    if (opts.headers !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) opts.headers['content-type'] = 'application/json';
  }
  const r = await app.inject(opts);
  let parsed: unknown;
  try {
    parsed = r.body === '' ? undefined : JSON.parse(r.body);
  } catch {
    parsed = undefined;
  }
  return { status: r.statusCode, headers: r.headers, body: parsed, raw: r.body };
}

let seq = 0;
export function uniq(prefix: string): string {
  return `${prefix}-${process.pid}-${++seq}`;
}

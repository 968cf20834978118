/**
 * Runs one behaviour suite on every backend (test/db/backends.ts): the same
 * assertions against SQLite and PostgreSQL, no mocks.
 */
import { after, before, describe } from 'node:test';
import { strict as assert } from 'node:assert';
import { InventoryError } from '../../src/inventory/errors.js';
import type { InventoryErrorCode } from '../../src/inventory/errors.js';
import { openInventory } from '../../src/inventory/inventory.js';
import type { Inventory, InventoryOptions } from '../../src/inventory/inventory.js';
import { testBackends } from '../db/backends.js';
import type { TestDatabase } from '../db/backends.js';

export interface SuiteEnv {
  readonly inv: Inventory;
  readonly db: TestDatabase;
  readonly backend: 'sqlite' | 'postgres';
}

const backends = await testBackends();

/** `describe` once per backend, with a fresh migrated database for the block. */
export function describeEachBackend(title: string, body: (env: () => SuiteEnv) => void, options: InventoryOptions = {}): void {
  for (const backend of backends) {
    describe(`${title} [${backend.name}]`, { skip: backend.skip }, () => {
      let env: SuiteEnv | undefined;
      before(async () => {
        const db = await backend.open();
        env = { db, inv: openInventory(db, options), backend: backend.name };
      });
      after(async () => {
        await env?.db.dispose();
      });
      body(() => {
        if (env === undefined) throw new Error('suite environment not ready');
        return env;
      });
    });
  }
}

/** Asserts `p` rejects with an InventoryError carrying exactly these (code, path) issues, in any order. */
export async function rejectsWith(p: Promise<unknown>, expected: ReadonlyArray<readonly [InventoryErrorCode, string]>): Promise<InventoryError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof InventoryError, `expected an InventoryError, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
  const got = caught.issues.map((i) => `${i.code} @ ${i.path}`).sort();
  const want = expected.map(([c, p2]) => `${c} @ ${p2}`).sort();
  assert.deepEqual(got, want);
  if (new Set(expected.map(([c]) => c)).size === 1) assert.equal(caught.code, expected[0]![0]);
  return caught;
}

let seq = 0;
/** A name no other test in this process uses. */
export function uniq(prefix: string): string {
  return `${prefix}-${process.pid}-${++seq}`;
}

/** A datacenter and a rack to put things in. */
export async function rackFixture(inv: Inventory, rack: Record<string, unknown> = {}): Promise<{ dcId: number; rackId: number }> {
  const dc = await inv.datacenters.create({ name: uniq('DC'), code: uniq('dc').toLowerCase() });
  const r = await inv.racks.create({ datacenter_id: dc.row.id, name: uniq('R'), ...rack });
  return { dcId: dc.row.id, rackId: r.row.id };
}

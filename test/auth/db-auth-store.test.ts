import { strict as assert } from 'node:assert';
import { after, describe, it } from 'node:test';
import { sql } from 'kysely';
import { DbAuthStore } from '../../src/auth/db-auth-store.js';
import { InventoryError, InventoryErrorCode } from '../../src/inventory/errors.js';
import { openInventory } from '../../src/inventory/inventory.js';
import { testBackends } from '../db/backends.js';
import type { TestBackend, TestDatabase } from '../db/backends.js';
import { authStoreContract } from './auth-store-contract.js';

const backends = await testBackends();

/**
 * A fresh migrated database per call. The previous one is disposed first:
 * Kysely's migrator, as migrateToLatest sets it up, takes a migration table
 * in ANY schema for its own, so a second live test schema would skip creating
 * its tables (see the report on migrationTableSchema).
 */
function opener(backend: TestBackend): () => Promise<TestDatabase> {
  let current: TestDatabase | undefined;
  after(async () => {
    await current?.dispose();
  });
  return async () => {
    await current?.dispose();
    current = undefined;
    current = await backend.open();
    return current;
  };
}

const newUser = { username: 'alice', password_hash: '$argon2id$x', role: 'operator' as const, tenant_ids: [] };

for (const backend of backends) {
  describe(`DbAuthStore [${backend.name}]`, { skip: backend.skip }, () => {
    const fresh = opener(backend);
    authStoreContract(backend.name, async () => new DbAuthStore(await fresh()));

    it('gives coded duplicate errors for a username and an API token prefix', async () => {
      const s = new DbAuthStore(await fresh());
      const u = await s.createUser(newUser);
      await assert.rejects(s.createUser(newUser), (e) => e instanceof InventoryError && e.code === InventoryErrorCode.DUPLICATE_NAME);
      const token = { user_id: u.id, description: null, prefix: 'pppppppppp', token_hash: 'a', read_only: false, expires_at: null, created_at: new Date() };
      await s.saveApiToken(token);
      await assert.rejects(s.saveApiToken({ ...token, token_hash: 'b' }), (e) => e instanceof InventoryError && e.code === InventoryErrorCode.DUPLICATE_VALUE);
    });

    it('rows it writes are inventory rows: the users and api_tokens resources read them, secrets redacted in the audit', async () => {
      const db = await fresh();
      const s = new DbAuthStore(db, { now: () => new Date('2030-01-01T00:00:00.000Z') });
      const u = await s.createUser({ ...newUser, tenant_ids: [] });
      await s.setTotp(u.id, 'JBSWY3DPEHPK3PXP', true);
      await s.recordTotpStep(u.id, 5);
      const inv = openInventory(db);
      const row = await inv.users.get(u.id);
      assert.equal(row?.username, 'alice');
      assert.equal(row?.totp_last_step, 5);
      assert.equal(row?.version, 2, 'setTotp is an edit of the account; recordTotpStep is not');
      assert.equal(row?.created_at, '2030-01-01T00:00:00.000Z');
      const t = await s.saveApiToken({ user_id: u.id, description: 'ci', prefix: 'qqqqqqqqqq', token_hash: 'h', read_only: true, expires_at: null, created_at: new Date() });
      assert.equal((await inv.apiTokens.get(t.id))?.revoked_at, null);
      // An edit through the inventory does not lose the auth columns, and the audit hides the secrets.
      await inv.users.update(u.id, { email: 'a@example.com' }, {}, { user: 'admin', userId: null, sourceIp: null, requestId: 'r1' });
      assert.equal((await s.getUserById(u.id))?.totp_secret, 'JBSWY3DPEHPK3PXP');
      const audit = await inv.audit.list({ filters: [{ field: 'request_id', lookup: 'exact', value: 'r1' }] });
      const after0 = audit.rows[0]?.after as Record<string, unknown> | undefined;
      assert.equal(after0?.['totp_secret'], '[redacted]');
      assert.equal(after0?.['password_hash'], '[redacted]');
    });

    it('deleting a user takes its refresh tokens with it', async () => {
      const db = await fresh();
      const s = new DbAuthStore(db);
      const u = await s.createUser(newUser);
      const t0 = new Date();
      await s.saveRefreshToken({ token_hash: 'r1', user_id: u.id, family_id: 'f', created_at: t0, expires_at: t0, used_at: null, revoked_at: null, generation: 0 });
      await openInventory(db).users.delete(u.id, {}, { user: 'admin', userId: null, sourceIp: null, requestId: null });
      assert.equal(await s.findRefreshToken('r1'), undefined);
    });

    it('refuses to read tenant_ids that are not a list of ids rather than treat them as unscoped', async () => {
      const db = await fresh();
      const s = new DbAuthStore(db);
      const u = await s.createUser({ ...newUser, tenant_ids: [1] });
      await sql`update users set tenant_ids = ${db.dialect.encode('json', { all: false })} where id = ${u.id}`.execute(db.db);
      await assert.rejects(s.getUserById(u.id));
    });
  });
}

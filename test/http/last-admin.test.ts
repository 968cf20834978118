/**
 * The last active admin cannot be demoted, disabled or deleted (409
 * INVENTORY_ERR_LAST_ADMIN), by itself or in a bulk write; once another
 * active admin exists the same writes go through. Over HTTP on both backends.
 */
import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import { describeAuthApi } from './auth-harness.js';

describeAuthApi('the last active admin', (env) => {
  it('cannot be demoted, disabled or deleted until another active admin exists', async () => {
    const e = env();
    const first = await e.user('admin');
    const token = (await e.login(first.username)).access_token;
    const url = `/api/v1/users/${first.id}`;
    const refused = async (method: string, u: string, body: unknown, path: string) => {
      const r = await e.as(token, method, u, body);
      assert.equal(r.status, 409, `${method} ${u} ${JSON.stringify(body)}: ${r.raw}`);
      assert.equal(r.body.code, 'INVENTORY_ERR_LAST_ADMIN', r.raw);
      assert.match(r.body.errors[0].path, new RegExp(`(^|\\.)${path}$`), r.raw);
      assert.match(r.body.errors[0].message, /would leave no active admin/);
    };
    await refused('PATCH', url, { role: 'operator' }, 'role');
    await refused('PATCH', url, { is_active: false }, 'is_active');
    await refused('DELETE', url, undefined, 'id');
    await refused('PATCH', '/api/v1/users', [{ id: first.id, role: 'viewer' }], 'role');

    // A disabled admin is no way back in: it does not count.
    const dormant = await e.user('admin');
    assert.equal((await e.as(token, 'PATCH', `/api/v1/users/${dormant.id}`, { is_active: false })).status, 200);
    await refused('PATCH', url, { role: 'viewer' }, 'role');
    const stored = await e.as(token, 'GET', url);
    assert.equal(stored.body.role, 'admin');
    assert.equal(stored.body.is_active, true);

    // Demoting both remaining admins in one bulk write is refused as a whole.
    assert.equal((await e.as(token, 'PATCH', `/api/v1/users/${dormant.id}`, { is_active: true })).status, 200);
    const both = await e.as(token, 'PATCH', '/api/v1/users', [
      { id: first.id, role: 'operator' },
      { id: dormant.id, role: 'operator' },
    ]);
    assert.equal(both.status, 409, both.raw);
    assert.equal(both.body.code, 'INVENTORY_ERR_LAST_ADMIN', both.raw);
    assert.equal((await e.as(token, 'GET', `/api/v1/users/${dormant.id}`)).body.role, 'admin');

    // With a second active admin, the first may step down.
    const down = await e.as(token, 'PATCH', url, { role: 'operator' });
    assert.equal(down.status, 200, down.raw);
    const second = (await e.login(dormant.username)).access_token;
    const last = await e.as(second, 'DELETE', `/api/v1/users/${dormant.id}`);
    assert.equal(last.status, 409, last.raw);
    assert.equal(last.body.code, 'INVENTORY_ERR_LAST_ADMIN');
    assert.equal((await e.as(second, 'DELETE', url)).status, 204);
  });
});

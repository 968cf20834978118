import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { AuthErrorCode } from '../../src/auth/errors.js';
import { authorize, can, canSeeObject, canWriteObject, tenantFilter } from '../../src/auth/rbac.js';
import type { Subject } from '../../src/auth/rbac.js';
import { createApiToken, verifyBearer } from '../../src/auth/tokens.js';
import { MemoryAuthStore } from './memory-auth-store.js';
import { T0, throwsWithCode } from './helpers.js';

const admin: Subject = { role: 'admin', readOnly: false, tenants: [] };
const operator: Subject = { role: 'operator', readOnly: false, tenants: [] };
const viewer: Subject = { role: 'viewer', readOnly: false, tenants: [] };

describe('rbac: can', () => {
  const inventory = ['servers', 'racks', 'datacenters', 'network/devices', 'vms', 'containers', 'storage'];
  const bootData = ['dhcp/subnets', 'dhcp/reservations', 'dhcp/leases', 'tftp/transfers'];

  it('viewers read, never write or administer', () => {
    for (const r of [...inventory, ...bootData, 'tenants', 'incidents']) {
      assert.equal(can(viewer, 'read', r), true, r);
      assert.equal(can(viewer, 'write', r), false, r);
      assert.equal(can(viewer, 'admin', r), false, r);
    }
  });

  it('operators write inventory and DHCP/TFTP data, not users, tenants, audit or settings', () => {
    for (const r of [...inventory, ...bootData, 'incidents', 'maintenance', 'alerts']) {
      assert.equal(can(operator, 'read', r), true, r);
      assert.equal(can(operator, 'write', r), true, r);
      assert.equal(can(operator, 'admin', r), false, r);
    }
    for (const r of ['users', 'tenants', 'audit/logs', 'settings', 'backup']) {
      assert.equal(can(operator, 'write', r), false, r);
    }
    assert.equal(can(operator, 'read', 'tenants'), true);
    assert.equal(can(operator, 'read', 'users'), false);
    assert.equal(can(operator, 'read', 'audit/logs'), false);
  });

  it('a resource nobody listed is closed to writes by non-admins', () => {
    assert.equal(can(operator, 'write', 'plugins/foo'), false);
    assert.equal(can(admin, 'write', 'plugins/foo'), true);
  });

  it('admins do everything', () => {
    for (const r of [...inventory, ...bootData, 'users', 'tenants', 'audit/logs', 'settings']) {
      for (const a of ['read', 'write', 'admin'] as const) assert.equal(can(admin, a, r), true, `${a} ${r}`);
    }
  });

  it('everyone manages their own account; resource names may carry the /api/v1 prefix', () => {
    for (const p of [admin, operator, viewer]) {
      assert.equal(can(p, 'write', 'me/api-tokens'), true);
      assert.equal(can(p, 'read', 'me'), true);
    }
    assert.equal(can(operator, 'write', '/api/v1/servers'), true);
    assert.equal(can(viewer, 'write', '/api/v1/servers/12'), false);
  });

  it('read-only principals never write or administer, whatever the role', () => {
    for (const role of ['admin', 'operator', 'viewer'] as const) {
      const ro: Subject = { role, readOnly: true, tenants: [] };
      assert.equal(can(ro, 'read', 'servers'), true);
      assert.equal(can(ro, 'write', 'servers'), false);
      assert.equal(can(ro, 'write', 'me'), false);
      assert.equal(can(ro, 'admin', 'users'), false);
    }
  });

  it('authorize throws FORBIDDEN, or TOKEN_READ_ONLY when only the token stands in the way', () => {
    authorize(operator, 'write', 'servers');
    assert.equal(throwsWithCode(() => authorize(viewer, 'write', 'servers'), AuthErrorCode.FORBIDDEN).status, 403);
    throwsWithCode(() => authorize(operator, 'admin', 'users'), AuthErrorCode.FORBIDDEN);
    const roOperator: Subject = { ...operator, readOnly: true };
    assert.equal(throwsWithCode(() => authorize(roOperator, 'write', 'servers'), AuthErrorCode.TOKEN_READ_ONLY).status, 403);
    // The role would not allow it either: plain FORBIDDEN.
    throwsWithCode(() => authorize({ ...viewer, readOnly: true }, 'write', 'servers'), AuthErrorCode.FORBIDDEN);
  });

  it('a read-only API token of an admin, through verifyBearer, reads but cannot write', async () => {
    const store = new MemoryAuthStore();
    const user = await store.createUser({ username: 'root', password_hash: 'x', role: 'admin', tenant_ids: [] });
    const ro = await createApiToken(store, user.id, { description: 'monitoring', read_only: true }, T0);
    const rw = await createApiToken(store, user.id, { description: 'automation', read_only: false }, T0);
    const config = { secret: new Uint8Array(32) };
    const pro = await verifyBearer(`Bearer ${ro.token}`, store, config, T0);
    const prw = await verifyBearer(`Bearer ${rw.token}`, store, config, T0);
    assert.equal(can(pro, 'read', 'dhcp/leases'), true);
    assert.equal(can(pro, 'write', 'dhcp/reservations'), false);
    assert.equal(can(pro, 'admin', 'users'), false);
    throwsWithCode(() => authorize(pro, 'write', 'servers'), AuthErrorCode.TOKEN_READ_ONLY);
    assert.equal(can(prw, 'write', 'dhcp/reservations'), true);
    assert.equal(can(prw, 'admin', 'users'), true);
  });
});

describe('rbac: tenant scoping', () => {
  const scoped: Subject = { role: 'operator', readOnly: false, tenants: [3, 8] };

  it('tenantFilter: undefined for admins and users without tenants, the list otherwise', () => {
    assert.equal(tenantFilter(admin), undefined);
    assert.equal(tenantFilter({ ...admin, tenants: [1] }), undefined, 'admins are global');
    assert.equal(tenantFilter(operator), undefined);
    assert.deepEqual(tenantFilter(scoped), [3, 8]);
    assert.deepEqual(tenantFilter({ ...viewer, tenants: [2] }), [2]);
  });

  it('scoped users neither read nor write DHCP and TFTP data, which belongs to every tenant', () => {
    for (const r of ['dhcp/subnets', 'dhcp/reservations', 'dhcp/leases', 'tftp/transfers']) {
      for (const who of [scoped, { ...viewer, tenants: [2] }]) {
        assert.equal(can(who, 'read', r), false, r);
        assert.equal(can(who, 'write', r), false, r);
      }
      assert.equal(can({ ...admin, tenants: [1] }, 'write', r), true, 'admins are global');
      assert.equal(can(operator, 'write', r), true);
    }
    assert.equal(can(scoped, 'write', 'servers'), true);
    const e = throwsWithCode(() => authorize(scoped, 'read', 'dhcp/leases'), AuthErrorCode.FORBIDDEN);
    assert.match(e.message, /scoped to tenants/);
  });

  it('canSeeObject: scoped users see their tenants’ objects only, not tenant-less ones', () => {
    assert.equal(canSeeObject(scoped, 3), true);
    assert.equal(canSeeObject(scoped, 8), true);
    assert.equal(canSeeObject(scoped, 4), false);
    assert.equal(canSeeObject(scoped, null), false);
    assert.equal(canSeeObject(scoped, undefined), false);
    assert.equal(canSeeObject(operator, 4), true);
    assert.equal(canSeeObject(operator, null), true);
    assert.equal(canSeeObject(admin, 4), true);
  });

  it('canWriteObject: a scoped operator cannot touch or move objects across their scope', () => {
    assert.equal(canWriteObject(scoped, 'servers', 3), true);
    assert.equal(canWriteObject(scoped, 'servers', 3, 8), true);
    assert.equal(canWriteObject(scoped, 'servers', 3, 4), false, 'giving it away');
    assert.equal(canWriteObject(scoped, 'servers', 4, 3), false, 'taking it');
    assert.equal(canWriteObject(scoped, 'servers', 4), false);
    assert.equal(canWriteObject({ ...scoped, role: 'viewer' }, 'servers', 3), false);
    assert.equal(canWriteObject(admin, 'servers', 4, 5), true);
  });
});

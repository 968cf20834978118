/**
 * GET /api/v1/meta/resources (src/http/ui-static.ts): the inventory's fields
 * for the web UI's forms and filters, and what the caller's role may read
 * and write, as RBAC decides it.
 */
import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import { describeAuthApi } from './auth-harness.js';

interface FieldMeta {
  name: string;
  kind: string;
  required: boolean;
  enum?: string[];
  ref?: string;
  min?: number;
  max?: number;
}
interface ResourceMeta {
  path: string;
  readable: boolean;
  writable: boolean;
  fields: FieldMeta[];
  write_only: string[];
}

describeAuthApi('resource metadata for the web UI', (env) => {
  const metaAs = async (token: string | undefined) => {
    const r = await env().as(token, 'GET', '/api/v1/meta/resources');
    return { status: r.status, body: r.body as unknown as { resources: ResourceMeta[]; code?: string } };
  };
  const byPath = (rs: ResourceMeta[], path: string): ResourceMeta => {
    const r = rs.find((x) => x.path === path);
    assert.ok(r !== undefined, `no ${path}`);
    return r;
  };

  it('needs a bearer', async () => {
    const r = await metaAs(undefined);
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'AUTH_ERR_TOKEN_MISSING');
  });

  it('describes fields as the API validates them: kinds, required, enums, ranges, references by API path; no secrets', async () => {
    const admin = await env().login((await env().user('admin')).username);
    const { body } = await metaAs(admin.access_token);
    const servers = byPath(body.resources, 'servers');
    const field = (name: string): FieldMeta => {
      const f = servers.fields.find((x) => x.name === name);
      assert.ok(f !== undefined, name);
      return f;
    };
    assert.deepEqual({ kind: field('name').kind, required: field('name').required }, { kind: 'text', required: true });
    assert.equal(field('rack_id').ref, 'racks');
    assert.equal(field('u_size').min, 1);
    assert.ok(field('status').enum?.includes('provisioning'));
    assert.equal(byPath(body.resources, 'network/devices').fields.find((f) => f.name === 'rack_id')?.ref, 'racks');
    const users = byPath(body.resources, 'users');
    assert.ok(!users.fields.some((f) => f.name === 'password_hash' || f.name === 'totp_secret'));
    assert.deepEqual(users.write_only, ['password']);
  });

  it('says what each role may read and write', async () => {
    const cases = [
      ['admin', { servers: [true, true], users: [true, true] }],
      ['operator', { servers: [true, true], users: [false, false] }],
      ['viewer', { servers: [true, false], users: [false, false] }],
    ] as const;
    for (const [role, expect] of cases) {
      const t = await env().login((await env().user(role)).username);
      const { status, body } = await metaAs(t.access_token);
      assert.equal(status, 200, role);
      for (const [path, [readable, writable]] of Object.entries(expect)) {
        const r = byPath(body.resources, path);
        assert.deepEqual([r.readable, r.writable], [readable, writable], `${role} ${path}`);
      }
    }
  });
});

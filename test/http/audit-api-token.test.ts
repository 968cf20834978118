/**
 * A write made with an API token names the token in its audit entry (id and
 * public prefix, never the secret), and /api/v1/audit/logs filters on it;
 * the entry keeps naming the token after it is revoked. On both backends.
 */
import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import { uniq } from './harness.js';
import { describeAuthApi } from './auth-harness.js';

describeAuthApi('audit entries name the API token of a write', (env) => {
  it('records the token’s id and prefix, filters on them, and never shows the secret', async () => {
    const e = env();
    const admin = (await e.login((await e.user('admin')).username)).access_token;
    const operator = await e.user('operator');
    const session = (await e.login(operator.username)).access_token;
    const minted = await e.as(session, 'POST', '/api/v1/auth/api-tokens', { description: 'rack script', read_only: false });
    assert.equal(minted.status, 201, minted.raw);
    const { id: tokenId, prefix, token } = minted.body as { id: number; prefix: string; token: string };
    const secret = token.split('_')[2]!;

    const byToken = await e.make(token, '/api/v1/servers', { name: uniq('by-token') });
    const bySession = await e.make(session, '/api/v1/servers', { name: uniq('by-session') });

    const entryOf = async (objectId: number) => {
      const r = await e.as(admin, 'GET', `/api/v1/audit/logs?object_type=server&object_id=${objectId}`);
      assert.equal(r.status, 200, r.raw);
      assert.equal(r.body.count, 1, r.raw);
      return r.body.results[0] as Record<string, unknown>;
    };
    const viaToken = await entryOf(byToken);
    assert.equal(viaToken['api_token_id'], tokenId);
    assert.equal(viaToken['api_token_prefix'], prefix);
    assert.equal(viaToken['user'], operator.username);
    const viaSession = await entryOf(bySession);
    assert.equal(viaSession['api_token_id'], null);
    assert.equal(viaSession['api_token_prefix'], null);

    const filtered = await e.as(admin, 'GET', `/api/v1/audit/logs?api_token_id=${tokenId}`);
    assert.equal(filtered.status, 200, filtered.raw);
    assert.deepEqual(
      filtered.body.results.map((x: { object_id: number }) => x.object_id),
      [byToken],
    );
    const byPrefix = await e.as(admin, 'GET', `/api/v1/audit/logs?api_token_prefix=${prefix}`);
    assert.deepEqual(
      byPrefix.body.results.map((x: { object_id: number }) => x.object_id),
      [byToken],
    );
    const sessions = await e.as(admin, 'GET', `/api/v1/audit/logs?object_type=server&api_token_id__isnull=true&user=${operator.username}`);
    assert.deepEqual(
      sessions.body.results.map((x: { object_id: number }) => x.object_id),
      [bySession],
    );
    const one = await e.as(admin, 'GET', `/api/v1/audit/logs/${viaToken['id']}`);
    assert.equal(one.body.api_token_prefix, prefix);
    for (const r of [filtered, byPrefix, one]) assert.ok(!r.raw.includes(secret), 'the token secret is never shown');

    // Revoked (deleted), the token is still named by the entries it made.
    assert.equal((await e.as(session, 'DELETE', `/api/v1/auth/api-tokens/${tokenId}`)).status, 204);
    assert.equal((await entryOf(byToken))['api_token_prefix'], prefix);
  });
});

/**
 * The whole process: `Dcplane.start` opens the inventory database in the
 * data directory, creates the first admin (generated password in a 0600
 * file, or DCPLANE_ADMIN_PASSWORD), and serves the authenticated API on a
 * real socket.
 */
import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Dcplane } from '../../src/app.js';
import { applyDefaults } from '../../src/config/defaults.js';
import { freeTcpPort } from '../helpers/app-fixtures.js';

async function json(url: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url, init);
  const text = await r.text();
  return { status: r.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

describe('dcplane serves the authenticated inventory API', () => {
  let dir: string;
  const saved = process.env['DCPLANE_ADMIN_PASSWORD'];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dcplane-app-'));
    delete process.env['DCPLANE_ADMIN_PASSWORD'];
  });
  after(() => {
    if (saved === undefined) delete process.env['DCPLANE_ADMIN_PASSWORD'];
    else process.env['DCPLANE_ADMIN_PASSWORD'] = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the first admin once with a generated password in a 0600 file; that admin logs in and writes', async () => {
    const port = await freeTcpPort();
    const config = applyDefaults({ data_dir: join(dir, 'gen'), api: { listen: `127.0.0.1:${port}` } });
    const base = `http://127.0.0.1:${port}`;
    let app = await Dcplane.start(config, pino({ level: 'silent' }));
    let password: string;
    try {
      const file = join(dir, 'gen', 'initial-admin-password');
      assert.ok(existsSync(file));
      assert.equal(statSync(file).mode & 0o777, 0o600);
      password = readFileSync(file, 'utf8').trim();
      assert.ok(password.length >= 32);
      assert.ok(existsSync(join(dir, 'gen', 'inventory.sqlite3')), 'the inventory lives in the data directory');

      assert.equal((await json(`${base}/api/v1/datacenters`)).status, 401);
      const token = await json(`${base}/api/v1/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password }),
      });
      assert.equal(token.status, 200, JSON.stringify(token.body));
      const auth = { authorization: `Bearer ${String(token.body['access_token'])}`, 'content-type': 'application/json' };
      const dc = await json(`${base}/api/v1/datacenters`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'Paris 1', code: 'par1' }) });
      assert.equal(dc.status, 201, JSON.stringify(dc.body));
      const logs = await json(`${base}/api/v1/audit/logs?object_type=datacenter`, { headers: auth });
      assert.equal((logs.body['results'] as Array<Record<string, unknown>>)[0]?.['user'], 'admin');
    } finally {
      await app.stop();
    }
    // A restart keeps the admin and its password, and the data.
    app = await Dcplane.start(config, pino({ level: 'silent' }));
    try {
      assert.equal(readFileSync(join(dir, 'gen', 'initial-admin-password'), 'utf8').trim(), password);
      const token = await json(`${base}/api/v1/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `username=admin&password=${encodeURIComponent(password)}`,
      });
      assert.equal(token.status, 200);
      const list = await json(`${base}/api/v1/datacenters?code=par1`, { headers: { authorization: `Bearer ${String(token.body['access_token'])}` } });
      assert.equal(list.body['count'], 1);
    } finally {
      await app.stop();
    }
  });

  it('takes the first admin password from DCPLANE_ADMIN_PASSWORD and writes no file', async () => {
    const port = await freeTcpPort();
    process.env['DCPLANE_ADMIN_PASSWORD'] = 'an operator chosen passphrase';
    try {
      const app = await Dcplane.start(applyDefaults({ data_dir: join(dir, 'env'), api: { listen: `127.0.0.1:${port}` } }), pino({ level: 'silent' }));
      try {
        assert.equal(existsSync(join(dir, 'env', 'initial-admin-password')), false);
        const token = await json(`http://127.0.0.1:${port}/api/v1/auth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'admin', password: 'an operator chosen passphrase' }),
        });
        assert.equal(token.status, 200);
      } finally {
        await app.stop();
      }
    } finally {
      delete process.env['DCPLANE_ADMIN_PASSWORD'];
    }
  });
});

/**
 * `dcplane import servers FILE` as users run it (bin/dcplane when compiled,
 * src/cli/main.ts through tsx from source) against a running dcplane
 * (Dcplane.start on a temp data dir, first admin from DCPLANE_ADMIN_PASSWORD).
 */
import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Dcplane } from '../../src/app.js';
import { applyDefaults } from '../../src/config/defaults.js';
import { freeTcpPort } from '../helpers/app-fixtures.js';
import { dcplaneNodeArgs } from '../helpers/cli.js';

const ADMIN_PASSWORD = 'import-cli admin password 42';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in a child process (never blocking this one, which serves the API it talks to). */
function dcplane(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const nodeArgs = dcplaneNodeArgs(args);
  const childEnv = { ...process.env, ...env };
  delete childEnv['DCPLANE_TOKEN'];
  if (env['DCPLANE_TOKEN'] !== undefined) childEnv['DCPLANE_TOKEN'] = env['DCPLANE_TOKEN'];
  const child = spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('dcplane import servers', () => {
  let dir: string;
  let app: Dcplane;
  let base: string;
  let token: string;
  const saved = process.env['DCPLANE_ADMIN_PASSWORD'];

  async function api(path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${base}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${token}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  const serverCount = async (prefix: string): Promise<number> => (await api(`/api/v1/servers?name__isw=${prefix}&limit=1`)).body['count'] as number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dcplane-import-cli-'));
    process.env['DCPLANE_ADMIN_PASSWORD'] = ADMIN_PASSWORD;
    const port = await freeTcpPort();
    app = await Dcplane.start(applyDefaults({ data_dir: join(dir, 'data'), api: { listen: `127.0.0.1:${port}` } }), pino({ level: 'silent' }));
    base = `http://127.0.0.1:${port}`;
    const tok = await fetch(`${base}/api/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) });
    token = ((await tok.json()) as { access_token: string }).access_token;
    const dc = await api('/api/v1/datacenters', { method: 'POST', body: { name: 'DC-CLI', code: 'dc-cli' } });
    assert.equal(dc.status, 201);
    for (let i = 0; i < 80; i++) {
      const r = await api('/api/v1/racks', { method: 'POST', body: { datacenter_id: dc.body['id'], name: `R${String(i).padStart(2, '0')}`, u_height: 42 } });
      assert.equal(r.status, 201);
    }
  });

  after(async () => {
    await app?.stop();
    if (saved === undefined) delete process.env['DCPLANE_ADMIN_PASSWORD'];
    else process.env['DCPLANE_ADMIN_PASSWORD'] = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('--help explains the columns, exit codes and gives examples', async () => {
    const r = await dcplane(['import', 'servers', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Examples:/);
    assert.match(r.stdout, /--dry-run/);
    assert.match(r.stdout, /Exit status/);
  });

  it('says how to fix an unreachable server, a refused token and an unknown format', async () => {
    const file = join(dir, 'one.csv');
    writeFileSync(file, 'name\nx\n');
    const closed = await freeTcpPort();
    const down = await dcplane(['import', 'servers', file, '--url', `http://127.0.0.1:${closed}`, '--token', 'x']);
    assert.equal(down.code, 2);
    assert.match(down.stderr, /cannot reach dcplane at http:\/\/127\.0\.0\.1:\d+ .*--url/);
    const bad = await dcplane(['import', 'servers', file, '--url', base], { DCPLANE_TOKEN: 'not-a-token' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /refused the token \(AUTH_ERR_TOKEN_INVALID/);
    const wrongPw = await dcplane(['import', 'servers', file, '--url', base, '-u', 'admin', '-p', 'wrong password entirely']);
    assert.equal(wrongPw.code, 2);
    assert.match(wrongPw.stderr, /refused the login .*--password/);
    const none = await dcplane(['import', 'servers', file, '--url', base]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no credentials: pass --token/);
    const odd = await dcplane(['import', 'servers', join(dir, 'servers.txt'), '--url', base, '--token', token]);
    assert.equal(odd.code, 2);
    assert.match(odd.stderr, /pass --format csv, json or ndjson/);
  });

  it('a bad file: every bad row in a table, exit 1, nothing written', async () => {
    const lines = ['name,serial,rack,u_position,status,mac'];
    for (let i = 0; i < 60; i++) lines.push(`bad-${i},BAD-${i},R01,${i < 40 ? i + 1 : ''},active,`);
    // lines[k] is row k, on line k + 1 of the file.
    lines[6] = 'bad-5,BAD-5,R99,6,active,'; // no such rack
    lines[11] = 'bad-10,BAD-3,R01,11,active,'; // serial of row 4
    lines[21] = 'bad-20,BAD-20,R01,21,broken,'; // bad status
    lines[31] = 'bad-30,BAD-30,R01,31,active,zz:zz'; // bad MAC
    lines[51] = 'bad-50,BAD-50,R01,43,active,'; // past the top of a 42U rack
    const file = join(dir, 'bad.csv');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const r = await dcplane(['import', 'servers', file, '--url', base, '--token', token]);
    assert.equal(r.code, 1, r.stderr);
    const table = r.stderr.split('\n').filter((l) => /^\d+\s+\d+\s/.test(l));
    assert.deepEqual(
      table.map((l) => l.split(/\s+/).slice(0, 4).join(' ')),
      ['6 7 rack REFERENCE_NOT_FOUND', '11 12 serial DUPLICATE_SERIAL', '21 22 status INVALID_VALUE', '31 32 mac INVALID_VALUE', '51 52 u_position U_OUT_OF_RANGE'],
    );
    assert.match(r.stderr, /5 bad row\(s\) of 60; nothing was written/);
    assert.equal(await serverCount('bad-'), 0);
  });

  it('a good file of some thousands of rows: progress, then imported; --dry-run first writes nothing', async () => {
    const lines = ['name,serial_number,rack,u_position,status,mac,ip'];
    for (let i = 0; i < 3000; i++) {
      const rack = Math.floor(i / 40);
      const mac = `52:54:01:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
      lines.push(`good-${i},GOOD-${i},R${String(rack).padStart(2, '0')},${1 + (i % 40)},planned,${mac},10.${60 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`);
    }
    const file = join(dir, 'good.csv');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const dry = await dcplane(['import', 'servers', file, '--url', base, '--token', token, '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    const report = JSON.parse(dry.stdout) as Record<string, unknown>;
    assert.deepEqual([report['ok'], report['dry_run'], report['total'], report['created']], [true, true, 3000, 0]);
    assert.equal(await serverCount('good-'), 0);

    const r = await dcplane(['import', 'servers', file, '--url', base, '-u', 'admin'], { DCPLANE_PASSWORD: ADMIN_PASSWORD });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /imported 3000 server\(s\) and 3000 interface\(s\) from .*good\.csv/);
    assert.match(r.stderr, /^import: 3000\/3000 rows$/m, 'plain progress lines when stderr is not a terminal');
    assert.equal(await serverCount('good-'), 3000);
    const nic = await api('/api/v1/server-interfaces?mac=52:54:01:00:0b:b7');
    assert.equal((nic.body['results'] as { ip: string }[])[0]?.ip, '10.60.11.183');
  });
});

/**
 * `dcplane leases list` says where it looked when it finds no leases: the
 * SQLite file of the data directory, or the PostgreSQL lease table (its URL
 * with the password masked), never the data directory for PostgreSQL.
 */
import { after, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PG_URL, testBackends } from '../db/backends.js';
import { dcplaneNodeArgs } from '../helpers/cli.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'dcplane-leases-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function leasesList(config: Record<string, unknown>): Promise<string> {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(config));
  const { stdout } = await run(process.execPath, dcplaneNodeArgs(['leases', 'list', '-c', file]));
  return stdout;
}

it('names the SQLite lease file of the data directory', async () => {
  const out = await leasesList({ data_dir: dir });
  assert.equal(out, `no leases in ${join(dir, 'leases.sqlite3')}\n`);
});

const pg = (await testBackends()).find((b) => b.name === 'postgres');
it('names the PostgreSQL lease table, password masked, not the data directory', { skip: pg?.skip }, async () => {
  const url = new URL(PG_URL);
  url.password = 'not-shown-anywhere';
  // A schema nobody created: a read-only store there is empty, whatever other tests left in the database.
  url.searchParams.set('options', `-c search_path=dcplane_leases_cli_${process.pid}`);
  const out = await leasesList({ data_dir: dir, database: url.toString() });
  assert.match(out, /^no leases in table dhcp_leases of PostgreSQL postgres:\/\/[^:]+:\*\*\*@/);
  assert.ok(!out.includes('not-shown-anywhere'), out);
  assert.ok(!out.includes(dir), out);
});

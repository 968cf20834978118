/**
 * What only the PostgreSQL backend does (the shared behaviour is in
 * lease-store-contract.test.ts): one writer per lease table, death when the
 * writer session is lost, openLeaseStore for postgres:// URLs, and DHCP
 * over PostgreSQL: an ACK only after the commit, leases listed by the API
 * and `dcplane leases list`, and the DHCP fatal path when the writer session
 * is ended.
 */
import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { DhcpConfig } from '../../../src/config/types.js';
import { decodePacket, encodePacket } from '../../../src/dhcp/codec.js';
import { MessageType as T } from '../../../src/dhcp/constants.js';
import type { Lease, LeaseStore } from '../../../src/dhcp/lease.js';
import { openLeaseStore } from '../../../src/dhcp/lease-store/open-lease-store.js';
import { PostgresLeaseStore } from '../../../src/dhcp/lease-store/postgres-lease-store.js';
import type { DhcpPacket } from '../../../src/dhcp/packet.js';
import { DhcpServer, onDhcpFatal } from '../../../src/dhcp/server.js';
import { buildApi } from '../../../src/http/api.js';
import { formatIpv4 } from '../../../src/net/ipv4.js';
import { PG_URL } from '../../db/backends.js';
import { jsonLogSink } from '../../helpers/app-fixtures.js';
import { ipBytes, request } from '../../helpers/memory-lease-view.js';
import { disposeAll, leaseStoreBackends } from './lease-store-backends.js';

const pgSkip = (await leaseStoreBackends()).find((b) => b.name === 'postgres')?.skip;
const here = dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');
const repoRoot = resolve(here, fromSource ? '../../..' : '../../../..');

const schemas: string[] = [];
let counter = 0;
function freshSchema(): string {
  const s = `dcplane_pgleases_${process.pid}_${++counter}`;
  schemas.push(s);
  return s;
}
async function sql<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end();
  }
}
/** A URL whose sessions use `schema` (as an operator would point dcplane at one). */
const urlFor = (schema: string): string => `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;

after(async () => {
  await disposeAll();
  for (const s of schemas) await sql(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => undefined);
});

function lease(ip: number, version = 1): Lease {
  return { ip, subnetId: 1, mac: '52:54:00:00:00:01', clientId: '', hostname: 'h', state: 'active', start: 1_700_000_000, expires: 1_700_003_600, version };
}

async function waitForFailure(store: LeaseStore): Promise<void> {
  while (store.failure === undefined) await delay(5);
}

describe('PostgresLeaseStore', { skip: pgSkip }, () => {
  it('takes one writer per lease table: a second is refused with LEASE_ERR_IN_USE, readers are not, and the lock ends with the session', async () => {
    const schema = freshSchema();
    const first = await PostgresLeaseStore.open({ url: PG_URL, schema });
    await first.apply([{ kind: 'upsert', lease: lease(1), durable: true }]);
    await assert.rejects(PostgresLeaseStore.open({ url: PG_URL, schema, ownerWaitMs: 50 }), { code: 'LEASE_ERR_IN_USE' });
    // Another schema is another table: no conflict.
    const elsewhere = await PostgresLeaseStore.open({ url: PG_URL, schema: freshSchema() });
    await elsewhere.close();
    const reader = await PostgresLeaseStore.open({ url: PG_URL, schema, readOnly: true });
    assert.equal(reader.byIp(1)?.version, 1);
    await reader.close();
    await first.close();
    const second = await PostgresLeaseStore.open({ url: PG_URL, schema, ownerWaitMs: 50 });
    assert.equal(second.byIp(1)?.version, 1);
    await second.close();
  });

  it('dies when its idle writer session is ended, refuses writes, and lets a new writer take the table', { timeout: 60_000 }, async () => {
    const schema = freshSchema();
    const s = await PostgresLeaseStore.open({ url: PG_URL, schema });
    await s.apply([{ kind: 'upsert', lease: lease(1), durable: true }]);
    await sql('SELECT pg_terminate_backend($1)', [s.writerPidForTests()]);
    await waitForFailure(s);
    assert.equal((s.failure as { code?: string }).code, 'LEASE_ERR_WRITER_DIED');
    await assert.rejects(s.apply([{ kind: 'upsert', lease: lease(2), durable: true }]), { code: 'LEASE_ERR_WRITER_DIED' });
    assert.equal(s.byIp(2), undefined);
    // No reconnect behind the caller's back: the owner lock went with the session, a restart takes it.
    const next = await PostgresLeaseStore.open({ url: PG_URL, schema, ownerWaitMs: 5000 });
    assert.deepEqual(next.all().map((l) => l.ip), [1]);
    await next.close();
    await s.close();
  });

  it('commits with synchronous_commit on, whatever the URL, role or database ask for', async () => {
    const schema = freshSchema();
    const url = `${PG_URL}?options=${encodeURIComponent('-c synchronous_commit=off')}`;
    const s = await PostgresLeaseStore.open({ url, schema });
    try {
      assert.equal(await s.writerSettingForTests('synchronous_commit'), 'on');
    } finally {
      await s.close();
    }
  });

  it('lets exactly one of two processes opening a fresh database at once create the tables and write', async () => {
    const schema = freshSchema();
    const results = await Promise.allSettled([0, 1, 2].map(() => PostgresLeaseStore.open({ url: PG_URL, schema, ownerWaitMs: 50 })));
    const opened = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r.reason as { code?: string }).code);
    assert.equal(opened.length, 1);
    assert.deepEqual(refused, ['LEASE_ERR_IN_USE', 'LEASE_ERR_IN_USE']);
    for (const r of opened) await r.value.close();
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await assert.rejects(PostgresLeaseStore.open({ url: PG_URL, schema: 'x"; drop table y; --' }), { code: 'LEASE_ERR_OPEN_FAILED' });
  });

  it('is what openLeaseStore opens for a postgres:// URL, in the schema the URL names', async () => {
    const schema = freshSchema();
    await sql(`CREATE SCHEMA "${schema}"`);
    const s = await openLeaseStore({ dataDir: '/nonexistent-dcplane-dir', database: urlFor(schema) });
    assert.ok(s instanceof PostgresLeaseStore);
    await s.apply([{ kind: 'upsert', lease: lease(42), durable: true }]);
    await s.close();
    const rows = await sql<{ ip: string }>(`SELECT ip FROM "${schema}".dhcp_leases`);
    assert.deepEqual(rows.map((r) => Number(r.ip)), [42]);
    await assert.rejects(openLeaseStore({ dataDir: '', database: 'postgres://nobody:secret@127.0.0.1:1/none' }), (e: unknown) => {
      const err = e as { code?: string; message: string };
      assert.equal(err.code, 'LEASE_ERR_OPEN_FAILED');
      assert.ok(!err.message.includes('secret'), err.message);
      return true;
    });
  });
});

/** A free UDP port (bound and released). */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port } = s.address();
  s.close();
  return port;
}

/** The test is a relay at 127.0.0.2:67 (giaddr 127.0.0.2), so replies come back to it; 127.0.0.1:67 is server.test.ts's. */
class Relay {
  private readonly waiting: ((p: DhcpPacket) => void)[] = [];
  private constructor(
    readonly sock: Socket,
    private readonly serverPort: number,
  ) {
    sock.on('message', (m) => this.waiting.shift()?.(decodePacket(m)));
  }

  static async open(serverPort: number): Promise<Relay> {
    const sock = createSocket('udp4');
    await new Promise<void>((res, rej) => {
      sock.once('error', rej);
      sock.bind(67, '127.0.0.2', () => res());
    });
    return new Relay(sock, serverPort);
  }

  async exchange(p: DhcpPacket, ms = 2000): Promise<DhcpPacket | undefined> {
    const reply = new Promise<DhcpPacket | undefined>((res) => {
      const done = (r: DhcpPacket): void => {
        clearTimeout(timer);
        res(r);
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(done), 1);
        res(undefined);
      }, ms);
      this.waiting.push(done);
    });
    this.sock.send(encodePacket(p, { maxSize: 1500 }), this.serverPort, '127.0.0.1');
    return reply;
  }
}

/** `dcplane …` as a separate process (from source under tsx, or the built bin). */
function cli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const argv = fromSource
    ? [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `const { main } = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'src/cli/main.ts')).href)}); process.exitCode = await main(process.argv);`,
        'dcplane',
        ...args,
      ]
    : [join(repoRoot, 'bin/dcplane'), ...args];
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, argv, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', rej);
    child.on('exit', (code) => res({ code, stdout, stderr }));
  });
}

const rootSkip = process.getuid?.() !== 0 ? 'needs root (the DHCP transport binds to a device)' : false;

describe('DHCP over the PostgreSQL lease store', { skip: pgSkip ?? rootSkip }, () => {
  let dir: string;
  let store: PostgresLeaseStore | undefined;
  let server: DhcpServer | undefined;
  let api: FastifyInstance | undefined;
  let relay: Relay | undefined;
  const fatal: Error[] = [];
  const unsubscribe = onDhcpFatal((e) => fatal.push(e));
  const savedExitCode = process.exitCode;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dcplane-pg-dhcp-'));
  });
  after(async () => {
    unsubscribe();
    relay?.sock.close();
    await api?.close();
    await server?.stop();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
    process.exitCode = savedExitCode;
  });

  it('acknowledges a lease only once PostgreSQL has it, lists it in the API and the CLI, and stops DHCP (health 503) when the writer session is lost', { timeout: 120_000 }, async () => {
    const schema = freshSchema();
    await sql(`CREATE SCHEMA "${schema}"`);
    const database = urlFor(schema);
    const dhcpPort = await freeUdpPort();
    const config: DhcpConfig = {
      enabled: true,
      interfaces: ['lo'],
      port: dhcpPort,
      subnets: [{ id: 1, subnet: '10.77.0.0/24', relay_addresses: ['127.0.0.2'], pools: ['10.77.0.10-10.77.0.20'] }],
    };
    const { logs, sink } = jsonLogSink();
    const registry = new Registry();
    // As Dcplane opens it for `"database": "postgres://…"`.
    const opened = await openLeaseStore({ dataDir: dir, database });
    assert.ok(opened instanceof PostgresLeaseStore);
    store = opened;
    const dhcp = await DhcpServer.start({ config, store: opened, logger: pino({ level: 'info' }, sink), registry });
    server = dhcp;
    api = await buildApi({
      logger: pino({ level: 'silent' }),
      registry,
      leases: () => opened,
      services: () => ({ dhcp: dhcp.failed !== undefined ? 'failed' : 'running' }),
      version: 'test',
    });
    relay = await Relay.open(dhcpPort);

    const mac = '52:54:00:77:00:31';
    const offer = await relay.exchange(request(T.DISCOVER, { mac, xid: 31, giaddr: '127.0.0.2' }));
    assert.ok(offer?.options.get(53)?.[0] === T.OFFER, `no OFFER: ${JSON.stringify(logs.filter((l) => Number(l['level']) >= 40))}`);
    const ip = formatIpv4(offer.yiaddr);
    const ack = await relay.exchange(request(T.REQUEST, { mac, xid: 32, giaddr: '127.0.0.2', options: { 50: ipBytes(ip), 54: offer.options.get(54) ?? [] } }));
    assert.equal(ack?.options.get(53)?.[0], T.ACK);
    // The ACK came back, so the row is committed: read it through a session of its own.
    const stored = await sql<{ ip: string; state: string; mac: string }>(`SELECT ip, state, mac FROM "${schema}".dhcp_leases`);
    assert.deepEqual(stored.map((r) => [formatIpv4(Number(r.ip)), r.state, r.mac]), [[ip, 'active', mac]]);

    const listRes = await api.inject({ method: 'GET', url: '/api/v1/dhcp/leases?state=active' });
    assert.equal(listRes.statusCode, 200);
    const list = listRes.json<{ count: number; results: { ip: string; mac: string; state: string }[] }>();
    assert.equal(list.count, 1);
    assert.deepEqual([list.results[0]?.ip, list.results[0]?.mac, list.results[0]?.state], [ip, mac, 'active']);

    // The CLI, a separate process reading PostgreSQL beside the running server, found through the configuration.
    const configFile = join(dir, 'dcplane.json');
    writeFileSync(configFile, JSON.stringify({ data_dir: join(dir, 'data'), database }));
    const out = await cli(['leases', 'list', '--config', configFile, '--json']);
    assert.equal(out.code, 0, out.stderr);
    const cliRows = JSON.parse(out.stdout) as { ip: string; mac: string; state: string }[];
    assert.deepEqual(cliRows.map((r) => [r.ip, r.mac, r.state]), [[ip, mac, 'active']]);

    // The writer session ends (a PostgreSQL restart, an administrator, a lost network): DHCP must stop, not reconnect.
    await sql('SELECT pg_terminate_backend($1)', [opened.writerPidForTests()]);
    let n = 0x40;
    while (fatal.length === 0) {
      // The next packet finds the store dead; until the store has seen the session end, it may still be answered.
      await relay.exchange(request(T.DISCOVER, { mac: `52:54:00:77:00:${(n++).toString(16)}`, xid: n, giaddr: '127.0.0.2' }), 200);
    }
    assert.equal((fatal[0] as { code?: string }).code, 'LEASE_ERR_WRITER_DIED');
    assert.ok(dhcp.failed !== undefined);
    assert.equal(await relay.exchange(request(T.DISCOVER, { mac: '52:54:00:77:00:ff', xid: 255, giaddr: '127.0.0.2' }), 500), undefined, 'no reply once failed');
    const health = await api.inject({ method: 'GET', url: '/api/v1/health' });
    assert.equal(health.statusCode, 503);
    assert.match(await registry.metrics(), /dcplane_dhcp_lease_store_up 0/);
    assert.ok(logs.some((l) => l['level'] === 60), 'logged at fatal');
  });
});

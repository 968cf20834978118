/**
 * The inventory drives DHCP, end to end: the real app (Dcplane.start) serves
 * DHCP on a namespace's interface; a server created through the HTTP API
 * with a primary interface (MAC + IP) is at once a reservation, and udhcpc
 * with that MAC gets that address and the server's name; a PATCH of the IP
 * moves it, and deleting the server gives that MAC a pool address again.
 */
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { runUdhcpc } from '../helpers/dhcp-clients.js';
import { tempDataDir } from '../helpers/e2e-fixtures.js';
import { createTopology, netnsSkipReason, nodeArgsFor, randomMac } from '../helpers/netns.js';
import type { Topology } from '../helpers/netns.js';

const NET = '10.91.7';
/** Run from source (tsx) or compiled (dist/), like the other helpers spawned in namespaces. */
const APP_URL = new URL(`../helpers/app-in-netns.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

interface Reply {
  readonly id?: number;
  readonly status?: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body?: any;
  readonly error?: string;
  readonly ready?: boolean;
}

/** The app process in the server namespace, spoken to over IPC (test/helpers/app-in-netns.ts). */
class AppInNetns {
  private seq = 0;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private stderr = '';
  readonly ready: Promise<void>;

  constructor(private readonly child: ChildProcess) {
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.ready = new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`app exited (${code}) before it was ready:\n${this.stderr}`)));
      child.on('message', (raw) => {
        const m = raw as Reply;
        if (m.ready === true) resolve();
        if (m.id !== undefined) this.waiting.get(m.id)?.(m);
      });
    });
  }

  private ask(message: Record<string, unknown>): Promise<Reply> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (r) => {
        this.waiting.delete(id);
        if (r.error !== undefined) reject(new Error(r.error));
        else resolve(r);
      });
      this.child.send({ ...message, id });
    });
  }

  /** A request to the real API; asserts the expected status. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async http(method: string, path: string, body: unknown, status: number): Promise<any> {
    const r = await this.ask({ kind: 'http', method, path, body });
    assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}\n${this.stderr}`);
    return r.body;
  }

  /** Every committed inventory change has reached the DHCP engine (the app says so; nothing is timed). */
  async settled(): Promise<void> {
    await this.ask({ kind: 'settled' });
  }

  /** Dcplane.reload with this configuration (what SIGHUP does after reading the file). */
  async reload(config: object): Promise<void> {
    await this.ask({ kind: 'reload', body: config });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ kind: 'stop' });
    await exited;
  }
}

describe('the inventory drives DHCP (Dcplane.start in a namespace, udhcpc)', { skip: netnsSkipReason() }, () => {
  let topo: Topology;
  let app: AppInNetns;
  let config: { readonly dhcp: { readonly subnets: ReadonlyArray<Record<string, unknown>> } & Record<string, unknown> } & Record<string, unknown>;
  const data = tempDataDir();

  before(async () => {
    topo = await createTopology({
      namespaces: ['srv', 'cli'],
      links: [{ name: 'lan', a: { ns: 'srv', name: 'eth1', cidr: `${NET}.1/24` }, b: { ns: 'cli', name: 'eth1' } }],
    });
    config = {
      data_dir: data.dir,
      // The namespace is this test's own, so its loopback port is free.
      api: { listen: '127.0.0.1:18080' },
      dhcp: {
        enabled: true,
        interfaces: ['eth1'],
        subnets: [{ id: 1, subnet: `${NET}.0/24`, pools: [`${NET}.100-${NET}.199`], routers: [`${NET}.1`] }],
      },
    };
    const child = topo.spawn('srv', process.execPath, [...nodeArgsFor(APP_URL), JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, DCPLANE_ADMIN_PASSWORD: randomBytes(18).toString('base64url') },
    });
    app = new AppInNetns(child);
    await app.ready;
  });

  after(async () => {
    await app?.stop();
    await topo?.destroy();
    data.remove();
  });

  test('a server saved through the API is served its address and name; a PATCH moves it; a delete frees the MAC', async () => {
    // The file's subnet was seeded into the inventory at start.
    const subnets = await app.http('GET', '/api/v1/dhcp/subnets', undefined, 200);
    assert.deepEqual(subnets.results.map((s: { id: number; subnet: string }) => [s.id, s.subnet]), [[1, `${NET}.0/24`]]);

    const dc = await app.http('POST', '/api/v1/datacenters', { name: 'DC e2e', code: 'dc-e2e' }, 201);
    const rack = await app.http('POST', '/api/v1/racks', { datacenter_id: dc.id, name: 'R1' }, 201);
    const server = await app.http('POST', '/api/v1/servers', { name: 'node-a1', rack_id: rack.id, u_position: 1 }, 201);
    const mac = randomMac();
    const nic = await app.http('POST', '/api/v1/server-interfaces', { server_id: server.id, name: 'eth0', mac, ip: `${NET}.20`, is_primary: true }, 201);
    await app.settled();

    let r = await runUdhcpc(topo, 'cli', 'eth1', { mac, requestOptions: ['hostname'] });
    assert.equal(r.lease?.ip, `${NET}.20`, r.output);
    assert.equal(r.lease?.hostname, 'node-a1', r.output);

    await app.http('PATCH', `/api/v1/server-interfaces/${nic.id}`, { ip: `${NET}.21` }, 200);
    await app.settled();
    r = await runUdhcpc(topo, 'cli', 'eth1', { mac, requestOptions: ['hostname'] });
    assert.equal(r.lease?.ip, `${NET}.21`, r.output);

    // The derived reservation is the server's to change, not the reservations API's.
    const reservations = await app.http('GET', `/api/v1/dhcp/reservations?server_id=${server.id}`, undefined, 200);
    assert.equal(reservations.count, 1);
    const refused = await app.http('DELETE', `/api/v1/dhcp/reservations/${reservations.results[0].id}`, undefined, 409);
    assert.equal(refused.code, 'INVENTORY_ERR_RESERVATION_DERIVED');

    // A reservation made through the reservations API is served as soon as it is applied too.
    const other = randomMac();
    await app.http('POST', '/api/v1/dhcp/reservations', { subnet_id: 1, mac: other, ip: `${NET}.30`, hostname: 'spare-1' }, 201);
    await app.settled();
    r = await runUdhcpc(topo, 'cli', 'eth1', { mac: other, requestOptions: ['hostname'] });
    assert.equal(r.lease?.ip, `${NET}.30`, r.output);
    assert.equal(r.lease?.hostname, 'spare-1', r.output);

    // A reload of a file whose subnet 1 now differs: the subnet was changed through the API (a reservation was added),
    // so the inventory's copy (its routers, its reservations) is still what is served.
    await app.reload({ ...config, dhcp: { ...config.dhcp, subnets: [{ ...config.dhcp.subnets[0], routers: [`${NET}.254`] }] } });
    r = await runUdhcpc(topo, 'cli', 'eth1', { mac: other });
    assert.equal(r.lease?.ip, `${NET}.30`, r.output);
    assert.deepEqual(r.lease?.routers, [`${NET}.1`], r.output);

    await app.http('DELETE', `/api/v1/servers/${server.id}`, undefined, 204);
    await app.settled();
    r = await runUdhcpc(topo, 'cli', 'eth1', { mac });
    const last = Number(r.lease?.ip.split('.')[3]);
    assert.ok(r.lease?.ip.startsWith(`${NET}.`) && last >= 100 && last <= 199, `a pool address, got ${r.lease?.ip}\n${r.output}`);
  });
});

/**
 * The WebSocket event stream through a real socket (the `ws` client), with
 * real auth over the inventory database on SQLite and PostgreSQL: refusals by
 * close code, inventory events after API writes, tenant scoping, topic
 * filters, DHCP events through the EventHub, a slow client's overflow, token
 * expiry; and TFTP transfer events from a whole dcplane with TFTP on loopback.
 */
import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Dcplane } from '../../src/app.js';
import { AuthError, AuthErrorCode } from '../../src/auth/errors.js';
import { DbAuthStore } from '../../src/auth/db-auth-store.js';
import { LoginRateLimiter } from '../../src/auth/rate-limit.js';
import type { Role } from '../../src/auth/store.js';
import { applyDefaults } from '../../src/config/defaults.js';
import { buildApi } from '../../src/http/api.js';
import { EventHub } from '../../src/http/event-hub.js';
import { WsCloseCode, closeCodeFor } from '../../src/http/ws.js';
import { openInventory } from '../../src/inventory/inventory.js';
import { parseIpv4 } from '../../src/net/ipv4.js';
import { testBackends } from '../db/backends.js';
import type { TestDatabase } from '../db/backends.js';
import { download } from '../tftp/raw-client.js';
import { FAST_HASHER, baseDeps, call, uniq } from './harness.js';
import { freeTcpPort, jsonLogSink } from '../helpers/app-fixtures.js';

/** The parts of the `ws` client used here (the package ships no types). */
interface WsClient {
  readonly readyState: number;
  on(event: 'message', l: (data: Buffer) => void): void;
  on(event: 'open', l: () => void): void;
  on(event: 'close', l: (code: number, reason: Buffer) => void): void;
  on(event: 'error', l: (err: Error) => void): void;
  send(data: string): void;
  close(): void;
  pause(): void;
  resume(): void;
}
type WsCtor = new (url: string, opts?: { headers?: Record<string, string> }) => WsClient;
const WebSocket = createRequire(import.meta.url)('ws') as WsCtor;

interface Msg {
  type: string;
  at: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
}

/** A connected client that keeps every message, and waits for the one a test expects. */
class Client {
  readonly messages: Msg[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WsClient) {
    ws.on('message', (d) => {
      this.messages.push(JSON.parse(d.toString('utf8')) as Msg);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString('utf8') };
      this.wake();
    });
    ws.on('error', () => this.wake());
  }

  static connect(url: string, headers: Record<string, string> = {}): Client {
    return new Client(new WebSocket(url, { headers }));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  async until<T>(probe: () => T | undefined, ms = 5000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = probe();
      if (v !== undefined) return v;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out; ${this.messages.length} messages, the last ${JSON.stringify(this.messages.slice(-3)).slice(0, 600)}; closed: ${JSON.stringify(this.closed)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The first message (from index `from`) that matches. */
  next(match: (m: Msg) => boolean, from = 0): Promise<Msg> {
    return this.until(() => this.messages.slice(from).find(match));
  }

  closedWith(): Promise<{ code: number; reason: string }> {
    return this.until(() => this.closed);
  }

  close(): void {
    this.ws.close();
  }
}

const PASSWORD = 'correct horse battery staple';
const backends = await testBackends();

for (const backend of backends) {
  describe(`WebSocket /api/v1/ws [${backend.name}]`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let app: FastifyInstance;
    let store: DbAuthStore;
    let base: string;
    let clock = Date.now();
    const hub = new EventHub();
    const clients: Client[] = [];
    const deps = baseDeps();

    before(async () => {
      db = await backend.open();
      store = new DbAuthStore(db);
      app = await buildApi({
        ...deps,
        inventory: openInventory(db),
        events: hub,
        ws: { heartbeatMs: 1000, maxBufferedBytes: 64 * 1024 },
        auth: {
          store,
          hasher: FAST_HASHER,
          tokens: { secret: randomBytes(64) },
          rateLimiter: new LoginRateLimiter({ capacity: 1000, refillPerSecond: 100, maxKeys: 100 }),
          now: () => new Date(clock),
        },
      });
      await app.listen({ host: '127.0.0.1', port: 0 });
      const addr = app.server.address() as { port: number };
      base = `ws://127.0.0.1:${addr.port}/api/v1/ws`;
    });
    after(async () => {
      for (const c of clients) c.close();
      await app.close();
      await db.dispose();
    });

    const connect = (query = '', headers: Record<string, string> = {}): Client => {
      const c = Client.connect(`${base}${query}`, headers);
      clients.push(c);
      return c;
    };
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

    async function login(role: Role, tenantIds: number[] = []): Promise<string> {
      const username = uniq(role);
      await store.createUser({ username, password_hash: await FAST_HASHER.hash(PASSWORD), role, tenant_ids: tenantIds });
      const r = await call(app, 'POST', '/api/v1/auth/token', { username, password: PASSWORD });
      assert.equal(r.status, 200, r.raw);
      return r.body.access_token as string;
    }

    /** Creates through the API as `token`; asserts 201 and returns the id. */
    async function create(token: string, path: string, body: object): Promise<number> {
      const r = await call(app, 'POST', path, body, bearer(token));
      assert.equal(r.status, 201, r.raw);
      return r.body.id as number;
    }

    /** Connected and greeted. */
    async function stream(token: string, viaQuery = false): Promise<Client> {
      const c = viaQuery ? connect(`?access_token=${encodeURIComponent(token)}`) : connect('', bearer(token));
      await c.next((m) => m.type === 'hello');
      return c;
    }

    it('refuses a missing or bad token with close code 4401, and a plain GET with 426', async () => {
      const none = connect();
      assert.deepEqual(await none.closedWith(), { code: 4401, reason: 'AUTH_ERR_TOKEN_MISSING' });
      const bad = connect('', { authorization: 'Bearer not.a.jwt' });
      assert.deepEqual(await bad.closedWith(), { code: 4401, reason: 'AUTH_ERR_TOKEN_INVALID' });
      const badQuery = connect('?access_token=dcp_nosuchtoken');
      assert.equal((await badQuery.closedWith()).code, 4401);
      assert.equal(none.messages.length + bad.messages.length + badQuery.messages.length, 0, 'nothing is sent before the token is good');
      const plain = await app.inject({ method: 'GET', url: '/api/v1/ws' });
      assert.equal(plain.statusCode, 426);
      assert.equal(JSON.parse(plain.body).code, 'API_ERR_UPGRADE_REQUIRED');
      assert.equal(closeCodeFor(new AuthError(AuthErrorCode.FORBIDDEN, 'x')), WsCloseCode.FORBIDDEN);
      assert.equal(closeCodeFor(new AuthError(AuthErrorCode.TOKEN_EXPIRED, 'x')), WsCloseCode.UNAUTHORIZED);
    });

    it('streams an inventory change made through the API, by header or ?access_token, without secret fields', async () => {
      const admin = await login('admin');
      const byHeader = await stream(admin);
      const byQuery = await stream(admin, true);
      assert.equal(byHeader.messages[0]?.data.topics.join(','), 'inventory,tftp,dhcp');
      const name = uniq('srv');
      const created = await call(app, 'POST', '/api/v1/servers', { name }, bearer(admin));
      assert.equal(created.status, 201, created.raw);
      for (const c of [byHeader, byQuery]) {
        const m = await c.next((x) => x.type === 'inventory' && x.data.after?.name === name);
        assert.equal(m.data.action, 'create');
        assert.equal(m.data.object_type, 'server');
        assert.equal(m.data.object_id, created.body.id);
        assert.equal(m.data.before, null);
        assert.equal(m.data.request_id, created.headers['x-request-id']);
        assert.ok(!Number.isNaN(Date.parse(m.at)));
      }
      const username = uniq('u');
      assert.equal((await call(app, 'POST', '/api/v1/users', { username, password: 'another long passphrase 1', role: 'viewer' }, bearer(admin))).status, 201);
      const u = await byHeader.next((x) => x.data.object_type === 'user' && x.data.after?.username === username);
      assert.ok(!('password_hash' in u.data.after) && !('totp_secret' in u.data.after), JSON.stringify(u.data.after));
      assert.ok(!JSON.stringify(u).includes('redacted'));
    });

    it('a tenant-scoped user receives only their tenants’ events; a viewer no user events', async () => {
      const admin = await login('admin');
      const mk = (path: string, body: object) => create(admin, path, body);
      const tA = await mk('/api/v1/tenants', { name: uniq('A'), slug: uniq('a').toLowerCase() });
      const tB = await mk('/api/v1/tenants', { name: uniq('B'), slug: uniq('b').toLowerCase() });
      const scoped = await stream(await login('viewer', [tA]));
      const viewer = await stream(await login('viewer'));
      const full = await stream(admin);

      const bName = uniq('b-srv');
      const bId = await mk('/api/v1/servers', { name: bName, tenant_id: tB });
      await mk('/api/v1/server-interfaces', { server_id: bId, name: 'eth0' });
      await mk('/api/v1/users', { username: uniq('u'), password: 'another long passphrase 1', role: 'viewer' });
      const aName = uniq('a-srv');
      const aId = await mk('/api/v1/servers', { name: aName, tenant_id: tA });
      await mk('/api/v1/server-interfaces', { server_id: aId, name: 'eth0' });
      // Moved from B into A: the scoped user sees it arrive, but not what it was in B.
      const moved = await call(app, 'PATCH', `/api/v1/servers/${bId}`, { tenant_id: tA }, bearer(admin));
      assert.equal(moved.status, 200, moved.raw);

      await full.next((m) => m.data.object_type === 'server' && m.data.action === 'update' && m.data.object_id === bId);
      const arrival = await scoped.next((m) => m.data.object_type === 'server' && m.data.action === 'update');
      assert.equal(arrival.data.before, null);
      assert.equal(arrival.data.after.tenant_id, tA);
      const seen = scoped.messages.filter((m) => m.type === 'inventory').map((m) => `${m.data.action} ${m.data.object_type} ${m.data.object_id}`);
      assert.deepEqual(seen.slice(0, 2), [`create server ${aId}`, `create server_interface ${seen[1]?.split(' ')[2]}`]);
      assert.equal(seen.length, 3, seen.join('; '));
      assert.ok(!scoped.messages.some((m) => JSON.stringify(m).includes(bName) && m.data.action === 'create'));
      assert.ok(scoped.messages.every((m) => m.data.object_type !== 'user' && m.data.object_type !== 'tenant'));
      // An unscoped viewer sees every tenant's servers, but user accounts are admin-only reads.
      await viewer.next((m) => m.data.object_type === 'server' && m.data.object_id === bId && m.data.action === 'update');
      assert.ok(viewer.messages.some((m) => m.data.after?.name === bName));
      assert.ok(viewer.messages.every((m) => m.data.object_type !== 'user'));
      assert.ok(full.messages.some((m) => m.data.object_type === 'user'));
    });

    it('filters by subscribed topic and carries DHCP lease events published to the hub', async () => {
      const admin = await login('admin');
      const c = await stream(admin);
      c.ws.send(JSON.stringify({ subscribe: ['dhcp'] }));
      const sub = await c.next((m) => m.type === 'subscribed');
      assert.deepEqual(sub.data.topics, ['dhcp']);
      const from = c.messages.length;
      assert.equal((await call(app, 'POST', '/api/v1/servers', { name: uniq('s') }, bearer(admin))).status, 201);
      hub.publishTransfer('start', { id: 1, clientIp: '127.0.0.1', clientPort: 1, direction: 'read', requested: 'x', file: 'x', mode: 'octet', requestedOptions: {}, negotiated: {}, source: 'disk', startedAt: Date.now(), endedAt: undefined, state: 'active', reason: undefined, errorCode: undefined, bytes: 0, blocks: 0, resends: 0, size: undefined });
      hub.publishLease({ kind: 'ack', subnetId: 1, ip: parseIpv4('10.77.1.10'), mac: '52:54:00:00:00:01', clientId: '', hostname: 'node-1', messageType: 'REQUEST' });
      const m = await c.next((x) => x.type !== 'subscribed', from);
      assert.equal(m.type, 'dhcp', 'the inventory and tftp events before it were filtered out');
      assert.deepEqual(m.data, { event: 'ack', subnet_id: 1, ip: '10.77.1.10', mac: '52:54:00:00:00:01', client_id: null, hostname: 'node-1', message_type: 'REQUEST', reason: null });
      assert.equal(c.messages.length, from + 1);

      c.ws.send(JSON.stringify({ subscribe: ['nosuch'] }));
      const err = await c.next((x) => x.type === 'error');
      assert.equal(err.data.code, 'API_ERR_WS_BAD_MESSAGE');
      c.ws.send('not json');
      await c.until(() => (c.messages.filter((x) => x.type === 'error').length === 2 ? true : undefined));
      assert.equal(c.closed, undefined, 'a bad message does not end the stream');
    });

    it('drops events for a client that does not keep up, bounded, and tells it how many', async () => {
      // The other tests' clients would share the burst (and the drop counter).
      for (const c of clients.splice(0)) c.close();
      const admin = await login('admin');
      const slow = await stream(admin);
      const droppedBefore = await metricValue('dcplane_ws_events_dropped_total');
      slow.ws.pause();
      const start = slow.messages.length;
      const big = 'h'.repeat(32 * 1024);
      const n = 2000; // 64 MiB in one burst: far beyond the socket buffers and the 64 KiB allowance
      for (let i = 0; i < n; i++) hub.publishLease({ kind: 'offer', subnetId: 1, mac: `seq-${i}`, clientId: '', hostname: big });
      const dropped = (await metricValue('dcplane_ws_events_dropped_total')) - droppedBefore;
      assert.ok(dropped > n / 2, `most of the burst is dropped (${dropped})`);
      slow.ws.resume();
      // Once it has caught up, the next heartbeat (or event) tells it what it missed.
      const overflow = await slow.next((m) => m.type === 'overflow', start);
      assert.equal(overflow.data.dropped, dropped);
      hub.publishLease({ kind: 'ack', subnetId: 1, mac: 'after', clientId: '' });
      const last = await slow.next((m) => m.type === 'dhcp' && m.data.mac === 'after', start);
      assert.ok(slow.messages.indexOf(overflow) < slow.messages.indexOf(last), 'the notice comes before the next event');
      const delivered = slow.messages.slice(start).filter((m) => m.type === 'dhcp' && m.data.mac !== 'after');
      assert.equal(delivered.length + dropped, n, 'every event either arrived or was counted as dropped');
      assert.equal(delivered[0]?.data.mac, 'seq-0', 'the first ones went out before the client fell behind');
      assert.equal(slow.closed, undefined);
    });

    it('drops a client that stops answering pings', async () => {
      const c = await stream(await login('viewer'));
      const open = await metricValue('dcplane_ws_connections');
      c.ws.pause();
      // Unanswered for one whole interval (1 s here): dropped at the next ping after that.
      const end = Date.now() + 5000;
      while ((await metricValue('dcplane_ws_connections')) !== open - 1) {
        assert.ok(Date.now() < end, 'still connected');
        await new Promise((r) => setTimeout(r, 50));
      }
      c.ws.resume();
      assert.equal((await c.closedWith()).code, 1006, 'terminated, not closed politely: it was not reading');
    });

    it('ends a user’s stream as soon as the user is disabled or changes password, before another event reaches it', async () => {
      const admin = await login('admin');
      const mkUser = async (): Promise<{ id: number; username: string; token: string }> => {
        const username = uniq('v');
        const u = await store.createUser({ username, password_hash: await FAST_HASHER.hash(PASSWORD), role: 'viewer', tenant_ids: [] });
        const r = await call(app, 'POST', '/api/v1/auth/token', { username, password: PASSWORD });
        return { id: u.id, username, token: r.body.access_token as string };
      };
      const disabled = await mkUser();
      const changer = await mkUser();
      const cDisabled = await stream(disabled.token);
      const cChanger = await stream(changer.token);

      const off = await call(app, 'PATCH', `/api/v1/users/${disabled.id}`, { is_active: false }, bearer(admin));
      assert.equal(off.status, 200, off.raw);
      const pw = await call(app, 'POST', '/api/v1/auth/password', { current_password: PASSWORD, new_password: 'a brand new long passphrase 7' }, bearer(changer.token));
      assert.equal(pw.status, 200, pw.raw);
      // Written right after: the streams are being checked again and must not see it.
      const after = uniq('after-end');
      assert.equal((await call(app, 'POST', '/api/v1/servers', { name: after }, bearer(admin))).status, 201);
      for (const c of [cDisabled, cChanger]) {
        assert.deepEqual(await c.closedWith(), { code: 4401, reason: 'AUTH_ERR_TOKEN_REVOKED' });
        const ended = c.messages.find((m) => m.type === 'session_ended');
        assert.equal(ended?.data.code, 'AUTH_ERR_TOKEN_REVOKED');
        assert.ok(typeof ended?.data.message === 'string' && ended.data.message.length > 0);
        assert.ok(!c.messages.some((m) => m.data?.after?.name === after), 'no event after the session ended');
      }
    });

    it('narrows an API-token stream to the tenants its user was just scoped to', async () => {
      const admin = await login('admin');
      const mk = (path: string, body: object) => create(admin, path, body);
      const tA = await mk('/api/v1/tenants', { name: uniq('A'), slug: uniq('a').toLowerCase() });
      const tB = await mk('/api/v1/tenants', { name: uniq('B'), slug: uniq('b').toLowerCase() });
      const username = uniq('script');
      const u = await store.createUser({ username, password_hash: await FAST_HASHER.hash(PASSWORD), role: 'viewer', tenant_ids: [] });
      const jwt = (await call(app, 'POST', '/api/v1/auth/token', { username, password: PASSWORD })).body.access_token as string;
      const minted = await call(app, 'POST', '/api/v1/auth/api-tokens', { description: 'ws', read_only: true }, bearer(jwt));
      assert.equal(minted.status, 201, minted.raw);
      const c = await stream(minted.body.token as string);

      const scoped = await call(app, 'PATCH', `/api/v1/users/${u.id}`, { tenant_ids: [tA] }, bearer(admin));
      assert.equal(scoped.status, 200, scoped.raw);
      const bName = uniq('b-after-scope');
      const aName = uniq('a-after-scope');
      await mk('/api/v1/servers', { name: bName, tenant_id: tB });
      await mk('/api/v1/servers', { name: aName, tenant_id: tA });
      await c.next((m) => m.data?.after?.name === aName);
      assert.ok(!c.messages.some((m) => m.data?.after?.name === bName), 'tenant B’s server is not sent once the user is scoped to A');
      assert.ok(!c.messages.some((m) => m.data?.object_type === 'user'), 'nor its own user record: users are admin reads');
      assert.equal(c.closed, undefined, 'an API token outlives a change of its user’s scope');

      // Revoking the token (by an admin: the user's own login session ended with the change of scope) ends the stream.
      const revoked = await call(app, 'DELETE', `/api/v1/auth/api-tokens/${minted.body.id}`, undefined, bearer(admin));
      assert.equal(revoked.status, 204, revoked.raw);
      // Revoking deletes the token: it is now an unknown one.
      assert.deepEqual(await c.closedWith(), { code: 4401, reason: 'AUTH_ERR_TOKEN_INVALID' });
      assert.equal(c.messages.at(-1)?.type, 'session_ended');
    });

    it('ends the stream with 4401 at the heartbeat after the access token expires', async () => {
      const c = await stream(await login('viewer'));
      clock += 16 * 60 * 1000;
      try {
        assert.deepEqual(await c.closedWith(), { code: 4401, reason: 'AUTH_ERR_TOKEN_EXPIRED' });
      } finally {
        clock -= 16 * 60 * 1000;
      }
    });

    async function metricValue(name: string): Promise<number> {
      const m = deps.registry.getSingleMetric(name);
      if (m === undefined) throw new Error(`no metric ${name}`);
      return (await m.get()).values.reduce((s, v) => s + v.value, 0);
    }
  });
}

describe('WebSocket /api/v1/ws in a running dcplane', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dcplane-ws-'));
    mkdirSync(join(dir, 'root'));
    writeFileSync(join(dir, 'root', 'pxelinux.0'), Buffer.alloc(3000, 7));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('streams TFTP transfer start and end, and refused requests', async () => {
    const { logs, sink } = jsonLogSink();
    const apiPort = await freeTcpPort();
    const config = applyDefaults({
      data_dir: join(dir, 'data'),
      api: { listen: `127.0.0.1:${apiPort}` },
      tftp: { enabled: true, listen: '127.0.0.1:0', root: join(dir, 'root') },
    });
    const app = await Dcplane.start(config, pino({ level: 'info' }, sink));
    let c: Client | undefined;
    try {
      const tftpPort = Number(logs.find((l) => l.msg === 'tftp ready')?.port);
      const password = readFileSync(join(dir, 'data', 'initial-admin-password'), 'utf8').trim();
      const login = await fetch(`http://127.0.0.1:${apiPort}/api/v1/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password }),
      });
      const { access_token } = (await login.json()) as { access_token: string };
      c = Client.connect(`ws://127.0.0.1:${apiPort}/api/v1/ws?access_token=${access_token}`);
      await c.next((m) => m.type === 'hello');
      c.ws.send(JSON.stringify({ subscribe: ['tftp'] }));
      await c.next((m) => m.type === 'subscribed');

      const got = await download(tftpPort, 'pxelinux.0', { options: { blksize: 1024 } });
      assert.equal(got.data.length, 3000);
      const start = await c.next((m) => m.type === 'tftp' && m.data.event === 'start');
      const end = await c.next((m) => m.type === 'tftp' && m.data.event === 'end');
      assert.equal(start.data.transfer.file, 'pxelinux.0');
      assert.equal(start.data.transfer.state, 'active');
      assert.equal(end.data.transfer.id, start.data.transfer.id);
      assert.equal(end.data.transfer.state, 'completed');
      assert.equal(end.data.transfer.bytes, 3000);
      assert.deepEqual(end.data.transfer.options, { blksize: '1024' });
      // One start and one end per transfer: no per-block events.
      assert.equal(c.messages.filter((m) => m.type === 'tftp').length, 2);

      const missing = await download(tftpPort, 'nosuch.cfg');
      assert.equal(missing.error?.code, 1);
      const refused = await c.next((m) => m.type === 'tftp' && m.data.transfer.requested === 'nosuch.cfg');
      assert.equal(refused.data.event, 'end');
      assert.equal(refused.data.transfer.state, 'refused');
    } finally {
      c?.close();
      await app.stop();
    }
  });
});

/**
 * DhcpServer in this process on the loopback interface (root only: the
 * transport binds to a device). The test is the relay: it sends from
 * 127.0.0.1:67 with giaddr 127.0.0.1, so every reply comes back to it there.
 */
import { strict as assert } from 'node:assert';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { DhcpConfig } from '../../src/config/types.js';
import { decodePacket, encodePacket } from '../../src/dhcp/codec.js';
import { MessageType as T } from '../../src/dhcp/constants.js';
import { SqliteLeaseStore } from '../../src/dhcp/lease-store/sqlite-lease-store.js';
import type { DhcpPacket } from '../../src/dhcp/packet.js';
import { DhcpServer, onDhcpFatal } from '../../src/dhcp/server.js';
import { formatIpv4 } from '../../src/net/ipv4.js';
import { ipBytes, request } from '../helpers/memory-lease-view.js';

const PORT = 10167;
const skip = process.getuid?.() !== 0 ? 'needs root (the transport binds to a device)' : false;

const CONFIG: DhcpConfig = {
  enabled: true, interfaces: ['lo'], port: PORT,
  subnets: [{ id: 1, subnet: '10.77.0.0/24', relay_addresses: ['127.0.0.1'], pools: ['10.77.0.10-10.77.0.200'] }],
};

class Relay {
  private readonly waiting: ((p: DhcpPacket) => void)[] = [];
  readonly got: DhcpPacket[] = [];
  private constructor(readonly sock: Socket) {
    sock.on('message', (m) => {
      const p = decodePacket(m);
      this.got.push(p);
      this.waiting.shift()?.(p);
    });
  }

  static async open(): Promise<Relay> {
    const sock = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(67, '127.0.0.1', () => resolve());
    });
    return new Relay(sock);
  }

  /** Sends and waits up to `ms` for the next reply; undefined when none came. */
  async exchange(p: DhcpPacket, ms = 1000): Promise<DhcpPacket | undefined> {
    const reply = new Promise<DhcpPacket | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(done), 1);
        resolve(undefined);
      }, ms);
      const done = (r: DhcpPacket): void => {
        clearTimeout(timer);
        resolve(r);
      };
      this.waiting.push(done);
    });
    this.sock.send(encodePacket(p, { maxSize: 1500 }), PORT, '127.0.0.1');
    return reply;
  }
}

/** Read through a call: TypeScript would keep the narrowing from the earlier assertion. */
function failedOf(s: DhcpServer): Error | undefined {
  return s.failed;
}

function discover(n: number): DhcpPacket {
  return request(T.DISCOVER, { mac: `52:54:00:77:00:${n.toString(16).padStart(2, '0')}`, xid: n, giaddr: '127.0.0.1' });
}

describe('DhcpServer when the lease writer thread dies', { skip }, () => {
  let dir: string;
  let store: SqliteLeaseStore;
  let server: DhcpServer;
  let relay: Relay;
  let logText = '';
  const registry = new Registry();
  const fatal: Error[] = [];
  const unsubscribe = onDhcpFatal((e) => fatal.push(e));
  const savedExitCode = process.exitCode;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dcplane-server-'));
    store = await SqliteLeaseStore.open({ dataDir: dir });
    const sink = new Writable({ write(chunk, _enc, cb) { logText += String(chunk); cb(); } });
    server = await DhcpServer.start({ config: CONFIG, store, logger: pino({ level: 'info' }, sink), registry });
    relay = await Relay.open();
  });
  after(async () => {
    unsubscribe();
    await server?.stop();
    await store?.close();
    relay?.sock.close();
    rmSync(dir, { recursive: true, force: true });
    process.exitCode = savedExitCode;
  });

  it('answers while the store works, then sends nothing at all, reports the failure and asks the process to stop', async () => {
    const first = await relay.exchange(discover(1));
    assert.equal(first?.options.get(53)?.[0], T.OFFER, `no OFFER while healthy\n${logText}`);
    assert.equal(formatIpv4(first.yiaddr), '10.77.0.10');
    assert.equal(server.failed, undefined);

    await store.writerThreadForTests()?.terminate();
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(store.failure !== undefined, 'the store knows its writer died');

    // Before the fix the (non-durable) OFFERs still went out, one address to every client.
    for (let n = 2; n <= 4; n++) assert.equal(await relay.exchange(discover(n), 300), undefined, `reply to client ${n}`);
    assert.equal(relay.got.length, 1);
    assert.ok(failedOf(server) !== undefined, 'the server reports the failure');
    assert.equal(fatal.length, 1, 'fatal listeners told once');
    assert.equal((fatal[0] as { code?: string }).code, 'LEASE_ERR_WRITER_DIED');
    assert.match(logText, /"level":60/, 'logged at fatal');
    const metrics = await registry.metrics();
    assert.match(metrics, /dcplane_dhcp_lease_store_up 0/);
  });
});

describe('DhcpServer lease events for the live view', { skip }, () => {
  let dir: string;
  let store: SqliteLeaseStore;
  let server: DhcpServer;
  let relay: Relay;
  const events: { kind: string; ip?: number; committed: boolean }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dcplane-server-ev-'));
    store = await SqliteLeaseStore.open({ dataDir: dir });
    server = await DhcpServer.start({
      config: CONFIG, store, logger: pino({ level: 'silent' }), registry: new Registry(),
      onEvent: (ev) => events.push({ kind: ev.kind, ip: ev.ip, committed: store.stats().commits > 0 }),
    });
    relay = await Relay.open();
  });
  after(async () => {
    await server?.stop();
    await store?.close();
    relay?.sock.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tells offer, ack and release with their addresses; an ACK only once its lease is committed', async () => {
    const offer = await relay.exchange(discover(9));
    assert.ok(offer !== undefined);
    const ip = formatIpv4(offer.yiaddr);
    const req = request(T.REQUEST, { mac: '52:54:00:77:00:09', xid: 9, giaddr: '127.0.0.1', options: { 50: ipBytes(ip), 54: offer.options.get(54) ?? [] } });
    const ack = await relay.exchange(req);
    assert.equal(ack?.options.get(53)?.[0], T.ACK);
    assert.deepEqual(events.map((e) => e.kind), ['offer', 'ack']);
    assert.deepEqual(events.map((e) => (e.ip !== undefined ? formatIpv4(e.ip) : undefined)), [ip, ip]);
    assert.deepEqual(events.map((e) => e.committed), [false, true], 'the offer is told at once, the ack after its commit');
    assert.equal(store.byIp(offer.yiaddr)?.state, 'active');
  });
});

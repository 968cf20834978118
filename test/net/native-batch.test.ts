/**
 * The addon's batched datagram I/O on loopback: sendBatch (sendmmsg) and the
 * recvmmsg receiver the DHCP transport is built on.
 */
import { strict as assert } from 'node:assert';
import { createSocket } from 'node:dgram';
import { describe, test } from 'node:test';
import { loadNative } from '../../src/net/native.js';

const native = loadNative();
const LOOPBACK = 0x7f000001;
const SLOT = 2048;
const SLOTS = 8;

interface Got {
  data: string;
  ip: number;
  port: number;
  truncated: boolean;
}

function startReceiving(fd: number, slotBytes = SLOT): { got: Got[]; batches: number[]; handle: ReturnType<typeof native.startReceiver> } {
  const slab = Buffer.alloc(SLOTS * slotBytes);
  const meta = new Uint32Array(SLOTS * 4);
  const got: Got[] = [];
  const batches: number[] = [];
  const handle = native.startReceiver(
    fd,
    slab,
    meta,
    slotBytes,
    (n) => {
      batches.push(n);
      for (let i = 0; i < n; i++) {
        const len = meta[i * 4] as number;
        got.push({
          data: slab.toString('latin1', i * slotBytes, i * slotBytes + Math.min(len, slotBytes)),
          ip: meta[i * 4 + 1] as number,
          port: meta[i * 4 + 2] as number,
          truncated: meta[i * 4 + 3] === 1,
        });
      }
    },
    () => {},
  );
  return { got, batches, handle };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('native batched datagrams', () => {
  test('sendBatch sends each packet to its own destination; the receiver reads them in batches with their sources', async () => {
    const rxA = native.openUdpSocket('lo', 0);
    const rxB = native.openUdpSocket('lo', 0);
    const [portA, portB] = [await getPortRaw(rxA), await getPortRaw(rxB)];
    const a = startReceiving(rxA);
    const b = startReceiving(rxB);
    const tx = native.openUdpSocket('lo', 0);
    const txPort = await getPortRaw(tx);
    const packets = ['one', 'two', 'three', 'four', 'five'].map((s) => Buffer.from(s));
    const ips = new Uint32Array(packets.length).fill(LOOPBACK);
    const ports = Uint16Array.from([portA, portB, portA, portB, portA]);
    assert.equal(native.sendBatch(tx, packets, ips, ports, 0, 2), 2);
    assert.equal(native.sendBatch(tx, packets, ips, ports, 2, 5), 3);
    await until(() => a.got.length === 3 && b.got.length === 2);
    assert.deepEqual(a.got.map((g) => g.data), ['one', 'three', 'five']);
    assert.deepEqual(b.got.map((g) => g.data), ['two', 'four']);
    for (const g of [...a.got, ...b.got]) {
      assert.equal(g.ip, LOOPBACK);
      assert.equal(g.port, txPort);
      assert.equal(g.truncated, false);
    }
    // Datagrams already queued when the socket polls readable arrive in fewer calls than datagrams.
    assert.ok(a.batches.every((n) => n > 0));
    native.stopReceiver(a.handle);
    native.stopReceiver(b.handle);
    native.stopReceiver(startReceiving(tx).handle);
  });

  test('a datagram longer than its slot is flagged as cut', async () => {
    const rx = native.openUdpSocket('lo', 0);
    const port = await getPortRaw(rx);
    const r = startReceiving(rx, 512);
    const tx = native.openUdpSocket('lo', 0);
    assert.equal(native.sendBatch(tx, [Buffer.alloc(600, 0x61), Buffer.from('short')], new Uint32Array([LOOPBACK, LOOPBACK]), new Uint16Array([port, port]), 0, 2), 2);
    await until(() => r.got.length === 2);
    assert.equal(r.got[0]?.truncated, true);
    assert.equal(r.got[1]?.truncated, false);
    assert.equal(r.got[1]?.data, 'short');
    native.stopReceiver(r.handle);
    native.stopReceiver(startReceiving(tx).handle);
  });

  test('a refused first packet is -errno, and the packets before a refused one are counted as sent', async () => {
    const tx = native.openUdpSocket(null, 0);
    const rx = native.openUdpSocket('lo', 0);
    const port = await getPortRaw(rx);
    const r = startReceiving(rx);
    const packets = [Buffer.from('ok'), Buffer.from('bad')];
    // Destination port 0 is refused by the kernel (EINVAL).
    const ips = new Uint32Array([LOOPBACK, LOOPBACK]);
    const ports = new Uint16Array([port, 0]);
    assert.equal(native.sendBatch(tx, packets, ips, ports, 0, 2), 1);
    assert.ok(native.sendBatch(tx, packets, ips, ports, 1, 2) < 0);
    await until(() => r.got.length === 1);
    assert.equal(r.got[0]?.data, 'ok');
    native.stopReceiver(r.handle);
    native.stopReceiver(startReceiving(tx).handle);
  });

  test('checks its arguments before touching the kernel', () => {
    assert.throws(() => native.sendBatch(-1, [], new Uint32Array(0), new Uint16Array(0), 0, 0));
    assert.throws(() => native.sendBatch(0, [Buffer.from('x')], new Uint32Array(0), new Uint16Array(1), 0, 1));
    assert.throws(() => native.sendBatch(0, [Buffer.from('x')], new Uint32Array(1), new Uint16Array(1), 1, 0));
    assert.throws(() => native.startReceiver(0, Buffer.alloc(10), new Uint32Array(4), 100, () => {}, () => {}));
  });
});

/** The bound port of a raw fd, without handing the fd to dgram (the receiver must be its only reader). */
async function getPortRaw(fd: number): Promise<number> {
  // Send from the fd to a dgram socket and read the source port of what arrives.
  const probe = createSocket({ type: 'udp4' });
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
  const got = new Promise<number>((resolve) => probe.once('message', (_m, rinfo) => resolve(rinfo.port)));
  native.sendBatch(fd, [Buffer.from('probe')], new Uint32Array([LOOPBACK]), new Uint16Array([probe.address().port]), 0, 1);
  const port = await got;
  probe.close();
  return port;
}


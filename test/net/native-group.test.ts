/**
 * The addon's TFTP transfer sockets on loopback: bound and connected
 * sockets (openBoundSocket, connectSocket, localPort), sends on a connected
 * socket (sendPackets) and the socket group that reads many sockets through
 * one epoll set.
 */
import { strict as assert } from 'node:assert';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { closeSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { GROUP_FIELDS, GROUP_KIND, loadNative } from '../../src/net/native.js';
import type { GroupHandle } from '../../src/net/native.js';

const native = loadNative();
const LOOPBACK = 0x7f000001;
const SLOT = 2048;
const SLOTS = 8;

interface Entry {
  id: number;
  kind: number;
  value: number;
  ip: number;
  port: number;
  data: string;
}

function startGroup(): { group: GroupHandle; entries: Entry[]; batches: number[] } {
  const slab = Buffer.alloc(SLOTS * SLOT);
  const meta = new Uint32Array(SLOTS * GROUP_FIELDS);
  const entries: Entry[] = [];
  const batches: number[] = [];
  const group = native.createGroup(slab, meta, SLOT, (n) => {
    batches.push(n);
    for (let i = 0; i < n; i++) {
      const m = meta.subarray(i * GROUP_FIELDS, (i + 1) * GROUP_FIELDS);
      const kind = m[1] as number;
      const value = m[2] as number;
      const data = kind === GROUP_KIND.DATAGRAM ? slab.toString('latin1', i * SLOT, i * SLOT + value) : '';
      entries.push({ id: m[0] as number, kind, value, ip: m[3] as number, port: m[4] as number, data });
    }
  });
  return { group, entries, batches };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), what);
}

function peer(): Promise<Socket> {
  const s = createSocket('udp4');
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)));
}

describe('native transfer sockets and socket groups', () => {
  const fds: number[] = [];
  const peers: Socket[] = [];
  after(() => {
    for (const fd of fds) {
      try {
        closeSync(fd);
      } catch {
        // Closed by the test.
      }
    }
    for (const p of peers) p.close();
  });

  test('reads the datagrams of several members in one batch, tagged with their ids and sources', async () => {
    const { group, entries, batches } = startGroup();
    const a = native.openBoundSocket('127.0.0.1', 0, false, 0);
    const b = native.openBoundSocket('127.0.0.1', 0, false, 0);
    fds.push(a, b);
    native.groupAdd(group, a, 10);
    native.groupAdd(group, b, 11);
    const p = await peer();
    peers.push(p);
    // Both sit in their queues before the loop polls the group.
    p.send('to-a', native.localPort(a), '127.0.0.1');
    p.send('to-b', native.localPort(b), '127.0.0.1');
    await until(() => entries.length === 2, 'both datagrams read');
    const byId = new Map(entries.map((e) => [e.id, e]));
    assert.equal(byId.get(10)?.data, 'to-a');
    assert.equal(byId.get(11)?.data, 'to-b');
    for (const e of entries) {
      assert.equal(e.kind, GROUP_KIND.DATAGRAM);
      assert.equal(e.ip, LOOPBACK);
      assert.equal(e.port, p.address().port);
    }
    assert.deepEqual(batches, [2], 'one call into JS for both sockets');
    // A removed member is no longer read.
    native.groupRemove(group, b);
    p.send('late', native.localPort(b), '127.0.0.1');
    p.send('again-a', native.localPort(a), '127.0.0.1');
    await until(() => entries.length === 3, 'the member still in the group is read');
    assert.equal(entries[2]?.id, 10);
    native.stopGroup(group);
  });

  test('a connected socket receives its peer only, sends with sendPackets, and reports the peer\'s ICMP port unreachable', async () => {
    const { group, entries } = startGroup();
    const client = await peer();
    const stranger = await peer();
    peers.push(client, stranger);
    const fd = native.openBoundSocket('127.0.0.1', 0, true, 64 * 1024);
    fds.push(fd);
    native.connectSocket(fd, '127.0.0.1', client.address().port);
    native.groupAdd(group, fd, 7);
    const got: string[] = [];
    client.on('message', (m) => got.push(m.toString('latin1')));
    assert.equal(native.sendPackets(fd, [Buffer.from('one'), Buffer.from('two'), Buffer.from('three')], 0, 3), 3, 'a window in one call');
    assert.equal(native.sendPackets(fd, [Buffer.from('x'), Buffer.from('four')], 1, 2), 1, 'from start to end only');
    await until(() => got.length === 4, 'the client got every packet');
    assert.deepEqual(got, ['one', 'two', 'three', 'four']);
    const port = native.localPort(fd);
    stranger.send('stranger', port, '127.0.0.1');
    client.send('client', port, '127.0.0.1');
    await until(() => entries.length >= 1, 'the client\'s datagram read');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(entries.map((e) => e.data), ['client'], 'the stranger\'s datagram never reaches a connected socket');
    // The client goes away: the next send draws an ICMP port unreachable, reported as an ERROR entry or refused at the next send.
    const clientPort = client.address().port;
    await new Promise<void>((r) => client.close(() => r()));
    peers.splice(peers.indexOf(client), 1);
    assert.equal(native.sendPackets(fd, [Buffer.from('gone')], 0, 1), 1);
    await until(() => entries.some((e) => e.kind === GROUP_KIND.ERROR), 'the port unreachable reported');
    const err = entries.find((e) => e.kind === GROUP_KIND.ERROR);
    assert.equal(err?.id, 7);
    assert.equal(err?.value, 111, `ECONNREFUSED (client port ${clientPort})`);
    native.stopGroup(group);
  });

  test('a second socket shares a port with SO_REUSEADDR; without it the bind is refused with a coded error', () => {
    const fd = native.openBoundSocket('127.0.0.1', 0, true, 0);
    fds.push(fd);
    const port = native.localPort(fd);
    const twin = native.openBoundSocket('127.0.0.1', port, true, 0);
    fds.push(twin);
    assert.equal(native.localPort(twin), port);
    assert.throws(() => native.openBoundSocket('127.0.0.1', port, false, 0), (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE' && e.syscall === 'bind');
    assert.throws(() => native.openBoundSocket('not-an-ip', 0, false, 0), TypeError);
    assert.throws(() => native.connectSocket(fd, '127.0.0.1', 0), TypeError);
    assert.throws(() => native.sendPackets(fd, ['text' as unknown as Buffer], 0, 1), TypeError);
  });
});

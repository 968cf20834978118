/**
 * The addon's pump on loopback: a group member answers a lock-step TFTP
 * read's in-order ACKs itself (pumpArm), from a Buffer or a file
 * descriptor, with no call into JS, and hands JS everything else after a
 * PUMP entry (pumpCollect tells what it did).
 */
import { strict as assert } from 'node:assert';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  /** Length of a DATAGRAM, errno of an ERROR. */
  value: number;
  data: Buffer;
}

/** A TFTP client on a dgram socket: ACKs out, DATA in, in order. */
class Client {
  private readonly queue: Buffer[] = [];
  private waiter: ((b: Buffer) => void) | undefined;
  private constructor(readonly socket: Socket) {
    socket.on('message', (m) => {
      const w = this.waiter;
      this.waiter = undefined;
      if (w !== undefined) w(m);
      else this.queue.push(m);
    });
  }

  static open(): Promise<Client> {
    const s = createSocket('udp4');
    return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(new Client(s))));
  }

  get port(): number {
    return this.socket.address().port;
  }

  ack(block: number, to: number): void {
    const b = Buffer.from([0, 4, (block >> 8) & 0xff, block & 0xff]);
    this.socket.send(b, to, '127.0.0.1');
  }

  next(ms = 2000): Promise<Buffer> {
    const q = this.queue.shift();
    if (q !== undefined) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error('no datagram'));
      }, ms);
      this.waiter = (b) => {
        clearTimeout(t);
        resolve(b);
      };
    });
  }

  /** Nothing arrives within `ms`. */
  async silent(ms = 100): Promise<boolean> {
    return this.next(ms).then(
      () => false,
      () => true,
    );
  }
}

function dataPacket(block: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0, 3, (block >> 8) & 0xff, block & 0xff]), payload]);
}

function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 9)) & 0xff;
  return b;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), what);
}

interface Rig {
  group: GroupHandle;
  fd: number;
  port: number;
  client: Client;
  entries: Entry[];
  batches: number[];
}

describe('the native pump', () => {
  const fds: number[] = [];
  const clients: Client[] = [];
  const groups: GroupHandle[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'dcplane-pump-'));
  after(() => {
    for (const g of groups) native.stopGroup(g);
    for (const fd of fds) {
      try {
        closeSync(fd);
      } catch {
        // Closed by the test.
      }
    }
    for (const c of clients) c.socket.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function rig(): Promise<Rig> {
    const slab = Buffer.alloc(SLOTS * SLOT);
    const meta = new Uint32Array(SLOTS * GROUP_FIELDS);
    const entries: Entry[] = [];
    const batches: number[] = [];
    const group = native.createGroup(slab, meta, SLOT, (n) => {
      batches.push(n);
      for (let i = 0; i < n; i++) {
        const kind = meta[i * GROUP_FIELDS + 1] as number;
        const len = kind === GROUP_KIND.DATAGRAM ? (meta[i * GROUP_FIELDS + 2] as number) : 0;
        entries.push({ id: meta[i * GROUP_FIELDS] as number, kind, value: meta[i * GROUP_FIELDS + 2] as number, data: Buffer.from(slab.subarray(i * SLOT, i * SLOT + len)) });
      }
    });
    groups.push(group);
    const client = await Client.open();
    clients.push(client);
    const fd = native.openBoundSocket('127.0.0.1', 0, false, 0);
    fds.push(fd);
    native.connectSocket(fd, '127.0.0.1', client.port);
    native.groupAdd(group, fd, 6);
    return { group, fd, port: native.localPort(fd), client, entries, batches };
  }

  /** ACKs `from`..`to - 1` one by one, each answered by the next DATA, and checks each against `file`. */
  async function lockStep(r: Rig, file: Buffer, blksize: number, from: number, to: number): Promise<void> {
    for (let b = from; b < to; b++) {
      r.client.ack(b, r.port);
      const d = await r.client.next();
      const next = b + 1;
      assert.deepEqual(d, dataPacket(next & 0xffff, file.subarray((next - 1) * blksize, next * blksize)), `DATA ${next}`);
    }
  }

  test('answers in-order ACKs from a Buffer without calling JS, and stops at a duplicate ACK', async () => {
    const r = await rig();
    const blksize = 512;
    const file = pattern(blksize * 5 + 100);
    const lastBlock = 6;
    // JS sent block 1 itself, then hands the steady state over.
    assert.equal(native.sendPackets(r.fd, [dataPacket(1, file.subarray(0, blksize))], 0, 1), 1);
    assert.deepEqual(await r.client.next(), dataPacket(1, file.subarray(0, blksize)));
    assert.equal(native.pumpArm(r.group, r.fd, file, file.length, blksize, lastBlock, 1, LOOPBACK, r.client.port, true), true);
    await lockStep(r, file, blksize, 1, 4);
    assert.deepEqual(r.batches, [], 'no call into JS while the ACKs are in order');
    // A duplicate ACK (of block 3, while 4 is out) is not the pump's: JS gets it after a PUMP entry.
    r.client.ack(3, r.port);
    await until(() => r.entries.length === 2, 'the pump stopped and the ACK went to JS');
    assert.deepEqual(r.entries.map((e) => e.kind), [GROUP_KIND.PUMP, GROUP_KIND.DATAGRAM]);
    assert.deepEqual(r.entries[1]?.data, Buffer.from([0, 4, 0, 3]));
    assert.ok(await r.client.silent(), 'no DATA answers a duplicate ACK (Sorcerer\'s Apprentice)');
    const out = new Float64Array(3);
    assert.equal(native.pumpCollect(r.group, r.fd, true, out), 3, 'blocks 2, 3 and 4');
    assert.ok((out[0] as number) >= 0, 'time since the last send');
    assert.ok((out[1] as number) >= 0, 'a round trip was timed');
    assert.equal(out[2], 0, 'every send left');
    assert.equal(native.pumpCollect(r.group, r.fd, false, out), 0, 'collected once');
    // Armed again at block 4: it sends the short last block, and leaves the final ACK to JS.
    native.pumpArm(r.group, r.fd, file, file.length, blksize, lastBlock, 4, LOOPBACK, r.client.port, false);
    await lockStep(r, file, blksize, 4, 6);
    r.client.ack(6, r.port);
    await until(() => r.entries.length === 4, 'the final ACK went to JS');
    assert.deepEqual(r.entries.slice(2).map((e) => e.kind), [GROUP_KIND.PUMP, GROUP_KIND.DATAGRAM]);
    assert.deepEqual(r.entries[3]?.data, Buffer.from([0, 4, 0, 6]));
    assert.equal(native.pumpCollect(r.group, r.fd, true, out), 2);
    // A removed member's pump goes with it.
    native.pumpArm(r.group, r.fd, file, file.length, blksize, lastBlock, 2, LOOPBACK, r.client.port, false);
    native.groupRemove(r.group, r.fd);
    assert.equal(native.pumpCollect(r.group, r.fd, true, out), 0);
  });

  test('reads ahead from a file descriptor, across block numbers past 65535', async () => {
    const r = await rig();
    const blksize = 8;
    // 70,000 blocks of 8 bytes: the 16-bit block number wraps.
    const file = pattern(blksize * 70_000 + 3);
    const path = join(dir, 'wrap.bin');
    writeFileSync(path, file);
    const ffd = openSync(path, 'r');
    fds.push(ffd);
    const start = 65_530;
    native.pumpArm(r.group, r.fd, ffd, file.length, blksize, 70_001, start, LOOPBACK, r.client.port, true);
    await lockStep(r, file, blksize, start, start + 12);
    assert.deepEqual(r.batches, []);
    const out = new Float64Array(3);
    assert.equal(native.pumpCollect(r.group, r.fd, false, out), 12, 'collected without stopping');
    await lockStep(r, file, blksize, start + 12, start + 14);
    assert.equal(native.pumpCollect(r.group, r.fd, true, out), 2, 'still armed after a collect');
  });

  test('a file that comes up short stops the pump: the ACK goes to JS and nothing is sent', async () => {
    const r = await rig();
    const blksize = 512;
    const file = pattern(blksize * 300);
    const path = join(dir, 'short.bin');
    writeFileSync(path, file);
    const ffd = openSync(path, 'r');
    fds.push(ffd);
    native.pumpArm(r.group, r.fd, ffd, file.length, blksize, 301, 1, LOOPBACK, r.client.port, true);
    // Blocks 2..129 come from the 64 KiB read ahead at block 2's offset; block 130 needs another read.
    await lockStep(r, file, blksize, 1, 129);
    truncateSync(path, 129 * blksize);
    r.client.ack(129, r.port);
    await until(() => r.entries.length === 2, 'the ACK went to JS');
    assert.deepEqual(r.entries.map((e) => e.kind), [GROUP_KIND.PUMP, GROUP_KIND.DATAGRAM]);
    assert.deepEqual(r.entries[1]?.data, Buffer.from([0, 4, 0, 129]));
    assert.ok(await r.client.silent(), 'nothing sent past the end of the file');
    const out = new Float64Array(3);
    assert.equal(native.pumpCollect(r.group, r.fd, true, out), 128);
  });

  test('a client gone after its ACK: the ECONNREFUSED the answer draws reaches JS as an ERROR entry', async () => {
    const r = await rig();
    const blksize = 512;
    const file = pattern(blksize * 10);
    // A client on an addon socket: its ACK leaves and its port closes before the loop reads the server's socket.
    const cfd = native.openBoundSocket('127.0.0.1', 0, false, 0);
    const cport = native.localPort(cfd);
    native.connectSocket(r.fd, '127.0.0.1', cport);
    native.connectSocket(cfd, '127.0.0.1', r.port);
    native.pumpArm(r.group, r.fd, file, file.length, blksize, 11, 1, LOOPBACK, cport, true);
    assert.equal(native.sendPackets(cfd, [Buffer.from([0, 4, 0, 1])], 0, 1), 1);
    closeSync(cfd);
    // The pump answers ACK 1 with DATA 2; the closed port's ICMP port unreachable makes the socket's next read fail.
    const econnrefused = 111;
    await until(() => r.entries.some((e) => e.kind === GROUP_KIND.ERROR), 'the socket error reached JS');
    assert.deepEqual(r.entries.map((e) => [e.kind, e.value]), [[GROUP_KIND.ERROR, econnrefused]]);
    const out = new Float64Array(3);
    assert.equal(native.pumpCollect(r.group, r.fd, true, out), 1, 'DATA 2 left');
  });

  test('refuses arguments that do not describe a read', async () => {
    const r = await rig();
    const file = pattern(1000);
    // lastBlock must be size / blksize + 1, sent at least 1 and at most lastBlock, the source long enough.
    assert.throws(() => native.pumpArm(r.group, r.fd, file, file.length, 512, 3, 1, LOOPBACK, r.client.port, true), TypeError);
    assert.throws(() => native.pumpArm(r.group, r.fd, file, file.length, 512, 2, 0, LOOPBACK, r.client.port, true), TypeError);
    assert.throws(() => native.pumpArm(r.group, r.fd, file.subarray(0, 10), file.length, 512, 2, 1, LOOPBACK, r.client.port, true), TypeError);
    assert.throws(() => native.pumpCollect(r.group, r.fd, true, new Float64Array(1)), TypeError);
  });
});

/**
 * The two kinds of transfer socket through the server: the addon's on IPv4
 * (one socket group for every transfer, send/sendmmsg) and dgram's on IPv6.
 * Both keep a transfer's port its own (connected to the client) and answer
 * strangers with ERROR 5 without disturbing the transfer.
 */
import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { applyDefaults } from '../../src/config/defaults.js';
import type { TftpConfig } from '../../src/config/types.js';
import { TftpServer } from '../../src/tftp/server.js';
import { NativeTransferSockets } from '../../src/tftp/native-socket.js';
import { DgramTransferSockets } from '../../src/tftp/transfer-socket.js';
import type { PumpReport, TransferSocket, TransferSocketRequest } from '../../src/tftp/transfer-socket.js';
import { RawClient, ack, data, rrq, wrq } from './raw-client.js';

let base: string;
let root: string;
let uploads: string;
const servers: TftpServer[] = [];

/** Which socket layer opened each transfer's socket, and the blocks the native pump sent, seen by wrapping the factories. */
const opened: ('native' | 'dgram')[] = [];
let pumpedBlocks = 0;
/** The round trips the pump timed, as collected. */
const pumpRtts: number[] = [];
const nativeOpen = NativeTransferSockets.prototype.open;
const dgramOpen = DgramTransferSockets.prototype.open;

function watchSockets(): void {
  NativeTransferSockets.prototype.open = async function (this: NativeTransferSockets, req: TransferSocketRequest): Promise<TransferSocket> {
    const socket = await nativeOpen.call(this, req);
    opened.push('native');
    const collect = socket.collectPump?.bind(socket);
    if (collect !== undefined) {
      socket.collectPump = (disarm: boolean): PumpReport => {
        const r = collect(disarm);
        pumpedBlocks += r.steps;
        if (r.steps > 0 && r.rttMs !== undefined) pumpRtts.push(r.rttMs);
        return r;
      };
    }
    return socket;
  };
  DgramTransferSockets.prototype.open = async function (this: DgramTransferSockets, req: TransferSocketRequest): Promise<TransferSocket> {
    const socket = await dgramOpen.call(this, req);
    opened.push('dgram');
    return socket;
  };
}

async function start(tftp: TftpConfig): Promise<TftpServer> {
  const config = applyDefaults({ tftp: { enabled: true, root, ...tftp } }).tftp;
  const server = await TftpServer.start({ config, logger: pino({ level: 'silent' }), registry: new Registry() });
  servers.push(server);
  return server;
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * seed + (i >> 7)) & 0xff;
  return b;
}

/** Reads `name` lock-step from `address`, sending a stranger's ACK from another socket after the first block. */
async function readWithStranger(server: TftpServer, address: string, name: string): Promise<{ content: Buffer; strangerReply: string; strangerFrom: number; tid: number }> {
  const c = await RawClient.open(address);
  const stranger = await RawClient.open(address);
  try {
    c.send(rrq(name), server.port, address);
    const d1 = await c.next();
    assert.equal(d1.op === 'DATA' && d1.block, 1);
    const tid = d1.from.port;
    stranger.send(ack(1), tid, address);
    const e = await stranger.next();
    const strangerReply = e.op === 'ERROR' ? `${e.code} ${e.message}` : e.op;
    const chunks = [d1.op === 'DATA' ? d1.data : Buffer.alloc(0)];
    let block = 1;
    for (;;) {
      c.send(ack(block), tid, address);
      const p = await c.next();
      if (p.op !== 'DATA') throw new Error(`unexpected ${p.op}`);
      assert.equal(p.from.port, tid);
      chunks.push(p.data);
      block = p.block;
      if (p.data.length < 512) break;
    }
    c.send(ack(block), tid, address);
    return { content: Buffer.concat(chunks), strangerReply, strangerFrom: e.from.port, tid };
  } finally {
    await c.close();
    await stranger.close();
  }
}

describe('TFTP transfer sockets', () => {
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'dcplane-tftp-sock-'));
    root = join(base, 'root');
    uploads = join(base, 'uploads');
    mkdirSync(root);
    mkdirSync(uploads);
    watchSockets();
  });
  after(async () => {
    NativeTransferSockets.prototype.open = nativeOpen;
    DgramTransferSockets.prototype.open = dgramOpen;
    for (const s of servers) await s.stop();
    rmSync(base, { recursive: true, force: true });
  });

  const families = [
    { label: "IPv4 (the addon's sockets)", listen: '127.0.0.1:0', address: '127.0.0.1', path: 'native' },
    { label: "IPv6 (dgram's sockets)", listen: '[::1]:0', address: '::1', path: 'dgram' },
  ] as const;
  for (const [i, f] of families.entries()) {
    it(`${f.label}: a lock-step read completes and a stranger gets ERROR 5 from the transfer port`, async () => {
      const server = await start({ listen: f.listen });
      const content = pattern(512 * (3 + i) + 17 * i, 31 + i);
      writeFileSync(join(root, `f${i}.bin`), content);
      opened.length = 0;
      pumpedBlocks = 0;
      const r = await readWithStranger(server, f.address, `f${i}.bin`);
      assert.ok(r.content.equals(content));
      assert.equal(r.strangerReply, '5 unknown transfer ID');
      assert.equal(r.strangerFrom, r.tid);
      assert.deepEqual(opened, [f.path], `the transfer ran on ${f.path}'s sockets`);
      // On the addon, every block after the second was the pump's answer to an in-order ACK (the stranger's ACK did not disturb it); ACK 1 timed the first round trip in the session.
      assert.equal(pumpedBlocks, f.path === 'native' ? Math.floor(content.length / 512) - 1 : 0);
    });
  }

  it('a round trip the pump times after a duplicate ACK re-armed it runs from when the block left, not from the re-arm', async () => {
    const server = await start({ listen: '127.0.0.1:0' });
    const content = pattern(512 * 12, 7);
    writeFileSync(join(root, 'rtt.bin'), content);
    const c = await RawClient.open();
    try {
      c.send(rrq('rtt.bin'), server.port);
      let p = await c.next();
      const tid = p.from.port;
      for (let b = 1; b < 5; b++) {
        c.send(ack(b), tid);
        p = await c.next();
        assert.equal(p.op === 'DATA' && p.block, b + 1);
      }
      // DATA 5 is out (the pump's). The client is slow to ACK it; a duplicate of ACK 4 first goes to JS, which arms the pump again.
      const delayMs = 150;
      await new Promise((r) => setTimeout(r, delayMs));
      c.send(ack(4), tid);
      await new Promise((r) => setTimeout(r, 20));
      pumpRtts.length = 0;
      c.send(ack(5), tid);
      p = await c.next();
      assert.equal(p.op === 'DATA' && p.block, 6);
      // A duplicate of ACK 5 stops the pump: JS collects the round trip of ACK 5, which DATA 5 began at least delayMs before.
      c.send(ack(5), tid);
      for (let b = 6; b <= 13; b++) {
        c.send(ack(b), tid);
        if (b < 13) p = await c.next();
      }
      assert.ok((pumpRtts[0] ?? -1) >= delayMs, `the round trip of block 5 (${String(pumpRtts[0])} ms) is at least ${delayMs} ms`);
    } finally {
      await c.close();
    }
  });

  it('a client that goes away: its ICMP port unreachable is reported, the transfer times out and the server serves on', async () => {
    const server = await start({ listen: '127.0.0.1:0', timeout: 1, retries: 1 });
    writeFileSync(join(root, 'gone.bin'), pattern(4096, 3));
    const failed = new Promise<string | undefined>((resolve) => server.onTransfer((phase, rec) => phase === 'end' && rec.file === 'gone.bin' && resolve(rec.reason)));
    opened.length = 0;
    const c = await RawClient.open();
    c.send(rrq('gone.bin'), server.port);
    assert.equal((await c.next()).op, 'DATA');
    await c.close();
    // The resend after the timeout meets a closed port: the kernel answers ICMP, the socket reports ECONNREFUSED.
    assert.equal(await failed, 'timeout');
    const content = pattern(700, 5);
    writeFileSync(join(root, 'after.bin'), content);
    const r = await readWithStranger(server, '127.0.0.1', 'after.bin');
    assert.ok(r.content.equals(content));
    assert.deepEqual(opened, ['native', 'native'], "both transfers ran on the addon's sockets");
  });

  it('a windowed upload: each window of DATA is read in batches from the shared buffer and written out before the next', async () => {
    const server = await start({ listen: '127.0.0.1:0', max_windowsize: 8, write: { enabled: true, upload_dir: uploads } });
    const blksize = 1024;
    const windowsize = 8;
    const content = pattern(blksize * 20 + 100, 13);
    opened.length = 0;
    const c = await RawClient.open();
    try {
      c.send(wrq('win.bin', 'octet', { blksize, windowsize, tsize: content.length }), server.port);
      const oack = await c.next();
      assert.deepEqual(oack.op === 'OACK' && Object.fromEntries(oack.options), { blksize: String(blksize), windowsize: String(windowsize), tsize: String(content.length) });
      const tid = oack.from.port;
      const blocks = Math.floor(content.length / blksize) + 1;
      for (let first = 1; first <= blocks; first += windowsize) {
        const last = Math.min(first + windowsize - 1, blocks);
        // The whole window leaves at once: several DATA wait in the socket together.
        for (let b = first; b <= last; b++) c.send(data(b, content.subarray((b - 1) * blksize, b * blksize)), tid);
        const a = await c.next();
        assert.deepEqual(a.op === 'ACK' && a.block, last);
      }
      assert.ok(readFileSync(join(uploads, 'win.bin')).equals(content));
      assert.deepEqual(opened, ['native'], "the upload ran on the addon's sockets");
    } finally {
      await c.close();
    }
  });
});

/**
 * DhcpTransport on the loopback interface, in this process (root only: it
 * binds to a device). An exception thrown by onPacket used to reach the
 * addon, which hands it to napi_fatal_exception: the process died.
 */
import { strict as assert } from 'node:assert';
import { closeSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import { DhcpTransport } from '../../src/dhcp/transport.js';
import { loadNative } from '../../src/net/native.js';

const PORT = 10267;
const skip = process.getuid?.() !== 0 ? 'needs root (the transport binds to a device)' : false;

/** A UDP port free on lo right now (the addon's socket, closed again). */
function freePort(): number {
  const native = loadNative();
  const probe = native.openUdpSocket('lo', 0);
  const port = native.localPort(probe);
  closeSync(probe);
  return port;
}

describe('DhcpTransport on lo', { skip }, () => {
  it('an exception from onPacket is counted and reported, and the next datagrams are still delivered', async () => {
    const got: string[] = [];
    const errors: Error[] = [];
    const transport = await DhcpTransport.open({
      interfaces: ['lo'],
      port: PORT,
      onPacket: (msg) => {
        const text = msg.toString();
        if (text === 'boom') throw new Error('EMFILE: too many open files, uv_interface_addresses');
        got.push(text);
      },
      onError: (err) => errors.push(err),
    });
    const sock = createSocket('udp4');
    try {
      for (const text of ['one', 'boom', 'two']) {
        await new Promise<void>((resolve, reject) => sock.send(text, PORT, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
        await new Promise((r) => setTimeout(r, 50));
      }
      const deadline = Date.now() + 2000;
      while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(got, ['one', 'two']);
      assert.equal(errors.length, 1);
      assert.match(errors[0]?.message ?? '', /EMFILE/);
      assert.equal(transport.counters('lo').handlerErrors, 1);
      assert.equal(transport.counters('lo').received, 3);
    } finally {
      sock.close();
      transport.close();
    }
  });

  it('a burst of replies leaves paced, a batch per event-loop turn, and every one arrives in order', async () => {
    const [portA, portB] = [freePort(), freePort()];
    const got: number[] = [];
    const a = await DhcpTransport.open({ interfaces: ['lo'], port: portA, onPacket: () => undefined, onError: () => undefined });
    const b = await DhcpTransport.open({ interfaces: ['lo'], port: portB, onPacket: (msg) => got.push(msg.readUInt32BE(0)), onError: () => undefined });
    try {
      const count = 1000;
      for (let i = 0; i < count; i++) {
        const msg = Buffer.alloc(4);
        msg.writeUInt32BE(i);
        a.send('lo', msg, { ip: 0x7f000001, port: portB, broadcast: false });
      }
      assert.ok(a.counters('lo').sent < count, `all ${count} left in the turn they were given`);
      const deadline = Date.now() + 5000;
      while (got.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(a.counters('lo').sendErrors, 0);
      assert.deepEqual(got, Array.from({ length: count }, (_, i) => i));
    } finally {
      a.close();
      b.close();
    }
  });

  it('close() sends every queued reply at once and nothing after it (a paced flush must not outlive the sockets)', async () => {
    const [portA, portB] = [freePort(), freePort()];
    const got: number[] = [];
    const errors: Error[] = [];
    const a = await DhcpTransport.open({ interfaces: ['lo'], port: portA, onPacket: () => undefined, onError: (e) => errors.push(e) });
    const b = await DhcpTransport.open({ interfaces: ['lo'], port: portB, onPacket: (msg) => got.push(msg.readUInt32BE(0)), onError: () => undefined });
    try {
      const count = 300;
      for (let i = 0; i < count; i++) {
        const msg = Buffer.alloc(4);
        msg.writeUInt32BE(i);
        a.send('lo', msg, { ip: 0x7f000001, port: portB, broadcast: false });
      }
      a.close();
      assert.equal(a.counters('lo').sent, count, 'every queued reply left inside close()');
      // The turn after close(): a leftover paced flush would send on the closed descriptor (EBADF) here.
      await new Promise((r) => setImmediate(r));
      const deadline = Date.now() + 5000;
      while (got.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(got, Array.from({ length: count }, (_, i) => i));
      assert.deepEqual(errors, []);
      assert.equal(a.counters('lo').sendErrors, 0);
    } finally {
      a.close();
      b.close();
    }
  });

  it('a socket read full again and again is flagged backlogged (the server sheds DISCOVERs then), and not before', async () => {
    const native = loadNative();
    const port = freePort();
    const flags: boolean[] = [];
    const transport = await DhcpTransport.open({
      interfaces: ['lo'],
      port,
      onPacket: (_msg, info) => flags.push(info.backlogged),
      onError: () => undefined,
    });
    const tx = native.openUdpSocket('lo', 0);
    try {
      // 1,024 datagrams queued in one turn (sendmmsg is synchronous): the receiver then reads 16 full batches of 64 back to back.
      const count = 1024;
      const packets = Array.from({ length: count }, (_, i) => Buffer.from(`p${i}`));
      let at = 0;
      while (at < count) {
        const r = native.sendBatch(tx, packets, new Uint32Array(count).fill(0x7f000001), new Uint16Array(count).fill(port), at, count);
        assert.ok(r > 0, `sendBatch: ${r}`);
        at += r;
      }
      const deadline = Date.now() + 5000;
      while (flags.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(flags.length, count);
      // The first 7 full reads are not yet a backlog (a burst or a GC pause leaves as much); from the 8th on they are.
      assert.equal(flags.indexOf(true), 7 * 64);
      assert.ok(flags.slice(7 * 64).every((b) => b));
    } finally {
      closeSync(tx);
      transport.close();
    }
  });
});

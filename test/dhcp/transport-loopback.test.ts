/**
 * DhcpTransport on the loopback interface, in this process (root only: it
 * binds to a device). An exception thrown by onPacket used to reach the
 * addon, which hands it to napi_fatal_exception: the process died.
 */
import { strict as assert } from 'node:assert';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import { DhcpTransport } from '../../src/dhcp/transport.js';

const PORT = 10267;
const skip = process.getuid?.() !== 0 ? 'needs root (the transport binds to a device)' : false;

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
});

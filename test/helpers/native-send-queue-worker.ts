/**
 * Drives one of the addon's transfer sockets (NativeTransferSockets) into a
 * full send buffer and prints what happened as one JSON line. It runs inside
 * a namespace whose loopback has a slow qdisc (`ip netns exec NS node
 * this-file`): the qdisc holds the datagrams, so they stay charged to the
 * socket's small send buffer and send(2) answers EAGAIN, which loopback
 * without a qdisc never does.
 */
import { createSocket } from 'node:dgram';
import { NativeTransferSockets } from '../../src/tftp/native-socket.js';

const PACKETS = 200;
const BLKSIZE = 1468;

const client = createSocket('udp4');
await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()));
const received: number[] = [];
client.on('message', (m) => received.push(m.readUInt16BE(2)));
const sentLater: number[] = [];
const errors: string[] = [];
const factory = new NativeTransferSockets((e) => errors.push(e.message));
const socket = await factory.open({
  host: '127.0.0.1',
  clientIp: '127.0.0.1',
  clientPort: client.address().port,
  // The kernel's least (about 4.5 KiB): three datagrams fill it.
  sendBufferBytes: 1,
  strangerReply: Buffer.from([0, 5, 0, 5, 0]),
  portTaken: () => false,
  handlers: {
    onPacket: () => undefined,
    onStranger: () => false,
    onSent: (p) => sentLater.push(p.readUInt16BE(2)),
    onError: (e) => errors.push(String(e.code)),
  },
});
const packets = Array.from({ length: PACKETS }, (_, i) => {
  const p = Buffer.alloc(4 + BLKSIZE, i & 0xff);
  p.writeUInt16BE(3, 0);
  p.writeUInt16BE(i + 1, 2);
  return p;
});
const takenAtOnce = socket.send(packets, PACKETS);
// While sends wait in the queue the pump must not start (its blocks would pass them).
const pumpWhileQueued = socket.pump?.({ source: Buffer.alloc(BLKSIZE * 300), size: BLKSIZE * 300, blksize: BLKSIZE, lastBlock: 301, sent: PACKETS, sampleFirst: false });
const deadline = Date.now() + 20_000;
while (received.length < PACKETS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
const pumpAfterDrain = socket.pump?.({ source: Buffer.alloc(BLKSIZE * 300), size: BLKSIZE * 300, blksize: BLKSIZE, lastBlock: 301, sent: PACKETS, sampleFirst: false });
socket.close();
factory.stop();
client.close();
process.stdout.write(`${JSON.stringify({ connected: socket.connected, takenAtOnce, sentLater, received, errors, pumpWhileQueued, pumpAfterDrain })}\n`);

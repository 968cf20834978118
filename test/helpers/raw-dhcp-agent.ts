/**
 * The in-namespace half of RawDhcpClient (raw-dhcp-client.ts). Started as
 * `ip netns exec NS node raw-dhcp-agent IFACE PORT`, it opens a UDP socket
 * bound to IFACE (SO_BINDTODEVICE, through the project's native addon) on
 * 0.0.0.0:PORT, so it hears exactly what arrives on that link: broadcasts to
 * port 68 as a client does, or unicasts to giaddr:67 as a relay does.
 *
 * Protocol, one JSON object a line:
 *   stdin  {"id":1,"ip":"255.255.255.255","port":67,"data":"<hex>"}   send a datagram
 *   stdout {"ev":"ready"}                                              bound
 *          {"ev":"sent","id":1}  or  {"ev":"sent","id":1,"error":"…"}  after the kernel took it
 *          {"ev":"packet","ip":"10.1.1.1","port":67,"data":"<hex>"}   every datagram received
 *          {"ev":"error","code":"ENODEV","message":"…"}               open failed (then exit 1)
 * The agent exits when stdin closes.
 */
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { loadNative } from '../../src/net/native.js';

function emit(ev: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(ev)}\n`);
}

const [iface, portText] = process.argv.slice(2);
let fd: number;
try {
  fd = loadNative().openUdpSocket(iface ?? null, Number(portText));
} catch (err) {
  emit({ ev: 'error', code: (err as { code?: unknown }).code, message: (err as Error).message });
  process.exit(1);
}
const socket = createSocket({ type: 'udp4' });
socket.on('message', (msg, rinfo) => emit({ ev: 'packet', ip: rinfo.address, port: rinfo.port, data: msg.toString('hex') }));
socket.on('error', (err) => emit({ ev: 'error', code: (err as NodeJS.ErrnoException).code, message: err.message }));
await new Promise<void>((resolve) => socket.bind({ fd }, resolve));
socket.setBroadcast(true);
emit({ ev: 'ready' });

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue;
  const cmd = JSON.parse(line) as { id: number; ip: string; port: number; data: string };
  socket.send(Buffer.from(cmd.data, 'hex'), cmd.port, cmd.ip, (err) => {
    emit(err === null || err === undefined ? { ev: 'sent', id: cmd.id } : { ev: 'sent', id: cmd.id, error: err.message });
  });
}
socket.close();

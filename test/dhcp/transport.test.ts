/**
 * DhcpTransport on a multi-homed server, in network namespaces:
 *
 *   c1 (10.91.1.50) ──l1── srv (10.91.1.1, 10.91.2.1, 10.91.3.1) ──l2── c2 (10.91.2.50)
 *                                        │
 *                                        l3 (not served) ── c3 (10.91.3.50)
 *
 * The transport must run inside the server namespace, so this file is also
 * the agent that runs there: started with DCP_AGENT=server (a DhcpTransport)
 * or DCP_AGENT=client (a plain dgram socket), it takes JSON commands on stdin
 * and reports on stdout.
 */
import { strict as assert } from 'node:assert';
import { createSocket } from 'node:dgram';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { DhcpTransport } from '../../src/dhcp/transport.js';
import { formatIpv4, parseIpv4 } from '../../src/net/ipv4.js';
import { createTopology, netnsSkipReason, nodeArgsFor } from '../helpers/netns.js';
import type { Topology } from '../helpers/netns.js';

const SERVER_PORT = 10067;
const CLIENT_PORT = 10068;

type Json = Record<string, unknown>;

function emit(ev: Json): void {
  process.stdout.write(`${JSON.stringify(ev)}\n`);
}

function macBytes(mac: string): Uint8Array {
  return Uint8Array.from(mac.split(':').map((h) => parseInt(h, 16)));
}

async function runServerAgent(): Promise<void> {
  let transport: DhcpTransport | undefined;
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line) as Json;
    const id = cmd.id;
    try {
      switch (cmd.op) {
        case 'open':
          transport = await DhcpTransport.open({
            interfaces: cmd.interfaces as string[],
            port: cmd.port as number,
            onPacket: (msg, info) => emit({ ev: 'packet', iface: info.iface, sourceIp: formatIpv4(info.sourceIp), sourcePort: info.sourcePort, data: msg.toString() }),
            onError: (err, iface) => emit({ ev: 'error', iface, code: (err as { code?: unknown }).code, message: err.message }),
          });
          emit({ id, ok: true });
          break;
        case 'send': {
          if (transport === undefined) throw new Error('not open');
          const d = cmd.dest as { ip?: string; port: number; broadcast: boolean; arpMac?: string };
          transport.send(cmd.iface as string, Buffer.from(cmd.data as string), {
            ip: parseIpv4(d.ip ?? '0.0.0.0') ?? 0,
            port: d.port,
            broadcast: d.broadcast,
            arpMac: d.arpMac !== undefined ? macBytes(d.arpMac) : undefined,
          });
          // Counters move in dgram's send callback: answer once it has run.
          setTimeout(() => emit({ id, ok: true }), 20);
          break;
        }
        case 'counters':
          emit({ id, ok: true, counters: transport?.counters(cmd.iface as string | undefined) });
          break;
        case 'buffers':
          emit({ id, ok: true, buffers: transport?.bufferSizes(cmd.iface as string) });
          break;
        case 'close':
          transport?.close();
          emit({ id, ok: true });
          break;
        default:
          throw new Error(`unknown op ${String(cmd.op)}`);
      }
    } catch (err) {
      emit({ id, ok: false, code: (err as { code?: unknown }).code, iface: (err as { iface?: unknown }).iface, message: (err as Error).message });
    }
  }
  transport?.close();
}

async function runClientAgent(): Promise<void> {
  const sock = createSocket({ type: 'udp4' });
  sock.on('message', (msg, rinfo) => emit({ ev: 'packet', from: rinfo.address, port: rinfo.port, data: msg.toString() }));
  await new Promise<void>((resolve) => sock.bind(CLIENT_PORT, resolve));
  sock.setBroadcast(true);
  emit({ ev: 'ready' });
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line) as Json;
    sock.send(Buffer.from(cmd.data as string), cmd.port as number, cmd.ip as string, (err) =>
      emit({ id: cmd.id, ok: err === null, message: err?.message }),
    );
  }
  sock.close();
}

/** Test-side handle on an agent process. */
class Agent {
  readonly events: Json[] = [];
  private readonly waiters: { pred: (e: Json) => boolean; resolve: (e: Json) => void }[] = [];
  private nextId = 1;
  readonly stderr: string[] = [];

  constructor(readonly child: ChildProcess) {
    child.stderr?.on('data', (d: Buffer) => this.stderr.push(d.toString()));
    if (child.stdout === null) throw new Error('agent without stdout');
    createInterface({ input: child.stdout }).on('line', (line) => {
      let ev: Json;
      try {
        ev = JSON.parse(line) as Json;
      } catch {
        this.stderr.push(line);
        return;
      }
      this.events.push(ev);
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const w = this.waiters[i];
        if (w !== undefined && w.pred(ev)) {
          this.waiters.splice(i, 1);
          w.resolve(ev);
        }
      }
    });
  }

  static start(topo: Topology, ns: string, role: 'server' | 'client', wrap: readonly string[] = []): Agent {
    const args = [...wrap, process.execPath, ...nodeArgsFor(import.meta.url)];
    const cmd = args.shift() as string;
    return new Agent(topo.spawn(ns, cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, DCP_AGENT: role } }));
  }

  waitFor(pred: (e: Json) => boolean, timeoutMs = 5000): Promise<Json> {
    const seen = this.events.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent: timed out; events ${JSON.stringify(this.events)}; stderr ${this.stderr.join('')}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  async request(cmd: Json): Promise<Json> {
    const id = this.nextId++;
    this.child.stdin?.write(`${JSON.stringify({ ...cmd, id })}\n`);
    return this.waitFor((e) => e.id === id, 10_000);
  }

  packets(): Json[] {
    return this.events.filter((e) => e.ev === 'packet');
  }

  packet(data: string, timeoutMs?: number): Promise<Json> {
    return this.waitFor((e) => e.ev === 'packet' && e.data === data, timeoutMs);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function defineTests(): void {
  describe('DhcpTransport on a multi-homed server', { skip: netnsSkipReason() }, () => {
    let topo: Topology;
    let srv: Agent;
    const clients = new Map<string, Agent>();
    let if1: string;
    let if2: string;
    let if3: string;

    const client = (name: string): Agent => {
      const c = clients.get(name);
      if (c === undefined) throw new Error(`no client ${name}`);
      return c;
    };

    before(async () => {
      topo = await createTopology({
        namespaces: ['srv', 'c1', 'c2', 'c3'],
        links: [
          { name: 'l1', a: { ns: 'srv', cidr: '10.91.1.1/24' }, b: { ns: 'c1', cidr: '10.91.1.50/24', answerArp: false } },
          { name: 'l2', a: { ns: 'srv', cidr: '10.91.2.1/24' }, b: { ns: 'c2', cidr: '10.91.2.50/24' } },
          { name: 'l3', a: { ns: 'srv', cidr: '10.91.3.1/24' }, b: { ns: 'c3', cidr: '10.91.3.50/24' } },
        ],
      });
      if1 = topo.end('l1', 'a').ifname;
      if2 = topo.end('l2', 'a').ifname;
      if3 = topo.end('l3', 'a').ifname;
      for (const [ns, link] of [
        ['c1', 'l1'],
        ['c2', 'l2'],
        ['c3', 'l3'],
      ] as const) {
        // A client must have a route to send to 255.255.255.255.
        await topo.exec(ns, 'ip', ['route', 'add', 'default', 'dev', topo.end(link, 'b').ifname]);
        const agent = Agent.start(topo, ns, 'client');
        clients.set(ns, agent);
        await agent.waitFor((e) => e.ev === 'ready');
      }
      // A second address on c1 that no neighbour entry will ever be set for (c1 answers no ARP).
      await topo.exec('c1', 'ip', ['addr', 'add', '10.91.1.52/24', 'dev', topo.end('l1', 'b').ifname]);
      srv = Agent.start(topo, 'srv', 'server');
      const opened = await srv.request({ op: 'open', interfaces: [if1, if2], port: SERVER_PORT });
      assert.equal(opened.ok, true, JSON.stringify(opened));
    });

    after(async () => {
      await topo?.destroy();
    });

    test('reports the interface each broadcast arrived on', async () => {
      await client('c1').request({ ip: '255.255.255.255', port: SERVER_PORT, data: 'c1-bcast' });
      await client('c2').request({ ip: '255.255.255.255', port: SERVER_PORT, data: 'c2-bcast' });
      const p1 = await srv.packet('c1-bcast');
      const p2 = await srv.packet('c2-bcast');
      assert.deepEqual(
        { iface: p1.iface, sourceIp: p1.sourceIp, sourcePort: p1.sourcePort },
        { iface: if1, sourceIp: '10.91.1.50', sourcePort: CLIENT_PORT },
      );
      assert.deepEqual(
        { iface: p2.iface, sourceIp: p2.sourceIp, sourcePort: p2.sourcePort },
        { iface: if2, sourceIp: '10.91.2.50', sourcePort: CLIENT_PORT },
      );
      // One socket per interface: each broadcast is read exactly once.
      assert.equal(srv.packets().filter((p) => p.data === 'c1-bcast').length, 1);
    });

    test('reports a unicast (a relay, a renewing client) on the interface it arrived on', async () => {
      await client('c2').request({ ip: '10.91.2.1', port: SERVER_PORT, data: 'c2-unicast' });
      const p = await srv.packet('c2-unicast');
      assert.equal(p.iface, if2);
      assert.equal(p.sourceIp, '10.91.2.50');
    });

    test('a broadcast reply leaves only through its own interface', async () => {
      await srv.request({ op: 'send', iface: if1, data: 'bcast-to-l1', dest: { port: CLIENT_PORT, broadcast: true } });
      await srv.request({ op: 'send', iface: if2, data: 'bcast-to-l2', dest: { port: CLIENT_PORT, broadcast: true } });
      await client('c1').packet('bcast-to-l1');
      await client('c2').packet('bcast-to-l2');
      await sleep(150);
      assert.equal(client('c1').packets().filter((p) => p.data === 'bcast-to-l2').length, 0);
      assert.equal(client('c2').packets().filter((p) => p.data === 'bcast-to-l1').length, 0);
      assert.equal(client('c3').packets().length, 0);
      const b = await client('c1').packet('bcast-to-l1');
      assert.equal(b.from, '10.91.1.1', 'a broadcast leaves with the address of its own interface');
    });

    test('arpMac unicast reaches a client that answers no ARP, on its own link only', async () => {
      const c1 = topo.end('l1', 'b');
      // Control: without a neighbour entry the kernel cannot reach c1 (ARP is off there).
      await srv.request({ op: 'send', iface: if1, data: 'plain-to-52', dest: { ip: '10.91.1.52', port: CLIENT_PORT, broadcast: false } });
      await srv.request({ op: 'send', iface: if1, data: 'arp-to-50', dest: { ip: '10.91.1.50', port: CLIENT_PORT, broadcast: false, arpMac: c1.mac } });
      const got = await client('c1').packet('arp-to-50');
      assert.equal(got.from, '10.91.1.1');
      const neigh = await topo.exec('srv', 'ip', ['neigh', 'show', '10.91.1.50', 'dev', if1]);
      assert.match(neigh.stdout, new RegExp(`lladdr ${c1.mac}`));
      await sleep(300);
      assert.equal(client('c1').packets().filter((p) => p.data === 'plain-to-52').length, 0, 'unicast without a neighbour entry must not arrive');
      assert.equal(client('c2').packets().filter((p) => p.data === 'arp-to-50').length, 0);
      const counters = (await srv.request({ op: 'counters', iface: if1 })).counters as Json;
      assert.equal(counters.arpFallbacks, 0);
    });

    test('plain unicast (ciaddr, relay) goes out of the named interface', async () => {
      await srv.request({ op: 'send', iface: if2, data: 'unicast-c2', dest: { ip: '10.91.2.50', port: CLIENT_PORT, broadcast: false } });
      const got = await client('c2').packet('unicast-c2');
      assert.equal(got.from, '10.91.2.1');
    });

    test('an interface not in the list gets no service', async () => {
      await client('c3').request({ ip: '255.255.255.255', port: SERVER_PORT, data: 'c3-bcast' });
      await client('c3').request({ ip: '10.91.3.1', port: SERVER_PORT, data: 'c3-unicast' });
      await client('c1').request({ ip: '255.255.255.255', port: SERVER_PORT, data: 'marker' });
      await srv.packet('marker');
      await sleep(200);
      assert.deepEqual(
        srv.packets().filter((p) => String(p.data).startsWith('c3-')),
        [],
      );
      const r = await srv.request({ op: 'send', iface: if3, data: 'x', dest: { port: CLIENT_PORT, broadcast: true } });
      assert.equal(r.ok, false);
      assert.equal(r.code, 'DHCP_ERR_UNKNOWN_INTERFACE');
    });

    test('counts sends and asks for large socket buffers', async () => {
      const before = (await srv.request({ op: 'counters' })).counters as Json;
      await srv.request({ op: 'send', iface: if2, data: 'count-me', dest: { port: CLIENT_PORT, broadcast: true } });
      await client('c2').packet('count-me');
      const afterCounters = (await srv.request({ op: 'counters' })).counters as Json;
      assert.equal(afterCounters.sent, (before.sent as number) + 1);
      assert.equal(afterCounters.sendErrors, 0);
      assert.ok((afterCounters.received as number) >= 3);
      const buffers = (await srv.request({ op: 'buffers', iface: if1 })).buffers as { recv: number; send: number };
      // Linux reports twice the size asked for; root may pass net.core.rmem_max (SO_RCVBUFFORCE).
      assert.ok(buffers.recv >= 4 * 1024 * 1024, `recv buffer ${buffers.recv}`);
      assert.ok(buffers.send >= 4 * 1024 * 1024, `send buffer ${buffers.send}`);
    });

    test('refuses a missing interface and a port already taken, naming the interface', async () => {
      const other = Agent.start(topo, 'srv', 'server');
      try {
        const missing = await other.request({ op: 'open', interfaces: [if2, 'nosuchif0'], port: SERVER_PORT + 10 });
        assert.deepEqual({ ok: missing.ok, code: missing.code, iface: missing.iface }, { ok: false, code: 'DHCP_ERR_NO_INTERFACE', iface: 'nosuchif0' });
        const taken = await other.request({ op: 'open', interfaces: [if1], port: SERVER_PORT });
        assert.deepEqual({ ok: taken.ok, code: taken.code, iface: taken.iface }, { ok: false, code: 'DHCP_ERR_PORT_IN_USE', iface: if1 });
        // The failed opens released their sockets: the same port on another interface still binds.
        const free = await other.request({ op: 'open', interfaces: [if3], port: SERVER_PORT });
        assert.equal(free.ok, true, JSON.stringify(free));
      } finally {
        other.child.kill();
      }
    });

    test('unprivileged: port 67 is refused with DHCP_ERR_BIND_DENIED, and arpMac falls back to broadcast', async () => {
      const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
      const agent = Agent.start(topo, 'srv', 'server', nobody);
      try {
        const denied = await agent.request({ op: 'open', interfaces: [if1], port: 67 });
        assert.deepEqual({ ok: denied.ok, code: denied.code, iface: denied.iface }, { ok: false, code: 'DHCP_ERR_BIND_DENIED', iface: if1 });
        const opened = await agent.request({ op: 'open', interfaces: [if1], port: SERVER_PORT + 20 });
        assert.equal(opened.ok, true, JSON.stringify(opened));
        await agent.request({ op: 'send', iface: if1, data: 'fallback', dest: { ip: '10.91.1.50', port: CLIENT_PORT, broadcast: false, arpMac: '02:00:00:00:00:99' } });
        const got = await client('c1').packet('fallback');
        assert.equal(got.from, '10.91.1.1');
        const counters = (await agent.request({ op: 'counters' })).counters as Json;
        assert.equal(counters.arpFallbacks, 1);
        assert.equal(counters.sent, 1);
        const err = await agent.waitFor((e) => e.ev === 'error');
        assert.equal(err.code, 'EPERM');
      } finally {
        agent.child.kill();
      }
    });
  });
}

const role = process.env.DCP_AGENT;
if (role === 'server') await runServerAgent();
else if (role === 'client') await runClientAgent();
else defineTests();

/**
 * Relayed DHCP against the real `dcplane serve` (RFC 2131 §4.1, RFC 3046,
 * RFC 3527). A relay namespace plays the relay agent: it sends from port 67
 * to the server's unicast address, with giaddr, hops and option 82 set as a
 * relay does, and must get the replies back at giaddr:67.
 *
 *   srv 10.88.20.1/24 ──eth1── 10.88.20.2 relay 10.88.21.1, 10.88.30.1, 10.88.45.1 (eth2) ── down
 *
 * Subnets 2, 3 and 4 exist only behind the relay: 2 is chosen by giaddr
 * inside it, 3 by its relay_addresses, 4 by link selection (82.5).
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import { MessageType, Opt, RelaySubOpt } from '../../src/dhcp/constants.js';
import type { DhcpServerProcess } from '../helpers/dhcp-server-process.js';
import { addAddress, isRunning, listLeases, startServer } from '../helpers/e2e-fixtures.js';
import { createTopology, netnsSkipReason } from '../helpers/netns.js';
import type { Topology } from '../helpers/netns.js';
import { clientPacket, describeReply, ov, RawDhcpClient, randomXid, viewReply } from '../helpers/raw-dhcp-client.js';
import type { OptionInput, RawReply } from '../helpers/raw-dhcp-client.js';

const SERVER = '10.88.20.1';

const config = {
  api: { listen: '127.0.0.1:18802' },
  dhcp: {
    enabled: true,
    interfaces: ['eth1'],
    lease_time: 3600,
    subnets: [
      { id: 1, subnet: '10.88.20.0/24', pools: ['10.88.20.100-10.88.20.149'], routers: ['10.88.20.1'] },
      { id: 2, subnet: '10.88.21.0/24', pools: ['10.88.21.100-10.88.21.149'], routers: ['10.88.21.1'], dns_servers: ['10.88.21.53'], lease_time: 2100 },
      { id: 3, subnet: '10.88.31.0/24', pools: ['10.88.31.100-10.88.31.149'], routers: ['10.88.31.1'], relay_addresses: ['10.88.30.1'] },
      { id: 4, subnet: '10.88.32.0/24', pools: ['10.88.32.100-10.88.32.149'], routers: ['10.88.32.1'] },
    ],
  },
};

function relayInfo(circuit: string, remote: Uint8Array, linkSelection?: string): Uint8Array {
  const parts = [ov.sub(RelaySubOpt.CIRCUIT_ID, circuit), ov.sub(RelaySubOpt.REMOTE_ID, remote)];
  if (linkSelection !== undefined) parts.push(ov.sub(RelaySubOpt.LINK_SELECTION, ov.ip(linkSelection)));
  return ov.concat(...parts);
}

function lastOctetIn(ip: string, prefix: string, lo: number, hi: number): boolean {
  const n = Number(ip.slice(prefix.length));
  return ip.startsWith(prefix) && n >= lo && n <= hi;
}

describe('DHCP through a relay agent', { skip: netnsSkipReason() }, () => {
  let topo: Topology;
  let server: DhcpServerProcess;
  let relay: RawDhcpClient;

  before(async () => {
    topo = await createTopology({
      namespaces: ['srv', 'relay', 'down'],
      links: [
        { name: 'up', a: { ns: 'srv', name: 'eth1', cidr: '10.88.20.1/24' }, b: { ns: 'relay', name: 'eth1', cidr: '10.88.20.2/24' } },
        { name: 'down', a: { ns: 'relay', name: 'eth2', cidr: '10.88.21.1/24' }, b: { ns: 'down', name: 'eth1' } },
      ],
      routes: [
        { ns: 'srv', to: '10.88.21.0/24', via: '10.88.20.2' },
        { ns: 'srv', to: '10.88.30.0/24', via: '10.88.20.2' },
        { ns: 'srv', to: '10.88.45.0/24', via: '10.88.20.2' },
      ],
    });
    await addAddress(topo, 'relay', 'eth2', '10.88.30.1/24');
    await addAddress(topo, 'relay', 'eth2', '10.88.45.1/24');
    server = await startServer(topo, 'srv', config);
    relay = await RawDhcpClient.start(topo, 'relay', 'eth1', { port: 67 });
  });

  after(async () => {
    await relay?.close();
    await server?.dispose();
    await topo?.destroy();
  });

  /** A relayed DISCOVER then REQUEST, both checked as they come back; returns the ACK. */
  async function relayedDora(mac: string, giaddr: string, option82: Uint8Array): Promise<{ offer: RawReply; ack: RawReply }> {
    const xid = randomXid();
    const base = { mac, xid, giaddr, hops: 1, broadcast: false };
    const opts = (extra: ReadonlyArray<readonly [number, OptionInput]>): ReadonlyArray<readonly [number, OptionInput]> => [
      [Opt.PARAMETER_REQUEST_LIST, [1, 3, 6, 51, 54]],
      ...extra,
      // A relay appends option 82 after the client's options (RFC 3046 §2.1).
      [Opt.RELAY_AGENT_INFO, option82],
    ];
    const offer = await relay.exchange(clientPacket({ ...base, type: MessageType.DISCOVER, options: opts([]) }), { ip: SERVER, port: 67, want: [MessageType.OFFER] });
    assert.ok(offer?.packet !== undefined, `no OFFER for ${mac} via ${giaddr}\n--- server ---\n${server.logText()}`);
    checkRelayed(offer, giaddr, option82);
    const yiaddr = viewReply(offer.packet).yiaddr;
    const request = clientPacket({
      ...base,
      type: MessageType.REQUEST,
      options: opts([[Opt.REQUESTED_IP, ov.ip(yiaddr)], [Opt.SERVER_ID, ov.ip(viewReply(offer.packet).serverId ?? '0.0.0.0')]]),
    });
    const ack = await relay.exchange(request, { ip: SERVER, port: 67, want: [MessageType.ACK, MessageType.NAK] });
    assert.ok(ack?.packet !== undefined, `no ACK for ${mac} via ${giaddr}\n--- server ---\n${server.logText()}`);
    assert.equal(viewReply(ack.packet).type, 'ACK', describeReply(ack));
    assert.equal(viewReply(ack.packet).yiaddr, yiaddr, 'the ACK confirms the offered address');
    checkRelayed(ack, giaddr, option82);
    return { offer, ack };
  }

  function checkRelayed(r: RawReply, giaddr: string, option82: Uint8Array): void {
    const p = r.packet;
    assert.ok(p !== undefined);
    // RFC 2131 §4.1: "If the 'giaddr' field in a DHCP message from a client is non-zero, the server sends any return messages to the 'DHCP server' port on the BOOTP relay agent whose address appears in 'giaddr'."
    assert.equal(r.fromIp, SERVER, describeReply(r));
    assert.equal(r.fromPort, 67, `replies leave from the server port: ${describeReply(r)}`);
    assert.equal(p.op, 2);
    assert.equal(viewReply(p).giaddr, giaddr, describeReply(r));
    // RFC 3046 §2.2: the server "MUST copy the Relay Agent Information option as the last DHCP option in the response".
    const echoed = p.options.get(Opt.RELAY_AGENT_INFO);
    assert.ok(echoed !== undefined, `option 82 echoed: ${describeReply(r)}`);
    assert.deepEqual(Buffer.from(echoed), Buffer.from(option82), 'option 82 byte for byte');
    const codes = [...p.options.keys()];
    assert.equal(codes[codes.length - 1], Opt.RELAY_AGENT_INFO, `82 is the last option: ${codes.join(',')}`);
    assert.equal(viewReply(p).serverId, SERVER, describeReply(r));
  }

  test('giaddr inside a subnet that exists only behind the relay selects that subnet; 82 echoed', async () => {
    const mac = '02:88:21:00:00:01';
    const o82 = relayInfo('eth2:vlan21', Uint8Array.of(0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc));
    const { offer, ack } = await relayedDora(mac, '10.88.21.1', o82);
    const v = viewReply(ack.packet as NonNullable<RawReply['packet']>);
    assert.ok(lastOctetIn(v.yiaddr, '10.88.21.', 100, 149), describeReply(ack));
    assert.deepEqual(v.routers, ['10.88.21.1']);
    assert.deepEqual(v.dns, ['10.88.21.53']);
    assert.equal(v.leaseTime, 2100);
    assert.equal(viewReply(offer.packet as NonNullable<RawReply['packet']>).yiaddr, v.yiaddr);
    const lease = (await listLeases(server.dataDir)).find((l) => l.mac === mac);
    assert.deepEqual({ ip: lease?.ip, subnet: lease?.subnet_id, state: lease?.state }, { ip: v.yiaddr, subnet: 2, state: 'active' });
  });

  test('a giaddr named in relay_addresses selects that subnet', async () => {
    const mac = '02:88:31:00:00:01';
    const o82 = relayInfo('port-7', ov.text('rack-31'));
    const { ack } = await relayedDora(mac, '10.88.30.1', o82);
    const v = viewReply(ack.packet as NonNullable<RawReply['packet']>);
    assert.ok(lastOctetIn(v.yiaddr, '10.88.31.', 100, 149), describeReply(ack));
    assert.deepEqual(v.routers, ['10.88.31.1']);
    const lease = (await listLeases(server.dataDir)).find((l) => l.mac === mac);
    assert.equal(lease?.subnet_id, 3);
  });

  test('link selection (82.5) picks a different subnet than giaddr', async () => {
    const mac = '02:88:32:00:00:01';
    // giaddr alone would select subnet 2; RFC 3527 says the link-selection sub-option wins.
    const o82 = relayInfo('eth2:vlan32', ov.text('rack-32'), '10.88.32.0');
    const { ack } = await relayedDora(mac, '10.88.21.1', o82);
    const v = viewReply(ack.packet as NonNullable<RawReply['packet']>);
    assert.ok(lastOctetIn(v.yiaddr, '10.88.32.', 100, 149), describeReply(ack));
    assert.deepEqual(v.routers, ['10.88.32.1']);
    const lease = (await listLeases(server.dataDir)).find((l) => l.mac === mac);
    assert.equal(lease?.subnet_id, 4);
  });

  test('a relayed REQUEST for an address off the relay\'s link gets a NAK at giaddr:67 with the broadcast bit and 82 echoed', async () => {
    const mac = '02:88:21:00:00:0e';
    const o82 = relayInfo('eth2:vlan21', ov.text('rack-21'));
    const request = clientPacket({
      type: MessageType.REQUEST, mac, giaddr: '10.88.21.1', hops: 1, broadcast: false,
      options: [[Opt.REQUESTED_IP, ov.ip('10.88.31.120')], [Opt.SERVER_ID, ov.ip(SERVER)], [Opt.RELAY_AGENT_INFO, o82]],
    });
    const nak = await relay.exchange(request, { ip: SERVER, port: 67, want: [MessageType.ACK, MessageType.NAK] });
    assert.ok(nak?.packet !== undefined, `no answer\n${server.logText()}`);
    assert.equal(viewReply(nak.packet).type, 'NAK', describeReply(nak));
    checkRelayed(nak, '10.88.21.1', o82);
    // RFC 2131 §4.3.2: "The server MUST set the broadcast bit in the DHCPNAK, so that the relay agent will broadcast the DHCPNAK to the client."
    assert.equal(nak.packet.flags & 0x8000, 0x8000, describeReply(nak));
    assert.equal(viewReply(nak.packet).yiaddr, '0.0.0.0');
  });

  test('a relay whose giaddr matches no subnet and no relay_addresses gets no answer', async () => {
    const mac = '02:88:45:00:00:01';
    const discover = clientPacket({
      type: MessageType.DISCOVER, mac, giaddr: '10.88.45.1', hops: 1, broadcast: false,
      options: [[Opt.RELAY_AGENT_INFO, relayInfo('x', ov.text('y'))]],
    });
    const r = await relay.exchange(discover, { ip: SERVER, port: 67, attempts: 2, timeoutMs: 1000 });
    assert.equal(r, undefined, `unexpected ${describeReply(r)}`);
    assert.equal((await listLeases(server.dataDir)).filter((l) => l.mac === mac).length, 0);
    assert.ok(isRunning(server));
  });
});

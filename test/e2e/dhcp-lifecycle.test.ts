/**
 * A lease's life against the real `dcplane serve`: renew, release, decline,
 * inform, a reservation by MAC, and pool exhaustion, checked on the wire,
 * in `dcplane leases list` and on the Prometheus endpoint.
 *
 *   c1 ──eth1── srv 10.88.40.1/24  (subnet 1: pool .100-.120, reservation .50)
 *   c2 ──eth2── srv 10.88.41.1/24  (subnet 2: a pool of three)
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MessageType, Opt } from '../../src/dhcp/constants.js';
import { runDhclient, runUdhcpc } from '../helpers/dhcp-clients.js';
import type { DhcpServerProcess } from '../helpers/dhcp-server-process.js';
import { addAddress, delAddress, eventually, isRunning, listLeases, metricValue, scrapeMetrics, startServer } from '../helpers/e2e-fixtures.js';
import type { LeaseRow } from '../helpers/e2e-fixtures.js';
import { createTopology, netnsSkipReason } from '../helpers/netns.js';
import type { Topology } from '../helpers/netns.js';
import { clientPacket, describeReply, ov, RawDhcpClient, randomXid, viewReply } from '../helpers/raw-dhcp-client.js';

const S1 = '10.88.40.1';
const S2 = '10.88.41.1';
const API = '127.0.0.1:18803';
const RESERVED_MAC = '02:88:40:00:00:50';

const config = {
  api: { listen: API },
  dhcp: {
    enabled: true,
    interfaces: ['eth1', 'eth2'],
    lease_time: 600,
    decline_probation: 3600,
    subnets: [
      {
        id: 1,
        subnet: '10.88.40.0/24',
        pools: ['10.88.40.100-10.88.40.120'],
        routers: ['10.88.40.1'],
        dns_servers: ['10.88.40.53'],
        domain_name: 'life.e2e.test',
        reservations: [{ mac: RESERVED_MAC, ip: '10.88.40.50', hostname: 'node-50' }],
      },
      { id: 2, subnet: '10.88.41.0/24', pools: ['10.88.41.100-10.88.41.102'], routers: ['10.88.41.1'] },
    ],
  },
};

async function leaseOf(dataDir: string, ip: string): Promise<LeaseRow | undefined> {
  return (await listLeases(dataDir)).find((l) => l.ip === ip);
}

/**
 * Waits until `leases list` shows `ip` in one of `states` (the store commits asynchronously for messages that
 * get no reply). A released lease is 'released' until the reclaimer's next pass makes it 'expired' (free, still
 * remembered for its client): on a loaded host a poll can miss the first, so a release accepts both.
 */
async function leaseInState(dataDir: string, ip: string, ...states: string[]): Promise<LeaseRow | undefined> {
  return eventually(async () => {
    const l = await leaseOf(dataDir, ip);
    return l !== undefined && states.includes(l.state) ? l : undefined;
  }, 10_000, 250);
}

describe('DHCP lease lifecycle', { skip: netnsSkipReason() }, () => {
  let topo: Topology;
  let server: DhcpServerProcess;
  let c1: RawDhcpClient;
  let c2: RawDhcpClient;

  before(async () => {
    topo = await createTopology({
      namespaces: ['srv', 'c1', 'c2'],
      links: [
        { name: 'l1', a: { ns: 'srv', name: 'eth1', cidr: `${S1}/24` }, b: { ns: 'c1', name: 'eth1' } },
        { name: 'l2', a: { ns: 'srv', name: 'eth2', cidr: `${S2}/24` }, b: { ns: 'c2', name: 'eth1' } },
      ],
    });
    server = await startServer(topo, 'srv', config);
    [c1, c2] = await Promise.all([RawDhcpClient.start(topo, 'c1', 'eth1'), RawDhcpClient.start(topo, 'c2', 'eth1')]);
  });

  after(async () => {
    await c1?.close();
    await c2?.close();
    await server?.dispose();
    await topo?.destroy();
  });

  test('reservation by MAC: udhcpc with the reserved MAC gets the reserved address and host name', async () => {
    const r = await runUdhcpc(topo, 'c1', 'eth1', { mac: RESERVED_MAC });
    assert.equal(r.lease?.ip, '10.88.40.50', `${r.output}\n--- server ---\n${server.logText()}`);
    assert.equal(r.lease?.hostname, 'node-50', r.output);
    assert.equal(r.lease?.serverId, S1);
    const l = await leaseOf(server.dataDir, '10.88.40.50');
    assert.deepEqual({ mac: l?.mac, hostname: l?.hostname, state: l?.state }, { mac: RESERVED_MAC, hostname: 'node-50', state: 'active' });
  });

  test('dhclient started again with its lease file reboots (INIT-REBOOT) into the same address, with a later expiry', async () => {
    const mac = '02:88:40:00:04:01';
    const dir = mkdtempSync(join(tmpdir(), 'dcplane-e2e-dhclient-'));
    try {
      const first = await runDhclient(topo, 'c1', 'eth1', { mac, workDir: dir });
      assert.ok(first.lease !== undefined, `${first.output}\n--- server ---\n${server.logText()}`);
      const before = await leaseOf(server.dataDir, first.lease.ip);
      await new Promise((r) => setTimeout(r, 1100)); // lease times have a resolution of one second
      const second = await runDhclient(topo, 'c1', 'eth1', { workDir: dir });
      assert.ok(
        second.events.some((e) => e.event === 'REBOOT'),
        `dhclient rebooted into its lease (events: ${second.events.map((e) => e.event).join(',')})\n${second.output}`,
      );
      assert.equal(second.lease?.ip, first.lease.ip, second.output);
      const after = await leaseOf(server.dataDir, first.lease.ip);
      assert.equal(after?.mac, mac);
      assert.ok(Date.parse(after?.expires ?? '') > Date.parse(before?.expires ?? ''), `expiry moved: ${before?.expires} → ${after?.expires}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('renew: a unicast REQUEST with ciaddr gets an ACK for the same address and a later expiry; then release', async () => {
    const mac = '02:88:40:00:01:01';
    const { ip } = await c1.dora(mac);
    const before = await leaseOf(server.dataDir, ip);
    assert.equal(before?.state, 'active');
    // The client configures its lease, as RENEWING needs an address to send from and receive at.
    await addAddress(topo, 'c1', 'eth1', `${ip}/24`);
    try {
      await new Promise((r) => setTimeout(r, 1100)); // lease times have a resolution of one second
      const renew = clientPacket({ type: MessageType.REQUEST, mac, ciaddr: ip, broadcast: false, options: [[Opt.PARAMETER_REQUEST_LIST, [1, 3, 6, 51]]] });
      const ack = await c1.exchange(renew, { ip: S1, port: 67, want: [MessageType.ACK, MessageType.NAK] });
      assert.ok(ack?.packet !== undefined, `no answer to the renewal\n--- server ---\n${server.logText()}`);
      const v = viewReply(ack.packet);
      assert.equal(v.type, 'ACK', describeReply(ack));
      assert.equal(v.yiaddr, ip, describeReply(ack));
      assert.equal(v.leaseTime, 600);
      assert.equal(v.serverId, S1);
      assert.equal(ack.fromIp, S1);
      const after = await leaseOf(server.dataDir, ip);
      assert.equal(after?.state, 'active');
      assert.equal(after?.mac, mac);
      assert.ok(Date.parse(after?.expires ?? '') > Date.parse(before?.expires ?? ''), `expiry moved: ${before?.expires} → ${after?.expires}`);

      // REBINDING (RFC 2131 §4.4.5): the same REQUEST broadcast, as after T2 when the server did not answer the renewal.
      const rebind = clientPacket({ type: MessageType.REQUEST, mac, ciaddr: ip, broadcast: false, options: [[Opt.PARAMETER_REQUEST_LIST, [1, 3, 6, 51]]] });
      const rebound = await c1.exchange(rebind, { want: [MessageType.ACK, MessageType.NAK] });
      assert.equal(rebound?.packet !== undefined ? viewReply(rebound.packet).type : undefined, 'ACK', describeReply(rebound));
      assert.equal(viewReply(rebound?.packet ?? rebind).yiaddr, ip, describeReply(rebound));

      // RFC 2131 §4.4.6: RELEASE is unicast to the server, with ciaddr, and gets no reply.
      const since = c1.received.length;
      const release = clientPacket({ type: MessageType.RELEASE, mac, ciaddr: ip, broadcast: false, options: [[Opt.SERVER_ID, ov.ip(S1)]] });
      await c1.send(release, { ip: S1, port: 67 });
      const released = await leaseInState(server.dataDir, ip, 'released', 'expired');
      assert.ok(released !== undefined, JSON.stringify(await leaseOf(server.dataDir, ip)));
      assert.equal(released.mac, mac);
      const replies = (await c1.collect(300, since)).filter((r) => r.packet?.xid === release.xid);
      assert.equal(replies.length, 0, `RELEASE answered: ${replies.map(describeReply).join('\n')}`);
    } finally {
      await delAddress(topo, 'c1', 'eth1', `${ip}/24`);
    }
  });

  test('decline: the declined address shows as declined and is offered to no one, even when asked for', async () => {
    const mac = '02:88:40:00:02:01';
    const { ip } = await c1.dora(mac);
    const decline = clientPacket({ type: MessageType.DECLINE, mac, options: [[Opt.REQUESTED_IP, ov.ip(ip)], [Opt.SERVER_ID, ov.ip(S1)]] });
    await c1.send(decline);
    const declined = await leaseInState(server.dataDir, ip, 'declined');
    assert.ok(declined !== undefined, `not declined: ${JSON.stringify(await leaseOf(server.dataDir, ip))}\n${server.logText()}`);
    // Control: a requested free address is honoured (RFC 2131 §4.3.1), so the refusals below are the probation's doing.
    const control = await c1.exchange(clientPacket({ type: MessageType.DISCOVER, mac: '02:88:40:00:02:09', options: [[Opt.REQUESTED_IP, ov.ip('10.88.40.119')]] }), { want: [MessageType.OFFER] });
    assert.equal(control?.packet !== undefined ? viewReply(control.packet).yiaddr : undefined, '10.88.40.119', describeReply(control));
    // Every client, the decliner too, asks for exactly that address: without the probation it would be free to offer.
    for (const m of [mac, '02:88:40:00:02:02', '02:88:40:00:02:03']) {
      const discover = clientPacket({ type: MessageType.DISCOVER, mac: m, options: [[Opt.REQUESTED_IP, ov.ip(ip)]] });
      const offer = await c1.exchange(discover, { want: [MessageType.OFFER] });
      assert.ok(offer?.packet !== undefined, `${m} got no OFFER at all`);
      assert.notEqual(viewReply(offer.packet).yiaddr, ip, `declined ${ip} offered to ${m}`);
    }
  });

  test('inform: a client with its own address gets an ACK with options, no yiaddr and no lease time', async () => {
    const mac = '02:88:40:00:03:01';
    const ip = '10.88.40.77';
    await addAddress(topo, 'c1', 'eth1', `${ip}/24`);
    try {
      const inform = clientPacket({ type: MessageType.INFORM, mac, ciaddr: ip, broadcast: false, xid: randomXid(), options: [[Opt.PARAMETER_REQUEST_LIST, [1, 3, 6, 15, 51]]] });
      const ack = await c1.exchange(inform, { ip: S1, port: 67, want: [MessageType.ACK, MessageType.NAK] });
      assert.ok(ack?.packet !== undefined, `no answer to INFORM\n${server.logText()}`);
      const v = viewReply(ack.packet);
      assert.equal(v.type, 'ACK', describeReply(ack));
      // RFC 2131 §4.3.5: "The server MUST NOT send a lease expiration time to the client and SHOULD NOT fill in 'yiaddr'."
      assert.equal(v.yiaddr, '0.0.0.0', describeReply(ack));
      assert.equal(ack.packet.options.has(Opt.LEASE_TIME), false, describeReply(ack));
      assert.equal(v.serverId, S1);
      assert.deepEqual(v.routers, ['10.88.40.1']);
      assert.deepEqual(v.dns, ['10.88.40.53']);
      assert.equal(v.domain, 'life.e2e.test');
      assert.equal(v.subnetMask, '255.255.255.0');
      assert.equal((await listLeases(server.dataDir)).filter((l) => l.ip === ip || l.mac === mac).length, 0, 'INFORM makes no lease');
    } finally {
      await delAddress(topo, 'c1', 'eth1', `${ip}/24`);
    }
  });

  test('exhaustion: a pool of three serves three clients, the fourth gets nothing and it is counted; a release lets it in', async () => {
    const macs = ['02:88:41:00:00:01', '02:88:41:00:00:02', '02:88:41:00:00:03'];
    const ips: string[] = [];
    for (const m of macs) ips.push((await c2.dora(m)).ip);
    assert.deepEqual([...ips].sort(), ['10.88.41.100', '10.88.41.101', '10.88.41.102']);

    const fourth = '02:88:41:00:00:04';
    const none = await c2.exchange(clientPacket({ type: MessageType.DISCOVER, mac: fourth }), { attempts: 2, timeoutMs: 1000 });
    assert.equal(none, undefined, `a fourth address from a pool of three: ${describeReply(none)}`);

    const m = await scrapeMetrics(topo, 'srv', API);
    assert.ok(metricValue(m.samples, 'dcplane_dhcp_pool_exhausted_total', { subnet: '2' }) > 0, m.text);
    assert.equal(metricValue(m.samples, 'dcplane_dhcp_pool_addresses_used', { subnet: '2' }), 3, m.text);
    assert.equal(metricValue(m.samples, 'dcplane_dhcp_pool_addresses', { subnet: '2' }), 3, m.text);
    assert.ok(server.logText().includes('pool exhausted'), 'exhaustion is logged');

    const freed = ips[0] as string;
    await c2.send(clientPacket({ type: MessageType.RELEASE, mac: macs[0] as string, ciaddr: freed, options: [[Opt.SERVER_ID, ov.ip(S2)]] }));
    assert.ok((await leaseInState(server.dataDir, freed, 'released', 'expired')) !== undefined);
    const { ip } = await c2.dora(fourth);
    assert.equal(ip, freed, 'the fourth client gets the released address');
    assert.equal((await leaseOf(server.dataDir, freed))?.mac, fourth);
    assert.ok(isRunning(server), server.logText());
  });
});

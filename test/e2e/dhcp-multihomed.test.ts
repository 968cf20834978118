/**
 * One `dcplane serve` on a multi-homed host, real clients on two links at
 * once, and a third link it was not told to serve:
 *
 *   c1 (udhcpc) ──eth1── srv 10.88.1.1/24
 *   c2 (dhclient) ─eth2── srv 10.88.2.1/24
 *   c3 (udhcpc) ──eth3── srv 10.88.3.1/24   (not in dhcp.interfaces, though a subnet matches it)
 *
 * Each client must get an address, router, DNS, lease time and server
 * identifier of its own link (RFC 2131 §4.1: the subnet follows the
 * interface the request came in on), and nothing may answer on eth3.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import { runDhclient, runUdhcpc } from '../helpers/dhcp-clients.js';
import type { DhcpServerProcess } from '../helpers/dhcp-server-process.js';
import { eventually, isRunning, listLeases, startServer } from '../helpers/e2e-fixtures.js';
import { createTopology, netnsSkipReason } from '../helpers/netns.js';
import type { Topology } from '../helpers/netns.js';

const MAC1 = '02:88:01:00:00:01';
const MAC2 = '02:88:02:00:00:02';
const MAC3 = '02:88:03:00:00:03';

const config = {
  api: { listen: '127.0.0.1:18801' },
  dhcp: {
    enabled: true,
    interfaces: ['eth1', 'eth2'],
    lease_time: 3600,
    subnets: [
      {
        id: 1,
        subnet: '10.88.1.0/24',
        pools: ['10.88.1.100-10.88.1.149'],
        routers: ['10.88.1.254'],
        dns_servers: ['10.88.1.53'],
        domain_name: 'one.e2e.test',
        lease_time: 1200,
      },
      {
        id: 2,
        subnet: '10.88.2.0/24',
        pools: ['10.88.2.150-10.88.2.199'],
        routers: ['10.88.2.254'],
        dns_servers: ['10.88.2.53', '10.88.2.54'],
        domain_name: 'two.e2e.test',
        lease_time: 1800,
      },
      // A subnet for the third link exists, so only dhcp.interfaces keeps eth3 unserved.
      { id: 3, subnet: '10.88.3.0/24', pools: ['10.88.3.100-10.88.3.149'], routers: ['10.88.3.254'] },
    ],
  },
};

function inRange(ip: string, prefix: string, lo: number, hi: number): boolean {
  if (!ip.startsWith(prefix)) return false;
  const last = Number(ip.slice(prefix.length));
  return Number.isInteger(last) && last >= lo && last <= hi;
}

describe('DHCP on a multi-homed server', { skip: netnsSkipReason() }, () => {
  let topo: Topology;
  let server: DhcpServerProcess;

  before(async () => {
    topo = await createTopology({
      namespaces: ['srv', 'c1', 'c2', 'c3'],
      links: [
        { name: 'l1', a: { ns: 'srv', name: 'eth1', cidr: '10.88.1.1/24' }, b: { ns: 'c1', name: 'eth1', mac: MAC1 } },
        { name: 'l2', a: { ns: 'srv', name: 'eth2', cidr: '10.88.2.1/24' }, b: { ns: 'c2', name: 'eth1', mac: MAC2 } },
        { name: 'l3', a: { ns: 'srv', name: 'eth3', cidr: '10.88.3.1/24' }, b: { ns: 'c3', name: 'eth1', mac: MAC3 } },
      ],
    });
    server = await startServer(topo, 'srv', config);
  });

  after(async () => {
    await server?.dispose();
    await topo?.destroy();
  });

  test('udhcpc on eth1 and dhclient on eth2, at the same time, each get their own link\'s subnet', async () => {
    const [u, d] = await Promise.all([runUdhcpc(topo, 'c1', 'eth1', { timeoutMs: 20_000 }), runDhclient(topo, 'c2', 'eth1', { timeoutMs: 20_000 })]);
    const why = (r: { output: string }): string => `${r.output}\n--- server ---\n${server.logText()}`;

    assert.ok(u.lease !== undefined, why(u));
    assert.ok(inRange(u.lease.ip, '10.88.1.', 100, 149), `udhcpc got ${u.lease.ip}\n${why(u)}`);
    assert.equal(u.lease.subnetMask, '255.255.255.0');
    assert.deepEqual(u.lease.routers, ['10.88.1.254']);
    assert.deepEqual(u.lease.dns, ['10.88.1.53']);
    assert.equal(u.lease.domain, 'one.e2e.test');
    assert.equal(u.lease.leaseTime, 1200);
    assert.equal(u.lease.serverId, '10.88.1.1', 'server id is the server\'s address on the client\'s link');

    assert.ok(d.lease !== undefined, why(d));
    assert.ok(inRange(d.lease.ip, '10.88.2.', 150, 199), `dhclient got ${d.lease.ip}\n${why(d)}`);
    assert.equal(d.lease.subnetMask, '255.255.255.0');
    assert.deepEqual(d.lease.routers, ['10.88.2.254']);
    assert.deepEqual(d.lease.dns, ['10.88.2.53', '10.88.2.54']);
    assert.equal(d.lease.domain, 'two.e2e.test');
    assert.equal(d.lease.leaseTime, 1800);
    assert.equal(d.lease.serverId, '10.88.2.1', 'server id is the server\'s address on the client\'s link');

    const leases = await listLeases(server.dataDir);
    const byMac = new Map(leases.map((l) => [l.mac, l]));
    assert.deepEqual(
      { ip: byMac.get(MAC1)?.ip, subnet: byMac.get(MAC1)?.subnet_id, state: byMac.get(MAC1)?.state },
      { ip: u.lease.ip, subnet: 1, state: 'active' },
      JSON.stringify(leases),
    );
    assert.deepEqual(
      { ip: byMac.get(MAC2)?.ip, subnet: byMac.get(MAC2)?.subnet_id, state: byMac.get(MAC2)?.state },
      { ip: d.lease.ip, subnet: 2, state: 'active' },
      JSON.stringify(leases),
    );
  });

  test('a link not named in dhcp.interfaces gets no answer (safe by default)', async () => {
    const r = await runUdhcpc(topo, 'c3', 'eth1', { discoverTries: 2, discoverInterval: 1, timeoutMs: 15_000 });
    assert.equal(r.lease, undefined, `eth3 is not served, yet udhcpc got ${JSON.stringify(r.lease)}\n${r.output}`);
    assert.ok(
      r.events.some((e) => e.event === 'leasefail'),
      `udhcpc gave up for lack of an answer:\n${r.output}`,
    );
    const leases = await listLeases(server.dataDir);
    assert.equal(leases.filter((l) => l.mac === MAC3 || l.subnet_id === 3).length, 0, JSON.stringify(leases));
    assert.ok(isRunning(server), server.logText());
  });

  test('SIGHUP that adds eth3 to dhcp.interfaces starts serving it, and the other links keep being served', async () => {
    server.reload({ ...config, dhcp: { ...config.dhcp, interfaces: ['eth1', 'eth2', 'eth3'] } });
    await server.waitForLog('configuration reloaded', 15_000);
    const [u3, u1] = await Promise.all([
      runUdhcpc(topo, 'c3', 'eth1', { timeoutMs: 15_000 }),
      runUdhcpc(topo, 'c1', 'eth1', { mac: '02:88:01:00:00:11', timeoutMs: 15_000 }),
    ]);
    assert.ok(inRange(u3.lease?.ip ?? '', '10.88.3.', 100, 149), `${u3.output}\n--- server ---\n${server.logText()}`);
    assert.equal(u3.lease?.serverId, '10.88.3.1');
    assert.deepEqual(u3.lease?.routers, ['10.88.3.254']);
    assert.ok(inRange(u1.lease?.ip ?? '', '10.88.1.', 100, 149), `${u1.output}\n--- server ---\n${server.logText()}`);
    assert.equal(u1.lease?.serverId, '10.88.1.1');
  });

  test('SIGHUP naming an interface that does not exist is refused, and every link served before still is', async () => {
    server.reload({ ...config, dhcp: { ...config.dhcp, interfaces: ['eth1', 'eth9'] } });
    await server.waitForLog('configuration reload refused', 15_000);
    // Before, the old sockets were closed first and nothing served any more; udhcpc on eth3 proves eth3 was not dropped either.
    const [u3, u1] = await Promise.all([
      runUdhcpc(topo, 'c3', 'eth1', { mac: '02:88:03:00:00:13', timeoutMs: 15_000 }),
      runUdhcpc(topo, 'c1', 'eth1', { mac: '02:88:01:00:00:12', timeoutMs: 15_000 }),
    ]);
    assert.ok(inRange(u1.lease?.ip ?? '', '10.88.1.', 100, 149), `${u1.output}\n--- server ---\n${server.logText()}`);
    assert.ok(inRange(u3.lease?.ip ?? '', '10.88.3.', 100, 149), `${u3.output}\n--- server ---\n${server.logText()}`);
    // And a later good SIGHUP still applies.
    const reloads = (): number => server.logText().split('"configuration reloaded"').length;
    const before = reloads();
    server.reload({ ...config, dhcp: { ...config.dhcp, interfaces: ['eth1', 'eth2'] } });
    assert.ok(await eventually(() => (reloads() > before ? true : undefined), 15_000), server.logText());
    assert.ok(isRunning(server), server.logText());
  });
});

/**
 * The server-process helper against the real `dcplane serve`: readiness,
 * logs, signals, and a refused configuration reported with its logs.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import { runUdhcpc } from '../helpers/dhcp-clients.js';
import { ServerStartError, startDhcpServerProcess } from '../helpers/dhcp-server-process.js';
import { createTopology, netnsSkipReason } from '../helpers/netns.js';
import type { Topology } from '../helpers/netns.js';

describe('dcplane serve in a namespace', { skip: netnsSkipReason() }, () => {
  let topo: Topology;
  before(async () => {
    topo = await createTopology({
      namespaces: ['srv', 'cli'],
      links: [{ name: 'l', a: { ns: 'srv', name: 'eth1', cidr: '10.96.0.1/24' }, b: { ns: 'cli', name: 'eth1' } }],
    });
  });
  after(async () => {
    await topo?.destroy();
  });

  const config = {
    dhcp: {
      enabled: true,
      interfaces: ['eth1'],
      port: 67,
      lease_time: 600,
      subnets: [{ id: 1, subnet: '10.96.0.0/24', pools: ['10.96.0.100-10.96.0.110'], routers: ['10.96.0.1'] }],
    },
  };

  test('starts, is ready, serves a real client, logs JSON, stops on SIGTERM', async () => {
    const server = await startDhcpServerProcess(topo, 'srv', { config });
    try {
      const ready = await server.waitForLog('dhcp ready');
      assert.ok(ready.level !== undefined && ready.time !== undefined, `a pino JSON line: ${JSON.stringify(ready)}`);
      const r = await runUdhcpc(topo, 'cli', 'eth1', { mac: '02:00:00:96:00:01' });
      assert.match(r.lease?.ip ?? '', /^10\.96\.0\.(10\d|110)$/, `${r.output}\n--- server ---\n${server.logText()}`);
      const exit = await server.kill('SIGTERM');
      assert.equal(exit.code, 0, server.logText());
    } finally {
      await server.dispose();
    }
  });

  test('a refused configuration rejects with the logs and the exit', async () => {
    const bad = { dhcp: { enabled: true, interfaces: ['eth1'], subnets: [{ id: 1, subnet: '10.96.0.0/24', pools: ['10.97.0.1-10.97.0.9'] }] } };
    await assert.rejects(startDhcpServerProcess(topo, 'srv', { config: bad, timeoutMs: 10_000 }), (err: unknown) => {
      assert.ok(err instanceof ServerStartError);
      assert.equal(err.exit?.code, 1);
      assert.match(err.logs.join('\n'), /pools\[0\]/);
      return true;
    });
  });
});

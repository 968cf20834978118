/**
 * The real `dcplane serve` under abuse: malformed packets are dropped,
 * counted by reason and never answered; kill -9 loses no acknowledged lease
 * and a restart serves the same clients the same addresses; SIGHUP applies a
 * new configuration without losing leases and refuses a broken one.
 *
 *   c1 ──eth1── srv 10.88.60.1/24
 *
 * One server at a time runs on srv; each test starts its own.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { encodePacket } from '../../src/dhcp/codec.js';
import { MessageType, Opt } from '../../src/dhcp/constants.js';
import { runUdhcpc } from '../helpers/dhcp-clients.js';
import type { LogEntry } from '../helpers/dhcp-server-process.js';
import { isRunning, listLeases, metricValue, scrapeMetrics, startServer, tempDataDir } from '../helpers/e2e-fixtures.js';
import { createTopology, netnsSkipReason } from '../helpers/netns.js';
import type { Topology } from '../helpers/netns.js';
import { clientPacket, describeReply, ov, RawDhcpClient, viewReply } from '../helpers/raw-dhcp-client.js';

const SERVER = '10.88.60.1';
const API = '127.0.0.1:18805';
const OPTIONS_OFFSET = 240;
const FILE_OFFSET = 108;

function config(extra: { dns?: string; reservations?: object[]; pools?: string[] } = {}): object {
  return {
    api: { listen: API },
    dhcp: {
      enabled: true,
      interfaces: ['eth1'],
      lease_time: 3600,
      subnets: [
        {
          id: 1,
          subnet: '10.88.60.0/24',
          pools: extra.pools ?? ['10.88.60.100-10.88.60.199'],
          routers: [SERVER],
          dns_servers: [extra.dns ?? '10.88.60.53'],
          reservations: extra.reservations ?? [],
        },
      ],
    },
  };
}

/** A well-formed DISCOVER's bytes, to damage. */
function discoverBytes(mac: string): Buffer {
  return encodePacket(clientPacket({ type: MessageType.DISCOVER, mac }));
}

/** A header with no options, then `options` written at the options field and `file` at the file field. */
function handMade(mac: string, options: readonly number[], file: readonly number[] = []): Buffer {
  const b = Buffer.from(encodePacket(clientPacket({ mac }), { minSize: 300 }));
  b.fill(0, OPTIONS_OFFSET);
  Buffer.from(options).copy(b, OPTIONS_OFFSET);
  Buffer.from(file).copy(b, FILE_OFFSET);
  return b;
}

/** Each malformed packet with the drop reason it must be counted under. */
function malformedPackets(): Array<[string, Buffer, string]> {
  const badCookie = discoverBytes('02:88:60:00:0b:02');
  badCookie[236] = 0x00;
  const badHlen = discoverBytes('02:88:60:00:0b:07');
  badHlen[2] = 17;
  const garbage = randomBytes(300);
  garbage[236] = 0x00; // never the magic cookie by chance
  return [
    ['truncated (100 octets of a DISCOVER)', discoverBytes('02:88:60:00:0b:01').subarray(0, 100), 'truncated'],
    ['random garbage, 37 octets', randomBytes(37), 'truncated'],
    ['bad magic cookie', badCookie, 'bad_cookie'],
    ['random garbage, 300 octets', garbage, 'bad_cookie'],
    // 53=DISCOVER, then option 12 claiming 200 octets where 2 remain.
    ['option length past the end', Buffer.concat([handMade('02:88:60:00:0b:03', []).subarray(0, OPTIONS_OFFSET), Buffer.from([53, 1, 1, 12, 200, 0x61, 0x62])]), 'option_overrun'],
    // 52 says "options continue in file", and file holds 52 again (RFC 2132 §9.3: it MUST appear in the options field only).
    ['option 52 loop', handMade('02:88:60:00:0b:04', [53, 1, 1, 52, 1, 1, 255], [52, 1, 1, 255]), 'overload_loop'],
    ['option 52 with value 7', handMade('02:88:60:00:0b:05', [53, 1, 1, 52, 1, 7, 255]), 'bad_overload'],
    ['hlen 17, past the 16 octets of chaddr', badHlen, 'bad_hlen'],
    ['no message type', handMade('02:88:60:00:0b:06', [55, 3, 1, 3, 6, 255]), 'no_message_type'],
  ];
}

describe('dcplane serve robustness', { skip: netnsSkipReason() }, () => {
  let topo: Topology;
  let client: RawDhcpClient;

  before(async () => {
    topo = await createTopology({
      namespaces: ['srv', 'c1'],
      links: [{ name: 'l', a: { ns: 'srv', name: 'eth1', cidr: `${SERVER}/24` }, b: { ns: 'c1', name: 'eth1' } }],
    });
    client = await RawDhcpClient.start(topo, 'c1', 'eth1');
  });

  after(async () => {
    await client?.close();
    await topo?.destroy();
  });

  test('malformed packets are dropped unanswered, counted by reason, and the server keeps serving', async () => {
    const server = await startServer(topo, 'srv', config());
    try {
      const packets = malformedPackets();
      const since = client.received.length;
      for (const [, bytes] of packets) await client.send(bytes);
      const replies = await client.collect(1500, since);
      assert.equal(replies.length, 0, `answered: ${replies.map(describeReply).join('\n')}`);
      assert.ok(isRunning(server), server.logText());

      const m = await scrapeMetrics(topo, 'srv', API);
      const expected = new Map<string, number>();
      for (const [, , reason] of packets) expected.set(reason, (expected.get(reason) ?? 0) + 1);
      for (const [reason, n] of expected) {
        assert.equal(metricValue(m.samples, 'dcplane_dhcp_packets_dropped_total', { reason }), n, `dropped{reason="${reason}"}\n${m.text}`);
      }
      assert.equal(metricValue(m.samples, 'dcplane_dhcp_packets_sent_total'), 0, m.text);

      const r = await runUdhcpc(topo, 'c1', 'eth1', { mac: '02:88:60:00:0b:ff' });
      assert.match(r.lease?.ip ?? '', /^10\.88\.60\.1\d\d$/, `${r.output}\n--- server ---\n${server.logText()}`);
      assert.ok(isRunning(server));
    } finally {
      await server.dispose();
    }
  });

  test('kill -9 loses no acknowledged lease, and a restart gives the same clients the same addresses', async () => {
    const data = tempDataDir();
    try {
      const first = await startServer(topo, 'srv', config(), { dataDir: data.dir });
      const macs = Array.from({ length: 6 }, (_, i) => `02:88:60:00:09:${(i + 1).toString(16).padStart(2, '0')}`);
      let acked: Array<{ mac: string; ip: string }>;
      try {
        // Concurrently, so several leases share group commits, and SIGKILL right after the last ACK arrives.
        acked = await Promise.all(macs.map(async (mac) => ({ mac, ip: (await client.dora(mac)).ip })));
        const exit = await first.kill('SIGKILL');
        assert.equal(exit.signal, 'SIGKILL');
      } finally {
        await first.dispose();
      }

      const rows = await listLeases(data.dir);
      for (const a of acked) {
        const row = rows.find((l) => l.ip === a.ip);
        assert.deepEqual({ mac: row?.mac, state: row?.state }, { mac: a.mac, state: 'active' }, `ACKed ${a.ip} to ${a.mac}, store has ${JSON.stringify(row)}`);
      }

      const second = await startServer(topo, 'srv', config(), { dataDir: data.dir });
      try {
        // Highest address first: a server that forgot would hand the first asker the pool's first address.
        const order = [...acked].sort((x, y) => Number(y.ip.split('.')[3]) - Number(x.ip.split('.')[3]));
        for (const a of order) {
          // INIT-REBOOT (RFC 2131 §4.3.2): 50 set, no 54, ciaddr 0. A server with no record "MUST remain silent".
          const reboot = clientPacket({ type: MessageType.REQUEST, mac: a.mac, options: [[Opt.REQUESTED_IP, ov.ip(a.ip)]] });
          const ack = await client.exchange(reboot, { want: [MessageType.ACK, MessageType.NAK] });
          assert.ok(ack?.packet !== undefined, `INIT-REBOOT of ${a.mac} for ${a.ip} unanswered after restart\n${second.logText()}`);
          assert.equal(viewReply(ack.packet).type, 'ACK', describeReply(ack));
          assert.equal(viewReply(ack.packet).yiaddr, a.ip);
          const offer = await client.exchange(clientPacket({ type: MessageType.DISCOVER, mac: a.mac }), { want: [MessageType.OFFER] });
          assert.equal(offer?.packet !== undefined ? viewReply(offer.packet).yiaddr : undefined, a.ip, `DISCOVER of ${a.mac} after restart: ${describeReply(offer)}`);
        }
      } finally {
        await second.dispose();
      }
    } finally {
      data.remove();
    }
  });

  test('SIGHUP applies a new configuration and keeps leases; a broken one is refused and the old one keeps serving', async () => {
    const server = await startServer(topo, 'srv', config({ dns: '10.88.60.53' }));
    try {
      const early = await client.dora('02:88:60:00:0c:01');
      assert.deepEqual(viewReply(early.ack.packet as NonNullable<typeof early.ack.packet>).dns, ['10.88.60.53']);

      const reservedMac = '02:88:60:00:0c:77';
      server.reload(config({ dns: '10.88.60.54', reservations: [{ mac: reservedMac, ip: '10.88.60.77', hostname: 'reloaded-77' }] }));
      await server.waitForLog('configuration reloaded', 15_000);

      const reserved = await client.dora(reservedMac);
      const rv = viewReply(reserved.ack.packet as NonNullable<typeof reserved.ack.packet>);
      assert.equal(rv.yiaddr, '10.88.60.77', describeReply(reserved.ack));
      assert.equal(rv.hostname, 'reloaded-77');
      assert.deepEqual(rv.dns, ['10.88.60.54']);

      const rows = await listLeases(server.dataDir);
      assert.equal(rows.find((l) => l.ip === early.ip)?.state, 'active', 'the lease from before the reload is kept');
      const reboot = await client.exchange(clientPacket({ type: MessageType.REQUEST, mac: '02:88:60:00:0c:01', options: [[Opt.REQUESTED_IP, ov.ip(early.ip)]] }), {
        want: [MessageType.ACK, MessageType.NAK],
      });
      assert.ok(reboot?.packet !== undefined, `INIT-REBOOT after the reload unanswered\n${server.logText()}`);
      assert.equal(viewReply(reboot.packet).type, 'ACK', describeReply(reboot));
      assert.equal(viewReply(reboot.packet).yiaddr, early.ip);

      // Broken: a pool outside its subnet (and a new DNS server that must not leak in).
      const isRefusal = (e: LogEntry): boolean => typeof e.msg === 'string' && e.msg.includes('configuration reload refused');
      server.reload(config({ dns: '10.88.60.55', pools: ['10.99.0.1-10.99.0.9'] }));
      const refused = await server.waitForLog(isRefusal, 15_000);
      assert.match(String(refused.msg), /subnets\[0\]\.pools\[0\]/, 'the refusal names the field');
      assert.ok(isRunning(server), server.logText());

      const late = await client.dora('02:88:60:00:0c:02');
      const lv = viewReply(late.ack.packet as NonNullable<typeof late.ack.packet>);
      assert.deepEqual(lv.dns, ['10.88.60.54'], 'the configuration in force before the broken reload still serves');
      assert.match(lv.yiaddr, /^10\.88\.60\.1\d\d$/);
    } finally {
      await server.dispose();
    }
  });
});

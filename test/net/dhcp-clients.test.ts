/**
 * The client wrappers against a real server (ISC Kea, when installed), so
 * that what they report is known to be right before dcplane's own
 * end-to-end tests rely on them.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { parseEvents, runDhclient, runUdhcpc } from '../helpers/dhcp-clients.js';
import { createTopology, netnsSkipReason } from '../helpers/netns.js';
import type { Topology } from '../helpers/netns.js';

const haveKea = spawnSync('kea-dhcp4', ['-v'], { stdio: 'ignore' }).status === 0;

test('parseEvents reads records, keeps multi-line values and ignores a torn last record', () => {
  const text = 'DCP_EVENT bound\nip=10.0.0.5\nmessage=two\nlines\nDCP_END\nDCP_EVENT renew\nip=10.0.0.6\n';
  const ev = parseEvents(text);
  assert.equal(ev.length, 1);
  assert.equal(ev[0]?.event, 'bound');
  assert.equal(ev[0]?.env.get('ip'), '10.0.0.5');
  assert.equal(ev[0]?.env.get('message'), 'two\nlines');
});

describe('DHCP client wrappers against Kea', { skip: netnsSkipReason() || (haveKea ? false : 'SKIPPED: kea-dhcp4 not installed') }, () => {
  let topo: Topology;
  let dir: string;
  let keaLog = '';

  before(async () => {
    topo = await createTopology({
      namespaces: ['srv', 'c1', 'c2'],
      links: [
        { name: 'l1', a: { ns: 'srv', cidr: '10.95.1.1/24' }, b: { ns: 'c1', name: 'eth1' } },
        { name: 'l2', a: { ns: 'srv', cidr: '10.95.2.1/24' }, b: { ns: 'c2', name: 'eth1' } },
      ],
    });
    dir = mkdtempSync(join(tmpdir(), 'dcplane-kea-'));
    const subnet = (id: number, n: number): object => ({
      id,
      subnet: `10.95.${n}.0/24`,
      interface: topo.end(`l${n}`, 'a').ifname,
      pools: [{ pool: `10.95.${n}.100-10.95.${n}.150` }],
      'next-server': `10.95.${n}.1`,
      'boot-file-name': `boot${n}.bin`,
      'option-data': [
        { name: 'routers', data: `10.95.${n}.1` },
        { name: 'domain-name-servers', data: `10.95.${n}.1` },
        { name: 'domain-name', data: 'test.example' },
      ],
    });
    const config = {
      Dhcp4: {
        'interfaces-config': { interfaces: [topo.end('l1', 'a').ifname, topo.end('l2', 'a').ifname], 'dhcp-socket-type': 'raw' },
        'lease-database': { type: 'memfile', persist: true, name: join(dir, 'leases.csv'), 'lfc-interval': 0 },
        'valid-lifetime': 600,
        subnet4: [subnet(1, 1), subnet(2, 2)],
        loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'INFO' }],
      },
    };
    writeFileSync(join(dir, 'kea.json'), JSON.stringify(config));
    const kea = topo.spawn('srv', 'kea-dhcp4', ['-c', join(dir, 'kea.json')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir },
    });
    kea.stderr?.on('data', (d: Buffer) => (keaLog += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kea did not start:\n${keaLog}`)), 10_000);
      kea.once('exit', (code) => reject(new Error(`kea exited with ${code}:\n${keaLog}`)));
      if (kea.stdout === null) return reject(new Error('no stdout'));
      createInterface({ input: kea.stdout }).on('line', (line) => {
        keaLog += `${line}\n`;
        if (line.includes('DHCP4_STARTED')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  });

  after(async () => {
    await topo?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('udhcpc and dhclient get leases on two interfaces of one server at once', async () => {
    const [u, d] = await Promise.all([
      runUdhcpc(topo, 'c1', 'eth1', { mac: '02:00:00:95:01:01', hostname: 'node-a' }),
      runDhclient(topo, 'c2', 'eth1', { mac: '02:00:00:95:02:01' }),
    ]);
    assert.equal(u.exitCode, 0, u.output);
    assert.match(u.lease?.ip ?? '', /^10\.95\.1\.(1[0-4]\d|150)$/, u.output);
    assert.deepEqual(
      { mask: u.lease?.subnetMask, routers: u.lease?.routers, dns: u.lease?.dns, server: u.lease?.serverId, file: u.lease?.bootFile, siaddr: u.lease?.siaddr, domain: u.lease?.domain, time: u.lease?.leaseTime },
      { mask: '255.255.255.0', routers: ['10.95.1.1'], dns: ['10.95.1.1'], server: '10.95.1.1', file: 'boot1.bin', siaddr: '10.95.1.1', domain: 'test.example', time: 600 },
    );
    assert.equal(d.exitCode, 0, d.output);
    assert.match(d.lease?.ip ?? '', /^10\.95\.2\.(1[0-4]\d|150)$/, d.output);
    assert.deepEqual(
      { mask: d.lease?.subnetMask, routers: d.lease?.routers, dns: d.lease?.dns, server: d.lease?.serverId, file: d.lease?.bootFile, siaddr: d.lease?.siaddr, time: d.lease?.leaseTime },
      { mask: '255.255.255.0', routers: ['10.95.2.1'], dns: ['10.95.2.1'], server: '10.95.2.1', file: 'boot2.bin', siaddr: '10.95.2.1', time: 600 },
    );
    // The wrappers configure nothing unless asked to.
    const addr = await topo.exec('c1', 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth1']);
    assert.equal(addr.stdout.trim(), '');
    // dhclient's daemon was stopped.
    const end = Date.now() + 2000;
    let left: string;
    do {
      left = spawnSync('ip', ['netns', 'pids', topo.netns('c2')], { encoding: 'utf8' }).stdout.trim();
      if (left !== '') await new Promise((r) => setTimeout(r, 50));
    } while (left !== '' && Date.now() < end);
    assert.equal(left, '', 'no dhclient daemon left running');
  });

  test('the MAC is set before the client runs, and configure puts the address on the link', async () => {
    const r = await runUdhcpc(topo, 'c1', 'eth1', { mac: '02:00:00:95:01:02', configure: true });
    assert.equal(r.exitCode, 0, r.output);
    const link = await topo.exec('c1', 'ip', ['link', 'show', 'eth1']);
    assert.match(link.stdout, /02:00:00:95:01:02/);
    const addr = await topo.exec('c1', 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth1']);
    assert.match(addr.stdout, new RegExp(`inet ${(r.lease?.ip ?? 'none').replaceAll('.', '\\.')}/24`));
    await topo.exec('c1', 'ip', ['addr', 'flush', 'dev', 'eth1']);
  });

  test('dhclient reuses its lease file (INIT-REBOOT) and can release', async () => {
    const work = mkdtempSync(join(tmpdir(), 'dcplane-dhclient-keep-'));
    try {
      const first = await runDhclient(topo, 'c2', 'eth1', { mac: '02:00:00:95:02:02', workDir: work });
      assert.ok(first.lease, first.output);
      const second = await runDhclient(topo, 'c2', 'eth1', { workDir: work, release: true });
      assert.equal(second.lease?.ip, first.lease.ip, second.output);
      assert.ok(second.events.some((e) => e.event === 'REBOOT'), second.output);
      assert.ok(second.events.some((e) => e.event === 'RELEASE'), second.output);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  test('a client with no server reports no lease within its timeout', async () => {
    // Nothing listens on c1's link once the server side of it is down.
    await topo.exec('srv', 'ip', ['link', 'set', topo.end('l1', 'a').ifname, 'down']);
    try {
      const r = await runUdhcpc(topo, 'c1', 'eth1', { discoverTries: 2, discoverInterval: 1, timeoutMs: 10_000 });
      assert.equal(r.lease, undefined);
      assert.notEqual(r.exitCode, 0);
      assert.ok(r.durationMs < 9000, `${r.durationMs} ms`);
      assert.ok(r.events.some((e) => e.event === 'leasefail'), r.output);
    } finally {
      await topo.exec('srv', 'ip', ['link', 'set', topo.end('l1', 'a').ifname, 'up']);
    }
  });
});

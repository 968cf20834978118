/**
 * The inventory drives network boot, end to end: the real app (`dcplane
 * serve`, i.e. Dcplane.start) serves DHCP, TFTP and its API in a namespace;
 * a server created through the API with a MAC and a boot profile that
 * installs gets its reserved address from dcplane's DHCP (udhcpc with that
 * MAC), its per-host pxelinux file over TFTP (tftp-hpa's `tftp`), and its
 * boot timeline (GET /api/v1/servers/{id}/events) shows both, with the status
 * moved planned → provisioning. From the host's own address the iPXE script
 * and the installer callback follow (→ active, profile local), after which
 * the same per-host file boots the local disk.
 *
 * HTTP goes through curl in the client namespace: the API listens on the
 * server's link address, which only the test's namespaces can reach. The
 * client starts as an operator's workstation (.250); udhcpc then gives it
 * the host's reserved address, from which the host's own calls come.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { curlApi } from '../helpers/api-curl.js';
import type { CurlApi, CurlReply } from '../helpers/api-curl.js';
import { runUdhcpc } from '../helpers/dhcp-clients.js';
import { startDhcpServerProcess } from '../helpers/dhcp-server-process.js';
import type { DhcpServerProcess } from '../helpers/dhcp-server-process.js';
import { eventually } from '../helpers/e2e-fixtures.js';
import { createTopology, netnsSkipReason, randomMac } from '../helpers/netns.js';
import type { Topology } from '../helpers/netns.js';
import { tftpHpaGet } from '../helpers/tftp-clients.js';

const NET = '10.91.9';
const SERVER = `${NET}.1`;
// The namespace is this test's own: nothing else can hold its ports.
const API = `http://${SERVER}:8080`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

describe('the inventory drives network boot (dcplane serve in a namespace, udhcpc, tftp-hpa, curl)', { skip: netnsSkipReason() }, () => {
  let topo: Topology;
  let app: DhcpServerProcess;
  let api: CurlApi;
  const work = mkdtempSync(join(tmpdir(), 'dcplane-e2e-boot-'));
  const password = randomBytes(18).toString('base64url');

  const http = (method: string, path: string, body?: unknown, auth = true): Promise<CurlReply> => api.http(method, path, body, auth);

  async function ok(method: string, path: string, body: unknown, status: number): Promise<Json> {
    const r = await http(method, path, body);
    assert.equal(r.status, status, `${method} ${path}: ${r.text}\n--- server ---\n${app.logText().slice(-4000)}`);
    return r.json;
  }

  before(async () => {
    topo = await createTopology({
      namespaces: ['srv', 'cli'],
      links: [{ name: 'lan', a: { ns: 'srv', name: 'eth1', cidr: `${SERVER}/24` }, b: { ns: 'cli', name: 'eth1', cidr: `${NET}.250/24` } }],
    });
    const config = {
      api: { listen: `${SERVER}:8080` },
      dhcp: {
        enabled: true,
        interfaces: ['eth1'],
        subnets: [{ id: 1, subnet: `${NET}.0/24`, pools: [`${NET}.100-${NET}.199`], routers: [SERVER] }],
        boot: { next_server: SERVER, bios: 'pxelinux.0', uefi: 'grubx64.efi', ipxe: `${API}/boot.ipxe` },
      },
      tftp: { enabled: true, listen: `${SERVER}:69`, root: work },
    };
    app = await startDhcpServerProcess(topo, 'srv', { config, readyText: 'api ready', env: { ...process.env, DCPLANE_ADMIN_PASSWORD: password }, timeoutMs: 60_000 });
    // curl from the client namespace: as a booting host (or a script on it) calls the API.
    api = curlApi(topo, 'cli', API);
    const login = await api.login('admin', password);
    assert.equal(login.status, 200, login.text);
  });

  after(async () => {
    await app?.dispose();
    await topo?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test('reserved address over DHCP, per-host boot file over TFTP, both in the timeline; status planned → provisioning → active', async () => {
    await ok('POST', '/api/v1/boot/profiles', { name: 'debian-13', kind: 'linux', os: 'Debian 13', kernel_url: 'debian/linux', initrd_url: 'debian/initrd.gz', cmdline: 'auto=true url={{done_url}} hostname={{hostname}}' }, 201);
    const server = await ok('POST', '/api/v1/servers', { name: 'node-b1', boot_profile: 'debian-13' }, 201);
    assert.equal(server.status, 'planned');
    const mac = randomMac();
    await ok('POST', '/api/v1/server-interfaces', { server_id: server.id, name: 'eth0', mac, ip: `${NET}.20`, is_primary: true }, 201);
    // The server's primary interface is its reservation (derived by the inventory, applied live to DHCP).
    const reservation = await eventually(async () => {
      const r = await ok('GET', `/api/v1/dhcp/reservations?server_id=${server.id}`, undefined, 200);
      return r.count === 1 ? r.results[0] : undefined;
    });
    assert.equal(reservation?.ip, `${NET}.20`);

    // The host's firmware: DHCP with its MAC, then its pxelinux file over TFTP.
    const lease = await runUdhcpc(topo, 'cli', 'eth1', { mac, configure: true });
    assert.equal(lease.lease?.ip, `${NET}.20`, `${lease.output}\n--- server ---\n${app.logText().slice(-4000)}`);
    const file = `pxelinux.cfg/01-${mac.replace(/:/g, '-')}`;
    const dest = join(work, 'got-install.cfg');
    const got = await tftpHpaGet({ netns: topo.netns('cli'), server: SERVER }, file, dest, { timeoutMs: 20_000 });
    assert.ok(got.ok, got.output);
    const cfg = readFileSync(dest, 'utf8');
    assert.match(cfg, /\n {2}KERNEL debian\/linux\n/);
    assert.ok(cfg.includes(`  APPEND initrd=debian/initrd.gz auto=true url=${API}/boot/done?mac=${mac} hostname=node-b1\n`), cfg);

    // The timeline shows the DHCP exchange and the transfer, and the status moved.
    const want = ['dhcp.discover', 'dhcp.offer', 'dhcp.request', 'dhcp.ack', 'tftp.start', 'tftp.complete', 'status'];
    const events = await eventually(async () => {
      const r = await ok('GET', `/api/v1/servers/${server.id}/events?limit=100`, undefined, 200);
      const types: string[] = r.results.map((e: Json) => e.type);
      return want.every((t) => types.includes(t)) ? (r.results as Json[]) : undefined;
    }, 15_000);
    assert.ok(events !== undefined, JSON.stringify((await ok('GET', `/api/v1/servers/${server.id}/events?limit=100`, undefined, 200)).results, null, 1));
    const chrono = [...events].reverse();
    const order = want.map((t) => chrono.findIndex((e) => e.type === t));
    assert.deepEqual([...order].sort((a, b) => a - b), order, `in boot order: ${chrono.map((e) => e.type).join(', ')}`);
    const ack = chrono.find((e) => e.type === 'dhcp.ack');
    assert.equal(ack.ip, `${NET}.20`);
    assert.equal(ack.mac, mac);
    const sent = chrono.find((e) => e.type === 'tftp.complete');
    assert.equal(sent.data.file, file);
    assert.equal(sent.ip, `${NET}.20`);
    assert.deepEqual(chrono.find((e) => e.type === 'status').data.to, 'provisioning');
    assert.equal((await ok('GET', `/api/v1/servers/${server.id}`, undefined, 200)).status, 'provisioning');
    const audit = await ok('GET', `/api/v1/audit/logs?object_type=server&object_id=${server.id}&action=update`, undefined, 200);
    assert.equal(audit.results[0].user, 'system');

    // iPXE asks for its script by MAC; the installer calls back from the host's address.
    const script = await http('GET', `/boot/ipxe?mac=${mac}`, undefined, false);
    assert.equal(script.status, 200);
    assert.match(script.text, /^#!ipxe\n[^]*\nkernel tftp:\/\/\$\{next-server\}\/debian\/linux initrd=initrd\.gz auto=true /);
    const done = await http('POST', `/boot/done?mac=${mac}`, undefined, false);
    assert.equal(done.status, 200, done.text);
    assert.deepEqual(done.json, { server_id: server.id, status: 'active', boot_profile: 'local' });

    // From now on the same per-host file boots the local disk.
    const again = await tftpHpaGet({ netns: topo.netns('cli'), server: SERVER }, file, join(work, 'got-local.cfg'), { timeoutMs: 20_000 });
    assert.ok(again.ok, again.output);
    assert.match(readFileSync(join(work, 'got-local.cfg'), 'utf8'), /\n {2}LOCALBOOT 0\n$/);
    const final = await eventually(async () => {
      const r = await ok('GET', `/api/v1/servers/${server.id}/events?type=status`, undefined, 200);
      return r.count === 2 ? r.results : undefined;
    });
    assert.deepEqual(final?.map((e: Json) => e.data.to), ['active', 'provisioning']);
    const types = (await ok('GET', `/api/v1/servers/${server.id}/events?limit=100`, undefined, 200)).results.map((e: Json) => e.type);
    assert.ok(types.includes('ipxe.script') && types.includes('boot.done'), types.join(', '));
  });
});

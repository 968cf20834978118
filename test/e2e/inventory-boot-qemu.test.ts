/**
 * Real boot firmware against the inventory, in QEMU (SeaBIOS and Debian's
 * iPXE ROM, software emulation), with `dcplane serve` in the namespace:
 *
 * - iPXE gets its reserved address, is told the iPXE script URL
 *   (`/boot.ipxe`), expands `${netX/mac:hexhyp}` in the chain to
 *   `/boot/ipxe?mac=…` and runs the script rendered from its server's boot
 *   profile, which prints a marker with its hostname and address;
 * - pxelinux (Debian's, chained by the ROM) reads its per-MAC file
 *   `pxelinux.cfg/01-<mac>` over dcplane's TFTP: an installing profile moves
 *   the server to provisioning; switched back to local, the next boot is
 *   LOCALBOOT and the server becomes active.
 *
 * Each timeline shows the DHCP exchange and the fetches.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { curlApi } from '../helpers/api-curl.js';
import type { CurlApi } from '../helpers/api-curl.js';
import { startDhcpServerProcess } from '../helpers/dhcp-server-process.js';
import type { DhcpServerProcess } from '../helpers/dhcp-server-process.js';
import { eventually } from '../helpers/e2e-fixtures.js';
import { createTopology, netnsSkipReason } from '../helpers/netns.js';
import type { Topology } from '../helpers/netns.js';
import { createPxeLan, qemuSkipReason, startPxeVm } from '../helpers/qemu.js';
import { toolSkip } from '../helpers/skip.js';
import type { PxeVm } from '../helpers/qemu.js';
import { makeTftpRoot, removeTftpRoot } from '../helpers/tftp-servers.js';

const SERVER_IP = '10.64.0.1';
const API = `http://${SERVER_IP}:8080`;
const BRIDGE = 'pxebr0';
const TAP = 'pxetap0';
const PXELINUX = '/usr/lib/PXELINUX/pxelinux.0';
const LDLINUX = '/usr/lib/syslinux/modules/bios/ldlinux.c32';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const skip = netnsSkipReason() || qemuSkipReason();

/** The namespace, the bridge QEMU's tap sits on, and `dcplane serve` with DHCP (these boot settings), TFTP and the API. */
function bootLab(boot: Record<string, string>): { ok: (method: string, path: string, body: unknown, status: number) => Promise<Json>; topo: () => Topology; app: () => DhcpServerProcess; root: () => string } {
  let topo: Topology;
  let app: DhcpServerProcess;
  let api: CurlApi;
  let root: string;
  const password = randomBytes(18).toString('base64url');
  before(async () => {
    topo = await createTopology({ namespaces: ['pxe'] });
    await createPxeLan(topo, { ns: 'pxe', tap: TAP, bridge: BRIDGE, cidr: `${SERVER_IP}/24` });
    root = makeTftpRoot();
    const config = {
      api: { listen: `${SERVER_IP}:8080` },
      dhcp: {
        enabled: true,
        interfaces: [BRIDGE],
        subnets: [{ id: 1, subnet: '10.64.0.0/24', pools: ['10.64.0.100-10.64.0.150'], routers: [SERVER_IP] }],
        boot: { next_server: SERVER_IP, ...boot },
      },
      tftp: { enabled: true, listen: `${SERVER_IP}:69`, root },
    };
    app = await startDhcpServerProcess(topo, 'pxe', { config, readyText: 'api ready', env: { ...process.env, DCPLANE_ADMIN_PASSWORD: password }, timeoutMs: 60_000 });
    api = curlApi(topo, 'pxe', API);
    const login = await api.login('admin', password);
    assert.equal(login.status, 200, login.text);
  });
  after(async () => {
    await app?.dispose();
    await topo?.destroy();
    if (root !== undefined) removeTftpRoot(root);
  });
  return {
    async ok(method, path, body, status) {
      const r = await api.http(method, path, body);
      assert.equal(r.status, status, `${method} ${path}: ${r.text}\n--- server ---\n${app.logText().slice(-3000)}`);
      return r.json;
    },
    topo: () => topo,
    app: () => app,
    root: () => root,
  };
}

/** A server with the VM's MAC as its primary interface, once DHCP serves its reservation. */
async function serverFor(lab: ReturnType<typeof bootLab>, name: string, profile: string, mac: string, ip: string): Promise<number> {
  const server = await lab.ok('POST', '/api/v1/servers', { name, boot_profile: profile }, 201);
  await lab.ok('POST', '/api/v1/server-interfaces', { server_id: server.id, name: 'net0', mac, ip, is_primary: true }, 201);
  assert.ok(await eventually(async () => ((await lab.ok('GET', `/api/v1/dhcp/reservations?server_id=${server.id}`, undefined, 200)).count === 1 ? true : undefined)), `no reservation derived for ${name}`);
  return server.id as number;
}

/** Boots the VM until its console matches, then stops it; the console text. */
async function bootUntil(lab: ReturnType<typeof bootLab>, mac: string, match: RegExp): Promise<string> {
  const vm: PxeVm = startPxeVm(lab.topo(), { ns: 'pxe', tap: TAP, mac });
  try {
    return await vm.waitForConsole(match, 120_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n--- console ---\n${vm.console().slice(-3000)}\n--- server ---\n${lab.app().logText().slice(-3000)}`);
    });
  } finally {
    await vm.stop();
  }
}

/** The server's timeline once it holds every one of `types`. */
async function timelineWith(lab: ReturnType<typeof bootLab>, id: number, types: readonly string[]): Promise<Json[]> {
  const got = await eventually(async () => {
    const r = await lab.ok('GET', `/api/v1/servers/${id}/events?limit=200`, undefined, 200);
    const have: string[] = r.results.map((e: Json) => e.type);
    return types.every((t) => have.includes(t)) ? (r.results as Json[]) : undefined;
  }, 15_000);
  if (got === undefined) assert.fail(`timeline lacks one of ${types.join(', ')}: ${JSON.stringify((await lab.ok('GET', `/api/v1/servers/${id}/events?limit=200`, undefined, 200)).results)}`);
  return got;
}

describe('iPXE in QEMU boots the script of its server\'s boot profile', { skip, timeout: 180_000 }, () => {
  // The ROM says it is iPXE (user class 77, option 175): it gets the HTTP script URL.
  const lab = bootLab({ bios: 'undionly.kpxe', ipxe: `${API}/boot.ipxe` });
  const mac = '52:54:00:64:00:09';
  const marker = `DCPLANE-BOOT-${randomBytes(4).toString('hex')}`;

  test('DHCP with the reserved address, /boot.ipxe, the per-MAC script; all in the timeline', async () => {
    await lab.ok('POST', '/api/v1/boot/profiles', { name: 'marker', kind: 'ipxe', ipxe_script: `#!ipxe\necho ${marker} {{hostname}} {{ip}}\n` }, 201);
    const id = await serverFor(lab, 'vm-c1', 'marker', mac, '10.64.0.20');
    const text = await bootUntil(lab, mac, new RegExp(`${marker} vm-c1 10\\.64\\.0\\.20`));
    assert.match(text, /net0: 10\.64\.0\.20\/255\.255\.255\.0/);
    // iPXE prints the chained URI as written (relative, before expansion); which MAC it sent is in the timeline.
    assert.match(text, /boot\.ipxe : \d+ bytes \[script\][^]*boot\/ipxe\.\.\. ok/);
    const events = await timelineWith(lab, id, ['dhcp.discover', 'dhcp.ack', 'ipxe.script', 'status']);
    const fetched = events.find((e) => e.type === 'ipxe.script');
    assert.equal(fetched.ip, '10.64.0.20');
    assert.equal(fetched.mac, mac);
    assert.equal((await lab.ok('GET', `/api/v1/servers/${id}`, undefined, 200)).status, 'provisioning');
  });
});

const pxelinuxSkip = skip || (existsSync(PXELINUX) && existsSync(LDLINUX) ? false : toolSkip('SKIPPED: pxelinux missing (apt-get install pxelinux syslinux-common)'));

describe('pxelinux in QEMU reads its per-MAC file from dcplane TFTP', { skip: pxelinuxSkip, timeout: 300_000 }, () => {
  // The ROM is iPXE; it is given pxelinux.0 as well, and runs it as a PXE NBP.
  const lab = bootLab({ bios: 'pxelinux.0', ipxe: 'pxelinux.0' });
  const mac = '52:54:00:64:00:0a';

  test('an installing profile: the kernel it names is asked for, provisioning; switched to local: LOCALBOOT, active', async () => {
    copyFileSync(PXELINUX, join(lab.root(), 'pxelinux.0'));
    copyFileSync(LDLINUX, join(lab.root(), 'ldlinux.c32'));
    await lab.ok('POST', '/api/v1/boot/profiles', { name: 'installer', kind: 'linux', kernel_url: 'installer/linux', initrd_url: 'installer/initrd.gz', cmdline: 'auto=true' }, 201);
    const id = await serverFor(lab, 'vm-d1', 'installer', mac, '10.64.0.21');

    // The kernel is not there: pxelinux says so, which shows it read our file and asked for what it names.
    await bootUntil(lab, mac, /installer\/linux[^\n]*(failed|No such file)|Could not find kernel image: installer\/linux/);
    const first = await timelineWith(lab, id, ['dhcp.ack', 'tftp.complete', 'tftp.fail', 'status']);
    const files = first.filter((e) => e.type === 'tftp.complete').map((e) => e.data.file);
    assert.ok(files.includes(`pxelinux.cfg/01-${mac.replace(/:/g, '-')}`), files.join(', '));
    assert.ok(first.some((e) => e.type === 'tftp.fail' && e.data.file === 'installer/linux' && e.ip === '10.64.0.21'), 'the kernel request, tied to the server by its address');
    assert.equal((await lab.ok('GET', `/api/v1/servers/${id}`, undefined, 200)).status, 'provisioning');

    // After the install: back to local in one call; the next boot goes to the disk and the server is active.
    await lab.ok('PATCH', `/api/v1/servers/${id}`, { boot_profile: 'local' }, 200);
    await bootUntil(lab, mac, /Booting from (local disk|Hard Disk)/);
    assert.ok(await eventually(async () => ((await lab.ok('GET', `/api/v1/servers/${id}`, undefined, 200)).status === 'active' ? true : undefined), 15_000), 'the server never became active');
    // The move's own timeline entry is written with the timeline's next batch (up to 100 ms after the move).
    const statusesOf = async (): Promise<unknown[]> => (await lab.ok('GET', `/api/v1/servers/${id}/events?type=status`, undefined, 200)).results.map((e: Json) => e.data.to);
    assert.ok(await eventually(async () => ((await statusesOf()).length >= 2 ? true : undefined), 15_000), `status entries: ${JSON.stringify(await statusesOf())}`);
    assert.deepEqual(await statusesOf(), ['active', 'provisioning']);
  });
});

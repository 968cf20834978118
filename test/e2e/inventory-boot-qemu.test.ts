/**
 * Real iPXE firmware against the inventory: a QEMU machine (SeaBIOS and
 * Debian's iPXE ROM) gets its reserved address from dcplane's DHCP, is told
 * the iPXE script URL (`/boot.ipxe`), expands `${netX/mac:hexhyp}` in the chain to
 * `/boot/ipxe?mac=…` and runs the script rendered from its server's boot
 * profile, which prints a marker with its hostname. The timeline shows the
 * DHCP exchange and the script fetch, and the status moved to provisioning.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { curlApi } from '../helpers/api-curl.js';
import type { CurlApi } from '../helpers/api-curl.js';
import { startDhcpServerProcess } from '../helpers/dhcp-server-process.js';
import type { DhcpServerProcess } from '../helpers/dhcp-server-process.js';
import { eventually } from '../helpers/e2e-fixtures.js';
import { createTopology, netnsSkipReason } from '../helpers/netns.js';
import type { Topology } from '../helpers/netns.js';
import { createPxeLan, qemuSkipReason, startPxeVm } from '../helpers/qemu.js';
import type { PxeVm } from '../helpers/qemu.js';

const SERVER_IP = '10.64.0.1';
const API = `http://${SERVER_IP}:8080`;
const VM_MAC = '52:54:00:64:00:09';
const BRIDGE = 'pxebr0';
const TAP = 'pxetap0';
const MARKER = `DCPLANE-BOOT-${randomBytes(4).toString('hex')}`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const skip = netnsSkipReason() || qemuSkipReason();

describe('iPXE in QEMU boots the script of its server\'s boot profile', { skip, timeout: 180_000 }, () => {
  let topo: Topology;
  let app: DhcpServerProcess;
  let api: CurlApi;
  let vm: PxeVm | undefined;
  const password = randomBytes(18).toString('base64url');

  async function ok(method: string, path: string, body: unknown, status: number): Promise<Json> {
    const r = await api.http(method, path, body);
    assert.equal(r.status, status, `${method} ${path}: ${r.text}\n--- server ---\n${app.logText().slice(-3000)}`);
    return r.json;
  }

  before(async () => {
    topo = await createTopology({ namespaces: ['pxe'] });
    await createPxeLan(topo, { ns: 'pxe', tap: TAP, bridge: BRIDGE, cidr: `${SERVER_IP}/24` });
    const config = {
      api: { listen: `${SERVER_IP}:8080` },
      dhcp: {
        enabled: true,
        interfaces: [BRIDGE],
        subnets: [{ id: 1, subnet: '10.64.0.0/24', pools: ['10.64.0.100-10.64.0.150'], routers: [SERVER_IP] }],
        // The ROM says it is iPXE (user class 77, option 175): it gets the HTTP script URL.
        boot: { next_server: SERVER_IP, bios: 'undionly.kpxe', ipxe: `${API}/boot.ipxe` },
      },
    };
    app = await startDhcpServerProcess(topo, 'pxe', { config, readyText: 'api ready', env: { ...process.env, DCPLANE_ADMIN_PASSWORD: password }, timeoutMs: 60_000 });
    api = curlApi(topo, 'pxe', API);
    const login = await api.login('admin', password);
    assert.equal(login.status, 200, login.text);
  });

  after(async () => {
    await vm?.stop();
    await app?.dispose();
    await topo?.destroy();
  });

  test('DHCP with the reserved address, /boot.ipxe, the per-MAC script; all in the timeline', async () => {
    await ok('POST', '/api/v1/boot/profiles', { name: 'marker', kind: 'ipxe', ipxe_script: `#!ipxe\necho ${MARKER} {{hostname}} {{ip}}\n` }, 201);
    const server = await ok('POST', '/api/v1/servers', { name: 'vm-c1', boot_profile: 'marker' }, 201);
    await ok('POST', '/api/v1/server-interfaces', { server_id: server.id, name: 'net0', mac: VM_MAC, ip: '10.64.0.20', is_primary: true }, 201);
    await eventually(async () => ((await ok('GET', `/api/v1/dhcp/reservations?server_id=${server.id}`, undefined, 200)).count === 1 ? true : undefined));

    vm = startPxeVm(topo, { ns: 'pxe', tap: TAP, mac: VM_MAC });
    const text = await vm.waitForConsole(new RegExp(`${MARKER} vm-c1 10\\.64\\.0\\.20`), 120_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n--- console ---\n${vm?.console().slice(-3000) ?? ''}\n--- server ---\n${app.logText().slice(-3000)}`);
    });
    await vm.stop();
    assert.match(text, /net0: 10\.64\.0\.20\/255\.255\.255\.0/);
    // iPXE prints the chained URI as written (relative, before expansion); which MAC it sent is in the timeline below.
    assert.match(text, /boot\.ipxe : \d+ bytes \[script\][^]*boot\/ipxe\.\.\. ok/);

    const events = await eventually(async () => {
      const r = await ok('GET', `/api/v1/servers/${server.id}/events?limit=100`, undefined, 200);
      const types: string[] = r.results.map((e: Json) => e.type);
      return ['dhcp.discover', 'dhcp.ack', 'ipxe.script', 'status'].every((t) => types.includes(t)) ? (r.results as Json[]) : undefined;
    }, 15_000);
    assert.ok(events !== undefined, JSON.stringify((await ok('GET', `/api/v1/servers/${server.id}/events?limit=100`, undefined, 200)).results));
    const fetched = events.find((e) => e.type === 'ipxe.script');
    assert.equal(fetched.ip, '10.64.0.20');
    assert.equal(fetched.mac, VM_MAC);
    assert.equal((await ok('GET', `/api/v1/servers/${server.id}`, undefined, 200)).status, 'provisioning');
  });
});

/**
 * PXE boot end to end: a QEMU machine (SeaBIOS + Debian's iPXE ROM, software
 * emulation) on a tap device gets its address from dcplane's DHCP, fetches
 * its boot script over dcplane's TFTP and runs it; the script prints a marker
 * on the serial console. The 2019 iPXE build has no `poweroff`, so the test
 * stops the VM once the marker is seen.
 *
 * The ROM does DHCP itself and says it is iPXE (user class 77 "iPXE" and
 * option 175), so dcplane hands it `boot.ipxe`; SeaBIOS's own PXE never runs.
 *
 * DCPLANE_E2E_TFTP_SERVER=tftpd-hpa keeps dcplane's DHCP and serves the
 * script from tftpd-hpa instead: that is how this harness was validated.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { assertBuilt, listLeases, tempDataDir } from '../helpers/e2e-fixtures.js';
import type { DhcpServerProcess, LogEntry } from '../helpers/dhcp-server-process.js';
import { startDhcpServerProcess } from '../helpers/dhcp-server-process.js';
import type { Topology } from '../helpers/netns.js';
import { createTopology, netnsSkipReason } from '../helpers/netns.js';
import type { PxeVm } from '../helpers/qemu.js';
import { createPxeLan, qemuSkipReason, startPxeVm } from '../helpers/qemu.js';
import type { TftpServerHandle } from '../helpers/tftp-servers.js';
import { makeTftpRoot, removeTftpRoot, startTftpServer, tftpServerKind, writeRootFile } from '../helpers/tftp-servers.js';

const SERVER_IP = '10.63.0.1';
const VM_MAC = '52:54:00:63:00:07';
const BRIDGE = 'pxebr0';
const TAP = 'pxetap0';
const SCRIPT = 'test.ipxe';
const kind = tftpServerKind();
/** A fresh token, so the marker cannot come from anywhere but this run's script. */
const MARKER = `DCPLANE-PXE-OK-${randomBytes(4).toString('hex')}`;

function dhcpConfig(): Record<string, unknown> {
  return {
    enabled: true,
    interfaces: [BRIDGE],
    subnets: [{ id: 1, subnet: '10.63.0.0/24', pools: ['10.63.0.100-10.63.0.150'], routers: [SERVER_IP] }],
    // The ROM is iPXE: it gets `ipxe`; `bios` is what a plain PXE ROM would get (the same script here).
    boot: { next_server: SERVER_IP, bios: SCRIPT, ipxe: SCRIPT },
  };
}

let topo: Topology;
let root: string;
let data: { dir: string; remove: () => void };
let dhcp: DhcpServerProcess;
let tftp: TftpServerHandle | undefined;
let vm: PxeVm | undefined;

const skip = netnsSkipReason() || qemuSkipReason();

describe(`PXE boot of a QEMU VM from dcplane DHCP + ${kind} TFTP`, { skip, timeout: 150_000 }, () => {
  before(async () => {
    if (kind === 'dcplane') assertBuilt();
    topo = await createTopology({ namespaces: ['pxe'] });
    await createPxeLan(topo, { ns: 'pxe', tap: TAP, bridge: BRIDGE, cidr: `${SERVER_IP}/24` });
    root = makeTftpRoot();
    // iPXE runs the script and then goes on to the next boot device; the test kills QEMU once it sees the marker.
    writeRootFile(root, SCRIPT, `#!ipxe\necho ${MARKER}\n`);
    data = tempDataDir();
    if (kind === 'dcplane') {
      tftp = await startTftpServer(topo, 'pxe', 'dcplane', {
        address: SERVER_IP,
        root,
        maxBlksize: 1468,
        maxWindowsize: 64,
        dataDir: data.dir,
        extraConfig: { dhcp: dhcpConfig() },
        readyTimeoutMs: 30_000,
      });
      if (tftp.dcplane === undefined) throw new Error('startTftpServer returned no dcplane process');
      dhcp = tftp.dcplane;
      await dhcp.waitForLog('dhcp ready', 10_000);
    } else {
      dhcp = await startDhcpServerProcess(topo, 'pxe', { config: { log: { level: 'info' }, dhcp: dhcpConfig() }, dataDir: data.dir, timeoutMs: 30_000 });
      tftp = await startTftpServer(topo, 'pxe', kind, { address: SERVER_IP, root });
    }
  });

  after(async () => {
    await vm?.stop();
    await tftp?.stop();
    await dhcp?.dispose();
    await topo?.destroy();
    if (root !== undefined) removeTftpRoot(root);
    data?.remove();
  });

  test('the VM gets a lease, fetches the script over TFTP and runs it', async () => {
    vm = startPxeVm(topo, { ns: 'pxe', tap: TAP, mac: VM_MAC });
    const started = Date.now();
    await vm.waitForConsole(MARKER, 90_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n--- server log tail ---\n${dhcp.logText().slice(-3000)}\n${tftp?.logText().slice(-2000) ?? ''}`);
    });
    process.stderr.write(`# PXE (${kind}): marker after ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    const consoleText = vm.console();
    await vm.stop();

    // What iPXE printed on the way: the address it was given, the server and the file it fetched.
    const vmIp = /net0: (10\.63\.0\.\d+)\/255\.255\.255\.0/.exec(consoleText)?.[1];
    if (vmIp === undefined) throw new assert.AssertionError({ message: `no DHCP address on the console:\n${consoleText}` });
    assert.match(consoleText, new RegExp(`tftp://${SERVER_IP.replace(/\./g, '\\.')}/${SCRIPT.replace('.', '\\.')}\\.\\.\\. ok`));

    const leases = await listLeases(data.dir);
    const mine = leases.filter((l) => l.mac === VM_MAC);
    assert.equal(mine.length, 1, `leases list: ${JSON.stringify(leases)}`);
    assert.equal(mine[0]?.ip, vmIp);
    assert.equal(mine[0]?.state, 'active');

    if (kind === 'dcplane') {
      // The per-transfer log line (client, file, bytes, outcome) of the issue; its field names are the server's.
      const served = (e: LogEntry): boolean => JSON.stringify(e).includes(SCRIPT) && JSON.stringify(e).includes(vmIp);
      const line = dhcp.entries().find((e) => e['svc'] === 'tftp' && served(e));
      assert.ok(line !== undefined, `no TFTP transfer log line for ${SCRIPT} from ${vmIp}:\n${dhcp.logText().slice(-3000)}`);
    }
  });
});

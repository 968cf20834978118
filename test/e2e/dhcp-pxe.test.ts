/**
 * Network-boot firmware against the real `dcplane serve`: DISCOVER/REQUEST
 * shaped as BIOS PXE ROMs, UEFI x64/arm64 firmware and iPXE send them (RFC
 * 4578 options 93/94/97, vendor class 60, iPXE's user class 77 both bare and
 * RFC 3004 framed, and its option 175), each expecting its own boot file and
 * next server; an ordinary udhcpc gets no boot information at all.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import { Opt } from '../../src/dhcp/constants.js';
import { runUdhcpc } from '../helpers/dhcp-clients.js';
import type { DhcpServerProcess } from '../helpers/dhcp-server-process.js';
import { listLeases, startServer } from '../helpers/e2e-fixtures.js';
import { createTopology, netnsSkipReason } from '../helpers/netns.js';
import type { Topology } from '../helpers/netns.js';
import { describeReply, ov, RawDhcpClient, viewReply } from '../helpers/raw-dhcp-client.js';
import type { OptionInput, RawReply } from '../helpers/raw-dhcp-client.js';

const SERVER = '10.88.50.1';
const NEXT_SERVER = '10.88.50.5';
const BOOT = {
  next_server: NEXT_SERVER,
  bios: 'undionly.kpxe',
  uefi: 'ipxe.efi',
  uefi_arm64: 'ipxe-arm64.efi',
  ipxe: 'http://10.88.50.1:8080/boot.ipxe',
};

const config = {
  api: { listen: '127.0.0.1:18804' },
  dhcp: {
    enabled: true,
    interfaces: ['eth1'],
    subnets: [{ id: 1, subnet: '10.88.50.0/24', pools: ['10.88.50.100-10.88.50.199'], routers: [SERVER] }],
    boot: BOOT,
  },
};

type Options = ReadonlyArray<readonly [number, OptionInput]>;

/** Parameter request list of an Intel PXE 2.1 ROM (it asks for 66 and 67). */
const PXE_PRL = [1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135];
const UUID = Uint8Array.of(0x00, ...Array.from({ length: 16 }, (_, i) => 0x10 + i));

/** What PXE firmware of architecture `arch` sends (RFC 4578 §2.1–2.3, PXE 2.1 vendor class). */
function firmware(arch: number, undi: string): Options {
  return [
    [Opt.MAX_MESSAGE_SIZE, ov.u16(1260)],
    [Opt.CLIENT_ARCH, ov.u16(arch)],
    [Opt.CLIENT_NDI, [1, 2, 1]],
    [Opt.CLIENT_UUID, UUID],
    [Opt.PARAMETER_REQUEST_LIST, PXE_PRL],
    [Opt.VENDOR_CLASS_ID, `PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:${undi}`],
  ];
}

/** iPXE's option 175 as undionly.kpxe sends it (priority, bus id, and feature flags). */
const IPXE_175 = Uint8Array.of(0xb1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0e, 0xeb, 0x03, 0x01, 0x00, 0x00, 0x17, 0x01, 0x01, 0x13, 0x01, 0x01, 0x11, 0x01, 0x01, 0x10, 0x01, 0x02, 0x15, 0x01, 0x01);

describe('PXE, UEFI and iPXE boot against dcplane serve', { skip: netnsSkipReason() }, () => {
  let topo: Topology;
  let server: DhcpServerProcess;
  let client: RawDhcpClient;
  let macSeq = 0;

  before(async () => {
    topo = await createTopology({
      namespaces: ['srv', 'fw'],
      links: [{ name: 'l', a: { ns: 'srv', name: 'eth1', cidr: `${SERVER}/24` }, b: { ns: 'fw', name: 'eth1' } }],
    });
    server = await startServer(topo, 'srv', config);
    client = await RawDhcpClient.start(topo, 'fw', 'eth1');
  });

  after(async () => {
    await client?.close();
    await server?.dispose();
    await topo?.destroy();
  });

  function checkBoot(r: RawReply, file: string, what: string): void {
    const p = r.packet;
    assert.ok(p !== undefined);
    const v = viewReply(p);
    assert.equal(v.file, file, `${what}: file field: ${describeReply(r)}`);
    assert.equal(v.bootFileOption, file, `${what}: option 67: ${describeReply(r)}`);
    assert.equal(v.siaddr, NEXT_SERVER, `${what}: siaddr is the next server: ${describeReply(r)}`);
    assert.equal(v.tftpServerOption, NEXT_SERVER, `${what}: option 66: ${describeReply(r)}`);
    // PXE ROMs ignore an offer without vendor class "PXEClient" (PXE 2.1 §2.2.2).
    assert.equal(Buffer.from(p.options.get(Opt.VENDOR_CLASS_ID) ?? []).toString('latin1'), 'PXEClient', `${what}: option 60: ${describeReply(r)}`);
  }

  const cases: Array<[string, Options, string]> = [
    ['BIOS PXE (arch 0)', firmware(0, '002001'), BOOT.bios],
    ['UEFI x64 EFI BC (arch 7)', firmware(7, '003016'), BOOT.uefi],
    ['UEFI x64 (arch 9)', firmware(9, '003016'), BOOT.uefi],
    ['UEFI arm64 (arch 11)', firmware(11, '003000'), BOOT.uefi_arm64],
    // Real iPXE: user class 77 as the bare bytes "iPXE" (not RFC 3004 framing); without
    // recognising it, iPXE would get undionly.kpxe again and chainload itself forever.
    ['iPXE, user class "iPXE" as plain bytes', [...firmware(0, '002001'), [Opt.USER_CLASS, 'iPXE']], BOOT.ipxe],
    ['iPXE, user class "iPXE" RFC 3004 framed', [...firmware(0, '002001'), [Opt.USER_CLASS, [4, ...Buffer.from('iPXE')]]], BOOT.ipxe],
    ['iPXE (UEFI build) known by option 175 alone', [...firmware(7, '003016'), [Opt.IPXE_ENCAP, IPXE_175]], BOOT.ipxe],
  ];

  for (const [name, options, file] of cases) {
    test(`${name} gets ${file} in OFFER and ACK`, async () => {
      const mac = `02:88:50:00:00:${(++macSeq).toString(16).padStart(2, '0')}`;
      const { offer, ack, ip } = await client.dora(mac, options);
      checkBoot(offer, file, 'OFFER');
      checkBoot(ack, file, 'ACK');
      assert.match(ip, /^10\.88\.50\.1\d\d$/);
      assert.equal(viewReply(ack.packet as NonNullable<RawReply['packet']>).serverId, SERVER);
      assert.ok((await listLeases(server.dataDir)).some((l) => l.mac === mac && l.ip === ip && l.state === 'active'));
    });
  }

  test('a plain udhcpc, even asking for 66 and 67, gets an address and no boot information', async () => {
    const r = await runUdhcpc(topo, 'fw', 'eth1', { mac: '02:88:50:00:00:ff', requestOptions: ['bootfile', 'tftp'] });
    assert.match(r.lease?.ip ?? '', /^10\.88\.50\.1\d\d$/, `${r.output}\n--- server ---\n${server.logText()}`);
    const bound = [...r.events].reverse().find((e) => e.event === 'bound');
    assert.ok(bound !== undefined, r.output);
    for (const key of ['boot_file', 'bootfile', 'tftp', 'sname']) assert.equal(bound.env.get(key), undefined, `udhcpc saw ${key}=${bound.env.get(key)}`);
    assert.ok(r.lease?.siaddr === undefined || r.lease.siaddr === '0.0.0.0', `siaddr ${r.lease?.siaddr}`);
  });
});

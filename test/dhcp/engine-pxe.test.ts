import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { DhcpConfig } from '../../src/config/types.js';
import { MessageType as T } from '../../src/dhcp/constants.js';
import type { RequestContext } from '../../src/dhcp/engine.js';
import { compileDhcpConfig, DhcpEngine } from '../../src/dhcp/engine.js';
import type { DhcpPacket } from '../../src/dhcp/packet.js';
import { formatIpv4 } from '../../src/net/ipv4.js';
import type { RequestSpec } from '../helpers/memory-lease-view.js';
import { exchange, ip, ipBytes, MemoryLeaseView, request } from '../helpers/memory-lease-view.js';

const CONFIG: DhcpConfig = {
  boot: {
    next_server: '10.0.0.5', bios: 'undionly.kpxe', uefi: 'ipxe.efi', uefi32: 'ipxe32.efi', uefi_arm64: 'ipxe-arm64.efi',
    ipxe: 'http://10.0.0.5:8080/boot.ipxe', http: 'http://10.0.0.5/boot.efi',
  },
  subnets: [{
    id: 1, subnet: '10.0.0.0/24', interface: 'eth1', pools: ['10.0.0.100-10.0.0.150'],
    boot: { bios: 'subnet.kpxe' },
    reservations: [{ mac: '52:54:00:00:00:aa', ip: '10.0.0.50', boot: { uefi: 'host-a.efi' } }],
  }],
  client_classes: [{ name: 'arm-lab', match: { client_arch: [11] }, boot: { uefi_arm64: 'lab-arm.efi', next_server: '10.0.0.6' } }],
};

const CTX: RequestContext = { iface: { name: 'eth1', addresses: [{ ip: ip('10.0.0.254'), prefix: 24 }] }, sourceIp: 0, sourcePort: 68, now: 1_700_000_000 };

function offer(spec: RequestSpec, config: DhcpConfig = CONFIG): DhcpPacket {
  const out = new DhcpEngine(compileDhcpConfig(config)).handle(request(T.DISCOVER, spec), CTX, new MemoryLeaseView());
  assert.ok(out.kind === 'reply');
  return out.reply;
}

const text = (p: DhcpPacket, code: number): string | undefined => {
  const v = p.options.get(code);
  return v === undefined ? undefined : Buffer.from(v).toString('latin1');
};

const pxe = (arch: number | undefined, extra: RequestSpec['options'] = {}): RequestSpec => ({
  options: { 60: `PXEClient:Arch:${String(arch ?? 0).padStart(5, '0')}:UNDI:003016`, ...(arch !== undefined ? { 93: [arch >> 8, arch & 0xff] } : {}), ...extra },
});

describe('PXE boot selection', () => {
  it('an ordinary client gets no boot information', () => {
    const p = offer({ options: { 55: [1, 66, 67] } });
    assert.equal(p.file, '');
    assert.equal(p.siaddr, 0);
    for (const code of [60, 66, 67]) assert.equal(p.options.has(code), false, `option ${code}`);
  });

  const byArch: [string, number | undefined, string][] = [
    ['BIOS (arch 0)', 0, 'subnet.kpxe'],
    ['PXEClient without arch', undefined, 'subnet.kpxe'],
    ['UEFI BC (arch 7)', 7, 'ipxe.efi'],
    ['UEFI x64 (arch 9)', 9, 'ipxe.efi'],
    ['UEFI ia32 (arch 6)', 6, 'ipxe32.efi'],
  ];
  for (const [name, arch, file] of byArch) {
    it(`${name} → ${file}, next-server in siaddr, 67 and 60 PXEClient`, () => {
      const p = offer(pxe(arch));
      assert.equal(p.file, file);
      assert.equal(text(p, 67), file);
      assert.equal(formatIpv4(p.siaddr), '10.0.0.5');
      assert.equal(text(p, 60), 'PXEClient');
      assert.equal(p.options.has(66), false, '66 only when asked');
    });
  }

  it('option 66 when asked, in PRL order with 67', () => {
    const p = offer(pxe(7, { 55: [67, 66, 1] }));
    assert.equal(text(p, 66), '10.0.0.5');
    const keys = [...p.options.keys()];
    assert.ok(keys.indexOf(67) < keys.indexOf(66));
  });

  it('arm64 (arch 11) takes the class boot file and next-server (class > global)', () => {
    const p = offer(pxe(11));
    assert.equal(p.file, 'lab-arm.efi');
    assert.equal(formatIpv4(p.siaddr), '10.0.0.6');
  });

  it('arm64 without the class gets the global file', () => {
    const p = offer(pxe(11), { ...CONFIG, client_classes: [] });
    assert.equal(p.file, 'ipxe-arm64.efi');
  });

  for (const arch of [16, 19]) {
    it(`UEFI HTTP boot (arch ${arch}) gets the http URL and vendor class HTTPClient`, () => {
      const p = offer({ options: { 60: `HTTPClient:Arch:000${arch}:UNDI:003000`, 93: [0, arch] } });
      assert.equal(p.file, 'http://10.0.0.5/boot.efi');
      assert.equal(text(p, 67), 'http://10.0.0.5/boot.efi');
      assert.equal(text(p, 60), 'HTTPClient');
    });
  }

  const ipxeVariants: [string, RequestSpec['options']][] = [
    ['plain user class "iPXE"', { 77: 'iPXE' }],
    ['RFC 3004 framed user class', { 77: [4, ...Buffer.from('iPXE')] }],
    ['option 175', { 175: [0xb1, 1, 1, 0x13, 1, 1] }],
  ];
  for (const [name, extra] of ipxeVariants) {
    it(`iPXE by ${name} gets the iPXE script, breaking the chainload loop`, () => {
      const p = offer(pxe(7, extra));
      assert.equal(p.file, 'http://10.0.0.5:8080/boot.ipxe');
      assert.equal(text(p, 67), 'http://10.0.0.5:8080/boot.ipxe');
    });
  }

  it('iPXE with no ipxe configured falls back to its architecture\'s file', () => {
    const { ipxe: _, ...rest } = CONFIG.boot ?? {};
    const p = offer(pxe(9, { 77: 'iPXE' }), { ...CONFIG, boot: rest });
    assert.equal(p.file, 'ipxe.efi');
  });

  it('reservation boot overrides field by field', () => {
    assert.equal(offer({ mac: '52:54:00:00:00:aa', ...pxe(7) }).file, 'host-a.efi');
    assert.equal(offer({ mac: '52:54:00:00:00:aa', ...pxe(0) }).file, 'subnet.kpxe');
  });

  it('a boot file too long for the file field goes in option 67 only', () => {
    const long = `http://10.0.0.5/${'x'.repeat(150)}`;
    const p = offer(pxe(7), { ...CONFIG, boot: { ...CONFIG.boot, uefi: long } });
    assert.equal(p.file, '');
    assert.equal(text(p, 67), long);
  });

  it('without next_server, siaddr is our own address; server_name fills sname', () => {
    const p = offer(pxe(0), { ...CONFIG, boot: { bios: 'a.kpxe', server_name: 'boot-1' } });
    assert.equal(formatIpv4(p.siaddr), '10.0.0.254');
    assert.equal(p.sname, 'boot-1');
  });

  it('the ACK carries the same boot information as the OFFER', () => {
    const engine = new DhcpEngine(compileDhcpConfig(CONFIG));
    const view = new MemoryLeaseView();
    const spec = pxe(7);
    const o = exchange(engine, view, request(T.DISCOVER, spec), CTX);
    assert.ok(o.kind === 'reply');
    const a = exchange(engine, view, request(T.REQUEST, { options: { ...spec.options, 50: ipBytes(formatIpv4(o.reply.yiaddr)), 54: ipBytes('10.0.0.254') } }), CTX);
    assert.ok(a.kind === 'reply');
    assert.equal(a.reply.options.get(53)?.[0], T.ACK);
    assert.equal(a.reply.file, 'ipxe.efi');
    assert.equal(formatIpv4(a.reply.siaddr), '10.0.0.5');
  });
});

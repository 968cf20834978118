import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { BUILTIN_NAMES, TftpGeneratedFiles, builtinFiles } from '../../src/tftp/generated.js';

const client = { ip: '10.0.0.5', port: 2000 };

describe('TftpGeneratedFiles', () => {
  it('answers matching names from providers in registration order; undefined passes to the next', async () => {
    const g = new TftpGeneratedFiles();
    g.register(/^pxelinux\.cfg\/01-/, (name) => (name.endsWith('00') ? undefined : `per-host ${name}`));
    g.register((name) => name.startsWith('pxelinux.cfg/'), async (name, c) => Buffer.from(`fallback ${name} for ${c.ip}:${c.port}`));
    assert.ok(g.claims('pxelinux.cfg/01-aa'));
    assert.ok(!g.claims('grub.cfg'));
    const a = await g.lookup('pxelinux.cfg/01-aa', client);
    assert.equal(a.kind === 'file' && a.data.toString(), 'per-host pxelinux.cfg/01-aa');
    const b = await g.lookup('pxelinux.cfg/01-00', client);
    assert.equal(b.kind === 'file' && b.data.toString(), 'fallback pxelinux.cfg/01-00 for 10.0.0.5:2000');
    assert.deepEqual(await g.lookup('grub.cfg', client), { kind: 'none' });
  });

  it('unregisters', async () => {
    const g = new TftpGeneratedFiles();
    const off = g.register(/x/, () => 'x');
    assert.equal(g.size, 1);
    off();
    assert.equal(g.size, 0);
    assert.deepEqual(await g.lookup('x', client), { kind: 'none' });
  });

  it('reports a provider that throws, rejects or never answers as an error', async () => {
    const g = new TftpGeneratedFiles();
    g.register(/^throw$/, () => {
      throw new Error('boom');
    });
    g.register(/^reject$/, () => Promise.reject(new Error('no')));
    g.register(/^hang$/, () => new Promise<undefined>(() => undefined));
    for (const n of ['throw', 'reject']) assert.equal((await g.lookup(n, client)).kind, 'error', n);
    const started = Date.now();
    assert.equal((await g.lookup('hang', client, 50)).kind, 'error');
    assert.ok(Date.now() - started < 1000);
  });

  it('resets lastIndex of global regex matchers between names', async () => {
    const g = new TftpGeneratedFiles();
    g.register(/a/g, () => 'y');
    for (let i = 0; i < 3; i++) assert.equal((await g.lookup('a', client)).kind, 'file');
  });
});

describe('builtinFiles', () => {
  const url = 'http://10.77.0.1:8080/boot.ipxe';

  it('has every documented name', () => {
    assert.deepEqual([...builtinFiles({}).keys()].sort(), [...BUILTIN_NAMES].sort());
  });

  it('chains to the iPXE URL when one is configured', () => {
    const f = builtinFiles({ ipxeUrl: url });
    const pxe = f.get('pxelinux.cfg/default')?.toString() ?? '';
    assert.match(pxe, /^DEFAULT ipxe$/m);
    assert.match(pxe, new RegExp(`APPEND dhcp && chain ${url.replace(/[.]/g, '\\.')}`));
    assert.match(pxe, /LOCALBOOT 0/);
    const ipxe = f.get('default.ipxe')?.toString() ?? '';
    assert.match(ipxe, /^#!ipxe\n/);
    assert.match(ipxe, /^dhcp \|\| goto local$/m);
    assert.ok(ipxe.includes(`chain --autofree ${url} || goto local`));
    assert.match(f.get('grub/grub.cfg')?.toString() ?? '', /chainloader \/ipxe\.efi/);
    assert.equal(f.get('grub.cfg')?.toString(), f.get('grub/grub.cfg')?.toString());
  });

  it('boots from the local disk without a URL, and never chains a script to itself', () => {
    const f = builtinFiles({});
    assert.match(f.get('pxelinux.cfg/default')?.toString() ?? '', /^DEFAULT local$/m);
    assert.doesNotMatch(f.get('boot.ipxe')?.toString() ?? '', /chain/);
    assert.doesNotMatch(f.get('grub.cfg')?.toString() ?? '', /ipxe/);
    const self = builtinFiles({ ipxeUrl: 'tftp://10.0.0.1/boot.ipxe' });
    assert.doesNotMatch(self.get('boot.ipxe')?.toString() ?? '', /chain/, 'boot.ipxe chaining to tftp://.../boot.ipxe would loop');
    assert.match(self.get('default.ipxe')?.toString() ?? '', /chain/);
    // Over HTTP the same name is another server's file (dcplane's /boot.ipxe bootstrap): chaining to it is the point.
    const http = builtinFiles({ ipxeUrl: 'http://10.0.0.1:8080/boot.ipxe' });
    assert.match(http.get('boot.ipxe')?.toString() ?? '', /^chain --autofree http:\/\/10\.0\.0\.1:8080\/boot\.ipxe \|\| goto local$/m);
  });

  it('leaves out a URL that would break the generated syntax', () => {
    assert.doesNotMatch(builtinFiles({ ipxeUrl: 'http://x/a b' }).get('default.ipxe')?.toString() ?? '', /chain/);
    assert.doesNotMatch(builtinFiles({ ipxeUrl: 'http://x/";reboot' }).get('grub.cfg')?.toString() ?? '', /reboot/);
  });
});

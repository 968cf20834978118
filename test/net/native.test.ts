import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadNative, packageRoot } from '../../src/net/native.js';
import { createTopology, netnsSkipReason } from '../helpers/netns.js';

const native = loadNative();

function adopt(fd: number): Socket {
  const s = createSocket({ type: 'udp4' });
  s.bind({ fd });
  return s;
}

function codeOf(fn: () => unknown): { code: unknown; syscall: unknown } {
  try {
    fn();
  } catch (err) {
    return { code: (err as { code?: unknown }).code, syscall: (err as { syscall?: unknown }).syscall };
  }
  assert.fail('expected a throw');
}

async function roundTrip(server: Socket, payload: string): Promise<string> {
  const port = server.address().port;
  const got = new Promise<string>((resolve) => server.once('message', (m) => resolve(m.toString())));
  const client = createSocket({ type: 'udp4' });
  await new Promise<void>((resolve, reject) => client.send(payload, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  client.close();
  return got;
}

describe('native addon', () => {
  const open: Socket[] = [];
  after(() => {
    for (const s of open) s.close();
  });

  test('is found from the package root', () => {
    assert.ok(existsSync(join(packageRoot(), 'binding.gyp')));
  });

  test('opens an unbound socket and one bound to lo that dgram can use', async () => {
    const any = adopt(native.openUdpSocket(null, 0));
    open.push(any);
    assert.equal(await roundTrip(any, 'to-any'), 'to-any');
    const lo = adopt(native.openUdpSocket('lo', 0));
    open.push(lo);
    assert.equal(await roundTrip(lo, 'to-lo'), 'to-lo');
  });

  test('a missing interface is ENODEV from SO_BINDTODEVICE', () => {
    const e = codeOf(() => native.openUdpSocket('nosuchif0', 0));
    assert.equal(e.code, 'ENODEV');
    assert.match(String(e.syscall), /SO_BINDTODEVICE/);
  });

  test('an over-long interface name is refused, not cut to a prefix', () => {
    assert.equal(codeOf(() => native.openUdpSocket('a'.repeat(16), 0)).code, 'EINVAL');
    assert.equal(codeOf(() => native.openUdpSocket('lo', 70000)).code, 'EINVAL');
  });

  test('a second socket on the same interface and port, or on all interfaces, is EADDRINUSE', () => {
    const first = adopt(native.openUdpSocket('lo', 0));
    open.push(first);
    const port = first.address().port;
    assert.equal(codeOf(() => native.openUdpSocket('lo', port)).code, 'EADDRINUSE');
    assert.equal(codeOf(() => native.openUdpSocket(null, port)).code, 'EADDRINUSE');
  });

  test('grants the socket buffers asked for', () => {
    const s = adopt(native.openUdpSocket('lo', 0, 2 * 1024 * 1024));
    open.push(s);
    // Linux reports double the size set; as root SO_RCVBUFFORCE passes net.core.rmem_max.
    if (process.getuid?.() === 0) assert.equal(s.getRecvBufferSize(), 4 * 1024 * 1024);
    else assert.ok(s.getRecvBufferSize() > 0);
  });

  test('setArp checks its arguments before touching the kernel', () => {
    assert.equal(codeOf(() => native.setArp('lo', '10.0.0.1', new Uint8Array(5))).code, 'EINVAL');
    assert.equal(codeOf(() => native.setArp('lo', 'not-an-ip', new Uint8Array(6))).code, 'EINVAL');
    assert.equal(codeOf(() => native.setArp('lo', 2 ** 32, new Uint8Array(6))).code, 'EINVAL');
    assert.equal(codeOf(() => native.setArp('lo', '10.0.0.1', new Uint16Array(6) as unknown as Uint8Array)).code, 'EINVAL');
  });

  test('a missing addon is NET_ERR_ADDON_MISSING with the fix in the message', () => {
    // A copy of the loader in a package without a build directory.
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const here = fileURLToPath(new URL('.', import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), 'dcplane-noaddon-'));
    try {
      mkdirSync(join(dir, 'src', 'net'), { recursive: true });
      mkdirSync(join(dir, 'src', 'common'), { recursive: true });
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
      copyFileSync(join(here, '..', '..', 'src', 'net', `native${ext}`), join(dir, 'src', 'net', `native${ext}`));
      for (const f of ['errors', 'package-root']) {
        copyFileSync(join(here, '..', '..', 'src', 'common', `${f}${ext}`), join(dir, 'src', 'common', `${f}${ext}`));
      }
      const script = `import { loadNative } from ${JSON.stringify(join(dir, 'src', 'net', `native${ext}`))};
        try { loadNative(); console.log('loaded'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
      const loader = ext === '.ts' ? ['--import', import.meta.resolve('tsx')] : [];
      const out = execFileSync(process.execPath, [...loader, '--input-type=module', '-e', script], { encoding: 'utf8' });
      const r = JSON.parse(out) as { code: string; message: string };
      assert.equal(r.code, 'NET_ERR_ADDON_MISSING');
      assert.match(r.message, /npm install/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('native setArp in a namespace', { skip: netnsSkipReason() }, () => {
  test('installs a neighbour entry; a missing interface is ENODEV', async () => {
    const topo = await createTopology({ namespaces: ['a', 'b'], links: [{ name: 'l', a: { ns: 'a', cidr: '10.92.0.1/24' }, b: { ns: 'b' } }] });
    try {
      const addon = join(packageRoot(), 'build', 'Release', 'dcplane_net.node');
      const ifname = topo.end('l', 'a').ifname;
      const script = `const n = require(${JSON.stringify(addon)});
        n.setArp(${JSON.stringify(ifname)}, '10.92.0.7', Buffer.from([2, 0, 0, 0, 0, 7]));
        n.setArp(${JSON.stringify(ifname)}, (10 << 24 | 92 << 16 | 8) >>> 0, new Uint8Array([2, 0, 0, 0, 0, 8]));
        let code = 'none';
        try { n.setArp('nosuchif0', '10.92.0.9', Buffer.alloc(6)); } catch (e) { code = e.code; }
        console.log(code);`;
      const r = await topo.exec('a', process.execPath, ['-e', script]);
      assert.equal(r.stdout.trim(), 'ENODEV');
      const neigh = await topo.exec('a', 'ip', ['neigh', 'show', 'dev', ifname]);
      assert.match(neigh.stdout, /10\.92\.0\.7 lladdr 02:00:00:00:00:07/);
      assert.match(neigh.stdout, /10\.92\.0\.8 lladdr 02:00:00:00:00:08/);
    } finally {
      await topo.destroy();
    }
  });
});

/**
 * dcplane's TFTP server against the clients users run: tftp-hpa's `tftp`,
 * curl and atftp, in a client namespace, the server alone in another. Every
 * download is checked by SHA-256 against the file in the root.
 *
 * DCPLANE_E2E_TFTP_SERVER=tftpd-hpa (or atftpd) runs the same file against
 * that peer: the harness is trusted because it passes there.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Topology } from '../helpers/netns.js';
import { createTopology, netnsSkipReason } from '../helpers/netns.js';
import type { TftpClientResult, TftpTarget } from '../helpers/tftp-clients.js';
import { atftpGet, curlGet, netasciiEncode, sha256, sha256File, tftpHpaGet } from '../helpers/tftp-clients.js';
import type { TftpServerHandle } from '../helpers/tftp-servers.js';
import { makeTftpRoot, removeTftpRoot, startTftpServer, tftpServerKind, writeRootFile } from '../helpers/tftp-servers.js';

const SERVER_IP = '10.61.0.1';
const CLIENT_IP = '10.61.0.2';
const kind = tftpServerKind();

/** name → content; hashes are taken from these buffers, never from the server's copy. */
const files = new Map<string, Buffer>([
  ['small.bin', randomBytes(5000)],
  // Ends exactly on a block boundary: the transfer must end with an empty DATA.
  ['boundary-512.bin', randomBytes(512 * 100)],
  ['boundary-1468.bin', randomBytes(1468 * 50)],
  ['empty.bin', Buffer.alloc(0)],
  ['window.bin', randomBytes(4 * 1024 * 1024 + 333)],
  // 65537 blocks of 512 and a short one: block numbers pass 65535 and start again at 0 (RFC 1350 has 16 bits).
  ['rollover.bin', randomBytes(32 * 1024 * 1024 + 512 + 100)],
]);

/** Text whose netascii form differs a lot: LF, bare CR, CR LF, a CR as the last byte, lines across block edges. */
function netasciiSample(): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < 300; i++) parts.push(`line ${i} ${'x'.repeat(i % 37)}${i % 5 === 0 ? '\r' : ''}${i % 7 === 0 ? '\r\n' : '\n'}`);
  parts.push('bare\rcr at the end\r');
  return Buffer.from(parts.join(''), 'latin1');
}
const text = netasciiSample();

let topo: Topology;
let server: TftpServerHandle;
let root: string;
let out: string;
let target: TftpTarget;

function dest(name: string): string {
  return join(out, `${name}-${Math.random().toString(36).slice(2)}`);
}

function explain(r: TftpClientResult): string {
  return `${r.client} exit ${String(r.exitCode)}${r.timedOut ? ' (timed out)' : ''}: ${JSON.stringify(r.error)}\n${r.output.slice(-1500)}\n--- server log tail ---\n${server.logText().slice(-3000)}`;
}

async function assertSameFile(r: TftpClientResult, path: string, name: string): Promise<void> {
  assert.ok(r.ok, explain(r));
  const want = files.get(name);
  if (want === undefined) throw new Error(`no test file ${name}`);
  assert.equal(statSync(path).size, want.length, `${r.client} ${name}: size`);
  assert.equal(await sha256File(path), sha256(want), `${r.client} ${name}: SHA-256`);
}

describe(`TFTP (${kind}) with tftp-hpa, curl and atftp`, { skip: netnsSkipReason(), timeout: 150_000 }, () => {
  before(async () => {
    topo = await createTopology({
      namespaces: ['srv', 'cli'],
      links: [{ name: 'l', a: { ns: 'srv', cidr: `${SERVER_IP}/24` }, b: { ns: 'cli', cidr: `${CLIENT_IP}/24` } }],
    });
    root = makeTftpRoot();
    for (const [name, data] of files) writeRootFile(root, name, data);
    writeRootFile(root, 'text.txt', text);
    out = mkdtempSync(join(tmpdir(), 'dcplane-tftp-out-'));
    server = await startTftpServer(topo, 'srv', kind, { address: SERVER_IP, root, maxBlksize: 1468, maxWindowsize: 64 });
    target = { netns: topo.netns('cli'), server: SERVER_IP };
  });

  after(async () => {
    await server?.stop();
    await topo?.destroy();
    if (root !== undefined) removeTftpRoot(root);
    if (out !== undefined) rmSync(out, { recursive: true, force: true });
  });

  test('tftp-hpa (RFC 1350, 512-byte blocks): small, block-boundary and empty files', async () => {
    for (const name of ['small.bin', 'boundary-512.bin', 'boundary-1468.bin', 'empty.bin']) {
      const p = dest(name);
      await assertSameFile(await tftpHpaGet(target, name, p), p, name);
    }
  });

  test('curl with default blksize and --tftp-blksize 1468: small and block-boundary files', async () => {
    for (const blksize of [undefined, 1468]) {
      for (const name of ['small.bin', 'boundary-512.bin', 'boundary-1468.bin', 'window.bin']) {
        const p = dest(name);
        await assertSameFile(await curlGet(target, name, p, blksize === undefined ? {} : { blksize }), p, name);
      }
    }
  });

  test('curl fetches an empty file when it sends no options (curl 7.88 refuses an honest OACK tsize 0)', async () => {
    const p = dest('empty.bin');
    await assertSameFile(await curlGet(target, 'empty.bin', p, { noOptions: true }), p, 'empty.bin');
  });

  test('atftp with blksize 1468 and windowsize 16: OACK, small, boundary, empty and 4 MiB files', async () => {
    const p0 = dest('small.bin');
    const traced = await atftpGet(target, 'small.bin', p0, { blksize: 1468, windowsize: 16, trace: true });
    await assertSameFile(traced, p0, 'small.bin');
    const oack = traced.oack;
    if (oack === undefined) throw new assert.AssertionError({ message: `atftp saw no OACK:\n${traced.output}` });
    assert.equal(oack.get('blksize'), '1468');
    // tftpd-hpa does not know windowsize and leaves it out of its OACK (RFC 2347 lets it); the others grant 16.
    assert.equal(oack.get('windowsize'), kind === 'tftpd-hpa' ? undefined : '16', explain(traced));
    for (const name of ['boundary-1468.bin', 'boundary-512.bin', 'empty.bin', 'window.bin']) {
      const p = dest(name);
      await assertSameFile(await atftpGet(target, name, p, { blksize: 1468, windowsize: 16 }), p, name);
    }
  });

  test('a file over 32 MiB at blksize 512 (block numbers roll over) with tftp-hpa and curl', async () => {
    const p1 = dest('rollover.bin');
    await assertSameFile(await tftpHpaGet(target, 'rollover.bin', p1, { timeoutMs: 90_000 }), p1, 'rollover.bin');
    rmSync(p1);
    const p2 = dest('rollover.bin');
    await assertSameFile(await curlGet(target, 'rollover.bin', p2, { timeoutMs: 90_000 }), p2, 'rollover.bin');
    rmSync(p2);
  });

  test('netascii: tftp-hpa decodes back to the file and counted the CR LF / CR NUL bytes; curl gets the wire bytes', async () => {
    const encoded = netasciiEncode(text);
    const p = dest('text.txt');
    const r = await tftpHpaGet(target, 'text.txt', p, { mode: 'netascii' });
    assert.ok(r.ok, explain(r));
    assert.equal(r.bytesReported, encoded.length, 'bytes on the wire = netascii length');
    assert.ok(readFileSync(p).equals(text), 'tftp-hpa decoded the netascii back to the original');

    const p2 = dest('text.txt');
    const c = await curlGet(target, 'text.txt', p2, { netascii: true, noOptions: true });
    assert.ok(c.ok, explain(c));
    assert.ok(readFileSync(p2).equals(encoded), 'curl wrote exactly the netascii encoding (LF → CR LF, CR → CR NUL)');

    if (kind === 'dcplane') {
      // With curl's default tsize request: tftpd-hpa answers a netascii RRQ carrying tsize with ERROR 8 (its man
      // page: tsize only for octet), and atftpd's OACK makes curl give up (exit 71). dcplane must serve it.
      const p3 = dest('text.txt');
      const c3 = await curlGet(target, 'text.txt', p3, { netascii: true });
      assert.ok(c3.ok, explain(c3));
      assert.ok(readFileSync(p3).equals(encoded));
    }
  });

  test('a missing file is an ERROR 1 in every client', async () => {
    const h = await tftpHpaGet(target, 'no-such-file.bin', dest('missing'));
    assert.equal(h.ok, false);
    assert.equal(h.error?.code, 1, explain(h));
    const c = await curlGet(target, 'no-such-file.bin', dest('missing'));
    assert.equal(c.ok, false);
    assert.equal(c.error?.code, 1, explain(c));
    const a = await atftpGet(target, 'no-such-file.bin', dest('missing'), { blksize: 1468 });
    assert.equal(a.ok, false);
    assert.ok(a.error !== undefined, explain(a));
    for (const r of [h, c, a]) assert.ok(!r.output.includes(root), `${r.client}: the error text reveals the server path ${root}`);
  });

  test('path escapes fail and hand out nothing: ../../etc/passwd, /etc/passwd', async () => {
    const passwd = readFileSync('/etc/passwd');
    const depth = '../'.repeat(root.split('/').length);
    for (const name of ['../../etc/passwd', `${depth}etc/passwd`, '/etc/passwd']) {
      for (const get of [
        (p: string) => tftpHpaGet(target, name, p),
        (p: string) => curlGet(target, name, p),
        (p: string) => atftpGet(target, name, p),
      ]) {
        const p = dest('escape');
        const r = await get(p);
        assert.equal(r.ok, false, `${r.client} fetched ${name}:\n${explain(r)}`);
        assert.ok(r.error !== undefined, explain(r));
        const got = existsSync(p) ? readFileSync(p) : Buffer.alloc(0);
        assert.ok(got.length === 0 || !passwd.includes(got.subarray(0, 64)), `${r.client} wrote part of /etc/passwd for ${name}`);
        assert.ok(!r.output.includes(root), `${r.client}: the error text reveals the server path ${root}`);
      }
    }
  });
});

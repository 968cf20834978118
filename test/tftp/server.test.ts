/**
 * The TFTP shell end to end on loopback, with a raw UDP client: no root, no
 * namespaces. Real-client tests (tftp-hpa, curl, atftp, QEMU) are in test/e2e.
 */
import { describe, it, before, after, afterEach } from 'node:test';
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Dcplane } from '../../src/app.js';
import { applyDefaults } from '../../src/config/defaults.js';
import type { TftpConfig } from '../../src/config/types.js';
import { TftpJailErrorCode } from '../../src/tftp/jail.js';
import { TftpServer } from '../../src/tftp/server.js';
import { RawClient, ack, data, download, errorPacket, rrq, wrq } from './raw-client.js';
import { freeTcpPort, jsonLogSink } from '../helpers/app-fixtures.js';

let base: string;
let root: string;
let uploads: string;

interface Running {
  readonly server: TftpServer;
  readonly registry: Registry;
  readonly logs: Record<string, unknown>[];
}

const running: Running[] = [];

async function start(tftp: TftpConfig = {}, ipxeUrl?: string, cacheOnFirstReadBytes?: number): Promise<Running> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const registry = new Registry();
  const config = applyDefaults({ tftp: { enabled: true, listen: '127.0.0.1:0', root, ...tftp } }).tftp;
  const server = await TftpServer.start({ config, logger: pino({ level: 'debug' }, sink), registry, ipxeUrl, cacheOnFirstReadBytes });
  const r = { server, registry, logs };
  running.push(r);
  return r;
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) throw new Error(`no metric ${name}`);
  const v = await m.get();
  let sum = 0;
  for (const s of v.values) {
    if (Object.entries(labels).every(([k, want]) => String((s.labels as Record<string, unknown>)[k]) === want)) sum += s.value;
  }
  return sum;
}

function transferLines(r: Running): Record<string, unknown>[] {
  return r.logs.filter((l) => l.msg === 'tftp transfer');
}

async function until(cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function file(name: string, content: Buffer | string): Buffer {
  const b = typeof content === 'string' ? Buffer.from(content) : content;
  writeFileSync(join(root, name), b);
  return b;
}

function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

describe('TftpServer on loopback', () => {
  before(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'dcplane-tftp-server-')));
    root = join(base, 'root');
    uploads = join(base, 'uploads');
    mkdirSync(join(root, 'pxelinux.cfg'), { recursive: true });
    mkdirSync(uploads);
    writeFileSync(join(base, 'secret'), 'outside the root');
    symlinkSync(join(base, 'secret'), join(root, 'link-out'));
  });
  afterEach(async () => {
    for (const r of running.splice(0)) await r.server.stop();
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('serves an octet RRQ in 512-byte blocks from its own port and logs one line for it', async () => {
    const r = await start();
    const content = file('plain.bin', pattern(1300));
    const got = await download(r.server.port, 'plain.bin');
    assert.equal(got.error, undefined);
    assert.ok(got.data.equals(content));
    assert.equal(got.blocks, 3);
    assert.equal(got.oack, undefined, 'no options asked, no OACK');
    assert.notEqual(got.tid, r.server.port, 'the transfer runs on its own port (RFC 1350 §4)');
    await until(() => transferLines(r).length === 1);
    const line = transferLines(r)[0] as Record<string, unknown>;
    assert.equal(line.outcome, 'completed');
    assert.equal(line.file, 'plain.bin');
    assert.equal(line.mode, 'octet');
    assert.equal(line.bytes, 1300);
    assert.equal(line.blocks, 3);
    assert.equal(line.resends, 0);
    assert.match(String(line.client), /^127\.0\.0\.1:\d+$/);
    assert.equal(typeof line.duration_ms, 'number');
    assert.equal(await metric(r.registry, 'dcplane_tftp_transfers_total', { outcome: 'completed' }), 1);
    assert.equal(await metric(r.registry, 'dcplane_tftp_bytes_sent_total'), 1300);
    assert.equal(await metric(r.registry, 'dcplane_tftp_file_transfers_total', { file: 'plain.bin', outcome: 'completed' }), 1);
    assert.equal(await metric(r.registry, 'dcplane_tftp_transfers_active'), 0);
  });

  it('ends a file on a block boundary with an empty DATA, and serves an empty file as one empty block', async () => {
    const r = await start();
    const content = file('boundary.bin', pattern(1024));
    const got = await download(r.server.port, 'boundary.bin');
    assert.ok(got.data.equals(content));
    assert.equal(got.blocks, 3);
    file('empty.bin', '');
    const e = await download(r.server.port, 'empty.bin');
    assert.equal(e.data.length, 0);
    assert.equal(e.blocks, 1);
  });

  it('converts netascii (LF → CR LF, CR → CR NUL) and announces the converted size as tsize', async () => {
    const r = await start();
    file('text.txt', 'a\nb\rc\n');
    const got = await download(r.server.port, 'text.txt', { mode: 'NetASCII', options: { tsize: 0 } });
    assert.deepEqual([...got.data], [...Buffer.from('a\r\nb\r\0c\r\n')]);
    assert.equal(got.oack?.get('tsize'), '9');
  });

  it('refuses netascii for a file over netascii_max_bytes, and converts a smaller one once, then serves it from the cache', async () => {
    const r = await start({ netascii_max_bytes: 1000 });
    file('big.txt', Buffer.alloc(1001, 0x0a));
    const big = await download(r.server.port, 'big.txt', { mode: 'netascii' });
    assert.deepEqual(big.error, { code: 0, message: 'file too large for netascii; use octet' });
    assert.equal((await download(r.server.port, 'big.txt')).data.length, 1001, 'octet still serves it');
    file('small.txt', Buffer.alloc(1000, 0x0a));
    for (let i = 0; i < 3; i++) {
      const got = await download(r.server.port, 'small.txt', { mode: 'netascii', options: { tsize: 0 } });
      assert.equal(got.oack?.get('tsize'), '2000');
      assert.ok(got.data.equals(Buffer.from('\r\n'.repeat(1000))));
    }
    await until(() => r.server.transfersList().filter((t) => t.file === 'small.txt' && t.state === 'completed').length === 3);
    const sources = r.server.transfersList().filter((t) => t.file === 'small.txt').map((t) => t.source).reverse();
    assert.deepEqual(sources, ['disk', 'cache', 'cache']);
    assert.equal(await metric(r.registry, 'dcplane_tftp_cache_bytes'), 1001 + 2000, 'big.txt read in octet, small.txt in netascii form only');
    assert.equal(await metric(r.registry, 'dcplane_tftp_requests_refused_total', { reason: 'netascii_too_large' }), 1);
  });

  it('leaves a timeout over max_timeout out of the OACK, and caps concurrent transfers per client address', async () => {
    const r = await start({ max_timeout: 10, max_transfers_per_client: 1 });
    file('slot.bin', pattern(5000));
    const held = await RawClient.open();
    held.send(rrq('slot.bin', 'octet', { timeout: 255, blksize: 1024 }), r.server.port);
    const o = await held.next();
    assert.deepEqual(o.op === 'OACK' && [...o.options], [['blksize', '1024']], 'timeout 255 is not granted');
    const second = await download(r.server.port, 'slot.bin', { options: { timeout: 10 } });
    assert.deepEqual(second.error, { code: 0, message: 'server busy, try again' }, 'one transfer per address');
    const other = createSocket('udp4');
    await new Promise<void>((resolve) => other.bind(0, '127.0.0.2', resolve));
    const reply = new Promise<Buffer>((resolve) => other.once('message', (m) => resolve(m)));
    other.send(rrq('slot.bin', 'octet', { timeout: 10 }), r.server.port, '127.0.0.1');
    const m = await reply;
    assert.equal(m.readUInt16BE(0), 6, 'another address gets its transfer');
    assert.ok(m.includes(Buffer.from('timeout\x0010\x00')), 'a timeout within max_timeout is echoed');
    other.close();
    assert.equal(await metric(r.registry, 'dcplane_tftp_requests_refused_total', { reason: 'client_busy' }), 1);
    await held.close();
  });

  it('answers options in an OACK: names case-insensitive, unknown ones left out, real tsize', async () => {
    const r = await start();
    const content = file('opts.bin', pattern(5000));
    const got = await download(r.server.port, 'opts.bin', { options: { BlkSize: 1024, tsize: 0, timeout: 3, windowsize: 4, frobnicate: 7 } });
    assert.deepEqual(Object.fromEntries(got.oack ?? []), { blksize: '1024', tsize: '5000', timeout: '3', windowsize: '4' });
    assert.ok(got.data.equals(content));
    assert.equal(got.blocks, 5);
  });

  it('caps blksize and windowsize at the configured maximums', async () => {
    const r = await start({ max_blksize: 1000, max_windowsize: 2 });
    const content = file('cap.bin', pattern(4500));
    const got = await download(r.server.port, 'cap.bin', { options: { blksize: 65464, windowsize: 64 } });
    assert.deepEqual(Object.fromEntries(got.oack ?? []), { blksize: '1000', windowsize: '2' });
    assert.ok(got.data.equals(content));
    assert.equal(got.blocks, 5);
  });

  it('paces a window: windowsize blocks, then nothing until the ACK', async () => {
    const r = await start();
    file('window.bin', pattern(512 * 10));
    const c = await RawClient.open();
    // A fixed 2 s timeout (RFC 2349), so a resend cannot be mistaken for pacing.
    c.send(rrq('window.bin', 'octet', { windowsize: 4, timeout: 2 }), r.server.port);
    const oack = await c.next();
    assert.equal(oack.op, 'OACK');
    c.send(ack(0), oack.from.port);
    const first = [await c.next(), await c.next(), await c.next(), await c.next()].map((p) => (p.op === 'DATA' ? p.block : -1));
    assert.deepEqual(first, [1, 2, 3, 4]);
    assert.equal(await c.quiet(300), undefined, 'the window is full: the server waits for an ACK');
    c.send(ack(4), oack.from.port);
    const second = [await c.next(), await c.next(), await c.next(), await c.next()].map((p) => (p.op === 'DATA' ? p.block : -1));
    assert.deepEqual(second, [5, 6, 7, 8]);
    await c.close();
  });

  it('answers a packet from an unknown TID with ERROR 5 and carries on with the transfer', async () => {
    const r = await start();
    const content = file('tid.bin', pattern(1500));
    const c = await RawClient.open();
    const stranger = await RawClient.open();
    c.send(rrq('tid.bin'), r.server.port);
    const d1 = await c.next();
    assert.equal(d1.op === 'DATA' && d1.block, 1);
    stranger.send(ack(1), d1.from.port);
    const e = await stranger.next();
    assert.deepEqual(e.op === 'ERROR' && [e.code, e.message], [5, 'unknown transfer ID']);
    assert.equal(e.from.port, d1.from.port, 'the ERROR comes from the transfer port');
    const chunks = [d1.op === 'DATA' ? d1.data : Buffer.alloc(0)];
    let block = 1;
    for (;;) {
      c.send(ack(block), d1.from.port);
      const p = await c.next();
      assert.equal(p.op, 'DATA');
      if (p.op !== 'DATA') break;
      chunks.push(p.data);
      block = p.block;
      if (p.data.length < 512) break;
    }
    c.send(ack(block), d1.from.port);
    assert.ok(Buffer.concat(chunks).equals(content));
    assert.equal(await metric(r.registry, 'dcplane_tftp_packets_dropped_total', { reason: 'unknown_tid' }), 1);
    await until(async () => (await metric(r.registry, 'dcplane_tftp_transfers_total', { outcome: 'completed' })) === 1);
    await c.close();
    await stranger.close();
  });

  it('never answers a stranger\'s ERROR, and answers other strangers at most once per 100 ms per transfer', { timeout: 10_000 }, async () => {
    const r = await start({ timeout: 5 });
    file('pingpong.bin', pattern(100_000));
    const a = await RawClient.open();
    const b = await RawClient.open();
    a.send(rrq('pingpong.bin'), r.server.port);
    b.send(rrq('pingpong.bin'), r.server.port);
    const pa = (await a.next()).from.port;
    const pb = (await b.next()).from.port;
    // One spoofed ERROR "from" transfer A's port to transfer B's: answered, the two would ping-pong ERROR 5s.
    const spoof = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve) => spoof.bind(pa, '127.0.0.1', resolve));
    spoof.send(errorPacket(5, 'x'), pb, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 300));
    spoof.close();
    assert.equal(await metric(r.registry, 'dcplane_tftp_errors_sent_total', { code: '5' }), 0);
    assert.equal(await metric(r.registry, 'dcplane_tftp_packets_dropped_total', { reason: 'unknown_tid_not_answered' }), 1);
    const stranger = await RawClient.open();
    for (let i = 0; i < 20; i++) stranger.send(ack(1), pb);
    const e = await stranger.next();
    assert.equal(e.op === 'ERROR' && e.code, 5);
    assert.equal(await stranger.quiet(50), undefined, 'one answer for a burst');
    assert.equal(await metric(r.registry, 'dcplane_tftp_packets_dropped_total', { reason: 'unknown_tid_suppressed' }), 19);
    await new Promise((resolve) => setTimeout(resolve, 110));
    stranger.send(ack(1), pb);
    assert.equal((await stranger.next()).op, 'ERROR', 'answered again after the interval');
    await Promise.all([a.close(), b.close(), stranger.close()]);
  });

  it('gives a transfer a socket connected to its client and an unconnected one on the same port for strangers (Linux)', async (t) => {
    if (!existsSync('/proc/net/udp')) {
      t.skip('no /proc/net/udp');
      return;
    }
    const r = await start();
    file('conn.bin', pattern(2000));
    const c = await RawClient.open();
    c.send(rrq('conn.bin'), r.server.port);
    const d1 = await c.next();
    assert.equal(d1.op, 'DATA');
    const hex = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');
    // /proc/net/udp: "sl local_address rem_address st ...", addresses as HEXIP:HEXPORT (IPv4 in host byte order).
    const onPort = readFileSync('/proc/net/udp', 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[1]?.endsWith(`:${hex(d1.from.port)}`));
    const remotes = onPort.map((f) => f[2]).sort();
    assert.deepEqual(remotes, ['00000000:0000', `0100007F:${hex(c.port)}`], 'one socket connected to the client, one for strangers');
    // Neither socket outlives the transfer.
    let block = 1;
    for (let p: Awaited<ReturnType<RawClient['next']>> = d1; p.op === 'DATA'; ) {
      c.send(ack(block), d1.from.port);
      if (p.data.length < 512) break;
      p = await c.next();
      if (p.op === 'DATA') block = p.block;
    }
    await until(() => !readFileSync('/proc/net/udp', 'utf8').includes(`:${hex(d1.from.port)} `));
    await c.close();
  });

  it('gives concurrent transfers ports of their own and keeps each client\'s packets on its transfer', async () => {
    const r = await start();
    const content = file('many.bin', pattern(512 * 8 + 100));
    const results = await Promise.all(Array.from({ length: 40 }, () => download(r.server.port, 'many.bin', { options: { blksize: 512 } })));
    for (const d of results) assert.ok(d.data.equals(content));
    assert.equal(new Set(results.map((d) => d.tid)).size, 40, 'every transfer has its own TID');
    await until(async () => (await metric(r.registry, 'dcplane_tftp_transfers_total', { outcome: 'completed' })) === 40);
    assert.equal(await metric(r.registry, 'dcplane_tftp_packets_dropped_total', { reason: 'unknown_tid' }), 0);
  });

  it('reports bytes sent by a transfer still running when the metrics are read', async () => {
    const r = await start();
    file('slow.bin', pattern(512 * 4));
    const c = await RawClient.open();
    c.send(rrq('slow.bin'), r.server.port);
    const d1 = await c.next();
    c.send(ack(1), d1.from.port);
    const d2 = await c.next();
    assert.equal(d2.op === 'DATA' && d2.block, 2);
    assert.equal(await metric(r.registry, 'dcplane_tftp_bytes_sent_total'), 1024);
    c.send(errorPacket(0, 'enough'), d1.from.port);
    await until(async () => (await metric(r.registry, 'dcplane_tftp_transfers_total', { outcome: 'failed' })) === 1);
    assert.equal(await metric(r.registry, 'dcplane_tftp_bytes_sent_total'), 1024, 'counted once, not again at the end');
    await c.close();
  });

  it('never resends on a duplicate ACK (Sorcerer\'s Apprentice), only on timeout', async () => {
    const r = await start();
    file('dup.bin', pattern(2000));
    const c = await RawClient.open();
    c.send(rrq('dup.bin', 'octet', { timeout: 1 }), r.server.port);
    const oack = await c.next();
    assert.equal(oack.op, 'OACK');
    c.send(ack(0), oack.from.port);
    const d1 = await c.next();
    c.send(ack(1), d1.from.port);
    const d2 = await c.next();
    assert.equal(d2.op === 'DATA' && d2.block, 2);
    c.send(ack(1), d1.from.port);
    c.send(ack(1), d1.from.port);
    assert.equal(await c.quiet(400), undefined, 'duplicate ACKs draw nothing');
    const again = await c.next(2500);
    assert.equal(again.op === 'DATA' && again.block, 2, 'the timer resends the unacknowledged block');
    assert.ok(await metric(r.registry, 'dcplane_tftp_resends_total') >= 1);
    await c.close();
  });

  it('resends after a timeout when the client stays silent once, then completes', async () => {
    const r = await start();
    const content = file('resend.bin', pattern(700));
    const c = await RawClient.open();
    c.send(rrq('resend.bin'), r.server.port);
    const d1 = await c.next();
    const d1again = await c.next(2500);
    assert.equal(d1again.op === 'DATA' && d1again.block, 1);
    assert.ok(d1again.at - d1.at >= 900, `resent after ${d1again.at - d1.at} ms, the 1 s timeout`);
    c.send(ack(1), d1.from.port);
    const d2 = await c.next();
    assert.ok(d2.op === 'DATA' && Buffer.concat([d1.op === 'DATA' ? d1.data : Buffer.alloc(0), d2.data]).equals(content));
    c.send(ack(2), d1.from.port);
    await until(() => transferLines(r).length === 1);
    assert.equal(transferLines(r)[0]?.resends, 1);
    await c.close();
  });

  it('abandons a transfer after the retry cap and counts it as failed', async () => {
    const r = await start({ retries: 1 });
    file('gone.bin', pattern(100));
    const c = await RawClient.open();
    c.send(rrq('gone.bin'), r.server.port);
    const d1 = await c.next();
    const d1again = await c.next(2500);
    assert.equal(d1again.op === 'DATA' && d1again.block, 1);
    await until(async () => (await metric(r.registry, 'dcplane_tftp_transfers_total', { outcome: 'failed' })) === 1, 4000);
    assert.equal(await metric(r.registry, 'dcplane_tftp_transfer_failures_total', { reason: 'timeout' }), 1);
    assert.equal(await c.quiet(200), undefined, 'abandoned silently: no third DATA, no ERROR');
    assert.equal(r.server.activeTransfers, 0);
    const line = transferLines(r)[0];
    assert.equal(line?.outcome, 'failed');
    assert.equal(line?.reason, 'timeout');
    assert.equal(d1.op, 'DATA');
    await c.close();
  });

  it('refuses path escapes with ERROR 2 and no path in the text; one leading slash is relative to the root', async () => {
    const r = await start();
    const content = file('pxelinux.0', 'pxe binary');
    const ok = await download(r.server.port, '/pxelinux.0');
    assert.ok(ok.data.equals(content));
    for (const name of ['../secret', 'pxelinux.cfg/../../secret', '/etc/passwd', '//etc/passwd', 'link-out', `${base}/secret`, 'a\\..\\secret']) {
      const got = await download(r.server.port, name);
      assert.deepEqual(got.error, { code: 2, message: 'access violation' }, name);
    }
    const missing = await download(r.server.port, 'no-such-file');
    assert.deepEqual(missing.error, { code: 1, message: 'file not found' });
    assert.ok(await metric(r.registry, 'dcplane_tftp_requests_refused_total', { reason: 'dot_dot' }) >= 2);
    assert.equal(await metric(r.registry, 'dcplane_tftp_requests_refused_total', { reason: 'escape' }), 1);
  });

  it('turns backslashes into slashes when a remap rule says so, and applies per-client rules', async () => {
    mkdirSync(join(root, 'boot', 'x64'), { recursive: true });
    const content = file('boot/x64/wdsnbp.com', 'wds');
    const r = await start({ remap: [{ match: '\\\\', replace: '/', flags: 'g' }, { match: '^LEGACY/', replace: 'boot/', flags: 'i', client: '127.0.0.0/8' }] });
    const got = await download(r.server.port, 'boot\\x64\\wdsnbp.com');
    assert.ok(got.data.equals(content));
    const legacy = await download(r.server.port, 'legacy/x64/wdsnbp.com');
    assert.ok(legacy.data.equals(content));
    const escape = await download(r.server.port, '..\\secret');
    assert.deepEqual(escape.error, { code: 2, message: 'access violation' });
  });

  it('refuses writes by default with ERROR 2', async () => {
    const r = await start();
    const c = await RawClient.open();
    c.send(wrq('up.bin'), r.server.port);
    const e = await c.next();
    assert.deepEqual(e.op === 'ERROR' && [e.code, e.message], [2, 'writes are disabled']);
    assert.equal(readdirSync(uploads).length, 0);
    await c.close();
  });

  it('takes an upload whose name is near NAME_MAX, and removes temporary files a crash left in upload_dir at start', async () => {
    const dir = join(base, 'uploads-long');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, '.boot.cfg.0123456789ab.dcplane-upload'), 'half');
    writeFileSync(join(dir, 'sub', '.x.ba9876543210.dcplane-upload'), 'half');
    writeFileSync(join(dir, 'keep.dcplane-upload.txt'), 'not a temporary file');
    const r = await start({ write: { enabled: true, upload_dir: dir } });
    assert.deepEqual(readdirSync(dir).sort(), ['keep.dcplane-upload.txt', 'sub']);
    assert.deepEqual(readdirSync(join(dir, 'sub')), []);
    const name = 'n'.repeat(240);
    const c = await RawClient.open();
    c.send(wrq(name), r.server.port);
    const a0 = await c.next();
    assert.equal(a0.op === 'ACK' && a0.block, 0, 'the temporary file could be created');
    c.send(data(1, Buffer.from('hello')), a0.from.port);
    assert.equal((await c.next()).op, 'ACK');
    assert.equal(readFileSync(join(dir, name)).toString(), 'hello');
    await c.close();
  });

  it('writes an upload to a temporary file and renames it only when complete; caps its size', async () => {
    const r = await start({ write: { enabled: true, upload_dir: uploads, max_bytes: 1500 } });
    const content = pattern(1200);
    const c = await RawClient.open();
    c.send(wrq('up.bin', 'octet', { blksize: 512, tsize: content.length }), r.server.port);
    const oack = await c.next();
    assert.deepEqual(oack.op === 'OACK' && Object.fromEntries(oack.options), { blksize: '512', tsize: '1200' });
    const tid = oack.from.port;
    c.send(data(1, content.subarray(0, 512)), tid);
    assert.deepEqual(await c.next().then((p) => p.op === 'ACK' && p.block), 1);
    assert.ok(!existsSync(join(uploads, 'up.bin')), 'not visible before it is complete');
    assert.equal(readdirSync(uploads).filter((n) => n.endsWith('.dcplane-upload')).length, 1);
    c.send(data(2, content.subarray(512, 1024)), tid);
    await c.next();
    c.send(data(3, content.subarray(1024)), tid);
    assert.deepEqual(await c.next().then((p) => p.op === 'ACK' && p.block), 3);
    assert.ok(readFileSync(join(uploads, 'up.bin')).equals(content), 'on disk once the final ACK arrives');
    assert.deepEqual(readdirSync(uploads), ['up.bin']);
    c.send(data(3, content.subarray(1024)), tid);
    assert.deepEqual(await c.next().then((p) => p.op === 'ACK' && p.block), 3, 'a resent last DATA is ACKed again (dally)');

    // No overwrite by default.
    c.send(wrq('up.bin'), r.server.port);
    const exists = await c.next();
    assert.deepEqual(exists.op === 'ERROR' && exists.code, 6);
    // An announced size over the cap is refused before any data.
    c.send(wrq('big.bin', 'octet', { tsize: 5000 }), r.server.port);
    const big = await c.next();
    assert.deepEqual(big.op === 'ERROR' && big.code, 3);
    await c.close();

    // Without tsize: aborted at the cap, nothing left behind.
    const c2 = await RawClient.open();
    c2.send(wrq('grow.bin'), r.server.port);
    const a0 = await c2.next();
    assert.deepEqual(a0.op === 'ACK' && a0.block, 0);
    let last = a0;
    for (let b = 1; b <= 3; b++) {
      c2.send(data(b, pattern(512)), a0.from.port);
      last = await c2.next();
    }
    assert.deepEqual(last.op === 'ERROR' && last.code, 3);
    await until(() => !readdirSync(uploads).some((n) => n.startsWith('.grow.bin')));
    assert.ok(!existsSync(join(uploads, 'grow.bin')));
    // Writes go only to the upload directory, under its jail.
    c2.send(wrq('../root/evil.bin'), r.server.port);
    const evil = await c2.next();
    assert.deepEqual(evil.op === 'ERROR' && evil.code, 2);
    await c2.close();
  });

  it('caches a large file from its second read, a small one from its first', async () => {
    const r = await start({}, undefined, 1000);
    const big = file('large.bin', pattern(3000));
    file('small.bin', pattern(900));
    assert.ok((await download(r.server.port, 'small.bin')).data.equals(pattern(900)));
    await until(async () => (await metric(r.registry, 'dcplane_tftp_cache_files')) === 1);
    assert.ok((await download(r.server.port, 'large.bin')).data.equals(big));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await metric(r.registry, 'dcplane_tftp_cache_files'), 1, 'a large file read once is not cached');
    assert.ok((await download(r.server.port, 'large.bin')).data.equals(big));
    await until(async () => (await metric(r.registry, 'dcplane_tftp_cache_files')) === 2);
    assert.ok((await download(r.server.port, 'large.bin')).data.equals(big));
    assert.equal(await metric(r.registry, 'dcplane_tftp_cache_hits_total'), 1);
  });

  it('serves a changed file fresh: the cache is checked against the file at every open', async () => {
    const r = await start();
    file('cached.bin', 'version-1');
    assert.equal((await download(r.server.port, 'cached.bin')).data.toString(), 'version-1');
    await until(async () => (await metric(r.registry, 'dcplane_tftp_cache_files')) === 1);
    assert.equal((await download(r.server.port, 'cached.bin')).data.toString(), 'version-1');
    assert.equal(await metric(r.registry, 'dcplane_tftp_cache_hits_total'), 1);
    file('cached.bin', 'version-2');
    assert.equal((await download(r.server.port, 'cached.bin')).data.toString(), 'version-2');
    assert.equal(await metric(r.registry, 'dcplane_tftp_cache_hits_total'), 1);
  });

  it('refuses clients the access lists exclude with ERROR 2', async () => {
    file('acl.bin', 'x');
    const denied = await start({ deny: ['127.0.0.0/8'] });
    assert.deepEqual((await download(denied.server.port, 'acl.bin')).error, { code: 2, message: 'access violation' });
    const notAllowed = await start({ allow: ['10.0.0.0/8'] });
    assert.deepEqual((await download(notAllowed.server.port, 'acl.bin')).error, { code: 2, message: 'access violation' });
    const allowed = await start({ allow: ['127.0.0.0/8'], deny: ['10.0.0.0/8'] });
    assert.equal((await download(allowed.server.port, 'acl.bin')).data.toString(), 'x');
    assert.equal(await metric(denied.registry, 'dcplane_tftp_requests_refused_total', { reason: 'acl' }), 1);
  });

  it('drops requests over the per-client rate silently and counts them', async () => {
    file('rate.bin', 'r');
    const r = await start({ rate_limit: { requests_per_second: 0.5, burst: 2 } });
    const clients = await Promise.all([RawClient.open(), RawClient.open(), RawClient.open()]);
    for (const c of clients) c.send(rrq('rate.bin'), r.server.port);
    const answers = await Promise.all(clients.map((c) => c.quiet(500)));
    assert.equal(answers.filter((a) => a !== undefined).length, 2);
    assert.equal(await metric(r.registry, 'dcplane_tftp_packets_dropped_total', { reason: 'rate_limited' }), 1);
    for (const c of clients) await c.close();
  });

  it('answers requests over the concurrent transfer cap with ERROR 0 "server busy, try again"', async () => {
    file('busy.bin', pattern(2000));
    const r = await start({ max_transfers: 1 });
    const a = await RawClient.open();
    const b = await RawClient.open();
    a.send(rrq('busy.bin'), r.server.port);
    const first = await a.next();
    assert.equal(first.op, 'DATA');
    b.send(rrq('busy.bin'), r.server.port);
    const e = await b.next();
    assert.deepEqual(e.op === 'ERROR' && [e.code, e.message], [0, 'server busy, try again']);
    assert.equal(await metric(r.registry, 'dcplane_tftp_requests_refused_total', { reason: 'busy' }), 1);
    a.send(errorPacket(0, 'bye'), first.from.port);
    await until(() => r.server.activeTransfers === 0);
    const again = await download(r.server.port, 'busy.bin');
    assert.equal(again.data.length, 2000, 'a slot is free again once the first transfer ends');
    await a.close();
    await b.close();
  });

  it('answers names from the generated-files hook before the disk', async () => {
    file('hooked.cfg', 'from disk');
    const r = await start();
    const seen: string[] = [];
    r.server.generated.register(/^pxelinux\.cfg\/01-/, (name, client) => {
      seen.push(`${name} ${client.ip}`);
      return `DEFAULT host-${name.slice(-2)}\n`;
    });
    r.server.generated.register(/^hooked\.cfg$/, async () => Buffer.from('from code'));
    r.server.generated.register(/^declined$/, () => undefined);
    const got = await download(r.server.port, '/pxelinux.cfg/01-52-54-00-00-00-01', { options: { tsize: 0 } });
    assert.equal(got.data.toString(), 'DEFAULT host-01\n');
    assert.equal(got.oack?.get('tsize'), String(got.data.length));
    assert.deepEqual(seen, ['pxelinux.cfg/01-52-54-00-00-00-01 127.0.0.1']);
    assert.equal((await download(r.server.port, 'hooked.cfg')).data.toString(), 'from code');
    assert.deepEqual((await download(r.server.port, 'declined')).error, { code: 1, message: 'file not found' });
  });

  it('serves built-in default boot files when none is on disk; disk files win; off when disabled', async () => {
    const url = 'http://10.77.0.1:8080/boot.ipxe';
    const r = await start({}, url);
    const pxe = await download(r.server.port, 'pxelinux.cfg/default');
    assert.match(pxe.data.toString(), /chain http:\/\/10\.77\.0\.1:8080\/boot\.ipxe/);
    const ipxe = await download(r.server.port, 'default.ipxe');
    assert.match(ipxe.data.toString(), /^#!ipxe\n/);
    assert.match((await download(r.server.port, 'grub/grub.cfg')).data.toString(), /menuentry/);
    mkdirSync(join(root, 'grub'), { recursive: true });
    file('grub/grub.cfg', 'operator menu');
    assert.equal((await download(r.server.port, 'grub/grub.cfg')).data.toString(), 'operator menu');
    const off = await start({ generated: { enabled: false } });
    assert.deepEqual((await download(off.server.port, 'default.ipxe')).error, { code: 1, message: 'file not found' });
  });

  it('drops or answers malformed requests, counts them, and keeps serving', async () => {
    const r = await start();
    file('still.bin', 'alive');
    const c = await RawClient.open();
    const cases: Array<[string, Buffer, number | undefined]> = [
      ['no NUL after the file name', Buffer.from([0, 1, 0x61, 0x62]), 4],
      ['no NUL after the mode', Buffer.concat([Buffer.from([0, 1]), Buffer.from('a\0octet')]), 4],
      ['empty file name', Buffer.concat([Buffer.from([0, 1, 0]), Buffer.from('octet\0')]), 4],
      ['unknown mode', rrq('a', 'binary'), 4],
      ['over 512 octets', rrq('x'.repeat(600)), 4],
      ['mail mode', rrq('a', 'mail'), 4],
      ['unknown opcode', Buffer.from([0, 9, 1, 2]), undefined],
      ['one octet', Buffer.from([1]), undefined],
      ['DATA to the request port', data(1, Buffer.from('x')), undefined],
      ['ACK to the request port', ack(1), undefined],
    ];
    for (const [what, packet, code] of cases) {
      c.send(packet, r.server.port);
      const got = await c.quiet(code === undefined ? 150 : 1000);
      if (code === undefined) assert.equal(got, undefined, what);
      else assert.deepEqual(got?.op === 'ERROR' && got.code, code, what);
    }
    await c.close();
    assert.equal(await metric(r.registry, 'dcplane_tftp_packets_dropped_total', { reason: 'no_nul' }), 2);
    assert.equal(await metric(r.registry, 'dcplane_tftp_packets_dropped_total', { reason: 'too_long' }), 1);
    assert.equal(await metric(r.registry, 'dcplane_tftp_packets_dropped_total', { reason: 'not_a_request' }), 2);
    assert.equal(await metric(r.registry, 'dcplane_tftp_packets_dropped_total', { reason: 'bad_opcode' }), 2);
    assert.equal(await metric(r.registry, 'dcplane_tftp_requests_total', { opcode: 'unknown' }), 2);
    assert.equal((await download(r.server.port, 'still.bin')).data.toString(), 'alive');
  });

  it('starts one transfer for a request the client sent twice', async () => {
    const r = await start();
    file('twice.bin', pattern(600));
    const c = await RawClient.open();
    c.send(rrq('twice.bin'), r.server.port);
    c.send(rrq('twice.bin'), r.server.port);
    const d1 = await c.next();
    assert.equal(d1.op === 'DATA' && d1.block, 1);
    assert.equal(await c.quiet(300), undefined, 'no second DATA 1 from a second transfer');
    assert.equal(await metric(r.registry, 'dcplane_tftp_packets_dropped_total', { reason: 'duplicate_request' }), 1);
    await c.close();
  });

  it('rolls block numbers over past 65535 (blksize 8, windowsize 64)', async () => {
    const r = await start();
    const content = file('rollover.bin', pattern(8 * 65540 + 3));
    const got = await download(r.server.port, 'rollover.bin', { options: { blksize: 8, windowsize: 64 } });
    assert.equal(got.error, undefined);
    assert.equal(got.blocks, 65541);
    assert.ok(got.data.equals(content));
  });

  it('reloads: a bad root is refused and the old one kept; a new root, ACL and listen address apply', async () => {
    const r = await start();
    file('where.txt', 'old root');
    const other = join(base, 'other-root');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'where.txt'), 'new root');
    const cfg = (t: TftpConfig) => applyDefaults({ tftp: { enabled: true, listen: '127.0.0.1:0', root, ...t } }).tftp;
    await assert.rejects(r.server.reload(cfg({ root: join(base, 'missing') })), (e: { code?: string }) => e.code === TftpJailErrorCode.ROOT_UNUSABLE);
    assert.equal((await download(r.server.port, 'where.txt')).data.toString(), 'old root');
    await r.server.reload(cfg({ root: other, deny: ['10.0.0.0/8'] }));
    assert.equal((await download(r.server.port, 'where.txt')).data.toString(), 'new root');
    await r.server.reload(cfg({ root: other, deny: ['127.0.0.0/8'] }));
    assert.deepEqual((await download(r.server.port, 'where.txt')).error, { code: 2, message: 'access violation' });
    const before = r.server.port;
    await r.server.reload(cfg({ root: other, listen: '127.0.0.2:0' }));
    assert.notEqual(r.server.port, 0);
    const c = await RawClient.open();
    c.send(rrq('where.txt'), before);
    assert.equal(await c.quiet(200), undefined, 'the old request socket is closed');
    c.send(rrq('where.txt'), r.server.port, '127.0.0.2');
    const d = await c.next();
    assert.equal(d.op === 'DATA' && d.data.toString(), 'new root');
    assert.equal(d.from.address, '127.0.0.2', 'the transfer port is on the listen address');
    await c.close();
    assert.equal(await metric(r.registry, 'dcplane_tftp_reloads_total', { result: 'error' }), 1);
    assert.equal(await metric(r.registry, 'dcplane_tftp_reloads_total', { result: 'ok' }), 3);
  });

  it('refuses a reload whose listen address is taken and keeps serving with the old configuration; the same reload applies once the address is free', async () => {
    const r = await start();
    file('where.txt', 'here');
    const port = r.server.port;
    const cfg = (t: TftpConfig) => applyDefaults({ tftp: { enabled: true, listen: '127.0.0.1:0', root, ...t } }).tftp;
    const blocker = createSocket('udp4');
    await new Promise<void>((resolve) => blocker.bind(0, '127.0.0.2', resolve));
    blocker.unref();
    const taken = blocker.address().port;
    const next = cfg({ listen: `127.0.0.2:${taken}`, deny: ['127.0.0.0/8'] });
    await assert.rejects(r.server.reload(next), (e: { code?: string }) => e.code === 'TFTP_ERR_LISTEN');
    assert.equal(r.server.port, port, 'the old request socket still serves');
    assert.equal((await download(port, 'where.txt')).data.toString(), 'here', 'the deny list of the refused reload is not in force');
    blocker.close();
    await r.server.reload(next);
    assert.equal(r.server.port, taken);
    const c = await RawClient.open();
    c.send(rrq('where.txt'), taken, '127.0.0.2');
    const e = await c.next();
    assert.deepEqual(e.op === 'ERROR' && [e.code, e.message], [2, 'access violation'], 'the new deny list is in force');
    await c.close();
  });

  it('moves the request socket to a wildcard on the same port, and rebinds the old one when that fails', async () => {
    const r = await start();
    file('where.txt', 'here');
    const port = r.server.port;
    const cfg = (t: TftpConfig) => applyDefaults({ tftp: { enabled: true, listen: '127.0.0.1:0', root, ...t } }).tftp;
    const blocker = createSocket('udp4');
    await new Promise<void>((resolve) => blocker.bind(port, '127.0.0.2', resolve));
    blocker.unref();
    await assert.rejects(r.server.reload(cfg({ listen: `0.0.0.0:${port}` })), (e: { code?: string }) => e.code === 'TFTP_ERR_LISTEN');
    assert.equal(r.server.port, port);
    assert.equal((await download(port, 'where.txt')).data.toString(), 'here', 'the old address was bound again');
    blocker.close();
    await r.server.reload(cfg({ listen: `0.0.0.0:${port}` }));
    assert.equal(r.server.port, port);
    assert.equal((await download(port, 'where.txt')).data.toString(), 'here');
    assert.equal(await metric(r.registry, 'dcplane_tftp_reloads_total', { result: 'error' }), 1);
  });

  it('lists running and recent transfers; stop ends running ones with ERROR 0', async () => {
    const r = await start();
    file('list.bin', pattern(3000));
    await download(r.server.port, 'list.bin');
    const c = await RawClient.open();
    c.send(rrq('list.bin'), r.server.port);
    const d1 = await c.next();
    const list = r.server.transfersList();
    assert.deepEqual(list.map((t) => t.state), ['active', 'completed']);
    await r.server.stop();
    const bye = await c.next();
    assert.deepEqual(bye.op === 'ERROR' && bye.code, 0);
    assert.equal(bye.from.port, d1.from.port);
    await c.close();
  });
});

describe('dcplane with tftp.enabled', () => {
  let dir: string;
  before(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'dcplane-tftp-app-')));
    mkdirSync(join(dir, 'root'));
    writeFileSync(join(dir, 'root', 'pxelinux.0'), 'pxe');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serves TFTP, says "tftp ready", reports it running in health and lists transfers over the API', async () => {
    const { logs, sink } = jsonLogSink();
    const apiPort = await freeTcpPort();
    const url = 'http://10.77.0.1:8080/menu.ipxe';
    const config = applyDefaults({
      data_dir: join(dir, 'data'),
      api: { listen: `127.0.0.1:${apiPort}` },
      dhcp: { boot: { ipxe: url } },
      tftp: { enabled: true, listen: '127.0.0.1:0', root: join(dir, 'root') },
    });
    const app = await Dcplane.start(config, pino({ level: 'info' }, sink));
    try {
      const ready = logs.find((l) => l.msg === 'tftp ready');
      assert.ok(ready, 'a "tftp ready" line');
      assert.equal(ready.listen, '127.0.0.1:0');
      assert.equal(ready.root, join(dir, 'root'));
      const port = Number(ready.port);
      const health = (await (await fetch(`http://127.0.0.1:${apiPort}/api/v1/health`)).json()) as { services: Record<string, string> };
      assert.deepEqual(health.services, { dhcp: 'disabled', tftp: 'running' });

      assert.equal((await download(port, 'pxelinux.0')).data.toString(), 'pxe');
      const script = (await download(port, 'default.ipxe')).data.toString();
      assert.ok(script.includes(`chain --autofree ${url}`), 'built-ins chain to dhcp.boot.ipxe');
      await until(() => logs.filter((l) => l.msg === 'tftp transfer').length === 2);

      // The transfer list is inventory data: it needs a bearer like every /api/v1 route but health.
      const api = `http://127.0.0.1:${apiPort}/api/v1`;
      assert.equal((await fetch(`${api}/tftp/transfers`)).status, 401);
      const password = readFileSync(join(dir, 'data', 'initial-admin-password'), 'utf8').trim();
      const login = await fetch(`${api}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password }),
      });
      assert.equal(login.status, 200);
      const { access_token } = (await login.json()) as { access_token: string };
      const auth = { headers: { authorization: `Bearer ${access_token}` } };
      const list = (await (await fetch(`${api}/tftp/transfers?limit=1`, auth)).json()) as {
        count: number;
        next: string | null;
        previous: string | null;
        results: Array<Record<string, unknown>>;
      };
      assert.equal(list.count, 2);
      assert.equal(list.previous, null);
      assert.equal(list.next, '/api/v1/tftp/transfers?limit=1&offset=1');
      assert.equal(list.results[0]?.file, 'default.ipxe', 'newest first');
      assert.equal(list.results[0]?.state, 'completed');
      assert.equal(list.results[0]?.source, 'builtin');
      const active = (await (await fetch(`${api}/tftp/transfers?state=active`, auth)).json()) as { count: number };
      assert.equal(active.count, 0);
      const bad = await fetch(`${api}/tftp/transfers?state=bogus`, auth);
      assert.equal(bad.status, 400);

      const other = 'http://10.77.0.2/next.ipxe';
      await app.reload(applyDefaults({ ...config, dhcp: { boot: { ipxe: other } } }));
      assert.ok((await download(port, 'default.ipxe')).data.toString().includes(other), 'a reload rebuilds the built-ins');
      const prom = await (await fetch(`http://127.0.0.1:${apiPort}/api/v1/metrics/prometheus`)).text();
      assert.match(prom, /^dcplane_tftp_transfers_total\{direction="read",outcome="completed"\} 3$/m);
    } finally {
      await app.stop();
    }
  });
});

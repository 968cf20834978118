import { describe, it, before, after } from 'node:test';
import { strict as assert } from 'node:assert';
import { fstatSync, mkdtempSync, openSync, closeSync, realpathSync, renameSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TftpFileCache } from '../../src/tftp/file-cache.js';

let dir: string;

function statOf(path: string): BigIntStats {
  const fd = openSync(path, 'r');
  try {
    return fstatSync(fd, { bigint: true });
  } finally {
    closeSync(fd);
  }
}

async function cached(cache: TftpFileCache, path: string): Promise<Buffer | undefined> {
  const st = statOf(path);
  const hit = cache.get(path, st);
  if (hit !== undefined) return hit;
  await cache.load(path, st);
  return undefined;
}

describe('TftpFileCache', () => {
  before(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'dcplane-cache-')));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('misses, loads in the background, then hits with the same bytes', async () => {
    const p = join(dir, 'a');
    writeFileSync(p, 'hello');
    const c = new TftpFileCache({ maxBytes: 1000, maxFileBytes: 1000 });
    assert.equal(await cached(c, p), undefined);
    assert.equal((await cached(c, p))?.toString(), 'hello');
    assert.deepEqual(c.stats(), { entries: 1, bytes: 5, hits: 1, misses: 1, invalidated: 0 });
  });

  it('drops an entry when the file is rewritten in place with the same size, or replaced by rename', async () => {
    const p = join(dir, 'b');
    writeFileSync(p, 'aaaa');
    const c = new TftpFileCache({ maxBytes: 1000, maxFileBytes: 1000 });
    await cached(c, p);
    assert.equal((await cached(c, p))?.toString(), 'aaaa');
    const before = statOf(p);
    writeFileSync(p, 'bbbb');
    // Same size and same mtime: only ctime (and content) differ.
    utimesSync(p, Number(before.atimeMs) / 1000, Number(before.mtimeMs) / 1000);
    assert.equal(await cached(c, p), undefined, 'a rewrite is not served from the cache');
    assert.equal((await cached(c, p))?.toString(), 'bbbb');
    writeFileSync(join(dir, 'b.new'), 'cccc');
    renameSync(join(dir, 'b.new'), p);
    assert.equal(await cached(c, p), undefined, 'a new inode is not served from the cache');
    assert.equal((await cached(c, p))?.toString(), 'cccc');
    assert.equal(c.stats().invalidated, 2);
  });

  it('keeps within max_bytes, least recently used out first, and skips files over max_file_bytes', async () => {
    const c = new TftpFileCache({ maxBytes: 10, maxFileBytes: 6 });
    for (const n of ['x', 'y', 'z']) writeFileSync(join(dir, n), '1234');
    await cached(c, join(dir, 'x'));
    await cached(c, join(dir, 'y'));
    assert.ok(await cached(c, join(dir, 'x')), 'x is hit and becomes most recent');
    await cached(c, join(dir, 'z'));
    assert.ok(c.stats().bytes <= 10);
    assert.equal(c.stats().entries, 2);
    assert.ok(await cached(c, join(dir, 'x')), 'x survived');
    assert.equal(await cached(c, join(dir, 'y')), undefined, 'y was least recently used');
    writeFileSync(join(dir, 'big'), '1234567');
    await cached(c, join(dir, 'big'));
    assert.equal(await cached(c, join(dir, 'big')), undefined);
    assert.equal(new TftpFileCache({ maxBytes: 0, maxFileBytes: 10 }).accepts(statOf(join(dir, 'x'))), false, 'max_bytes 0 turns it off');
  });

  it('shares one read between concurrent loads and ignores a file changed before loading', async () => {
    const p = join(dir, 'c');
    writeFileSync(p, 'one');
    const c = new TftpFileCache({ maxBytes: 100, maxFileBytes: 100 });
    const st = statOf(p);
    assert.equal(c.load(p, st), c.load(p, st));
    await c.load(p, st);
    writeFileSync(p, 'three');
    const stale = st;
    const c2 = new TftpFileCache({ maxBytes: 100, maxFileBytes: 100 });
    await c2.load(p, stale);
    assert.equal(c2.stats().entries, 0, 'the version asked for is gone: nothing cached');
  });

  it('converts a file to netascii once per version, shares one read between concurrent requests and keeps it under the budget', async () => {
    const p = join(dir, 'text');
    writeFileSync(p, 'a\nb\rc\n');
    const c = new TftpFileCache({ maxBytes: 100, maxFileBytes: 100 });
    const fd = openSync(p, 'r');
    try {
      const st = fstatSync(fd, { bigint: true });
      const first = c.netascii(p, fd, st);
      assert.equal(c.netascii(p, fd, st), first, 'concurrent requests share one conversion');
      const r1 = await first;
      assert.deepEqual([...r1.data], [...Buffer.from('a\r\nb\r\0c\r\n')]);
      assert.equal(r1.hit, false);
      const r2 = await c.netascii(p, fd, st);
      assert.equal(r2.hit, true);
      assert.equal(r2.data, r1.data, 'the converted form is kept, not converted again');
      assert.deepEqual(c.stats(), { entries: 1, bytes: 9, hits: 1, misses: 2, invalidated: 0 });
    } finally {
      closeSync(fd);
    }
    writeFileSync(p, 'x\n');
    const fd2 = openSync(p, 'r');
    try {
      const r3 = await c.netascii(p, fd2, fstatSync(fd2, { bigint: true }));
      assert.equal(r3.hit, false, 'a changed file is converted afresh');
      assert.equal(r3.data.toString(), 'x\r\n');
      assert.equal(c.stats().invalidated, 1);
      const tiny = new TftpFileCache({ maxBytes: 2, maxFileBytes: 2 });
      const st2 = fstatSync(fd2, { bigint: true });
      await tiny.netascii(p, fd2, st2);
      assert.equal(tiny.stats().entries, 0, 'a converted form over the budget is served, not kept');
    } finally {
      closeSync(fd2);
    }
  });
});

import { fstat, read } from 'node:fs';
import { open } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { promisify } from 'node:util';
import { netasciiEncode } from './netascii.js';

const readAsync = promisify(read);
const fstatAsync = promisify(fstat);

export interface FileCacheOptions {
  /** Memory for cached content; 0 turns the cache off. */
  readonly maxBytes: number;
  /** Largest single file kept. */
  readonly maxFileBytes: number;
}

interface Entry {
  readonly data: Buffer;
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

export interface NetasciiResult {
  /** The file in netascii form (RFC 1350 §1). */
  readonly data: Buffer;
  /** Served from the cache, not converted now. */
  readonly hit: boolean;
}

export interface FileCacheStats {
  readonly entries: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
  /** Entries dropped because the file on disk changed. */
  readonly invalidated: number;
}

/** The netascii form of a file is kept as an entry of its own; real paths never hold a NUL. */
function netasciiKey(path: string): string {
  return `netascii\0${path}`;
}

function sameFile(e: Entry, st: BigIntStats): boolean {
  // ctime moves on every write and rename, even one that keeps size and mtime (touch -m, tar -x preserving times).
  return e.ino === st.ino && e.dev === st.dev && e.size === st.size && e.mtimeNs === st.mtimeNs && e.ctimeNs === st.ctimeNs;
}

function versionOf(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * Hot boot files in memory, least recently used out first, bounded in bytes.
 * Freshness is checked against the fstat of the descriptor the transfer just
 * opened (inode, size, mtime, ctime), so a replaced or rewritten file is
 * never served stale and the check costs no extra system call. A miss is
 * served from disk while the file is loaded in the background, so a large
 * file never stalls the event loop. The netascii form of a file is converted
 * once per version and kept as an entry of its own under the same budget.
 */
export class TftpFileCache {
  private maxBytes: number;
  private maxFileBytes: number;
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<void>>();
  /** Netascii conversions under way, by key and file version, so concurrent requests share one read. */
  private readonly converting = new Map<string, Promise<NetasciiResult>>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private invalidated = 0;

  constructor(opts: FileCacheOptions) {
    this.maxBytes = opts.maxBytes;
    this.maxFileBytes = opts.maxFileBytes;
  }

  configure(opts: FileCacheOptions): void {
    this.maxBytes = opts.maxBytes;
    this.maxFileBytes = opts.maxFileBytes;
    this.evict();
    for (const [k, e] of this.entries) if (e.data.length > this.maxFileBytes) this.remove(k);
  }

  /** The content of the opened file at `path` if the cache holds this very version of it. */
  get(path: string, st: BigIntStats): Buffer | undefined {
    const data = this.lookup(path, st);
    if (data === undefined) this.misses++;
    else this.hits++;
    return data;
  }

  /**
   * The netascii form of the file opened as `fd`, which is the version `st`
   * describes: from the cache, else converted from the cached octet content
   * or read from `fd` without blocking, and kept when the budget allows. The
   * caller keeps `fd` open until the promise settles. Rejects when the read
   * fails.
   */
  netascii(path: string, fd: number, st: BigIntStats): Promise<NetasciiResult> {
    const key = netasciiKey(path);
    const hit = this.lookup(key, st);
    if (hit !== undefined) {
      this.hits++;
      return Promise.resolve({ data: hit, hit: true });
    }
    this.misses++;
    const version = `${key}\0${versionOf(st)}`;
    const pending = this.converting.get(version);
    if (pending !== undefined) return pending;
    const p = this.convert(key, path, fd, st).finally(() => this.converting.delete(version));
    this.converting.set(version, p);
    return p;
  }

  /** Whether a file of this size would be kept. */
  accepts(st: BigIntStats): boolean {
    const size = Number(st.size);
    return this.maxBytes > 0 && size <= this.maxFileBytes && size <= this.maxBytes;
  }

  /**
   * Reads the file into the cache if it is still the version described by
   * `st` before and after the read; concurrent loads of one path share one
   * read. Never rejects: a file that cannot be cached is just not cached.
   */
  load(path: string, st: BigIntStats): Promise<void> {
    if (!this.accepts(st)) return Promise.resolve();
    const pending = this.loading.get(path);
    if (pending !== undefined) return pending;
    const p = this.read(path, st).finally(() => this.loading.delete(path));
    this.loading.set(path, p);
    return p;
  }

  stats(): FileCacheStats {
    return { entries: this.entries.size, bytes: this.bytes, hits: this.hits, misses: this.misses, invalidated: this.invalidated };
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private lookup(key: string, st: BigIntStats): Buffer | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (!sameFile(e, st)) {
      this.remove(key);
      this.invalidated++;
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.data;
  }

  private async convert(key: string, path: string, fd: number, st: BigIntStats): Promise<NetasciiResult> {
    let raw = this.lookup(path, st);
    let unchanged = true;
    if (raw === undefined) {
      const size = Number(st.size);
      raw = Buffer.allocUnsafe(size);
      let off = 0;
      while (off < size) {
        const { bytesRead } = await readAsync(fd, raw, off, size - off, off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      if (off < size) raw = raw.subarray(0, off);
      const after = await fstatAsync(fd, { bigint: true });
      // Written to while we read: serve what was read (as a read from disk would), but never keep a copy that may mix two versions.
      unchanged = off === size && after.size === st.size && after.mtimeNs === st.mtimeNs && after.ctimeNs === st.ctimeNs;
    }
    const data = netasciiEncode(raw);
    if (unchanged && this.maxBytes > 0 && data.length <= this.maxFileBytes && data.length <= this.maxBytes) {
      this.remove(key);
      this.entries.set(key, { data, dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs });
      this.bytes += data.length;
      this.evict();
    }
    return { data, hit: false };
  }

  private async read(path: string, st: BigIntStats): Promise<void> {
    let fh;
    try {
      fh = await open(path, 'r');
    } catch {
      return;
    }
    try {
      const before = await fh.stat({ bigint: true });
      if (before.ino !== st.ino || before.dev !== st.dev || before.size !== st.size || before.mtimeNs !== st.mtimeNs || before.ctimeNs !== st.ctimeNs) return;
      const size = Number(before.size);
      const data = Buffer.allocUnsafe(size);
      let off = 0;
      while (off < size) {
        const { bytesRead } = await fh.read(data, off, size - off, off);
        if (bytesRead === 0) return;
        off += bytesRead;
      }
      const after = await fh.stat({ bigint: true });
      // Written to while we read: the copy may mix two versions.
      if (after.size !== before.size || after.mtimeNs !== before.mtimeNs || after.ctimeNs !== before.ctimeNs) return;
      if (!this.accepts(after)) return;
      this.remove(path);
      this.entries.set(path, { data, dev: after.dev, ino: after.ino, size: after.size, mtimeNs: after.mtimeNs, ctimeNs: after.ctimeNs });
      this.bytes += size;
      this.evict();
    } catch {
      return;
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  private remove(path: string): void {
    const e = this.entries.get(path);
    if (e === undefined) return;
    this.entries.delete(path);
    this.bytes -= e.data.length;
  }

  private evict(): void {
    for (const k of this.entries.keys()) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(k);
    }
  }
}

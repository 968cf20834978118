/**
 * The addon's receiver and group handles outlive what they stand for: a
 * call made with a handle after it was stopped (a late timer, a reload)
 * does nothing instead of reading freed memory, and a handle of one kind
 * given where the other is wanted is refused with EINVAL.
 */
import { strict as assert } from 'node:assert';
import { closeSync } from 'node:fs';
import { describe, test } from 'node:test';
import { GROUP_FIELDS, loadNative } from '../../src/net/native.js';
import type { GroupHandle, ReceiverHandle } from '../../src/net/native.js';

const native = loadNative();
const SLOT = 2048;

/** Lets libuv close stopped handles (their close callbacks run on a later loop turn). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 1));
}

function group(): GroupHandle {
  return native.createGroup(Buffer.alloc(8 * SLOT), new Uint32Array(8 * GROUP_FIELDS), SLOT, () => {});
}

function receiver(): { handle: ReceiverHandle; fd: number } {
  const fd = native.openBoundSocket('127.0.0.1', 0, false, 65536);
  const handle = native.startReceiver(fd, Buffer.alloc(4 * SLOT), new Uint32Array(4 * 4), SLOT, () => {}, () => {});
  return { handle, fd };
}

describe('native handles', () => {
  test('a stopped group answers later calls with nothing, many loop turns and a GC later', async () => {
    const g = group();
    const fd = native.openBoundSocket('127.0.0.1', 0, false, 65536);
    try {
      native.groupAdd(g, fd, 1);
      native.stopGroup(g);
      await turns(5);
      (globalThis as { gc?: () => void }).gc?.();
      native.groupAdd(g, fd, 2);
      native.groupRemove(g, fd);
      assert.equal(native.pumpCollect(g, fd, true, new Float64Array(3)), 0);
      native.stopGroup(g);
    } finally {
      closeSync(fd);
    }
  });

  test('a stopped receiver answers later calls with nothing', async () => {
    const r = receiver();
    native.stopReceiver(r.handle);
    await turns(5);
    native.setWritable(r.handle, true);
    native.stopReceiver(r.handle);
  });

  test('a handle of the other kind is refused with EINVAL', () => {
    const g = group();
    const r = receiver();
    try {
      const einval = (e: unknown): boolean => (e as { code?: unknown }).code === 'EINVAL';
      assert.throws(() => native.setWritable(g as unknown as ReceiverHandle, true), einval);
      assert.throws(() => native.stopReceiver(g as unknown as ReceiverHandle), einval);
      assert.throws(() => native.stopGroup(r.handle as unknown as GroupHandle), einval);
      assert.throws(() => native.groupAdd(r.handle as unknown as GroupHandle, 0, 1), einval);
      assert.throws(() => native.pumpCollect(r.handle as unknown as GroupHandle, 0, false, new Float64Array(3)), einval);
    } finally {
      native.stopGroup(g);
      native.stopReceiver(r.handle);
    }
  });
});

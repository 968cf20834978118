import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { decodeTftpPacket } from '../../src/tftp/codec.js';
import { ReadSession, WriteSession, bufferSource } from '../../src/tftp/session.js';
import type { BlockSource, ReadSessionParams, SessionAction, WriteSessionParams } from '../../src/tftp/session.js';

/** What went out, decoded at once (DATA payload copied: the session reuses its buffers). */
type Out =
  | { op: 'DATA'; block: number; data: Buffer }
  | { op: 'ACK'; block: number }
  | { op: 'OACK'; options: [string, string][] }
  | { op: 'ERROR'; code: number }
  | { op: 'done' }
  | { op: 'fail'; reason: string };

function out(actions: SessionAction[]): Out[] {
  return actions.map((a): Out => {
    if (a.kind === 'done') return { op: 'done' };
    if (a.kind === 'fail') return { op: 'fail', reason: a.reason };
    const p = decodeTftpPacket(a.packet);
    switch (p.op) {
      case 'DATA': return { op: 'DATA', block: p.block, data: Buffer.from(p.data) };
      case 'ACK': return { op: 'ACK', block: p.block };
      case 'OACK': return { op: 'OACK', options: [...p.options] };
      case 'ERROR': return { op: 'ERROR', code: p.code };
      default: throw new Error(`unexpected ${p.op}`);
    }
  });
}

const blocks = (o: Out[]): number[] => o.map((x) => (x.op === 'DATA' ? x.block : -1));

function pattern(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + (i >>> 8)) & 0xff;
  return b;
}

/** A large file made up on the fly: byte i is a function of i, nothing is allocated up front. */
function syntheticSource(size: number): BlockSource {
  return {
    size,
    read(offset, length, into, at) {
      const n = Math.min(length, size - offset);
      for (let i = 0; i < n; i++) into[at + i] = ((offset + i) * 31 + ((offset + i) >>> 11)) & 0xff;
      return n;
    },
  };
}

const base: ReadSessionParams = { blksize: 512, windowsize: 1, timeoutMs: 1000, maxRetries: 3 };

test('plain lock-step transfer: DATA 1..n, the last one short, done on its ACK', () => {
  const file = pattern(1300);
  const s = new ReadSession(bufferSource(file), base);
  let o = out(s.start(0));
  assert.deepEqual(blocks(o), [1]);
  assert.equal(s.state, 'sending');
  const got = [(o[0] as { data: Buffer }).data];
  o = out(s.onAck(1, 5));
  assert.deepEqual(blocks(o), [2]);
  got.push((o[0] as { data: Buffer }).data);
  o = out(s.onAck(2, 10));
  assert.deepEqual(blocks(o), [3]);
  got.push((o[0] as { data: Buffer }).data);
  assert.equal(got[2]?.length, 1300 - 1024);
  assert.deepEqual(out(s.onAck(3, 15)), [{ op: 'done' }]);
  assert.equal(s.state, 'done');
  assert.equal(s.nextTimeoutAt, undefined);
  assert.deepEqual(Buffer.concat(got), file);
  assert.equal(s.stats.bytesSent, 1300);
  assert.equal(s.stats.blocksSent, 3);
  assert.equal(s.bytesAcked, 1300);
});

test('a file of exactly N×blksize ends with an empty DATA (RFC 1350 §6)', () => {
  const s = new ReadSession(bufferSource(pattern(1024)), base);
  s.start(0);
  s.onAck(1, 1);
  const o = out(s.onAck(2, 2));
  assert.equal(o.length, 1);
  assert.deepEqual(o[0], { op: 'DATA', block: 3, data: Buffer.alloc(0) });
  assert.equal(s.lastBlock, 3);
  assert.deepEqual(out(s.onAck(3, 3)), [{ op: 'done' }]);
});

test('an empty file is one empty DATA 1', () => {
  const s = new ReadSession(bufferSource(Buffer.alloc(0)), base);
  assert.deepEqual(out(s.start(0)), [{ op: 'DATA', block: 1, data: Buffer.alloc(0) }]);
  assert.deepEqual(out(s.onAck(1, 1)), [{ op: 'done' }]);
});

test('block numbers roll over past 65535 to 0 and the bytes stay right', () => {
  const blksize = 8;
  const nBlocks = 70000;
  const size = blksize * nBlocks + 3;
  const src = syntheticSource(size);
  const s = new ReadSession(src, { blksize, windowsize: 16, timeoutMs: 1000, maxRetries: 3 });
  const expected = Buffer.allocUnsafe(blksize);
  let logical = 0;
  let o = out(s.start(0));
  let t = 0;
  const seen: number[] = [];
  while (o.length > 0 && o[0]?.op === 'DATA') {
    for (const x of o) {
      assert.equal(x.op, 'DATA');
      if (x.op !== 'DATA') continue;
      logical++;
      assert.equal(x.block, logical % 65536);
      const len = src.read((logical - 1) * blksize, blksize, expected, 0);
      assert.deepEqual(x.data, expected.subarray(0, len));
      if (logical >= 65534 && logical <= 65538) seen.push(x.block);
    }
    const last = o[o.length - 1] as { block: number };
    o = out(s.onAck(last.block, ++t));
  }
  assert.deepEqual(o, [{ op: 'done' }]);
  assert.deepEqual(seen, [65534, 65535, 0, 1, 2]);
  assert.equal(logical, nBlocks + 1);
  assert.equal(s.bytesAcked, size);
});

test('ACK 0 after rollover is a new ACK, not confused with the OACK', () => {
  const blksize = 8;
  const s = new ReadSession(syntheticSource(blksize * 65540), { blksize, windowsize: 1, timeoutMs: 1000, maxRetries: 1 });
  s.start(0);
  for (let b = 1; b <= 65535; b++) s.onAck(b, b);
  const o = out(s.onAck(0, 70000)); // logical 65536
  assert.deepEqual(blocks(o), [1]); // logical 65537
  assert.deepEqual(out(s.onAck(0, 70001)), []); // duplicate of logical 65536
});

test('window pacing: exactly windowsize DATA in flight, the next window only on the last ACK', () => {
  const s = new ReadSession(bufferSource(pattern(512 * 10 + 1)), { ...base, windowsize: 4 });
  assert.deepEqual(blocks(out(s.start(0))), [1, 2, 3, 4]);
  assert.deepEqual(blocks(out(s.onAck(4, 1))), [5, 6, 7, 8]);
  assert.deepEqual(blocks(out(s.onAck(8, 2))), [9, 10, 11]);
  assert.deepEqual(out(s.onAck(11, 3)), [{ op: 'done' }]);
  assert.equal(s.stats.resends, 0);
});

test('an ACK inside the window slides it: resend from ack+1, then new blocks', () => {
  const s = new ReadSession(bufferSource(pattern(512 * 20)), { ...base, windowsize: 4 });
  s.start(0);
  const o = out(s.onAck(2, 1));
  assert.deepEqual(blocks(o), [3, 4, 5, 6]);
  assert.equal(s.stats.resends, 2);
  assert.deepEqual(blocks(out(s.onAck(6, 2))), [7, 8, 9, 10]);
});

test('duplicate ACKs never trigger a resend (Sorcerer\'s Apprentice, RFC 1123 §4.2.3.1)', () => {
  const s = new ReadSession(bufferSource(pattern(512 * 20)), { ...base, windowsize: 4 });
  s.start(0);
  s.onAck(4, 1);
  assert.deepEqual(out(s.onAck(4, 2)), []);
  assert.deepEqual(out(s.onAck(4, 3)), []);
  assert.deepEqual(out(s.onAck(3, 4)), []); // older than the last acknowledged
  assert.deepEqual(out(s.onAck(0, 5)), []);
  assert.equal(s.stats.duplicateAcks, 4);
  assert.deepEqual(blocks(out(s.onAck(8, 6))), [9, 10, 11, 12]);
});

test('lock-step duplicate ACK: no DATA, the transfer continues on the next ACK', () => {
  const s = new ReadSession(bufferSource(pattern(2000)), base);
  s.start(0);
  assert.deepEqual(blocks(out(s.onAck(1, 1))), [2]);
  assert.deepEqual(out(s.onAck(1, 2)), []);
  assert.deepEqual(blocks(out(s.onAck(2, 3))), [3]);
});

test('ACKs for blocks not yet sent are ignored', () => {
  const s = new ReadSession(bufferSource(pattern(512 * 20)), { ...base, windowsize: 4 });
  s.start(0);
  assert.deepEqual(out(s.onAck(5, 1)), []);
  assert.deepEqual(out(s.onAck(1000, 1)), []);
  assert.equal(s.stats.strayAcks, 2);
  assert.equal(s.bytesAcked, 0);
});

test('timeout resends the whole unacknowledged window with exponential backoff', () => {
  const s = new ReadSession(bufferSource(pattern(512 * 20)), { ...base, windowsize: 4, maxRetries: 5 });
  s.start(0);
  assert.equal(s.nextTimeoutAt, 1000);
  assert.deepEqual(out(s.onTimeout(999)), []); // early: nothing
  assert.deepEqual(blocks(out(s.onTimeout(1000))), [1, 2, 3, 4]);
  assert.equal(s.nextTimeoutAt, 3000);
  assert.deepEqual(blocks(out(s.onTimeout(3000))), [1, 2, 3, 4]);
  assert.equal(s.nextTimeoutAt, 7000);
  // Partial progress: the timer restarts from the negotiated value and only the rest is resent.
  assert.deepEqual(blocks(out(s.onAck(2, 7001))), [3, 4, 5, 6]);
  assert.equal(s.nextTimeoutAt, 8001);
  assert.deepEqual(blocks(out(s.onTimeout(8001))), [3, 4, 5, 6]);
  assert.equal(s.stats.retries, 3);
  assert.equal(s.stats.resends, 4 + 4 + 2 + 4);
});

test('backoff is capped at max(base, maxTimeoutMs)', () => {
  const s = new ReadSession(bufferSource(pattern(10)), { ...base, maxRetries: 10, maxTimeoutMs: 5000 });
  s.start(0);
  const waits: number[] = [];
  let now = 0;
  for (let i = 0; i < 5; i++) {
    const at = s.nextTimeoutAt as number;
    waits.push(at - now);
    now = at;
    s.onTimeout(now);
  }
  assert.deepEqual(waits, [1000, 2000, 4000, 5000, 5000]);
});

test('retry cap: maxRetries resends, then the transfer fails silently on the next timeout', () => {
  const s = new ReadSession(bufferSource(pattern(100)), { ...base, maxRetries: 2 });
  s.start(0);
  assert.deepEqual(blocks(out(s.onTimeout(1000))), [1]);
  assert.deepEqual(blocks(out(s.onTimeout(3000))), [1]);
  assert.deepEqual(out(s.onTimeout(7000)), [{ op: 'fail', reason: 'timeout' }]);
  assert.equal(s.state, 'failed');
  assert.equal(s.nextTimeoutAt, undefined);
  assert.deepEqual(out(s.onAck(1, 7001)), []);
  assert.deepEqual(out(s.onTimeout(99999)), []);
});

test('progress resets the retry count', () => {
  const s = new ReadSession(bufferSource(pattern(2000)), { ...base, maxRetries: 1 });
  s.start(0);
  s.onTimeout(1000);
  s.onAck(1, 1500);
  assert.deepEqual(blocks(out(s.onTimeout(2500))), [2]);
  assert.deepEqual(out(s.onTimeout(4500)), [{ op: 'fail', reason: 'timeout' }]);
});

test('OACK first, ACK 0 confirms it (RFC 2347), then DATA 1', () => {
  const oack = new Map([['blksize', '1024'], ['tsize', '3000']]);
  const s = new ReadSession(bufferSource(pattern(3000)), { ...base, blksize: 1024, oack });
  assert.deepEqual(out(s.start(0)), [{ op: 'OACK', options: [['blksize', '1024'], ['tsize', '3000']] }]);
  assert.equal(s.state, 'oack-sent');
  assert.deepEqual(out(s.onAck(1, 1)), []);
  assert.deepEqual(out(s.onTimeout(1000)), [{ op: 'OACK', options: [['blksize', '1024'], ['tsize', '3000']] }]);
  const o = out(s.onAck(0, 1200));
  assert.deepEqual(blocks(o), [1]);
  assert.equal((o[0] as { data: Buffer }).data.length, 1024);
  assert.equal(s.state, 'sending');
  assert.deepEqual(out(s.onAck(0, 1201)), []); // a second ACK 0 is a duplicate
});

test('an empty oack map means a plain transfer', () => {
  const s = new ReadSession(bufferSource(pattern(10)), { ...base, oack: new Map() });
  assert.deepEqual(blocks(out(s.start(0))), [1]);
});

test('adaptive timeout: 1 s before any sample, then srtt + 4·rttvar clamped to [200 ms, 5 s]', () => {
  const s = new ReadSession(bufferSource(pattern(512 * 10)), { ...base, timeoutMs: undefined });
  s.start(0);
  assert.equal(s.nextTimeoutAt, 1000);
  s.onAck(1, 2); // rtt 2 ms → 2 + 4·1 → clamped to 200
  assert.equal(s.nextTimeoutAt, 202);
  assert.equal(s.stats.srttMs, 2);
  const slow = new ReadSession(bufferSource(pattern(512 * 10)), { ...base, timeoutMs: undefined });
  slow.start(0);
  slow.onAck(1, 400); // 400 + 4·200 = 1200
  assert.equal(slow.nextTimeoutAt, 1600);
  slow.onAck(2, 10400); // rtt 10 s: srtt 1600, rttvar 2550 → clamped to 5000
  assert.equal(slow.nextTimeoutAt, 15400);
});

test('Karn: a resent block gives no RTT sample', () => {
  const s = new ReadSession(bufferSource(pattern(2000)), { ...base, timeoutMs: undefined });
  s.start(0);
  s.onTimeout(1000);
  s.onAck(1, 1001);
  assert.equal(s.stats.srttMs, undefined);
});

test('peer ERROR ends the transfer', () => {
  const s = new ReadSession(bufferSource(pattern(2000)), base);
  s.start(0);
  assert.deepEqual(out(s.onError()), [{ op: 'fail', reason: 'peer_error' }]);
  assert.equal(s.state, 'failed');
  assert.deepEqual(out(s.onAck(1, 2)), []);
});

test('a read that throws or comes up short sends ERROR 0 and fails', () => {
  const throwing: BlockSource = { size: 5000, read() { throw new Error('EIO'); } };
  const s = new ReadSession(throwing, base);
  const a = s.start(0);
  assert.deepEqual(out(a), [{ op: 'ERROR', code: 0 }, { op: 'fail', reason: 'read_error' }]);
  const shrunk: BlockSource = { size: 5000, read: () => 10 };
  const t = new ReadSession(shrunk, base);
  assert.deepEqual(out(t.start(0)), [{ op: 'ERROR', code: 0 }, { op: 'fail', reason: 'read_error' }]);
});

test('window buffers are reused once acknowledged and sent, never while a send is pending', () => {
  const file = pattern(512 * 12);
  const s = new ReadSession(bufferSource(file), { ...base, windowsize: 2 });
  const first = s.start(0).map((a) => (a.kind === 'send' ? a.packet : Buffer.alloc(0)));
  for (const p of first) s.onSent(p);
  const second = s.onAck(2, 1).map((a) => (a.kind === 'send' ? a.packet : Buffer.alloc(0)));
  assert.equal(second[0]?.buffer, first[0]?.buffer, 'block 3 reuses block 1\'s buffer after its send completed');
  // Block 3 and 4 not confirmed as sent: block 5 must get a fresh buffer and block 3's bytes stay intact.
  const snapshot = Buffer.from(second[0] as Buffer);
  const third = s.onAck(4, 2).map((a) => (a.kind === 'send' ? a.packet : Buffer.alloc(0)));
  assert.notEqual(third[0]?.buffer, second[0]?.buffer);
  assert.deepEqual(second[0], snapshot);
  // A resend holds the buffer too: block 5 resent and not yet confirmed.
  s.onTimeout(10000);
  for (const p of third) s.onSent(p); // confirms the first send of 5 and 6 only
  const held = Buffer.from(third[0] as Buffer);
  const fourth = s.onAck(6, 10001).map((a) => (a.kind === 'send' ? a.packet : Buffer.alloc(0)));
  assert.notEqual(fourth[0]?.buffer, third[0]?.buffer);
  assert.deepEqual(third[0], held);
});

const wbase: WriteSessionParams = { blksize: 512, windowsize: 1, timeoutMs: 1000, maxRetries: 3 };

function collectingSink(): { sink: { write(d: Uint8Array): void }; bytes: () => Buffer; writes: () => number } {
  const parts: Buffer[] = [];
  return {
    sink: { write: (d) => { parts.push(Buffer.from(d)); } },
    bytes: () => Buffer.concat(parts),
    writes: () => parts.length,
  };
}

test('write: ACK 0, DATA acked one by one, the short block ends it', () => {
  const c = collectingSink();
  const w = new WriteSession(c.sink, wbase);
  assert.deepEqual(out(w.start(0)), [{ op: 'ACK', block: 0 }]);
  const file = pattern(1100);
  assert.deepEqual(out(w.onData(1, file.subarray(0, 512), 1)), [{ op: 'ACK', block: 1 }]);
  assert.deepEqual(out(w.onData(2, file.subarray(512, 1024), 2)), [{ op: 'ACK', block: 2 }]);
  assert.deepEqual(out(w.onData(3, file.subarray(1024), 3)), [{ op: 'ACK', block: 3 }, { op: 'done' }]);
  assert.equal(w.state, 'done');
  assert.deepEqual(c.bytes(), file);
  // The final ACK was lost: the client resends its last DATA and gets the ACK again, nothing written twice.
  assert.deepEqual(out(w.onData(3, file.subarray(1024), 4)), [{ op: 'ACK', block: 3 }]);
  assert.deepEqual(c.bytes(), file);
  // Dallying arms no timer: a finished transfer never asks to be woken up again.
  assert.equal(w.nextTimeoutAt, undefined);
  assert.deepEqual(out(w.onData(2, file.subarray(512, 1024), 5)), []);
});

test('write: OACK first, DATA 1 confirms it (RFC 2347)', () => {
  const c = collectingSink();
  const w = new WriteSession(c.sink, { ...wbase, blksize: 8, oack: new Map([['blksize', '8']]) });
  assert.deepEqual(out(w.start(0)), [{ op: 'OACK', options: [['blksize', '8']] }]);
  assert.deepEqual(out(w.onTimeout(1000)), [{ op: 'OACK', options: [['blksize', '8']] }]);
  assert.deepEqual(out(w.onData(2, Buffer.alloc(8), 1001)), []);
  assert.deepEqual(out(w.onData(1, Buffer.from('abcdefgh'), 1002)), [{ op: 'ACK', block: 1 }]);
  assert.deepEqual(out(w.onData(2, Buffer.from('ij'), 1003)), [{ op: 'ACK', block: 2 }, { op: 'done' }]);
  assert.deepEqual(c.bytes(), Buffer.from('abcdefghij'));
});

test('write: duplicate DATA is re-ACKed with the last in-order block and not written twice', () => {
  const c = collectingSink();
  const w = new WriteSession(c.sink, wbase);
  w.start(0);
  w.onData(1, Buffer.alloc(512, 1), 1);
  assert.deepEqual(out(w.onData(1, Buffer.alloc(512, 1), 2)), [{ op: 'ACK', block: 1 }]);
  assert.deepEqual(out(w.onData(1, Buffer.alloc(512, 1), 3)), [{ op: 'ACK', block: 1 }]);
  assert.equal(c.writes(), 1);
  assert.equal(w.stats.strayBlocks, 2);
});

test('write with a window: one ACK per windowsize blocks; a gap draws one ACK of the last in-order block', () => {
  const c = collectingSink();
  const w = new WriteSession(c.sink, { ...wbase, blksize: 8, windowsize: 4 });
  w.start(0);
  const blk = (n: number): Buffer => Buffer.alloc(8, n);
  assert.deepEqual(out(w.onData(1, blk(1), 1)), []);
  assert.deepEqual(out(w.onData(2, blk(2), 1)), []);
  assert.deepEqual(out(w.onData(3, blk(3), 1)), []);
  assert.deepEqual(out(w.onData(4, blk(4), 1)), [{ op: 'ACK', block: 4 }]);
  assert.deepEqual(out(w.onData(5, blk(5), 2)), []);
  // 6 lost: 7 and 8 are out of order, one ACK 5 for the episode.
  assert.deepEqual(out(w.onData(7, blk(7), 2)), [{ op: 'ACK', block: 5 }]);
  assert.deepEqual(out(w.onData(8, blk(8), 2)), []);
  // The sender restarts at 6; the window is counted from the ACK.
  assert.deepEqual(out(w.onData(6, blk(6), 3)), []);
  assert.deepEqual(out(w.onData(7, blk(7), 3)), []);
  assert.deepEqual(out(w.onData(8, blk(8), 3)), []);
  assert.deepEqual(out(w.onData(9, blk(9), 3)), [{ op: 'ACK', block: 9 }]);
  assert.deepEqual(out(w.onData(10, Buffer.alloc(0), 4)), [{ op: 'ACK', block: 10 }, { op: 'done' }]);
  assert.deepEqual(c.bytes(), Buffer.concat([1, 2, 3, 4, 5, 6, 7, 8, 9].map(blk)));
});

test('write: mid-window silence → timeout re-ACKs the last in-order block; the cap fails it', () => {
  const c = collectingSink();
  const w = new WriteSession(c.sink, { ...wbase, blksize: 8, windowsize: 4, maxRetries: 1 });
  w.start(0);
  w.onData(1, Buffer.alloc(8), 10);
  assert.equal(w.nextTimeoutAt, 1010);
  assert.deepEqual(out(w.onTimeout(1010)), [{ op: 'ACK', block: 1 }]);
  assert.deepEqual(out(w.onTimeout(3010)), [{ op: 'fail', reason: 'timeout' }]);
});

test('write: size cap → ERROR 3, nothing past the cap is written', () => {
  const c = collectingSink();
  const w = new WriteSession(c.sink, { ...wbase, blksize: 8, maxBytes: 12 });
  w.start(0);
  w.onData(1, Buffer.alloc(8, 1), 1);
  assert.deepEqual(out(w.onData(2, Buffer.alloc(8, 2), 2)), [{ op: 'ERROR', code: 3 }, { op: 'fail', reason: 'too_large' }]);
  assert.equal(c.bytes().length, 8);
  assert.equal(w.state, 'failed');
  // Exactly at the cap is fine.
  const d = collectingSink();
  const v = new WriteSession(d.sink, { ...wbase, blksize: 8, maxBytes: 12 });
  v.start(0);
  v.onData(1, Buffer.alloc(8), 1);
  assert.deepEqual(out(v.onData(2, Buffer.alloc(4), 2)), [{ op: 'ACK', block: 2 }, { op: 'done' }]);
});

test('write: a DATA larger than blksize is ERROR 4; a failing sink is ERROR 0', () => {
  const w = new WriteSession(collectingSink().sink, { ...wbase, blksize: 8 });
  w.start(0);
  assert.deepEqual(out(w.onData(1, Buffer.alloc(9), 1)), [{ op: 'ERROR', code: 4 }, { op: 'fail', reason: 'illegal_operation' }]);
  const v = new WriteSession({ write() { throw new Error('ENOSPC'); } }, wbase);
  v.start(0);
  assert.deepEqual(out(v.onData(1, Buffer.alloc(10), 1)), [{ op: 'ERROR', code: 0 }, { op: 'fail', reason: 'write_error' }]);
});

test('write: block numbers roll over past 65535', () => {
  const c = collectingSink();
  let count = 0;
  const w = new WriteSession({ write: (d) => { count += d.length; } }, { ...wbase, blksize: 8 });
  w.start(0);
  for (let logical = 1; logical <= 65540; logical++) {
    const o = out(w.onData(logical % 65536, Buffer.alloc(8), logical));
    assert.deepEqual(o, [{ op: 'ACK', block: logical % 65536 }]);
  }
  assert.deepEqual(out(w.onData(65541 % 65536, Buffer.alloc(1), 1e6)), [{ op: 'ACK', block: 5 }, { op: 'done' }]);
  assert.equal(count, 65540 * 8 + 1);
  assert.equal(c.writes(), 0);
});

test('write: peer ERROR ends the transfer', () => {
  const w = new WriteSession(collectingSink().sink, wbase);
  w.start(0);
  assert.deepEqual(out(w.onError()), [{ op: 'fail', reason: 'peer_error' }]);
  assert.deepEqual(out(w.onData(1, Buffer.alloc(1), 1)), []);
});

test('out-of-range parameters are refused up front (a bug in the caller)', () => {
  const src = bufferSource(Buffer.alloc(1));
  assert.throws(() => new ReadSession(src, { ...base, blksize: 0 }), RangeError);
  assert.throws(() => new ReadSession(src, { ...base, blksize: 65465 }), RangeError);
  assert.throws(() => new ReadSession(src, { ...base, windowsize: 0 }), RangeError);
  assert.throws(() => new ReadSession(src, { ...base, maxRetries: -1 }), RangeError);
  assert.throws(() => new WriteSession(collectingSink().sink, { ...wbase, windowsize: 1.5 }), RangeError);
});

test('a window past 32767 is refused, and at 32767 a stale ACK of the previous window never passes for a new one', () => {
  assert.throws(() => new ReadSession(syntheticSource(8 * 100_000), { ...base, blksize: 8, windowsize: 32768 }), RangeError);
  assert.throws(() => new WriteSession({ write() {} }, { ...wbase, windowsize: 40000 }), RangeError);
  const W = 32767;
  const s = new ReadSession(syntheticSource(8 * 200_000), { ...base, blksize: 8, windowsize: W });
  s.start(0);
  // The whole first window is acknowledged, then a delayed ACK of block 0 (no OACK: never sent by us) and of the window's first block arrive.
  assert.equal(blocks(out(s.onAck(W, 1))).length, W);
  assert.deepEqual(out(s.onAck(1, 2)), [], 'a stale ACK from the previous window is ignored');
  assert.equal(s.bytesAcked, W * 8);
  assert.equal(blocks(out(s.onAck((2 * W) % 65536, 3))).length, W, 'the ACK of the new window moves on');
  assert.equal(s.bytesAcked, 2 * W * 8);
});

test('an unacknowledged OACK is resent at most maxOackRetries times, then the transfer fails (both directions)', () => {
  const oack = new Map([['blksize', '1024']]);
  const r = new ReadSession(bufferSource(pattern(3000)), { ...base, maxRetries: 5, maxOackRetries: 2, oack });
  r.start(0);
  assert.equal(out(r.onTimeout(1000))[0]?.op, 'OACK');
  assert.equal(out(r.onTimeout(3000))[0]?.op, 'OACK');
  assert.deepEqual(r.onTimeout(10_000), [{ kind: 'fail', reason: 'timeout' }]);
  const w = new WriteSession({ write() {} }, { ...wbase, maxRetries: 5, maxOackRetries: 2, oack });
  w.start(0);
  w.onTimeout(1000);
  w.onTimeout(3000);
  assert.deepEqual(w.onTimeout(10_000), [{ kind: 'fail', reason: 'timeout' }]);
  // Once the OACK is acknowledged the full budget applies again.
  const r2 = new ReadSession(bufferSource(pattern(3000)), { ...base, maxRetries: 5, maxOackRetries: 1, oack });
  r2.start(0);
  r2.onAck(0, 1);
  let now = 1;
  for (let i = 0; i < 5; i++) {
    now += 100_000;
    assert.equal(out(r2.onTimeout(now))[0]?.op, 'DATA', `resend ${i + 1}`);
  }
});

test('pumped(k) leaves a lock-step read as k in-order ACKs would: counters, deadline, and the block a timeout resends', () => {
  const file = pattern(512 * 9 + 100);
  const params: ReadSessionParams = { blksize: 512, windowsize: 1, maxRetries: 3, minTimeoutMs: 50 };
  const byAck = new ReadSession(bufferSource(file), params);
  const byPump = new ReadSession(bufferSource(file), params);
  byAck.start(0);
  // The socket took each block at once: its buffer is free (the shell's onSent).
  for (const a of byPump.start(0)) if (a.kind === 'send') byPump.onSent(a.packet);
  assert.equal(byPump.pumpable(), undefined, 'no round trip measured yet: ACK 1 is for the session');
  for (const a of byPump.onAck(1, 2)) if (a.kind === 'send') byPump.onSent(a.packet);
  const p = byPump.pumpable();
  assert.deepEqual(p && { sent: p.sent, lastBlock: p.lastBlock, blksize: p.blksize, size: p.size, sampleFirst: p.sampleFirst, source: p.source === file, sentAt: p.sentAt }, {
    sent: 2, lastBlock: 10, blksize: 512, size: file.length, sampleFirst: true, source: true, sentAt: 2,
  });
  // ACKs 1..9 at 2 ms each: blocks 2..10, the last one short.
  for (let b = 1; b <= 9; b++) byAck.onAck(b, 2 * b);
  assert.deepEqual(byPump.pumped(8, 18, 2, false), [], 'nothing to send: the pump sent them');
  assert.equal(byPump.state, 'sending');
  assert.deepEqual({ ...byPump.stats, srttMs: undefined }, { ...byAck.stats, srttMs: undefined });
  assert.equal(byPump.stats.blocksSent, 10);
  assert.equal(byPump.stats.bytesSent, file.length);
  assert.ok(byPump.stats.srttMs !== undefined, 'the round trip it timed is a sample');
  assert.equal(byPump.pumpable(), undefined, 'the final block is out: its ACK is for the session');
  // A timeout resends the same block from both, and the final ACK ends both.
  const due = byPump.nextTimeoutAt as number;
  assert.ok(due > 18);
  assert.deepEqual(out(byPump.onTimeout(due + 5000)), out(byAck.onTimeout(due + 5000)));
  assert.deepEqual(out(byPump.onAck(10, due + 5001)), [{ op: 'done' }]);
});

test('an adaptive timeout is not pumped before a round trip is measured (the pump\'s samples reach the session late); a negotiated one is', () => {
  const file = pattern(512 * 40);
  const adaptive = new ReadSession(bufferSource(file), { blksize: 512, windowsize: 1, maxRetries: 3, initialTimeoutMs: 1000, minTimeoutMs: 200 });
  for (const a of adaptive.start(0)) if (a.kind === 'send') adaptive.onSent(a.packet);
  assert.equal(adaptive.pumpable(), undefined, 'on the initial 1 s guess, a block lost while pumped would wait 1 s');
  for (const a of adaptive.onAck(1, 1)) if (a.kind === 'send') adaptive.onSent(a.packet);
  assert.equal(adaptive.pumpable()?.sent, 2, 'ACK 1 timed the round trip');
  assert.equal(adaptive.nextTimeoutAt, 1 + 200, 'the deadline of a pumped block rests on it');
  // Karn: block 1 sent twice gives no sample; the session keeps the ACKs until one is measured.
  const resent = new ReadSession(bufferSource(file), { blksize: 512, windowsize: 1, maxRetries: 3, initialTimeoutMs: 1000, minTimeoutMs: 200 });
  resent.start(0);
  for (const a of resent.onTimeout(1000)) if (a.kind === 'send') resent.onSent(a.packet);
  for (const a of resent.onAck(1, 1001)) if (a.kind === 'send') resent.onSent(a.packet);
  assert.equal(resent.pumpable(), undefined);
  for (const a of resent.onAck(2, 1002)) if (a.kind === 'send') resent.onSent(a.packet);
  assert.equal(resent.pumpable()?.sent, 3);
  const negotiated = new ReadSession(bufferSource(file), { blksize: 512, windowsize: 1, timeoutMs: 1000, maxRetries: 3 });
  for (const a of negotiated.start(0)) if (a.kind === 'send') negotiated.onSent(a.packet);
  assert.equal(negotiated.pumpable()?.sent, 1, 'a negotiated timeout does not depend on samples');
});

test('pumped() with the last block unsent hands it back to send; a window, an OACK outstanding or a queued send is not pumpable', () => {
  const file = pattern(512 * 4);
  const s = new ReadSession(bufferSource(file), { blksize: 512, windowsize: 1, timeoutMs: 1000, maxRetries: 3 });
  for (const a of s.start(0)) if (a.kind === 'send') s.onSent(a.packet);
  assert.notEqual(s.pumpable(), undefined);
  const o = out(s.pumped(2, 10, undefined, true));
  assert.deepEqual(o.map((x) => x.op === 'DATA' && x.block), [3]);
  assert.deepEqual((o[0] as { data: Buffer }).data, file.subarray(1024, 1536));
  assert.equal(s.stats.blocksSent, 3, 'counted once, by the pump');
  assert.equal(s.pumpable(), undefined, 'its send is not confirmed yet');
  const windowed = new ReadSession(bufferSource(file), { blksize: 512, windowsize: 4, timeoutMs: 1000, maxRetries: 3 });
  windowed.start(0);
  assert.equal(windowed.pumpable(), undefined);
  const withOack = new ReadSession(bufferSource(file), { blksize: 512, windowsize: 1, timeoutMs: 1000, maxRetries: 3, oack: new Map([['tsize', '2048']]) });
  withOack.start(0);
  assert.equal(withOack.pumpable(), undefined);
  const noNative = new ReadSession(syntheticSource(4096), { blksize: 512, windowsize: 1, timeoutMs: 1000, maxRetries: 3 });
  noNative.start(0);
  assert.equal(noNative.pumpable(), undefined);
});

/**
 * A ReadSession against a simulated receiver over a simulated lossy network.
 * The receiver follows RFC 1350 and RFC 7440's receiver rules, and ACKs every
 * out-of-order or duplicate DATA at once (the harshest legal receiver for the
 * Sorcerer's Apprentice problem). The network drops, duplicates and reorders
 * packets in both directions. The shell's send path is modelled too: the
 * bytes of a DATA packet are read when the "socket" really sends them, a
 * moment after the session handed them over, and only then is onSent called,
 * so a buffer rewritten too early shows up as corrupt data.
 */
import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { decodeTftpPacket, encodeAck } from '../../src/tftp/codec.js';
import { ReadSession, WriteSession, bufferSource } from '../../src/tftp/session.js';
import type { SessionAction } from '../../src/tftp/session.js';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Scenario {
  seed: number;
  size: number;
  blksize: number;
  windowsize: number;
  lossPct: number;
  dupPct: number;
  jitterMs: number;
  oack: boolean;
  adaptive: boolean;
  maxRetries: number;
}

type Event =
  | { at: number; seq: number; kind: 'wire'; packet: Buffer } // the socket reads the session's buffer now
  | { at: number; seq: number; kind: 'to-client'; bytes: Buffer }
  | { at: number; seq: number; kind: 'to-server'; bytes: Buffer };

interface Outcome {
  state: string;
  clientDone: boolean;
}

function run(sc: Scenario): Outcome {
  const rand = mulberry32(sc.seed);
  const source = Buffer.allocUnsafe(sc.size);
  for (let i = 0; i < sc.size; i++) source[i] = Math.floor(rand() * 256);
  const oackMap = sc.oack ? new Map([['blksize', String(sc.blksize)], ['windowsize', String(sc.windowsize)]]) : undefined;
  const session = new ReadSession(bufferSource(source), {
    blksize: sc.blksize,
    windowsize: sc.windowsize,
    timeoutMs: sc.adaptive ? undefined : 100,
    minTimeoutMs: 50,
    maxTimeoutMs: 800,
    initialTimeoutMs: 100,
    maxRetries: sc.maxRetries,
    oack: oackMap,
  });
  const lastBlock = Math.floor(sc.size / sc.blksize) + 1;
  assert.ok(lastBlock < 65536, 'scenario sizes stay below rollover so the test can use block numbers as logical numbers');

  const events: Event[] = [];
  let seq = 0;
  let now = 0;
  const schedule = (e: Event): void => {
    events.push(e);
  };
  const net = (kind: 'to-client' | 'to-server', bytes: Buffer): void => {
    if (rand() * 100 < sc.lossPct) return;
    schedule({ at: now + 1 + rand() * sc.jitterMs, seq: seq++, kind, bytes } as Event);
    if (rand() * 100 < sc.dupPct) schedule({ at: now + 1 + rand() * sc.jitterMs, seq: seq++, kind, bytes } as Event);
  };

  // Sender-side bookkeeping of what the test itself has seen.
  let maxSent = 0;
  let maxAckDelivered = sc.oack ? -1 : 0; // plain: the RRQ stands for "ACK 0"
  let finished = false;
  const handle = (actions: SessionAction[], cause: { ack: number } | 'timeout' | 'start'): void => {
    for (const a of actions) {
      if (a.kind !== 'send') {
        finished = true;
        if (a.kind === 'fail') assert.equal(a.reason, 'timeout');
        continue;
      }
      const p = decodeTftpPacket(a.packet);
      if (p.op === 'DATA') {
        if (typeof cause === 'object') {
          assert.ok(p.block > cause.ack && p.block <= cause.ack + sc.windowsize, `DATA ${p.block} in answer to ACK ${cause.ack}`);
        }
        maxSent = Math.max(maxSent, p.block);
        assert.ok(maxSent - Math.max(maxAckDelivered, 0) <= sc.windowsize, 'more than windowsize blocks in flight');
      } else {
        assert.equal(p.op, 'OACK');
      }
      schedule({ at: now + rand() * 2, seq: seq++, kind: 'wire', packet: a.packet });
    }
  };

  // Receiver (client) state, RFC 1350 + RFC 7440.
  let expected = 1;
  let inWindow = 0;
  let clientDone = false;
  let oackSeen = !sc.oack;
  const received: Buffer[] = [];
  let receivedBytes = 0;
  let clientTimerAt: number | undefined = sc.oack ? undefined : now + 300;
  let clientTimeouts = 0;
  const clientAck = (block: number): void => {
    net('to-server', encodeAck(block));
  };
  const onClientPacket = (bytes: Buffer): void => {
    const p = decodeTftpPacket(bytes);
    if (p.op === 'OACK') {
      oackSeen = true;
      clientAck(0);
      clientTimerAt = now + 300;
      return;
    }
    assert.equal(p.op, 'DATA');
    if (p.op !== 'DATA') return;
    assert.ok(oackSeen, 'DATA before the OACK was acknowledged');
    if (clientDone) {
      if (p.block === expected - 1) clientAck(p.block); // dally: the final ACK was lost
      return;
    }
    if (p.block !== expected) {
      inWindow = 0;
      clientAck(expected - 1);
      return;
    }
    // Never corrupt: what arrives in order is exactly the source's next bytes.
    const off = (expected - 1) * sc.blksize;
    assert.deepEqual(Buffer.from(p.data), source.subarray(off, off + sc.blksize), `block ${expected} corrupt`);
    received.push(Buffer.from(p.data));
    receivedBytes += p.data.length;
    expected++;
    inWindow++;
    clientTimeouts = 0;
    clientTimerAt = now + 300;
    if (p.data.length < sc.blksize) {
      clientDone = true;
      clientTimerAt = undefined;
      clientAck(p.block);
    } else if (inWindow === sc.windowsize) {
      inWindow = 0;
      clientAck(p.block);
    }
  };

  handle(session.start(now), 'start');
  for (let steps = 0; steps < 200000; steps++) {
    let next: Event | undefined;
    for (const e of events) if (next === undefined || e.at < next.at || (e.at === next.at && e.seq < next.seq)) next = e;
    const timers = [next?.at, session.nextTimeoutAt, clientTimerAt].filter((x): x is number => x !== undefined);
    if (timers.length === 0) break;
    now = Math.max(now, Math.min(...timers));
    if (session.nextTimeoutAt !== undefined && session.nextTimeoutAt <= now) {
      handle(session.onTimeout(now), 'timeout');
      continue;
    }
    if (clientTimerAt !== undefined && clientTimerAt <= now) {
      if (++clientTimeouts > 12) {
        clientTimerAt = undefined;
      } else {
        inWindow = 0;
        clientAck(expected - 1);
        clientTimerAt = now + 300;
      }
      continue;
    }
    if (next === undefined) break;
    events.splice(events.indexOf(next), 1);
    if (next.kind === 'wire') {
      net('to-client', Buffer.from(next.packet));
      session.onSent(next.packet);
    } else if (next.kind === 'to-client') {
      onClientPacket(next.bytes);
    } else {
      const p = decodeTftpPacket(next.bytes);
      assert.equal(p.op, 'ACK');
      if (p.op !== 'ACK') continue;
      const duplicate = p.block <= maxAckDelivered;
      const stateBefore = session.state;
      const actions = session.onAck(p.block, now);
      if (duplicate || p.block > maxSent) {
        // RFC 1123 §4.2.3.1: a duplicate (or never-sent) ACK must not cause any transmission.
        assert.equal(actions.length, 0, `ACK ${p.block} (dup=${duplicate}) in state ${stateBefore} caused ${actions.length} actions`);
      }
      if (!duplicate && p.block <= maxSent && stateBefore !== 'done' && stateBefore !== 'failed') maxAckDelivered = p.block;
      handle(actions, { ack: p.block });
    }
  }
  assert.ok(finished, 'the session neither finished nor failed');
  if (session.state === 'done') {
    assert.ok(clientDone, 'the session is done but the receiver is not');
    assert.deepEqual(Buffer.concat(received), source);
    assert.equal(session.bytesAcked, sc.size);
  } else {
    assert.equal(session.state, 'failed');
    assert.ok(receivedBytes <= sc.size);
  }
  return { state: session.state, clientDone };
}

const scenario = fc.record({
  seed: fc.integer(),
  size: fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.constantFrom(0, 8, 16, 512, 1024, 2048)),
  blksize: fc.constantFrom(8, 16, 64, 512),
  windowsize: fc.integer({ min: 1, max: 8 }),
  lossPct: fc.integer({ min: 0, max: 30 }),
  dupPct: fc.integer({ min: 0, max: 20 }),
  jitterMs: fc.integer({ min: 0, max: 40 }),
  oack: fc.boolean(),
  adaptive: fc.boolean(),
  maxRetries: fc.integer({ min: 2, max: 6 }),
});

test('property: the receiver ends with exactly the source, or the session fails by timeout; duplicate ACKs never send', () => {
  let done = 0;
  let runs = 0;
  fc.assert(
    fc.property(scenario, (sc) => {
      const o = run(sc);
      runs++;
      if (o.state === 'done') done++;
    }),
    { numRuns: 300 },
  );
  // The property allows failure under loss; most runs must still get through.
  if (process.env.TFTP_SIM_DEBUG) console.log({ done, runs });
  assert.ok(done > runs * 0.5, `only ${done}/${runs} transfers completed`);
});

test('property: without loss every transfer completes, whatever the duplication and reordering', () => {
  fc.assert(
    fc.property(scenario, (sc) => {
      const o = run({ ...sc, lossPct: 0 });
      assert.equal(o.state, 'done');
    }),
    { numRuns: 200 },
  );
});

/**
 * Both ends are dcplane's: a ReadSession feeding a WriteSession (as a server
 * would when a dcplane node pulls a file from another) over the same lossy
 * network. The sink must end with exactly the source, written once, in order.
 */
function runPair(sc: Scenario): string {
  const rand = mulberry32(sc.seed ^ 0x5bd1e995);
  const source = Buffer.allocUnsafe(sc.size);
  for (let i = 0; i < sc.size; i++) source[i] = Math.floor(rand() * 256);
  const timing = { timeoutMs: sc.adaptive ? undefined : 100, minTimeoutMs: 50, maxTimeoutMs: 800, initialTimeoutMs: 100, maxRetries: sc.maxRetries };
  const sender = new ReadSession(bufferSource(source), { ...timing, blksize: sc.blksize, windowsize: sc.windowsize });
  const written: Buffer[] = [];
  const receiver = new WriteSession(
    { write: (d) => { written.push(Buffer.from(d)); } },
    { ...timing, blksize: sc.blksize, windowsize: sc.windowsize, maxRetries: sc.maxRetries + 4 },
  );
  type Msg = { at: number; seq: number; to: 'r' | 's'; bytes: Buffer };
  const queue: Msg[] = [];
  let seq = 0;
  let now = 0;
  const net = (to: 'r' | 's', actions: SessionAction[]): void => {
    for (const a of actions) {
      if (a.kind !== 'send') continue;
      const bytes = Buffer.from(a.packet);
      if (to === 'r') sender.onSent(a.packet);
      if (rand() * 100 < sc.lossPct) continue;
      queue.push({ at: now + 1 + rand() * sc.jitterMs, seq: seq++, to, bytes });
      if (rand() * 100 < sc.dupPct) queue.push({ at: now + 1 + rand() * sc.jitterMs, seq: seq++, to, bytes });
    }
  };
  // The receiver's ACK 0 stands for the RRQ/WRQ exchange that opened the transfer: here the read side starts on its own.
  receiver.start(now);
  net('r', sender.start(now));
  for (let steps = 0; steps < 200000; steps++) {
    let next: Msg | undefined;
    for (const m of queue) if (next === undefined || m.at < next.at || (m.at === next.at && m.seq < next.seq)) next = m;
    const times = [next?.at, sender.nextTimeoutAt, receiver.nextTimeoutAt].filter((x): x is number => x !== undefined);
    if (times.length === 0) break;
    now = Math.max(now, Math.min(...times));
    if (sender.nextTimeoutAt !== undefined && sender.nextTimeoutAt <= now) {
      net('r', sender.onTimeout(now));
      continue;
    }
    if (receiver.nextTimeoutAt !== undefined && receiver.nextTimeoutAt <= now) {
      net('s', receiver.onTimeout(now));
      continue;
    }
    if (next === undefined) break;
    queue.splice(queue.indexOf(next), 1);
    const p = decodeTftpPacket(next.bytes);
    if (next.to === 'r' && p.op === 'DATA') net('s', receiver.onData(p.block, p.data, now));
    else if (next.to === 's' && p.op === 'ACK') net('r', sender.onAck(p.block, now));
  }
  const got = Buffer.concat(written);
  // Whatever happened, what was written is a prefix of the source: in order, never twice.
  assert.deepEqual(got, source.subarray(0, got.length));
  if (sender.state === 'done') {
    assert.equal(receiver.state, 'done');
    assert.deepEqual(got, source);
  }
  if (receiver.state === 'done') assert.deepEqual(got, source);
  assert.ok(sender.state === 'done' || sender.state === 'failed', `sender left in ${sender.state}`);
  return sender.state;
}

test('property: ReadSession → WriteSession over a lossy network delivers exactly the source or fails', () => {
  let done = 0;
  let runs = 0;
  fc.assert(
    fc.property(scenario, (sc) => {
      runs++;
      if (runPair(sc) === 'done') done++;
    }),
    { numRuns: 300 },
  );
  if (process.env.TFTP_SIM_DEBUG) console.log({ pairDone: done, runs });
  assert.ok(done > runs * 0.5, `only ${done}/${runs} transfers completed`);
});

test('property: ReadSession → WriteSession without loss always completes', () => {
  fc.assert(fc.property(scenario, (sc) => assert.equal(runPair({ ...sc, lossPct: 0 }), 'done')), { numRuns: 200 });
});

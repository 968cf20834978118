/**
 * The addon's transfer socket when the kernel refuses a send (EAGAIN, the
 * send buffer full): the rest of the window waits in its queue, leaves in
 * order once the socket is writable, each queued packet is reported to
 * onSent once, and the pump stays off while anything is queued. Needs root
 * (a namespace whose loopback has a slow qdisc, see native-send-queue-worker).
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { Topology } from '../helpers/netns.js';
import { createTopology, netnsSkipReason, nodeArgsFor } from '../helpers/netns.js';

const workerUrl = new URL(import.meta.url.endsWith('.ts') ? '../helpers/native-send-queue-worker.ts' : '../helpers/native-send-queue-worker.js', import.meta.url);

interface Outcome {
  connected: boolean;
  takenAtOnce: number;
  sentLater: number[];
  received: number[];
  errors: string[];
  pumpWhileQueued: boolean | undefined;
  pumpAfterDrain: boolean | undefined;
}

function runWorker(netns: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, ...nodeArgsFor(workerUrl)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`worker exited ${String(code)}: ${err.slice(-2000)}`));
      else resolve(JSON.parse(line) as Outcome);
    });
  });
}

let topo: Topology;

describe('native transfer socket: a full send buffer', { skip: netnsSkipReason(), timeout: 90_000 }, () => {
  before(async () => {
    topo = await createTopology({ namespaces: ['q'] });
    await topo.exec('q', 'ip', ['link', 'set', 'lo', 'up']);
    // 20 Mbit/s: 200 datagrams of 1.5 KB take about 0.12 s to drain, held by the qdisc meanwhile.
    await topo.exec('q', 'tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', '20mbit', 'burst', '4kb', 'latency', '2s']);
  });
  after(async () => {
    await topo?.destroy();
  });

  test('queues what the kernel refused, sends it in order when writable, and keeps the pump off meanwhile', async () => {
    const r = await runWorker(topo.netns('q'));
    assert.equal(r.connected, true, "the addon's connected socket, not dgram's");
    assert.deepEqual(r.errors, []);
    assert.ok(r.takenAtOnce > 0 && r.takenAtOnce < 200, `the send buffer filled (${r.takenAtOnce} taken at once)`);
    const queued = Array.from({ length: 200 - r.takenAtOnce }, (_, i) => r.takenAtOnce + i + 1);
    assert.deepEqual(r.sentLater, queued, 'each queued packet reported once, when it left, in order');
    assert.deepEqual(r.received, Array.from({ length: 200 }, (_, i) => i + 1), 'the client got all of them, in order');
    assert.equal(r.pumpWhileQueued, false);
    assert.equal(r.pumpAfterDrain, true);
  });
});

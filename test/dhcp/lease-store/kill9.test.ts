/**
 * kill -9 loses no acknowledged lease, on every backend: a child process
 * (fixtures/ack-writer.ts) writes durable leases as fast as it can and prints
 * each one after its apply() resolved; it is killed with SIGKILL at a random
 * moment, and every lease it printed must then be in storage, read through a
 * connection of its own, and in a store opened again (the restart).
 */
import { after, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { disposeAll, leaseStoreBackends } from './lease-store-backends.js';

const here = dirname(fileURLToPath(import.meta.url));
// Run from source (node --import tsx) or compiled (dist/test/…): start the fixture the same way.
const fromSource = import.meta.url.endsWith('.ts');
const fixture = join(here, 'fixtures', fromSource ? 'ack-writer.ts' : 'ack-writer.js');
const repoRoot = resolve(here, fromSource ? '../../..' : '../../../..');

after(disposeAll);

interface RunResult {
  /** Highest acknowledged version per address. */
  readonly acked: Map<number, number>;
  readonly ackCount: number;
}

/** Runs the writer until `killAfter` acks were read (then SIGKILL), or fails after `timeoutMs`. */
function runAndKill(fixtureArgs: readonly string[], killAfter: number, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const args = fromSource ? ['--import', 'tsx', fixture, ...fixtureArgs] : [fixture, ...fixtureArgs];
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const acked = new Map<number, number>();
    let ackCount = 0;
    let rest = '';
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer gave ${ackCount} acks in ${timeoutMs} ms, wanted ${killAfter}; stderr: ${stderr}`));
    }, timeoutMs);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      const lines = (rest + d).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready') continue;
        const [ipText, versionText] = line.split(' ');
        const ip = Number(ipText);
        const version = Number(versionText);
        if (!Number.isInteger(ip) || !Number.isInteger(version)) continue;
        ackCount++;
        if ((acked.get(ip) ?? 0) < version) acked.set(ip, version);
      }
      if (!killed && ackCount >= killAfter) {
        killed = true;
        // A few milliseconds more so the kill lands anywhere in the writer's apply/commit cycle.
        setTimeout(() => child.kill('SIGKILL'), Math.random() * 4);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // Lines already in the pipe when the kill landed were acknowledged too: they were read above before 'exit'.
      if (signal !== 'SIGKILL') reject(new Error(`writer exited on its own (code ${code}); stderr: ${stderr}`));
      else resolvePromise({ acked, ackCount });
    });
  });
}

/** Addresses whose acknowledged version is missing from `stored` (or older there). */
function lost(acked: Map<number, number>, stored: (ip: number) => number | undefined): { missing: number; stale: number } {
  let missing = 0;
  let stale = 0;
  for (const [ip, version] of acked) {
    const v = stored(ip);
    if (v === undefined) missing++;
    else if (v < version) stale++;
  }
  return { missing, stale };
}

for (const backend of await leaseStoreBackends()) {
  describe(`kill -9 loses no acknowledged lease: ${backend.name}`, { skip: backend.skip }, () => {
    for (let round = 1; round <= 4; round++) {
      it(`round ${round}: every acknowledged lease is stored after SIGKILL, and loaded by the restarted store`, { timeout: 120_000 }, async (t) => {
        const place = await backend.place();
        // A random moment: somewhere between 3k and 40k acks, mid-batch as often as not.
        const killAfter = 3000 + Math.floor(Math.random() * 37_000);
        const { acked, ackCount } = await runAndKill(place.fixtureArgs, killAfter, 90_000);
        assert.ok(ackCount >= killAfter);

        const rows = await place.rows();
        const onDisk = lost(acked, (ip) => rows.get(ip)?.version);
        t.diagnostic(`killed after ${ackCount} acks (target ${killAfter}); ${acked.size} addresses acknowledged, ${rows.size} stored`);
        assert.equal(onDisk.missing, 0, `${onDisk.missing} acknowledged leases missing after kill -9`);
        assert.equal(onDisk.stale, 0, `${onDisk.stale} leases older in storage than acknowledged`);

        // The restart: a writer again (PostgreSQL: it waits for the killed session's owner lock to go).
        const store = await place.open();
        try {
          const inStore = lost(acked, (ip) => store.byIp(ip)?.version);
          assert.deepEqual(inStore, { missing: 0, stale: 0 });
          // Not `rows`: PostgreSQL may finish the killed session's last statement after that read (rows committed,
          // never acknowledged); once the restarted store holds the owner lock that session is gone.
          assert.equal(store.size, (await place.rows()).size);
        } finally {
          await store.close();
        }
      });
    }
  });
}

import { after, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteLeaseStore } from '../../../src/dhcp/lease-store/sqlite-lease-store.js';

const here = dirname(fileURLToPath(import.meta.url));
// Run from source (node --import tsx) or compiled (dist/test/…): start the fixture the same way.
const fromSource = import.meta.url.endsWith('.ts');
const fixture = join(here, 'fixtures', fromSource ? 'ack-writer.ts' : 'ack-writer.js');
const repoRoot = resolve(here, fromSource ? '../../..' : '../../../..');

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface RunResult {
  /** Highest acknowledged version per address. */
  readonly acked: Map<number, number>;
  readonly ackCount: number;
}

/** Runs the writer until `killAfter` acks were read (then SIGKILL), or fails after `timeoutMs`. */
function runAndKill(dataDir: string, killAfter: number, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const args = fromSource ? ['--import', 'tsx', fixture, dataDir] : [fixture, dataDir];
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

describe('kill -9 loses no acknowledged lease', () => {
  for (let round = 1; round <= 4; round++) {
    it(`round ${round}: every acknowledged lease is on disk after SIGKILL`, { timeout: 90_000 }, async (t) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'dcplane-kill9-'));
      dirs.push(dataDir);
      // A random moment: somewhere between 3k and 40k acks, mid-batch as often as not.
      const killAfter = 3000 + Math.floor(Math.random() * 37_000);
      const { acked, ackCount } = await runAndKill(dataDir, killAfter, 60_000);
      const store = await SqliteLeaseStore.open({ dataDir });
      try {
        let missing = 0;
        let stale = 0;
        for (const [ip, version] of acked) {
          const l = store.byIp(ip);
          if (l === undefined) missing++;
          else if (l.version < version) stale++;
        }
        t.diagnostic(`killed after ${ackCount} acks (target ${killAfter}); ${acked.size} addresses acknowledged, ${store.size} on disk`);
        assert.equal(missing, 0, `${missing} acknowledged leases missing after kill -9`);
        assert.equal(stale, 0, `${stale} leases older on disk than acknowledged`);
        assert.ok(ackCount >= killAfter);
      } finally {
        await store.close();
      }
    });
  }
});

import { after, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Lease } from '../../../src/dhcp/lease.js';
import { SqliteLeaseStore } from '../../../src/dhcp/lease-store/sqlite-lease-store.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function lease(ip: number, version: number): Lease {
  return {
    ip,
    subnetId: 1,
    mac: `52:54:00:00:${((ip >>> 8) & 0xff).toString(16).padStart(2, '0')}:${(ip & 0xff).toString(16).padStart(2, '0')}`,
    clientId: '',
    hostname: `n${ip}`,
    state: 'active',
    start: 1_700_000_000,
    expires: 1_700_003_600,
    version,
  };
}

/** Durable upserts/s when `perTurn` apply() calls arrive per event-loop turn, as packets do under load. */
async function groupCommitRate(total: number, perTurn: number): Promise<{ rate: number; commits: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dcplane-tput-'));
  dirs.push(dataDir);
  const s = await SqliteLeaseStore.open({ dataDir });
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  await new Promise<void>((done) => {
    let n = 0;
    const turn = (): void => {
      for (let i = 0; i < perTurn && n < total; i++, n++) {
        pending.push(s.apply([{ kind: 'upsert', durable: true, lease: lease(0x0a000000 + (n % 50_000), n) }]));
      }
      if (n < total) setImmediate(turn);
      else done();
    };
    turn();
  });
  await Promise.all(pending);
  const rate = total / ((performance.now() - t0) / 1000);
  const { commits } = s.stats();
  await s.close();
  return { rate, commits };
}

/** Durable upserts/s when every change waits for its own commit before the next is made. */
async function perChangeRate(total: number): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dcplane-tput-'));
  dirs.push(dataDir);
  const s = await SqliteLeaseStore.open({ dataDir });
  const t0 = performance.now();
  for (let n = 0; n < total; n++) await s.apply([{ kind: 'upsert', durable: true, lease: lease(0x0a000000 + n, n) }]);
  const rate = total / ((performance.now() - t0) / 1000);
  assert.equal(s.stats().commits, total);
  await s.close();
  return rate;
}

/**
 * Changes arrive at `rate`/s as packets would (as many per turn as time has
 * brought), so batch size follows commit latency as in the server. Returns
 * the acknowledged rate and ack latency percentiles.
 */
async function offeredLoad(
  rate: number,
  seconds: number,
): Promise<{ rate: number; p50: number; p99: number; commits: number; loopDelayMaxMs: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dcplane-tput-'));
  dirs.push(dataDir);
  const s = await SqliteLeaseStore.open({ dataDir });
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  // How long packets would wait behind the store: commits run on the writer thread, so only encoding and bookkeeping count here.
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const t0 = performance.now();
  await new Promise<void>((done) => {
    let issued = 0;
    const turn = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      for (; issued < due; issued++) {
        const at = performance.now();
        pending.push(
          s.apply([{ kind: 'upsert', durable: true, lease: lease(0x0a000000 + (issued % 50_000), issued) }]).then(() => {
            latencies.push(performance.now() - at);
          }),
        );
      }
      if (issued < total) setImmediate(turn);
      else done();
    };
    turn();
  });
  await Promise.all(pending);
  const achieved = total / ((performance.now() - t0) / 1000);
  loop.disable();
  latencies.sort((x, y) => x - y);
  const pct = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  const { commits } = s.stats();
  await s.close();
  assert.equal(latencies.length, total);
  return { rate: achieved, p50: pct(0.5), p99: pct(0.99), commits, loopDelayMaxMs: loop.max / 1e6 };
}

describe('lease store throughput (durable, synchronous=FULL)', () => {
  it('group commit writes many times more leases per second than one commit per change', { timeout: 120_000 }, async (t) => {
    const single = await perChangeRate(4000);
    const results: string[] = [`one commit per change: ${Math.round(single)}/s`];
    let best = 0;
    for (const perTurn of [100, 300, 500]) {
      const { rate, commits } = await groupCommitRate(100_000, perTurn);
      best = Math.max(best, rate);
      results.push(`${perTurn}/turn: ${Math.round(rate)}/s in ${commits} commits`);
      assert.ok(commits <= Math.ceil(100_000 / perTurn), `${commits} commits for ${100_000 / perTurn} turns`);
    }
    const offered = await offeredLoad(20_000, 3);
    results.push(
      `offered 20000/s: acked ${Math.round(offered.rate)}/s in ${offered.commits} commits, ack latency p50 ${offered.p50.toFixed(2)} ms p99 ${offered.p99.toFixed(2)} ms, event-loop delay max ${offered.loopDelayMaxMs.toFixed(1)} ms`,
    );
    t.diagnostic(results.join('; '));
    // The ratio, not the absolute figure, is what group commit guarantees on any disk.
    assert.ok(best > 2 * single, results.join('; '));
  });
});

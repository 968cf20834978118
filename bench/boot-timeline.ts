/**
 * What the boot timeline costs the DHCP path: EventHub.publishLease (called
 * once per handled packet, after the reply is sent) with no consumer, and
 * with the boot timeline's tap over a real inventory (SQLite in a temporary
 * directory) whose batches are written while the run goes on. Prints ns per
 * event and the ratio.
 *
 *   node --import tsx bench/boot-timeline.ts [--events 1000000] [--rate 20000]
 *
 * Without --rate the events come as fast as the loop makes them (far above
 * any DHCP server's rate: the queue bound is hit and events are dropped);
 * --rate paces them in chunks of 1,000 per second's share, as a busy
 * segment would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { EngineEvent } from '../src/dhcp/engine.js';
import { openDatabase } from '../src/db/open-database.js';
import { EventHub } from '../src/http/event-hub.js';
import { openInventory } from '../src/inventory/inventory.js';
import { BootService } from '../src/provisioning/boot-service.js';

const opt = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = opt('--events', 1_000_000);
const RATE = opt('--rate', 0);
const CHUNK = RATE > 0 ? 1000 : 10_000;

/** ns per publishLease over N events, yielding every CHUNK so timers (the timeline's batches) run as they would. */
async function run(hub: EventHub, known: readonly EngineEvent[]): Promise<number> {
  let spent = 0n;
  for (let done = 0; done < N; done += CHUNK) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < CHUNK; i++) hub.publishLease(known[i % known.length] as EngineEvent);
    spent += process.hrtime.bigint() - t;
    await new Promise((r) => (RATE > 0 ? setTimeout(r, (1000 * CHUNK) / RATE) : setImmediate(r)));
  }
  return Number(spent) / N;
}

const dir = mkdtempSync(join(tmpdir(), 'dcplane-bench-boot-'));
try {
  const db = await openDatabase('sqlite', dir);
  const inv = openInventory(db);
  // A few servers the events belong to, among many MACs that belong to none (a busy DHCP segment).
  const events: EngineEvent[] = [];
  for (let i = 0; i < 1000; i++) {
    const mac = `02:be:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    if (i < 20) {
      const s = await inv.servers.create({ name: `bench-${i}` }, {});
      await inv.serverInterfaces.create({ server_id: s.row.id, name: 'eth0', mac }, {});
    }
    events.push({ kind: 'ack', mac, clientId: '', messageType: 'REQUEST', ip: 0x0a000000 + i, subnetId: 1 });
  }
  const bare = new EventHub();
  await run(bare, events);
  const without = await run(bare, events);
  const hub = new EventHub();
  const boot = new BootService({ inventory: inv, hub, leases: () => undefined, logger: pino({ level: 'silent' }) });
  const withTap = await run(hub, events);
  await boot.settle();
  const { count } = await boot.timeline.list(1, { limit: 0 });
  console.log(`publishLease: ${without.toFixed(0)} ns/event without the timeline, ${withTap.toFixed(0)} ns/event with it (${(withTap / without).toFixed(1)}x; ${N} events${RATE > 0 ? ` at ${RATE}/s` : ' unpaced'}, ${boot.timeline.dropped} dropped at the queue bound, ${count} kept for server 1)`);
  await boot.close();
  await db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

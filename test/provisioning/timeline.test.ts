/**
 * The boot timeline's storage on SQLite and PostgreSQL: batched writes,
 * events of unknown MACs left out, the bounded queue dropping and counting,
 * per-server retention, and a server's events going with it.
 */
import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { EventHub } from '../../src/http/event-hub.js';
import { openInventory } from '../../src/inventory/inventory.js';
import type { Inventory } from '../../src/inventory/inventory.js';
import { BootDirectory } from '../../src/provisioning/boot-directory.js';
import { BootService } from '../../src/provisioning/boot-service.js';
import { ServerTimeline } from '../../src/provisioning/timeline.js';
import type { RecordedEvent, TimelineOptions } from '../../src/provisioning/timeline.js';
import { testBackends } from '../db/backends.js';
import type { TestDatabase } from '../db/backends.js';

const backends = await testBackends();

for (const backend of backends) {
  describe(`boot timeline storage [${backend.name}]`, { skip: backend.skip }, () => {
    let db: TestDatabase;
    let inv: Inventory;
    before(async () => {
      db = await backend.open();
      inv = openInventory(db);
    });
    after(async () => db?.dispose());

    let n = 0;
    async function server(mac: string, ip: string | null = null): Promise<number> {
      const s = await inv.servers.create({ name: `tl-${++n}` }, {});
      await inv.serverInterfaces.create({ server_id: s.row.id, name: 'eth0', mac, ip }, {});
      return s.row.id;
    }

    function timeline(opts: TimelineOptions = {}, leases: ReadonlyMap<string, string> = new Map()): ServerTimeline {
      const dir = new BootDirectory(inv);
      return new ServerTimeline(db, { hostsByMac: (m) => dir.hostsByMac(m), tenantsOf: (i) => dir.tenantsOf(i), macOfIp: (ip) => leases.get(ip) ?? dir.macOfAddress(ip) }, opts);
    }

    it('writes a batch in order, finds servers by MAC, by lease address or by id, and leaves unknown MACs out', async () => {
      const a = await server('02:aa:00:00:00:01', '10.1.0.5');
      const b = await server('02:aa:00:00:00:02');
      const registry = new Registry();
      const tl = timeline({ registry }, new Map([['10.1.0.9', '02:aa:00:00:00:02']]));
      const heard: RecordedEvent[] = [];
      tl.onRecorded((rows) => heard.push(...rows));
      assert.equal(tl.record({ source: 'dhcp', type: 'dhcp.discover', mac: '02:aa:00:00:00:01', message: 'm1' }), true);
      tl.record({ source: 'dhcp', type: 'dhcp.discover', mac: '02:ff:00:00:00:99', message: 'nobody' });
      tl.record({ source: 'tftp', type: 'tftp.start', ip: '10.1.0.9', message: 'by lease' });
      tl.record({ source: 'tftp', type: 'tftp.start', ip: '10.1.0.5', message: 'by fixed address' });
      tl.record({ source: 'inventory', type: 'status', serverId: b, message: 'by id', data: { from: 'planned', to: 'active' } });
      await tl.flush();
      assert.deepEqual(heard.map((h) => [h.event.server_id, h.event.message]), [
        [a, 'm1'],
        [b, 'by lease'],
        [a, 'by fixed address'],
        [b, 'by id'],
      ]);
      const listA = await tl.list(a);
      assert.deepEqual(listA.rows.map((e) => e.message), ['by fixed address', 'm1'], 'newest first');
      assert.equal(listA.rows[1]?.mac, '02:aa:00:00:00:01');
      const listB = await tl.list(b, { filters: [{ field: 'type', value: 'status' }] });
      assert.deepEqual(listB.rows.map((e) => e.data), [{ from: 'planned', to: 'active' }]);
      assert.match(await registry.metrics(), /dcplane_boot_timeline_unmatched_total 1\n/);
      await tl.close();
    });

    it('makes deferred events when their batch is written; one that fails to expand costs only itself', async () => {
      const id = await server('02:aa:00:00:00:06');
      const errors: unknown[] = [];
      const tl = timeline({ onError: (e) => errors.push(e) });
      let expanded = 0;
      tl.recordLater({ mac: '02:aa:00:00:00:06' }, (raw) => {
        expanded++;
        return [{ source: 'dhcp', type: 'dhcp.discover', mac: raw.mac, message: 'later' }];
      });
      tl.recordLater(null, () => {
        throw new Error('broken');
      });
      tl.record({ source: 'inventory', type: 'status', serverId: id, message: 'now' });
      assert.equal(expanded, 0, 'nothing is made on the recording path');
      await tl.flush();
      assert.equal(expanded, 1);
      assert.equal(errors.length, 1);
      assert.deepEqual((await tl.list(id)).rows.map((e) => e.message), ['now', 'later']);
      await tl.close();
    });

    it('a server gone between lookup and insert costs only its own events', async () => {
      const id = await server('02:aa:00:00:00:07');
      const dir = new BootDirectory(inv);
      // The lookup says 02:…:08 is server 2147483000, which does not exist (deleted meanwhile): its foreign key fails the insert.
      const tl = new ServerTimeline(db, {
        hostsByMac: async (m) => new Map([...(await dir.hostsByMac(m)), ['02:aa:00:00:00:08', { serverId: 2147483000, tenantId: null }]]),
        tenantsOf: (i) => dir.tenantsOf(i),
        macOfIp: () => undefined,
      });
      tl.record({ source: 'dhcp', type: 'dhcp.discover', mac: '02:aa:00:00:00:08', message: 'gone' });
      tl.record({ source: 'dhcp', type: 'dhcp.discover', mac: '02:aa:00:00:00:07', message: 'kept' });
      await tl.flush();
      assert.deepEqual((await tl.list(id)).rows.map((e) => e.message), ['kept']);
      await tl.close();
    });

    it('drops and counts events beyond the queue bound instead of growing', async () => {
      const id = await server('02:aa:00:00:00:03');
      const tl = timeline({ maxQueue: 10, flushDelayMs: 60_000 });
      let accepted = 0;
      for (let i = 0; i < 25; i++) if (tl.record({ source: 'inventory', type: 'status', serverId: id, message: `e${i}` })) accepted++;
      assert.equal(accepted, 10);
      assert.equal(tl.dropped, 15);
      assert.equal(tl.queued, 10);
      await tl.flush();
      assert.equal((await tl.list(id, { limit: 0 })).count, 10);
      await tl.close();
      assert.equal(tl.record({ source: 'inventory', type: 'status', serverId: id, message: 'late' }), false, 'a closed timeline takes nothing');
    });

    it('keeps the newest `retention` events of each server, and a deleted server takes its events with it', async () => {
      const id = await server('02:aa:00:00:00:04');
      const other = await server('02:aa:00:00:00:05');
      const tl = timeline({ retention: 5, batchSize: 7 });
      tl.record({ source: 'inventory', type: 'status', serverId: other, message: 'keep me' });
      for (let i = 0; i < 23; i++) tl.record({ source: 'inventory', type: 'status', serverId: id, message: `e${i}` });
      await tl.flush();
      const kept = await tl.list(id);
      assert.deepEqual(kept.rows.map((e) => e.message), ['e22', 'e21', 'e20', 'e19', 'e18']);
      assert.equal((await tl.list(other)).count, 1);
      await inv.servers.delete(id, { cascade: true }, {});
      assert.equal((await tl.list(id)).count, 0);
      await tl.close();
    });

    it('forgets a deleted server (boot service), and bounds what it keeps where deletions are not heard', async () => {
      const boot = new BootService({ inventory: inv, hub: new EventHub(), leases: () => undefined, logger: pino({ level: 'silent' }) });
      const ids = [await server('02:aa:00:00:00:09'), await server('02:aa:00:00:00:0a')];
      for (const id of ids) boot.timeline.record({ source: 'inventory', type: 'status', serverId: id, message: 'x' });
      await boot.settle();
      assert.equal(boot.timeline.tracked, 2);
      await inv.servers.delete(ids[0]!, { cascade: true }, {});
      assert.equal(boot.timeline.tracked, 1, 'the deleted server is no longer counted');
      await boot.close();

      // Servers deleted where this process does not hear it (another node): the counts stay bounded.
      const tl = timeline({ maxTracked: 3, retention: 2 });
      const many: number[] = [];
      for (let i = 0; i < 7; i++) {
        many.push(await server(`02:aa:00:00:01:0${i}`));
        for (let k = 0; k < 3; k++) tl.record({ source: 'inventory', type: 'status', serverId: many[i]!, message: `e${k}` });
        await tl.flush();
        assert.ok(tl.tracked <= 3, `tracked ${tl.tracked}`);
      }
      // Retention holds for servers whose counts were dropped: they are trimmed at their next write.
      for (const id of many) tl.record({ source: 'inventory', type: 'status', serverId: id, message: 'e3' });
      await tl.flush();
      for (const id of many) assert.deepEqual((await tl.list(id)).rows.map((e) => e.message), ['e3', 'e2']);
      await tl.close();
    });
  });
}

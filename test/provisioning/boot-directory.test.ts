/**
 * BootDirectory's set of known MACs: the filter that keeps DHCP events of
 * clients no server has (all of perfdhcp's, most of a campus) away from the
 * timeline's inventory reads. A MAC must be known from the moment its
 * interface is committed; one that is gone may linger (it only costs a read).
 */
import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import { BootDirectory } from '../../src/provisioning/boot-directory.js';
import { describeEachBackend } from '../inventory/harness.js';

async function loaded(dir: BootDirectory): Promise<void> {
  // Loaded once a MAC nobody has is reported unknown (while loading, every MAC "may" be known).
  for (let i = 0; i < 2000 && dir.mayKnowMac('ff:ff:ff:00:00:00'); i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(dir.mayKnowMac('ff:ff:ff:00:00:00'), false, 'the MAC set never finished loading');
}

describeEachBackend('BootDirectory known MACs', (env) => {
  it('knows the MACs stored before it started and every one written after, and forgets changed and deleted ones', async () => {
    const { inv } = env();
    const tag = String(process.pid % 250).padStart(2, '0').slice(-2);
    const s1 = (await inv.servers.create({ name: `known-mac-a-${process.pid}` })).row;
    await inv.serverInterfaces.create({ server_id: s1.id, name: 'eth0', mac: `52:54:00:${tag}:00:01` });
    const dir = new BootDirectory(inv);
    const errors: unknown[] = [];
    const stop = dir.watchMacs((e) => errors.push(e));
    try {
      assert.equal(dir.mayKnowMac('ff:ff:ff:00:00:00'), true, 'while loading nothing is filtered out');
      await loaded(dir);
      assert.equal(dir.mayKnowMac(`52:54:00:${tag}:00:01`), true);

      // Written in any notation, stored and known in the canonical one, at once after the write.
      const nic = (await inv.serverInterfaces.create({ server_id: s1.id, name: 'eth1', mac: `52-54-00-${tag}-00-02`.toUpperCase() })).row;
      assert.equal(dir.mayKnowMac(`52:54:00:${tag}:00:02`), true);

      await inv.serverInterfaces.update(nic.id, { mac: `52:54:00:${tag}:00:03` });
      assert.equal(dir.mayKnowMac(`52:54:00:${tag}:00:02`), false);
      assert.equal(dir.mayKnowMac(`52:54:00:${tag}:00:03`), true);

      await inv.serverInterfaces.delete(nic.id);
      assert.equal(dir.mayKnowMac(`52:54:00:${tag}:00:03`), false);
      assert.deepEqual(errors, []);
    } finally {
      stop();
    }
  });
});

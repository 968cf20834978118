/**
 * A configuration reload is all or nothing across services: when DHCP refuses
 * the new configuration, TFTP must not be left on it either.
 */
import { strict as assert } from 'node:assert';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { pino } from 'pino';
import { Dcplane } from '../src/app.js';
import { applyDefaults } from '../src/config/defaults.js';
import { validateConfig } from '../src/config/validate.js';
import { openDatabase } from '../src/db/open-database.js';
import { openInventory } from '../src/inventory/inventory.js';
import { download } from './tftp/raw-client.js';
import { freeTcpPort, jsonLogSink } from './helpers/app-fixtures.js';

const skip = process.getuid?.() !== 0 ? 'SKIPPED: needs root (DHCP binds to a device); CI runs as root' : false;

/** Whether a plain UDP socket can take 0.0.0.0:port (the DHCP socket, bound to a device there, makes it fail). */
async function udpPortFree(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '0.0.0.0', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    s.close();
  }
}

describe('Dcplane.reload', { skip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dcplane-reload-'));
    for (const r of ['a', 'b']) {
      mkdirSync(join(dir, r));
      writeFileSync(join(dir, r, 'which'), r);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves every service on the running configuration when one refuses the new one', async () => {
    const { logs, sink } = jsonLogSink();
    const base = {
      data_dir: join(dir, 'data'),
      api: { listen: `127.0.0.1:${await freeTcpPort()}` },
      dhcp: {
        enabled: true, interfaces: ['lo'], port: 10367,
        subnets: [{ id: 1, subnet: '10.77.0.0/24', relay_addresses: ['10.99.0.1'], pools: ['10.77.0.10-10.77.0.20'] }],
      },
      tftp: { enabled: true, listen: '127.0.0.1:0', root: join(dir, 'a') },
    };
    const app = await Dcplane.start(applyDefaults(base), pino({ level: 'info' }, sink));
    try {
      const port = Number(logs.find((l) => l.msg === 'tftp ready')?.port);
      assert.equal((await download(port, 'which')).data.toString(), 'a');
      const broken = applyDefaults({
        ...base,
        dhcp: { ...base.dhcp, interfaces: ['lo', 'dcpnosuch0'] },
        tftp: { ...base.tftp, root: join(dir, 'b') },
      });
      await assert.rejects(app.reload(broken));
      assert.equal((await download(port, 'which')).data.toString(), 'a', 'TFTP still serves the running root');

      // TFTP refuses (its new listen address is taken): DHCP must not have moved to its new port either.
      const taken = createSocket('udp4');
      await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', () => resolve()));
      try {
        const refused = applyDefaults({ ...base, dhcp: { ...base.dhcp, port: 10368 }, tftp: { ...base.tftp, listen: `127.0.0.1:${taken.address().port}` } });
        await assert.rejects(app.reload(refused));
      } finally {
        taken.close();
      }
      assert.equal(await udpPortFree(10367), false, 'DHCP still holds its running port');
      assert.equal(await udpPortFree(10368), true, 'DHCP did not move to the refused port');
      assert.equal((await download(port, 'which')).data.toString(), 'a');

      await app.reload(applyDefaults({ ...base, tftp: { ...base.tftp, root: join(dir, 'b') } }));
      assert.equal((await download(port, 'which')).data.toString(), 'b', 'a good reload applies');
    } finally {
      await app.stop();
    }
  });

  it('a refused reload seeds none of its subnets into the inventory, and DHCP never serves them', async () => {
    const dataDir = join(dir, 'data-seed');
    const base = {
      data_dir: dataDir,
      api: { listen: `127.0.0.1:${await freeTcpPort()}` },
      dhcp: {
        enabled: true, interfaces: ['lo'], port: 10369,
        subnets: [{ id: 1, subnet: '10.77.0.0/24', interface: 'lo', relay_addresses: ['10.99.0.1'], pools: ['10.77.0.10-10.77.0.20'] }],
      },
    };
    // Each file passes the file check (as SIGHUP's load does): what refuses them is the inventory or DHCP.
    const valid = (c: Record<string, unknown>) => {
      const r = validateConfig(c);
      assert.ok(r.ok, JSON.stringify(r));
      return applyDefaults(c);
    };
    const app = await Dcplane.start(valid(base), pino({ level: 'silent' }));
    const inventory = new BetterSqlite3(join(dataDir, 'inventory.sqlite3'), { readonly: true });
    const stored = () => ({
      subnets: (inventory.prepare('select id from dhcp_subnets order by id').all() as { id: number }[]).map((r) => r.id),
      audited: (inventory.prepare("select object_id from audit_log where object_type = 'dhcp_subnet' order by id").all() as { object_id: number }[]).map((r) => r.object_id),
    });
    const served = async () => [...new Set((await app.dhcpPools())?.map((p) => p.subnetId))].sort();
    try {
      const subnet = (id: number) => ({ id, subnet: `10.7${id}.0.0/24`, relay_addresses: [`10.99.0.${id}`], pools: [`10.7${id}.0.10-10.7${id}.0.20`] });
      // The file no longer has subnet 1, which stays in the inventory naming lo, no longer served: the composition is refused.
      await assert.rejects(app.reload(valid({ ...base, dhcp: { ...base.dhcp, interfaces: ['dcpnosuch0'], subnets: [subnet(2)] } })), /interface "lo" is not listed/);
      // The composition is fine, DHCP refuses (no such interface).
      await assert.rejects(app.reload(valid({ ...base, dhcp: { ...base.dhcp, interfaces: ['lo', 'dcpnosuch0'], subnets: [...base.dhcp.subnets, subnet(3)] } })), /dcpnosuch0 does not exist/);
      await app.dhcpSettled();
      assert.deepEqual(stored(), { subnets: [1], audited: [1] }, 'nothing of the refused files was written or audited');
      assert.deepEqual(await served(), [1]);

      await app.reload(valid({ ...base, dhcp: { ...base.dhcp, subnets: [...base.dhcp.subnets, subnet(3)] } }));
      await app.dhcpSettled();
      assert.deepEqual(stored(), { subnets: [1, 3], audited: [1, 3] }, 'a good reload seeds');
      assert.deepEqual(await served(), [1, 3]);
    } finally {
      inventory.close();
      await app.stop();
    }
  });
});

describe('Dcplane.start', { skip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dcplane-start-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a refused start seeds none of the file subnets into the inventory, as a refused reload', async () => {
    const dataDir = join(dir, 'data');
    const subnet = (id: number, third: number) => ({ id, subnet: `10.78.${third}.0/24`, relay_addresses: [`10.99.1.${id}`], pools: [`10.78.${third}.10-10.78.${third}.20`] });
    const base = {
      data_dir: dataDir,
      api: { listen: `127.0.0.1:${await freeTcpPort()}` },
      dhcp: { enabled: true, interfaces: ['lo'], port: 10371, subnets: [subnet(1, 1), subnet(2, 2)] },
    };
    // Each file passes the file check (as `serve` loads it): what refuses the start is DHCP, the API or the inventory.
    const valid = (c: Record<string, unknown>) => {
      const r = validateConfig(c);
      assert.ok(r.ok, JSON.stringify(r));
      return applyDefaults(c);
    };
    const stored = () => {
      const db = new BetterSqlite3(join(dataDir, 'inventory.sqlite3'), { readonly: true });
      try {
        return {
          subnets: (db.prepare('select id from dhcp_subnets order by id').all() as { id: number }[]).map((r) => r.id),
          reservations: (db.prepare('select count(*) as n from dhcp_reservations').get() as { n: number }).n,
          audited: (db.prepare("select object_id from audit_log where object_type like 'dhcp_%' order by id").all() as { object_id: number }[]).map((r) => r.object_id),
        };
      } finally {
        db.close();
      }
    };
    const quiet = pino({ level: 'silent' });

    // DHCP refuses (no such interface).
    await assert.rejects(Dcplane.start(valid({ ...base, dhcp: { ...base.dhcp, interfaces: ['lo', 'dcpnosuch0'] } }), quiet), /dcpnosuch0 does not exist/);
    assert.deepEqual(stored(), { subnets: [], reservations: 0, audited: [] }, 'nothing of the refused start was written');

    // The API's address is taken: DHCP started, then the start was refused all the same.
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (taken.address() as AddressInfo).port;
      await assert.rejects(Dcplane.start(valid({ ...base, api: { listen: `127.0.0.1:${port}` } }), quiet), /EADDRINUSE/);
    } finally {
      taken.close();
    }
    assert.deepEqual(stored(), { subnets: [], reservations: 0, audited: [] });

    // The inventory refuses a file subnet: it overlaps a subnet written through the API. The error names the subnet and the field.
    const database = await openDatabase('sqlite', dataDir);
    try {
      await openInventory(database).dhcpSubnets.create({ id: 9, subnet: '10.78.2.0/25', config: { relay_addresses: ['10.99.1.9'] } }, { user: 'alice' });
    } finally {
      await database.close();
    }
    await assert.rejects(Dcplane.start(valid(base), quiet), /dhcp subnet 2 \(10\.78\.2\.0\/24\) of the configuration file cannot be put into the inventory: subnet: .*overlaps/);
    assert.deepEqual(stored(), { subnets: [9], reservations: 0, audited: [9] }, 'subnet 1 was not seeded either');

    // A start that runs seeds the file.
    const app = await Dcplane.start(valid({ ...base, dhcp: { ...base.dhcp, subnets: [subnet(1, 1), subnet(3, 3)] } }), quiet);
    try {
      assert.deepEqual(stored(), { subnets: [1, 3, 9], reservations: 0, audited: [9, 1, 3] });
      // Subnet 9 has no pool, so no pool figures.
      assert.deepEqual([...new Set((await app.dhcpPools())?.map((p) => p.subnetId))].sort(), [1, 3]);
    } finally {
      await app.stop();
    }
  });
});

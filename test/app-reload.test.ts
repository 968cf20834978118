/**
 * A configuration reload is all or nothing across services: when DHCP refuses
 * the new configuration, TFTP must not be left on it either.
 */
import { strict as assert } from 'node:assert';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Dcplane } from '../src/app.js';
import { applyDefaults } from '../src/config/defaults.js';
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
        subnets: [{ id: 1, subnet: '10.77.0.0/24', relay_addresses: ['127.0.0.1'], pools: ['10.77.0.10-10.77.0.20'] }],
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
});

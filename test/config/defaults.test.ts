import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { applyDefaults } from '../../src/config/defaults.js';
import type { ResolvedConfig } from '../../src/config/defaults.js';
import type { DcplaneConfig } from '../../src/config/types.js';

function assertDeepFrozen(value: unknown, where: string): void {
  if (typeof value !== 'object' || value === null) return;
  assert.ok(Object.isFrozen(value), `${where} is not frozen`);
  for (const [k, v] of Object.entries(value)) assertDeepFrozen(v, `${where}.${k}`);
}

describe('applyDefaults', () => {
  it('fills every default into an empty configuration', () => {
    const c = applyDefaults({});
    const expected: ResolvedConfig = {
      data_dir: './data',
      database: 'sqlite',
      api: { listen: '127.0.0.1:8080' },
      log: { level: 'info' },
      dhcp: {
        enabled: false,
        interfaces: [],
        port: 67,
        lease_time: 3600,
        offer_time: 60,
        decline_probation: 86400,
        authoritative: true,
        reclaim_interval: 10,
        hold_reclaimed: 3600,
        commit_delay_ms: 0,
        subnets: [],
        shared_networks: [],
        client_classes: [],
        options: [],
      },
      tftp: {
        enabled: false,
        listen: '0.0.0.0:69',
        root: '/srv/tftp',
        max_blksize: 1468,
        max_windowsize: 64,
        timeout: 1,
        retries: 5,
        max_transfers: 1000,
        max_transfers_per_client: 512,
        max_timeout: 10,
        netascii_max_bytes: 4194304,
        allow: [],
        deny: [],
        remap: [],
        cache: { max_bytes: 268435456, max_file_bytes: 67108864 },
        write: { enabled: false, max_bytes: 104857600, overwrite: false },
        generated: { enabled: true },
      },
    };
    assert.deepEqual(c, expected);
  });

  it('resolves the TFTP section: rate limit burst, remap rule defaults, write and cache', () => {
    const c = applyDefaults({
      tftp: {
        enabled: true,
        rate_limit: { requests_per_second: 5 },
        remap: [{ match: '\\\\', replace: '/', flags: 'g' }, { match: '.*', lowercase: true, client: '10.0.0.0/8' }],
        write: { enabled: true, upload_dir: '/srv/uploads' },
        cache: { max_bytes: 0 },
      },
    });
    assert.deepEqual(c.tftp.rate_limit, { requests_per_second: 5, burst: 30 });
    assert.deepEqual(c.tftp.remap, [
      { match: '\\\\', replace: '/', flags: 'g', lowercase: false },
      { match: '.*', replace: '$&', flags: '', lowercase: true, client: '10.0.0.0/8' },
    ]);
    assert.deepEqual(c.tftp.write, { enabled: true, upload_dir: '/srv/uploads', max_bytes: 104857600, overwrite: false });
    assert.deepEqual(c.tftp.cache, { max_bytes: 0, max_file_bytes: 67108864 });
    assert.equal(applyDefaults({}).tftp.rate_limit, undefined);
  });

  it('keeps what the file sets', () => {
    const c = applyDefaults({ data_dir: '/var/lib/dcplane', api: { listen: '0.0.0.0:9000' }, dhcp: { port: 6767, authoritative: false, lease_time: 600 } });
    assert.equal(c.data_dir, '/var/lib/dcplane');
    assert.equal(c.api.listen, '0.0.0.0:9000');
    assert.equal(c.dhcp.port, 6767);
    assert.equal(c.dhcp.authoritative, false);
    assert.equal(c.dhcp.lease_time, 600);
  });

  it('resolves subnets: pools as objects, option codes and kinds, inherited lease time and timers', () => {
    const input: DcplaneConfig = {
      dhcp: {
        lease_time: 7200,
        renew_timer: 1000,
        options: [{ name: 'ntp-servers', value: '10.0.0.1' }],
        subnets: [
          {
            id: 1,
            subnet: '10.77.0.0/16',
            pools: ['10.77.1.0/24', { range: '10.77.2.0/24', options: [{ code: 224, type: 'string', value: 'x' }] }],
            reservations: [{ mac: '52:54:00:00:00:01' }],
          },
        ],
        shared_networks: [{ name: 'b', subnets: [{ id: 2, subnet: '10.78.0.0/24', lease_time: 60, rebind_timer: 50 }] }],
      },
    };
    const c = applyDefaults(input);
    assert.deepEqual(c.dhcp.options, [{ name: 'ntp-servers', value: '10.0.0.1', code: 42, type: 'ips', always_send: false }]);
    const s = c.dhcp.subnets[0];
    assert.deepEqual(s?.pools, [
      { range: '10.77.1.0/24', options: [] },
      { range: '10.77.2.0/24', options: [{ code: 224, type: 'string', value: 'x', always_send: false }] },
    ]);
    assert.equal(s?.lease_time, 7200);
    assert.equal(s?.renew_timer, 1000);
    assert.equal(s?.rebind_timer, undefined);
    assert.deepEqual(s?.reservations, [{ mac: '52:54:00:00:00:01', options: [], client_classes: [] }]);
    const shared = c.dhcp.shared_networks[0]?.subnets[0];
    assert.equal(shared?.lease_time, 60);
    assert.equal(shared?.rebind_timer, 50);
  });

  it('returns a deep-frozen copy and leaves its input alone', () => {
    const input = { dhcp: { interfaces: ['eth1'], subnets: [{ id: 1, subnet: '10.77.0.0/24', pools: ['10.77.0.10-10.77.0.20'] }] } };
    const c = applyDefaults(input);
    assertDeepFrozen(c, 'config');
    assert.throws(() => {
      (c.dhcp.interfaces as string[]).push('eth2');
    }, TypeError);
    assert.throws(() => {
      (c.dhcp.subnets[0] as { id: number }).id = 9;
    }, TypeError);
    assert.ok(!Object.isFrozen(input) && !Object.isFrozen(input.dhcp.interfaces));
    input.dhcp.interfaces.push('eth9');
    assert.deepEqual(c.dhcp.interfaces, ['eth1']);
  });

  it('drops the editor $schema hint', () => {
    assert.equal(applyDefaults({ $schema: './schema/dcplane.schema.json' }).$schema, undefined);
  });
});

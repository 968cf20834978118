import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { ConfigErrorCode, formatProblem } from '../../src/config/errors.js';
import type { ConfigProblem } from '../../src/config/errors.js';
import { formatPath, overlappingPairs, suggest, validateConfig } from '../../src/config/validate.js';
import { schemaPath } from '../../src/config/schema-path.js';
import { DEFAULTS } from '../../src/config/defaults.js';
import { OPTION_DEFS } from '../../src/dhcp/constants.js';
import { rangesOverlap } from '../../src/net/ipv4.js';
import type { Ipv4Range } from '../../src/net/ipv4.js';

type Json = Record<string, unknown>;

/** A valid configuration to break one thing at a time. */
function base(): Json {
  return {
    dhcp: {
      enabled: true,
      interfaces: ['eth1', 'eth2'],
      client_classes: [{ name: 'pxe-uefi', match: { client_arch: [7, 9] } }],
      subnets: [
        {
          id: 1,
          subnet: '10.77.0.0/16',
          pools: ['10.77.1.0-10.77.1.255'],
          routers: ['10.77.0.1'],
          reservations: [{ mac: '52:54:00:00:00:01', ip: '10.77.0.50' }],
        },
        { id: 2, subnet: '10.78.0.0/24', pools: ['10.78.0.100-10.78.0.199'] },
      ],
    },
  };
}

function problems(config: unknown): ConfigProblem[] {
  const r = validateConfig(config);
  return r.ok ? [] : r.problems;
}

/** Asserts exactly these (code, path) pairs are reported, in any order. */
function assertProblems(config: unknown, expected: ReadonlyArray<readonly [string, string]>): ConfigProblem[] {
  const got = problems(config);
  const pairs = got.map((p) => `${p.code} @ ${p.path}`).sort();
  assert.deepEqual(pairs, expected.map(([code, path]) => `${code} @ ${path}`).sort(), JSON.stringify(got, null, 2));
  for (const p of got) assert.ok(p.message.length > 0);
  return got;
}

function dhcp(c: Json): Json {
  return c.dhcp as Json;
}

function subnet(c: Json, i: number): Json {
  return (dhcp(c).subnets as Json[])[i] as Json;
}

const C = ConfigErrorCode;

describe('validateConfig: the base configuration and examples', () => {
  it('accepts the base configuration and an empty one', () => {
    assertProblems(base(), []);
    assertProblems({}, []);
  });

  for (const file of ['examples/dcplane.example.json', 'examples/dcplane.minimal.json']) {
    it(`accepts ${file}`, () => {
      assertProblems(JSON.parse(readFileSync(file, 'utf8')), []);
    });
  }

  it('returns the same object it was given when valid', () => {
    const c = base();
    const r = validateConfig(c);
    assert.equal(r.ok, true);
    assert.equal(r.ok && r.config, c);
  });
});

describe('formatPath and formatProblem', () => {
  it('uses dots for keys, [i] for indexes, (root) for the whole file, quotes for odd keys', () => {
    assert.equal(formatPath([]), '(root)');
    assert.equal(formatPath(['dhcp', 'subnets', 1, 'pools', 0]), 'dhcp.subnets[1].pools[0]');
    assert.equal(formatPath(['dhcp', 'my key']), 'dhcp["my key"]');
  });

  it('prints the issue\'s example exactly', () => {
    const c = base();
    subnet(c, 1).subnet = '10.77.0.0/16';
    subnet(c, 0).subnet = '10.1.0.0/16';
    subnet(c, 0).pools = [];
    delete subnet(c, 0).routers;
    subnet(c, 0).reservations = [];
    subnet(c, 1).pools = ['10.78.1.0-10.78.1.9'];
    const [p] = assertProblems(c, [[C.POOL_OUTSIDE_SUBNET, 'dhcp.subnets[1].pools[0]']]);
    assert.equal(formatProblem(p as ConfigProblem), 'dhcp.subnets[1].pools[0]: 10.78.1.0-10.78.1.9 is outside subnet 10.77.0.0/16');
  });
});

describe('schema problems', () => {
  it('names an unknown key in the path and suggests the close known key', () => {
    const c = base();
    dhcp(c).subnts = [];
    subnet(c, 0).rooters = ['10.77.0.1'];
    const got = assertProblems(c, [
      [C.UNKNOWN_KEY, 'dhcp.subnts'],
      [C.UNKNOWN_KEY, 'dhcp.subnets[0].rooters'],
    ]);
    assert.match(got.find((p) => p.path === 'dhcp.subnts')?.message ?? '', /did you mean "subnets"/);
    assert.match(got.find((p) => p.path === 'dhcp.subnets[0].rooters')?.message ?? '', /did you mean "routers"/);
  });

  it('suggests only within edit distance 2', () => {
    assert.equal(suggest('subnts', ['subnets', 'options']), 'subnets');
    assert.equal(suggest('leasetime', ['lease_time']), 'lease_time');
    assert.equal(suggest('zzzzzz', ['subnets', 'options']), undefined);
  });

  it('reports a missing required key at the key it wants', () => {
    const c = base();
    delete subnet(c, 1).id;
    assertProblems(c, [[C.MISSING_KEY, 'dhcp.subnets[1].id']]);
  });

  it('reports wrong types, enums and ranges', () => {
    const c = base();
    dhcp(c).port = '67';
    dhcp(c).lease_time = 0;
    c.log = { level: 'verbose' };
    assertProblems(c, [
      [C.TYPE, 'dhcp.port'],
      [C.OUT_OF_RANGE, 'dhcp.lease_time'],
      [C.ENUM, 'log.level'],
    ]);
  });

  it('refuses a reclaim_interval longer than a Node timer can wait (2147483 s), which would fire every millisecond', () => {
    const c = base();
    dhcp(c).reclaim_interval = 2147484;
    assertProblems(c, [[C.OUT_OF_RANGE, 'dhcp.reclaim_interval']]);
    dhcp(c).reclaim_interval = 2147483;
    assertProblems(c, []);
  });

  it('refuses two subnets on one interface outside a shared network, at the second one\'s interface, pointing to shared_networks', () => {
    const c = base();
    subnet(c, 0).interface = 'eth1';
    subnet(c, 1).interface = 'eth1';
    const [p] = assertProblems(c, [[C.DUPLICATE_SUBNET_INTERFACE, 'dhcp.subnets[1].interface']]);
    assert.match(p?.message ?? '', /shared_networks/);
    // A shared network naming an interface a subnet already has is refused too; its own subnets may repeat it.
    subnet(c, 1).interface = 'eth2';
    dhcp(c).shared_networks = [{ name: 'rack', interface: 'eth1', subnets: [{ id: 3, subnet: '10.79.0.0/24', interface: 'eth1', pools: ['10.79.0.10-10.79.0.20'] }] }];
    assertProblems(c, [[C.DUPLICATE_SUBNET_INTERFACE, 'dhcp.shared_networks[0].interface']]);
    subnet(c, 0).interface = undefined;
    assertProblems(c, []);
  });

  it('reports a duplicated list item at its second occurrence', () => {
    const c = base();
    dhcp(c).interfaces = ['eth1', 'eth1'];
    assertProblems(c, [[C.DUPLICATE_ITEM, 'dhcp.interfaces[1]']]);
  });

  it('refuses a root that is not an object', () => {
    assertProblems([], [[C.TYPE, '(root)']]);
    assertProblems('dhcp', [[C.TYPE, '(root)']]);
  });

  it('accepts an editor $schema reference', () => {
    assertProblems({ ...base(), $schema: './schema/dcplane.schema.json' }, []);
  });
});

describe('subnets', () => {
  it('refuses a CIDR that is malformed or not a network address', () => {
    for (const bad of ['10.77.1.0/16', '10.77.0.0/33', '10.777.0.0/16', '10.77.0.0', 'ten']) {
      const c = base();
      subnet(c, 0).subnet = bad;
      subnet(c, 0).pools = [];
      subnet(c, 0).reservations = [];
      assertProblems(c, [[C.SUBNET_CIDR, 'dhcp.subnets[0].subnet']]);
    }
  });

  it('refuses overlapping subnets, also across shared networks', () => {
    const c = base();
    dhcp(c).shared_networks = [{ name: 'rack-b', subnets: [{ id: 3, subnet: '10.78.0.128/25' }] }];
    assertProblems(c, [[C.SUBNET_OVERLAP, 'dhcp.shared_networks[0].subnets[0].subnet']]);
  });

  it('refuses duplicate subnet ids, also across shared networks', () => {
    const c = base();
    subnet(c, 1).id = 1;
    dhcp(c).shared_networks = [{ name: 'rack-b', subnets: [{ id: 2, subnet: '10.79.0.0/24' }, { id: 1, subnet: '10.80.0.0/24' }] }];
    assertProblems(c, [
      [C.DUPLICATE_SUBNET_ID, 'dhcp.subnets[1].id'],
      [C.DUPLICATE_SUBNET_ID, 'dhcp.shared_networks[0].subnets[1].id'],
    ]);
  });

  it('refuses duplicate shared network names', () => {
    const c = base();
    dhcp(c).shared_networks = [
      { name: 'rack-b', subnets: [{ id: 3, subnet: '10.79.0.0/24' }] },
      { name: 'rack-b', subnets: [{ id: 4, subnet: '10.80.0.0/24' }] },
    ];
    assertProblems(c, [[C.DUPLICATE_ITEM, 'dhcp.shared_networks[1].name']]);
  });

  it('refuses routers and DNS servers that are not usable addresses, but allows a router outside the subnet', () => {
    const c = base();
    subnet(c, 0).routers = ['10.77.0.300', '0.0.0.0', '10.77.255.255', '192.0.2.1'];
    subnet(c, 0).dns_servers = ['224.0.0.1', '10.77.0.2'];
    assertProblems(c, [
      [C.BAD_IP, 'dhcp.subnets[0].routers[0]'],
      [C.BAD_IP, 'dhcp.subnets[0].routers[1]'],
      [C.BAD_IP, 'dhcp.subnets[0].routers[2]'],
      [C.BAD_IP, 'dhcp.subnets[0].dns_servers[0]'],
    ]);
  });

  it('refuses a relay address that selects two subnets', () => {
    const c = base();
    subnet(c, 0).relay_addresses = ['10.90.0.1'];
    subnet(c, 1).relay_addresses = ['10.90.0.1'];
    assertProblems(c, [[C.DUPLICATE_RELAY, 'dhcp.subnets[1].relay_addresses[0]']]);
  });

  it('allows a shared network and its own subnets to name the same relay', () => {
    const c = base();
    dhcp(c).shared_networks = [{ name: 'rack-b', relay_addresses: ['10.90.0.2'], subnets: [{ id: 3, subnet: '10.79.0.0/24', relay_addresses: ['10.90.0.2'] }] }];
    assertProblems(c, []);
  });
});

describe('pools', () => {
  it('refuses a pool that does not parse', () => {
    const c = base();
    subnet(c, 0).pools = ['10.77.1.9-10.77.1.0', '10.77.2.0-10.77.2.300', 'lots', { range: '10.77.3.1/24' }, 7];
    assertProblems(c, [
      [C.POOL_SYNTAX, 'dhcp.subnets[0].pools[0]'],
      [C.POOL_SYNTAX, 'dhcp.subnets[0].pools[1]'],
      [C.POOL_SYNTAX, 'dhcp.subnets[0].pools[2]'],
      [C.POOL_SYNTAX, 'dhcp.subnets[0].pools[3].range'],
      [C.TYPE, 'dhcp.subnets[0].pools[4]'],
    ]);
  });

  it('refuses a pool wholly or partly outside its subnet', () => {
    const c = base();
    subnet(c, 1).pools = ['10.78.0.200-10.78.1.10', { range: '10.79.0.0/24' }];
    assertProblems(c, [
      [C.POOL_OUTSIDE_SUBNET, 'dhcp.subnets[1].pools[0]'],
      [C.POOL_OUTSIDE_SUBNET, 'dhcp.subnets[1].pools[1].range'],
    ]);
  });

  it('refuses a range pool that includes the network or broadcast address; a CIDR pool leaves them out', () => {
    const c = base();
    subnet(c, 1).pools = ['10.78.0.0-10.78.0.10', '10.78.0.250-10.78.0.255'];
    assertProblems(c, [
      [C.POOL_SPECIAL_ADDRESS, 'dhcp.subnets[1].pools[0]'],
      [C.POOL_SPECIAL_ADDRESS, 'dhcp.subnets[1].pools[1]'],
    ]);
    subnet(c, 1).pools = ['10.78.0.0/24'];
    assertProblems(c, []);
  });

  it('refuses pools that overlap within a subnet', () => {
    const c = base();
    subnet(c, 0).pools = ['10.77.1.0-10.77.1.255', { range: '10.77.1.128/25' }, '10.77.1.200-10.77.2.10'];
    assertProblems(c, [
      [C.POOL_OVERLAP, 'dhcp.subnets[0].pools[1].range'],
      [C.POOL_OVERLAP, 'dhcp.subnets[0].pools[2]'],
      [C.POOL_OVERLAP, 'dhcp.subnets[0].pools[2]'],
    ]);
  });

  it('refuses pools that overlap across subnets', () => {
    const c = base();
    subnet(c, 0).pools = ['10.78.0.150-10.78.0.160'];
    assertProblems(c, [
      [C.POOL_OUTSIDE_SUBNET, 'dhcp.subnets[0].pools[0]'],
      [C.POOL_OVERLAP, 'dhcp.subnets[1].pools[0]'],
    ]);
  });

  it('overlappingPairs finds exactly the pairs a brute-force comparison finds', () => {
    const range = fc
      .tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 40 }))
      .map(([start, len]): Ipv4Range => ({ start: 0x0a000000 + start, end: 0x0a000000 + start + len }));
    fc.assert(
      fc.property(fc.array(range, { maxLength: 25 }), (ranges) => {
        const brute: string[] = [];
        for (let i = 0; i < ranges.length; i++) {
          for (let j = i + 1; j < ranges.length; j++) {
            if (rangesOverlap(ranges[i] as Ipv4Range, ranges[j] as Ipv4Range)) brute.push(`${i},${j}`);
          }
        }
        const found = overlappingPairs(ranges).map(([i, j]) => `${i},${j}`);
        assert.deepEqual([...found].sort(), brute.sort());
      }),
      { numRuns: 500 },
    );
  });
});

describe('reservations', () => {
  it('refuses a reservation with neither mac nor client_id', () => {
    const c = base();
    subnet(c, 0).reservations = [{ ip: '10.77.0.60', hostname: 'lost' }];
    assertProblems(c, [[C.RESERVATION_NO_IDENTIFIER, 'dhcp.subnets[0].reservations[0]']]);
  });

  it('refuses a reservation outside its subnet, or on its network/broadcast address', () => {
    const c = base();
    subnet(c, 0).reservations = [
      { mac: '52:54:00:00:00:01', ip: '10.99.0.1' },
      { mac: '52:54:00:00:00:02', ip: '10.77.255.255' },
    ];
    assertProblems(c, [
      [C.RESERVATION_OUTSIDE_SUBNET, 'dhcp.subnets[0].reservations[0].ip'],
      [C.BAD_IP, 'dhcp.subnets[0].reservations[1].ip'],
    ]);
  });

  it('refuses a reservation inside a dynamic pool', () => {
    const c = base();
    subnet(c, 0).reservations = [{ mac: '52:54:00:00:00:01', ip: '10.77.1.20' }];
    assertProblems(c, [[C.RESERVATION_IN_POOL, 'dhcp.subnets[0].reservations[0].ip']]);
  });

  it('refuses two reservations for one address', () => {
    const c = base();
    subnet(c, 0).reservations = [
      { mac: '52:54:00:00:00:01', ip: '10.77.0.50' },
      { client_id: '01:52:54:00:00:00:09', ip: '10.77.0.50' },
    ];
    assertProblems(c, [[C.DUPLICATE_RESERVATION_IP, 'dhcp.subnets[0].reservations[1].ip']]);
  });

  it('refuses one MAC or client id reserved twice in a subnet, however it is written', () => {
    const c = base();
    subnet(c, 0).reservations = [
      { mac: '52:54:00:00:00:01', ip: '10.77.0.50' },
      { mac: '52-54-00-00-00-01', ip: '10.77.0.51' },
      { client_id: '01:52:54:00:00:00:09', ip: '10.77.0.52' },
      { client_id: '015254000000' + '09', ip: '10.77.0.53' },
    ];
    assertProblems(c, [
      [C.DUPLICATE_RESERVATION_MAC, 'dhcp.subnets[0].reservations[1].mac'],
      [C.DUPLICATE_RESERVATION_CLIENT_ID, 'dhcp.subnets[0].reservations[3].client_id'],
    ]);
  });

  it('allows the same MAC in two subnets', () => {
    const c = base();
    subnet(c, 1).reservations = [{ mac: '52:54:00:00:00:01', ip: '10.78.0.5' }];
    assertProblems(c, []);
  });

  it('refuses malformed identifiers', () => {
    const c = base();
    subnet(c, 0).reservations = [{ mac: '52:54:00:00:01', ip: '10.77.0.50' }, { client_id: '01', ip: '10.77.0.51' }];
    assertProblems(c, [
      [C.FORMAT, 'dhcp.subnets[0].reservations[0].mac'],
      [C.FORMAT, 'dhcp.subnets[0].reservations[1].client_id'],
    ]);
  });
});

describe('options', () => {
  it('checks each value against its kind and reports at .value', () => {
    const c = base();
    dhcp(c).options = [
      { code: 3, value: ['10.0.0.1', 'ten'] },
      { name: 'interface-mtu', value: 70000 },
      { code: 19, value: 'yes' },
      { code: 200, type: 'hex', value: '0x1' },
      { code: 42, value: '10.0.0.1, 10.0.0.2' },
    ];
    assertProblems(c, [
      [C.OPTION_VALUE, 'dhcp.options[0].value'],
      [C.OPTION_VALUE, 'dhcp.options[1].value'],
      [C.OPTION_VALUE, 'dhcp.options[2].value'],
      [C.OPTION_VALUE, 'dhcp.options[3].value'],
    ]);
  });

  it('requires a type for codes it does not know', () => {
    const c = base();
    subnet(c, 0).options = [{ code: 224, value: 'x' }, { code: 225, type: 'string', value: 'x' }];
    assertProblems(c, [[C.OPTION_TYPE_REQUIRED, 'dhcp.subnets[0].options[0].type']]);
  });

  it('refuses options the server computes itself', () => {
    const c = base();
    dhcp(c).options = [{ code: 54, type: 'ip', value: '10.77.0.1' }, { code: 82, type: 'hex', value: '0102' }];
    assertProblems(c, [
      [C.OPTION_SERVER_OWNED, 'dhcp.options[0].code'],
      [C.OPTION_SERVER_OWNED, 'dhcp.options[1].code'],
    ]);
  });

  it('refuses an option without code or name, an unknown name, a name that disagrees with the code, code out of range', () => {
    const c = base();
    dhcp(c).options = [
      { value: 1 },
      { name: 'routerz', value: '10.0.0.1' },
      { code: 6, name: 'routers', value: '10.0.0.1' },
      { code: 255, type: 'uint8', value: 1 },
    ];
    const got = assertProblems(c, [
      [C.OPTION_NO_CODE, 'dhcp.options[0]'],
      [C.ENUM, 'dhcp.options[1].name'],
      [C.OPTION_NAME_MISMATCH, 'dhcp.options[2].name'],
      [C.OUT_OF_RANGE, 'dhcp.options[3].code'],
    ]);
    assert.match(got.find((p) => p.path === 'dhcp.options[1].name')?.message ?? '', /did you mean "routers"/);
  });

  it('refuses the same option twice in one list', () => {
    const c = base();
    dhcp(c).options = [{ code: 6, value: '10.0.0.1' }, { name: 'domain-name-servers', value: '10.0.0.2' }];
    assertProblems(c, [[C.DUPLICATE_OPTION, 'dhcp.options[1].name']]);
  });

  it('checks options at every level: pool, reservation, class, shared network', () => {
    const c = base();
    const bad = [{ code: 26, value: 'big' }];
    subnet(c, 0).pools = [{ range: '10.77.1.0/24', options: bad }];
    subnet(c, 0).reservations = [{ mac: '52:54:00:00:00:01', ip: '10.77.0.50', options: bad }];
    (dhcp(c).client_classes as Json[])[0] = { name: 'pxe-uefi', match: { client_arch: [7] }, options: bad };
    dhcp(c).shared_networks = [{ name: 'rack-b', options: bad, subnets: [{ id: 3, subnet: '10.79.0.0/24' }] }];
    assertProblems(c, [
      [C.OPTION_VALUE, 'dhcp.subnets[0].pools[0].options[0].value'],
      [C.OPTION_VALUE, 'dhcp.subnets[0].reservations[0].options[0].value'],
      [C.OPTION_VALUE, 'dhcp.client_classes[0].options[0].value'],
      [C.OPTION_VALUE, 'dhcp.shared_networks[0].options[0].value'],
    ]);
  });
});

describe('client classes', () => {
  it('refuses references to classes that do not exist', () => {
    const c = base();
    subnet(c, 0).client_class = 'pxe-uefl';
    subnet(c, 0).pools = [{ range: '10.77.1.0/24', client_class: 'nope' }];
    subnet(c, 0).reservations = [{ mac: '52:54:00:00:00:01', client_classes: ['pxe-uefi', 'ghost'] }];
    const got = assertProblems(c, [
      [C.UNKNOWN_CLASS, 'dhcp.subnets[0].client_class'],
      [C.UNKNOWN_CLASS, 'dhcp.subnets[0].pools[0].client_class'],
      [C.UNKNOWN_CLASS, 'dhcp.subnets[0].reservations[0].client_classes[1]'],
    ]);
    assert.match(got.find((p) => p.path === 'dhcp.subnets[0].client_class')?.message ?? '', /did you mean "pxe-uefi"/);
  });

  it('refuses duplicate class names and an empty match', () => {
    const c = base();
    dhcp(c).client_classes = [
      { name: 'pxe-uefi', match: { client_arch: [7] } },
      { name: 'pxe-uefi', match: { client_arch: [9] } },
      { name: 'everyone', match: {} },
    ];
    assertProblems(c, [
      [C.DUPLICATE_CLASS, 'dhcp.client_classes[1].name'],
      [C.CLASS_EMPTY_MATCH, 'dhcp.client_classes[2].match'],
    ]);
  });
});

describe('timers', () => {
  it('requires renew_timer < rebind_timer < lease_time globally', () => {
    const c = base();
    dhcp(c).renew_timer = 2000;
    dhcp(c).rebind_timer = 1000;
    assertProblems(c, [[C.TIMERS, 'dhcp.renew_timer']]);
    dhcp(c).renew_timer = 500;
    dhcp(c).rebind_timer = 3600;
    assertProblems(c, [[C.TIMERS, 'dhcp.rebind_timer']]);
    delete dhcp(c).rebind_timer;
    dhcp(c).renew_timer = 4000;
    assertProblems(c, [[C.TIMERS, 'dhcp.renew_timer']]);
  });

  it('checks a subnet against the values it inherits, reporting at the subnet\'s own key', () => {
    const c = base();
    dhcp(c).renew_timer = 1800;
    dhcp(c).rebind_timer = 3000;
    subnet(c, 1).lease_time = 2000;
    assertProblems(c, [[C.TIMERS, 'dhcp.subnets[1].lease_time']]);
    subnet(c, 1).lease_time = 86400;
    assertProblems(c, []);
  });

  it('refuses a lease time of zero or less', () => {
    const c = base();
    subnet(c, 0).lease_time = -5;
    assertProblems(c, [[C.OUT_OF_RANGE, 'dhcp.subnets[0].lease_time']]);
  });
});

describe('interfaces and listeners', () => {
  it('refuses enabled DHCP without interfaces or subnets', () => {
    assertProblems({ dhcp: { enabled: true, subnets: [{ id: 1, subnet: '10.77.0.0/24' }] } }, [[C.NO_INTERFACES, 'dhcp.interfaces']]);
    assertProblems({ dhcp: { enabled: true, interfaces: [], subnets: [{ id: 1, subnet: '10.77.0.0/24' }] } }, [[C.NO_INTERFACES, 'dhcp.interfaces']]);
    assertProblems({ dhcp: { enabled: true, interfaces: ['eth1'] } }, [[C.NO_SUBNETS, 'dhcp.subnets']]);
    assertProblems({ dhcp: { enabled: false, subnets: [{ id: 1, subnet: '10.77.0.0/24' }] } }, []);
  });

  it('refuses interface names the kernel would refuse', () => {
    const c = base();
    dhcp(c).interfaces = ['eth1', 'eth0/1', 'a-name-too-long-16', '', 'eth0:1', 'bond0.100'];
    assertProblems(c, [
      [C.INTERFACE_NAME, 'dhcp.interfaces[1]'],
      [C.INTERFACE_NAME, 'dhcp.interfaces[2]'],
      [C.INTERFACE_NAME, 'dhcp.interfaces[3]'],
      [C.INTERFACE_NAME, 'dhcp.interfaces[4]'],
    ]);
  });

  it('refuses a subnet bound to an interface DHCP does not serve', () => {
    const c = base();
    subnet(c, 0).interface = 'eth1';
    subnet(c, 1).interface = 'eth3';
    assertProblems(c, [[C.INTERFACE_NOT_SERVED, 'dhcp.subnets[1].interface']]);
  });

  it('requires host:port listeners with a valid port', () => {
    assertProblems({ api: { listen: '127.0.0.1:0' }, tftp: { listen: '[::]:69' } }, []);
    assertProblems({ api: { listen: 'localhost' } }, [[C.LISTEN, 'api.listen']]);
    assertProblems({ api: { listen: '127.0.0.1:70000' } }, [[C.LISTEN, 'api.listen']]);
    assertProblems({ tftp: { listen: '999.0.0.1:69' } }, [[C.LISTEN, 'tftp.listen']]);
  });

  it('accepts sqlite or a postgres URL as database', () => {
    assertProblems({ database: 'sqlite' }, []);
    assertProblems({ database: 'postgres://dcplane:pw@db.example:5432/dcplane' }, []);
    assertProblems({ database: 'mysql://db/dcplane' }, [[C.DATABASE, 'database']]);
    assertProblems({ database: 'postgres://[bad' }, [[C.DATABASE, 'database']]);
  });
});

describe('validateConfig: tftp', () => {
  it('accepts a full TFTP section', () => {
    assertProblems(
      {
        tftp: {
          enabled: true,
          listen: '0.0.0.0:69',
          root: '/srv/tftp',
          max_blksize: 65464,
          max_windowsize: 16,
          timeout: 2,
          retries: 3,
          max_transfers: 500,
          rate_limit: { requests_per_second: 2.5, burst: 10 },
          allow: ['10.0.0.0/8'],
          deny: ['10.66.0.0/16'],
          remap: [{ match: '\\\\', replace: '/', flags: 'g' }, { match: '^', replace: 'lab/', client: '10.77.5.0/24', flags: 'e' }, { match: '.*', lowercase: true }],
          cache: { max_bytes: 0, max_file_bytes: 1 },
          write: { enabled: true, upload_dir: '/srv/tftp-uploads', max_bytes: 1024, overwrite: true },
          generated: { enabled: false },
        },
      },
      [],
    );
  });

  it('keeps blksize, windowsize and timeout inside their RFC ranges', () => {
    assertProblems({ tftp: { max_blksize: 7, max_windowsize: 0, timeout: 256 } }, [
      [C.OUT_OF_RANGE, 'tftp.max_blksize'],
      [C.OUT_OF_RANGE, 'tftp.max_windowsize'],
      [C.OUT_OF_RANGE, 'tftp.timeout'],
    ]);
    assertProblems({ tftp: { max_blksize: 65465 } }, [[C.OUT_OF_RANGE, 'tftp.max_blksize']]);
    assertProblems({ tftp: { max_windowsize: 32768 } }, [[C.OUT_OF_RANGE, 'tftp.max_windowsize']]);
    assertProblems({ tftp: { max_windowsize: 32767 } }, []);
    assertProblems({ tftp: { max_timeout: 0, max_transfers_per_client: 0 } }, [
      [C.OUT_OF_RANGE, 'tftp.max_transfers_per_client'],
      [C.OUT_OF_RANGE, 'tftp.max_timeout'],
    ]);
  });

  it('refuses ACL and remap networks that are not network addresses', () => {
    assertProblems({ tftp: { allow: ['10.0.0.1/8', 'ten'], deny: ['300.0.0.0/8'], remap: [{ match: 'x', client: '10.1.1.1/24' }] } }, [
      [C.SUBNET_CIDR, 'tftp.allow[0]'],
      [C.SUBNET_CIDR, 'tftp.allow[1]'],
      [C.SUBNET_CIDR, 'tftp.deny[0]'],
      [C.SUBNET_CIDR, 'tftp.remap[0].client'],
    ]);
  });

  it('refuses remap rules with a bad regular expression, unknown or repeated flags, or no match', () => {
    assertProblems({ tftp: { remap: [{ match: '(unclosed' }, { match: 'a', flags: 'gx' }, { match: 'a', flags: 'gg' }, { replace: 'b' }] } }, [
      [C.TFTP_REMAP_REGEX, 'tftp.remap[0].match'],
      [C.FORMAT, 'tftp.remap[1].flags'],
      [C.FORMAT, 'tftp.remap[2].flags'],
      [C.MISSING_KEY, 'tftp.remap[3].match'],
    ]);
  });

  it('requires an upload directory outside the root when writes are enabled', () => {
    assertProblems({ tftp: { write: { enabled: true } } }, [[C.TFTP_UPLOAD_DIR, 'tftp.write.upload_dir']]);
    assertProblems({ tftp: { root: '/srv/tftp', write: { enabled: true, upload_dir: '/srv/tftp/up' } } }, [[C.TFTP_UPLOAD_DIR, 'tftp.write.upload_dir']]);
    assertProblems({ tftp: { root: '/srv/tftp/', write: { enabled: true, upload_dir: '/srv/tftp' } } }, [[C.TFTP_UPLOAD_DIR, 'tftp.write.upload_dir']]);
    assertProblems({ tftp: { root: '/srv/tftp', write: { enabled: true, upload_dir: '/srv/tftp-up' } } }, []);
  });

  it('requires a positive rate with the rate limit and refuses unknown keys', () => {
    assertProblems({ tftp: { rate_limit: { burst: 3 } } }, [[C.MISSING_KEY, 'tftp.rate_limit.requests_per_second']]);
    assertProblems({ tftp: { rate_limit: { requests_per_second: 0 } } }, [[C.OUT_OF_RANGE, 'tftp.rate_limit.requests_per_second']]);
    assertProblems({ tftp: { cache: { max_byte: 1 } } }, [[C.UNKNOWN_KEY, 'tftp.cache.max_byte']]);
  });
});

describe('every problem at once', () => {
  it('lists all the mistakes of a file, each once', () => {
    const c = base();
    dhcp(c).subnts = [];
    dhcp(c).interfaces = ['eth/1'];
    dhcp(c).options = [{ code: 54, type: 'ip', value: '10.0.0.1' }];
    subnet(c, 0).pools = ['10.77.1.0-10.77.1.255', '10.77.1.200-10.77.2.0'];
    subnet(c, 0).reservations = [{ mac: '52:54:00:00:00:01', ip: '10.77.1.20' }, { ip: '10.77.0.9' }];
    subnet(c, 1).id = 1;
    subnet(c, 1).pools = ['10.78.1.0-10.78.1.9'];
    subnet(c, 1).client_class = 'pxe-bios';
    c.api = { listen: 'nowhere' };
    assertProblems(c, [
      [C.UNKNOWN_KEY, 'dhcp.subnts'],
      [C.INTERFACE_NAME, 'dhcp.interfaces[0]'],
      [C.OPTION_SERVER_OWNED, 'dhcp.options[0].code'],
      [C.POOL_OVERLAP, 'dhcp.subnets[0].pools[1]'],
      [C.RESERVATION_IN_POOL, 'dhcp.subnets[0].reservations[0].ip'],
      [C.RESERVATION_NO_IDENTIFIER, 'dhcp.subnets[0].reservations[1]'],
      [C.DUPLICATE_SUBNET_ID, 'dhcp.subnets[1].id'],
      [C.POOL_OUTSIDE_SUBNET, 'dhcp.subnets[1].pools[0]'],
      [C.UNKNOWN_CLASS, 'dhcp.subnets[1].client_class'],
      [C.LISTEN, 'api.listen'],
    ]);
  });

  it('lists problems in the order they appear in the file', () => {
    const c = base();
    subnet(c, 1).pools = ['10.78.1.0-10.78.1.9'];
    subnet(c, 0).rooters = [];
    dhcp(c).interfaces = ['eth/1'];
    c.log = { level: 'loud' };
    assert.deepEqual(
      problems(c).map((p) => p.path),
      ['dhcp.interfaces[0]', 'dhcp.subnets[0].rooters', 'dhcp.subnets[1].pools[0]', 'log.level'],
    );
  });

  it('reports a value the schema refused once, without semantic follow-ups', () => {
    const c = base();
    subnet(c, 0).reservations = [{ mac: '52:54:00:00:00:01', ip: 'ten' }];
    subnet(c, 1).pools = ['10.78.0.100-10.78.0.199', 42];
    assertProblems(c, [
      [C.BAD_IP, 'dhcp.subnets[0].reservations[0].ip'],
      [C.TYPE, 'dhcp.subnets[1].pools[1]'],
    ]);
  });
});

describe('the published schema', () => {
  const schema = JSON.parse(readFileSync(schemaPath(), 'utf8')) as Json;
  const defs = schema.$defs as Record<string, Json>;

  it('lists exactly the option names dcplane knows', () => {
    const option = defs.option as Json;
    const name = (option.properties as Record<string, Json>).name as Json;
    assert.deepEqual([...(name.enum as string[])].sort(), OPTION_DEFS.map((d) => d.name).sort());
  });

  it('documents the defaults applyDefaults uses', () => {
    const props = (d: string): Record<string, Json> => (defs[d] as Json).properties as Record<string, Json>;
    const root = schema.properties as Record<string, Json>;
    assert.equal(root.data_dir?.default, DEFAULTS.data_dir);
    assert.equal(root.database?.default, DEFAULTS.database);
    assert.equal(props('api').listen?.default, DEFAULTS.api_listen);
    assert.equal(props('log').level?.default, DEFAULTS.log_level);
    assert.equal(props('tftp').enabled?.default, DEFAULTS.tftp_enabled);
    assert.equal(props('tftp').listen?.default, DEFAULTS.tftp_listen);
    assert.equal(props('tftp').root?.default, DEFAULTS.tftp_root);
    const t = props('tftp');
    for (const [k, d] of [
      ['max_blksize', DEFAULTS.tftp_max_blksize],
      ['max_windowsize', DEFAULTS.tftp_max_windowsize],
      ['timeout', DEFAULTS.tftp_timeout],
      ['retries', DEFAULTS.tftp_retries],
      ['max_transfers', DEFAULTS.tftp_max_transfers],
      ['netascii_max_bytes', DEFAULTS.tftp_netascii_max_bytes],
      ['max_transfers_per_client', DEFAULTS.tftp_max_transfers_per_client],
      ['max_timeout', DEFAULTS.tftp_max_timeout],
    ] as const) {
      assert.equal(t[k]?.default, d, `tftp.${k}`);
    }
    const sub = (k: string): Record<string, Json> => (t[k] as Json).properties as Record<string, Json>;
    assert.equal(sub('rate_limit').burst?.default, DEFAULTS.tftp_rate_limit_burst);
    assert.equal(sub('cache').max_bytes?.default, DEFAULTS.tftp_cache_max_bytes);
    assert.equal(sub('cache').max_file_bytes?.default, DEFAULTS.tftp_cache_max_file_bytes);
    assert.equal(sub('write').enabled?.default, DEFAULTS.tftp_write_enabled);
    assert.equal(sub('write').max_bytes?.default, DEFAULTS.tftp_write_max_bytes);
    assert.equal(sub('write').overwrite?.default, DEFAULTS.tftp_write_overwrite);
    assert.equal(sub('generated').enabled?.default, DEFAULTS.tftp_generated_enabled);
    const rule = props('tftpRemapRule');
    assert.equal(rule.replace?.default, DEFAULTS.tftp_remap_replace);
    assert.equal(rule.flags?.default, DEFAULTS.tftp_remap_flags);
    assert.equal(rule.lowercase?.default, DEFAULTS.tftp_remap_lowercase);
    // Defaults stated in prose must agree with the machine-readable ones.
    for (const [k, p] of Object.entries(t)) {
      if (p.default !== undefined && typeof p.description === 'string' && /Default: /.test(p.description) && typeof p.default !== 'object') {
        assert.ok(p.description.includes(`Default: ${JSON.stringify(p.default)}`) || p.description.includes(`Default: ${String(p.default)}`), `tftp.${k} prose default`);
      }
    }
    const d = props('dhcp');
    assert.equal(d.enabled?.default, DEFAULTS.dhcp_enabled);
    assert.equal(d.port?.default, DEFAULTS.dhcp_port);
    for (const k of ['lease_time', 'offer_time', 'decline_probation', 'authoritative', 'reclaim_interval', 'hold_reclaimed', 'commit_delay_ms'] as const) {
      assert.equal(d[k]?.default, DEFAULTS[k], k);
    }
  });

  it('forbids unknown keys and describes every property of every object', () => {
    const walk = (node: unknown, where: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as Json;
      if (n.type === 'object') {
        assert.equal(n.additionalProperties, false, `${where} allows unknown keys`);
        for (const [k, p] of Object.entries(n.properties as Record<string, Json>)) {
          const described = typeof p.description === 'string' || (typeof p.$ref === 'string' && typeof (defs[String(p.$ref).split('/').pop() as string] as Json).description === 'string');
          assert.ok(described, `${where}.${k} has no description`);
        }
      }
      for (const [k, v] of Object.entries(n)) walk(v, `${where}/${k}`);
    };
    walk(schema, '#');
  });
});

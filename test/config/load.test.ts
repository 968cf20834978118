import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { DcplaneError } from '../../src/common/errors.js';
import { ConfigErrorCode } from '../../src/config/errors.js';
import { ConfigError, defaultConfig, lineColumn, loadConfigFile, parseConfigText, scanJson } from '../../src/config/load.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'dcplane-config-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function refusal(path: string): Promise<ConfigError> {
  let caught: unknown;
  try {
    await loadConfigFile(path);
  } catch (err) {
    caught = err;
  }
  if (!(caught instanceof ConfigError)) assert.fail(`${path} was not refused with a ConfigError: ${String(caught)}`);
  assert.ok(caught instanceof DcplaneError);
  assert.equal(caught.code, ConfigErrorCode.INVALID);
  return caught;
}

describe('loadConfigFile', () => {
  it('loads both example files', async () => {
    const full = await loadConfigFile('examples/dcplane.example.json');
    assert.equal(full.dhcp.enabled, true);
    assert.deepEqual(full.dhcp.interfaces, ['eth1', 'eth2']);
    assert.equal(full.dhcp.shared_networks[0]?.subnets.length, 2);
    const minimal = await loadConfigFile('examples/dcplane.minimal.json');
    assert.equal(minimal.dhcp.subnets[0]?.lease_time, 3600);
    assert.equal(minimal.tftp.enabled, false);
  });

  it('says which file cannot be read and why', async () => {
    const missing = join(dir, 'nope.json');
    const err = await refusal(missing);
    assert.equal(err.problems.length, 1);
    assert.equal(err.problems[0]?.code, ConfigErrorCode.READ);
    assert.ok(err.problems[0]?.message.includes(missing));
    assert.equal((await refusal(dir)).problems[0]?.code, ConfigErrorCode.READ);
  });

  it('reports invalid JSON with its line and column', async () => {
    const cases: Array<[string, number, number]> = [
      ['{\n  "dhcp": {\n    "enabled": true,\n  }\n}\n', 4, 3],
      ['{\n  "data_dir": "./data"\n  "database": "sqlite"\n}', 3, 3],
      ['{\n  "dhcp": { "enabled": tru }\n}', 2, 24],
      ["{ 'data_dir': 1 }", 1, 3],
      ['{ "data_dir": "./da\nta" }', 1, 20],
      ['{ "api": { "listen": "127.0.0.1:8080" }', 1, 40],
      ['', 1, 1],
      ['{} {}', 1, 4],
    ];
    for (const [text, line, column] of cases) {
      const err = await refusal(write('bad.json', text));
      assert.equal(err.problems.length, 1, text);
      const p = err.problems[0];
      assert.equal(p?.code, ConfigErrorCode.JSON_SYNTAX, text);
      assert.deepEqual([p?.line, p?.column], [line, column], JSON.stringify(text));
      assert.equal(p?.path, '(root)');
    }
  });

  it('refuses a key given twice in one object, which JSON.parse would silently collapse', async () => {
    const err = await refusal(write('dup.json', '{\n  "dhcp": { "port": 67, "port": 6767 },\n  "log": {}\n}'));
    assert.deepEqual(
      err.problems.map((p) => [p.code, p.path, p.line]),
      [[ConfigErrorCode.DUPLICATE_KEY, 'dhcp.port', 2]],
    );
  });

  it('lists the file\'s validation problems with their paths', async () => {
    const err = await refusal(write('invalid.json', JSON.stringify({ dhcp: { enabled: true, subnts: [] }, log: { level: 'loud' } })));
    assert.deepEqual(err.problems.map((p) => `${p.code} ${p.path}`).sort(), [
      `${ConfigErrorCode.ENUM} log.level`,
      `${ConfigErrorCode.NO_INTERFACES} dhcp.interfaces`,
      `${ConfigErrorCode.NO_SUBNETS} dhcp.subnets`,
      `${ConfigErrorCode.UNKNOWN_KEY} dhcp.subnts`,
    ]);
    assert.ok(err.message.includes('invalid.json'));
  });

  it('accepts a UTF-8 byte order mark', async () => {
    const c = await loadConfigFile(write('bom.json', '\ufeff{ "log": { "level": "debug" } }'));
    assert.equal(c.log.level, 'debug');
  });
});

describe('scanJson', () => {
  it('agrees with JSON.parse on which texts are JSON', () => {
    const mutated = fc
      .tuple(fc.json(), fc.nat(), fc.constantFrom('', ',', '}', ']', '"', ':', ' ', 'x', '\n', '\\', '0', '-', '.'), fc.boolean())
      .map(([text, at, ch, replace]) => {
        const k = at % (text.length + 1);
        return text.slice(0, k) + ch + text.slice(replace ? k + 1 : k);
      });
    fc.assert(
      fc.property(fc.oneof(fc.json(), mutated), (text) => {
        let parses = true;
        try {
          JSON.parse(text);
        } catch {
          parses = false;
        }
        assert.equal(scanJson(text).error === undefined, parses, text);
      }),
      { numRuns: 3000 },
    );
  });

  it('finds every duplicated key with its path', () => {
    const { duplicates } = scanJson('{"a":{"b":1,"b":2},"c":[{"d":1,"d":1,"d":1}]}');
    assert.deepEqual(
      duplicates.map((d) => JSON.stringify(d.segs)),
      ['["a","b"]', '["c",0,"d"]', '["c",0,"d"]'],
    );
  });

  it('stops at an absurd nesting depth instead of overflowing the stack', () => {
    const deep = '['.repeat(100000) + ']'.repeat(100000);
    assert.notEqual(scanJson(deep).error, undefined);
  });

  it('computes 1-based line and column', () => {
    assert.deepEqual(lineColumn('ab\ncd', 0), { line: 1, column: 1 });
    assert.deepEqual(lineColumn('ab\ncd', 4), { line: 2, column: 2 });
  });
});

describe('parseConfigText', () => {
  it('names its source in the error', () => {
    assert.throws(
      () => parseConfigText('{"dhcp": 1}', 'request body'),
      (err: unknown) => err instanceof ConfigError && err.message.startsWith('request body') && err.problems[0]?.code === ConfigErrorCode.TYPE,
    );
  });
});

describe('defaultConfig', () => {
  it('never serves DHCP or TFTP and keeps the API on loopback', () => {
    const c = defaultConfig();
    assert.equal(c.dhcp.enabled, false);
    assert.equal(c.tftp.enabled, false);
    assert.equal(c.api.listen, '127.0.0.1:8080');
    assert.deepEqual(c.dhcp.interfaces, []);
    assert.equal(c.database, 'sqlite');
    assert.equal(c.data_dir, './data');
  });

  it('is frozen', () => {
    const c = defaultConfig();
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.dhcp) && Object.isFrozen(c.dhcp.interfaces));
    assert.throws(() => {
      (c.dhcp as { enabled: boolean }).enabled = true;
    }, TypeError);
    assert.equal(defaultConfig().dhcp.enabled, false);
  });
});

import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { applyDefaults } from '../../src/config/defaults.js';
import type { TftpRemapRule } from '../../src/config/types.js';
import { parseIpv4 } from '../../src/net/ipv4.js';
import { TftpRemapper } from '../../src/tftp/remap.js';

function remapper(rules: TftpRemapRule[]): TftpRemapper {
  return new TftpRemapper(applyDefaults({ tftp: { remap: rules } }).tftp.remap);
}

const ip = (t: string): number => parseIpv4(t) as number;

describe('TftpRemapper', () => {
  it('turns backslashes into slashes with a global rule (Windows-style firmware)', () => {
    const r = remapper([{ match: '\\\\', replace: '/', flags: 'g' }]);
    assert.equal(r.apply('boot\\x64\\wdsnbp.com', ip('10.0.0.1')), 'boot/x64/wdsnbp.com');
  });

  it('replaces only the first match without "g"', () => {
    assert.equal(remapper([{ match: 'a', replace: 'b' }]).apply('aaa', undefined), 'baa');
  });

  it('folds case with lowercase, and matches case-insensitively with "i"', () => {
    const r = remapper([{ match: '^PXELINUX', replace: 'pxelinux', flags: 'i' }, { match: '\\.CFG$', lowercase: true }]);
    assert.equal(r.apply('PxeLinux.CFG', undefined), 'pxelinux.cfg');
    assert.equal(r.apply('Other.Cfg', undefined), 'Other.Cfg');
  });

  it('uses groups in the replacement and applies rules in order', () => {
    const r = remapper([
      { match: '^/?tftpboot/(.*)$', replace: '$1' },
      { match: '^(.*)\\.0$', replace: 'legacy/$1.0' },
    ]);
    assert.equal(r.apply('/tftpboot/pxelinux.0', undefined), 'legacy/pxelinux.0');
  });

  it('stops after a matching rule flagged "e"', () => {
    const r = remapper([{ match: '^a', replace: 'b', flags: 'e' }, { match: '^b', replace: 'c' }]);
    assert.equal(r.apply('a', undefined), 'b');
    assert.equal(r.apply('b', undefined), 'c');
  });

  it('applies client-scoped rules only to clients in that network (per-client prefixes)', () => {
    const r = remapper([{ match: '^', replace: 'lab/', client: '10.77.5.0/24' }]);
    assert.equal(r.apply('pxelinux.0', ip('10.77.5.9')), 'lab/pxelinux.0');
    assert.equal(r.apply('pxelinux.0', ip('10.77.6.9')), 'pxelinux.0');
    assert.equal(r.apply('pxelinux.0', undefined), 'pxelinux.0');
  });

  it('keeps state out of global regexes between calls', () => {
    const r = remapper([{ match: 'x', replace: 'y', flags: 'g' }]);
    for (let i = 0; i < 3; i++) assert.equal(r.apply('axbx', undefined), 'ayby');
  });
});

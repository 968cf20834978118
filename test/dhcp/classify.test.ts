import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { classify, compileMatch, globToRegExp, matches } from '../../src/dhcp/classify.js';
import { extractRequestInfo } from '../../src/dhcp/request-info.js';
import { request } from '../helpers/memory-lease-view.js';

const infoOf = (spec: Parameters<typeof request>[1]) => extractRequestInfo(request(1, spec));

describe('globToRegExp', () => {
  it('treats * as a wildcard and everything else literally', () => {
    assert.ok(globToRegExp('PXEClient:Arch:00007*').test('PXEClient:Arch:00007:UNDI:003016'));
    assert.ok(!globToRegExp('PXEClient:Arch:00007*').test('PXEClient:Arch:00000:UNDI:002001'));
    assert.ok(globToRegExp('a.b').test('a.b'));
    assert.ok(!globToRegExp('a.b').test('axb'));
    assert.ok(!globToRegExp('pxe*').test('PXEClient'), 'case-sensitive');
  });
});

describe('matches', () => {
  it('requires every given field', () => {
    const m = compileMatch({ vendor_class: 'PXEClient*', client_arch: [7, 9] });
    assert.ok(matches(m, infoOf({ options: { 60: 'PXEClient:Arch:00007', 93: [0, 7] } })));
    assert.ok(!matches(m, infoOf({ options: { 60: 'PXEClient:Arch:00000', 93: [0, 0] } })));
    assert.ok(!matches(m, infoOf({ options: { 93: [0, 9] } })));
  });
  it('matches user class against any instance, framed or plain', () => {
    const m = compileMatch({ user_class: 'iPXE' });
    assert.ok(matches(m, infoOf({ options: { 77: 'iPXE' } })));
    assert.ok(matches(m, infoOf({ options: { 77: [3, 0x61, 0x62, 0x63, 4, ...Buffer.from('iPXE')] } })));
    assert.ok(!matches(m, infoOf({ options: { 77: 'other' } })));
  });
  it('matches circuit id as text glob or 0x hex, remote id likewise', () => {
    const rai = [1, 6, ...Buffer.from('ge-0/1'), 2, 2, 0xca, 0xfe];
    assert.ok(matches(compileMatch({ circuit_id: 'ge-0/*' }), infoOf({ options: { 82: rai } })));
    assert.ok(matches(compileMatch({ remote_id: '0xcafe' }), infoOf({ options: { 82: rai } })));
    assert.ok(!matches(compileMatch({ remote_id: '0xcaff' }), infoOf({ options: { 82: rai } })));
    assert.ok(!matches(compileMatch({ circuit_id: 'ge-0/*' }), infoOf({})), 'absent relay info never matches');
  });
  it('matches a MAC prefix in any notation', () => {
    assert.ok(matches(compileMatch({ mac_prefix: '52-54-00' }), infoOf({ mac: '52:54:00:01:02:03' })));
    assert.ok(!matches(compileMatch({ mac_prefix: '52:54:01' }), infoOf({ mac: '52:54:00:01:02:03' })));
  });
});

describe('classify', () => {
  const none: never[] = [];
  it('adds the built-in classes', () => {
    assert.deepEqual(classify(infoOf({ options: { 60: 'PXEClient:Arch:00000', 93: [0, 0] } }), none, undefined), ['PXE', 'BIOS']);
    assert.deepEqual(classify(infoOf({ options: { 60: 'PXEClient' } }), none, undefined), ['PXE', 'BIOS'], 'no arch: BIOS');
    assert.deepEqual(classify(infoOf({ options: { 60: 'PXEClient:Arch:00007', 93: [0, 7], 77: 'iPXE' } }), none, undefined), ['PXE', 'iPXE', 'UEFI']);
    for (const arch of [6, 7, 9, 10, 11, 16, 19]) assert.ok(classify(infoOf({ options: { 93: [0, arch] } }), none, undefined).includes('UEFI'), `arch ${arch}`);
    assert.deepEqual(classify(infoOf({}), none, undefined), []);
  });
  it('adds configured classes in order and reservation classes last, without duplicates', () => {
    const classes = [
      { name: 'rack-a', match: compileMatch({ mac_prefix: '52:54:00' }) },
      { name: 'nope', match: compileMatch({ vendor_class: 'x' }) },
      { name: 'UEFI', match: compileMatch({}) },
      { name: 'all', match: compileMatch({}) },
    ];
    assert.deepEqual(classify(infoOf({}), classes, ['vip', 'rack-a']), ['rack-a', 'all', 'vip']);
    assert.deepEqual(classify(infoOf({ options: { 93: [0, 9] } }), classes, undefined), ['UEFI', 'rack-a', 'all']);
  });
});

import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { TftpAccessControl, clientIpv4 } from '../../src/tftp/access.js';
import { parseIpv4 } from '../../src/net/ipv4.js';

describe('TftpAccessControl', () => {
  it('allows everyone with no lists; deny wins over allow', () => {
    assert.ok(new TftpAccessControl({ allow: [], deny: [], maxTransfers: 1 }).permits('10.1.2.3'));
    const a = new TftpAccessControl({ allow: ['10.0.0.0/8'], deny: ['10.66.0.0/16'], maxTransfers: 1 });
    assert.ok(a.permits('10.1.2.3'));
    assert.ok(!a.permits('10.66.1.1'));
    assert.ok(!a.permits('192.168.1.1'));
    assert.ok(a.permits('::ffff:10.1.2.3'), 'IPv4-mapped addresses are matched as IPv4');
    assert.ok(!a.permits('fe80::1'), 'an IPv6 client is not in an IPv4 allow list');
    assert.ok(!new TftpAccessControl({ allow: [], deny: ['10.0.0.0/8'], maxTransfers: 1 }).permits('fe80::1'), 'an IPv6 client cannot be checked against an IPv4 deny list: refused');
    assert.ok(new TftpAccessControl({ allow: [], deny: [], maxTransfers: 1 }).permits('fe80::1'), 'no lists: everyone');
  });

  it('rate-limits per client with a token bucket: burst, then the sustained rate', () => {
    const a = new TftpAccessControl({ allow: [], deny: [], maxTransfers: 1, rateLimit: { requests_per_second: 2, burst: 3 } });
    let t = 1000;
    assert.deepEqual([1, 2, 3, 4].map(() => a.takeToken('10.0.0.1', t)), [true, true, true, false]);
    assert.ok(a.takeToken('10.0.0.2', t), 'other clients have their own bucket');
    t += 499;
    assert.ok(!a.takeToken('10.0.0.1', t), 'less than one token refilled');
    t += 2;
    assert.ok(a.takeToken('10.0.0.1', t), 'one token after 500 ms at 2/s');
    t += 60_000;
    assert.deepEqual([1, 2, 3, 4].map(() => a.takeToken('10.0.0.1', t)), [true, true, true, false], 'refills to the burst, no more');
  });

  it('never limits without a rate and keeps the bucket table bounded under a flood of sources', () => {
    const open = new TftpAccessControl({ allow: [], deny: [], maxTransfers: 1 });
    for (let i = 0; i < 100; i++) assert.ok(open.takeToken('10.0.0.1', 0));
    const a = new TftpAccessControl({ allow: [], deny: [], maxTransfers: 1, rateLimit: { requests_per_second: 0.001, burst: 1 } });
    for (let i = 0; i < 25_000; i++) a.takeToken(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 0);
    assert.ok(a.trackedClients <= 10_000, String(a.trackedClients));
  });

  it('caps concurrent transfers and frees slots on release', () => {
    const a = new TftpAccessControl({ allow: [], deny: [], maxTransfers: 2 });
    assert.equal(a.acquire('10.0.0.1'), undefined);
    assert.equal(a.acquire('10.0.0.2'), undefined);
    assert.equal(a.acquire('10.0.0.3'), 'busy');
    assert.equal(a.active, 2);
    a.release('10.0.0.1');
    assert.equal(a.acquire('10.0.0.3'), undefined);
    a.configure({ allow: [], deny: [], maxTransfers: 5 });
    assert.equal(a.active, 2, 'reconfiguring keeps running transfers counted');
  });

  it('caps concurrent transfers per client IP address, so one address cannot hold every slot', () => {
    const a = new TftpAccessControl({ allow: [], deny: [], maxTransfers: 10, maxTransfersPerClient: 2 });
    assert.equal(a.acquire('10.0.0.1'), undefined);
    assert.equal(a.acquire('10.0.0.1'), undefined);
    assert.equal(a.acquire('10.0.0.1'), 'client_busy');
    assert.equal(a.acquire('10.0.0.2'), undefined, 'another client still gets a slot');
    a.release('10.0.0.1');
    assert.equal(a.acquire('10.0.0.1'), undefined);
    assert.equal(a.active, 3);
  });

  it('reads client addresses as IPv4 where they are', () => {
    assert.equal(clientIpv4('10.0.0.1'), parseIpv4('10.0.0.1'));
    assert.equal(clientIpv4('::ffff:10.0.0.1'), parseIpv4('10.0.0.1'));
    assert.equal(clientIpv4('2001:db8::1'), undefined);
  });
});

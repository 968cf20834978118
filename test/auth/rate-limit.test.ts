import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { LoginRateLimiter, sourceKey } from '../../src/auth/rate-limit.js';
import { T0, after } from './helpers.js';

describe('login rate limiter', () => {
  it('allows a burst of `capacity`, then one per refill interval, and says how long to wait', () => {
    const rl = new LoginRateLimiter({ capacity: 3, refillPerSecond: 0.5, maxKeys: 100 });
    for (let i = 0; i < 3; i++) assert.equal(rl.take('10.0.0.1', T0), 0);
    assert.equal(rl.take('10.0.0.1', T0), 2);
    assert.equal(rl.take('10.0.0.1', after(1)), 1);
    assert.equal(rl.take('10.0.0.1', after(2)), 0);
    assert.equal(rl.take('10.0.0.1', after(2)), 2);
    // Refill is capped at capacity however long the pause.
    for (let i = 0; i < 3; i++) assert.equal(rl.take('10.0.0.1', after(10_000)), 0);
    assert.ok(rl.take('10.0.0.1', after(10_000)) > 0);
  });

  it('keeps sources apart', () => {
    const rl = new LoginRateLimiter({ capacity: 1, refillPerSecond: 0.1, maxKeys: 100 });
    assert.equal(rl.take('10.0.0.1', T0), 0);
    assert.ok(rl.take('10.0.0.1', T0) > 0);
    assert.equal(rl.take('10.0.0.2', T0), 0);
  });

  it('stays within maxKeys, forgetting the least recently seen source', () => {
    const rl = new LoginRateLimiter({ capacity: 1, refillPerSecond: 0.001, maxKeys: 3 });
    rl.take('10.0.0.1', T0);
    rl.take('10.0.0.2', T0);
    rl.take('10.0.0.3', T0);
    assert.ok(rl.take('10.0.0.1', T0) > 0, '10.0.0.1 is now the most recent');
    for (let i = 0; i < 1000; i++) rl.take(`10.1.${i >> 8}.${i & 255}`, T0);
    assert.equal(rl.size, 3);
    const busy = new LoginRateLimiter({ capacity: 1, refillPerSecond: 0.001, maxKeys: 3 });
    busy.take('10.0.0.1', T0);
    busy.take('10.0.0.2', T0);
    busy.take('10.0.0.1', T0); // refreshes 10.0.0.1
    busy.take('10.0.0.3', T0);
    busy.take('10.0.0.4', T0); // evicts 10.0.0.2, the oldest
    assert.ok(busy.take('10.0.0.1', T0) > 0, 'recently seen source kept its empty bucket');
  });

  it('a clock that steps back mints no attempts', () => {
    const rl = new LoginRateLimiter({ capacity: 1, refillPerSecond: 1, maxKeys: 10 });
    assert.equal(rl.take('10.0.0.1', after(100)), 0);
    assert.ok(rl.take('10.0.0.1', T0) > 0);
    assert.ok(rl.take('10.0.0.1', after(100)) > 0);
    assert.equal(rl.take('10.0.0.1', after(101)), 0);
  });

  it('refuses nonsense options', () => {
    assert.throws(() => new LoginRateLimiter({ capacity: 0, refillPerSecond: 1, maxKeys: 1 }), RangeError);
    assert.throws(() => new LoginRateLimiter({ capacity: 1, refillPerSecond: 0, maxKeys: 1 }), RangeError);
    assert.throws(() => new LoginRateLimiter({ capacity: 1, refillPerSecond: 1, maxKeys: 0 }), RangeError);
  });

  it('keys IPv6 by /64 and IPv4-mapped IPv6 as IPv4', () => {
    assert.equal(sourceKey('192.0.2.7'), '192.0.2.7');
    assert.equal(sourceKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(sourceKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:db8:1:2:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(sourceKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(sourceKey('::1'), '0:0:0:0::/64');
    const rl = new LoginRateLimiter({ capacity: 1, refillPerSecond: 0.001, maxKeys: 10 });
    assert.equal(rl.take('2001:db8:1:2::1', T0), 0);
    assert.ok(rl.take('2001:db8:1:2::2', T0) > 0, 'same /64 shares a bucket');
    assert.equal(rl.take('2001:db8:1:3::1', T0), 0);
  });
});

import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePerfdhcpOutput } from '../../bench/lib/perfdhcp-output.js';
import { BenchErrorCode } from '../../bench/lib/errors.js';
import { parseUdpCounters } from '../../bench/lib/namespaces.js';

/** Fixtures stay in the source tree; the compiled test runs from dist/test/bench/. */
function fixture(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'test', 'bench', 'fixtures', name);
    if (existsSync(candidate)) return readFileSync(candidate, 'utf8');
    const up = dirname(dir);
    if (up === dir) throw new Error(`fixture ${name} not found`);
    dir = up;
  }
}

describe('parsePerfdhcpOutput', () => {
  it('reads a run with drops (Kea 2.2, offered 20000/s for 10 s, captured on this project\'s bench)', () => {
    const r = parsePerfdhcpOutput(fixture('perfdhcp-kea-20000rps.txt'));
    assert.deepEqual(r, {
      exchangesPerSecond: 19787.1,
      expectedRate: 20000,
      malformed: 0,
      discoverOffer: {
        sent: 199999,
        received: 198134,
        drops: 1865,
        dropsRatioPct: 0.932505,
        orphans: 0,
        rejectedLeases: 0,
        nonUniqueAddresses: 0,
        minDelayMs: 0.013,
        avgDelayMs: 0.246,
        maxDelayMs: 9.856,
        stdDevMs: 0.868,
        collected: 1089,
      },
      requestAck: {
        sent: 198134,
        received: 197981,
        drops: 153,
        dropsRatioPct: 0.077,
        orphans: 0,
        rejectedLeases: 0,
        nonUniqueAddresses: 0,
        minDelayMs: 0.019,
        avgDelayMs: 0.202,
        maxDelayMs: 8.45,
        stdDevMs: 0.719,
        collected: 45,
      },
    });
  });

  it('reads an overloaded run where perfdhcp offered twice what was answered', () => {
    const r = parsePerfdhcpOutput(fixture('perfdhcp-kea-40000rps.txt'));
    assert.equal(r.exchangesPerSecond, 12113.8);
    assert.equal(r.expectedRate, 40000);
    assert.equal(r.discoverOffer.sent, 385495);
    assert.equal(r.discoverOffer.drops, 213828);
    assert.equal(r.requestAck.sent, r.discoverOffer.received);
    assert.equal(r.requestAck.received, 121201);
    assert.equal(r.requestAck.avgDelayMs, 4.581);
  });

  it('reads a clean run below the knee', () => {
    const r = parsePerfdhcpOutput(fixture('perfdhcp-kea-3000rps.txt'));
    assert.equal(r.exchangesPerSecond, 2998.75);
    assert.equal(r.discoverOffer.drops, 0);
    assert.equal(r.requestAck.dropsRatioPct, 0);
    assert.equal(r.requestAck.received, 8999);
    assert.equal(r.requestAck.avgDelayMs, 0.035);
  });

  it('turns the garbled no-reply delay lines into nulls instead of numbers', () => {
    // perfdhcp prints "min delay: inf ms" then "avg delay: min delay: n/a" when nothing answered.
    const r = parsePerfdhcpOutput(fixture('perfdhcp-no-server.txt'));
    assert.equal(r.exchangesPerSecond, 0);
    assert.equal(r.discoverOffer.sent, 199);
    assert.equal(r.discoverOffer.received, 0);
    assert.equal(r.discoverOffer.drops, 199);
    assert.equal(r.discoverOffer.dropsRatioPct, 100);
    assert.equal(r.discoverOffer.minDelayMs, null);
    assert.equal(r.discoverOffer.avgDelayMs, null);
    assert.equal(r.discoverOffer.maxDelayMs, null);
    assert.equal(r.discoverOffer.stdDevMs, null);
    assert.equal(r.requestAck.sent, 0);
    assert.equal(r.requestAck.dropsRatioPct, null);
  });

  it('refuses output without the rate line, with a coded error', () => {
    const text = fixture('perfdhcp-kea-3000rps.txt').replace(/^Rate:.*$/m, '');
    assert.throws(() => parsePerfdhcpOutput(text), { code: BenchErrorCode.PERFDHCP_PARSE });
  });

  it('refuses output cut before the REQUEST-ACK section', () => {
    const full = fixture('perfdhcp-kea-3000rps.txt');
    const cut = full.slice(0, full.indexOf('***Statistics for: REQUEST-ACK***'));
    assert.throws(() => parsePerfdhcpOutput(cut), { code: BenchErrorCode.PERFDHCP_PARSE });
  });

  it('refuses a section whose packet counts are not numbers', () => {
    const text = fixture('perfdhcp-kea-3000rps.txt').replace('received packets: 8999', 'received packets: lots');
    assert.throws(() => parsePerfdhcpOutput(text), { code: BenchErrorCode.PERFDHCP_PARSE });
  });

  it('refuses an empty string (perfdhcp killed before it printed anything)', () => {
    assert.throws(() => parsePerfdhcpOutput(''), { code: BenchErrorCode.PERFDHCP_PARSE });
  });
});

describe('parseUdpCounters (where the bench looks for socket overflows)', () => {
  const snmp = [
    'Icmp: InMsgs InErrors InCsumErrors',
    'Icmp: 0 0 0',
    'Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors',
    'Udp: 100327 0 141737 100330 141737 0 0 0 0',
    'UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors',
    'UdpLite: 0 0 0 0 0 0 0 0 0',
  ].join('\n');

  it('takes the Udp line by column name, not UdpLite', () => {
    assert.deepEqual(parseUdpCounters(snmp), { inDatagrams: 100327, rcvbufErrors: 141737, sndbufErrors: 0 });
  });

  it('gives undefined when the Udp lines are missing', () => {
    assert.equal(parseUdpCounters('Ip: Forwarding\nIp: 1\n'), undefined);
  });
});

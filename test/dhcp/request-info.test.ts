import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { extractRequestInfo, parseUserClasses } from '../../src/dhcp/request-info.js';
import { ip, ipBytes, request } from '../helpers/memory-lease-view.js';

describe('extractRequestInfo', () => {
  it('reads the message type, identity and addresses', () => {
    const info = extractRequestInfo(request(3, {
      mac: '52:54:00:AA:bb:01',
      options: { 61: [1, 0x52, 0x54, 0, 0xaa, 0xbb, 1], 50: ipBytes('10.0.0.7'), 54: ipBytes('10.0.0.254'), 55: [1, 3, 6], 57: [0x05, 0xdc], 12: 'host-1', 60: 'PXEClient:Arch:00007:UNDI:003016', 93: [0, 7, 0, 9] },
    }));
    assert.equal(info.messageType, 3);
    assert.equal(info.mac, '52:54:00:aa:bb:01');
    assert.equal(info.clientId, '01525400aabb01');
    assert.equal(info.clientKey, 'id:01525400aabb01');
    assert.equal(info.requestedIp, ip('10.0.0.7'));
    assert.equal(info.serverId, ip('10.0.0.254'));
    assert.deepEqual([...(info.prl ?? [])], [1, 3, 6]);
    assert.equal(info.maxMessageSize, 1500);
    assert.equal(info.hostname, 'host-1');
    assert.equal(info.vendorClass, 'PXEClient:Arch:00007:UNDI:003016');
    assert.equal(info.clientArch, 7, 'first architecture of the list');
    assert.equal(info.ipxe, false);
  });

  it('falls back to the hardware address as key and zeroes for absent values', () => {
    const info = extractRequestInfo(request(1));
    assert.equal(info.clientKey, 'hw:52:54:00:12:34:56');
    assert.equal(info.clientId, '');
    assert.equal(info.requestedIp, 0);
    assert.equal(info.serverId, 0);
    assert.equal(info.maxMessageSize, 0);
    assert.equal(info.clientArch, -1);
    assert.equal(info.prl, undefined);
  });

  it('marks an absent message type 0 and a malformed one -1; malformed 50/57 read as absent', () => {
    assert.equal(extractRequestInfo(request(undefined)).messageType, 0);
    const bad = extractRequestInfo(request(undefined, { options: { 53: [1, 3], 50: [10, 0, 0], 57: [2] } }));
    assert.equal(bad.messageType, -1);
    assert.equal(bad.requestedIp, 0);
    assert.equal(bad.maxMessageSize, 0);
  });

  it('recognises iPXE by plain user class, framed user class, or option 175', () => {
    assert.equal(extractRequestInfo(request(1, { options: { 77: 'iPXE' } })).ipxe, true);
    assert.equal(extractRequestInfo(request(1, { options: { 77: [4, ...Buffer.from('iPXE')] } })).ipxe, true);
    assert.equal(extractRequestInfo(request(1, { options: { 175: [0xb1, 1, 1] } })).ipxe, true);
    assert.equal(extractRequestInfo(request(1, { options: { 77: 'gPXE' } })).ipxe, false);
  });

  it('reads relay agent sub-options and subnet selection', () => {
    const rai = [1, 3, ...Buffer.from('eth'), 2, 2, 0xde, 0xad, 5, 4, ...ipBytes('10.2.0.0'), 11, 4, ...ipBytes('10.9.9.9'), 9, 9, 1];
    const info = extractRequestInfo(request(1, { options: { 82: rai, 118: ipBytes('10.3.0.0') } }));
    assert.deepEqual(Buffer.from(info.circuitId ?? []).toString(), 'eth');
    assert.deepEqual([...(info.remoteId ?? [])], [0xde, 0xad]);
    assert.equal(info.linkSelection, ip('10.2.0.0'));
    assert.equal(info.serverIdOverride, ip('10.9.9.9'));
    assert.equal(info.subnetSelection, ip('10.3.0.0'));
    assert.deepEqual([...(info.relayAgentInfo ?? [])], rai, 'kept whole, truncated trailing sub-option included');
  });

  it('uses hlen octets of chaddr for the MAC', () => {
    const info = extractRequestInfo(request(1, { hlen: 0, options: { 61: [0xff, 1] } }));
    assert.equal(info.mac, '');
    assert.equal(info.clientKey, 'id:ff01');
  });
});

describe('parseUserClasses', () => {
  it('splits RFC 3004 framing', () => {
    assert.deepEqual(parseUserClasses(new Uint8Array([4, ...Buffer.from('iPXE'), 3, ...Buffer.from('abc')])), ['iPXE', 'abc']);
  });
  it('takes unframed bytes whole', () => {
    assert.deepEqual(parseUserClasses(Buffer.from('iPXE')), ['iPXE']);
    assert.deepEqual(parseUserClasses(new Uint8Array([3, 0x61, 0x62])), ['\u0003ab'], 'length past the end: plain');
    assert.deepEqual(parseUserClasses(new Uint8Array([0, 0x61])), ['\u0000a'], 'zero length is not valid framing');
  });
  it('returns no classes for an absent or empty option', () => {
    assert.deepEqual(parseUserClasses(undefined), []);
    assert.deepEqual(parseUserClasses(new Uint8Array(0)), []);
  });
});

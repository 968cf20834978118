/**
 * A boot storm: 500 clients ask dcplane's TFTP server for the same boot file
 * at once, each on its own socket (a raw Node client, many transfers in one
 * process inside the client namespace). Every one must finish with the right
 * SHA-256: a PXE ROM that gives up is a machine that does not boot.
 *
 * DCPLANE_E2E_TFTP_SERVER=tftpd-hpa runs it against tftpd-hpa instead.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Topology } from '../helpers/netns.js';
import { createTopology, netnsSkipReason } from '../helpers/netns.js';
import { sha256 } from '../helpers/tftp-clients.js';
import type { TftpServerHandle } from '../helpers/tftp-servers.js';
import { makeTftpRoot, removeTftpRoot, startTftpServer, tftpServerKind, writeRootFile } from '../helpers/tftp-servers.js';
import { stormInNamespace } from '../helpers/tftp-storm.js';

const SERVER_IP = '10.62.0.1';
const CLIENT_IP = '10.62.0.2';
const CLIENTS = 500;
const kind = tftpServerKind();
// 1 MiB and a bit, so the last block is short and every transfer crosses many windows.
const bootFile = randomBytes(1024 * 1024 + 77);

let topo: Topology;
let server: TftpServerHandle;
let root: string;

describe(`TFTP storm (${kind}): ${CLIENTS} concurrent clients`, { skip: netnsSkipReason(), timeout: 120_000 }, () => {
  before(async () => {
    topo = await createTopology({
      namespaces: ['srv', 'cli'],
      links: [{ name: 'l', a: { ns: 'srv', cidr: `${SERVER_IP}/24` }, b: { ns: 'cli', cidr: `${CLIENT_IP}/24` } }],
    });
    root = makeTftpRoot();
    writeRootFile(root, 'boot.bin', bootFile);
    server = await startTftpServer(topo, 'srv', kind, { address: SERVER_IP, root, maxBlksize: 1468, maxWindowsize: 64 });
  });

  after(async () => {
    await server?.stop();
    await topo?.destroy();
    if (root !== undefined) removeTftpRoot(root);
  });

  test(`${CLIENTS} clients at blksize 1468 all get the boot file intact`, async () => {
    const s = await stormInNamespace(topo.netns('cli'), {
      server: SERVER_IP,
      files: ['boot.bin'],
      clients: CLIENTS,
      blksize: 1468,
      tsize: true,
      // As PXE ROMs do: a few seconds of patience per packet, several tries.
      retransmitMs: 1000,
      retries: 8,
    });
    const summary = `${s.ok}/${s.clients} ok in ${(s.wallMs / 1000).toFixed(2)} s, p50 ${s.durationMs.p50.toFixed(0)} ms, p95 ${s.durationMs.p95.toFixed(0)} ms, client retransmits ${s.retransmits}, errors ${JSON.stringify(s.errors)}`;
    process.stderr.write(`# storm (${kind}): ${summary}; per second ${JSON.stringify(s.completionsPerSecond)}\n`);
    assert.equal(s.ok, CLIENTS, `${summary}\n--- server log tail ---\n${server.logText().slice(-3000)}`);
    assert.deepEqual(s.hashes, { [sha256(bootFile)]: CLIENTS });
    assert.equal(s.bytes, CLIENTS * bootFile.length);
  });

  test(`${CLIENTS} clients with windowsize 16 all get the boot file intact`, async () => {
    const s = await stormInNamespace(topo.netns('cli'), {
      server: SERVER_IP,
      files: ['boot.bin'],
      clients: CLIENTS,
      blksize: 1468,
      windowsize: 16,
      retransmitMs: 1000,
      retries: 8,
    });
    const summary = `${s.ok}/${s.clients} ok in ${(s.wallMs / 1000).toFixed(2)} s, p95 ${s.durationMs.p95.toFixed(0)} ms, client retransmits ${s.retransmits}, errors ${JSON.stringify(s.errors)}`;
    process.stderr.write(`# storm windowsize 16 (${kind}): ${summary}\n`);
    assert.equal(s.ok, CLIENTS, `${summary}\n--- server log tail ---\n${server.logText().slice(-3000)}`);
    assert.deepEqual(s.hashes, { [sha256(bootFile)]: CLIENTS });
  });
});

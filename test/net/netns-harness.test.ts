import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { NETNS_PREFIX, createTopology, listNetns, netnsSkipReason } from '../helpers/netns.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Runs a script that uses the harness in a child node process; resolves with the child and its first stdout line. */
function harnessChild(body: string): Promise<{ child: ReturnType<typeof spawn>; firstLine: string }> {
  const ts = import.meta.url.endsWith('.ts');
  const harness = new URL(`../helpers/netns.${ts ? 'ts' : 'js'}`, import.meta.url).href;
  const script = `import { createTopology } from ${JSON.stringify(harness)};\n${body}`;
  const child = spawn(process.execPath, [...(ts ? ['--import', import.meta.resolve('tsx')] : []), '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    if (child.stdout === null) return reject(new Error('no stdout'));
    createInterface({ input: child.stdout }).once('line', (firstLine) => resolve({ child, firstLine }));
    child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
  });
}

function exited(child: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

describe('network namespace harness', { skip: netnsSkipReason() }, () => {
  test('builds namespaces and veths with addresses, MACs and lo up, only inside the namespaces', async () => {
    const topo = await createTopology({
      namespaces: ['srv', 'cli'],
      links: [{ name: 'l', a: { ns: 'srv', cidr: '10.93.0.1/24', mac: '02:00:00:93:00:01' }, b: { ns: 'cli', name: 'eth1', cidr: '10.93.0.2/24' } }],
      routes: [{ ns: 'cli', to: '10.94.0.0/16', via: '10.93.0.1' }],
    });
    try {
      assert.ok(topo.id.startsWith(NETNS_PREFIX));
      const a = topo.end('l', 'a');
      assert.ok(a.ifname.length <= 15);
      assert.equal(a.ip, '10.93.0.1');
      const srvAddr = await topo.exec('srv', 'ip', ['-o', 'addr', 'show', 'dev', a.ifname]);
      assert.match(srvAddr.stdout, /inet 10\.93\.0\.1\/24/);
      const srvLink = await topo.exec('srv', 'ip', ['link', 'show', 'dev', a.ifname]);
      assert.match(srvLink.stdout, /link\/ether 02:00:00:93:00:01/);
      assert.match(srvLink.stdout, /state UP/);
      const lo = await topo.exec('cli', 'ip', ['link', 'show', 'lo']);
      assert.match(lo.stdout, /UP/);
      const route = await topo.exec('cli', 'ip', ['route', 'show', '10.94.0.0/16']);
      assert.match(route.stdout, /via 10\.93\.0\.1 dev eth1/);
      // The two ends reach each other.
      const echo = await topo.exec('cli', process.execPath, [
        '-e',
        `const s = require('node:dgram').createSocket('udp4'); s.send('x', 9, '10.93.0.1', (e) => { console.log(e ? e.code : 'sent'); s.close(); });`,
      ]);
      assert.equal(echo.stdout.trim(), 'sent');
      // Nothing of it in the host's namespace.
      const host = await import('node:child_process').then((cp) => cp.execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }));
      assert.ok(!host.includes(topo.id), 'no interface of the topology in the host namespace');
      await topo.setMac('cli', 'eth1', '02:00:00:93:00:02');
      assert.match((await topo.exec('cli', 'ip', ['link', 'show', 'eth1'])).stdout, /02:00:00:93:00:02/);
    } finally {
      await topo.destroy();
    }
  });

  test('exec reports failures and timeouts', async () => {
    const topo = await createTopology({ namespaces: ['x'] });
    try {
      await assert.rejects(topo.exec('x', 'false'));
      const fail = await topo.exec('x', 'sh', ['-c', 'echo oops >&2; exit 3'], { allowFail: true });
      assert.deepEqual({ code: fail.code, stderr: fail.stderr.trim(), timedOut: fail.timedOut }, { code: 3, stderr: 'oops', timedOut: false });
      const slow = await topo.exec('x', 'sleep', ['5'], { timeoutMs: 200, allowFail: true });
      assert.equal(slow.timedOut, true);
    } finally {
      await topo.destroy();
    }
  });

  test('destroy removes the namespaces and kills what runs in them, spawned or daemonised', async () => {
    const topo = await createTopology({ namespaces: ['a', 'b'], links: [{ name: 'l', a: { ns: 'a' }, b: { ns: 'b' } }] });
    const child = topo.spawn('a', 'sleep', ['1000']);
    const daemon = await topo.exec('b', 'sh', ['-c', 'sleep 1000 >/dev/null 2>&1 & echo $!']);
    const daemonPid = Number(daemon.stdout.trim());
    assert.ok(alive(daemonPid));
    assert.equal(listNetns().filter((n) => n.startsWith(topo.id)).length, 2);
    await topo.destroy();
    await topo.destroy();
    assert.deepEqual(
      listNetns().filter((n) => n.startsWith(topo.id)),
      [],
    );
    await exited(child);
    await waitUntil(() => !alive(daemonPid), 2000);
  });

  test('a process that exits, or is terminated, without destroy() leaves no namespace behind', async () => {
    const quits = await harnessChild(`const t = await createTopology({ namespaces: ['q'] }); console.log(t.id); process.exit(0);`);
    await exited(quits.child);
    assert.deepEqual(
      listNetns().filter((n) => n.startsWith(quits.firstLine)),
      [],
    );

    const waits = await harnessChild(`const t = await createTopology({ namespaces: ['w'] }); console.log(t.id); setInterval(() => {}, 1000);`);
    assert.equal(listNetns().filter((n) => n.startsWith(waits.firstLine)).length, 1);
    waits.child.kill('SIGTERM');
    await exited(waits.child);
    assert.equal(waits.child.signalCode, 'SIGTERM');
    assert.deepEqual(
      listNetns().filter((n) => n.startsWith(waits.firstLine)),
      [],
    );
  });

  test('namespaces of a run killed with -9 are swept by the next run', async () => {
    const victim = await harnessChild(`const t = await createTopology({ namespaces: ['k'] }); console.log(t.id); setInterval(() => {}, 1000);`);
    victim.child.kill('SIGKILL');
    await exited(victim.child);
    assert.equal(listNetns().filter((n) => n.startsWith(victim.firstLine)).length, 1, 'kill -9 runs no cleanup');
    const next = await harnessChild(`const t = await createTopology({ namespaces: ['n'] }); console.log(t.id); process.exit(0);`);
    await exited(next.child);
    assert.deepEqual(
      listNetns().filter((n) => n.startsWith(victim.firstLine) || n.startsWith(next.firstLine)),
      [],
    );
  });
});

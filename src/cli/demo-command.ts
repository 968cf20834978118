import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { packageRoot } from '../common/package-root.js';
import { simulateClients } from '../dhcp/client-simulator.js';

const SRV_NS = 'dcplane-demo-srv';
const CLI_NS = 'dcplane-demo-cli';
const SRV_IF = 'dcpdemo-s';
const CLI_IF = 'dcpdemo-c';

function ip(args: string[], allowFail = false): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}`);
}

function teardown(): void {
  ip(['netns', 'del', SRV_NS], true);
  ip(['netns', 'del', CLI_NS], true);
}

/** Two private namespaces joined by a veth pair: nothing here touches the machine's own networks. */
function buildNetwork(): void {
  teardown();
  ip(['netns', 'add', SRV_NS]);
  ip(['netns', 'add', CLI_NS]);
  ip(['link', 'add', SRV_IF, 'netns', SRV_NS, 'type', 'veth', 'peer', 'name', CLI_IF, 'netns', CLI_NS]);
  ip(['-n', SRV_NS, 'addr', 'add', '10.213.0.1/24', 'dev', SRV_IF]);
  for (const [ns, dev] of [[SRV_NS, SRV_IF], [CLI_NS, CLI_IF]] as const) {
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['-n', ns, 'link', 'set', dev, 'up']);
  }
}

function waitForLine(child: ChildProcess, needle: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`dcplane did not log "${needle}" within ${ms} ms:\n${seen.slice(-2000)}`)), ms);
    const onData = (d: Buffer): void => {
      seen += d.toString();
      if (seen.includes(needle)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dcplane exited (${code}) before it was ready:\n${seen.slice(-2000)}`));
    });
  });
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Watch dcplane hand out leases: builds two private network namespaces, serves DHCP in one and runs simulated clients in the other, then removes them (needs root)')
    .option('-n, --clients <n>', 'how many simulated clients', '20')
    .option('--keep', 'leave the namespaces and server running until Ctrl-C')
    .action(async (opts: { clients: string; keep?: boolean }) => {
      const clients = Number(opts.clients);
      if (!Number.isInteger(clients) || clients < 1 || clients > 5000) throw new Error('--clients: give a number from 1 to 5000');
      if (process.getuid?.() !== 0) {
        throw new Error('the demo builds network namespaces, which needs root: run `sudo npx dcplane demo` (nothing outside the demo\'s own namespaces is touched)');
      }
      const dataDir = mkdtempSync(join(tmpdir(), 'dcplane-demo-'));
      const configFile = join(dataDir, 'dcplane.json');
      writeFileSync(
        configFile,
        JSON.stringify(
          {
            data_dir: dataDir,
            api: { listen: '127.0.0.1:8080' },
            dhcp: {
              enabled: true,
              interfaces: [SRV_IF],
              lease_time: 600,
              subnets: [
                {
                  id: 1,
                  subnet: '10.213.0.0/24',
                  pools: ['10.213.0.100-10.213.0.199'],
                  routers: ['10.213.0.1'],
                  dns_servers: ['10.213.0.1'],
                  domain_name: 'demo.dcplane.test',
                },
              ],
            },
          },
          null,
          2,
        ),
      );
      let server: ChildProcess | undefined;
      const cleanup = (): void => {
        server?.kill('SIGTERM');
        teardown();
      };
      process.once('SIGINT', () => {
        cleanup();
        process.exit(130);
      });
      try {
        process.stdout.write(`demo: building namespaces ${SRV_NS} and ${CLI_NS} (10.213.0.0/24, private to this demo)\n`);
        buildNetwork();
        const bin = join(packageRoot(), 'bin', 'dcplane');
        server = spawn('ip', ['netns', 'exec', SRV_NS, process.execPath, bin, 'serve', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
        await waitForLine(server, 'dhcp ready', 15000);
        process.stdout.write(`demo: dcplane serves DHCP on ${SRV_IF} in ${SRV_NS}; config ${configFile}\n`);
        const simulator = spawn(
          'ip',
          ['netns', 'exec', CLI_NS, process.execPath, bin, 'dhcp', 'simulate', '--interface', CLI_IF, '--clients', String(clients)],
          { stdio: ['ignore', 'inherit', 'inherit'] },
        );
        const code = await new Promise<number | null>((resolve) => simulator.once('exit', resolve));
        if (code !== 0) process.exitCode = 1;
        process.stdout.write('\ndemo: the lease store now holds:\n');
        spawnSync(process.execPath, [bin, 'leases', 'list', '--data-dir', dataDir], { stdio: 'inherit' });
        if (opts.keep === true) {
          process.stdout.write(`demo: still running; try \`sudo ip netns exec ${CLI_NS} udhcpc -i ${CLI_IF} -n -q -f\`. Ctrl-C to stop and clean up.\n`);
          await new Promise(() => undefined);
        }
      } finally {
        cleanup();
        if (opts.keep !== true) rmSync(dataDir, { recursive: true, force: true });
      }
    });

  const dhcp = program.command('dhcp').description('DHCP tools');
  dhcp
    .command('simulate')
    .description('Run simulated DHCP clients (DISCOVER/OFFER/REQUEST/ACK, distinct MACs) on one interface. Sends DHCP broadcasts on that interface: use it on test networks only')
    .requiredOption('-i, --interface <name>', 'interface to send on (needs root to bind port 68)')
    .option('-n, --clients <n>', 'how many clients', '10')
    .option('--concurrency <n>', 'clients in flight at once', '8')
    .action(async (opts: { interface: string; clients: string; concurrency: string }) => {
      const clients = Number(opts.clients);
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(clients) || clients < 1) throw new Error('--clients: give a positive number');
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('--concurrency: give a positive number');
      const started = Date.now();
      let failed = 0;
      const leases = await simulateClients({
        iface: opts.interface,
        clients,
        concurrency,
        onLease: (l) => process.stdout.write(`  ${l.mac}  got ${l.ip.padEnd(15)} from ${l.serverId}  lease ${l.leaseTime}s  (${l.ms} ms)\n`),
        onFailure: (mac, why) => {
          failed++;
          process.stdout.write(`  ${mac}  FAILED: ${why}\n`);
        },
      });
      process.stdout.write(`${leases.length} of ${clients} clients got a lease in ${Date.now() - started} ms${failed > 0 ? `, ${failed} failed` : ''}\n`);
      if (failed > 0) process.exitCode = 1;
    });
}

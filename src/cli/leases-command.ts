import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, defaultConfig, loadConfigFile } from '../config/load.js';
import { maskUrl } from '../db/postgres/connect.js';
import { leaseToJson } from '../http/api.js';
import { openLeaseStore } from '../dhcp/lease-store/open-lease-store.js';
import { PG_LEASE_TABLE } from '../dhcp/lease-store/postgres-lease-store.js';
import { LEASE_DB_FILE } from '../dhcp/lease-store/sqlite-lease-store.js';
import { formatIpv4 } from '../net/ipv4.js';

interface LeasesListOptions {
  readonly subnet?: string;
  readonly state?: string;
  readonly json?: boolean;
  readonly config?: string;
  readonly dataDir?: string;
}

/**
 * Where the lease store of `database` lives, for messages: the SQLite file in
 * the data directory, or the lease table in the PostgreSQL database (its URL
 * with the password masked); the data directory plays no part then.
 */
export function leaseStoreLocation(database: string, dataDir: string): string {
  const db = database.trim();
  if (db === '' || db === 'sqlite') return join(dataDir, LEASE_DB_FILE);
  return `table ${PG_LEASE_TABLE} of PostgreSQL ${maskUrl(db)}`;
}

export function registerLeases(program: Command): void {
  const leases = program.command('leases').description('Inspect DHCP leases');
  leases
    .command('list')
    .description('List leases from the lease store of the configuration (the data directory\'s SQLite file, or PostgreSQL); safe while the server runs')
    .option('-s, --subnet <id>', 'only leases of this subnet id')
    .option('--state <state>', 'only leases in this state (offered, active, released, expired, declined)')
    .option('--json', 'print JSON (one array) instead of a table')
    .option('-c, --config <file>', 'configuration file (for data_dir and database)')
    .option('-d, --data-dir <dir>', 'data directory of a SQLite lease store (default: data_dir of the configuration, or ./data)')
    .action(async (opts: LeasesListOptions) => {
      let subnet: number | undefined;
      if (opts.subnet !== undefined) {
        subnet = Number(opts.subnet);
        if (!Number.isInteger(subnet) || subnet < 1) throw new Error(`--subnet: "${opts.subnet}" is not a subnet id (a positive integer)`);
      }
      let config;
      try {
        config = opts.config !== undefined ? await loadConfigFile(opts.config) : defaultConfig();
      } catch (err) {
        if (err instanceof ConfigError) throw new Error(`${opts.config}: invalid configuration; run \`dcplane config check ${opts.config}\``, { cause: err });
        throw err;
      }
      const dataDir = resolve(opts.dataDir ?? config.data_dir);
      const store = await openLeaseStore({ dataDir, database: config.database, readOnly: true });
      try {
        const rows = [...store.all()]
          .filter((l) => (subnet === undefined || l.subnetId === subnet) && (opts.state === undefined || l.state === opts.state) && l.state !== 'offered')
          .sort((a, b) => a.subnetId - b.subnetId || a.ip - b.ip);
        if (opts.json === true) {
          process.stdout.write(`${JSON.stringify(rows.map(leaseToJson), null, 2)}\n`);
          return;
        }
        if (rows.length === 0) {
          process.stdout.write(`no leases${subnet !== undefined ? ` in subnet ${subnet}` : ''} in ${leaseStoreLocation(config.database, dataDir)}\n`);
          return;
        }
        const table = rows.map((l) => [
          formatIpv4(l.ip), String(l.subnetId), l.mac, l.hostname, l.state, new Date(l.expires * 1000).toISOString().replace('.000Z', 'Z'),
        ]);
        const head = ['IP', 'SUBNET', 'MAC', 'HOSTNAME', 'STATE', 'EXPIRES'];
        const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => (r[i] ?? '').length)));
        const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
        process.stdout.write(`${line(head)}\n${table.map(line).join('\n')}\n${rows.length} lease(s)\n`);
      } finally {
        await store.close();
      }
    });
}

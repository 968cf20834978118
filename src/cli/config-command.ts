import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigError, loadConfigFile } from '../config/load.js';
import { formatProblem } from '../config/validate.js';
import { schemaPath } from '../config/schema-path.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('Validate configuration files and show the schema');

  config
    .command('check')
    .description('Validate a configuration file; lists every problem by its path and exits 1 if there is any')
    .argument('<file>', 'configuration file (JSON)')
    .action(async (file: string) => {
      try {
        const c = await loadConfigFile(file);
        const subnets = (c.dhcp.subnets?.length ?? 0) + (c.dhcp.shared_networks ?? []).reduce((n, s) => n + s.subnets.length, 0);
        process.stdout.write(`${file}: OK (dhcp ${c.dhcp.enabled ? `enabled on ${(c.dhcp.interfaces ?? []).join(', ')}` : 'disabled'}, ${subnets} subnet(s); tftp ${c.tftp.enabled ? 'enabled' : 'disabled'})\n`);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`${file}: ${err.problems.length === 0 ? err.message : `${err.problems.length} problem(s)`}\n`);
          for (const p of err.problems) process.stderr.write(`  ${formatProblem(p)}\n`);
          process.exitCode = 1;
          return;
        }
        throw err;
      }
    });

  config
    .command('schema')
    .description('Print the JSON Schema that configuration files are validated against')
    .action(() => {
      process.stdout.write(readFileSync(schemaPath(), 'utf8'));
    });
}

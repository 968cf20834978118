import { Command, CommanderError } from 'commander';
import { registerConfig } from './config-command.js';
import { registerLeases } from './leases-command.js';
import { registerServe } from './serve-command.js';
import { registerDemo } from './demo-command.js';
import { registerImport } from './import-command.js';
import { VERSION } from '../version.js';

/** Builds the command tree; every command has --help (commander adds it). */
export function buildProgram(): Command {
  const program = new Command('dcplane')
    .description('Datacenter network-boot services (DHCP, TFTP, PXE) and inventory')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  dcplane serve                               start with embedded defaults (API on 127.0.0.1:8080, DHCP off)
  dcplane serve --config /etc/dcplane.json    start every service the file enables
  dcplane config check /etc/dcplane.json      validate a configuration, listing every problem
  dcplane leases list --subnet 1              show the leases of subnet 1
  dcplane import servers servers.csv          import servers into a running dcplane (all or nothing, with a progress bar)
  sudo dcplane demo                           watch leases being handed out to simulated clients in a private network namespace`,
    );
  // Sub-commands are made with program.command() so they inherit exitOverride and help settings.
  program.exitOverride();
  registerServe(program);
  registerConfig(program);
  registerLeases(program);
  registerDemo(program);
  registerImport(program);
  return program;
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    process.stderr.write(`dcplane: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

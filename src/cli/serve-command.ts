import type { Command } from 'commander';
import { Dcplane } from '../app.js';
import { createLogger } from '../common/logger.js';
import { configReloadsCounter } from '../common/metrics.js';
import type { ResolvedConfig } from '../config/defaults.js';
import { ConfigError, defaultConfig, loadConfigFile } from '../config/load.js';
import { formatProblem } from '../config/validate.js';
import { onDhcpFatal } from '../dhcp/server.js';

interface ServeOptions {
  readonly config?: string;
  readonly dataDir?: string;
}

async function load(opts: ServeOptions): Promise<ResolvedConfig> {
  const c = opts.config !== undefined ? await loadConfigFile(opts.config) : defaultConfig();
  return opts.dataDir !== undefined ? Object.freeze({ ...c, data_dir: opts.dataDir }) : c;
}

function problemsText(err: ConfigError): string {
  return err.problems.length === 0 ? err.message : err.problems.map((p) => `  ${formatProblem(p)}`).join('\n');
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Start every service the configuration enables (without --config: embedded defaults, API only, DHCP off)')
    .option('-c, --config <file>', 'configuration file (JSON); SIGHUP reloads it')
    .option('-d, --data-dir <dir>', 'data directory (overrides data_dir in the configuration)')
    .action(async (opts: ServeOptions) => {
      let config: ResolvedConfig;
      try {
        config = await load(opts);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`dcplane: configuration refused, nothing started:\n${problemsText(err)}\n`);
          process.exitCode = 1;
          return;
        }
        throw err;
      }
      const logger = createLogger(config.log.level);
      // SIGHUP's default action ends the process: a reload sent while the services are still starting
      // (systemd's ExecReload, a config-management run) must not kill it, so the handler is in place first
      // and a SIGHUP that arrives during start is applied once everything runs.
      let hupDuringStart = false;
      let onHup = (): void => {
        hupDuringStart = true;
      };
      process.on('SIGHUP', () => onHup());
      // The same for SIGTERM and SIGINT: one that arrives while starting stops dcplane cleanly once the start
      // is done (sockets closed, lease writes flushed), instead of killing it half-started.
      let stopDuringStart: string | undefined;
      let onStop = (signal: string): void => {
        stopDuringStart ??= signal;
      };
      process.on('SIGTERM', () => onStop('SIGTERM'));
      process.on('SIGINT', () => onStop('SIGINT'));
      let app: Dcplane;
      try {
        app = await Dcplane.start(config, logger);
      } catch (err) {
        logger.fatal({ err }, 'dcplane failed to start');
        process.exitCode = 1;
        return;
      }
      if (opts.config === undefined) {
        logger.info('running with embedded defaults: no DHCP is served. Give --config FILE to serve DHCP on named interfaces (examples/dcplane.example.json), or run `dcplane demo` as root to watch it work in a private network namespace');
      }

      const reloads = configReloadsCounter(app.registry);
      let reloading = Promise.resolve();
      onHup = (): void => {
        reloading = reloading.then(async () => {
          if (opts.config === undefined) {
            logger.warn('SIGHUP ignored: no --config file to reload');
            return;
          }
          try {
            const next = await load(opts);
            await app.reload(next);
            reloads.inc({ result: 'applied' });
            logger.info({ file: opts.config }, 'configuration reloaded');
          } catch (err) {
            reloads.inc({ result: 'refused' });
            const detail = err instanceof ConfigError ? problemsText(err) : err instanceof Error ? err.message : String(err);
            logger.error({ file: opts.config, problems: err instanceof ConfigError ? err.problems : undefined }, `configuration reload refused; the running configuration stays in force:\n${detail}`);
          }
        });
      };
      if (hupDuringStart) onHup();

      await new Promise<void>((resolveStop) => {
        let stopping = false;
        const stop = (signal: string): void => {
          if (stopping) return;
          stopping = true;
          logger.info({ signal }, 'stopping');
          app.stop().then(
            () => resolveStop(),
            (err: unknown) => {
              logger.error({ err }, 'error while stopping');
              resolveStop();
            },
          );
        };
        onStop = stop;
        if (stopDuringStart !== undefined) stop(stopDuringStart);
        // A DHCP service that can no longer write leases must not linger half-alive:
        // stop cleanly and exit non-zero so that systemd or Kubernetes restarts the process.
        onDhcpFatal(() => {
          process.exitCode = 1;
          stop('dhcp-fatal');
        });
      });
    });
}

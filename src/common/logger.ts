import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger };

/**
 * The process logger: JSON lines on stdout (pino), one field per fact so that
 * log pipelines can index them. `DCPLANE_LOG_LEVEL` overrides the configured level.
 */
export function createLogger(level: string = 'info'): Logger {
  return pino({
    level: process.env['DCPLANE_LOG_LEVEL'] ?? level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

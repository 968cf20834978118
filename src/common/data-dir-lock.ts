import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DcplaneError } from './errors.js';

export const LOCK_FILE = 'dcplane.pid';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims the data directory for this process with a pid file. Two servers on
 * one data directory would each keep their own view of the leases and hand
 * out the same address twice; a pid left by a killed process is taken over.
 */
export function lockDataDir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new DcplaneError(
          'DATA_ERR_LOCKED',
          `data directory ${dir} is in use by another dcplane (pid ${pid}); stop it, or give this one another --data-dir (if no such process runs, delete ${path})`,
        );
      }
      unlinkSync(path); // stale: its process is gone
    }
  }
  throw new DcplaneError('DATA_ERR_LOCKED', `could not claim ${path}`);
}

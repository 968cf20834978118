import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Topology } from './namespaces.js';
import { removeTopology } from './namespaces.js';

/**
 * What a bench's exit paths must undo besides its running children: the
 * namespaces and the temp dirs. Installed once per run; a signal stops the
 * run (`stopping`), lets `drain` stop servers politely when given, then
 * removes everything and exits 130/143.
 */
export class BenchCleanup {
  topology: Topology | undefined;
  /** Set by a signal: no further server is started while the exit path runs. */
  stopping = false;
  private readonly dirs = new Set<string>();
  /** Undo steps (a host setting put back), run once by `now()`, last registered first. */
  private readonly undo: (() => void)[] = [];

  constructor(
    private readonly children: () => Iterable<ChildProcess>,
    private readonly drain?: () => Promise<unknown>,
  ) {}

  /** A fresh temp dir, removed by `now()` if the run does not remove it first with `removeDir`. */
  tempDir(prefix: string, base = tmpdir()): string {
    const dir = mkdtempSync(join(base, prefix));
    this.dirs.add(dir);
    return dir;
  }

  /** Registers a synchronous step `now()` runs (e.g. putting back a sysctl the run changed). */
  onCleanup(step: () => void): void {
    this.undo.push(step);
  }

  removeDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
    this.dirs.delete(dir);
  }

  /** Synchronous, so it also runs from process 'exit' after an uncaught error. */
  readonly now = (): void => {
    for (const child of this.children()) child.kill('SIGKILL');
    if (this.topology !== undefined) {
      removeTopology(this.topology);
      this.topology = undefined;
    }
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    this.dirs.clear();
    for (let step = this.undo.pop(); step !== undefined; step = this.undo.pop()) {
      try {
        step();
      } catch (err) {
        console.error(`bench: cleanup step failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  };

  install(): void {
    const onSignal = (signal: NodeJS.Signals): void => {
      this.stopping = true;
      console.error(`\nbench: ${signal}: stopping servers and removing namespaces`);
      const exit = (): void => {
        this.now();
        process.exit(signal === 'SIGINT' ? 130 : 143);
      };
      if (this.drain === undefined) exit();
      else void this.drain().finally(exit);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    process.once('exit', this.now);
  }
}

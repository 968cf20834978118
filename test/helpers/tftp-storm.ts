/**
 * Starts a storm of raw TFTP transfers inside a namespace, in a child Node
 * process (tftp-storm-worker), and returns its summary.
 */
import { spawn } from 'node:child_process';
import { nodeArgsFor } from './netns.js';
import type { StormOptions, StormSummary } from './tftp-raw-client.js';

/** The worker next to this file: .ts when tests run from source, .js when compiled. */
const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './tftp-storm-worker.ts' : './tftp-storm-worker.js', import.meta.url);

/** `cpu`: the worker runs on that CPU only (taskset), as bench:tftp --pin asks. */
export function stormInNamespace(netns: string, opts: StormOptions, timeoutMs = 120_000, cpu?: number): Promise<StormSummary> {
  const pin = cpu === undefined ? [] : ['taskset', '-c', String(cpu)];
  const args = ['netns', 'exec', netns, ...pin, process.execPath, ...nodeArgsFor(workerUrl), JSON.stringify(opts)];
  return new Promise((resolve, reject) => {
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`storm worker exited ${String(code ?? signal)}${signal === 'SIGKILL' ? ` (killed after ${timeoutMs} ms)` : ''}: ${err.slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(line) as StormSummary);
    });
  });
}

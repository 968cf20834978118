/**
 * `dcplane … | head`: a reader that closes the pipe early ends the output; it
 * must not end in an EPIPE stack trace. Runs bin/dcplane (the build), as
 * users do.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import { packageRoot } from '../../src/common/package-root.js';

const bin = join(packageRoot(), 'bin', 'dcplane');
const built = existsSync(join(packageRoot(), 'dist', 'src', 'cli', 'main.js'));

it('a closed stdout pipe ends `dcplane --help` quietly with status 0', { skip: built ? false : 'SKIPPED: dist/ is not built (npm run build); npm test builds it' }, async () => {
  const child = spawn(process.execPath, [bin, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  // Close the read end before the help is written, as `head -0` would.
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
  assert.equal(code, 0);
});

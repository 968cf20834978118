import { join } from 'node:path';
import { packageRoot } from '../../src/common/package-root.js';

/** True when this file runs as TypeScript (tsx), false when compiled under dist/. */
export const RUNS_FROM_SOURCE = import.meta.url.endsWith('.ts');

/**
 * Node arguments that run `dcplane ARGS` as users do: bin/dcplane (the build)
 * when this file is compiled, src/cli/main.ts through tsx when it runs from
 * source, so a change is tested without a build.
 */
export function dcplaneNodeArgs(args: readonly string[], entry: 'bin' | 'source' | 'auto' = 'auto'): string[] {
  const root = packageRoot();
  const bin = entry === 'auto' ? !RUNS_FROM_SOURCE : entry === 'bin';
  if (bin) return [join(root, 'bin', 'dcplane'), ...args];
  return [
    '--import',
    import.meta.resolve('tsx'),
    '--input-type=module',
    '-e',
    // As bin/dcplane does, with argv shaped as commander expects ([node, script, ...]).
    `import { main } from ${JSON.stringify(join(root, 'src', 'cli', 'main.ts'))};
     process.exitCode = await main([process.argv[0], 'dcplane', ...process.argv.slice(1)]);`,
    ...args,
  ];
}

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from test/helpers or dist/test/helpers. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

/**
 * Node arguments that run `dcplane ARGS` as users do: bin/dcplane (the build)
 * when this file is compiled, src/cli/main.ts through tsx when it runs from
 * source, so a change is tested without a build.
 */
export function dcplaneNodeArgs(args: readonly string[]): string[] {
  const root = repoRoot();
  if (!import.meta.url.endsWith('.ts')) return [join(root, 'bin', 'dcplane'), ...args];
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

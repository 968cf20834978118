/**
 * Skips for a tool the machine lacks (QEMU, pxelinux, grub-script-check):
 * loud outside CI, and never in CI, where scripts/install-deps.sh installs
 * every tool, so a missing one is a broken runner and must fail, not pass by
 * skipping.
 */
export function toolSkip(reason: string): string {
  if (process.env['CI'] === 'true') throw new Error(`${reason} — CI=true: scripts/install-deps.sh must install it; refusing to skip`);
  process.stderr.write(`\n*** ${reason} ***\n\n`);
  return reason;
}

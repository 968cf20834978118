import { InventoryErrorCode as E } from './errors.js';
import type { RuleContext } from './resource.js';

/**
 * Rules of boot profiles (what a server boots when it boots from the
 * network) and of the servers that name them. A profile's text ends up in
 * pxelinux, GRUB and iPXE scripts, so what would break or escape a line of
 * those syntaxes is refused here, with the field's path, rather than
 * rendered into a file a firmware then chokes on.
 */

export const BOOT_PROFILE_KINDS = ['local', 'linux', 'ipxe'] as const;
export type BootProfileKind = (typeof BOOT_PROFILE_KINDS)[number];

/** How iPXE leaves for the local disk: `exit` (back to the firmware's next boot entry) or `sanboot` the first BIOS disk. */
export const LOCAL_METHODS = ['exit', 'sanboot'] as const;

/** `{{name}}` placeholders a profile's URLs, command line and iPXE script may use; filled per server when rendered. */
export const BOOT_PLACEHOLDERS = ['mac', 'hostname', 'server_id', 'ip', 'done_url'] as const;
export type BootPlaceholder = (typeof BOOT_PLACEHOLDERS)[number];

const PLACEHOLDER = /\{\{\s*([a-z_]+)\s*\}\}/g;

/** Characters that quote, escape, expand or end a word or line in GRUB, pxelinux or iPXE. */
const URL_UNSAFE = /[\s"'\\;`$<>{}]/;
const CMDLINE_UNSAFE = /["'\\;`$<>{}\p{Cc}]/u;

/** The unknown placeholder names in `text` ({{ }} that names nothing we fill). */
export function unknownPlaceholders(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(PLACEHOLDER)) if (!(BOOT_PLACEHOLDERS as readonly string[]).includes(m[1] ?? '')) out.push(m[0]);
  return out;
}

/** The text with every known placeholder removed: what must then be free of unsafe characters. */
function withoutPlaceholders(text: string): string {
  return text.replace(PLACEHOLDER, (all, name: string) => ((BOOT_PLACEHOLDERS as readonly string[]).includes(name) ? '' : all));
}

const FIELDS_BY_KIND: Readonly<Record<BootProfileKind, readonly string[]>> = {
  local: [],
  linux: ['kernel_url', 'initrd_url', 'cmdline'],
  ipxe: ['ipxe_script'],
};
const CONTENT_FIELDS = ['kernel_url', 'initrd_url', 'cmdline', 'ipxe_script'] as const;

/**
 * A profile carries what its kind needs and nothing else: `linux` a kernel
 * URL (initrd and command line optional), `ipxe` a script starting with
 * `#!ipxe`, `local` none of them. URLs and the command line use only
 * characters that survive every loader's syntax, and known placeholders.
 */
export async function bootProfileContent(ctx: RuleContext): Promise<void> {
  for (const item of ctx.items) {
    const a = item.after;
    const kind = a['kind'] as BootProfileKind;
    const name = String(a['name']);
    if (/\p{Cc}/u.test(name)) ctx.fail(item, E.INVALID_VALUE, 'name', 'must not contain control characters (it is written into boot files as a comment)');
    for (const f of CONTENT_FIELDS) {
      if (a[f] !== null && !FIELDS_BY_KIND[kind].includes(f)) ctx.fail(item, E.INVALID_VALUE, f, `a ${kind} profile has no ${f} (leave it null)`);
    }
    if (kind === 'linux' && a['kernel_url'] === null) ctx.fail(item, E.REQUIRED, 'kernel_url', 'a linux profile needs the kernel to boot');
    if (kind === 'ipxe') {
      const script = a['ipxe_script'];
      if (typeof script !== 'string') ctx.fail(item, E.REQUIRED, 'ipxe_script', 'an ipxe profile needs its script');
      else if (!script.startsWith('#!ipxe')) ctx.fail(item, E.INVALID_VALUE, 'ipxe_script', 'must start with "#!ipxe" (iPXE refuses a script without it)');
    }
    for (const f of CONTENT_FIELDS) {
      const v = a[f];
      if (typeof v !== 'string') continue;
      const unknown = unknownPlaceholders(v);
      if (unknown.length > 0) {
        ctx.fail(item, E.INVALID_VALUE, f, `unknown placeholder ${unknown[0]} (known: ${BOOT_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')})`);
        continue;
      }
      if (f === 'ipxe_script') continue;
      const bare = withoutPlaceholders(v);
      if (f === 'cmdline' ? CMDLINE_UNSAFE.test(bare) : URL_UNSAFE.test(bare) || bare === '') {
        ctx.fail(item, E.INVALID_VALUE, f, f === 'cmdline' ? 'must not contain quotes, backslashes, $, ;, braces or control characters' : 'must be a URL or TFTP path without spaces, quotes, $, ;, or braces');
      }
    }
  }
}

/**
 * A profile that servers name keeps its name: renaming it would leave them
 * naming nothing (deleting it is refused by its `protect` dependent).
 */
export async function bootProfileRename(ctx: RuleContext): Promise<void> {
  const renamed = ctx.items.filter((i) => i.before !== undefined && i.changed.has('name'));
  if (renamed.length === 0) return;
  const users = await ctx.loadWhereIn('servers', 'boot_profile', renamed.map((i) => i.before?.['name']), { forUpdate: true });
  const count = new Map<unknown, number>();
  for (const s of users) count.set(s['boot_profile'], (count.get(s['boot_profile']) ?? 0) + 1);
  for (const item of renamed) {
    const n = count.get(item.before?.['name']) ?? 0;
    if (n > 0) ctx.fail(item, E.HAS_DEPENDENTS, 'name', `${n} server${n === 1 ? '' : 's'} boot with profile ${JSON.stringify(item.before?.['name'])}; point them at another profile first`);
  }
}

/** A server's `boot_profile` names an existing boot profile. */
export async function serverBootProfile(ctx: RuleContext): Promise<void> {
  const relevant = ctx.items.filter((i) => i.changed.has('boot_profile'));
  if (relevant.length === 0) return;
  const found = new Set((await ctx.loadWhereIn('boot_profiles', 'name', relevant.map((i) => i.after['boot_profile']), { forUpdate: true })).map((r) => r['name']));
  for (const item of relevant) {
    const name = item.after['boot_profile'];
    if (!found.has(name)) ctx.fail(item, E.REFERENCE_NOT_FOUND, 'boot_profile', `no boot profile named ${JSON.stringify(name)} (see /api/v1/boot/profiles)`);
  }
}

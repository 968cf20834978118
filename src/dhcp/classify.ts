import type { ClientClassMatch } from '../config/types.js';
import { ClientArch } from './constants.js';
import type { RequestInfo } from './request-info.js';

/**
 * Built-in classes every client is tested against before the configured
 * ones. Configuration may name them in `client_class` of a subnet or pool,
 * and a configured class of the same name with an empty `match` attaches
 * options or boot settings to the built-in membership.
 */
export const BuiltinClass = {
  /** Vendor class (60) starts with `PXEClient` (PXE spec 2.1, RFC 4578). */
  PXE: 'PXE',
  /** User class `iPXE` (plain or RFC 3004 framed) or option 175 present. */
  IPXE: 'iPXE',
  /** UEFI firmware: architecture 6, 7, 9, 10, 11, 16 or 19 (RFC 4578 §2.1 / IANA). */
  UEFI: 'UEFI',
  /** Legacy BIOS PXE: architecture 0, or a PXEClient that sent no architecture. */
  BIOS: 'BIOS',
} as const;

const UEFI_ARCHES: ReadonlySet<number> = new Set([
  ClientArch.EFI_IA32, ClientArch.EFI_BC, ClientArch.EFI_X86_64, ClientArch.EFI_ARM32,
  ClientArch.EFI_ARM64, ClientArch.EFI_X86_64_HTTP, ClientArch.EFI_ARM64_HTTP,
]);

/** A compiled `match`: each present field is a predicate, all must hold. */
export interface CompiledMatch {
  readonly vendorClass: RegExp | undefined;
  readonly userClass: RegExp | undefined;
  readonly clientArch: ReadonlySet<number> | undefined;
  readonly circuitId: BytesMatcher | undefined;
  readonly remoteId: BytesMatcher | undefined;
  readonly macPrefix: string | undefined;
  /** True when no field was given. */
  readonly empty: boolean;
}

type BytesMatcher = { readonly bytes: Uint8Array } | { readonly glob: RegExp };

/** `*` matches any run of characters; everything else is literal and case-sensitive (as Kea's substring tests). */
export function globToRegExp(glob: string): RegExp {
  const body = glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*');
  return new RegExp(`^${body}$`);
}

function bytesMatcher(text: string): BytesMatcher {
  if (/^0x[0-9a-fA-F]*$/.test(text) && text.length % 2 === 0 && text.length > 2) {
    return { bytes: Buffer.from(text.slice(2), 'hex') };
  }
  return { glob: globToRegExp(text) };
}

function bytesMatch(m: BytesMatcher, value: Uint8Array | undefined): boolean {
  if (value === undefined) return false;
  if ('bytes' in m) return Buffer.compare(Buffer.from(value.buffer, value.byteOffset, value.length), m.bytes) === 0;
  return m.glob.test(Buffer.from(value.buffer, value.byteOffset, value.length).toString('latin1'));
}

function normaliseMacPrefix(text: string): string {
  const hex = text.toLowerCase().replace(/[^0-9a-f]/g, '');
  let out = '';
  for (let i = 0; i < hex.length; i += 2) out += (i > 0 ? ':' : '') + hex.slice(i, i + 2);
  return out;
}

export function compileMatch(m: ClientClassMatch): CompiledMatch {
  const c = {
    vendorClass: m.vendor_class !== undefined ? globToRegExp(m.vendor_class) : undefined,
    userClass: m.user_class !== undefined ? globToRegExp(m.user_class) : undefined,
    clientArch: m.client_arch !== undefined ? new Set(m.client_arch) : undefined,
    circuitId: m.circuit_id !== undefined ? bytesMatcher(m.circuit_id) : undefined,
    remoteId: m.remote_id !== undefined ? bytesMatcher(m.remote_id) : undefined,
    macPrefix: m.mac_prefix !== undefined ? normaliseMacPrefix(m.mac_prefix) : undefined,
  };
  const empty = Object.values(c).every((v) => v === undefined);
  return { ...c, empty };
}

export function matches(m: CompiledMatch, info: RequestInfo): boolean {
  if (m.vendorClass !== undefined && !m.vendorClass.test(info.vendorClass)) return false;
  if (m.userClass !== undefined) {
    const re = m.userClass;
    if (!info.userClasses.some((u) => re.test(u))) return false;
  }
  if (m.clientArch !== undefined && !m.clientArch.has(info.clientArch)) return false;
  if (m.circuitId !== undefined && !bytesMatch(m.circuitId, info.circuitId)) return false;
  if (m.remoteId !== undefined && !bytesMatch(m.remoteId, info.remoteId)) return false;
  if (m.macPrefix !== undefined && (info.mac === '' || !info.mac.startsWith(m.macPrefix))) return false;
  return true;
}

/** Built-in class names the client belongs to, in BuiltinClass order. */
export function builtinClasses(info: RequestInfo, out: string[]): void {
  const pxe = info.vendorClass.startsWith('PXEClient');
  if (pxe) out.push(BuiltinClass.PXE);
  if (info.ipxe) out.push(BuiltinClass.IPXE);
  if (UEFI_ARCHES.has(info.clientArch)) out.push(BuiltinClass.UEFI);
  else if (info.clientArch === ClientArch.BIOS_X86 || (pxe && info.clientArch === -1)) out.push(BuiltinClass.BIOS);
}

const BUILTIN_NAMES: ReadonlySet<string> = new Set(Object.values(BuiltinClass));

export interface ClassifiableClass {
  readonly name: string;
  readonly match: CompiledMatch;
}

/**
 * Every class the client is in: built-ins, then configured classes in
 * configuration order (that order is the options/boot precedence among
 * classes: the first class wins), then classes a reservation assigns.
 * A configured class whose name is a built-in and whose match is empty
 * takes the built-in membership instead of matching everyone.
 */
export function classify(
  info: RequestInfo,
  classes: readonly ClassifiableClass[],
  extra: readonly string[] | undefined,
): string[] {
  const out: string[] = [];
  builtinClasses(info, out);
  for (const c of classes) {
    if (c.match.empty && BUILTIN_NAMES.has(c.name)) continue; // already decided by the built-in test
    if (matches(c.match, info) && !out.includes(c.name)) out.push(c.name);
  }
  if (extra !== undefined) for (const name of extra) if (!out.includes(name)) out.push(name);
  return out;
}

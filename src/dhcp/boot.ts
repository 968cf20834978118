import type { BootConfig } from '../config/types.js';
import type { Ipv4 } from '../net/ipv4.js';
import { parseIpv4 } from '../net/ipv4.js';
import { ClientArch } from './constants.js';
import type { RequestInfo } from './request-info.js';

/** A BootConfig with next_server parsed; a field left undefined falls through to the next layer. */
export interface RuntimeBoot {
  readonly nextServer: Ipv4 | undefined;
  readonly serverName: string | undefined;
  readonly bios: string | undefined;
  readonly uefi: string | undefined;
  readonly uefi32: string | undefined;
  readonly uefiArm64: string | undefined;
  readonly ipxe: string | undefined;
  readonly http: string | undefined;
}

export type BootKind = 'bios' | 'uefi' | 'uefi32' | 'uefi_arm64' | 'ipxe' | 'http';

export interface BootChoice {
  readonly kind: BootKind | undefined;
  /** Boot file or URL; undefined when the effective configuration has none for this client. */
  readonly file: string | undefined;
  readonly nextServer: Ipv4 | undefined;
  readonly serverName: string | undefined;
  /** Option 60 to put in the reply: PXE ROMs want `PXEClient`, UEFI HTTP boot needs `HTTPClient`. */
  readonly vendorClass: 'PXEClient' | 'HTTPClient' | undefined;
}

export function compileBoot(b: BootConfig | undefined): RuntimeBoot | undefined {
  if (b === undefined) return undefined;
  return Object.freeze({
    nextServer: b.next_server !== undefined ? parseIpv4(b.next_server) : undefined,
    serverName: b.server_name,
    bios: b.bios,
    uefi: b.uefi,
    uefi32: b.uefi32,
    uefiArm64: b.uefi_arm64,
    ipxe: b.ipxe,
    http: b.http,
  });
}

/** Field by field: `high` wins where it sets a field. */
export function mergeBoot(high: RuntimeBoot | undefined, low: RuntimeBoot | undefined): RuntimeBoot | undefined {
  if (high === undefined) return low;
  if (low === undefined) return high;
  return Object.freeze({
    nextServer: high.nextServer ?? low.nextServer,
    serverName: high.serverName ?? low.serverName,
    bios: high.bios ?? low.bios,
    uefi: high.uefi ?? low.uefi,
    uefi32: high.uefi32 ?? low.uefi32,
    uefiArm64: high.uefiArm64 ?? low.uefiArm64,
    ipxe: high.ipxe ?? low.ipxe,
    http: high.http ?? low.http,
  });
}

function isPxe(info: RequestInfo): boolean {
  return info.vendorClass.startsWith('PXEClient');
}

function isHttpClient(info: RequestInfo): boolean {
  return info.vendorClass.startsWith('HTTPClient') || info.clientArch === ClientArch.EFI_X86_64_HTTP || info.clientArch === ClientArch.EFI_ARM64_HTTP;
}

/** Only network-boot firmware gets boot information; an ordinary OS client never does. */
export function isBootClient(info: RequestInfo): boolean {
  return info.ipxe || isPxe(info) || info.vendorClass.startsWith('HTTPClient');
}

function archKind(arch: number, pxe: boolean): BootKind | undefined {
  switch (arch) {
    case ClientArch.BIOS_X86:
      return 'bios';
    case ClientArch.EFI_BC:
    case ClientArch.EFI_X86_64:
      return 'uefi';
    case ClientArch.EFI_IA32:
      return 'uefi32';
    case ClientArch.EFI_ARM64:
      return 'uefi_arm64';
    case ClientArch.EFI_X86_64_HTTP:
    case ClientArch.EFI_ARM64_HTTP:
      return 'http';
    case -1:
      // PXE 2.1 ROMs that predate RFC 4578 send no architecture: they are BIOS.
      return pxe ? 'bios' : undefined;
    default:
      return undefined;
  }
}

function fileFor(kind: BootKind | undefined, b: RuntimeBoot): string | undefined {
  switch (kind) {
    case 'bios': return b.bios;
    case 'uefi': return b.uefi;
    case 'uefi32': return b.uefi32;
    case 'uefi_arm64': return b.uefiArm64;
    case 'ipxe': return b.ipxe;
    case 'http': return b.http;
    default: return undefined;
  }
}

/**
 * The boot choice for a network-boot client, or undefined for anything else.
 * iPXE gets `ipxe` first: handing it the ROM's own chainload file again would
 * loop forever. When `ipxe` is not configured iPXE falls back to its
 * architecture's file.
 */
export function selectBoot(info: RequestInfo, boot: RuntimeBoot | undefined): BootChoice | undefined {
  if (boot === undefined || !isBootClient(info)) return undefined;
  const pxe = isPxe(info);
  const http = isHttpClient(info);
  let kind: BootKind | undefined = archKind(info.clientArch, pxe);
  if (http) kind = 'http';
  let file = fileFor(kind, boot);
  if (info.ipxe && boot.ipxe !== undefined) {
    kind = 'ipxe';
    file = boot.ipxe;
  }
  return {
    kind,
    file,
    nextServer: boot.nextServer,
    serverName: boot.serverName,
    vendorClass: http ? 'HTTPClient' : pxe ? 'PXEClient' : undefined,
  };
}

import type { TftpGeneratedFiles } from '../tftp/generated.js';
import type { Inventory } from '../inventory/inventory.js';
import { BootDirectory, renderProfileOf } from './boot-directory.js';
import type { BootHost } from './boot-directory.js';
import { isPerHostFile, perHostFile, renderBootFile } from './boot-render.js';
import type { BootLoader, BootTarget } from './boot-render.js';

/**
 * The origin of dcplane's HTTP API as booting hosts reach it, taken from the
 * configured iPXE script URL (`http://10.77.0.1:8080/boot.ipxe` →
 * `http://10.77.0.1:8080`): the API's own listen address is often
 * 0.0.0.0 or loopback, which a host cannot use.
 */
export function httpBaseFromIpxeUrl(url: string | undefined): string | undefined {
  if (url === undefined || !URL.canParse(url)) return undefined;
  const u = new URL(url);
  return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : undefined;
}

export function bootTarget(host: BootHost, mac: string, httpBase: string | undefined): BootTarget | undefined {
  if (host.profile === undefined) return undefined;
  return { serverId: host.server.id, hostname: host.server.name, mac, ip: host.iface.ip, profile: renderProfileOf(host.profile), httpBase };
}

/** A server's boot file for one loader, or undefined when no server has the MAC. */
export async function renderForMac(dir: BootDirectory, loader: BootLoader, mac: string, httpBase: string | undefined): Promise<string | undefined> {
  const host = await dir.byMac(mac);
  const target = host === undefined ? undefined : bootTarget(host, mac, httpBase);
  return target === undefined ? undefined : renderBootFile(loader, target);
}

/**
 * Registers the per-host boot files with the TFTP hook:
 * `pxelinux.cfg/01-<mac>` and GRUB's `grub.cfg-[01-]<mac>` (in any
 * directory) rendered from the server's boot profile. A MAC no server has
 * is left to the disk and then to the built-in defaults, exactly as
 * before; pxelinux and GRUB then go on to their other names. `httpBase` is
 * asked per file, so a reload's new dhcp.boot.ipxe counts at once. Returns
 * the function that removes the provider.
 */
export function registerBootFiles(generated: TftpGeneratedFiles, inventory: Inventory, opts: { readonly httpBase: () => string | undefined }): () => void {
  const dir = new BootDirectory(inventory);
  return generated.register(isPerHostFile, async (name) => {
    const f = perHostFile(name);
    return f === undefined ? undefined : renderForMac(dir, f.loader, f.mac, opts.httpBase());
  });
}

import type { BootProfileKind } from '../inventory/boot-rules.js';
import type { SERVER_STATUSES } from '../inventory/resources.js';

export type ServerStatus = (typeof SERVER_STATUSES)[number];

/**
 * What moves a server's status:
 * - `netboot`: the server fetched its own boot file (its per-host pxelinux
 *   or GRUB file completed over TFTP, or its iPXE script over HTTP);
 * - `done`: the installer called back (POST /boot/done?mac=…).
 */
export type BootSignal = 'netboot' | 'done';

/**
 * The status a signal moves a server to, or undefined for no move:
 * - planned → provisioning when it network-boots a profile that installs
 *   (anything but `local`);
 * - provisioning → active when it network-boots again with profile `local`
 *   (the reboot after the install, once someone or the installer switched
 *   the profile back), or when the installer calls back.
 * Nothing else moves by itself: maintenance and decommissioned servers, and
 * an active server that network-boots, stay as they are (a reinstall starts
 * by setting the status back to planned, as MAAS's "release" does).
 */
export function nextStatus(current: ServerStatus, kind: BootProfileKind, signal: BootSignal): ServerStatus | undefined {
  if (signal === 'done') return current === 'planned' || current === 'provisioning' ? 'active' : undefined;
  if (kind !== 'local') return current === 'planned' ? 'provisioning' : undefined;
  return current === 'provisioning' ? 'active' : undefined;
}

import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { Ipv4 } from './ipv4.js';
import { parseIpv4 } from './ipv4.js';

/** One IPv4 address configured on an interface. */
export interface InterfaceAddress {
  readonly ip: Ipv4;
  readonly prefix: number;
  readonly mask: Ipv4;
}

/** The IPv4 addresses of an interface, primary first (as the kernel lists them); empty when it has none or does not exist. */
export function interfaceAddresses(name: string): readonly InterfaceAddress[] {
  const list = networkInterfaces()[name];
  if (list === undefined) return [];
  const out: InterfaceAddress[] = [];
  for (const a of list) {
    if (a.family !== 'IPv4') continue;
    const ip = parseIpv4(a.address);
    const mask = parseIpv4(a.netmask);
    if (ip === undefined || mask === undefined) continue;
    out.push({ ip, mask, prefix: maskToPrefix(mask) });
  }
  return out;
}

/**
 * Whether the interface exists in this process's network namespace.
 * os.networkInterfaces() lists only interfaces that have an address, so an
 * interface that is up without one (a DHCP-only link) is found in sysfs,
 * which `ip netns exec` remounts for the namespace.
 */
export function interfaceExists(name: string): boolean {
  if (name === '' || name.includes('/') || name === '.' || name === '..') return false;
  if (networkInterfaces()[name] !== undefined) return true;
  return existsSync(`/sys/class/net/${name}`);
}

function maskToPrefix(mask: Ipv4): number {
  let n = 0;
  for (let m = mask >>> 0; m & 0x80000000; m = (m << 1) >>> 0) n++;
  return n;
}

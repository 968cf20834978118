import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../common/package-root.js';
import { DcplaneError } from '../common/errors.js';

export { packageRoot };

/**
 * Errors of the network edge.
 *
 * | code | when |
 * | --- | --- |
 * | NET_ERR_ADDON_MISSING | build/Release/dcplane_net.node is not there: `npm install` was not run or could not compile it |
 * | NET_ERR_ADDON_LOAD | the addon is there but does not load (built for another Node ABI or architecture) |
 */
export class NetError extends DcplaneError {}

/** The native addon (native/dcplane_net.c): what dgram cannot do. */
export interface NativeNet {
  /**
   * A non-blocking UDP socket bound to 0.0.0.0:port and, when `ifname` is
   * given, to that interface (SO_BINDTODEVICE); `bufferBytes` sizes both
   * socket buffers, past net.core.*mem_max when the process may. Throws an
   * Error whose `code` is the errno name (ENODEV, EACCES, EADDRINUSE, EPERM...)
   * and whose `syscall` names the call that failed.
   */
  openUdpSocket(ifname: string | null, port: number, bufferBytes?: number): number;
  /** Installs a neighbour (ARP) entry: `ip` dotted or a host-order number, `mac` six octets. */
  setArp(ifname: string, ip: string | number, mac: Uint8Array): void;
  /**
   * Sends packets[start..end) on socket `fd`, packet i to ips[i] (host
   * order):ports[i], with sendmmsg(2). Returns how many from `start` on the
   * kernel accepted (> 0), or -errno when it refused the one at `start`
   * (-EAGAIN: the send buffer is full). Fewer than end - start means the
   * packet after the last one accepted was not sent.
   */
  sendBatch(fd: number, packets: readonly Buffer[], ips: Uint32Array, ports: Uint16Array, start: number, end: number): number;
}

const ADDON = join('build', 'Release', 'dcplane_net.node');

let cached: NativeNet | undefined;

/** Loads the addon once; a missing or unloadable build is a coded error that says how to fix it. */
export function loadNative(): NativeNet {
  if (cached !== undefined) return cached;
  const root = packageRoot();
  const path = join(root, ADDON);
  if (!existsSync(path)) {
    throw new NetError(
      'NET_ERR_ADDON_MISSING',
      `the native socket addon ${path} is missing: run \`npm install\` in ${root} (it compiles native/dcplane_net.c and needs g++, make and python3)`,
    );
  }
  try {
    cached = createRequire(import.meta.url)(path) as NativeNet;
  } catch (err) {
    throw new NetError(
      'NET_ERR_ADDON_LOAD',
      `the native socket addon ${path} does not load (${(err as Error).message}): rebuild it for this Node with \`npx node-gyp rebuild\` in ${root}`,
      { cause: err },
    );
  }
  return cached;
}

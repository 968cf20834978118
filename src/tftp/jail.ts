import { closeSync, constants as fsConstants, fstatSync, lstatSync, openSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { DcplaneError } from '../common/errors.js';

/**
 * Why a requested name was refused, short and fixed (a Prometheus label and
 * a log field). The client only ever sees "access violation" or "file not
 * found"; server paths never leave in an ERROR.
 */
export type JailRefusal =
  | 'control_char'
  | 'backslash'
  | 'dot_dot'
  | 'absolute'
  | 'escape'
  | 'not_found'
  | 'not_file'
  | 'unreadable'
  | 'empty';

/** A requested name after the lexical checks: relative to the jail, '/'-separated, no '.', '..' or empty parts. */
export interface JailedName {
  readonly relative: string;
  /** The client sent a leading '/', which this jail reads as relative to its root (many PXE ROMs send "/pxelinux.0"). */
  readonly leadingSlash: boolean;
}

export type NameCheck = { readonly ok: true; readonly name: JailedName } | { readonly ok: false; readonly reason: JailRefusal };

export interface OpenedFile {
  readonly fd: number;
  /** The file's real path (symbolic links resolved), the cache key. */
  readonly path: string;
  readonly stat: BigIntStats;
}

export type OpenResult = { readonly ok: true; readonly file: OpenedFile } | { readonly ok: false; readonly reason: JailRefusal };

export type WriteTarget = { readonly ok: true; readonly dir: string; readonly path: string; readonly exists: boolean } | { readonly ok: false; readonly reason: JailRefusal };

export const TftpJailErrorCode = {
  /** The root (or upload directory) does not exist or is not a directory. */
  ROOT_UNUSABLE: 'TFTP_ERR_ROOT_UNUSABLE',
} as const;

export class TftpJailError extends DcplaneError {}

// Control characters (C0 and DEL): no firmware names a boot file with them, and they break logs and terminals.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

const PROC_FD = '/proc/self/fd/';

/**
 * The TFTP root as a jail. Names are checked lexically first (`..`, control
 * characters, backslashes), then the file is opened and the path the kernel
 * actually opened is read back from /proc/self/fd and must lie inside the
 * root: a symbolic link that leads outside is refused (atftpd follows them;
 * we do not), and no race between a check and the open can swap a link in,
 * because the check is made on the open descriptor itself.
 */
export class TftpJail {
  /** The root with symbolic links resolved, as the kernel reports opened paths. */
  readonly root: string;
  private readonly prefix: string;
  private readonly configuredPrefix: string;
  private readonly procFd: boolean;

  constructor(root: string) {
    let real: string;
    try {
      real = realpathSync(root);
      if (!statSync(real).isDirectory()) throw new Error('not a directory');
    } catch (err) {
      throw new TftpJailError(TftpJailErrorCode.ROOT_UNUSABLE, `${root} is not a usable directory: ${(err as Error).message}`, { cause: err });
    }
    this.root = real;
    this.prefix = real.endsWith(sep) ? real : real + sep;
    this.configuredPrefix = root.endsWith(sep) ? root : root + sep;
    this.procFd = hasProcFd();
  }

  /**
   * Lexical checks on a (remapped) name. A client that sends the root's own
   * path in front ("/srv/tftp/pxelinux.0", as tftpd-hpa without -s accepts)
   * gets it stripped; otherwise one leading '/' means "relative to the root".
   */
  check(name: string): NameCheck {
    if (name.length === 0) return { ok: false, reason: 'empty' };
    if (CONTROL.test(name)) return { ok: false, reason: 'control_char' };
    // Backslashes are a remap matter (a rule turns them into '/'); one that survives remapping could be read as a separator by a later storage backend.
    if (name.includes('\\')) return { ok: false, reason: 'backslash' };
    let rest = name;
    let leadingSlash = false;
    if (rest.startsWith(this.configuredPrefix)) rest = rest.slice(this.configuredPrefix.length);
    else if (rest.startsWith(this.prefix)) rest = rest.slice(this.prefix.length);
    else if (rest.startsWith('/')) {
      if (rest.startsWith('//')) return { ok: false, reason: 'absolute' };
      rest = rest.slice(1);
      leadingSlash = true;
    }
    const parts: string[] = [];
    for (const part of rest.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') return { ok: false, reason: 'dot_dot' };
      parts.push(part);
    }
    if (parts.length === 0) return { ok: false, reason: 'not_file' };
    return { ok: true, name: { relative: parts.join('/'), leadingSlash } };
  }

  /** Opens a checked name for reading; the caller closes the descriptor. */
  openRead(name: JailedName): OpenResult {
    const full = join(this.root, name.relative);
    let fd: number;
    try {
      fd = openSync(full, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    } catch (err) {
      return { ok: false, reason: openFailure(err) };
    }
    try {
      const real = this.openedPath(fd, full);
      if (real === undefined || !real.startsWith(this.prefix)) {
        closeSync(fd);
        return { ok: false, reason: 'escape' };
      }
      const stat = fstatSync(fd, { bigint: true });
      if (!stat.isFile()) {
        closeSync(fd);
        return { ok: false, reason: 'not_file' };
      }
      return { ok: true, file: { fd, path: real, stat } };
    } catch (err) {
      closeSync(fd);
      return { ok: false, reason: openFailure(err) };
    }
  }

  /**
   * Where an upload of a checked name goes: its directory must already exist
   * inside the jail (no directories are created for clients) and the final
   * name must not be a symbolic link.
   */
  writeTarget(name: JailedName): WriteTarget {
    const full = join(this.root, name.relative);
    let dir: string;
    try {
      dir = realpathSync(dirname(full));
    } catch {
      return { ok: false, reason: 'not_found' };
    }
    if (dir !== this.root && !dir.startsWith(this.prefix)) return { ok: false, reason: 'escape' };
    const path = join(dir, basename(full));
    try {
      const st = lstatSync(path);
      if (st.isSymbolicLink()) return { ok: false, reason: 'escape' };
      if (!st.isFile()) return { ok: false, reason: 'not_file' };
      return { ok: true, dir, path, exists: true };
    } catch {
      return { ok: true, dir, path, exists: false };
    }
  }

  private openedPath(fd: number, full: string): string | undefined {
    if (this.procFd) {
      try {
        return readlinkSync(PROC_FD + String(fd));
      } catch {
        // Fall through to realpath (e.g. /proc mounted without the fd directory).
      }
    }
    try {
      return realpathSync(full);
    } catch {
      return undefined;
    }
  }
}

/**
 * The ERROR code a refusal is answered with (RFC 1350: 1 file not found, 2
 * access violation). A name sent with a leading '/' that is not in the root
 * is an absolute path outside it: access violation.
 */
export function refusalErrorCode(reason: JailRefusal, name?: JailedName): 1 | 2 {
  if (reason === 'not_found') return name?.leadingSlash === true ? 2 : 1;
  return reason === 'empty' ? 1 : 2;
}

function hasProcFd(): boolean {
  try {
    return lstatSync(PROC_FD).isDirectory();
  } catch {
    return false;
  }
}

function openFailure(err: unknown): JailRefusal {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'not_found';
  if (code === 'EISDIR') return 'not_file';
  if (code === 'ELOOP') return 'escape';
  return 'unreadable';
}

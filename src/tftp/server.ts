import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { closeSync, constants as fsConstants, fsyncSync, linkSync, openSync, readSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { DcplaneError } from '../common/errors.js';
import type { ResolvedTftpConfig } from '../config/defaults.js';
import { decodeTftpPacket, encodeError } from './codec.js';
import type { TftpRequestPacket } from './codec.js';
import { MAX_REQUEST_SIZE, TFTP_OPCODE_NAMES, TftpErrorCode, TftpOpcode } from './constants.js';
import { TftpDecodeError } from './errors.js';
import { NetasciiDecoder, netasciiEncode } from './netascii.js';
import { negotiate } from './options.js';
import type { NegotiationPolicy } from './options.js';
import { ReadSession, WriteSession, bufferSource } from './session.js';
import type { BlockSink, BlockSource, SessionAction, TimingParams } from './session.js';
import { TftpAccessControl, clientIpv4 } from './access.js';
import { TftpFileCache } from './file-cache.js';
import { TftpGeneratedFiles, builtinFiles } from './generated.js';
import { TftpJail, refusalErrorCode } from './jail.js';
import type { JailRefusal, JailedName, OpenedFile } from './jail.js';
import { TftpMetrics, fileLabel } from './metrics.js';
import { TftpRemapper } from './remap.js';
import { TransferLog } from './transfer-log.js';
import { DgramTransferSockets, bindSocket, closeDgram } from './transfer-socket.js';
import type { TransferSocket, TransferSocketFactory } from './transfer-socket.js';
import { NativeTransferSockets } from './native-socket.js';
import type { TransferDirection, TransferOutcome, TransferRecord, TransferSource } from './transfer-log.js';

export const TftpServerErrorCode = {
  /** The request socket could not be bound (address in use, no permission for port 69, unknown host). */
  LISTEN: 'TFTP_ERR_LISTEN',
} as const;

export class TftpServerError extends DcplaneError {}

/** Told of each transfer when it starts and when it ends (completed, failed, or refused before it started); never per block. */
export type TransferListener = (phase: 'start' | 'end', rec: TransferRecord) => void;

export interface TftpServerOptions {
  readonly config: ResolvedTftpConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  /** The iPXE script URL the built-in boot files chain to (dhcp.boot.ipxe). */
  readonly ipxeUrl?: string | undefined;
  /** The generated-files hook to consult; a new one when absent. */
  readonly generated?: TftpGeneratedFiles | undefined;
  /** Files up to this size are cached from their first read, larger ones from their second (default CACHE_ON_FIRST_READ_BYTES). */
  readonly cacheOnFirstReadBytes?: number | undefined;
}

/**
 * A file larger than this enters the cache on its second read, not its first:
 * copying a one-off download of a big image costs as much CPU and page faults
 * as serving it (a 64 MiB file: about 16k faults, on the host the transfer
 * runs on) and can push hot boot files out. A storm asks twice at once.
 */
export const CACHE_ON_FIRST_READ_BYTES = 4 * 1024 * 1024;
/** Large files read once, remembered so that their second read loads them. */
const READ_ONCE_MEMORY = 1024;

const MAIN_RECV_BUFFER = 4 * 1024 * 1024;
const MIN_SEND_BUFFER = 256 * 1024;
const MAX_SEND_BUFFER = 8 * 1024 * 1024;
/** Bytes read from disk at once for a file served from its descriptor (one pread per ~44 blocks of 1468). */
const READ_AHEAD_BYTES = 64 * 1024;
/**
 * Least time between two ERROR 5 answers from one transfer port. Strangers'
 * source addresses are unauthenticated: unlimited answers make every transfer
 * a reflector, and two transfers fed one spoofed packet would bounce ERROR 5s
 * at each other as fast as the CPU allows.
 */
const STRANGER_ANSWER_INTERVAL_MS = 100;
/** The answer to a stranger; the same bytes every time. */
const STRANGER_REPLY = encodeError(TftpErrorCode.UNKNOWN_TID, 'unknown transfer ID');
/**
 * Resends of an OACK nobody acknowledged. A request with options costs the
 * sender nothing and holds a transfer slot for the whole retry budget; a real
 * client that asked answers its OACK at once, so two resends are plenty.
 */
const OACK_RETRIES = 2;

/** A request refused before any transfer started: the ERROR sent and the reason counted. */
interface Refusal {
  readonly code: number;
  readonly message: string;
  readonly reason: string;
}

const REFUSAL_TEXT: Readonly<Record<1 | 2, string>> = { 1: 'file not found', 2: 'access violation' };

function jailRefusal(reason: JailRefusal, name?: JailedName): Refusal {
  const code = refusalErrorCode(reason, name);
  // The text never carries a path: the client learns nothing of the server's layout.
  return { code, message: REFUSAL_TEXT[code], reason: reason === 'not_found' && code === 2 ? 'absolute' : reason };
}

interface Upload {
  readonly tmp: string;
  readonly target: string;
  readonly overwrite: boolean;
  readonly decoder: NetasciiDecoder | undefined;
  fd: number | undefined;
}

interface Transfer {
  readonly record: TransferRecord;
  readonly key: string;
  /** The transfer's port (its TID), connected to the client where the platform allows. */
  io: TransferSocket;
  port: number;
  readonly session: ReadSession | WriteSession;
  readonly started: number;
  fd: number | undefined;
  upload: Upload | undefined;
  timer: NodeJS.Timeout | undefined;
  timerAt: number;
  finished: boolean;
  /** A finished write keeps its socket a while to re-ACK a resent last DATA (RFC 1350 §6). */
  dallying: boolean;
  countedBytes: number;
  countedResends: number;
  /** When this transfer last answered a stranger (performance.now()); -Infinity before the first. */
  strangerAnsweredAt: number;
  closing: boolean;
  /** The socket's pump answers this read's in-order ACKs: the session lags until pumpCollect. */
  pumping: boolean;
}

function errorCodeOf(packet: Buffer): number | undefined {
  return packet.length >= 4 && packet[1] === TftpOpcode.ERROR && packet[0] === 0 ? packet.readUInt16BE(2) : undefined;
}

function readFully(fd: number, into: Buffer, at: number, length: number, offset: number): number {
  let n = 0;
  while (n < length) {
    const r = readSync(fd, into, at + n, length - n, offset + n);
    if (r === 0) break;
    n += r;
  }
  return n;
}

/**
 * Blocks from an open descriptor, read ahead READ_AHEAD_BYTES at a time: a
 * boot storm serves every transfer from disk until the cache holds the file,
 * and one pread per block was most of its system calls.
 */
function fdSource(fd: number, size: number): BlockSource {
  let chunk: Buffer | undefined;
  let chunkAt = 0;
  let chunkLength = 0;
  return {
    size,
    native: fd,
    read(offset, length, into, at) {
      if (length >= READ_AHEAD_BYTES) return readFully(fd, into, at, length, offset);
      if (offset < chunkAt || offset + length > chunkAt + chunkLength) {
        chunk ??= Buffer.allocUnsafe(Math.min(READ_AHEAD_BYTES, Math.max(size, 1)));
        chunkAt = offset;
        chunkLength = readFully(fd, chunk, 0, Math.min(chunk.length, Math.max(0, size - offset)), offset);
      }
      const n = Math.max(0, Math.min(length, chunkAt + chunkLength - offset));
      (chunk as Buffer).copy(into, at, offset - chunkAt, offset - chunkAt + n);
      return n;
    },
  };
}

/** Suffix of an upload's temporary file; one left behind by a crash is removed at start. */
const UPLOAD_SUFFIX = '.dcplane-upload';
/** Longest file name most file systems take (NAME_MAX). */
const NAME_MAX = 255;

/**
 * The temporary name an upload is written under, in the target's directory.
 * A long target name (up to NAME_MAX itself) is replaced by its hash so the
 * temporary name stays within NAME_MAX: otherwise the create fails and a
 * name the final rename would take is refused.
 */
export function uploadTempName(target: string): string {
  const random = randomBytes(6).toString('hex');
  const plain = `.${target}.${random}${UPLOAD_SUFFIX}`;
  if (Buffer.byteLength(plain) <= NAME_MAX) return plain;
  return `.${createHash('sha256').update(target).digest('hex').slice(0, 32)}.${random}${UPLOAD_SUFFIX}`;
}

/** Makes a rename or link in `dir` durable: the new name is an entry of the directory, not of the file. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Removes temporary upload files a crash left in `dir` and its subdirectories; returns how many. */
function removeStaleUploads(dir: string): number {
  let removed = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) removed += removeStaleUploads(path);
    else if (e.isFile() && e.name.startsWith('.') && e.name.endsWith(UPLOAD_SUFFIX)) {
      try {
        unlinkSync(path);
        removed++;
      } catch {
        // Gone already, or not ours to remove.
      }
    }
  }
  return removed;
}

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) };
}

function record(id: number, rinfo: RemoteInfo, direction: TransferDirection, requested: string, mode: string, options: ReadonlyMap<string, string>): TransferRecord {
  return {
    id,
    clientIp: rinfo.address,
    clientPort: rinfo.port,
    direction,
    requested,
    file: '',
    mode,
    requestedOptions: Object.fromEntries(options),
    negotiated: {},
    source: undefined,
    startedAt: Date.now(),
    endedAt: undefined,
    state: 'active',
    reason: undefined,
    errorCode: undefined,
    bytes: 0,
    blocks: 0,
    resends: 0,
    size: undefined,
  };
}

/**
 * The TFTP service: the I/O shell around the pure transfer sessions. One
 * socket on `listen` takes requests; every transfer gets its own socket on an
 * ephemeral port of the same address, its TID (RFC 1350 §4), which talks to
 * the client's (address, port) only. Files come through the jail, the
 * generated-files hook, the cache, or the built-in defaults.
 */
export class TftpServer {
  readonly generated: TftpGeneratedFiles;
  private config: ResolvedTftpConfig;
  private readonly log: Logger;
  private readonly metrics: TftpMetrics;
  private readonly cache: TftpFileCache;
  private readonly access: TftpAccessControl;
  private readonly transferLog = new TransferLog(1000);
  private jail: TftpJail;
  private uploadJail: TftpJail | undefined;
  private remapper: TftpRemapper;
  private builtins: ReadonlyMap<string, Buffer>;
  private main: Socket | undefined;
  private host = '0.0.0.0';
  /** Requests being set up or transferring, by client "address:port", so a retransmitted request does not start a second transfer. */
  private readonly byClient = new Map<string, Transfer | 'pending'>();
  private readonly transfers = new Set<Transfer>();
  /** Ports held by running transfers: a socket with SO_REUSEADDR may be given one of them by the kernel. */
  private readonly transferPorts = new Set<number>();
  private readonly cacheOnFirstReadBytes: number;
  /** Large files read once and not cached yet, oldest first. */
  private readonly readOnce = new Set<string>();
  private nextId = 1;
  private stopped = false;
  private readonly transferListeners = new Set<TransferListener>();
  /** The addon's transfer sockets: undefined until the first IPv4 transfer, null when the addon does not load. */
  private native: NativeTransferSockets | null | undefined;
  private readonly dgram = new DgramTransferSockets();
  /** The packets of one session step on their way to the socket (reused: no array per block). */
  private readonly outbox: (Buffer | undefined)[] = [];

  private constructor(opts: TftpServerOptions) {
    this.config = opts.config;
    this.log = opts.logger.child({ svc: 'tftp' });
    this.generated = opts.generated ?? new TftpGeneratedFiles();
    this.cache = new TftpFileCache({ maxBytes: opts.config.cache.max_bytes, maxFileBytes: opts.config.cache.max_file_bytes });
    this.metrics = new TftpMetrics(opts.registry, () => this.cache.stats(), () => this.countAllProgress());
    this.access = new TftpAccessControl(accessOptions(opts.config));
    this.jail = new TftpJail(opts.config.root);
    this.uploadJail = uploadJailOf(opts.config);
    this.remapper = new TftpRemapper(opts.config.remap);
    this.builtins = builtinFiles({ ipxeUrl: opts.ipxeUrl });
    this.cacheOnFirstReadBytes = opts.cacheOnFirstReadBytes ?? CACHE_ON_FIRST_READ_BYTES;
  }

  static async start(opts: TftpServerOptions): Promise<TftpServer> {
    const server = new TftpServer(opts);
    // Uploads a crash interrupted: no transfer of this process is writing yet (upload_dir belongs to one dcplane process).
    const stale = server.uploadJail !== undefined ? removeStaleUploads(server.uploadJail.root) : 0;
    if (stale > 0) server.log.info({ dir: server.uploadJail?.root, files: stale }, 'tftp removed stale upload files');
    await server.openMain();
    server.log.info({ listen: server.config.listen, root: server.jail.root, port: server.port, writes: server.config.write.enabled }, 'tftp ready');
    return server;
  }

  /** The bound request port (differs from the configured one when that is 0). */
  get port(): number {
    return this.main?.address().port ?? 0;
  }

  get activeTransfers(): number {
    return this.access.active;
  }

  /** Running transfers, then finished ones newest first. */
  transfersList(): TransferRecord[] {
    return [...this.transferLog.active(), ...this.transferLog.recent()];
  }

  /** Calls `listener` at the start and at the end of every transfer; returns the unsubscribe function. */
  onTransfer(listener: TransferListener): () => void {
    this.transferListeners.add(listener);
    return () => this.transferListeners.delete(listener);
  }

  private notify(phase: 'start' | 'end', rec: TransferRecord): void {
    for (const l of this.transferListeners) {
      try {
        l(phase, rec);
      } catch (err) {
        // A listener's bug must not break the transfer it is told about.
        this.log.warn({ err }, 'tftp transfer listener failed');
      }
    }
  }

  /**
   * Applies a new (validated) configuration. Running transfers keep their
   * parameters. Everything that can fail is done before anything changes: a
   * new root or upload directory is checked and a new listen address bound
   * first, so a refused reload (a TftpJailError, or a TftpServerError LISTEN
   * when the address is taken) leaves the service exactly as it was.
   */
  async reload(config: ResolvedTftpConfig, ipxeUrl?: string): Promise<void> {
    try {
      const jail = config.root === this.config.root ? this.jail : new TftpJail(config.root);
      const uploadJail = uploadJailOf(config);
      const remapper = new TftpRemapper(config.remap);
      // Checks the lists before the switch (they are validated, so this throws only on a caller's bug).
      new TftpAccessControl(accessOptions(config));
      // A request socket lost to an earlier failure is reopened by any reload, even one that changes nothing.
      if (!this.stopped && (config.listen !== this.config.listen || this.main === undefined)) await this.relisten(config.listen);
      if (jail !== this.jail) this.cache.clear();
      this.jail = jail;
      this.uploadJail = uploadJail;
      this.remapper = remapper;
      this.access.configure(accessOptions(config));
      this.cache.configure({ maxBytes: config.cache.max_bytes, maxFileBytes: config.cache.max_file_bytes });
      this.builtins = builtinFiles({ ipxeUrl });
      this.config = config;
      this.metrics.reloads.inc({ result: 'ok' });
      this.log.info({ listen: config.listen, root: this.jail.root }, 'tftp configuration reloaded');
    } catch (err) {
      this.metrics.reloads.inc({ result: 'error' });
      throw err;
    }
  }

  /**
   * Moves the request socket to `listen`: the new socket is bound while the
   * old one still serves. When the kernel refuses because the old socket
   * itself holds the port (0.0.0.0:69 to 10.0.0.1:69), the old one is closed
   * first and, if the new bind still fails, bound again, so a refused reload
   * never leaves TFTP deaf.
   */
  private async relisten(listen: string): Promise<void> {
    const old = this.main;
    let bound: Socket;
    try {
      bound = await this.bindMain(listen);
    } catch (err) {
      const code = (err as { cause?: NodeJS.ErrnoException }).cause?.code;
      const oldPort = old?.address().port;
      if (old === undefined || code !== 'EADDRINUSE' || parseListen(listen).port !== oldPort) throw err;
      const oldListen = this.boundListen(old);
      this.main = undefined;
      closeDgram(old);
      try {
        bound = await this.bindMain(listen);
      } catch (again) {
        try {
          this.installMain(await this.bindMain(oldListen));
        } catch (restore) {
          this.log.error({ err: restore, listen: oldListen }, 'tftp request socket could not be reopened; the next reload retries');
        }
        throw again;
      }
    }
    this.main = undefined;
    if (old !== undefined) closeDgram(old);
    if (this.stopped) closeDgram(bound);
    else this.installMain(bound);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.main !== undefined) closeDgram(this.main);
    this.main = undefined;
    for (const t of [...this.transfers]) {
      // The pump's blocks are counted and it stops before the ERROR goes out.
      this.pumpCollect(t, true);
      if (!t.finished) this.sendPacket(t, encodeError(TftpErrorCode.NOT_DEFINED, 'server shutting down'));
      this.finish(t, 'failed', 'shutdown');
      this.closeTransfer(t);
    }
    this.native?.stop();
  }

  // -------------------------------------------------------------------------
  // Request socket

  private async openMain(): Promise<void> {
    this.installMain(await this.bindMain(this.config.listen));
  }

  /** A request socket bound to `listen`, not yet serving. */
  private async bindMain(listen: string): Promise<Socket> {
    const { host, port } = parseListen(listen);
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    try {
      await bindSocket(socket, host, port);
    } catch (err) {
      closeDgram(socket);
      throw new TftpServerError(TftpServerErrorCode.LISTEN, `tftp cannot listen on ${listen}: ${(err as Error).message}`, { cause: err });
    }
    try {
      socket.setRecvBufferSize(MAIN_RECV_BUFFER);
    } catch {
      // The kernel keeps its own limit (net.core.rmem_max); a boot storm then relies on client retries.
    }
    return socket;
  }

  private installMain(socket: Socket): void {
    this.host = socket.address().address;
    socket.on('message', (msg, rinfo) => this.onRequest(msg, rinfo));
    socket.on('error', (err) => this.log.error({ err }, 'tftp request socket error'));
    this.main = socket;
  }

  /** The address and port a bound socket really holds, as a `listen` value. */
  private boundListen(socket: Socket): string {
    const a = socket.address();
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  private onRequest(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.stopped) return;
    const opcode = msg.length >= 2 ? msg.readUInt16BE(0) : -1;
    this.metrics.requests.inc({ opcode: TFTP_OPCODE_NAMES.get(opcode) ?? 'unknown' });
    // Before decoding, so a flood costs one map lookup per packet.
    if (!this.access.takeToken(rinfo.address, performance.now())) {
      this.metrics.dropped.inc({ reason: 'rate_limited' });
      return;
    }
    if (opcode !== TftpOpcode.RRQ && opcode !== TftpOpcode.WRQ) {
      // DATA/ACK/ERROR/OACK for no transfer, or an unknown opcode: silence, as tftpd-hpa. An ERROR
      // answer to a stray packet could start a loop with another confused peer.
      this.metrics.dropped.inc({ reason: opcode >= 3 && opcode <= 6 ? 'not_a_request' : 'bad_opcode' });
      return;
    }
    let req: TftpRequestPacket;
    try {
      const p = decodeTftpPacket(msg, { maxRequestSize: MAX_REQUEST_SIZE });
      if (p.op !== 'RRQ' && p.op !== 'WRQ') return;
      req = p;
    } catch (err) {
      if (!(err instanceof TftpDecodeError)) throw err;
      this.metrics.dropped.inc({ reason: err.reason });
      // A request too short to hold even a name is noise; anything longer came from a client that deserves to know (tftpd-hpa answers these with ERROR 4).
      if (err.reason !== 'truncated') this.sendMain(rinfo, TftpErrorCode.ILLEGAL_OPERATION, 'illegal request');
      return;
    }
    const key = `${rinfo.address}:${rinfo.port}`;
    if (this.byClient.has(key)) {
      // The client resent its request before our first answer reached it; the transfer already running answers it.
      this.metrics.dropped.inc({ reason: 'duplicate_request' });
      return;
    }
    const direction: TransferDirection = req.op === 'RRQ' ? 'read' : 'write';
    const rec = record(this.nextId++, rinfo, direction, req.filename, req.mode, req.options);
    const early = this.screen(req, rinfo);
    if (early !== undefined) {
      this.refuse(rec, rinfo, early);
      return;
    }
    const full = this.access.acquire(rinfo.address);
    if (full !== undefined) {
      this.refuse(rec, rinfo, { code: TftpErrorCode.NOT_DEFINED, message: 'server busy, try again', reason: full });
      return;
    }
    this.byClient.set(key, 'pending');
    const begin = direction === 'read' ? this.beginRead(req, rinfo, rec) : this.beginWrite(req, rinfo, rec);
    begin.catch((err: unknown) => {
      this.log.error({ err, client: key, file: req.filename }, 'tftp transfer setup failed');
      if (this.byClient.get(key) === 'pending') {
        this.byClient.delete(key);
        this.access.release(rinfo.address);
        this.refuse(rec, rinfo, { code: TftpErrorCode.NOT_DEFINED, message: 'internal error', reason: 'internal_error' });
      }
    });
  }

  /** Checks that need no file: access lists, writes allowed, mode. */
  private screen(req: TftpRequestPacket, rinfo: RemoteInfo): Refusal | undefined {
    if (!this.access.permits(rinfo.address)) return { code: TftpErrorCode.ACCESS_VIOLATION, message: 'access violation', reason: 'acl' };
    if (req.op === 'WRQ' && (!this.config.write.enabled || this.uploadJail === undefined)) {
      return { code: TftpErrorCode.ACCESS_VIOLATION, message: 'writes are disabled', reason: 'writes_disabled' };
    }
    if (req.mode === 'mail') return { code: TftpErrorCode.ILLEGAL_OPERATION, message: 'mail mode is not supported', reason: 'mail_mode' };
    return undefined;
  }

  /** Ends a request that never became a transfer (the slot, if taken, is the caller's to release). */
  private refuse(rec: TransferRecord, rinfo: RemoteInfo, r: Refusal): void {
    this.sendMain(rinfo, r.code, r.message);
    rec.state = 'refused';
    rec.reason = r.reason;
    rec.errorCode = r.code;
    rec.endedAt = Date.now();
    this.metrics.refusals.inc({ reason: r.reason });
    this.metrics.transfers.inc({ direction: rec.direction, outcome: 'refused' });
    this.transferLog.end(rec);
    this.notify('end', rec);
    // Debug: every PXE boot probes a dozen configuration names that do not exist.
    this.log.debug({ client: `${rec.clientIp}:${rec.clientPort}`, file: rec.requested, op: rec.direction, outcome: 'refused', reason: r.reason, error_code: r.code }, 'tftp request refused');
  }

  private sendMain(rinfo: RemoteInfo, code: number, message: string): void {
    const socket = this.main;
    if (socket === undefined) return;
    this.metrics.errorsSent.inc({ code: String(code) });
    socket.send(encodeError(code, message), rinfo.port, rinfo.address, (err) => {
      if (err !== null && err !== undefined) this.log.debug({ err }, 'tftp error reply not sent');
    });
  }

  /** Remaps and jails a requested name; undefined name means refused. */
  private resolveName(req: TftpRequestPacket, rinfo: RemoteInfo, jail: TftpJail): { name: JailedName } | { refusal: Refusal } {
    const remapped = this.remapper.size > 0 ? this.remapper.apply(req.filename, clientIpv4(rinfo.address)) : req.filename;
    const checked = jail.check(remapped);
    if (!checked.ok) return { refusal: jailRefusal(checked.reason) };
    return { name: checked.name };
  }

  // -------------------------------------------------------------------------
  // Reads

  private async beginRead(req: TftpRequestPacket, rinfo: RemoteInfo, rec: TransferRecord): Promise<void> {
    const key = `${rinfo.address}:${rinfo.port}`;
    const abandon = (r: Refusal): void => {
      this.byClient.delete(key);
      this.access.release(rinfo.address);
      this.refuse(rec, rinfo, r);
    };
    const jail = this.jail;
    const resolved = this.resolveName(req, rinfo, jail);
    if ('refusal' in resolved) return abandon(resolved.refusal);
    const name = resolved.name;
    rec.file = name.relative;

    let content: Buffer | undefined;
    let source: TransferSource = 'disk';
    let opened: OpenedFile | undefined;
    if (this.generated.claims(name.relative)) {
      const found = await this.generated.lookup(name.relative, { ip: rinfo.address, port: rinfo.port });
      if (this.stopped) return abandon({ code: TftpErrorCode.NOT_DEFINED, message: 'server shutting down', reason: 'shutdown' });
      if (found.kind === 'error') {
        this.log.warn({ err: found.error, file: name.relative, client: key }, 'generated-file provider failed');
        return abandon({ code: TftpErrorCode.NOT_DEFINED, message: 'file unavailable', reason: 'generated_error' });
      }
      if (found.kind === 'file') {
        content = found.data;
        source = 'generated';
      }
    }
    if (content === undefined) {
      const o = jail.openRead(name);
      if (o.ok) opened = o.file;
      else {
        const builtin = o.reason === 'not_found' && this.config.generated.enabled ? this.builtins.get(name.relative) : undefined;
        if (builtin === undefined) return abandon(jailRefusal(o.reason, name));
        content = builtin;
        source = 'builtin';
      }
    }

    let blocks: BlockSource;
    let fd: number | undefined;
    try {
      if (opened !== undefined && req.mode === 'netascii') {
        const size = Number(opened.stat.size);
        // Netascii is converted in memory (tsize needs the converted length up front): it is meant for small text files.
        if (size > this.config.netascii_max_bytes) {
          closeSync(opened.fd);
          return abandon({ code: TftpErrorCode.NOT_DEFINED, message: 'file too large for netascii; use octet', reason: 'netascii_too_large' });
        }
        const converted = await this.cache.netascii(opened.path, opened.fd, opened.stat);
        closeSync(opened.fd);
        opened = undefined;
        if (converted.hit) {
          this.metrics.cacheHits.inc();
          source = 'cache';
        } else this.metrics.cacheMisses.inc();
        blocks = bufferSource(converted.data);
      } else if (opened !== undefined) {
        const size = Number(opened.stat.size);
        const cached = this.cache.get(opened.path, opened.stat);
        if (cached !== undefined) {
          this.metrics.cacheHits.inc();
          source = 'cache';
          blocks = bufferSource(cached);
          closeSync(opened.fd);
        } else {
          this.metrics.cacheMisses.inc();
          if (this.cache.accepts(opened.stat) && this.admit(opened.path, size)) void this.cache.load(opened.path, opened.stat);
          fd = opened.fd;
          blocks = fdSource(fd, size);
        }
      } else {
        const data = content as Buffer;
        blocks = bufferSource(req.mode === 'netascii' ? netasciiEncode(data) : data);
      }
    } catch (err) {
      if (opened !== undefined) closeSync(opened.fd);
      this.log.warn({ err, file: name.relative }, 'tftp file read failed');
      return abandon({ code: TftpErrorCode.NOT_DEFINED, message: 'read error', reason: 'read_error' });
    }
    rec.source = source;
    rec.size = blocks.size;

    const n = negotiate(req.options, this.policy(), blocks.size, false);
    const session = new ReadSession(blocks, { ...this.timing(n.timeoutMs), blksize: n.blksize, windowsize: n.windowsize, oack: n.accepted });
    await this.launch(rec, rinfo, session, n.accepted, n.blksize * n.windowsize, fd, undefined);
  }

  /** Whether a cache miss should load the file now (see CACHE_ON_FIRST_READ_BYTES). */
  private admit(path: string, size: number): boolean {
    if (size <= this.cacheOnFirstReadBytes) return true;
    if (this.readOnce.delete(path)) return true;
    this.readOnce.add(path);
    if (this.readOnce.size > READ_ONCE_MEMORY) {
      for (const oldest of this.readOnce) {
        this.readOnce.delete(oldest);
        break;
      }
    }
    return false;
  }

  // -------------------------------------------------------------------------
  // Writes

  private async beginWrite(req: TftpRequestPacket, rinfo: RemoteInfo, rec: TransferRecord): Promise<void> {
    const key = `${rinfo.address}:${rinfo.port}`;
    const abandon = (r: Refusal): void => {
      this.byClient.delete(key);
      this.access.release(rinfo.address);
      this.refuse(rec, rinfo, r);
    };
    const jail = this.uploadJail;
    if (jail === undefined) return abandon({ code: TftpErrorCode.ACCESS_VIOLATION, message: 'writes are disabled', reason: 'writes_disabled' });
    const resolved = this.resolveName(req, rinfo, jail);
    if ('refusal' in resolved) return abandon(resolved.refusal);
    rec.file = resolved.name.relative;
    const target = jail.writeTarget(resolved.name);
    if (!target.ok) return abandon(jailRefusal(target.reason));
    const w = this.config.write;
    if (target.exists && !w.overwrite) return abandon({ code: TftpErrorCode.FILE_EXISTS, message: 'file already exists', reason: 'exists' });
    const n = negotiate(req.options, this.policy(), undefined, true);
    if (n.tsize !== undefined && n.tsize > w.max_bytes) {
      // RFC 2349: the server may refuse a transfer whose announced size it cannot take, before any data moves.
      return abandon({ code: TftpErrorCode.DISK_FULL, message: 'file too large', reason: 'too_large' });
    }
    rec.size = n.tsize;
    const tmp = join(target.dir, uploadTempName(basename(target.path)));
    let fd: number;
    try {
      fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o644);
    } catch (err) {
      this.log.warn({ err, file: rec.file }, 'tftp upload file could not be created');
      return abandon({ code: TftpErrorCode.ACCESS_VIOLATION, message: 'access violation', reason: 'unwritable' });
    }
    const upload: Upload = { tmp, target: target.path, overwrite: w.overwrite, decoder: req.mode === 'netascii' ? new NetasciiDecoder() : undefined, fd };
    const sink: BlockSink = {
      write(data) {
        writeAll(fd, upload.decoder !== undefined ? upload.decoder.push(data) : data);
      },
    };
    const session = new WriteSession(sink, { ...this.timing(n.timeoutMs), blksize: n.blksize, windowsize: n.windowsize, oack: n.accepted, maxBytes: w.max_bytes });
    await this.launch(rec, rinfo, session, n.accepted, n.blksize * n.windowsize, undefined, upload);
  }

  /** Makes a complete upload visible under its name; false (and nothing left behind) when that fails. */
  private commitUpload(u: Upload): Refusal | undefined {
    try {
      if (u.fd !== undefined) {
        if (u.decoder !== undefined) writeAll(u.fd, u.decoder.end());
        fsyncSync(u.fd);
        closeSync(u.fd);
        u.fd = undefined;
      }
      if (u.overwrite) renameSync(u.tmp, u.target);
      else {
        // link() fails if the name appeared meanwhile: no upload silently replaces a file.
        linkSync(u.tmp, u.target);
        unlinkSync(u.tmp);
      }
      // The final ACK promises the file survives a crash; until the directory is synced its new name may not.
      syncDirectory(dirname(u.target));
      return undefined;
    } catch (err) {
      this.discardUpload(u);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return { code: TftpErrorCode.FILE_EXISTS, message: 'file already exists', reason: 'exists' };
      if (code === 'ENOSPC' || code === 'EDQUOT') return { code: TftpErrorCode.DISK_FULL, message: 'disk full', reason: 'disk_full' };
      this.log.warn({ err }, 'tftp upload could not be committed');
      return { code: TftpErrorCode.NOT_DEFINED, message: 'write error', reason: 'write_error' };
    }
  }

  private discardUpload(u: Upload): void {
    if (u.fd !== undefined) {
      try {
        closeSync(u.fd);
      } catch {
        // Closed already.
      }
      u.fd = undefined;
    }
    try {
      unlinkSync(u.tmp);
    } catch {
      // Never created or already renamed.
    }
  }

  // -------------------------------------------------------------------------
  // Transfers

  private policy(): NegotiationPolicy {
    // RFC 2349: the OACK must echo the client's timeout, so one over max_timeout is left out, not lowered.
    return { maxBlksize: this.config.max_blksize, maxWindowsize: this.config.max_windowsize, maxTimeout: this.config.max_timeout, allowTsize: true };
  }

  private timing(timeoutMs: number | undefined): TimingParams {
    const initial = this.config.timeout * 1000;
    return { timeoutMs, maxRetries: this.config.retries, maxOackRetries: OACK_RETRIES, initialTimeoutMs: initial, maxTimeoutMs: Math.max(5000, initial) };
  }

  private async launch(
    rec: TransferRecord,
    rinfo: RemoteInfo,
    session: ReadSession | WriteSession,
    accepted: ReadonlyMap<string, string>,
    windowBytes: number,
    fd: number | undefined,
    upload: Upload | undefined,
  ): Promise<void> {
    const key = `${rinfo.address}:${rinfo.port}`;
    rec.negotiated = Object.fromEntries(accepted);
    const t: Transfer = {
      record: rec,
      key,
      io: undefined as unknown as TransferSocket,
      port: 0,
      session,
      started: performance.now(),
      fd,
      upload,
      timer: undefined,
      timerAt: 0,
      finished: false,
      dallying: false,
      countedBytes: 0,
      countedResends: 0,
      strangerAnsweredAt: Number.NEGATIVE_INFINITY,
      closing: false,
      pumping: false,
    };
    try {
      t.io = await this.socketsFor(rinfo.address).open({
        host: this.host,
        clientIp: rinfo.address,
        clientPort: rinfo.port,
        sendBufferBytes: Math.min(Math.max(2 * (windowBytes + 64 * Math.ceil(windowBytes / 512)), MIN_SEND_BUFFER), MAX_SEND_BUFFER),
        strangerReply: STRANGER_REPLY,
        portTaken: (port) => this.transferPorts.has(port),
        handlers: {
          onPacket: (buf, offset, length) => this.onTransferPacket(t, buf, offset, length),
          onStranger: (opcode) => this.onStranger(t, opcode),
          onSent: (packet) => {
            if (session instanceof ReadSession) session.onSent(packet);
          },
          onError: (err) => this.onSocketError(key, err),
          onPumpStopped: () => this.pumpCollect(t, true),
        },
      });
    } catch (err) {
      if (fd !== undefined) closeSync(fd);
      if (upload !== undefined) this.discardUpload(upload);
      throw err;
    }
    t.port = t.io.port;
    this.transfers.add(t);
    this.transferPorts.add(t.port);
    this.byClient.set(key, t);
    this.transferLog.begin(rec);
    this.metrics.active.inc({ direction: rec.direction });
    this.notify('start', rec);
    if (this.stopped) {
      this.finish(t, 'failed', 'shutdown');
      this.closeTransfer(t);
      return;
    }
    this.run(t, session.start(performance.now()));
  }

  private onSocketError(key: string, err: NodeJS.ErrnoException): void {
    // A connected socket reports the client's ICMP port unreachable (it went away); its timer ends the transfer.
    if (err.code === 'ECONNREFUSED') this.log.debug({ err, client: key }, 'tftp client port unreachable');
    else this.log.warn({ err, client: key }, 'tftp transfer socket error');
  }

  /**
   * A lock-step read in its steady state hands its in-order ACKs to the
   * socket's pump (the addon sends block n + 1 on ACK n without a call into
   * JS). The session stays the authority: every other packet, the final ACK,
   * the timer and the end of the transfer first collect what the pump did
   * (pumpCollect), and the pump is armed again after the session has acted.
   */
  private pumpStart(t: Transfer): void {
    if (t.pumping || t.finished || t.closing || this.stopped || t.io.pump === undefined) return;
    const s = t.session;
    if (!(s instanceof ReadSession)) return;
    const p = s.pumpable();
    if (p !== undefined) t.pumping = t.io.pump(p);
  }

  /** Brings the session up to date with the pump's steps; `disarm` stops the pump first. */
  private pumpCollect(t: Transfer, disarm: boolean): void {
    if (!t.pumping) return;
    if (disarm) t.pumping = false;
    const s = t.session;
    if (t.io.collectPump === undefined || !(s instanceof ReadSession)) return;
    const r = t.io.collectPump(disarm);
    if (r.steps === 0) return;
    // A block the pump could not send is sent now, as the session's own: queued on EAGAIN, reported and left to the timer otherwise.
    const actions = s.pumped(r.steps, performance.now() - r.sinceLastSendMs, r.rttMs, r.unsentErrno !== 0);
    if (actions.length > 0) this.run(t, actions);
  }

  private onTransferPacket(t: Transfer, buf: Buffer, offset: number, length: number): void {
    if (t.pumping) this.pumpCollect(t, true);
    const s = t.session;
    // The steady state of a read, decoded in place: ACK is opcode 4 and a block number.
    if (length >= 4 && buf[offset] === 0 && buf[offset + 1] === TftpOpcode.ACK && !t.finished && s instanceof ReadSession) {
      this.run(t, s.onAck(((buf[offset + 2] as number) << 8) | (buf[offset + 3] as number), performance.now()));
      return;
    }
    let p;
    try {
      // A view of the socket layer's buffer, valid during this call: a write's sink copies its data out at once.
      p = decodeTftpPacket(offset === 0 && length === buf.length ? buf : buf.subarray(offset, offset + length));
    } catch (err) {
      if (!(err instanceof TftpDecodeError)) throw err;
      this.metrics.dropped.inc({ reason: `transfer_${err.reason}` });
      return;
    }
    const now = performance.now();
    if (t.finished) {
      if (t.dallying && p.op === 'DATA' && s instanceof WriteSession) this.run(t, s.onData(p.block, p.data, now), true);
      return;
    }
    if (p.op === 'ACK' && s instanceof ReadSession) this.run(t, s.onAck(p.block, now));
    else if (p.op === 'DATA' && s instanceof WriteSession) this.run(t, s.onData(p.block, p.data, now));
    else if (p.op === 'ERROR') this.run(t, s.onError());
    else this.metrics.dropped.inc({ reason: 'unexpected_opcode' });
  }

  /**
   * RFC 1350 §4: "If a source TID does not match, the packet should be discarded as erroneously
   * sent from somewhere else. An error packet should be sent to the source of the incorrect
   * packet, while not disturbing the transfer." It leaves from the transfer's port (true: the
   * socket layer sends STRANGER_REPLY), but only for a packet a misdirected peer of a transfer
   * would send (DATA, ACK, OACK), never for an ERROR (RFC 1350 §7: an ERROR is never
   * acknowledged, and answering one lets two transfers bounce ERROR 5s at each other forever),
   * and at most one per STRANGER_ANSWER_INTERVAL_MS.
   */
  private onStranger(t: Transfer, op: number | undefined): boolean {
    if (op !== TftpOpcode.DATA && op !== TftpOpcode.ACK && op !== TftpOpcode.OACK) {
      this.metrics.dropped.inc({ reason: 'unknown_tid_not_answered' });
      return false;
    }
    const now = performance.now();
    if (now - t.strangerAnsweredAt < STRANGER_ANSWER_INTERVAL_MS) {
      this.metrics.dropped.inc({ reason: 'unknown_tid_suppressed' });
      return false;
    }
    this.metrics.dropped.inc({ reason: 'unknown_tid' });
    if (t.closing) return false;
    t.strangerAnsweredAt = now;
    this.metrics.errorsSent.inc({ code: String(TftpErrorCode.UNKNOWN_TID) });
    return true;
  }

  /**
   * Carries out a session's actions: its packets leave together (one sendmmsg for a window on
   * the addon's sockets), then the transfer ends or its timer is armed. `sendOnly`: a dallying
   * write re-ACKs its last block and nothing else.
   */
  private run(t: Transfer, actions: readonly SessionAction[], sendOnly = false): void {
    // An upload is made durable before its final ACK leaves, so an acknowledged file is really there.
    if (!sendOnly && t.upload !== undefined && actions.some((a) => a.kind === 'done')) {
      const failed = this.commitUpload(t.upload);
      if (failed !== undefined) {
        this.sendPacket(t, encodeError(failed.code, failed.message));
        this.finish(t, 'failed', failed.reason);
        this.closeTransfer(t);
        return;
      }
    }
    const out = this.outbox;
    let count = 0;
    for (const a of actions) {
      if (a.kind === 'send') out[count++] = a.packet;
    }
    if (count > 0) this.sendPackets(t, count);
    if (sendOnly) return;
    for (const a of actions) {
      if (a.kind === 'done') this.finish(t, 'completed');
      else if (a.kind === 'fail') {
        if (a.cause !== undefined) this.log.warn({ err: a.cause, client: t.key, file: t.record.file }, 'tftp transfer error');
        this.finish(t, 'failed', a.reason);
      }
    }
    if (!t.finished) {
      this.arm(t);
      this.pumpStart(t);
    } else if (!t.dallying) this.closeTransfer(t);
  }

  private sendPacket(t: Transfer, packet: Buffer): void {
    this.outbox[0] = packet;
    this.sendPackets(t, 1);
  }

  /** Sends outbox[0..count) to the client; the packets the kernel took at once are free for their session again. */
  private sendPackets(t: Transfer, count: number): void {
    const out = this.outbox;
    for (let i = 0; i < count; i++) {
      const packet = out[i] as Buffer;
      // Only an ERROR starts with 0 5: a DATA or ACK is checked with two byte reads.
      if (packet[1] === TftpOpcode.ERROR) {
        const code = errorCodeOf(packet);
        if (code !== undefined) {
          this.metrics.errorsSent.inc({ code: String(code) });
          t.record.errorCode = code;
        }
      }
    }
    const free = t.io.send(out as Buffer[], count);
    const s = t.session;
    if (s instanceof ReadSession) for (let i = 0; i < free; i++) s.onSent(out[i] as Buffer);
    for (let i = 0; i < count; i++) out[i] = undefined;
  }

  /** One timer per transfer, re-armed only when the deadline moves earlier; a late ACK just pushes the deadline. */
  private arm(t: Transfer): void {
    const at = t.session.nextTimeoutAt;
    if (at === undefined) return;
    if (t.timer !== undefined && t.timerAt <= at) return;
    if (t.timer !== undefined) clearTimeout(t.timer);
    t.timerAt = at;
    t.timer = setTimeout(() => this.onTimer(t), Math.max(0, Math.ceil(at - performance.now())));
  }

  private onTimer(t: Transfer): void {
    t.timer = undefined;
    if (t.finished) return;
    // A pumped transfer's deadline moved with each block the pump sent.
    this.pumpCollect(t, false);
    if (t.finished) return;
    const at = t.session.nextTimeoutAt;
    if (at === undefined) return;
    const now = performance.now();
    // Timers fire on a millisecond clock; within 1 ms counts as due.
    if (now + 1 < at) {
      this.arm(t);
      return;
    }
    this.pumpCollect(t, true);
    this.run(t, t.session.onTimeout(Math.max(now, at)));
  }

  /** Metrics of progress are brought up to date per transfer at its end and for a scrape, not per packet. */
  private countAllProgress(): void {
    for (const t of this.transfers) {
      this.pumpCollect(t, false);
      if (!t.finished) this.countProgress(t);
    }
  }

  private countProgress(t: Transfer): void {
    const s = t.session;
    if (s instanceof ReadSession) {
      const bytes = s.stats.bytesSent - t.countedBytes;
      if (bytes > 0) this.metrics.bytesSent.inc(bytes);
      const resends = s.stats.resends - t.countedResends;
      if (resends > 0) this.metrics.resends.inc(resends);
      t.countedBytes = s.stats.bytesSent;
      t.countedResends = s.stats.resends;
    } else {
      const resends = s.stats.retries - t.countedResends;
      if (resends > 0) this.metrics.resends.inc(resends);
      t.countedResends = s.stats.retries;
    }
  }

  private finish(t: Transfer, outcome: Exclude<TransferOutcome, 'refused'>, reason?: string): void {
    if (t.finished) return;
    // Its counters take the pump's blocks, and the pump stops before the file closes.
    this.pumpCollect(t, true);
    if (t.finished) return;
    t.finished = true;
    if (t.timer !== undefined) clearTimeout(t.timer);
    t.timer = undefined;
    this.countProgress(t);
    const rec = t.record;
    const s = t.session;
    rec.state = outcome;
    if (outcome === 'failed') rec.reason = reason ?? rec.reason ?? 'failed';
    rec.endedAt = Date.now();
    if (s instanceof ReadSession) {
      rec.bytes = s.bytesAcked;
      rec.blocks = s.stats.blocksSent;
      rec.resends = s.stats.resends;
    } else {
      rec.bytes = s.stats.bytesReceived;
      rec.blocks = s.stats.blocksReceived;
      rec.resends = s.stats.retries;
      this.metrics.bytesReceived.inc(s.stats.bytesReceived);
      if (outcome === 'failed' && t.upload !== undefined) this.discardUpload(t.upload);
    }
    if (t.fd !== undefined) {
      closeSync(t.fd);
      t.fd = undefined;
    }
    this.byClient.delete(t.key);
    this.access.release(rec.clientIp);
    this.transferLog.end(rec);
    this.notify('end', rec);
    const m = this.metrics;
    m.active.dec({ direction: rec.direction });
    m.transfers.inc({ direction: rec.direction, outcome });
    if (outcome === 'failed') m.failures.inc({ reason: rec.reason ?? 'failed' });
    const file = m.files.of(fileLabel(rec.file));
    const client = m.clients.of(rec.clientIp);
    m.fileTransfers.inc({ file, outcome });
    m.clientTransfers.inc({ client, outcome });
    if (s instanceof ReadSession) {
      m.fileBytes.inc({ file }, s.stats.bytesSent);
      m.clientBytes.inc({ client }, s.stats.bytesSent);
    }
    const durationMs = performance.now() - t.started;
    if (outcome === 'completed') m.duration.observe({ direction: rec.direction }, durationMs / 1000);
    this.log.info(
      {
        client: `${rec.clientIp}:${rec.clientPort}`,
        op: rec.direction,
        file: rec.file,
        mode: rec.mode,
        options: rec.negotiated,
        source: rec.source,
        bytes: rec.bytes,
        blocks: rec.blocks,
        resends: rec.resends,
        duration_ms: Math.round(durationMs * 10) / 10,
        outcome,
        ...(rec.reason !== undefined ? { reason: rec.reason } : {}),
      },
      'tftp transfer',
    );
    if (outcome === 'completed' && s instanceof WriteSession && !this.stopped) {
      // RFC 1350 §6: the receiver of the last DATA dallies, re-ACKing it if it comes again (our ACK was lost).
      t.dallying = true;
      t.timer = setTimeout(() => this.closeTransfer(t), Math.min(Math.max(2 * this.config.timeout * 1000, 1000), 5000));
      t.timer.unref();
    }
  }

  private closeTransfer(t: Transfer): void {
    if (t.timer !== undefined) clearTimeout(t.timer);
    t.timer = undefined;
    t.dallying = false;
    if (!this.transfers.delete(t)) return;
    this.transferPorts.delete(t.port);
    t.closing = true;
    t.io.close();
  }

  /** The addon's sockets for IPv4 (dgram's when the addon does not load), dgram's for IPv6. */
  private socketsFor(clientIp: string): TransferSocketFactory {
    if (NativeTransferSockets.serves(this.host, clientIp)) {
      if (this.native === undefined) {
        try {
          this.native = new NativeTransferSockets((err) => this.log.error({ err }, 'tftp transfer socket failed'));
        } catch (err) {
          this.native = null;
          this.log.warn({ err }, 'tftp transfer sockets fall back to dgram: the native addon does not load');
        }
      }
      if (this.native !== null) return this.native;
    }
    return this.dgram;
  }
}

function accessOptions(c: ResolvedTftpConfig): ConstructorParameters<typeof TftpAccessControl>[0] {
  return { allow: c.allow, deny: c.deny, rateLimit: c.rate_limit, maxTransfers: c.max_transfers, maxTransfersPerClient: c.max_transfers_per_client };
}

function uploadJailOf(c: ResolvedTftpConfig): TftpJail | undefined {
  const dir = c.write.upload_dir;
  return c.write.enabled && dir !== undefined ? new TftpJail(dir) : undefined;
}

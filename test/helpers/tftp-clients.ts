/**
 * Real TFTP clients (tftp-hpa's `tftp`, curl, atftp) run inside a network
 * namespace; each wrapper returns what the client reported in a form a test
 * can assert on, and its raw output for the failure message.
 *
 * Each client reports failure in its own way, and two of them lie about it:
 * - tftp-hpa 5.2 exits 0 even when the server answered ERROR (it prints
 *   `Error code N: text` and leaves an empty destination file behind), so
 *   success is read from its output, not its exit status. It has no blksize
 *   option: it always runs plain RFC 1350 with 512-byte blocks. It prints
 *   no `Received` line for an empty file.
 * - curl 7.88 (Debian 12) prints `getpeername() failed with errno 107` for
 *   every TFTP failure (curl/curl#11332: a stale message hides the real one);
 *   its exit status is right, and maps to the TFTP error code (68 = 1 ...).
 *   It always asks for tsize and refuses an OACK with `tsize 0` (exit 71),
 *   so it cannot fetch an empty file unless it sends no options at all. In
 *   netascii mode it writes the bytes as they came off the wire, undecoded.
 * - atftp exits non-zero and prints `error received from server <text>`;
 *   with `--trace` it prints every packet, which shows the OACK it got.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export type TftpClientName = 'tftp-hpa' | 'curl' | 'atftp';

/** Where a client runs and which server it asks. */
export interface TftpTarget {
  /** Real namespace name (Topology.netns(...)); the client runs in the caller's namespace when absent. */
  readonly netns?: string;
  readonly server: string;
  readonly port?: number;
}

export interface TftpClientError {
  /** TFTP error code (RFC 1350 §5) when the client tells it; undefined for timeouts and local failures. */
  readonly code: number | undefined;
  readonly message: string;
}

export interface TftpClientResult {
  readonly client: TftpClientName;
  /** The client says the whole file arrived. */
  readonly ok: boolean;
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  readonly error: TftpClientError | undefined;
  /** Bytes on the wire as the client counted them (tftp-hpa's `Received N bytes`). */
  readonly bytesReported: number | undefined;
  /** Options of the OACK the client received (atftp with `trace`), names lower-cased. */
  readonly oack: ReadonlyMap<string, string> | undefined;
  readonly output: string;
  readonly durationMs: number;
}

export interface ClientRunOptions {
  /** The client is killed after this long (default 60 s). */
  readonly timeoutMs?: number;
}

interface RawRun {
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  readonly output: string;
  readonly durationMs: number;
}

function runClient(t: TftpTarget, cmd: string, args: readonly string[], timeoutMs: number): Promise<RawRun> {
  const [file, argv] = t.netns === undefined ? [cmd, [...args]] : ['ip', ['netns', 'exec', t.netns, cmd, ...args]];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let timedOut = false;
    // Enough to explain a failure; atftp --trace on a big file would otherwise hold one line per block.
    const keep = (c: Buffer): void => {
      output += c.toString('utf8');
      if (output.length > 4_000_000) output = output.slice(-2_000_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${cmd}: ${err.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, timedOut, output, durationMs: performance.now() - started });
    });
  });
}

/**
 * tftp-hpa: `tftp -v -l -m MODE SERVER [PORT] -c get FILE DEST`. In netascii
 * mode it converts CR LF back to LF and CR NUL to CR as it writes DEST, and
 * `bytesReported` is the count of netascii bytes it received.
 */
export async function tftpHpaGet(
  t: TftpTarget,
  file: string,
  dest: string,
  opts: ClientRunOptions & { readonly mode?: 'octet' | 'netascii' } = {},
): Promise<TftpClientResult> {
  const args = ['-v', '-l', '-m', opts.mode ?? 'octet', t.server];
  if (t.port !== undefined) args.push(String(t.port));
  args.push('-c', 'get', file, dest);
  const r = await runClient(t, 'tftp', args, opts.timeoutMs ?? 60_000);
  const err = /Error code (\d+): ?(.*)/.exec(r.output);
  const received = /Received (\d+) bytes/.exec(r.output);
  let error: TftpClientError | undefined;
  if (err !== null) error = { code: Number(err[1]), message: (err[2] ?? '').trim() };
  else if (/timed out/i.test(r.output)) error = { code: undefined, message: 'transfer timed out' };
  return {
    client: 'tftp-hpa',
    ok: r.exitCode === 0 && !r.timedOut && error === undefined,
    exitCode: r.exitCode,
    timedOut: r.timedOut,
    error,
    bytesReported: received === null ? undefined : Number(received[1]),
    oack: undefined,
    output: r.output,
    durationMs: r.durationMs,
  };
}

/** curl's exit statuses for TFTP errors (libcurl CURLE_TFTP_*), by the TFTP error code they stand for. */
const CURL_TFTP_EXIT = new Map<number, number>([
  [68, 1], // CURLE_TFTP_NOTFOUND
  [69, 2], // CURLE_TFTP_PERM
  [70, 3], // CURLE_REMOTE_DISK_FULL
  [71, 4], // CURLE_TFTP_ILLEGAL (also curl's own refusal of an OACK it dislikes)
  [72, 5], // CURLE_TFTP_UNKNOWNID
  [73, 6], // CURLE_REMOTE_FILE_EXISTS
  [74, 7], // CURLE_TFTP_NOSUCHUSER
]);

export interface CurlOptions extends ClientRunOptions {
  /** `--tftp-blksize N`; curl asks for none when absent (512). */
  readonly blksize?: number;
  /** `--tftp-no-options`: a plain RFC 1350 request (curl otherwise always asks for tsize). */
  readonly noOptions?: boolean;
  /** `;mode=netascii` on the URL: the file is written as the netascii bytes received. */
  readonly netascii?: boolean;
}

/** curl: `curl -sS --path-as-is tftp://SERVER[:PORT]/FILE -o DEST` (the path is sent as given, `..` included). */
export async function curlGet(t: TftpTarget, file: string, dest: string, opts: CurlOptions = {}): Promise<TftpClientResult> {
  const host = t.port === undefined ? t.server : `${t.server}:${t.port}`;
  const args = ['-sS', '--path-as-is', `tftp://${host}/${file}${opts.netascii === true ? ';mode=netascii' : ''}`, '-o', dest];
  if (opts.blksize !== undefined) args.push('--tftp-blksize', String(opts.blksize));
  if (opts.noOptions === true) args.push('--tftp-no-options');
  const r = await runClient(t, 'curl', args, opts.timeoutMs ?? 60_000);
  let error: TftpClientError | undefined;
  if (r.exitCode !== 0) {
    error = {
      code: r.exitCode === null ? undefined : CURL_TFTP_EXIT.get(r.exitCode),
      message: r.timedOut ? 'killed after the timeout' : `curl exit ${String(r.exitCode)}: ${r.output.trim().slice(-300)}`,
    };
  }
  return {
    client: 'curl',
    ok: r.exitCode === 0 && !r.timedOut,
    exitCode: r.exitCode,
    timedOut: r.timedOut,
    error,
    bytesReported: undefined,
    oack: undefined,
    output: r.output,
    durationMs: r.durationMs,
  };
}

export interface AtftpOptions extends ClientRunOptions {
  readonly blksize?: number;
  readonly windowsize?: number;
  readonly tsize?: boolean;
  /** `--trace`: one line per packet; fills `oack`. Only for small files. */
  readonly trace?: boolean;
}

/** atftp: `atftp [--trace] --option "blksize N" --option "windowsize W" -g -r FILE -l DEST SERVER [PORT]`. */
export async function atftpGet(t: TftpTarget, file: string, dest: string, opts: AtftpOptions = {}): Promise<TftpClientResult> {
  const args: string[] = [];
  if (opts.trace === true) args.push('--trace');
  if (opts.blksize !== undefined) args.push('--option', `blksize ${opts.blksize}`);
  if (opts.windowsize !== undefined) args.push('--option', `windowsize ${opts.windowsize}`);
  if (opts.tsize === true) args.push('--option', 'tsize');
  args.push('-g', '-r', file, '-l', dest, t.server);
  if (t.port !== undefined) args.push(String(t.port));
  const r = await runClient(t, 'atftp', args, opts.timeoutMs ?? 60_000);
  const serverErr = /error received from server <([^>]*)>/.exec(r.output);
  let error: TftpClientError | undefined;
  if (serverErr !== null) error = { code: tftpCodeForText(serverErr[1] ?? ''), message: serverErr[1] ?? '' };
  else if (r.exitCode !== 0) error = { code: undefined, message: r.timedOut ? 'killed after the timeout' : `atftp exit ${String(r.exitCode)}: ${r.output.trim().slice(-300)}` };
  return {
    client: 'atftp',
    ok: r.exitCode === 0 && !r.timedOut && error === undefined,
    exitCode: r.exitCode,
    timedOut: r.timedOut,
    error,
    bytesReported: undefined,
    oack: parseAtftpOack(r.output),
    output: r.output,
    durationMs: r.durationMs,
  };
}

/** atftp prints only the server's text; the usual RFC 1350 texts name their code. */
function tftpCodeForText(text: string): number | undefined {
  if (/not found/i.test(text)) return 1;
  if (/access|permission/i.test(text)) return 2;
  return undefined;
}

/** From atftp's trace line `received OACK <windowsize: 16, blksize: 1468, >`. */
export function parseAtftpOack(output: string): ReadonlyMap<string, string> | undefined {
  const m = /received OACK <([^>]*)>/.exec(output);
  if (m === null) return undefined;
  const opts = new Map<string, string>();
  for (const part of (m[1] ?? '').split(',')) {
    const kv = /^\s*([^:]+):\s*(.*?)\s*$/.exec(part);
    if (kv?.[1] !== undefined) opts.set(kv[1].trim().toLowerCase(), kv[2] ?? '');
  }
  return opts;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** RFC 1350 / RFC 764 netascii: LF becomes CR LF and a bare CR becomes CR NUL (a file's CR LF becomes CR NUL CR LF). */
export function netasciiEncode(data: Buffer): Buffer {
  let extra = 0;
  for (const b of data) if (b === 0x0a || b === 0x0d) extra++;
  const out = Buffer.allocUnsafe(data.length + extra);
  let j = 0;
  for (const b of data) {
    if (b === 0x0a) {
      out[j++] = 0x0d;
      out[j++] = 0x0a;
    } else if (b === 0x0d) {
      out[j++] = 0x0d;
      out[j++] = 0x00;
    } else {
      out[j++] = b;
    }
  }
  return out;
}

import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';

/**
 * `dcplane import servers FILE`: sends the file to POST
 * /api/v1/servers/import of a running dcplane, draws the progress the server
 * streams back, and prints every bad row of a refused import. Exit status:
 * 0 imported (or, with --dry-run, every row passes), 1 refused (bad rows;
 * nothing written), 2 could not import (file, connection, credentials).
 */

export const EXIT_REFUSED = 1;
export const EXIT_FAILED = 2;

const FORMATS = { csv: 'text/csv', json: 'application/json', ndjson: 'application/x-ndjson' } as const;
type Format = keyof typeof FORMATS;
const EXTENSIONS: ReadonlyMap<string, Format> = new Map([
  ['.csv', 'csv'],
  ['.json', 'json'],
  ['.ndjson', 'ndjson'],
  ['.jsonl', 'ndjson'],
]);

interface ImportOptions {
  readonly url: string;
  readonly token?: string;
  readonly username?: string;
  readonly password?: string;
  readonly otp?: string;
  readonly format?: string;
  readonly dryRun?: boolean;
  readonly json?: boolean;
}

interface Issue {
  readonly row: number;
  readonly line?: number;
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

/** The last line of the server's stream (or its one JSON answer): the report or the refusal. */
interface Outcome {
  readonly status: number;
  readonly ok?: boolean;
  readonly code?: string;
  readonly message?: string;
  readonly total?: number;
  readonly created?: number;
  readonly interfaces?: number;
  readonly dry_run?: boolean;
  readonly request_id?: string;
  readonly errors?: readonly Issue[];
  readonly warnings?: readonly Issue[];
}

/** A failure to run the import at all, with what to do about it. */
class ImportCliError extends Error {}

/** The caller-facing reasons, from the server's error codes. */
function authAdvice(status: number, body: { code?: string; message?: string }, how: 'token' | 'login'): string {
  const what = `${body.code ?? `HTTP ${status}`}: ${body.message ?? ''}`.trim();
  if (status === 401) {
    return how === 'token'
      ? `the server refused the token (${what}). Get a new one (POST /api/v1/auth/token, or an API token from /api/v1/auth/api-tokens) and pass --token or DCPLANE_TOKEN, or log in with --username and --password`
      : `the server refused the login (${what}). Check --username and --password (or DCPLANE_PASSWORD)${body.code === 'AUTH_ERR_OTP_REQUIRED' ? '; this user has TOTP on: pass --otp CODE' : ''}`;
  }
  if (status === 403) return `not allowed (${what}). Importing servers needs the operator or admin role and a read-write token`;
  if (status === 423) return `the account is locked (${what}); try later or ask an admin`;
  if (status === 429) return `too many logins (${what}); wait and try again`;
  return what;
}

async function request(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const base = new URL(url).origin;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new ImportCliError(`cannot reach dcplane at ${base} (${why}): is \`dcplane serve\` running there? Pass its API address with --url (api.listen of its configuration)`);
  }
}

async function jsonOf(res: Response): Promise<Record<string, unknown>> {
  const text = await res.text();
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { message: text.slice(0, 500) };
  }
}

async function bearerToken(base: string, opts: ImportOptions): Promise<string> {
  const token = opts.token ?? process.env['DCPLANE_TOKEN'];
  if (token !== undefined && token !== '') return token;
  if (opts.username === undefined) {
    throw new ImportCliError('no credentials: pass --token (or set DCPLANE_TOKEN), or --username with --password (or DCPLANE_PASSWORD)');
  }
  const password = opts.password ?? process.env['DCPLANE_PASSWORD'];
  if (password === undefined) throw new ImportCliError(`--username ${opts.username} needs --password (or DCPLANE_PASSWORD)`);
  const res = await request(`${base}/api/v1/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: opts.username, password, ...(opts.otp === undefined ? {} : { otp: opts.otp }) }),
  });
  const body = await jsonOf(res);
  if (!res.ok) throw new ImportCliError(authAdvice(res.status, body as { code?: string; message?: string }, 'login'));
  if (typeof body['access_token'] !== 'string') throw new ImportCliError(`${base} answered the login without an access token: is it dcplane?`);
  return body['access_token'];
}

function formatOf(file: string, given: string | undefined): Format {
  if (given !== undefined) {
    if (given in FORMATS) return given as Format;
    throw new ImportCliError(`--format ${given}: use csv, json or ndjson`);
  }
  const f = EXTENSIONS.get(extname(file).toLowerCase());
  if (f === undefined) throw new ImportCliError(`cannot tell the format of ${file} from its name: pass --format csv, json or ndjson`);
  return f;
}

/** Shows progress: a bar on a terminal, plain lines otherwise (logs, CI). */
class ProgressView {
  private bar: cliProgress.SingleBar | undefined;
  private phase = '';
  private lastLine = 0;
  constructor(private readonly tty: boolean) {}

  update(phase: string, done: number, total: number): void {
    if (this.tty) {
      if (phase !== this.phase) {
        this.bar?.stop();
        this.bar = new cliProgress.SingleBar(
          { format: `${phase.padEnd(8)} [{bar}] {percentage}% | {value}/{total} rows | {eta_formatted} left`, stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        this.bar.start(total, done);
      } else {
        this.bar?.update(done);
      }
    } else if (phase !== this.phase || done === total || Date.now() - this.lastLine >= 1000) {
      process.stderr.write(`${phase}: ${done}/${total} rows\n`);
      this.lastLine = Date.now();
    }
    this.phase = phase;
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/** Every bad row, as a table (ROW, LINE, COLUMN, CODE, MESSAGE). */
export function issueTable(issues: readonly Issue[]): string {
  const head = ['ROW', 'LINE', 'COLUMN', 'CODE', 'MESSAGE'];
  const rows = issues.map((i) => [i.row === 0 ? 'header' : String(i.row), i.line === undefined ? '' : String(i.line), i.path, i.code.replace(/^INVENTORY_ERR_/, ''), i.message]);
  const widths = head.map((h, c) => (c === head.length - 1 ? 0 : Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length))));
  const line = (r: readonly string[]): string => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

async function readStream(res: Response, view: ProgressView): Promise<Outcome> {
  if (res.body === null) throw new ImportCliError('the server answered without a body');
  const decoder = new TextDecoder();
  let buffered = '';
  let outcome: Outcome | undefined;
  const onLine = (text: string): void => {
    if (text.trim() === '') return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // A proxy's error page or a server that is not dcplane: say so, not a SyntaxError's stack.
      throw new ImportCliError(`the server's progress stream is not dcplane's NDJSON (a line reads ${JSON.stringify(text.slice(0, 120))}); check --url`);
    }
    if (o['phase'] === 'done') outcome = o as unknown as Outcome;
    else view.update(String(o['phase']), Number(o['done']), Number(o['total']));
  };
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      onLine(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  }
  onLine(buffered + decoder.decode());
  if (outcome === undefined) throw new ImportCliError('the connection ended before the import finished: check the server log; nothing is written unless the server reported it');
  return outcome;
}

async function runImport(file: string, opts: ImportOptions): Promise<number> {
  const format = formatOf(file, opts.format);
  let body: string;
  try {
    // The server reads every format as UTF-8 text.
    body = await readFile(file, 'utf8');
  } catch (err) {
    throw new ImportCliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const base = opts.url.replace(/\/+$/, '');
  if (!/^https?:\/\//.test(base)) throw new ImportCliError(`--url ${opts.url}: give the API address as http://HOST:PORT`);
  const token = await bearerToken(base, opts);
  const view = new ProgressView(process.stderr.isTTY === true && opts.json !== true);
  const started = Date.now();
  const res = await request(`${base}/api/v1/servers/import${opts.dryRun === true ? '?dry_run=true' : ''}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': FORMATS[format], accept: 'application/x-ndjson' },
    body,
  });
  let outcome: Outcome;
  try {
    if (res.status === 200 && (res.headers.get('content-type') ?? '').startsWith('application/x-ndjson')) {
      outcome = await readStream(res, view);
    } else {
      const b = await jsonOf(res);
      if (res.status === 401 || res.status === 403) throw new ImportCliError(authAdvice(res.status, b as { code?: string; message?: string }, opts.token !== undefined || process.env['DCPLANE_TOKEN'] !== undefined ? 'token' : 'login'));
      outcome = { status: res.status, ...(b as object) } as Outcome;
    }
  } finally {
    view.stop();
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (opts.json === true) process.stdout.write(`${JSON.stringify({ ...outcome, phase: undefined }, null, 2)}\n`);
  const errors = outcome.errors ?? [];
  if (outcome.ok === true) {
    if (opts.json !== true) {
      for (const w of outcome.warnings ?? []) process.stderr.write(`warning: row ${w.row} ${w.path}: ${w.message}\n`);
      process.stdout.write(
        outcome.dry_run === true
          ? `dry run: all ${outcome.total} row(s) of ${file} pass; nothing was written (${seconds} s)\n`
          : `imported ${outcome.created} server(s) and ${outcome.interfaces} interface(s) from ${file} in ${seconds} s (request ${outcome.request_id})\n`,
      );
    }
    return 0;
  }
  if (opts.json !== true) {
    process.stderr.write(`${file}: ${outcome.message ?? `refused (HTTP ${outcome.status})`}\n`);
    if (errors.length > 0 && errors[0]!.row !== undefined) process.stderr.write(`${issueTable(errors)}\n`);
    else for (const e of errors as readonly { path?: string; message?: string }[]) process.stderr.write(`  ${e.path ?? ''}: ${e.message ?? ''}\n`);
    if (errors.length > 0) process.stderr.write(`${new Set(errors.map((e) => e.row)).size} bad row(s) of ${outcome.total ?? '?'}; nothing was written. Fix them and run the import again (--dry-run checks without writing).\n`);
  }
  // A refusal of rows is 1; the server refusing the file itself (format, size, a 500) is 2.
  return outcome.status === 409 || outcome.status === 422 ? EXIT_REFUSED : EXIT_FAILED;
}

export function registerImport(program: Command): void {
  const imp = program.command('import').description('Import inventory objects into a running dcplane through its API');
  imp
    .command('servers')
    .description('Import servers from a CSV, JSON (an array) or NDJSON file: all or nothing, every bad row reported')
    .argument('<file>', 'the file; its format is guessed from the extension (.csv, .json, .ndjson/.jsonl) unless --format says')
    .option('--url <url>', 'dcplane API address', 'http://127.0.0.1:8080')
    .option('--token <token>', 'bearer token (access or API token; default: $DCPLANE_TOKEN)')
    .option('-u, --username <name>', 'log in as this user instead of passing a token')
    .option('-p, --password <password>', 'password for --username (default: $DCPLANE_PASSWORD)')
    .option('--otp <code>', 'TOTP code for --username, when the user has 2FA on')
    .option('-f, --format <format>', 'csv, json or ndjson (default: from the file extension)')
    .option('-n, --dry-run', 'check every row and write nothing')
    .option('--json', 'print the server\'s report as JSON on stdout (progress stays on stderr)')
    .addHelpText(
      'after',
      `
CSV columns are server field names (name, serial, type, vendor, model, rack_id, u_position, u_size,
cpu_cores, ram_gb, storage_tb, power_supply_w, os, warranty_end, status, tenant_id, description, ...)
or the seed product's names (serial_number, manufacturer, server_type). References by name:
rack (within datacenter, a name or code, when rack names repeat across datacenters) and tenant
(name or slug). mac, ip and interface (default eth0) create the server's primary interface.
Empty cells are left out (the field's default applies).

Exit status: 0 imported (or --dry-run passed), 1 refused: bad rows, listed; nothing written,
2 could not import (file, connection, credentials, format).

Examples:
  DCPLANE_TOKEN=... dcplane import servers racks-a.csv
  dcplane import servers servers.json --url http://10.0.0.5:8080 -u admin -p "$PW" --dry-run
  dcplane import servers export.txt --format ndjson --json > report.json

  servers.csv:
    name,serial,datacenter,rack,u_position,status,mac,ip
    web-01,SN1001,DC1,R01,10,planned,52:54:00:00:00:01,10.77.0.51`,
    )
    .action(async (file: string, opts: ImportOptions) => {
      try {
        process.exitCode = await runImport(file, opts);
      } catch (err) {
        if (!(err instanceof ImportCliError)) throw err;
        process.stderr.write(`dcplane import servers: ${err.message}\n`);
        process.exitCode = EXIT_FAILED;
      }
    });
}

import { PassThrough } from 'node:stream';
import { parse as parseCsv } from 'csv-parse/sync';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InventoryErrorCode as E } from '../inventory/errors.js';
import type { Inventory } from '../inventory/inventory.js';
import { ImportAbortedError, importCode, importColumns, importServers, importStatus, normalizeColumn } from '../inventory/server-import.js';
import type { ImportIssue, ImportProgress, ImportRecord, ImportReport } from '../inventory/server-import.js';
import { writeContext } from './access.js';
import type { Guard } from './access.js';
import { ApiError, ApiErrorCode } from './errors.js';
import { API_PREFIX } from './inventory-routes.js';
import { ERROR_SCHEMA } from './resource-schemas.js';
import type { JsonSchema } from './resource-schemas.js';

/**
 * `POST /api/v1/servers/import`: thousands of servers from CSV, a JSON array
 * or NDJSON, all or nothing (src/inventory/server-import.ts). With `Accept:
 * application/x-ndjson` the answer streams `{phase, done, total}` lines while
 * the rows are checked and written, then one `{phase: "done", status, …}`
 * line with the report, so a CLI can draw a real progress bar; otherwise one
 * JSON answer: 201 (200 for `dry_run`) with the report, or the refusal with
 * every bad row as `{row, line?, path, code, message}`.
 */

export const IMPORT_PATH = `${API_PREFIX}/servers/import`;
/** An import's body limit (this route only; the API's default stays small). */
export const IMPORT_BODY_LIMIT = 256 << 20;
export const MAX_IMPORT_ROWS = 200_000;

export type ImportFormat = 'csv' | 'json' | 'ndjson';

const CONTENT_TYPES: ReadonlyMap<string, ImportFormat> = new Map([
  ['text/csv', 'csv'],
  ['application/csv', 'csv'],
  ['application/json', 'json'],
  ['application/x-ndjson', 'ndjson'],
  ['application/ndjson', 'ndjson'],
  ['application/jsonl', 'ndjson'],
]);

export const NDJSON = 'application/x-ndjson';

export interface ImportRouteDeps {
  readonly inventory: Inventory;
  readonly guard: Guard;
  readonly bodyLimit?: number;
}

/** What the parse of a body gives: records, and issues found before any row is checked (a bad header, a line that is not JSON). */
export interface ParsedBody {
  readonly records: ImportRecord[];
  readonly issues: ImportIssue[];
  /** A bad header refuses the file before its rows are looked at: every row would carry the same problem. */
  readonly fatal: boolean;
}

function formatOf(contentType: string | undefined): ImportFormat | undefined {
  const base = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return CONTENT_TYPES.get(base);
}

function tooMany(n: number): ApiError {
  return new ApiError(ApiErrorCode.BODY_TOO_LARGE, `an import takes at most ${MAX_IMPORT_ROWS} rows, not ${n}: split the file`, [{ path: 'body', message: `${n} rows` }]);
}

/** CSV: a header of field names (seed aliases and `rack`, `datacenter`, `tenant`, `mac`, `ip`, `interface` too), one server per row; empty cells are left out. */
export function parseCsvBody(body: string): ParsedBody {
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    rows = parseCsv(body, { bom: true, relax_column_count: true, skip_empty_lines: true, trim: true, info: true }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (err) {
    const e = err as { message?: string; lines?: number };
    throw new ApiError(ApiErrorCode.VALIDATION, `the CSV cannot be read: ${e.message ?? String(err)}`, [{ path: e.lines === undefined ? 'body' : `body.line ${e.lines}`, message: e.message ?? 'malformed CSV' }]);
  }
  const head = rows[0];
  if (head === undefined) throw new ApiError(ApiErrorCode.VALIDATION, 'the CSV is empty: it needs a header line of field names and one line per server', [{ path: 'body', message: 'empty' }]);
  if (rows.length - 1 > MAX_IMPORT_ROWS) throw tooMany(rows.length - 1);
  const accepted = importColumns();
  const issues: ImportIssue[] = [];
  const columns = head.record.map((c) => normalizeColumn(c));
  const seen = new Set<string>();
  columns.forEach((c, i) => {
    const shown = JSON.stringify(head.record[i]!.slice(0, 64));
    if (c === '') issues.push({ row: 0, line: head.info.lines, path: `column ${i + 1}`, code: E.REQUIRED, message: 'the header names no field for this column' });
    else if (!accepted.has(c)) issues.push({ row: 0, line: head.info.lines, path: c.slice(0, 64), code: E.UNKNOWN_FIELD, message: `server has no field ${shown}; columns are server fields (name, serial, rack_id, …) or rack, datacenter, tenant, mac, ip, interface` });
    else if (seen.has(c)) issues.push({ row: 0, line: head.info.lines, path: c, code: E.INVALID_VALUE, message: `column ${shown} appears twice` });
    seen.add(c);
  });
  if (issues.length > 0) return { records: [], issues, fatal: true };
  const records: ImportRecord[] = [];
  for (let i = 1; i < rows.length; i++) {
    const { record, info } = rows[i]!;
    if (record.length !== columns.length) {
      issues.push({ row: i, line: info.lines, path: '', code: E.INVALID_VALUE, message: `has ${record.length} cells, the header has ${columns.length}` });
      continue;
    }
    const values: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    record.forEach((cell, k) => {
      if (cell !== '') values[columns[k]!] = cell;
    });
    records.push({ row: i, line: info.lines, values });
  }
  return { records, issues, fatal: false };
}

/** NDJSON: one JSON object per line; blank lines are skipped. */
export function parseNdjsonBody(body: string): ParsedBody {
  const records: ImportRecord[] = [];
  const issues: ImportIssue[] = [];
  const lines = body.split('\n');
  let row = 0;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.trim();
    if (text === '') continue;
    row++;
    if (row > MAX_IMPORT_ROWS) throw tooMany(lines.filter((l) => l.trim() !== '').length);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      issues.push({ row, line: i + 1, path: '', code: E.INVALID_VALUE, message: `not JSON: ${(err as Error).message}` });
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push({ row, line: i + 1, path: '', code: E.INVALID_VALUE, message: 'must be a JSON object (one server per line)' });
      continue;
    }
    records.push({ row, line: i + 1, values: value as Record<string, unknown> });
  }
  if (row === 0) throw new ApiError(ApiErrorCode.VALIDATION, 'the NDJSON body is empty: one JSON object per line, one server each', [{ path: 'body', message: 'empty' }]);
  return { records, issues, fatal: false };
}

/** A JSON array of server objects. */
export function parseJsonBody(body: unknown): ParsedBody {
  if (!Array.isArray(body)) throw new ApiError(ApiErrorCode.VALIDATION, 'the JSON body must be an array of server objects', [{ path: 'body', message: 'must be an array' }]);
  if (body.length === 0) throw new ApiError(ApiErrorCode.VALIDATION, 'the JSON array is empty', [{ path: 'body', message: 'empty' }]);
  if (body.length > MAX_IMPORT_ROWS) throw tooMany(body.length);
  const records: ImportRecord[] = [];
  const issues: ImportIssue[] = [];
  body.forEach((value: unknown, i) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) issues.push({ row: i + 1, path: '', code: E.INVALID_VALUE, message: 'must be an object' });
    else records.push({ row: i + 1, values: value as Record<string, unknown> });
  });
  return { records, issues, fatal: false };
}

function parseBody(format: ImportFormat, body: unknown): ParsedBody {
  if (format === 'json') return parseJsonBody(body);
  if (typeof body !== 'string') throw new ApiError(ApiErrorCode.VALIDATION, `the ${format} body is missing`, [{ path: 'body', message: 'is required' }]);
  return format === 'csv' ? parseCsvBody(body) : parseNdjsonBody(body);
}

/** The report as the API answers it: success body, or the error body with every bad row. */
export function reportBody(report: ImportReport, requestId: string): { status: number; body: Record<string, unknown> } {
  const summary = { ok: report.ok, dry_run: report.dry_run, total: report.total, created: report.created, interfaces: report.interfaces, warnings: report.warnings, request_id: requestId };
  if (report.ok) return { status: report.dry_run ? 200 : 201, body: { ...summary, errors: [] } };
  const rows = new Set(report.errors.map((e) => e.row)).size;
  const head = report.errors
    .slice(0, 3)
    .map((e) => `${e.row === 0 ? 'header' : `row ${e.row}`}${e.path === '' ? '' : ` ${e.path}`}: ${e.message}`)
    .join('; ');
  const message = `${rows} of ${report.total} row(s) refused, nothing was written: ${head}${report.errors.length > 3 ? `; and ${report.errors.length - 3} more` : ''}`;
  return { status: importStatus(report.errors), body: { code: importCode(report.errors), message, errors: report.errors, ...summary } };
}

const ISSUE_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    row: { type: 'integer', description: '1-based record number (0: the header)' },
    line: { type: 'integer', description: 'line of the file (CSV, NDJSON)' },
    path: { type: 'string', description: 'the column' },
    code: { type: 'string' },
    message: { type: 'string' },
  },
};

const REPORT_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    ok: { type: 'boolean' },
    dry_run: { type: 'boolean' },
    total: { type: 'integer' },
    created: { type: 'integer' },
    interfaces: { type: 'integer' },
    request_id: { type: 'string' },
    warnings: { type: 'array', items: ISSUE_SCHEMA },
    errors: { type: 'array', items: ISSUE_SCHEMA },
  },
};

/** The import route, in a scope of its own: CSV and NDJSON parsers and the raised body limit serve it only. */
export async function registerImportRoutes(app: FastifyInstance, deps: ImportRouteDeps): Promise<void> {
  const bodyLimit = deps.bodyLimit ?? IMPORT_BODY_LIMIT;
  await app.register(async (scope) => {
    for (const [type, format] of CONTENT_TYPES) {
      if (format === 'json') continue;
      scope.addContentTypeParser(type, { parseAs: 'string', bodyLimit }, (_req, body, done) => done(null, body));
    }
    scope.post<{ Querystring: { dry_run?: boolean } }>(
      IMPORT_PATH,
      {
        bodyLimit,
        schema: {
          tags: ['servers'],
          summary: 'Import servers from CSV, a JSON array or NDJSON: all or nothing, every bad row reported',
          description:
            'Body: text/csv (a header of field names; rack, datacenter, tenant by name; mac, ip, interface make the primary interface), ' +
            'application/json (an array of server objects, same extra keys) or application/x-ndjson (one object per line). ' +
            '`Accept: application/x-ndjson` streams {phase, done, total} lines, then {phase: "done", status, ...report}. ' +
            '`dry_run=true` checks every row and writes nothing.',
          querystring: { type: 'object', additionalProperties: false, properties: { dry_run: { type: 'boolean', default: false } } },
          response: { 200: REPORT_SCHEMA, 201: REPORT_SCHEMA, 400: ERROR_SCHEMA, 401: ERROR_SCHEMA, 403: ERROR_SCHEMA, 409: ERROR_SCHEMA, 413: ERROR_SCHEMA, 415: ERROR_SCHEMA, 422: ERROR_SCHEMA },
        },
      },
      async (req, reply) => {
        const caller = deps.guard(req, 'write', 'servers');
        const format = formatOf(req.headers['content-type']);
        if (format === undefined) {
          throw new ApiError(ApiErrorCode.UNSUPPORTED_MEDIA_TYPE, 'an import is text/csv, application/json (an array) or application/x-ndjson', [{ path: 'headers.content-type', message: String(req.headers['content-type'] ?? 'missing') }]);
        }
        const parsed = parseBody(format, req.body);
        const ctx = writeContext(req, caller);
        const dryRun = req.query.dry_run === true;
        const aborted = new AbortController();
        reply.raw.on('close', () => {
          if (!reply.raw.writableFinished) aborted.abort();
        });
        const run = async (onProgress?: (p: ImportProgress) => void): Promise<ImportReport> => {
          if (parsed.fatal) return { ok: false, dry_run: dryRun, total: parsed.records.length, created: 0, interfaces: 0, ids: [], errors: parsed.issues, warnings: [] };
          return importServers(deps.inventory, parsed.records, {
            ctx,
            dryRun,
            signal: aborted.signal,
            knownErrors: parsed.issues,
            total: parsed.records.length + parsed.issues.length,
            ...(onProgress === undefined ? {} : { onProgress }),
          });
        };
        if (!acceptsNdjson(req)) {
          let report: ImportReport;
          try {
            report = await run();
          } catch (err) {
            if (err instanceof ImportAbortedError) return reply.code(400).send({ code: ApiErrorCode.BAD_REQUEST, message: err.message, errors: [] });
            throw err;
          }
          const { status, body } = reportBody(report, req.id);
          return reply.code(status).send(body);
        }
        return streamImport(req, reply, run);
      },
    );
  });
}

function acceptsNdjson(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? '';
  return accept.split(',').some((a) => {
    const t = a.split(';')[0]!.trim().toLowerCase();
    return t === NDJSON || t === 'application/ndjson';
  });
}

/** Streams progress lines, then the report line; the HTTP status is 200 and the line says the real one. */
function streamImport(req: FastifyRequest, reply: FastifyReply, run: (onProgress: (p: ImportProgress) => void) => Promise<ImportReport>): FastifyReply {
  const out = new PassThrough();
  const line = (o: unknown): void => {
    if (!out.destroyed) out.write(`${JSON.stringify(o)}\n`);
  };
  let last = '';
  void run((p) => {
    // One line per phase step; repeated steps (an empty chunk) are not worth a line.
    const key = `${p.phase}:${p.done}`;
    if (key !== last) line(p);
    last = key;
  })
    .then((report) => {
      const { status, body } = reportBody(report, req.id);
      line({ phase: 'done', status, ...body });
    })
    .catch((err: unknown) => {
      if (err instanceof ImportAbortedError) return;
      req.log.error({ err, request_id: req.id }, 'server import failed');
      line({ phase: 'done', status: 500, code: ApiErrorCode.INTERNAL, message: 'internal error: nothing was written (the log has the details)', errors: [], ok: false, request_id: req.id });
    })
    .finally(() => out.end());
  return reply.code(200).type(`${NDJSON}; charset=utf-8`).header('cache-control', 'no-store').send(out);
}

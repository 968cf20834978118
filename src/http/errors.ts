import { DcplaneError } from '../common/errors.js';
import { AuthError } from '../auth/errors.js';
import { InventoryError } from '../inventory/errors.js';

/**
 * Stable codes of the HTTP layer itself (the inventory's and auth's own codes
 * pass through unchanged). Every error body is `{code, message, errors:
 * [{path, message}]}`; paths name where the bad input sits: `body.u_position`,
 * `body[3].serial`, `query.limit`, `params.id`, `headers.if-match`.
 *
 * | code | status | when |
 * | --- | --- | --- |
 * | API_ERR_VALIDATION | 400 | the body, query or path does not match the route's schema (wrong type, unknown field) |
 * | API_ERR_MALFORMED_JSON | 400 | the body is not JSON |
 * | API_ERR_EMPTY_BODY | 400 | a JSON content type with no body |
 * | API_ERR_BAD_HEADER | 400 | an If-Match / If-None-Match that is not a list of entity tags |
 * | API_ERR_NOT_FOUND | 404 | no such route |
 * | API_ERR_METHOD_NOT_ALLOWED | 405 | (reserved) |
 * | API_ERR_PRECONDITION_FAILED | 412 | If-Match (or a body `version`) does not match the stored version: a lost update |
 * | API_ERR_BODY_TOO_LARGE | 413 | the body exceeds the API's body limit |
 * | API_ERR_UNSUPPORTED_MEDIA_TYPE | 415 | a body that is neither JSON nor (for auth) a form |
 * | API_ERR_BAD_REQUEST | 400 | any other refusal of the request's framing |
 * | API_ERR_UPGRADE_REQUIRED | 426 | a plain HTTP request to the WebSocket endpoint |
 * | API_ERR_WS_BAD_MESSAGE | 400 | (in a WebSocket `error` event) a client message that is not `{"subscribe": [topics]}` |
 * | API_ERR_INTERNAL | 500 | a bug; the log has the details |
 */
export const ApiErrorCode = {
  VALIDATION: 'API_ERR_VALIDATION',
  MALFORMED_JSON: 'API_ERR_MALFORMED_JSON',
  EMPTY_BODY: 'API_ERR_EMPTY_BODY',
  BAD_HEADER: 'API_ERR_BAD_HEADER',
  NOT_FOUND: 'API_ERR_NOT_FOUND',
  METHOD_NOT_ALLOWED: 'API_ERR_METHOD_NOT_ALLOWED',
  PRECONDITION_FAILED: 'API_ERR_PRECONDITION_FAILED',
  BODY_TOO_LARGE: 'API_ERR_BODY_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'API_ERR_UNSUPPORTED_MEDIA_TYPE',
  BAD_REQUEST: 'API_ERR_BAD_REQUEST',
  UPGRADE_REQUIRED: 'API_ERR_UPGRADE_REQUIRED',
  WS_BAD_MESSAGE: 'API_ERR_WS_BAD_MESSAGE',
  INTERNAL: 'API_ERR_INTERNAL',
} as const;
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

export const API_ERROR_STATUS: Readonly<Record<ApiErrorCode, number>> = Object.freeze({
  API_ERR_VALIDATION: 400,
  API_ERR_MALFORMED_JSON: 400,
  API_ERR_EMPTY_BODY: 400,
  API_ERR_BAD_HEADER: 400,
  API_ERR_NOT_FOUND: 404,
  API_ERR_METHOD_NOT_ALLOWED: 405,
  API_ERR_PRECONDITION_FAILED: 412,
  API_ERR_BODY_TOO_LARGE: 413,
  API_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  API_ERR_BAD_REQUEST: 400,
  API_ERR_UPGRADE_REQUIRED: 426,
  API_ERR_WS_BAD_MESSAGE: 400,
  API_ERR_INTERNAL: 500,
});

export interface ErrorItem {
  readonly path: string;
  readonly message: string;
  /** The issue's own code when it differs from the body's (a bulk write with several kinds of problem). */
  readonly code?: string;
}

export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly errors: readonly ErrorItem[];
}

export class ApiError extends DcplaneError {
  declare readonly code: ApiErrorCode;
  readonly status: number;
  readonly errors: readonly ErrorItem[];
  constructor(code: ApiErrorCode, message: string, errors: readonly ErrorItem[] = []) {
    super(code, message);
    this.status = API_ERROR_STATUS[code];
    this.errors = errors;
  }
}

/**
 * Where the input an inventory issue talks about came from, so its path can
 * say so: `serial` of a POST body is `body.serial`, `[3].serial` of a bulk
 * body is `body[3].serial`, `limit` of a list is `query.limit`.
 */
export type InputPart = 'body' | 'query' | 'none';

export function joinPath(part: string, path: string): string {
  if (path === '') return part;
  if (part === '') return path;
  return path.startsWith('[') ? `${part}${path}` : `${part}.${path}`;
}

/** Fastify's own framing errors (content type parser, body limit) by their FST_ERR code. */
const FASTIFY_CODES: ReadonlyMap<string, ApiErrorCode> = new Map([
  ['FST_ERR_CTP_EMPTY_JSON_BODY', ApiErrorCode.EMPTY_BODY],
  ['FST_ERR_CTP_INVALID_JSON_BODY', ApiErrorCode.MALFORMED_JSON],
  ['FST_ERR_CTP_BODY_TOO_LARGE', ApiErrorCode.BODY_TOO_LARGE],
  ['FST_ERR_CTP_INVALID_CONTENT_LENGTH', ApiErrorCode.BAD_REQUEST],
  ['FST_ERR_CTP_INVALID_MEDIA_TYPE', ApiErrorCode.UNSUPPORTED_MEDIA_TYPE],
  ['FST_ERR_CTP_INVALID_TYPE', ApiErrorCode.UNSUPPORTED_MEDIA_TYPE],
]);

interface AjvLikeError {
  readonly instancePath?: string;
  readonly keyword?: string;
  readonly message?: string;
  readonly params?: Readonly<Record<string, unknown>>;
}

/** `/3/serial` → `[3].serial`; keys that are not identifiers are quoted (`["a b"]`). */
function pointerToPath(pointer: string): string {
  if (pointer === '') return '';
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg.slice(0, 64))}]`;
  }
  return out;
}

const PART_NAMES: ReadonlyMap<string, string> = new Map([
  ['body', 'body'],
  ['querystring', 'query'],
  ['params', 'params'],
  ['headers', 'headers'],
]);

/** ajv errors of one request part as `{path, message}` items. */
export function validationItems(context: string, errors: readonly AjvLikeError[]): ErrorItem[] {
  const part = PART_NAMES.get(context) ?? context;
  const seen = new Set<string>();
  const out: ErrorItem[] = [];
  for (const e of errors) {
    let path = pointerToPath(e.instancePath ?? '');
    let message = e.message ?? 'is invalid';
    const params = e.params ?? {};
    if (e.keyword === 'additionalProperties' && typeof params['additionalProperty'] === 'string') {
      path = joinPath(path, pointerToPath(`/${params['additionalProperty']}`));
      message = 'is not a known field';
    } else if (e.keyword === 'required' && typeof params['missingProperty'] === 'string') {
      path = joinPath(path, pointerToPath(`/${params['missingProperty']}`));
      message = 'is required';
    }
    const item = { path: joinPath(part, path), message };
    const key = `${item.path}\u0000${item.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(item);
  }
  return out;
}

export interface ErrorResponse {
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: ReadonlyMap<string, string>;
}

/**
 * Any error thrown while serving a request, as the status, JSON body and
 * headers to answer with. Coded errors keep their code; inventory issue
 * paths gain the part of the request they came from (`part`). Anything
 * uncoded is a 500 whose details stay in the log.
 */
export function errorResponse(err: unknown, part: InputPart = 'none', versionFromHeader = false): ErrorResponse {
  const headers = new Map<string, string>();
  if (err instanceof ApiError) return { status: err.status, body: { code: err.code, message: err.message, errors: err.errors }, headers };
  if (err instanceof InventoryError) {
    const status = err.status;
    const queryIssue = status === 400;
    const prefix = queryIssue ? 'query' : part === 'none' ? '' : part;
    const errors = err.issues.map((i) => ({
      path: versionFromHeader && i.code === 'INVENTORY_ERR_VERSION_CONFLICT' && i.path === 'version' ? 'headers.if-match' : joinPath(prefix, i.path),
      message: i.message,
      code: i.code,
    }));
    // A lost update is the API's precondition failure whichever way the client sent its version.
    const code = status === 412 ? ApiErrorCode.PRECONDITION_FAILED : err.code;
    return { status, body: { code, message: err.message, errors }, headers };
  }
  if (err instanceof AuthError) {
    if (err.retryAfterSeconds !== undefined) headers.set('retry-after', String(err.retryAfterSeconds));
    if (err.status === 401) headers.set('www-authenticate', 'Bearer');
    const errors = err.reason !== undefined ? [{ path: 'body.password', message: err.reason }] : [];
    const status = err.status;
    return { status, body: { code: err.code, message: status >= 500 ? 'internal error' : err.message, errors }, headers };
  }
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    statusCode?: unknown;
    code?: unknown;
    message?: unknown;
    validation?: unknown;
    validationContext?: unknown;
  };
  if (Array.isArray(e.validation)) {
    const items = validationItems(typeof e.validationContext === 'string' ? e.validationContext : 'body', e.validation as AjvLikeError[]);
    return { status: 400, body: { code: ApiErrorCode.VALIDATION, message: items.map((i) => `${i.path} ${i.message}`).join('; '), errors: items }, headers };
  }
  const fst = typeof e.code === 'string' ? FASTIFY_CODES.get(e.code) : undefined;
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (fst !== undefined) {
    return { status: API_ERROR_STATUS[fst], body: { code: fst, message: String(e.message ?? fst), errors: fst === ApiErrorCode.BODY_TOO_LARGE || fst === ApiErrorCode.MALFORMED_JSON || fst === ApiErrorCode.EMPTY_BODY ? [{ path: 'body', message: String(e.message ?? '') }] : [] }, headers };
  }
  if (status >= 400 && status < 500) {
    // JSON.parse failures (secure-json-parse's prototype poisoning refusal among them) arrive as SyntaxErrors with a 400.
    const code = err instanceof SyntaxError ? ApiErrorCode.MALFORMED_JSON : ApiErrorCode.BAD_REQUEST;
    return { status, body: { code, message: String(e.message ?? code), errors: code === ApiErrorCode.MALFORMED_JSON ? [{ path: 'body', message: String(e.message ?? '') }] : [] }, headers };
  }
  return { status: 500, body: { code: ApiErrorCode.INTERNAL, message: 'internal error', errors: [] }, headers };
}

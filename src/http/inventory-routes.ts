import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkPasswordPolicy } from '../auth/passwords.js';
import type { PasswordHasher } from '../auth/passwords.js';
import { AUDIT_ACTIONS } from '../inventory/audit.js';
import { InventoryError, InventoryErrorCode, issue } from '../inventory/errors.js';
import type { InventoryIssue } from '../inventory/errors.js';
import type { Inventory } from '../inventory/inventory.js';
import { filterable } from '../inventory/query.js';
import type { DeleteTarget, Repository } from '../inventory/repository.js';
import { writeContext } from './access.js';
import type { Guard } from './access.js';
import { API_RESOURCES, hiddenFields } from './api-resources.js';
import type { ApiResource } from './api-resources.js';
import { ApiError, ApiErrorCode } from './errors.js';
import type { InputPart } from './errors.js';
import { etagOf, matches, parseIfMatch } from './etag.js';
import { isTrue, pageLinks, parseListQuery } from './list-query.js';
import {
  BULK_DELETE_BODY,
  DELETE_QUERY,
  ERROR_SCHEMA,
  GET_QUERY,
  ID_PARAMS,
  bulkUpdateBodySchema,
  createBodySchema,
  listQuerySchema,
  outputSchema,
  updateBodySchema,
} from './resource-schemas.js';
import type { JsonSchema } from './resource-schemas.js';

export const API_PREFIX = '/api/v1';

/** Which part of the request the inventory's issue paths refer to, per request (read by the error handler). */
const inputParts = new WeakMap<FastifyRequest, InputPart>();

/** Requests whose expected version came from If-Match, so a lost update names that header. */
const ifMatchUsed = new WeakSet<FastifyRequest>();

export function inputPartOf(req: FastifyRequest): InputPart {
  return inputParts.get(req) ?? 'none';
}

export function versionFromHeader(req: FastifyRequest): boolean {
  return ifMatchUsed.has(req);
}

export interface InventoryRouteDeps {
  readonly inventory: Inventory;
  readonly guard: Guard;
  /** Hashes the `password` of users created or changed through the API. */
  readonly hasher: PasswordHasher;
}

type Row = Readonly<Record<string, unknown>>;
type Body = Record<string, unknown>;

/** Keys a client may echo back from a read; the repository knows only columns. */
const ECHOED = ['url', 'display', 'created_at', 'updated_at'] as const;

/** Warnings of a write that passed (a rack over its power budget in `warn` mode), as a header: the body stays the object. */
function setWarnings(reply: FastifyReply, warnings: readonly InventoryIssue[]): void {
  if (warnings.length === 0) return;
  const json = JSON.stringify(warnings.map((w) => ({ code: w.code, path: w.path, message: w.message })));
  void reply.header('x-dcplane-warnings', json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/** The list envelope (NetBox's). */
function pageSchema(item: JsonSchema): JsonSchema {
  return {
    type: 'object',
    properties: { count: { type: 'integer' }, next: { type: ['string', 'null'] }, previous: { type: ['string', 'null'] }, results: { type: 'array', items: item } },
  };
}

const errorResponses = { 400: ERROR_SCHEMA, 401: ERROR_SCHEMA, 403: ERROR_SCHEMA, 404: ERROR_SCHEMA, 409: ERROR_SCHEMA, 412: ERROR_SCHEMA, 422: ERROR_SCHEMA };

/**
 * The generated routes of one resource, NetBox style:
 * `GET/POST/PATCH/PUT/DELETE /api/v1/<path>` (list, create one or many, bulk
 * update, bulk replace, bulk delete) and `GET/PATCH/PUT/DELETE
 * /api/v1/<path>/{id}`.
 */
function resourceRoutes(app: FastifyInstance, r: ApiResource, deps: InventoryRouteDeps): void {
  const repo = deps.inventory.repository(r.table);
  if (repo === undefined) throw new TypeError(`inventory has no repository ${r.table}`);
  const base = `${API_PREFIX}/${r.path}`;
  const hidden = hiddenFields(r);
  const hasName = Object.hasOwn(r.def.fields, 'name');
  const filterFields = ['id', ...Object.entries(r.def.fields).filter(([, f]) => filterable(f)).map(([n]) => n), 'created_at', 'updated_at', 'version'];
  const tags = [r.path];
  const out = outputSchema(r);
  const page = pageSchema(out);
  const many = { type: 'array', items: out };
  const noContent = { type: 'null', description: 'Deleted.' };

  const toJson = (row: Row, brief = false): Record<string, unknown> => {
    const url = `${base}/${String(row['id'])}`;
    if (brief) return { id: row['id'], url, display: r.display(row), ...(hasName ? { name: row['name'] } : {}) };
    const o: Record<string, unknown> = { id: row['id'], url, display: r.display(row) };
    for (const [k, v] of Object.entries(row)) if (k !== 'id' && !hidden.has(k)) o[k] = v;
    return o;
  };

  /** A body object as the repository takes it: echoed read-only keys dropped, a password hashed. */
  const prepare = async (body: Body, index: number | undefined, replace: boolean): Promise<Body> => {
    const o: Body = Object.create(null) as Body;
    for (const [k, v] of Object.entries(body)) if (!(ECHOED as readonly string[]).includes(k) && !r.virtualInputs.has(k)) o[k] = v;
    if (r.virtualInputs.has('password') && typeof body['password'] === 'string') {
      const username = typeof body['username'] === 'string' ? body['username'] : '';
      try {
        checkPasswordPolicy(body['password'], username);
      } catch (e) {
        const at = index === undefined ? 'password' : `[${index}].password`;
        throw new InventoryError([issue(InventoryErrorCode.INVALID_VALUE, at, e instanceof Error ? e.message : 'refused by the password policy')]);
      }
      o['password_hash'] = await deps.hasher.hash(body['password']);
    }
    if (replace) {
      // PUT replaces the object: what the body leaves out goes back to its default (NetBox's full update).
      const given = new Set(Object.keys(o).map((k) => r.def.aliases?.get(k)?.field ?? k));
      const missing: InventoryIssue[] = [];
      for (const [name, f] of Object.entries(r.def.fields)) {
        if (given.has(name) || hidden.has(name) || r.readOnly.has(name)) continue;
        if (f.required === true) missing.push(issue(InventoryErrorCode.REQUIRED, index === undefined ? name : `[${index}].${name}`, 'is required (PUT replaces the whole object; PATCH changes some fields)'));
        else o[name] = f.default !== undefined ? structuredClone(f.default) : null;
      }
      if (missing.length > 0) throw new InventoryError(missing);
    }
    return o;
  };

  const prepareAll = async (items: readonly Body[], replace: boolean): Promise<Body[]> => {
    const issues: InventoryIssue[] = [];
    const outItems: Body[] = [];
    for (let i = 0; i < items.length; i++) {
      try {
        outItems.push(await prepare(items[i] as Body, i, replace));
      } catch (e) {
        if (!(e instanceof InventoryError)) throw e;
        issues.push(...e.issues);
      }
    }
    if (issues.length > 0) throw new InventoryError(issues);
    return outItems;
  };

  /** The If-Match header as the version to write against: undefined when absent or `*`; 412 when a list of tags matches nothing. */
  const ifVersion = async (req: FastifyRequest, id: number, scope: readonly number[] | undefined): Promise<number | undefined> => {
    const cond = parseIfMatch(req.headers['if-match']);
    if (cond === undefined || cond.any) return undefined;
    ifMatchUsed.add(req);
    const only = cond.versions.length === 1 ? (cond.versions[0] as number) : 0;
    if (only >= 1 && only <= 2147483647) return only;
    const row = (await repo.get(id, scope === undefined ? {} : { tenantScope: scope })) as Row | undefined;
    if (row === undefined) return undefined;
    const v = row['version'] as number;
    if (!matches(cond, v)) throw new ApiError(ApiErrorCode.PRECONDITION_FAILED, `${r.def.objectType} ${id} is at version ${v}`, [{ path: 'headers.if-match', message: `the current entity tag is ${etagOf(v)}` }]);
    return v;
  };

  const notFound = (id: number): InventoryError => new InventoryError([issue(InventoryErrorCode.NOT_FOUND, 'id', `no ${r.def.objectType} with id ${id}`)]);

  // ---- collection ----------------------------------------------------------

  app.get<{ Querystring: Record<string, unknown> }>(
    base,
    { schema: { tags, summary: `List ${r.path}`, querystring: listQuerySchema(filterFields), response: { 200: page, ...errorResponses } } },
    async (req) => {
      const caller = deps.guard(req, 'read', r.rbac);
      const { query, brief, limit, offset } = parseListQuery(req.query, caller.tenantScope);
      inputParts.set(req, 'query');
      const res = await (repo as Repository<Row>).list(query);
      return { count: res.count, ...pageLinks(req.url, res.count, limit, offset, res.nextCursor), results: res.rows.map((row) => toJson(row, brief)) };
    },
  );

  app.post<{ Body: Body | Body[] }>(
    base,
    { schema: { tags, summary: `Create one ${r.def.objectType} or many (a list: all or nothing)`, body: createBodySchema(r), response: { 201: { oneOf: [out, many] }, ...errorResponses } } },
    async (req, reply) => {
      const caller = deps.guard(req, 'write', r.rbac);
      const ctx = writeContext(req, caller);
      inputParts.set(req, 'body');
      if (Array.isArray(req.body)) {
        const res = await repo.bulkCreate(await prepareAll(req.body, false), ctx);
        setWarnings(reply, res.warnings);
        return reply.code(201).send((res.rows as Row[]).map((row) => toJson(row)));
      }
      const res = await repo.create(await prepare(req.body, undefined, false), ctx);
      const row = res.row as Row;
      setWarnings(reply, res.warnings);
      return reply
        .code(201)
        .header('etag', etagOf(row['version'] as number))
        .header('location', `${base}/${String(row['id'])}`)
        .send(toJson(row));
    },
  );

  for (const method of ['PATCH', 'PUT'] as const) {
    const replace = method === 'PUT';
    app.route<{ Body: Body[] }>({
      method,
      url: base,
      schema: {
        tags,
        summary: `${replace ? 'Replace' : 'Update'} many ${r.path} (each with its id; all or nothing)`,
        body: bulkUpdateBodySchema(r),
        response: { 200: many, ...errorResponses },
      },
      handler: async (req, reply) => {
        const caller = deps.guard(req, 'write', r.rbac);
        inputParts.set(req, 'body');
        const items = await prepareAll(req.body, replace);
        const res = await repo.bulkUpdate(items as unknown as Parameters<typeof repo.bulkUpdate>[0], writeContext(req, caller));
        setWarnings(reply, res.warnings);
        return (res.rows as Row[]).map((row) => toJson(row));
      },
    });
  }

  app.delete<{ Body: DeleteTarget[]; Querystring: { cascade?: boolean } }>(
    base,
    { schema: { tags, summary: `Delete many ${r.path} (all or nothing)`, body: BULK_DELETE_BODY, querystring: DELETE_QUERY, response: { 204: noContent, ...errorResponses } } },
    async (req, reply) => {
      const caller = deps.guard(req, 'write', r.rbac);
      inputParts.set(req, 'body');
      await repo.bulkDelete(req.body, { cascade: req.query.cascade === true }, writeContext(req, caller));
      return reply.code(204).send();
    },
  );

  // ---- one object ----------------------------------------------------------

  const one = `${base}/:id`;

  app.get<{ Params: { id: string }; Querystring: { brief?: string } }>(
    one,
    { schema: { tags, summary: `One ${r.def.objectType}`, params: ID_PARAMS, querystring: GET_QUERY, response: { 200: out, ...errorResponses } } },
    async (req, reply) => {
      const caller = deps.guard(req, 'read', r.rbac);
      const row = (await repo.get(Number(req.params.id), caller.tenantScope === undefined ? {} : { tenantScope: caller.tenantScope })) as Row | undefined;
      if (row === undefined) throw notFound(Number(req.params.id));
      const version = row['version'] as number;
      const none = parseIfMatch(req.headers['if-none-match'], 'if-none-match');
      void reply.header('etag', etagOf(version));
      if (none !== undefined && matches(none, version)) return reply.code(304).send();
      return toJson(row, isTrue(req.query.brief));
    },
  );

  for (const method of ['PATCH', 'PUT'] as const) {
    const replace = method === 'PUT';
    app.route<{ Params: { id: string }; Body: Body }>({
      method,
      url: one,
      schema: {
        tags,
        summary: `${replace ? 'Replace' : 'Update'} one ${r.def.objectType} (If-Match: W/"<version>" refuses a lost update with 412)`,
        params: ID_PARAMS,
        body: updateBodySchema(r),
        response: { 200: out, ...errorResponses },
      },
      handler: async (req, reply) => {
        const caller = deps.guard(req, 'write', r.rbac);
        const version = await ifVersion(req, Number(req.params.id), caller.tenantScope);
        inputParts.set(req, 'body');
        const patch = await prepare(req.body, undefined, replace);
        delete patch['id'];
        const res = await repo.update(Number(req.params.id), patch, version === undefined ? {} : { ifVersion: version }, writeContext(req, caller));
        const row = res.row as Row;
        setWarnings(reply, res.warnings);
        return reply.header('etag', etagOf(row['version'] as number)).send(toJson(row));
      },
    });
  }

  app.delete<{ Params: { id: string }; Querystring: { cascade?: boolean } }>(
    one,
    { schema: { tags, summary: `Delete one ${r.def.objectType} (?cascade=true deletes what depends on it)`, params: ID_PARAMS, querystring: DELETE_QUERY, response: { 204: noContent, ...errorResponses } } },
    async (req, reply) => {
      const caller = deps.guard(req, 'write', r.rbac);
      const version = await ifVersion(req, Number(req.params.id), caller.tenantScope);
      await repo.delete(Number(req.params.id), { cascade: req.query.cascade === true, ...(version === undefined ? {} : { ifVersion: version }) }, writeContext(req, caller));
      return reply.code(204).send();
    },
  );
}

const AUDIT_ENTRY: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    url: { type: 'string' },
    at: { type: 'string', format: 'date-time' },
    user: { type: ['string', 'null'] },
    user_id: { type: ['integer', 'null'] },
    source_ip: { type: ['string', 'null'] },
    action: { type: 'string', enum: [...AUDIT_ACTIONS] },
    object_type: { type: 'string' },
    object_id: { type: ['integer', 'null'] },
    before: { type: ['object', 'null'], description: 'The object before the write (secrets shown as [redacted]).' },
    after: { type: ['object', 'null'] },
    request_id: { type: ['string', 'null'] },
    api_token_id: { type: ['integer', 'null'], description: 'The API token the write came through (null: a login session or the system); filter with api_token_id=, api_token_id__isnull=.' },
    api_token_prefix: { type: ['string', 'null'], description: 'That token\'s public prefix (dcp_<prefix>_…), never its secret; filter with api_token_prefix=.' },
  },
};

/** `GET /api/v1/audit/logs` (filters as on every list: user, action, object_type, object_id, request_id, api_token_id, api_token_prefix, at__gte, …) and `/audit/logs/{id}`. */
function auditRoutes(app: FastifyInstance, deps: InventoryRouteDeps): void {
  const base = `${API_PREFIX}/audit/logs`;
  const tags = ['audit/logs'];
  const toJson = (e: Row): Record<string, unknown> => ({ url: `${base}/${String(e['id'])}`, ...e });
  app.get<{ Querystring: Record<string, unknown> }>(
    base,
    {
      schema: {
        tags,
        summary: 'The audit trail: every write, newest first',
        querystring: listQuerySchema(['id', 'at', 'user', 'user_id', 'source_ip', 'action', 'object_type', 'object_id', 'request_id']),
        response: { 200: pageSchema(AUDIT_ENTRY), ...errorResponses },
      },
    },
    async (req) => {
      deps.guard(req, 'read', 'audit');
      const { query, limit, offset } = parseListQuery(req.query, undefined);
      inputParts.set(req, 'query');
      const res = await deps.inventory.audit.list(query);
      return { count: res.count, ...pageLinks(req.url, res.count, limit, offset, res.nextCursor), results: res.rows.map((e) => toJson(e as unknown as Row)) };
    },
  );
  app.get<{ Params: { id: string } }>(
    `${base}/:id`,
    { schema: { tags, summary: 'One audit entry', params: ID_PARAMS, response: { 200: AUDIT_ENTRY, ...errorResponses } } },
    async (req) => {
      deps.guard(req, 'read', 'audit');
      const e = await deps.inventory.audit.get(Number(req.params.id));
      if (e === undefined) throw new InventoryError([issue(InventoryErrorCode.NOT_FOUND, 'id', `no audit entry with id ${Number(req.params.id)}`)]);
      return toJson(e as unknown as Row);
    },
  );
}

/** Every inventory resource's routes, and the audit log's. */
export function registerInventoryRoutes(app: FastifyInstance, deps: InventoryRouteDeps): void {
  for (const r of API_RESOURCES) resourceRoutes(app, r, deps);
  auditRoutes(app, deps);
}

export type { JsonSchema };

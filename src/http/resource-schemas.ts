import type { FieldDef } from '../inventory/fields.js';
import { LOOKUPS, MAX_LIMIT, MAX_OFFSET } from '../inventory/query.js';
import { hiddenFields } from './api-resources.js';
import type { ApiResource } from './api-resources.js';

/**
 * JSON schemas of the generated routes, built from the resource fields so
 * the API, its validation and its OpenAPI document cannot drift from the
 * data model. They check shape and types (400 on a mismatch or an unknown
 * field); value rules (ranges, enums, formats, required fields, uniqueness)
 * stay with the repository, which names them with inventory codes (422/409)
 * and accepts the spellings it normalises (`"Active"`, `"Tier 3"`).
 */
export type JsonSchema = Record<string, unknown>;

const FORMAT_OF: Readonly<Record<string, string>> = { mac: 'mac', ipv4: 'ipv4', cidr: 'cidr', slug: 'slug', email: 'email' };

function baseSchema(f: FieldDef): JsonSchema {
  switch (f.kind) {
    case 'int':
      return { type: 'integer' };
    case 'float':
      return { type: 'number' };
    case 'bool':
      return { type: 'boolean' };
    case 'date':
      return { type: 'string', format: 'date' };
    case 'timestamp':
      return { type: 'string', format: 'date-time' };
    case 'json':
      if (f.items === 'int') return { type: 'array', items: { type: 'integer' } };
      if (f.items === 'text') return { type: 'array', items: { type: 'string' } };
      return { type: 'object' };
    case 'text':
      return { type: 'string', ...(f.format !== undefined ? { format: FORMAT_OF[f.format] } : {}) };
  }
}

/** A field's input schema: its JSON type, null when nullable, and what a coercing field also accepts. */
export function fieldSchema(f: FieldDef, description?: string): JsonSchema {
  const s = baseSchema(f);
  const types = new Set<string>([s['type'] as string]);
  // Fields with a coercion take the seed product's spellings: tier "Tier 3", RAID level 5.
  if (f.coerce !== undefined) {
    types.add('string');
    types.add(f.kind === 'text' ? 'number' : 'integer');
  }
  if (f.nullable === true) types.add('null');
  const out: JsonSchema = { ...s, type: types.size === 1 ? s['type'] : [...types] };
  const notes: string[] = [];
  if (f.enum !== undefined) notes.push(`One of: ${f.enum.join(', ')}.`);
  if (f.required === true) notes.push('Required on create.');
  if (f.ref !== undefined) notes.push(`Id of a ${f.ref} object.`);
  if (f.min !== undefined) out['x-minimum'] = f.min;
  if (f.max !== undefined) out['x-maximum'] = f.max;
  if (f.default !== undefined) out['default'] = f.default;
  if (description !== undefined) notes.push(description);
  if (notes.length > 0) out['description'] = notes.join(' ');
  return out;
}

/** Keys a client may send back from a read (NetBox clients PUT what they GET): accepted and ignored. */
const ECHOED = ['created_at', 'updated_at', 'url', 'display'] as const;

/** Properties an object in a write body may carry. */
function inputProperties(r: ApiResource, opts: { withId: boolean }): Record<string, JsonSchema> {
  const hidden = hiddenFields(r);
  const props: Record<string, JsonSchema> = {};
  if (opts.withId) props['id'] = { type: 'integer', minimum: 1, maximum: 2147483647 };
  props['version'] = { type: 'integer', minimum: 1, description: 'The version this change is based on (like If-Match): 412 when it is not the stored one.' };
  for (const [name, f] of Object.entries(r.def.fields)) {
    if (hidden.has(name) || r.readOnly.has(name)) continue;
    props[name] = fieldSchema(f);
  }
  for (const [alias, a] of r.def.aliases ?? new Map()) {
    const target = r.def.fields[a.field];
    if (target !== undefined) props[alias] = fieldSchema(target, `Alias of ${a.field}${a.scale !== undefined ? ` (×${a.scale})` : ''}, accepted on input.`);
  }
  for (const [name, v] of r.virtualInputs) props[name] = { type: v.type, description: v.description };
  for (const k of ECHOED) props[k] = { description: 'Read-only; ignored on input.' };
  return props;
}

/** One object of a create or update body. */
export function objectSchema(r: ApiResource, opts: { withId: boolean; idRequired?: boolean }): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    properties: inputProperties(r, opts),
    ...(opts.idRequired === true ? { required: ['id'] } : {}),
  };
}

/** POST body: one object, or a list of them created all or nothing. */
export function createBodySchema(r: ApiResource): JsonSchema {
  const one = objectSchema(r, { withId: r.def.explicitId === true });
  return { oneOf: [one, { type: 'array', minItems: 1, items: one }] };
}

/** PATCH/PUT on one object (its id is in the path). */
export function updateBodySchema(r: ApiResource): JsonSchema {
  return objectSchema(r, { withId: true });
}

/** Bulk PATCH/PUT: a list of objects, each with its id. */
export function bulkUpdateBodySchema(r: ApiResource): JsonSchema {
  return { type: 'array', minItems: 1, items: objectSchema(r, { withId: true, idRequired: true }) };
}

/** Bulk DELETE: ids, or `{id, version}` to delete only an unchanged object. */
export const BULK_DELETE_BODY: JsonSchema = {
  type: 'array',
  minItems: 1,
  items: {
    oneOf: [
      { type: 'integer', minimum: 1, maximum: 2147483647 },
      {
        type: 'object',
        additionalProperties: false,
        required: ['id'],
        properties: { id: { type: 'integer', minimum: 1, maximum: 2147483647 }, version: { type: 'integer', minimum: 1 } },
      },
    ],
  },
};

export const ID_PARAMS: JsonSchema = {
  type: 'object',
  required: ['id'],
  // Text with a pattern, not an integer: ajv's coercion would take `0x10` or `1e1` as an id.
  properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,9}$', description: 'The object id (a positive whole number).' } },
};

export const BRIEF = { type: 'string', enum: ['1', '0', 'true', 'false', 'True', 'False'], description: 'Only id, url and display.' };

/**
 * List query: paging, ordering, search and brief are declared; filters are
 * `field=value` and `field__lookup=value` over the resource's filterable
 * fields (open, since the lookups multiply them; the repository whitelists).
 */
export function listQuerySchema(filterFields: readonly string[]): JsonSchema {
  return {
    type: 'object',
    properties: {
      limit: { type: 'integer', minimum: 0, maximum: MAX_LIMIT, default: 50, description: `Page size (0: count only), at most ${MAX_LIMIT}.` },
      offset: { type: 'integer', minimum: 0, maximum: MAX_OFFSET, default: 0 },
      ordering: { type: 'string', maxLength: 1000, description: 'Comma-separated fields, `-` for descending: `-u_position,name`.' },
      q: { type: 'string', maxLength: 200, description: 'Case-insensitive search over the text fields.' },
      cursor: {
        type: 'string',
        maxLength: 4000,
        description: 'Cursor paging: empty for the first page, then the `cursor` of the `next` link. Each page costs the same at any depth (an offset walks every row before it); `previous` is null.',
      },
      brief: BRIEF,
    },
    additionalProperties: true,
    description: `Filters: ${filterFields.join(', ')}; with lookups field__${LOOKUPS.filter((l) => l !== 'exact').join(', field__')}. A repeated filter matches any of its values.`,
  };
}

export const DELETE_QUERY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { cascade: { type: 'boolean', description: 'Also delete dependents that would otherwise refuse the delete.' } },
};

export const GET_QUERY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { brief: BRIEF },
};

export const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['code', 'message', 'errors'],
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    errors: {
      type: 'array',
      items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' }, code: { type: 'string' } } },
    },
  },
};

/** A stored object as the API returns it (for the OpenAPI document; responses are serialised as they are). */
export function outputSchema(r: ApiResource): JsonSchema {
  const hidden = hiddenFields(r);
  const props: Record<string, JsonSchema> = {
    id: { type: 'integer' },
    url: { type: 'string' },
    display: { type: 'string' },
    version: { type: 'integer', description: 'Increases with every change; the ETag is W/"<version>".' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  };
  for (const [name, f] of Object.entries(r.def.fields)) {
    if (hidden.has(name)) continue;
    const s = baseSchema(f);
    props[name] = { ...s, type: f.nullable === true ? [s['type'], 'null'] : s['type'] };
  }
  return { type: 'object', properties: props };
}

import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Route schema validation. Bodies are checked as sent: no type coercion (a
 * `"42"` for an integer field is a 400, not a silent conversion), no
 * stripping of unknown properties (Fastify's default removes them; we
 * refuse them), every error reported. Query strings and path parameters
 * arrive as text, so those coerce.
 */
const FORMATS = ['date', 'date-time', 'ipv4', 'mac', 'cidr', 'slug', 'email'] as const;

function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes: coerce ? 'array' : false,
    removeAdditional: false,
    useDefaults: coerce,
    strict: false,
    // Formats are documentation here: the repository checks them and answers with its own codes.
    formats: Object.fromEntries(FORMATS.map((f) => [f, true])),
  });
  ajv.addKeyword({ keyword: 'x-minimum' });
  ajv.addKeyword({ keyword: 'x-maximum' });
  return ajv;
}

const bodyAjv = makeAjv(false);
const textAjv = makeAjv(true);

type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/**
 * A body that may be one object or a list of them (`oneOf: [obj, array]`):
 * checked against the branch its JSON type picks, so errors speak of that
 * branch only (`body[3].serial`), not of both.
 */
function oneOrMany(schema: Record<string, unknown>): Validator | undefined {
  const branches = schema['oneOf'];
  if (!Array.isArray(branches) || branches.length !== 2) return undefined;
  const [one, many] = branches as Record<string, unknown>[];
  if (one?.['type'] !== 'object' || many?.['type'] !== 'array') return undefined;
  const vOne = bodyAjv.compile(one);
  const vMany = bodyAjv.compile(many);
  const fn: Validator = (data: unknown) => {
    const v: ValidateFunction = Array.isArray(data) ? vMany : vOne;
    const ok = v(data);
    fn.errors = ok ? null : (v.errors ?? null);
    return ok;
  };
  return fn;
}

export const validatorCompiler: FastifySchemaCompiler<Record<string, unknown>> = ({ schema, httpPart }) => {
  if (httpPart !== 'body') return textAjv.compile(schema);
  const inner: Validator = oneOrMany(schema) ?? bodyAjv.compile(schema);
  // Fastify reads `errors` off the function it was given, so the wrapper carries them.
  const outer: Validator = (data: unknown) => {
    if (data === undefined) {
      outer.errors = [{ instancePath: '', keyword: 'required', params: {}, schemaPath: '#', message: 'a JSON body is required' }];
      return false;
    }
    const ok = inner(data);
    outer.errors = ok ? null : (inner.errors ?? null);
    return ok;
  };
  return outer;
};

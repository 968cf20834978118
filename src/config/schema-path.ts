import { join } from 'node:path';
import { packageRoot } from '../common/package-root.js';

/** Where the published JSON Schema of the configuration lives in the package. */
export function schemaPath(): string {
  return join(packageRoot(), 'schema', 'dcplane.schema.json');
}

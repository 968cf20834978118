/** The shape of GET /api/v1/meta/resources (src/http/ui-static.ts): the inventory's fields as the server defines them. */

export type FieldKind = 'text' | 'int' | 'float' | 'bool' | 'date' | 'timestamp' | 'json';

export interface FieldMeta {
  readonly name: string;
  readonly kind: FieldKind;
  readonly required: boolean;
  readonly nullable: boolean;
  readonly read_only: boolean;
  readonly filterable: boolean;
  readonly search: boolean;
  readonly enum?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly max_length?: number;
  readonly format?: string;
  readonly items?: 'text' | 'int';
  readonly default?: unknown;
  /** API path of the referenced resource (`racks`). */
  readonly ref?: string;
}

export interface ResourceMeta {
  readonly path: string;
  readonly object_type: string;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly default_ordering: readonly string[];
  readonly fields: readonly FieldMeta[];
  readonly write_only: readonly string[];
}

export interface MetaIndex {
  readonly byPath: ReadonlyMap<string, ResourceMeta>;
}

export function indexMeta(resources: readonly ResourceMeta[]): MetaIndex {
  return { byPath: new Map(resources.map((r) => [r.path, r])) };
}

export function fieldOf(meta: ResourceMeta, name: string): FieldMeta | undefined {
  return meta.fields.find((f) => f.name === name);
}

import { RESOURCE_BY_NAME } from '../inventory/resources.js';
import type { ResourceDef } from '../inventory/resource.js';

/**
 * The inventory resources the API serves, under the names users expect
 * (PRODUCT.md): the URL path below /api/v1, the repository behind it, and
 * what the generic routes need to know beyond the resource definition.
 * Server interfaces are a flat collection filtered by `server_id`, as
 * NetBox's `dcim/interfaces/?device_id=` is.
 */
export interface ApiResource {
  /** Below /api/v1: `network/devices`. */
  readonly path: string;
  /** The repository (table) name: `network_devices`. */
  readonly table: string;
  readonly def: ResourceDef;
  /** What RBAC calls it (src/auth/rbac.ts: its first segment decides who may write). */
  readonly rbac: string;
  /** Reads are admin-only too (users). */
  readonly adminOnly?: boolean;
  /** Fields shown but never accepted on input (the login state the auth core keeps). */
  readonly readOnly: ReadonlySet<string>;
  /** Write-only inputs that are not columns: `password` of a user (hashed into password_hash). */
  readonly virtualInputs: ReadonlyMap<string, { readonly type: 'string'; readonly description: string }>;
  /** Short human label of an object (NetBox's `display`). */
  display(row: Readonly<Record<string, unknown>>): string;
}

function def(name: string): ResourceDef {
  const d = RESOURCE_BY_NAME.get(name);
  if (d === undefined) throw new TypeError(`no inventory resource ${name}`);
  return d;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const byName = (row: Readonly<Record<string, unknown>>): string => str(row['name']) ?? `#${String(row['id'])}`;

function resource(path: string, table: string, extra: Partial<Omit<ApiResource, 'path' | 'table' | 'def'>> = {}): ApiResource {
  return Object.freeze({
    path,
    table,
    def: def(table),
    rbac: path,
    readOnly: new Set<string>(),
    virtualInputs: new Map(),
    display: byName,
    ...extra,
  });
}

export const API_RESOURCES: readonly ApiResource[] = Object.freeze([
  resource('tenants', 'tenants'),
  resource('datacenters', 'datacenters'),
  resource('racks', 'racks'),
  resource('servers', 'servers'),
  // RBAC treats interfaces as part of servers: whoever may write servers may write their NICs.
  resource('server-interfaces', 'server_interfaces', {
    rbac: 'servers/interfaces',
    display: (r) => `${String(r['name'])} (server ${String(r['server_id'])})`,
  }),
  resource('storage', 'storage_systems'),
  resource('network/devices', 'network_devices'),
  resource('network/links', 'network_links', {
    display: (r) => `${String(r['a_type'])} ${String(r['a_id'])} ${String(r['a_interface'])} ↔ ${String(r['b_type'])} ${String(r['b_id'])} ${String(r['b_interface'])}`,
  }),
  resource('vms', 'vms'),
  resource('containers', 'containers'),
  resource('users', 'users', {
    adminOnly: true,
    // The login state is the auth core's: an unlock is POST /api/v1/users/{id}/unlock (audited), not a write of the counters.
    readOnly: new Set(['totp_enabled', 'totp_last_step', 'last_login', 'failed_logins', 'locked_until']),
    virtualInputs: new Map([['password', { type: 'string', description: 'Set the password (write-only; hashed with argon2id, checked against the password policy).' }]]),
    display: (r) => str(r['username']) ?? `#${String(r['id'])}`,
  }),
  resource('dhcp/subnets', 'dhcp_subnets', { display: (r) => str(r['subnet']) ?? `#${String(r['id'])}` }),
  // Under boot/: operators write them (src/auth/rbac.ts), as MAAS and Foreman let operators manage boot images and media.
  resource('boot/profiles', 'boot_profiles'),
  resource('dhcp/reservations', 'dhcp_reservations', {
    display: (r) => str(r['hostname']) ?? str(r['ip']) ?? str(r['mac']) ?? str(r['client_id']) ?? `#${String(r['id'])}`,
  }),
]);

/** Fields never shown (secret ones: hashes, TOTP secrets). */
export function hiddenFields(r: ApiResource): ReadonlySet<string> {
  return new Set(Object.entries(r.def.fields).filter(([, f]) => f.secret === true).map(([n]) => n));
}

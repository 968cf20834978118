import { AuthError, AuthErrorCode } from './errors.js';
import type { TenantId } from './store.js';
import type { Principal } from './tokens.js';

export type Action = 'read' | 'write' | 'admin';

/** The parts of a principal authorisation looks at. */
export type Subject = Pick<Principal, 'role' | 'readOnly' | 'tenants'>;

/**
 * Resources are named as the API paths under /api/v1 (`servers`,
 * `dhcp/subnets`, `network/devices`); the first segment decides.
 *
 * Operators write the inventory, DHCP/TFTP data and day-to-day operations
 * objects. Anything not listed here (users, tenants, audit logs, settings,
 * backups, and resources added later until someone lists them) is written by
 * admins only: a new resource is closed until opened on purpose.
 */
const OPERATOR_WRITABLE: ReadonlySet<string> = new Set([
  'datacenters',
  'racks',
  'servers',
  'storage',
  'network',
  'vms',
  'containers',
  'dhcp',
  'tftp',
  'boot',
  'import',
  'incidents',
  'alerts',
  'maintenance',
]);

/**
 * Readable by admins only. The audit log holds before/after images of every
 * tenant's objects, so it stays here until the API filters it by tenant.
 */
const ADMIN_READABLE_ONLY: ReadonlySet<string> = new Set(['users', 'audit', 'settings', 'backup', 'cluster']);

/**
 * Boot data shared by every tenant and owned by none: DHCP subnets,
 * reservations (their hostnames are the servers' names) and leases, TFTP
 * transfers. A user scoped to tenants sees only its tenants' objects, so it
 * neither reads nor writes these.
 */
const UNSCOPED_ONLY: ReadonlySet<string> = new Set(['dhcp', 'tftp']);

/** The caller's own account (profile, password, TOTP, own API tokens): every role reads and writes it. */
const SELF = 'me';

function rootOf(resource: string): string {
  const r = resource.replace(/^\/+/, '').replace(/^api\/v1\//, '');
  const slash = r.indexOf('/');
  return slash === -1 ? r : r.slice(0, slash);
}

/**
 * Whether the principal may perform `action` on `resource`.
 * - admin: everything; operator: reads all but admin-only resources, writes
 *   OPERATOR_WRITABLE ones; viewer: reads all but admin-only resources.
 * - A non-admin scoped to tenants does not reach DHCP and TFTP data at all.
 * - `admin` actions (user management, settings) need the admin role.
 * - A read-only API token never writes and never performs admin actions,
 *   whatever its user's role.
 */
export function can(principal: Subject, action: Action, resource: string): boolean {
  if (principal.readOnly && action !== 'read') return false;
  const root = rootOf(resource);
  if (principal.role === 'admin') return true;
  if (action === 'admin') return false;
  if (principal.tenants.length > 0 && UNSCOPED_ONLY.has(root)) return false;
  if (root === SELF) return true;
  if (action === 'read') return !ADMIN_READABLE_ONLY.has(root);
  return principal.role === 'operator' && OPERATOR_WRITABLE.has(root);
}

/** `can`, or throws AUTH_ERR_TOKEN_READ_ONLY (a read-only token tried to write) or AUTH_ERR_FORBIDDEN. */
export function authorize(principal: Subject, action: Action, resource: string): void {
  if (can(principal, action, resource)) return;
  if (principal.readOnly && action !== 'read' && can({ ...principal, readOnly: false }, action, resource)) {
    throw new AuthError(AuthErrorCode.TOKEN_READ_ONLY, 'this API token is read-only');
  }
  if (principal.role !== 'admin' && principal.tenants.length > 0 && UNSCOPED_ONLY.has(rootOf(resource))) {
    throw new AuthError(AuthErrorCode.FORBIDDEN, `a user scoped to tenants may not ${action} ${resource}: DHCP and TFTP data belong to every tenant`);
  }
  throw new AuthError(AuthErrorCode.FORBIDDEN, `role ${principal.role} may not ${action} ${resource}`);
}

/**
 * The tenants whose objects the principal sees, for a `WHERE tenant_id IN (…)`:
 * undefined means no restriction (admins, and users with no tenants). A scoped user
 * sees only objects of their tenants; objects without a tenant are not theirs.
 */
export function tenantFilter(principal: Subject): readonly TenantId[] | undefined {
  if (principal.role === 'admin' || principal.tenants.length === 0) return undefined;
  return [...principal.tenants];
}

/**
 * Whether an object with this `tenant_id` is visible to the principal. The API
 * answers 404, not 403, for an object that is not visible, so its existence
 * does not leak across tenants.
 */
export function canSeeObject(principal: Subject, tenantId: TenantId | null | undefined): boolean {
  const filter = tenantFilter(principal);
  if (filter === undefined) return true;
  return tenantId !== null && tenantId !== undefined && filter.includes(tenantId);
}

/**
 * Whether the principal may write an object: the role allows writing the
 * resource, the object is visible now, and (for a change of tenant) stays
 * visible afterwards, so a scoped operator cannot hand an object to, or take
 * one from, a tenant outside their scope. For a new object pass its tenant as
 * `tenantBefore`.
 */
export function canWriteObject(
  principal: Subject,
  resource: string,
  tenantBefore: TenantId | null | undefined,
  tenantAfter: TenantId | null | undefined = tenantBefore,
): boolean {
  return can(principal, 'write', resource) && canSeeObject(principal, tenantBefore) && canSeeObject(principal, tenantAfter);
}

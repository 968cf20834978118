import type { FastifyRequest } from 'fastify';
import type { Action } from '../auth/rbac.js';
import type { WriteContext } from '../inventory/repository.js';

/** Who a request acts for, as the routes need it: for RBAC, tenant scoping and the audit log. */
export interface Caller {
  readonly user: string | null;
  readonly userId: number | null;
  /** Only these tenants' objects (a scoped user); undefined: every object. */
  readonly tenantScope: readonly number[] | undefined;
  /** The API token the request came with (undefined: a login session, or auth off). */
  readonly apiToken?: { readonly id: number; readonly prefix: string };
}

/**
 * Checks that the request may perform `action` on `resource` (an RBAC name,
 * src/auth/rbac.ts) and says who it acts for; throws the auth error to
 * answer with otherwise.
 */
export type Guard = (req: FastifyRequest, action: Action, resource: string) => Caller;

/** The audit context of a write: who, from where, under which request id. */
export function writeContext(req: FastifyRequest, caller: Caller): WriteContext {
  return {
    user: caller.user,
    userId: caller.userId,
    sourceIp: req.ip,
    requestId: req.id,
    ...(caller.tenantScope === undefined ? {} : { tenantScope: caller.tenantScope }),
    ...(caller.apiToken === undefined ? {} : { apiToken: caller.apiToken }),
  };
}

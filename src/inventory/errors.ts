import { DcplaneError } from '../common/errors.js';

/**
 * Stable codes of the inventory. Each issue names the field it concerns by
 * path (`serial`, `config.pools[0]`, in bulk calls `[3].serial`), so the API
 * can answer `{code, message, errors: [{path, message}]}`.
 */
export const InventoryErrorCode = {
  // 400: the query itself is wrong (filter name, lookup, ordering, paging).
  INVALID_QUERY: 'INVENTORY_ERR_INVALID_QUERY',
  // 403
  TENANT_FORBIDDEN: 'INVENTORY_ERR_TENANT_FORBIDDEN',
  // 404
  NOT_FOUND: 'INVENTORY_ERR_NOT_FOUND',
  // 412: If-Match / ifVersion does not match the stored version (a lost update).
  VERSION_CONFLICT: 'INVENTORY_ERR_VERSION_CONFLICT',
  // 422: the body is wrong on its own.
  UNKNOWN_FIELD: 'INVENTORY_ERR_UNKNOWN_FIELD',
  REQUIRED: 'INVENTORY_ERR_REQUIRED',
  INVALID_VALUE: 'INVENTORY_ERR_INVALID_VALUE',
  REFERENCE_NOT_FOUND: 'INVENTORY_ERR_REFERENCE_NOT_FOUND',
  U_OUT_OF_RANGE: 'INVENTORY_ERR_U_OUT_OF_RANGE',
  U_POSITION_WITHOUT_RACK: 'INVENTORY_ERR_U_POSITION_WITHOUT_RACK',
  RACK_DATACENTER_MISMATCH: 'INVENTORY_ERR_RACK_DATACENTER_MISMATCH',
  IP_IN_DYNAMIC_POOL: 'INVENTORY_ERR_IP_IN_DYNAMIC_POOL',
  IP_OUTSIDE_SUBNET: 'INVENTORY_ERR_IP_OUTSIDE_SUBNET',
  CONTAINER_HOST: 'INVENTORY_ERR_CONTAINER_HOST',
  LINK_SELF: 'INVENTORY_ERR_LINK_SELF',
  /** The running DHCP configuration composed with this write would be invalid (the configuration file's check, by path). */
  DHCP_CONFIG_INVALID: 'INVENTORY_ERR_DHCP_CONFIG_INVALID',
  // 409: the body conflicts with what is stored.
  U_OVERLAP: 'INVENTORY_ERR_U_OVERLAP',
  RACK_POWER_BUDGET: 'INVENTORY_ERR_RACK_POWER_BUDGET',
  HOST_CAPACITY: 'INVENTORY_ERR_HOST_CAPACITY',
  DUPLICATE_SERIAL: 'INVENTORY_ERR_DUPLICATE_SERIAL',
  DUPLICATE_NAME: 'INVENTORY_ERR_DUPLICATE_NAME',
  DUPLICATE_MAC: 'INVENTORY_ERR_DUPLICATE_MAC',
  DUPLICATE_VALUE: 'INVENTORY_ERR_DUPLICATE_VALUE',
  LINK_ENDPOINT_IN_USE: 'INVENTORY_ERR_LINK_ENDPOINT_IN_USE',
  HAS_DEPENDENTS: 'INVENTORY_ERR_HAS_DEPENDENTS',
  /** A reservation derived from a server's primary interface is edited through the server, not directly. */
  RESERVATION_DERIVED: 'INVENTORY_ERR_RESERVATION_DERIVED',
  /** A server's derived reservation would take a MAC or address another reservation of its subnet holds. */
  RESERVATION_CONFLICT: 'INVENTORY_ERR_RESERVATION_CONFLICT',
  /** The write would leave no active admin (demoting, disabling or deleting the last one). */
  LAST_ADMIN: 'INVENTORY_ERR_LAST_ADMIN',
  /** Several issues with different codes; each issue carries its own. */
  MULTIPLE: 'INVENTORY_ERR_MULTIPLE',
} as const;
export type InventoryErrorCode = (typeof InventoryErrorCode)[keyof typeof InventoryErrorCode];

/** The HTTP status each code maps to (the API's contract; kept here so codes and statuses cannot drift apart). */
export const INVENTORY_ERROR_STATUS: Readonly<Record<InventoryErrorCode, number>> = Object.freeze({
  INVENTORY_ERR_INVALID_QUERY: 400,
  INVENTORY_ERR_TENANT_FORBIDDEN: 403,
  INVENTORY_ERR_NOT_FOUND: 404,
  INVENTORY_ERR_VERSION_CONFLICT: 412,
  INVENTORY_ERR_UNKNOWN_FIELD: 422,
  INVENTORY_ERR_REQUIRED: 422,
  INVENTORY_ERR_INVALID_VALUE: 422,
  INVENTORY_ERR_REFERENCE_NOT_FOUND: 422,
  INVENTORY_ERR_U_OUT_OF_RANGE: 422,
  INVENTORY_ERR_U_POSITION_WITHOUT_RACK: 422,
  INVENTORY_ERR_RACK_DATACENTER_MISMATCH: 422,
  INVENTORY_ERR_IP_IN_DYNAMIC_POOL: 422,
  INVENTORY_ERR_IP_OUTSIDE_SUBNET: 422,
  INVENTORY_ERR_CONTAINER_HOST: 422,
  INVENTORY_ERR_LINK_SELF: 422,
  INVENTORY_ERR_DHCP_CONFIG_INVALID: 422,
  INVENTORY_ERR_U_OVERLAP: 409,
  INVENTORY_ERR_RACK_POWER_BUDGET: 409,
  INVENTORY_ERR_HOST_CAPACITY: 409,
  INVENTORY_ERR_DUPLICATE_SERIAL: 409,
  INVENTORY_ERR_DUPLICATE_NAME: 409,
  INVENTORY_ERR_DUPLICATE_MAC: 409,
  INVENTORY_ERR_DUPLICATE_VALUE: 409,
  INVENTORY_ERR_LINK_ENDPOINT_IN_USE: 409,
  INVENTORY_ERR_HAS_DEPENDENTS: 409,
  INVENTORY_ERR_RESERVATION_DERIVED: 409,
  INVENTORY_ERR_RESERVATION_CONFLICT: 409,
  INVENTORY_ERR_LAST_ADMIN: 409,
  INVENTORY_ERR_MULTIPLE: 422,
});

export interface InventoryIssue {
  readonly code: InventoryErrorCode;
  /** Field path; `''` for the object as a whole. Bulk calls prefix the row: `[3].serial`. */
  readonly path: string;
  readonly message: string;
}

/**
 * Every refusal of the inventory. `issues` lists each problem found (all of
 * them, not just the first, so a bulk import reports every bad row); `code`
 * is theirs when they share one, else INVENTORY_ERR_MULTIPLE. Nothing was
 * written when this is thrown.
 */
export class InventoryError extends DcplaneError {
  declare readonly code: InventoryErrorCode;
  readonly issues: readonly InventoryIssue[];
  constructor(issues: readonly InventoryIssue[]) {
    const first = issues[0];
    if (first === undefined) throw new TypeError('InventoryError needs at least one issue');
    const code = issues.every((i) => i.code === first.code) ? first.code : InventoryErrorCode.MULTIPLE;
    const head = issues
      .slice(0, 3)
      .map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`))
      .join('; ');
    super(code, issues.length > 3 ? `${head}; and ${issues.length - 3} more` : head);
    this.issues = issues;
  }

  /** Suggested HTTP status: the most severe by the order 400 > 403 > 404 > 412 > 409 > 422 of the issues' codes. */
  get status(): number {
    const statuses = this.issues.map((i) => INVENTORY_ERROR_STATUS[i.code]);
    for (const s of [400, 403, 404, 412, 409]) if (statuses.includes(s)) return s;
    return 422;
  }
}

export function issue(code: InventoryErrorCode, path: string, message: string): InventoryIssue {
  return { code, path, message };
}

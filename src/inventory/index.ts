export { openInventory, Inventory, AuditLog } from './inventory.js';
export type { InventoryOptions, ChangeListener } from './inventory.js';
export { Repository } from './repository.js';
export type { WriteContext, WriteResult, BulkResult, ChangeEvent, DeleteResult, BulkUpdateItem, DeleteTarget } from './repository.js';
export { InventoryError, InventoryErrorCode, INVENTORY_ERROR_STATUS } from './errors.js';
export type { InventoryIssue } from './errors.js';
export { LOOKUPS, DEFAULT_LIMIT, MAX_LIMIT } from './query.js';
export type { Filter, Lookup, ListQuery, ListResult } from './query.js';
export { RESOURCES, RESOURCE_BY_NAME } from './resources.js';
export type {
  Tenant,
  Datacenter,
  Rack,
  Server,
  ServerInterface,
  StorageSystem,
  NetworkDevice,
  NetworkLink,
  Vm,
  Container,
  User,
  ApiToken,
  DhcpSubnet,
  DhcpReservation,
} from './resources.js';
export type { ResourceDef, PowerBudgetMode } from './resource.js';
export type { FieldDef } from './fields.js';
export { appendAudit } from './audit.js';
export type { AuditEntry, AuditEntryInput, AuditAction } from './audit.js';

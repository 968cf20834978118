import { InventoryErrorCode } from './errors.js';
import { enumToken } from './fields.js';
import type { Fields, RowOf } from './fields.js';
import type { AliasDef, ResourceDef } from './resource.js';
import {
  LINK_END_TABLES,
  containerHost,
  linkEnds,
  rackPlacement,
  rackShrink,
  reservationAddress,
  serverInterfaceAddress,
  hostShrink,
  storageRules,
  subnetConfig,
  userTenants,
  vmHostCapacity,
} from './rules.js';
import { BOOT_PROFILE_KINDS, LOCAL_METHODS, bootProfileContent, bootProfileRename, serverBootProfile } from './boot-rules.js';

/**
 * The inventory's resources: fields as the API exposes them (snake_case,
 * NetBox's names where it has one, the seed product's names accepted as
 * aliases on input), uniqueness, what a delete does to dependents, tenancy,
 * and the rules each write must pass. The schema they live in is
 * src/db/migrations.ts.
 */

function define<const F extends Fields>(def: ResourceDef<F>): ResourceDef<F> {
  return Object.freeze(def);
}

const aliases = (entries: Record<string, AliasDef>): ReadonlyMap<string, AliasDef> => new Map(Object.entries(entries));

const text = { kind: 'text', nullable: true } as const;
const description = { kind: 'text', nullable: true, maxLength: 2000, search: true } as const;
const tenantId = { kind: 'int', nullable: true, ref: 'tenants', min: 1 } as const;

/** `"Tier 3"`, `"III"`, `"3"` → 3 (the seed product sends `"Tier 3"`). */
function coerceTier(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trim().replace(/^tier\s*/i, '').toUpperCase();
  const roman: Record<string, number> = { I: 1, II: 2, III: 3, IV: 4 };
  return roman[t] ?? (/^\d+$/.test(t) ? Number(t) : v);
}

/** `"Liquid Cooling"` → `liquid`. */
function coerceCooling(v: unknown): unknown {
  return typeof v === 'string' ? enumToken(v).replace(/_cooling$/, '') : v;
}

/** RAID `5`, `"RAID 5"`, `"raid-10"` → `"5"`, `"10"`. */
function coerceRaid(v: unknown): unknown {
  if (typeof v === 'number') return String(v);
  return typeof v === 'string' ? v.trim().toLowerCase().replace(/^raid[\s_-]*/, '') : v;
}

export const tenants = define({
  name: 'tenants',
  objectType: 'tenant',
  fields: {
    name: { kind: 'text', required: true, search: true },
    slug: { kind: 'text', required: true, format: 'slug', search: true },
    description,
  },
  uniques: [
    { index: 'ux_tenants_name', columns: ['name'], code: InventoryErrorCode.DUPLICATE_NAME, path: 'name', what: 'tenant name' },
    { index: 'ux_tenants_slug', columns: ['slug'], code: InventoryErrorCode.DUPLICATE_VALUE, path: 'slug', what: 'tenant slug' },
  ],
  dependents: ['datacenters', 'racks', 'servers', 'storage_systems', 'network_devices', 'vms', 'containers'].map((resource) => ({
    resource,
    column: 'tenant_id',
    mode: 'set_null' as const,
  })),
  tenancy: { kind: 'self' },
  defaultOrdering: ['name'],
  rules: [],
});

export const datacenters = define({
  name: 'datacenters',
  objectType: 'datacenter',
  fields: {
    name: { kind: 'text', required: true, search: true },
    code: { kind: 'text', required: true, format: 'slug', search: true },
    location: { ...text, search: true },
    address: { ...text, maxLength: 1000, search: true },
    tier: { kind: 'int', nullable: true, min: 1, max: 4, coerce: coerceTier },
    certifications: { kind: 'json', items: 'text', default: [] },
    total_space_sqm: { kind: 'float', nullable: true, min: 0 },
    power_capacity_kw: { kind: 'float', nullable: true, min: 0 },
    cooling_capacity_kw: { kind: 'float', nullable: true, min: 0 },
    pue_target: { kind: 'float', nullable: true, min: 1, max: 5 },
    status: { kind: 'text', enum: ['planned', 'staging', 'active', 'decommissioning', 'retired'], default: 'active' },
    tenant_id: tenantId,
    description,
  },
  uniques: [
    { index: 'ux_datacenters_name', columns: ['name'], code: InventoryErrorCode.DUPLICATE_NAME, path: 'name', what: 'datacenter name' },
    { index: 'ux_datacenters_code', columns: ['code'], code: InventoryErrorCode.DUPLICATE_VALUE, path: 'code', what: 'datacenter code' },
  ],
  dependents: [
    { resource: 'racks', column: 'datacenter_id', mode: 'restrict' },
    { resource: 'storage_systems', column: 'datacenter_id', mode: 'restrict' },
  ],
  tenancy: { kind: 'column', column: 'tenant_id' },
  defaultOrdering: ['name'],
  aliases: aliases({
    power_capacity_mw: { field: 'power_capacity_kw', scale: 1000 },
    cooling_capacity_mw: { field: 'cooling_capacity_kw', scale: 1000 },
  }),
  rules: [],
});

export const racks = define({
  name: 'racks',
  objectType: 'rack',
  fields: {
    datacenter_id: { kind: 'int', required: true, ref: 'datacenters', min: 1 },
    name: { kind: 'text', required: true, search: true },
    row: { ...text, search: true },
    position: { kind: 'int', nullable: true, min: 0 },
    u_height: { kind: 'int', min: 1, max: 100, default: 42 },
    power_capacity_kw: { kind: 'float', nullable: true, min: 0 },
    cooling_type: { kind: 'text', nullable: true, enum: ['air', 'liquid', 'immersion', 'rear_door', 'in_row', 'hybrid'], coerce: coerceCooling },
    security_zone: { ...text, search: true },
    status: { kind: 'text', enum: ['planned', 'reserved', 'available', 'active', 'deprecated'], default: 'active' },
    tenant_id: tenantId,
    description,
  },
  uniques: [
    {
      index: 'ux_racks_name',
      columns: ['name'],
      scope: ['datacenter_id'],
      code: InventoryErrorCode.DUPLICATE_NAME,
      path: 'name',
      what: 'rack name in this datacenter',
    },
  ],
  dependents: [
    { resource: 'servers', column: 'rack_id', mode: 'restrict' },
    { resource: 'network_devices', column: 'rack_id', mode: 'restrict' },
    { resource: 'storage_systems', column: 'rack_id', mode: 'restrict' },
  ],
  tenancy: { kind: 'column', column: 'tenant_id' },
  defaultOrdering: ['name'],
  aliases: aliases({ u_capacity: { field: 'u_height' } }),
  rules: [rackShrink],
});

export const SERVER_STATUSES = ['planned', 'provisioning', 'active', 'maintenance', 'decommissioned'] as const;

export const servers = define({
  name: 'servers',
  objectType: 'server',
  fields: {
    name: { kind: 'text', required: true, search: true },
    rack_id: { kind: 'int', nullable: true, ref: 'racks', min: 1 },
    u_position: { kind: 'int', nullable: true, min: -1000, max: 1000 },
    u_size: { kind: 'int', min: 1, max: 100, default: 1 },
    type: { kind: 'text', enum: ['physical', 'blade', 'compute', 'storage', 'gpu', 'database', 'hypervisor', 'appliance'], default: 'physical' },
    vendor: { ...text, search: true },
    model: { ...text, search: true },
    serial: { ...text, search: true },
    cpu_model: { ...text, search: true },
    cpu_cores: { kind: 'int', nullable: true, min: 0 },
    ram_gb: { kind: 'float', nullable: true, min: 0 },
    storage_tb: { kind: 'float', nullable: true, min: 0 },
    power_supply_w: { kind: 'float', nullable: true, min: 0 },
    os: { ...text, search: true },
    warranty_end: { kind: 'date', nullable: true },
    status: { kind: 'text', enum: SERVER_STATUSES, default: 'planned' },
    boot_profile: { kind: 'text', default: 'local', maxLength: 100 },
    tenant_id: tenantId,
    description,
  },
  uniques: [
    { index: 'ux_servers_serial', columns: ['serial'], code: InventoryErrorCode.DUPLICATE_SERIAL, path: 'serial', what: 'serial' },
    {
      index: 'ux_servers_name',
      columns: ['name'],
      scope: ['tenant_id'],
      code: InventoryErrorCode.DUPLICATE_NAME,
      path: 'name',
      what: 'server name in this tenant',
    },
  ],
  dependents: [
    { resource: 'server_interfaces', column: 'server_id', mode: 'owned' },
    { resource: 'dhcp_reservations', column: 'server_id', mode: 'owned' },
    { resource: 'network_links', column: 'a_id', typeColumn: 'a_type', typeValue: 'server', mode: 'owned' },
    { resource: 'network_links', column: 'b_id', typeColumn: 'b_type', typeValue: 'server', mode: 'owned' },
    { resource: 'vms', column: 'host_server_id', mode: 'restrict' },
    { resource: 'containers', column: 'host_server_id', mode: 'restrict' },
  ],
  tenancy: { kind: 'column', column: 'tenant_id' },
  defaultOrdering: ['name'],
  aliases: aliases({
    server_type: { field: 'type' },
    manufacturer: { field: 'vendor' },
    serial_number: { field: 'serial' },
  }),
  rules: [rackPlacement, hostShrink, serverBootProfile],
});

/**
 * What a server boots when it boots from the network (MAAS's boot
 * resources and Foreman's installation media in one): `local` boots the
 * local disk, `linux` a kernel, initrd and command line, `ipxe` a script of
 * its own. Servers name one by `name` (servers.boot_profile); `local` is
 * seeded by migration 0003. Rendered per host by src/provisioning/boot-render.ts.
 */
export const bootProfiles = define({
  name: 'boot_profiles',
  objectType: 'boot_profile',
  fields: {
    name: { kind: 'text', required: true, maxLength: 100, search: true },
    kind: { kind: 'text', required: true, enum: BOOT_PROFILE_KINDS },
    /** What it installs (MAAS's osystem/distro_series, Foreman's operating system), for people. */
    os: { ...text, search: true },
    kernel_url: { kind: 'text', nullable: true, maxLength: 2000 },
    initrd_url: { kind: 'text', nullable: true, maxLength: 2000 },
    cmdline: { kind: 'text', nullable: true, maxLength: 4000 },
    ipxe_script: { kind: 'text', nullable: true, maxLength: 65536 },
    local_method: { kind: 'text', enum: LOCAL_METHODS, default: 'exit' },
    description,
  },
  uniques: [{ index: 'ux_boot_profiles_name', columns: ['name'], code: InventoryErrorCode.DUPLICATE_NAME, path: 'name', what: 'boot profile name' }],
  dependents: [{ resource: 'servers', column: 'boot_profile', key: 'name', mode: 'protect' }],
  defaultOrdering: ['name'],
  rules: [bootProfileContent, bootProfileRename],
});

export const serverInterfaces = define({
  name: 'server_interfaces',
  objectType: 'server_interface',
  fields: {
    server_id: { kind: 'int', required: true, ref: 'servers', min: 1 },
    name: { kind: 'text', required: true, maxLength: 64, search: true },
    mac: { kind: 'text', nullable: true, format: 'mac', search: true },
    ip: { kind: 'text', nullable: true, format: 'ipv4', search: true },
    is_primary: { kind: 'bool', default: false },
  },
  uniques: [
    {
      index: 'ux_server_interfaces_name',
      columns: ['name'],
      scope: ['server_id'],
      code: InventoryErrorCode.DUPLICATE_NAME,
      path: 'name',
      what: 'interface name on this server',
    },
    { index: 'ux_server_interfaces_mac', columns: ['mac'], code: InventoryErrorCode.DUPLICATE_MAC, path: 'mac', what: 'MAC address' },
    {
      index: 'ux_server_interfaces_primary',
      columns: ['server_id'],
      code: InventoryErrorCode.DUPLICATE_VALUE,
      path: 'is_primary',
      what: 'primary interface of this server',
      when: (r) => r['is_primary'] === true,
    },
  ],
  dependents: [],
  tenancy: { kind: 'parent', column: 'server_id', parent: 'servers' },
  defaultOrdering: ['server_id', 'name'],
  rules: [serverInterfaceAddress],
});

export const storageSystems = define({
  name: 'storage_systems',
  objectType: 'storage_system',
  fields: {
    name: { kind: 'text', required: true, search: true },
    type: { kind: 'text', required: true, enum: ['san', 'nas', 'object', 'block', 'file'] },
    raid_level: { kind: 'text', nullable: true, enum: ['0', '1', '5', '6', '10', '50', '60', 'jbod'], coerce: coerceRaid },
    capacity_tb: { kind: 'float', nullable: true, min: 0 },
    used_tb: { kind: 'float', nullable: true, min: 0 },
    datacenter_id: { kind: 'int', required: true, ref: 'datacenters', min: 1 },
    rack_id: { kind: 'int', nullable: true, ref: 'racks', min: 1 },
    u_position: { kind: 'int', nullable: true, min: -1000, max: 1000 },
    u_size: { kind: 'int', min: 1, max: 100, default: 1 },
    serial: { ...text, search: true },
    power_w: { kind: 'float', nullable: true, min: 0 },
    status: { kind: 'text', enum: ['planned', 'active', 'maintenance', 'degraded', 'decommissioned'], default: 'active' },
    tenant_id: tenantId,
    description,
  },
  uniques: [
    {
      index: 'ux_storage_systems_name',
      columns: ['name'],
      scope: ['datacenter_id'],
      code: InventoryErrorCode.DUPLICATE_NAME,
      path: 'name',
      what: 'storage system name in this datacenter',
    },
    { index: 'ux_storage_systems_serial', columns: ['serial'], code: InventoryErrorCode.DUPLICATE_SERIAL, path: 'serial', what: 'serial' },
  ],
  dependents: [
    { resource: 'network_links', column: 'a_id', typeColumn: 'a_type', typeValue: 'storage_system', mode: 'owned' },
    { resource: 'network_links', column: 'b_id', typeColumn: 'b_type', typeValue: 'storage_system', mode: 'owned' },
  ],
  tenancy: { kind: 'column', column: 'tenant_id' },
  defaultOrdering: ['name'],
  aliases: aliases({ storage_type: { field: 'type' }, serial_number: { field: 'serial' } }),
  rules: [storageRules, rackPlacement],
});

export const networkDevices = define({
  name: 'network_devices',
  objectType: 'network_device',
  fields: {
    name: { kind: 'text', required: true, search: true },
    role: {
      kind: 'text',
      required: true,
      enum: ['core_switch', 'distribution_switch', 'access_switch', 'router', 'firewall', 'load_balancer'],
    },
    vendor: { ...text, search: true },
    model: { ...text, search: true },
    serial: { ...text, search: true },
    rack_id: { kind: 'int', nullable: true, ref: 'racks', min: 1 },
    u_position: { kind: 'int', nullable: true, min: -1000, max: 1000 },
    u_size: { kind: 'int', min: 1, max: 100, default: 1 },
    port_count: { kind: 'int', nullable: true, min: 0 },
    port_speed_gbps: { kind: 'float', nullable: true, min: 0 },
    mgmt_ip: { kind: 'text', nullable: true, format: 'ipv4', search: true },
    power_w: { kind: 'float', nullable: true, min: 0 },
    status: { kind: 'text', enum: ['planned', 'active', 'maintenance', 'offline', 'failed', 'decommissioned'], default: 'active' },
    tenant_id: tenantId,
    description,
  },
  uniques: [
    { index: 'ux_network_devices_serial', columns: ['serial'], code: InventoryErrorCode.DUPLICATE_SERIAL, path: 'serial', what: 'serial' },
    {
      index: 'ux_network_devices_name',
      columns: ['name'],
      scope: ['tenant_id'],
      code: InventoryErrorCode.DUPLICATE_NAME,
      path: 'name',
      what: 'network device name in this tenant',
    },
  ],
  dependents: [
    { resource: 'network_links', column: 'a_id', typeColumn: 'a_type', typeValue: 'network_device', mode: 'owned' },
    { resource: 'network_links', column: 'b_id', typeColumn: 'b_type', typeValue: 'network_device', mode: 'owned' },
  ],
  tenancy: { kind: 'column', column: 'tenant_id' },
  defaultOrdering: ['name'],
  aliases: aliases({ manufacturer: { field: 'vendor' }, serial_number: { field: 'serial' }, management_ip: { field: 'mgmt_ip' } }),
  rules: [rackPlacement],
});

const LINK_END_TYPES = [...LINK_END_TABLES.keys()];

export const networkLinks = define({
  name: 'network_links',
  objectType: 'network_link',
  fields: {
    a_type: { kind: 'text', required: true, enum: LINK_END_TYPES },
    a_id: { kind: 'int', required: true, min: 1 },
    a_interface: { kind: 'text', required: true, maxLength: 64, search: true },
    b_type: { kind: 'text', required: true, enum: LINK_END_TYPES },
    b_id: { kind: 'int', required: true, min: 1 },
    b_interface: { kind: 'text', required: true, maxLength: 64, search: true },
    speed_gbps: { kind: 'float', nullable: true, min: 0 },
    media: { kind: 'text', nullable: true, enum: ['copper', 'fiber', 'dac', 'aoc', 'other'] },
    status: { kind: 'text', enum: ['planned', 'connected', 'decommissioning'], default: 'connected' },
    description,
  },
  uniques: [],
  dependents: [],
  tenancy: {
    kind: 'ends',
    ends: [
      { typeColumn: 'a_type', idColumn: 'a_id' },
      { typeColumn: 'b_type', idColumn: 'b_id' },
    ],
    tables: LINK_END_TABLES,
  },
  defaultOrdering: ['id'],
  rules: [linkEnds],
});

export const vms = define({
  name: 'vms',
  objectType: 'vm',
  fields: {
    name: { kind: 'text', required: true, search: true },
    host_server_id: { kind: 'int', nullable: true, ref: 'servers', min: 1 },
    vcpus: { kind: 'int', required: true, min: 1, max: 4096 },
    ram_gb: { kind: 'float', required: true, min: 0 },
    disk_gb: { kind: 'float', default: 0, min: 0 },
    os: { ...text, search: true },
    status: { kind: 'text', enum: ['planned', 'running', 'stopped', 'suspended', 'failed', 'decommissioned'], default: 'planned' },
    ip: { kind: 'text', nullable: true, format: 'ipv4', search: true },
    tenant_id: tenantId,
    description,
  },
  uniques: [
    {
      index: 'ux_vms_name',
      columns: ['name'],
      scope: ['tenant_id'],
      code: InventoryErrorCode.DUPLICATE_NAME,
      path: 'name',
      what: 'VM name in this tenant',
    },
  ],
  dependents: [{ resource: 'containers', column: 'vm_id', mode: 'restrict' }],
  tenancy: { kind: 'column', column: 'tenant_id' },
  defaultOrdering: ['name'],
  aliases: aliases({ cpu_cores: { field: 'vcpus' } }),
  rules: [vmHostCapacity],
});

export const containers = define({
  name: 'containers',
  objectType: 'container',
  fields: {
    name: { kind: 'text', required: true, search: true },
    image: { kind: 'text', required: true, maxLength: 1000, search: true },
    host_server_id: { kind: 'int', nullable: true, ref: 'servers', min: 1 },
    vm_id: { kind: 'int', nullable: true, ref: 'vms', min: 1 },
    status: { kind: 'text', enum: ['created', 'running', 'paused', 'restarting', 'exited', 'dead'], default: 'created' },
    cpu_limit: { kind: 'float', nullable: true, min: 0 },
    memory_mb: { kind: 'int', nullable: true, min: 0 },
    tenant_id: tenantId,
    description,
  },
  uniques: [
    {
      index: 'ux_containers_name',
      columns: ['name'],
      scope: ['host_server_id', 'vm_id'],
      code: InventoryErrorCode.DUPLICATE_NAME,
      path: 'name',
      what: 'container name on this host',
    },
  ],
  dependents: [],
  tenancy: { kind: 'column', column: 'tenant_id' },
  defaultOrdering: ['name'],
  rules: [containerHost],
});

export const users = define({
  name: 'users',
  objectType: 'user',
  fields: {
    username: { kind: 'text', required: true, maxLength: 150, search: true },
    email: { kind: 'text', nullable: true, format: 'email', search: true },
    password_hash: { kind: 'text', nullable: true, maxLength: 1000, secret: true },
    role: { kind: 'text', enum: ['admin', 'operator', 'viewer'], default: 'viewer' },
    /** Tenants the user may see; empty: all. */
    tenant_ids: { kind: 'json', items: 'int', default: [] },
    is_active: { kind: 'bool', default: true },
    totp_secret: { kind: 'text', nullable: true, secret: true },
    totp_enabled: { kind: 'bool', default: false },
    /** The last accepted TOTP step (auth's replay check); written by the auth store only. */
    totp_last_step: { kind: 'int', nullable: true, min: 0 },
    failed_logins: { kind: 'int', default: 0, min: 0 },
    locked_until: { kind: 'timestamp', nullable: true },
    last_login: { kind: 'timestamp', nullable: true },
  },
  uniques: [{ index: 'ux_users_username', columns: ['username'], code: InventoryErrorCode.DUPLICATE_NAME, path: 'username', what: 'username' }],
  dependents: [{ resource: 'api_tokens', column: 'user_id', mode: 'owned' }],
  defaultOrdering: ['username'],
  rules: [userTenants],
});

export const apiTokens = define({
  name: 'api_tokens',
  objectType: 'api_token',
  fields: {
    user_id: { kind: 'int', required: true, ref: 'users', min: 1 },
    token_hash: { kind: 'text', required: true, maxLength: 1000, secret: true },
    /** The first characters of the token, shown so users can tell tokens apart. */
    prefix: { kind: 'text', required: true, maxLength: 16, search: true },
    read_only: { kind: 'bool', default: false },
    expires_at: { kind: 'timestamp', nullable: true },
    last_used_at: { kind: 'timestamp', nullable: true },
    /** Set once; a revoked token is refused (AUTH_ERR_TOKEN_REVOKED) and kept for the record. */
    revoked_at: { kind: 'timestamp', nullable: true },
    description,
  },
  uniques: [{ index: 'ux_api_tokens_prefix', columns: ['prefix'], code: InventoryErrorCode.DUPLICATE_VALUE, path: 'prefix', what: 'token prefix' }],
  dependents: [],
  tenancy: undefined,
  defaultOrdering: ['id'],
  rules: [],
});

export const dhcpSubnets = define({
  name: 'dhcp_subnets',
  objectType: 'dhcp_subnet',
  fields: {
    subnet: { kind: 'text', required: true, format: 'cidr', search: true },
    /** The configuration's subnet object (pools, options, routers, boot, …) without id, subnet and reservations. */
    config: { kind: 'json', default: {} },
    description,
  },
  uniques: [{ index: 'ux_dhcp_subnets_subnet', columns: ['subnet'], code: InventoryErrorCode.DUPLICATE_VALUE, path: 'subnet', what: 'subnet' }],
  dependents: [{ resource: 'dhcp_reservations', column: 'subnet_id', mode: 'restrict' }],
  defaultOrdering: ['id'],
  rules: [subnetConfig],
  explicitId: true,
});

export const dhcpReservations = define({
  name: 'dhcp_reservations',
  objectType: 'dhcp_reservation',
  fields: {
    subnet_id: { kind: 'int', required: true, ref: 'dhcp_subnets', min: 1 },
    mac: { kind: 'text', nullable: true, format: 'mac', search: true },
    /** Client identifier (option 61) as lower-case hex. */
    client_id: { kind: 'text', nullable: true, maxLength: 512, search: true, coerce: (v) => (typeof v === 'string' ? v.replace(/[:\s-]/g, '').toLowerCase() : v) },
    ip: { kind: 'text', nullable: true, format: 'ipv4', search: true },
    hostname: { kind: 'text', nullable: true, maxLength: 253, search: true },
    server_id: { kind: 'int', nullable: true, ref: 'servers', min: 1 },
    description,
  },
  uniques: [
    { index: 'ux_dhcp_reservations_mac', columns: ['mac'], scope: ['subnet_id'], code: InventoryErrorCode.DUPLICATE_MAC, path: 'mac', what: 'MAC in this subnet' },
    {
      index: 'ux_dhcp_reservations_client_id',
      columns: ['client_id'],
      scope: ['subnet_id'],
      code: InventoryErrorCode.DUPLICATE_VALUE,
      path: 'client_id',
      what: 'client id in this subnet',
    },
    { index: 'ux_dhcp_reservations_ip', columns: ['ip'], scope: ['subnet_id'], code: InventoryErrorCode.DUPLICATE_VALUE, path: 'ip', what: 'reserved address in this subnet' },
  ],
  dependents: [],
  defaultOrdering: ['subnet_id', 'ip'],
  rules: [reservationAddress],
});

export const RESOURCES = [
  tenants,
  datacenters,
  racks,
  servers,
  serverInterfaces,
  storageSystems,
  networkDevices,
  networkLinks,
  vms,
  containers,
  users,
  apiTokens,
  dhcpSubnets,
  dhcpReservations,
  bootProfiles,
] as const;

export const RESOURCE_BY_NAME: ReadonlyMap<string, ResourceDef> = new Map(RESOURCES.map((r) => [r.name, r as ResourceDef]));

export type Tenant = RowOf<typeof tenants.fields>;
export type Datacenter = RowOf<typeof datacenters.fields>;
export type Rack = RowOf<typeof racks.fields>;
export type Server = RowOf<typeof servers.fields>;
export type ServerInterface = RowOf<typeof serverInterfaces.fields>;
export type StorageSystem = RowOf<typeof storageSystems.fields>;
export type NetworkDevice = RowOf<typeof networkDevices.fields>;
export type NetworkLink = RowOf<typeof networkLinks.fields>;
export type Vm = RowOf<typeof vms.fields>;
export type Container = RowOf<typeof containers.fields>;
export type User = RowOf<typeof users.fields>;
export type ApiToken = RowOf<typeof apiTokens.fields>;
export type DhcpSubnet = RowOf<typeof dhcpSubnets.fields>;
export type DhcpReservation = RowOf<typeof dhcpReservations.fields>;
export type BootProfile = RowOf<typeof bootProfiles.fields>;

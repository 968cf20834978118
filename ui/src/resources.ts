/**
 * How each inventory resource is presented: its route in the UI, names,
 * list columns, filters and form layout. What the fields are (types, enums,
 * ranges, references, required) comes from the server
 * (GET /api/v1/meta/resources), so this table holds only presentation.
 */

export interface Related {
  /** API path of the related list (`server-interfaces`). */
  readonly api: string;
  readonly label: string;
  /** Its field pointing at this object (`server_id`). */
  readonly field: string;
  readonly columns: readonly string[];
}

export interface FormSection {
  readonly title: string;
  readonly fields: readonly string[];
}

export interface ResourceView {
  /** UI route segment: `/servers`, `/network-devices`. */
  readonly key: string;
  /** API path below /api/v1. */
  readonly api: string;
  readonly label: string;
  readonly singular: string;
  readonly group: 'Inventory' | 'Virtualisation' | 'DHCP and boot' | 'Administration';
  readonly columns: readonly string[];
  readonly filters: readonly string[];
  /** Form fields in titled groups, in order; fields left out are not edited in the UI. */
  readonly form: readonly FormSection[];
  readonly related?: readonly Related[];
  /** What the resource is, for empty states. */
  readonly blurb: string;
  /** The search box's placeholder: what `q` matches (default: name, serial, model). */
  readonly searchHint?: string;
}

export const RESOURCE_VIEWS: readonly ResourceView[] = [
  {
    key: 'datacenters',
    api: 'datacenters',
    label: 'Datacenters',
    singular: 'datacenter',
    group: 'Inventory',
    columns: ['name', 'code', 'location', 'tier', 'status', 'power_capacity_kw', 'pue_target'],
    filters: ['status', 'tier'],
    form: [{ title: 'Identity', fields: ['name', 'code', 'status', 'tenant_id'] }, { title: 'Site', fields: ['location', 'address', 'tier', 'total_space_sqm'] }, { title: 'Power and cooling', fields: ['power_capacity_kw', 'cooling_capacity_kw', 'pue_target'] }, { title: 'Notes', fields: ['description'] }],
    related: [
      { api: 'racks', label: 'Racks', field: 'datacenter_id', columns: ['name', 'row', 'u_height', 'power_capacity_kw', 'status'] },
      { api: 'storage', label: 'Storage systems', field: 'datacenter_id', columns: ['name', 'type', 'capacity_tb', 'status'] },
    ],
    blurb: 'A datacenter holds racks; create one first, then its racks and servers.',
  },
  {
    key: 'racks',
    api: 'racks',
    label: 'Racks',
    singular: 'rack',
    group: 'Inventory',
    columns: ['name', 'datacenter_id', 'row', 'position', 'u_height', 'power_capacity_kw', 'cooling_type', 'status'],
    filters: ['datacenter_id', 'status', 'cooling_type'],
    form: [{ title: 'Identity', fields: ['datacenter_id', 'name', 'status', 'tenant_id'] }, { title: 'Location and size', fields: ['row', 'position', 'u_height', 'security_zone'] }, { title: 'Power and cooling', fields: ['power_capacity_kw', 'cooling_type'] }, { title: 'Notes', fields: ['description'] }],
    related: [
      { api: 'servers', label: 'Servers', field: 'rack_id', columns: ['name', 'u_position', 'u_size', 'type', 'status'] },
      { api: 'network/devices', label: 'Network devices', field: 'rack_id', columns: ['name', 'role', 'u_position', 'u_size', 'status'] },
      { api: 'storage', label: 'Storage systems', field: 'rack_id', columns: ['name', 'type', 'u_position', 'u_size', 'status'] },
    ],
    blurb: 'Racks sit in a datacenter and hold servers, network devices and storage at U positions.',
  },
  {
    key: 'servers',
    api: 'servers',
    label: 'Servers',
    singular: 'server',
    group: 'Inventory',
    columns: ['name', 'status', 'type', 'rack_id', 'u_position', 'vendor', 'model', 'serial', 'boot_profile'],
    filters: ['status', 'type', 'rack_id', 'tenant_id'],
    form: [{ title: 'Identity', fields: ['name', 'status', 'type', 'tenant_id'] }, { title: 'Placement', fields: ['rack_id', 'u_position', 'u_size'] }, { title: 'Hardware', fields: ['vendor', 'model', 'serial', 'cpu_model', 'cpu_cores', 'ram_gb', 'storage_tb', 'power_supply_w', 'warranty_end'] }, { title: 'Boot and OS', fields: ['boot_profile', 'os'] }, { title: 'Notes', fields: ['description'] }],
    related: [
      { api: 'server-interfaces', label: 'Interfaces', field: 'server_id', columns: ['name', 'mac', 'ip', 'is_primary'] },
      { api: 'vms', label: 'Virtual machines', field: 'host_server_id', columns: ['name', 'status', 'vcpus', 'ram_gb', 'ip'] },
      { api: 'containers', label: 'Containers', field: 'host_server_id', columns: ['name', 'image', 'status'] },
      { api: 'dhcp/reservations', label: 'DHCP reservations', field: 'server_id', columns: ['ip', 'mac', 'hostname', 'subnet_id'] },
    ],
    blurb: 'Servers are the machines dcplane boots; place them in a rack at a U position.',
  },
  {
    key: 'server-interfaces',
    api: 'server-interfaces',
    label: 'Interfaces',
    singular: 'interface',
    group: 'Inventory',
    columns: ['name', 'server_id', 'mac', 'ip', 'is_primary'],
    filters: ['server_id', 'is_primary'],
    form: [{ title: 'Details', fields: ['server_id', 'name', 'mac', 'ip', 'is_primary'] }],
    blurb: 'Network interfaces of servers: their MAC addresses are how DHCP recognises a booting machine.',
  },
  {
    key: 'network-devices',
    api: 'network/devices',
    label: 'Network devices',
    singular: 'network device',
    group: 'Inventory',
    columns: ['name', 'role', 'rack_id', 'u_position', 'vendor', 'model', 'mgmt_ip', 'status'],
    filters: ['role', 'status', 'rack_id'],
    form: [{ title: 'Details', fields: ['name', 'role', 'status', 'rack_id', 'u_position', 'u_size', 'vendor', 'model', 'serial', 'port_count', 'port_speed_gbps', 'mgmt_ip', 'power_w', 'tenant_id', 'description'] }],
    blurb: 'Switches, routers, firewalls and load balancers.',
  },
  {
    key: 'storage',
    api: 'storage',
    label: 'Storage',
    singular: 'storage system',
    group: 'Inventory',
    columns: ['name', 'type', 'datacenter_id', 'rack_id', 'capacity_tb', 'used_tb', 'raid_level', 'status'],
    filters: ['type', 'status', 'datacenter_id'],
    form: [{ title: 'Details', fields: ['name', 'type', 'status', 'datacenter_id', 'rack_id', 'u_position', 'u_size', 'raid_level', 'capacity_tb', 'used_tb', 'serial', 'power_w', 'tenant_id', 'description'] }],
    blurb: 'SAN, NAS, object, block and file storage systems.',
  },
  {
    key: 'vms',
    api: 'vms',
    label: 'Virtual machines',
    singular: 'virtual machine',
    group: 'Virtualisation',
    columns: ['name', 'status', 'host_server_id', 'vcpus', 'ram_gb', 'disk_gb', 'ip'],
    filters: ['status', 'host_server_id'],
    form: [{ title: 'Details', fields: ['name', 'status', 'host_server_id', 'vcpus', 'ram_gb', 'disk_gb', 'ip', 'tenant_id', 'description'] }],
    related: [{ api: 'containers', label: 'Containers', field: 'vm_id', columns: ['name', 'image', 'status'] }],
    blurb: 'Virtual machines, on a host server or unplaced.',
  },
  {
    key: 'containers',
    api: 'containers',
    label: 'Containers',
    singular: 'container',
    group: 'Virtualisation',
    columns: ['name', 'image', 'status', 'host_server_id', 'vm_id'],
    filters: ['status', 'host_server_id', 'vm_id'],
    form: [{ title: 'Details', fields: ['name', 'image', 'status', 'host_server_id', 'vm_id', 'cpu_limit', 'memory_mb', 'tenant_id', 'description'] }],
    blurb: 'Containers on a server or in a virtual machine.',
  },
  {
    key: 'dhcp-subnets',
    api: 'dhcp/subnets',
    label: 'Subnets',
    singular: 'DHCP subnet',
    group: 'DHCP and boot',
    columns: ['subnet', 'description'],
    filters: [],
    form: [{ title: 'Subnet', fields: ['subnet', 'config', 'description'] }],
    related: [{ api: 'dhcp/reservations', label: 'Reservations', field: 'subnet_id', columns: ['ip', 'mac', 'hostname', 'server_id'] }],
    blurb: 'A subnet (CIDR, pools, options) is what DHCP serves on an interface.',
  },
  {
    key: 'dhcp-reservations',
    api: 'dhcp/reservations',
    label: 'Reservations',
    singular: 'DHCP reservation',
    group: 'DHCP and boot',
    columns: ['ip', 'mac', 'hostname', 'subnet_id', 'server_id'],
    filters: ['subnet_id'],
    form: [{ title: 'Reservation', fields: ['subnet_id', 'mac', 'client_id', 'ip', 'hostname', 'description'] }],
    blurb: 'Fixed addresses by MAC or client id; servers with a primary interface in a subnet are reserved automatically.',
  },
  {
    key: 'boot-profiles',
    api: 'boot/profiles',
    label: 'Boot profiles',
    singular: 'boot profile',
    group: 'DHCP and boot',
    columns: ['name', 'kind', 'os', 'kernel_url', 'local_method'],
    filters: ['kind'],
    form: [{ title: 'Profile', fields: ['name', 'kind', 'os', 'description'] }, { title: 'Linux (kind linux)', fields: ['kernel_url', 'initrd_url', 'cmdline'] }, { title: 'iPXE (kind ipxe)', fields: ['ipxe_script'] }, { title: 'Local boot (kind local)', fields: ['local_method'] }],
    blurb: 'What a server boots from the network: its local disk, a Linux kernel and initrd, or an iPXE script.',
    searchHint: 'Name or OS…',
  },
  {
    key: 'tenants',
    api: 'tenants',
    label: 'Tenants',
    singular: 'tenant',
    group: 'Administration',
    columns: ['name', 'slug', 'description'],
    filters: [],
    form: [{ title: 'Details', fields: ['name', 'slug', 'description'] }],
    blurb: 'Tenants own objects; users scoped to tenants see only theirs.',
    searchHint: 'Name or slug…',
  },
  {
    key: 'users',
    api: 'users',
    label: 'Users',
    singular: 'user',
    group: 'Administration',
    columns: ['username', 'role', 'email', 'is_active', 'totp_enabled', 'last_login', 'locked_until'],
    filters: ['role', 'is_active'],
    form: [{ title: 'Account', fields: ['email', 'role', 'tenant_ids', 'is_active'] }],
    blurb: 'People who sign in to dcplane, with their role and tenant scope.',
    searchHint: 'Username or email…',
  },
];

export const VIEW_BY_KEY: ReadonlyMap<string, ResourceView> = new Map(RESOURCE_VIEWS.map((v) => [v.key, v]));
export const VIEW_BY_API: ReadonlyMap<string, ResourceView> = new Map(RESOURCE_VIEWS.map((v) => [v.api, v]));

/** UI path of one object, or of a list when id is undefined. */
export function viewPath(api: string, id?: number | string): string | undefined {
  const v = VIEW_BY_API.get(api);
  if (v === undefined) return undefined;
  return id === undefined ? `/${v.key}` : `/${v.key}/${id}`;
}

const LABELS: Readonly<Record<string, string>> = {
  u_position: 'U position',
  u_size: 'Height (U)',
  u_height: 'Height (U)',
  ram_gb: 'RAM (GB)',
  storage_tb: 'Storage (TB)',
  capacity_tb: 'Capacity (TB)',
  used_tb: 'Used (TB)',
  disk_gb: 'Disk (GB)',
  power_supply_w: 'PSU (W)',
  power_w: 'Power (W)',
  power_capacity_kw: 'Power capacity (kW)',
  cooling_capacity_kw: 'Cooling capacity (kW)',
  total_space_sqm: 'Floor space (m²)',
  pue_target: 'PUE target',
  cpu_cores: 'CPU cores',
  cpu_model: 'CPU model',
  vcpus: 'vCPUs',
  memory_mb: 'Memory (MB)',
  cpu_limit: 'CPU limit',
  mgmt_ip: 'Management IP',
  ip: 'IP address',
  mac: 'MAC address',
  os: 'OS',
  port_speed_gbps: 'Port speed (Gbps)',
  raid_level: 'RAID level',
  is_primary: 'Primary',
  host_server_id: 'Host server',
  vm_id: 'Virtual machine',
  id: 'ID',
  tenant_ids: 'Tenants',
  is_active: 'May sign in',
  totp_enabled: 'TOTP on',
  totp_last_step: 'TOTP last step',
  kernel_url: 'Kernel URL',
  initrd_url: 'Initrd URL',
  cmdline: 'Kernel command line',
  ipxe_script: 'iPXE script',
};

/** `rack_id` → Rack, `cooling_type` → Cooling type. */
export function fieldLabel(name: string): string {
  const known = LABELS[name];
  if (known !== undefined) return known;
  const base = name.endsWith('_id') ? name.slice(0, -3) : name;
  const words = base.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** `decommissioning` → Decommissioning, `rear_door` → Rear door. */
export function enumLabel(v: string): string {
  const s = v.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The form's fields in order, without their groups. */
export function formFields(view: ResourceView): string[] {
  return view.form.flatMap((s) => s.fields);
}

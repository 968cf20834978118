import { api, query } from './client';
import type { Page, Row } from './client';

/** What a rack can hold, by API path, with the column of its power draw. */
export const RACKED_KINDS = [
  { api: 'servers', kind: 'server', label: 'Server', power: 'power_supply_w' },
  { api: 'network/devices', kind: 'network', label: 'Network device', power: 'power_w' },
  { api: 'storage', kind: 'storage', label: 'Storage', power: 'power_w' },
] as const;

export type RackedKind = (typeof RACKED_KINDS)[number]['kind'];

/** One device in a rack, as the elevation draws it. */
export interface RackDevice {
  readonly kind: RackedKind;
  readonly api: string;
  readonly id: number;
  readonly name: string;
  readonly rackId: number;
  /** Lowest U it occupies (1 = bottom); null: in the rack but not mounted. */
  readonly uPosition: number | null;
  readonly uSize: number;
  readonly status: string;
  /** Nameplate draw in watts, 0 when unknown. */
  readonly powerW: number;
  /** Role or type (`leaf`, `san`, `gpu`), for the tooltip. */
  readonly detail: string;
}

const PAGE = 1000;
const IDS_PER_REQUEST = 100;

/** Every row of a list, following `next` (the server caps a page at 1000 rows). */
export async function listAll(path: string, params: Readonly<Record<string, string | number | undefined>>): Promise<Row[]> {
  const out: Row[] = [];
  let url: string | null = `/api/v1/${path}${query({ ...params, limit: PAGE })}`;
  while (url !== null) {
    const page: Page<Row> = await api.get<Page<Row>>(url);
    out.push(...page.results);
    url = page.next === null ? null : page.next.replace(/^https?:\/\/[^/]+/, '');
  }
  return out;
}

function toDevice(k: (typeof RACKED_KINDS)[number], r: Row): RackDevice {
  const pos = r['u_position'];
  const size = r['u_size'];
  const power = r[k.power];
  return {
    kind: k.kind,
    api: k.api,
    id: Number(r['id']),
    name: String(r['name'] ?? r['display']),
    rackId: Number(r['rack_id']),
    uPosition: typeof pos === 'number' ? pos : null,
    uSize: typeof size === 'number' && size > 0 ? size : 1,
    status: String(r['status'] ?? ''),
    powerW: typeof power === 'number' ? power : 0,
    detail: String(r['role'] ?? r['type'] ?? ''),
  };
}

/** The servers, network devices and storage systems in these racks, by rack id. */
export async function loadRackDevices(rackIds: readonly number[]): Promise<Map<number, RackDevice[]>> {
  const byRack = new Map<number, RackDevice[]>(rackIds.map((id) => [id, []]));
  const chunks: number[][] = [];
  for (let i = 0; i < rackIds.length; i += IDS_PER_REQUEST) chunks.push(rackIds.slice(i, i + IDS_PER_REQUEST) as number[]);
  await Promise.all(
    RACKED_KINDS.flatMap((k) =>
      chunks.map(async (ids) => {
        const rows = await listAll(k.api, { rack_id__in: ids.join(','), ordering: 'id' });
        for (const r of rows) byRack.get(Number(r['rack_id']))?.push(toDevice(k, r));
      }),
    ),
  );
  return byRack;
}

/** U taken by mounted devices (clipped to the rack) and power drawn, for a rack of `height` U. */
export function rackUsage(height: number, devices: readonly RackDevice[]): { usedU: number; powerW: number } {
  const taken = new Set<number>();
  let powerW = 0;
  for (const d of devices) {
    powerW += d.powerW;
    if (d.uPosition === null) continue;
    for (let u = d.uPosition; u < d.uPosition + d.uSize; u++) if (u >= 1 && u <= height) taken.add(u);
  }
  return { usedU: taken.size, powerW };
}

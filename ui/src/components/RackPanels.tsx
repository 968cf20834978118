import { useCallback, useEffect, useMemo, useRef } from 'react';
import { Link } from 'react-router-dom';
import type { Row } from '../api/client';
import type { LiveEvent } from '../api/live';
import { useLiveEvents } from '../api/live';
import { listAll, loadRackDevices, rackUsage } from '../api/rack-devices';
import type { RackDevice } from '../api/rack-devices';
import { useAsync } from '../api/use-async';
import { viewPath } from '../resources';
import { EmptyState } from './EmptyState';
import { ErrorBanner } from './ErrorBanner';
import { Meter } from './Meter';
import { RackElevation, RackLegend, uRange } from './RackElevation';

/** Racks drawn on a datacenter's page: past this the page would load most of the inventory; the rest are listed. */
const MAX_FLOOR_RACKS = 200;

const RACKED_TYPES: ReadonlySet<string> = new Set(['server', 'network_device', 'storage_system', 'rack']);

/** A field of an inventory event's before and after images (numbers only). */
function imageValues(e: LiveEvent, field: string): number[] {
  const of = (x: unknown): unknown => (typeof x === 'object' && x !== null ? (x as Record<string, unknown>)[field] : undefined);
  return [of(e.data['before']), of(e.data['after'])].filter((v): v is number => typeof v === 'number');
}

/** The racks an inventory event touches: a rack itself, or the rack a device was or is in. */
function racksOf(e: LiveEvent): number[] {
  return e.data['object_type'] === 'rack' ? [Number(e.data['object_id'])] : imageValues(e, 'rack_id');
}

/**
 * Reloads (at most once a second) when an inventory event about racks or
 * racked devices passes `concerns`, so the elevation follows edits made elsewhere.
 */
function useReloadOnRackChange(reload: () => void, concerns: (e: LiveEvent) => boolean): void {
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const onEvent = useCallback(
    (e: LiveEvent) => {
      if (e.type !== 'inventory' || !RACKED_TYPES.has(String(e.data['object_type'])) || pending.current !== undefined) return;
      if (!concerns(e)) return;
      pending.current = setTimeout(() => {
        pending.current = undefined;
        reload();
      }, 1000);
    },
    [reload, concerns],
  );
  useLiveEvents(onEvent);
  useEffect(() => () => clearTimeout(pending.current), []);
}

function powerText(powerW: number, capacityKw: number | null): string {
  const kw = (powerW / 1000).toFixed(1);
  return capacityKw === null ? `${kw} kW drawn; no power capacity set on the rack` : `${kw} of ${capacityKw.toFixed(1)} kW (${Math.round((powerW / 1000 / capacityKw) * 100)}%)`;
}

function capacityOf(rack: Row): number | null {
  return typeof rack['power_capacity_kw'] === 'number' ? rack['power_capacity_kw'] : null;
}

function heightOf(rack: Row): number {
  return typeof rack['u_height'] === 'number' ? rack['u_height'] : 42;
}

/** The rack page's front view, with its U and power use and what is in it but not mounted. */
export function RackElevationPanel({ rack }: { readonly rack: Row }) {
  const id = Number(rack['id']);
  const res = useAsync(async () => (await loadRackDevices([id])).get(id) ?? [], `rack-devices/${id}/${String(rack['version'])}`);
  const concerns = useCallback((e: LiveEvent) => racksOf(e).includes(id), [id]);
  useReloadOnRackChange(res.reload, concerns);
  const height = heightOf(rack);
  const name = String(rack['name'] ?? rack['display']);
  const devices = res.data ?? [];
  const { usedU, powerW } = rackUsage(height, devices);
  const cap = capacityOf(rack);
  const unmounted = devices.filter((d) => d.uPosition === null || d.uPosition < 1 || d.uPosition + d.uSize - 1 > height);
  return (
    <section className="panel" aria-labelledby="elevation-title">
      <h2 id="elevation-title">Elevation (front)</h2>
      {res.error !== undefined && <ErrorBanner error={res.error} title="The rack's devices could not be loaded" onRetry={res.reload} />}
      {res.data === undefined && res.error === undefined ? (
        <p className="muted">Loading devices…</p>
      ) : (
        <div className="rack-view">
          <RackElevation name={name} height={height} devices={devices} />
          <div className="rack-view-side">
            <Meter label="U space" ratio={usedU / height} text={`${usedU} of ${height} U used, ${height - usedU} U free`} />
            <Meter label="Power" ratio={cap === null || cap === 0 ? null : powerW / 1000 / cap} text={powerText(powerW, cap)} />
            <p className="note">
              {devices.length === 0 ? 'Nothing in this rack yet. ' : `${devices.length} device${devices.length === 1 ? '' : 's'}. `}
              Click a device (or focus it and press Enter) to open it. Power is the sum of the devices' nameplate watts.
            </p>
            {unmounted.length > 0 && (
              <div className="unmounted">
                <strong>In this rack but not drawn</strong>
                <ul className="plain">
                  {unmounted.map((d) => (
                    <li key={`${d.kind}-${d.id}`}>
                      <Link to={viewPath(d.api, d.id) ?? '/'}>{d.name}</Link> <span className="muted">{d.uPosition === null ? 'no U position' : `${uRange(d.uPosition, d.uSize)} is outside the rack`}</span>
                    </li>
                  ))}
                </ul>
              </div>
            )}
            <RackLegend />
          </div>
        </div>
      )}
    </section>
  );
}

/** One rack of the datacenter floor: name, U and power use, compact elevation. */
function FloorRack({ rack, devices }: { readonly rack: Row; readonly devices: readonly RackDevice[] }) {
  const height = heightOf(rack);
  const cap = capacityOf(rack);
  const { usedU, powerW } = rackUsage(height, devices);
  const name = String(rack['name'] ?? rack['display']);
  const unmounted = devices.filter((d) => d.uPosition === null).length;
  return (
    <article className="floor-rack" aria-label={`Rack ${name}`}>
      <h3>
        <Link to={viewPath('racks', Number(rack['id'])) ?? '/'}>{name}</Link>
        <span className="muted small">{height}U</span>
      </h3>
      <Meter ratio={usedU / height} text={`U ${usedU}/${height}`} small />
      <Meter ratio={cap === null || cap === 0 ? null : powerW / 1000 / cap} text={cap === null ? `${(powerW / 1000).toFixed(1)} kW, no cap set` : `${(powerW / 1000).toFixed(1)}/${cap.toFixed(1)} kW`} small />
      <RackElevation name={name} height={height} devices={devices} compact />
      {unmounted > 0 && (
        <p className="muted small">
          +{unmounted} in the rack without a U position
        </p>
      )}
    </article>
  );
}

/** A datacenter's racks side by side, grouped by row, each with its utilisation. */
export function DatacenterRacks({ datacenterId }: { readonly datacenterId: string }) {
  const res = useAsync(async () => {
    const all = await listAll('racks', { datacenter_id: datacenterId, ordering: 'row,position,name' });
    const racks = all.slice(0, MAX_FLOOR_RACKS);
    const devices = await loadRackDevices(racks.map((r) => Number(r['id'])));
    return { racks, devices, total: all.length };
  }, `dc-racks/${datacenterId}`);
  const shown = useMemo(() => new Set((res.data?.racks ?? []).map((r) => Number(r['id']))), [res.data]);
  // A rack added to (or moved into) this datacenter is not shown yet: its datacenter_id says it is ours.
  const concerns = useCallback(
    (e: LiveEvent) => (e.data['object_type'] === 'rack' ? imageValues(e, 'datacenter_id').includes(Number(datacenterId)) : racksOf(e).some((r) => shown.has(r))),
    [datacenterId, shown],
  );
  useReloadOnRackChange(res.reload, concerns);
  const rows = new Map<string, Row[]>();
  for (const r of res.data?.racks ?? []) {
    const row = typeof r['row'] === 'string' && r['row'] !== '' ? r['row'] : '';
    rows.set(row, [...(rows.get(row) ?? []), r]);
  }
  const total = res.data?.total ?? 0;
  return (
    <section className="panel" aria-labelledby="floor-title">
      <div className="panel-head">
        <h2 id="floor-title">
          Racks <span className="count">{res.data === undefined ? '' : total.toLocaleString()}</span>
        </h2>
        <span className="muted small">Servers, network devices and storage at their U positions; click one to open it</span>
      </div>
      {res.error !== undefined && <ErrorBanner error={res.error} title="The racks could not be loaded" onRetry={res.reload} />}
      {res.data === undefined && res.error === undefined && <p className="muted">Loading racks…</p>}
      {res.data !== undefined && total === 0 && (
        <EmptyState title="No racks in this datacenter yet" action={<Link className="btn" to={`/racks/new?datacenter_id=${datacenterId}`}>Add a rack</Link>}>
          <p>Add racks to see them here side by side with their U and power use.</p>
        </EmptyState>
      )}
      {[...rows].map(([row, racks]) => (
        <div key={row}>
          {rows.size > 1 || row !== '' ? <h3 className="floor-row-title">{row === '' ? 'No row' : `Row ${row}`}</h3> : null}
          <div className="floor">
            {racks.map((r) => (
              <FloorRack key={String(r['id'])} rack={r} devices={res.data?.devices.get(Number(r['id'])) ?? []} />
            ))}
          </div>
        </div>
      ))}
      {total > (res.data?.racks.length ?? 0) && (
        <p className="note">
          Showing the first {MAX_FLOOR_RACKS} of {total.toLocaleString()} racks. <Link to={`/racks?datacenter_id=${datacenterId}`}>List them all</Link> and open one for its elevation.
        </p>
      )}
      {total > 0 && <RackLegend />}
    </section>
  );
}

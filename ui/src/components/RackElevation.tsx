import { useId } from 'react';
import type { KeyboardEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import type { RackDevice } from '../api/rack-devices';
import { enumLabel, viewPath } from '../resources';
import { STATUS_TONE } from './Value';
import '../ops.css';

const GUTTER = 26;
const KIND_TAG: Readonly<Record<RackDevice['kind'], string>> = { server: 'Server', network: 'Network', storage: 'Storage' };

export function uRange(pos: number, size: number): string {
  return size === 1 ? `U${pos}` : `U${pos}–U${pos + size - 1}`;
}

/** Free runs of U, bottom up: [from, to] inclusive. */
function freeRuns(height: number, devices: readonly RackDevice[]): [number, number][] {
  const taken = new Array<boolean>(height + 1).fill(false);
  for (const d of devices) {
    if (d.uPosition === null) continue;
    for (let u = Math.max(1, d.uPosition); u <= Math.min(height, d.uPosition + d.uSize - 1); u++) taken[u] = true;
  }
  const runs: [number, number][] = [];
  for (let u = 1; u <= height; u++) {
    if (taken[u] === true) continue;
    const from = u;
    while (u + 1 <= height && taken[u + 1] !== true) u++;
    runs.push([from, u]);
  }
  return runs;
}

function describeDevice(d: RackDevice): string {
  const where = d.uPosition === null ? 'not mounted' : uRange(d.uPosition, d.uSize);
  return `${d.name}, ${KIND_TAG[d.kind].toLowerCase()}${d.detail !== '' ? ` (${enumLabel(d.detail)})` : ''}, ${where}, ${d.uSize}U, ${d.status === '' ? 'no status' : enumLabel(d.status)}`;
}

/**
 * A rack's front view as SVG, U1 at the bottom as on the rails: every
 * mounted device at its U position and height, coloured by status, free U
 * shaded with their count; a device is a link (click, Enter or Space opens
 * it). `compact` draws the narrow version for a datacenter's row of racks.
 */
export function RackElevation({ name, height, devices, compact = false }: { readonly name: string; readonly height: number; readonly devices: readonly RackDevice[]; readonly compact?: boolean }) {
  const navigate = useNavigate();
  const clip = useId().replace(/:/g, '');
  const uPx = compact ? 11 : 22;
  const width = compact ? 170 : 340;
  const inner = width - GUTTER * 2;
  const top = 14;
  const svgHeight = height * uPx + top * 2;
  const y = (u: number): number => top + (height - u) * uPx;
  const mounted = devices.filter((d) => d.uPosition !== null);
  const labelEvery = compact ? 5 : 1;
  const open = (d: RackDevice) => {
    const to = viewPath(d.api, d.id);
    if (to !== undefined) navigate(to);
  };
  const onKey = (e: KeyboardEvent, d: RackDevice) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      open(d);
    }
  };
  return (
    <svg className={`rack-svg${compact ? ' rack-compact' : ''}`} width={width} height={svgHeight} viewBox={`0 0 ${width} ${svgHeight}`} role="group" aria-label={`Front view of rack ${name}, ${height}U`}>
      <rect className="rack-frame" x={GUTTER - 6} y={top - 8} width={inner + 12} height={height * uPx + 16} rx={3} />
      {Array.from({ length: height }, (_, i) => {
        const u = i + 1;
        const showNum = u === 1 || u === height || u % labelEvery === 0;
        return (
          <g key={u} aria-hidden="true">
            <rect className="rack-slot" x={GUTTER} y={y(u)} width={inner} height={uPx} />
            {showNum && (
              <>
                <text className="rack-unum" x={GUTTER - 9} y={y(u) + uPx / 2} textAnchor="end" dominantBaseline="central">
                  {u}
                </text>
                {!compact && (
                  <text className="rack-unum" x={GUTTER + inner + 9} y={y(u) + uPx / 2} textAnchor="start" dominantBaseline="central">
                    {u}
                  </text>
                )}
              </>
            )}
          </g>
        );
      })}
      {freeRuns(height, devices).map(([from, to]) => {
        const n = to - from + 1;
        const tall = n * uPx;
        return (
          <g key={`free-${from}`} className="rack-free">
            <title>{`${n}U free: ${uRange(from, n)}`}</title>
            <rect x={GUTTER + 1} y={y(to) + 1} width={inner - 2} height={tall - 2} rx={2} />
            {tall >= 14 && (
              <text x={GUTTER + inner / 2} y={y(to) + tall / 2} textAnchor="middle" dominantBaseline="central">
                {compact ? `${n}U` : `${n}U free`}
              </text>
            )}
          </g>
        );
      })}
      <defs>
        <clipPath id={`${clip}-c`}>
          <rect x={GUTTER} y={0} width={inner - 6} height={svgHeight} />
        </clipPath>
      </defs>
      {mounted.map((d) => {
        const pos = d.uPosition ?? 1;
        const topU = pos + d.uSize - 1;
        const from = Math.max(1, pos);
        const to = Math.min(height, topU);
        if (to < from) return null;
        const h = (to - from + 1) * uPx;
        const tone = STATUS_TONE[d.status] ?? 'off';
        const label = describeDevice(d);
        return (
          <g key={`${d.kind}-${d.id}`} className={`rack-dev rack-dev-${tone} rack-kind-${d.kind}`} role="link" tabIndex={0} aria-label={label} onClick={() => open(d)} onKeyDown={(e) => onKey(e, d)} data-device={d.name}>
            <title>{label}</title>
            <rect className="rack-dev-body" x={GUTTER + 1} y={y(to) + 1} width={inner - 2} height={h - 2} rx={2} />
            <rect className="rack-dev-kind" x={GUTTER + 1} y={y(to) + 1} width={4} height={h - 2} />
            <g clipPath={`url(#${clip}-c)`}>
              <text className="rack-dev-name" x={GUTTER + 10} y={y(to) + Math.min(h, compact ? h : 22) / 2} dominantBaseline="central">
                {d.name}
                {!compact && <tspan className="rack-dev-meta">{`  ${uRange(pos, d.uSize)} · ${d.status === '' ? '' : enumLabel(d.status)}`}</tspan>}
              </text>
            </g>
          </g>
        );
      })}
    </svg>
  );
}

/** The colours of the elevation, in words. */
export function RackLegend() {
  const items: [string, string][] = [
    ['ok', 'Active'],
    ['info', 'Planned'],
    ['progress', 'Provisioning'],
    ['warn', 'Maintenance'],
    ['bad', 'Failed / offline'],
    ['off', 'Decommissioned'],
  ];
  return (
    <ul className="rack-legend" aria-label="Legend">
      {items.map(([tone, text]) => (
        <li key={tone}>
          <span className={`swatch rack-dev-${tone}`} aria-hidden="true" />
          {text}
        </li>
      ))}
      <li>
        <span className="swatch swatch-free" aria-hidden="true" />
        Free U
      </li>
      <li>
        <span className="swatch swatch-network" aria-hidden="true" />
        Network device
      </li>
      <li>
        <span className="swatch swatch-storage" aria-hidden="true" />
        Storage
      </li>
    </ul>
  );
}

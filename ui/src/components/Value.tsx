import { Link } from 'react-router-dom';
import type { FieldMeta } from '../api/meta';
import { enumLabel, viewPath } from '../resources';

export const STATUS_TONE: Readonly<Record<string, string>> = {
  active: 'ok',
  running: 'ok',
  connected: 'ok',
  available: 'ok',
  completed: 'ok',
  planned: 'info',
  staging: 'info',
  reserved: 'info',
  created: 'info',
  provisioning: 'progress',
  restarting: 'progress',
  offered: 'progress',
  maintenance: 'warn',
  degraded: 'warn',
  paused: 'warn',
  suspended: 'warn',
  deprecated: 'warn',
  decommissioning: 'warn',
  failed: 'bad',
  dead: 'bad',
  offline: 'bad',
  declined: 'bad',
  decommissioned: 'off',
  retired: 'off',
  stopped: 'off',
  exited: 'off',
  expired: 'off',
  released: 'off',
};

export function StatusBadge({ value }: { readonly value: string }) {
  return <span className={`badge badge-${STATUS_TONE[value] ?? 'off'}`}>{enumLabel(value)}</span>;
}

/** A stored value as a person reads it: names for references, badges for statuses, units kept in the label. */
export function Value({ field, value, refName }: { readonly field: FieldMeta | undefined; readonly value: unknown; readonly refName?: string | undefined }) {
  if (value === null || value === undefined || value === '') return <span className="muted" aria-label="not set">—</span>;
  if (field?.ref !== undefined && typeof value === 'number') {
    const to = viewPath(field.ref, value);
    const text = refName ?? `#${value}`;
    return to === undefined ? <>{text}</> : <Link to={to}>{text}</Link>;
  }
  if (field?.enum !== undefined && typeof value === 'string') return field.name === 'status' ? <StatusBadge value={value} /> : <>{enumLabel(value)}</>;
  if (typeof value === 'boolean') return <>{value ? 'Yes' : 'No'}</>;
  if (field?.kind === 'timestamp' && typeof value === 'string') return <time dateTime={value}>{new Date(value).toLocaleString()}</time>;
  if (Array.isArray(value)) return value.length === 0 ? <span className="muted">—</span> : <>{value.map(String).join(', ')}</>;
  if (typeof value === 'object') return <code>{JSON.stringify(value)}</code>;
  if (field?.format === 'mac' || field?.format === 'ipv4' || field?.format === 'cidr') return <code>{String(value)}</code>;
  return <>{String(value)}</>;
}

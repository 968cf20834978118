import { useEffect, useMemo, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { ApiError, api, query } from '../api/client';
import type { Page, Row } from '../api/client';
import type { FieldMeta, ResourceMeta } from '../api/meta';
import { useAsync } from '../api/use-async';
import { enumLabel, fieldLabel } from '../resources';
import type { FormSection } from '../resources';
import { ErrorBanner } from './ErrorBanner';
import { Field } from './Field';

type FormValue = string | boolean;
type FormValues = Record<string, FormValue>;

/** A stored value as the text of its control. */
function toForm(f: FieldMeta, v: unknown): FormValue {
  if (f.kind === 'bool') return v === true;
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(String).join(', ');
  if (f.kind === 'json') return JSON.stringify(v);
  return String(v);
}

/** A control's text as the API takes it; undefined: leave the field out. Numbers the browser could not parse go as text, so the server names them. */
function fromForm(f: FieldMeta, v: FormValue, creating: boolean): unknown {
  if (f.kind === 'bool') return v === true;
  const s = String(v).trim();
  if (s === '') return creating ? undefined : f.nullable ? null : undefined;
  if (f.kind === 'int' || f.kind === 'float') {
    const n = Number(s);
    return Number.isFinite(n) ? n : s;
  }
  if (f.kind === 'json' && f.items !== undefined) {
    const parts = s.split(',').map((x) => x.trim()).filter((x) => x !== '');
    return f.items === 'int' ? parts.map(Number) : parts;
  }
  if (f.kind === 'json') {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      return s;
    }
  }
  return s;
}

/** The field a server error path names: `body.u_position` → `u_position`, `body.config.x` → `config`. */
export function fieldOfPath(path: string): string {
  const p = path.replace(/^body\.?/, '').replace(/^\[\d+\]\.?/, '');
  return p.split(/[.[]/)[0] ?? '';
}

function hintOf(f: FieldMeta): string | undefined {
  const parts: string[] = [];
  if (f.name === 'u_position') return 'lowest U the device occupies (1 = bottom); leave empty if not mounted';
  if (f.min !== undefined && f.max !== undefined) parts.push(`${f.min}–${f.max}`);
  else if (f.min !== undefined && f.min !== 0 && f.min !== 1) parts.push(`at least ${f.min}`);
  if (f.format === 'mac') parts.push('e.g. 52:54:00:12:34:56');
  if (f.format === 'ipv4') parts.push('e.g. 10.0.0.10');
  if (f.format === 'cidr') parts.push('e.g. 10.0.0.0/24');
  if (f.format === 'slug') parts.push('lower-case letters, digits, - and _');
  if (f.kind === 'json' && f.items !== undefined) parts.push('comma-separated');
  return parts.length === 0 ? undefined : parts.join('; ');
}

/** A picker for a reference: the first page of the target by name, searchable when there are more. */
/** What Field puts on its control (id, aria-invalid, aria-describedby, aria-required). */
interface AriaProps {
  readonly id?: string;
  readonly 'aria-invalid'?: boolean;
  readonly 'aria-describedby'?: string;
  readonly 'aria-required'?: boolean;
}

export function RefSelect({ field, value, onChange, emptyLabel, ...aria }: { readonly field: FieldMeta; readonly value: string; readonly onChange: (v: string) => void; readonly emptyLabel?: string } & AriaProps) {
  const [q, setQ] = useState('');
  const ref = field.ref ?? '';
  const opts = useAsync(() => api.get<Page<Row>>(`/api/v1/${ref}${query({ brief: 1, limit: 100, q })}`), `${ref}|${q}`);
  const current = useAsync(
    async () => (value === '' ? undefined : api.get<Row>(`/api/v1/${ref}/${value}?brief=1`).catch(() => undefined)),
    `${ref}|${value}`,
  );
  const rows = opts.data?.results ?? [];
  const cur = current.data;
  const withCurrent = cur !== undefined && !rows.some((r) => String(r['id']) === value) ? [cur, ...rows] : rows;
  const more = (opts.data?.count ?? 0) > rows.length;
  return (
    <div className="ref-select">
      <select {...aria} name={field.name} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">{emptyLabel ?? (field.required ? `Choose a ${fieldLabel(field.name).toLowerCase()}…` : '(none)')}</option>
        {withCurrent.map((r) => (
          <option key={String(r['id'])} value={String(r['id'])}>
            {String(r['display'])}
          </option>
        ))}
      </select>
      {(more || q !== '') && <input type="search" className="ref-search" placeholder="Search…" aria-label={`Search ${fieldLabel(field.name)} options`} value={q} onChange={(e) => setQ(e.target.value)} />}
    </div>
  );
}

function Control({ field, value, onChange, ...aria }: { readonly field: FieldMeta; readonly value: FormValue; readonly onChange: (v: FormValue) => void } & AriaProps) {
  const common = { ...aria, name: field.name };
  if (field.ref !== undefined) return <RefSelect field={field} value={String(value)} onChange={onChange} {...aria} />;
  if (field.kind === 'bool') return <input {...common} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />;
  if (field.enum !== undefined)
    return (
      <select {...common} value={String(value)} onChange={(e) => onChange(e.target.value)}>
        {(field.nullable || field.default === undefined) && <option value="">{field.required ? 'Choose…' : '(none)'}</option>}
        {field.enum.map((v) => (
          <option key={v} value={v}>
            {enumLabel(v)}
          </option>
        ))}
      </select>
    );
  if (field.name === 'description' || field.name === 'address' || (field.kind === 'json' && field.items === undefined))
    return <textarea {...common} rows={3} value={String(value)} onChange={(e) => onChange(e.target.value)} />;
  const type = field.kind === 'int' || field.kind === 'float' ? 'number' : field.kind === 'date' ? 'date' : field.format === 'email' ? 'email' : 'text';
  return (
    <input
      {...common}
      type={type}
      inputMode={field.kind === 'int' ? 'numeric' : field.kind === 'float' ? 'decimal' : undefined}
      step={field.kind === 'float' ? 'any' : undefined}
      spellCheck={false}
      autoComplete="off"
      value={String(value)}
      onChange={(e) => onChange(e.target.value)}
    />
  );
}

export interface ResourceFormProps {
  readonly meta: ResourceMeta;
  /** Field names in titled groups, in order. */
  readonly sections: readonly FormSection[];
  /** The stored object when editing; undefined to create. */
  readonly initial?: Row;
  /** Values for a new object (`rack_id` when adding a server from its rack). */
  readonly preset?: Readonly<Record<string, unknown>>;
  readonly submitLabel: string;
  readonly onSaved: (row: Row) => void;
  readonly onCancel: () => void;
}

/**
 * Create or edit one object. The server validates (ranges, references, rack
 * overlaps, uniqueness): its errors are shown next to the fields they name,
 * the rest in a banner. An edit sends only what changed, with the version it
 * was based on, so a concurrent change is refused (412) instead of lost.
 */
export function ResourceForm({ meta, sections, initial, preset, submitLabel, onSaved, onCancel }: ResourceFormProps) {
  const defs = useMemo(() => sections.flatMap((s) => s.fields).map((n) => meta.fields.find((f) => f.name === n)).filter((f): f is FieldMeta => f !== undefined && !f.read_only), [meta, sections]);
  const start = useMemo(() => {
    const v: FormValues = {};
    for (const f of defs) v[f.name] = toForm(f, initial !== undefined ? initial[f.name] : (preset?.[f.name] ?? f.default));
    return v;
  }, [defs, initial, preset]);
  const [values, setValues] = useState<FormValues>(start);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const form = useRef<HTMLFormElement>(null);
  // Once the refusal is shown, move focus to the first field it names (or the banner), so the keyboard user lands on it.
  useEffect(() => {
    if (error === undefined) return;
    const f = form.current;
    (f?.querySelector<HTMLElement>('.field-invalid input, .field-invalid select, .field-invalid textarea') ?? f?.querySelector<HTMLElement>('.banner'))?.focus();
  }, [error]);

  const fieldErrors = new Map<string, string>();
  const otherErrors: { path: string; message: string }[] = [];
  if (error instanceof ApiError) {
    for (const e of error.errors) {
      const name = fieldOfPath(e.path);
      if (defs.some((f) => f.name === name)) fieldErrors.set(name, fieldErrors.has(name) ? `${fieldErrors.get(name)}; ${e.message}` : e.message);
      else otherErrors.push(e);
    }
  }

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setBusy(true);
    setError(undefined);
    const body: Record<string, unknown> = {};
    for (const f of defs) {
      const v = values[f.name] ?? '';
      if (initial !== undefined && v === start[f.name]) continue;
      const out = fromForm(f, v, initial === undefined);
      if (out !== undefined) body[f.name] = out;
    }
    try {
      let row: Row;
      if (initial === undefined) row = await api.request<Row>('POST', `/api/v1/${meta.path}`, body);
      else row = await api.request<Row>('PATCH', `/api/v1/${meta.path}/${String(initial['id'])}`, { ...body, version: initial['version'] });
      onSaved(row);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  // Refusals shown at their fields are only named in the banner; the rest are listed there.
  const bannerError = error instanceof ApiError ? new ApiError(error.status, error.code, error.message, otherErrors) : error;
  const marked = defs.filter((f) => fieldErrors.has(f.name)).map((f) => fieldLabel(f.name));

  return (
    <form ref={form} className="resource-form" onSubmit={(e) => void submit(e)} noValidate>
      {error !== undefined &&
        (marked.length > 0 ? (
          <ErrorBanner error={bannerError} title="Not saved" message={`Correct ${marked.length === 1 ? 'this field' : 'these fields'}: ${marked.join(', ')}.`} advice={marked.length === 1 ? 'The message under it says what is wrong.' : 'The message under each says what is wrong.'} />
        ) : (
          <ErrorBanner error={bannerError} title="Not saved" />
        ))}
      {sections.map((sec) => {
        const here = defs.filter((f) => sec.fields.includes(f.name));
        if (here.length === 0) return null;
        return (
          <fieldset key={sec.title} className="form-section">
            {sections.length > 1 && <legend>{sec.title}</legend>}
            <div className="form-grid">
              {here.map((f) => (
                <Field key={f.name} label={fieldLabel(f.name)} required={f.required} hint={hintOf(f)} error={fieldErrors.get(f.name)} wide={f.name === 'description' || f.name === 'address'}>
                  <Control field={f} value={values[f.name] ?? ''} onChange={(v) => setValues((s) => ({ ...s, [f.name]: v }))} />
                </Field>
              ))}
            </div>
          </fieldset>
        );
      })}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : submitLabel}
        </button>
        <button type="button" className="btn" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}

import { useState } from 'react';
import type { FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { ApiError, api } from '../api/client';
import type { Row } from '../api/client';
import { listAll } from '../api/rack-devices';
import { useSignedIn } from '../api/session';
import { useAsync } from '../api/use-async';
import { EmptyState } from '../components/EmptyState';
import { ErrorBanner } from '../components/ErrorBanner';
import { Field } from '../components/Field';
import { fieldOfPath } from '../components/ResourceForm';
import '../ops.css';

const ROLES = [
  ['viewer', 'Viewer', 'reads everything but users and the audit log; changes nothing'],
  ['operator', 'Operator', 'also changes the inventory, DHCP, TFTP and boot profiles'],
  ['admin', 'Administrator', 'everything, including users and the audit log'],
] as const;

/** The user form as the API takes it. */
interface Draft {
  username: string;
  email: string;
  password: string;
  role: string;
  tenantIds: number[];
  active: boolean;
}

function draftOf(u: Row | undefined): Draft {
  return {
    username: typeof u?.['username'] === 'string' ? u['username'] : '',
    email: typeof u?.['email'] === 'string' ? u['email'] : '',
    password: '',
    role: typeof u?.['role'] === 'string' ? u['role'] : 'viewer',
    tenantIds: Array.isArray(u?.['tenant_ids']) ? (u['tenant_ids'] as number[]) : [],
    active: u === undefined ? true : u['is_active'] === true,
  };
}

function UserForm({ user, tenants }: { readonly user: Row | undefined; readonly tenants: readonly Row[] }) {
  const navigate = useNavigate();
  const [d, setD] = useState<Draft>(() => draftOf(user));
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const creating = user === undefined;
  const errs = new Map<string, string>();
  if (error instanceof ApiError) for (const e of error.errors) errs.set(fieldOfPath(e.path), e.message);
  const known = ['username', 'email', 'password', 'role', 'tenant_ids', 'is_active'];
  const rest = error instanceof ApiError ? new ApiError(error.status, error.code, error.message, error.errors.filter((e) => !known.includes(fieldOfPath(e.path)))) : error;

  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setBusy(true);
    setError(undefined);
    const body: Record<string, unknown> = { email: d.email.trim() === '' ? null : d.email.trim(), role: d.role, tenant_ids: d.tenantIds, is_active: d.active };
    if (creating) {
      body['username'] = d.username.trim();
      body['password'] = d.password;
    } else body['version'] = user['version'];
    try {
      const row = await api.request<Row>(creating ? 'POST' : 'PATCH', creating ? '/api/v1/users' : `/api/v1/users/${String(user['id'])}`, body);
      navigate(`/users/${String(row['id'])}`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const toggleTenant = (id: number, on: boolean) => setD((s) => ({ ...s, tenantIds: on ? [...s.tenantIds, id].sort((a, b) => a - b) : s.tenantIds.filter((t) => t !== id) }));
  return (
    <form className="resource-form" onSubmit={(e) => void submit(e)} noValidate>
      {error !== undefined && <ErrorBanner error={rest} title="Not saved" showFieldErrors />}
      <fieldset className="form-section">
        <legend>Account</legend>
        <div className="form-grid">
          <Field label="Username" required error={errs.get('username')} hint={creating ? undefined : 'usernames cannot be changed here'}>
            <input name="username" autoComplete="off" spellCheck={false} value={d.username} disabled={!creating} onChange={(e) => setD({ ...d, username: e.target.value })} />
          </Field>
          <Field label="Email" error={errs.get('email')}>
            <input name="email" type="email" autoComplete="off" value={d.email} onChange={(e) => setD({ ...d, email: e.target.value })} />
          </Field>
          {creating && (
            <Field label="Password" required error={errs.get('password')} hint="at least 12 characters, not the username">
              <input name="password" type="password" autoComplete="new-password" value={d.password} onChange={(e) => setD({ ...d, password: e.target.value })} />
            </Field>
          )}
          <Field label="Role" error={errs.get('role')} hint={ROLES.find(([r]) => r === d.role)?.[2]}>
            <select name="role" value={d.role} onChange={(e) => setD({ ...d, role: e.target.value })}>
              {ROLES.map(([r, label]) => (
                <option key={r} value={r}>
                  {label}
                </option>
              ))}
            </select>
          </Field>
          <Field label="May sign in" error={errs.get('is_active')}>
            <input name="is_active" type="checkbox" checked={d.active} onChange={(e) => setD({ ...d, active: e.target.checked })} />
          </Field>
        </div>
      </fieldset>
      <fieldset className="form-section">
        <legend>Tenant scope</legend>
        <p className="note">With no tenant ticked the user sees every tenant's objects. Tick tenants to limit them to those.</p>
        {tenants.length === 0 ? (
          <p className="muted">There are no tenants yet; the user sees everything.</p>
        ) : (
          <div className="form-grid" role="group" aria-label="Tenants">
            {tenants.map((t) => (
              <label key={String(t['id'])} className="inline-form">
                <input type="checkbox" checked={d.tenantIds.includes(Number(t['id']))} onChange={(e) => toggleTenant(Number(t['id']), e.target.checked)} /> {String(t['name'])}
              </label>
            ))}
          </div>
        )}
        {errs.get('tenant_ids') !== undefined && <p className="field-error">{errs.get('tenant_ids')}</p>}
      </fieldset>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : creating ? 'Create user' : 'Save changes'}
        </button>
        <button type="button" className="btn" disabled={busy} onClick={() => navigate(creating ? '/users' : `/users/${String(user['id'])}`)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** `/users/new` and `/users/:id/edit`: role and tenant scope as words and tick boxes, not ids. */
export function UserFormPage() {
  const { id } = useParams();
  const { me } = useSignedIn();
  const data = useAsync(async () => {
    const [user, tenants] = await Promise.all([id === undefined ? Promise.resolve(undefined) : api.get<Row>(`/api/v1/users/${id}`), listAll('tenants', { ordering: 'name' })]);
    return { user, tenants };
  }, `user-form/${id ?? 'new'}`);
  const title = id === undefined ? 'Add user' : 'Edit user';
  if (me.role !== 'admin')
    return (
      <>
        <h1 tabIndex={-1}>{title}</h1>
        <EmptyState title="Only administrators manage users" action={<Link to="/">Back to the dashboard</Link>} />
      </>
    );
  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to="/users">Users</Link> <span aria-hidden="true">/</span> <span>{data.data?.user === undefined ? 'New' : String(data.data.user['username'])}</span>
      </nav>
      <div className="page-head">
        <h1 tabIndex={-1}>{title}</h1>
      </div>
      {data.error !== undefined && <ErrorBanner error={data.error} onRetry={data.reload} />}
      {data.data === undefined ? data.error === undefined && <p className="muted">Loading…</p> : (
        <section className="panel">
          <UserForm user={data.data.user} tenants={data.data.tenants} />
        </section>
      )}
    </>
  );
}

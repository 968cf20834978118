import { useState } from 'react';
import type { FormEvent } from 'react';
import { api, query } from '../api/client';
import type { Page, Row } from '../api/client';
import { useAsync } from '../api/use-async';
import { useSignedIn } from '../api/session';
import { ErrorBanner } from './ErrorBanner';
import { Field } from './Field';

/** Whether the account is locked by failed logins right now. */
export function isLocked(user: Row): boolean {
  const until = user['locked_until'];
  return typeof until === 'string' && new Date(until).getTime() > Date.now();
}

/**
 * An administrator's actions on one account: disable or enable it, unlock it
 * after failed logins (POST /users/{id}/unlock, audited), set a new password.
 * Each ends the user's sessions on the server (a disable or password change
 * moves its token generation).
 */
export function UserAdminPanel({ user, onChanged }: { readonly user: Row; readonly onChanged: () => void }) {
  const { me } = useSignedIn();
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [pwError, setPwError] = useState<string | undefined>(undefined);
  const id = String(user['id']);
  const name = String(user['username']);
  const self = Number(user['id']) === me.user_id;
  const active = user['is_active'] === true;
  const failed = typeof user['failed_logins'] === 'number' ? user['failed_logins'] : 0;
  const tenantIds = Array.isArray(user['tenant_ids']) ? (user['tenant_ids'] as number[]) : [];
  const tenants = useAsync(
    async () => (tenantIds.length === 0 ? [] : (await api.get<Page<Row>>(`/api/v1/tenants${query({ id__in: tenantIds.join(','), brief: 1, limit: tenantIds.length })}`)).results.map((t) => String(t['display']))),
    tenantIds.join(','),
  );

  const run = async (what: string, call: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      await call();
      setDone(what);
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const resetPassword = (ev: FormEvent) => {
    ev.preventDefault();
    setPwError(undefined);
    if (password !== confirm) {
      setPwError('The two passwords differ; type the same password twice.');
      return;
    }
    void run(`A new password is set for ${name}; their sessions have ended.`, async () => {
      await api.request('PATCH', `/api/v1/users/${id}`, { password, version: user['version'] });
      setPassword('');
      setConfirm('');
    });
  };

  return (
    <section className="panel" aria-labelledby="account-title">
      <h2 id="account-title">Account</h2>
      {error !== undefined && <ErrorBanner error={error} title="Not changed" />}
      {done !== undefined && (
        <div className="banner banner-info" role="status">
          {done}
        </div>
      )}
      <dl className="facts">
        <dt>Sign-in</dt>
        <dd>{active ? 'Allowed' : <strong className="text-bad">Disabled</strong>}</dd>
        <dt>Lock</dt>
        <dd>
          {isLocked(user) ? <strong className="text-bad">Locked until {new Date(String(user['locked_until'])).toLocaleString()}</strong> : 'Not locked'}
          {failed > 0 ? ` · ${failed} failed login${failed === 1 ? '' : 's'}` : ''}
        </dd>
        <dt>Sees</dt>
        <dd>{tenantIds.length === 0 ? 'Every tenant' : `Only ${(tenants.data ?? tenantIds.map((t) => `#${t}`)).join(', ')}`}</dd>
        <dt>Two-factor (TOTP)</dt>
        <dd>{user['totp_enabled'] === true ? 'On' : 'Off'}</dd>
        <dt>Last login</dt>
        <dd>{typeof user['last_login'] === 'string' ? new Date(user['last_login']).toLocaleString() : 'Never'}</dd>
      </dl>
      <div className="inline-form" style={{ marginTop: '0.9rem' }}>
        {active ? (
          <button type="button" className="btn btn-danger" disabled={busy || self} title={self ? 'You cannot disable your own account' : undefined} onClick={() => void run(`${name} is disabled and signed out everywhere.`, () => api.request('PATCH', `/api/v1/users/${id}`, { is_active: false, version: user['version'] }))}>
            Disable account
          </button>
        ) : (
          <button type="button" className="btn" disabled={busy} onClick={() => void run(`${name} may sign in again.`, () => api.request('PATCH', `/api/v1/users/${id}`, { is_active: true, version: user['version'] }))}>
            Enable account
          </button>
        )}
        {(isLocked(user) || failed > 0) && (
          <button type="button" className="btn" disabled={busy} onClick={() => void run(`${name} is unlocked.`, () => api.request('POST', `/api/v1/users/${id}/unlock`))}>
            Unlock
          </button>
        )}
      </div>
      <h2>Set a new password</h2>
      <form onSubmit={resetPassword} noValidate>
        <div className="form-grid">
          <Field label="New password" hint="at least 12 characters; the user should change it after signing in">
            <input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
          </Field>
          <Field label="Repeat it" error={pwError}>
            <input type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} />
          </Field>
        </div>
        <div className="form-actions">
          <button type="submit" className="btn" disabled={busy || password === ''}>
            Set password
          </button>
        </div>
      </form>
    </section>
  );
}

import { useState } from 'react';
import type { FormEvent } from 'react';
import { ApiError, AuthCode } from '../api/client';
import { useSession } from '../api/session';
import { ErrorBanner } from '../components/ErrorBanner';
import { Field } from '../components/Field';

/** Username and password; the one-time code field appears when the server says the account needs one. */
export function LoginPage({ reason }: { readonly reason?: string | undefined }) {
  const { login } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [otp, setOtp] = useState('');
  const [needOtp, setNeedOtp] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await login(username, password, needOtp ? otp : undefined);
    } catch (err) {
      if (err instanceof ApiError && err.code === AuthCode.OTP_REQUIRED) {
        setNeedOtp(true);
      } else {
        setError(err);
        if (err instanceof ApiError && (err.code === AuthCode.OTP_INVALID || err.code === AuthCode.OTP_REPLAYED)) setOtp('');
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login" id="main">
      <form className="login-card" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
        <div className="login-brand">
          <img src="/favicon.svg" alt="" width="36" height="36" />
          <div>
            <h1 id="login-title">dcplane</h1>
            <p className="muted">Network boot and inventory</p>
          </div>
        </div>
        {reason !== undefined && error === undefined && (
          <p className="banner banner-info" role="status">
            {reason}
          </p>
        )}
        {error !== undefined && <ErrorBanner error={error} title="Could not log in" showFieldErrors={false} />}
        <Field label="Username" required>
          <input name="username" autoComplete="username" autoFocus value={username} onChange={(e) => setUsername(e.target.value)} />
        </Field>
        <Field label="Password" required>
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </Field>
        {needOtp && (
          <Field label="One-time code" required hint="This account uses two-factor authentication: enter the 6-digit code from your authenticator app.">
            <input name="otp" autoFocus inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]*" maxLength={8} value={otp} onChange={(e) => setOtp(e.target.value)} />
          </Field>
        )}
        <button type="submit" className="btn btn-primary btn-block" disabled={busy || username === '' || password === ''}>
          {busy ? 'Logging in…' : needOtp ? 'Verify and log in' : 'Log in'}
        </button>
        <p className="muted small">
          First start? The admin password is in <code>&lt;data_dir&gt;/initial-admin-password</code> or was set with <code>DCPLANE_ADMIN_PASSWORD</code>.
        </p>
      </form>
    </main>
  );
}

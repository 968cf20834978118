import { ApiError, NETWORK_ERROR } from '../api/client';

/** What to do about an error, by its status: the server's message says what, this says what next. */
function advice(e: ApiError): string | undefined {
  if (e.code === NETWORK_ERROR) return undefined;
  if (e.status === 403) return 'Your role does not allow this. Ask an administrator if you need it.';
  if (e.status === 404) return 'It may have been deleted. Go back to the list and search for it.';
  if (e.status === 409) return 'Another object already uses this value, or objects depend on this one. Change the value, or deal with the dependents first.';
  if (e.status === 412) return 'Someone changed this object since you opened it. Reload the page to see their change, then edit again.';
  if (e.status === 422 || e.status === 400) return 'Correct the fields marked below and save again.';
  if (e.status >= 500) return 'The server failed. Try again; if it keeps failing, the server log has the request id.';
  return undefined;
}

/** An error from the API (or any error), announced to screen readers, with what to do next. */
export function ErrorBanner({ error, title, message: given, advice: givenAdvice, onRetry, showFieldErrors = true }: { readonly error: unknown; readonly title?: string; readonly message?: string; readonly advice?: string; readonly onRetry?: () => void; readonly showFieldErrors?: boolean }) {
  if (error === undefined || error === null) return null;
  const e = error instanceof ApiError ? error : undefined;
  const message = given ?? e?.message ?? (error instanceof Error ? error.message : String(error));
  const tip = givenAdvice ?? (e === undefined ? undefined : advice(e));
  return (
    <div className="banner banner-error" role="alert" tabIndex={-1}>
      <strong>{title ?? 'Something went wrong'}</strong>
      <p>{message}</p>
      {tip !== undefined && <p className="muted">{tip}</p>}
      {showFieldErrors && e !== undefined && e.errors.length > 0 && (
        <ul>
          {e.errors.map((x, i) => (
            <li key={i}>
              <code>{x.path}</code>: {x.message}
            </li>
          ))}
        </ul>
      )}
      <div className="banner-footer">
        {e !== undefined && <code className="muted">{e.code}</code>}
        {onRetry !== undefined && (
          <button type="button" className="btn btn-small" onClick={onRetry}>
            Try again
          </button>
        )}
      </div>
    </div>
  );
}

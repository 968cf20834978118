/**
 * The dcplane API from the browser: bearer on every request, one refresh
 * and retry on a 401, and errors as the server sends them
 * (`{code, message, errors: [{path, message}]}`).
 *
 * Where the tokens live: the access token (15 minutes) in memory only; the
 * refresh token in sessionStorage, so a reload of the tab keeps the session
 * and closing the tab ends it. Not localStorage: the server spends a refresh
 * token on use and revokes the whole session when a spent one comes back,
 * so two tabs sharing one would log each other out on their first refresh.
 * Not a cookie: the API takes the refresh token in the body (auth-routes.ts)
 * and has no cookie or CSRF handling.
 */

export interface FieldError {
  readonly path: string;
  readonly message: string;
  readonly code?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: readonly FieldError[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Codes the UI reacts to (src/auth/errors.ts). */
export const AuthCode = {
  OTP_REQUIRED: 'AUTH_ERR_OTP_REQUIRED',
  OTP_INVALID: 'AUTH_ERR_OTP_INVALID',
  OTP_REPLAYED: 'AUTH_ERR_OTP_REPLAYED',
  FORBIDDEN: 'AUTH_ERR_FORBIDDEN',
} as const;

/** AUTH_ERR_TOKEN_MISSING, _INVALID, _EXPIRED, _REVOKED: the bearer is the problem, not the request. */
const TOKEN_ERROR_PREFIX = 'AUTH_ERR_TOKEN_';

/** A network failure (the server is down or unreachable), told apart from an answer. */
export const NETWORK_ERROR = 'UI_ERR_NETWORK';

interface TokenPair {
  readonly access_token: string;
  readonly refresh_token: string;
  readonly expires_in: number;
}

export interface Page<T> {
  readonly count: number;
  readonly next: string | null;
  readonly previous: string | null;
  readonly results: readonly T[];
}

export type Row = Readonly<Record<string, unknown>>;

const REFRESH_KEY = 'dcplane.refresh_token';

async function errorOf(res: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (typeof body === 'object' && body !== null && 'code' in body) {
    const b = body as { code: unknown; message?: unknown; errors?: unknown };
    const errors = Array.isArray(b.errors) ? (b.errors as FieldError[]) : [];
    return new ApiError(res.status, String(b.code), typeof b.message === 'string' ? b.message : res.statusText, errors);
  }
  return new ApiError(res.status, `HTTP_${res.status}`, `${res.status} ${res.statusText}`);
}

export class ApiClient {
  private accessToken: string | undefined;
  private refreshing: Promise<boolean> | undefined;
  /** Called once the session is gone (refresh refused): the app shows the login page. */
  onSessionLost: () => void = () => {};

  get hasStoredSession(): boolean {
    return sessionStorage.getItem(REFRESH_KEY) !== null;
  }

  /** The current access token, for the WebSocket's `?access_token=` (browsers cannot set its headers). */
  get token(): string | undefined {
    return this.accessToken;
  }

  private keep(pair: TokenPair): void {
    this.accessToken = pair.access_token;
    sessionStorage.setItem(REFRESH_KEY, pair.refresh_token);
  }

  private forget(): void {
    this.accessToken = undefined;
    sessionStorage.removeItem(REFRESH_KEY);
  }

  async login(username: string, password: string, otp?: string): Promise<void> {
    const body = otp === undefined || otp === '' ? { username, password } : { username, password, otp };
    const res = await this.fetch('/api/v1/auth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw await errorOf(res);
    this.keep((await res.json()) as TokenPair);
  }

  /** A new token pair from the stored refresh token; one at a time (the refresh token is spent on use). */
  refresh(): Promise<boolean> {
    this.refreshing ??= (async () => {
      const stored = sessionStorage.getItem(REFRESH_KEY);
      if (stored === null) return false;
      try {
        const res = await this.fetch('/api/v1/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: stored }) });
        if (!res.ok) {
          // Refused (expired, revoked): the session is over. A 5xx keeps the token for a later try.
          if (res.status < 500) this.forget();
          return false;
        }
        this.keep((await res.json()) as TokenPair);
        return true;
      } catch {
        return false;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  async logout(): Promise<void> {
    const stored = sessionStorage.getItem(REFRESH_KEY);
    this.forget();
    if (stored !== null) {
      // Best effort: the local session ends even if the server cannot be told.
      await this.fetch('/api/v1/auth/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: stored }) }).catch(() => undefined);
    }
  }

  private async fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, init);
    } catch (e) {
      throw new ApiError(0, NETWORK_ERROR, `cannot reach the dcplane server (${e instanceof Error ? e.message : String(e)}); check that it is running and reload`);
    }
  }

  private async send(method: string, path: string, body: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.accessToken !== undefined) headers['authorization'] = `Bearer ${this.accessToken}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    // no-store: the API sends ETags by version, and a user's login state (failed logins, lock) changes without a new
    // version, so a revalidated cached copy showed an unlocked account as still failing. Nor should API data sit in the HTTP cache.
    return this.fetch(path, { method, headers, cache: 'no-store', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  }

  /**
   * One API call. A 401 about the bearer (expired, revoked, missing)
   * refreshes the tokens once and retries; if that fails too the session is
   * over. Other 401s (a wrong one-time code on TOTP endpoints) are the
   * call's own error.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res = await this.send(method, path, body);
    if (res.status === 401) {
      const first = await errorOf(res);
      if (!first.code.startsWith(TOKEN_ERROR_PREFIX)) throw first;
      if (await this.refresh()) res = await this.send(method, path, body);
      if (res.status === 401) {
        const err = res.bodyUsed ? first : await errorOf(res);
        if (err.code.startsWith(TOKEN_ERROR_PREFIX)) {
          this.forget();
          this.onSessionLost();
        }
        throw err;
      }
    }
    if (!res.ok) throw await errorOf(res);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
}

export const api = new ApiClient();

/** `?a=1&b=2` from an object, leaving out empty values; arrays repeat the key. */
export function query(params: Readonly<Record<string, string | number | readonly (string | number)[] | undefined>>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === '') continue;
    if (Array.isArray(v)) for (const x of v as readonly (string | number)[]) p.append(k, String(x));
    else p.set(k, String(v));
  }
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

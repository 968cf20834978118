import { DcplaneError } from '../common/errors.js';

/**
 * Stable codes of authentication and authorisation failures, and the HTTP
 * status the API answers each with. Clients branch on the code; the message
 * is for humans and may change.
 *
 * | code | status | when |
 * | --- | --- | --- |
 * | AUTH_ERR_INVALID_CREDENTIALS | 401 | unknown user or wrong password (the two are not told apart) |
 * | AUTH_ERR_ACCOUNT_DISABLED | 403 | right password, but the account is disabled (`is_active` false) |
 * | AUTH_ERR_ACCOUNT_LOCKED | 423 | too many failed logins; `retryAfterSeconds` says when to try again |
 * | AUTH_ERR_RATE_LIMITED | 429 | too many login attempts from one source address; `retryAfterSeconds` set |
 * | AUTH_ERR_OTP_REQUIRED | 401 | password right, the user has TOTP on, and no code was sent |
 * | AUTH_ERR_OTP_INVALID | 401 | a TOTP code that matches no step in the ±1 window (or is not 6 digits) |
 * | AUTH_ERR_OTP_REPLAYED | 401 | a TOTP code (or an older one) that was already accepted once (RFC 6238 §5.2) |
 * | AUTH_ERR_OTP_NOT_ENROLLED | 409 | confirming TOTP for a user who has no pending secret |
 * | AUTH_ERR_TOKEN_MISSING | 401 | no `Authorization: Bearer …` header |
 * | AUTH_ERR_TOKEN_INVALID | 401 | malformed, badly signed, unknown, or of the wrong type |
 * | AUTH_ERR_TOKEN_EXPIRED | 401 | a well-formed token past its expiry |
 * | AUTH_ERR_TOKEN_REVOKED | 401 | a revoked API token, a refresh token whose family was revoked (logout or reuse), or either of a deleted or disabled user |
 * | AUTH_ERR_FORBIDDEN | 403 | the principal's role does not allow the action on the resource |
 * | AUTH_ERR_TOKEN_READ_ONLY | 403 | a write with a read-only API token |
 * | AUTH_ERR_SESSION_REQUIRED | 403 | an account-security action (password, TOTP, new API tokens) asked with an API token instead of a login session |
 * | AUTH_ERR_WEAK_PASSWORD | 422 | a password the policy refuses; `reason` says which rule |
 * | AUTH_ERR_SECRET_FILE | 500 | `<data_dir>/jwt-secret` exists but cannot be used (empty, short, not a secret) |
 */
export const AuthErrorCode = {
  INVALID_CREDENTIALS: 'AUTH_ERR_INVALID_CREDENTIALS',
  ACCOUNT_LOCKED: 'AUTH_ERR_ACCOUNT_LOCKED',
  ACCOUNT_DISABLED: 'AUTH_ERR_ACCOUNT_DISABLED',
  RATE_LIMITED: 'AUTH_ERR_RATE_LIMITED',
  OTP_REQUIRED: 'AUTH_ERR_OTP_REQUIRED',
  OTP_INVALID: 'AUTH_ERR_OTP_INVALID',
  OTP_REPLAYED: 'AUTH_ERR_OTP_REPLAYED',
  OTP_NOT_ENROLLED: 'AUTH_ERR_OTP_NOT_ENROLLED',
  TOKEN_MISSING: 'AUTH_ERR_TOKEN_MISSING',
  TOKEN_INVALID: 'AUTH_ERR_TOKEN_INVALID',
  TOKEN_EXPIRED: 'AUTH_ERR_TOKEN_EXPIRED',
  TOKEN_REVOKED: 'AUTH_ERR_TOKEN_REVOKED',
  FORBIDDEN: 'AUTH_ERR_FORBIDDEN',
  TOKEN_READ_ONLY: 'AUTH_ERR_TOKEN_READ_ONLY',
  SESSION_REQUIRED: 'AUTH_ERR_SESSION_REQUIRED',
  WEAK_PASSWORD: 'AUTH_ERR_WEAK_PASSWORD',
  SECRET_FILE: 'AUTH_ERR_SECRET_FILE',
} as const;
export type AuthErrorCode = (typeof AuthErrorCode)[keyof typeof AuthErrorCode];

/** The HTTP status of each code, for the API's error handler. */
export const AUTH_ERROR_HTTP_STATUS = {
  AUTH_ERR_INVALID_CREDENTIALS: 401,
  AUTH_ERR_ACCOUNT_LOCKED: 423,
  AUTH_ERR_ACCOUNT_DISABLED: 403,
  AUTH_ERR_RATE_LIMITED: 429,
  AUTH_ERR_OTP_REQUIRED: 401,
  AUTH_ERR_OTP_INVALID: 401,
  AUTH_ERR_OTP_REPLAYED: 401,
  AUTH_ERR_OTP_NOT_ENROLLED: 409,
  AUTH_ERR_TOKEN_MISSING: 401,
  AUTH_ERR_TOKEN_INVALID: 401,
  AUTH_ERR_TOKEN_EXPIRED: 401,
  AUTH_ERR_TOKEN_REVOKED: 401,
  AUTH_ERR_FORBIDDEN: 403,
  AUTH_ERR_TOKEN_READ_ONLY: 403,
  AUTH_ERR_SESSION_REQUIRED: 403,
  AUTH_ERR_WEAK_PASSWORD: 422,
  AUTH_ERR_SECRET_FILE: 500,
} as const satisfies Record<AuthErrorCode, number>;

/** Which password rule a refused password broke. */
export type WeakPasswordReason = 'too_short' | 'too_long' | 'same_as_username';

export interface AuthErrorDetails {
  /** Seconds until a retry can succeed (423, 429): the API sends it as `Retry-After`. */
  readonly retryAfterSeconds?: number;
  /** For AUTH_ERR_WEAK_PASSWORD: the rule that was broken. */
  readonly reason?: WeakPasswordReason;
  readonly cause?: unknown;
}

export class AuthError extends DcplaneError {
  declare readonly code: AuthErrorCode;
  readonly status: number;
  readonly retryAfterSeconds: number | undefined;
  readonly reason: WeakPasswordReason | undefined;
  constructor(code: AuthErrorCode, message: string, details: AuthErrorDetails = {}) {
    super(code, message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.status = AUTH_ERROR_HTTP_STATUS[code];
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.reason = details.reason;
  }
}

export function isAuthError(e: unknown, code?: AuthErrorCode): e is AuthError {
  return e instanceof AuthError && (code === undefined || e.code === code);
}

import { Secret, TOTP } from 'otpauth';
import { AuthError, AuthErrorCode } from './errors.js';
import type { AuthStore, UserRecord } from './store.js';

/**
 * TOTP as authenticator apps implement it (RFC 6238 with its defaults):
 * HMAC-SHA1, 6 digits, 30-second steps. Google Authenticator ignores any
 * other algorithm or digit count given in the URI, so these are not options.
 */
export const TOTP_ISSUER = 'dcplane';
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/**
 * Steps accepted either side of the current one. RFC 6238 §5.2 recommends "at
 * most one time step" of allowed network delay.
 */
export const TOTP_WINDOW = 1;
/** RFC 4226 §4: the shared secret "MUST be at least 128 bits"; 160 is recommended. */
const SECRET_BYTES = 20;

export interface TotpEnrolment {
  /** Base32 secret, for typing into an app that cannot scan the QR code. */
  readonly secret: string;
  /** `otpauth://totp/dcplane:<username>?secret=…&issuer=dcplane&…`, for the QR code. */
  readonly uri: string;
}

function totpFor(secret: string, username: string): TOTP {
  return new TOTP({
    issuer: TOTP_ISSUER,
    label: username,
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  });
}

/** A fresh secret and its otpauth URI. Nothing is stored. */
export function generateTotpEnrolment(username: string): TotpEnrolment {
  const secret = new Secret({ size: SECRET_BYTES }).base32;
  return { secret, uri: totpFor(secret, username).toString() };
}

/** The RFC 6238 time step `now` falls in: floor(Unix seconds / 30). */
export function totpStep(now: Date): number {
  return Math.floor(now.getTime() / 1000 / TOTP_PERIOD_SECONDS);
}

/** The code for a step (for tests and tools; the server never shows codes). */
export function totpCodeAt(secret: string, now: Date): string {
  return totpFor(secret, '').generate({ timestamp: now.getTime() });
}

/**
 * The time step whose code `code` is, within ±TOTP_WINDOW steps of `now`, or
 * undefined. Codes are compared in constant time (otpauth uses
 * crypto.timingSafeEqual). Spaces are ignored, as apps show `123 456`.
 */
export function matchTotpStep(secret: string, code: string, now: Date): number | undefined {
  const c = code.replace(/\s+/g, '');
  if (!/^[0-9]{6}$/.test(c)) return undefined;
  const delta = totpFor(secret, '').validate({ token: c, timestamp: now.getTime(), window: TOTP_WINDOW });
  return delta === null ? undefined : totpStep(now) + delta;
}

/**
 * Checks a code against the user's secret and spends its step. RFC 6238 §5.2:
 * "the verifier MUST NOT accept the second attempt of the OTP after the
 * successful validation has been issued for the first OTP" — so a code whose
 * step is not newer than the last accepted one is refused as a replay.
 * Throws AUTH_ERR_OTP_INVALID or AUTH_ERR_OTP_REPLAYED.
 */
export async function verifyTotpCode(
  store: AuthStore,
  user: Pick<UserRecord, 'id' | 'totp_secret'>,
  code: string,
  now: Date,
): Promise<void> {
  if (user.totp_secret === null) throw new AuthError(AuthErrorCode.OTP_NOT_ENROLLED, 'no TOTP secret for this user');
  const step = matchTotpStep(user.totp_secret, code, now);
  if (step === undefined) throw new AuthError(AuthErrorCode.OTP_INVALID, 'one-time code is not valid');
  if (!(await store.recordTotpStep(user.id, step))) {
    throw new AuthError(AuthErrorCode.OTP_REPLAYED, 'one-time code was already used');
  }
}

/**
 * Starts enrolment: stores a new secret and returns it. For a user without
 * TOTP the secret is not enforced (`totp_enabled` false) until `confirmTotp`,
 * so a user whose scan failed is not locked out. A user who already has TOTP
 * on must prove the current factor with `otp` (AUTH_ERR_OTP_REQUIRED /
 * AUTH_ERR_OTP_INVALID), and enforcement stays on: otherwise a stolen session
 * or API token could re-enrol, turn TOTP off and log in with the password
 * alone.
 */
export async function beginTotpEnrolment(
  store: AuthStore,
  user: Pick<UserRecord, 'id' | 'username' | 'totp_secret' | 'totp_enabled'>,
  otp: string | undefined,
  now: Date,
): Promise<TotpEnrolment> {
  const enforced = user.totp_enabled && user.totp_secret !== null;
  if (enforced) {
    if (otp === undefined || otp === '') throw new AuthError(AuthErrorCode.OTP_REQUIRED, 'TOTP is on: send a current code as otp to re-enrol');
    await verifyTotpCode(store, user, otp, now);
  }
  const enrolment = generateTotpEnrolment(user.username);
  await store.setTotp(user.id, enrolment.secret, enforced);
  return enrolment;
}

/** Turns TOTP on once the user proves their app holds the pending secret. */
export async function confirmTotp(
  store: AuthStore,
  user: Pick<UserRecord, 'id' | 'totp_secret'>,
  code: string,
  now: Date,
): Promise<void> {
  await verifyTotpCode(store, user, code, now);
  await store.setTotp(user.id, user.totp_secret, true);
}

export async function disableTotp(store: AuthStore, userId: number): Promise<void> {
  await store.setTotp(userId, null, false);
}

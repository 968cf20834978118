import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DcplaneError } from '../../src/common/errors.js';
import { AUTH_ERROR_HTTP_STATUS, AuthError, AuthErrorCode, isAuthError } from '../../src/auth/errors.js';

describe('auth error codes', () => {
  it('every code has an HTTP status, and every status is one the API uses for auth', () => {
    const codes = Object.values(AuthErrorCode);
    assert.deepEqual(Object.keys(AUTH_ERROR_HTTP_STATUS).sort(), [...codes].sort());
    for (const code of codes) {
      assert.match(code, /^AUTH_ERR_[A-Z_]+$/);
      assert.ok([401, 403, 409, 422, 423, 429, 500].includes(AUTH_ERROR_HTTP_STATUS[code]), code);
    }
  });

  it('the statuses users and clients rely on', () => {
    assert.equal(AUTH_ERROR_HTTP_STATUS.AUTH_ERR_INVALID_CREDENTIALS, 401);
    assert.equal(AUTH_ERROR_HTTP_STATUS.AUTH_ERR_TOKEN_EXPIRED, 401);
    assert.equal(AUTH_ERROR_HTTP_STATUS.AUTH_ERR_FORBIDDEN, 403);
    assert.equal(AUTH_ERROR_HTTP_STATUS.AUTH_ERR_TOKEN_READ_ONLY, 403);
    assert.equal(AUTH_ERROR_HTTP_STATUS.AUTH_ERR_ACCOUNT_LOCKED, 423);
    assert.equal(AUTH_ERROR_HTTP_STATUS.AUTH_ERR_RATE_LIMITED, 429);
  });

  it('an AuthError carries its code, status and details and is a DcplaneError', () => {
    const e = new AuthError(AuthErrorCode.RATE_LIMITED, 'slow down', { retryAfterSeconds: 7 });
    assert.ok(e instanceof DcplaneError);
    assert.equal(e.code, 'AUTH_ERR_RATE_LIMITED');
    assert.equal(e.status, 429);
    assert.equal(e.retryAfterSeconds, 7);
    assert.equal(e.name, 'AuthError');
    assert.ok(isAuthError(e));
    assert.ok(isAuthError(e, AuthErrorCode.RATE_LIMITED));
    assert.ok(!isAuthError(e, AuthErrorCode.FORBIDDEN));
    assert.ok(!isAuthError(new DcplaneError('AUTH_ERR_RATE_LIMITED', 'x')));
  });
});

import { DcplaneError } from '../common/errors.js';

/** Stable codes of the storage layer (connection and migrations). */
export const DbErrorCode = {
  /** `database` is neither "sqlite" nor a postgres:// URL. */
  UNSUPPORTED_DATABASE: 'DB_ERR_UNSUPPORTED_DATABASE',
  /** The database could not be opened or reached. */
  CONNECT: 'DB_ERR_CONNECT',
  /** A migration failed; the database is left at the last one that succeeded. */
  MIGRATION: 'DB_ERR_MIGRATION',
} as const;
export type DbErrorCode = (typeof DbErrorCode)[keyof typeof DbErrorCode];

export class DbError extends DcplaneError {
  declare readonly code: DbErrorCode;
  constructor(code: DbErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

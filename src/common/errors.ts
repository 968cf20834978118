/**
 * Base of every coded error in dcplane. Callers tell errors apart by `code`
 * (stable, documented, e.g. `DHCP_ERR_TRUNCATED`), never by message text.
 */
export class DcplaneError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

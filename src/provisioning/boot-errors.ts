import { DcplaneError } from '../common/errors.js';

/**
 * Stable codes of the network-boot endpoints (/boot/…), which booting hosts
 * and installers call without a token. Bodies are the API's usual
 * `{code, message, errors: [{path, message}]}`.
 */
export const BootErrorCode = {
  /** `mac` is missing or not a MAC address. */
  INVALID_MAC: 'BOOT_ERR_INVALID_MAC',
  /** No server interface has this MAC. */
  UNKNOWN_MAC: 'BOOT_ERR_UNKNOWN_MAC',
  /** The caller's address is neither the interface's address nor its DHCP lease: an installer calls back from the host it installed. */
  SOURCE_MISMATCH: 'BOOT_ERR_SOURCE_MISMATCH',
} as const;
export type BootErrorCode = (typeof BootErrorCode)[keyof typeof BootErrorCode];

export const BOOT_ERROR_STATUS: Readonly<Record<BootErrorCode, number>> = Object.freeze({
  BOOT_ERR_INVALID_MAC: 400,
  BOOT_ERR_UNKNOWN_MAC: 404,
  BOOT_ERR_SOURCE_MISMATCH: 403,
});

export class BootError extends DcplaneError {
  declare readonly code: BootErrorCode;
  constructor(
    code: BootErrorCode,
    message: string,
    readonly path: string,
  ) {
    super(code, message);
  }

  get status(): number {
    return BOOT_ERROR_STATUS[this.code];
  }

  toJson(): { code: string; message: string; errors: { path: string; message: string }[] } {
    return { code: this.code, message: this.message, errors: [{ path: this.path, message: this.message }] };
  }
}

import { DcplaneError } from '../common/errors.js';

/**
 * Stable error codes of the TFTP wire codec and transfer core. The server
 * drops (or answers with ERROR 4) a request that fails to decode and counts it
 * under the error's `reason`.
 *
 * | code | reason | when |
 * | --- | --- | --- |
 * | TFTP_ERR_TRUNCATED | truncated | fewer octets than the packet type needs (2 for any, 4 for DATA/ACK/ERROR) |
 * | TFTP_ERR_BAD_OPCODE | bad_opcode | the opcode is not 1–6 |
 * | TFTP_ERR_TOO_LONG | too_long | a request (RRQ/WRQ) longer than 512 octets (RFC 2347) |
 * | TFTP_ERR_NO_NUL | no_nul | a filename, mode, option name or value not terminated by NUL |
 * | TFTP_ERR_EMPTY_FILENAME | empty_filename | a request whose filename is empty |
 * | TFTP_ERR_BAD_MODE | bad_mode | mode is not netascii, octet or mail (any case) |
 * | TFTP_ERR_ODD_OPTION | odd_option | an option name without a value (an odd number of strings) |
 * | TFTP_ERR_EMPTY_OPTION_NAME | empty_option_name | an option with an empty name followed by more data |
 * | TFTP_ERR_DUPLICATE_OPTION | duplicate_option | the same option name twice (compared case-insensitively) |
 * | TFTP_ERR_ENCODE_INVALID | encode_invalid | a value given to an encoder is out of range (a bug in the caller) |
 *
 * Trailing NUL octets after the last complete option pair are padding, not an
 * error: some PXE ROMs send them.
 */
export const TftpCodecErrorCode = {
  TRUNCATED: 'TFTP_ERR_TRUNCATED',
  BAD_OPCODE: 'TFTP_ERR_BAD_OPCODE',
  TOO_LONG: 'TFTP_ERR_TOO_LONG',
  NO_NUL: 'TFTP_ERR_NO_NUL',
  EMPTY_FILENAME: 'TFTP_ERR_EMPTY_FILENAME',
  BAD_MODE: 'TFTP_ERR_BAD_MODE',
  ODD_OPTION: 'TFTP_ERR_ODD_OPTION',
  EMPTY_OPTION_NAME: 'TFTP_ERR_EMPTY_OPTION_NAME',
  DUPLICATE_OPTION: 'TFTP_ERR_DUPLICATE_OPTION',
  ENCODE_INVALID: 'TFTP_ERR_ENCODE_INVALID',
} as const;
export type TftpCodecErrorCode = (typeof TftpCodecErrorCode)[keyof typeof TftpCodecErrorCode];

export type TftpDecodeErrorCode = Exclude<TftpCodecErrorCode, 'TFTP_ERR_ENCODE_INVALID'>;

/** Why a packet did not decode; short and fixed, for use as a Prometheus label value. */
export type TftpDecodeReason =
  | 'truncated'
  | 'bad_opcode'
  | 'too_long'
  | 'no_nul'
  | 'empty_filename'
  | 'bad_mode'
  | 'odd_option'
  | 'empty_option_name'
  | 'duplicate_option';

/** The label each decode code is counted under. */
export const TFTP_DECODE_REASONS = {
  TFTP_ERR_TRUNCATED: 'truncated',
  TFTP_ERR_BAD_OPCODE: 'bad_opcode',
  TFTP_ERR_TOO_LONG: 'too_long',
  TFTP_ERR_NO_NUL: 'no_nul',
  TFTP_ERR_EMPTY_FILENAME: 'empty_filename',
  TFTP_ERR_BAD_MODE: 'bad_mode',
  TFTP_ERR_ODD_OPTION: 'odd_option',
  TFTP_ERR_EMPTY_OPTION_NAME: 'empty_option_name',
  TFTP_ERR_DUPLICATE_OPTION: 'duplicate_option',
} as const satisfies Record<TftpDecodeErrorCode, TftpDecodeReason>;

/** A received datagram that is not a well-formed TFTP packet. */
export class TftpDecodeError extends DcplaneError {
  declare readonly code: TftpDecodeErrorCode;
  readonly reason: TftpDecodeReason;
  constructor(code: TftpDecodeErrorCode, message: string) {
    super(code, message);
    this.reason = TFTP_DECODE_REASONS[code];
  }
}

/** A value the encoder cannot put on the wire (block number out of 0–65535, NUL inside a string, …). */
export class TftpEncodeError extends DcplaneError {
  declare readonly code: 'TFTP_ERR_ENCODE_INVALID';
  readonly reason = 'encode_invalid' as const;
  constructor(message: string) {
    super(TftpCodecErrorCode.ENCODE_INVALID, message);
  }
}

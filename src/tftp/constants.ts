/**
 * TFTP protocol numbers and limits, each with the document that defines it.
 */

/** Opcodes (RFC 1350 §5; OACK from RFC 2347). */
export const TftpOpcode = {
  RRQ: 1,
  WRQ: 2,
  DATA: 3,
  ACK: 4,
  ERROR: 5,
  OACK: 6, // RFC 2347
} as const;
export type TftpOpcode = (typeof TftpOpcode)[keyof typeof TftpOpcode];
export type TftpOpName = keyof typeof TftpOpcode;

/** The numeric opcode → name, for decoding and logs. */
export const TFTP_OPCODE_NAMES: ReadonlyMap<number, TftpOpName> = new Map([
  [1, 'RRQ'], [2, 'WRQ'], [3, 'DATA'], [4, 'ACK'], [5, 'ERROR'], [6, 'OACK'],
]);

/** Error codes carried in an ERROR packet (RFC 1350 appendix; 8 from RFC 2347). */
export const TftpErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8, // RFC 2347: "terminate transfer due to option negotiation"
} as const;
export type TftpErrorCode = (typeof TftpErrorCode)[keyof typeof TftpErrorCode];

/** The RFC's wording for each error code: the default message of an ERROR packet. */
export const TFTP_ERROR_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'Not defined, see error message (if any).'],
  [1, 'File not found.'],
  [2, 'Access violation.'],
  [3, 'Disk full or allocation exceeded.'],
  [4, 'Illegal TFTP operation.'],
  [5, 'Unknown transfer ID.'],
  [6, 'File already exists.'],
  [7, 'No such user.'],
  [8, 'Option negotiation refused.'],
]);

/** Transfer modes (RFC 1350 §1); compared case-insensitively on the wire. */
export const TFTP_MODES = ['netascii', 'octet', 'mail'] as const;
export type TftpMode = (typeof TFTP_MODES)[number];

/** Well-known server port (RFC 1350 §4). */
export const TFTP_PORT = 69;

/** Block size when no blksize option is accepted (RFC 1350 §2). */
export const DEFAULT_BLKSIZE = 512;
/** blksize option range (RFC 2348: "between 8 and 65464 octets, inclusive"). */
export const BLKSIZE_MIN = 8;
export const BLKSIZE_MAX = 65464;

/** timeout option range in seconds (RFC 2349: "between 1 and 255 seconds, inclusive"). */
export const TIMEOUT_MIN_S = 1;
export const TIMEOUT_MAX_S = 255;

/** windowsize option range (RFC 7440 §3: "between 1 and 65535 blocks, inclusive"). */
export const WINDOWSIZE_MIN = 1;
export const WINDOWSIZE_MAX = 65535;
/**
 * Largest window dcplane grants or runs. Block numbers are 16 bits: an ACK is
 * told apart from a stale one (up to a window behind) only while a window
 * plus the window in flight stay under 65536 blocks. At 32768 a stale ACK of
 * the previous window's start and the ACK of the whole new window carry the
 * same number, and taking the stale one as new skips a window: a corrupt file.
 */
export const WINDOWSIZE_SAFE_MAX = 32767;
/** Window when no windowsize option is accepted: lock-step RFC 1350. */
export const DEFAULT_WINDOWSIZE = 1;

/**
 * Largest request (RRQ/WRQ) accepted. RFC 2347 §"Packet Formats": "the
 * request packet ... must not exceed 512 octets"; the decoder rejects longer
 * requests with `too_long` and the shell may check it before decoding.
 */
export const MAX_REQUEST_SIZE = 512;

/** Opcode (2) + block number (2) in front of DATA payload (RFC 1350 §5). */
export const DATA_HEADER_SIZE = 4;
/** Block numbers are 16 bits on the wire; past 65535 they roll over to 0. */
export const BLOCK_MODULO = 65536;

/** Option names dcplane negotiates (lower case, as compared). */
export const TftpOption = {
  BLKSIZE: 'blksize', // RFC 2348
  TIMEOUT: 'timeout', // RFC 2349
  TSIZE: 'tsize', // RFC 2349
  WINDOWSIZE: 'windowsize', // RFC 7440
} as const;

import { DcplaneError } from '../common/errors.js';

/**
 * Stable error codes of the DHCPv4 wire codec. The server drops a packet that
 * fails to decode and counts it under the error's `reason`.
 *
 * | code | reason | when |
 * | --- | --- | --- |
 * | DHCP_ERR_TRUNCATED | truncated | fewer than 240 octets (236 of BOOTP header + 4 of magic cookie) |
 * | DHCP_ERR_BAD_COOKIE | bad_cookie | the 4 octets after the header are not 99.130.83.99 |
 * | DHCP_ERR_BAD_OP | bad_op | op is neither BOOTREQUEST (1) nor BOOTREPLY (2) |
 * | DHCP_ERR_BAD_HLEN | bad_hlen | hlen > 16, the size of chaddr |
 * | DHCP_ERR_OPTION_OVERRUN | option_overrun | an option's length octet, or its value, runs past the end of its field |
 * | DHCP_ERR_BAD_OVERLOAD | bad_overload | option 52 is not exactly one octet of value 1, 2 or 3 |
 * | DHCP_ERR_OVERLOAD_LOOP | overload_loop | option 52 appears inside an overloaded `file` or `sname` field |
 * | DHCP_ERR_ENCODE_TOO_LARGE | encode_too_large | a reply does not fit the maximum size even with option overload |
 * | DHCP_ERR_ENCODE_INVALID | encode_invalid | a packet given to the encoder has a field out of range (a bug in the caller) |
 *
 * A missing END option is not an error: the options end where the field
 * ends, as ISC Kea reads them. A missing message type (53) is not
 * the codec's concern either; the server drops such a packet itself.
 */
export const DhcpErrorCode = {
  TRUNCATED: 'DHCP_ERR_TRUNCATED',
  BAD_COOKIE: 'DHCP_ERR_BAD_COOKIE',
  BAD_OP: 'DHCP_ERR_BAD_OP',
  BAD_HLEN: 'DHCP_ERR_BAD_HLEN',
  OPTION_OVERRUN: 'DHCP_ERR_OPTION_OVERRUN',
  BAD_OVERLOAD: 'DHCP_ERR_BAD_OVERLOAD',
  OVERLOAD_LOOP: 'DHCP_ERR_OVERLOAD_LOOP',
  ENCODE_TOO_LARGE: 'DHCP_ERR_ENCODE_TOO_LARGE',
  ENCODE_INVALID: 'DHCP_ERR_ENCODE_INVALID',
} as const;
export type DhcpErrorCode = (typeof DhcpErrorCode)[keyof typeof DhcpErrorCode];

/** Why a packet did not decode; short and fixed, for use as a Prometheus label value. */
export type DhcpDecodeReason =
  | 'truncated'
  | 'bad_cookie'
  | 'bad_op'
  | 'bad_hlen'
  | 'option_overrun'
  | 'bad_overload'
  | 'overload_loop';

export type DhcpDecodeErrorCode = Exclude<DhcpErrorCode, 'DHCP_ERR_ENCODE_TOO_LARGE' | 'DHCP_ERR_ENCODE_INVALID'>;

/** The label each decode code is counted under. */
export const DECODE_REASONS = {
  DHCP_ERR_TRUNCATED: 'truncated',
  DHCP_ERR_BAD_COOKIE: 'bad_cookie',
  DHCP_ERR_BAD_OP: 'bad_op',
  DHCP_ERR_BAD_HLEN: 'bad_hlen',
  DHCP_ERR_OPTION_OVERRUN: 'option_overrun',
  DHCP_ERR_BAD_OVERLOAD: 'bad_overload',
  DHCP_ERR_OVERLOAD_LOOP: 'overload_loop',
} as const satisfies Record<DhcpDecodeErrorCode, DhcpDecodeReason>;

/** A received packet that is not a well-formed DHCPv4 message. */
export class DhcpDecodeError extends DcplaneError {
  declare readonly code: DhcpDecodeErrorCode;
  readonly reason: DhcpDecodeReason;
  constructor(code: DhcpDecodeErrorCode, message: string) {
    super(code, message);
    this.reason = DECODE_REASONS[code];
  }
}

/** A packet the encoder cannot put on the wire. */
export class DhcpEncodeError extends DcplaneError {
  declare readonly code: 'DHCP_ERR_ENCODE_TOO_LARGE' | 'DHCP_ERR_ENCODE_INVALID';
  readonly reason: 'encode_too_large' | 'encode_invalid';
  constructor(code: 'DHCP_ERR_ENCODE_TOO_LARGE' | 'DHCP_ERR_ENCODE_INVALID', message: string) {
    super(code, message);
    this.reason = code === DhcpErrorCode.ENCODE_TOO_LARGE ? 'encode_too_large' : 'encode_invalid';
  }
}

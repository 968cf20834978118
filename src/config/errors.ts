import { DcplaneError } from '../common/errors.js';

/**
 * Stable codes for configuration problems. Each problem a file has is listed
 * with one of these codes and the path of the value it is about; callers and
 * tests tell problems apart by code, never by message text.
 */
export const ConfigErrorCode = {
  /** The error thrown when a file cannot be used; its `problems` say why. */
  INVALID: 'CONFIG_ERR_INVALID',

  // The file itself.
  READ: 'CONFIG_ERR_READ',
  JSON_SYNTAX: 'CONFIG_ERR_JSON_SYNTAX',
  DUPLICATE_KEY: 'CONFIG_ERR_DUPLICATE_KEY',

  // Shape, as the JSON Schema states it (one code per schema keyword family).
  UNKNOWN_KEY: 'CONFIG_ERR_UNKNOWN_KEY',
  MISSING_KEY: 'CONFIG_ERR_MISSING_KEY',
  TYPE: 'CONFIG_ERR_TYPE',
  ENUM: 'CONFIG_ERR_ENUM',
  OUT_OF_RANGE: 'CONFIG_ERR_OUT_OF_RANGE',
  FORMAT: 'CONFIG_ERR_FORMAT',
  DUPLICATE_ITEM: 'CONFIG_ERR_DUPLICATE_ITEM',
  SCHEMA: 'CONFIG_ERR_SCHEMA',

  // Addresses and names.
  BAD_IP: 'CONFIG_ERR_BAD_IP',
  INTERFACE_NAME: 'CONFIG_ERR_INTERFACE_NAME',
  LISTEN: 'CONFIG_ERR_LISTEN',
  DATABASE: 'CONFIG_ERR_DATABASE',

  // Subnets and pools.
  SUBNET_CIDR: 'CONFIG_ERR_SUBNET_CIDR',
  SUBNET_OVERLAP: 'CONFIG_ERR_SUBNET_OVERLAP',
  DUPLICATE_SUBNET_ID: 'CONFIG_ERR_DUPLICATE_SUBNET_ID',
  POOL_SYNTAX: 'CONFIG_ERR_POOL_SYNTAX',
  POOL_OUTSIDE_SUBNET: 'CONFIG_ERR_POOL_OUTSIDE_SUBNET',
  POOL_SPECIAL_ADDRESS: 'CONFIG_ERR_POOL_SPECIAL_ADDRESS',
  POOL_OVERLAP: 'CONFIG_ERR_POOL_OVERLAP',
  DUPLICATE_RELAY: 'CONFIG_ERR_DUPLICATE_RELAY',
  INTERFACE_NOT_SERVED: 'CONFIG_ERR_INTERFACE_NOT_SERVED',
  /** Two subnets (or shared networks) name the same interface: only the first would ever serve its direct clients. */
  DUPLICATE_SUBNET_INTERFACE: 'CONFIG_ERR_DUPLICATE_SUBNET_INTERFACE',

  // Reservations.
  RESERVATION_NO_IDENTIFIER: 'CONFIG_ERR_RESERVATION_NO_IDENTIFIER',
  RESERVATION_OUTSIDE_SUBNET: 'CONFIG_ERR_RESERVATION_OUTSIDE_SUBNET',
  RESERVATION_IN_POOL: 'CONFIG_ERR_RESERVATION_IN_POOL',
  DUPLICATE_RESERVATION_IP: 'CONFIG_ERR_DUPLICATE_RESERVATION_IP',
  DUPLICATE_RESERVATION_MAC: 'CONFIG_ERR_DUPLICATE_RESERVATION_MAC',
  DUPLICATE_RESERVATION_CLIENT_ID: 'CONFIG_ERR_DUPLICATE_RESERVATION_CLIENT_ID',

  // Options.
  OPTION_NO_CODE: 'CONFIG_ERR_OPTION_NO_CODE',
  OPTION_NAME_MISMATCH: 'CONFIG_ERR_OPTION_NAME_MISMATCH',
  OPTION_TYPE_REQUIRED: 'CONFIG_ERR_OPTION_TYPE_REQUIRED',
  OPTION_SERVER_OWNED: 'CONFIG_ERR_OPTION_SERVER_OWNED',
  OPTION_VALUE: 'CONFIG_ERR_OPTION_VALUE',
  DUPLICATE_OPTION: 'CONFIG_ERR_DUPLICATE_OPTION',

  // Client classes.
  UNKNOWN_CLASS: 'CONFIG_ERR_UNKNOWN_CLASS',
  DUPLICATE_CLASS: 'CONFIG_ERR_DUPLICATE_CLASS',
  CLASS_EMPTY_MATCH: 'CONFIG_ERR_CLASS_EMPTY_MATCH',

  // Service-level rules.
  TIMERS: 'CONFIG_ERR_TIMERS',
  NO_INTERFACES: 'CONFIG_ERR_NO_INTERFACES',
  NO_SUBNETS: 'CONFIG_ERR_NO_SUBNETS',

  // TFTP.
  /** A remap rule's `match` is not a valid regular expression. */
  TFTP_REMAP_REGEX: 'CONFIG_ERR_TFTP_REMAP_REGEX',
  /** Writes enabled without an upload directory, or an upload directory inside the root. */
  TFTP_UPLOAD_DIR: 'CONFIG_ERR_TFTP_UPLOAD_DIR',
} as const;
export type ConfigErrorCode = (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode];

/** One thing wrong with a configuration, located by path (`dhcp.subnets[1].pools[0]`; `(root)` for the whole file). */
export interface ConfigProblem {
  readonly path: string;
  readonly code: string;
  readonly message: string;
  /** Position in the file (1-based), for problems found while reading the JSON text. */
  readonly line?: number;
  readonly column?: number;
}

/** The path used for problems about the file as a whole. */
export const ROOT_PATH = '(root)';

export function formatProblem(p: ConfigProblem): string {
  return `${p.path}: ${p.message}`;
}

/** Thrown when a configuration cannot be used; lists every problem found, not just the first. */
export class ConfigError extends DcplaneError {
  readonly problems: readonly ConfigProblem[];
  constructor(source: string, problems: readonly ConfigProblem[], options?: { cause?: unknown }) {
    const n = problems.length;
    const head = `${source}: ${n} configuration problem${n === 1 ? '' : 's'}`;
    super(ConfigErrorCode.INVALID, [head, ...problems.map((p) => `  ${formatProblem(p)}`)].join('\n'), options);
    this.problems = Object.freeze([...problems]);
  }
}

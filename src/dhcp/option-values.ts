import { DcplaneError } from '../common/errors.js';
import { parseIpv4 } from '../net/ipv4.js';
import type { OptionKind } from './constants.js';

/** Error codes for option values given in configuration or through the API. */
export const OptionValueErrorCode = {
  BAD_VALUE: 'DHCP_ERR_OPTION_VALUE',
  TOO_LONG: 'DHCP_ERR_OPTION_TOO_LONG',
} as const;

/** Longest value one option may carry once split per RFC 3396 (kept well under any message size). */
export const MAX_OPTION_VALUE_LENGTH = 1024;

function bad(kind: OptionKind, value: unknown, why: string): DcplaneError {
  return new DcplaneError(OptionValueErrorCode.BAD_VALUE, `${JSON.stringify(value)} is not a valid ${kind} value: ${why}`);
}

function uint(kind: OptionKind, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw bad(kind, value, `expected an integer from 0 to ${max}`);
  }
  return value;
}

function ip(kind: OptionKind, value: unknown): number {
  const n = typeof value === 'string' ? parseIpv4(value) : undefined;
  if (n === undefined) throw bad(kind, value, 'expected a dotted-quad IPv4 address');
  return n;
}

function list(kind: OptionKind, value: unknown): readonly unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') return value.split(',').map((s) => s.trim());
  if (typeof value === 'number') return [value];
  throw bad(kind, value, 'expected a list');
}

/**
 * Encodes a configured option value of the given kind to its wire bytes
 * (RFC 2132 §2 data formats). Throws DHCP_ERR_OPTION_VALUE when the value does
 * not fit the kind. `ips` and the list kinds accept an array or a comma list.
 */
export function encodeOptionValue(kind: OptionKind, value: unknown): Buffer {
  let out: Buffer;
  switch (kind) {
    case 'ip': {
      out = Buffer.alloc(4);
      out.writeUInt32BE(ip(kind, value));
      break;
    }
    case 'ips': {
      const items = list(kind, value);
      if (items.length === 0) throw bad(kind, value, 'expected at least one address');
      out = Buffer.alloc(4 * items.length);
      items.forEach((v, i) => out.writeUInt32BE(ip(kind, v), 4 * i));
      break;
    }
    case 'string': {
      if (typeof value !== 'string' || value.length === 0) throw bad(kind, value, 'expected a non-empty string');
      out = Buffer.from(value, 'utf8');
      break;
    }
    case 'uint8':
      out = Buffer.from([uint(kind, value, 0xff)]);
      break;
    case 'uint16':
      out = Buffer.alloc(2);
      out.writeUInt16BE(uint(kind, value, 0xffff));
      break;
    case 'uint32':
      out = Buffer.alloc(4);
      out.writeUInt32BE(uint(kind, value, 0xffffffff));
      break;
    case 'int32': {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
        throw bad(kind, value, 'expected a signed 32-bit integer');
      }
      out = Buffer.alloc(4);
      out.writeInt32BE(value);
      break;
    }
    case 'bool': {
      if (typeof value !== 'boolean') throw bad(kind, value, 'expected true or false');
      out = Buffer.from([value ? 1 : 0]);
      break;
    }
    case 'hex': {
      const text = typeof value === 'string' ? value.replace(/^0x/i, '').replace(/[:\s-]/g, '') : '';
      if (text.length === 0 || text.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(text)) {
        throw bad(kind, value, 'expected hex bytes such as "01:02:ff" or "0x0102ff"');
      }
      out = Buffer.from(text, 'hex');
      break;
    }
    case 'uint8s': {
      const items = list(kind, value);
      out = Buffer.from(items.map((v) => uint(kind, typeof v === 'string' ? Number(v) : v, 0xff)));
      break;
    }
    case 'uint16s': {
      const items = list(kind, value);
      out = Buffer.alloc(2 * items.length);
      items.forEach((v, i) => out.writeUInt16BE(uint(kind, typeof v === 'string' ? Number(v) : v, 0xffff), 2 * i));
      break;
    }
  }
  if (out.length > MAX_OPTION_VALUE_LENGTH) {
    throw new DcplaneError(OptionValueErrorCode.TOO_LONG, `value is ${out.length} bytes; at most ${MAX_OPTION_VALUE_LENGTH} allowed`);
  }
  return out;
}

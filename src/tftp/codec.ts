/**
 * TFTP wire codec: bytes ↔ TftpPacket (RFC 1350 §5, RFC 2347 for options and
 * OACK). Pure; decoding copies nothing but the strings, DATA payload is a
 * subarray of the input.
 */
import {
  BLOCK_MODULO,
  DATA_HEADER_SIZE,
  MAX_REQUEST_SIZE,
  TFTP_OPCODE_NAMES,
  TftpOpcode,
} from './constants.js';
import type { TftpMode } from './constants.js';
import { TftpCodecErrorCode, TftpDecodeError, TftpEncodeError } from './errors.js';

export interface TftpRequestPacket {
  readonly op: 'RRQ' | 'WRQ';
  /** As sent, decoded as UTF-8; the shell remaps and jails it. */
  readonly filename: string;
  /** Lower-cased. */
  readonly mode: TftpMode;
  /** Option name (lower-cased) → value, in the order the client sent them (RFC 2347: names are case-insensitive). */
  readonly options: Map<string, string>;
  /** Option names exactly as sent, in order, for the transfer log. */
  readonly rawNames: readonly string[];
}

export interface TftpDataPacket {
  readonly op: 'DATA';
  /** 16-bit block number as on the wire. */
  readonly block: number;
  /** A view into the decoded buffer, not a copy. */
  readonly data: Uint8Array;
}

export interface TftpAckPacket {
  readonly op: 'ACK';
  readonly block: number;
}

export interface TftpErrorPacket {
  readonly op: 'ERROR';
  /** Any 16-bit value: peers send codes beyond 0–8 and the packet still ends the transfer. */
  readonly code: number;
  readonly message: string;
}

export interface TftpOackPacket {
  readonly op: 'OACK';
  readonly options: Map<string, string>;
}

export type TftpPacket = TftpRequestPacket | TftpDataPacket | TftpAckPacket | TftpErrorPacket | TftpOackPacket;

export interface DecodeOptions {
  /** Longest request accepted; default MAX_REQUEST_SIZE (512). */
  readonly maxRequestSize?: number;
}

const NUL = 0;

function truncated(what: string, length: number): TftpDecodeError {
  return new TftpDecodeError(TftpCodecErrorCode.TRUNCATED, `${what} needs more than ${length} octets`);
}

/** Index of the NUL that ends the string starting at `from`, or -1. */
function findNul(buf: Uint8Array, from: number): number {
  return buf.indexOf(NUL, from);
}

function utf8(buf: Uint8Array, from: number, to: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + from, to - from).toString('utf8');
}

/**
 * Reads option pairs from `at` to the end (RFC 2347 §"Packet Formats": each
 * name and value NUL-terminated). NUL octets after the last complete pair are
 * tolerated as padding.
 */
function decodeOptions(buf: Uint8Array, at: number, rawNames: string[] | undefined): Map<string, string> {
  const options = new Map<string, string>();
  const end = buf.length;
  let i = at;
  while (i < end) {
    if (buf[i] === NUL) {
      let j = i;
      while (j < end && buf[j] === NUL) j++;
      if (j === end) break;
      throw new TftpDecodeError(TftpCodecErrorCode.EMPTY_OPTION_NAME, `empty option name at octet ${i}`);
    }
    const nameEnd = findNul(buf, i);
    if (nameEnd < 0) throw new TftpDecodeError(TftpCodecErrorCode.NO_NUL, `option name at octet ${i} has no NUL`);
    const name = utf8(buf, i, nameEnd);
    const valueAt = nameEnd + 1;
    if (valueAt >= end) throw new TftpDecodeError(TftpCodecErrorCode.ODD_OPTION, `option ${JSON.stringify(name)} has no value`);
    const valueEnd = findNul(buf, valueAt);
    if (valueEnd < 0) throw new TftpDecodeError(TftpCodecErrorCode.NO_NUL, `value of option ${JSON.stringify(name)} has no NUL`);
    const key = name.toLowerCase();
    if (options.has(key)) throw new TftpDecodeError(TftpCodecErrorCode.DUPLICATE_OPTION, `option ${JSON.stringify(name)} given twice`);
    options.set(key, utf8(buf, valueAt, valueEnd));
    rawNames?.push(name);
    i = valueEnd + 1;
  }
  return options;
}

function decodeMode(buf: Uint8Array, from: number, to: number): TftpMode {
  const mode = Buffer.from(buf.buffer, buf.byteOffset + from, to - from).toString('latin1').toLowerCase();
  if (mode === 'octet' || mode === 'netascii' || mode === 'mail') return mode;
  throw new TftpDecodeError(TftpCodecErrorCode.BAD_MODE, `unknown mode ${JSON.stringify(mode.slice(0, 32))}`);
}

function decodeRequest(op: 'RRQ' | 'WRQ', buf: Uint8Array, maxRequestSize: number): TftpRequestPacket {
  if (buf.length > maxRequestSize) {
    throw new TftpDecodeError(TftpCodecErrorCode.TOO_LONG, `${op} of ${buf.length} octets exceeds ${maxRequestSize}`);
  }
  if (buf.length < 3) throw truncated(op, buf.length);
  const fileEnd = findNul(buf, 2);
  if (fileEnd < 0) throw new TftpDecodeError(TftpCodecErrorCode.NO_NUL, `${op} filename has no NUL`);
  if (fileEnd === 2) throw new TftpDecodeError(TftpCodecErrorCode.EMPTY_FILENAME, `${op} with an empty filename`);
  const modeAt = fileEnd + 1;
  if (modeAt >= buf.length) throw truncated(`${op} mode`, buf.length);
  const modeEnd = findNul(buf, modeAt);
  if (modeEnd < 0) throw new TftpDecodeError(TftpCodecErrorCode.NO_NUL, `${op} mode has no NUL`);
  const mode = decodeMode(buf, modeAt, modeEnd);
  const rawNames: string[] = [];
  const options = decodeOptions(buf, modeEnd + 1, rawNames);
  return { op, filename: utf8(buf, 2, fileEnd), mode, options, rawNames };
}

/**
 * Decodes one datagram. Throws only TftpDecodeError, whatever the input.
 * An ERROR packet whose message lacks its NUL is accepted (the message runs to
 * the end): it ends a transfer either way, and being strict would only leave
 * the transfer to time out.
 */
export function decodeTftpPacket(buf: Uint8Array, opts?: DecodeOptions): TftpPacket {
  if (buf.length < 2) throw truncated('opcode', buf.length);
  const opcode = ((buf[0] as number) << 8) | (buf[1] as number);
  const name = TFTP_OPCODE_NAMES.get(opcode);
  switch (name) {
    case 'RRQ':
    case 'WRQ':
      return decodeRequest(name, buf, opts?.maxRequestSize ?? MAX_REQUEST_SIZE);
    case 'DATA': {
      if (buf.length < DATA_HEADER_SIZE) throw truncated('DATA', buf.length);
      return { op: 'DATA', block: ((buf[2] as number) << 8) | (buf[3] as number), data: buf.subarray(DATA_HEADER_SIZE) };
    }
    case 'ACK': {
      if (buf.length < 4) throw truncated('ACK', buf.length);
      return { op: 'ACK', block: ((buf[2] as number) << 8) | (buf[3] as number) };
    }
    case 'ERROR': {
      if (buf.length < 4) throw truncated('ERROR', buf.length);
      const nul = findNul(buf, 4);
      const message = utf8(buf, 4, nul < 0 ? buf.length : nul);
      return { op: 'ERROR', code: ((buf[2] as number) << 8) | (buf[3] as number), message };
    }
    case 'OACK':
      return { op: 'OACK', options: decodeOptions(buf, 2, undefined) };
    default:
      throw new TftpDecodeError(TftpCodecErrorCode.BAD_OPCODE, `opcode ${opcode}`);
  }
}

function checkBlock(block: number): void {
  if (!Number.isInteger(block) || block < 0 || block >= BLOCK_MODULO) {
    throw new TftpEncodeError(`block number ${block} is not in 0–65535`);
  }
}

/** A string for a NUL-terminated field; a NUL inside it would end the field early. */
function fieldBytes(value: string, what: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.includes(NUL)) throw new TftpEncodeError(`${what} contains a NUL`);
  return bytes;
}

/**
 * Writes the DATA header (opcode 3, block) into the first 4 octets of `packet`,
 * for a caller that has already put the payload at offset 4: the shell reads a
 * file straight into the packet buffer and sends `packet.subarray(0, 4 + n)`.
 */
export function writeDataHeader(packet: Uint8Array, block: number): void {
  checkBlock(block);
  if (packet.length < DATA_HEADER_SIZE) throw new TftpEncodeError('DATA packet buffer shorter than its header');
  packet[0] = 0;
  packet[1] = TftpOpcode.DATA;
  packet[2] = block >>> 8;
  packet[3] = block & 0xff;
}

/** DATA (RFC 1350 §5): one allocation, the payload copied once. */
export function encodeData(block: number, data: Uint8Array): Buffer {
  checkBlock(block);
  const out = Buffer.allocUnsafe(DATA_HEADER_SIZE + data.length);
  writeDataHeader(out, block);
  out.set(data, DATA_HEADER_SIZE);
  return out;
}

/** ACK (RFC 1350 §5). */
export function encodeAck(block: number): Buffer {
  checkBlock(block);
  const out = Buffer.allocUnsafe(4);
  out[0] = 0;
  out[1] = TftpOpcode.ACK;
  out[2] = block >>> 8;
  out[3] = block & 0xff;
  return out;
}

/** ERROR (RFC 1350 §5): code, then a NUL-terminated message. */
export function encodeError(code: number, message: string): Buffer {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) throw new TftpEncodeError(`error code ${code} is not 16-bit`);
  const text = fieldBytes(message, 'error message');
  const out = Buffer.allocUnsafe(4 + text.length + 1);
  out[0] = 0;
  out[1] = TftpOpcode.ERROR;
  out[2] = code >>> 8;
  out[3] = code & 0xff;
  text.copy(out, 4);
  out[out.length - 1] = NUL;
  return out;
}

function optionsLength(pairs: readonly (readonly [Buffer, Buffer])[]): number {
  let n = 0;
  for (const [k, v] of pairs) n += k.length + v.length + 2;
  return n;
}

function optionPairs(options: Iterable<readonly [string, string]>): [Buffer, Buffer][] {
  const pairs: [Buffer, Buffer][] = [];
  for (const [name, value] of options) {
    const k = fieldBytes(name, 'option name');
    if (k.length === 0) throw new TftpEncodeError('empty option name');
    pairs.push([k, fieldBytes(value, `value of option ${name}`)]);
  }
  return pairs;
}

function writePairs(out: Buffer, at: number, pairs: readonly (readonly [Buffer, Buffer])[]): void {
  let i = at;
  for (const [k, v] of pairs) {
    k.copy(out, i);
    i += k.length;
    out[i++] = NUL;
    v.copy(out, i);
    i += v.length;
    out[i++] = NUL;
  }
}

/** OACK (RFC 2347): the accepted options, in the order given. */
export function encodeOack(options: Iterable<readonly [string, string]>): Buffer {
  const pairs = optionPairs(options);
  const out = Buffer.allocUnsafe(2 + optionsLength(pairs));
  out[0] = 0;
  out[1] = TftpOpcode.OACK;
  writePairs(out, 2, pairs);
  return out;
}

/** RRQ/WRQ (RFC 1350 §5, options per RFC 2347), for tests and a client. */
export function encodeRequest(
  op: 'RRQ' | 'WRQ',
  filename: string,
  mode: string,
  options?: Iterable<readonly [string, string]>,
): Buffer {
  const file = fieldBytes(filename, 'filename');
  const modeBytes = fieldBytes(mode, 'mode');
  const pairs = optionPairs(options ?? []);
  const out = Buffer.allocUnsafe(2 + file.length + 1 + modeBytes.length + 1 + optionsLength(pairs));
  out[0] = 0;
  out[1] = op === 'RRQ' ? TftpOpcode.RRQ : TftpOpcode.WRQ;
  file.copy(out, 2);
  let i = 2 + file.length;
  out[i++] = NUL;
  modeBytes.copy(out, i);
  i += modeBytes.length;
  out[i++] = NUL;
  writePairs(out, i, pairs);
  return out;
}

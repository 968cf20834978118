/**
 * DHCPv4 wire codec: bytes ↔ DhcpPacket (RFC 2131 §2, RFC 2132, RFC 3396).
 * Pure and allocation-light: it runs once per received and per sent packet.
 */
import { BOOTP_HEADER_LENGTH, BOOTP_MIN_LENGTH, MAGIC_COOKIE, MIN_MESSAGE_SIZE, Opt, Overload } from './constants.js';
import { DhcpDecodeError, DhcpEncodeError, DhcpErrorCode } from './errors.js';
import type { DhcpPacket } from './packet.js';

const CHADDR_OFFSET = 28;
const CHADDR_LENGTH = 16;
const SNAME_OFFSET = 44;
const SNAME_LENGTH = 64;
const FILE_OFFSET = 108;
const FILE_LENGTH = 128;
const OPTIONS_OFFSET = BOOTP_HEADER_LENGTH + 4;
const MAX_OPTION_LENGTH = 255;

type OptionField = 'options' | 'file' | 'sname';

/** What the option walk collects across the options, file and sname fields. */
interface OptionWalk {
  readonly options: Map<number, Uint8Array>;
  /** Second and later instances of a code, concatenated after the walk (RFC 3396 §7). */
  repeats: Map<number, Uint8Array[]> | undefined;
  overloadInstances: number;
  overloadLength: number;
  overloadValue: number;
}

function overrun(field: OptionField, code: number, at: number): DhcpDecodeError {
  return new DhcpDecodeError(DhcpErrorCode.OPTION_OVERRUN, `option ${code} at octet ${at} runs past the end of the ${field} field`);
}

/**
 * Reads the options of one field, [start, end). PAD is skipped and END stops
 * the walk; a field that ends without END is accepted, as ISC Kea does,
 * because relays and embedded clients are known to send such packets.
 */
function walkOptions(buf: Buffer, start: number, end: number, field: OptionField, walk: OptionWalk): void {
  let i = start;
  while (i < end) {
    const code = buf[i] as number;
    if (code === Opt.PAD) {
      i++;
      continue;
    }
    if (code === Opt.END) return;
    if (i + 1 >= end) throw overrun(field, code, i);
    const length = buf[i + 1] as number;
    const from = i + 2;
    const to = from + length;
    if (to > end) throw overrun(field, code, i);
    if (code === Opt.OVERLOAD) {
      // RFC 2132 §9.3: the option "MUST appear in the 'options' field"; inside
      // file or sname it would ask to parse the field it sits in again.
      if (field !== 'options') {
        throw new DhcpDecodeError(DhcpErrorCode.OVERLOAD_LOOP, `option 52 inside the ${field} field`);
      }
      walk.overloadInstances++;
      walk.overloadLength += length;
      if (length === 1) walk.overloadValue = buf[from] as number;
    } else {
      const value = buf.subarray(from, to);
      if (!walk.options.has(code)) {
        walk.options.set(code, value);
      } else {
        walk.repeats ??= new Map();
        const list = walk.repeats.get(code);
        if (list === undefined) walk.repeats.set(code, [value]);
        else list.push(value);
      }
    }
    i = to;
  }
}

/** A NUL-terminated latin1 field (sname, file); a field without NUL is read whole. */
function latin1Field(buf: Buffer, start: number, length: number): string {
  if (buf[start] === 0) return '';
  const limit = start + length;
  let end = start + 1;
  while (end < limit && buf[end] !== 0) end++;
  return buf.toString('latin1', start, end);
}

/**
 * Decodes one DHCPv4 message. Option values are views into `buf` (no copy)
 * except for repeated options, which are concatenated in wire order, options
 * field first, then file, then sname (RFC 3396 §7). Option 52 is consumed:
 * when it is present the options found in file/sname are merged into
 * `options` and the `file`/`sname` strings are ''. The caller must not reuse
 * `buf` while the packet is in use.
 *
 * Throws only DhcpDecodeError, for any input.
 */
export function decodePacket(input: Uint8Array): DhcpPacket {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const size = buf.length;
  if (size < OPTIONS_OFFSET) {
    throw new DhcpDecodeError(DhcpErrorCode.TRUNCATED, `${size} octets; a DHCP message has at least ${OPTIONS_OFFSET}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, size);
  if (view.getUint32(BOOTP_HEADER_LENGTH) !== MAGIC_COOKIE) {
    throw new DhcpDecodeError(DhcpErrorCode.BAD_COOKIE, 'the magic cookie is not 99.130.83.99');
  }
  const op = view.getUint8(0);
  if (op !== 1 && op !== 2) throw new DhcpDecodeError(DhcpErrorCode.BAD_OP, `op ${op} is neither BOOTREQUEST nor BOOTREPLY`);
  const hlen = view.getUint8(2);
  if (hlen > CHADDR_LENGTH) throw new DhcpDecodeError(DhcpErrorCode.BAD_HLEN, `hlen ${hlen} exceeds the 16 octets of chaddr`);

  const walk: OptionWalk = {
    options: new Map(),
    repeats: undefined,
    overloadInstances: 0,
    overloadLength: 0,
    overloadValue: 0,
  };
  walkOptions(buf, OPTIONS_OFFSET, size, 'options', walk);

  let overload = 0;
  if (walk.overloadInstances > 0) {
    overload = walk.overloadValue;
    if (walk.overloadLength !== 1 || overload < Overload.FILE || overload > Overload.BOTH) {
      throw new DhcpDecodeError(DhcpErrorCode.BAD_OVERLOAD, 'option 52 is not one octet of value 1, 2 or 3');
    }
    // RFC 2131 §4.1: "the client interprets the 'file' field first, then the 'sname' field".
    if (overload & Overload.FILE) walkOptions(buf, FILE_OFFSET, FILE_OFFSET + FILE_LENGTH, 'file', walk);
    if (overload & Overload.SNAME) walkOptions(buf, SNAME_OFFSET, SNAME_OFFSET + SNAME_LENGTH, 'sname', walk);
  }

  const options = walk.options;
  if (walk.repeats !== undefined) {
    for (const [code, rest] of walk.repeats) {
      const first = options.get(code) as Uint8Array;
      let total = first.length;
      for (const part of rest) total += part.length;
      const joined = Buffer.allocUnsafe(total);
      joined.set(first, 0);
      let at = first.length;
      for (const part of rest) {
        joined.set(part, at);
        at += part.length;
      }
      options.set(code, joined);
    }
  }

  return {
    op,
    htype: view.getUint8(1),
    hlen,
    hops: view.getUint8(3),
    xid: view.getUint32(4),
    secs: view.getUint16(8),
    flags: view.getUint16(10),
    ciaddr: view.getUint32(12),
    yiaddr: view.getUint32(16),
    siaddr: view.getUint32(20),
    giaddr: view.getUint32(24),
    chaddr: buf.subarray(CHADDR_OFFSET, CHADDR_OFFSET + CHADDR_LENGTH),
    sname: overload & Overload.SNAME ? '' : latin1Field(buf, SNAME_OFFSET, SNAME_LENGTH),
    file: overload & Overload.FILE ? '' : latin1Field(buf, FILE_OFFSET, FILE_LENGTH),
    options,
  };
}

export interface EncodeOptions {
  /**
   * Largest message to produce, in octets of DHCP payload. Default 548 (a
   * 576-octet IP datagram, RFC 2131 §2); the server passes the client's
   * option 57 when it is larger.
   */
  maxSize?: number;
  /** Pad shorter messages with zeros to this size (default 300, the BOOTP minimum); never past maxSize. */
  minSize?: number;
}

function invalid(what: string): DhcpEncodeError {
  return new DhcpEncodeError(DhcpErrorCode.ENCODE_INVALID, what);
}

function tooLarge(maxSize: number): DhcpEncodeError {
  return new DhcpEncodeError(DhcpErrorCode.ENCODE_TOO_LARGE, `the options do not fit in ${maxSize} octets even with option overload`);
}

function checkUint(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw invalid(`${name} ${value} is not an integer from 0 to ${max}`);
}

function checkLatin1(name: string, text: string, max: number): void {
  if (text.length > max) throw invalid(`${name} is ${text.length} characters; the field holds ${max}`);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0 || c > 0xff) throw invalid(`${name} has a character that is not latin1 or is NUL`);
  }
}

function checkPacket(p: DhcpPacket): void {
  checkUint('op', p.op, 0xff);
  checkUint('htype', p.htype, 0xff);
  checkUint('hlen', p.hlen, CHADDR_LENGTH);
  checkUint('hops', p.hops, 0xff);
  checkUint('xid', p.xid, 0xffffffff);
  checkUint('secs', p.secs, 0xffff);
  checkUint('flags', p.flags, 0xffff);
  checkUint('ciaddr', p.ciaddr, 0xffffffff);
  checkUint('yiaddr', p.yiaddr, 0xffffffff);
  checkUint('siaddr', p.siaddr, 0xffffffff);
  checkUint('giaddr', p.giaddr, 0xffffffff);
  if (p.chaddr.length > CHADDR_LENGTH) throw invalid(`chaddr is ${p.chaddr.length} octets; the field holds 16`);
  if (p.sname.length > 0) checkLatin1('sname', p.sname, SNAME_LENGTH);
  if (p.file.length > 0) checkLatin1('file', p.file, FILE_LENGTH);
}

/** Octets a value takes on the wire once split into ≤255-octet instances (RFC 3396 §5). */
function wireLength(length: number): number {
  return length === 0 ? 2 : length + 2 * Math.ceil(length / MAX_OPTION_LENGTH);
}

/** Writes one instance; `value` is at most 255 octets. */
function writeInstance(out: Buffer, at: number, code: number, value: Uint8Array, from: number, length: number): number {
  out[at] = code;
  out[at + 1] = length;
  at += 2;
  if (length <= 16) {
    for (let k = 0; k < length; k++) out[at + k] = value[from + k] as number;
  } else {
    out.set(from === 0 && length === value.length ? value : value.subarray(from, from + length), at);
  }
  return at + length;
}

/** Writes a whole option, split into consecutive instances when longer than 255 (RFC 3396 §5). */
function writeOption(out: Buffer, at: number, code: number, value: Uint8Array): number {
  const n = value.length;
  if (n <= MAX_OPTION_LENGTH) return writeInstance(out, at, code, value, 0, n);
  for (let from = 0; from < n; from += MAX_OPTION_LENGTH) {
    at = writeInstance(out, at, code, value, from, Math.min(MAX_OPTION_LENGTH, n - from));
  }
  return at;
}

/** Big-endian; the value is already checked to be a uint32. */
function put32(out: Buffer, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = v >>> 16;
  out[at + 2] = v >>> 8;
  out[at + 3] = v;
}

/** Everything from op to the magic cookie. */
function writeHeader(out: Buffer, p: DhcpPacket): void {
  out[0] = p.op;
  out[1] = p.htype;
  out[2] = p.hlen;
  out[3] = p.hops;
  put32(out, 4, p.xid);
  out[8] = p.secs >>> 8;
  out[9] = p.secs;
  out[10] = p.flags >>> 8;
  out[11] = p.flags;
  put32(out, 12, p.ciaddr);
  put32(out, 16, p.yiaddr);
  put32(out, 20, p.siaddr);
  put32(out, 24, p.giaddr);
  out.fill(0, CHADDR_OFFSET, BOOTP_HEADER_LENGTH);
  out.set(p.chaddr, CHADDR_OFFSET);
  if (p.sname.length > 0) out.write(p.sname, SNAME_OFFSET, SNAME_LENGTH, 'latin1');
  if (p.file.length > 0) out.write(p.file, FILE_OFFSET, FILE_LENGTH, 'latin1');
  put32(out, BOOTP_HEADER_LENGTH, MAGIC_COOKIE);
}

function checkCode(code: number): void {
  if (!Number.isInteger(code) || code < 1 || code > 254) throw invalid(`option code ${code} is not from 1 to 254`);
  if (code === Opt.OVERLOAD) throw invalid('option 52 is set by the encoder itself when it overloads file/sname');
}

/**
 * Encodes a DHCPv4 message. Options go out in Map order except that the
 * message type (53) comes first and the server identifier (54) second.
 * Values longer than 255 octets are split into consecutive instances. When
 * the message would exceed `maxSize`, options move into `file` and then
 * `sname` (only those that are '') and option 52 says so (RFC 2132 §9.3);
 * if that is not enough it throws DHCP_ERR_ENCODE_TOO_LARGE. A packet with a
 * field out of range, option code 0, 52 or 255, throws DHCP_ERR_ENCODE_INVALID.
 */
export function encodePacket(p: DhcpPacket, opts?: EncodeOptions): Buffer {
  const maxSize = opts?.maxSize ?? MIN_MESSAGE_SIZE;
  const minSize = Math.min(opts?.minSize ?? BOOTP_MIN_LENGTH, maxSize);
  if (!Number.isSafeInteger(maxSize) || !Number.isSafeInteger(minSize) || minSize < 0) {
    throw invalid(`maxSize ${maxSize} / minSize ${minSize} are not sizes`);
  }
  checkPacket(p);
  let optionsLength = 0;
  for (const [code, value] of p.options) {
    checkCode(code);
    optionsLength += wireLength(value.length);
  }
  const needed = OPTIONS_OFFSET + optionsLength + 1;
  if (needed > maxSize) return encodeOverloaded(p, maxSize, minSize);

  const size = needed > minSize ? needed : minSize;
  const out = Buffer.allocUnsafe(size);
  writeHeader(out, p);
  let at = OPTIONS_OFFSET;
  const messageType = p.options.get(Opt.MESSAGE_TYPE);
  if (messageType !== undefined) at = writeOption(out, at, Opt.MESSAGE_TYPE, messageType);
  const serverId = p.options.get(Opt.SERVER_ID);
  if (serverId !== undefined) at = writeOption(out, at, Opt.SERVER_ID, serverId);
  for (const [code, value] of p.options) {
    if (code !== Opt.MESSAGE_TYPE && code !== Opt.SERVER_ID) at = writeOption(out, at, code, value);
  }
  out[at++] = Opt.END;
  if (at < size) out.fill(0, at, size);
  return out;
}

/** Instances planned for one field: [code, value, from, length], a part of the option's value. */
interface FieldPlan {
  readonly room: number;
  used: number;
  readonly items: Array<[number, Uint8Array, number, number]>;
}

function encodeOverloaded(p: DhcpPacket, maxSize: number, minSize: number): Buffer {
  const useFile = p.file === '';
  const useSname = p.sname === '';
  if (!useFile && !useSname) throw tooLarge(maxSize);
  // Each field keeps one octet for END: RFC 2131 §4.1, options in sname and
  // file "MUST be terminated by an 'end' option"; the options field also keeps
  // 3 octets for option 52.
  const fields: FieldPlan[] = [
    { room: maxSize - OPTIONS_OFFSET - 1 - 3, used: 0, items: [] },
    { room: useFile ? FILE_LENGTH - 1 : 0, used: 0, items: [] },
    { room: useSname ? SNAME_LENGTH - 1 : 0, used: 0, items: [] },
  ];
  const main = fields[0] as FieldPlan;

  // 53 and 54 stay in the options field, where every client looks first.
  for (const code of [Opt.MESSAGE_TYPE, Opt.SERVER_ID]) {
    const value = p.options.get(code);
    if (value === undefined) continue;
    if (value.length > MAX_OPTION_LENGTH || main.used + 2 + value.length > main.room) throw tooLarge(maxSize);
    main.items.push([code, value, 0, value.length]);
    main.used += 2 + value.length;
  }

  // Options that fit one instance are placed first, each whole in the first
  // field with room: a client without RFC 3396 support would see only the
  // first part of a split one. Long options are split anyway, so their parts
  // then fill what is left, in the order a decoder concatenates them:
  // options, then file, then sname (RFC 3396 §7).
  for (const [code, value] of p.options) {
    const n = value.length;
    if (code === Opt.MESSAGE_TYPE || code === Opt.SERVER_ID || n > MAX_OPTION_LENGTH) continue;
    const field = fields.find((f) => f.used + 2 + n <= f.room);
    if (field === undefined) throw tooLarge(maxSize);
    field.items.push([code, value, 0, n]);
    field.used += 2 + n;
  }
  for (const [code, value] of p.options) {
    const n = value.length;
    if (n <= MAX_OPTION_LENGTH) continue;
    let f = 0;
    for (let from = 0; from < n; ) {
      let field = fields[f];
      while (field !== undefined && field.room - field.used < 3) field = fields[++f];
      if (field === undefined) throw tooLarge(maxSize);
      const length = Math.min(MAX_OPTION_LENGTH, n - from, field.room - field.used - 2);
      field.items.push([code, value, from, length]);
      field.used += 2 + length;
      from += length;
    }
  }

  const [, file, sname] = fields as [FieldPlan, FieldPlan, FieldPlan];
  const overload = (file.used > 0 ? Overload.FILE : 0) | (sname.used > 0 ? Overload.SNAME : 0);
  const needed = OPTIONS_OFFSET + main.used + 3 + 1;
  const size = needed > minSize ? needed : minSize;
  const out = Buffer.allocUnsafe(size);
  // Fields that take options are '' (a precondition for using them), so the header writes them as zeros.
  writeHeader(out, p);
  writeField(out, OPTIONS_OFFSET, main);
  let at = OPTIONS_OFFSET + main.used;
  out[at++] = Opt.OVERLOAD;
  out[at++] = 1;
  out[at++] = overload;
  out[at++] = Opt.END;
  if (at < size) out.fill(0, at, size);
  // The rest of file/sname is already zero (PAD) from writeHeader.
  if (file.used > 0) out[writeField(out, FILE_OFFSET, file)] = Opt.END;
  if (sname.used > 0) out[writeField(out, SNAME_OFFSET, sname)] = Opt.END;
  return out;
}

function writeField(out: Buffer, at: number, field: FieldPlan): number {
  for (const [code, value, from, length] of field.items) at = writeInstance(out, at, code, value, from, length);
  return at;
}

/** The client's hardware address: the first hlen octets of chaddr. */
export function hardwareAddress(p: DhcpPacket): Uint8Array {
  return p.chaddr.subarray(0, Math.min(p.hlen, CHADDR_LENGTH));
}

/** Option 53's value, or undefined when it is missing or not exactly one octet. */
export function messageTypeOf(p: DhcpPacket): number | undefined {
  const v = p.options.get(Opt.MESSAGE_TYPE);
  return v !== undefined && v.length === 1 ? v[0] : undefined;
}

/**
 * The message type (option 53) of an undecoded datagram, read from the
 * options field alone; 0 when it is not there in one well-formed piece (too
 * short, bad cookie, overloaded into sname/file, split, absent). A cheap
 * look for load shedding, which must not cost a decode: decodePacket stays
 * the judge of whether the packet is valid.
 */
export function peekMessageType(buf: Uint8Array): number {
  const size = buf.length;
  if (size < OPTIONS_OFFSET + 3) return 0;
  if (buf[BOOTP_HEADER_LENGTH] !== 99 || buf[BOOTP_HEADER_LENGTH + 1] !== 130 || buf[BOOTP_HEADER_LENGTH + 2] !== 83 || buf[BOOTP_HEADER_LENGTH + 3] !== 99) return 0;
  let i = OPTIONS_OFFSET;
  while (i < size) {
    const code = buf[i] as number;
    if (code === Opt.PAD) {
      i++;
      continue;
    }
    if (code === Opt.END || i + 1 >= size) return 0;
    const length = buf[i + 1] as number;
    if (code === Opt.MESSAGE_TYPE) return length === 1 && i + 2 < size ? (buf[i + 2] as number) : 0;
    i += 2 + length;
  }
  return 0;
}

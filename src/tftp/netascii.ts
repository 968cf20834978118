/**
 * netascii (RFC 764 via RFC 1350 §1): on the wire a line ends with CR LF and
 * a bare CR is sent as CR NUL. Reads convert a Unix file (LF → CR LF,
 * CR → CR NUL); writes convert back.
 */
const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;

/** Size of the netascii form of `data` (for tsize): one extra octet per CR and per LF. */
export function netasciiSize(data: Uint8Array): number {
  let extra = 0;
  let i = data.indexOf(CR);
  while (i >= 0) {
    extra++;
    i = data.indexOf(CR, i + 1);
  }
  i = data.indexOf(LF);
  while (i >= 0) {
    extra++;
    i = data.indexOf(LF, i + 1);
  }
  return data.length + extra;
}

function encodeInto(data: Uint8Array, out: Buffer): void {
  let o = 0;
  let from = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data[i] as number;
    if (c !== CR && c !== LF) continue;
    out.set(data.subarray(from, i), o);
    o += i - from;
    out[o++] = CR;
    out[o++] = c === LF ? LF : NUL;
    from = i + 1;
  }
  out.set(data.subarray(from), o);
}

/**
 * Whole-buffer conversion, done once per file version by the shell's cache.
 * Each input octet maps on its own, so this and NetasciiEncoder agree on any
 * chunking.
 */
export function netasciiEncode(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(netasciiSize(data));
  encodeInto(data, out);
  return out;
}

/** Streaming form of netasciiEncode. */
export class NetasciiEncoder {
  push(chunk: Uint8Array): Buffer {
    return netasciiEncode(chunk);
  }
}

/**
 * Streaming netascii → local decoder for writes. CR LF → LF, CR NUL → CR; a
 * CR followed by anything else is kept as it is (lenient, as tftp-hpa is).
 * A CR at the end of a chunk waits for the next chunk; `end()` flushes it.
 */
export class NetasciiDecoder {
  private pendingCr = false;

  push(chunk: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let o = 0;
    let i = 0;
    if (this.pendingCr) {
      if (chunk.length === 0) return out.subarray(0, 0);
      const c = chunk[0] as number;
      this.pendingCr = false;
      if (c === LF) {
        out[o++] = LF;
        i = 1;
      } else if (c === NUL) {
        out[o++] = CR;
        i = 1;
      } else {
        out[o++] = CR;
      }
    }
    for (; i < chunk.length; i++) {
      const c = chunk[i] as number;
      if (c !== CR) {
        out[o++] = c;
        continue;
      }
      if (i + 1 === chunk.length) {
        this.pendingCr = true;
        break;
      }
      const n = chunk[i + 1] as number;
      if (n === LF) {
        out[o++] = LF;
        i++;
      } else if (n === NUL) {
        out[o++] = CR;
        i++;
      } else {
        out[o++] = CR;
      }
    }
    return out.subarray(0, o);
  }

  /** The bytes still held back: a final lone CR. */
  end(): Buffer {
    if (!this.pendingCr) return Buffer.alloc(0);
    this.pendingCr = false;
    return Buffer.from([CR]);
  }
}

/** Whole-buffer netascii → local. */
export function netasciiDecode(data: Uint8Array): Buffer {
  const d = new NetasciiDecoder();
  const body = d.push(data);
  const tail = d.end();
  return tail.length === 0 ? body : Buffer.concat([body, tail]);
}

/**
 * The compressing half of permessage-deflate (RFC 7692 §7.2.1) over pako's
 * port of zlib's deflate: each message is compressed with a sync flush
 * (`Z_SYNC_FLUSH`) and its trailing `00 00 ff ff` removed. Synchronous, so
 * the protocol layer stays sans-I/O and messages keep their order.
 *
 * Window bits 8: zlib cannot compress raw DEFLATE with a 256-byte window
 * (`deflateInit2` refuses it), so 8 is taken as 9, as zlib-based peers do
 * (Node's zlib, hence ws, and Python's). We never ask a peer for 8 bits (see
 * extensions.ts); a peer that asks us for 8 gets 9-bit distances, as it would
 * from any zlib-based peer. Our inflater reads 8 as 9 for the same reason.
 *
 * Memory: with context takeover, zlib's deflate state for the connection
 * (window, hash chains and pending buffer: about 4 × 2^windowBits + 128 KiB
 * at memLevel 8), made on first use. Without context takeover nothing is kept
 * between messages, so all such deflaters with the same window and level
 * share one zlib state (compressing is synchronous and never re-entered).
 *
 * @module
 */

import { Z_BUF_ERROR, Z_OK, Z_SYNC_FLUSH, zlibDeflate, zlibDeflateInit2, zlibDeflateReset, ZStream } from "pako";

/** Options of a {@linkcode Deflater}: the parameters negotiated for its direction. */
export interface DeflaterOptions {
  /**
   * 8..15: the largest LZ77 window (`server_max_window_bits` for a server,
   * `client_max_window_bits` for a client, RFC 7692 §7.1.2); 8 is taken as 9.
   *
   * @default {15}
   */
  windowBits?: number;
  /** Whether matches may reach into earlier messages (RFC 7692 §7.1.1). */
  contextTakeover: boolean;
  /**
   * zlib's compression level, 1 (fastest) to 9 (smallest).
   *
   * @default {6}
   */
  level?: number;
}

/** zlib's default: the hash table and pending buffer sizes (memLevel 8 is what ws and Python use). */
const MEM_LEVEL = 8;
const Z_DEFLATED = 8;
const Z_DEFAULT_STRATEGY = 0;
/** The output buffer starts at this size, grows with the output, and is dropped after a message that made it larger than OUT_KEEP. */
const OUT_INITIAL = 64 * 1024;
const OUT_KEEP = 1024 * 1024;
/** RFC 7692 §7.2.3.6: an empty message compresses to one empty stored-block byte. */
const EMPTY_MESSAGE = new Uint8Array([0x00]);
const EMPTY = new Uint8Array(0);

/** The output buffer shared by every deflater (compressing is synchronous). */
let out: Uint8Array<ArrayBuffer> = new Uint8Array(0);

/** zlib states without context takeover, by window bits and level. */
const shared = new Map<number, ZStream>();

function newStream(windowBits: number, level: number): ZStream {
  const strm = new ZStream();
  if (zlibDeflateInit2(strm, level, Z_DEFLATED, -windowBits, MEM_LEVEL, Z_DEFAULT_STRATEGY) !== Z_OK) {
    throw new Error(`Cannot create a Deflater: zlib refused window bits ${windowBits}, level ${level}`);
  }
  return strm;
}

/**
 * One connection direction's compressor.
 *
 * @example
 * ```ts ignore
 * const deflater = new Deflater({ contextTakeover: true });
 * const payload = deflater.compress(new TextEncoder().encode("Hello"));
 * // payload: f2 48 cd c9 c9 07 00 (RFC 7692 §7.2.3.1); send it with RSV1 set
 * ```
 */
export class Deflater {
  readonly #windowBits: number;
  readonly #level: number;
  readonly #contextTakeover: boolean;
  #strm: ZStream | null = null;

  /** Creates the compressor of one direction of a connection. */
  constructor(options: DeflaterOptions) {
    const { windowBits = 15, level = 6, contextTakeover } = options;
    if (!Number.isInteger(windowBits) || windowBits < 8 || windowBits > 15) {
      throw new RangeError(`Cannot create a Deflater: windowBits must be an integer from 8 to 15, got ${windowBits}`);
    }
    if (!Number.isInteger(level) || level < 0 || level > 9) {
      throw new RangeError(`Cannot create a Deflater: level must be an integer from 0 to 9, got ${level}`);
    }
    this.#windowBits = Math.max(windowBits, 9);
    this.#level = level;
    this.#contextTakeover = contextTakeover;
  }

  /**
   * Compresses one message. The result is a view valid until the next
   * compression in this process: copy it at once (the protocol writes it into
   * a frame).
   */
  compress(data: Uint8Array): Uint8Array {
    // Nothing to compress: no zlib call (a second empty sync flush in a row is
    // zlib's Z_BUF_ERROR), and the empty stored block leaves the window as it is.
    if (data.length === 0) return EMPTY_MESSAGE;
    let strm: ZStream;
    if (this.#contextTakeover) {
      strm = this.#strm ??= newStream(this.#windowBits, this.#level);
    } else {
      const key = this.#windowBits * 16 + this.#level;
      strm = shared.get(key) ?? newStream(this.#windowBits, this.#level);
      shared.set(key, strm);
    }
    // zlib's deflateBound for a sync flush, roughly: stored blocks cost 5 bytes per 16 KiB at worst.
    const bound = data.length + (data.length >>> 12) + (data.length >>> 14) + 64;
    if (out.length < bound) out = new Uint8Array(Math.max(bound, OUT_INITIAL));
    strm.input = data;
    strm.next_in = 0;
    strm.avail_in = data.length;
    strm.output = out;
    strm.next_out = 0;
    strm.avail_out = out.length;
    let length: number;
    try {
      for (;;) {
        const status = zlibDeflate(strm, Z_SYNC_FLUSH);
        if (status !== Z_OK && status !== Z_BUF_ERROR) {
          throw new Error(`Cannot compress a message: zlib status ${status}`);
        }
        if (strm.avail_out > 0) break;
        // Out of room: grow the buffer and let zlib go on where it stopped.
        const grown = new Uint8Array(out.length * 2);
        grown.set(out);
        out = grown;
        strm.output = out;
        strm.avail_out = out.length - strm.next_out;
      }
      length = strm.next_out;
    } finally {
      strm.input = EMPTY;
      strm.avail_in = 0;
      strm.output = EMPTY as Uint8Array<ArrayBuffer>;
      strm.avail_out = 0;
      strm.next_out = 0;
      if (!this.#contextTakeover) zlibDeflateReset(strm);
    }
    const result = out;
    if (out.length > OUT_KEEP) out = new Uint8Array(OUT_INITIAL);
    // The sync flush ends with an empty stored block, 00 00 ff ff (RFC 7692 §7.2.1).
    if (length < 4 || result[length - 1] !== 0xff || result[length - 2] !== 0xff) {
      throw new Error("Cannot compress a message: zlib's sync flush did not end with 00 00 ff ff");
    }
    length -= 4;
    return length === 0 ? EMPTY_MESSAGE : result.subarray(0, length);
  }
}

/**
 * The compressing half of permessage-deflate (RFC 7692 §7.2.1) over a zlib
 * stream (engine.ts: pako, or the runtime's zlib when the runtime layer hands
 * it down): each message is compressed with a sync flush
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

import { pakoZlib } from "./engine.ts";
import type { ZlibProvider, ZlibStream } from "./engine.ts";

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
  /**
   * The zlib to compress with.
   *
   * @default {pakoZlib}
   */
  zlib?: ZlibProvider;
}

/** zlib's default: the hash table and pending buffer sizes (memLevel 8 is what ws and Python use). */
const MEM_LEVEL = 8;
/** The output buffer starts at this size, grows with the output, and is dropped after a message that made it larger than OUT_KEEP. */
const OUT_INITIAL = 64 * 1024;
const OUT_KEEP = 1024 * 1024;
/** RFC 7692 §7.2.3.6: an empty message compresses to one empty stored-block byte. */
const EMPTY_MESSAGE = new Uint8Array([0x00]);
const EMPTY = new Uint8Array(0);

/** The output buffer shared by every deflater (compressing is synchronous). */
let out: Uint8Array<ArrayBuffer> = new Uint8Array(0);

/** zlib states without context takeover, by provider, window bits and level. */
const shared = new Map<ZlibProvider, Map<number, ZlibStream>>();

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
  readonly #zlib: ZlibProvider;
  #strm: ZlibStream | null = null;

  /** Creates the compressor of one direction of a connection. */
  constructor(options: DeflaterOptions) {
    const { windowBits = 15, level = 6, contextTakeover, zlib = pakoZlib } = options;
    if (!Number.isInteger(windowBits) || windowBits < 8 || windowBits > 15) {
      throw new RangeError(`Cannot create a Deflater: windowBits must be an integer from 8 to 15, got ${windowBits}`);
    }
    if (!Number.isInteger(level) || level < 0 || level > 9) {
      throw new RangeError(`Cannot create a Deflater: level must be an integer from 0 to 9, got ${level}`);
    }
    this.#windowBits = Math.max(windowBits, 9);
    this.#level = level;
    this.#contextTakeover = contextTakeover;
    this.#zlib = zlib;
  }

  /** Frees the zlib state of this direction (with context takeover; a shared one stays). */
  close(): void {
    this.#strm?.close();
    this.#strm = null;
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
    let strm: ZlibStream;
    if (this.#contextTakeover) {
      strm = this.#strm ??= this.#zlib.deflate(this.#windowBits, this.#level, MEM_LEVEL);
    } else {
      const key = this.#windowBits * 16 + this.#level;
      let streams = shared.get(this.#zlib);
      if (streams === undefined) shared.set(this.#zlib, streams = new Map());
      strm = streams.get(key) ?? this.#zlib.deflate(this.#windowBits, this.#level, MEM_LEVEL);
      streams.set(key, strm);
    }
    // zlib's deflateBound for a sync flush, roughly: stored blocks cost 5 bytes per 16 KiB at worst.
    const bound = data.length + (data.length >>> 12) + (data.length >>> 14) + 64;
    if (out.length < bound) out = new Uint8Array(Math.max(bound, OUT_INITIAL));
    strm.input = data;
    strm.nextIn = 0;
    strm.availIn = data.length;
    strm.output = out;
    strm.nextOut = 0;
    strm.availOut = out.length;
    let length: number;
    try {
      for (;;) {
        strm.run();
        if (strm.availOut > 0) break;
        // Out of room: grow the buffer and let zlib go on where it stopped.
        const grown = new Uint8Array(out.length * 2);
        grown.set(out);
        out = grown;
        strm.output = out;
        strm.availOut = out.length - strm.nextOut;
      }
      length = strm.nextOut;
    } catch (error) {
      // A deflate stream fails only if zlib itself breaks: start the next message afresh.
      strm.reset();
      throw new Error(`Cannot compress a message: ${(error as Error).message}`);
    } finally {
      strm.input = EMPTY;
      strm.availIn = 0;
      strm.output = EMPTY;
      strm.availOut = 0;
      strm.nextOut = 0;
      if (!this.#contextTakeover) strm.reset();
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

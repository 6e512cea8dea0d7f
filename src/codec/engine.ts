/**
 * The seam between permessage-deflate's message logic (`Deflater` in
 * deflate.ts, `Inflater` in inflate.ts: sync flushes, the stripped `00 00 ff ff`, output
 * budgets, the size limit) and the zlib that does the bit work.
 *
 * A {@linkcode ZlibStream} is one raw DEFLATE stream driven the way zlib's C
 * API is: the caller sets the input and output windows (`input`, `nextIn`,
 * `availIn`, `output`, `nextOut`, `availOut`), calls `run()` (one `deflate()`
 * or `inflate()` with `Z_SYNC_FLUSH`), and reads how far each window moved.
 * Synchronous, so the protocol layer stays sans-I/O and messages keep their
 * order.
 *
 * Two providers: {@linkcode pakoZlib} here (pako, zlib's port to
 * JavaScript: runs anywhere, browsers and Deno Deploy included), and the
 * runtime's own zlib behind `node:zlib`, which `src/runtime/zlib.ts` hands to
 * the protocol layer (`useZlib` in `src/protocol/compression.ts`) where it
 * works: several times faster (figures in bench/RESULTS.md, "Compression:
 * where the time goes").
 *
 * @module
 */

import {
  Z_BUF_ERROR,
  Z_OK,
  Z_STREAM_END,
  Z_SYNC_FLUSH,
  zlibDeflate,
  zlibDeflateInit2,
  zlibDeflateReset,
  zlibInflate,
  zlibInflateInit2,
  zlibInflateReset,
  ZStream,
} from "pako";

/** What {@linkcode ZlibStream.run} returns: zlib went on, or an inflated stream reached its final block's end. */
export type ZlibStatus = "ok" | "end";

/**
 * Invalid data met by a stream: zlib's message (`"invalid block type"`, …).
 *
 * @example
 * ```ts ignore
 * try {
 *   stream.run();
 * } catch (error) {
 *   if (error instanceof ZlibDataError) console.log(error.message);
 * }
 * ```
 */
export class ZlibDataError extends Error {
  /** `"ZlibDataError"`. */
  override name = "ZlibDataError";
}

/** One raw DEFLATE stream (deflate or inflate), driven like zlib's `z_stream`. */
export interface ZlibStream {
  /** The input; read from `nextIn`, `availIn` bytes. */
  input: Uint8Array;
  /** Where in `input` the next byte is read. */
  nextIn: number;
  /** How many bytes of `input` are left to read. */
  availIn: number;
  /** The output buffer; written at `nextOut`, at most `availOut` bytes. */
  output: Uint8Array;
  /** Where in `output` the next byte goes. */
  nextOut: number;
  /** How much room is left in `output`. */
  availOut: number;
  /**
   * One `deflate()` or `inflate()` call with `Z_SYNC_FLUSH`; moves the
   * windows. `"end"` (inflate only): the stream ended with a final block
   * (BFINAL) and takes no more input until {@linkcode ZlibStream.reset}.
   *
   * @throws {ZlibDataError} for invalid compressed data (the stream must then be reset).
   */
  run(): ZlibStatus;
  /** Back to a fresh stream with the same parameters (the window is dropped). */
  reset(): void;
  /**
   * Inflate only: `false` when the stream is known to have stopped inside a
   * block (a message that was cut short), `true` when it stopped between
   * blocks or the engine cannot tell.
   */
  betweenBlocks(): boolean;
  /** Frees what the stream holds outside the JavaScript heap. */
  close(): void;
}

/** Makes zlib streams: what a runtime hands down to the codec. */
export interface ZlibProvider {
  /** A short name for benchmarks and error messages (`"pako"`, `"node:zlib"`). */
  readonly name: string;
  /** A raw deflate stream; `windowBits` 9..15, `level` 0..9, `memLevel` 1..9. */
  deflate(windowBits: number, level: number, memLevel: number): ZlibStream;
  /** A raw inflate stream; `windowBits` 9..15. */
  inflate(windowBits: number): ZlibStream;
}

const EMPTY = new Uint8Array(0);
const Z_DEFLATED = 8;
const Z_DEFAULT_STRATEGY = 0;

// zlib's inflate modes (pako keeps zlib's numbering): a message that ends
// anywhere but before a block header ends inside a block.
const MODE_HEAD = 16180;
const MODE_TYPE = 16191;
const MODE_TYPEDO = 16192;

/** A pako stream behind the {@linkcode ZlibStream} windows. */
class PakoStream implements ZlibStream {
  input: Uint8Array = EMPTY;
  nextIn = 0;
  availIn = 0;
  output: Uint8Array = EMPTY;
  nextOut = 0;
  availOut = 0;
  readonly #strm = new ZStream();
  readonly #inflate: boolean;

  constructor(inflate: boolean, windowBits: number, level: number, memLevel: number) {
    this.#inflate = inflate;
    // Raw DEFLATE: negative window bits (no zlib header, no checksum).
    const status = inflate
      ? zlibInflateInit2(this.#strm, -windowBits)
      : zlibDeflateInit2(this.#strm, level, Z_DEFLATED, -windowBits, memLevel, Z_DEFAULT_STRATEGY);
    if (status !== Z_OK) {
      throw new Error(`Cannot create a zlib stream: pako refused window bits ${windowBits}, level ${level}`);
    }
  }

  run(): ZlibStatus {
    const strm = this.#strm;
    strm.input = this.input;
    strm.next_in = this.nextIn;
    strm.avail_in = this.availIn;
    strm.output = this.output as Uint8Array<ArrayBuffer>;
    strm.next_out = this.nextOut;
    strm.avail_out = this.availOut;
    const status = this.#inflate ? zlibInflate(strm, Z_SYNC_FLUSH) : zlibDeflate(strm, Z_SYNC_FLUSH);
    this.nextIn = strm.next_in;
    this.availIn = strm.avail_in;
    this.nextOut = strm.next_out;
    this.availOut = strm.avail_out;
    // Let go of the caller's buffers.
    strm.input = EMPTY;
    strm.output = EMPTY as Uint8Array<ArrayBuffer>;
    if (status === Z_STREAM_END) return "end";
    if (status !== Z_OK && status !== Z_BUF_ERROR) throw new ZlibDataError(strm.msg || `zlib error ${status}`);
    return "ok";
  }

  reset(): void {
    if (this.#inflate) zlibInflateReset(this.#strm);
    else zlibDeflateReset(this.#strm);
  }

  betweenBlocks(): boolean {
    const mode = this.#strm.state.mode;
    return mode === MODE_TYPE || mode === MODE_TYPEDO || mode === MODE_HEAD;
  }

  close(): void {
    // All of pako's state is on the JavaScript heap.
  }
}

/**
 * zlib's port to JavaScript (pako): the provider used where the runtime has
 * no usable `node:zlib` (browsers, and wherever the runtime layer is not
 * loaded).
 *
 * @example
 * ```ts ignore
 * const stream = pakoZlib.deflate(15, 6, 8);
 * ```
 */
export const pakoZlib: ZlibProvider = {
  name: "pako",
  deflate: (windowBits, level, memLevel) => new PakoStream(false, windowBits, level, memLevel),
  inflate: (windowBits) => new PakoStream(true, windowBits, 0, 0),
};

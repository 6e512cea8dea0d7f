/**
 * The decompressing half of permessage-deflate (RFC 7692 §7.2.2) over a zlib
 * stream (engine.ts: pako, or the runtime's zlib when the runtime layer hands
 * it down): one zlib stream per connection direction, fed each
 * message's payload and then the `00 00 ff ff` that senders strip.
 *
 * Inflating is resumable and budgeted: {@linkcode Inflater.begin} takes a
 * message, {@linkcode Inflater.step} inflates until a given number of output
 * bytes came out (or the message is done), so that the protocol can stop after
 * a bounded amount of work and go on later, and one peer's 100 MB bomb never
 * holds the event loop. The output is bounded while it is produced: it never
 * grows past `maxLength + 1` bytes, whatever the input.
 *
 * Memory: nothing before the first message; then zlib's inflate state (a few
 * KiB of tables) and its window of 2^windowBits bytes, kept between messages
 * (with or without context takeover: without, the window is reset, not freed).
 *
 * @module
 */

import { pakoZlib, ZlibDataError } from "./engine.ts";
import type { ZlibProvider, ZlibStream } from "./engine.ts";

/**
 * Corrupt or invalid DEFLATE data in a compressed message (a bad block type,
 * bad code lengths, a distance too far back, a message that ends inside a
 * block, …). A connection that receives one fails with close code 1007.
 *
 * @example
 * ```ts ignore
 * const inflater = new Inflater({ contextTakeover: false });
 * try {
 *   inflater.inflate(new Uint8Array([0xff]), 1024); // BTYPE 11 is reserved
 * } catch (error) {
 *   console.assert(error instanceof InflateDataError);
 * }
 * ```
 */
export class InflateDataError extends Error {
  /** `"InflateDataError"`. */
  override name = "InflateDataError";
}

/**
 * A compressed message that inflates to more than the allowed size, thrown as
 * soon as the output passes the limit; a connection that receives one fails
 * with close code 1009.
 *
 * @example
 * ```ts ignore
 * const inflater = new Inflater({ contextTakeover: false });
 * const hello = new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
 * inflater.inflate(hello, 4); // throws: "Hello" is 5 bytes
 * ```
 */
export class InflateLimitError extends Error {
  /** `"InflateLimitError"`. */
  override name = "InflateLimitError";
}

/** Options of an {@linkcode Inflater}: the parameters negotiated for the peer's direction. */
export interface InflaterOptions {
  /**
   * 8..15: the LZ77 window the peer may use (`server_max_window_bits` or
   * `client_max_window_bits`, RFC 7692 §7.1.2). 8 is taken as 9: zlib, in
   * most peers, compresses with 9 bits when asked for 8 (and so does our
   * deflater), so a strict 8-bit window would refuse their messages.
   *
   * @default {15}
   */
  windowBits?: number;
  /**
   * Whether the window carries over between messages (`false` when the peer
   * agreed to `*_no_context_takeover`, RFC 7692 §7.1.1).
   */
  contextTakeover: boolean;
  /**
   * The zlib to inflate with.
   *
   * @default {pakoZlib}
   */
  zlib?: ZlibProvider;
}

/** RFC 7692 §7.2.2: the end of the sync flush that the sender removed. */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
const EMPTY = new Uint8Array(0);
/**
 * The buffer a message's output goes to first, shared by every inflater
 * (steps are synchronous and never overlap): a small message costs one
 * allocation, its exact-size copy.
 */
const SCRATCH_SIZE = 64 * 1024;
let scratch: Uint8Array<ArrayBuffer> | null = null;
/**
 * A transient message (see {@linkcode Inflater.begin}: text, decoded at
 * once) that outgrows the scratch buffer grows the scratch buffer itself, up
 * to this size, instead of moving to a buffer of its own: then no message
 * done within one step costs fresh memory, whose first touch (a page fault
 * per 4 KiB, and zero-filling) cost more than inflating it (bench/RESULTS.md,
 * "Compression: where the time goes"). The scratch buffer stays at the size
 * it grew to.
 */
const SCRATCH_KEEP = 1024 * 1024;
/**
 * A message that outgrows the scratch buffer (or is not done within a step)
 * moves to a buffer of its own, sized from the compression ratio so far, and
 * grows at most this many times at once: a bomb's ratio never makes it
 * allocate its whole limit up front. One growing buffer, not a list of pieces
 * joined at the end: measured on 64 KiB JSON, the pieces' allocations and
 * copies cost as much as zlib itself.
 */
const MAX_GROWTH = 4;
/** How much larger than estimated a message's own buffer is made (and may stay, see take()). */
const SLACK = 1 / 16;

/**
 * One connection direction's decompressor.
 *
 * @example
 * ```ts ignore
 * const inflater = new Inflater({ contextTakeover: true });
 * const hello = new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
 * inflater.inflate(hello, 1024); // "Hello" (RFC 7692 §7.2.3.1)
 * ```
 */
export class Inflater {
  readonly #windowBits: number;
  readonly #contextTakeover: boolean;
  readonly #zlib: ZlibProvider;
  #strm: ZlibStream | null = null;
  // The message being inflated.
  #limit = 0;
  #total = 0;
  #tailFed = true;
  /** Whether zlib's last call filled all the room it had (it may have more to give). */
  #full = false;
  #done = true;
  /** Where the output goes: empty, the shared scratch buffer, or a buffer of the message's own. */
  #out: Uint8Array<ArrayBuffer> = EMPTY as Uint8Array<ArrayBuffer>;
  /** The compressed payload's length, for the size estimate. */
  #payloadLength = 0;
  /** How many times its payload's size the last message inflated to (0: none yet). */
  #ratio = 0;
  /** The finished message, for take(). */
  #data: Uint8Array<ArrayBuffer> = EMPTY as Uint8Array<ArrayBuffer>;
  /** Whether the current message is read once at once (see begin()): it may be handed out in the scratch buffer. */
  #transient = false;

  /** Creates the decompressor of one direction of a connection. */
  constructor(options: InflaterOptions) {
    const { windowBits = 15, contextTakeover, zlib = pakoZlib } = options;
    if (!Number.isInteger(windowBits) || windowBits < 8 || windowBits > 15) {
      throw new RangeError(`Cannot create an Inflater: windowBits must be an integer from 8 to 15, got ${windowBits}`);
    }
    this.#windowBits = Math.max(windowBits, 9);
    this.#contextTakeover = contextTakeover;
    this.#zlib = zlib;
  }

  /** Whether a message was begun and is not done yet. */
  get busy(): boolean {
    return !this.#done;
  }

  /**
   * Starts a message: its compressed payload, which the inflater reads (never
   * changes) until the message is done, and the most bytes it may inflate to.
   *
   * @param transient Whether the caller reads the inflated bytes once, as
   * soon as {@linkcode Inflater.take} returns them, and keeps none of them (a
   * text message, decoded to a string at once). `take()` may then return a
   * view of a buffer every inflater shares, valid until the next
   * {@linkcode Inflater.step} of any inflater; otherwise the bytes are in a
   * buffer of the message's own.
   */
  begin(payload: Uint8Array, maxLength: number, transient = false): void {
    const strm = this.#strm ??= this.#zlib.inflate(this.#windowBits);
    strm.input = payload;
    strm.nextIn = 0;
    strm.availIn = payload.length;
    this.#tailFed = false;
    this.#full = false;
    this.#done = false;
    this.#limit = maxLength;
    this.#total = 0;
    this.#payloadLength = payload.length;
    this.#transient = transient;
    this.#out = EMPTY as Uint8Array<ArrayBuffer>;
    strm.output = this.#out;
    strm.nextOut = 0;
    strm.availOut = 0;
  }

  /**
   * Inflates the current message until at least `budget` more bytes came out
   * or it is done.
   *
   * @returns `true` when the message is done (take it with
   * {@linkcode Inflater.take}), `false` when there is more to do.
   * @throws {InflateDataError} for invalid compressed data.
   * @throws {InflateLimitError} when the message inflates to more than `maxLength`.
   */
  step(budget: number): boolean {
    const strm = this.#strm!;
    let produced = 0;
    try {
      for (;;) {
        if (strm.availIn === 0) {
          if (this.#tailFed) {
            if (!this.#full) return this.#finish();
          } else {
            strm.input = TAIL;
            strm.nextIn = 0;
            strm.availIn = TAIL.length;
            this.#tailFed = true;
          }
        }
        if (strm.availOut === 0) this.#grow();
        // At most the rest of the budget per call: zlib fills all the room it gets.
        const room = strm.availOut;
        const cap = Math.min(room, Math.max(budget - produced, 1024));
        strm.availOut = cap;
        const inBefore = strm.availIn;
        let status;
        try {
          status = strm.run();
        } catch (error) {
          if (error instanceof ZlibDataError) throw new InflateDataError(error.message);
          throw error;
        }
        const n = cap - strm.availOut;
        strm.availOut = room - n;
        this.#full = n === cap;
        this.#total += n;
        produced += n;
        if (this.#total > this.#limit) {
          throw new InflateLimitError(`the message inflates to more than ${this.#limit} bytes`);
        }
        if (status === "end") {
          // A final block (BFINAL) ended the stream (RFC 7692 §7.2.3.4): the
          // tail is not appended then; data after it, if any, is a new stream.
          // (A zlib that reports the end one call late reports it on the tail:
          // dropped too, as the tail alone is not a whole block.)
          strm.reset();
          if (strm.input === TAIL) strm.availIn = 0;
          if (strm.availIn === 0) this.#tailFed = true;
        } else if (n === 0 && strm.availIn === inBefore && strm.availIn > 0 && strm.availOut > 0) {
          throw new InflateDataError("the inflater made no progress");
        }
        if (produced >= budget && !(strm.availIn === 0 && this.#tailFed && !this.#full)) {
          // Output in the shared scratch buffer is moved to a buffer of the
          // message's own, which keeps its room for the next step.
          if (this.#out.buffer === scratch?.buffer) this.#own(this.#nextSize(0));
          return false;
        }
      }
    } catch (error) {
      this.#abandon();
      throw error;
    }
  }

  /**
   * Copies the part of the current message's payload not read yet, so that
   * the caller may reuse the payload's memory while the message is not done
   * (a payload in a shared buffer, when inflating goes on later).
   */
  keepInput(): void {
    const strm = this.#strm;
    if (strm === null || this.#done || strm.input === TAIL || strm.availIn === 0) return;
    strm.input = strm.input.slice(strm.nextIn, strm.nextIn + strm.availIn);
    strm.nextIn = 0;
  }

  /**
   * The inflated message, once {@linkcode Inflater.step} returned `true`: in
   * a buffer no other message shares (a large message's may be up to 1/8
   * longer than the message), or, for a transient message (see
   * {@linkcode Inflater.begin}), possibly a view of the shared scratch buffer,
   * to be read before the next step of any inflater.
   */
  take(): Uint8Array<ArrayBuffer> {
    const data = this.#data;
    this.#data = EMPTY as Uint8Array<ArrayBuffer>;
    return data;
  }

  /**
   * Inflates a whole message at once.
   *
   * @throws {InflateDataError} for invalid compressed data.
   * @throws {InflateLimitError} when the message inflates to more than `maxLength`.
   */
  inflate(payload: Uint8Array, maxLength: number): Uint8Array<ArrayBuffer> {
    this.begin(payload, maxLength);
    this.step(Infinity);
    return this.take();
  }

  /** Drops the current message (the connection is going away). */
  cancel(): void {
    if (!this.#done) this.#abandon();
  }

  /** Drops the current message and frees the zlib state. */
  close(): void {
    this.cancel();
    this.#strm?.close();
    this.#strm = null;
  }

  #finish(): true {
    const strm = this.#strm!;
    if (!strm.betweenBlocks()) {
      this.#abandon();
      throw new InflateDataError("the message ends inside a DEFLATE block");
    }
    const out = this.#out, total = this.#total;
    // The message's bytes in a buffer of its own: copied out of the scratch
    // buffer, or the message's own buffer when it holds little more (its
    // size was estimated), which saves a copy of a large message.
    // A transient message is read at once: it stays where it is.
    this.#ratio = this.#payloadLength > 0 ? total / this.#payloadLength : 0;
    this.#data = this.#transient || out.buffer !== scratch?.buffer && out.length - total <= total * 2 * SLACK
      ? out.subarray(0, total)
      : out.slice(0, total);
    this.#out = EMPTY as Uint8Array<ArrayBuffer>;
    strm.output = this.#out;
    strm.nextOut = 0;
    strm.availOut = 0;
    this.#done = true;
    strm.input = EMPTY;
    if (!this.#contextTakeover) strm.reset();
    return true;
  }

  /**
   * Gives the inflater room: the shared scratch first, then a buffer of the
   * message's own, grown as needed (a transient message grows the scratch
   * buffer up to SCRATCH_KEEP first).
   */
  #grow(): void {
    if (this.#out.length === 0) {
      // Messages like the last one, if that was large, go straight to a
      // buffer of their own: no copy out of the scratch buffer.
      const expected = this.#payloadLength * this.#ratio;
      const size = Math.ceil(expected * (1 + SLACK)) + 1024;
      if (expected <= SCRATCH_SIZE) this.#toScratch(SCRATCH_SIZE);
      else if (this.#transient && size <= SCRATCH_KEEP) this.#toScratch(size);
      else this.#own(size);
    } else {
      const size = this.#nextSize(1);
      if (this.#transient && this.#out.buffer === scratch?.buffer && size <= SCRATCH_KEEP) this.#toScratch(size);
      else this.#own(size);
    }
  }

  /**
   * How large the message's next buffer is, with room for at least `more`
   * bytes: as many as the compression ratio so far predicts, at most
   * MAX_GROWTH times the output so far, never past the limit + 1.
   */
  #nextSize(more: number): number {
    const strm = this.#strm!;
    const total = this.#total;
    const read = strm.input === TAIL ? this.#payloadLength : strm.nextIn;
    const estimate = read > 0 ? Math.ceil(total * (this.#payloadLength / read) * (1 + SLACK)) + 1024 : 0;
    let size = Math.min(estimate, total * MAX_GROWTH);
    // The estimate was short: grow by half, so that a poor estimate never means many small copies.
    if (size < total + more) size = total + Math.max(more, total >>> 1);
    return Math.max(size, SCRATCH_SIZE);
  }

  /**
   * Moves the output to the shared scratch buffer, made at least `size`
   * bytes long first (the output so far copied along if it was in the old
   * one); its room ends one byte past the limit, so that passing it is seen.
   */
  #toScratch(size: number): void {
    const strm = this.#strm!;
    const total = this.#total;
    const end = this.#limit + 1;
    let buffer = scratch;
    if (buffer === null || buffer.length < Math.min(size, end)) {
      // A larger scratch buffer (never larger than the message may be); the output so far comes along.
      const larger = new Uint8Array(Math.max(SCRATCH_SIZE, Math.min(size, end)));
      if (total > 0) larger.set(this.#out.subarray(0, total));
      buffer = scratch = larger;
    }
    const out = end < buffer.length ? buffer.subarray(0, end) : buffer;
    this.#out = out;
    strm.output = out;
    strm.nextOut = total;
    strm.availOut = out.length - total;
  }

  /** Moves the output to a buffer of the message's own, `size` bytes at most (never past the limit + 1). */
  #own(size: number): void {
    const strm = this.#strm!;
    const total = this.#total;
    size = Math.min(this.#limit + 1, size);
    const out = new Uint8Array(size);
    out.set(this.#out.subarray(0, total));
    this.#out = out;
    strm.output = out;
    strm.nextOut = total;
    strm.availOut = size - total;
  }

  /** After a failure: the stream is reset, the message dropped. */
  #abandon(): void {
    const strm = this.#strm!;
    this.#done = true;
    this.#data = EMPTY as Uint8Array<ArrayBuffer>;
    this.#out = EMPTY as Uint8Array<ArrayBuffer>;
    strm.input = EMPTY;
    strm.availIn = 0;
    strm.output = this.#out;
    strm.availOut = 0;
    strm.nextOut = 0;
    strm.reset();
  }
}

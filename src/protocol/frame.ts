/**
 * Frame headers (RFC 6455 §5.2) and the outgoing buffer that frames are encoded
 * into, so that every frame produced in one turn leaves in one write.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-------+-+-------------+-------------------------------+
 * |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 * |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 * |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 * | |1|2|3|       |K|             |                               |
 * +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 * |     Extended payload length continued, if payload len == 127  |
 * + - - - - - - - - - - - - - - - +-------------------------------+
 * |                               |Masking-key, if MASK set to 1  |
 * +-------------------------------+-------------------------------+
 * | Masking-key (continued)       |          Payload Data         |
 * +-------------------------------- - - - - - - - - - - - - - - - +
 * ```
 *
 * @module
 */

import { maskInPlace } from "./mask.ts";
import { freeSpent, payloadBuffer } from "./reader.ts";

/** First header byte: FIN. */
export const FIN = 0x80;
/** First header byte: RSV1 (permessage-deflate's "compressed" bit). */
export const RSV1 = 0x40;
/** First header byte: RSV2. */
export const RSV2 = 0x20;
/** First header byte: RSV3. */
export const RSV3 = 0x10;

/**
 * The size of a frame header: 2 bytes, plus 2 or 8 for a 16- or 64-bit length,
 * plus 4 for a masking key.
 *
 * @example
 * ```ts
 * import { headerSize } from "./frame.ts";
 *
 * if (headerSize(125, false) !== 2) throw new Error("7-bit length, no mask");
 * if (headerSize(126, true) !== 8) throw new Error("16-bit length and a mask key");
 * ```
 */
export function headerSize(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes a frame header at `offset` of `dst`, with the length in its minimal
 * form (RFC 6455 §5.2: "the minimal number of bytes MUST be used").
 *
 * @param firstByte FIN, RSV bits and the opcode, already combined.
 * @returns The offset just past the header.
 *
 * @example
 * ```ts
 * import { FIN, writeHeader } from "./frame.ts";
 *
 * const h = new Uint8Array(2);
 * writeHeader(h, 0, FIN | 0x1, 5, null); // 81 05
 * if (h[0] !== 0x81 || h[1] !== 0x05) throw new Error("81 05");
 * ```
 */
export function writeHeader(
  dst: Uint8Array,
  offset: number,
  firstByte: number,
  payloadLength: number,
  maskKey: Uint8Array | null,
): number {
  const maskBit = maskKey === null ? 0 : 0x80;
  dst[offset++] = firstByte;
  if (payloadLength < 126) {
    dst[offset++] = maskBit | payloadLength;
  } else if (payloadLength < 0x10000) {
    dst[offset++] = maskBit | 126;
    dst[offset++] = payloadLength >>> 8;
    dst[offset++] = payloadLength & 0xff;
  } else {
    dst[offset++] = maskBit | 127;
    const high = Math.floor(payloadLength / 0x100000000);
    dst[offset++] = high >>> 24;
    dst[offset++] = (high >>> 16) & 0xff;
    dst[offset++] = (high >>> 8) & 0xff;
    dst[offset++] = high & 0xff;
    dst[offset++] = payloadLength >>> 24;
    dst[offset++] = (payloadLength >>> 16) & 0xff;
    dst[offset++] = (payloadLength >>> 8) & 0xff;
    dst[offset++] = payloadLength & 0xff;
  }
  if (maskKey !== null) {
    dst[offset++] = maskKey[0];
    dst[offset++] = maskKey[1];
    dst[offset++] = maskKey[2];
    dst[offset++] = maskKey[3];
  }
  return offset;
}

/** The size of the blocks small frames are packed into. */
const BLOCK_SIZE = 16 * 1024;
/** Frames at least this large get a buffer of their own, from the large-frame pool. */
const LARGE_FRAME = 64 * 1024;
/** Large-frame buffers are allocated in multiples of this (so that frames of about one size share them). */
const LARGE_GRAIN = 64 * 1024;
/** Buffers larger than this (a 16 MiB payload and its header fit) are never kept for reuse. */
const POOL_MAX_BUFFER = 16 * 1024 * 1024 + LARGE_GRAIN;
/** At most this many free buffers are kept... */
const POOL_BUFFERS = 4;
/** ...holding at most this many bytes in all (two of the largest). */
const POOL_MAX_BYTES = 2 * POOL_MAX_BUFFER;

/**
 * The large-frame pool. Writing into freshly allocated memory costs its first
 * touch (a page fault per page, many times the cost of writing into memory
 * used before; see bench/RESULTS.md), so a large frame is encoded into a buffer that an
 * earlier frame used, once the transport that wrote that frame has let go of
 * it (see {@linkcode releaseFrame}); a payload sent from memory handed over
 * (`transfer`) comes here once written too, and a received message of
 * exactly its length is read into it ({@linkcode messageBuffer}). Only free buffers are kept here, the most
 * recently freed last; a buffer handed out and never given back is simply
 * garbage. What the pool retains is bounded by POOL_BUFFERS and POOL_MAX_BYTES
 * (32 MiB and some, after a 16 MiB frame went out twice at once).
 */
const freeBuffers: ArrayBuffer[] = [];
let freeBytes = 0;
/** Large-frame buffers handed out and not given back yet. */
const lent = new WeakSet<ArrayBuffer>();
/** Payloads sent from the memory a caller handed over, not written yet (see {@linkcode releaseFrame}). */
const adopted = new WeakSet<ArrayBufferLike>();

/** A buffer of at least `size` bytes for one large frame: a free one of about that size, or a new one. */
function borrow(size: number): Uint8Array {
  let best = -1;
  for (let i = 0; i < freeBuffers.length; i++) {
    const length = freeBuffers[i].byteLength;
    // Not a much larger one: it would be tied up by a small frame.
    if (length >= size && length <= 2 * size && (best < 0 || length < freeBuffers[best].byteLength)) best = i;
  }
  let buffer: ArrayBuffer;
  if (best >= 0) {
    buffer = freeBuffers.splice(best, 1)[0];
    freeBytes -= buffer.byteLength;
  } else {
    buffer = new ArrayBuffer(Math.ceil(size / LARGE_GRAIN) * LARGE_GRAIN);
  }
  lent.add(buffer);
  return new Uint8Array(buffer);
}

/**
 * A buffer for a received payload of `length` bytes, all of its own
 * `ArrayBuffer`: a free one of the pool of exactly that length if there is
 * one (what a message sent back with `transfer` left, so that an echo or a
 * relay of large messages reuses the same memory, warm, instead of touching
 * fresh pages for each), else a new one ({@linkcode payloadBuffer}). Every
 * byte of it is written before it is read (it receives the payload).
 *
 * @example
 * ```ts
 * import { messageBuffer } from "./frame.ts";
 *
 * const buffer = messageBuffer(100_000);
 * if (buffer.length !== 100_000 || buffer.buffer.byteLength !== 100_000) throw new Error("all of its own buffer");
 * ```
 */
export function messageBuffer(length: number): Uint8Array {
  if (length >= LARGE_FRAME) {
    for (let i = freeBuffers.length - 1; i >= 0; i--) {
      if (freeBuffers[i].byteLength === length) {
        freeBytes -= length;
        return new Uint8Array(freeBuffers.splice(i, 1)[0]);
      }
    }
  }
  return payloadBuffer(length);
}

/**
 * Gives back the memory of `piece`, one of the pieces that
 * {@linkcode OutgoingBuffer.take} returned, once nothing reads it any more (the
 * transport wrote it and keeps no reference). A piece of a large frame goes
 * back to the pool, to encode a later large frame (or receive a message) into, or is freed at once
 * when the pool keeps no more (see {@linkcode freeSpent}); any other piece is
 * left alone. Each piece may be given back once; calling this while something
 * still reads the piece would let a later frame overwrite it.
 *
 * @example
 * ```ts ignore
 * for (const piece of out.take()) transport.write(piece).then(() => releaseFrame(piece));
 * ```
 */
export function releaseFrame(piece: Uint8Array): void {
  if (piece.length < LARGE_FRAME) return;
  const buffer = piece.buffer as ArrayBuffer;
  // A payload handed over (OutgoingBuffer.writeTaken) joins the pool too: the
  // next message of its length is received into it (messageBuffer).
  if (!adopted.delete(buffer) && !lent.delete(buffer)) return;
  // What the pool does not keep is freed at once (nothing reads it any more).
  if (buffer.byteLength > POOL_MAX_BUFFER) return freeSpent(buffer);
  freeBuffers.push(buffer);
  freeBytes += buffer.byteLength;
  // The oldest go first: the pool follows the sizes in use now.
  while (freeBuffers.length > POOL_BUFFERS || freeBytes > POOL_MAX_BYTES) {
    const oldest = freeBuffers.shift()!;
    freeBytes -= oldest.byteLength;
    freeSpent(oldest);
  }
}

/**
 * The block small frames of every connection are packed into, one after the
 * other: frames are encoded synchronously, so reservations never overlap, and
 * an idle connection holds no block of its own (16 KiB each, otherwise).
 * Bytes handed out are never written again; a block lives as long as a view
 * into it (a write not finished yet).
 */
let sharedBlock = new Uint8Array(0);
let sharedEnd = 0;

/** The piece list of every buffer holding nothing: frozen, so a push onto it throws rather than mix connections. */
const NO_PIECES: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];

/**
 * Encoded frames waiting to be written. Small frames are packed back to back into
 * blocks shared by all connections; {@linkcode OutgoingBuffer.take} hands out
 * what was written as views and nothing writes into those bytes again, so the
 * views stay valid while the transport holds them. (A view's `buffer` may hold
 * other connections' frames: transports must write the view, not its buffer.)
 * A large frame gets a buffer of its own from a pool; it is written again only
 * after {@linkcode releaseFrame} gave it back.
 *
 * @example
 * ```ts
 * import { FIN, OutgoingBuffer } from "./frame.ts";
 *
 * const out = new OutgoingBuffer();
 * out.writeFrame(FIN | 0x1, new TextEncoder().encode("Hello"), null);
 * const pieces = out.take(); // [Uint8Array [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]]
 * if (pieces.length !== 1 || pieces[0].join() !== "129,5,72,101,108,108,111") throw new Error("one frame");
 * ```
 */
export class OutgoingBuffer {
  /** The sealed runs: NO_PIECES (shared) while there are none, as on an idle connection. */
  #pieces: Uint8Array[] = NO_PIECES;
  /** The run of this buffer's bytes being extended: its block, start and end. */
  #block: Uint8Array | null = null;
  #start = 0;
  #end = 0;
  /** Where the last reservation starts, in #block. */
  #reserved = 0;
  #size = 0;

  /** Bytes waiting in the buffer. */
  get size(): number {
    return this.#size;
  }

  /**
   * Reserves `size` writable bytes: returns the block they are in, starting at
   * {@linkcode OutgoingBuffer.offset}. The caller must fill them and then call
   * {@linkcode OutgoingBuffer.commit} with how many it used, before anything
   * else reserves. (No tuple: this runs once per frame sent.)
   */
  reserve(size: number): Uint8Array {
    if (size >= LARGE_FRAME) {
      // A large frame gets a buffer of its own.
      this.#seal();
      this.#block = borrow(size);
      this.#start = this.#end = this.#reserved = 0;
      return this.#block;
    }
    if (sharedBlock.length - sharedEnd < size) {
      sharedBlock = new Uint8Array(Math.max(BLOCK_SIZE, size));
      sharedEnd = 0;
    }
    // Extend this buffer's run if nobody wrote after it, or start a new one.
    if (this.#block !== sharedBlock || this.#end !== sharedEnd) {
      this.#seal();
      this.#block = sharedBlock;
      this.#start = this.#end = sharedEnd;
    }
    this.#reserved = sharedEnd;
    return sharedBlock;
  }

  /** Where the bytes of the last {@linkcode OutgoingBuffer.reserve} start in its block. */
  get offset(): number {
    return this.#reserved;
  }

  /** Marks `used` bytes from the last reservation as written. */
  commit(used: number): void {
    this.#end = this.#reserved + used;
    this.#size += used;
    if (this.#block === sharedBlock) sharedEnd = this.#end;
  }

  /**
   * Encodes one frame: header, then the payload copied (and masked with `maskKey`
   * when one is given). `payload` itself is never changed.
   */
  writeFrame(
    firstByte: number,
    payload: Uint8Array,
    maskKey: Uint8Array | null,
  ): void {
    const length = payload.length;
    const size = headerSize(length, maskKey !== null) + length;
    const dst = this.reserve(size);
    const offset = this.#reserved;
    const start = writeHeader(dst, offset, firstByte, length, maskKey);
    dst.set(payload, start);
    if (maskKey !== null) {
      maskInPlace(dst.subarray(start, start + length), maskKey);
    }
    this.commit(size);
  }

  /**
   * Encodes one frame whose payload is sent from `payload` itself, not a
   * copy: the header goes where small frames go, `payload` (masked in place
   * with `maskKey`, if given) becomes a piece of its own, and its memory goes
   * to the pool once written (see {@linkcode releaseFrame}). The caller hands
   * `payload` over, all of its `ArrayBuffer`: nothing else may read or change
   * it any more. A payload shorter than a large frame is copied instead, as
   * by {@linkcode OutgoingBuffer.writeFrame}: packed with small frames, it
   * costs less than a write of its own.
   */
  writeTaken(firstByte: number, payload: Uint8Array, maskKey: Uint8Array | null): void {
    const length = payload.length;
    if (length < LARGE_FRAME) return this.writeFrame(firstByte, payload, maskKey);
    const header = headerSize(length, maskKey !== null);
    writeHeader(this.reserve(header), this.#reserved, firstByte, length, maskKey);
    this.commit(header);
    if (maskKey !== null) maskInPlace(payload, maskKey);
    this.#seal();
    if (this.#pieces === NO_PIECES) this.#pieces = [payload];
    else this.#pieces.push(payload);
    this.#size += length;
    adopted.add(payload.buffer);
  }

  /** Appends bytes that are already encoded (a handshake head, say). */
  writeRaw(bytes: Uint8Array): void {
    const dst = this.reserve(bytes.length);
    dst.set(bytes, this.#reserved);
    this.commit(bytes.length);
  }

  /** Hands out everything written so far, oldest first, and empties the buffer. */
  take(): Uint8Array[] {
    this.#seal();
    const pieces = this.#pieces;
    this.#pieces = NO_PIECES;
    this.#size = 0;
    return pieces;
  }

  /** Moves the current run into the list of pieces and lets go of its block. */
  #seal(): void {
    if (this.#block !== null && this.#end > this.#start) {
      const piece = this.#block.subarray(this.#start, this.#end);
      if (this.#pieces === NO_PIECES) this.#pieces = [piece];
      else this.#pieces.push(piece);
    }
    this.#block = null;
    this.#start = this.#end = 0;
  }
}

/**
 * The send side of a connection (ws's `Sender`): frames encoded into one
 * outgoing buffer, masked for a client, compressed when permessage-deflate
 * was negotiated, with the fast paths that encode text straight into that
 * buffer. What may be sent when (after a close, say) is `protocol.ts`'s
 * business: this module only encodes.
 *
 * @module
 */

import type { MessageCompression } from "./compression.ts";
import { Opcode } from "./constants.ts";
import { FIN, headerSize, OutgoingBuffer, RSV1, writeHeader } from "./frame.ts";
import { maskInPlace } from "./mask.ts";
import { freeSpent, takeWhole } from "./reader.ts";
import { utf8Encoder } from "./utf8.ts";

/** Text whose longest encoding is over this many bytes is first encoded as if ASCII. */
const ASCII_FIRST = 4096;
/**
 * Strings at most this long are first encoded by a loop, as if ASCII: for
 * short strings that is faster than `encodeInto` on every runtime (the
 * crossing points are in bench/RESULTS.md), and it needs no view of the
 * destination.
 */
const ASCII_LOOP_CHARS = 40;
/** Strings at most this long are encoded straight into the outgoing buffer. */
const DIRECT_TEXT_CHARS = 16 * 1024;

/**
 * Text to compress is encoded into this buffer, shared by every connection
 * (compressing reads it at once, synchronously): a fresh buffer per message
 * costs its page faults, as much as deflating a 64 KiB message's worth of
 * them on some runtimes. Text longer than COMPRESS_INPUT_KEEP / 3 characters
 * gets a buffer of its own.
 */
let compressInput = new Uint8Array(0);
const COMPRESS_INPUT_KEEP = 1024 * 1024;

/** `text` in UTF-8, for compressing at once: a view valid until the next call. */
function encodeForCompression(text: string): Uint8Array {
  const most = text.length * 3;
  if (most > COMPRESS_INPUT_KEEP) return utf8Encoder.encode(text);
  if (compressInput.length < most) compressInput = new Uint8Array(Math.max(most, 4096));
  return compressInput.subarray(0, utf8Encoder.encodeInto(text, compressInput).written);
}

/**
 * Encodes the frames one end of a connection sends, into the outgoing buffer
 * it is (a subclass rather than a field: one object fewer per connection).
 */
export class Sender extends OutgoingBuffer {
  readonly #client: boolean;
  readonly #maskKey: () => Uint8Array;
  /** The permessage-deflate state, or `null` when not negotiated. */
  compression: MessageCompression | null;

  /**
   * Creates the encoder of one end.
   *
   * @param client Whether this is the client end (its frames are masked).
   * @param maskKey Where the masking keys come from.
   * @param compression The permessage-deflate state, if negotiated.
   */
  constructor(client: boolean, maskKey: () => Uint8Array, compression: MessageCompression | null) {
    super();
    this.#client = client;
    this.#maskKey = maskKey;
    this.compression = compression;
  }

  /** Encodes one frame, masked for a client: `firstByte` is FIN, RSV and opcode; `payload` is copied. */
  encodeFrame(firstByte: number, payload: Uint8Array): void {
    this.writeFrame(firstByte, payload, this.#client ? this.#maskKey() : null);
  }

  /**
   * Encodes a text message, compressed unless `compress` is false. Short
   * enough to be inlined where it is called: the common short ASCII message
   * goes to its loop without the rest.
   */
  sendText(text: string, compress: boolean): void {
    const compression = this.compression;
    if (compression !== null && compress && text.length >= compression.threshold) {
      this.encodeFrame(FIN | RSV1 | Opcode.TEXT, compression.compress(encodeForCompression(text)));
      return;
    }
    if (text.length <= ASCII_LOOP_CHARS && this.#sendShortAscii(text)) return;
    this.#sendText(text);
  }

  /** Encodes an uncompressed text message that is long or not all ASCII. */
  #sendText(text: string): void {
    if (text.length > DIRECT_TEXT_CHARS) {
      this.encodeFrame(FIN | Opcode.TEXT, utf8Encoder.encode(text));
      return;
    }
    // Encode straight into the outgoing buffer. Room for the longest possible
    // encoding (3 bytes per UTF-16 unit) is cheap for short text; longer text
    // first gets room for ASCII only (JSON, mostly), and the longest room if
    // it did not fit. The bytes move if the header came out shorter.
    const key = this.#client ? this.#maskKey() : null;
    const masked = key !== null;
    const longest = text.length * 3;
    let room = longest > ASCII_FIRST ? text.length : longest;
    let dst: Uint8Array, offset: number, maxHeader: number, payloadAt: number, written: number;
    for (;;) {
      maxHeader = headerSize(room, masked);
      dst = this.reserve(maxHeader + room);
      offset = this.offset;
      payloadAt = offset + maxHeader;
      const result = utf8Encoder.encodeInto(text, dst.subarray(payloadAt, payloadAt + room));
      written = result.written;
      if (result.read === text.length || room === longest) break;
      room = longest;
    }
    const header = headerSize(written, masked);
    if (header < maxHeader) {
      dst.copyWithin(offset + header, payloadAt, payloadAt + written);
    }
    writeHeader(dst, offset, FIN | Opcode.TEXT, written, key);
    if (masked) {
      maskInPlace(
        dst.subarray(offset + header, offset + header + written),
        key,
      );
    }
    this.commit(header + written);
  }

  /**
   * Encodes short text that is all ASCII by a loop, straight after its header
   * (no view, no result object); returns `false`, having written nothing, at
   * the first character that is not ASCII.
   */
  #sendShortAscii(text: string): boolean {
    const length = text.length;
    const header = headerSize(length, this.#client);
    const dst = this.reserve(header + length);
    const offset = this.offset;
    const at = offset + header;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) return false;
      dst[at + i] = c;
    }
    const key = this.#client ? this.#maskKey() : null;
    writeHeader(dst, offset, FIN | Opcode.TEXT, length, key);
    if (key !== null) maskInPlace(dst.subarray(at, at + length), key);
    this.commit(header + length);
    return true;
  }

  /**
   * Encodes a binary message, compressed unless `compress` is false. `data`
   * is copied, never changed; with `transfer`, its memory is taken instead
   * when it is a whole `ArrayBuffer` ({@linkcode takeWhole}: the caller's
   * buffer is left detached): an uncompressed message is then sent from it
   * ({@linkcode OutgoingBuffer.writeTaken}), a compressed one deflated.
   */
  sendBinary(data: Uint8Array, compress: boolean, transfer = false): void {
    const taken = transfer ? takeWhole(data) : null;
    const payload = taken ?? data;
    const compression = this.compression;
    if (compression !== null && compress && payload.length >= compression.threshold) {
      this.encodeFrame(FIN | RSV1 | Opcode.BINARY, compression.compress(payload));
      // Deflated at once, so no longer needed.
      if (taken !== null) freeSpent(taken);
      return;
    }
    if (taken !== null) this.writeTaken(FIN | Opcode.BINARY, taken, this.#client ? this.#maskKey() : null);
    else this.encodeFrame(FIN | Opcode.BINARY, payload);
  }
}

/**
 * The sans-I/O core of RFC 6455: bytes in, events out; calls in, bytes out. It
 * has no sockets, no timers and no promises, so every rule can be tested by
 * feeding it bytes, and every I/O layer runs the same loop:
 *
 * ```text
 *   transport ──chunk──▶ receiveData(chunk) / receiveEof()
 *                              │
 *                              ▼
 *                      eventsReceived()  ──▶ text, binary, ping, pong, close, error
 *                              │               (handlers may call sendText(), … here)
 *                              ▼
 *   transport ◀──write── dataToSend()   ──▶ frames of this turn, then END_OF_STREAM
 *                                           when the transport must be ended
 * ```
 *
 * The core answers what the RFC obliges on its own: a pong for each ping, the
 * echo of a close frame, and the end of the stream once the closing handshake is
 * over (the server ends first, RFC 6455 §7.1.1) or the connection failed.
 * After a close frame arrives or a violation is found, it discards all input.
 *
 * Work that one peer's input can make long is bounded per call: a compressed
 * message is inflated a {@linkcode Protocol.workBudget} at a time; when it is
 * not done, the call returns with {@linkcode Protocol.workPending} set, input
 * is only queued, and {@linkcode Protocol.resume} goes on (the caller yields
 * to its event loop in between). A large frame's bytes are copied and
 * unmasked as they arrive once 1 MiB of them waits.
 *
 * Incoming payloads are copied exactly once, out of the received chunks into a
 * buffer of their own (unmasked in that copy): received chunks are never
 * changed, and messages never pin a transport's read buffers. The protocol
 * keeps references to the chunks it has not parsed yet (the start of a frame
 * that has not all arrived), so a transport hands over each chunk for good.
 *
 * This file keeps the state and the message assembly; the chunk queue is
 * `reader.ts`, the header rules `frame_check.ts`, the encoder `sender.ts`.
 *
 * @module
 */

import { inflateViolation } from "./compression.ts";
import type { MessageCompression } from "./compression.ts";
import { CloseCode, DEFAULT_MAX_LENGTH, Opcode } from "./constants.ts";
import type { Role } from "./constants.ts";
import { encodeClosePayload, parseClosePayload, truncateReason } from "./close.ts";
import type { ClosePayload } from "./close.ts";
import { CLOSE_CODES, ProtocolError } from "./errors.ts";
import type { ProtocolErrorType } from "./errors.ts";
import { FIN, messageBuffer, RSV1 } from "./frame.ts";
import { checkHeader, checkLength, readLength64, wireLimit } from "./frame_check.ts";
import { END_OF_STREAM } from "./events.ts";
import type { ProtocolEvent, ProtocolOptions } from "./events.ts";
import { randomMaskKey } from "./mask.ts";
import { ChunkQueue, freeSpent } from "./reader.ts";
import { Sender } from "./sender.ts";
import {
  decodeAscii,
  decodeShortText,
  decodeText,
  decodeUtf8,
  decodeValidatedUtf8,
  SHORT_ASCII_TEXT,
  TEXT_SCRATCH,
  textScratch,
  Utf8Validator,
} from "./utf8.ts";

export type { Role };
export { END_OF_STREAM } from "./events.ts";
export type { ProtocolEvent, ProtocolOptions } from "./events.ts";

// Parser states.
const READ_HEADER = 0;
const READ_LENGTH_16 = 1;
const READ_LENGTH_64 = 2;
const READ_MASK = 3;
const READ_PAYLOAD = 4;
const DISCARD = 5;
/** A compressed message is being inflated, a slice per call (see Protocol.workPending). */
const INFLATING = 6;

const EMPTY = new Uint8Array(0);
/** The event list of every protocol with no events waiting: frozen, so a push onto it throws rather than mix connections. */
const NO_EVENTS: ProtocolEvent[] = Object.freeze([]) as unknown as ProtocolEvent[];
/**
 * The masking key of the frame being read, as bytes: written from a
 * protocol's #keyBits before each use and read at once (parsing is
 * synchronous), so that no connection keeps an array of its own.
 */
const keyScratch = new Uint8Array(4);
/** The default of {@linkcode Protocol.workBudget}, in bytes: about 1 ms of inflating (why not less: bench/RESULTS.md). */
export const DEFAULT_WORK_BUDGET = 256 * 1024;

/**
 * One WebSocket connection's protocol state, after the opening handshake.
 *
 * @example Two ends wired to each other
 * ```ts ignore
 * const server = new Protocol({ role: "server" });
 * const client = new Protocol({ role: "client" });
 * client.sendText("Hello");
 * for (const chunk of client.dataToSend()) server.receiveData(chunk);
 * server.eventsReceived(); // [{ type: "text", data: "Hello" }]
 * ```
 */
export class Protocol {
  readonly #client: boolean;
  readonly #maxLength: number;
  #compression: MessageCompression | null;

  /** Received bytes not parsed yet. */
  readonly #queue = new ChunkQueue();

  // The frame being parsed.
  #state = READ_HEADER;
  #fin = false;
  #opcode = 0;
  #masked = false;
  #length = 0;
  /** The frame's masking key, as four bytes in one number (see #maskKey). */
  #keyBits = 0;
  /** Payload bytes of a text frame validated as they arrived; -1 when not streaming. */
  #validated = -1;
  /** Payload bytes of the frame copied out already, into #early at #earlyAt. */
  #copied = 0;
  #early: Uint8Array | null = null;
  #earlyAt = 0;

  // The fragmented message being assembled.
  #messageOpcode = 0;
  #message: Uint8Array = EMPTY;
  #messageLength = 0;
  /** Whether the message being received is compressed (RSV1 on its first frame). */
  #compressed = false;
  /** The opcode of the message being inflated (state INFLATING). */
  #inflating = 0;
  /** Made for the first text message validated as it arrives, or sent in fragments (most connections never are). */
  #utf8: Utf8Validator | null = null;

  /** The events not taken yet: NO_EVENTS (shared) while there are none, as an idle connection has. */
  #events: ProtocolEvent[] = NO_EVENTS;

  readonly #sender: Sender;
  #endPending = false;
  #endSent = false;

  #closeSent = false;
  /** The close frame to send at the next dataToSend(): an echo, or a failure's. */
  #closePending: ClosePayload | null = null;
  #closeReceived = false;
  #eofReceived = false;
  #closeCode = 0;
  #closeReason = "";

  /**
   * The most bytes a compressed message is inflated to in one call of
   * {@linkcode Protocol.receiveData} or {@linkcode Protocol.resume}: past it,
   * the call stops with {@linkcode Protocol.workPending} set, so that one
   * peer's large message (or decompression bomb) never holds the caller for
   * long. The caller may change it between calls (0: as little as the
   * inflater can do, about 1 KiB).
   */
  workBudget: number = DEFAULT_WORK_BUDGET;

  /** Creates the state of one connection. */
  constructor(options: ProtocolOptions) {
    this.#client = options.role === "client";
    this.#maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
    this.#compression = options.compression ?? null;
    this.#sender = new Sender(this.#client, options.maskKey ?? randomMaskKey, this.#compression);
  }

  /**
   * Turns permessage-deflate on once the handshake agreed on it: messages
   * encoded from now on may be compressed, and received ones may carry RSV1.
   */
  useCompression(compression: MessageCompression | null): void {
    this.#compression = compression;
    this.#sender.compression = compression;
  }

  /**
   * Frees the zlib state of permessage-deflate (native memory when the
   * runtime's zlib is used), for a connection that is over: a message being
   * inflated is dropped and every later byte ignored.
   */
  releaseCompression(): void {
    if (this.#compression === null) return;
    if (this.#state === INFLATING) this.#discard();
    this.#compression.close();
  }

  /**
   * Whether a message is half done (being inflated) and waits for
   * {@linkcode Protocol.resume}: until it is done, received chunks are only
   * queued, and no event after it is produced.
   */
  get workPending(): boolean {
    return this.#state === INFLATING;
  }

  /**
   * Goes on with the pending work (see {@linkcode Protocol.workPending}) for
   * another {@linkcode Protocol.workBudget}, then parses what was queued
   * behind it (which may start new pending work). Does nothing when no work
   * is pending.
   */
  resume(): void {
    if (this.#state !== INFLATING || !this.#inflateStep()) return;
    this.#parse();
    this.#queue.settle();
  }

  /** Whether a close frame was sent (no frame may follow it). */
  get closeSent(): boolean {
    return this.#closeSent;
  }

  /** Whether a close frame was received. */
  get closeReceived(): boolean {
    return this.#closeReceived;
  }

  /** Whether the transport must be (or was) ended. */
  get ending(): boolean {
    return this.#endPending;
  }

  /**
   * The code to report when the connection is over: the peer's close code (1005
   * if its close frame had none), the code of a violation we failed the
   * connection with, 1006 if the stream ended without a close frame, or 0 while
   * none of these happened.
   */
  get closeCode(): number {
    return this.#closeCode;
  }

  /** The reason that goes with {@linkcode Protocol.closeCode}. */
  get closeReason(): string {
    return this.#closeReason;
  }

  /** Bytes produced by sends and not yet taken by {@linkcode Protocol.dataToSend}. */
  get bytesToSend(): number {
    return this.#sender.size;
  }

  // ───────────────────────────── receiving ─────────────────────────────

  /**
   * Takes the next bytes from the transport, in chunks of any size. The chunk
   * is read, never changed, and may be kept until its bytes are parsed.
   *
   * @returns `true` when no reference to the chunk was kept (its bytes were
   * parsed, or the few left over were copied): the caller may then read into
   * its memory again. On `false`, do not reuse its memory.
   */
  receiveData(chunk: Uint8Array): boolean {
    if (this.#state === DISCARD || chunk.length === 0) return true;
    const queue = this.#queue;
    queue.push(chunk);
    if (this.#state === READ_PAYLOAD && this.#validated >= 0) {
      // Every buffered byte belongs to this text frame: check the new ones now.
      const n = Math.min(chunk.length, this.#length - this.#validated);
      if (
        !this.#utf8!.push(
          chunk.subarray(0, n),
          this.#masked ? this.#maskKey() : undefined,
          this.#validated,
        )
      ) {
        this.#invalidUtf8();
        return true;
      }
      this.#validated += n;
    }
    this.#parse();
    queue.settle();
    return queue.release(chunk);
  }

  /** Tells that the transport's input ended (or broke). */
  receiveEof(): void {
    if (this.#eofReceived) return;
    this.#eofReceived = true;
    this.#discard();
    if (this.#closeCode === 0) {
      this.#closeCode = CloseCode.ABNORMAL;
      this.#closeReason = "";
    }
    this.#endPending = true;
  }

  /** Returns the events produced since the last call, oldest first. */
  eventsReceived(): ProtocolEvent[] {
    const events = this.#events;
    this.#events = NO_EVENTS;
    return events;
  }

  #event(event: ProtocolEvent): void {
    if (this.#events === NO_EVENTS) this.#events = [event];
    else this.#events.push(event);
  }

  /** The frame's masking key as bytes (see keyScratch): valid until the next call. */
  #maskKey(): Uint8Array {
    const bits = this.#keyBits;
    keyScratch[0] = bits;
    keyScratch[1] = bits >>> 8;
    keyScratch[2] = bits >>> 16;
    keyScratch[3] = bits >>> 24;
    return keyScratch;
  }

  /** The UTF-8 validator, made on first use (a fresh one is reset). */
  #validator(): Utf8Validator {
    return this.#utf8 ??= new Utf8Validator();
  }

  #parse(): void {
    const queue = this.#queue;
    for (;;) {
      switch (this.#state) {
        case READ_HEADER: {
          if (queue.buffered < 2) return;
          const i = queue.read(2);
          if (!this.#readHeader(queue.view[i], queue.view[i + 1])) return;
          break;
        }
        case READ_LENGTH_16: {
          if (queue.buffered < 2) return;
          const i = queue.read(2);
          const length = (queue.view[i] << 8) | queue.view[i + 1];
          if (!this.#setLength(length, 126)) return;
          break;
        }
        case READ_LENGTH_64: {
          if (queue.buffered < 8) return;
          const i = queue.read(8);
          if (!this.#setLength(readLength64(queue.view, i), 0x10000)) return;
          break;
        }
        case READ_MASK: {
          if (queue.buffered < 4) return;
          const i = queue.read(4);
          const v = queue.view;
          this.#keyBits = v[i] | (v[i + 1] << 8) | (v[i + 2] << 16) | (v[i + 3] << 24);
          if (!this.#startPayload()) return;
          break;
        }
        case READ_PAYLOAD: {
          if (queue.buffered < this.#length - this.#copied) {
            // (Every buffered byte is this frame's; with some buffered, there is a last chunk.)
            if (
              this.#early !== null || (this.#opcode < Opcode.CLOSE && queue.copyEarly(this.#length))
            ) this.#copyArrived();
            return;
          }
          if (!this.#readPayload()) return;
          break;
        }
        default:
          return;
      }
    }
  }

  /** Checks the first two bytes of a frame (see frame_check.ts) and takes what they say. */
  #readHeader(b0: number, b1: number): boolean {
    const violation = checkHeader(b0, b1, this.#client, this.#compression !== null, this.#messageOpcode !== 0);
    if (violation !== null) return this.#fail(violation.type, violation.message);
    const opcode = b0 & 0x0f;
    const fin = (b0 & FIN) !== 0;
    const masked = (b1 & 0x80) !== 0;
    const length = b1 & 0x7f;
    this.#fin = fin;
    this.#opcode = opcode;
    this.#masked = masked;
    if (opcode === Opcode.TEXT || opcode === Opcode.BINARY) this.#compressed = (b0 & RSV1) !== 0;
    if (length === 126) {
      this.#state = READ_LENGTH_16;
      return true;
    }
    if (length === 127) {
      this.#state = READ_LENGTH_64;
      return true;
    }
    return this.#setLength(length, 0);
  }

  /**
   * Checks a frame's length (its encoding, at least `least` when extended; a
   * data frame's against `maxLength`, see frame_check.ts) before any payload
   * is stored.
   */
  #setLength(length: number, least: number): boolean {
    const max = this.#maxLength, data = this.#opcode < Opcode.CLOSE;
    const violation = checkLength(length, least, data ? this.#messageLength : -1, max, this.#compressed);
    if (violation !== null) return this.#fail(violation.type, violation.message);
    this.#length = length;
    if (this.#masked) {
      this.#state = READ_MASK;
      return true;
    }
    return this.#startPayload();
  }

  /**
   * Enters READ_PAYLOAD. A text frame whose payload has not all arrived is
   * validated as it comes, so invalid UTF-8 fails the connection at once.
   */
  #startPayload(): boolean {
    this.#state = READ_PAYLOAD;
    const opcode = this.#opcode;
    if (opcode === Opcode.TEXT) this.#utf8?.reset();
    if (
      this.#queue.buffered < this.#length && !this.#compressed &&
      (opcode === Opcode.TEXT ||
        (opcode === Opcode.CONTINUATION && this.#messageOpcode === Opcode.TEXT))
    ) {
      const key = this.#masked ? this.#maskKey() : undefined;
      const utf8 = this.#validator();
      let phase = 0;
      const { chunks, head, offset } = this.#queue;
      for (let c = head; c < chunks.length; c++) {
        const chunk = c === head ? chunks[c].subarray(offset) : chunks[c];
        if (!utf8.push(chunk, key, phase)) return this.#invalidUtf8();
        phase += chunk.length;
      }
      this.#validated = phase;
    }
    return true;
  }

  /** Handles a frame whose whole payload has arrived. */
  #readPayload(): boolean {
    const length = this.#length;
    const opcode = this.#opcode;
    const streamed = this.#validated >= 0;
    this.#validated = -1;
    this.#state = READ_HEADER;

    if (opcode >= Opcode.CLOSE) {
      return this.#control(opcode, this.#copyPayload(new Uint8Array(length), 0));
    }

    if (this.#fin && opcode !== Opcode.CONTINUATION) {
      // A whole message in one frame: the common case.
      if (this.#compressed) {
        // Its compressed bytes are needed only while it is inflated.
        const payload = this.#wholePayload(length);
        return this.#inflated(opcode, payload);
      }
      if (opcode === Opcode.BINARY) {
        this.#event({
          type: "binary",
          data: this.#copyPayload(this.#early ?? messageBuffer(length), 0),
        });
        return true;
      }
      // Text needs its bytes only until decoded: short ones go through a reused
      // buffer (off the V8 heap, which native decoders read without a copy).
      if (!streamed && length <= TEXT_SCRATCH) {
        const scratch = textScratch();
        let text: string | null;
        if (length !== 0 && length <= SHORT_ASCII_TEXT && this.#queue.contiguous(length)) {
          // Short and in one chunk (the common case): unmask and check for ASCII in one loop.
          const bits = this.#queue.copyShort(scratch, length, this.#masked ? this.#maskKey() : null);
          text = bits < 0x80 ? decodeAscii(scratch, length) : decodeUtf8(scratch.subarray(0, length));
        } else {
          text = decodeShortText(this.#copyPayload(scratch, 0), length);
        }
        if (text === null) return this.#invalidUtf8();
        this.#event({ type: "text", data: text });
        return true;
      }
      const payload = this.#wholePayload(length);
      let text: string | null;
      if (streamed) {
        text = this.#utf8!.end() ? decodeValidatedUtf8(payload) : null;
      } else {
        text = decodeText(payload);
      }
      if (text === null) return this.#invalidUtf8();
      this.#event({ type: "text", data: text });
      return true;
    }

    // A fragment: append it to the message.
    const start = this.#fragmentStart();
    const needed = start + length;
    this.#copyPayload(this.#message, start);
    this.#messageLength = needed;
    const text = this.#messageOpcode === Opcode.TEXT;
    if (
      text && !streamed && !this.#compressed &&
      !this.#validator().push(this.#message.subarray(start, needed))
    ) {
      return this.#invalidUtf8();
    }
    if (!this.#fin) return true;

    const message = this.#message.subarray(0, needed);
    const messageOpcode = this.#messageOpcode;
    this.#messageOpcode = 0;
    this.#messageLength = 0;
    this.#message = EMPTY;
    if (this.#compressed) return this.#inflated(messageOpcode, message);
    if (!text) {
      this.#event({ type: "binary", data: message });
      return true;
    }
    if (!this.#validator().end()) return this.#invalidUtf8();
    this.#event({ type: "text", data: decodeValidatedUtf8(message) });
    return true;
  }

  /** The payload of a whole message in one frame, needed only until decoded or inflated: short ones in a shared scratch. */
  #wholePayload(length: number): Uint8Array {
    return length <= TEXT_SCRATCH
      ? this.#copyPayload(textScratch(), 0).subarray(0, length)
      : this.#copyPayload(this.#early ?? messageBuffer(length), 0);
  }

  /**
   * Makes room in #message for the current fragment (starting the message on
   * its first one) and returns where the fragment goes. Called again for the
   * same fragment, it returns the same offset.
   */
  #fragmentStart(): number {
    if (this.#opcode !== Opcode.CONTINUATION) {
      this.#messageOpcode = this.#opcode;
      this.#messageLength = 0;
    }
    const start = this.#messageLength;
    const needed = start + this.#length;
    if (needed > this.#message.length) {
      // Grow by doubling, never beyond what maxLength allows.
      const limit = wireLimit(this.#maxLength, this.#compressed);
      const grown = new Uint8Array(Math.min(Math.max(needed, this.#message.length * 2, 1024), limit));
      grown.set(this.#message.subarray(0, start));
      freeSpent(this.#message); // Never handed out, no view of it kept: dead.
      this.#message = grown;
    }
    return start;
  }

  /**
   * Copies the bytes of a large data frame that arrived so far into the buffer
   * the frame will be reported in, so that each chunk is copied (and can be
   * let go of) while it is recent. Every buffered byte belongs to the frame.
   */
  #copyArrived(): void {
    if (this.#early === null) {
      if (this.#fin && this.#opcode !== Opcode.CONTINUATION) {
        this.#early = messageBuffer(this.#length);
        this.#earlyAt = 0;
      } else {
        this.#earlyAt = this.#fragmentStart();
        this.#early = this.#message;
      }
    }
    const count = this.#queue.buffered, copied = this.#copied;
    if (count === 0) return;
    this.#copied += count;
    this.#queue.copy(this.#early, this.#earlyAt + copied, count, this.#masked ? this.#maskKey() : null, copied);
  }

  /**
   * Starts decompressing a whole compressed message (RFC 7692 §7.2.2), and
   * reports it if it is done within the work budget; otherwise the rest is
   * left to resume() (state INFLATING), and parsing stops. `maxLength` bounds
   * the inflated size while it is produced: a small frame that would inflate
   * to gigabytes fails with 1009 after at most maxLength bytes. Text is
   * decoded at once: it is inflated as transient (see Inflater.begin).
   */
  #inflated(opcode: number, payload: Uint8Array): boolean {
    const inflater = this.#compression!.inflater();
    inflater.begin(payload, this.#maxLength, opcode === Opcode.TEXT);
    this.#inflating = opcode;
    this.#state = INFLATING;
    if (this.#inflateStep()) return true;
    // A short payload is in the shared text scratch buffer: the rest of it is copied.
    if (this.#state === INFLATING && payload.buffer === textScratch().buffer) inflater.keepInput();
    return false;
  }

  /**
   * Inflates the current message for one work budget; reports it when done.
   * Returns whether parsing may go on (done, and the connection did not fail).
   */
  #inflateStep(): boolean {
    const inflater = this.#compression!.inflater();
    try {
      if (!inflater.step(this.workBudget)) return false;
    } catch (error) {
      const violation = inflateViolation(error, this.#maxLength);
      if (violation === null) throw error;
      return this.#fail(violation.type, violation.message);
    }
    this.#state = READ_HEADER;
    const data = inflater.take();
    if (this.#inflating === Opcode.BINARY) {
      // take() returns a buffer of the message's own (never a view of a shared pool).
      this.#event({ type: "binary", data });
      return true;
    }
    const text = decodeText(data);
    if (text === null) return this.#invalidUtf8();
    this.#event({ type: "text", data: text });
    return true;
  }

  /** Handles a ping, pong or close frame (RFC 6455 §5.5). */
  #control(opcode: number, payload: Uint8Array): boolean {
    if (opcode === Opcode.PING) {
      this.#event({ type: "ping", data: payload });
      // RFC 6455 §5.5.2: answer with a pong carrying the same payload.
      if (!this.#closeSent) this.#writeFrame(FIN | Opcode.PONG, payload);
      return true;
    }
    if (opcode === Opcode.PONG) {
      this.#event({ type: "pong", data: payload });
      return true;
    }
    let close;
    try {
      close = parseClosePayload(payload);
    } catch (error) {
      const e = error as ProtocolError;
      return this.#fail(e.type, e.message);
    }
    this.#closeReceived = true;
    this.#closeCode = close.code;
    this.#closeReason = close.reason;
    this.#discard();
    this.#event({
      type: "close",
      code: close.code,
      reason: close.reason,
    });
    // RFC 6455 §5.5.1: answer a close frame with a close frame, echoing its
    // code (and reason). The answer waits for dataToSend(), so that what the
    // driver's listeners send for the messages before this close goes first.
    if (!this.#closeSent) this.#closePending = close;
    // RFC 6455 §7.1.1: the server ends the TCP connection first; a client waits
    // for it (its driver ends the transport after a timeout).
    if (!this.#client) this.#endPending = true;
    return false;
  }

  /**
   * Copies the rest of the current frame's payload out of the chunks into
   * `dst`, whose byte `at` is the payload's first, unmasked.
   */
  #copyPayload(dst: Uint8Array, at: number): Uint8Array {
    const copied = this.#copied;
    const count = this.#length - copied;
    if (count !== 0) this.#queue.copy(dst, at + copied, count, this.#masked ? this.#maskKey() : null, copied);
    this.#copied = 0;
    this.#early = null;
    return dst;
  }

  /** Stops reading: every later byte is ignored. */
  #discard(): void {
    if (this.#state === INFLATING) this.#compression!.inflater().cancel();
    this.#state = DISCARD;
    this.#queue.clear();
    this.#message = EMPTY;
    this.#messageOpcode = this.#messageLength = 0;
    this.#early = null;
    this.#copied = 0;
  }

  #invalidUtf8(): false {
    return this.#fail("WSD_ERR_INVALID_UTF8", "Invalid UTF-8 in a text message");
  }

  /**
   * Fails the connection (RFC 6455 §7.1.7) with the close code of `type`
   * (errors.ts): reports the error, sends a close frame with that code unless
   * one was sent already, ends the transport and discards all further input.
   */
  #fail(type: ProtocolErrorType, message: string): false {
    const code = CLOSE_CODES[type];
    const error = new ProtocolError(type, code, message);
    this.#discard();
    this.#event({ type: "error", error });
    if (this.#closeCode === 0) {
      this.#closeCode = code;
      this.#closeReason = message;
    }
    if (!this.#closeSent) this.#closePending = { code, reason: truncateReason(message) };
    this.#endPending = true;
    return false;
  }

  // ───────────────────────────── sending ─────────────────────────────

  /**
   * Encodes a text message. The caller checks that no close frame was sent
   * (see {@linkcode Protocol.closeSent}). `compress: false` leaves it
   * uncompressed even with permessage-deflate.
   */
  sendText(text: string, compress = true): void {
    this.#sender.sendText(text, compress);
  }

  /**
   * Encodes a binary message; `data` is copied, never changed, unless
   * `transfer` hands it over (see {@linkcode Sender.sendBinary}). `compress:
   * false` leaves it uncompressed even with permessage-deflate.
   */
  sendBinary(data: Uint8Array, compress = true, transfer = false): void {
    this.#sender.sendBinary(data, compress, transfer);
  }

  /**
   * Encodes one data frame of a message sent in fragments. `opcode` is TEXT or
   * BINARY for the first frame and CONTINUATION for the others; `fin` marks the
   * last.
   */
  sendFrame(opcode: number, data: Uint8Array, fin: boolean): void {
    this.#writeFrame((fin ? FIN : 0) | opcode, data);
  }

  /**
   * Queues a frame encoded by the caller, as is: the same bytes may go to many
   * connections (a server's frames are unmasked, so one encoding fits them
   * all). The caller checks that no close frame was sent and that the frame is
   * a whole, valid data frame for this end (unmasked for a server).
   */
  sendEncodedFrame(frame: Uint8Array): void {
    this.#sender.writeRaw(frame);
  }

  /** Encodes a ping; the caller checks that `data` has at most 125 bytes. */
  sendPing(data: Uint8Array): void {
    this.#writeFrame(FIN | Opcode.PING, data);
  }

  /** Encodes an unsolicited pong (a unidirectional heartbeat, RFC 6455 §5.5.3). */
  sendPong(data: Uint8Array): void {
    this.#writeFrame(FIN | Opcode.PONG, data);
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2) with a code that may be sent
   * (or 1005 for a close frame without a code) and a reason of at most 123
   * bytes, both checked by the caller. Does nothing if a close frame was sent.
   * If the peer's close frame arrived first, this is the answer to it.
   */
  sendClose(code: number, reason: string): void {
    if (this.#closeSent) return;
    this.#closePending = null;
    this.#writeClose(code, reason);
  }

  /**
   * Returns the bytes to write, in order, and END_OF_STREAM (once) when the
   * transport must be ended after them.
   */
  dataToSend(): Uint8Array[] {
    const pending = this.#closePending;
    if (pending !== null) {
      this.#closePending = null;
      this.#writeClose(pending.code, pending.reason);
    }
    const pieces = this.#sender.take();
    if (this.#endPending && !this.#endSent) {
      this.#endSent = true;
      // (An empty list is the shared frozen one.)
      if (pieces.length === 0) return [END_OF_STREAM];
      pieces.push(END_OF_STREAM);
    }
    return pieces;
  }

  #writeClose(code: number, reason: string): void {
    this.#closeSent = true;
    this.#writeFrame(FIN | Opcode.CLOSE, encodeClosePayload(code, reason));
  }

  #writeFrame(firstByte: number, payload: Uint8Array): void {
    this.#sender.encodeFrame(firstByte, payload);
  }
}

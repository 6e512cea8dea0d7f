/**
 * The incremental end-of-head scan with its limits, and the two public faces
 * over it, {@linkcode RequestHeadParser} and {@linkcode ResponseHeadParser}.
 * `http1.ts` describes the whole (and re-exports this module); reading the
 * complete head is `head_syntax.ts`.
 *
 * @module
 */

import { quote } from "./syntax.ts";
import { CR, failure, LF, parseRequest, parseResponse } from "./head_syntax.ts";
import type { HeadFailure, RequestHead, ResponseHead } from "./head_syntax.ts";

/**
 * The default limit on the size of a message head, in bytes: the request or
 * status line, the header lines and the final empty line (CRLF CRLF).
 *
 * A WebSocket handshake needs a few hundred bytes; browsers send about 500 to
 * 1,500 with cookies. 16 KiB leaves room for large cookies while keeping what
 * an idle, half-sent head can pin at 16 KiB per connection (Node's own
 * default, `--max-http-header-size`, is the same).
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_HEAD_SIZE, RequestHeadParser } from "./http1.ts";
 *
 * // DEFAULT_MAX_HEAD_SIZE === 16384
 * const parser = new RequestHeadParser({ maxHeadSize: 2 * DEFAULT_MAX_HEAD_SIZE });
 * ```
 */
export const DEFAULT_MAX_HEAD_SIZE = 16 * 1024;

/**
 * The default limit on the number of header lines in a message head.
 *
 * A handshake has about ten; a hundred is generous, and bounds the work of
 * building the `Headers` object (Go's and Node's defaults are in this range).
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_HEADERS, ResponseHeadParser } from "./http1.ts";
 *
 * // DEFAULT_MAX_HEADERS === 100
 * const parser = new ResponseHeadParser({ maxHeaders: DEFAULT_MAX_HEADERS / 2 });
 * ```
 */
export const DEFAULT_MAX_HEADERS = 100;

/** Limits for {@linkcode RequestHeadParser} and {@linkcode ResponseHeadParser}. */
export interface HeadLimits {
  /**
   * The largest head accepted, in bytes, counting the start line, the header
   * lines, every CRLF and the final empty line. A longer head is an error
   * with status 431 as soon as the byte that crosses the limit arrives.
   *
   * @default {16384}
   */
  maxHeadSize?: number;
  /**
   * The most header lines accepted. More is an error with status 431.
   *
   * @default {100}
   */
  maxHeaders?: number;
}

/**
 * The result of a `push()` to {@linkcode RequestHeadParser} or
 * {@linkcode ResponseHeadParser}.
 *
 * - `"incomplete"`: the end of the head has not arrived yet; push more.
 * - `"done"`: the head, and `rest`, a fresh copy of the bytes that followed
 *   the final CRLF CRLF in the last chunk (empty when there were none).
 * - `"error"`: the head is malformed or too large. `status` is what a server
 *   answers: 400 for a syntax error, 431 for a head over `maxHeadSize` or with
 *   more than `maxHeaders` header lines, 505 for an HTTP version other than
 *   1.0 and 1.1. `message` says what was wrong, in plain English, without
 *   quoting the peer's bytes. There is no 501: any token is a valid method
 *   here, and which methods to serve is the caller's choice (the WebSocket
 *   handshake answers 405 to anything but GET).
 *
 * @example
 * ```ts
 * import { type HeadResult, type RequestHead, RequestHeadParser } from "./http1.ts";
 *
 * const parser = new RequestHeadParser();
 * const chunk = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
 * const result: HeadResult<RequestHead> = parser.push(chunk);
 * switch (result.state) {
 *   case "incomplete": break; // read more
 *   case "done": console.log(result.head.target, result.rest.length); break;
 *   case "error": console.log(result.status, result.message); break;
 * }
 * ```
 */
export type HeadResult<T> =
  | {
    /** More bytes are needed. */
    state: "incomplete";
  }
  | {
    /** The head is complete and valid. */
    state: "done";
    /** The parsed head. */
    head: T;
    /** The bytes after the head, copied (may be empty). */
    rest: Uint8Array;
  }
  | {
    /** The head is invalid; the parser accepts no more input. */
    state: "error";
    /** The HTTP status a server answers with: 400, 431 or 505. */
    status: number;
    /** What was wrong, in plain English. */
    message: string;
  };

/**
 * An incremental parser of an HTTP/1.x request head (RFC 9112 §2–§5), for a
 * server reading an upgrade request from a raw connection.
 *
 * Push the bytes as they arrive; each `push()` scans only the new bytes. Once
 * a push returns `"done"` or `"error"`, the parser is spent and further
 * pushes throw. The chunks pushed are never modified, and may be reused by
 * the caller as soon as `push()` returns.
 *
 * @example
 * ```ts
 * import { RequestHeadParser } from "./http1.ts";
 *
 * const parser = new RequestHeadParser({ maxHeadSize: 8192 });
 * const head = new TextEncoder().encode("GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\r\n");
 * const bytes = new Uint8Array([...head, 0x81, 0x00]); // and the first frame's header
 * if (parser.push(bytes.subarray(0, 10)).state !== "incomplete") throw new Error("more to come");
 * const result = parser.push(bytes.subarray(10));
 * if (
 *   result.state !== "done" || result.head.target !== "/chat" ||
 *   result.head.headers.get("upgrade") !== "websocket" || result.rest.join() !== "129,0"
 * ) throw new Error("expected the head and the first frame's bytes");
 * ```
 */
export class RequestHeadParser {
  #core: HeadParser<RequestHead>;

  /**
   * Create a parser with the given limits (or the defaults).
   *
   * @param limits The head size and header count limits.
   * @throws {TypeError} If `limits` has an unknown key or a non-number value.
   * @throws {RangeError} If a limit is not a positive integer (`maxHeaders`
   * may be 0).
   */
  constructor(limits?: HeadLimits) {
    this.#core = new HeadParser(limits, true, parseRequest);
  }

  /**
   * Feed the next bytes of the connection.
   *
   * @param chunk The bytes that arrived (of any length, even 0).
   * @returns Whether the head is incomplete, done (with the bytes after it)
   * or invalid (with the status to answer).
   * @throws {TypeError} If `chunk` is not a `Uint8Array`, or a previous push
   * already returned `"done"` or `"error"`.
   *
   * @example
   * ```ts ignore
   * const result = parser.push(chunk);
   * if (result.state === "done") startWebSocket(result.head, result.rest);
   * ```
   */
  push(chunk: Uint8Array): HeadResult<RequestHead> {
    return this.#core.push(chunk);
  }
}

/**
 * An incremental parser of an HTTP/1.x response head (RFC 9112 §2, §4, §5),
 * for a client reading the answer to its upgrade request.
 *
 * It behaves as {@linkcode RequestHeadParser} does, except that it reads a
 * status line and skips no leading empty lines. A missing reason phrase is
 * accepted with or without the space before it (`"HTTP/1.1 101\r\n"`), as
 * most clients do.
 *
 * @example
 * ```ts
 * import { ResponseHeadParser } from "./http1.ts";
 *
 * const parser = new ResponseHeadParser();
 * const result = parser.push(new TextEncoder().encode(
 *   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
 * ));
 * if (
 *   result.state !== "done" || result.head.status !== 101 ||
 *   result.head.statusText !== "Switching Protocols" || result.rest.length !== 0
 * ) throw new Error("expected a 101");
 * ```
 */
export class ResponseHeadParser {
  #core: HeadParser<ResponseHead>;

  /**
   * Create a parser with the given limits (or the defaults).
   *
   * @param limits The head size and header count limits.
   * @throws {TypeError} If `limits` has an unknown key or a non-number value.
   * @throws {RangeError} If a limit is not a positive integer (`maxHeaders`
   * may be 0).
   */
  constructor(limits?: HeadLimits) {
    this.#core = new HeadParser(limits, false, parseResponse);
  }

  /**
   * Feed the next bytes of the connection.
   *
   * @param chunk The bytes that arrived (of any length, even 0).
   * @returns Whether the head is incomplete, done (with the bytes after it)
   * or invalid.
   * @throws {TypeError} If `chunk` is not a `Uint8Array`, or a previous push
   * already returned `"done"` or `"error"`.
   *
   * @example
   * ```ts ignore
   * const result = parser.push(chunk);
   * if (result.state === "done" && result.head.status === 101) {
   *   startWebSocket(result.head.headers, result.rest);
   * }
   * ```
   */
  push(chunk: Uint8Array): HeadResult<ResponseHead> {
    return this.#core.push(chunk);
  }
}

// ---------------------------------------------------------------------------
// The parser both public faces share.

// The states of the end-of-head scan.
/** Inside a line, after at least one byte that is neither CR nor LF. */
const IN_LINE = 0;
/** Just after the CR that ends a non-empty line. */
const LINE_CR = 1;
/** At the start of a line, after a CRLF. */
const LINE_START = 2;
/** Just after a CR at the start of a line: the CR of the final CRLF CRLF. */
const EMPTY_LINE_CR = 3;
/** Before a request line: only empty lines so far (RFC 9112 §2.2). */
const PREAMBLE = 4;
/** Just after a CR before the request line. */
const PREAMBLE_CR = 5;

/** Initial capacity of the head buffer; it doubles up to `maxHeadSize`. */
const INITIAL_BUFFER_SIZE = 1024;

const INCOMPLETE: { state: "incomplete" } = Object.freeze({
  state: "incomplete",
});

/** Parses a complete head (`buffer[0, length)`, ending with CRLF CRLF). */
type HeadParse<T> = (
  buffer: Uint8Array,
  length: number,
  maxHeaders: number,
) => T | HeadFailure;

/**
 * The one head parser; {@linkcode RequestHeadParser} and
 * {@linkcode ResponseHeadParser} are its two faces, differing only in whether
 * empty lines before the start line are skipped (RFC 9112 §2.2, a server's
 * choice) and in how the complete head is read (`parse`). It holds the
 * limits, the end-of-head scan and the head buffer. The scan is a six-state
 * machine over bytes that also rejects bare CR and bare LF as it goes, so the
 * line splitter that runs afterwards can trust that every CR is followed by
 * LF.
 */
class HeadParser<T> {
  /** The largest head, in bytes, preamble included. */
  readonly maxHeadSize: number;
  /** The most header lines. */
  readonly maxHeaders: number;
  /** The scan state, one of the constants above. */
  #state: number;
  /** Bytes scanned so far, over all chunks (never more than `maxHeadSize`). */
  #scanned = 0;
  /**
   * The head bytes kept so far (the preamble is not kept); allocated only for
   * a head that spans chunks (one in a single chunk is parsed where it is).
   */
  #buffer: Uint8Array = EMPTY;
  #length = 0;
  /** The whole head, when it came in one chunk: a view of that chunk. */
  #whole: Uint8Array | null = null;
  /** Set once a push returned "done" or "error". */
  #spent = false;
  /** Reads the complete head: the request or the status line, then the fields. */
  readonly #parse: HeadParse<T>;

  constructor(limits: HeadLimits | undefined, skipPreamble: boolean, parse: HeadParse<T>) {
    const { maxHeadSize, maxHeaders } = readLimits(limits);
    this.maxHeadSize = maxHeadSize;
    this.maxHeaders = maxHeaders;
    this.#state = skipPreamble ? PREAMBLE : LINE_START;
    this.#parse = parse;
  }

  /** Back to a fresh request parser with the same limits (see {@linkcode parseWholeRequest}). */
  resetRequest(): void {
    this.#state = PREAMBLE;
    this.#scanned = this.#length = 0;
    this.#buffer = EMPTY;
    this.#whole = null;
    this.#spent = false;
  }

  /** See {@linkcode RequestHeadParser.push}. */
  push(chunk: Uint8Array): HeadResult<T> {
    const end = this.#scan(chunk);
    if (typeof end !== "number") return end;
    if (end === -1) return INCOMPLETE;
    return this.#finish(chunk, end);
  }

  /**
   * Scan `chunk` for the end of the head, keeping the head bytes.
   *
   * @returns The index in `chunk` just past the final CRLF CRLF, -1 when the
   * end has not been seen yet, or the failure.
   */
  #scan(chunk: Uint8Array): number | HeadFailure {
    if (this.#spent) {
      throw new TypeError("Cannot push: the head was already parsed");
    }
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot push: expected a Uint8Array, got ${describe(chunk)}`,
      );
    }
    // Never look past the limit, however large the chunk.
    const budget = this.maxHeadSize - this.#scanned;
    const stop = chunk.length < budget ? chunk.length : budget;
    let state = this.#state;
    // Index of the first byte of this chunk to keep; -1 while in the preamble.
    let keepFrom = state === PREAMBLE || state === PREAMBLE_CR ? -1 : 0;
    let i = 0;
    let end = -1;
    while (i < stop) {
      const byte = chunk[i];
      if (state === IN_LINE) {
        // The hot loop: most bytes are inside a line.
        if (byte === CR) state = LINE_CR;
        else if (byte === LF) return this.#fail(400, BARE_LF);
      } else if (state === LINE_START) {
        if (byte === CR) state = EMPTY_LINE_CR;
        else if (byte === LF) return this.#fail(400, BARE_LF);
        else state = IN_LINE;
      } else if (state === LINE_CR || state === PREAMBLE_CR) {
        // RFC 9112 §2.2: a CR not followed by LF is invalid.
        if (byte !== LF) return this.#fail(400, BARE_CR);
        state = state === LINE_CR ? LINE_START : PREAMBLE;
      } else if (state === EMPTY_LINE_CR) {
        if (byte !== LF) return this.#fail(400, BARE_CR);
        end = i + 1;
        break;
      } else { // PREAMBLE
        // RFC 9112 §2.2: a server "SHOULD ignore at least one empty line
        // (CRLF) received prior to the request-line".
        if (byte === CR) state = PREAMBLE_CR;
        else if (byte === LF) return this.#fail(400, BARE_LF);
        else {
          state = IN_LINE;
          keepFrom = i;
        }
      }
      i++;
    }
    const scannedTo = end === -1 ? stop : end;
    if (keepFrom !== -1 && keepFrom < scannedTo) {
      if (end !== -1 && this.#length === 0) this.#whole = chunk.subarray(keepFrom, scannedTo);
      else this.#keep(chunk.subarray(keepFrom, scannedTo));
    }
    this.#scanned += scannedTo;
    this.#state = state;
    if (end !== -1) return end;
    if (stop < chunk.length) {
      // The byte at `stop` would make the head longer than the limit.
      return this.#fail(
        431,
        `The head exceeds ${this.maxHeadSize} bytes`,
      );
    }
    return -1;
  }

  /** Parse the kept head and build the "done" or "error" result. */
  #finish(chunk: Uint8Array, end: number): HeadResult<T> {
    this.#spent = true;
    const parse = this.#parse;
    // Parsed at once (into strings), so a view of the caller's chunk is fine.
    const whole = this.#whole;
    const parsed = whole !== null
      ? parse(whole, whole.length, this.maxHeaders)
      : parse(this.#buffer, this.#length, this.maxHeaders);
    this.#buffer = EMPTY; // Release the head buffer: it is no longer needed.
    this.#whole = null;
    if (isFailure(parsed)) return parsed;
    // A copy (not `chunk.slice`, which is a view for a Node `Buffer`): the
    // caller may reuse `chunk`, a BYOB read buffer say, as soon as we return.
    // (Nothing after the head, the usual case: one shared empty array, which no one can write to.)
    const rest = chunk.length === end ? EMPTY : new Uint8Array(chunk.length - end);
    if (rest !== EMPTY) rest.set(chunk.subarray(end));
    return { state: "done", head: parsed, rest };
  }

  #fail(status: number, message: string): HeadFailure {
    this.#spent = true;
    this.#buffer = EMPTY;
    return failure(status, message);
  }

  /** Append `bytes` to the head buffer, doubling it as needed. */
  #keep(bytes: Uint8Array): void {
    const needed = this.#length + bytes.length;
    if (needed > this.#buffer.length) {
      // `needed` never exceeds maxHeadSize: the scan stops at the limit.
      let size = Math.max(this.#buffer.length * 2, Math.min(INITIAL_BUFFER_SIZE, this.maxHeadSize));
      if (size < needed) size = needed;
      if (size > this.maxHeadSize) size = this.maxHeadSize;
      const grown = new Uint8Array(size);
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(bytes, this.#length);
    this.#length = needed;
  }
}

const EMPTY = new Uint8Array(0);

/** The parser {@linkcode parseWholeRequest} reuses, and the limits it was made with. */
let wholeParser: HeadParser<RequestHead> | null = null;
let wholeLimits: Readonly<HeadLimits> | null = null;

/**
 * What {@linkcode RequestHeadParser.push} returns for `chunk` pushed first,
 * when `chunk` holds the whole head (or an error), else `null` (push it to a
 * parser of its own). A server's heads nearly always come whole in one chunk:
 * they are parsed by one parser reused for all of them, not two objects made
 * per connection. `limits` is frozen (what a server passes every time).
 */
export function parseWholeRequest(chunk: Uint8Array, limits: Readonly<HeadLimits>): HeadResult<RequestHead> | null {
  let parser = wholeParser;
  if (parser === null || wholeLimits !== limits) {
    parser = wholeParser = new HeadParser(limits, true, parseRequest);
    wholeLimits = limits;
  } else parser.resetRequest();
  const result = parser.push(chunk);
  if (result.state !== "incomplete") return result;
  parser.resetRequest(); // (It kept a copy of the partial head: let go of it now.)
  return null;
}

const BARE_LF = "A line ends with a bare LF; lines must end with CRLF (RFC 9112 §2.2)";
const BARE_CR = "A CR is not followed by LF (RFC 9112 §2.2)";

function isFailure<T>(value: T | HeadFailure): value is HeadFailure {
  return (value as { state?: unknown }).state === "error";
}

/** The limits object checked last, and what it gave: a server passes the same one for each connection. */
let lastLimits: HeadLimits | undefined = undefined;
let lastRead: { maxHeadSize: number; maxHeaders: number } | undefined = undefined;

/** Check and default the limits; unknown keys are a caller mistake. */
function readLimits(
  limits: HeadLimits | undefined,
): { maxHeadSize: number; maxHeaders: number } {
  // (A frozen object cannot have changed since it was checked; only frozen
  // ones are remembered, and frozen is for ever: no call to ask again.)
  if (limits !== undefined && limits === lastLimits) return lastRead!;
  const read = checkLimits(limits);
  if (limits !== undefined && Object.isFrozen(limits)) {
    lastLimits = limits;
    lastRead = read;
  }
  return read;
}

function checkLimits(
  limits: HeadLimits | undefined,
): { maxHeadSize: number; maxHeaders: number } {
  if (limits === undefined) {
    return {
      maxHeadSize: DEFAULT_MAX_HEAD_SIZE,
      maxHeaders: DEFAULT_MAX_HEADERS,
    };
  }
  if (typeof limits !== "object" || limits === null) {
    throw new TypeError(
      `Cannot create the head parser: limits must be an object, got ${describe(limits)}`,
    );
  }
  for (const key of Object.keys(limits)) {
    if (key !== "maxHeadSize" && key !== "maxHeaders") {
      throw new TypeError(
        `Cannot create the head parser: unknown limit ${quote(key)} (expected maxHeadSize or maxHeaders)`,
      );
    }
  }
  return {
    maxHeadSize: readLimit(limits.maxHeadSize, "maxHeadSize", 1) ??
      DEFAULT_MAX_HEAD_SIZE,
    maxHeaders: readLimit(limits.maxHeaders, "maxHeaders", 0) ??
      DEFAULT_MAX_HEADERS,
  };
}

function readLimit(
  value: unknown,
  name: string,
  min: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot create the head parser: ${name} must be a number, got ${describe(value)}`,
    );
  }
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `Cannot create the head parser: ${name} must be an integer of at least ${min}, got ${value}`,
    );
  }
  return value;
}

// ---------------------------------------------------------------------------
// Parsing a complete head. By now every CR is followed by LF and the head
// ends with CRLF CRLF, so lines are found by looking for CR alone.

/** A short description of a value of the wrong type, for messages. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") {
    return (value as object).constructor?.name ?? "an object";
  }
  return typeof value;
}

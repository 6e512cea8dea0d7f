/**
 * A sans-I/O, incremental parser for HTTP/1.1 message heads (RFC 9112), with
 * hard limits, and the two serializers that go with it. This is what runs
 * before the first WebSocket frame on a raw TCP connection:
 *
 * - a server reads the upgrade request head with {@linkcode RequestHeadParser}
 *   and writes its answer with {@linkcode serializeResponseHead};
 * - a client writes its upgrade request with {@linkcode serializeRequestHead}
 *   and reads the server's answer with {@linkcode ResponseHeadParser}.
 *
 * The parsers own no socket: the caller pushes whatever bytes arrived, in
 * chunks of any size, until the result is not `"incomplete"`:
 *
 * ```
 *   socket ──chunk──▶ parser.push(chunk) ─┬─ incomplete → read more, push again
 *                                         ├─ done  → head + rest (first frames)
 *                                         └─ error → answer `status`, close
 * ```
 *
 * Bytes that follow the head in the same chunk (a client may send its first
 * frames in the same packet as the request) come back in `rest`, untouched.
 *
 * How it stays cheap on hostile input:
 *
 * - Each byte is looked at once by the end-of-head scan, whatever the chunk
 *   sizes: the scan state survives between pushes, so a head trickled in one
 *   byte at a time costs the same as one pushed whole.
 * - Over {@linkcode DEFAULT_MAX_HEAD_SIZE} bytes (or `maxHeadSize`) without
 *   the end of the head is a 431 at the very byte that crosses the limit; no
 *   more than the limit is ever stored, and no more than that is ever scanned
 *   even when a single huge chunk is pushed.
 * - No regular expression ever sees the input (ws CVE-2021-32640 was a ReDoS
 *   in header parsing): plain loops over bytes, decoded as latin1.
 *
 * How strict it is (RFC 9112 lets a recipient choose; these choices close the
 * doors request smuggling goes through):
 *
 * - Lines end with CRLF only. A bare LF (RFC 9112 §2.2 allows, but does not
 *   require, accepting it) or a bare CR is a 400.
 * - The request line is `method SP request-target SP HTTP-version` with single
 *   spaces (§3); the status line is `HTTP-version SP 3DIGIT SP reason` (§4),
 *   with the reason and even the space before it allowed to be missing.
 * - Only `HTTP/1.1` and `HTTP/1.0` are accepted; another well-formed version
 *   is a 505, a malformed one a 400 (§2.3, case-sensitive).
 * - No whitespace between a field name and its colon (§5.1), no obsolete line
 *   folding (§5.2), no control characters but HTAB in a field value (RFC 9110
 *   §5.5): all 400.
 * - A request must carry exactly one `Host` header when it is HTTP/1.1, and
 *   at most one otherwise (§3.2): 400. Several `Host` lines would be joined
 *   by `Headers` into one value and could not be told apart later.
 * - Empty lines before a request line are skipped, as §2.2 says a server
 *   SHOULD; they count towards `maxHeadSize`.
 *
 * The parsers interpret no header but `Host`: checking the WebSocket
 * handshake is `validateRequest`/`validateResponse`'s job (`handshake.ts`),
 * and neither `Content-Length` nor `Transfer-Encoding` means anything for an
 * upgrade.
 *
 * @example A server reading an upgrade request
 * ```ts ignore
 * const parser = new RequestHeadParser();
 * let result = parser.push(firstChunk);
 * while (result.state === "incomplete") {
 *   result = parser.push(await readChunk());
 * }
 * if (result.state === "error") {
 *   // An empty reason phrase is valid (RFC 9112 §4).
 *   await write(serializeResponseHead(result.status, "", new Headers({ Connection: "close" })));
 * } else {
 *   const { head, rest } = result; // rest: the first frames, if any
 * }
 * ```
 *
 * @module
 */

import { isToken, quote, TCHAR } from "./syntax.ts";
import { asciiSlice } from "./utf8.ts";

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

/** The head of an HTTP/1.x request, as {@linkcode RequestHeadParser} returns it. */
export interface RequestHead {
  /** The method, case preserved (`"GET"`). A token (RFC 9110 §9). */
  method: string;
  /** The request target as sent (`"/chat?room=1"`), printable ASCII only. */
  target: string;
  /** The protocol version of the request line. */
  version: "HTTP/1.1" | "HTTP/1.0";
  /**
   * The header fields. Repeated fields are joined with `", "` by `Headers`;
   * `Set-Cookie` lines stay apart in `getSetCookie()`. Made from
   * {@linkcode RequestHead.fields} when first read.
   */
  readonly headers: Headers;
  /**
   * The header lines in order, as `[name, value]` pairs (what `new Request`
   * and `new Headers` take). Common names (`host`, `upgrade`,
   * `sec-websocket-key`, …) are given in lower case, as one shared string
   * each; others as sent.
   */
  readonly fields: ReadonlyArray<[string, string]>;
}

/** The head of an HTTP/1.x response, as {@linkcode ResponseHeadParser} returns it. */
export interface ResponseHead {
  /** The status code, 100 to 999 (`101`). */
  status: number;
  /** The reason phrase, possibly empty (`"Switching Protocols"`), latin1-decoded. */
  statusText: string;
  /** The protocol version of the status line. */
  version: "HTTP/1.1" | "HTTP/1.0";
  /**
   * The header fields. Repeated fields are joined with `", "` by `Headers`;
   * `Set-Cookie` lines stay apart in `getSetCookie()`.
   */
  headers: Headers;
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

/**
 * Serialize a response head: `HTTP/1.1 <status> <statusText>\r\n`, one line
 * per header, then an empty line (RFC 9112 §4, §5). Header names are written
 * in the usual capitalization (`Sec-Websocket-Accept`; names are
 * case-insensitive, RFC 9110 §5.1); each `Set-Cookie` gets its own line.
 *
 * Everything is validated, so that no header can be injected: the output is
 * always accepted by {@linkcode ResponseHeadParser} with the same values.
 *
 * @param status The status code, an integer from 100 to 999.
 * @param statusText The reason phrase, possibly empty: SP, HTAB, visible
 * ASCII and U+0080–U+00FF (written as latin1 bytes).
 * @param headers The header fields.
 * @returns The bytes of the head, ending with CRLF CRLF.
 * @throws {TypeError} If the status is out of range, or the reason phrase,
 * a header name or a header value has a character that cannot appear there
 * (CR, LF, NUL, another control character, a character above U+00FF; a
 * name that is not a token).
 *
 * @example
 * ```ts
 * import { serializeResponseHead } from "./http1.ts";
 *
 * const bytes = serializeResponseHead(101, "Switching Protocols", new Headers({
 *   Upgrade: "websocket",
 *   Connection: "Upgrade",
 *   "Sec-WebSocket-Accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
 * }));
 * // "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n
 * //  Sec-Websocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nUpgrade: websocket\r\n\r\n"
 * const text = new TextDecoder().decode(bytes);
 * if (!text.startsWith("HTTP/1.1 101 Switching Protocols\r\n") || !text.endsWith("\r\n\r\n")) throw new Error(text);
 * ```
 */
export function serializeResponseHead(
  status: number,
  statusText: string,
  headers: Headers,
): Uint8Array {
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new TypeError(
      `Cannot serialize the response head: the status must be an integer from 100 to 999, got ${String(status)}`,
    );
  }
  if (typeof statusText !== "string" || !isFieldText(statusText)) {
    throw new TypeError(
      "Cannot serialize the response head: the status text may only contain SP, HTAB, visible ASCII and U+0080–U+00FF",
    );
  }
  return encodeHead(
    `HTTP/1.1 ${status} ${statusText}\r\n`,
    headers,
    "response",
  );
}

/**
 * Serialize a request head: `<method> <target> HTTP/1.1\r\n`, one line per
 * header, then an empty line (RFC 9112 §3, §5). Header names are written in
 * the usual capitalization (`Sec-Websocket-Key`); each `Set-Cookie` gets its
 * own line. The caller supplies `Host` (RFC 9112 §3.2 requires it).
 *
 * Everything is validated, so that no header can be injected: the output is
 * always accepted by {@linkcode RequestHeadParser} with the same values
 * (given a `Host` header).
 *
 * @param method The method, a token (RFC 9110 §9).
 * @param target The request target (`"/chat?x=1"`): printable ASCII,
 * without spaces; percent-encode anything else.
 * @param headers The header fields.
 * @returns The bytes of the head, ending with CRLF CRLF.
 * @throws {TypeError} If the method is not a token, the target is empty or
 * has a character outside U+0021–U+007E, or a header name or value has a
 * character that cannot appear there (as for
 * {@linkcode serializeResponseHead}).
 *
 * @example
 * ```ts
 * import { serializeRequestHead } from "./http1.ts";
 *
 * const bytes = serializeRequestHead("GET", "/chat", new Headers({
 *   Host: "example.com",
 *   Upgrade: "websocket",
 *   Connection: "Upgrade",
 *   "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
 *   "Sec-WebSocket-Version": "13",
 * }));
 * // begins with "GET /chat HTTP/1.1\r\nConnection: Upgrade\r\nHost: example.com\r\n"
 * const text = new TextDecoder().decode(bytes);
 * if (!text.startsWith("GET /chat HTTP/1.1\r\nConnection: Upgrade\r\nHost: example.com\r\n")) throw new Error(text);
 * ```
 */
export function serializeRequestHead(
  method: string,
  target: string,
  headers: Headers,
): Uint8Array {
  if (typeof method !== "string" || !isToken(method)) {
    throw new TypeError(
      `Cannot serialize the request head: the method must be a token, got ${quote(String(method))}`,
    );
  }
  if (typeof target !== "string" || !isTargetString(target)) {
    throw new TypeError(
      "Cannot serialize the request head: the target must be non-empty printable ASCII without spaces (U+0021–U+007E)",
    );
  }
  return encodeHead(`${method} ${target} HTTP/1.1\r\n`, headers, "request");
}

// ---------------------------------------------------------------------------
// The parser both public faces share.

const HTAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const COLON = 0x3a;
const DEL = 0x7f;

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

type HeadFailure = { state: "error"; status: number; message: string };

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
    const rest = new Uint8Array(chunk.length - end);
    rest.set(chunk.subarray(end));
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

const BARE_LF = "A line ends with a bare LF; lines must end with CRLF (RFC 9112 §2.2)";
const BARE_CR = "A CR is not followed by LF (RFC 9112 §2.2)";

function isFailure<T>(value: T | HeadFailure): value is HeadFailure {
  return (value as { state?: unknown }).state === "error";
}

/** Check and default the limits; unknown keys are a caller mistake. */
function readLimits(
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

/** Parse a request head (RFC 9112 §3 request line, then §5 fields). */
function parseRequest(
  buffer: Uint8Array,
  length: number,
  maxHeaders: number,
): RequestHead | HeadFailure {
  const lineEnd = buffer.indexOf(CR);
  // RFC 9112 §3: request-line = method SP request-target SP HTTP-version.
  // Single spaces only: anything else is a 400 (§3, "no whitespace is
  // allowed in the three components").
  let i = 0;
  while (i < lineEnd && TCHAR[buffer[i]] === 1) i++;
  if (i === 0 || i === lineEnd || buffer[i] !== SPACE) {
    return failure(
      400,
      "The request line must start with a method token and a single space (RFC 9112 §3)",
    );
  }
  const method = latin1(buffer, 0, i);
  const targetStart = ++i;
  // RFC 9112 §3.2: the request-target forms are made of URI characters,
  // all printable ASCII; no whitespace, no control characters.
  while (i < lineEnd && buffer[i] > SPACE && buffer[i] < DEL) i++;
  if (i === targetStart) {
    return failure(
      400,
      "The request target is missing or preceded by more than one space (RFC 9112 §3)",
    );
  }
  if (i === lineEnd) {
    return failure(
      400,
      "The request line has no HTTP version (RFC 9112 §3)",
    );
  }
  if (buffer[i] !== SPACE) {
    return failure(
      400,
      "The request target contains a control character, a non-ASCII byte or a tab (RFC 9112 §3.2)",
    );
  }
  const target = latin1(buffer, targetStart, i);
  const version = parseVersion(buffer, i + 1, lineEnd);
  if (typeof version !== "string") return version;
  const fields: Array<[string, string]> = [];
  const failed = parseFields(
    buffer,
    lineEnd + 2,
    length,
    maxHeaders,
    fields,
    true,
  );
  if (failed !== null) return failed;
  // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status
  // code to any HTTP/1.1 request message that lacks a Host header field and
  // to any request message that contains more than one Host header field".
  if (version === "HTTP/1.1" && !hasHost(fields)) {
    return failure(
      400,
      "An HTTP/1.1 request must have a Host header (RFC 9112 §3.2)",
    );
  }
  return new ParsedRequestHead(method, target, version, fields);
}

/** A {@linkcode RequestHead} whose `headers` are made when first read. */
class ParsedRequestHead implements RequestHead {
  readonly method: string;
  readonly target: string;
  readonly version: "HTTP/1.1" | "HTTP/1.0";
  readonly fields: Array<[string, string]>;
  #headers: Headers | undefined;

  constructor(method: string, target: string, version: "HTTP/1.1" | "HTTP/1.0", fields: Array<[string, string]>) {
    this.method = method;
    this.target = target;
    this.version = version;
    this.fields = fields;
  }

  get headers(): Headers {
    return this.#headers ??= new Headers(this.fields);
  }
}

function hasHost(fields: Array<[string, string]>): boolean {
  for (let i = 0; i < fields.length; i++) if (fields[i][0] === HOST) return true;
  return false;
}

/** Parse a response head (RFC 9112 §4 status line, then §5 fields). */
function parseResponse(
  buffer: Uint8Array,
  length: number,
  maxHeaders: number,
): ResponseHead | HeadFailure {
  const lineEnd = buffer.indexOf(CR);
  // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
  // where a missing "SP" before an empty reason is tolerated, as clients do.
  const versionEnd = lineEnd < 8 ? lineEnd : 8;
  const version = parseVersion(buffer, 0, versionEnd);
  if (typeof version !== "string") return version;
  if (
    lineEnd < 12 || buffer[8] !== SPACE || !isStatusDigits(buffer, 9) ||
    (lineEnd > 12 && buffer[12] !== SPACE)
  ) {
    return failure(
      400,
      "The status line must be an HTTP version, a space and a three-digit status from 100 to 999 (RFC 9112 §4)",
    );
  }
  const status = (buffer[9] - 0x30) * 100 + (buffer[10] - 0x30) * 10 +
    (buffer[11] - 0x30);
  // RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ).
  const reasonStart = lineEnd > 12 ? 13 : 12;
  for (let i = reasonStart; i < lineEnd; i++) {
    if (!isFieldByte(buffer[i])) {
      return failure(
        400,
        "The reason phrase contains a control character (RFC 9112 §4)",
      );
    }
  }
  const statusText = latin1(buffer, reasonStart, lineEnd);
  const fields: Array<[string, string]> = [];
  const failed = parseFields(
    buffer,
    lineEnd + 2,
    length,
    maxHeaders,
    fields,
    false,
  );
  if (failed !== null) return failed;
  const headers = new Headers(fields);
  return { status, statusText, version, headers };
}

/**
 * Check `buffer[start, end)` as an HTTP-version (RFC 9112 §2.3:
 * `HTTP-name "/" DIGIT "." DIGIT`, case-sensitive): 1.0 and 1.1 are
 * accepted, another well-formed version is a 505, anything else a 400.
 */
function parseVersion(
  buffer: Uint8Array,
  start: number,
  end: number,
): "HTTP/1.1" | "HTTP/1.0" | HeadFailure {
  if (
    end - start !== 8 || buffer[start] !== 0x48 || // H
    buffer[start + 1] !== 0x54 || buffer[start + 2] !== 0x54 || // T T
    buffer[start + 3] !== 0x50 || buffer[start + 4] !== 0x2f || // P /
    !isDigit(buffer[start + 5]) || buffer[start + 6] !== 0x2e || // .
    !isDigit(buffer[start + 7])
  ) {
    return failure(
      400,
      'Malformed HTTP version, expected "HTTP/1.1" (RFC 9112 §2.3)',
    );
  }
  if (buffer[start + 5] === 0x31) {
    if (buffer[start + 7] === 0x31) return "HTTP/1.1";
    if (buffer[start + 7] === 0x30) return "HTTP/1.0";
  }
  return failure(
    505,
    "Only HTTP/1.1 and HTTP/1.0 are supported",
  );
}

/**
 * Parse the field lines in `buffer[start, length)` into `fields` (RFC 9112
 * §5). Returns `null` on success or the failure.
 */
function parseFields(
  buffer: Uint8Array,
  start: number,
  length: number,
  maxHeaders: number,
  fields: Array<[string, string]>,
  countHost: boolean,
): HeadFailure | null {
  let count = 0;
  let hosts = 0;
  let lineStart = start;
  // The last line is the empty one of the final CRLF CRLF.
  while (lineStart < length - 2) {
    const lineEnd = buffer.indexOf(CR, lineStart);
    count++;
    if (count > maxHeaders) {
      return failure(
        431,
        `More than ${maxHeaders} header lines`,
      );
    }
    const first = buffer[lineStart];
    if (first === SPACE || first === HTAB) {
      // RFC 9112 §5.2: obs-fold is rejected with a 400 (or replaced by SP;
      // we reject). §2.2: whitespace before the first field line likewise.
      return failure(
        400,
        `Header line ${count} starts with whitespace (obsolete line folding, RFC 9112 §5.2)`,
      );
    }
    // RFC 9110 §5.1: field-name = token.
    let i = lineStart;
    while (i < lineEnd && TCHAR[buffer[i]] === 1) i++;
    if (i === lineEnd) {
      return failure(
        400,
        `Header line ${count} has no colon (RFC 9112 §5)`,
      );
    }
    if (buffer[i] !== COLON) {
      const byte = buffer[i];
      return failure(
        400,
        byte === SPACE || byte === HTAB
          ? `Header line ${count} has whitespace before the colon (RFC 9112 §5.1)`
          : `header line ${count} has a field name that is not a token (RFC 9110 §5.1)`,
      );
    }
    if (i === lineStart) {
      return failure(
        400,
        `Header line ${count} has an empty field name (RFC 9110 §5.1)`,
      );
    }
    const nameEnd = i;
    // RFC 9112 §5: field-line = field-name ":" OWS field-value OWS.
    i++;
    while (i < lineEnd && (buffer[i] === SPACE || buffer[i] === HTAB)) i++;
    const valueStart = i;
    let valueEnd = i;
    for (; i < lineEnd; i++) {
      const byte = buffer[i];
      // RFC 9110 §5.5: field-vchar = VCHAR / obs-text, with SP and HTAB
      // inside; NUL and other controls are invalid (CR and LF cannot be
      // here: the line ends at the first CR).
      if (!isFieldByte(byte)) {
        return failure(
          400,
          `Header line ${count} has a control character in its value (RFC 9110 §5.5)`,
        );
      }
      if (byte !== SPACE && byte !== HTAB) valueEnd = i + 1;
    }
    const name = commonName(buffer, lineStart, nameEnd) ?? latin1(buffer, lineStart, nameEnd);
    if (countHost && name === HOST) {
      hosts++;
      if (hosts > 1) {
        return failure(
          400,
          "More than one Host header (RFC 9112 §3.2)",
        );
      }
    }
    fields.push([name, latin1(buffer, valueStart, valueEnd)]);
    lineStart = lineEnd + 2;
  }
  return null;
}

function failure(status: number, message: string): HeadFailure {
  return { state: "error", status, message };
}

const HOST = "host";

/**
 * Field names common in upgrade requests and answers, lower case, by length:
 * a connection's head then holds one shared string per such name instead of
 * a copy of its own.
 */
const COMMON_NAMES: ReadonlyArray<readonly string[] | undefined> = (() => {
  const byLength: string[][] = [];
  for (
    const name of [
      HOST,
      "upgrade",
      "connection",
      "origin",
      "user-agent",
      "accept",
      "accept-encoding",
      "accept-language",
      "cache-control",
      "pragma",
      "cookie",
      "authorization",
      "content-length",
      "transfer-encoding",
      "sec-websocket-key",
      "sec-websocket-version",
      "sec-websocket-extensions",
      "sec-websocket-protocol",
      "sec-websocket-accept",
      "x-forwarded-for",
      "x-forwarded-proto",
      "x-real-ip",
      "date",
      "server",
      "content-type",
    ]
  ) (byLength[name.length] ??= []).push(name);
  return byLength;
})();

/**
 * The shared lower-case string of the field name at `buffer[start, end)` if
 * it is a common one (compared case-insensitively), else `undefined`. The
 * names are letters and `-`: `byte | 0x20` folds exactly the upper-case
 * letters onto them (the name is a token, so no CR is there).
 */
function commonName(buffer: Uint8Array, start: number, end: number): string | undefined {
  const candidates = COMMON_NAMES[end - start];
  if (candidates === undefined) return undefined;
  next: for (const name of candidates) {
    for (let i = 0; i < name.length; i++) {
      if ((buffer[start + i] | 0x20) !== name.charCodeAt(i)) continue next;
    }
    return name;
  }
  return undefined;
}

/** Three digits at `buffer[at, at + 3)`, the first one 1 to 9. */
function isStatusDigits(buffer: Uint8Array, at: number): boolean {
  return buffer[at] >= 0x31 && buffer[at] <= 0x39 &&
    isDigit(buffer[at + 1]) && isDigit(buffer[at + 2]);
}

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

/** HTAB, SP, VCHAR or obs-text: the bytes of a field value or reason. */
function isFieldByte(byte: number): boolean {
  return byte === HTAB || (byte >= SPACE && byte !== DEL);
}

/** Decode `buffer[start, end)` as latin1: each byte one UTF-16 code unit. */
function latin1(buffer: Uint8Array, start: number, end: number): string {
  // ASCII (nearly every head): the runtime's decoder, if it has one, makes
  // the string at once, without the argument list below.
  const ascii = asciiSlice(buffer, start, end);
  if (ascii !== null) return ascii;
  // Bounded pieces: an argument list has a size limit in every engine.
  const PIECE = 4096;
  let s = "";
  for (let at = start; at < end; at += PIECE) {
    const stop = end - at < PIECE ? end : at + PIECE;
    s += String.fromCharCode.apply(
      null,
      buffer.subarray(at, stop) as unknown as number[],
    );
  }
  return s;
}

// ---------------------------------------------------------------------------
// Serializing.

/** Append the header lines and the final CRLF to `startLine`, then encode. */
function encodeHead(
  startLine: string,
  headers: Headers,
  kind: "request" | "response",
): Uint8Array {
  let text = startLine;
  const setCookies = typeof headers?.getSetCookie === "function" ? headers.getSetCookie() : null;
  let cookiesWritten = false;
  for (const [name, value] of headers) {
    if (setCookies !== null && name.toLowerCase() === "set-cookie") {
      // Each cookie on its own line (RFC 6265 §3: never folded into one),
      // whether or not this `Headers` iterates them one by one.
      if (cookiesWritten) continue;
      cookiesWritten = true;
      for (const cookie of setCookies) {
        text += headerLine("set-cookie", cookie, kind);
      }
      continue;
    }
    text += headerLine(name, value, kind);
  }
  text += "\r\n";
  // Latin1: every character is below U+0100, checked above.
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** One `Name: value\r\n` line, after checking both. */
function headerLine(
  name: string,
  value: string,
  kind: "request" | "response",
): string {
  if (typeof name !== "string" || !isToken(name)) {
    throw new TypeError(
      `Cannot serialize the ${kind} head: header name ${quote(String(name))} is not a token`,
    );
  }
  if (typeof value !== "string" || !isFieldText(value)) {
    throw new TypeError(
      `Cannot serialize the ${kind} head: the value of header ${
        quote(name)
      } may only contain SP, HTAB, visible ASCII and U+0080–U+00FF (no CR, LF, NUL or other control characters)`,
    );
  }
  return `${canonicalName(name)}: ${value}\r\n`;
}

/** "sec-websocket-key" → "Sec-Websocket-Key". */
function canonicalName(name: string): string {
  let canonical = canonicalNames.get(name);
  if (canonical === undefined) {
    canonical = "";
    let upper = true;
    for (let i = 0; i < name.length; i++) {
      const c = name[i];
      canonical += upper ? c.toUpperCase() : c.toLowerCase();
      upper = c === "-";
    }
    // Names repeat from head to head: remembered, up to a bound.
    if (canonicalNames.size < MAX_CANONICAL_NAMES) canonicalNames.set(name, canonical);
  }
  return canonical;
}

/** Canonical spellings already made, by the name as given. */
const canonicalNames = new Map<string, string>();
const MAX_CANONICAL_NAMES = 512;

/** Non-empty printable ASCII without spaces: a request target. */
function isTargetString(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code <= SPACE || code >= DEL) return false;
  }
  return true;
}

/** SP, HTAB, VCHAR and U+0080–U+00FF only: a field value or a reason. */
function isFieldText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code > 0xff || !isFieldByte(code)) return false;
  }
  return true;
}

/** A short description of a value of the wrong type, for messages. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") {
    return (value as object).constructor?.name ?? "an object";
  }
  return typeof value;
}

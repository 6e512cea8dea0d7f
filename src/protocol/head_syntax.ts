/**
 * Reading a complete HTTP/1.x message head (RFC 9112 §2.3–§5): the request
 * line, the status line and the field lines, from a buffer that the
 * end-of-head scan of `head_parser.ts` has already checked (every CR is
 * followed by LF, and it ends with CRLF CRLF), so lines are found by looking
 * for CR alone. Also the byte classes the serializers share.
 *
 * `http1.ts` is the public face; this module is its syntax half.
 *
 * @module
 */

import { TCHAR } from "./syntax.ts";
import { asciiSlice } from "./utf8.ts";

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

/** A parse failure: the status a server answers and what was wrong. */
export type HeadFailure = { state: "error"; status: number; message: string };

/** HTAB. */
export const HTAB = 0x09;
/** LF. */
export const LF = 0x0a;
/** CR. */
export const CR = 0x0d;
/** SP. */
export const SPACE = 0x20;
const COLON = 0x3a;
/** DEL, the one control character above SP. */
export const DEL = 0x7f;

/** Parse a request head (RFC 9112 §3 request line, then §5 fields). */
export function parseRequest(
  buffer: Uint8Array,
  length: number,
  maxHeaders: number,
): RequestHead | HeadFailure {
  const lineEnd = indexOfCR(buffer, 0);
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
  const version = parseVersion(buffer, i + 1, lineEnd);
  if (typeof version !== "string") return version;
  // The whole head decoded at once, and its parts sliced out of it: one call
  // into the runtime's decoder per head rather than one per method, target,
  // name and value (bench/RESULTS.md, "Sixth round, Bun").
  const text = latin1(buffer, 0, length);
  const method = text.slice(0, targetStart - 1);
  const target = text.slice(targetStart, i);
  const fields: string[] = [];
  const failed = parseFields(
    buffer,
    text,
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
  return new ParsedRequestHead(method, target, version, fields, text, lineEnd + 2);
}

/**
 * A {@linkcode RequestHead} whose `headers` and `fields` are made when first
 * read: the parser keeps the fields as one list of names and values (no
 * `[name, value]` array per field), and the head's text.
 */
class ParsedRequestHead implements RequestHead {
  readonly method: string;
  readonly target: string;
  readonly version: "HTTP/1.1" | "HTTP/1.0";
  /** `[name, value, name, value, …]`. */
  readonly list: readonly string[];
  /** The head as text, and where its field lines start. */
  readonly text: string;
  readonly fieldsStart: number;
  #headers: Headers | undefined;
  #fields: Array<[string, string]> | undefined;

  constructor(
    method: string,
    target: string,
    version: "HTTP/1.1" | "HTTP/1.0",
    list: readonly string[],
    text: string,
    fieldsStart: number,
  ) {
    this.method = method;
    this.target = target;
    this.version = version;
    this.list = list;
    this.text = text;
    this.fieldsStart = fieldsStart;
  }

  get headers(): Headers {
    return this.#headers ??= headersOf(this.list);
  }

  get fields(): ReadonlyArray<[string, string]> {
    if (this.#fields === undefined) {
      const list = this.list, fields: Array<[string, string]> = [];
      for (let i = 0; i < list.length; i += 2) fields.push([list[i], list[i + 1]]);
      this.#fields = fields;
    }
    return this.#fields;
  }
}

/**
 * The header fields of `head` as one list, `[name, value, name, value, …]`
 * (the parser's own list: no array per field). For this library's backends.
 */
export function fieldList(head: RequestHead): readonly string[] {
  if (head instanceof ParsedRequestHead) return head.list;
  const list: string[] = [];
  for (const [name, value] of head.fields) list.push(name, value);
  return list;
}

/**
 * The header lines of `head` as text, `name: value` joined by CRLF, as they
 * came (names as sent, whitespace around values kept): a slice of the head's
 * own text, not a string built per field. For this library's backends.
 */
export function fieldText(head: RequestHead): string {
  if (!(head instanceof ParsedRequestHead)) return head.fields.map(([name, value]) => `${name}: ${value}`).join("\r\n");
  const { text, fieldsStart } = head;
  // Without the CRLF that ends the last line and the empty line after it.
  return text.length - 4 > fieldsStart ? text.slice(fieldsStart, text.length - 4) : "";
}

/** A `Headers` of `[name, value, name, value, …]`. */
function headersOf(list: readonly string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i < list.length; i += 2) headers.append(list[i], list[i + 1]);
  return headers;
}

function hasHost(fields: readonly string[]): boolean {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === HOST) return true;
  return false;
}

/** Parse a response head (RFC 9112 §4 status line, then §5 fields). */
export function parseResponse(
  buffer: Uint8Array,
  length: number,
  maxHeaders: number,
): ResponseHead | HeadFailure {
  const lineEnd = indexOfCR(buffer, 0);
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
  const text = latin1(buffer, 0, length);
  const statusText = text.slice(reasonStart, lineEnd);
  const fields: string[] = [];
  const failed = parseFields(
    buffer,
    text,
    lineEnd + 2,
    length,
    maxHeaders,
    fields,
    false,
  );
  if (failed !== null) return failed;
  const headers = headersOf(fields);
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
 * Parse the field lines in `buffer[start, length)` into `fields`, names and
 * values one after the other (RFC 9112 §5), sliced out of `text` (the head as
 * a string). Returns `null` on success or the failure.
 */
function parseFields(
  buffer: Uint8Array,
  text: string,
  start: number,
  length: number,
  maxHeaders: number,
  fields: string[],
  countHost: boolean,
): HeadFailure | null {
  let count = 0;
  let hosts = 0;
  let lineStart = start;
  // The last line is the empty one of the final CRLF CRLF.
  while (lineStart < length - 2) {
    const lineEnd = indexOfCR(buffer, lineStart);
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
    const name = commonName(buffer, lineStart, nameEnd) ?? text.slice(lineStart, nameEnd);
    if (countHost && name === HOST) {
      hosts++;
      if (hosts > 1) {
        return failure(
          400,
          "More than one Host header (RFC 9112 §3.2)",
        );
      }
    }
    fields.push(name, text.slice(valueStart, valueEnd));
    lineStart = lineEnd + 2;
  }
  return null;
}

/**
 * The index of the first CR at or after `from` (-1 if none): a loop rather
 * than `indexOf`, which on a Node `Buffer` (what a socket's chunk is) is a
 * call into C++ and an allocation per line.
 */
function indexOfCR(buffer: Uint8Array, from: number): number {
  const length = buffer.length;
  for (let i = from; i < length; i++) if (buffer[i] === CR) return i;
  return -1;
}

/** The `"error"` result for `status`, saying `message`. */
export function failure(status: number, message: string): HeadFailure {
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
export function isFieldByte(byte: number): boolean {
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

/**
 * The two head serializers, {@linkcode serializeRequestHead} and
 * {@linkcode serializeResponseHead}: every name, value and start-line part
 * is checked, so that no header can be injected, and the output is always
 * accepted by the parsers of `head_parser.ts` with the same values.
 * `http1.ts` re-exports them.
 *
 * @module
 */

import { isBase64Char, isToken, quote } from "./syntax.ts";
import { DEL, isFieldByte, SPACE } from "./head_syntax.ts";

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
 * @param headers The header fields: a `Headers`, or a record of one value
 * per name (each written on one line, in the record's order).
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
  headers: Headers | Readonly<Record<string, string>>,
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
  if (status === 101 && statusText === "Switching Protocols" && !isIterable(headers)) {
    const head = switchingProtocols(headers);
    if (head !== null) return head;
  }
  return encodeHead(
    `HTTP/1.1 ${status} ${statusText}\r\n`,
    headers,
    "response",
  );
}

/** Whether `headers` is a `Headers`-like object (iterable), not a record of fields. */
function isIterable(headers: Headers | Readonly<Record<string, string>>): headers is Headers {
  return typeof (headers as Partial<Iterable<unknown>>)[Symbol.iterator] === "function";
}

/** The fixed start of a server's 101 answer, up to its accept key. */
const SWITCHING_PREFIX = latin1Bytes(
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-Websocket-Accept: ",
);
const ACCEPT_LENGTH = 28;

/**
 * The bytes {@linkcode encodeHead} makes of a server's own 101 record (what
 * `createServerResponseFields` returns: `upgrade`, `connection` and
 * `sec-websocket-accept` first, in that order, with their usual values), the
 * fixed part copied from prebuilt bytes: on every handshake, building and
 * checking those lines one character at a time was a measurable share of
 * the JavaScript (bench/RESULTS.md, "Third round, Node"). `null` for any
 * other record (written the general way). What follows the accept key (a
 * subprotocol, extensions) is checked and written as usual.
 */
function switchingProtocols(fields: Readonly<Record<string, string>>): Uint8Array | null {
  let count = 0;
  let accept = "";
  let rest = "";
  for (const name in fields) {
    const value = fields[name];
    if (count === 0) {
      if (name !== "upgrade" || value !== "websocket") return null;
    } else if (count === 1) {
      if (name !== "connection" || value !== "Upgrade") return null;
    } else if (count === 2) {
      if (name !== "sec-websocket-accept" || !isAcceptValue(value)) return null;
      accept = value;
    } else rest += headerLine(name, value, "response");
    count++;
  }
  if (count < 3) return null;
  rest += "\r\n";
  const out = new Uint8Array(SWITCHING_PREFIX.length + ACCEPT_LENGTH + 2 + rest.length);
  out.set(SWITCHING_PREFIX);
  let at = SWITCHING_PREFIX.length;
  for (let i = 0; i < ACCEPT_LENGTH; i++) out[at++] = accept.charCodeAt(i);
  out[at++] = 0x0d;
  out[at++] = 0x0a;
  for (let i = 0; i < rest.length; i++) out[at++] = rest.charCodeAt(i);
  return out;
}

/** 27 base64 characters and a pad: the shape of every `Sec-WebSocket-Accept` (the base64 of 20 bytes). */
function isAcceptValue(value: string): boolean {
  if (value.length !== ACCEPT_LENGTH || value.charCodeAt(ACCEPT_LENGTH - 1) !== 0x3d) return false;
  for (let i = 0; i < ACCEPT_LENGTH - 1; i++) if (!isBase64Char(value.charCodeAt(i))) return false;
  return true;
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

/**
 * Append the header lines and the final CRLF to `startLine`, then encode.
 * `headers` may also be a record of single-line fields (what the server's
 * own 101 answer is made of), which costs less than iterating a `Headers`
 * (that sorts and combines its list first).
 */
function encodeHead(
  startLine: string,
  headers: Headers | Readonly<Record<string, string>>,
  kind: "request" | "response",
): Uint8Array {
  let text = startLine;
  // (A Headers-like object is iterable; a record of fields is not.)
  if (!isIterable(headers)) {
    const fields = headers as Readonly<Record<string, string>>;
    for (const name in fields) text += headerLine(name, fields[name], kind);
    return latin1Bytes(text + "\r\n");
  }
  headers = headers as Headers;
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
  return latin1Bytes(text + "\r\n");
}

/** The bytes of a head whose every character is below U+0100 (checked by {@linkcode headerLine}). */
function latin1Bytes(text: string): Uint8Array {
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

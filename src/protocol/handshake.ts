/**
 * The WebSocket opening handshake (RFC 6455 §4) as pure functions over
 * `Headers`: no I/O, no timers.
 *
 * - A server checks an upgrade request with {@linkcode validateRequest},
 *   picks a subprotocol with {@linkcode selectProtocol} and answers with
 *   {@linkcode createServerResponseHeaders}.
 * - A client builds its request with {@linkcode createClientRequestHeaders}
 *   (using a key from {@linkcode generateKey}) and checks the server's answer
 *   with {@linkcode validateResponse}.
 *
 * Header lists are parsed by a single linear loop over the characters
 * ({@linkcode parseTokenList}); no regular expression ever sees a header
 * value (ws CVE-2021-32640 was a ReDoS in exactly this place).
 *
 * @example
 * ```ts
 * import { createServerResponseHeaders, selectProtocol, validateRequest } from "@x/wsd/server";
 *
 * function answer(request: Request): Response {
 *   const check = validateRequest(request.method, request.headers);
 *   if (!check.ok) {
 *     return new Response(check.message, { status: check.status, headers: check.headers });
 *   }
 *   const protocol = selectProtocol(check.protocols, ["chat"]);
 *   return new Response(null, { status: 101, headers: createServerResponseHeaders(check.key, protocol) });
 * }
 * const refused = answer(new Request("http://localhost/", { method: "POST" }));
 * if (refused.status !== 405 || refused.headers.get("allow") !== "GET") throw new Error("expected 405");
 * ```
 *
 * @module
 */

import { parseExtensions } from "./extensions.ts";
import { sha1, sha1Base64 } from "./sha1.ts";
import { base64, isBase64Char, isToken, quote } from "./syntax.ts";
import { utf8Encoder } from "./utf8.ts";

export { isToken };

/**
 * The GUID that RFC 6455 §1.3 appends to `Sec-WebSocket-Key` before hashing
 * it into `Sec-WebSocket-Accept`.
 *
 * @example
 * ```ts
 * import { WEBSOCKET_GUID } from "./handshake.ts";
 *
 * if (WEBSOCKET_GUID !== "258EAFA5-E914-47DA-95CA-C5AB0DC85B11") throw new Error("RFC 6455 §1.3");
 * ```
 */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The only protocol version this library speaks (RFC 6455 §4.1, §11.6). */
const WEBSOCKET_VERSION = "13";

/** Handshake headers a server's `additionalHeaders` must not set. */
const SERVER_RESERVED_HEADERS: readonly string[] = [
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
];

/** Handshake headers a client's `additionalHeaders` must not set. */
const CLIENT_RESERVED_HEADERS: readonly string[] = [
  ...SERVER_RESERVED_HEADERS,
  "sec-websocket-key",
  "sec-websocket-version",
];

/** The outcome of {@linkcode validateRequest}. */
export type RequestCheck =
  | {
    /** The request is a valid WebSocket upgrade. */
    ok: true;
    /** The client's `Sec-WebSocket-Key`, to compute the accept key from. */
    key: string;
    /** The subprotocols the client offered, in its order of preference. */
    protocols: string[];
    /** The raw `Sec-WebSocket-Extensions` header, or `null` when absent. */
    extensions: string | null;
  }
  | {
    /** The request must be refused. */
    ok: false;
    /** The HTTP status to answer with (400, 405 or 426). */
    status: number;
    /** What was wrong, in plain English, suitable as the response body. */
    message: string;
    /** Headers the error response must carry (`Allow`, `Sec-WebSocket-Version`). */
    headers: Headers;
  };

/** The outcome of {@linkcode validateResponse}. */
export type ResponseCheck =
  | {
    /** The server accepted the upgrade. */
    ok: true;
    /** The subprotocol the server chose, or `null` for none. */
    protocol: string | null;
    /** The raw `Sec-WebSocket-Extensions` header, or `null` when absent. */
    extensions: string | null;
  }
  | {
    /** The connection must fail (RFC 6455 §4.1: "_Fail the WebSocket Connection_"). */
    ok: false;
    /** What was wrong, in plain English. */
    message: string;
  };

/**
 * Extra header fields, in any form `new Headers()` takes: a `Headers`,
 * `[name, value]` pairs, or a record. The DOM's `HeadersInit`, spelled out so
 * that the published declarations compile without the DOM lib (a Node
 * TypeScript project with `@types/node` has `Headers` but no `HeadersInit`).
 */
export type HeaderFields = Headers | Array<[string, string]> | Record<string, string>;

/** Options for {@linkcode createClientRequestHeaders}. */
export interface ClientRequestHeadersOptions {
  /** The `Host` header: the URL's host, with the port when not the default. */
  host: string;
  /** The `Sec-WebSocket-Key`, usually from {@linkcode generateKey}. */
  key: string;
  /**
   * Subprotocols to offer, most preferred first.
   *
   * @default {[]}
   */
  protocols?: readonly string[];
  /**
   * Extra headers for the request. They may replace `Host` but not the
   * handshake headers.
   *
   * @default {undefined}
   */
  additionalHeaders?: HeaderFields;
  /**
   * The `Sec-WebSocket-Extensions` offer, e.g. from `deflateOffer()`.
   *
   * @default {undefined}
   */
  extensions?: string;
}

/** What the client sent, for {@linkcode validateResponse} to check against. */
export interface ExpectedResponse {
  /** The `Sec-WebSocket-Key` the client sent. */
  key: string;
  /** The subprotocols the client offered. */
  protocols: readonly string[];
  /**
   * Names of the extensions the client offered.
   *
   * @default {[]}
   */
  extensions?: readonly string[];
}

/**
 * Compute `Sec-WebSocket-Accept` from `Sec-WebSocket-Key`:
 * `base64(SHA-1(key + GUID))` (RFC 6455 §4.2.2, step 5.4).
 *
 * @param key The client's `Sec-WebSocket-Key`.
 * @returns The value of `Sec-WebSocket-Accept`.
 *
 * @example
 * ```ts
 * import { computeAcceptKey } from "@x/wsd/server";
 *
 * const accept = computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ==");
 * if (accept !== "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") throw new Error("RFC 6455 §1.3's example");
 * ```
 */
export function computeAcceptKey(key: string): string {
  // A valid key is 24 ASCII characters: hashed without allocating.
  return sha1Base64(key, WEBSOCKET_GUID) ?? base64(sha1(utf8Encoder.encode(key + WEBSOCKET_GUID)));
}

/**
 * Generate a fresh `Sec-WebSocket-Key`: the base64 of 16 random bytes
 * (RFC 6455 §4.1, client requirement 7).
 *
 * @returns A 24-character base64 string.
 *
 * @example
 * ```ts
 * import { generateKey } from "@x/wsd/client";
 *
 * const key = generateKey();
 * if (key.length !== 24 || !key.endsWith("==") || key === generateKey()) throw new Error("not a fresh key");
 * ```
 */
export function generateKey(): string {
  return base64(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Whether `key` is a valid `Sec-WebSocket-Key`: the base64 of exactly 16
 * bytes, that is 22 base64 characters followed by `==` (RFC 6455 §4.1,
 * client requirement 7; §11.3.1).
 *
 * @param key The header value.
 * @returns `true` when the key is well formed.
 *
 * @example
 * ```ts
 * import { isValidKey } from "./handshake.ts";
 *
 * if (!isValidKey("dGhlIHNhbXBsZSBub25jZQ==")) throw new Error("valid");
 * if (isValidKey("dGhlIHNhbXBsZSBub25jZQ")) throw new Error("no padding");
 * if (isValidKey("")) throw new Error("empty");
 * ```
 */
export function isValidKey(key: string): boolean {
  // 16 bytes = 128 bits = 21 full sextets + 2 bits, so 22 characters and
  // two padding characters.
  if (key.length !== 24 || key[22] !== "=" || key[23] !== "=") return false;
  for (let i = 0; i < 22; i++) {
    if (!isBase64Char(key.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * Split a header value in the RFC 7230 §7 list syntax (`#element`) into its
 * elements: split on commas, strip optional whitespace (SP and HTAB) around
 * each element, and skip empty elements, as §7 requires recipients to do.
 *
 * The elements are not checked to be tokens: use {@linkcode isToken} for
 * that. Runs in time linear in the length of `value` and never throws.
 *
 * @param value A header value, or `null` when the header is absent.
 * @returns The non-empty elements, in order (empty for `null`).
 *
 * @example
 * ```ts
 * import { parseTokenList } from "./handshake.ts";
 *
 * const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
 * if (!same(parseTokenList("keep-alive, Upgrade"), ["keep-alive", "Upgrade"])) throw new Error("two");
 * if (!same(parseTokenList(" ,a,\t, b ,"), ["a", "b"])) throw new Error("empty elements skipped");
 * if (!same(parseTokenList(null), [])) throw new Error("absent");
 * ```
 */
export function parseTokenList(value: string | null): string[] {
  const result: string[] = [];
  if (value === null) return result;
  // One pass: `start` is the first non-OWS character of the current element
  // (-1 before one is seen), `end` is one past its last non-OWS character.
  let start = -1;
  let end = -1;
  const length = value.length;
  for (let i = 0; i <= length; i++) {
    const code = i < length ? value.charCodeAt(i) : COMMA;
    if (code === COMMA) {
      if (start !== -1) result.push(value.slice(start, end));
      start = -1;
      end = -1;
    } else if (code !== SPACE && code !== HTAB) {
      if (start === -1) start = i;
      end = i + 1;
    }
  }
  return result;
}

/**
 * Whether the list-valued header `value` contains `token`, compared
 * case-insensitively (as for `Connection: keep-alive, Upgrade`, RFC 7230
 * §6.1 and §6.7).
 *
 * @param value A header value, or `null` when the header is absent.
 * @param token The token to look for.
 * @returns `true` when one of the list's elements equals `token`,
 * ignoring ASCII case.
 *
 * @example
 * ```ts
 * import { hasToken } from "./handshake.ts";
 *
 * if (!hasToken("keep-alive, Upgrade", "upgrade")) throw new Error("case-insensitive");
 * if (hasToken("keep-alive", "upgrade") || hasToken(null, "upgrade")) throw new Error("absent");
 * ```
 */
export function hasToken(value: string | null, token: string): boolean {
  const wanted = token.toLowerCase();
  for (const element of parseTokenList(value)) {
    if (element.length === wanted.length && element.toLowerCase() === wanted) {
      return true;
    }
  }
  return false;
}

/**
 * Check a client's opening handshake (RFC 6455 §4.2.1).
 *
 * On success it returns the key, the offered subprotocols and the raw
 * extensions header. On failure it returns the HTTP status, a message and
 * the headers the error response needs: 405 with `Allow: GET` for another
 * method, 426 with `Sec-WebSocket-Version: 13` for another protocol version
 * (§4.4), and 400 for anything else.
 *
 * @param method The request method.
 * @param headers The request headers.
 * @returns The outcome of the check.
 *
 * @example
 * ```ts
 * import { validateRequest } from "@x/wsd/server";
 *
 * const check = validateRequest("GET", new Headers({
 *   Upgrade: "websocket",
 *   Connection: "Upgrade",
 *   "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
 *   "Sec-WebSocket-Version": "13",
 *   "Sec-WebSocket-Protocol": "chat, superchat",
 * }));
 * if (!check.ok || check.protocols.join() !== "chat,superchat") throw new Error("expected a valid request");
 * ```
 */
export function validateRequest(
  method: string,
  headers: Headers,
): RequestCheck {
  // RFC 6455 §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
  if (method !== "GET") {
    return reject(
      405,
      `Method not allowed: a WebSocket handshake must be a GET request, got ${quote(method)}`,
      { Allow: "GET" },
    );
  }
  // §4.2.1 item 3: "An |Upgrade| header field containing the value
  // "websocket", treated as an ASCII case-insensitive value."
  const upgrade = headers.get("upgrade");
  if (!hasToken(upgrade, "websocket")) {
    return reject(
      400,
      `Missing or invalid Upgrade header: expected "websocket", got ${quoteHeader(upgrade)}`,
    );
  }
  // §4.2.1 item 4: "A |Connection| header field that includes the token
  // "Upgrade", treated as an ASCII case-insensitive value."
  const connection = headers.get("connection");
  if (!hasToken(connection, "upgrade")) {
    return reject(
      400,
      `Missing or invalid Connection header: expected a list containing "Upgrade", got ${quoteHeader(connection)}`,
    );
  }
  // §4.2.1 item 5: "A |Sec-WebSocket-Key| header field with a base64-encoded
  // value that, when decoded, is 16 bytes in length." Never optional.
  const key = headers.get("sec-websocket-key");
  if (key === null || !isValidKey(key)) {
    return reject(
      400,
      "Missing or invalid Sec-WebSocket-Key header: expected the base64 of 16 bytes",
    );
  }
  // §4.2.1 item 6: "A |Sec-WebSocket-Version| header field, with a value
  // of 13." §4.4: otherwise answer 426 and list the versions we speak.
  const version = headers.get("sec-websocket-version");
  if (version === null) {
    return reject(
      400,
      `Missing Sec-WebSocket-Version header: expected ${WEBSOCKET_VERSION}`,
    );
  }
  if (version !== WEBSOCKET_VERSION) {
    return reject(
      426,
      `Unsupported Sec-WebSocket-Version ${quote(version)}: only version ${WEBSOCKET_VERSION} is supported`,
      { "Sec-WebSocket-Version": WEBSOCKET_VERSION },
    );
  }
  // §4.1 client requirement 10 and §11.3.4: the subprotocols are tokens,
  // and "MUST all be unique strings". Several header lines arrive joined
  // with ", " by `Headers`, which is the same list.
  const protocols = parseTokenList(headers.get("sec-websocket-protocol"));
  for (let i = 0; i < protocols.length; i++) {
    const protocol = protocols[i];
    if (!isToken(protocol)) {
      return reject(
        400,
        `Invalid Sec-WebSocket-Protocol header: ${quote(protocol)} is not a valid token`,
      );
    }
    if (protocols.indexOf(protocol) !== i) {
      return reject(
        400,
        `Invalid Sec-WebSocket-Protocol header: ${quote(protocol)} is offered more than once`,
      );
    }
  }
  return {
    ok: true,
    key,
    protocols,
    extensions: headers.get("sec-websocket-extensions"),
  };
}

/**
 * Choose the subprotocol: the first one in the client's order of preference
 * that the server accepts (RFC 6455 §4.2.2 item 5.4 leaves the choice to the
 * server; this is faye websocket-driver's rule).
 *
 * @param offered The client's subprotocols, most preferred first.
 * @param accepted The subprotocols the server supports.
 * @returns The chosen subprotocol, or `null` when none is shared.
 *
 * @example
 * ```ts
 * import { selectProtocol } from "@x/wsd/server";
 *
 * if (selectProtocol(["v2", "v1"], ["v1", "v2"]) !== "v2") throw new Error("the client's order wins");
 * if (selectProtocol(["v3"], ["v1"]) !== null) throw new Error("none in common");
 * ```
 */
export function selectProtocol(
  offered: readonly string[],
  accepted: readonly string[],
): string | null {
  for (const protocol of offered) {
    if (accepted.includes(protocol)) return protocol;
  }
  return null;
}

/**
 * Build the headers of the server's `101 Switching Protocols` response
 * (RFC 6455 §4.2.2 item 5): `Upgrade`, `Connection`, `Sec-WebSocket-Accept`,
 * `Sec-WebSocket-Protocol` when a subprotocol was chosen, then
 * `additionalHeaders`.
 *
 * @param key The client's `Sec-WebSocket-Key` (already validated).
 * @param protocol The chosen subprotocol, or `null`.
 * @param additionalHeaders Extra headers, such as `Set-Cookie`.
 * @returns The response headers.
 * @throws {TypeError} If `key` is not a valid key, `protocol` is not a
 * token, or `additionalHeaders` sets one of the handshake headers.
 *
 * @example
 * ```ts
 * import { createServerResponseHeaders } from "@x/wsd/server";
 *
 * const headers = createServerResponseHeaders("dGhlIHNhbXBsZSBub25jZQ==", "chat");
 * if (headers.get("sec-websocket-accept") !== "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") throw new Error("accept key");
 * if (headers.get("sec-websocket-protocol") !== "chat") throw new Error("subprotocol");
 * ```
 */
export function createServerResponseHeaders(
  key: string,
  protocol: string | null,
  additionalHeaders?: HeaderFields,
  extensions?: string | null,
): Headers {
  const headers = new Headers();
  const fields = createServerResponseFields(key, protocol, extensions);
  for (const name in fields) headers.set(name, fields[name]);
  if (additionalHeaders !== undefined) {
    for (const [name, value] of checkServerAdditionalHeaders(additionalHeaders)) headers.append(name, value);
  }
  return headers;
}

/**
 * The headers of the server's `101` answer without additional ones, as a
 * record with lower-case names and no prototype: what `new Response(null,
 * { headers })` takes for the least work (a `Headers` object or pairs cost it
 * about twice the allocations). Same checks as
 * {@linkcode createServerResponseHeaders}.
 *
 * @throws {TypeError} for an invalid key or a subprotocol that is not a token.
 *
 * @example
 * ```ts
 * import { createServerResponseFields } from "./handshake.ts";
 *
 * const fields = createServerResponseFields("dGhlIHNhbXBsZSBub25jZQ==", "chat");
 * // { upgrade: "websocket", connection: "Upgrade",
 * //   "sec-websocket-accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "sec-websocket-protocol": "chat" }
 * if (fields["sec-websocket-accept"] !== "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") throw new Error("accept key");
 * ```
 */
export function createServerResponseFields(
  key: string,
  protocol: string | null,
  extensions?: string | null,
): Record<string, string> {
  if (!isValidKey(key)) {
    throw new TypeError(
      `Cannot create the handshake response: invalid Sec-WebSocket-Key ${quote(key)}`,
    );
  }
  if (protocol !== null && !isToken(protocol)) {
    throw new TypeError(
      `Cannot create the handshake response: subprotocol ${quote(protocol)} is not a valid token`,
    );
  }
  // RFC 6455 §4.2.2 item 5.
  const fields: Record<string, string> = Object.create(null);
  fields.upgrade = "websocket";
  fields.connection = "Upgrade";
  fields["sec-websocket-accept"] = computeAcceptKey(key);
  if (protocol !== null) fields["sec-websocket-protocol"] = protocol;
  if (extensions) fields["sec-websocket-extensions"] = extensions;
  return fields;
}

/**
 * Checks a server's `additionalHeaders` the way
 * {@linkcode createServerResponseHeaders} does, without building a response.
 *
 * @returns The headers, parsed.
 * @throws {TypeError} If they set one of the handshake's own headers, or are
 * not valid headers.
 *
 * @example
 * ```ts
 * import { checkServerAdditionalHeaders } from "./handshake.ts";
 *
 * checkServerAdditionalHeaders({ "Set-Cookie": "a=b" }); // fine
 * let refused = false;
 * try {
 *   checkServerAdditionalHeaders({ Upgrade: "x" });
 * } catch (error) {
 *   refused = error instanceof TypeError;
 * }
 * if (!refused) throw new Error("Upgrade is the handshake's own header");
 * ```
 */
export function checkServerAdditionalHeaders(additionalHeaders: HeaderFields): Headers {
  const headers = new Headers(additionalHeaders);
  for (const name of headers.keys()) {
    if (SERVER_RESERVED_HEADERS.includes(name)) {
      throw new TypeError(
        `Cannot set the ${canonicalName(name)} header in additionalHeaders: it is part of the WebSocket handshake`,
      );
    }
  }
  return headers;
}

/**
 * Build the headers of a client's opening handshake (RFC 6455 §4.1):
 * `Host`, `Upgrade`, `Connection`, `Sec-WebSocket-Key`,
 * `Sec-WebSocket-Version: 13`, `Sec-WebSocket-Protocol` when subprotocols
 * are offered, then `additionalHeaders` (which may replace `Host`).
 *
 * @param options The host, key, subprotocols and extra headers.
 * @returns The request headers.
 * @throws {TypeError} If the host is empty, the key invalid, a subprotocol
 * not a token or offered twice, or `additionalHeaders` sets one of the
 * handshake headers.
 *
 * @example
 * ```ts
 * import { createClientRequestHeaders, generateKey } from "@x/wsd/client";
 *
 * const headers = createClientRequestHeaders({
 *   host: "example.com:8080",
 *   key: generateKey(),
 *   protocols: ["chat", "superchat"],
 * });
 * if (headers.get("sec-websocket-protocol") !== "chat, superchat") throw new Error("offered subprotocols");
 * ```
 */
export function createClientRequestHeaders(
  options: ClientRequestHeadersOptions,
): Headers {
  const { host, key, protocols = [], additionalHeaders, extensions } = options;
  if (typeof host !== "string" || host.length === 0) {
    throw new TypeError("Cannot create the handshake request: empty Host");
  }
  // RFC 6455 §4.1 client requirement 7.
  if (!isValidKey(key)) {
    throw new TypeError(
      `Cannot create the handshake request: invalid Sec-WebSocket-Key ${quote(key)}: expected the base64 of 16 bytes`,
    );
  }
  // §4.1 client requirement 10: tokens, "MUST all be unique strings".
  for (let i = 0; i < protocols.length; i++) {
    const protocol = protocols[i];
    if (!isToken(protocol)) {
      throw new TypeError(
        `Cannot create the handshake request: subprotocol ${quote(protocol)} is not a valid token`,
      );
    }
    if (protocols.indexOf(protocol) !== i) {
      throw new TypeError(
        `Cannot create the handshake request: subprotocol ${quote(protocol)} is listed more than once`,
      );
    }
  }
  // §4.1 client requirements 4 to 10.
  const headers = new Headers();
  headers.set("Host", host);
  headers.set("Upgrade", "websocket");
  headers.set("Connection", "Upgrade");
  headers.set("Sec-WebSocket-Key", key);
  headers.set("Sec-WebSocket-Version", WEBSOCKET_VERSION);
  if (protocols.length > 0) {
    headers.set("Sec-WebSocket-Protocol", protocols.join(", "));
  }
  if (extensions) headers.set("Sec-WebSocket-Extensions", extensions);
  if (additionalHeaders !== undefined) {
    for (const [name, value] of new Headers(additionalHeaders)) {
      if (CLIENT_RESERVED_HEADERS.includes(name)) {
        throw new TypeError(
          `Cannot set the ${canonicalName(name)} header in additionalHeaders: it is part of the WebSocket handshake`,
        );
      }
      // A single Host: the caller's replaces the one derived from the URL.
      if (name === "host") headers.set(name, value);
      else headers.append(name, value);
    }
  }
  return headers;
}

/**
 * Check the server's answer to a client's opening handshake (RFC 6455 §4.1,
 * the client's requirements on the server's response, items 1 to 6).
 *
 * @param status The response status.
 * @param headers The response headers.
 * @param expected What the client sent: its key, its subprotocols and the
 * names of the extensions it offered.
 * @returns The agreed subprotocol and the raw extensions header, or why
 * the connection must fail.
 *
 * @example
 * ```ts
 * import { validateResponse } from "@x/wsd/client";
 *
 * const check = validateResponse(
 *   101,
 *   new Headers({
 *     Upgrade: "websocket",
 *     Connection: "Upgrade",
 *     "Sec-WebSocket-Accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
 *     "Sec-WebSocket-Protocol": "chat",
 *   }),
 *   { key: "dGhlIHNhbXBsZSBub25jZQ==", protocols: ["chat", "superchat"] },
 * );
 * // check deep-equals { ok: true, protocol: "chat", extensions: null }
 * if (!check.ok || check.protocol !== "chat" || check.extensions !== null) throw new Error("expected to open");
 * ```
 */
export function validateResponse(
  status: number,
  headers: Headers,
  expected: ExpectedResponse,
): ResponseCheck {
  // RFC 6455 §4.1 item 1: anything but 101 is handled per HTTP, not opened.
  if (status !== 101) {
    return {
      ok: false,
      message: `Unexpected response status ${status}: expected 101 Switching Protocols`,
    };
  }
  // §4.1 item 2: "|Upgrade| header field whose value is not an ASCII
  // case-insensitive match for the value "websocket"" fails.
  const upgrade = headers.get("upgrade");
  if (!hasToken(upgrade, "websocket")) {
    return {
      ok: false,
      message: `Missing or invalid Upgrade header in the response: expected "websocket", got ${quoteHeader(upgrade)}`,
    };
  }
  // §4.1 item 3: the |Connection| header must contain "Upgrade".
  const connection = headers.get("connection");
  if (!hasToken(connection, "upgrade")) {
    return {
      ok: false,
      message: `Missing or invalid Connection header in the response: expected "Upgrade", got ${
        quoteHeader(connection)
      }`,
    };
  }
  // §4.1 item 4: |Sec-WebSocket-Accept| must be base64(SHA-1(key + GUID)).
  const accept = headers.get("sec-websocket-accept");
  const expectedAccept = computeAcceptKey(expected.key);
  if (accept !== expectedAccept) {
    return {
      ok: false,
      message: `Missing or invalid Sec-WebSocket-Accept header: expected ${quote(expectedAccept)}, got ${
        quoteHeader(accept)
      }`,
    };
  }
  // §4.1 item 6: a subprotocol not offered by the client fails; §4.2.2
  // item 5.4: the server picks a single one.
  const protocolHeader = headers.get("sec-websocket-protocol");
  let protocol: string | null = null;
  if (protocolHeader !== null) {
    const values = parseTokenList(protocolHeader);
    if (values.length !== 1) {
      return {
        ok: false,
        message: `Invalid Sec-WebSocket-Protocol header: expected one subprotocol, got ${quote(protocolHeader)}`,
      };
    }
    protocol = values[0];
    if (!expected.protocols.includes(protocol)) {
      return {
        ok: false,
        message: `Invalid Sec-WebSocket-Protocol header: the server chose ${
          quote(protocol)
        }, which the client did not offer`,
      };
    }
  }
  // §4.1 item 5: extensions the client did not offer fail the connection.
  // The header is parsed by the one RFC 6455 §9.1 grammar every end uses
  // (`parseExtensions`); only which extensions were accepted is checked
  // here, so a parameter's quoted value need not be a token (that rule is the
  // extension's own negotiation's to apply: see `parseExtensions`).
  const extensionsHeader = headers.get("sec-websocket-extensions");
  const offeredExtensions = expected.extensions ?? [];
  let extensionCount = 0;
  if (extensionsHeader !== null) {
    const elements = parseExtensions(extensionsHeader, "any");
    if (elements === null) {
      return {
        ok: false,
        message: `Invalid Sec-WebSocket-Extensions header: ${
          quote(extensionsHeader)
        } is not a list of extensions (RFC 6455 §9.1)`,
      };
    }
    for (const { name } of elements) {
      if (!offeredExtensions.includes(name)) {
        return {
          ok: false,
          message: `Invalid Sec-WebSocket-Extensions header: the server accepted extension ${
            quote(name)
          }, which the client did not offer`,
        };
      }
    }
    extensionCount = elements.length;
  }
  return {
    ok: true,
    protocol,
    extensions: extensionCount > 0 ? extensionsHeader : null,
  };
}

/**
 * Whether `request` asks for a WebSocket upgrade: a GET whose `Upgrade`
 * contains `websocket` and whose `Connection` contains `upgrade` (RFC 6455
 * §4.2.1 items 1, 3 and 4). This is a loose check, the seed's `websocket-p`:
 * the key and version are checked by {@linkcode validateRequest}.
 *
 * @param request The incoming request.
 * @returns `true` when the request looks like a WebSocket upgrade.
 *
 * @example
 * ```ts
 * import { isWebSocketRequest } from "@x/wsd/server";
 *
 * const request = new Request("http://localhost/", {
 *   headers: { Upgrade: "websocket", Connection: "keep-alive, Upgrade" },
 * });
 * if (!isWebSocketRequest(request)) throw new Error("an upgrade request");
 * ```
 */
export function isWebSocketRequest(request: Request): boolean {
  return request.method === "GET" &&
    hasToken(request.headers.get("upgrade"), "websocket") &&
    hasToken(request.headers.get("connection"), "upgrade");
}

// ---------------------------------------------------------------------------
// Private helpers.

const HTAB = 0x09;
const SPACE = 0x20;
const COMMA = 0x2c;

/** Build a failed {@linkcode RequestCheck}. */
function reject(
  status: number,
  message: string,
  headers?: Record<string, string>,
): RequestCheck {
  return { ok: false, status, message, headers: new Headers(headers) };
}

/** Quote a header value for an error message, or say it is missing. */
function quoteHeader(value: string | null): string {
  return value === null ? "no such header" : quote(value);
}

/** "sec-websocket-accept" → "Sec-WebSocket-Accept", for messages. */
function canonicalName(lowerName: string): string {
  switch (lowerName) {
    case "sec-websocket-accept":
      return "Sec-WebSocket-Accept";
    case "sec-websocket-protocol":
      return "Sec-WebSocket-Protocol";
    case "sec-websocket-extensions":
      return "Sec-WebSocket-Extensions";
    case "sec-websocket-key":
      return "Sec-WebSocket-Key";
    case "sec-websocket-version":
      return "Sec-WebSocket-Version";
    case "upgrade":
      return "Upgrade";
    case "connection":
      return "Connection";
    default:
      return lowerName;
  }
}

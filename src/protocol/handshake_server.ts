/**
 * The server side of the opening handshake (RFC 6455 §4.2): checking an
 * upgrade request, choosing a subprotocol, building the 101 answer.
 * `handshake.ts` re-exports it.
 *
 * @module
 */

import { isToken, quote } from "./syntax.ts";
import {
  canonicalName,
  computeAcceptKey,
  hasToken,
  isValidKey,
  parseTokenList,
  quoteHeader,
  SERVER_RESERVED_HEADERS,
  WEBSOCKET_VERSION,
} from "./handshake_keys.ts";
import type { HeaderFields } from "./handshake_keys.ts";

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

/** Build a failed {@linkcode RequestCheck}. */
function reject(
  status: number,
  message: string,
  headers?: Record<string, string>,
): RequestCheck {
  return { ok: false, status, message, headers: new Headers(headers) };
}

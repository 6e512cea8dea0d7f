/**
 * The client side of the opening handshake (RFC 6455 §4.1): building the
 * upgrade request and checking the server's answer. `handshake.ts`
 * re-exports it.
 *
 * @module
 */

import { parseExtensions } from "./extensions.ts";
import { isToken, quote } from "./syntax.ts";
import {
  canonicalName,
  CLIENT_RESERVED_HEADERS,
  computeAcceptKey,
  hasToken,
  isValidKey,
  parseTokenList,
  quoteHeader,
  WEBSOCKET_VERSION,
} from "./handshake_keys.ts";
import type { HeaderFields } from "./handshake_keys.ts";

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

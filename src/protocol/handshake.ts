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

export { isToken } from "./syntax.ts";
export {
  computeAcceptKey,
  generateKey,
  hasToken,
  type HeaderFields,
  isValidKey,
  parseTokenList,
  WEBSOCKET_GUID,
} from "./handshake_keys.ts";
export {
  checkServerAdditionalHeaders,
  createServerResponseFields,
  createServerResponseHeaders,
  isWebSocketRequest,
  type RequestCheck,
  selectProtocol,
  validateRequest,
} from "./handshake_server.ts";
export {
  type ClientRequestHeadersOptions,
  createClientRequestHeaders,
  type ExpectedResponse,
  type ResponseCheck,
  validateResponse,
} from "./handshake_client.ts";

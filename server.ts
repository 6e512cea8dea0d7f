/**
 * The server side of the opening handshake (RFC 6455 §4.2), as pure functions
 * over the Fetch API's `Request` and `Headers`: is this an upgrade, is it a
 * valid one (and if not, which HTTP status to answer), which subprotocol to
 * pick, and the headers of the `101 Switching Protocols` answer.
 *
 * Once the 101 answer is written on a socket, run the connection with
 * {@linkcode WebSocketDriver} over that socket's streams.
 *
 * @example Checking an upgrade request
 * ```ts
 * import { createServerResponseHeaders, selectProtocol, validateRequest } from "@x/wsd/server";
 *
 * const request = new Request("http://localhost/chat", {
 *   headers: {
 *     Upgrade: "websocket",
 *     Connection: "Upgrade",
 *     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
 *     "Sec-WebSocket-Version": "13",
 *     "Sec-WebSocket-Protocol": "chat, superchat",
 *   },
 * });
 * const check = validateRequest(request.method, request.headers);
 * if (check.ok) {
 *   const protocol = selectProtocol(check.protocols, ["superchat"]);
 *   const headers = createServerResponseHeaders(check.key, protocol);
 *   console.assert(headers.get("Sec-WebSocket-Accept") === "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * }
 * ```
 *
 * @module
 */

export {
  computeAcceptKey,
  createServerResponseHeaders,
  isWebSocketRequest,
  selectProtocol,
  validateRequest,
} from "./src/protocol/handshake.ts";
export type { RequestCheck } from "./src/protocol/handshake.ts";
export { WebSocketDriver } from "./src/driver/driver.ts";
export type { DriverOptions } from "./src/driver/driver.ts";

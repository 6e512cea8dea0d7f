/**
 * The client side of the opening handshake (RFC 6455 §4.1), as pure functions:
 * a fresh `Sec-WebSocket-Key`, the request headers, and the validation of the
 * server's answer (status 101, `Upgrade`, `Connection`, the accept key, a
 * subprotocol that was offered, no extension that was not).
 *
 * Once the answer is validated, run the connection with
 * {@linkcode WebSocketDriver} in the `"client"` role over the socket's streams.
 *
 * @example Building a request and checking the answer
 * ```ts
 * import { computeAcceptKey } from "@x/wsd/server";
 * import { createClientRequestHeaders, generateKey, validateResponse } from "@x/wsd/client";
 *
 * const key = generateKey();
 * const request = createClientRequestHeaders({ host: "localhost:5000", key, protocols: ["chat"] });
 * const answer = new Headers({
 *   Upgrade: "websocket",
 *   Connection: "Upgrade",
 *   "Sec-WebSocket-Accept": computeAcceptKey(key),
 *   "Sec-WebSocket-Protocol": "chat",
 * });
 * const check = validateResponse(101, answer, { key, protocols: ["chat"] });
 * console.assert(request.get("Sec-WebSocket-Version") === "13" && check.ok);
 * ```
 *
 * @module
 */

export {
  createClientRequestHeaders,
  generateKey,
  validateResponse,
} from "./src/protocol/handshake.ts";
export type {
  ClientRequestHeadersOptions,
  ExpectedResponse,
  ResponseCheck,
} from "./src/protocol/handshake.ts";
export { WebSocketDriver } from "./src/driver/driver.ts";
export type { DriverOptions } from "./src/driver/driver.ts";

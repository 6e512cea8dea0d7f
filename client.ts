/**
 * The client: `makeClient(url, options)` connects with the runtime's own
 * sockets (Deno's `connect`/`connectTls` on Deno, Node's `net`/`tls` on
 * Node and Bun), over `ws://` or `wss://`, and runs the same driver as a
 * server. Also the client side of the opening handshake (RFC 6455 §4.1) as
 * pure functions, for users who bring their own connection.
 *
 * @example The seed's client
 * ```ts ignore
 * import { makeClient } from "@x/wsd/client";
 *
 * const client = makeClient("ws://localhost:5000/echo");
 * client.on("open", () => console.log("Connected."));
 * client.on("message", (message) => console.log("Received:", message));
 * client.startConnection();
 * client.send("Hi"); // queued until open
 * ```
 *
 * @example Building a request and checking the answer by hand
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

export { createClientRequestHeaders, generateKey, validateResponse } from "./src/protocol/handshake.ts";
export type {
  ClientRequestHeadersOptions,
  ExpectedResponse,
  HeaderFields,
  ResponseCheck,
} from "./src/protocol/handshake.ts";
export { Client, DEFAULT_OPEN_TIMEOUT, makeClient } from "./src/client/client.ts";
export type { ClientOptions, HandshakeResponse } from "./src/client/client.ts";
export type { ReconnectOptions } from "./src/client/reconnect.ts";
export { WebSocket } from "./src/client/websocket.ts";
export type { BinaryType, WebSocketOptions } from "./src/client/websocket.ts";
export type { PerMessageDeflateOptions } from "./src/protocol/extensions.ts";
export { WebSocketDriver } from "./src/driver/driver.ts";
export type { CloseInfo, DriverOptions, HeartbeatOptions, SendOptions } from "./src/driver/driver.ts";

/**
 * The server: `makeServer(request, options)` in a Fetch-style handler, and
 * `serve(handler, options)` to run that handler on a backend of your choice
 * (the runtime's raw TCP listener, `node:http`, or Deno's own server), or on
 * an existing `node:http` server (its `server` option, or `handleUpgrade`). Also the
 * server side of the opening handshake (RFC 6455 §4.2) as pure functions.
 *
 * @example The seed's echo server
 * ```ts ignore
 * import { makeServer, serve } from "@x/wsd/server";
 *
 * const echo = (request: Request): Response => {
 *   const ws = makeServer(request, { maxLength: 1 << 20, acceptProtocols: ["chat"] });
 *   ws.on("message", (message) => ws.send(message));
 *   return ws.startConnection();
 * };
 * serve(echo, { port: 5000 }); // or Deno.serve({ port: 5000 }, echo)
 * ```
 *
 * @example Checking an upgrade request by hand
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
export type { HeaderFields, RequestCheck } from "./src/protocol/handshake.ts";
export { HandshakeError, makeServer, Server } from "./src/server/server.ts";
export type { ServerOptions } from "./src/server/server.ts";
export type { AllowOrigins } from "./src/server/origin.ts";
export { withWebSockets } from "./src/server/bun_serve.ts";
export type { BunFetchHandler, BunServeParts, WithWebSocketsOptions } from "./src/server/bun_serve.ts";
export type { BunServerWebSocket, BunUpgradeServer, BunWebSocketHandler } from "./src/runtime/bun_serve.ts";
export type { PerMessageDeflateOptions } from "./src/protocol/extensions.ts";
export { availableBackends, serve } from "./src/server/serve.ts";
export type { BackendName, ServeHandle, ServeOptions } from "./src/server/serve.ts";
export { DEFAULT_SERVE_HEARTBEAT } from "./src/server/handler.ts";
export type { ServeHandler, ServeHandlerInfo } from "./src/server/handler.ts";
export { handleUpgrade } from "./src/server/attach.ts";
export type { UpgradeListener, UpgradeOptions, UpgradeRequest, UpgradeServer } from "./src/server/attach.ts";
export type { NetAddr } from "./src/runtime/types.ts";
export { WebSocketDriver } from "./src/driver/driver.ts";
export { ListenerError } from "./src/driver/errors.ts";
export type { CloseInfo, DriverOptions, HeartbeatOptions } from "./src/driver/driver.ts";

/**
 * `@x/wsd`: a WebSocket (RFC 6455) driver for Deno, Bun and Node, in the
 * manner of the Common Lisp websocket-driver: one object per connection,
 * events (`open`, `message`, `error`, `close`), and a handful of verbs (`send`,
 * `sendText`, `sendBinary`, `sendPing`, `closeConnection`).
 *
 * The protocol core is sans-I/O and strict: every frame-validity rule of RFC
 * 6455 fails the connection with the right close code; the driver runs it over
 * any `ReadableStream`/`WritableStream` pair, writing every frame produced in
 * one turn in a single write.
 *
 * @example An echo over in-memory streams
 * ```ts
 * import { WebSocketDriver } from "@x/wsd";
 *
 * const toServer = new TransformStream<Uint8Array, Uint8Array>();
 * const toClient = new TransformStream<Uint8Array, Uint8Array>();
 * const server = new WebSocketDriver("server");
 * server.on("message", (message) => server.send(message));
 * server.attach({ readable: toServer.readable, writable: toClient.writable });
 *
 * const client = new WebSocketDriver("client");
 * client.on("message", (message) => {
 *   console.log("Received:", message);
 *   client.closeConnection();
 * });
 * client.attach({ readable: toClient.readable, writable: toServer.writable });
 * client.send("Hi"); // queued until open
 * await new Promise((resolve) => client.once("close", resolve));
 * ```
 *
 * @module
 */

export * from "./server.ts";
export * from "./client.ts";
export * from "./topics.ts";
export {
  CloseError,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_INCOMING_HIGH_WATER_MARK,
  DEFAULT_OUTGOING_HIGH_WATER_MARK,
  WebSocketDriver,
} from "./src/driver/driver.ts";
export type {
  BinaryData,
  CloseInfo,
  DriverEvents,
  DriverOptions,
  HeartbeatOptions,
  ReadyState,
  SendOptions,
  SendQueuePolicy,
} from "./src/driver/driver.ts";
export { EventEmitter } from "./src/driver/emitter.ts";
export { streamTransport } from "./src/driver/transport.ts";
export type { StreamPair, Transport, TransportSink } from "./src/driver/transport.ts";
export { CloseCode, DEFAULT_MAX_LENGTH } from "./src/protocol/constants.ts";
export { ProtocolError } from "./src/protocol/errors.ts";
export { ListenerError } from "./src/driver/errors.ts";
export type { Role } from "./src/protocol/protocol.ts";
export type { ProtocolErrorType } from "./src/protocol/errors.ts";

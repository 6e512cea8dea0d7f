/**
 * WebSockets on a `node:http` (or `node:https`) server the application made
 * already (plain, Express, Fastify, Koa, Hono's node-server): its `upgrade`
 * event runs a Fetch handler, and the handler's `makeServer(request)` gets the
 * raw socket, as on `serve()`'s own backends. Plain requests stay the
 * application's.
 *
 * - `serve(handler, { server, path })` listens to the server's `upgrade`
 *   event, and its `close()` stops that (the server goes on);
 * - {@linkcode handleUpgrade} makes a listener for `server.on("upgrade", …)`,
 *   for applications that route upgrades themselves (ws's `handleUpgrade`).
 *
 * The types here are structural, so that no `node:http` type reaches the
 * public declarations: Node's, Bun's and Deno's `http.Server` and
 * `IncomingMessage` all fit them.
 *
 * @module
 */

import { runtimeAdapter } from "../runtime/mod.ts";
import type { HttpBackendContext, NetAddr, ServeBackend } from "../runtime/types.ts";
import { answerWith, DEFAULT_SERVE_HEARTBEAT, internalError } from "./handler.ts";
import type { ServeHandler } from "./handler.ts";
import { checkOptions } from "../driver/driver.ts";
import type { HeartbeatOptions } from "../driver/driver.ts";
import { deflateConfig } from "../protocol/extensions.ts";
import type { PerMessageDeflateOptions } from "../protocol/extensions.ts";
import { completeUpgrade, offerUpgrade } from "./server.ts";

/** The parts of a `node:http` `IncomingMessage` an upgrade reads. */
export interface UpgradeRequest {
  /** The request method. */
  method?: string;
  /** The request target (`/ws?room=1`). */
  url?: string;
  /** The header lines as name, value, name, value… */
  rawHeaders: string[];
}

/**
 * A listener of a `node:http` server's `upgrade` event: the request, its
 * socket (a `node:net` `Socket`, or a `node:tls` `TLSSocket` on HTTPS), and
 * the bytes read after the request head.
 */
export type UpgradeListener = (request: UpgradeRequest, socket: object, head: Uint8Array) => void;

/**
 * What `serve()` needs of an existing server (`http.Server`, `https.Server`
 * and the servers of the frameworks built on them all have it).
 */
export interface UpgradeServer {
  /** Adds an `upgrade` listener (and, for `ready`, a `listening` one). */
  on(event: "upgrade", listener: UpgradeListener): unknown;
  /** Removes the `upgrade` listener again. */
  removeListener(event: "upgrade", listener: UpgradeListener): unknown;
  /** Waits for the server to listen. */
  once(event: "listening", listener: () => void): unknown;
  /** How many `upgrade` listeners there are (requests for other paths are left to the others). */
  listenerCount(event: "upgrade"): number;
  /** Whether the server is listening. */
  readonly listening: boolean;
  /** The address it listens on (`{ address, port }`, or a pipe's path). */
  address(): unknown;
}

/** Options of {@linkcode handleUpgrade}. */
export interface UpgradeOptions {
  /**
   * The heartbeat of every WebSocket it upgrades (see
   * `DriverOptions.heartbeat`), unless the handler's `makeServer` sets its
   * own; `false` for none.
   *
   * @default {{ interval: 30000, timeout: 30000 }}
   */
  heartbeat?: HeartbeatOptions | false;
  /**
   * permessage-deflate for every WebSocket it upgrades (see
   * `ServerOptions.perMessageDeflate`), unless the handler's `makeServer`
   * sets its own.
   *
   * @default {false}
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Makes an answer when the handler throws; by default the error is logged
   * and the answer is 500.
   */
  onError?: (error: unknown) => Response | Promise<Response>;
}

const UPGRADE_OPTION_KEYS = ["heartbeat", "perMessageDeflate", "onError"];

/**
 * Makes a listener for the `upgrade` event of a `node:http` or `node:https`
 * server: each upgrade request goes to `handler` (a plain Fetch handler
 * calling `makeServer(request)`), and the WebSocket runs on the request's
 * socket with this library's framing. A response that is not an upgrade is
 * written as is, and the socket closed. Works on Node, Bun and Deno.
 *
 * @param handler The Fetch handler for upgrade requests (it gets the peer's address too, as on `serve()`).
 * @param options Defaults for its WebSockets, and the error answer.
 * @returns The listener, for `server.on("upgrade", listener)`.
 *
 * @example Routing upgrades by hand, as with ws's `handleUpgrade`
 * ```ts
 * import { createServer } from "node:http";
 * import { handleUpgrade, makeServer } from "@x/wsd";
 *
 * const server = createServer((_req, res) => res.end("hello"));
 * const echo = handleUpgrade((request) => {
 *   const ws = makeServer(request);
 *   ws.on("message", (message) => ws.send(message));
 *   return ws.startConnection();
 * });
 * server.on("upgrade", (req, socket, head) => {
 *   if (req.url === "/ws") echo(req, socket, head);
 *   else socket.destroy();
 * });
 * server.listen(0, "127.0.0.1"); // 0: any free port
 * await new Promise((resolve) => server.close(resolve));
 * ```
 */
export function handleUpgrade(handler: ServeHandler, options?: UpgradeOptions): UpgradeListener {
  if (typeof handler !== "function") throw new TypeError("Cannot handle upgrades: the handler must be a function");
  checkOptions(options, UPGRADE_OPTION_KEYS, "upgrade options");
  const defaults = {
    heartbeat: options?.heartbeat ?? DEFAULT_SERVE_HEARTBEAT,
    perMessageDeflate: options?.perMessageDeflate,
  };
  deflateConfig(defaults.perMessageDeflate, "upgrade options");
  return upgradeListener({
    answer: answerWith(handler, options?.onError ?? internalError),
    offerUpgrade: (request) => offerUpgrade(request, defaults),
    completeUpgrade,
    track: () => {},
  });
}

/** A listener that hands each `upgrade` event to the runtime adapter, with `context`. */
function upgradeListener(context: HttpBackendContext): UpgradeListener {
  return (request, socket, head) => {
    runtimeAdapter().then((adapter) => adapter.upgradeHttp(request, socket, head, context)).catch((error) => {
      (socket as { destroy?: () => void }).destroy?.();
      console.error("Cannot upgrade:", error);
    });
  };
}

/** No upgrade listener at all answers this to a request for another path. */
const NOT_FOUND: HttpBackendContext = {
  answer: () => Promise.resolve(new Response("Not Found\n", { status: 404 })),
  offerUpgrade: () => {},
  completeUpgrade: () => null,
  track: () => {},
};

/** Whether `value` has what {@linkcode attachUpgrades} needs. */
export function isUpgradeServer(value: unknown): value is UpgradeServer {
  const server = value as Partial<Record<keyof UpgradeServer, unknown>> | null;
  return typeof server === "object" && server !== null && typeof server.on === "function" &&
    typeof server.removeListener === "function" && typeof server.once === "function" &&
    typeof server.listenerCount === "function" && typeof server.address === "function";
}

/**
 * Listens to `server`'s `upgrade` event (at once, so that no upgrade is
 * missed) with `context`; with a `path`, only upgrades of that path are
 * handled, and the others are left to the server's other `upgrade` listeners
 * (404 when there is none). `close()` removes the listener; the server stays.
 */
export function attachUpgrades(
  server: UpgradeServer,
  path: string | undefined,
  context: HttpBackendContext,
): ServeBackend & { listening: Promise<NetAddr> } {
  const handle = upgradeListener(context);
  const notFound = upgradeListener(NOT_FOUND);
  const listener: UpgradeListener = path === undefined ? handle : (request, socket, head) => {
    if (pathOf(request.url) === path) return handle(request, socket, head);
    if (server.listenerCount("upgrade") <= 1) notFound(request, socket, head);
  };
  server.on("upgrade", listener);
  let addr: NetAddr = { hostname: "", port: 0 };
  const listening = new Promise<NetAddr>((resolve) => {
    const done = () => resolve(addr = addressOf(server.address()));
    if (server.listening) done();
    else server.once("listening", done);
  });
  return {
    get addr() {
      return addr;
    },
    listening,
    close: () => {
      server.removeListener("upgrade", listener);
      return Promise.resolve();
    },
  };
}

function pathOf(target: string | undefined): string {
  if (target === undefined) return "/";
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}

function addressOf(address: unknown): NetAddr {
  if (typeof address === "string") return { hostname: address, port: 0 };
  const info = address as { address?: string; port?: number } | null;
  return { hostname: info?.address ?? "", port: info?.port ?? 0 };
}

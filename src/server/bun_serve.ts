/**
 * `Bun.serve` with this library's API on Bun's own WebSockets (uWebSockets
 * framing, Bun's speed): {@linkcode withWebSockets} turns a plain Fetch
 * handler, the same one `serve()` and `Deno.serve` run, into the `fetch` and
 * `websocket` options of `Bun.serve`:
 *
 * ```ts ignore
 * Bun.serve({ ...withWebSockets(handler), port: 8000 });
 * ```
 *
 * Inside, `makeServer(request)` finds Bun's server through the request and
 * `startConnection()` calls `server.upgrade()`; the response it returns
 * tells the wrapped `fetch` to answer nothing (Bun answers the 101 itself).
 * Each connection is a `NativeLink` over Bun's `ServerWebSocket`
 * (src/runtime/bun_serve.ts).
 *
 * @module
 */

import { DEFAULT_MAX_LENGTH } from "../protocol/constants.ts";
import { checkOptions } from "../driver/driver.ts";
import type { HeartbeatOptions } from "../driver/driver.ts";
import { bunUpgrader, bunWebSocketHandler } from "../runtime/bun_serve.ts";
import type { BunUpgradeServer, BunWebSocketHandler } from "../runtime/bun_serve.ts";
import type { NativeUpgrader } from "../driver/native.ts";
import { forgetUpgrade, offerNativeUpgrade, serverForResponse } from "./server.ts";
import type { UpgradeDefaults } from "./server.ts";
import { checkAllowOrigins } from "./origin.ts";
import type { AllowOrigins } from "./origin.ts";
import { DEFAULT_SERVE_HEARTBEAT } from "./handler.ts";

/** A Fetch handler, as `Bun.serve` calls it (the server second). */
export type BunFetchHandler = (request: Request, server: BunUpgradeServer) => Response | Promise<Response>;

/** The options of `Bun.serve` that {@linkcode withWebSockets} makes. */
export interface BunServeParts {
  /** Runs the handler; answers nothing (`undefined`) for an upgrade, as Bun wants. */
  fetch(request: Request, server: BunUpgradeServer): Response | undefined | Promise<Response | undefined>;
  /** Bun's WebSocket handlers, shared by every connection. */
  websocket: BunWebSocketHandler;
}

/** Options of {@linkcode withWebSockets}. */
export interface WithWebSocketsOptions {
  /**
   * The heartbeat of every WebSocket (see `DriverOptions.heartbeat`), unless
   * the handler's `makeServer` sets its own; `false` for none. Bun's own idle
   * timeout is turned off.
   *
   * @default {{ interval: 30000, timeout: 30000 }}
   */
  heartbeat?: HeartbeatOptions | false;
  /**
   * Whether Bun agrees permessage-deflate (with its own parameters) and
   * compresses what is sent, unless the handler's `makeServer` says
   * otherwise for its messages.
   *
   * @default {false}
   */
  perMessageDeflate?: boolean;
  /**
   * The origins allowed (see `ServerOptions.allowOrigins`), unless the
   * handler's `makeServer` sets its own.
   *
   * @default {undefined}
   */
  allowOrigins?: AllowOrigins;
  /**
   * The largest message Bun accepts on any connection, checked from the frame
   * headers before buffering (a larger one: 1009). A smaller `maxLength` of
   * `makeServer` is checked per message, once Bun buffered it.
   *
   * @default {0x3ffffff}
   */
  maxLength?: number;
}

const OPTION_KEYS = ["heartbeat", "perMessageDeflate", "allowOrigins", "maxLength"];

/**
 * Makes the `fetch` and `websocket` options of `Bun.serve` for `handler`, a
 * plain Fetch handler that answers HTTP requests and calls
 * `makeServer(request)` for WebSocket ones: this library's API on Bun's own
 * WebSockets. On another runtime the `fetch` it makes just calls `handler`.
 *
 * @example An echo on /ws, "hello" elsewhere
 * ```ts ignore
 * import { makeServer, withWebSockets } from "@x/wsd";
 *
 * Bun.serve({
 *   port: 8000,
 *   ...withWebSockets((request) => {
 *     if (new URL(request.url).pathname !== "/ws") return new Response("hello");
 *     const ws = makeServer(request);
 *     ws.on("message", (message) => ws.send(message));
 *     return ws.startConnection();
 *   }),
 * });
 * ```
 *
 * @throws {TypeError} for a handler that is not a function, or bad options.
 */
export function withWebSockets(handler: BunFetchHandler, options?: WithWebSocketsOptions): BunServeParts {
  if (typeof handler !== "function") {
    throw new TypeError("Cannot make the options of withWebSockets(): the handler must be a function");
  }
  checkOptions(options, OPTION_KEYS, "withWebSockets options");
  const maxLength = options?.maxLength ?? DEFAULT_MAX_LENGTH;
  if (!Number.isSafeInteger(maxLength) || maxLength < 0) {
    throw new RangeError(`Invalid maxLength ${maxLength}: expected a whole number of bytes, 0 or more`);
  }
  const deflate = options?.perMessageDeflate ?? false;
  if (typeof deflate !== "boolean") throw new TypeError("Invalid perMessageDeflate: expected true or false on Bun");
  const heartbeat = options?.heartbeat ?? DEFAULT_SERVE_HEARTBEAT;
  if (options?.allowOrigins !== undefined) checkAllowOrigins(options.allowOrigins, "withWebSockets options");
  const defaults: UpgradeDefaults = { heartbeat, perMessageDeflate: deflate, allowOrigins: options?.allowOrigins };

  // Bun passes the same server on every request: one upgrader for it, not a closure per request.
  let upgradeServer: BunUpgradeServer | null = null;
  let upgrader: NativeUpgrader | null = null;
  return {
    fetch(request, server) {
      if (typeof server?.upgrade !== "function") return handler(request, server);
      if (server !== upgradeServer) {
        upgradeServer = server;
        upgrader = bunUpgrader(server, deflate);
      }
      offerNativeUpgrade(request, upgrader, defaults);
      const response = handler(request, server);
      if (!(response instanceof Promise)) return answered(request, response);
      return response.then((response) => answered(request, response), (error) => {
        forgetUpgrade(request);
        throw error;
      });
    },
    websocket: bunWebSocketHandler(maxLength, deflate),
  };
}

/**
 * The handler answered `request`: what Bun is given, nothing for the response
 * that stands for the 101 Bun wrote itself. The registry's entry goes now,
 * not with the request, which an upgraded connection keeps as `ws.request`.
 */
function answered(request: Request, response: Response): Response | undefined {
  const upgraded = serverForResponse(request, response) !== undefined;
  forgetUpgrade(request);
  return upgraded ? undefined : response;
}

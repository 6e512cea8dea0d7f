/**
 * `serve(handler, options)`: one Fetch-style handler on several server
 * backends, so that "the backend server can be changed" without touching the
 * handler (the seed's Clack promise):
 *
 * | backend | what listens | WebSocket framing |
 * |---|---|---|
 * | `"tcp"` | the runtime's raw TCP listener (Deno's `listen`, Node's `net`), with this library's HTTP/1.1 head parser | ours |
 * | `"node"` | a `node:http` server (on Node, Bun and Deno); upgrades come from its `upgrade` event | ours |
 * | `"deno"` | Deno's `serve` (Deno only) | the runtime's, through Deno's `upgradeWebSocket` |
 *
 * The raw-socket backends mark each request with {@linkcode offerUpgrade};
 * when the handler returns the response `startConnection()` made for it, they
 * write the 101 head and run the server driver on the socket.
 *
 * With the `server` option nothing listens: the upgrades of an existing
 * `node:http` server go to the handler (see `attach.ts`), as on the node
 * backend.
 *
 * @module
 */

import { CloseCode } from "../protocol/constants.ts";
import { deflateConfig } from "../protocol/extensions.ts";
import type { PerMessageDeflateOptions } from "../protocol/extensions.ts";
import { DEFAULT_MAX_HEAD_SIZE } from "../protocol/http1.ts";
import { runtimeAdapter, runtimeName } from "../runtime/mod.ts";
import type { HttpBackendContext, ListenOptions, NetAddr, RuntimeAdapter, ServeBackend } from "../runtime/types.ts";
import { checkOptions } from "../driver/driver.ts";
import { completeUpgrade, forgetUpgrade, offerNativeUpgrade, offerUpgrade, serverForResponse } from "./server.ts";
import type { UpgradeDefaults } from "./server.ts";
import { checkAllowOrigins } from "./origin.ts";
import type { AllowOrigins } from "./origin.ts";
import type { Server } from "./server.ts";
import type { HeartbeatOptions } from "../driver/driver.ts";
import type { ListenerError } from "../driver/errors.ts";
import { attachUpgrades, isUpgradeServer } from "./attach.ts";
import { answerAtOnceWith, answerWith, DEFAULT_SERVE_HEARTBEAT, internalError } from "./handler.ts";
import type { ServeHandler, ServeHandlerInfo } from "./handler.ts";
import type { UpgradeServer } from "./attach.ts";
import type { Transport } from "../driver/transport.ts";

import { HeadDeadlines, HeadReader, statusResponse } from "./http_connection.ts";
import type { ConnectionContext } from "./http_connection.ts";
/** The names of the server backends. */
export type BackendName = "tcp" | "node" | "deno";

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /**
   * The TCP port; 0 picks a free one (see {@linkcode ServeHandle.ready}).
   *
   * @default {5000}
   */
  port?: number;
  /**
   * The address to listen on.
   *
   * @default {"0.0.0.0"}
   */
  hostname?: string;
  /**
   * Which server runs the handler; see the module doc. `"tcp"` runs on every
   * runtime and is the default; `"deno"` exists on Deno only.
   *
   * @default {"tcp"}
   */
  backend?: BackendName;
  /** Stops the server (as {@linkcode ServeHandle.close}) when aborted. */
  signal?: AbortSignal;
  /** Called once listening, with the address. */
  onListen?: (addr: NetAddr) => void;
  /**
   * Makes an answer when the handler throws; by default the error is logged
   * and the answer is 500.
   */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** TLS certificate chain (PEM), for `wss://`; needs `key`. */
  cert?: string;
  /** TLS private key (PEM), for `wss://`; needs `cert`. */
  key?: string;
  /**
   * Milliseconds a client may take to send its request head (tcp backend);
   * a slower one is dropped.
   *
   * @default {10000}
   */
  headTimeout?: number;
  /**
   * The largest request head, in bytes (tcp backend); a larger one gets 431.
   *
   * @default {16384}
   */
  maxHeadSize?: number;
  /**
   * Milliseconds `close()` waits for open WebSockets to finish their closing
   * handshake (they are sent 1001 "going away") and, on the node and deno
   * backends, for requests still in the handler; then what is left is torn
   * down.
   *
   * @default {5000}
   */
  shutdownTimeout?: number;
  /**
   * The heartbeat of every WebSocket this server upgrades (see
   * `DriverOptions.heartbeat`), unless the handler's `makeServer` sets its own;
   * `false` for none. Deno's own socket (the `deno` backend) cannot send
   * pings: there it becomes Deno's `idleTimeout`, its own ping-based
   * keepalive (the default: 30 s, Deno's own default), and `false` turns that
   * off (a connection then holds no timer of Deno's).
   *
   * @default {{ interval: 30000, timeout: 30000 }}
   */
  heartbeat?: HeartbeatOptions | false;
  /**
   * permessage-deflate for every WebSocket this server upgrades (see
   * `ServerOptions.perMessageDeflate`), unless the handler's `makeServer` sets
   * its own. The `deno` backend's socket cannot compress: there offers are
   * declined.
   *
   * @default {false}
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Called when a listener of one of this server's WebSockets throws (or an
   * `async` one's promise rejects): that connection is closed with 1011 and
   * every other one carries on (see `DriverOptions.rethrowListenerErrors`).
   * Without it, an error nobody listens for on the connection (its `error`
   * event) is logged to stderr.
   *
   * @default {undefined}
   */
  onListenerError?: (error: ListenerError, ws: Server) => void;
  /**
   * An existing `node:http` or `node:https` server (plain, or the one under
   * Express, Fastify, Koa, Hono's node-server) to serve WebSockets on instead
   * of listening: its `upgrade` requests go to the handler, its plain
   * requests stay the application's. `port`, `hostname`, `cert`, `key`,
   * `headTimeout` and `maxHeadSize` do not apply (the server listens by
   * itself); `ready` waits for it to listen, and `close()` stops handling
   * upgrades and closes the WebSockets, but not the server.
   *
   * @default {undefined}
   */
  server?: UpgradeServer;
  /**
   * With `server`: the one path (`"/ws"`) whose upgrades go to the handler;
   * upgrades of other paths are left to the server's other `upgrade`
   * listeners (404 when there is none). Without it, every upgrade goes to the
   * handler.
   *
   * @default {undefined}
   */
  path?: string;
  /**
   * The origins allowed to open a WebSocket on this server (see
   * `ServerOptions.allowOrigins`), unless the handler's `makeServer` sets its
   * own; on every backend. Others get 403.
   *
   * @default {undefined}
   */
  allowOrigins?: AllowOrigins;
}

/** Options that set up a listener, and so do not apply to an existing server. */
const LISTEN_OPTION_KEYS = ["port", "hostname", "cert", "key", "headTimeout", "maxHeadSize"] as const;

const SERVE_OPTION_KEYS = [
  "onListenerError",
  "server",
  "path",
  "allowOrigins",
  "perMessageDeflate",
  "port",
  "hostname",
  "backend",
  "signal",
  "onListen",
  "onError",
  "cert",
  "key",
  "headTimeout",
  "maxHeadSize",
  "shutdownTimeout",
  "heartbeat",
];

/** A running server. */
export interface ServeHandle {
  /** The backend in use. */
  readonly backend: BackendName;
  /**
   * Resolves with the address once listening; rejects if listening failed
   * (the error names the address and the cause, `EADDRINUSE` for a port in
   * use). A server whose `ready` (or `finished`) was never read does not fail
   * silently: the error is thrown as an uncaught exception.
   */
  readonly ready: Promise<NetAddr>;
  /** The address, once listening (`null` before). */
  readonly addr: NetAddr | null;
  /** The port, once listening (0 before). */
  readonly port: number;
  /**
   * Stops accepting, closes every open WebSocket with 1001 "going away", waits
   * up to `shutdownTimeout` for them, then ends what is left.
   */
  close(): Promise<void>;
  /** Resolves once the server is closed. */
  readonly finished: Promise<void>;
}

/** The backends this runtime has. */
export function availableBackends(): BackendName[] {
  return runtimeName === "deno" ? ["tcp", "node", "deno"] : ["tcp", "node"];
}

/**
 * Serves `handler` (which calls `makeServer(request)` for WebSocket requests
 * and may answer plain HTTP requests too) on the chosen backend.
 *
 * @example The seed's echo server
 * ```ts
 * import { makeClient, makeServer, serve } from "@x/wsd";
 *
 * const server = serve((request) => {
 *   const ws = makeServer(request);
 *   ws.on("message", (message) => ws.send(message));
 *   return ws.startConnection();
 * }, { port: 0, onListen: ({ port }) => console.log(`Listening on ws://localhost:${port}/`) });
 * const { port } = await server.ready;
 *
 * const client = makeClient(`ws://127.0.0.1:${port}/`);
 * const echoed = new Promise((resolve) => client.on("message", resolve));
 * client.startConnection();
 * client.send("hello"); // queued until open
 * if (await echoed !== "hello") throw new Error("not echoed");
 * client.closeConnection();
 * await client.closed;
 * await server.close();
 * ```
 */
export function serve(handler: ServeHandler, options?: ServeOptions): ServeHandle {
  return new WebSocketServer(handler, serveSettings(handler, options)).handle();
}

/** What {@linkcode serve} runs with: its options checked, defaults filled in. */
interface ServeSettings {
  backend: BackendName;
  /** The existing server to serve upgrades on, or `undefined` to listen. */
  attachTo: UpgradeServer | undefined;
  path: string | undefined;
  listen: ListenOptions;
  headTimeout: number;
  maxHeadSize: number;
  shutdownTimeout: number;
  /** What the servers of raw-socket upgrades default to. */
  defaults: UpgradeDefaults;
  /** Deno's own socket: serve()'s compression does not apply there, its heartbeat becomes Deno's idleTimeout. */
  nativeDefaults: UpgradeDefaults;
  /** The options as given (for `signal` and `onListen`). */
  options: ServeOptions | undefined;
  onError: (error: unknown) => Response | Promise<Response>;
}

/** Checks the arguments of {@linkcode serve}; throws what `serve()` throws for a mistake. */
function serveSettings(handler: ServeHandler, options: ServeOptions | undefined): ServeSettings {
  if (typeof handler !== "function") throw new TypeError("Cannot serve: the handler must be a function");
  checkOptions(options, SERVE_OPTION_KEYS, "serve options");
  const attachTo = options?.server;
  const path = options?.path;
  if (attachTo !== undefined) {
    if (!isUpgradeServer(attachTo)) {
      throw new TypeError("Cannot serve: server must be a node:http or node:https server");
    }
    const key = LISTEN_OPTION_KEYS.find((k) => options?.[k] !== undefined);
    if (key !== undefined) throw new TypeError(`Cannot serve: ${key} does not apply to an existing server`);
    if (options?.backend !== undefined && options.backend !== "node") {
      throw new TypeError(
        `Cannot serve: an existing server is the node backend, not ${JSON.stringify(options.backend)}`,
      );
    }
  }
  if (path !== undefined && (attachTo === undefined || typeof path !== "string" || !path.startsWith("/"))) {
    throw new TypeError("Cannot serve: path must be a string starting with / and goes with server");
  }
  const backend = options?.backend ?? (attachTo === undefined ? "tcp" : "node");
  if (!availableBackends().includes(backend)) {
    throw new TypeError(
      `Invalid backend ${JSON.stringify(backend)}: on ${runtimeName} use one of ${availableBackends().join(", ")}`,
    );
  }
  const port = options?.port ?? 5000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`Invalid port ${port}`);
  if ((options?.cert === undefined) !== (options?.key === undefined)) {
    throw new TypeError("Invalid TLS options: cert and key go together");
  }
  const heartbeat = options?.heartbeat ?? DEFAULT_SERVE_HEARTBEAT;
  const perMessageDeflate = options?.perMessageDeflate;
  deflateConfig(perMessageDeflate, "serve options"); // a bad setting fails here, not per request
  const onListenerError = options?.onListenerError;
  if (onListenerError !== undefined && typeof onListenerError !== "function") {
    throw new TypeError("Invalid onListenerError: expected a function");
  }
  const allowOrigins = options?.allowOrigins;
  if (allowOrigins !== undefined) checkAllowOrigins(allowOrigins, "serve options");
  return {
    backend,
    attachTo,
    path,
    listen: { hostname: options?.hostname ?? "0.0.0.0", port, cert: options?.cert, key: options?.key },
    headTimeout: options?.headTimeout ?? 10_000,
    maxHeadSize: options?.maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE,
    shutdownTimeout: options?.shutdownTimeout ?? 5_000,
    // one object for every request
    defaults: { heartbeat, perMessageDeflate, onListenerError, allowOrigins },
    nativeDefaults: { heartbeat, allowOrigins, onListenerError },
    options,
    onError: options?.onError ?? internalError,
  };
}

/** Closes `server` with 1001 "going away": now if open, else once it opens. */
function goAway(server: Server): void {
  if (server.readyState === "connecting") server.once("open", () => goAway(server));
  else if (server.readyState === "open") server.closeConnection(CloseCode.GOING_AWAY, "Server shutting down");
}

/**
 * What {@linkcode serve} starts (as ws's `WebSocketServer`, python-websockets'
 * `Server`): one listener on one backend (or the upgrades of an existing
 * server), the WebSockets it upgraded, and their shutdown. Its
 * {@linkcode WebSocketServer.handle} is what `serve()` returns.
 */
class WebSocketServer {
  readonly #settings: ServeSettings;
  readonly #answer: (request: Request, info: ServeHandlerInfo) => Promise<Response>;
  readonly #handler: ServeHandler;
  /** The open (or opening) WebSockets this server upgraded. */
  readonly #sockets = new Set<Server>();
  /** The tcp backend's connections past their head and still in their HTTP part (handler, plain answer). */
  readonly #connections = new Set<Transport>();
  /** What the node backend, and an existing server, need from this one. */
  readonly #httpContext: HttpBackendContext;
  /** The upgrades of an existing server (the `server` option), else `null`. */
  readonly #attached: (ServeBackend & { listening: Promise<NetAddr> }) | null;
  #running: ServeBackend | null = null;
  #addr: NetAddr | null = null;
  readonly #ready: Promise<NetAddr>;
  readonly #finished = Promise.withResolvers<void>();
  #closing: Promise<void> | null = null;
  #shuttingDown = false;
  /**
   * Whether the caller watches `ready` or `finished`: if not, a failure to
   * listen is thrown where nobody can miss it (`serve(h, { port })` with the
   * port taken used to end the process quietly with status 0).
   */
  #watched = false;

  constructor(handler: ServeHandler, settings: ServeSettings) {
    this.#settings = settings;
    this.#handler = handler;
    this.#answer = answerWith(handler, settings.onError);
    this.#httpContext = {
      answer: this.#answer,
      offerUpgrade: this.#offer,
      completeUpgrade,
      track: this.#track,
    };
    // Attached at once, so that no upgrade is missed while the adapter loads.
    this.#attached = settings.attachTo === undefined
      ? null
      : attachUpgrades(settings.attachTo, settings.path, this.#httpContext);
    this.#ready = this.#listen();
    this.#ready.catch((error) => {
      this.#finished.reject(error);
      if (!this.#watched) {
        queueMicrotask(() => {
          throw error;
        });
      }
    });
    // A listen failure rejects both promises; a caller that handles `ready`
    // alone must not get an unhandled rejection (which ends the process).
    this.#finished.promise.catch(() => {});
    settings.options?.signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  /** The {@linkcode ServeHandle} of this server, what `serve()` returns. */
  handle(): ServeHandle {
    // deno-lint-ignore no-this-alias
    const self = this;
    return {
      backend: this.#settings.backend,
      get ready() {
        self.#watched = true;
        return self.#ready;
      },
      get addr() {
        return self.#addr;
      },
      get port() {
        return self.#addr?.port ?? 0;
      },
      close: () => this.close(),
      get finished() {
        self.#watched = true;
        return self.#finished.promise;
      },
    };
  }

  /** Marks a request of a raw-socket backend as one this server upgrades. */
  readonly #offer = (request: Request, copy?: string): void => offerUpgrade(request, this.#settings.defaults, copy);

  /**
   * A `close` listener shared by every server this one upgraded (the emitter
   * calls it with the server as `this`): no closure per connection.
   */
  readonly #untrack: (this: Server) => void = ((sockets: Set<Server>) =>
    function (this: Server): void {
      sockets.delete(this);
    })(this.#sockets);

  /** Keeps an upgraded server until it closes, so that close() can send it away. */
  readonly #track = (server: Server): void => {
    this.#sockets.add(server);
    server.on("close", this.#untrack);
    // An upgrade whose handler was still running when close() began: without
    // this it would stay open, and keep the listener's close waiting for it.
    if (this.#shuttingDown) goAway(server);
  };

  /** Starts listening (or waits for the existing server to); resolves with the address. */
  async #listen(): Promise<NetAddr> {
    const attached = this.#attached;
    let addr: NetAddr;
    if (attached !== null) {
      this.#running = attached;
      addr = this.#addr = await attached.listening;
    } else {
      const adapter = await runtimeAdapter();
      try {
        this.#running = await this.#listenOn(adapter);
      } catch (error) {
        throw listenFailure(error, this.#settings.listen);
      }
      addr = this.#addr = this.#running.addr;
    }
    this.#settings.options?.onListen?.(addr);
    return addr;
  }

  /** The listener of the chosen backend. */
  async #listenOn(adapter: RuntimeAdapter): Promise<ServeBackend> {
    const { backend, listen } = this.#settings;
    if (backend === "tcp") return await adapter.listenTcp(listen, this.#acceptTcp);
    if (backend === "node") return await adapter.listenHttp(listen, this.#httpContext);
    return await adapter.listenNative!(listen, this.#answerNative);
  }

  /** What every connection of the tcp backend shares (one object per server). */
  #connectionContext: ConnectionContext | undefined;

  /** One connection of the tcp backend, tracked until its HTTP part is over. */
  readonly #acceptTcp = (connection: Transport, remoteAddr: () => NetAddr): void => {
    const { listen, headTimeout, maxHeadSize } = this.#settings;
    const context = this.#connectionContext ??= {
      answer: answerAtOnceWith(this.#handler, this.#settings.onError),
      track: this.#track,
      maxHeadSize,
      offer: this.#offer,
      deadlines: new HeadDeadlines(headTimeout),
      hold: (connection) => this.#connections.add(connection),
      release: (connection) => this.#connections.delete(connection),
    };
    new HeadReader(connection, remoteAddr, listen.cert !== undefined, context);
  };

  /** The handler, answered at once when it returns a `Response`: what every request of the deno backend shares. */
  #answerNativeAtOnce: ((request: Request, info: ServeHandlerInfo) => Response | Promise<Response>) | undefined;

  /**
   * One request of the deno backend (Deno's `serve`). A handler that returns
   * its `Response` at once (what `startConnection()` does) is answered
   * without a promise, as on the tcp backend.
   */
  readonly #answerNative = (request: Request, info: ServeHandlerInfo): Response | Promise<Response> => {
    // This listener stops last (see close()); meanwhile, refuse.
    if (this.#shuttingDown) return statusResponse(503, "Server shutting down");
    offerNativeUpgrade(request, null, this.#settings.nativeDefaults);
    const answer = (this.#answerNativeAtOnce ??= answerAtOnceWith(this.#handler, this.#settings.onError))(
      request,
      info,
    );
    if (answer instanceof Response) return this.#answeredNative(request, answer);
    return answer.then((response) => this.#answeredNative(request, response));
  };

  /**
   * The handler answered a request of the deno backend: an upgrade its server
   * made is tracked, and the registry's entry (with the answer and its
   * `Response`) goes now, not with the request, which Deno keeps while its
   * idle timer runs (serve()'s heartbeat).
   */
  #answeredNative(request: Request, response: Response): Response {
    const server = serverForResponse(request, response);
    if (server !== undefined) this.#track(server);
    forgetUpgrade(request);
    return response;
  }

  /**
   * Stops accepting, closes every open WebSocket with 1001 "going away", waits
   * up to `shutdownTimeout` for them, then ends what is left. Once only: a
   * second call gets the same promise.
   */
  close(): Promise<void> {
    this.#watched = true; // a server closed before it listened needs no loud failure
    return this.#closing ??= this.#shutdown();
  }

  async #shutdown(): Promise<void> {
    this.#shuttingDown = true;
    // (An existing server may never listen: its upgrade listener is what stops.)
    if (this.#attached === null) await this.#ready.catch(() => {});
    const running = this.#running;
    // The runtime's own server (the native backend) sends its own close
    // frame to upgraded sockets when it stops, before ours: the sockets
    // would then report 1005 instead of 1001. So it stops last; the others
    // stop accepting first.
    const stopped = this.#settings.backend === "deno" ? undefined : running?.close();
    for (const server of this.#sockets) goAway(server);
    const all = [...this.#sockets].map((s) =>
      new Promise<void>((resolve) => s.readyState === "closed" ? resolve() : s.once("close", () => resolve()))
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => timer = setTimeout(resolve, this.#settings.shutdownTimeout));
    await Promise.race([Promise.all(all), deadline]);
    for (const connection of this.#connections) connection.abort();
    this.#connectionContext?.deadlines.expireAll();
    this.#connectionContext?.deadlines.stop();
    // The listener's own close may wait for requests still in a handler (or
    // a response body still streaming): it gets what is left of the time.
    const stopping = stopped ?? running?.close();
    await Promise.race([stopping, deadline]);
    clearTimeout(timer);
    // Then what is left is torn down: upgraded connections (no longer in
    // `connections`), and whatever the listener still holds.
    for (const server of this.#sockets) server.terminate();
    running?.closeAll?.();
    await stopping;
    this.#finished.resolve();
  }
}

/** A listen error that names the address, and its code when the message does not (Deno's does not). */
function listenFailure(error: unknown, listen: ListenOptions): unknown {
  if (!(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  const named = typeof code === "string" && !error.message.includes(code) ? ` (${code})` : "";
  const failure = new Error(`Cannot listen on ${listen.hostname}:${listen.port}: ${error.message}${named}`, {
    cause: error,
  });
  return typeof code === "string" ? Object.assign(failure, { code }) : failure;
}

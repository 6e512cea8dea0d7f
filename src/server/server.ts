/**
 * The server: the seed's `make-server`. A handler gets a Fetch `Request`,
 * makes a server for it, and returns what `startConnection()` gives back:
 *
 * ```ts
 * import { makeServer } from "@x/wsd/server";
 *
 * const echo = (request: Request): Response => {
 *   const ws = makeServer(request);
 *   ws.on("message", (message) => ws.send(message));
 *   return ws.startConnection();
 * };
 * ```
 *
 * Which connection the server runs on depends on who called the handler:
 *
 * - `serve()`, on any backend with raw sockets, marked the request with
 *   {@linkcode offerUpgrade}. `startConnection()` then returns a `Response`
 *   that stands for the 101 answer (Fetch cannot build a real 101), and the
 *   backend, seeing it come back, writes the 101 head itself and runs this
 *   driver on the socket ({@linkcode completeUpgrade}).
 * - `withWebSockets` (Bun's `serve`) marked the request with Bun's upgrade;
 *   anything else (Deno's `serve`, Deno Deploy) gets Deno's `upgradeWebSocket`.
 *   This API is then mapped onto the runtime's own socket by a
 *   {@linkcode NativeSession}, chosen once in `startConnection()`. What that
 *   socket cannot do (pings on Deno's) throws.
 *
 * A request that is not a valid upgrade, or from an origin `allowOrigins`
 * refuses, gets an HTTP error answer (400, 403, 405, 426) from `startConnection()`, and the server emits `error`, then `close`
 * with 1006.
 *
 * @module
 */

import { MessageCompression } from "../protocol/compression.ts";
import { DEFAULT_MAX_LENGTH } from "../protocol/constants.ts";
import { acceptDeflateOffer, deflateConfig, parseExtensions } from "../protocol/extensions.ts";
import type { DeflateConfig, PerMessageDeflateOptions } from "../protocol/extensions.ts";
import {
  checkServerAdditionalHeaders,
  createServerResponseFields,
  createServerResponseHeaders,
  isToken,
  selectProtocol,
  validateRequest,
} from "../protocol/handshake.ts";
import { utf8Encoder } from "../protocol/utf8.ts";
import { takeOrCopy } from "../protocol/reader.ts";
import { nativeUpgrade } from "../runtime/native.ts";
import type { HeaderFields } from "../protocol/handshake.ts";
import {
  checkOptions,
  closeArguments,
  DRIVER_OPTION_KEYS,
  sendCompress,
  sharedDriverOptions,
  toBytes,
  useExtensions,
  WebSocketDriver,
} from "../driver/driver.ts";
import type { BinaryData, DriverOptions, HeartbeatOptions, ReadyState, SendOptions } from "../driver/driver.ts";
import { NativeSession } from "../driver/native.ts";
import { nativeUpgradeCall, packRequest, packRequestOf, sessionOptions, unpackRequest } from "./connection_state.ts";
import type { RequestFields } from "../driver/native.ts";
import * as upgrades from "./upgrades.ts";
import { bindServer, standInResponse, upgradeOf } from "./upgrades.ts";
import type { CompletedUpgrade } from "./upgrades.ts";
export { forgetUpgrade, offerNativeUpgrade, offerUpgrade } from "./upgrades.ts";
import { checkAllowOrigins, originAllowed } from "./origin.ts";
import type { AllowOrigins } from "./origin.ts";
import type { ListenerError } from "../driver/errors.ts";

/** Options a backend applies to the servers of its requests, unless the handler sets them. */
export interface UpgradeDefaults {
  /** The heartbeat of `serve()`, or `false` for none. */
  heartbeat?: HeartbeatOptions | false;
  /** Where `serve()` reports the exceptions of its connections' listeners. */
  onListenerError?: (error: ListenerError, ws: Server) => void;
  /** The permessage-deflate settings of `serve()`. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** The origins `serve()` allows. */
  allowOrigins?: AllowOrigins;
}

/** See upgrades.ts: `completeUpgrade`, with this module's `Server` type (upgrades.ts cannot name it). */
export const completeUpgrade = upgrades.completeUpgrade as (
  request: Request,
  response: Response,
) => (CompletedUpgrade & { readonly server: Server }) | null;

/** See upgrades.ts: `serverForResponse`, with this module's `Server` type. */
export const serverForResponse = upgrades.serverForResponse as (
  request: Request,
  response: Response,
) => Server | undefined;

/** Options of {@linkcode makeServer}. */
export interface ServerOptions extends DriverOptions {
  /**
   * Subprotocols this server speaks. The first one in the client's
   * `Sec-WebSocket-Protocol` list that is also here is agreed and echoed;
   * when none is, no subprotocol is agreed (the client decides what to do).
   *
   * @default {[]}
   */
  acceptProtocols?: readonly string[];
  /**
   * Extra headers of the 101 answer (cookies, say). The handshake's own
   * headers cannot be overridden.
   *
   * @default {{}}
   */
  additionalHeaders?: HeaderFields;
  /**
   * permessage-deflate (RFC 7692): `true` accepts a client's offer with the
   * defaults, an object sets the parameters. Messages from
   * `threshold` bytes up are then compressed, and `maxLength` bounds the
   * inflated size. The runtime's own socket (Deno serve, Deno Deploy, the
   * `deno` backend of `serve()`) cannot compress: there the offer is declined.
   *
   * @default {false}
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Which pages may open this WebSocket, by their `Origin` header: a list of
   * origins (`"https://example.com"`; compared as serialized origins, scheme
   * and host case-insensitive, default ports dropped) or a predicate. Any
   * other origin gets 403. A request without `Origin` (not from a browser:
   * browsers always send it) is allowed by a list; the opaque origin `"null"`
   * (sandboxed frames, `file:` pages) only if the list has `"null"`. The
   * predicate gets the `Origin` value (`null` when there is none) and the
   * request. `undefined` allows every origin: see the README's section on
   * cross-site WebSocket hijacking.
   *
   * @default {undefined}
   */
  allowOrigins?: AllowOrigins;
}

const SERVER_OPTION_KEYS = [
  ...DRIVER_OPTION_KEYS,
  "acceptProtocols",
  "additionalHeaders",
  "perMessageDeflate",
  "allowOrigins",
];

/** The error of a request that is not a valid WebSocket upgrade. */
export class HandshakeError extends Error {
  /** The HTTP status the request was answered with (400, 403, 405, 426). */
  readonly status: number;

  /**
   * Creates a handshake error.
   *
   * @param status The HTTP status of the answer.
   * @param message What was wrong with the request.
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HandshakeError";
    this.status = status;
  }
}

/** Shared by every server with nothing queued (frozen: a push onto it would throw, not mix servers). */
const NOTHING_PENDING = Object.freeze([]) as unknown as Array<string | Uint8Array>;
/** The send options of a message queued with `compress: false`. */
const UNCOMPRESSED: SendOptions = Object.freeze({ compress: false });

/** No header fields (`packRequest` of a request whose `Headers` are kept instead). */
const NO_FIELDS: readonly string[] = Object.freeze([]);

/**
 * Whether `ws` is a server on a runtime's own socket (which frames messages
 * itself: a frame encoded for many cannot be handed to it). Internal, for
 * the topics hub.
 */
export function onNativeSocket(ws: unknown): boolean {
  return ws instanceof Server && nativeSession(ws) !== null;
}

/** Set by the class's `static {}` block: a server's session on the runtime's own socket. */
let nativeSession: (server: Server) => NativeSession | null;

/**
 * A WebSocket server connection: the seed's `server` class. Make one with
 * {@linkcode makeServer}.
 *
 * @example
 * ```ts
 * import { makeServer } from "@x/wsd/server";
 *
 * const handler = (request: Request): Response => {
 *   const ws = makeServer(request, { acceptProtocols: ["chat"] });
 *   ws.on("message", (message) => ws.send(message));
 *   return ws.startConnection();
 * };
 * ```
 */
export class Server extends WebSocketDriver {
  static {
    bindServer({
      failUpgrade: (server, status) =>
        (server as Server).failConnecting(
          new HandshakeError(status, `The handler answered ${status}, not the upgrade`),
        ),
      releaseRequest: (server) => {
        if ((server as Server).#copy !== null) (server as Server).#request = null;
      },
    });
    nativeSession = (server) => server.#native;
  }

  /** The request, while kept (see {@linkcode Server.request}). */
  #request: Request | null;
  /**
   * What the request can be made again from, if it is let go once the
   * connection opens: {@linkcode packRequest}'s one string (an idle
   * connection keeps one object, not a string per field and an array).
   */
  #copy: string | null = null;
  /** What the upgrader kept of the request's header fields (`NativeUpgradeCall.fields`), instead of fields in `#copy`. */
  #copyHeaders: RequestFields | null = null;
  /** The options, checked, with the backend's defaults: shared by the servers made alike (connection_state.ts). */
  readonly #config: ServerConfig;
  #started = false;
  /** The session on the runtime's own socket, once startConnection() chose it. */
  #native: NativeSession | null = null;
  #nativeProtocol: string | null = null;
  /**
   * Messages sent before the connection opened: before startConnection()
   * (whether they go to the driver or to the runtime's socket is known only
   * then), or before the runtime's socket opened (it refuses sends).
   */
  #pending: Array<string | Uint8Array> = NOTHING_PENDING;
  /** Which of `#pending` were sent with `compress: false` (their indexes). */
  #pendingPlain: Set<number> | null = null;

  /**
   * Checks the options; nothing is answered until
   * {@linkcode Server.startConnection}.
   *
   * @throws {TypeError} for a non-Request, unknown options, or subprotocol
   * names that are not HTTP tokens.
   */
  constructor(request: Request, options?: ServerOptions) {
    if (!(request instanceof Request)) {
      throw new TypeError(`Cannot make a server: expected a Request, got ${typeof request}`);
    }
    checkOptions(options, SERVER_OPTION_KEYS, "server options");
    const upgrade = upgradeOf(request);
    const config = serverConfig(options, upgrade?.defaults as UpgradeDefaults | undefined);
    super("server", config.driverWithDefaults);
    this.#config = config;
    this.#request = request;
    this.#copy = upgrade?.copy ?? null;
  }

  /**
   * The upgrade request: URL, method and headers, for routing and
   * authorization. Until the handshake is answered it is the `Request` the
   * server was made with. A connection of `serve()`'s tcp backend (once
   * open) or of Deno's own server (once `startConnection()` answered) then
   * lets that object go, so that an idle connection does not hold it (a
   * `Request` and what it holds are kilobytes on some runtimes): reading
   * `ws.request` after that gives a `Request` with the same URL, method and
   * headers, made on that first read (not the same object, and without a
   * body: an upgrade has none).
   */
  get request(): Request {
    let request = this.#request;
    if (request === null) {
      request = this.#request = unpackRequest(this.#copy!, this.#copyHeaders);
      this.#copyHeaders = null;
    }
    return request;
  }

  /**
   * Answers the opening handshake (RFC 6455 §4.2.2): returns the `Response`
   * the handler must return. For a valid upgrade, the connection opens once
   * that response was sent (`open` follows); for an invalid one it is an HTTP
   * error (400, 405 or 426 with `Sec-WebSocket-Version: 13`), and `error`
   * then `close` (1006) follow.
   *
   * @throws {TypeError} if called twice, or if nothing can upgrade this request
   * (it came neither from `serve()` nor from a runtime with a native upgrade).
   */
  startConnection(): Response {
    if (this.#started) throw new TypeError("Cannot start the connection: it was started already");
    this.#started = true;
    const request = this.request;
    const check = validateRequest(request.method, request.headers);
    if (!check.ok) return this.#refuse(check.status, check.message, check.headers);
    if (this.#config.allowOrigins !== undefined) {
      const origin = request.headers.get("origin");
      if (!originAllowed(this.#config.allowOrigins, origin, request)) {
        return this.#refuse(403, `Origin not allowed: ${origin}`);
      }
    }
    const protocol = selectProtocol(check.protocols, this.#config.acceptProtocols);
    const upgrade = upgradeOf(request);
    if (upgrade !== undefined && upgrade.native === null) {
      let extensions: string | null = null;
      if (this.#config.deflate !== null && check.extensions !== null) {
        const offers = parseExtensions(check.extensions);
        if (offers === null) {
          return this.#refuse(400, `Invalid Sec-WebSocket-Extensions header: ${JSON.stringify(check.extensions)}`);
        }
        const accepted = acceptDeflateOffer(offers, this.#config.deflate);
        if (accepted !== null) {
          extensions = accepted.response;
          useExtensions(this, extensions, new MessageCompression("server", accepted.params, this.#config.deflate));
        }
      }
      // Without additional headers, a record: the cheapest input of Response.
      const headers = this.#config.additionalHeaders === undefined
        ? createServerResponseFields(check.key, protocol, extensions)
        : createServerResponseHeaders(check.key, protocol, this.#config.additionalHeaders, extensions);
      const early = this.#pending;
      const plain = this.#pendingPlain;
      this.#pending = NOTHING_PENDING;
      this.#pendingPlain = null;
      for (let i = 0; i < early.length; i++) {
        const m = early[i];
        const options = plain?.has(i) ? UNCOMPRESSED : undefined;
        if (typeof m === "string") super.sendText(m, options);
        else super.sendBinary(m, options);
      }
      const response = standInResponse(headers);
      upgrade.answered(this, protocol, response, headers);
      return response;
    }
    // The runtime writes the handshake's own headers (the accept key too):
    // it is given only what it adds, if anything.
    const headers = nativeAnswerHeaders(protocol, this.#config.additionalHeaders);
    // The runtime's socket cannot send pings: its own idle timeout stands in for the heartbeat.
    const heartbeat = this.#config.heartbeat, call = nativeUpgradeCall(heartbeat);
    const upgrader = upgrade?.native?.upgrader ?? null;
    // What `ws.request` needs later is kept now, and the request let go once
    // answered: the runtime's `Request` and what it holds are kilobytes an
    // idle connection would keep. Without an upgrader (the runtime's
    // built-in upgrade) the headers may be read lazily from the connection
    // and refuse once the response went out: they are copied. An upgrader's
    // runtime keeps them readable: the upgrader says what to keep of them (a
    // copy field by field cost each handshake more than it saved).
    if (upgrader === null) this.#copy = packRequestOf(request);
    else this.#copy = packRequest(request.url, request.method, NO_FIELDS);
    const response = (upgrader ?? nativeUpgrade)(request, headers, call), link = call.link;
    this.#copyHeaders = call.fields;
    call.link = call.fields = null;
    if (response === null || link === null) {
      throw new TypeError(
        "Cannot start the connection: this request did not come from serve(), " +
          "and this runtime has no built-in upgrade; serve the handler with serve() " +
          "(on Bun's serve, spread withWebSockets(handler) into its options)",
      );
    }
    this.#nativeProtocol = protocol;
    const options = sessionOptions(
      this.#config.driverOptions,
      this.#config.maxLength,
      heartbeat || undefined,
      this.#config.deflate !== null,
    );
    this.#native = new NativeSession(this, link, options);
    // What was sent before startConnection() goes first.
    const early = this.#pending;
    this.#pending = NOTHING_PENDING;
    this.#pendingPlain = null;
    for (const data of early) this.#native.send(data);
    upgrade?.answered(this, protocol, response, null);
    if (this.#copy !== null) this.#request = null;
    return response;
  }

  /** Reports a listener's exception to `serve()`'s `onListenerError`, if it has one. */
  protected override reportListenerError(error: ListenerError): boolean {
    const hook = this.#config.onListenerError;
    if (hook === undefined) return false;
    hook(error, this);
    return true;
  }

  /** Answers a request that is not a valid upgrade, and fails the connection. */
  #refuse(status: number, message: string, extraHeaders?: Headers): Response {
    const error = new HandshakeError(status, message);
    this.#pending = NOTHING_PENDING;
    this.#pendingPlain = null;
    queueMicrotask(() => this.failConnecting(error));
    const headers = new Headers(extraHeaders);
    headers.set("Content-Type", "text/plain; charset=utf-8");
    headers.set("Connection", "close");
    return new Response(message + "\n", { status, headers });
  }

  // ─────────────── the runtime's own socket (Deno serve, Deno Deploy, Bun.serve) ───────────────
  // Chosen once in startConnection(): every method below goes to the
  // NativeSession when there is one, else to the driver.

  /** The subprotocol agreed in the handshake, or `null`. */
  override get protocol(): string | null {
    return this.#native === null ? super.protocol : this.#nativeProtocol;
  }

  /** The extensions agreed in the handshake (see {@linkcode WebSocketDriver.extensions}). */
  override get extensions(): string {
    return this.#native === null ? super.extensions : this.#native.extensions;
  }

  /** The connection's state. */
  override get readyState(): ReadyState {
    return this.#native === null ? super.readyState : this.#native.readyState;
  }

  /** Bytes accepted by the send methods and not yet handed to the socket. */
  override get bufferedAmount(): number {
    return this.#native === null ? super.bufferedAmount : this.#native.bufferedAmount;
  }

  /** What the connection runs on: the stream pair, or the runtime's own WebSocket. */
  override get socket(): unknown {
    return this.#native === null ? super.socket : this.#native.socket;
  }

  /**
   * Resolves once `bufferedAmount` is at most `outgoingHighWaterMark` (see
   * {@linkcode WebSocketDriver.drained}). Deno's own socket tells no write
   * completions: there it is polled every 10 ms.
   */
  override drained(): Promise<void> {
    return this.#native === null ? super.drained() : this.#native.drained();
  }

  /** Sends a text message (see {@linkcode WebSocketDriver.sendText}). */
  override sendText(text: string, options?: SendOptions): boolean {
    if (this.#native === null && this.#started) return super.sendText(text, options);
    if (typeof text !== "string") throw new TypeError("Cannot send text: expected a string");
    // The runtime's own socket compresses as it agreed; the option is checked, and kept for an early send.
    return this.#nativeSend(text, options === undefined || sendCompress(options));
  }

  /** Sends a binary message (see {@linkcode WebSocketDriver.sendBinary}). */
  override sendBinary(data: BinaryData, options?: SendOptions): boolean {
    if (this.#native === null && this.#started) return super.sendBinary(data, options);
    const compress = options === undefined || sendCompress(options), bytes = toBytes(data, "Cannot send binary");
    // Copied now, or taken (`transfer`): what is sent must not change if the caller reuses its buffer.
    if (options?.transfer !== true) return this.#nativeSend(new Uint8Array(bytes), compress);
    if (this.#native !== null) return this.#native.send(bytes, true);
    return this.readyState === "connecting" && this.#queueEarly(takeOrCopy(bytes), compress);
  }

  /**
   * Sends a ping (see {@linkcode WebSocketDriver.sendPing}).
   *
   * @throws {DOMException} `NotSupportedError` on Deno's own socket (Deno's
   * `serve`, Deno Deploy, the `deno` backend), which cannot send pings; it
   * answers the client's pings.
   */
  override sendPing(data?: string | BinaryData, onPong?: () => void): boolean {
    if (this.#native === null) return super.sendPing(data, onPong);
    if (onPong !== undefined && typeof onPong !== "function") {
      throw new TypeError("Cannot send ping: onPong must be a function");
    }
    return this.#native.sendPing(pingPayload(data), onPong);
  }

  /**
   * Sends a ping and resolves with the round-trip time (see
   * {@linkcode WebSocketDriver.ping}); rejects with a `NotSupportedError` on
   * Deno's own socket.
   */
  override ping(data?: string | BinaryData): Promise<number> {
    if (this.#native === null) return super.ping(data);
    try {
      return this.#native.ping(
        data === undefined ? utf8Encoder.encode(`wsd-ping-${++pingCounter}`) : pingPayload(data),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Starts the closing handshake (see {@linkcode WebSocketDriver.closeConnection}). */
  override closeConnection(reason?: string, code?: number): boolean;
  /** The WHATWG order: code first. */
  override closeConnection(code: number, reason?: string): boolean;
  override closeConnection(a?: string | number, b?: number | string): boolean {
    if (this.#native === null) return super.closeConnection(a as string, b as number);
    const { code, reason } = closeArguments(a, b);
    return this.#native.closeConnection(code, reason);
  }

  /**
   * Drops the connection at once (see {@linkcode WebSocketDriver.terminate}).
   * Deno's own socket cannot be torn down: there its close is started, and
   * `close` (1006) is reported at once.
   */
  override terminate(): void {
    if (this.#native === null) return super.terminate();
    this.#native.terminate();
  }

  /** Keeps a message sent before the connection could take it; returns `true` (it was accepted). */
  #queueEarly(data: string | Uint8Array, compress = true): true {
    if (this.#pending === NOTHING_PENDING) this.#pending = [];
    if (!compress) (this.#pendingPlain ??= new Set()).add(this.#pending.length);
    this.#pending.push(data);
    return true;
  }

  /** A send before startConnection(), or on the runtime's socket. */
  #nativeSend(data: string | Uint8Array, compress = true): boolean {
    if (this.#native !== null) return this.#native.send(data);
    if (this.readyState !== "connecting") return false;
    return this.#queueEarly(data, compress);
  }
}

/**
 * What a runtime's own upgrade adds to the 101 answer it writes: the agreed
 * subprotocol and the additional headers (checked by the constructor), or
 * `null` when there is nothing to add: no `Headers` built (with an accept
 * key the runtime computes again) and merged for nothing on every handshake.
 */
function nativeAnswerHeaders(protocol: string | null, additionalHeaders: HeaderFields | undefined): Headers | null {
  if (protocol === null && additionalHeaders === undefined) return null;
  const headers = new Headers(additionalHeaders);
  if (protocol !== null) headers.set("Sec-WebSocket-Protocol", protocol);
  return headers;
}

/**
 * What a server was made with: its options checked, its backend's defaults
 * applied. Servers made without options by the same backend share one.
 */
interface ServerConfig {
  /** The handler's own driver options (without the backend's heartbeat). */
  readonly driverOptions: DriverOptions;
  /** What the driver is made with: the handler's driver options, with the backend's heartbeat. */
  readonly driverWithDefaults: DriverOptions;
  /** The heartbeat: the handler's, else the backend's; `undefined` for neither. */
  readonly heartbeat: HeartbeatOptions | false | undefined;
  /** The backend's listener error hook. */
  readonly onListenerError: ((error: ListenerError, ws: Server) => void) | undefined;
  readonly allowOrigins: AllowOrigins | undefined;
  readonly acceptProtocols: readonly string[];
  readonly additionalHeaders: HeaderFields | undefined;
  readonly maxLength: number;
  readonly deflate: DeflateConfig | null;
}

/** The options of every server made without any (frozen, shared: so are the driver's settings made from them). */
const NO_OPTIONS: ServerOptions = sharedDriverOptions({});
/** Shared by every server without `acceptProtocols`. */
const NO_PROTOCOLS: readonly string[] = Object.freeze([]);
/** The configs of servers made without options, by their backend's defaults (none: `undefined`'s, apart). */
const sharedConfigs = new WeakMap<UpgradeDefaults, ServerConfig>();
let noDefaultsConfig: ServerConfig | null = null;

/**
 * The config of a server made with `options` for a request of a backend with
 * `defaults`: checks the options (throws as the `Server` constructor says),
 * applies the defaults the options leave open (serve()'s heartbeat, origins,
 * compression, listener error hook).
 */
function serverConfig(options: ServerOptions | undefined, defaults: UpgradeDefaults | undefined): ServerConfig {
  if (options === undefined) {
    const shared = defaults === undefined ? noDefaultsConfig : sharedConfigs.get(defaults);
    if (shared != null) return shared;
  }
  // Without options, the driver's are one shared empty object, not a copy per server.
  const { acceptProtocols, additionalHeaders, perMessageDeflate, allowOrigins } = options ?? NO_OPTIONS;
  const driverOptions = options === undefined ? NO_OPTIONS : driverPart(options);
  // serve()'s heartbeat applies unless the handler chose one (or false).
  const heartbeat = driverOptions.heartbeat ?? defaults?.heartbeat;
  if (allowOrigins !== undefined) checkAllowOrigins(allowOrigins, "server options");
  const protocols = acceptProtocols ?? NO_PROTOCOLS;
  // (The shared empty list needs no check: no closure made for it.)
  if (
    protocols !== NO_PROTOCOLS &&
    (!Array.isArray(protocols) || protocols.some((p) => typeof p !== "string" || !isToken(p)))
  ) {
    throw new TypeError("Invalid acceptProtocols: expected an array of HTTP tokens");
  }
  // A bad additionalHeaders should fail here, not in the middle of a handshake.
  if (additionalHeaders !== undefined) checkServerAdditionalHeaders(additionalHeaders);
  const config: ServerConfig = Object.freeze({
    driverOptions,
    // The driver's settings are shared too where its options are (sharedDriverOptions).
    driverWithDefaults: heartbeat === undefined || driverOptions.heartbeat !== undefined
      ? driverOptions
      : options === undefined
      ? sharedDriverOptions({ heartbeat })
      : { ...driverOptions, heartbeat },
    heartbeat,
    onListenerError: defaults?.onListenerError,
    allowOrigins: allowOrigins ?? defaults?.allowOrigins,
    acceptProtocols: protocols,
    additionalHeaders,
    maxLength: driverOptions.maxLength ?? DEFAULT_MAX_LENGTH,
    deflate: deflateConfig(perMessageDeflate ?? defaults?.perMessageDeflate, "server options"),
  });
  if (options === undefined) {
    if (defaults === undefined) noDefaultsConfig = config;
    else sharedConfigs.set(defaults, config);
  }
  return config;
}

/** The driver's part of a server's options. */
function driverPart(options: ServerOptions): DriverOptions {
  const { acceptProtocols: _p, additionalHeaders: _h, perMessageDeflate: _d, allowOrigins: _o, ...driverOptions } =
    options;
  return driverOptions;
}

/**
 * Makes a server for `request` (the seed's `make-server`): call `on(…)` for
 * the events, then return `startConnection()` from the handler.
 *
 * @example The seed's echo server
 * ```ts
 * import { makeServer, serve } from "@x/wsd";
 *
 * const server = serve((request) => {
 *   const ws = makeServer(request, { maxLength: 1 << 20 });
 *   ws.on("message", (message) => ws.send(message));
 *   return ws.startConnection();
 * }, { port: 0 }); // port 0: any free port
 * await server.ready;
 * await server.close();
 * ```
 */
export function makeServer(request: Request, options?: ServerOptions): Server {
  return new Server(request, options);
}

let pingCounter = 0;

/** A ping's payload as bytes (a copy: the caller may reuse its buffer). */
function pingPayload(data: string | BinaryData = new Uint8Array(0)): Uint8Array {
  return typeof data === "string" ? utf8Encoder.encode(data) : new Uint8Array(toBytes(data, "Cannot send ping"));
}

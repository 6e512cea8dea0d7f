/**
 * The server: the seed's `make-server`. A handler gets a Fetch `Request`,
 * makes a server for it, and returns what `startConnection()` gives back:
 *
 * ```ts ignore
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
 * - Anything else (Deno's `serve`, Deno Deploy): the runtime's own upgrade
 *   (Deno's `upgradeWebSocket`) is used, and this API is mapped onto the
 *   runtime's socket. What that socket cannot do (pings) throws.
 *
 * A request that is not a valid upgrade gets an HTTP error answer (400, 405,
 * 426) from `startConnection()`, and the server emits `error`, then `close`
 * with 1006.
 *
 * @module
 */

import { CloseCode, DEFAULT_MAX_LENGTH } from "../protocol/constants.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { MessageCompression } from "../protocol/compression.ts";
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
import { nativeUpgrade } from "../runtime/native.ts";
import type { NativeSocket } from "../runtime/native.ts";
import type { HeaderFields } from "../protocol/handshake.ts";
import {
  checkOptions,
  closeArguments,
  DRIVER_OPTION_KEYS,
  sendCompress,
  toBytes,
  useExtensions,
  WebSocketDriver,
} from "./driver.ts";
import { DEFAULT_OUTGOING_HIGH_WATER_MARK } from "./driver.ts";
import type { BinaryData, DriverOptions, HeartbeatOptions, ReadyState, SendOptions } from "./driver.ts";
import type { Transport } from "./transport.ts";
import type { ListenerError } from "./errors.ts";

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
}

const SERVER_OPTION_KEYS = [...DRIVER_OPTION_KEYS, "acceptProtocols", "additionalHeaders", "perMessageDeflate"];

/** The error of a request that is not a valid WebSocket upgrade. */
export class HandshakeError extends Error {
  /** The HTTP status the request was answered with (400, 405, 426). */
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
/** Shared by every server without `acceptProtocols`. */
const NO_PROTOCOLS: readonly string[] = Object.freeze([]);

/** Responses of native upgrades, to the server they belong to. */
const nativeResponses = new WeakMap<Response, Server>();

/**
 * The server whose `startConnection()` made `response` through the runtime's
 * own upgrade, if any: lets a backend track the connection. For backends only.
 */
export function serverForResponse(response: Response): Server | undefined {
  return nativeResponses.get(response);
}

/** Requests whose backend will complete an upgrade itself. */
const offered = new WeakMap<Request, UpgradeDefaults>();

/** Options a backend applies to the servers of its requests, unless the handler sets them. */
export interface UpgradeDefaults {
  /** The heartbeat of `serve()`, or `false` for none. */
  heartbeat?: HeartbeatOptions | false;
  /** Where `serve()` reports the exceptions of its connections' listeners. */
  onListenerError?: (error: ListenerError, ws: Server) => void;
  /** The permessage-deflate settings of `serve()`. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
}
/** Offered requests whose server made its upgrade answer, with that answer. */
const upgrades = new WeakMap<Request, { server: Server; protocol: string | null; response: Response }>();
/** Fails a server whose upgrade answer the handler did not return (set by the class, which may). */
let failUpgrade: (server: Server, error: Error) => void;

/**
 * Marks `request` as coming from a backend with a raw socket, which will write
 * the 101 answer and run the connection itself. For backends only.
 */
export function offerUpgrade(request: Request, defaults: UpgradeDefaults = {}): void {
  offered.set(request, defaults);
}

/**
 * What a backend does with a handler's response to an offered request: if it
 * is the upgrade `startConnection()` made for this very request, returns the
 * headers of the 101 answer to write and a function that runs the server on
 * the connection once the head is written; otherwise `null` (answer the
 * response as plain HTTP).
 */
export function completeUpgrade(
  request: Request,
  response: Response,
): { headers: Headers; server: Server; start: (transport: Transport) => void } | null {
  const upgrade = upgrades.get(request);
  if (upgrade === undefined) return null;
  upgrades.delete(request);
  const { server, protocol } = upgrade;
  if (response !== upgrade.response && !isCopyOf(response, upgrade.response)) {
    // The handler (or a middleware around it) answered something else: this
    // connection will never open, and says so.
    failUpgrade(
      server,
      new HandshakeError(response.status, `The handler answered ${response.status}, not the upgrade`),
    );
    return null;
  }
  return { headers: response.headers, server, start: (transport) => server.attach(transport, protocol) };
}

/**
 * Whether `response` is a copy of the upgrade answer: frameworks rebuild a
 * handler's answer to add headers (Hono's middleware makes
 * `new Response(body, answer)`), and those headers then go in the 101 head.
 */
function isCopyOf(response: Response, upgrade: Response): boolean {
  return response.status === upgrade.status && response.body === null &&
    response.headers.get("sec-websocket-accept") === upgrade.headers.get("sec-websocket-accept");
}

/**
 * A WebSocket server connection: the seed's `server` class. Make one with
 * {@linkcode makeServer}.
 *
 * @example
 * ```ts ignore
 * const handler = (request: Request): Response => {
 *   const ws = makeServer(request, { acceptProtocols: ["chat"] });
 *   ws.on("message", (message) => ws.send(message));
 *   return ws.startConnection();
 * };
 * ```
 */
export class Server extends WebSocketDriver {
  static {
    failUpgrade = (server, error) => server.failConnecting(error);
  }

  /** The upgrade request: URL, headers, for routing and authorization. */
  readonly request: Request;
  readonly #acceptProtocols: readonly string[];
  readonly #additionalHeaders: HeaderFields | undefined;
  readonly #maxLength: number;
  readonly #deflate: DeflateConfig | null;
  #started = false;
  #native: NativeSocket | null = null;
  #nativeProtocol: string | null = null;
  #nativeClosed = false;
  #heartbeat: HeartbeatOptions | false | undefined;
  #outgoingHighWaterMark: number;
  readonly #onListenerError: ((error: ListenerError, ws: Server) => void) | undefined;
  /**
   * Messages sent before the connection opened: before startConnection()
   * (whether they go to the driver or to the runtime's socket is known only
   * then), or before the runtime's socket opened (it refuses sends).
   */
  #pending: Array<string | Uint8Array> = NOTHING_PENDING;

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
    const { acceptProtocols, additionalHeaders, perMessageDeflate, ...driverOptions } = options ?? {};
    // serve()'s heartbeat applies unless the handler chose one (or false).
    const heartbeat = driverOptions.heartbeat ??
      (request instanceof Request ? offered.get(request)?.heartbeat : undefined);
    super("server", heartbeat === undefined ? driverOptions : { ...driverOptions, heartbeat });
    this.#heartbeat = heartbeat;
    this.#onListenerError = offered.get(request)?.onListenerError;
    this.#outgoingHighWaterMark = driverOptions.outgoingHighWaterMark ?? DEFAULT_OUTGOING_HIGH_WATER_MARK;
    this.request = request;
    const protocols = acceptProtocols ?? NO_PROTOCOLS;
    if (!Array.isArray(protocols) || protocols.some((p) => typeof p !== "string" || !isToken(p))) {
      throw new TypeError("Invalid acceptProtocols: expected an array of HTTP tokens");
    }
    this.#acceptProtocols = protocols;
    this.#additionalHeaders = additionalHeaders;
    this.#maxLength = driverOptions.maxLength ?? DEFAULT_MAX_LENGTH;
    this.#deflate = deflateConfig(perMessageDeflate ?? offered.get(request)?.perMessageDeflate, "server options");
    // A bad additionalHeaders should fail here, not in the middle of a handshake.
    if (additionalHeaders !== undefined) checkServerAdditionalHeaders(additionalHeaders);
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
    const protocol = selectProtocol(check.protocols, this.#acceptProtocols);
    if (offered.has(request)) {
      let extensions: string | null = null;
      if (this.#deflate !== null && check.extensions !== null) {
        const offers = parseExtensions(check.extensions);
        if (offers === null) {
          return this.#refuse(400, `Invalid Sec-WebSocket-Extensions header: ${JSON.stringify(check.extensions)}`);
        }
        const accepted = acceptDeflateOffer(offers, this.#deflate);
        if (accepted !== null) {
          extensions = accepted.response;
          useExtensions(this, extensions, new MessageCompression("server", accepted.params, this.#deflate));
        }
      }
      // Without additional headers, a record: the cheapest input of Response.
      const headers = this.#additionalHeaders === undefined
        ? createServerResponseFields(check.key, protocol, extensions)
        : createServerResponseHeaders(check.key, protocol, this.#additionalHeaders, extensions);
      const early = this.#pending;
      this.#pending = NOTHING_PENDING;
      for (const m of early) {
        if (typeof m === "string") super.sendText(m);
        else super.sendBinary(m);
      }
      // Fetch cannot make a 101 response: this 200 stands for it, and the
      // backend writes the real head (see completeUpgrade).
      const response = new Response(null, { status: 200, headers });
      upgrades.set(request, { server: this, protocol, response });
      return response;
    }
    const headers = createServerResponseHeaders(check.key, protocol, this.#additionalHeaders);
    // The runtime's socket cannot send pings: its own idle timeout stands in for the heartbeat.
    const heartbeat = this.#heartbeat;
    const idleTimeout = heartbeat === undefined
      ? undefined
      : heartbeat === false
      ? 0
      : Math.max(1, Math.round((heartbeat.interval + heartbeat.timeout) / 2000));
    const native = nativeUpgrade(request, headers, idleTimeout);
    if (native === null) {
      throw new TypeError(
        "Cannot start the connection: this request did not come from serve(), " +
          "and this runtime has no built-in upgrade; serve the handler with serve()",
      );
    }
    this.#bindNative(native.socket, protocol);
    nativeResponses.set(native.response, this);
    return native.response;
  }

  /** Reports a listener's exception to `serve()`'s `onListenerError`, if it has one. */
  protected override reportListenerError(error: ListenerError): boolean {
    const hook = this.#onListenerError;
    if (hook === undefined) return false;
    hook(error, this);
    return true;
  }

  /** Answers a request that is not a valid upgrade, and fails the connection. */
  #refuse(status: number, message: string, extraHeaders?: Headers): Response {
    const error = new HandshakeError(status, message);
    this.#pending = NOTHING_PENDING;
    queueMicrotask(() => this.failConnecting(error));
    const headers = new Headers(extraHeaders);
    headers.set("Content-Type", "text/plain; charset=utf-8");
    headers.set("Connection", "close");
    return new Response(message + "\n", { status, headers });
  }

  // ─────────────── the runtime's own socket (Deno serve, Deno Deploy) ───────────────

  #bindNative(socket: NativeSocket, protocol: string | null): void {
    this.#native = socket;
    this.#nativeProtocol = protocol;
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      // What was sent before now goes first, as the driver does.
      const pending = this.#pending;
      this.#pending = NOTHING_PENDING;
      for (const data of pending) socket.send(data);
      this.emit("open");
    };
    socket.onmessage = (event: MessageEvent) => {
      const data = typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer);
      if (byteLength(data) > this.#maxLength) {
        // The runtime buffered it already; the limit still closes with 1009.
        this.emit(
          "error",
          new ProtocolError(
            "WSD_ERR_MESSAGE_TOO_BIG",
            CloseCode.MESSAGE_TOO_BIG,
            `Message too big: more than the limit of ${this.#maxLength} bytes`,
          ),
        );
        if (socket.readyState === 1) socket.close(CloseCode.MESSAGE_TOO_BIG, "Message too big");
        return;
      }
      this.emit("message", data);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.#nativeClosed) return;
      this.#nativeClosed = true;
      this.emit("close", event.code || CloseCode.NO_STATUS, event.reason);
    };
  }

  /** The subprotocol agreed in the handshake, or `null`. */
  override get protocol(): string | null {
    return this.#native === null ? super.protocol : this.#nativeProtocol;
  }

  /** The connection's state. */
  override get readyState(): ReadyState {
    if (this.#native === null) return super.readyState;
    if (this.#nativeClosed) return "closed";
    return (["connecting", "open", "closing", "closed"] as const)[this.#native.readyState];
  }

  /** Bytes accepted by the send methods and not yet handed to the socket. */
  override get bufferedAmount(): number {
    return this.#native === null ? super.bufferedAmount : this.#native.bufferedAmount;
  }

  /** What the connection runs on: the stream pair, or the runtime's own WebSocket. */
  override get socket(): unknown {
    return this.#native ?? super.socket;
  }

  /**
   * Resolves once `bufferedAmount` is at most `outgoingHighWaterMark` (see
   * {@linkcode WebSocketDriver.drained}). The runtime's own socket tells no
   * write completions: there it is polled every 10 ms.
   */
  override drained(): Promise<void> {
    const socket = this.#native;
    if (socket === null) return super.drained();
    return new Promise((resolve) => {
      const check = () => {
        if (socket.bufferedAmount <= this.#outgoingHighWaterMark || socket.readyState >= 2) resolve();
        else setTimeout(check, 10);
      };
      check();
    });
  }

  /** Sends a text message (see {@linkcode WebSocketDriver.sendText}). */
  override sendText(text: string, options?: SendOptions): boolean {
    if (this.#native === null && this.#started) return super.sendText(text, options);
    if (typeof text !== "string") throw new TypeError("Cannot send text: expected a string");
    // The runtime's own socket compresses as it agreed; the option is only checked.
    if (options !== undefined) sendCompress(options);
    return this.#nativeSend(text);
  }

  /** Sends a binary message (see {@linkcode WebSocketDriver.sendBinary}). */
  override sendBinary(data: BinaryData, options?: SendOptions): boolean {
    if (this.#native === null && this.#started) return super.sendBinary(data, options);
    if (options !== undefined) sendCompress(options);
    // Copied now: what is sent must not change if the caller reuses its buffer.
    return this.#nativeSend(toBytes(data, "Cannot send binary").slice());
  }

  /**
   * Sends a ping (see {@linkcode WebSocketDriver.sendPing}).
   *
   * @throws {DOMException} `NotSupportedError` on the runtime's own socket
   * (Deno's `serve`), which cannot send pings; it answers the client's pings.
   */
  override sendPing(data?: string | BinaryData, onPong?: () => void): boolean {
    if (this.#native === null) return super.sendPing(data, onPong);
    throw new DOMException(
      "Cannot send ping: the runtime's built-in WebSocket (Deno serve, Deno Deploy) cannot send pings; " +
        "serve the handler with serve() for pings",
      "NotSupportedError",
    );
  }

  /** Starts the closing handshake (see {@linkcode WebSocketDriver.closeConnection}). */
  override closeConnection(reason?: string, code?: number): boolean;
  /** The WHATWG order: code first. */
  override closeConnection(code: number, reason?: string): boolean;
  override closeConnection(a?: string | number, b?: number | string): boolean {
    if (this.#native === null) return super.closeConnection(a as string, b as number);
    const { code, reason } = closeArguments(a, b);
    const socket = this.#native;
    if (socket.readyState >= 2) return false;
    socket.close(code, reason);
    return true;
  }

  /**
   * Drops the connection at once (see {@linkcode WebSocketDriver.terminate}). On
   * the runtime's own socket, which cannot be torn down, it starts its close.
   */
  override terminate(): void {
    const socket = this.#native;
    if (socket === null) return super.terminate();
    if (socket.readyState < 2) socket.close();
  }

  /** Keeps a message sent before the connection could take it. */
  #queueEarly(data: string | Uint8Array): void {
    if (this.#pending === NOTHING_PENDING) this.#pending = [];
    this.#pending.push(data);
  }

  /** Sends on the runtime's socket (or queues before it opened); `false` once it is closing or closed. */
  #nativeSend(data: string | Uint8Array): boolean {
    if (!this.#started) {
      if (this.readyState !== "connecting") return false;
      this.#queueEarly(data);
      return true;
    }
    const socket = this.#native!;
    if (socket.readyState !== 1 && socket.readyState !== 0) return false;
    if (socket.readyState === 0) {
      // The runtime's socket refuses sends before open: queue them, as the
      // seed does; they go before whatever `open` listeners send.
      this.#queueEarly(data);
      return true;
    }
    socket.send(data);
    return true;
  }
}

/**
 * Makes a server for `request` (the seed's `make-server`): call `on(…)` for
 * the events, then return `startConnection()` from the handler.
 *
 * @example The seed's echo server
 * ```ts ignore
 * import { makeServer, serve } from "@x/wsd";
 *
 * serve((request) => {
 *   const ws = makeServer(request, { maxLength: 1 << 20 });
 *   ws.on("message", (message) => ws.send(message));
 *   return ws.startConnection();
 * }, { port: 5000 });
 * ```
 */
export function makeServer(request: Request, options?: ServerOptions): Server {
  return new Server(request, options);
}

function byteLength(data: string | Uint8Array): number {
  if (typeof data !== "string") return data.length;
  let n = data.length;
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c >= 0x80) n += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  return n;
}

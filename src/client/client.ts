/**
 * The client: the seed's `make-client`. It opens a TCP or TLS connection with
 * the runtime's own sockets, sends the opening handshake (RFC 6455 §4.1),
 * validates the answer, and then runs the same driver as a server, masking
 * every frame.
 *
 * ```text
 *   startConnection()
 *     └─ runtime adapter: connect(host, port, tls)        ─┐
 *     └─ write "GET … Upgrade: websocket …"                 │ openTimeout
 *     └─ read the response head; validate 101 + accept key ─┘
 *     └─ attach the driver (it takes the bytes after the head over) → "open"
 *   any failure before open → "error", then "close" (1006); nothing is sent
 * ```
 *
 * Beyond one connection: `followRedirects` follows 3xx answers to another
 * WebSocket URL (credentials stay with their origin), `proxy` (or the
 * environment's `https_proxy`/`http_proxy`/`no_proxy`) opens a CONNECT tunnel
 * first, and `reconnect` makes the same object connect again after a dropped
 * connection or a server restart:
 *
 * ```text
 *   connecting ─▶ open ─▶ (1006, 1001, 1011–1014) ─▶ "reconnecting" (attempt, delay, cause)
 *       ▲                                                   │ backoff timer
 *       └───────────────────────────────────────────────────┘
 *   a failed attempt (network, 5xx) → "reconnecting" again; "close" once, when it gives up
 *   or the application closes; sends while disconnected are queued and go out after "open"
 * ```
 *
 * @module
 */

import { MessageCompression } from "../protocol/compression.ts";
import { acceptDeflateResponse, deflateConfig, deflateOffer, PERMESSAGE_DEFLATE } from "../protocol/extensions.ts";
import type { DeflateConfig, PerMessageDeflateOptions } from "../protocol/extensions.ts";
import { createClientRequestHeaders, generateKey, isToken, validateResponse } from "../protocol/handshake.ts";
import type { HeaderFields } from "../protocol/handshake.ts";
import { serializeRequestHead } from "../protocol/http1.ts";
import { Protocol } from "../protocol/protocol.ts";
import { basicAuthorization } from "../protocol/proxy.ts";
import { runtimeAdapter } from "../runtime/mod.ts";
import type { ProxyTarget } from "../runtime/types.ts";
import {
  attachStarted,
  checkOptions,
  CloseError,
  DEFAULT_OUTGOING_HIGH_WATER_MARK,
  DRIVER_OPTION_KEYS,
  restartDriver,
  toBytes,
  useExtensions,
  WebSocketDriver,
} from "../driver/driver.ts";
import type { BinaryData, DriverEvents, DriverOptions, SendOptions } from "../driver/driver.ts";
import { backoffDelay, RECONNECT_CLOSE_CODES, reconnectPolicy } from "./reconnect.ts";
import type { ReconnectOptions, ReconnectPolicy } from "./reconnect.ts";
import { maxRedirects, REDIRECT_STATUSES, redirectTarget, sameOrigin, withoutCredentials } from "./redirect.ts";
import {
  describe,
  isPermanent,
  parseProxyUrl,
  parseUrl,
  permanent,
  proxyTarget,
  readErrorBody,
  readResponseHead,
  unbracket,
} from "./client_handshake.ts";
import type { Transport } from "../driver/transport.ts";

/** How long the connection and the opening handshake may take, by default. */
export const DEFAULT_OPEN_TIMEOUT = 10_000;

/** Options of {@linkcode makeClient}. */
export interface ClientOptions extends DriverOptions {
  /**
   * Subprotocols to offer in `Sec-WebSocket-Protocol`, most preferred first.
   * The server picks one (see {@linkcode WebSocketDriver.protocol}) or none.
   *
   * @default {[]}
   */
  acceptProtocols?: readonly string[];
  /**
   * Extra headers of the handshake request (Authorization, Origin, Cookie, …).
   * The handshake's own headers cannot be overridden.
   *
   * @default {{}}
   */
  additionalHeaders?: HeaderFields;
  /**
   * Milliseconds from `startConnection()` to the validated 101 answer; past
   * that the attempt is abandoned (`error`, then `close` with 1006).
   *
   * @default {10000}
   */
  openTimeout?: number;
  /**
   * Extra CA certificates (PEM) to trust for `wss://`, on top of the system's:
   * for private CAs and tests.
   *
   * @default {[]}
   */
  caCerts?: readonly string[];
  /**
   * Whether `wss://` checks the server's certificate (its chain up to a
   * trusted CA, and the host name). `false` accepts any certificate, which
   * lets anyone on the path read and change the traffic: for test servers
   * with self-signed certificates only, never in production (a private CA
   * belongs in `caCerts`). Works on Deno, Node and Bun (on Deno through its
   * Node-compatible TLS module, since its own TLS connect cannot skip the check per connection).
   *
   * @default {true}
   */
  verifyCertificate?: boolean;
  /**
   * Cancels the connection: while connecting, the attempt is abandoned
   * (`error`, then `close` with 1006; `opened` rejects); once open, the
   * closing handshake starts (1000).
   */
  signal?: AbortSignal;
  /**
   * Offers permessage-deflate (RFC 7692): `true` with the defaults, an object
   * with parameters. If the server accepts, messages from `threshold` bytes up
   * are compressed and `maxLength` bounds the inflated size; a server answer
   * outside the offer fails the connection.
   *
   * @default {false}
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Connect again after a connection failure (refused, reset, timed out, a
   * 5xx answer) or an abnormal or server-initiated close (1006, 1001, 1011,
   * 1012, 1013, 1014), with exponential backoff and full jitter: `true` for
   * the defaults, or {@linkcode ReconnectOptions}. Never after a close the
   * application asked for (`closeConnection`, `terminate`, `signal`), a
   * normal close (1000), a protocol violation or a 4xx answer.
   *
   * Each wait is announced by `reconnecting` (attempt, delay, cause); `open`
   * is emitted again on every successful reconnection; listeners, the
   * message iterator and `opened` carry over. Messages sent while
   * disconnected are queued, up to `outgoingHighWaterMark` bytes (over it a
   * send returns `false`), and go out in order after the next `open` (during
   * a closing handshake a send returns `false`, as always). A listener that
   * throws ends the reconnection for good (see `rethrowListenerErrors`).
   * `close` is emitted once: when the client gives up (after `error`) or the
   * application closed it.
   *
   * @default {false}
   */
  reconnect?: boolean | ReconnectOptions;
  /**
   * Follow redirects (301, 302, 303, 307, 308) of the opening handshake to
   * another `ws:`, `wss:`, `http:` or `https:` URL: `true` for up to 10, or
   * the number to follow. `Authorization` (also from the URL's user info)
   * and `Cookie` are not sent once a redirect left the original origin; a
   * loop or one redirect too many fails the connection with an error saying
   * so. `url` then names the last URL; a reconnection starts from the first.
   *
   * @default {false}
   */
  followRedirects?: boolean | number;
  /**
   * The HTTP proxy to tunnel through with CONNECT (`"http://user:pass@host:port"`;
   * the user info becomes Basic `Proxy-Authorization`), or `false` for a
   * direct connection. By default the environment decides: `https_proxy` for
   * `wss:`, `http_proxy` for `ws:`, `all_proxy` for both (lower case first,
   * then upper case), unless `no_proxy` names the host (on Deno only
   * variables the program may read already: never a permission prompt).
   * For `wss:` the TLS session runs inside the tunnel, end to end, and the
   * certificate is checked against the target's name. A refused CONNECT
   * (407 and others) fails the connection with the proxy's status.
   *
   * @default {undefined}
   */
  proxy?: string | URL | false;
}

const CLIENT_OPTION_KEYS = [
  "reconnect",
  "followRedirects",
  "proxy",
  "perMessageDeflate",
  "signal",
  ...DRIVER_OPTION_KEYS,
  "acceptProtocols",
  "additionalHeaders",
  "openTimeout",
  "caCerts",
  "verifyCertificate",
];

/** The server's answer to the opening handshake. */
export interface HandshakeResponse {
  /** The HTTP status: 101 once open. */
  status: number;
  /** The reason phrase. */
  statusText: string;
  /** The response headers. */
  headers: Headers;
  /**
   * The start of the body of an answer other than 101 (an HTTP error page,
   * often saying why): at most 4096 bytes, chunked encoding removed, read
   * for at most a second. Empty for a 101.
   */
  body: Uint8Array;
}

/**
 * A WebSocket client connection. Make one with {@linkcode makeClient}.
 *
 * @example
 * ```ts ignore
 * const client = makeClient("ws://localhost:5000/echo");
 * client.on("open", () => console.log("Connected."));
 * client.on("message", (message) => console.log("Received:", message));
 * client.startConnection();
 * client.send("Hi"); // queued until open
 * ```
 */
export class Client extends WebSocketDriver {
  /** The URL given, the first of every attempt. */
  readonly #target: URL;
  /** The URL of the current attempt (a redirect's target, after one). */
  #url: URL;
  readonly #protocols: readonly string[];
  readonly #headers: HeaderFields | undefined;
  readonly #openTimeout: number;
  readonly #caCerts: readonly string[] | undefined;
  readonly #deflate: DeflateConfig | null;
  readonly #verifyCertificate: boolean;
  #started = false;
  #response: HandshakeResponse | null = null;
  #abort = new AbortController();
  #connection: Transport | null = null;
  readonly #maxRedirects: number;
  readonly #proxy: URL | false | undefined;
  readonly #reconnect: ReconnectPolicy | null;
  readonly #signal: AbortSignal | undefined;
  /** What a fresh protocol state needs, for each reconnection. */
  readonly #maxLength: number | undefined;
  readonly #maskKey: (() => Uint8Array) | undefined;
  readonly #outgoingHighWaterMark: number;
  /** Reconnection attempts since the last open. */
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** The application closed (closeConnection, terminate, signal) or a listener threw: no reconnection. */
  #closedByApplication = false;
  readonly #rethrowListenerErrors: boolean;

  /**
   * Checks `url` and `options`; connects on {@linkcode Client.startConnection}.
   *
   * @throws {TypeError} for a URL that is malformed, has a fragment, or a
   * scheme other than ws, wss, http or https; for unknown options or invalid
   * subprotocol names.
   */
  constructor(url: string | URL, options?: ClientOptions) {
    checkOptions(options, CLIENT_OPTION_KEYS, "client options");
    const {
      acceptProtocols,
      additionalHeaders,
      openTimeout,
      caCerts,
      verifyCertificate,
      signal,
      perMessageDeflate,
      reconnect,
      followRedirects,
      proxy,
      ...driverOptions
    } = options ?? {};
    super("client", driverOptions);
    this.#target = this.#url = parseUrl(url);
    this.#reconnect = reconnectPolicy(reconnect);
    this.#maxRedirects = maxRedirects(followRedirects);
    if (proxy !== undefined && proxy !== false && typeof proxy !== "string" && !(proxy instanceof URL)) {
      throw new TypeError("Invalid proxy: expected a URL string, a URL or false");
    }
    this.#proxy = proxy === undefined || proxy === false ? proxy : parseProxyUrl(proxy, "proxy option");
    this.#signal = signal;
    this.#rethrowListenerErrors = driverOptions.rethrowListenerErrors === true;
    this.#maxLength = driverOptions.maxLength;
    this.#maskKey = driverOptions.maskKey;
    this.#outgoingHighWaterMark = driverOptions.outgoingHighWaterMark ?? DEFAULT_OUTGOING_HIGH_WATER_MARK;
    this.#deflate = deflateConfig(perMessageDeflate, "client options");
    const protocols = acceptProtocols ?? [];
    if (!Array.isArray(protocols)) throw new TypeError("Invalid acceptProtocols: expected an array of strings");
    for (const p of protocols) {
      if (typeof p !== "string" || !isToken(p)) {
        throw new TypeError(`Invalid subprotocol ${JSON.stringify(p)}: expected an HTTP token`);
      }
    }
    if (new Set(protocols).size !== protocols.length) {
      throw new TypeError("Invalid acceptProtocols: a subprotocol is listed twice");
    }
    this.#protocols = protocols;
    this.#headers = additionalHeaders;
    const timeout = openTimeout ?? DEFAULT_OPEN_TIMEOUT;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new RangeError(`Invalid openTimeout ${timeout}: expected milliseconds, more than 0`);
    }
    this.#openTimeout = timeout;
    if (caCerts !== undefined && (!Array.isArray(caCerts) || caCerts.some((c) => typeof c !== "string"))) {
      throw new TypeError("Invalid caCerts: expected an array of PEM strings");
    }
    this.#caCerts = caCerts;
    if (verifyCertificate !== undefined && typeof verifyCertificate !== "boolean") {
      throw new TypeError("Invalid verifyCertificate: expected true or false");
    }
    this.#verifyCertificate = verifyCertificate ?? true;
    if (signal !== undefined) {
      if (!(signal instanceof AbortSignal)) throw new TypeError("Invalid signal: expected an AbortSignal");
      const onAbort = () => {
        this.#closedByApplication = true;
        if (this.readyState === "connecting") {
          const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
          this.#abort.abort(new Error(`Cannot connect to ${this.url}: aborted (${reason})`));
          this.#failed(new Error(`Cannot connect to ${this.url}: aborted (${reason})`));
        } else if (this.readyState === "open") {
          this.closeConnection();
        }
      };
      if (signal.aborted) queueMicrotask(onAbort);
      else {
        signal.addEventListener("abort", onAbort, { once: true });
        this.once("close", () => signal.removeEventListener("abort", onAbort));
      }
    }
    // Build the request now, so a bad header fails here rather than later.
    this.#requestHeaders("AAAAAAAAAAAAAAAAAAAAAA==");
  }

  /**
   * The URL connected to (`http(s):` mapped to `ws(s):`): after a redirect,
   * its target.
   */
  get url(): URL {
    return this.#url;
  }

  /** The server's answer to the handshake, once it arrived (also when it was refused). */
  get response(): HandshakeResponse | null {
    return this.#response;
  }

  /**
   * Starts connecting: opens the connection, sends the handshake and, once the
   * server accepted it, emits `open`. Failures are reported as `error` then
   * `close` (1006), never thrown.
   *
   * @returns `true`, or `false` if it was started already.
   */
  startConnection(): boolean {
    if (this.#started || this.readyState !== "connecting") return false;
    this.#started = true;
    this.#connect().catch((error) => this.#failed(error));
    return true;
  }

  /** One attempt: the handshake, then each redirect, until open or a failure. */
  async #connect(): Promise<void> {
    const abort = this.#abort = new AbortController();
    const signal = abort.signal;
    const timer = setTimeout(
      () =>
        abort.abort(
          new Error(`Cannot connect to ${this.#url}: the handshake timed out after ${this.#openTimeout} ms`),
        ),
      this.#openTimeout,
    );
    try {
      let url = this.#url = this.#target;
      const visited = new Set<string>([url.href]);
      // Credentials go only to the origin they were given for.
      let credentials = true;
      for (let redirects = 0;; redirects++) {
        const location = await this.#handshake(url, signal, credentials);
        if (location === undefined) return;
        const next = redirectTarget(url, location);
        if (next instanceof Error) throw permanent(next);
        if (redirects >= this.#maxRedirects) {
          throw permanent(
            new Error(`Cannot connect to ${this.#target}: too many redirects (more than ${this.#maxRedirects})`),
          );
        }
        if (visited.has(next.href)) {
          throw permanent(new Error(`Cannot connect to ${this.#target}: a redirect loop (back to ${next})`));
        }
        visited.add(next.href);
        credentials &&= sameOrigin(this.#target, next);
        url = this.#url = next;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Opens the TCP or TLS connection for `url` (through a proxy, if one applies). */
  async #open(url: URL, signal: AbortSignal): Promise<Transport> {
    const adapter = await runtimeAdapter();
    const tls = url.protocol === "wss:";
    const hostname = unbracket(url.hostname);
    const port = url.port === "" ? (tls ? 443 : 80) : Number(url.port);
    try {
      return await adapter.connect({
        hostname,
        port,
        tls,
        caCerts: this.#caCerts,
        verifyCertificate: this.#verifyCertificate,
        signal,
        proxy: this.#proxyFor(url),
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const failure = new Error(`Cannot connect to ${url}: ${describe(error)}`, { cause: error });
      const status = (error as { status?: unknown })?.status;
      // A proxy's 4xx (407: credentials) stays; its 5xx (a target down) may pass.
      throw typeof status === "number" && status < 500 ? permanent(failure) : failure;
    }
  }

  /**
   * Connects to `url` and sends the handshake: attaches the driver once the
   * answer is valid (returning `undefined`), returns the `Location` of a
   * redirect to follow, or throws.
   */
  async #handshake(url: URL, signal: AbortSignal, credentials: boolean): Promise<string | null | undefined> {
    const connection = await this.#open(url, signal);
    this.#connection = connection;
    // The answer's head is read by the connection's sink, which holds the bytes after it for the driver.
    const answer = readResponseHead(connection, url);
    const onAbort = () => {
      answer.reject(signal.reason);
      connection.abort();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      if (signal.aborted) throw signal.reason;
      const key = generateKey();
      const target = url.pathname + url.search;
      try {
        await connection.write(serializeRequestHead("GET", target, this.#requestHeaders(key, url, credentials)));
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        throw new Error(`Cannot connect to ${url}: the connection failed during the handshake: ${describe(error)}`, {
          cause: error,
        });
      }

      let answered;
      try {
        answered = await answer.promise;
      } catch (error) {
        throw signal.aborted ? signal.reason : error;
      }
      if (signal.aborted) throw signal.reason;
      const { head, transport, input } = answered;
      const { status, statusText, headers } = head;
      this.#response = { status, statusText, headers, body: new Uint8Array(0) };
      if (this.#maxRedirects > 0 && REDIRECT_STATUSES.has(status)) {
        transport.abort();
        this.#connection = null;
        return headers.get("location");
      }
      const deflate = this.#deflate;
      const check = validateResponse(status, headers, {
        key,
        protocols: this.#protocols,
        extensions: deflate === null ? [] : [PERMESSAGE_DEFLATE],
      });
      if (!check.ok) {
        // RFC 9112 §6.3: 1xx, 204 and 304 answers have no body.
        if (status >= 200 && status !== 204 && status !== 304) {
          this.#response.body = await readErrorBody(answered, headers);
        }
        const failure = new Error(
          `Cannot connect to ${url}: ${check.message}${
            REDIRECT_STATUSES.has(status) ? " (a redirect: see the followRedirects option)" : ""
          }`,
        );
        // A server error (5xx) may pass; anything else would be answered the same way again.
        throw status >= 500 && status <= 599 ? failure : permanent(failure);
      }
      if (deflate !== null) {
        const agreed = acceptDeflateResponse(check.extensions, deflate);
        if (!agreed.ok) throw permanent(new Error(`Cannot connect to ${url}: ${agreed.message}`));
        if (agreed.params !== null) {
          useExtensions(this, check.extensions!, new MessageCompression("client", agreed.params, deflate));
        }
      }
      signal.removeEventListener("abort", onAbort);
      this.#attempt = 0;
      // The driver takes the input over from the head reader (see attachStarted).
      attachStarted(this, transport, check.protocol, input);
      return undefined;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** The proxy to reach `url` through: the option, else the environment's. */
  #proxyFor(url: URL): ProxyTarget | undefined {
    return proxyTarget(this.#proxy, url);
  }

  #requestHeaders(key: string, url: URL = this.#target, credentials = true): Headers {
    const headers = createClientRequestHeaders({
      host: url.host,
      key,
      protocols: this.#protocols,
      additionalHeaders: credentials ? this.#headers : withoutCredentials(this.#headers),
      extensions: this.#deflate === null ? undefined : deflateOffer(this.#deflate),
    });
    if (url.username !== "" && !headers.has("authorization")) {
      headers.set("Authorization", basicAuthorization(url.username, url.password));
    }
    return headers;
  }

  #failed(error: unknown): void {
    this.#connection?.abort();
    this.#connection = null;
    if (this.readyState !== "connecting") return;
    const failure = error instanceof Error ? error : new Error(String(error));
    if (!isPermanent(failure) && this.#retry(failure)) return;
    this.#stopRetrying();
    this.failConnecting(failure);
  }

  /**
   * With `reconnect`, unless the application closed or the retries are used
   * up: announces attempt n (`reconnecting`) and connects again after the
   * backoff. Returns whether it will.
   */
  #retry(cause: Error): boolean {
    const policy = this.#reconnect;
    if (policy === null || this.#closedByApplication || this.#signal?.aborted) return false;
    if (this.#attempt >= policy.retries) return false;
    const attempt = ++this.#attempt;
    const delay = backoffDelay(policy, attempt);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.readyState !== "connecting" || this.#closedByApplication) return;
      this.#connect().catch((error) => this.#failed(error));
    }, delay);
    this.emit("reconnecting", attempt, delay, cause);
    return true;
  }

  #stopRetrying(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /**
   * The connection is over: with `reconnect`, after a close worth another
   * attempt, the same client goes back to `connecting` and tries again;
   * otherwise `close` is emitted.
   */
  protected override finished(code: number, reason: string): void {
    if (
      this.#reconnect !== null && !this.#closedByApplication && !this.#signal?.aborted &&
      RECONNECT_CLOSE_CODES.has(code) && this.#attempt < this.#reconnect.retries
    ) {
      restartDriver(this, new Protocol({ role: "client", maxLength: this.#maxLength, maskKey: this.#maskKey }));
      this.#connection = null;
      if (this.#retry(new CloseError(code, reason))) return;
    }
    super.finished(code, reason);
  }

  /**
   * Starts the closing handshake (see {@linkcode WebSocketDriver.closeConnection});
   * a reconnecting client then stops reconnecting.
   */
  override closeConnection(reason?: string, code?: number): boolean;
  /** The WHATWG order of {@linkcode Client.closeConnection}: code first. */
  override closeConnection(code: number, reason?: string): boolean;
  override closeConnection(a?: string | number, b?: number | string): boolean {
    this.#closedByApplication = true;
    // deno-lint-ignore no-explicit-any
    return super.closeConnection(a as any, b as any);
  }

  /** Drops the connection at once (see {@linkcode WebSocketDriver.terminate}); no reconnection follows. */
  override terminate(): void {
    this.#closedByApplication = true;
    super.terminate();
  }

  /**
   * Sends a text message (see {@linkcode WebSocketDriver.sendText}). With
   * `reconnect`, while disconnected, the queue is bounded by
   * `outgoingHighWaterMark`: over it, `false` and nothing is queued.
   */
  override sendText(text: string, options?: SendOptions): boolean {
    if (this.#reconnect !== null && this.readyState === "connecting" && typeof text === "string") {
      if (this.bufferedAmount + utf8Length(text) > this.#outgoingHighWaterMark) return false;
    }
    return super.sendText(text, options);
  }

  /** Sends a binary message (see {@linkcode WebSocketDriver.sendBinary} and {@linkcode Client.sendText}). */
  override sendBinary(data: BinaryData, options?: SendOptions): boolean {
    if (this.#reconnect !== null && this.readyState === "connecting") {
      const length = toBytes(data, "Cannot send binary").length;
      if (this.bufferedAmount + length > this.#outgoingHighWaterMark) return false;
    }
    return super.sendBinary(data, options);
  }

  /**
   * A listener threw (see {@linkcode WebSocketDriver.listenerError}): as on a
   * server, the connection closes with 1011 and the error is reported; and a
   * reconnecting client stops for good, since the next connection would run
   * the same listener into the same bug (an `open` listener that throws would
   * otherwise reconnect in a loop). Between two attempts (a `reconnecting`
   * listener threw) no further attempt is made: `close` (1006) follows.
   */
  protected override listenerError(error: unknown, event: keyof DriverEvents): void {
    if (this.#rethrowListenerErrors) return super.listenerError(error, event);
    this.#closedByApplication = true;
    super.listenerError(error, event);
    if (this.#started && this.readyState === "connecting") this.closeConnection();
  }

  /** Abandons a connection attempt (closeConnection before open). */
  protected override abandon(): void {
    this.#stopRetrying();
    this.#abort.abort(new Error(`Cannot connect to ${this.url}: closed before the connection opened`));
    this.#connection?.abort();
  }
}

/**
 * Makes a client for `url` (the seed's `make-client`): `ws://` or `wss://`
 * (`http://` and `https://` are mapped to them, as browsers do). Nothing
 * happens until {@linkcode Client.startConnection}.
 *
 * @example The seed's client
 * ```ts ignore
 * const client = makeClient("ws://localhost:5000/echo", { acceptProtocols: ["chat"] });
 * client.on("open", () => console.log("Connected."));
 * client.on("message", (message) => console.log("Received:", message));
 * client.on("close", (code, reason) => console.log("Closed", code, reason));
 * client.startConnection();
 * client.send("Hi"); // queued until open
 * ```
 */
export function makeClient(url: string | URL, options?: ClientOptions): Client {
  return new Client(url, options);
}

/** The length of `text` in UTF-8, without encoding it. */
function utf8Length(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) length += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      // A surrogate pair: 4 bytes for 2 units.
      length += 2;
      i++;
    } else length += 2;
  }
  return length;
}

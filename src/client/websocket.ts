/**
 * A WHATWG `WebSocket` (the browser's API) on top of {@linkcode Client}:
 * code written for `new WebSocket(url)` runs unchanged, and gets this
 * library's strictness, limits, heartbeat, compression, proxies, redirects
 * and reconnection through an optional second argument.
 *
 * ```text
 *   new WebSocket(url, protocols | options)
 *     └─ makeClient(url, { acceptProtocols, …options }).startConnection()
 *   client "open"     → Event("open")
 *   client "message"  → MessageEvent("message", { data: string | Blob | ArrayBuffer })
 *   client "error"    → Event("error")
 *   client "close"    → CloseEvent("close", { code, reason, wasClean })
 * ```
 *
 * Where a runtime's own EventTarget would end the process when a listener
 * throws (Deno does), this one does what a browser does: the exception is
 * reported (`console.error`) and the other listeners, and the connection, go
 * on.
 *
 * @module
 */

import { utf8Encoder } from "../protocol/utf8.ts";
import { Client } from "./client.ts";
import type { ClientOptions } from "./client.ts";

/** Options of the {@linkcode WebSocket} facade: the client's, plus the subprotocols. */
export interface WebSocketOptions extends Omit<ClientOptions, "acceptProtocols"> {
  /**
   * The subprotocols to offer, as the browser's second argument takes them.
   *
   * @default {[]}
   */
  protocols?: string | string[];
}

/** What `binaryType` may be. */
export type BinaryType = "blob" | "arraybuffer";

type EventName = "open" | "message" | "error" | "close";

const STATES = { connecting: 0, open: 1, closing: 2, closed: 3 } as const;

/**
 * The browser's `WebSocket` (WHATWG WebSockets Standard), for Deno, Node and
 * Bun, on this library's client.
 *
 * Differences from a browser, all in the direction of strictness: the
 * client's limits apply (`maxLength`, 64 MiB by default: a larger message
 * closes with 1009); `close()` without a code sends 1000 rather than an
 * empty close frame; a relative URL is a `SyntaxError` (there is no document
 * to resolve it against).
 *
 * With the `reconnect` option (not a browser's), a dropped connection makes
 * `readyState` go back to `CONNECTING` until the next `open` event (so
 * `send()` throws meanwhile, as before the first open); `close` fires once,
 * when the client gives up or `close()` was called.
 *
 * @example An echo conversation
 * ```ts ignore
 * import { WebSocket } from "@x/wsd";
 *
 * const ws = new WebSocket("ws://localhost:5000/echo");
 * ws.binaryType = "arraybuffer";
 * ws.onopen = () => ws.send("Hi");
 * ws.onmessage = (event) => {
 *   console.log("Received:", event.data);
 *   ws.close(1000, "done");
 * };
 * ws.onclose = (event) => console.log("Closed", event.code, event.reason, event.wasClean);
 * ```
 *
 * @example With this library's options
 * ```ts ignore
 * const ws = new WebSocket("wss://example.com/feed", {
 *   protocols: ["v2"],
 *   reconnect: true,
 *   heartbeat: { interval: 30_000, timeout: 10_000 },
 *   perMessageDeflate: true,
 * });
 * ```
 */
export class WebSocket extends EventTarget {
  /** `readyState` while connecting. */
  static readonly CONNECTING = 0;
  /** `readyState` once open. */
  static readonly OPEN = 1;
  /** `readyState` during the closing handshake. */
  static readonly CLOSING = 2;
  /** `readyState` once closed. */
  static readonly CLOSED = 3;
  /** `readyState` while connecting. */
  readonly CONNECTING = 0;
  /** `readyState` once open. */
  readonly OPEN = 1;
  /** `readyState` during the closing handshake. */
  readonly CLOSING = 2;
  /** `readyState` once closed. */
  readonly CLOSED = 3;

  readonly #client: Client;
  readonly #url: string;
  readonly #origin: string;
  #binaryType: BinaryType = "blob";
  /** Bytes given to send() once closing: counted (as browsers do), never sent. */
  #discarded = 0;
  /** Bytes of Blobs being read, and the sends waiting behind them (order is kept). */
  #blobBytes = 0;
  #sendChain: Promise<void> | null = null;
  /** close() was called while connecting: the connection fails (error, then close), as in a browser. */
  #failedByClose = false;
  #handlers: Record<EventName, ((event: Event) => unknown) | null> = {
    open: null,
    message: null,
    error: null,
    close: null,
  };
  #handlerListeners: Partial<Record<EventName, (event: Event) => void>> = {};
  /** The wrapper of each listener, by type and capture: what removeEventListener must remove. */
  #wrappers = new Map<EventListener | EventListenerObject, Map<string, EventListener>>();

  /**
   * Connects to `url` (`ws:`, `wss:`, `http:` or `https:`).
   *
   * @param url The URL.
   * @param protocols Subprotocols to offer (a string or an array), or an
   * object with `protocols` and any {@linkcode ClientOptions}.
   * @throws {DOMException} `SyntaxError` for a URL that is not absolute, has
   * another scheme or a fragment, or for subprotocols that are not tokens or
   * are listed twice.
   * @throws {TypeError} for unknown or invalid options.
   */
  constructor(url: string | URL, protocols?: string | string[] | WebSocketOptions) {
    super();
    let options: WebSocketOptions = {};
    if (typeof protocols === "string" || Array.isArray(protocols)) options = { protocols };
    else if (protocols !== undefined && protocols !== null) options = protocols;
    const { protocols: offered, ...clientOptions } = options;
    const list = offered === undefined ? [] : typeof offered === "string" ? [offered] : [...offered];
    let client: Client;
    try {
      client = new Client(url, { ...clientOptions, acceptProtocols: list });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // The browser's errors for a bad URL or bad subprotocols.
      if (/^Invalid (WebSocket URL|subprotocol|acceptProtocols)/.test(message)) {
        throw new DOMException(message, "SyntaxError");
      }
      throw error;
    }
    this.#client = client;
    this.#url = client.url.href;
    this.#origin = client.url.origin;
    client.on("open", () => this.#fire(new Event("open")));
    client.on("message", (data) => {
      const payload = typeof data === "string"
        ? data
        : this.#binaryType === "blob"
        ? new Blob([data as Uint8Array<ArrayBuffer>])
        : toArrayBuffer(data);
      this.#fire(new MessageEvent("message", { data: payload, origin: this.#origin }));
    });
    client.on("error", () => this.#fire(new Event("error")));
    client.on("close", (code, reason) => {
      if (this.#failedByClose) this.#fire(new Event("error"));
      this.#fire(new CloseEvent("close", { code, reason, wasClean: code !== 1006 }));
    });
    client.startConnection();
  }

  /** The URL, as parsed (`http:` mapped to `ws:`, `https:` to `wss:`). */
  get url(): string {
    return this.#url;
  }

  /** 0 (`CONNECTING`), 1 (`OPEN`), 2 (`CLOSING`) or 3 (`CLOSED`). */
  get readyState(): number {
    return STATES[this.#client.readyState];
  }

  /** Bytes queued by `send()` that have not been handed to the network yet. */
  get bufferedAmount(): number {
    return this.#client.bufferedAmount + this.#blobBytes + this.#discarded;
  }

  /** The extensions the server accepted (`Sec-WebSocket-Extensions`), or `""`. */
  get extensions(): string {
    return this.#client.extensions;
  }

  /** The subprotocol the server chose, or `""`. */
  get protocol(): string {
    return this.#client.protocol ?? "";
  }

  /** How binary messages are delivered: `"blob"` (the default) or `"arraybuffer"`; other values are ignored. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    if (value === "blob" || value === "arraybuffer") this.#binaryType = value;
  }

  /**
   * Sends a message: a string as text; an `ArrayBuffer`, a view or a `Blob`
   * as binary (a Blob's bytes are read first; later sends wait for it).
   * Once closing or closed, the data is dropped without an exception and,
   * as the WHATWG standard asks of every `send()` that did not throw (and
   * browsers do), still added to `bufferedAmount`, which then never goes
   * down again.
   *
   * @throws {DOMException} `InvalidStateError` while `readyState` is
   * `CONNECTING`: before the first open and, with the `reconnect` option,
   * between two connections.
   */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.readyState === WebSocket.CONNECTING) {
      throw new DOMException("Cannot send: the connection is not open yet", "InvalidStateError");
    }
    const message: string | Uint8Array | Blob = typeof data === "string"
      ? data
      : data instanceof Blob
      ? data
      : data instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && data instanceof SharedArrayBuffer)
      ? new Uint8Array(data)
      : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : String(data);
    if (this.readyState !== WebSocket.OPEN) {
      this.#discarded += typeof message === "string"
        ? utf8Encoder.encode(message).length
        : message instanceof Blob
        ? message.size
        : message.byteLength;
      return;
    }
    if (message instanceof Blob) {
      this.#blobBytes += message.size;
      const bytes = message.arrayBuffer();
      this.#queue(async () => {
        const buffer = await bytes.catch(() => new ArrayBuffer(0));
        this.#blobBytes -= message.size;
        this.#transmit(new Uint8Array(buffer));
      });
    } else if (this.#sendChain !== null) {
      // Behind a Blob being read: keep the order, and a copy of the bytes as they are now.
      const copy = typeof message === "string" ? message : new Uint8Array(message);
      this.#queue(() => this.#transmit(copy));
    } else this.#transmit(message);
  }

  #queue(step: () => void | Promise<void>): void {
    const chain: Promise<void> = (this.#sendChain ?? Promise.resolve()).then(step).finally(() => {
      if (this.#sendChain === chain) this.#sendChain = null;
    });
    this.#sendChain = chain;
  }

  #transmit(message: string | Uint8Array): void {
    const client = this.#client;
    if (client.readyState !== "open") {
      this.#discarded += typeof message === "string" ? utf8Encoder.encode(message).length : message.byteLength;
      return;
    }
    const sent = typeof message === "string" ? client.sendText(message) : client.sendBinary(message);
    // Not sent (closing started meanwhile, or a sendQueuePolicy of "drop"):
    // still counted, as the standard asks of every send that did not throw.
    if (!sent) this.#discarded += typeof message === "string" ? utf8Encoder.encode(message).length : message.byteLength;
  }

  /**
   * Starts the closing handshake (or, while connecting, fails the connection:
   * `error`, then `close` with 1006).
   *
   * @param code 1000, or 3000–4999.
   * @param reason At most 123 bytes of UTF-8.
   * @throws {DOMException} `InvalidAccessError` for another code,
   * `SyntaxError` for a longer reason.
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined) {
      code = Math.trunc(Number(code));
      if (code !== 1000 && !(code >= 3000 && code <= 4999)) {
        throw new DOMException(`Cannot close: the code must be 1000 or 3000–4999, got ${code}`, "InvalidAccessError");
      }
    }
    const text = reason === undefined ? "" : String(reason);
    if (utf8Encoder.encode(text).length > 123) {
      throw new DOMException("Cannot close: the reason is longer than 123 bytes of UTF-8", "SyntaxError");
    }
    const client = this.#client;
    if (client.readyState === "closing" || client.readyState === "closed") return;
    if (client.readyState === "connecting") {
      this.#failedByClose = true;
      client.closeConnection();
      return;
    }
    client.closeConnection(code ?? 1000, text);
  }

  // ───────────────────────────── events ─────────────────────────────

  /** Called for `open` events (or `null`). */
  get onopen(): ((event: Event) => unknown) | null {
    return this.#handlers.open;
  }
  set onopen(handler: ((event: Event) => unknown) | null) {
    this.#setHandler("open", handler);
  }

  /** Called for `message` events (or `null`). */
  get onmessage(): ((event: MessageEvent) => unknown) | null {
    return this.#handlers.message;
  }
  set onmessage(handler: ((event: MessageEvent) => unknown) | null) {
    this.#setHandler("message", handler as ((event: Event) => unknown) | null);
  }

  /** Called for `error` events (or `null`). */
  get onerror(): ((event: Event) => unknown) | null {
    return this.#handlers.error;
  }
  set onerror(handler: ((event: Event) => unknown) | null) {
    this.#setHandler("error", handler);
  }

  /** Called for `close` events (or `null`). */
  get onclose(): ((event: CloseEvent) => unknown) | null {
    return this.#handlers.close;
  }
  set onclose(handler: ((event: CloseEvent) => unknown) | null) {
    this.#setHandler("close", handler as ((event: Event) => unknown) | null);
  }

  #setHandler(type: EventName, handler: ((event: Event) => unknown) | null): void {
    const value = typeof handler === "function" ? handler : null;
    this.#handlers[type] = value;
    const listener = this.#handlerListeners[type];
    if (value === null && listener !== undefined) {
      super.removeEventListener(type, listener);
      delete this.#handlerListeners[type];
    } else if (value !== null && listener === undefined) {
      // An event handler keeps its place among the listeners while it is set (HTML §8.1.8.1).
      const call = (event: Event) => {
        try {
          this.#handlers[type]?.call(this, event);
        } catch (error) {
          reportListenerError(type, error);
        }
      };
      this.#handlerListeners[type] = call;
      super.addEventListener(type, call);
    }
  }

  /**
   * Adds a listener (EventTarget). A listener that throws is reported and
   * does not stop the others, as in a browser.
   */
  override addEventListener(
    type: string,
    listener: EventListener | EventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (listener === null || listener === undefined) return;
    const key = `${type}:${captureOf(options)}`;
    let byType = this.#wrappers.get(listener);
    if (byType?.has(key)) return; // EventTarget ignores duplicates
    const wrapper: EventListener = (event) => {
      if (typeof options === "object" && options.once) this.#forget(listener, key);
      try {
        if (typeof listener === "function") listener.call(this, event);
        else listener.handleEvent(event);
      } catch (error) {
        reportListenerError(type, error);
      }
    };
    if (byType === undefined) this.#wrappers.set(listener, byType = new Map());
    byType.set(key, wrapper);
    if (typeof options === "object" && options.signal !== undefined) {
      options.signal.addEventListener("abort", () => this.#forget(listener, key), { once: true });
    }
    super.addEventListener(type, wrapper, options);
  }

  /** Removes a listener added with {@linkcode WebSocket.addEventListener}. */
  override removeEventListener(
    type: string,
    listener: EventListener | EventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    if (listener === null || listener === undefined) return;
    const key = `${type}:${captureOf(options)}`;
    const wrapper = this.#wrappers.get(listener)?.get(key);
    if (wrapper === undefined) return;
    this.#forget(listener, key);
    super.removeEventListener(type, wrapper, options);
  }

  #forget(listener: EventListener | EventListenerObject, key: string): void {
    const byType = this.#wrappers.get(listener);
    byType?.delete(key);
    if (byType?.size === 0) this.#wrappers.delete(listener);
  }

  #fire(event: Event): void {
    this.dispatchEvent(event);
  }
}

function captureOf(options: boolean | EventListenerOptions | undefined): boolean {
  return typeof options === "boolean" ? options : options?.capture === true;
}

/** What a browser does with a listener's exception: report it, and go on. */
function reportListenerError(type: string, error: unknown): void {
  console.error(`Uncaught exception in a WebSocket "${type}" listener:`, error);
}

/** The bytes as an ArrayBuffer of their own (the message's, when it covers it all). */
function toArrayBuffer(data: Uint8Array): ArrayBuffer {
  const buffer = data.buffer;
  if (buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength) return buffer;
  return new Uint8Array(data).buffer as ArrayBuffer;
}

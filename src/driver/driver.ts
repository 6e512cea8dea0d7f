/**
 * The per-connection driver: the seed's `ws` base class. It owns the state
 * (`connecting → open → closing → closed`), the events, the sends, pings and
 * close, the close timeout, and runs the sans-I/O {@linkcode Protocol} over one
 * {@linkcode Transport}:
 *
 * ```text
 *   transport.data(chunk)
 *     └─ protocol.receiveData(chunk)
 *     └─ for each protocol.eventsReceived(): emit message / ping / pong / error,
 *        note close       (handlers may call send*, sendPing, closeConnection)
 *     └─ flush: protocol.dataToSend() → transport.write() … → transport.end()
 *   send*() outside of a turn → one flush in a microtask, for all sends of the tick
 * ```
 *
 * Every frame produced while handling one input chunk, or in one tick of the
 * event loop, leaves in one write.
 *
 * Event timing, decided once: `open` is emitted asynchronously (never inside the
 * call that attaches the transport) and before any `message`; `error` comes
 * just before `close` when the peer broke the protocol; `close` is emitted
 * exactly once, when the transport is finished in both directions (or torn
 * down by the close timeout), with the peer's close code, the code of the
 * violation we failed the connection with, or 1006.
 *
 * @module
 */

import { CloseCode, DEFAULT_MAX_LENGTH, MAX_CLOSE_REASON_BYTES, MAX_CONTROL_PAYLOAD } from "../protocol/constants.ts";
import { isValidCloseCode } from "../protocol/close.ts";
import { ProtocolError } from "../protocol/errors.ts";
import type { MessageCompression } from "../protocol/compression.ts";
import { releaseFrame } from "../protocol/frame.ts";
import { DEFAULT_WORK_BUDGET, END_OF_STREAM, Protocol } from "../protocol/protocol.ts";
import type { Role } from "../protocol/protocol.ts";
import { utf8Encoder } from "../protocol/utf8.ts";
import { emitOne, EventEmitter, rethrowLater } from "./emitter.ts";
import { ListenerError } from "./errors.ts";
import { SliceQueue } from "./slices.ts";
import { streamTransport, WRITTEN } from "./transport.ts";
import type { StreamPair, Transport, TransportSink } from "./transport.ts";

/**
 * The key of the driver's internal method that queues a frame encoded once
 * for many connections (topic fan-out). Not re-exported from the package's
 * entry points: it is not public API.
 */
export const sendEncodedFrame: unique symbol = Symbol("wsd.sendEncodedFrame");

/** How long the closing handshake may take before the transport is torn down. */
export const DEFAULT_CLOSE_TIMEOUT = 5_000;

/** The states of a connection, as the seed names them. */
export type ReadyState = "connecting" | "open" | "closing" | "closed";

/** Anything `send` and `sendBinary` accept as binary data. */
export type BinaryData = Uint8Array | ArrayBuffer | ArrayBufferView;

/** The events of a connection and their arguments. */
export type DriverEvents = {
  /** The connection opened; sends queued before now were written. */
  open: [];
  /** A whole message: `string` for text, `Uint8Array` for binary. */
  message: [data: string | Uint8Array];
  /**
   * The peer broke the protocol (a {@linkcode ProtocolError}; `close` follows
   * with its `code`), or the connection could not be opened (an `Error` saying
   * why; `close` follows with 1006).
   */
  error: [error: ProtocolError | Error];
  /** The connection is over; emitted exactly once. */
  close: [code: number, reason: string];
  /** A ping arrived (it was answered already). */
  ping: [data: Uint8Array];
  /** A pong arrived. */
  pong: [data: Uint8Array];
  /** `bufferedAmount` fell back to `outgoingHighWaterMark` or below, after it had been above. */
  drain: [];
  /**
   * A client with the `reconnect` option lost its connection (or an attempt
   * failed) and waits `delay` ms before attempt number `attempt`; `cause` says
   * what happened. Servers never emit it.
   */
  reconnecting: [attempt: number, delay: number, cause: Error];
};

/** Options of one `send`, `sendText` or `sendBinary`. */
export interface SendOptions {
  /**
   * `false` sends this message uncompressed even when permessage-deflate was
   * agreed and the message is over its `threshold` (data that is compressed
   * already, such as images, gains nothing). Without permessage-deflate it
   * changes nothing.
   *
   * @default {true}
   */
  compress?: boolean;
}

/**
 * Reads {@linkcode SendOptions}: whether the message may be compressed.
 *
 * @throws {TypeError} for an unknown key or a `compress` that is not a boolean.
 */
export function sendCompress(options: SendOptions): boolean {
  checkOptions(options, ["compress"], "send options");
  const { compress } = options;
  if (compress !== undefined && typeof compress !== "boolean") {
    throw new TypeError(`Cannot send: compress must be true or false, got ${typeName(compress)}`);
  }
  return compress !== false;
}

/** Options every connection takes. */
export interface DriverOptions {
  /**
   * The largest message accepted, in bytes. A larger one closes the connection
   * with 1009, decided from the frame headers before the payload is buffered.
   *
   * @default {0x3ffffff}
   */
  maxLength?: number;
  /**
   * Milliseconds the closing handshake may take, from the close frame sent or
   * received until the transport is finished in both directions; then it is
   * torn down.
   *
   * @default {5000}
   */
  closeTimeout?: number;
  /**
   * Where a client's masking keys come from. For tests only: the default draws
   * each key from `crypto.getRandomValues`, as RFC 6455 §5.3 requires.
   */
  maskKey?: () => Uint8Array;
  /**
   * Keepalive with dead-peer detection: after `interval` ms without any input
   * a ping is sent (silence is checked every quarter interval, so the ping
   * goes out between `interval` and 1.25 × `interval` after the last input:
   * no clock is read per message); if nothing at all arrives within `timeout`
   * ms after it, the connection emits `error` (`WSD_ERR_HEARTBEAT_TIMEOUT`)
   * and is dropped (`close` with 1006). Off by default (`serve()` turns it on for its
   * servers: see its `heartbeat` option); `false` turns it off.
   *
   * @default {undefined}
   */
  heartbeat?: HeartbeatOptions | false;
  /**
   * Bytes of received messages that a message iterator (`for await … of ws`)
   * may hold unread; past that the driver stops reading the socket, so TCP
   * backpressure slows the peer down, and reads again once the iterator caught
   * up to half of it. Events (`on("message")`) are not affected.
   *
   * @default {1048576}
   */
  incomingHighWaterMark?: number;
  /**
   * Bytes of sent data waiting for the socket (`bufferedAmount`) above which
   * {@linkcode WebSocketDriver.drained} waits and `writable` applies
   * backpressure; `drain` is emitted when it falls back to this or below.
   *
   * @default {1048576}
   */
  outgoingHighWaterMark?: number;
  /**
   * What a send does while `bufferedAmount` is over `outgoingHighWaterMark`;
   * see {@linkcode SendQueuePolicy}. (`writable` always waits.)
   *
   * @default {"buffer"}
   */
  sendQueuePolicy?: SendQueuePolicy;
  /**
   * What happens when one of this connection's listeners throws (or an
   * `async` listener's promise rejects). By default (`false`) the connection
   * is closed with 1011 and the exception is reported as a
   * {@linkcode ListenerError} (the `error` event; on servers of `serve()`
   * also its `onListenerError`; on stderr when nobody listens), so one
   * connection's bug never ends the process. `true` rethrows it from a
   * microtask instead, as an uncaught exception (which ends the process on
   * Node and Deno), and leaves the connection alone.
   *
   * @default {false}
   */
  rethrowListenerErrors?: boolean;
}

/**
 * Records the extensions a handshake agreed on, before `attach()`: with
 * permessage-deflate, the compression state of the connection. For the server
 * and client of this library only (not exported from the package).
 */
export let useExtensions: (
  driver: WebSocketDriver,
  extensions: string,
  compression: MessageCompression | null,
) => void;

/** The keys of {@linkcode DriverOptions}, for the check of unknown options. */
export const DRIVER_OPTION_KEYS: readonly string[] = [
  "maxLength",
  "closeTimeout",
  "maskKey",
  "heartbeat",
  "incomingHighWaterMark",
  "outgoingHighWaterMark",
  "sendQueuePolicy",
  "rethrowListenerErrors",
];

/**
 * What `send`, `sendText` and `sendBinary` do while `bufferedAmount` is over
 * `outgoingHighWaterMark`: `"buffer"` queues anyway (memory grows), `"drop"`
 * drops the message (the call returns `false`), `"close"` closes the
 * connection with 1008 (and returns `false`), `"throw"` throws a RangeError.
 */
export type SendQueuePolicy = "buffer" | "drop" | "close" | "throw";

/** The default of {@linkcode DriverOptions.outgoingHighWaterMark}: 1 MiB. */
export const DEFAULT_OUTGOING_HIGH_WATER_MARK = 1 << 20;

/** The default of {@linkcode DriverOptions.incomingHighWaterMark}: 1 MiB. */
export const DEFAULT_INCOMING_HIGH_WATER_MARK = 1 << 20;

/**
 * What a message iterator throws when the connection closed with a code other
 * than 1000 (normal) or 1001 (going away).
 *
 * @example
 * ```ts ignore
 * try {
 *   for await (const message of ws) console.log(message);
 * } catch (error) {
 *   if (error instanceof CloseError) console.log("closed with", error.code, error.reason);
 * }
 * ```
 */
export class CloseError extends Error {
  /** The close code. */
  readonly code: number;
  /** The close reason. */
  readonly reason: string;

  /**
   * Creates the error of a connection closed with `code` and `reason`.
   *
   * @param code The close code.
   * @param reason The close reason.
   */
  constructor(code: number, reason: string) {
    super(`The connection closed with ${code}${reason ? ` (${reason})` : ""}`);
    this.name = "CloseError";
    this.code = code;
    this.reason = reason;
  }
}

/** Keepalive: a ping after `interval` ms without input; no input within `timeout` ms of it ends the connection. */
export interface HeartbeatOptions {
  /** Milliseconds of silence from the peer before a ping is sent. */
  interval: number;
  /** Milliseconds to wait for any frame after that ping before giving up. */
  timeout: number;
}

/** How a connection ended: what `close` reported. */
export interface CloseInfo {
  /** The close code (1005: the peer's close frame had none; 1006: no close frame). */
  code: number;
  /** The close reason. */
  reason: string;
}

/**
 * Checks an options object: a plain object whose keys are all known. A typo in
 * plain JavaScript must not pass silently.
 */
export function checkOptions(options: object | undefined, known: readonly string[], what: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Invalid ${what}: expected an object, got ${options === null ? "null" : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`Unknown option "${key}" in ${what}: expected one of ${known.join(", ")}`);
    }
  }
}

interface PendingPing {
  payload: Uint8Array;
  onPong: (() => void) | undefined;
  /** Called instead of `onPong` when the connection ends first. */
  onLost?: () => void;
}

/**
 * The empty queue every connection starts with (pings, messages, drain
 * waiters), shared and frozen: a connection makes its own on first use, and a
 * push onto this one would throw rather than mix connections.
 */
// deno-lint-ignore no-explicit-any
const NONE: any[] = Object.freeze([]) as unknown as any[];

/** Reasons to stop reading a connection's transport (bits of `#pauses`). */
/** The message iterator holds more than `incomingHighWaterMark` unread. */
const PAUSED_ITERATOR = 1;
/** Answers to the peer's input wait for the socket, more than `outgoingHighWaterMark`. */
const PAUSED_ANSWERS = 2;
/** A message is being inflated in slices (queued with other connections' work): input waits behind it. */
const PAUSED_WORK = 4;
/** Bytes a message may inflate to on arrival while other connections' work is queued (see #receive). */
const BUSY_WORK_BUDGET = 4 * 1024;

/** Set in the driver's static block: what {@linkcode DriverSink} calls. */
let receiveInput: (driver: WebSocketDriver, transport: Transport, chunk: Uint8Array) => boolean;
let endInput: (driver: WebSocketDriver, transport: Transport) => void;

/**
 * Puts a connection that just finished (inside {@linkcode WebSocketDriver.finished})
 * back into `connecting`, with `protocol` as its fresh protocol state, ready
 * for another `attach()`: for the reconnecting client (not exported from the
 * package). Listeners, the message iterator, `opened` and `closed` are kept.
 */
export let restartDriver: (driver: WebSocketDriver, protocol: Protocol) => void;

/**
 * One WebSocket connection after (or while waiting for) its opening handshake.
 * Servers and clients are drivers; {@linkcode WebSocketDriver.attach} runs one
 * over any transport or stream pair whose handshake is done.
 *
 * @example Two drivers talking over in-memory streams
 * ```ts
 * import { WebSocketDriver } from "@x/wsd";
 *
 * const up = new TransformStream<Uint8Array, Uint8Array>();
 * const down = new TransformStream<Uint8Array, Uint8Array>();
 * const server = new WebSocketDriver("server");
 * const client = new WebSocketDriver("client");
 * server.on("message", (msg) => server.send(msg));
 * client.on("message", (msg) => {
 *   console.log("echo:", msg);
 *   client.closeConnection();
 * });
 * server.attach({ readable: up.readable, writable: down.writable });
 * client.attach({ readable: down.readable, writable: up.writable });
 * client.send("Hello");
 * await new Promise((resolve) => client.on("close", resolve));
 * ```
 */
export class WebSocketDriver extends EventEmitter<DriverEvents> {
  readonly #role: Role;
  #protocol: Protocol;
  readonly #closeTimeout: number;
  #readyState: ReadyState = "connecting";
  #subprotocol: string | null = null;
  #extensions = "";
  #transport: Transport | null = null;
  #socket: unknown = null;
  #pings: PendingPing[] = NONE;
  #inTurn = false;
  #flushScheduled = false;
  #writing = 0;
  #inputEnded = false;
  /** The input ended while the protocol had work pending: handled once the work is done. */
  #inputEndWaits = false;
  /** `transport.end()` was called: nothing more may be written. */
  #outputEnding = false;
  /** `transport.end()` resolved: the output is finished. */
  #outputEnded = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The heartbeat's interval and timeout in ms; 0 when there is none. */
  readonly #heartbeatInterval: number = 0;
  readonly #heartbeatTimeout: number = 0;
  /** When this connection's heartbeat is due (performance.now()), and its place in the clock's heap (-1: none). */
  #beatDue = 0;
  #beatIndex = -1;
  /** Whether input arrived since the heartbeat last looked (a flag: cheaper than a clock per read). */
  #inputSeen = false;
  /** When the heartbeat last found that input had arrived (performance.now()). */
  #lastInput = 0;
  /** When the heartbeat's unanswered ping was sent, or 0. */
  #heartbeatPingAt = 0;
  #pingCounter = 0;
  /** Whether the connection opened (1), closed before that (2), or neither yet (0). */
  #openState: 0 | 1 | 2 = 0;
  /** `opened` and `closed`, made when first asked for (most connections never are). */
  #opened: PromiseWithResolvers<void> | null = null;
  #closed: PromiseWithResolvers<CloseInfo> | null = null;
  /** What `close` reported, once it did. */
  #closeInfo: CloseInfo | null = null;
  readonly #highWaterMark: number;
  // The message iterator: its queue, the bytes in it, the next() waiting.
  #iterating = false;
  #queue: Array<string | Uint8Array> = NONE;
  #queueBytes = 0;
  #waiter: PromiseWithResolvers<IteratorResult<string | Uint8Array>> | null = null;
  /** Why the transport is paused: bits of PAUSED_* (none: it is read). */
  #pauses = 0;
  /**
   * Bytes written in answer to the peer's input (pongs, close replies, and
   * whatever the listeners of its events sent) that the transport has not
   * taken yet: past `outgoingHighWaterMark` the peer is not read any more.
   */
  #answering = 0;
  readonly #rethrowListenerErrors: boolean;
  readonly #outgoingHighWaterMark: number;
  readonly #sendQueuePolicy: SendQueuePolicy;
  /** Whether bufferedAmount went above the outgoing high-water mark since the last drain. */
  #full = false;
  #drainWaiters: Array<() => void> = NONE;
  #readable: ReadableStream<string | Uint8Array> | undefined;
  #writable: WritableStream<string | Uint8Array> | undefined;

  /**
   * Creates a connection in the `connecting` state.
   *
   * @param role `"server"` or `"client"`: which end this is (clients mask).
   * @param options Limits and timeouts.
   */
  constructor(role: Role, options?: DriverOptions) {
    super();
    if (role !== "server" && role !== "client") {
      throw new TypeError(`Invalid role ${JSON.stringify(role)}: expected "server" or "client"`);
    }
    checkOptions(options, DRIVER_OPTION_KEYS, "driver options");
    const maxLength = options?.maxLength ?? DEFAULT_MAX_LENGTH;
    if (!Number.isSafeInteger(maxLength) || maxLength < 0) {
      throw new RangeError(`Invalid maxLength ${maxLength}: expected a whole number of bytes, 0 or more`);
    }
    const closeTimeout = options?.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    if (!Number.isFinite(closeTimeout) || closeTimeout < 0) {
      throw new RangeError(`Invalid closeTimeout ${closeTimeout}: expected milliseconds, 0 or more`);
    }
    if (options?.maskKey !== undefined && typeof options.maskKey !== "function") {
      throw new TypeError("Invalid maskKey: expected a function returning 4 bytes");
    }
    const heartbeat = options?.heartbeat;
    if (heartbeat !== undefined && heartbeat !== false) {
      const { interval, timeout } = heartbeat ?? {};
      if (!(Number.isFinite(interval) && interval > 0 && Number.isFinite(timeout) && timeout > 0)) {
        throw new RangeError("Invalid heartbeat: expected { interval, timeout } in milliseconds, both more than 0");
      }
      this.#heartbeatInterval = interval;
      this.#heartbeatTimeout = timeout;
    }
    const highWaterMark = options?.incomingHighWaterMark ?? DEFAULT_INCOMING_HIGH_WATER_MARK;
    if (!Number.isSafeInteger(highWaterMark) || highWaterMark < 0) {
      throw new RangeError(`Invalid incomingHighWaterMark ${highWaterMark}: expected a whole number of bytes`);
    }
    this.#highWaterMark = highWaterMark;
    const outgoing = options?.outgoingHighWaterMark ?? DEFAULT_OUTGOING_HIGH_WATER_MARK;
    if (!Number.isSafeInteger(outgoing) || outgoing < 0) {
      throw new RangeError(`Invalid outgoingHighWaterMark ${outgoing}: expected a whole number of bytes`);
    }
    this.#outgoingHighWaterMark = outgoing;
    const policy = options?.sendQueuePolicy ?? "buffer";
    if (!["buffer", "drop", "close", "throw"].includes(policy)) {
      throw new TypeError(
        `Invalid sendQueuePolicy ${JSON.stringify(policy)}: use "buffer", "drop", "close" or "throw"`,
      );
    }
    this.#sendQueuePolicy = policy;
    this.#rethrowListenerErrors = options?.rethrowListenerErrors === true;
    this.#role = role;
    this.#closeTimeout = closeTimeout;
    this.#protocol = new Protocol({ role, maxLength, maskKey: options?.maskKey });
  }

  /** The WebSocket version in use: always `"hybi-13"` (RFC 6455). */
  get version(): string {
    return "hybi-13";
  }

  /** The subprotocol agreed in the handshake, or `null` if none was. */
  get protocol(): string | null {
    return this.#subprotocol;
  }

  /**
   * The extensions agreed in the handshake, as the server's
   * `Sec-WebSocket-Extensions` value (e.g. `"permessage-deflate"`), or `""`.
   *
   * @example
   * ```ts ignore
   * ws.on("open", () => console.log(ws.extensions || "no extensions"));
   * ```
   */
  get extensions(): string {
    return this.#extensions;
  }

  static {
    useExtensions = (driver, extensions, compression) => {
      driver.#extensions = extensions;
      driver.#protocol.useCompression(compression);
    };
    // Input of a transport the driver no longer runs on (a reconnecting
    // client's previous connection) is dropped.
    receiveInput = (driver, transport, chunk) => driver.#transport === transport ? driver.#receive(chunk) : true;
    endInput = (driver, transport) => {
      if (driver.#transport === transport) driver.#inputEnd();
    };
    restartDriver = (driver, protocol) => {
      if (driver.#readyState !== "closed") throw new TypeError("Cannot restart: the connection is not closed");
      driver.#protocol = protocol;
      driver.#readyState = "connecting";
      driver.#subprotocol = null;
      driver.#extensions = "";
      driver.#transport = null;
      driver.#socket = null;
      driver.#inTurn = driver.#flushScheduled = false;
      driver.#writing = 0;
      driver.#inputEnded = driver.#outputEnding = driver.#outputEnded = false;
      driver.#heartbeatPingAt = 0;
      // Unread messages of the iterator still hold the new connection back;
      // answers of the old one are gone with it.
      driver.#pauses &= PAUSED_ITERATOR;
      driver.#answering = 0;
    };
  }

  /** The connection's state. */
  get readyState(): ReadyState {
    return this.#readyState;
  }

  /** Which end of the connection this is. */
  get role(): Role {
    return this.#role;
  }

  /**
   * Bytes accepted by `send*`, `sendPing` and `closeConnection` that the
   * transport has not taken yet.
   */
  get bufferedAmount(): number {
    return this.#protocol.bytesToSend + this.#writing;
  }

  /**
   * Resolves once the connection is open; rejects if it closed before that
   * (a refused connection, a failed handshake). Nobody has to await it.
   */
  get opened(): Promise<void> {
    if (this.#opened === null) {
      const opened = this.#opened = Promise.withResolvers<void>();
      // Nobody has to await it: a rejection nobody handles must not end the program.
      opened.promise.catch(() => {});
      if (this.#openState === 1) opened.resolve();
      else if (this.#openState === 2) opened.reject(this.#closedEarly());
    }
    return this.#opened.promise;
  }

  /** Resolves once, with what `close` reported, when the connection is over. */
  get closed(): Promise<CloseInfo> {
    if (this.#closed === null) {
      this.#closed = Promise.withResolvers<CloseInfo>();
      if (this.#closeInfo !== null) this.#closed.resolve(this.#closeInfo);
    }
    return this.#closed.promise;
  }

  /** The rejection of `opened` when the connection closed before it opened. */
  #closedEarly(): Error {
    const { code, reason } = this.#closeInfo!;
    return new Error(`The connection closed before it opened (${code}${reason ? ` ${reason}` : ""})`);
  }

  /**
   * Emits `event`; also settles {@linkcode WebSocketDriver.opened} and
   * {@linkcode WebSocketDriver.closed}, whatever emitted them.
   */
  override emit<K extends keyof DriverEvents>(event: K, ...args: DriverEvents[K]): boolean {
    if (event === "open") {
      this.#openState = 1;
      this.#opened?.resolve();
    } else if (event === "message" && this.#iterating) {
      this.#enqueue(args[0] as string | Uint8Array);
    } else if (event === "close") {
      const [code, reason] = args as DriverEvents["close"];
      const waiter = this.#waiter;
      this.#waiter = null;
      if (waiter !== null) this.#settleEnd(waiter, code, reason);
      this.#closeInfo = { code, reason };
      if (this.#openState === 0) {
        this.#openState = 2;
        this.#opened?.reject(this.#closedEarly());
      }
      this.#closed?.resolve(this.#closeInfo);
    }
    return super.emit(event, ...args);
  }

  /**
   * A listener of this connection threw: unless `rethrowListenerErrors`, the
   * connection is closed with 1011 ("internal error"; the peer learns nothing
   * more) and the exception is reported as a {@linkcode ListenerError}: on the
   * `error` event (unless it is an `error` or `close` listener that threw),
   * to {@linkcode WebSocketDriver.reportListenerError}, and on stderr when
   * neither took it. Every other connection carries on.
   *
   * @example
   * ```ts ignore
   * ws.on("message", () => {
   *   throw new Error("bug"); // this connection closes with 1011; the server lives on
   * });
   * ```
   */
  protected override listenerError(error: unknown, event: keyof DriverEvents): void {
    if (this.#rethrowListenerErrors) return rethrowLater(error);
    const failure = new ListenerError(String(event), error);
    // An error listener that throws is not told about it again (no loop), nor
    // anyone once the connection is over. Told before the close starts, as for
    // any failure: some sockets (Bun's) report the close at once.
    const told = event !== "error" && event !== "close" && this.readyState !== "closed" &&
      this.listenerCount("error") !== 0;
    if (told) this.emit("error", failure);
    if (this.readyState === "open") {
      try {
        this.closeConnection(CloseCode.INTERNAL_ERROR, "Internal error");
      } catch {
        this.terminate(); // a socket that cannot send 1011 (a runtime's own) is dropped
      }
    }
    let reported = false;
    try {
      reported = this.reportListenerError(failure);
    } catch (hookError) {
      console.error("wsd: the listener-error hook threw:", hookError);
    }
    if (!told && !reported) {
      console.error(`wsd: ${failure.message}; the connection was closed with 1011:`, error);
    }
  }

  /**
   * Hands a {@linkcode ListenerError} to whoever reports them besides the
   * `error` event (a server of `serve()` calls its `onListenerError`);
   * returns whether anyone took it. Here: nobody.
   *
   * @param _error The error.
   */
  protected reportListenerError(_error: ListenerError): boolean {
    return false;
  }

  /**
   * Iterates over the messages (`string` for text, `Uint8Array` for binary)
   * from now on. The loop ends when the connection closes with 1000 or 1001
   * and throws a {@linkcode CloseError} on any other close; leaving the loop
   * (`break`) does not close the connection. Unread messages beyond
   * `incomingHighWaterMark` bytes make the driver stop reading the socket.
   *
   * @throws {TypeError} if another iterator of this connection is active.
   *
   * @example
   * ```ts ignore
   * for await (const message of ws) {
   *   if (typeof message === "string") console.log(message);
   * }
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<string | Uint8Array> {
    if (this.#iterating) {
      throw new TypeError(
        "Cannot iterate: this connection already has an active message iterator; read it from one loop",
      );
    }
    this.#iterating = true;
    const stop = (): IteratorResult<string | Uint8Array> => {
      this.#iterating = false;
      this.#queue = NONE;
      this.#queueBytes = 0;
      this.#waiter?.resolve({ value: undefined, done: true });
      this.#waiter = null;
      this.#pauseFor(PAUSED_ITERATOR, false);
      return { value: undefined, done: true };
    };
    const iterator: AsyncIterableIterator<string | Uint8Array> = {
      next: (): Promise<IteratorResult<string | Uint8Array>> => {
        if (!this.#iterating) return Promise.resolve({ value: undefined, done: true });
        if (this.#queue.length !== 0) {
          const value = this.#queue.shift()!;
          this.#queueBytes -= value.length;
          if (this.#queueBytes <= this.#highWaterMark / 2) this.#pauseFor(PAUSED_ITERATOR, false);
          return Promise.resolve({ value, done: false });
        }
        if (this.readyState === "closed") {
          const waiter = Promise.withResolvers<IteratorResult<string | Uint8Array>>();
          this.closed.then(({ code, reason }) => this.#settleEnd(waiter, code, reason));
          return waiter.promise;
        }
        this.#waiter ??= Promise.withResolvers();
        return this.#waiter.promise;
      },
      return: (): Promise<IteratorResult<string | Uint8Array>> => Promise.resolve(stop()),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    return iterator;
  }

  #enqueue(message: string | Uint8Array): void {
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter.resolve({ value: message, done: false });
      return;
    }
    if (this.#queue === NONE) this.#queue = [];
    this.#queue.push(message);
    this.#queueBytes += message.length;
    if (this.#queueBytes > this.#highWaterMark) this.#pauseFor(PAUSED_ITERATOR, true);
  }

  /** Ends an iteration: done on a clean close, a CloseError on any other. */
  #settleEnd(
    waiter: PromiseWithResolvers<IteratorResult<string | Uint8Array>>,
    code: number,
    reason: string,
  ): void {
    this.#iterating = false;
    if (code === CloseCode.NORMAL || code === CloseCode.GOING_AWAY) waiter.resolve({ value: undefined, done: true });
    else waiter.reject(new CloseError(code, reason));
  }

  /** Sets or clears one reason to stop reading; the transport is read while there is none. */
  #pauseFor(reason: number, paused: boolean): void {
    const before = this.#pauses;
    const after = paused ? before | reason : before & ~reason;
    if (after === before) return;
    this.#pauses = after;
    if (before === 0) this.#transport?.pause?.();
    else if (after === 0) this.#transport?.resume?.();
  }

  /**
   * Bytes of received messages held for the message iterator (or `readable`)
   * and not read yet. Above `incomingHighWaterMark` the socket is not read.
   */
  get incomingBufferedAmount(): number {
    return this.#queueBytes;
  }

  /**
   * Resolves once `bufferedAmount` is at most `outgoingHighWaterMark` (at once
   * if it is), or the connection closed: the way to send no faster than the
   * peer reads.
   *
   * @example
   * ```ts ignore
   * for (const chunk of chunks) {
   *   ws.send(chunk);
   *   await ws.drained();
   * }
   * ```
   */
  drained(): Promise<void> {
    if (this.bufferedAmount <= this.#outgoingHighWaterMark || this.readyState === "closed") return Promise.resolve();
    return new Promise((resolve) => {
      if (this.#drainWaiters === NONE) this.#drainWaiters = [];
      this.#drainWaiters.push(resolve);
    });
  }

  #drained(): void {
    this.#full = false;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = NONE;
    for (const resolve of waiters) resolve();
    this.emit("drain");
  }

  /**
   * The messages as a `ReadableStream` (text as `string`, binary as
   * `Uint8Array`), with the same ending rules and read backpressure as
   * `for await … of ws`; made on first use, one per connection.
   */
  get readable(): ReadableStream<string | Uint8Array> {
    return this.#readable ??= (() => {
      const messages = this[Symbol.asyncIterator]();
      return new ReadableStream<string | Uint8Array>({
        async pull(controller) {
          const { value, done } = await messages.next();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        async cancel() {
          await messages.return!();
        },
      }, { highWaterMark: 0 });
    })();
  }

  /**
   * Sends what is written to it (a string as text, bytes as binary), waiting
   * for {@linkcode WebSocketDriver.drained} after each chunk, so `pipeTo`
   * keeps backpressure. Closing it starts the closing handshake (1000) and
   * waits for the connection to close; aborting it closes with 1011.
   */
  get writable(): WritableStream<string | Uint8Array> {
    return this.#writable ??= new WritableStream<string | Uint8Array>({
      write: async (chunk) => {
        await this.opened;
        this.send(chunk);
        await this.drained();
      },
      close: async () => {
        this.closeConnection();
        await this.closed;
      },
      abort: () => {
        this.closeConnection(CloseCode.INTERNAL_ERROR, "The writable stream was aborted");
      },
    });
  }

  /** What the connection runs on: the stream pair or transport given to `attach`. */
  get socket(): unknown {
    return this.#socket;
  }

  /**
   * Runs the connection over `transport` (or a stream pair) whose opening
   * handshake is done, with `protocol` as the agreed subprotocol. `open` is
   * emitted in a microtask, then queued sends are written and input is read.
   *
   * @throws {TypeError} if a transport was attached already.
   */
  attach(transport: Transport | StreamPair, protocol: string | null = null): void {
    if (this.#transport !== null) throw new TypeError("Cannot attach: this connection has a transport already");
    const t = "start" in transport ? transport : streamTransport(transport);
    this.#transport = t;
    this.#socket = transport;
    this.#subprotocol = protocol;
    queueMicrotask(() => {
      if (this.#readyState === "closed") {
        t.abort();
        return;
      }
      if (this.#readyState === "connecting") {
        this.#readyState = "open";
        this.#inputSeen = false;
        this.#lastInput = performance.now();
        if (this.#heartbeatInterval !== 0) this.#scheduleHeartbeat(this.#heartbeatInterval / 4);
        this.emit("open");
      }
      this.#flush();
      t.start(new DriverSink(this, t));
      // A reconnected client whose iterator is still over its high-water mark.
      if (this.#pauses !== 0) t.pause?.();
    });
  }

  // ───────────────────────────── sending ─────────────────────────────

  /**
   * Sends a message: a string as text, bytes as binary. Before `open` it is
   * queued and sent in order once the connection opens. Once the closing
   * handshake started (or the connection is closed) nothing is sent and the
   * call returns `false`: the peer may close at any moment, a race the caller
   * cannot prevent, so it is not an exception (the browser's `WebSocket` and
   * ws drop such sends too).
   *
   * @returns `true` if the message was queued; `false` if the connection is
   * closing or closed, or `sendQueuePolicy` dropped it (`"drop"`, `"close"`).
   * @throws {TypeError} for data that is neither a string nor bytes.
   * @throws {RangeError} with `sendQueuePolicy: "throw"`, while over `outgoingHighWaterMark`.
   *
   * @example One message left uncompressed (already compressed data)
   * ```ts ignore
   * ws.send(jpegBytes, { compress: false });
   * ```
   */
  send(data: string | BinaryData, options?: SendOptions): boolean {
    return typeof data === "string" ? this.sendText(data, options) : this.sendBinary(data, options);
  }

  /**
   * Sends a text message; see {@linkcode WebSocketDriver.send}.
   *
   * @returns `true` if queued; `false` once the connection is closing or
   * closed, or if `sendQueuePolicy` dropped it.
   * @throws {TypeError} if `text` is not a string, or for an unknown key in `options`.
   */
  sendText(text: string, options?: SendOptions): boolean {
    if (typeof text !== "string") throw new TypeError(`Cannot send text: expected a string, got ${typeName(text)}`);
    const compress = options === undefined || sendCompress(options);
    if (!this.#canSend() || !this.#admit()) return false;
    this.#protocol.sendText(text, compress);
    this.#sent();
    return true;
  }

  /**
   * Sends a binary message; see {@linkcode WebSocketDriver.send}. The bytes
   * are copied at once: changing them later does not change what is sent.
   *
   * @returns `true` if queued; `false` once the connection is closing or
   * closed, or if `sendQueuePolicy` dropped it.
   * @throws {TypeError} for data that is not bytes, or for an unknown key in `options`.
   */
  sendBinary(data: BinaryData, options?: SendOptions): boolean {
    const bytes = toBytes(data, "Cannot send binary");
    const compress = options === undefined || sendCompress(options);
    if (!this.#canSend() || !this.#admit()) return false;
    this.#protocol.sendBinary(bytes, compress);
    this.#sent();
    return true;
  }

  /**
   * Internal (topic fan-out): queues `frame`, a whole data frame encoded once
   * and shared by many server connections, with the checks of
   * {@linkcode WebSocketDriver.sendBinary}. For server connections that run
   * on a transport (not the runtime's own socket); the bytes are copied.
   *
   * @ignore
   */
  [sendEncodedFrame](frame: Uint8Array): boolean {
    if (!this.#canSend() || !this.#admit()) return false;
    this.#protocol.sendEncodedFrame(frame);
    this.#sent();
    return true;
  }

  /**
   * Applies `sendQueuePolicy` when `bufferedAmount` is over
   * `outgoingHighWaterMark`: whether the message may be queued.
   */
  #admit(): boolean {
    if (this.#sendQueuePolicy === "buffer" || this.bufferedAmount <= this.#outgoingHighWaterMark) return true;
    switch (this.#sendQueuePolicy) {
      case "drop":
        return false;
      case "close":
        this.closeConnection(CloseCode.POLICY_VIOLATION, "Send queue full");
        return false;
      default:
        throw new RangeError(
          `Cannot send: ${this.bufferedAmount} bytes are waiting, over outgoingHighWaterMark ` +
            `(${this.#outgoingHighWaterMark}); await drained() before sending more`,
        );
    }
  }

  /**
   * Sends a ping (queued before `open`). `onPong` is called once, when the pong
   * that answers this very ping arrives, even if other pings carry the same
   * payload; a pong also acknowledges every earlier ping (RFC 6455 §5.5.3 lets
   * a peer answer only the latest). Once the closing handshake started nothing
   * is sent (and `onPong` is never called).
   *
   * @returns `true` if the ping was queued, `false` once the connection is
   * closing or closed.
   * @throws {RangeError} if `data` is longer than 125 bytes.
   */
  sendPing(data: string | BinaryData = new Uint8Array(0), onPong?: () => void): boolean {
    const payload = typeof data === "string" ? utf8Encoder.encode(data) : toBytes(data, "Cannot send ping").slice();
    if (payload.length > MAX_CONTROL_PAYLOAD) {
      throw new RangeError(`Cannot send ping: the payload has ${payload.length} bytes, at most 125 are allowed`);
    }
    if (onPong !== undefined && typeof onPong !== "function") {
      throw new TypeError(`Cannot send ping: onPong must be a function, got ${typeName(onPong)}`);
    }
    if (!this.#canSend()) return false;
    if (this.#pings === NONE) this.#pings = [];
    this.#pings.push({ payload, onPong });
    this.#protocol.sendPing(payload);
    this.#sent();
    return true;
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2): sends a close frame; `close`
   * is emitted once the peer answered and the transport is finished, or after
   * the close timeout. Takes the seed's order `(reason, code)` or the WHATWG
   * order `(code, reason)`. Before `open`, the connection is abandoned and closes
   * with 1006. Does nothing once closing.
   *
   * @param reason At most 123 bytes of UTF-8.
   * @param code 1000 (the default), or 1001–1003, 1007–1014, 3000–4999.
   * @returns Whether this call started the closing handshake.
   * @throws {RangeError} for a code that may not be sent or a reason too long.
   */
  closeConnection(reason?: string, code?: number): boolean;
  /**
   * The WHATWG order of {@linkcode WebSocketDriver.closeConnection}: code first.
   *
   * @example
   * ```ts ignore
   * ws.closeConnection(4000, "bye");
   * ```
   */
  closeConnection(code: number, reason?: string): boolean;
  closeConnection(a?: string | number, b?: number | string): boolean {
    const { code, reason } = closeArguments(a, b);
    if (this.#readyState === "connecting") {
      this.#readyState = "closed";
      this.abandon();
      queueMicrotask(() => this.emit("close", CloseCode.ABNORMAL, "Closed before the connection opened"));
      return true;
    }
    if (this.#readyState !== "open" || this.#protocol.closeSent) return false;
    this.#readyState = "closing";
    this.#protocol.sendClose(code, reason);
    this.#startCloseTimer();
    this.#sent();
    return true;
  }

  /**
   * Called when the connection is closed before it opened, for subclasses to
   * abandon whatever they were doing to open it.
   */
  protected abandon(): void {}

  /**
   * Ends a connection that never opened (a refused connection, a failed
   * handshake): emits `error` with `error`, then `close` with 1006 and its
   * message. Does nothing unless the state is `connecting`.
   */
  protected failConnecting(error: Error): void {
    if (this.#readyState !== "connecting") return;
    this.#readyState = "closed";
    this.emit("error", error);
    this.emit("close", CloseCode.ABNORMAL, error.message);
  }

  /**
   * Sends a ping with a payload of its own (unique unless `data` is given) and
   * resolves with the round-trip time in milliseconds when its pong arrives;
   * rejects if the connection ends first, or if pings cannot be sent.
   *
   * @example
   * ```ts ignore
   * const rtt = await ws.ping();
   * ```
   */
  ping(data?: string | BinaryData): Promise<number> {
    const payload = data ?? utf8Encoder.encode(`wsd-ping-${++this.#pingCounter}`);
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    const start = performance.now();
    try {
      if (!this.sendPing(payload, () => resolve(performance.now() - start))) {
        return Promise.reject(
          new DOMException(`Cannot ping: the connection is ${this.readyState}`, "InvalidStateError"),
        );
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const pending = this.#pings[this.#pings.length - 1];
    if (pending !== undefined) pending.onLost = () => reject(new Error("Cannot get the pong: the connection closed"));
    return promise;
  }

  /**
   * Drops the connection at once, without a closing handshake (for a peer
   * that stopped answering): `close` follows with 1006, or with the peer's
   * code if its close frame had arrived. Does nothing once closed.
   */
  terminate(): void {
    if (this.#readyState === "closed") return;
    if (this.#readyState === "connecting") {
      this.#readyState = "closed";
      this.abandon();
      this.#transport?.abort();
      queueMicrotask(() => this.emit("close", CloseCode.ABNORMAL, "Terminated before the connection opened"));
      return;
    }
    this.#tearDown();
  }

  /** Whether a frame may still be sent: not once the closing handshake started (nothing may follow a close frame). */
  #canSend(): boolean {
    return !this.#protocol.closeSent && this.#readyState !== "closing" && this.#readyState !== "closed";
  }

  /** After a send: write now at the end of this turn, or in a microtask. */
  #sent(): void {
    if (!this.#full && this.bufferedAmount > this.#outgoingHighWaterMark) this.#full = true;
    if (this.#inTurn || this.#flushScheduled || this.#transport === null) return;
    this.#flushScheduled = true;
    queueMicrotask(() => this.#flush());
  }

  // ───────────────────────────── the loop ─────────────────────────────

  /** Handles a chunk of input; returns whether the transport may reuse its memory. */
  #receive(chunk: Uint8Array): boolean {
    this.#inputSeen = true;
    this.#inTurn = true;
    const protocol = this.#protocol;
    // While the loop is busy with long work, a new message gets a smaller
    // slice here (many connections' input may come in one turn), and the rest
    // of it waits its turn in the queue.
    protocol.workBudget = WebSocketDriver.#slices.busy ? BUSY_WORK_BUDGET : DEFAULT_WORK_BUDGET;
    let released: boolean;
    try {
      released = protocol.receiveData(chunk);
      this.#dispatch();
    } finally {
      this.#inTurn = false;
    }
    this.#flush(true);
    if (protocol.workPending && (this.#pauses & PAUSED_WORK) === 0) {
      this.#pauseFor(PAUSED_WORK, true);
      WebSocketDriver.#slices.add(this);
    }
    return released;
  }

  /** The connections whose protocol has work pending, in the order it came (see slices.ts). */
  static #slices: SliceQueue<WebSocketDriver> = new SliceQueue((driver) => driver.#workSlice());

  /** Does one slice of the protocol's pending work; returns whether more is pending. */
  #workSlice(): boolean {
    const protocol = this.#protocol;
    if (protocol.workPending) {
      protocol.workBudget = DEFAULT_WORK_BUDGET;
      this.#inTurn = true;
      try {
        protocol.resume();
        this.#dispatch();
      } finally {
        this.#inTurn = false;
      }
      this.#flush(true);
      if (protocol.workPending) return true;
    }
    if (this.#readyState === "closed") return false;
    this.#pauseFor(PAUSED_WORK, false);
    if (this.#inputEndWaits) {
      this.#inputEndWaits = false;
      this.#inputEnd();
    }
    return false;
  }

  #inputEnd(): void {
    // Input that arrived before the end is handled first.
    if (this.#protocol.workPending) {
      this.#inputEndWaits = true;
      return;
    }
    this.#inputEnded = true;
    // The peer is gone without a closing handshake: no more sends.
    if (this.#readyState === "open") this.#readyState = "closing";
    this.#protocol.receiveEof();
    this.#startCloseTimer();
    this.#flush();
    this.#maybeFinish();
  }

  #dispatch(): void {
    for (const event of this.#protocol.eventsReceived()) {
      switch (event.type) {
        case "text":
        case "binary":
          this.#message(event.data);
          break;
        case "ping":
          this.emit("ping", event.data);
          break;
        case "pong":
          this.#pong(event.data);
          this.emit("pong", event.data);
          break;
        case "close":
          if (this.#readyState !== "closed") this.#readyState = "closing";
          this.#startCloseTimer();
          break;
        case "error":
          if (this.#readyState !== "closed") this.#readyState = "closing";
          this.#startCloseTimer();
          this.emit("error", event.error);
          break;
      }
    }
  }

  /**
   * Emits `message`: what `emit("message", data)` does, without its argument
   * arrays, unless a subclass changed `emit`.
   */
  #message(data: string | Uint8Array): void {
    if (this.emit !== WebSocketDriver.prototype.emit) {
      this.emit("message", data);
      return;
    }
    if (this.#iterating) this.#enqueue(data);
    emitOne<DriverEvents, "message">(this, "message", data);
  }

  /** Calls the callback of the ping this pong answers, and of every earlier one. */
  #pong(payload: Uint8Array): void {
    const pings = this.#pings;
    const index = pings.findIndex((p) => sameBytes(p.payload, payload));
    if (index < 0) return;
    const acknowledged = pings.splice(0, index + 1);
    for (const ping of acknowledged) {
      try {
        ping.onPong?.();
      } catch (error) {
        this.listenerError(error, "pong");
      }
    }
  }

  /**
   * Hands what the protocol has to send to the transport; `answers`: it was
   * produced while handling the peer's input (see `#answering`).
   */
  #flush(answers = false): void {
    this.#flushScheduled = false;
    const transport = this.#transport;
    if (transport === null || this.#outputEnding) return;
    // A piece the transport let go of may be reused for a later frame.
    const release = transport.releasesChunks === true;
    const pieces = this.#protocol.dataToSend();
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (piece === END_OF_STREAM) {
        this.#endOutput(transport);
        return;
      }
      const written = transport.write(piece);
      if (written === WRITTEN) {
        // Written on the spot (the common case): no promise reaction.
        if (release) releaseFrame(piece);
        if (this.#full) queueMicrotask(() => this.#writeDone(0));
        continue;
      }
      const length = piece.length;
      const answer = answers ? length : 0;
      this.#writing += length;
      this.#answering += answer;
      written.then(
        () => {
          if (release) releaseFrame(piece);
          if (this.#transport === transport) this.#writeDone(length, answer);
        },
        (error) => {
          if (this.#transport !== transport) return;
          this.#writing -= length;
          this.#answering -= answer;
          this.#transportFailed(error);
        },
      );
    }
    // A peer that sends without reading our answers (an echo, pongs to a ping
    // flood) is not read any more until it reads them: TCP slows it down
    // instead of our memory growing. Only answers count, not what the
    // application sends on its own (sendQueuePolicy is for that): a peer of
    // ours that sends a lot at once keeps reading, so two peers never both
    // wait for the other to read.
    if (this.#answering > this.#outgoingHighWaterMark) {
      this.#pauseFor(PAUSED_ANSWERS, true);
      // With "close" a full queue ends the connection, whether a send or the
      // answers found it full (once paused, no send may come to find it).
      if (this.#sendQueuePolicy === "close") this.closeConnection(CloseCode.POLICY_VIOLATION, "Send queue full");
    }
  }

  /** A write of `length` bytes (`answer` of them answers to input) finished. */
  #writeDone(length: number, answer = 0): void {
    this.#writing -= length;
    this.#answering -= answer;
    if ((this.#pauses & PAUSED_ANSWERS) !== 0 && this.#answering <= this.#outgoingHighWaterMark) {
      this.#pauseFor(PAUSED_ANSWERS, false);
    }
    if (this.#full && this.bufferedAmount <= this.#outgoingHighWaterMark) this.#drained();
  }

  #endOutput(transport: Transport): void {
    this.#outputEnding = true;
    transport.end().then(
      () => {
        if (this.#transport !== transport) return;
        this.#outputEnded = true;
        this.#maybeFinish();
      },
      (error) => {
        if (this.#transport === transport) this.#transportFailed(error);
      },
    );
  }

  /** A write failed: the transport is gone in both directions. */
  #transportFailed(_error: unknown): void {
    this.#tearDown();
  }

  /** Tears the transport down at once and finishes (a failure, a timeout, terminate()). */
  #tearDown(): void {
    if (this.#readyState === "closed") return;
    this.#transport?.abort();
    this.#protocol.receiveEof();
    this.#protocol.dataToSend();
    this.#inputEnded = this.#outputEnding = this.#outputEnded = true;
    this.#finish();
  }

  #startCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#readyState === "closed") return;
    this.#closeTimer = setTimeout(() => {
      this.#closeTimer = undefined;
      this.#tearDown();
    }, this.#closeTimeout);
  }

  // The heartbeats of all connections share one timer: a binary min-heap of
  // the connections by due time, and a timer for the earliest. A connection
  // then costs two numbers instead of a timer object and a closure each.
  static #beats: WebSocketDriver[] = [];
  static #beatTimer: ReturnType<typeof setTimeout> | undefined;
  static #beatTimerDue = Infinity;

  #scheduleHeartbeat(delay: number): void {
    const beats = WebSocketDriver.#beats;
    const due = performance.now() + Math.max(0, delay);
    const earlier = this.#beatIndex === -1 || due < this.#beatDue;
    this.#beatDue = due;
    if (this.#beatIndex === -1) {
      this.#beatIndex = beats.length;
      beats.push(this);
    }
    if (earlier) WebSocketDriver.#siftUp(this.#beatIndex);
    else WebSocketDriver.#siftDown(this.#beatIndex);
    WebSocketDriver.#armBeats();
  }

  #cancelHeartbeat(): void {
    const i = this.#beatIndex;
    if (i === -1) return;
    this.#beatIndex = -1;
    const beats = WebSocketDriver.#beats;
    const last = beats.pop()!;
    if (last !== this) {
      beats[i] = last;
      last.#beatIndex = i;
      WebSocketDriver.#siftUp(i);
      WebSocketDriver.#siftDown(last.#beatIndex);
    }
    WebSocketDriver.#armBeats();
  }

  static #siftUp(i: number): void {
    const beats = WebSocketDriver.#beats;
    const driver = beats[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (beats[parent].#beatDue <= driver.#beatDue) break;
      beats[i] = beats[parent];
      beats[i].#beatIndex = i;
      i = parent;
    }
    beats[i] = driver;
    driver.#beatIndex = i;
  }

  static #siftDown(i: number): void {
    const beats = WebSocketDriver.#beats;
    const driver = beats[i];
    const n = beats.length;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && beats[child + 1].#beatDue < beats[child].#beatDue) child++;
      if (beats[child].#beatDue >= driver.#beatDue) break;
      beats[i] = beats[child];
      beats[i].#beatIndex = i;
      i = child;
    }
    beats[i] = driver;
    driver.#beatIndex = i;
  }

  /** Sets the shared timer for the earliest heartbeat, if it is not set for that already. */
  static #armBeats(): void {
    const first = WebSocketDriver.#beats[0];
    const due = first === undefined ? Infinity : first.#beatDue;
    if (due === WebSocketDriver.#beatTimerDue) return;
    clearTimeout(WebSocketDriver.#beatTimer);
    WebSocketDriver.#beatTimerDue = due;
    WebSocketDriver.#beatTimer = due === Infinity
      ? undefined
      : setTimeout(WebSocketDriver.#runBeats, Math.max(0, due - performance.now()));
  }

  /** The shared timer: checks every connection whose heartbeat is due. */
  static #runBeats(): void {
    WebSocketDriver.#beatTimerDue = Infinity;
    WebSocketDriver.#beatTimer = undefined;
    const beats = WebSocketDriver.#beats;
    // A timer may fire a little before performance.now() reaches its due time.
    const now = performance.now() + 1;
    try {
      while (beats.length !== 0 && beats[0].#beatDue <= now) {
        const driver = beats[0];
        driver.#cancelHeartbeat();
        driver.#checkHeartbeat();
      }
    } finally {
      WebSocketDriver.#armBeats();
    }
  }

  /** The heartbeat's one timer: ping after silence, give up after a silent timeout. */
  #checkHeartbeat(): void {
    const interval = this.#heartbeatInterval;
    const timeout = this.#heartbeatTimeout;
    if (this.#readyState !== "open" && this.#readyState !== "closing") return;
    const now = performance.now();
    // Input is noted by a flag, not a time: while it flows this timer looks
    // every quarter interval, so a ping follows the last input after between
    // `interval` and 1.25 × `interval`.
    const step = interval / 4;
    if (this.#inputSeen) {
      this.#inputSeen = false;
      this.#lastInput = now;
      this.#heartbeatPingAt = 0; // the peer is alive
    }
    if (this.#heartbeatPingAt !== 0) {
      if (now - this.#heartbeatPingAt >= timeout) {
        this.emit(
          "error",
          new ProtocolError(
            "WSD_ERR_HEARTBEAT_TIMEOUT",
            CloseCode.ABNORMAL,
            `No answer from the peer within ${timeout} ms of a ping`,
          ),
        );
        this.#tearDown();
        return;
      }
      return this.#scheduleHeartbeat(Math.min(step, this.#heartbeatPingAt + timeout - now));
    }
    const idle = now - this.#lastInput;
    if (idle < interval) return this.#scheduleHeartbeat(Math.min(step, interval - idle));
    if (this.#readyState === "open" && !this.#protocol.closeSent) {
      this.#protocol.sendPing(utf8Encoder.encode(`wsd-heartbeat-${++this.#pingCounter}`));
      this.#sent();
    }
    this.#heartbeatPingAt = now;
    this.#scheduleHeartbeat(Math.min(step, timeout));
  }

  #maybeFinish(): void {
    if (this.#inputEnded && this.#outputEnded && this.#writing === 0) this.#finish();
  }

  #finish(): void {
    if (this.#readyState === "closed") return;
    this.#readyState = "closed";
    if (this.#closeTimer !== undefined) {
      clearTimeout(this.#closeTimer);
      this.#closeTimer = undefined;
    }
    this.#cancelHeartbeat();
    this.#full = false;
    for (const resolve of this.#drainWaiters) resolve();
    this.#drainWaiters = NONE;
    const lost = this.#pings;
    this.#pings = NONE;
    for (const ping of lost) ping.onLost?.();
    // Both directions are done (or torn down): release what is under them.
    this.#transport?.abort();
    const code = this.#protocol.closeCode || CloseCode.ABNORMAL;
    this.finished(code, this.#protocol.closeReason);
  }

  /**
   * Called once the connection is over in both directions (or torn down):
   * emits `close`. A reconnecting client overrides it to connect again
   * instead.
   *
   * @param code The close code `close` reports.
   * @param reason The close reason.
   */
  protected finished(code: number, reason: string): void {
    this.emit("close", code, reason);
  }
}

/**
 * Reads `closeConnection`'s arguments, in the seed's order `(reason, code)` or
 * the WHATWG order `(code, reason)`, with their defaults (1000, "").
 *
 * @throws {RangeError} for a code that may not be sent or a reason over 123 bytes.
 * @throws {TypeError} for a reason that is not a string.
 */
export function closeArguments(a: unknown, b: unknown): CloseInfo {
  let reason: unknown = a, code: unknown = b;
  if (typeof a === "number") [code, reason] = [a, b];
  code ??= CloseCode.NORMAL;
  reason ??= "";
  if (typeof code !== "number" || !isValidCloseCode(code)) {
    throw new RangeError(
      `Cannot close: invalid close code ${String(code)}; use 1000, 1001–1003, 1007–1014 or 3000–4999`,
    );
  }
  if (typeof reason !== "string") {
    throw new TypeError(`Cannot close: the reason must be a string, got ${typeName(reason)}`);
  }
  const reasonBytes = utf8Encoder.encode(reason).length;
  if (reasonBytes > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`Cannot close: the reason has ${reasonBytes} bytes of UTF-8, at most 123 are allowed`);
  }
  return { code, reason };
}

/** Views `data` as bytes (no copy); a TypeError naming `what` for anything else. */
export function toBytes(data: unknown, what: string): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`${what}: expected a Uint8Array, ArrayBuffer or ArrayBufferView, got ${typeName(data)}`);
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return typeof value;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Where a connection's transport delivers: one small object per connection (not an object and two closures). */
class DriverSink implements TransportSink {
  readonly #driver: WebSocketDriver;
  readonly #transport: Transport;

  constructor(driver: WebSocketDriver, transport: Transport) {
    this.#driver = driver;
    this.#transport = transport;
  }

  data(chunk: Uint8Array): boolean {
    return receiveInput(this.#driver, this.#transport, chunk);
  }

  end(): void {
    endInput(this.#driver, this.#transport);
  }
}

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
 * Around the class: input.ts (reading, turns, fair slices of long work,
 * reasons to stop reading), output.ts (corked writes, bytes in flight, drain,
 * the answers rule), options.ts (options and argument checks), types.ts,
 * lifecycle.ts (`opened`/`closed`), iteration.ts (the message iterator and
 * streams), heartbeat.ts (keepalive on one process-wide timer), pings.ts.
 *
 * Friend access, one pattern: what the server, client, topics and
 * `NativeSession` of this library may do to a connection beyond its public
 * API is an exported `let` function (`useExtensions`, `restartDriver`,
 * `sendEncodedFrame`, `session*`) that the class's `static {}` block sets,
 * reaching its `#private` members; the module's own helpers (the input, the
 * output, the heartbeat) use unexported ones the same way. None is exported
 * from the package.
 *
 * @module
 */

import { CloseCode } from "../protocol/constants.ts";
import type { MessageCompression } from "../protocol/compression.ts";
import { Protocol } from "../protocol/protocol.ts";
import type { Role } from "../protocol/protocol.ts";
import { utf8Encoder } from "../protocol/utf8.ts";
import { emitOne, EventEmitter, rethrowLater } from "./emitter.ts";
import { heartbeatTimedOut, listenerFailed } from "./errors.ts";
import type { ListenerError } from "./errors.ts";
import { Heartbeat, HEARTBEAT_PING, HEARTBEAT_TIMED_OUT } from "./heartbeat.ts";
import { MessageIterator, messageStream, sendStream } from "./iteration.ts";
import { lifecycleClosed, lifecycleOf, lifecycleOpened, NOT_OPEN } from "./lifecycle.ts";
import { Input, PAUSED_ANSWERS, PAUSED_ITERATOR } from "./input.ts";
import type { InputHost } from "./input.ts";
import { Output } from "./output.ts";
import type { OutputHost } from "./output.ts";
import { callPongs, roundTrip } from "./pings.ts";
import type { PendingPing } from "./pings.ts";
import { closeArguments, driverSettings, pingPayload, sendCompress, toBytes, typeName } from "./options.ts";
import type { CloseInfo, DriverOptions, DriverSettings, SendOptions } from "./options.ts";
import { streamTransport } from "./transport.ts";
import type { InputSource, StreamPair, Transport } from "./transport.ts";
import type { BinaryData, DriverEvents, ReadyState } from "./types.ts";

export { CloseError } from "./iteration.ts";
export {
  checkOptions,
  closeArguments,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_INCOMING_HIGH_WATER_MARK,
  DEFAULT_OUTGOING_HIGH_WATER_MARK,
  DRIVER_OPTION_KEYS,
  sendCompress,
  sharedDriverOptions,
  toBytes,
} from "./options.ts";
export type { CloseInfo, DriverOptions, HeartbeatOptions, SendOptions, SendQueuePolicy } from "./options.ts";
export type { BinaryData, DriverEvents, ReadyState } from "./types.ts";

/**
 * Queues `frame`, a whole data frame encoded once and shared by many server
 * connections (topic fan-out), with the checks of
 * {@linkcode WebSocketDriver.sendBinary}; returns what it would. For server
 * connections that run on a transport (not the runtime's own socket); the
 * bytes are copied. Not exported from the package.
 */
export let sendEncodedFrame: (driver: WebSocketDriver, frame: Uint8Array) => boolean;

/**
 * {@linkcode WebSocketDriver.attach} for a transport started already (by a head reader): its input is taken over
 * from `source`, not by starting the transport (no object between the two). Not exported from the package.
 */
export let attachStarted: (driver: WebSocketDriver, t: Transport, protocol: string | null, source: InputSource) => void;

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

/**
 * The empty queue every connection starts with (pings, messages, drain
 * waiters), shared and frozen: a connection makes its own on first use, and a
 * push onto this one would throw rather than mix connections.
 */
// deno-lint-ignore no-explicit-any
const NONE: any[] = Object.freeze([]) as unknown as any[];

/** Set in the driver's static block: what a connection's {@linkcode Heartbeat} calls when due. */
let heartbeatDue: (driver: WebSocketDriver) => void;
/** Set in the driver's static block: how every connection's {@linkcode Output} and {@linkcode Input} reach it. */
let outputHost: OutputHost<WebSocketDriver>;
let inputHost: InputHost<WebSocketDriver>;

/**
 * The transitions of a connection that runs on the runtime's own socket (a
 * `NativeSession`, src/driver/native.ts), which reports them instead of the
 * protocol: it opened (settles `opened`, emits `open`), a message arrived (to
 * the iterator and `message`), it is over (ends the iterator, settles
 * `opened` and `closed`, emits `close`). Not exported from the package.
 */
export let sessionOpened: (driver: WebSocketDriver) => void;
/** See {@linkcode sessionOpened}. */
export let sessionMessage: (driver: WebSocketDriver, data: string | Uint8Array) => void;
/** See {@linkcode sessionOpened}. */
export let sessionClosed: (driver: WebSocketDriver, code: number, reason: string) => void;

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
  /** The sans-I/O state, made on first use as input and output are (never, on a runtime's own socket). */
  #protocolState: Protocol | null = null;
  readonly #settings: DriverSettings;
  #readyState: ReadyState = "connecting";
  #subprotocol: string | null = null;
  #extensions = "";
  #transport: Transport | null = null;
  #socket: unknown = null;
  #pings: PendingPing[] = NONE;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The keepalive, if the options asked for one: made when a transport is attached. */
  #heartbeat: Heartbeat<WebSocketDriver> | null = null;
  #pingCounter = 0;
  /** Opened or not, closed how, and the promises of both: a number until asked for (lifecycle.ts). */
  #lifecycle = NOT_OPEN;
  /** The message iterator last asked for (`for await … of ws`), or null. */
  #iterator: MessageIterator | null = null;
  /** Reading, turns, slices of long work, reasons to stop reading (input.ts); made on first use. */
  #inputState: Input<WebSocketDriver> | null = null;
  /** Writes, corking, drain and the answers rule (output.ts); made on first use. */
  #outputState: Output<WebSocketDriver> | null = null;
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
    this.#settings = driverSettings(options);
    this.#role = role;
  }

  // Each part made on first use: a connection whose peer leaves before any frame never makes the protocol state.
  get #protocol(): Protocol {
    return this.#protocolState ?? this.#makeProtocol();
  }
  get #input(): Input<WebSocketDriver> {
    return this.#inputState ??= new Input(this, inputHost);
  }
  get #output(): Output<WebSocketDriver> {
    return this.#outputState ??= new Output(this, outputHost, this.#settings);
  }
  #makeProtocol(): Protocol { // (Out of the getter, which is on every message's path.)
    const { maxLength, maskKey } = this.#settings;
    return this.#protocolState = new Protocol({ role: this.#role, maxLength, maskKey });
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
    heartbeatDue = (driver) => driver.#heartbeatDue();
    outputHost = {
      transport: (driver) => driver.#transport,
      protocol: (driver) => driver.#protocol,
      answersWaiting: (driver, waiting) => driver.#input.pause(PAUSED_ANSWERS, waiting),
      queueFull: (driver) => driver.closeConnection(CloseCode.POLICY_VIOLATION, "Send queue full"),
      drained: (driver) => driver.emit("drain"),
      ended: (driver) => driver.#maybeFinish(),
      failed: (driver) => driver.#tearDown(),
    };
    inputHost = {
      transport: (driver) => driver.#transport,
      protocol: (driver) => driver.#protocol,
      inputSeen: (driver) => {
        if (driver.#heartbeat !== null) driver.#heartbeat.inputSeen = true;
      },
      dispatch: (driver) => driver.#dispatch(),
      flush: (driver) => driver.#output.flush(true),
      ended: (driver) => driver.#inputEnded(),
      closed: (driver) => driver.#readyState === "closed",
      workPending: (driver) => driver.#protocolState?.workPending === true,
    };
    attachStarted = (driver, transport, protocol, source) => driver.#attach(transport, transport, protocol, source);
    sendEncodedFrame = (driver, frame) => driver.#sendEncodedFrame(frame);
    sessionOpened = (driver) => driver.#announceOpen();
    sessionMessage = (driver, data) => driver.#message(data);
    sessionClosed = (driver, code, reason) => driver.#announceClose(code, reason);
    restartDriver = (driver, protocol) => {
      if (driver.#readyState !== "closed") throw new TypeError("Cannot restart: the connection is not closed");
      driver.#protocolState = protocol;
      driver.#readyState = "connecting";
      driver.#subprotocol = null;
      driver.#extensions = "";
      driver.#transport = null;
      driver.#socket = null;
      if (driver.#inputState !== null) driver.#inputState = driver.#inputState.renewed();
      driver.#outputState?.reset();
      driver.#heartbeat?.reset();
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
    return this.#output.bufferedAmount;
  }

  /**
   * Resolves once the connection is open; rejects if it closed before that
   * (a refused connection, a failed handshake). Nobody has to await it.
   */
  get opened(): Promise<void> {
    return (this.#lifecycle = lifecycleOf(this.#lifecycle)).opened;
  }

  /** Resolves once, with what `close` reported, when the connection is over. */
  get closed(): Promise<CloseInfo> {
    return (this.#lifecycle = lifecycleOf(this.#lifecycle)).closed;
  }

  /** The transition to open, told: settles `opened`, then emits `open`. */
  #announceOpen(): void {
    this.#lifecycle = lifecycleOpened(this.#lifecycle);
    this.emit("open");
  }

  /** The transition to over, told: ends the message iterator, settles `opened` and `closed`, then emits `close`. */
  #announceClose(code: number, reason: string): void {
    this.#iterator?.end(code, reason);
    this.#lifecycle = lifecycleClosed(this.#lifecycle, code, reason);
    this.emit("close", code, reason);
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
    if (this.#settings.rethrowListenerErrors) return rethrowLater(error);
    listenerFailed(this, error, String(event), (failure) => this.reportListenerError(failure));
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
    if (this.#iterator?.active) {
      throw new TypeError(
        "Cannot iterate: this connection already has an active message iterator; read it from one loop",
      );
    }
    return this.#iterator = new MessageIterator(
      this,
      this.#settings.incomingHighWaterMark,
      (paused) => this.#input.pause(PAUSED_ITERATOR, paused),
    );
  }

  /**
   * Bytes of received messages held for the message iterator (or `readable`)
   * and not read yet. Above `incomingHighWaterMark` the socket is not read.
   */
  get incomingBufferedAmount(): number {
    return this.#iterator?.bytes ?? 0;
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
    return this.#output.drained(this.#readyState === "closed");
  }

  /**
   * The messages as a `ReadableStream` (text as `string`, binary as
   * `Uint8Array`), with the same ending rules and read backpressure as
   * `for await … of ws`; made on first use, one per connection.
   */
  get readable(): ReadableStream<string | Uint8Array> {
    return this.#readable ??= messageStream(this[Symbol.asyncIterator]());
  }

  /**
   * Sends what is written to it (a string as text, bytes as binary), waiting
   * for {@linkcode WebSocketDriver.drained} after each chunk, so `pipeTo`
   * keeps backpressure. Closing it starts the closing handshake (1000) and
   * waits for the connection to close; aborting it closes with 1011.
   */
  get writable(): WritableStream<string | Uint8Array> {
    return this.#writable ??= sendStream(this);
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
    this.#attach("start" in transport ? transport : streamTransport(transport), transport, protocol, null);
  }

  /** See {@linkcode attachStarted}: input from `source`, else by starting `t`. */
  #attach(t: Transport, socket: unknown, protocol: string | null, source: InputSource | null): void {
    this.#transport = t;
    this.#socket = socket;
    this.#subprotocol = protocol;
    queueMicrotask(() => {
      if (this.#readyState === "closed") {
        t.abort();
        return;
      }
      if (this.#readyState === "connecting") {
        this.#readyState = "open";
        this.#startHeartbeat();
        this.#announceOpen();
      }
      if (this.#protocolState !== null) this.#output.flush(); // (Else nothing was sent.)
      if (source === null) t.start(this.#input.sink(t));
      else source.resumeWith(this.#input.sink(t));
      // A reconnected client whose iterator is still over its high-water mark.
      if (this.#input.paused) t.pause?.();
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
    if (!this.#canSend() || !this.#output.admit()) return false;
    this.#protocol.sendText(text, compress);
    this.#sent();
    return true;
  }

  /**
   * Sends a binary message; see {@linkcode WebSocketDriver.send}. The bytes are copied
   * at once, or taken (`transfer`): changing them later does not change what is sent.
   *
   * @returns `true` if queued; `false` once the connection is closing or
   * closed, or if `sendQueuePolicy` dropped it.
   * @throws {TypeError} for data that is not bytes, or for an unknown key in `options`.
   */
  sendBinary(data: BinaryData, options?: SendOptions): boolean {
    const bytes = toBytes(data, "Cannot send binary");
    const compress = options === undefined || sendCompress(options);
    if (!this.#canSend() || !this.#output.admit()) return false;
    this.#protocol.sendBinary(bytes, compress, options?.transfer === true);
    this.#sent();
    return true;
  }

  /** See {@linkcode sendEncodedFrame}. */
  #sendEncodedFrame(frame: Uint8Array): boolean {
    if (!this.#canSend() || !this.#output.admit()) return false;
    this.#protocol.sendEncodedFrame(frame);
    this.#sent();
    return true;
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
    return this.#sendPing(data, onPong);
  }

  #sendPing(data: string | BinaryData, onPong?: () => void, onLost?: () => void): boolean {
    const payload = pingPayload(data, onPong);
    if (!this.#canSend()) return false;
    if (this.#pings === NONE) this.#pings = [];
    this.#pings.push(onLost === undefined ? { payload, onPong } : { payload, onPong, onLost });
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
      queueMicrotask(() => this.#announceClose(CloseCode.ABNORMAL, "Closed before the connection opened"));
      return true;
    }
    if (this.#readyState !== "open" || this.#protocol.closeSent) return false;
    this.#readyState = "closing";
    this.#protocol.sendClose(code, reason);
    this.#startCloseTimer();
    this.#sent();
    return true;
  }

  /** Called when the connection closes before it opened: subclasses abandon their work to open it. */
  protected abandon(): void {}

  /**
   * Ends a connection that never opened (refused, a failed handshake): `error` with `error`, then `close` with
   * 1006 and its message. Does nothing unless the state is `connecting`.
   */
  protected failConnecting(error: Error): void {
    if (this.#readyState !== "connecting") return;
    this.#readyState = "closed";
    this.emit("error", error);
    this.#announceClose(CloseCode.ABNORMAL, error.message);
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
    return roundTrip((onPong, onLost) => this.#sendPing(payload, onPong, onLost), () => this.readyState);
  }

  /**
   * Drops the connection at once, without a closing handshake (for a peer that stopped answering): `close`
   * follows with 1006, or with the peer's code if its close frame had arrived. Does nothing once closed.
   */
  terminate(): void {
    if (this.#readyState === "closed") return;
    if (this.#readyState === "connecting") {
      this.#readyState = "closed";
      this.abandon();
      this.#transport?.abort();
      queueMicrotask(() => this.#announceClose(CloseCode.ABNORMAL, "Terminated before the connection opened"));
      return;
    }
    this.#tearDown();
  }

  /** Whether a frame may still be sent: not once the closing handshake started (nothing may follow a close frame). */
  #canSend(): boolean {
    return !this.#protocol.closeSent && this.#readyState !== "closing" && this.#readyState !== "closed";
  }

  /** After a send: write at the end of this turn, or in a microtask. */
  #sent(): void {
    this.#output.sent(this.#input.inTurn, this.#protocol.bytesToSend);
  }

  // ───────────────────────────── the loop ─────────────────────────────

  /** The input is over (after what came before it): no more sends; the close timer runs. */
  #inputEnded(): void {
    // The peer is gone without a closing handshake: no more sends.
    if (this.#readyState === "open") this.#readyState = "closing";
    // Nothing received or sent: the output ends, no protocol state made for it (`close` reports 1006 all the same).
    if (this.#protocolState === null) this.#output.end();
    else {
      this.#protocol.receiveEof();
      this.#output.flush();
    }
    this.#maybeFinish();
    // (No timer for an end that settled at once, nor once finished: a reconnecting client is connecting again.)
    if (this.#readyState === "closing" && !this.#output.endsAtOnce) this.#startCloseTimer();
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
   * Hands a message to the iterator, if one reads, and emits `message`
   * without the argument arrays of `emit`, unless a subclass changed `emit`.
   */
  #message(data: string | Uint8Array): void {
    const iterator = this.#iterator;
    if (iterator !== null && iterator.active) iterator.push(data);
    if (this.emit !== WebSocketDriver.prototype.emit) this.emit("message", data);
    else emitOne<DriverEvents, "message">(this, "message", data);
  }

  /** Calls the callback of the ping this pong answers, and of every earlier one. */
  #pong(payload: Uint8Array): void {
    callPongs(this.#pings, payload, (error) => this.listenerError(error, "pong"));
  }

  /** Tears the transport down at once and finishes (a failure, a timeout, terminate()). */
  #tearDown(): void {
    if (this.#readyState === "closed") return;
    this.#transport?.abort();
    this.#protocol.receiveEof();
    this.#protocol.dataToSend();
    this.#input.tornDown();
    this.#output.tornDown();
    this.#finish();
  }

  /** Starts the keepalive, if the options asked for one (a reconnected client reuses its own). */
  #startHeartbeat(): void {
    const { heartbeatInterval: interval, heartbeatTimeout: timeout } = this.#settings;
    if (interval !== 0) {
      (this.#heartbeat ??= new Heartbeat<WebSocketDriver>(this, interval, timeout, heartbeatDue)).start();
    }
  }

  #startCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#readyState === "closed") return;
    this.#closeTimer = setTimeout(() => {
      this.#closeTimer = undefined;
      this.#tearDown();
    }, this.#settings.closeTimeout);
  }

  /** The heartbeat is due: it says whether to ping, or to give up on a silent peer. */
  #heartbeatDue(): void {
    if (this.#readyState !== "open" && this.#readyState !== "closing") return;
    const heartbeat = this.#heartbeat!;
    const action = heartbeat.check();
    if (action === HEARTBEAT_PING) {
      if (this.#readyState === "open" && !this.#protocol.closeSent) {
        this.#protocol.sendPing(utf8Encoder.encode(`wsd-heartbeat-${++this.#pingCounter}`));
        this.#sent();
      }
    } else if (action === HEARTBEAT_TIMED_OUT) {
      this.emit("error", heartbeatTimedOut(heartbeat.timeout));
      this.#tearDown();
    }
  }

  #maybeFinish(): void {
    if (this.#input.ended && this.#output.done) {
      this.#finish();
    }
  }

  #finish(): void {
    if (this.#readyState === "closed") return;
    this.#readyState = "closed";
    if (this.#closeTimer !== undefined) {
      clearTimeout(this.#closeTimer);
      this.#closeTimer = undefined;
    }
    this.#heartbeat?.stop();
    this.#output.finish();
    const lost = this.#pings;
    this.#pings = NONE;
    for (const ping of lost) ping.onLost?.();
    // Both directions are done (or torn down): release what is under them.
    this.#transport?.abort();
    const protocol = this.#protocolState;
    protocol?.releaseCompression();
    this.finished(protocol?.closeCode || CloseCode.ABNORMAL, protocol?.closeReason ?? "");
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
    this.#announceClose(code, reason);
  }
}

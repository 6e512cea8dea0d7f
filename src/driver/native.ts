/**
 * A server connection on a runtime's own WebSocket (Deno's `upgradeWebSocket`,
 * Bun's `ServerWebSocket` behind `Bun.serve`): the runtime does the framing,
 * and {@linkcode NativeSession} maps this library's API onto it. The runtime
 * adapters describe their socket as a {@linkcode NativeLink}; what a socket
 * cannot do is said by its flags (`canPing`, `reportsDrain`) and reported to
 * the caller, never ignored.
 *
 * ```text
 *   runtime socket ─ NativeLink (src/runtime) ─ NativeLinkEvents ─ NativeSession ─ server.emit(…)
 *   server.send/close/ping ─────────────────────────────────────── NativeSession ─ NativeLink
 * ```
 *
 * The session keeps the rules the driver keeps on its own framing: `open`
 * comes asynchronously and before any message; `close` exactly once, with the
 * peer's code, 1005 for a close frame without one, 1006 for a dropped
 * connection; `error` before `close` for a violation the runtime reported;
 * `closeTimeout`, `sendQueuePolicy`, `maxLength` (checked per message, after
 * the runtime buffered it) and, where the socket can ping, the heartbeat.
 *
 * @module
 */

import { CloseCode, MAX_CONTROL_PAYLOAD } from "../protocol/constants.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { utf8Encoder } from "../protocol/utf8.ts";
import { detachWhole, takeOrCopy } from "../protocol/reader.ts";
import { rethrowLater } from "./emitter.ts";
import { heartbeatTimedOut } from "./errors.ts";
import { overQueuePolicy } from "./options.ts";
import { Heartbeat, HEARTBEAT_PING, HEARTBEAT_TIMED_OUT } from "./heartbeat.ts";
import { callPongs } from "./pings.ts";
import type { PendingPing } from "./pings.ts";
import { sessionClosed, sessionMessage, sessionOpened } from "./driver.ts";
import type { HeartbeatOptions, ReadyState, SendQueuePolicy, WebSocketDriver } from "./driver.ts";

/**
 * What a runtime socket reports to its session. The session itself is the
 * receiver (no object of closures per connection), hence the `link` prefix
 * that keeps these names apart from the session's own methods.
 */
export interface NativeLinkEvents {
  /** The socket opened. */
  linkOpened(): void;
  /** A whole message: `string` for text, `Uint8Array` for binary. */
  linkMessage(data: string | Uint8Array): void;
  /** A ping arrived (the runtime answered it). */
  linkPing(data: Uint8Array): void;
  /** A pong arrived. */
  linkPong(data: Uint8Array): void;
  /** The runtime's send buffer drained. */
  linkDrained(): void;
  /** The runtime reported a failure (a protocol violation by the peer); `close` follows. */
  linkFailed(error: Error): void;
  /** The socket is closed: the peer's code, 1005 for a close frame without one, 1006 for a drop. */
  linkClosed(code: number, reason: string): void;
}

/** A runtime's own server WebSocket, in runtime-free terms. Made by the runtime adapters. */
export interface NativeLink {
  /** The runtime socket, as `ws.socket` shows it. */
  readonly socket: unknown;
  /** Who made it, for error messages ("Deno's built-in WebSocket", …). */
  readonly name: string;
  /** Whether `ping()` works. */
  readonly canPing: boolean;
  /** Whether `drain` is reported (else `bufferedAmount` is polled). */
  readonly reportsDrain: boolean;
  /** The agreed extensions, as a `Sec-WebSocket-Extensions` value, or `""`. */
  readonly extensions: string;
  /** Bytes accepted by `send` and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** Starts reporting events (once). */
  bind(events: NativeLinkEvents): void;
  /** Sends a message; `false` if the runtime dropped it. */
  send(data: string | Uint8Array, compress: boolean): boolean;
  /** Sends a ping (only if `canPing`). */
  ping(data: Uint8Array): void;
  /**
   * Stops reading the socket until {@linkcode NativeLink.resume}, where the
   * runtime can (Bun's can; Deno's cannot): TCP then pushes back on a peer
   * that sends without reading what it is answered.
   */
  pause?(): void;
  /** Reads the socket again after {@linkcode NativeLink.pause}. */
  resume?(): void;
  /** Starts the closing handshake. */
  close(code: number, reason: string): void;
  /** Drops the connection without a closing handshake, where the runtime can. */
  terminate(): void;
}

/**
 * What a {@linkcode NativeUpgrader} is asked, and where it puts the socket:
 * one object its caller fills in and reuses call after call (not an options
 * object and a result per handshake).
 */
export interface NativeUpgradeCall {
  /** The runtime's own keepalive in seconds (0: none; only where the socket cannot ping), or the runtime's default. */
  idleTimeout: number | undefined;
  /** Set by the upgrader to the upgraded socket; read (and cleared) by the caller at once. */
  link: NativeLink | null;
  /**
   * Set by an upgrader whose runtime keeps the request's header fields
   * readable after the answer: what to keep of them for `ws.request`, in the
   * runtime's lightest form. `null`: the caller copies them itself before the
   * call (where they go with the request).
   */
  fields: RequestFields | null;
}

/** A request's header fields as kept for `ws.request`: its `Headers`, or a record of them (a list for repeated ones). */
export type RequestFields = Headers | Readonly<Record<string, string | readonly string[]>>;

/**
 * A runtime's own upgrade of a request: returns the response the handler
 * returns and sets `call.link`, or returns `null` when this runtime cannot
 * upgrade this request. `headers` are what the answer adds to the
 * handshake's own headers (the subprotocol, additional headers; `null` for
 * nothing).
 */
export type NativeUpgrader = (request: Request, headers: Headers | null, call: NativeUpgradeCall) => Response | null;

/** The options a session keeps (checked by the driver's constructor already). */
export interface NativeSessionOptions {
  maxLength: number;
  closeTimeout: number;
  outgoingHighWaterMark: number;
  sendQueuePolicy: SendQueuePolicy;
  /** Run by the session where the socket can ping. */
  heartbeat: HeartbeatOptions | undefined;
  /** Whether messages are sent compressed (where the runtime agreed permessage-deflate). */
  compress: boolean;
}

/** Set in the session's static block: what a session's {@linkcode Heartbeat} calls when due. */
let heartbeatDue: (session: NativeSession) => void;

/**
 * The empty queue every session starts with (early sends, drain waiters,
 * pings), shared and frozen: a session makes its own on first use, and a push
 * onto this one would throw rather than mix connections.
 */
// deno-lint-ignore no-explicit-any
const NONE: any[] = Object.freeze([]) as unknown as any[];

/** How often `bufferedAmount` is looked at where the runtime reports no drain. */
const DRAIN_POLL_MS = 10;

/** `NativeSession`'s flags: `send` found the socket's queue over outgoingHighWaterMark (`drain` is due). */
const FULL = 1;
/** Reading stopped: what the socket has to send is over outgoingHighWaterMark. */
const READ_PAUSED = 2;

/** The heartbeat pings sent (their payloads tell them apart). */
let heartbeatPings = 0;

/**
 * The parts of a session that most connections never use (a violation, the
 * close timer of a close we started, drain waiters and polls, pings sent by
 * the application), made on first use: an idle connection keeps one field
 * for them (bench/RESULTS.md, the sixth round's section on the adapter's
 * idle connections).
 */
class SessionExtra {
  /** A violation reported before `close`: its code is the close code reported. */
  failure: ProtocolError | null = null;
  closeTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  drainWaiters: Array<() => void> = NONE;
  drainPoll: ReturnType<typeof setTimeout> | undefined = undefined;
  pings: PendingPing[] = NONE;
}

/**
 * One server connection over a {@linkcode NativeLink}; its events are emitted
 * on the `Server` that owns it. Internal (not exported from the package).
 */
export class NativeSession implements NativeLinkEvents {
  readonly #owner: WebSocketDriver;
  readonly #link: NativeLink;
  readonly #options: NativeSessionOptions;
  #state: ReadyState = "connecting";
  /** Messages sent before the socket opened (it refuses them until then); shared and empty until used. */
  #early: Array<string | Uint8Array> = NONE;
  /** {@linkcode FULL}, {@linkcode READ_PAUSED}. */
  #flags = 0;
  /** The keepalive, on the process-wide heartbeat timer (as the driver's); null without one. */
  #heartbeat: Heartbeat<NativeSession> | null = null;
  /** What most connections never use (see {@linkcode SessionExtra}); `#more()` makes it. */
  #extra: SessionExtra | null = null;

  /** Binds `link`, whose events are emitted on `owner`. */
  constructor(owner: WebSocketDriver, link: NativeLink, options: NativeSessionOptions) {
    this.#owner = owner;
    this.#link = link;
    this.#options = options;
    link.bind(this);
  }

  /** The rare parts, made now if they were not. */
  #more(): SessionExtra {
    return this.#extra ??= new SessionExtra();
  }

  /** See {@linkcode NativeLinkEvents}. */
  linkOpened(): void {
    this.#open();
  }

  /** See {@linkcode NativeLinkEvents}. */
  linkMessage(data: string | Uint8Array): void {
    this.#message(data);
  }

  /** See {@linkcode NativeLinkEvents}. */
  linkPing(data: Uint8Array): void {
    this.#noteInput();
    this.#owner.emit("ping", data);
    this.#pushBack(); // the runtime queued its pong
  }

  /** See {@linkcode NativeLinkEvents}. */
  linkPong(data: Uint8Array): void {
    this.#noteInput();
    this.#pong(data);
    this.#owner.emit("pong", data);
  }

  /** See {@linkcode NativeLinkEvents}. */
  linkDrained(): void {
    this.#checkDrained();
  }

  /** See {@linkcode NativeLinkEvents}. */
  linkFailed(error: Error): void {
    if (this.#state === "closed") return;
    if (error instanceof ProtocolError) this.#more().failure = error;
    this.#owner.emit("error", error);
  }

  /** See {@linkcode NativeLinkEvents}. */
  linkClosed(code: number, reason: string): void {
    const failure = this.#extra?.failure ?? null;
    // A violation is reported with its own code, as the driver does, whatever the runtime says.
    if (failure !== null && code === CloseCode.ABNORMAL) this.#finish(failure.code, failure.message);
    else this.#finish(code, reason);
  }

  /** The runtime socket. */
  get socket(): unknown {
    return this.#link.socket;
  }

  /** The agreed extensions. */
  get extensions(): string {
    return this.#link.extensions;
  }

  /** The connection's state, as the session saw it. */
  get readyState(): ReadyState {
    return this.#state;
  }

  /** Bytes waiting to be sent. */
  get bufferedAmount(): number {
    let early = 0;
    for (const m of this.#early) early += byteLength(m);
    return this.#link.bufferedAmount + early;
  }

  #open(): void {
    if (this.#state !== "connecting") return;
    this.#state = "open";
    // What was sent before now goes first, as the driver does.
    const early = this.#early;
    this.#early = NONE;
    for (const data of early) this.#link.send(data, this.#options.compress);
    this.#startHeartbeat();
    sessionOpened(this.#owner);
  }

  #message(data: string | Uint8Array): void {
    if (this.#state === "closed") return;
    this.#noteInput();
    const max = this.#options.maxLength;
    if (byteLength(data) > max) {
      // The runtime buffered it already; the limit still closes with 1009.
      const error = new ProtocolError(
        "WSD_ERR_MESSAGE_TOO_BIG",
        CloseCode.MESSAGE_TOO_BIG,
        `Message too big: more than the limit of ${max} bytes`,
      );
      this.#more().failure = error;
      this.#owner.emit("error", error);
      if (this.#state === "open") this.#startClose(CloseCode.MESSAGE_TOO_BIG, "Message too big");
      return;
    }
    // Nothing after a violation.
    if (this.#extra !== null && this.#extra.failure !== null) return;
    sessionMessage(this.#owner, data);
    this.#pushBack();
  }

  /**
   * After input was handled: stops reading while the socket's queue is over
   * `outgoingHighWaterMark`, so that a peer that sends without reading (pings,
   * or messages that are echoed) is slowed down by TCP instead of growing our
   * memory; `#checkDrained` reads on. Unlike the driver's rule (answers only),
   * the whole queue counts: the runtime's own socket does not say which bytes
   * answer the peer, and no peer of ours waits on this one's reading.
   */
  #pushBack(): void {
    const link = this.#link;
    if ((this.#flags & READ_PAUSED) !== 0 || link.pause === undefined || this.#state === "closed") return;
    if (link.bufferedAmount <= this.#options.outgoingHighWaterMark) return;
    this.#flags |= READ_PAUSED;
    link.pause();
    if (!link.reportsDrain) this.#pollDrain();
  }

  /**
   * Sends a message (text for a string); `false` when it was not sent
   * (closing, closed, policy, dropped). Bytes `handedOver` (the caller's, sent
   * with `transfer`) are detached once sent: the runtime's socket copied them
   * or keeps their memory itself.
   */
  send(data: string | Uint8Array, handedOver = false): boolean {
    if (this.#state === "closing" || this.#state === "closed") return false;
    if (this.#state === "connecting") {
      if (this.#early === NONE) this.#early = [];
      this.#early.push(handedOver ? takeOrCopy(data as Uint8Array) : data);
      return true;
    }
    if (!this.#admit()) return false;
    const sent = this.#link.send(data, this.#options.compress);
    if (sent && handedOver) detachWhole(data as Uint8Array);
    if ((this.#flags & FULL) === 0 && this.#link.bufferedAmount > this.#options.outgoingHighWaterMark) {
      this.#flags |= FULL;
      if (!this.#link.reportsDrain) this.#pollDrain();
    }
    return sent;
  }

  /** `sendQueuePolicy`, while `bufferedAmount` is over `outgoingHighWaterMark`. */
  #admit(): boolean {
    const { sendQueuePolicy, outgoingHighWaterMark } = this.#options;
    if (sendQueuePolicy === "buffer" || this.bufferedAmount <= outgoingHighWaterMark) return true;
    if (overQueuePolicy(sendQueuePolicy, this.bufferedAmount, outgoingHighWaterMark) === "close") {
      this.closeConnection(CloseCode.POLICY_VIOLATION, "Send queue full");
    }
    return false;
  }

  #pollDrain(): void {
    const extra = this.#more();
    if (extra.drainPoll !== undefined) return;
    extra.drainPoll = setTimeout(() => {
      extra.drainPoll = undefined;
      this.#checkDrained();
      if (((this.#flags & FULL) !== 0 || extra.drainWaiters.length !== 0) && this.#state !== "closed") {
        this.#pollDrain();
      }
    }, DRAIN_POLL_MS);
  }

  #checkDrained(): void {
    if (this.#link.bufferedAmount > this.#options.outgoingHighWaterMark && this.#state !== "closed") return;
    if ((this.#flags & READ_PAUSED) !== 0) {
      this.#flags &= ~READ_PAUSED;
      if (this.#state !== "closed") this.#link.resume?.();
    }
    this.#resolveDrainWaiters();
    if ((this.#flags & FULL) !== 0) {
      this.#flags &= ~FULL;
      if (this.#state !== "closed") this.#owner.emit("drain");
    }
  }

  #resolveDrainWaiters(): void {
    const extra = this.#extra;
    if (extra === null || extra.drainWaiters === NONE) return;
    const waiters = extra.drainWaiters;
    extra.drainWaiters = NONE;
    for (const resolve of waiters) resolve();
  }

  /** Resolves once `bufferedAmount` is at most `outgoingHighWaterMark`, or the connection closed. */
  drained(): Promise<void> {
    if (this.bufferedAmount <= this.#options.outgoingHighWaterMark || this.#state === "closed") {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const extra = this.#more();
      if (extra.drainWaiters === NONE) extra.drainWaiters = [];
      extra.drainWaiters.push(resolve);
      if (!this.#link.reportsDrain) this.#pollDrain();
    });
  }

  #notSupported(what: string): DOMException {
    return new DOMException(
      `Cannot ${what}: ${this.#link.name} cannot send pings; serve the handler with serve() for pings`,
      "NotSupportedError",
    );
  }

  /** Sends a ping; `false` once closing. */
  sendPing(data: Uint8Array, onPong?: () => void): boolean {
    if (!this.#link.canPing) throw this.#notSupported("send ping");
    if (data.length > MAX_CONTROL_PAYLOAD) {
      throw new RangeError(`Cannot send ping: the payload has ${data.length} bytes, at most 125 are allowed`);
    }
    if (this.#state === "closing" || this.#state === "closed") return false;
    const extra = this.#more();
    if (extra.pings === NONE) extra.pings = [];
    extra.pings.push({ payload: data, onPong });
    // Before open, the runtime socket is not there yet: the ping goes once it is.
    if (this.#state === "open") this.#link.ping(data);
    else this.#owner.once("open", () => this.#link.ping(data));
    return true;
  }

  /** Sends a ping and resolves with the round-trip time in ms. */
  ping(data: Uint8Array): Promise<number> {
    if (!this.#link.canPing) return Promise.reject(this.#notSupported("ping"));
    const start = performance.now();
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    if (!this.sendPing(data, () => resolve(performance.now() - start))) {
      return Promise.reject(new Error("Cannot get the pong: the connection is closing"));
    }
    const pings = this.#extra!.pings; // (sendPing made it)
    pings[pings.length - 1].onLost = () => reject(new Error("Cannot get the pong: the connection closed"));
    return promise;
  }

  #pong(payload: Uint8Array): void {
    if (this.#extra !== null) callPongs(this.#extra.pings, payload, rethrowLater);
  }

  /** Starts the closing handshake; `false` once closing. */
  closeConnection(code: number, reason: string): boolean {
    if (this.#state === "closing" || this.#state === "closed") return false;
    this.#startClose(code, reason);
    return true;
  }

  #startClose(code: number, reason: string): void {
    this.#state = "closing";
    this.#early = NONE;
    this.#link.close(code, reason);
    // Bun reports the close at once, inside close().
    if ((this.#state as ReadyState) === "closed") return;
    // The runtime may wait for the peer's answer without end: our own timer
    // reports 1006 after closeTimeout and drops what the runtime lets us drop.
    const extra = this.#more();
    extra.closeTimer ??= setTimeout(() => {
      extra.closeTimer = undefined;
      this.#link.terminate();
      this.#finish(CloseCode.ABNORMAL, "Close timeout");
    }, this.#options.closeTimeout);
  }

  /** Drops the connection (where the runtime can) and reports 1006 at once. */
  terminate(): void {
    if (this.#state === "closed") return;
    this.#link.terminate();
    // The link may have reported the close already (synchronously).
    this.#finish(CloseCode.ABNORMAL, "Terminated");
  }

  #noteInput(): void {
    const heartbeat = this.#heartbeat;
    if (heartbeat !== null) heartbeat.inputSeen = true;
  }

  #startHeartbeat(): void {
    const beat = this.#options.heartbeat;
    if (beat === undefined || !this.#link.canPing) return;
    this.#heartbeat = new Heartbeat<NativeSession>(this, beat.interval, beat.timeout, heartbeatDue);
    this.#heartbeat.start();
  }

  /** The heartbeat is due: it says whether to ping, or to give up on a silent peer. */
  #heartbeatDue(): void {
    const heartbeat = this.#heartbeat!;
    if (this.#state !== "open" && this.#state !== "closing") return;
    const action = heartbeat.check();
    if (action === HEARTBEAT_PING) {
      if (this.#state === "open") this.#link.ping(utf8Encoder.encode(`wsd-heartbeat-${++heartbeatPings}`));
    } else if (action === HEARTBEAT_TIMED_OUT) {
      this.#owner.emit("error", heartbeatTimedOut(heartbeat.timeout));
      this.terminate();
    }
  }

  static {
    heartbeatDue = (session) => session.#heartbeatDue();
  }

  #finish(code: number, reason: string): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#heartbeat?.stop();
    this.#early = NONE;
    this.#flags &= ~FULL;
    // Most connections have no timer, drain waiter or ping: no calls into the runtime for nothing.
    const extra = this.#extra;
    if (extra !== null) {
      if (extra.closeTimer !== undefined) clearTimeout(extra.closeTimer);
      if (extra.drainPoll !== undefined) clearTimeout(extra.drainPoll);
      extra.closeTimer = extra.drainPoll = undefined;
      this.#resolveDrainWaiters();
      const lost = extra.pings;
      extra.pings = NONE;
      for (const ping of lost) ping.onLost?.();
    }
    sessionClosed(this.#owner, code, reason);
  }
}

/** The UTF-8 length of a string, or a byte array's length. */
export function byteLength(data: string | Uint8Array): number {
  if (typeof data !== "string") return data.length;
  let n = data.length;
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c >= 0x80) n += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  return n;
}

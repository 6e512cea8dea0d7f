/**
 * Topics: publish one message to every connection subscribed to a name, in
 * this process and, through a {@linkcode Backplane}, in every other one.
 *
 * ```text
 *   publish(topic, data)
 *     ├─ encode the frame once ──▶ for each local subscriber (but `except`):
 *     │                              over maxBufferedAmount? → slowSubscriberPolicy (skip / close 1008)
 *     │                              else queue the same bytes (or send() where frames cannot be shared)
 *     └─ backplane.publish(topic, [version, opcode, origin, payload])
 *   backplane → sink.message(topic, bytes) → not our own origin → the same local fan-out
 * ```
 *
 * Server frames are unmasked (RFC 6455 §5.1), so one encoding fits every
 * server connection that runs this library's framing; connections on the
 * runtime's own socket (Deno's `serve`) and client connections (which mask
 * each frame) get `send()` instead.
 *
 * @module
 */

import { CloseCode, Opcode } from "../protocol/constants.ts";
import { FIN, headerSize, writeHeader } from "../protocol/frame.ts";
import { decodeUtf8, utf8Encoder } from "../protocol/utf8.ts";
import {
  checkOptions,
  DEFAULT_OUTGOING_HIGH_WATER_MARK,
  sendEncodedFrame,
  toBytes,
  WebSocketDriver,
} from "../driver/driver.ts";
import type { BinaryData } from "../driver/driver.ts";
import { EventEmitter } from "../driver/emitter.ts";
import { onNativeSocket, Server } from "../server/server.ts";
import { BackplaneError } from "./backplane.ts";
import type { Backplane } from "./backplane.ts";

/**
 * What a hub does with a subscriber whose `bufferedAmount` is over
 * `maxBufferedAmount` when a message is published to one of its topics:
 * `"skip"` does not queue the message for it (it gets the next ones once it
 * caught up), `"close"` closes it with 1008 (policy violation) and removes it
 * from all its topics.
 */
export type SlowSubscriberPolicy = "skip" | "close";

/** Options of {@linkcode createHub}. */
export interface HubOptions {
  /**
   * How this hub reaches hubs in other processes: see {@linkcode Backplane}.
   * Without one, messages reach this hub's subscribers only.
   *
   * @default {undefined}
   */
  backplane?: Backplane;
  /**
   * The per-subscriber budget, in bytes: a subscriber whose `bufferedAmount`
   * (sent data its socket has not taken yet) is over this when a message is
   * published is slow, and `slowSubscriberPolicy` applies. A subscriber never
   * holds more than this plus one message of a hub's publishes.
   *
   * @default {1048576}
   */
  maxBufferedAmount?: number;
  /**
   * What happens to a slow subscriber; see {@linkcode SlowSubscriberPolicy}.
   *
   * @default {"skip"}
   */
  slowSubscriberPolicy?: SlowSubscriberPolicy;
}

const HUB_OPTION_KEYS = ["backplane", "maxBufferedAmount", "slowSubscriberPolicy"];

/** Options of {@linkcode Hub.publish}. */
export interface PublishOptions {
  /**
   * A connection of this process that does not get the message (typically
   * its sender).
   *
   * @default {undefined}
   */
  except?: WebSocketDriver;
}

const PUBLISH_OPTION_KEYS = ["except"];

/** The events of a {@linkcode Hub} and their arguments. */
export type HubEvents = {
  /**
   * The backplane is in trouble (a {@linkcode BackplaneError}: a lost
   * connection, a failed publish, a malformed message); local delivery goes
   * on. Without a listener, the error is printed with `console.error`.
   */
  error: [error: Error];
  /**
   * A message published to `topic` was not queued for `subscriber` because it
   * is too far behind: over `maxBufferedAmount` (then `slowSubscriberPolicy`
   * applied: skipped, or closed with 1008), or over its own
   * `outgoingHighWaterMark` with a `sendQueuePolicy` that refuses.
   */
  slow: [subscriber: WebSocketDriver, topic: string];
};

/** The backplane message format: version, opcode, origin, payload. */
const ENVELOPE_VERSION = 1;
const ORIGIN_BYTES = 8;
const ENVELOPE_HEADER = 2 + ORIGIN_BYTES;

/** Whether a subscriber takes shared frames: not known until it is open. */
const RAW_UNKNOWN = -1;
const RAW_NO = 0;
const RAW_YES = 1;

interface Subscriber {
  readonly ws: WebSocketDriver;
  readonly topics: Set<string>;
  readonly onClose: () => void;
  /** RAW_YES: takes the shared frame; RAW_NO: gets send(); RAW_UNKNOWN: decide once open. */
  raw: number;
}

/** One published message, encoded once, in the forms its subscribers need. */
interface Outgoing {
  readonly binary: boolean;
  readonly payload: Uint8Array;
  /** The text, for `send()`; decoded when first needed. */
  text: string | undefined;
  /** The frame, encoded when first needed. */
  frame: Uint8Array | undefined;
}

/**
 * Topics over WebSocket connections: `subscribe(ws, topic)`,
 * `publish(topic, data)`. Text stays text and binary stays binary; each
 * message is encoded once and the same bytes are queued for every
 * subscriber; a slow subscriber is skipped or closed, never waited for; a
 * closed connection leaves its topics by itself. With a backplane, what is
 * published here reaches the subscribers of every other hub on it once, and
 * theirs reach these. Make one with {@linkcode createHub}.
 *
 * @example A room
 * ```ts
 * import { createHub, makeServer, serve } from "@x/wsd";
 *
 * const hub = createHub();
 * const server = serve((request) => {
 *   const ws = makeServer(request);
 *   ws.on("open", () => hub.subscribe(ws, "room:1"));
 *   ws.on("message", (message) => hub.publish("room:1", message, { except: ws }));
 *   return ws.startConnection();
 * }, { port: 0 }); // port 0: any free port
 * await server.ready;
 * await server.close();
 * await hub.close();
 * ```
 */
export class Hub extends EventEmitter<HubEvents> {
  readonly #topics = new Map<string, Set<Subscriber>>();
  readonly #subscribers = new Map<WebSocketDriver, Subscriber>();
  readonly #backplane: Backplane | null;
  readonly #maxBufferedAmount: number;
  readonly #closeSlow: boolean;
  /** Marks this hub's messages on the backplane, so that it drops its own echoes. */
  readonly #origin = crypto.getRandomValues(new Uint8Array(ORIGIN_BYTES));
  #closing: Promise<void> | null = null;

  /**
   * Creates a hub; with a backplane, starts it.
   *
   * @throws {TypeError} for unknown options or a backplane that is not one.
   * @throws {RangeError} for a `maxBufferedAmount` that is not a whole number of bytes.
   */
  constructor(options?: HubOptions) {
    super();
    checkOptions(options, HUB_OPTION_KEYS, "hub options");
    const max = options?.maxBufferedAmount ?? DEFAULT_OUTGOING_HIGH_WATER_MARK;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new RangeError(`Invalid maxBufferedAmount ${max}: expected a whole number of bytes, 0 or more`);
    }
    this.#maxBufferedAmount = max;
    const policy = options?.slowSubscriberPolicy ?? "skip";
    if (policy !== "skip" && policy !== "close") {
      throw new TypeError(`Invalid slowSubscriberPolicy ${JSON.stringify(policy)}: use "skip" or "close"`);
    }
    this.#closeSlow = policy === "close";
    const backplane = options?.backplane ?? null;
    if (backplane !== null) {
      for (const method of ["start", "publish", "subscribe", "unsubscribe", "close"] as const) {
        if (typeof (backplane as Partial<Backplane>)[method] !== "function") {
          throw new TypeError(`Invalid backplane: it has no ${method}() method`);
        }
      }
    }
    this.#backplane = backplane;
    backplane?.start({
      message: (topic, message) => this.#received(topic, message),
      error: (error) => this.#report(error),
    });
  }

  /**
   * Subscribes `ws` to `topic`. Messages published from now on reach it; a
   * connection that closes leaves all its topics by itself.
   *
   * @returns `true` if it was not subscribed yet; `false` if it was, or if
   * the connection is closed already (a closed connection is never added).
   * @throws {TypeError} for a `ws` that is not a connection, or a topic that
   * is not a non-empty string.
   * @throws {DOMException} `InvalidStateError` once the hub is closed.
   */
  subscribe(ws: WebSocketDriver, topic: string): boolean {
    checkConnection(ws, "subscribe");
    checkTopic(topic, "subscribe");
    this.#checkOpen("subscribe");
    if (ws.readyState === "closed") return false;
    let subscriber = this.#subscribers.get(ws);
    if (subscriber === undefined) {
      const onClose = () => this.unsubscribeAll(ws);
      subscriber = { ws, topics: new Set(), onClose, raw: RAW_UNKNOWN };
      this.#subscribers.set(ws, subscriber);
      ws.on("close", onClose);
    } else if (subscriber.topics.has(topic)) {
      return false;
    }
    subscriber.topics.add(topic);
    let set = this.#topics.get(topic);
    if (set === undefined) {
      set = new Set();
      this.#topics.set(topic, set);
      this.#backplaneCall("subscribe", topic);
    }
    set.add(subscriber);
    return true;
  }

  /**
   * Unsubscribes `ws` from `topic`.
   *
   * @returns `true` if it was subscribed.
   * @throws {TypeError} for a `ws` that is not a connection, or a bad topic.
   */
  unsubscribe(ws: WebSocketDriver, topic: string): boolean {
    checkConnection(ws, "unsubscribe");
    checkTopic(topic, "unsubscribe");
    const subscriber = this.#subscribers.get(ws);
    if (subscriber === undefined || !subscriber.topics.delete(topic)) return false;
    this.#leave(subscriber, topic);
    if (subscriber.topics.size === 0) this.#forget(subscriber);
    return true;
  }

  /**
   * Unsubscribes `ws` from every topic (what happens by itself when it
   * closes).
   *
   * @returns How many topics it left.
   */
  unsubscribeAll(ws: WebSocketDriver): number {
    const subscriber = this.#subscribers.get(ws);
    if (subscriber === undefined) return 0;
    const count = subscriber.topics.size;
    for (const topic of subscriber.topics) this.#leave(subscriber, topic);
    subscriber.topics.clear();
    this.#forget(subscriber);
    return count;
  }

  /** Whether `ws` is subscribed to `topic`. */
  isSubscribed(ws: WebSocketDriver, topic: string): boolean {
    return this.#subscribers.get(ws)?.topics.has(topic) ?? false;
  }

  /** The topics `ws` is subscribed to, in the order it subscribed. */
  subscriptions(ws: WebSocketDriver): string[] {
    return [...(this.#subscribers.get(ws)?.topics ?? [])];
  }

  /** How many connections of this process are subscribed to `topic`. */
  subscribers(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /** The topics that have subscribers in this process. */
  topics(): string[] {
    return [...this.#topics.keys()];
  }

  /**
   * Publishes `data` to `topic`: a string as a text message, bytes as a
   * binary one (copied at once). The subscribers of this process get it now
   * (queued, in publish order), except `options.except` and the slow ones
   * (see {@linkcode HubOptions.slowSubscriberPolicy}); the backplane carries
   * it to every other process's subscribers.
   *
   * @returns How many connections of this process it was queued for.
   * @throws {TypeError} for a bad topic, data that is neither a string nor
   * bytes, or unknown options.
   * @throws {DOMException} `InvalidStateError` once the hub is closed.
   */
  publish(topic: string, data: string | BinaryData, options?: PublishOptions): number {
    checkTopic(topic, "publish");
    checkOptions(options, PUBLISH_OPTION_KEYS, "publish options");
    const except = options?.except;
    if (except !== undefined) checkConnection(except, "publish (except)");
    this.#checkOpen("publish");
    const binary = typeof data !== "string";
    const payload = binary ? toBytes(data, "Cannot publish") : utf8Encoder.encode(data);
    const outgoing: Outgoing = { binary, payload, text: binary ? undefined : data, frame: undefined };
    const delivered = this.#fanOut(topic, outgoing, except);
    const backplane = this.#backplane;
    if (backplane !== null) {
      const message = new Uint8Array(ENVELOPE_HEADER + payload.length);
      message[0] = ENVELOPE_VERSION;
      message[1] = binary ? Opcode.BINARY : Opcode.TEXT;
      message.set(this.#origin, 2);
      message.set(payload, ENVELOPE_HEADER);
      try {
        backplane.publish(topic, message);
      } catch (error) {
        this.#report(new BackplaneError(`Cannot publish to the backplane: ${messageOf(error)}`, error));
      }
    }
    return delivered;
  }

  /**
   * Closes the hub: every connection leaves every topic (connections stay
   * open), and the backplane is closed. Resolves once it is; later calls
   * return the same promise.
   */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    for (const subscriber of this.#subscribers.values()) subscriber.ws.off("close", subscriber.onClose);
    this.#subscribers.clear();
    this.#topics.clear();
    const backplane = this.#backplane;
    this.#closing = backplane === null ? Promise.resolve() : (async () => {
      try {
        await backplane.close();
      } catch (error) {
        this.#report(new BackplaneError(`Cannot close the backplane: ${messageOf(error)}`, error));
      }
    })();
    return this.#closing;
  }

  /** Closes the hub (`await using hub = createHub()`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ───────────────────────────── internals ─────────────────────────────

  #checkOpen(what: string): void {
    if (this.#closing !== null) {
      throw new DOMException(`Cannot ${what}: the hub is closed`, "InvalidStateError");
    }
  }

  #leave(subscriber: Subscriber, topic: string): void {
    const set = this.#topics.get(topic);
    if (set === undefined) return;
    set.delete(subscriber);
    if (set.size === 0) {
      this.#topics.delete(topic);
      this.#backplaneCall("unsubscribe", topic);
    }
  }

  #forget(subscriber: Subscriber): void {
    this.#subscribers.delete(subscriber.ws);
    subscriber.ws.off("close", subscriber.onClose);
  }

  #backplaneCall(method: "subscribe" | "unsubscribe", topic: string): void {
    const backplane = this.#backplane;
    if (backplane === null || this.#closing !== null) return;
    try {
      backplane[method](topic);
    } catch (error) {
      this.#report(new BackplaneError(`Cannot ${method} to ${JSON.stringify(topic)}: ${messageOf(error)}`, error));
    }
  }

  /** Queues `outgoing` for every local subscriber of `topic` but `except`; returns for how many. */
  #fanOut(topic: string, outgoing: Outgoing, except: WebSocketDriver | undefined): number {
    const set = this.#topics.get(topic);
    if (set === undefined) return 0;
    let delivered = 0;
    // A Set may lose members while it is iterated (a subscriber closed by a
    // listener): those not visited yet are skipped, the others are unaffected.
    for (const subscriber of set) {
      if (subscriber.ws !== except && this.#offer(subscriber, topic, outgoing)) delivered++;
    }
    return delivered;
  }

  /** Queues one message for one subscriber, within its budget; whether it was queued. */
  #offer(subscriber: Subscriber, topic: string, outgoing: Outgoing): boolean {
    const ws = subscriber.ws;
    const state = ws.readyState;
    if (state === "closing" || state === "closed") return false;
    if (ws.bufferedAmount > this.#maxBufferedAmount) {
      this.#slow(subscriber, topic);
      return false;
    }
    let queued: boolean;
    try {
      if (state === "open" && subscriber.raw === RAW_UNKNOWN) subscriber.raw = takesSharedFrames(ws) ? RAW_YES : RAW_NO;
      if (state === "open" && subscriber.raw === RAW_YES) {
        queued = sendEncodedFrame(ws, outgoing.frame ??= encodeFrame(outgoing));
      } else if (outgoing.binary) {
        queued = ws.sendBinary(outgoing.payload);
      } else {
        queued = ws.sendText(outgoing.text ??= decodeUtf8(outgoing.payload)!);
      }
    } catch (error) {
      // The connection started closing meanwhile, or its sendQueuePolicy
      // "throw" refused the message: not queued, and never an exception here.
      if (!(error instanceof RangeError)) return false;
      queued = false;
    }
    // Refused by the connection's own sendQueuePolicy ("drop", "close", "throw").
    if (!queued) this.emit("slow", ws, topic);
    return queued;
  }

  #slow(subscriber: Subscriber, topic: string): void {
    const ws = subscriber.ws;
    if (this.#closeSlow) {
      this.unsubscribeAll(ws);
      try {
        ws.closeConnection(CloseCode.POLICY_VIOLATION, "Too slow: over the topic send budget");
      } catch {
        // Closing already: nothing more to do.
      }
    }
    this.emit("slow", ws, topic);
  }

  /** A message from the backplane: another hub's, unless it carries our origin. */
  #received(topic: string, message: Uint8Array): void {
    if (this.#closing !== null) return;
    if (!(message instanceof Uint8Array) || message.length < ENVELOPE_HEADER || message[0] !== ENVELOPE_VERSION) {
      this.#report(new BackplaneError(`Ignored a message on ${JSON.stringify(topic)} that no hub made`));
      return;
    }
    const opcode = message[1];
    if (opcode !== Opcode.TEXT && opcode !== Opcode.BINARY) {
      this.#report(new BackplaneError(`Ignored a message on ${JSON.stringify(topic)} with opcode ${opcode}`));
      return;
    }
    const origin = this.#origin;
    let own = true;
    for (let i = 0; i < ORIGIN_BYTES; i++) {
      if (message[2 + i] !== origin[i]) {
        own = false;
        break;
      }
    }
    if (own || !this.#topics.has(topic)) return;
    const payload = message.subarray(ENVELOPE_HEADER);
    let text: string | undefined;
    if (opcode === Opcode.TEXT) {
      // Never forward invalid UTF-8 as text: every client would fail with 1007.
      const decoded = decodeUtf8(payload);
      if (decoded === null) {
        this.#report(new BackplaneError(`Ignored a text message on ${JSON.stringify(topic)} that is not UTF-8`));
        return;
      }
      text = decoded;
    }
    this.#fanOut(topic, { binary: opcode === Opcode.BINARY, payload, text, frame: undefined }, undefined);
  }

  #report(error: Error): void {
    if (this.listenerCount("error") === 0) console.error(error);
    else this.emit("error", error);
  }
}

/**
 * Makes a {@linkcode Hub}: topics over this process's connections, and with
 * a backplane over those of every process on it.
 *
 * @example A room
 * ```ts
 * import { createHub, makeServer } from "@x/wsd";
 *
 * const hub = createHub();                                  // this process only
 * // const hub = createHub({ backplane: redisBackplane({ url: "redis://127.0.0.1:6379" }) });
 * // const hub = createHub({ backplane: broadcastChannelBackplane("chat") }); // Deno Deploy
 * const handler = (request: Request): Response => {
 *   const ws = makeServer(request);
 *   ws.on("open", () => hub.subscribe(ws, "room:1"));
 *   ws.on("message", (message) => hub.publish("room:1", message, { except: ws }));
 *   return ws.startConnection();
 * };
 * ```
 *
 * @example Options
 * ```ts
 * import { createHub } from "@x/wsd";
 *
 * const hub = createHub({ maxBufferedAmount: 256 * 1024, slowSubscriberPolicy: "close" });
 * console.log(hub.publish("news", "nobody listens yet")); // 0
 * await hub.close();
 * ```
 */
export function createHub(options?: HubOptions): Hub {
  return new Hub(options);
}

/**
 * Whether a connection takes a frame encoded for many: a server on this
 * library's framing. Clients mask each frame; the runtime's own socket and
 * classes that override sending get `send()`.
 */
function takesSharedFrames(ws: WebSocketDriver): boolean {
  // A connection with permessage-deflate compresses its own messages.
  if (ws.role !== "server" || ws.extensions !== "") return false;
  const proto = Object.getPrototypeOf(ws);
  if (proto !== Server.prototype && proto !== WebSocketDriver.prototype) return false;
  return ws.socket !== null && !onNativeSocket(ws);
}

/** One unmasked, unfragmented data frame (RFC 6455 §5.2) of `outgoing`. */
function encodeFrame(outgoing: Outgoing): Uint8Array {
  const payload = outgoing.payload;
  const header = headerSize(payload.length, false);
  const frame = new Uint8Array(header + payload.length);
  writeHeader(frame, 0, FIN | (outgoing.binary ? Opcode.BINARY : Opcode.TEXT), payload.length, null);
  frame.set(payload, header);
  return frame;
}

function checkConnection(ws: unknown, what: string): void {
  if (!(ws instanceof WebSocketDriver)) {
    throw new TypeError(`Cannot ${what}: expected a connection (makeServer, makeClient, WebSocketDriver)`);
  }
}

function checkTopic(topic: unknown, what: string): void {
  if (typeof topic !== "string" || topic.length === 0) {
    throw new TypeError(`Cannot ${what}: the topic must be a non-empty string, got ${JSON.stringify(topic)}`);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

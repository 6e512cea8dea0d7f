/**
 * The options of a connection and the checks of what callers pass in: the
 * option keys and defaults, {@linkcode driverSettings} (the constructor's
 * checks, in one place), and the argument readers of `send*` and
 * `closeConnection`. Caller mistakes throw TypeError/RangeError with a
 * "Cannot …"/"Invalid …" message.
 *
 * @module
 */

import { CloseCode, DEFAULT_MAX_LENGTH, MAX_CLOSE_REASON_BYTES, MAX_CONTROL_PAYLOAD } from "../protocol/constants.ts";
import { isValidCloseCode } from "../protocol/close.ts";
import { utf8Encoder } from "../protocol/utf8.ts";

/** How long the closing handshake may take before the transport is torn down. */
export const DEFAULT_CLOSE_TIMEOUT = 5_000;

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
  /**
   * `true` hands the bytes' memory over to the connection instead of having
   * them copied: once the send is accepted (it returned `true`) the caller's
   * `ArrayBuffer` is detached (every view of it reads as empty), so what is
   * sent cannot change under the connection, and a large message (64 KiB or
   * more, not compressed) is written from that memory, which once written
   * receives a later message of the same length. Echoing or relaying large
   * messages this way copies none of their bytes and reuses their memory. Taken only from bytes that are a
   * whole `ArrayBuffer` or a view of all of one (a received binary message
   * is), not shared and not resizable; other bytes (a view into part of a
   * larger buffer, such as a Node `Buffer` from its pool) are copied as
   * without it and left as they are. A string is always copied.
   *
   * @default {false}
   *
   * @example Large messages echoed without a copy
   * ```ts
   * import { WebSocketDriver } from "@x/wsd";
   *
   * const ws = new WebSocketDriver("server");
   * ws.on("message", (message) => {
   *   if (typeof message !== "string") ws.send(message, { transfer: true });
   * });
   * const bytes = new Uint8Array(1 << 20);
   * ws.send(bytes, { transfer: true }); // queued until the connection opens
   * if (bytes.length !== 0) throw new Error("handed over: detached");
   * ```
   */
  transfer?: boolean;
}

const SEND_OPTION_KEYS: readonly string[] = ["compress", "transfer"];

/**
 * Reads {@linkcode SendOptions}: whether the message may be compressed (and
 * checks `transfer`, which the caller reads itself).
 *
 * @throws {TypeError} for an unknown key, or a `compress` or `transfer` that is not a boolean.
 */
export function sendCompress(options: SendOptions): boolean {
  // Called for every message sent with options: `for…in` over an object
  // literal walks its shape's cached keys, where checkOptions' Object.keys
  // would make an array per message. An inherited key is no error.
  if (options === null || typeof options !== "object") checkOptions(options, SEND_OPTION_KEYS, "send options");
  for (const key in options) {
    if (key !== "compress" && key !== "transfer" && Object.hasOwn(options, key)) {
      checkOptions(options, SEND_OPTION_KEYS, "send options");
    }
  }
  const { compress, transfer } = options;
  if (compress !== undefined && typeof compress !== "boolean") {
    throw new TypeError(`Cannot send: compress must be true or false, got ${typeName(compress)}`);
  }
  if (transfer !== undefined && typeof transfer !== "boolean") {
    throw new TypeError(`Cannot send: transfer must be true or false, got ${typeName(transfer)}`);
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

/**
 * What `policy` makes of a send while `buffered` bytes wait over
 * `outgoingHighWaterMark` (the caller checked that first, on its fast path):
 * `false` to drop it, `"close"` to close with 1008 and drop it; `"throw"`
 * throws the RangeError here. The driver and the runtimes' own sockets share it.
 */
export function overQueuePolicy(
  policy: SendQueuePolicy,
  buffered: number,
  outgoingHighWaterMark: number,
): false | "close" {
  switch (policy) {
    case "close":
      return "close";
    case "throw":
      throw new RangeError(
        `Cannot send: ${buffered} bytes are waiting, over outgoingHighWaterMark ` +
          `(${outgoingHighWaterMark}); await drained() before sending more`,
      );
    default:
      return false;
  }
}

/** The default of {@linkcode DriverOptions.outgoingHighWaterMark}: 1 MiB. */
export const DEFAULT_OUTGOING_HIGH_WATER_MARK = 1 << 20;

/** The default of {@linkcode DriverOptions.incomingHighWaterMark}: 1 MiB. */
export const DEFAULT_INCOMING_HIGH_WATER_MARK = 1 << 20;

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

/** {@linkcode DriverOptions} checked, with their defaults: what a connection keeps of them. */
export interface DriverSettings {
  maxLength: number;
  closeTimeout: number;
  maskKey: (() => Uint8Array) | undefined;
  /** The heartbeat's interval and timeout in ms; 0 when there is none. */
  heartbeatInterval: number;
  heartbeatTimeout: number;
  incomingHighWaterMark: number;
  outgoingHighWaterMark: number;
  sendQueuePolicy: SendQueuePolicy;
  rethrowListenerErrors: boolean;
}

/**
 * Checks a connection's options and fills in their defaults.
 *
 * @throws {TypeError} for an unknown key or a value of the wrong type.
 * @throws {RangeError} for a number out of range.
 */
export function driverSettings(options: DriverOptions | undefined): DriverSettings {
  if (options === undefined) return defaultSettings ??= Object.freeze(checkSettings(undefined));
  const shared = sharedSettings.get(options);
  if (shared !== undefined) return shared;
  const settings = checkSettings(options);
  if (sharedSettings.has(options)) sharedSettings.set(options, Object.freeze(settings));
  return settings;
}

/**
 * Options objects the library made and never changes (the options of every
 * server made without any, serve()'s heartbeat), and their settings once
 * made: one settings object for all the connections made with them.
 */
const sharedSettings = new WeakMap<DriverOptions, DriverSettings | undefined>();
let defaultSettings: DriverSettings | undefined;

/**
 * Marks `options`, which the caller made and will not change, as shared by
 * many connections: they share its settings too. Returns it, frozen.
 */
export function sharedDriverOptions<T extends DriverOptions>(options: T): T {
  sharedSettings.set(options, undefined);
  return Object.freeze(options);
}

function checkSettings(options: DriverOptions | undefined): DriverSettings {
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
  let heartbeatInterval = 0, heartbeatTimeout = 0;
  const heartbeat = options?.heartbeat;
  if (heartbeat !== undefined && heartbeat !== false) {
    const { interval, timeout } = heartbeat ?? {};
    if (!(Number.isFinite(interval) && interval > 0 && Number.isFinite(timeout) && timeout > 0)) {
      throw new RangeError("Invalid heartbeat: expected { interval, timeout } in milliseconds, both more than 0");
    }
    heartbeatInterval = interval;
    heartbeatTimeout = timeout;
  }
  const incomingHighWaterMark = options?.incomingHighWaterMark ?? DEFAULT_INCOMING_HIGH_WATER_MARK;
  if (!Number.isSafeInteger(incomingHighWaterMark) || incomingHighWaterMark < 0) {
    throw new RangeError(`Invalid incomingHighWaterMark ${incomingHighWaterMark}: expected a whole number of bytes`);
  }
  const outgoingHighWaterMark = options?.outgoingHighWaterMark ?? DEFAULT_OUTGOING_HIGH_WATER_MARK;
  if (!Number.isSafeInteger(outgoingHighWaterMark) || outgoingHighWaterMark < 0) {
    throw new RangeError(`Invalid outgoingHighWaterMark ${outgoingHighWaterMark}: expected a whole number of bytes`);
  }
  const sendQueuePolicy = options?.sendQueuePolicy ?? "buffer";
  if (!["buffer", "drop", "close", "throw"].includes(sendQueuePolicy)) {
    throw new TypeError(
      `Invalid sendQueuePolicy ${JSON.stringify(sendQueuePolicy)}: use "buffer", "drop", "close" or "throw"`,
    );
  }
  return {
    maxLength,
    closeTimeout,
    maskKey: options?.maskKey,
    heartbeatInterval,
    heartbeatTimeout,
    incomingHighWaterMark,
    outgoingHighWaterMark,
    sendQueuePolicy,
    rethrowListenerErrors: options?.rethrowListenerErrors === true,
  };
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

/**
 * Reads `sendPing`'s arguments: the payload (a string as UTF-8; bytes copied,
 * so that changing them later does not change what is matched).
 *
 * @throws {TypeError} for data that is neither a string nor bytes, or an `onPong` that is not a function.
 * @throws {RangeError} for a payload over 125 bytes.
 */
export function pingPayload(data: unknown, onPong: unknown): Uint8Array {
  const payload = typeof data === "string"
    ? utf8Encoder.encode(data)
    : new Uint8Array(toBytes(data, "Cannot send ping"));
  if (payload.length > MAX_CONTROL_PAYLOAD) {
    throw new RangeError(`Cannot send ping: the payload has ${payload.length} bytes, at most 125 are allowed`);
  }
  if (onPong !== undefined && typeof onPong !== "function") {
    throw new TypeError(`Cannot send ping: onPong must be a function, got ${typeName(onPong)}`);
  }
  return payload;
}

/** Views `data` as bytes (no copy); a TypeError naming `what` for anything else. */
export function toBytes(data: unknown, what: string): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`${what}: expected a Uint8Array, ArrayBuffer or ArrayBufferView, got ${typeName(data)}`);
}

/** The name of `value`'s type, for error messages. */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return typeof value;
}

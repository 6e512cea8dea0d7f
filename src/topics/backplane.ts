/**
 * The seam between a {@linkcode Hub} and the other processes that publish to
 * the same topics: a backplane carries opaque messages (bytes the hub made)
 * to the other hubs listening on the same topics, and hands theirs to its
 * own hub.
 *
 * ```text
 *   hub.publish(topic, data)
 *     ├─ local subscribers: one encoded frame, written to each
 *     └─ backplane.publish(topic, bytes) ──▶ other processes ──▶ their sink.message(topic, bytes)
 *                                                               └─ their local subscribers
 * ```
 *
 * A backplane never throws into the hub: failures (a lost connection, a
 * refused publish) go to `sink.error`, and it recovers by itself where it can.
 * Delivery is at most once per message and process; the hub drops what its
 * own backplane hands back of its own publishes, so a backplane may echo them.
 *
 * @module
 */

/** Where a backplane delivers what other processes published, and reports its trouble. */
export interface BackplaneSink {
  /** A message another process published to `topic`: the bytes that process's hub made. */
  message(topic: string, message: Uint8Array): void;
  /** Something went wrong (a lost connection, a failed publish); the backplane carries on. */
  error(error: Error): void;
}

/**
 * How hubs in different processes (or isolates, or workers) reach each other.
 * A backplane serves one hub; the hub calls `start` once, then `subscribe` and
 * `unsubscribe` as topics gain their first and lose their last local
 * subscriber, `publish` for every message, and `close` when it is closed.
 *
 * @example A backplane that logs what the hub publishes and receives nothing
 * ```ts
 * import { createHub } from "@x/wsd";
 * import type { Backplane, BackplaneSink } from "@x/wsd";
 *
 * class LoggingBackplane implements Backplane {
 *   start(_sink: BackplaneSink): void {}
 *   publish(topic: string, message: Uint8Array): void {
 *     console.log(`would send ${message.length} bytes to ${topic}`);
 *   }
 *   subscribe(_topic: string): void {}
 *   unsubscribe(_topic: string): void {}
 *   close(): Promise<void> {
 *     return Promise.resolve();
 *   }
 * }
 * const hub = createHub({ backplane: new LoggingBackplane() });
 * hub.publish("news", "hello");
 * await hub.close();
 * ```
 */
export interface Backplane {
  /**
   * Starts delivering to `sink`. Called once, by the hub this backplane
   * belongs to, before any other method. Must not throw for a connection that
   * cannot be made yet: report it to `sink.error` and keep trying.
   *
   * @throws {TypeError} if the backplane was started already (it serves one hub).
   */
  start(sink: BackplaneSink): void;
  /**
   * Sends `message` to the other processes' hubs subscribed to `topic`. Must
   * not throw: failures go to `sink.error`. `message` is never changed
   * afterwards.
   */
  publish(topic: string, message: Uint8Array): void;
  /** The hub has local subscribers to `topic` now: deliver what others publish to it. */
  subscribe(topic: string): void;
  /** The hub has no local subscriber to `topic` any more. */
  unsubscribe(topic: string): void;
  /** Stops delivering and releases connections; resolves once they are released. */
  close(): Promise<void>;
}

/**
 * What a hub reports on its `error` event when its backplane is in trouble:
 * the backplane carries on (and reconnects where it can) meanwhile; `cause`
 * holds the underlying error.
 *
 * @example
 * ```ts
 * import { BackplaneError, createHub, inProcessBackplane } from "@x/wsd/topics";
 *
 * const hub = createHub({ backplane: inProcessBackplane("app") });
 * hub.on("error", (error) => {
 *   if (error instanceof BackplaneError) console.warn("backplane:", error.message);
 * });
 * await hub.close();
 * ```
 */
export class BackplaneError extends Error {
  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param cause The underlying error, if any.
   */
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "BackplaneError";
  }
}

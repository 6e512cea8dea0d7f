/**
 * The messages of a connection as an async iterator (`for await … of ws`) and
 * as Web Streams (`readable`, `writable`). The iterator holds what the loop
 * has not read yet; past the connection's `incomingHighWaterMark` it asks the
 * connection to stop reading its transport (the driver's `PAUSED_ITERATOR`
 * reason) and to read again once the loop caught up to half of it.
 *
 * ```text
 *   driver.#message ── iterator.push(message) ── queue ── next() ── the loop
 *                                    └─ over the mark: pause(true) … half: pause(false)
 *   close ── iterator.end(code, reason): done on 1000/1001, CloseError otherwise
 * ```
 *
 * @module
 */

import { CloseCode } from "../protocol/constants.ts";
import type { CloseInfo } from "./options.ts";

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

/** What a message iterator reads of its connection (its public face). */
export interface MessageSource {
  /** The connection's state. */
  readonly readyState: string;
  /** Resolves when the connection is over. */
  readonly closed: Promise<CloseInfo>;
}

type Next = IteratorResult<string | Uint8Array>;

/** The empty queue an iterator starts with, shared and frozen (most iterators keep up). */
const EMPTY: Array<string | Uint8Array> = Object.freeze([]) as unknown as Array<string | Uint8Array>;

/**
 * One `for await … of ws` over a connection, from the moment it was asked
 * for; the connection hands it each message while it is `active`.
 */
export class MessageIterator implements AsyncIterableIterator<string | Uint8Array> {
  /** Whether the loop still reads: false once it ended or left (`break`). */
  active = true;
  /** Bytes of the messages received and not read yet. */
  bytes = 0;
  readonly #source: MessageSource;
  readonly #highWaterMark: number;
  readonly #pause: (paused: boolean) => void;
  #queue = EMPTY;
  #waiter: PromiseWithResolvers<Next> | null = null;

  /**
   * An iterator over what `source` receives from now on; `pause(true)` asks it
   * to stop reading while more than `highWaterMark` bytes are unread,
   * `pause(false)` to read again.
   */
  constructor(source: MessageSource, highWaterMark: number, pause: (paused: boolean) => void) {
    this.#source = source;
    this.#highWaterMark = highWaterMark;
    this.#pause = pause;
  }

  /** A message arrived (only while `active`). */
  push(message: string | Uint8Array): void {
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter.resolve({ value: message, done: false });
      return;
    }
    if (this.#queue === EMPTY) this.#queue = [];
    this.#queue.push(message);
    this.bytes += message.length;
    if (this.bytes > this.#highWaterMark) this.#pause(true);
  }

  /** The connection closed: a `next()` waiting is settled (unread messages are read first). */
  end(code: number, reason: string): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    if (waiter !== null) this.#settleEnd(waiter, code, reason);
  }

  /** The next message, or the end. */
  next(): Promise<Next> {
    if (!this.active) return Promise.resolve({ value: undefined, done: true });
    if (this.#queue.length !== 0) {
      const value = this.#queue.shift()!;
      this.bytes -= value.length;
      if (this.bytes <= this.#highWaterMark / 2) this.#pause(false);
      return Promise.resolve({ value, done: false });
    }
    if (this.#source.readyState === "closed") {
      const waiter = Promise.withResolvers<Next>();
      this.#source.closed.then(({ code, reason }) => this.#settleEnd(waiter, code, reason));
      return waiter.promise;
    }
    this.#waiter ??= Promise.withResolvers();
    return this.#waiter.promise;
  }

  /** Leaves the loop: unread messages are dropped; the connection stays open. */
  return(): Promise<Next> {
    this.active = false;
    this.#queue = EMPTY;
    this.bytes = 0;
    this.#waiter?.resolve({ value: undefined, done: true });
    this.#waiter = null;
    this.#pause(false);
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Itself. */
  [Symbol.asyncIterator](): AsyncIterableIterator<string | Uint8Array> {
    return this;
  }

  /** Ends an iteration: done on a clean close, a CloseError on any other. */
  #settleEnd(waiter: PromiseWithResolvers<Next>, code: number, reason: string): void {
    this.active = false;
    if (code === CloseCode.NORMAL || code === CloseCode.GOING_AWAY) waiter.resolve({ value: undefined, done: true });
    else waiter.reject(new CloseError(code, reason));
  }
}

/** The messages of `iterator` as a `ReadableStream` (cancelling it leaves the loop). */
export function messageStream(
  messages: AsyncIterableIterator<string | Uint8Array>,
): ReadableStream<string | Uint8Array> {
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
}

/** What {@linkcode sendStream} uses of its connection (its public face). */
export interface MessageTarget {
  /** Resolves once the connection is open. */
  readonly opened: Promise<void>;
  /** Resolves when the connection is over. */
  readonly closed: Promise<CloseInfo>;
  /** Sends a message. */
  send(data: string | Uint8Array): boolean;
  /** Resolves once the sends waiting for the socket are under the mark. */
  drained(): Promise<void>;
  /** Starts the closing handshake. */
  closeConnection(code?: number, reason?: string): boolean;
}

/**
 * A `WritableStream` that sends what is written to it, waiting for
 * `drained()` after each chunk; closing it closes the connection (1000) and
 * waits for the close; aborting it closes with 1011.
 */
export function sendStream(target: MessageTarget): WritableStream<string | Uint8Array> {
  return new WritableStream<string | Uint8Array>({
    write: async (chunk) => {
      await target.opened;
      target.send(chunk);
      await target.drained();
    },
    close: async () => {
      target.closeConnection();
      await target.closed;
    },
    abort: () => {
      target.closeConnection(CloseCode.INTERNAL_ERROR, "The writable stream was aborted");
    },
  });
}

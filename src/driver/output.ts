/**
 * The output side of a connection: what the protocol encoded goes to the
 * transport, corked (every frame produced in one turn leaves in one flush),
 * with the accounting behind `bufferedAmount`, `drain` and the answers rule
 * (a peer that does not read our answers is not read either).
 *
 * ```text
 *   send*() ─ sent() ─ (in a turn: nothing; else one microtask) ─┐
 *   end of an input turn ───────────────────────────────────────┴─ flush()
 *     └─ protocol.dataToSend() → transport.write(piece) … → transport.end()
 *          ├─ written on the spot: piece released, no promise reaction
 *          └─ later: writing/answering counted until it resolves → writeDone()
 * ```
 *
 * The driver owns one {@linkcode Output} and tells it about sends and turns;
 * the output calls the driver back through one shared {@linkcode OutputHost}
 * table (no closures per connection).
 *
 * @module
 */

import { releaseFrame } from "../protocol/frame.ts";
import { END_OF_STREAM } from "../protocol/protocol.ts";
import type { Protocol } from "../protocol/protocol.ts";
import { overQueuePolicy } from "./options.ts";
import type { DriverSettings } from "./options.ts";
import { WRITTEN } from "./transport.ts";
import type { Transport } from "./transport.ts";

/**
 * What an {@linkcode Output} asks of, and tells, the connection that owns it.
 * One table serves every connection of a kind; each function gets the
 * connection.
 */
export interface OutputHost<C> {
  /** The transport the connection runs on now, or `null`. */
  transport(connection: C): Transport | null;
  /** The connection's protocol state (where the encoded bytes wait). */
  protocol(connection: C): Protocol;
  /** More answers wait for the socket than the high-water mark allows (`true`), or no longer (`false`). */
  answersWaiting(connection: C, waiting: boolean): void;
  /** `sendQueuePolicy: "close"` found the queue full: close with 1008. */
  queueFull(connection: C): void;
  /** `bufferedAmount` came back down to the high-water mark: emit `drain`. */
  drained(connection: C): void;
  /** The output is finished: `transport.end()` resolved. */
  ended(connection: C): void;
  /** A write or the end of the output failed. */
  failed(connection: C, error: unknown): void;
}

/**
 * The empty list of drain waiters every output starts with, shared and
 * frozen: an output makes its own on first use.
 */
const NO_WAITERS: Array<() => void> = Object.freeze([]) as unknown as Array<() => void>;

/** `transport.end()` was called: nothing more may be written (bits of `#flags`). */
const ENDING = 1;
/** `transport.end()` resolved: the output is finished. */
const ENDED = 2;
/** The host was told that answers wait (and not yet that they flow again). */
const ANSWERS_WAIT = 4;
/** bufferedAmount went above the high-water mark since the last drain. */
const FULL = 8;
/** A flush is queued as a microtask. */
const FLUSH_SCHEDULED = 16;
/** `transport.end()` finished on the spot (`WRITTEN`): ENDED at once too. */
const ENDS_AT_ONCE = 32;

/**
 * The output of one connection: corked flushes, bytes in the transport's
 * hands, answers to the peer's input, drain. See the module doc.
 */
export class Output<C> {
  readonly #connection: C;
  readonly #host: OutputHost<C>;
  readonly #settings: DriverSettings;
  /** Bytes handed to the transport whose write has not resolved. */
  #writing = 0;
  /**
   * Bytes written in answer to the peer's input (pongs, close replies, and
   * whatever the listeners of its events sent) that the transport has not
   * taken yet: past the high-water mark the peer is not read any more.
   */
  #answering = 0;
  /** ENDING, ENDED, ANSWERS_WAIT, FULL, FLUSH_SCHEDULED, ENDS_AT_ONCE: one field (a connection's bytes count). */
  #flags = 0;
  #drainWaiters: Array<() => void> = NO_WAITERS;

  /**
   * Creates the output of `connection`.
   *
   * @param connection Handed back to every function of `host`.
   * @param host How the output reaches the connection.
   * @param settings The connection's settings (`outgoingHighWaterMark`, `sendQueuePolicy`).
   */
  constructor(connection: C, host: OutputHost<C>, settings: DriverSettings) {
    this.#connection = connection;
    this.#host = host;
    this.#settings = settings;
  }

  /** Bytes accepted and not taken by the transport yet: encoded ones, and those being written. */
  get bufferedAmount(): number {
    return this.#host.protocol(this.#connection).bytesToSend + this.#writing;
  }

  /** Whether the output is finished (or was torn down) and no write is pending. */
  get done(): boolean {
    return (this.#flags & ENDED) !== 0 && this.#writing === 0;
  }

  /**
   * After a send: notes a full queue; unless the send came inside a turn
   * (which flushes at its end), flushes in a microtask, once for every send
   * of the tick.
   *
   * @param inTurn Whether the connection is handling input now.
   * @param encoded The bytes the protocol holds encoded (`bytesToSend`; given, as this runs for every send).
   */
  sent(inTurn: boolean, encoded: number): void {
    const flags = this.#flags;
    if ((flags & FULL) === 0 && encoded + this.#writing > this.#settings.outgoingHighWaterMark) this.#flags |= FULL;
    if (inTurn || (flags & FLUSH_SCHEDULED) !== 0 || this.#host.transport(this.#connection) === null) return;
    this.#flags |= FLUSH_SCHEDULED;
    this.#flushSoon();
  }

  /** Flushes in a microtask (a method of its own: see #writtenNow). */
  #flushSoon(): void {
    queueMicrotask(() => this.flush());
  }

  /**
   * Hands what the protocol has to send to the transport.
   *
   * @param answers Whether it was produced while handling the peer's input.
   */
  flush(answers = false): void {
    this.#flags &= ~FLUSH_SCHEDULED;
    const host = this.#host, connection = this.#connection;
    const transport = host.transport(connection);
    if (transport === null || (this.#flags & ENDING) !== 0) return;
    // A piece the transport let go of may be reused for a later frame.
    const release = transport.releasesChunks === true;
    const pieces = host.protocol(connection).dataToSend();
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (piece === END_OF_STREAM) {
        this.#end(transport);
        return;
      }
      const written = transport.write(piece);
      if (written === WRITTEN) {
        // Written on the spot (the common case): no promise reaction.
        if (release) releaseFrame(piece);
        if ((this.#flags & FULL) !== 0) this.#writtenNow();
        continue;
      }
      this.#writingLater(transport, written, piece, answers ? piece.length : 0, release);
    }
    // A peer that sends without reading our answers (an echo, pongs to a ping
    // flood) is not read any more until it reads them: TCP slows it down
    // instead of our memory growing. Only answers count, not what the
    // application sends on its own (sendQueuePolicy is for that): a peer of
    // ours that sends a lot at once keeps reading, so two peers never both
    // wait for the other to read.
    if (this.#answering > this.#settings.outgoingHighWaterMark && (this.#flags & ANSWERS_WAIT) === 0) {
      this.#flags |= ANSWERS_WAIT;
      host.answersWaiting(connection, true);
      // With "close" a full queue ends the connection, whether a send or the
      // answers found it full (once paused, no send may come to find it).
      if (this.#settings.sendQueuePolicy === "close") host.queueFull(connection);
    }
  }

  /**
   * A write finished on the spot while the output was full: a drain is due,
   * in a microtask. (The closures of a flush live in methods of their own: a
   * function that makes closures gets a scope object per call on one of the
   * runtimes, an allocation of each flush even when none was made:
   * bench/RESULTS.md, "Bun: small messages".)
   */
  #writtenNow(): void {
    queueMicrotask(() => this.#writeDone(0, 0));
  }

  /** Counts `piece` as being written (`answer` of its bytes answers) until `written` settles. */
  #writingLater(
    transport: Transport,
    written: Promise<void>,
    piece: Uint8Array,
    answer: number,
    release: boolean,
  ): void {
    const host = this.#host, connection = this.#connection;
    const length = piece.length;
    this.#writing += length;
    this.#answering += answer;
    written.then(
      () => {
        if (release) releaseFrame(piece);
        if (host.transport(connection) === transport) this.#writeDone(length, answer);
      },
      (error) => {
        if (host.transport(connection) !== transport) return;
        this.#writing -= length;
        this.#answering -= answer;
        host.failed(connection, error);
      },
    );
  }

  /**
   * Applies `sendQueuePolicy` when `bufferedAmount` is over
   * `outgoingHighWaterMark`: whether a message may be queued.
   */
  admit(): boolean {
    const { sendQueuePolicy, outgoingHighWaterMark } = this.#settings;
    if (sendQueuePolicy === "buffer") return true;
    const buffered = this.bufferedAmount;
    if (buffered <= outgoingHighWaterMark) return true;
    if (overQueuePolicy(sendQueuePolicy, buffered, outgoingHighWaterMark) === "close") {
      this.#host.queueFull(this.#connection);
    }
    return false;
  }

  /** A write of `length` bytes (`answer` of them answers to input) finished. */
  #writeDone(length: number, answer: number): void {
    this.#writing -= length;
    this.#answering -= answer;
    const host = this.#host, connection = this.#connection;
    if ((this.#flags & ANSWERS_WAIT) !== 0 && this.#answering <= this.#settings.outgoingHighWaterMark) {
      this.#flags &= ~ANSWERS_WAIT;
      host.answersWaiting(connection, false);
    }
    if ((this.#flags & FULL) !== 0 && this.bufferedAmount <= this.#settings.outgoingHighWaterMark) this.#drained();
  }

  /**
   * Whether the end of the output is done or certain to be within a
   * microtask (the transport ended on the spot): the driver then arms no
   * close timer for it (one set and cleared per connection whose peer just
   * went away).
   */
  get endsAtOnce(): boolean {
    return (this.#flags & (ENDED | ENDS_AT_ONCE)) !== 0;
  }

  /**
   * Ends the output now, when the protocol has nothing to send (its state was
   * never made: nothing was sent or received).
   */
  end(): void {
    const transport = this.#host.transport(this.#connection);
    if (transport !== null && (this.#flags & ENDING) === 0) this.#end(transport);
  }

  #end(transport: Transport): void {
    this.#flags |= ENDING;
    const host = this.#host, connection = this.#connection;
    const ending = transport.end();
    if (ending === WRITTEN) {
      // Ended on the spot (a peer that went away first, the usual end): the
      // output is finished now, without a promise reaction and its turn of
      // the microtask queue.
      this.#flags |= ENDS_AT_ONCE | ENDED;
      host.ended(connection);
      return;
    }
    ending.then(
      () => {
        if (host.transport(connection) !== transport) return;
        this.#flags |= ENDED;
        host.ended(connection);
      },
      (error) => {
        if (host.transport(connection) === transport) host.failed(connection, error);
      },
    );
  }

  /**
   * Resolves once `bufferedAmount` is at most the high-water mark (at once if
   * it is, or if `closed`).
   *
   * @param closed Whether the connection is over.
   */
  drained(closed: boolean): Promise<void> {
    if (closed || this.bufferedAmount <= this.#settings.outgoingHighWaterMark) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.#drainWaiters === NO_WAITERS) this.#drainWaiters = [];
      this.#drainWaiters.push(resolve);
    });
  }

  #drained(): void {
    this.#flags &= ~FULL;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = NO_WAITERS;
    for (const resolve of waiters) resolve();
    this.#host.drained(this.#connection);
  }

  /** The transport was torn down: nothing more is written, and the output counts as finished. */
  tornDown(): void {
    this.#flags |= ENDING | ENDED;
  }

  /** The connection is over: whoever waits for a drain is let go (without a `drain`). */
  finish(): void {
    this.#flags &= ~FULL;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = NO_WAITERS;
    for (const resolve of waiters) resolve();
  }

  /** Back to a fresh output, for another transport (a reconnecting client); drain waiters are kept. */
  reset(): void {
    this.#writing = this.#answering = 0;
    this.#flags &= FULL;
  }
}

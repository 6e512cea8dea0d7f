/**
 * The input side of a connection: chunks from the transport into the
 * protocol, one turn per chunk, long work (inflating) in fair slices shared
 * with every other connection, the reasons to stop reading, and the end of
 * the input.
 *
 * ```text
 *   transport ─ sink.data(chunk) ─ receive(): turn on
 *     └─ protocol.receiveData(chunk) → host.dispatch (events to listeners, who may send)
 *     └─ turn off → host.flush(answers) (output.ts)
 *     └─ work left (a long inflate)? stop reading, queue a slice (slices.ts)
 *   transport ─ sink.end() ─ end(): after pending work → host.ended
 * ```
 *
 * The driver owns one {@linkcode Input}, which is the sink of the transport
 * it runs on (no object of its own per connection); a reconnecting client
 * gets a new input for each transport (see {@linkcode Input.renewed}), so
 * that a transport the driver left is not heard any more.
 *
 * @module
 */

import { DEFAULT_WORK_BUDGET } from "../protocol/protocol.ts";
import type { Protocol } from "../protocol/protocol.ts";
import { SliceQueue } from "./slices.ts";
import type { Transport, TransportSink } from "./transport.ts";

/** A reason to stop reading (bits of the pauses): the message iterator holds more than `incomingHighWaterMark` unread. */
export const PAUSED_ITERATOR = 1;
/** Answers to the peer's input wait for the socket, more than `outgoingHighWaterMark`. */
export const PAUSED_ANSWERS = 2;
/** A message is being inflated in slices (queued with other connections' work): input waits behind it. */
const PAUSED_WORK = 4;
/** Every reason to stop reading. */
const PAUSES = PAUSED_ITERATOR | PAUSED_ANSWERS | PAUSED_WORK;
/** The input ended (bits of `#state`, with the PAUSED_* ones). */
const ENDED = 8;
/** The input ended while the protocol had work pending: handled once the work is done. */
const END_WAITS = 16;
/** A turn runs: input is being handled. */
const IN_TURN = 32;
/** Bytes a message may inflate to on arrival while other connections' work is queued (see receive). */
const BUSY_WORK_BUDGET = 4 * 1024;

/** What an {@linkcode Input} asks of, and tells, the connection that owns it (one table for all). */
export interface InputHost<C> {
  /** The transport the connection runs on now, or `null`. */
  transport(connection: C): Transport | null;
  /** The connection's protocol state. */
  protocol(connection: C): Protocol;
  /** Input arrived (the heartbeat notes it). */
  inputSeen(connection: C): void;
  /** Hands the events the protocol produced to the listeners. */
  dispatch(connection: C): void;
  /** Writes what the turn produced (answers to the peer's input). */
  flush(connection: C): void;
  /** The input is over, and the input before the end was handled. */
  ended(connection: C): void;
  /** Whether the connection is closed. */
  closed(connection: C): boolean;
  /** Whether the protocol has work pending (without making a protocol state that was never needed). */
  workPending(connection: C): boolean;
}

/** The input of one connection. See the module doc. */
// deno-lint-ignore no-explicit-any
export class Input<C = any> implements TransportSink {
  readonly #connection: C;
  readonly #host: InputHost<C>;
  /** The transport this input hears (set by sink()), while it is the connection's. */
  #transport: Transport | null = null;
  /**
   * Why the transport is paused (bits of PAUSED_*; none: it is read), and
   * ENDED, END_WAITS, IN_TURN: one field, since a connection's bytes count.
   */
  #state = 0;

  /** The inputs whose protocol has work pending, in the order it came (see slices.ts). */
  static #slices: SliceQueue<Input> = new SliceQueue((input) => input.#workSlice());

  /**
   * Creates the input of `connection`.
   *
   * @param connection Handed back to every function of `host`.
   * @param host How the input reaches the connection.
   */
  constructor(connection: C, host: InputHost<C>) {
    this.#connection = connection;
    this.#host = host;
  }

  /** Whether a turn runs: input is being handled (sends made now leave with the turn's flush). */
  get inTurn(): boolean {
    return (this.#state & IN_TURN) !== 0;
  }

  /** Whether the input ended (or was torn down). */
  get ended(): boolean {
    return (this.#state & ENDED) !== 0;
  }

  /** Whether any reason to stop reading holds. */
  get paused(): boolean {
    return (this.#state & PAUSES) !== 0;
  }

  /**
   * Where `transport` delivers: this input, which hears it while the
   * connection runs on it. Once per input.
   *
   * @throws {TypeError} if this input has a transport already.
   */
  sink(transport: Transport): TransportSink {
    if (this.#transport !== null) throw new TypeError("Cannot hear a second transport: renew the input");
    this.#transport = transport;
    return this;
  }

  /** A chunk from the transport; returns whether the transport may reuse its memory. */
  data(chunk: Uint8Array): boolean {
    return this.#current() ? this.#receive(chunk) : true;
  }

  /** The end of the transport's input. */
  end(): void {
    if (this.#current()) this.#end();
  }

  /** Whether the connection still runs on this input's transport. */
  #current(): boolean {
    return this.#transport !== null && this.#host.transport(this.#connection) === this.#transport;
  }

  /** Sets or clears one reason to stop reading; the transport is read while there is none. */
  pause(reason: number, paused: boolean): void {
    const state = this.#state;
    const before = state & PAUSES;
    const after = paused ? before | reason : before & ~reason;
    if (after === before) return;
    this.#state = (state & ~PAUSES) | after;
    const transport = this.#host.transport(this.#connection);
    if (before === 0) transport?.pause?.();
    else if (after === 0) transport?.resume?.();
  }

  /** The transport was torn down: the input counts as ended. */
  tornDown(): void {
    this.#state = (this.#state & ~END_WAITS) | ENDED;
  }

  /** A fresh input for another transport: only the iterator's reason to stop reading is kept. */
  renewed(): Input<C> {
    const input = new Input(this.#connection, this.#host);
    input.#state = this.#state & PAUSED_ITERATOR;
    this.#state = ENDED; // (Work this one queued finds it over.)
    return input;
  }

  /** Handles a chunk of input; returns whether the transport may reuse its memory. */
  #receive(chunk: Uint8Array): boolean {
    const host = this.#host, connection = this.#connection;
    host.inputSeen(connection);
    this.#state |= IN_TURN;
    const protocol = host.protocol(connection);
    // While the loop is busy with long work, a new message gets a smaller
    // slice here (many connections' input may come in one turn), and the rest
    // of it waits its turn in the queue.
    protocol.workBudget = Input.#slices.busy ? BUSY_WORK_BUDGET : DEFAULT_WORK_BUDGET;
    let released: boolean;
    try {
      released = protocol.receiveData(chunk);
      host.dispatch(connection);
    } finally {
      this.#state &= ~IN_TURN;
    }
    host.flush(connection);
    if (protocol.workPending && (this.#state & PAUSED_WORK) === 0) {
      this.pause(PAUSED_WORK, true);
      Input.#slices.add(this);
    }
    return released;
  }

  /** Does one slice of the protocol's pending work; returns whether more is pending. */
  #workSlice(): boolean {
    const host = this.#host, connection = this.#connection;
    if (!this.#current()) return false;
    const protocol = host.protocol(connection);
    if (protocol.workPending) {
      protocol.workBudget = DEFAULT_WORK_BUDGET;
      this.#state |= IN_TURN;
      try {
        protocol.resume();
        host.dispatch(connection);
      } finally {
        this.#state &= ~IN_TURN;
      }
      host.flush(connection);
      if (protocol.workPending) return true;
    }
    if (host.closed(connection)) return false;
    this.pause(PAUSED_WORK, false);
    if ((this.#state & END_WAITS) !== 0) {
      this.#state &= ~END_WAITS;
      this.#end();
    }
    return false;
  }

  #end(): void {
    // Input that arrived before the end is handled first.
    if (this.#host.workPending(this.#connection)) {
      this.#state |= END_WAITS;
      return;
    }
    this.#state |= ENDED;
    this.#host.ended(this.#connection);
  }
}

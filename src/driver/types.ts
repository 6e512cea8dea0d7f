/**
 * The types of a connection's public face: its states, the binary data it
 * takes, its events.
 *
 * @module
 */

import type { ProtocolError } from "../protocol/errors.ts";

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

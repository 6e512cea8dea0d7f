/**
 * The errors of a connection that are not the peer's fault (a listener of
 * ours threw), or not a violation (the peer stopped answering pings). (The
 * peer's violations are `ProtocolError`s, in the protocol layer.)
 *
 * @module
 */

import { CloseCode } from "../protocol/constants.ts";
import { ProtocolError } from "../protocol/errors.ts";

/**
 * The error of a heartbeat that got no answer within `timeout` ms of its
 * ping: the connection is torn down, and `close` reports 1006.
 */
export function heartbeatTimedOut(timeout: number): ProtocolError {
  return new ProtocolError(
    "WSD_ERR_HEARTBEAT_TIMEOUT",
    CloseCode.ABNORMAL,
    `No answer from the peer within ${timeout} ms of a ping`,
  );
}

/**
 * What the `error` event gets when one of the connection's own listeners
 * threw (or an `async` listener's promise rejected): the connection is closed
 * with 1011 ("internal error") and every other connection carries on. The
 * listener's exception is {@linkcode ListenerError.cause}.
 *
 * @example
 * ```ts
 * import { ListenerError } from "@x/wsd";
 *
 * const error = new ListenerError("message", new Error("boom"));
 * console.assert(error.type === "WSD_ERR_LISTENER" && error.code === 1011);
 * console.log(error.message); // A "message" listener threw: boom
 * ```
 */
export class ListenerError extends Error {
  /** A stable identifier, to match on rather than the message. */
  readonly type: "WSD_ERR_LISTENER" = "WSD_ERR_LISTENER";
  /** The close code the connection was closed with: 1011. */
  readonly code: number = CloseCode.INTERNAL_ERROR;
  /** The event whose listener threw. */
  readonly event: string;

  /**
   * Wraps the exception `cause` of a listener of `event`.
   *
   * @param event The event's name.
   * @param cause What the listener threw.
   */
  constructor(event: string, cause: unknown) {
    super(`A "${event}" listener threw: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "ListenerError";
    this.event = event;
  }
}

/** What {@linkcode listenerFailed} uses of a connection (a driver). */
export interface FailingConnection {
  /** The connection's state. */
  readonly readyState: string;
  /** How many `error` listeners it has. */
  listenerCount(event: "error"): number;
  /** Emits `error`. */
  emit(event: "error", error: ListenerError): unknown;
  /** Starts the closing handshake. */
  closeConnection(code: number, reason: string): boolean;
  /** Drops the connection at once. */
  terminate(): void;
}

/**
 * A listener of `connection` threw `error` while handling `event`: closes the
 * connection with 1011 ("internal error"; the peer learns nothing more) and
 * reports a {@linkcode ListenerError} on the `error` event (unless an `error`
 * or `close` listener threw), to `report`, and on stderr when neither took it.
 *
 * @param report Hands the error to whoever reports them besides the `error`
 * event; returns whether anyone took it.
 */
export function listenerFailed(
  connection: FailingConnection,
  error: unknown,
  event: string,
  report: (failure: ListenerError) => boolean,
): void {
  const failure = new ListenerError(event, error);
  // An error listener that throws is not told about it again (no loop), nor
  // anyone once the connection is over. Told before the close starts, as for
  // any failure: some sockets (Bun's) report the close at once.
  const told = event !== "error" && event !== "close" && connection.readyState !== "closed" &&
    connection.listenerCount("error") !== 0;
  if (told) connection.emit("error", failure);
  if (connection.readyState === "open") {
    try {
      connection.closeConnection(CloseCode.INTERNAL_ERROR, "Internal error");
    } catch {
      connection.terminate(); // a socket that cannot send 1011 (a runtime's own) is dropped
    }
  }
  let reported = false;
  try {
    reported = report(failure);
  } catch (hookError) {
    console.error("wsd: the listener-error hook threw:", hookError);
  }
  if (!told && !reported) {
    console.error(`wsd: ${failure.message}; the connection was closed with 1011:`, error);
  }
}

/**
 * The errors of a connection that are not the peer's fault: a listener of
 * ours threw. (The peer's violations are `ProtocolError`s, in the protocol
 * layer.)
 *
 * @module
 */

import { CloseCode } from "../protocol/constants.ts";

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

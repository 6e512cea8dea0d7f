/**
 * The pings a connection sent with `sendPing` and waits a pong for, and the
 * rule that matches a pong to them: a pong answers the ping with its very
 * payload and acknowledges every earlier one (RFC 6455 §5.5.3 lets a peer
 * answer only the latest).
 *
 * @module
 */

/** A ping waiting for its pong. */
export interface PendingPing {
  /** What it carried (its own copy). */
  payload: Uint8Array;
  /** Called when its pong arrives. */
  onPong: (() => void) | undefined;
  /** Called instead of `onPong` when the connection ends first. */
  onLost?: () => void;
}

/**
 * Removes from `pings` (in the order sent) the pings a pong with `payload`
 * acknowledges, and returns them: the first with that payload and every
 * earlier one; none if no ping carried it.
 */
export function acknowledged(pings: PendingPing[], payload: Uint8Array): PendingPing[] {
  const index = pings.findIndex((p) => sameBytes(p.payload, payload));
  return index < 0 ? [] : pings.splice(0, index + 1);
}

/**
 * Calls the callbacks of the pings a pong with `payload` acknowledges (see
 * {@linkcode acknowledged}), in the order sent; a callback's exception goes
 * to `onError` and the others are still called.
 */
export function callPongs(pings: PendingPing[], payload: Uint8Array, onError: (error: unknown) => void): void {
  for (const ping of acknowledged(pings, payload)) {
    try {
      ping.onPong?.();
    } catch (error) {
      onError(error);
    }
  }
}

/**
 * Sends a ping with `send` (given what to call on its pong, and on its loss)
 * and resolves with the round-trip time in milliseconds when its pong
 * arrives; rejects if the connection ends first, if `send` throws, or if it
 * returns `false` (pings cannot be sent: `state()` says why).
 */
export function roundTrip(
  send: (onPong: () => void, onLost: () => void) => boolean,
  state: () => string,
): Promise<number> {
  const { promise, resolve, reject } = Promise.withResolvers<number>();
  const start = performance.now();
  try {
    const sent = send(
      () => resolve(performance.now() - start),
      () => reject(new Error("Cannot get the pong: the connection closed")),
    );
    if (!sent) {
      return Promise.reject(new DOMException(`Cannot ping: the connection is ${state()}`, "InvalidStateError"));
    }
  } catch (error) {
    return Promise.reject(error);
  }
  return promise;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

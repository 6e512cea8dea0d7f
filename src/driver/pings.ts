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

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

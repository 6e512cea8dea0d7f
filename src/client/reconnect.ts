/**
 * The reconnecting client's policy: which endings are worth another attempt,
 * and how long to wait before it (exponential backoff with full jitter).
 * Pure functions; the timers live in the client.
 *
 * @module
 */

import { CloseCode } from "../protocol/constants.ts";
import { checkOptions } from "../driver/driver.ts";

/** How a client reconnects (the `reconnect` option of `makeClient`). */
export interface ReconnectOptions {
  /**
   * Attempts in a row that may fail before the client gives up (`error`,
   * then `close`); the count starts again after each successful open.
   *
   * @default {Infinity}
   */
  retries?: number;
  /**
   * Milliseconds of the first backoff step.
   *
   * @default {1000}
   */
  minDelay?: number;
  /**
   * Milliseconds no backoff step exceeds.
   *
   * @default {30000}
   */
  maxDelay?: number;
  /**
   * What each step multiplies the previous one by: attempt `n` waits up to
   * `min(maxDelay, minDelay × factor^(n-1))`.
   *
   * @default {2}
   */
  factor?: number;
  /**
   * Full jitter: each wait is drawn uniformly between 0 and its step, so that
   * clients dropped together do not come back together; `false` waits the
   * whole step.
   *
   * @default {true}
   */
  jitter?: boolean;
}

/** A checked {@linkcode ReconnectOptions}, every field set. */
export type ReconnectPolicy = Required<ReconnectOptions>;

const RECONNECT_OPTION_KEYS = ["retries", "minDelay", "maxDelay", "factor", "jitter"];

/**
 * Checks the `reconnect` option: `null` for none (`false`, `undefined`), the
 * defaults for `true`, else the options merged over the defaults.
 *
 * @throws {TypeError} for a value that is neither a boolean nor an object, or an unknown key.
 * @throws {RangeError} for a negative or non-number delay, retries or a factor below 1.
 */
export function reconnectPolicy(value: boolean | ReconnectOptions | undefined): ReconnectPolicy | null {
  if (value === undefined || value === false) return null;
  const options = value === true ? {} : value;
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      `Invalid reconnect: expected true, false or an object, got ${options === null ? "null" : typeof options}`,
    );
  }
  checkOptions(options, RECONNECT_OPTION_KEYS, "reconnect options");
  const policy: ReconnectPolicy = {
    retries: options.retries ?? Infinity,
    minDelay: options.minDelay ?? 1000,
    maxDelay: options.maxDelay ?? 30_000,
    factor: options.factor ?? 2,
    jitter: options.jitter ?? true,
  };
  if (!(policy.retries === Infinity || Number.isSafeInteger(policy.retries)) || policy.retries < 0) {
    throw new RangeError(
      `Invalid reconnect.retries ${policy.retries}: expected a whole number, 0 or more, or Infinity`,
    );
  }
  for (const key of ["minDelay", "maxDelay"] as const) {
    if (typeof policy[key] !== "number" || !Number.isFinite(policy[key]) || policy[key] < 0) {
      throw new RangeError(`Invalid reconnect.${key} ${policy[key]}: expected milliseconds, 0 or more`);
    }
  }
  if (policy.maxDelay < policy.minDelay) {
    throw new RangeError(`Invalid reconnect.maxDelay ${policy.maxDelay}: it is below minDelay ${policy.minDelay}`);
  }
  if (typeof policy.factor !== "number" || !Number.isFinite(policy.factor) || policy.factor < 1) {
    throw new RangeError(`Invalid reconnect.factor ${policy.factor}: expected a number, 1 or more`);
  }
  if (typeof policy.jitter !== "boolean") throw new TypeError("Invalid reconnect.jitter: expected true or false");
  return policy;
}

/**
 * The wait before attempt `attempt` (1 for the first reconnection):
 * `min(maxDelay, minDelay × factor^(attempt-1))`, or a uniform draw below it
 * with jitter ("full jitter").
 */
export function backoffDelay(policy: ReconnectPolicy, attempt: number, random: () => number = Math.random): number {
  const step = Math.min(policy.maxDelay, policy.minDelay * policy.factor ** Math.max(0, attempt - 1));
  return Math.round(policy.jitter ? random() * step : step);
}

/**
 * The close codes after which a connection is tried again: the connection
 * dropped (1006), the server went away or restarts (1001, 1012), failed or is
 * overloaded (1011, 1013), or its gateway failed (1014). A normal close (1000)
 * and the protocol violations (1002, 1007, 1009, …) are final.
 */
export const RECONNECT_CLOSE_CODES: ReadonlySet<number> = new Set([
  CloseCode.ABNORMAL,
  CloseCode.GOING_AWAY,
  CloseCode.INTERNAL_ERROR,
  CloseCode.SERVICE_RESTART,
  CloseCode.TRY_AGAIN_LATER,
  CloseCode.BAD_GATEWAY,
]);

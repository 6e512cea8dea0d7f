/**
 * A callback that runs once the I/O that is ready has been handled: what the
 * driver yields to between slices of long work (see src/driver/slices.ts).
 *
 * `setImmediate` on Node and Bun (it runs after the loop's I/O, with no
 * delay). Not on Deno: there a chain of `setImmediate` callbacks runs ahead of
 * socket reads (a read waits for the whole chain to end), while
 * `setTimeout(0)` lets them through.
 *
 * @module
 */

/** Schedules `callback` as a macrotask, after pending I/O. */
export type Macrotask = (callback: () => void) => unknown;

const immediate = (globalThis as { setImmediate?: Macrotask }).setImmediate;
const timeout = "Deno" in globalThis || typeof immediate !== "function";

/** See the module documentation. */
export const macrotask: Macrotask = timeout ? (callback) => setTimeout(callback, 0) : (callback) => immediate(callback);

/**
 * How long a run of slices may hold the event loop before it yields, in ms.
 * Longer where the yield is a `setTimeout(0)`: a timer scheduled from a timer
 * callback waits at least 4 ms once nested (the HTML timer clamp, which Deno
 * follows), so 2 ms runs would leave a large message's inflating two thirds
 * of the time idle.
 */
export const RUN_MS: number = timeout ? 4 : 2;

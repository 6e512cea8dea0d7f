/**
 * A callback that runs once the I/O that is ready has been handled: what the
 * driver yields to between slices of long work (see src/driver/slices.ts).
 *
 * `setImmediate` on Node and Bun (it runs after the loop's I/O, with no
 * delay). Not on Deno: there a chain of `setImmediate` callbacks runs ahead of
 * socket reads (measured: an echo round trip waited 460 ms behind a chain of
 * 2 ms slices), while `setTimeout(0)` lets them through.
 *
 * @module
 */

/** Schedules `callback` as a macrotask, after pending I/O. */
export type Macrotask = (callback: () => void) => unknown;

const immediate = (globalThis as { setImmediate?: Macrotask }).setImmediate;

/** See the module documentation. */
export const macrotask: Macrotask = "Deno" in globalThis || typeof immediate !== "function"
  ? (callback) => setTimeout(callback, 0)
  : (callback) => immediate(callback);

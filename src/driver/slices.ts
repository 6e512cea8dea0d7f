/**
 * Work whose size one peer decides (inflating a large message or a
 * decompression bomb), run in slices that give the event loop back: the
 * connections with such work pending wait in a queue, the first one's work
 * goes on a slice at a time, and after a short run of slices a macrotask
 * lets I/O and timers run, so a fresh connection's handshake and other
 * connections' messages go through while one connection inflates megabytes.
 *
 * One connection's work runs to its end before the next one's starts (in
 * the order they came): taking turns would be fairer among the connections
 * that send large compressed messages, but each of them would then hold a
 * partly inflated message at once (200 bombers: 200 × maxLength), where
 * the queue holds one.
 *
 * @module
 */

import { rethrowLater } from "./emitter.ts";

/** Schedules `callback` as a macrotask, after the I/O that is ready. */
export type Macrotask = (callback: () => void) => unknown;

const immediate = (globalThis as { setImmediate?: Macrotask }).setImmediate;
/** What slices yield with: `setImmediate` runs after the loop's ready I/O, with no delay. */
let macrotask: Macrotask = typeof immediate === "function"
  ? (callback) => immediate(callback)
  : (callback) => setTimeout(callback, 0);
/**
 * How long a run of slices may hold the event loop before it yields, in ms.
 * Longer where the yield is a `setTimeout(0)`: a timer scheduled from a timer
 * callback waits at least 4 ms once nested (the HTML timer clamp), so short
 * runs would leave a large message's inflating mostly idle.
 */
let RUN_MS = typeof immediate === "function" ? 2 : 4;

/**
 * Sets how slices give the event loop back, for a runtime whose
 * `setImmediate` does not let socket reads through (the runtime layer calls
 * it once, when its adapter loads).
 *
 * @param schedule Schedules a callback after pending I/O.
 * @param runMs How long a run of slices may last before it yields.
 */
export function useMacrotask(schedule: Macrotask, runMs: number): void {
  macrotask = schedule;
  RUN_MS = runMs;
}

/**
 * A queue of items with work pending, run a slice at a time in macrotasks.
 * `run(item)` does one slice of the item's work and returns whether more is
 * pending (the item then stays first in the queue).
 */
export class SliceQueue<T> {
  readonly #run: (item: T) => boolean;
  readonly #items: T[] = [];
  #scheduled = false;

  /** Creates an empty queue whose items' slices `run` performs. */
  constructor(run: (item: T) => boolean) {
    this.#run = run;
  }

  /** Whether some item has work pending: the event loop is busy with slices. */
  get busy(): boolean {
    return this.#items.length !== 0;
  }

  /** Queues an item (the caller adds each item once until `run` returns false for it). */
  add(item: T): void {
    this.#items.push(item);
    if (!this.#scheduled) {
      this.#scheduled = true;
      macrotask(this.#turn);
    }
  }

  /**
   * One run: slices of the first item's work (then the next's) until the
   * queue is empty or the first slice that ends RUN_MS after the start.
   */
  #turn = (): void => {
    this.#scheduled = false;
    const items = this.#items;
    const start = performance.now();
    try {
      while (items.length !== 0) {
        let more = false;
        try {
          more = this.#run(items[0]);
        } catch (error) {
          rethrowLater(error);
        }
        if (!more) items.shift();
        if (performance.now() - start >= RUN_MS) break;
      }
    } finally {
      if (items.length !== 0 && !this.#scheduled) {
        this.#scheduled = true;
        macrotask(this.#turn);
      }
    }
  };
}

/**
 * Fair turns for work whose size one peer decides (inflating a large message
 * or a decompression bomb): the connections with such work pending take turns,
 * one slice each, round-robin, and the event loop gets control back between
 * short runs of slices (a macrotask, after which I/O and timers run), so a
 * fresh connection's handshake and small messages go through while other
 * connections inflate megabytes.
 *
 * @module
 */

import { macrotask } from "../runtime/macrotask.ts";
import { rethrowLater } from "./emitter.ts";

/**
 * How long one run of slices may hold the event loop, in ms: the run stops
 * after the first slice that ends past it.
 */
const RUN_MS = 2;

/**
 * A round-robin queue of items with work pending, run a slice at a time in
 * macrotasks. `run(item)` does one slice of the item's work and returns
 * whether more is pending (the item then goes to the back of the queue).
 */
export class SliceQueue<T> {
  readonly #run: (item: T) => boolean;
  #items: T[] = [];
  #scheduled = false;

  /** Creates an empty queue whose items' slices `run` performs. */
  constructor(run: (item: T) => boolean) {
    this.#run = run;
  }

  /** Whether some item has work pending: the event loop is busy with slices. */
  get busy(): boolean {
    return this.#items.length !== 0;
  }

  /** Queues an item for its next slice (the caller adds each item once until `run` returns false). */
  add(item: T): void {
    this.#items.push(item);
    if (!this.#scheduled) {
      this.#scheduled = true;
      macrotask(this.#turn);
    }
  }

  /** One run: slices round-robin until the queue is empty or RUN_MS passed. */
  #turn = (): void => {
    this.#scheduled = false;
    const items = this.#items;
    const start = performance.now();
    try {
      while (items.length !== 0) {
        const item = items.shift()!;
        let more = false;
        try {
          more = this.#run(item);
        } catch (error) {
          rethrowLater(error);
        }
        if (more) items.push(item);
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

/**
 * The in-process backplane: hubs of one process (or isolate) that share a bus
 * name exchange their messages, as hubs of different processes do through
 * Redis. For several servers in one process, and for tests of code written
 * against a backplane.
 *
 * @module
 */

import { BackplaneError } from "./backplane.ts";
import type { Backplane, BackplaneSink } from "./backplane.ts";

/** The members of each bus, by name. */
const buses = new Map<string, Set<InProcessBackplane>>();

/**
 * A backplane between the hubs of this process that use the same bus name.
 * Messages are delivered asynchronously (in a microtask), in publish order,
 * to every other member subscribed to the topic, as a real backplane would.
 *
 * @example
 * ```ts
 * import { createHub, inProcessBackplane } from "@x/wsd/topics";
 *
 * const a = createHub({ backplane: inProcessBackplane("app") });
 * const b = createHub({ backplane: inProcessBackplane("app") });
 * // a.publish("news", "hi") reaches the subscribers of a (now) and of b (a microtask later)
 * a.publish("news", "hi");
 * await Promise.all([a.close(), b.close()]);
 * ```
 */
export class InProcessBackplane implements Backplane {
  /** The bus this backplane is on. */
  readonly bus: string;
  #sink: BackplaneSink | null = null;
  readonly #topics = new Set<string>();
  #closed = false;

  /**
   * Creates a member of the bus `bus`; it joins when its hub starts it.
   *
   * @throws {TypeError} if `bus` is not a string.
   */
  constructor(bus: string) {
    if (typeof bus !== "string") throw new TypeError(`Invalid bus name: expected a string, got ${typeof bus}`);
    this.bus = bus;
  }

  /** Joins the bus. */
  start(sink: BackplaneSink): void {
    if (this.#sink !== null) throw new TypeError("Cannot start the backplane: it serves a hub already");
    if (this.#closed) throw new TypeError("Cannot start the backplane: it is closed");
    this.#sink = sink;
    let members = buses.get(this.bus);
    if (members === undefined) buses.set(this.bus, members = new Set());
    members.add(this);
  }

  /** Delivers `message` to the other members subscribed to `topic`, in a microtask. */
  publish(topic: string, message: Uint8Array): void {
    if (this.#closed || this.#sink === null) {
      this.#sink?.error(new BackplaneError("Cannot publish: the in-process backplane is closed"));
      return;
    }
    const members = buses.get(this.bus);
    if (members === undefined) return;
    for (const member of members) {
      if (member !== this && member.#topics.has(topic)) {
        queueMicrotask(() => member.#deliver(topic, message));
      }
    }
  }

  /** Asks for the messages of `topic`. */
  subscribe(topic: string): void {
    this.#topics.add(topic);
  }

  /** Stops asking for the messages of `topic`. */
  unsubscribe(topic: string): void {
    this.#topics.delete(topic);
  }

  /** Leaves the bus. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      const members = buses.get(this.bus);
      members?.delete(this);
      if (members?.size === 0) buses.delete(this.bus);
      this.#topics.clear();
    }
    return Promise.resolve();
  }

  #deliver(topic: string, message: Uint8Array): void {
    if (!this.#closed && this.#topics.has(topic)) this.#sink!.message(topic, message);
  }
}

/**
 * A backplane between the hubs of this process that use the same `bus` name
 * (see {@linkcode InProcessBackplane}). A hub made without a backplane
 * reaches its own subscribers only.
 *
 * @example Two hubs, one bus
 * ```ts
 * import { createHub, inProcessBackplane } from "@x/wsd";
 *
 * const a = createHub({ backplane: inProcessBackplane("app") });
 * const b = createHub({ backplane: inProcessBackplane("app") });
 * a.publish("news", "hello"); // reaches b's subscribers of "news" too
 * await Promise.all([a.close(), b.close()]);
 * ```
 */
export function inProcessBackplane(bus: string): InProcessBackplane {
  return new InProcessBackplane(bus);
}

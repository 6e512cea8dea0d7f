/**
 * A small typed event emitter with the Common Lisp event-emitter's verbs (`on`,
 * `once`, `removeListener`, `removeAllListeners`, `listeners`, `listenerCount`,
 * `emit`), camelCased, plus `off`.
 *
 * Listeners run synchronously, in the order they were added. A listener that
 * throws (or an `async` one whose promise rejects) does not stop the others:
 * the exception goes to {@linkcode EventEmitter.listenerError}, which rethrows
 * it from a microtask here (an uncaught exception, as from any event handler)
 * and which a connection overrides to close only itself (1011).
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
type Listener = (...args: any[]) => unknown;

/**
 * Calls the listeners of `event` with one argument, exactly as `emit` does,
 * without building argument arrays: the driver's path for each message.
 * Internal (not re-exported from the package).
 */
export let emitOne: <Events extends Record<string, unknown[]>, K extends keyof Events>(
  emitter: EventEmitter<Events>,
  event: K,
  arg: Events[K][0],
) => boolean;

/**
 * Throws `error` again from a microtask: how a listener's exception leaves
 * without stopping the listeners after it (or the caller's own work).
 */
export function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/**
 * Listeners by event name: the function itself while an event has one (the
 * usual case: no array per event for the life of a connection), an array
 * once it has more.
 */
type ListenerTable = { [event: PropertyKey]: Listener | Listener[] | undefined };

interface OnceWrapper {
  (...args: unknown[]): unknown;
  listener: Listener;
}

/**
 * The event emitter every connection inherits. `Events` maps each event name
 * to the tuple of its arguments.
 *
 * @example
 * ```ts
 * import { EventEmitter } from "@x/wsd";
 *
 * const emitter = new EventEmitter<{ tick: [n: number] }>();
 * emitter.on("tick", (n) => console.log("tick", n));
 * emitter.emit("tick", 1);
 * ```
 */
export class EventEmitter<Events extends Record<string, unknown[]>> {
  /**
   * The listeners of each event: a plain table without a prototype, made on
   * first use (a `Map` costs a connection a few hundred bytes more).
   */
  #listeners: ListenerTable | null = null;

  static {
    emitOne = (emitter, event, arg) => {
      const list: Listener | Listener[] | undefined = emitter.#listeners?.[event];
      if (list === undefined) return false;
      if (typeof list === "function") {
        try {
          const result = list.call(emitter, arg);
          if (mayBeThenable(result)) emitter.#watch(result, event);
        } catch (error) {
          emitter.listenerError(error, event);
        }
        return true;
      }
      for (let i = 0; i < list.length; i++) {
        try {
          const result = list[i].call(emitter, arg);
          if (mayBeThenable(result)) emitter.#watch(result, event);
        } catch (error) {
          emitter.listenerError(error, event);
        }
      }
      return true;
    };
  }

  /** An `async` listener's promise: its rejection is a listener's exception too. */
  #watch(result: unknown, event: keyof Events): void {
    if (typeof (result as PromiseLike<unknown>)?.then !== "function") return;
    (result as PromiseLike<unknown>).then(undefined, (error: unknown) => this.listenerError(error, event));
  }

  /**
   * Called with the exception of a listener of `event` (thrown, or the
   * rejection of the promise an `async` listener returned), after the other
   * listeners ran. Rethrows it from a microtask, as an uncaught exception;
   * a connection overrides it to close itself with 1011 and report the error.
   *
   * @example
   * ```ts
   * import { EventEmitter } from "@x/wsd";
   *
   * class Quiet extends EventEmitter<{ tick: [] }> {
   *   protected override listenerError(error: unknown): void {
   *     console.log("a listener failed:", (error as Error).message);
   *   }
   * }
   * new Quiet().on("tick", () => {
   *   throw new Error("boom");
   * }).emit("tick");
   * ```
   */
  protected listenerError(error: unknown, _event: keyof Events): void {
    rethrowLater(error);
  }

  /** Adds `listener` for `event`; returns `this`. */
  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this {
    checkListener(listener);
    const table = this.#listeners ??= Object.create(null) as ListenerTable;
    const list: Listener | Listener[] | undefined = table[event];
    // Copy on write, so that an emit in progress is not disturbed.
    table[event] = list === undefined
      ? listener as Listener
      : Array.isArray(list)
      ? [...list, listener as Listener]
      : [list, listener as Listener];
    return this;
  }

  /** Alias of {@linkcode EventEmitter.on}. */
  addListener<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this {
    return this.on(event, listener);
  }

  /** Adds `listener` for the next `event` only; returns `this`. */
  once<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this {
    checkListener(listener);
    const wrapper = ((...args: Events[K]) => {
      // Remove this very registration: removing `listener` would take the most
      // recent one, which may be a plain `on` of the same function.
      this.removeListener(event, wrapper as unknown as (...args: Events[K]) => void);
      return listener(...args);
    }) as unknown as OnceWrapper;
    wrapper.listener = listener as Listener;
    return this.on(event, wrapper as unknown as (...args: Events[K]) => void);
  }

  /** Removes the most recently added instance of `listener` for `event`; returns `this`. */
  removeListener<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this {
    const table = this.#listeners;
    const list: Listener | Listener[] | undefined = table?.[event];
    if (table === null || list === undefined) return this;
    if (!Array.isArray(list)) {
      // Set, not deleted: a deleted key makes the table slower to read.
      if (list === listener || (list as OnceWrapper).listener === listener) table[event] = undefined;
      return this;
    }
    for (let i = list.length - 1; i >= 0; i--) {
      const l = list[i];
      if (l === listener || (l as OnceWrapper).listener === listener) {
        const rest = list.slice(0, i).concat(list.slice(i + 1));
        // Set, not deleted: a deleted key makes the table slower to read.
        table[event] = rest.length === 0 ? undefined : rest;
        break;
      }
    }
    return this;
  }

  /** Alias of {@linkcode EventEmitter.removeListener}. */
  off<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this {
    return this.removeListener(event, listener);
  }

  /** Removes every listener of `event`, or of every event; returns `this`. */
  removeAllListeners(event?: keyof Events): this {
    if (event === undefined) this.#listeners = null;
    else if (this.#listeners !== null) this.#listeners[event] = undefined;
    return this;
  }

  /** Returns a copy of the listeners of `event`. */
  listeners<K extends keyof Events>(event: K): Array<(...args: Events[K]) => void> {
    const list: Listener | Listener[] | undefined = this.#listeners?.[event];
    if (list === undefined) return [];
    return (Array.isArray(list) ? list : [list]).map((l) => (l as OnceWrapper).listener ?? l) as Array<
      (...args: Events[K]) => void
    >;
  }

  /** Returns how many listeners `event` has. */
  listenerCount(event: keyof Events): number {
    const list: Listener | Listener[] | undefined = this.#listeners?.[event];
    return list === undefined ? 0 : Array.isArray(list) ? list.length : 1;
  }

  /**
   * Calls every listener of `event` with `args`; returns whether there was any.
   * An exception from a listener goes to {@linkcode EventEmitter.listenerError}
   * after the others ran.
   */
  emit<K extends keyof Events>(event: K, ...args: Events[K]): boolean {
    const list: Listener | Listener[] | undefined = this.#listeners?.[event];
    if (list === undefined) return false;
    if (typeof list === "function") {
      this.#call(list, event, args);
      return true;
    }
    for (let i = 0; i < list.length; i++) this.#call(list[i], event, args);
    return true;
  }

  /** Runs one listener; its exception goes to {@linkcode EventEmitter.listenerError}. */
  #call(listener: Listener, event: keyof Events, args: unknown[]): void {
    try {
      const result = listener.apply(this, args);
      if (mayBeThenable(result)) this.#watch(result, event);
    } catch (error) {
      this.listenerError(error, event);
    }
  }
}

/**
 * Whether a listener's result may be a promise: only objects and functions
 * can be thenables. Most listeners return nothing, or a primitive (an echo
 * returns what `send` returned): looking `then` up on a boolean, once per
 * message, showed in one runtime's profiles of small messages
 * (bench/RESULTS.md, "Bun: small messages").
 */
function mayBeThenable(result: unknown): boolean {
  return typeof result === "object" ? result !== null : typeof result === "function";
}

function checkListener(listener: unknown): void {
  if (typeof listener !== "function") {
    throw new TypeError(`Cannot add listener: expected a function, got ${typeof listener}`);
  }
}

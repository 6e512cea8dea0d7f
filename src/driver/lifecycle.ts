/**
 * Whether a connection opened and how it ended, and the promises that tell
 * (`opened`, `closed`), made only when first asked for: most connections
 * never are. The driver tells its transitions, just before it emits `open`
 * and `close`, through {@linkcode lifecycleOpened} and
 * {@linkcode lifecycleClosed}; until someone asks for a promise or the
 * connection ends, what it keeps is a number ({@linkcode Outcome}), not a
 * {@linkcode Lifecycle}: an idle connection holds no object for it.
 *
 * @module
 */

import type { CloseInfo } from "./options.ts";

/**
 * What a driver keeps of its connection's outcome: 0 (not open yet) or 1
 * (open) while nobody asked for a promise, then the {@linkcode Lifecycle}.
 */
export type Outcome = Lifecycle | 0 | 1;

/** The outcome of a connection that did not open yet, and nobody asked about. */
export const NOT_OPEN: Outcome = 0;

/** `outcome` as a {@linkcode Lifecycle}, made now if it was a number: to keep in its place. */
export function lifecycleOf(outcome: Outcome): Lifecycle {
  return typeof outcome === "number" ? new Lifecycle(outcome) : outcome;
}

/** The connection opened: what to keep in place of `outcome`. */
export function lifecycleOpened(outcome: Outcome): Outcome {
  if (typeof outcome === "number") return 1;
  outcome.open();
  return outcome;
}

/** The connection is over, with `code` and `reason`: what to keep in place of `outcome`. */
export function lifecycleClosed(outcome: Outcome, code: number, reason: string): Lifecycle {
  // Made now whether asked for or not: `closed` may be read after the close, and must tell how it went.
  const lifecycle = lifecycleOf(outcome);
  lifecycle.close(code, reason);
  return lifecycle;
}

/** One connection's outcome: opened or not, closed how, and the promises of both. */
export class Lifecycle {
  /** Whether the connection opened (1), closed before that (2), or neither yet (0). */
  #state: 0 | 1 | 2;
  #opened: PromiseWithResolvers<void> | null = null;
  #closed: PromiseWithResolvers<CloseInfo> | null = null;
  /** What `close` reported, once it did. */
  #closeInfo: CloseInfo | null = null;

  /** A connection that opened already (1), or not yet (0). */
  constructor(state: 0 | 1 = 0) {
    this.#state = state;
  }

  /** Resolves once the connection is open; rejects if it closed before that. */
  get opened(): Promise<void> {
    if (this.#opened === null) {
      const opened = this.#opened = Promise.withResolvers<void>();
      // Nobody has to await it: a rejection nobody handles must not end the program.
      opened.promise.catch(() => {});
      if (this.#state === 1) opened.resolve();
      else if (this.#state === 2) opened.reject(this.#closedEarly());
    }
    return this.#opened.promise;
  }

  /** Resolves once, with what `close` reported, when the connection is over. */
  get closed(): Promise<CloseInfo> {
    if (this.#closed === null) {
      this.#closed = Promise.withResolvers<CloseInfo>();
      if (this.#closeInfo !== null) this.#closed.resolve(this.#closeInfo);
    }
    return this.#closed.promise;
  }

  /** The connection opened. */
  open(): void {
    this.#state = 1;
    this.#opened?.resolve();
  }

  /** The connection is over, with `code` and `reason`. */
  close(code: number, reason: string): void {
    this.#closeInfo = { code, reason };
    if (this.#state === 0) {
      this.#state = 2;
      this.#opened?.reject(this.#closedEarly());
    }
    this.#closed?.resolve(this.#closeInfo);
  }

  /** The rejection of `opened` when the connection closed before it opened. */
  #closedEarly(): Error {
    const { code, reason } = this.#closeInfo!;
    return new Error(`The connection closed before it opened (${code}${reason ? ` ${reason}` : ""})`);
  }
}

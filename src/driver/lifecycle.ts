/**
 * Whether a connection opened and how it ended, and the promises that tell
 * (`opened`, `closed`), made only when first asked for: most connections
 * never are. The driver calls {@linkcode Lifecycle.open} and
 * {@linkcode Lifecycle.close} from its transitions, just before it emits
 * `open` and `close`.
 *
 * @module
 */

import type { CloseInfo } from "./options.ts";

/** One connection's outcome: opened or not, closed how, and the promises of both. */
export class Lifecycle {
  /** Whether the connection opened (1), closed before that (2), or neither yet (0). */
  #state: 0 | 1 | 2 = 0;
  #opened: PromiseWithResolvers<void> | null = null;
  #closed: PromiseWithResolvers<CloseInfo> | null = null;
  /** What `close` reported, once it did. */
  #closeInfo: CloseInfo | null = null;

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

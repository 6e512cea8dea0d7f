/**
 * Exceptions and rejections nobody handled, in tests (not a test file):
 * collected instead of ending the test, so that a test can assert there were
 * none, or that a listener's exception did surface.
 *
 * @module
 */

import { delay } from "./time.ts";

const g = globalThis as {
  Deno?: unknown;
  Bun?: unknown;
  process?: {
    listeners(event: string): Array<(...args: unknown[]) => void>;
    removeAllListeners(event: string): void;
    on(event: string, fn: (...args: unknown[]) => void): void;
    off(event: string, fn: (...args: unknown[]) => void): void;
  };
  queueMicrotask: (callback: () => void) => void;
};

/**
 * Runs `body` and returns the exceptions that surfaced as uncaught meanwhile
 * (the emitter rethrows listener exceptions from a microtask).
 * - Deno: a cancelable `error` event on globalThis.
 * - Node: `process.on("uncaughtException")`, with the test runner's own
 *   listeners set aside so that it does not fail the test.
 * - Bun: `bun test` short-circuits uncaught exceptions to the runner and calls
 *   no JS handler (neither `process.on` nor `addEventListener("error")`
 *   works, tried on 1.4.5), so the global `queueMicrotask` is wrapped instead
 *   and exceptions thrown by its callbacks are collected there.
 */
export async function captureUncaught(
  body: () => Promise<void>,
): Promise<unknown[]> {
  const caught: unknown[] = [];
  let restore: () => void;
  if (g.Deno !== undefined) {
    const onError = (event: Event): void => {
      event.preventDefault();
      caught.push((event as ErrorEvent).error);
    };
    globalThis.addEventListener("error", onError);
    restore = () => globalThis.removeEventListener("error", onError);
  } else if (g.Bun !== undefined) {
    const original = g.queueMicrotask;
    g.queueMicrotask = (callback) =>
      original(() => {
        try {
          callback();
        } catch (error) {
          caught.push(error);
        }
      });
    restore = () => {
      g.queueMicrotask = original;
    };
  } else {
    const proc = g.process!;
    const saved = proc.listeners("uncaughtException");
    proc.removeAllListeners("uncaughtException");
    const onError = (error: unknown): void => {
      caught.push(error);
    };
    proc.on("uncaughtException", onError);
    restore = () => {
      proc.off("uncaughtException", onError);
      for (const listener of saved) proc.on("uncaughtException", listener);
    };
  }
  try {
    await body();
    await delay(10);
  } finally {
    restore();
  }
  return caught;
}

/**
 * Collects the unhandled promise rejections (and, on Deno, uncaught
 * exceptions) until `stop()`: Deno's `unhandledrejection`/`error` events,
 * `process.on("unhandledRejection")` elsewhere. A belt-and-braces check:
 * each runner also fails the running test on an unhandled rejection by itself
 * (measured: deno test 2.9.6 and bun test 1.4.5 fail it before this sees
 * anything, node --test 26 after this recorded it).
 */
export function trackUnhandled(): { errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  if (g.Deno !== undefined) {
    const onRejection = (event: Event): void => {
      event.preventDefault();
      errors.push((event as PromiseRejectionEvent).reason);
    };
    const onError = (event: Event): void => {
      event.preventDefault();
      errors.push((event as ErrorEvent).error);
    };
    globalThis.addEventListener("unhandledrejection", onRejection);
    globalThis.addEventListener("error", onError);
    return {
      errors,
      stop() {
        globalThis.removeEventListener("unhandledrejection", onRejection);
        globalThis.removeEventListener("error", onError);
      },
    };
  }
  const onRejection = (reason: unknown): void => {
    errors.push(reason);
  };
  g.process!.on("unhandledRejection", onRejection);
  return {
    errors,
    stop() {
      g.process!.off("unhandledRejection", onRejection);
    },
  };
}

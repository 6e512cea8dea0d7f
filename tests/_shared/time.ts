/**
 * Time in tests (not a test file): a unit that `WSD_TEST_TIME_SCALE` scales,
 * so that a slow or loaded machine can stretch every wait and every limit at
 * once without editing tests; waits built on it; and a guard that turns a
 * hang into a failure naming what was awaited. With the variable unset the
 * scale is 1 and every number means what it says.
 *
 * @module
 */

function readTimeScale(): number {
  try {
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } })
      .process?.env;
    const scale = Number(env?.WSD_TEST_TIME_SCALE ?? "1");
    return Number.isFinite(scale) && scale > 0 ? scale : 1;
  } catch {
    // Deno without --allow-env throws on env access.
    return 1;
  }
}

/** How much slower than usual this machine is; `WSD_TEST_TIME_SCALE`, default 1. */
export const TIME_SCALE: number = readTimeScale();

/** `n` milliseconds, scaled by {@linkcode TIME_SCALE}. */
export function ms(n: number): number {
  return Math.round(n * TIME_SCALE);
}

/** Resolves after `n` scaled milliseconds. */
export function delay(n: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms(n)));
}

/** Resolves after the microtask queue and one macrotask turn ran. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * `promise`, or a rejection naming `what` after `limit` scaled milliseconds
 * (the timer is cleared either way, so nothing is left to hold a runtime open).
 */
export function withTimeout<T>(
  promise: Promise<T>,
  what: string,
  limit = 10_000,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms(limit)} ms: ${what}`)),
      ms(limit),
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

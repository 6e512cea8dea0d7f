/**
 * Child processes in tests (not a test file).
 *
 * @module
 */

import type { ChildProcess } from "node:child_process";

/**
 * Resolves once `child` has exited. Call it right after `spawn()`, not after
 * `kill()`: Deno's `node:child_process` sets `signalCode` as soon as `kill()`
 * sends the signal, before the process is gone, so only the `exit` event
 * listened to from the start tells (a listening port is closed only then).
 */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

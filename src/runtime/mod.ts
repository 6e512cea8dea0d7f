/**
 * Picks the adapter of the runtime this code runs on, loading only that one
 * (so Deno Deploy never loads `node:` modules it does not need).
 *
 * @module
 */

import type { RuntimeAdapter } from "./types.ts";

/** Which runtime this is. */
export const runtimeName: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

let adapter: Promise<RuntimeAdapter> | undefined;

/** Returns the adapter of the current runtime. */
export function runtimeAdapter(): Promise<RuntimeAdapter> {
  return adapter ??= runtimeName === "deno"
    ? import("./deno.ts").then((m) => m.denoAdapter)
    : import("./node.ts").then((m) => m.nodeAdapter);
}

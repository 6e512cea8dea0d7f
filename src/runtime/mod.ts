/**
 * Picks the adapter of the runtime this code runs on, loading only that one
 * (so Deno Deploy never loads `node:` modules it does not need), and the I/O
 * binding its connections use:
 *
 * | binding | Deno | Node | Bun |
 * |---|---|---|---|
 * | `native` (default) | `conn.read` / `conn.write` | socket events | `Bun.listen` / `Bun.connect` handlers (TLS: node:tls events) |
 * | `streams` | `conn.readable` / `conn.writable` | `Duplex.toWeb(socket)` | `Duplex.toWeb(socket)` |
 *
 * The environment variable `WSD_BINDING=streams` selects the universal Web
 * Streams binding (the test suite runs against both); on Deno it is read only
 * when env access to it is granted already (never prompted for).
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

/** How connections are bound to the runtime's sockets. */
export type Binding = "native" | "streams";

const BINDING_VARIABLE = "WSD_BINDING";

/** The raw value of WSD_BINDING, or undefined. */
function bindingVariable(): string | undefined {
  try {
    if (runtimeName === "deno") {
      const status = Deno.permissions.querySync({ name: "env", variable: BINDING_VARIABLE });
      return status.state === "granted" ? Deno.env.get(BINDING_VARIABLE) : undefined;
    }
    const process = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
    return process?.env?.[BINDING_VARIABLE];
  } catch {
    return undefined;
  }
}

const bindingValue = bindingVariable();

/**
 * The binding in use: `WSD_BINDING` if set to `native` or `streams`, else
 * `native`. Any other value makes {@linkcode runtimeAdapter} reject.
 */
export const binding: Binding = bindingValue === "streams" ? "streams" : "native";

let adapter: Promise<RuntimeAdapter> | undefined;

/** Returns the adapter of the current runtime. */
export function runtimeAdapter(): Promise<RuntimeAdapter> {
  return adapter ??= (() => {
    if (bindingValue !== undefined && bindingValue !== "" && bindingValue !== "native" && bindingValue !== "streams") {
      return Promise.reject(
        new TypeError(`Invalid ${BINDING_VARIABLE}=${JSON.stringify(bindingValue)}: use "native" or "streams"`),
      );
    }
    if (runtimeName === "deno") return import("./deno.ts").then((m) => m.denoAdapter);
    if (runtimeName === "bun" && binding === "native") return import("./bun.ts").then((m) => m.bunAdapter);
    return import("./node.ts").then((m) => m.nodeAdapter);
  })();
}

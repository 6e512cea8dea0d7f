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

import { binding, BINDING_VARIABLE, bindingValue, runtimeName } from "./binding.ts";
import type { RuntimeAdapter } from "./types.ts";

export { binding, runtimeName } from "./binding.ts";
export type { Binding } from "./binding.ts";

let adapter: Promise<RuntimeAdapter> | undefined;

/** Returns the adapter of the current runtime. */
export function runtimeAdapter(): Promise<RuntimeAdapter> {
  return adapter ??= (() => {
    if (bindingValue !== undefined && bindingValue !== "" && bindingValue !== "native" && bindingValue !== "streams") {
      return Promise.reject(
        new TypeError(`Invalid ${BINDING_VARIABLE}=${JSON.stringify(bindingValue)}: use "native" or "streams"`),
      );
    }
    // The runtime's text decoders, zlib, payload allocator and SHA-1 go to the protocol layer once,
    // with the adapter (loaded, like it, only when a socket is wanted).
    const text = Promise.all([
      import("./text.ts").then((m) => m.installTextDecoders()),
      // Without a usable node:zlib (it is internal API there), pako stays.
      import("./zlib.ts").then((m) => m.installZlib(), () => {}),
      import("./memory.ts").then((m) => m.installPayloadAllocator(runtimeName, binding)),
      // (Deno's node:crypto hash is slower than the protocol layer's own SHA-1.)
      runtimeName === "deno" ? undefined : import("./hash.ts").then((m) => m.installAcceptHash()),
    ]);
    const loaded: Promise<RuntimeAdapter> = runtimeName === "deno"
      ? import("./deno.ts").then((m) => m.denoAdapter)
      : runtimeName === "bun" && binding === "native"
      ? import("./bun.ts").then((m) => m.bunAdapter)
      : import("./node.ts").then((m) => m.nodeAdapter);
    return Promise.all([loaded, text]).then(([loadedAdapter]) => loadedAdapter);
  })();
}

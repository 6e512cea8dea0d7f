/**
 * Which runtime this is, and which I/O binding its connections use: read once,
 * at load, by `runtimeAdapter()` in `mod.ts` and by the adapters
 * themselves (a module of its own, so that the adapters need not import
 * `mod.ts`, which loads them).
 *
 * @module
 */

/** Which runtime this is. */
export const runtimeName: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

/** How connections are bound to the runtime's sockets. */
export type Binding = "native" | "streams";

/** The environment variable that selects the binding. */
export const BINDING_VARIABLE = "WSD_BINDING";

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

/** The raw value of WSD_BINDING at load, or undefined. */
export const bindingValue: string | undefined = bindingVariable();

/**
 * The binding in use: `WSD_BINDING` if set to `native` or `streams`, else
 * `native`. Any other value makes `runtimeAdapter()` (in `mod.ts`) reject.
 */
export const binding: Binding = bindingValue === "streams" ? "streams" : "native";

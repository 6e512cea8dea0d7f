/**
 * Text decoding the runtimes do faster natively, handed down to the protocol
 * layer (which names no runtime): short ASCII messages are decoded with
 * `node:buffer`'s Latin-1 slice (its ASCII slice on Bun), which on every
 * runtime costs a fraction of a fatal `TextDecoder` call for a short string
 * (figures in bench/RESULTS.md, "Why the code is shaped this way").
 *
 * Nothing happens on import: `runtimeAdapter()` (`mod.ts`) calls
 * {@linkcode installTextDecoders} once, when it loads the runtime's adapter.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { useAsciiDecoder } from "../protocol/utf8.ts";
import type { AsciiDecoder } from "../protocol/utf8.ts";

/**
 * Which native slice of `Buffer.prototype` decodes: Bun's `asciiSlice` takes
 * a quarter less time than its `latin1Slice` for short strings, where on
 * Node and Deno the two are level or `latin1Slice` is ahead (figures in
 * bench/RESULTS.md, "Bun: small messages, where the JavaScript goes"). Both
 * give the same string for ASCII bytes, the only ones it is handed.
 */
const SLICE = typeof (globalThis as { Bun?: unknown }).Bun === "object" ? "asciiSlice" : "latin1Slice";

/** `Buffer.prototype`'s {@linkcode SLICE}, where the runtime has it and it works on any Uint8Array. */
function nativeDecoder(): AsciiDecoder | null {
  const slice = (Buffer.prototype as unknown as Record<string, unknown>)[SLICE];
  if (typeof slice !== "function") return null;
  const decode: AsciiDecoder = (bytes, start, end) => slice.call(bytes, start, end);
  try {
    return decode(new Uint8Array([0x77, 0x73, 0x64, 0x21]), 1, 3) === "sd" ? decode : null;
  } catch {
    return null;
  }
}

/** The ASCII decoder this runtime hands to the protocol layer, or `null` (then `TextDecoder` is used). */
export const asciiDecoder: AsciiDecoder | null = nativeDecoder();

/** Hands this runtime's decoders to the protocol layer (`useAsciiDecoder`). */
export function installTextDecoders(): void {
  useAsciiDecoder(asciiDecoder);
}

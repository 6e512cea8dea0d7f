/**
 * How large payload buffers are allocated, handed down to the protocol layer
 * (which names no runtime) with {@linkcode usePayloadAllocator}.
 *
 * On Bun, `new Uint8Array(n)` of a large `n` takes fresh pages from the
 * system each time (and gives them back when collected): every page of every
 * large message then costs a page fault on its first write. The memory of
 * `Buffer.allocUnsafeSlow` comes from the allocator that keeps freed memory
 * for reuse, and is not zero-filled (every byte of a payload buffer is
 * written before it is read, and its `ArrayBuffer` holds nothing else). On
 * Node and Deno the two kinds measured the same, so they keep
 * `new Uint8Array`. Measurements: bench/RESULTS.md, "Bulk messages: where the
 * time goes".
 *
 * Nothing happens on import: `runtimeAdapter()` (`mod.ts`) calls
 * {@linkcode installPayloadAllocator} once, when it loads the runtime's
 * adapter.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { usePayloadAllocator } from "../protocol/reader.ts";
import type { PayloadAllocator } from "../protocol/reader.ts";

/**
 * Payloads at least this long get the runtime's allocator; shorter ones
 * stay `new Uint8Array` (Bun's allocator keeps buffers that small anyway).
 */
export const LARGE_PAYLOAD = 1024 * 1024;

/**
 * A buffer of `length` bytes from `Buffer.allocUnsafeSlow`, as a plain
 * `Uint8Array` over an `ArrayBuffer` of exactly that length; `new
 * Uint8Array(length)` when the runtime's Buffer is not laid out that way.
 */
export function unpooledBuffer(length: number): Uint8Array {
  const buffer = Buffer.allocUnsafeSlow(length);
  if (buffer.byteOffset !== 0 || buffer.buffer.byteLength !== length) return new Uint8Array(length);
  return new Uint8Array(buffer.buffer, 0, length);
}

/** Bun's payload allocator: {@linkcode unpooledBuffer} from {@linkcode LARGE_PAYLOAD} bytes on. */
export const bunPayloadAllocator: PayloadAllocator = (length) =>
  length >= LARGE_PAYLOAD ? unpooledBuffer(length) : new Uint8Array(length);

/** Hands the payload allocator of `runtime` to the protocol layer (only Bun has its own). */
export function installPayloadAllocator(runtime: string): void {
  usePayloadAllocator(runtime === "bun" ? bunPayloadAllocator : null);
}

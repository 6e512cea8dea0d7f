/**
 * How large payload buffers are allocated, handed down to the protocol layer
 * (which names no runtime) with {@linkcode usePayloadAllocator}; and read
 * chunks freed as soon as the protocol lets go of them ({@linkcode freeChunk},
 * called by the Node and Bun transports), with the protocol told to copy large
 * frames out of them as they come ({@linkcode useEarlyCopy}).
 *
 * On Bun, `new Uint8Array(n)` of a large `n` takes memory its allocator
 * gives back to the system when collected, so every page of the next large
 * message costs a page fault on its first write. The memory of
 * `Buffer.allocUnsafeSlow` comes from the allocator that keeps more of it for
 * reuse, and is not zero-filled (every byte of a payload buffer is written
 * before it is read, and its `ArrayBuffer` holds nothing else): fewer faults
 * and more bytes per CPU second on the 1 MiB echo. From 16 MiB on the two
 * kinds measured the same (both go back to the system), and on Node and Deno
 * they measured the same at every size: those keep `new Uint8Array` (Node's
 * allocator adds young garbage to run the scavenger: {@linkcode nodePayloadAllocator}).
 * Measurements: bench/RESULTS.md, "Bulk messages: where the time goes".
 *
 * Nothing happens on import: `runtimeAdapter()` (`mod.ts`) calls
 * {@linkcode installPayloadAllocator} once, when it loads the runtime's
 * adapter.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { detachWhole, useEarlyCopy, usePayloadAllocator } from "../protocol/reader.ts";
import type { PayloadAllocator } from "../protocol/reader.ts";

/**
 * Payloads at least this long and shorter than {@linkcode HUGE_PAYLOAD} get
 * Bun's other allocator; the others stay `new Uint8Array` (zero-filled), which
 * measured as well there.
 */
export const LARGE_PAYLOAD = 1024 * 1024;
/** See {@linkcode LARGE_PAYLOAD}. */
export const HUGE_PAYLOAD = 16 * 1024 * 1024;

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

/** Bun's payload allocator: {@linkcode unpooledBuffer} from {@linkcode LARGE_PAYLOAD} to {@linkcode HUGE_PAYLOAD} bytes. */
export const bunPayloadAllocator: PayloadAllocator = (length) =>
  length >= LARGE_PAYLOAD && length < HUGE_PAYLOAD ? unpooledBuffer(length) : new Uint8Array(length);

/** Large payloads from this length on run {@linkcode nodePayloadAllocator}'s nudge. */
export const NUDGED_PAYLOAD = 64 * 1024;
/** Payload bytes per young-generation array {@linkcode nodePayloadAllocator} makes. */
export const NUDGE_EVERY = 256 * 1024;
/**
 * Slots of that array: 15 000 × 8 bytes stays below V8's largest regular
 * heap object (128 KiB), so it is made in the young generation's pages.
 */
const NUDGE_SLOTS = 15_000;
/** The payload bytes since the last array, and the last array (stored, so that no compiler drops it as unused). */
const nudge: { debt: number; array: unknown[] | null } = { debt: 0, array: null };

/**
 * Node's payload allocator: `new Uint8Array(length)`, and for every
 * {@linkcode NUDGE_EVERY} bytes of payloads of {@linkcode NUDGED_PAYLOAD} or
 * more an array of ~120 KB that is garbage at once. V8 runs its scavenger
 * (which frees dead young `ArrayBuffer`s, a message's among them) when the
 * young generation's pages fill with JavaScript objects; a server moving
 * large messages makes almost none (6 scavenges in 3 s of the 1 MiB echo),
 * so each message's buffer waited for a mark-compact, one per ~30 MiB: that
 * memory was trimmed from the heap by then, every page of the next messages'
 * buffers a page fault, and every mark-compact marked the whole heap. The
 * arrays make V8 scavenge every ~2 MiB of large payloads, whose buffers are
 * then freed young and reused warm. Not more often: a buffer that outlives
 * two scavenges (a message arriving in many reads) is promoted and waits for
 * a mark-compact again; one array per 64 KiB measured worse than per 256 KiB
 * in the build Node users run. Measurements: bench/RESULTS.md, "Fifth
 * round: Node 1 MiB".
 */
export const nodePayloadAllocator: PayloadAllocator = (length) => {
  if (length >= NUDGED_PAYLOAD) {
    nudge.debt += length;
    while (nudge.debt >= NUDGE_EVERY) {
      nudge.debt -= NUDGE_EVERY;
      nudge.array = new Array(NUDGE_SLOTS);
    }
  }
  return new Uint8Array(length);
};

/**
 * Hands the payload allocator of `runtime` to the protocol layer (Bun and
 * Node have their own), and tells it whether a read chunk's memory is reused once let
 * go of: freed ({@linkcode freeChunk}: Node's and Bun's native bindings) or
 * read into again (Deno's native binding reuses its read buffer), so that
 * large frames are copied out of chunks as they come.
 */
export function installPayloadAllocator(runtime: string, binding = "native"): void {
  usePayloadAllocator(runtime === "bun" ? bunPayloadAllocator : runtime === "node" ? nodePayloadAllocator : null);
  useEarlyCopy(binding === "native");
}

/**
 * Read chunks shorter than this are left to the collector: a chunk that
 * small is no page of memory worth giving back, and freeing it would cost an
 * object per read on the small-message path.
 */
export const FREED_CHUNK = 16 * 1024;

/**
 * Gives a read chunk's memory back to the allocator at once, by detaching its
 * `ArrayBuffer` (`transfer(0)`), instead of when a collection finds it dead:
 * the next read, or the next message's buffer, then reuses warm memory rather
 * than pages the allocator gave back to the system (each a page fault on its
 * first write). Measurements: bench/RESULTS.md, "Third round (2026-12-07):
 * freeing memory sooner".
 *
 * Only for a chunk the runtime handed over in an `ArrayBuffer` of its own
 * (exactly the chunk's bytes: Node's and Bun's socket reads are) that the
 * protocol let go of (`sink.data` returned `true`: nothing of ours keeps a
 * view on it) and that nobody else was handed: the caller checks that.
 * Anything else (a view into a larger buffer, a shared one, a short one) is
 * left alone.
 */
export function freeChunk(chunk: Uint8Array): void {
  // The length first: on Bun, reading `.buffer` of a small typed array makes
  // it an ArrayBuffer object it did not have.
  if (chunk.byteLength >= FREED_CHUNK) detachWhole(chunk);
}

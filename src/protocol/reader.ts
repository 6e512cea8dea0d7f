/**
 * The receive side's chunk queue: the chunks a transport handed over and
 * that are not parsed yet, read as one stream of bytes without joining them
 * (ws's `Receiver` keeps the same list of buffers). Frame headers are read
 * from the current chunk where they lie, or gathered from several into a
 * shared scratch; payloads are copied out once, unmasked in that copy, into
 * the buffer they are reported in. The parser (`protocol.ts`) decides when:
 * this module only moves bytes.
 *
 * @module
 */

import { maskCopy } from "./mask.ts";

const EMPTY = new Uint8Array(0);
/** Payload pieces at most this long are copied by a loop rather than by set(). */
const SMALL_COPY = 64;
/** Queued chunks beyond this many are merged (see ChunkQueue.compact). */
const MAX_QUEUED_CHUNKS = 128;
/** The size merged chunks grow to. */
const MERGED_CHUNK = 4096;
/** Bytes of a received chunk left waiting for the rest of their frame are copied up to this many. */
const TAIL_COPY = 4096;

/**
 * A data frame at least this long that arrives in chunks of at least BIG_CHUNK
 * bytes is copied out of them as they come, once an eighth of it is there (so
 * that the frame's buffer is allocated only for a peer that sent a good part
 * of it). A transport that hands each read over in a large buffer of its own
 * (Bun does) then gets that memory back early, and the bytes are copied while
 * they are in the cache: fewer page faults and more bytes per CPU second on
 * the large echo. With smaller chunks, copying at the end is better (the next
 * message's buffer reuses the memory the chunks were in), so they wait as
 * before; unless the transport reuses each chunk's memory once let go of (see
 * useEarlyCopy): then every chunk is copied as it comes, whatever its size.
 * Measurements: bench/RESULTS.md, "Why the code is shaped this way" and
 * "Third round (2026-12-07): freeing memory sooner" and "Fourth round".
 */
const EARLY_COPY = 64 * 1024;
/** See EARLY_COPY. */
const BIG_CHUNK = 256 * 1024;
/** The last chunk's length from which a large frame is copied early (see EARLY_COPY and useEarlyCopy). */
let earlyChunk = BIG_CHUNK;
/**
 * Payload bytes of a data frame that may wait uncopied: past this many, the
 * frame's bytes are copied (and unmasked) as they arrive, so that a call never
 * copies more than this plus one chunk, even for a frame of maxLength.
 */
const COPY_SLICE = 1024 * 1024;
/**
 * Header bytes that arrived split over chunks, gathered for reading: shared by
 * every connection, since they are read at once (parsing is synchronous).
 */
const headerScratch = new Uint8Array(8);

/**
 * Allocates the buffer a whole frame's payload is copied into, which may be
 * handed over as a message: `length` bytes, every one of which is written
 * before anything reads them, in an `ArrayBuffer` of exactly that length
 * (a message's `buffer` shows no other bytes).
 */
export type PayloadAllocator = (length: number) => Uint8Array;

const zeroed: PayloadAllocator = (length) => new Uint8Array(length);
let allocatePayload: PayloadAllocator = zeroed;

/**
 * Sets how payload buffers are allocated (see {@linkcode PayloadAllocator});
 * `null` restores `new Uint8Array(length)`. The runtime layer hands one down
 * where the runtime's allocator keeps large buffers that `new Uint8Array`
 * returns to the system each time (bench/RESULTS.md, "Bulk messages: where
 * the time goes").
 *
 * @example
 * ```ts ignore
 * usePayloadAllocator((length) => new Uint8Array(length)); // what `null` means too
 * ```
 */
export function usePayloadAllocator(allocator: PayloadAllocator | null): void {
  allocatePayload = allocator ?? zeroed;
}

/**
 * Says whether the transports reuse the memory of the chunks the protocol
 * lets go of (Node's and Bun's native bindings detach them, Deno's reads into
 * the same buffer again: src/runtime/memory.ts). Then a large frame is copied
 * out of chunks of any size as they come (see EARLY_COPY), so that each
 * read's memory is let go of before the next read, which reuses it instead of
 * faulting in fresh pages; otherwise only out of chunks of BIG_CHUNK bytes or
 * more.
 *
 * @example
 * ```ts ignore
 * useEarlyCopy(false); // the default
 * ```
 */
export function useEarlyCopy(freedChunks: boolean): void {
  earlyChunk = freedChunks ? 0 : BIG_CHUNK;
}

/** Buffers of ours shorter than this are left to the collector (see {@linkcode freeSpent}). */
export const FREED_SPENT = 64 * 1024;

/**
 * Gives the memory of a large buffer of ours back at once, by detaching its
 * `ArrayBuffer` (`transfer(0)`; V8 frees it, Bun's allocator reuses it),
 * instead of when a collection finds it dead: the next large buffer then
 * reuses warm memory rather than pages given back to the system (a page fault
 * each). Only for memory nothing can reach any more: a fragmented message's
 * buffer it outgrew, a large outgoing frame the transport let go of. Views
 * into a larger buffer, and buffers shorter than {@linkcode FREED_SPENT}, are
 * left alone. Measurements: bench/RESULTS.md, "Fourth round".
 *
 * @example
 * ```ts
 * import { freeSpent } from "./reader.ts";
 *
 * const spent = new Uint8Array(1 << 20);
 * freeSpent(spent);
 * if (spent.length !== 0) throw new Error("detached");
 * ```
 */
export function freeSpent(bytes: Uint8Array | ArrayBuffer): void {
  if (bytes.byteLength >= FREED_SPENT) detachWhole(bytes);
}

/**
 * Detaches the `ArrayBuffer` of `bytes` (`transfer(0)`), so that its memory
 * goes back to the allocator now, if `bytes` is all of that buffer (not a
 * view into a larger one), and it can be detached; otherwise does nothing.
 * The caller knows that nothing reads the memory any more (see
 * {@linkcode freeSpent}, and the runtime layer's `freeChunk`). Check the
 * length before calling on a hot path: on Bun, reading `.buffer` of a small
 * typed array makes it an `ArrayBuffer` object it did not have.
 *
 * @example
 * ```ts
 * import { detachWhole } from "./reader.ts";
 *
 * const whole = new Uint8Array(1024), view = new Uint8Array(1024).subarray(1);
 * detachWhole(whole);
 * detachWhole(view);
 * if (whole.length !== 0 || view.length !== 1023) throw new Error("only the whole buffer is detached");
 * ```
 */
export function detachWhole(bytes: Uint8Array | ArrayBuffer): void {
  const buffer = movableBuffer(bytes);
  if (buffer === null) return;
  try {
    buffer.transfer(0);
  } catch {
    // Not detachable (a runtime's own memory): left to the collector.
  }
}

/**
 * The `ArrayBuffer` of `bytes` if `bytes` is all of it (not a view into a
 * larger one) and it may be transferred (not shared, not resizable, on a
 * runtime with `transfer`); otherwise `null`.
 */
function movableBuffer(bytes: Uint8Array | ArrayBuffer): ArrayBuffer | null {
  const buffer = ArrayBuffer.isView(bytes) ? bytes.buffer : bytes;
  return buffer.byteLength === bytes.byteLength && buffer instanceof ArrayBuffer && !buffer.resizable &&
      typeof buffer.transfer === "function"
    ? buffer
    : null;
}

/**
 * Takes the memory of `bytes` when they are a whole `ArrayBuffer` (or all of
 * one) that can be moved: returns a view of all of that memory, now in an
 * `ArrayBuffer` of its own (`transfer()`: nothing is copied), and leaves the
 * old buffer detached (every view of it reads as empty). Returns `null`,
 * changing nothing, for anything else: a view into part of a buffer, a
 * shared or resizable buffer, one a runtime keeps attached.
 *
 * @example
 * ```ts
 * import { takeWhole } from "./reader.ts";
 *
 * const mine = new Uint8Array([1, 2, 3]);
 * const taken = takeWhole(mine);
 * if (taken?.join() !== "1,2,3" || mine.length !== 0) throw new Error("moved, not copied");
 * if (takeWhole(new Uint8Array(8).subarray(2)) !== null) throw new Error("a part is not taken");
 * ```
 */
export function takeWhole(bytes: Uint8Array): Uint8Array | null {
  const buffer = movableBuffer(bytes);
  if (buffer === null) return null;
  try {
    return new Uint8Array(buffer.transfer());
  } catch {
    return null;
  }
}

/**
 * `bytes` as a buffer nobody else holds: taken ({@linkcode takeWhole}) when
 * it can be, else a copy (and `bytes` left as they are).
 *
 * @example
 * ```ts
 * import { takeOrCopy } from "./reader.ts";
 *
 * const part = new Uint8Array(8).subarray(2);
 * if (takeOrCopy(part).buffer === part.buffer || part.length !== 6) throw new Error("a part is copied");
 * ```
 */
export function takeOrCopy(bytes: Uint8Array): Uint8Array {
  return takeWhole(bytes) ?? new Uint8Array(bytes);
}

/** A buffer for a whole frame's payload of `length` bytes (see {@linkcode usePayloadAllocator}). */
export function payloadBuffer(length: number): Uint8Array {
  return allocatePayload(length);
}

/**
 * Received bytes not parsed yet, as a queue of chunks with a byte count. The
 * fields are read by the parser's loop directly; only this class changes them.
 */
export class ChunkQueue {
  /** The chunks; those before `head` are consumed. */
  chunks: Uint8Array[] = [];
  /** Index of the current chunk. */
  head = 0;
  /** Bytes of the current chunk consumed. */
  offset = 0;
  /** Bytes queued and not consumed, over all chunks. */
  buffered = 0;
  /** The bytes of the last {@linkcode ChunkQueue.read}: a chunk, or a scratch when they crossed chunks. */
  view: Uint8Array = EMPTY;

  /** Queues a chunk (non-empty). */
  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * After a parse: drops the view (an idle connection keeps no chunk alive)
   * and merges small chunks when too many wait.
   */
  settle(): void {
    this.view = EMPTY;
    if (this.chunks.length - this.head > MAX_QUEUED_CHUNKS) this.#compact();
  }

  /**
   * After a chunk was parsed: whether the queue holds no reference to it. The
   * bytes of it that wait for the rest of their frame are copied when they
   * are few (TAIL_COPY), so that a transport may read into the same memory
   * again, and a small remainder never pins a large read buffer.
   */
  release(chunk: Uint8Array): boolean {
    if (this.buffered === 0) return true;
    const chunks = this.chunks;
    const last = chunks.length - 1;
    // Not the last queued chunk: #compact merged (copied) it.
    if (chunks[last] !== chunk) return true;
    const from = last === this.head ? this.offset : 0;
    if (chunk.length - from > TAIL_COPY) return false;
    // A copy of our own: `slice()` of a Node (or Bun) Buffer is a view.
    const tail = new Uint8Array(chunk.length - from);
    tail.set(from === 0 ? chunk : chunk.subarray(from));
    chunks[last] = tail;
    if (last === this.head) this.offset = 0;
    return true;
  }

  /** Whether the next `length` (queued) bytes lie in the current chunk. */
  contiguous(length: number): boolean {
    return this.chunks[this.head].length - this.offset >= length;
  }

  /**
   * The early-copy policy: whether the bytes of a data frame of `length`
   * payload bytes, all of it still to come or queued (some queued), should be
   * copied out now rather than when the frame is complete (see EARLY_COPY and
   * COPY_SLICE).
   */
  copyEarly(length: number): boolean {
    const buffered = this.buffered;
    return length >= EARLY_COPY &&
      ((buffered >= length >>> 3 && this.chunks[this.chunks.length - 1].length >= earlyChunk) ||
        buffered >= COPY_SLICE);
  }

  /** Forgets every queued byte. */
  clear(): void {
    this.chunks = [];
    this.head = this.offset = this.buffered = 0;
  }

  /**
   * Merges runs of small queued chunks, so that a peer trickling a large frame
   * in tiny reads cannot make the queue hold one object per byte. Chunks of
   * MERGED_CHUNK bytes or more are never merged again: each byte is copied at
   * most once here.
   */
  #compact(): void {
    const chunks = this.chunks;
    const merged: Uint8Array[] = [chunks[this.head]];
    let group: Uint8Array[] = [];
    let groupBytes = 0;
    const flush = () => {
      if (group.length === 1) merged.push(group[0]);
      else if (group.length > 1) {
        const joined = new Uint8Array(groupBytes);
        let at = 0;
        for (const c of group) {
          joined.set(c, at);
          at += c.length;
        }
        merged.push(joined);
      }
      group = [];
      groupBytes = 0;
    };
    for (let i = this.head + 1; i < chunks.length; i++) {
      const chunk = chunks[i];
      if (chunk.length >= MERGED_CHUNK) {
        flush();
        merged.push(chunk);
        continue;
      }
      group.push(chunk);
      groupBytes += chunk.length;
      if (groupBytes >= MERGED_CHUNK) flush();
    }
    flush();
    this.chunks = merged;
    this.head = 0;
  }

  /**
   * Consumes `n` (at most 8, all queued) header bytes; returns their index in
   * {@linkcode ChunkQueue.view}, which is the current chunk when they are
   * contiguous and a shared scratch otherwise.
   */
  read(n: number): number {
    const chunk = this.chunks[this.head];
    const offset = this.offset;
    this.buffered -= n;
    if (chunk.length - offset > n) {
      this.offset = offset + n;
      this.view = chunk;
      return offset;
    }
    if (chunk.length - offset === n) {
      this.view = chunk;
      this.#nextChunk();
      return offset;
    }
    for (let i = 0; i < n; i++) {
      let c = this.chunks[this.head];
      if (this.offset === c.length) {
        this.#nextChunk();
        c = this.chunks[this.head];
      }
      headerScratch[i] = c[this.offset++];
    }
    if (this.offset === this.chunks[this.head].length) this.#nextChunk();
    this.view = headerScratch;
    return 0;
  }

  /**
   * Consumes `length` bytes, which lie in the current chunk, copying them to
   * the start of `dst`, unmasked with `key` (if any), four bytes a step;
   * returns the OR of the bytes (under 0x80: all ASCII).
   */
  copyShort(dst: Uint8Array, length: number, key: Uint8Array | null): number {
    const chunk = this.chunks[this.head];
    const offset = this.offset;
    let bits = 0;
    let i = 0;
    if (key !== null) {
      const k0 = key[0], k1 = key[1], k2 = key[2], k3 = key[3];
      for (; i + 4 <= length; i += 4) {
        const a = chunk[offset + i] ^ k0, b = chunk[offset + i + 1] ^ k1;
        const c = chunk[offset + i + 2] ^ k2, d = chunk[offset + i + 3] ^ k3;
        dst[i] = a;
        dst[i + 1] = b;
        dst[i + 2] = c;
        dst[i + 3] = d;
        bits |= a | b | c | d;
      }
      for (; i < length; i++) bits |= dst[i] = chunk[offset + i] ^ key[i & 3];
    } else {
      for (; i < length; i++) bits |= dst[i] = chunk[offset + i];
    }
    this.buffered -= length;
    if (offset + length === chunk.length) this.#nextChunk();
    else this.offset = offset + length;
    return bits;
  }

  /**
   * Consumes `count` (> 0, all queued) bytes, copying them into `dst` from
   * `pos`, unmasked with `key` (if any) from byte `phase` of the key stream.
   */
  copy(dst: Uint8Array, pos: number, count: number, key: Uint8Array | null, phase: number): void {
    let remaining = count;
    this.buffered -= remaining;
    while (remaining > 0) {
      const chunk = this.chunks[this.head];
      const offset = this.offset;
      const n = Math.min(chunk.length - offset, remaining);
      if (n <= SMALL_COPY) {
        // Small pieces: a fused copy-and-unmask loop beats subarray() + set().
        if (key === null) {
          for (let i = 0; i < n; i++) dst[pos + i] = chunk[offset + i];
        } else {
          for (let i = 0; i < n; i++) {
            dst[pos + i] = chunk[offset + i] ^ key[(phase + i) & 3];
          }
        }
      } else {
        const piece = offset === 0 && n === chunk.length ? chunk : chunk.subarray(offset, offset + n);
        if (key === null) dst.set(piece, pos);
        else maskCopy(piece, dst, pos, key, phase);
      }
      pos += n;
      phase += n;
      remaining -= n;
      if (offset + n === chunk.length) this.#nextChunk();
      else this.offset = offset + n;
    }
  }

  #nextChunk(): void {
    this.offset = 0;
    if (++this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
    } else if (this.head >= 1024) {
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
  }
}

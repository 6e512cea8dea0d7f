/**
 * RFC 6455 §5.3 unmasking with WebAssembly SIMD: the XOR runs 64 bytes a step
 * (four v128.xor) in a small module's own linear memory, which the bytes are
 * copied into and back out of. The JIT does not vectorise the JavaScript word
 * loop, so for pieces of a few KiB and more the two copies and the SIMD XOR
 * together cost less than the JavaScript XOR alone (bench/RESULTS.md, "Unmasking:
 * WebAssembly SIMD against bufferutil and JavaScript"). The module is compiled
 * synchronously from the bytes below: no I/O. Where WebAssembly or its SIMD
 * instructions are missing `xorThroughSimd` is null and callers keep to
 * JavaScript.
 *
 * @module
 */

/**
 * The module, assembled with wabt's `wat2wasm` (a development tool only) from:
 *
 * ```wat
 * (module
 *   (memory (export "memory") 1)
 *   ;; dst[i] = src[i] ^ key byte (i & 3) for i < len; key is the 4 key bytes as a
 *   ;; little-endian i32 starting at the phase of src[0]. src == dst is allowed.
 *   (func (export "xor") (param $src i32) (param $dst i32) (param $len i32) (param $key i32)
 *     (local $k v128) (local $end i32)
 *     (local.set $k (i32x4.splat (local.get $key)))
 *     (local.set $end (i32.add (local.get $src) (i32.and (local.get $len) (i32.const -64))))
 *     (block $b64
 *       (loop $l64
 *         (br_if $b64 (i32.eq (local.get $src) (local.get $end)))
 *         (v128.store offset=0 (local.get $dst) (v128.xor (v128.load offset=0 (local.get $src)) (local.get $k)))
 *         (v128.store offset=16 (local.get $dst) (v128.xor (v128.load offset=16 (local.get $src)) (local.get $k)))
 *         (v128.store offset=32 (local.get $dst) (v128.xor (v128.load offset=32 (local.get $src)) (local.get $k)))
 *         (v128.store offset=48 (local.get $dst) (v128.xor (v128.load offset=48 (local.get $src)) (local.get $k)))
 *         (local.set $src (i32.add (local.get $src) (i32.const 64)))
 *         (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
 *         (br $l64)))
 *     (local.set $end (i32.add (local.get $src) (i32.and (local.get $len) (i32.const 48))))
 *     (block $b16
 *       (loop $l16
 *         (br_if $b16 (i32.eq (local.get $src) (local.get $end)))
 *         (v128.store (local.get $dst) (v128.xor (v128.load (local.get $src)) (local.get $k)))
 *         (local.set $src (i32.add (local.get $src) (i32.const 16)))
 *         (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
 *         (br $l16)))
 *     (local.set $end (i32.add (local.get $src) (i32.and (local.get $len) (i32.const 15))))
 *     (block $b1
 *       (loop $l1
 *         (br_if $b1 (i32.eq (local.get $src) (local.get $end)))
 *         (i32.store8 (local.get $dst) (i32.xor (i32.load8_u (local.get $src)) (local.get $key)))
 *         (local.set $key (i32.rotr (local.get $key) (i32.const 8)))
 *         (local.set $src (i32.add (local.get $src) (i32.const 1)))
 *         (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
 *         (br $l1)))))
 * ```
 */
// deno-fmt-ignore
const MASK_WASM: Uint8Array<ArrayBuffer> = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x04, 0x7f, 0x7f, 0x7f,
  0x7f, 0x00, 0x03, 0x02, 0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x10, 0x02, 0x06, 0x6d,
  0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x03, 0x78, 0x6f, 0x72, 0x00, 0x00, 0x0a, 0xea, 0x01,
  0x01, 0xe7, 0x01, 0x02, 0x01, 0x7b, 0x01, 0x7f, 0x20, 0x03, 0xfd, 0x11, 0x21, 0x04, 0x20, 0x00,
  0x20, 0x02, 0x41, 0x40, 0x71, 0x6a, 0x21, 0x05, 0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x20, 0x05,
  0x46, 0x0d, 0x01, 0x20, 0x01, 0x20, 0x00, 0xfd, 0x00, 0x04, 0x00, 0x20, 0x04, 0xfd, 0x51, 0xfd,
  0x0b, 0x04, 0x00, 0x20, 0x01, 0x20, 0x00, 0xfd, 0x00, 0x04, 0x10, 0x20, 0x04, 0xfd, 0x51, 0xfd,
  0x0b, 0x04, 0x10, 0x20, 0x01, 0x20, 0x00, 0xfd, 0x00, 0x04, 0x20, 0x20, 0x04, 0xfd, 0x51, 0xfd,
  0x0b, 0x04, 0x20, 0x20, 0x01, 0x20, 0x00, 0xfd, 0x00, 0x04, 0x30, 0x20, 0x04, 0xfd, 0x51, 0xfd,
  0x0b, 0x04, 0x30, 0x20, 0x00, 0x41, 0xc0, 0x00, 0x6a, 0x21, 0x00, 0x20, 0x01, 0x41, 0xc0, 0x00,
  0x6a, 0x21, 0x01, 0x0c, 0x00, 0x0b, 0x0b, 0x20, 0x00, 0x20, 0x02, 0x41, 0x30, 0x71, 0x6a, 0x21,
  0x05, 0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x20, 0x05, 0x46, 0x0d, 0x01, 0x20, 0x01, 0x20, 0x00,
  0xfd, 0x00, 0x04, 0x00, 0x20, 0x04, 0xfd, 0x51, 0xfd, 0x0b, 0x04, 0x00, 0x20, 0x00, 0x41, 0x10,
  0x6a, 0x21, 0x00, 0x20, 0x01, 0x41, 0x10, 0x6a, 0x21, 0x01, 0x0c, 0x00, 0x0b, 0x0b, 0x20, 0x00,
  0x20, 0x02, 0x41, 0x0f, 0x71, 0x6a, 0x21, 0x05, 0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x20, 0x05,
  0x46, 0x0d, 0x01, 0x20, 0x01, 0x20, 0x00, 0x2d, 0x00, 0x00, 0x20, 0x03, 0x73, 0x3a, 0x00, 0x00,
  0x20, 0x03, 0x41, 0x08, 0x78, 0x21, 0x03, 0x20, 0x00, 0x41, 0x01, 0x6a, 0x21, 0x00, 0x20, 0x01,
  0x41, 0x01, 0x6a, 0x21, 0x01, 0x0c, 0x00, 0x0b, 0x0b, 0x0b,
]);

/**
 * The exports of an instance of the module above.
 *
 * @example
 * ```ts
 * import { instantiateMaskKernel, type MaskKernel } from "./mask_simd.ts";
 *
 * const kernel: MaskKernel | null = instantiateMaskKernel();
 * if (kernel !== null && kernel.memory.buffer.byteLength !== 65536) throw new Error("one page");
 * ```
 */
export interface MaskKernel {
  /** The module's memory: one 64 KiB page, never grown. */
  memory: WebAssembly.Memory;
  /**
   * XORs `len` bytes at `src` into `dst` (which may equal `src`) of the
   * memory, with `key`: the four key bytes from the phase of `src`'s first
   * byte, as a little-endian 32-bit word.
   */
  xor(src: number, dst: number, len: number, key: number): void;
}

/**
 * A fresh instance of the module above, with its own memory, or null where the runtime has no
 * WebAssembly or rejects its SIMD instructions.
 *
 * @example
 * ```ts
 * import { instantiateMaskKernel } from "./mask_simd.ts";
 *
 * const kernel = instantiateMaskKernel();
 * if (kernel !== null) {
 *   const memory = new Uint8Array(kernel.memory.buffer);
 *   memory.set([0x7f, 0x9f, 0x4d, 0x51, 0x58]);
 *   kernel.xor(0, 0, 5, 0x3d21fa37); // the key 37 fa 21 3d
 *   if (new TextDecoder().decode(memory.subarray(0, 5)) !== "Hello") throw new Error("RFC 6455 §5.7");
 * }
 * ```
 */
export function instantiateMaskKernel(): MaskKernel | null {
  if (typeof WebAssembly !== "object") return null;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(MASK_WASM));
    return instance.exports as unknown as MaskKernel;
  } catch {
    // A CompileError: no SIMD here.
    return null;
  }
}

/** Bytes per copy into the module's memory: all of its one page. */
const BLOCK = 65536;
const kernel = instantiateMaskKernel();
const memory = kernel === null ? null : new Uint8Array(kernel.memory.buffer);

function xorBlocks(src: Uint8Array, dst: Uint8Array, pos: number, key: number): void {
  const xor = kernel!.xor, mem = memory!;
  const length = src.length;
  for (let done = 0; done < length; done += BLOCK) {
    const n = Math.min(BLOCK, length - done);
    mem.set(n === length ? src : src.subarray(done, done + n), 0);
    // BLOCK is a multiple of 4: every block starts at the same key phase.
    xor(0, 0, n, key);
    dst.set(n === BLOCK ? mem : mem.subarray(0, n), pos + done);
  }
}

/**
 * Writes `src` XOR the key stream into `dst` from byte `pos` (`src` may be
 * `dst.subarray(pos, …)` itself), `key` being the four key bytes from the
 * phase of `src[0]` as a little-endian 32-bit word; null where the runtime
 * cannot run the SIMD module.
 *
 * @example
 * ```ts
 * import { xorThroughSimd } from "./mask_simd.ts";
 *
 * const out = new Uint8Array(5);
 * if (xorThroughSimd !== null) {
 *   xorThroughSimd(new Uint8Array([0x7f, 0x9f, 0x4d, 0x51, 0x58]), out, 0, 0x3d21fa37);
 *   if (new TextDecoder().decode(out) !== "Hello") throw new Error("RFC 6455 §5.7");
 * }
 * ```
 */
export const xorThroughSimd: ((src: Uint8Array, dst: Uint8Array, pos: number, key: number) => void) | null =
  kernel === null ? null : xorBlocks;

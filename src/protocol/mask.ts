/**
 * RFC 6455 §5.3 masking: XOR of the payload with a 4-byte key, through the
 * WebAssembly SIMD kernel for large pieces, else a 32-bit word at a time where
 * the buffer's alignment allows; and a pooled source of random keys.
 *
 * @module
 */
import { xorThroughSimd } from "./mask_simd.ts";

/** Below this many bytes a plain byte loop beats building a word view. */
const WORD_THRESHOLD = 96;
/**
 * From this many bytes the SIMD kernel, copies in and out included, beats the
 * word loop on all three runtimes; below it the call and copies cost more.
 */
const SIMD_THRESHOLD = 2048;

/** The four key bytes from `phase` as a little-endian 32-bit word, as the SIMD kernel takes them. */
function keyWordAt(key: Uint8Array, phase: number): number {
  return key[phase & 3] | (key[(phase + 1) & 3] << 8) | (key[(phase + 2) & 3] << 16) |
    (key[(phase + 3) & 3] << 24);
}

const keyScratch = new Uint8Array(4);
const keyWord = new Uint32Array(keyScratch.buffer);

/**
 * XORs `data` in place with `key`, as if `data` started `phase` bytes into the
 * masked payload (so a payload that arrives in pieces is unmasked piece by piece
 * with the running offset). Masking and unmasking are the same operation.
 *
 * @param data The bytes to (un)mask, changed in place.
 * @param key The 4-byte masking key.
 * @param phase How many payload bytes came before `data`.
 *
 * @example
 * ```ts
 * import { maskInPlace } from "./mask.ts";
 *
 * const data = new Uint8Array([0x7f, 0x9f, 0x4d, 0x51, 0x58]);
 * maskInPlace(data, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]));
 * if (new TextDecoder().decode(data) !== "Hello") throw new Error("RFC 6455 §5.7's example");
 * ```
 */
export function maskInPlace(
  data: Uint8Array,
  key: Uint8Array,
  phase = 0,
): void {
  const length = data.length;
  const k0 = key[0], k1 = key[1], k2 = key[2], k3 = key[3];
  if ((k0 | k1 | k2 | k3) === 0) return;
  if (length >= SIMD_THRESHOLD && xorThroughSimd !== null) {
    xorThroughSimd(data, data, 0, keyWordAt(key, phase));
    return;
  }
  let i = 0;
  if (length >= WORD_THRESHOLD) {
    // Bytes up to the first 4-byte boundary of the underlying buffer.
    const lead = (4 - (data.byteOffset & 3)) & 3;
    for (; i < lead; i++) data[i] ^= key[(phase + i) & 3];
    const p = phase + i;
    keyScratch[0] = key[p & 3];
    keyScratch[1] = key[(p + 1) & 3];
    keyScratch[2] = key[(p + 2) & 3];
    keyScratch[3] = key[(p + 3) & 3];
    const word = keyWord[0];
    const words = (length - i) >>> 2;
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] ^= word;
    i += words << 2;
  }
  for (; i < length; i++) data[i] ^= key[(phase + i) & 3];
}

/**
 * Copies `src` into `dst` from byte `pos`, masked with `key` as if `src`
 * started `phase` bytes into the masked payload: one pass through the SIMD
 * kernel for large pieces instead of a copy and then an XOR in place.
 *
 * @param src The bytes to (un)mask; not changed.
 * @param dst Where the result goes; must have room for `src` from `pos`.
 * @param pos Where in `dst` the result starts.
 * @param key The 4-byte masking key.
 * @param phase How many payload bytes came before `src`.
 *
 * @example
 * ```ts
 * import { maskCopy } from "./mask.ts";
 *
 * const out = new Uint8Array(6);
 * maskCopy(new Uint8Array([0x7f, 0x9f, 0x4d, 0x51, 0x58]), out, 1, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]));
 * if (new TextDecoder().decode(out.subarray(1)) !== "Hello") throw new Error("RFC 6455 §5.7's example");
 * ```
 */
export function maskCopy(
  src: Uint8Array,
  dst: Uint8Array,
  pos: number,
  key: Uint8Array,
  phase = 0,
): void {
  if (src.length >= SIMD_THRESHOLD && xorThroughSimd !== null) {
    xorThroughSimd(src, dst, pos, keyWordAt(key, phase));
    return;
  }
  dst.set(src, pos);
  maskInPlace(dst.subarray(pos, pos + src.length), key, phase);
}

/** How many keys one refill of the random pool provides. */
const POOL_KEYS = 1024;
let pool = new Uint8Array(0);
let poolOffset = 0;

/**
 * Returns a fresh random 4-byte masking key (RFC 6455 §5.3: "derived from a
 * strong source of entropy"). Keys come from a pool filled by
 * `crypto.getRandomValues`, so a key costs no system call; the returned view is
 * never changed afterwards.
 *
 * @example
 * ```ts
 * import { randomMaskKey } from "./mask.ts";
 *
 * const key = randomMaskKey(); // Uint8Array(4)
 * if (key.length !== 4) throw new Error("four bytes");
 * ```
 */
export function randomMaskKey(): Uint8Array {
  if (poolOffset >= pool.length) {
    pool = new Uint8Array(POOL_KEYS * 4);
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  // A view: the pool is never written again once filled (a refill makes a new one).
  const key = pool.subarray(poolOffset, poolOffset + 4);
  poolOffset += 4;
  return key;
}

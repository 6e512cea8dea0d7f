/**
 * Unmasking variants, one process per runtime, µs per MiB (median of 7 samples):
 *
 *     deno run -A bench/micro/unmask_bench.ts
 *     node bench/micro/unmask_bench.ts
 *     bun bench/micro/unmask_bench.ts
 *
 * The copying variants read a source that starts 2 bytes past a 4-byte
 * boundary into an aligned destination, as ChunkQueue.copy does for a large
 * masked frame (its payload starts 14 bytes into the first chunk).
 *
 * @module
 */
import { createRequire } from "node:module";
import { maskCopy, maskInPlace } from "../../src/protocol/mask.ts";
import { instantiateMaskKernel } from "../../src/protocol/mask_simd.ts";

const require = createRequire(import.meta.url);
// deno-lint-ignore no-explicit-any
let bufferutil: any = null;
try {
  bufferutil = require("../../tools/rt/node_modules/bufferutil");
  // Without the native addon bufferutil falls back to a JS loop: not what is measured here.
  if (bufferutil.mask === require("../../tools/rt/node_modules/bufferutil/fallback.js").mask) bufferutil = null;
} catch {
  bufferutil = null;
}

const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
const SIZES = [256, 512, 1 << 10, 2 << 10, 4 << 10, 16 << 10, 64 << 10, 1 << 20, 16 << 20];
const scratch = new Uint8Array(4);
const scratchWord = new Int32Array(scratch.buffer);

function keyWordAt(key: Uint8Array, phase: number): number {
  scratch[0] = key[phase & 3];
  scratch[1] = key[(phase + 1) & 3];
  scratch[2] = key[(phase + 2) & 3];
  scratch[3] = key[(phase + 3) & 3];
  return scratchWord[0];
}

function byteLoop(src: Uint8Array, dst: Uint8Array, key: Uint8Array, phase: number): void {
  for (let i = 0; i < src.length; i++) dst[i] = src[i] ^ key[(phase + i) & 3];
}

/** maskInPlace before the SIMD kernel: 32-bit words through a Uint32Array view. */
function maskInPlaceJs(data: Uint8Array, key: Uint8Array, phase: number): void {
  const length = data.length;
  let i = 0;
  if (length >= 96) {
    const lead = (4 - (data.byteOffset & 3)) & 3;
    for (; i < lead; i++) data[i] ^= key[(phase + i) & 3];
    const word = keyWordAt(key, phase + i) >>> 0;
    const words = (length - i) >>> 2;
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] ^= word;
    i += words << 2;
  }
  for (; i < length; i++) data[i] ^= key[(phase + i) & 3];
}

/** maskInPlace with an Int32Array view (reads never leave the int32 range). */
function maskInPlaceI32(data: Uint8Array, key: Uint8Array, phase: number): void {
  const length = data.length;
  let i = 0;
  const lead = length < 8 ? length : (4 - (data.byteOffset & 3)) & 3;
  for (; i < lead; i++) data[i] ^= key[(phase + i) & 3];
  const word = keyWordAt(key, phase + i);
  const words = (length - i) >>> 2;
  const view = new Int32Array(data.buffer, words === 0 ? 0 : data.byteOffset + i, words);
  for (let w = 0; w < words; w++) view[w] ^= word;
  i += words << 2;
  for (; i < length; i++) data[i] ^= key[(phase + i) & 3];
}

/** maskInPlace, four words a step. */
function maskInPlaceI32x4(data: Uint8Array, key: Uint8Array, phase: number): void {
  const length = data.length;
  let i = 0;
  const lead = length < 8 ? length : (4 - (data.byteOffset & 3)) & 3;
  for (; i < lead; i++) data[i] ^= key[(phase + i) & 3];
  const word = keyWordAt(key, phase + i);
  const words = (length - i) >>> 2;
  const view = new Int32Array(data.buffer, words === 0 ? 0 : data.byteOffset + i, words);
  let w = 0;
  for (; w + 4 <= words; w += 4) {
    view[w] ^= word;
    view[w + 1] ^= word;
    view[w + 2] ^= word;
    view[w + 3] ^= word;
  }
  for (; w < words; w++) view[w] ^= word;
  i += words << 2;
  for (; i < length; i++) data[i] ^= key[(phase + i) & 3];
}

/** In place through a BigUint64Array view (8-byte aligned part). */
function maskInPlace64(data: Uint8Array, key: Uint8Array, phase: number): void {
  const length = data.length;
  let i = 0;
  const lead = length < 16 ? length : (8 - (data.byteOffset & 7)) & 7;
  for (; i < lead; i++) data[i] ^= key[(phase + i) & 3];
  const w32 = BigInt(keyWordAt(key, phase + i) >>> 0);
  const word = w32 | (w32 << 32n);
  const words = (length - i) >>> 3;
  const view = new BigUint64Array(data.buffer, words === 0 ? 0 : data.byteOffset + i, words);
  for (let w = 0; w < words; w++) view[w] ^= word;
  i += words << 3;
  for (; i < length; i++) data[i] ^= key[(phase + i) & 3];
}

/**
 * One pass: reads source words and writes destination words; when the two
 * are not equally aligned, each destination word is a funnel shift of two
 * source words.
 */
function copyMaskWords(src: Uint8Array, dst: Uint8Array, key: Uint8Array, phase: number): void {
  const n = src.length;
  let i = 0;
  const lead = Math.min((4 - (dst.byteOffset & 3)) & 3, n);
  for (; i < lead; i++) dst[i] = src[i] ^ key[(phase + i) & 3];
  const words = (n - i) >>> 2;
  if (words > 1) {
    const word = keyWordAt(key, phase + i);
    const out = new Int32Array(dst.buffer, dst.byteOffset + i, words);
    const at = src.byteOffset + i;
    const shift = at & 3;
    if (shift === 0) {
      const from = new Int32Array(src.buffer, at, words);
      for (let w = 0; w < words; w++) out[w] = from[w] ^ word;
    } else {
      // Source words from the boundary below `at`; the last destination word is left to the byte loop.
      const from = new Int32Array(src.buffer, at - shift, words);
      const lo = shift << 3, hi = 32 - lo;
      let a = from[0];
      for (let w = 0; w < words - 1; w++) {
        const b = from[w + 1];
        out[w] = ((a >>> lo) | (b << hi)) ^ word;
        a = b;
      }
      i += 4 * (words - 1);
      for (; i < n; i++) dst[i] = src[i] ^ key[(phase + i) & 3];
      return;
    }
    i += words << 2;
  }
  for (; i < n; i++) dst[i] = src[i] ^ key[(phase + i) & 3];
}

const wasm = instantiateMaskKernel();
const wasmBytes = wasm === null ? null : new Uint8Array(wasm.memory.buffer);

/** Copies blocks of `block` bytes into wasm memory, XORs them there, copies them out to dst. */
function wasmBlocks(block: number) {
  return (src: Uint8Array, dst: Uint8Array, key: Uint8Array, phase: number): void => {
    const k = wasm!, mem = wasmBytes!;
    const n = src.length;
    const word = keyWordAt(key, phase); // block is a multiple of 4: the phase stays
    for (let o = 0; o < n; o += block) {
      const m = Math.min(block, n - o);
      mem.set(src.subarray(o, o + m), 0);
      k.xor(0, 0, m, word);
      dst.set(mem.subarray(0, m), o);
    }
  };
}

type Variant = (src: Uint8Array, dst: Uint8Array, key: Uint8Array, phase: number) => void;
const variants: [string, boolean, Variant][] = [
  // [name, in place (src === dst), function]
  ["(a) maskInPlace before (JS words), in place", true, (_s, d, k, p) => maskInPlaceJs(d, k, p)],
  ["(a') Int32Array in place", true, (_s, d, k, p) => maskInPlaceI32(d, k, p)],
  ["(a'') Int32Array x4 in place", true, (_s, d, k, p) => maskInPlaceI32x4(d, k, p)],
  ["(a''') BigUint64Array in place", true, (_s, d, k, p) => maskInPlace64(d, k, p)],
  ["(b) set + maskInPlace before (reader.ts before)", false, (s, d, k, p) => {
    d.set(s, 0);
    maskInPlaceJs(d.subarray(0, s.length), k, p);
  }],
  ["(b') set + BigUint64Array in place", false, (s, d, k, p) => {
    d.set(s);
    maskInPlace64(d, k, p);
  }],
  ["(b0) set alone (no XOR)", false, (s, d) => d.set(s)],
  ["(e) JS one pass, Int32 words", false, copyMaskWords],
];
/** bufferutil has no phase argument: the key is rotated instead. */
const rotated = new Uint8Array(4);
function keyAt(key: Uint8Array, phase: number): Uint8Array {
  for (let i = 0; i < 4; i++) rotated[i] = key[(phase + i) & 3];
  return rotated;
}
variants.push(["(A) maskInPlace now, in place", true, (_s, d, k, p) => maskInPlace(d, k, p)]);
variants.push(["(B) maskCopy now (reader.ts now)", false, (s, d, k, p) => maskCopy(s, d, 0, k, p)]);
if (bufferutil !== null) {
  variants.push(["(c) bufferutil.unmask, in place", true, (_s, d, k, p) => bufferutil.unmask(d, keyAt(k, p))]);
  variants.push(["(c') bufferutil.mask, copy", false, (s, d, k, p) => bufferutil.mask(s, keyAt(k, p), d, 0, s.length)]);
}
if (wasm !== null) {
  for (const block of [4096, 16384, 65536]) {
    variants.push([`(d) wasm in/xor/out ${block >> 10} KiB blocks`, false, wasmBlocks(block)]);
  }
  variants.push(["(d') wasm in/xor/out 64 KiB blocks, in place", true, wasmBlocks(65536)]);
}

function check(name: string, f: Variant, inPlace: boolean): void {
  for (const n of [0, 1, 3, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100, 255, 1000, 70000]) {
    for (let phase = 0; phase < 4; phase++) {
      const back = new Uint8Array(n + 8);
      for (let i = 0; i < back.length; i++) back[i] = (i * 131 + 7) & 255;
      const src = back.subarray(2, 2 + n);
      const want = new Uint8Array(n);
      byteLoop(src, want, KEY, phase);
      const dst = inPlace ? src : new Uint8Array(n);
      f(src, dst, KEY, phase);
      for (let i = 0; i < n; i++) {
        if (dst[i] !== want[i]) throw new Error(`${name}: wrong byte ${i} of ${n}, phase ${phase}`);
      }
    }
  }
}

const runtime = typeof Deno !== "undefined"
  ? `Deno ${Deno.version.deno}`
  // deno-lint-ignore no-explicit-any
  : (globalThis as any).Bun !== undefined
  // deno-lint-ignore no-explicit-any
  ? `Bun ${(globalThis as any).Bun.version}`
  // deno-lint-ignore no-explicit-any
  : `Node ${(globalThis as any).process.version}`;
console.log(
  `${runtime}: WebAssembly SIMD module ${wasm === null ? "REJECTED" : "valid"}, ` +
    `bufferutil ${bufferutil === null ? "not loaded" : "native"}`,
);

for (const [name, inPlace, f] of variants) if (!name.startsWith("(b0)")) check(name, f, inPlace);

const pureKernel = instantiateMaskKernel();
const header = [
  "variant",
  ...SIZES.map((s) => s >= 1 << 20 ? `${s >> 20} MiB` : s >= 1024 ? `${s >> 10} KiB` : `${s} B`),
];
const rows: string[][] = [];
const results = new Map<string, number[]>();
for (const size of SIZES) {
  const back = new Uint8Array(size + 8);
  for (let i = 0; i < back.length; i++) back[i] = i & 255;
  const src = back.subarray(2, 2 + size);
  const dst = new Uint8Array(size);
  const all: [string, () => void][] = variants.map(([name, inPlace, f]) =>
    [name, inPlace ? () => f(dst, dst, KEY, 1) : () => f(src, dst, KEY, 1)] as [string, () => void]
  );
  if (pureKernel !== null) {
    // The kernel alone on bytes already in wasm memory: the bound no copy-in/out variant can beat.
    const pages = Math.ceil((2 * size) / 65536) + 1;
    const have = pureKernel.memory.buffer.byteLength / 65536;
    if (pages > have) pureKernel.memory.grow(pages - have);
    all.push([`(d0) wasm kernel alone, in wasm memory`, () => pureKernel.xor(0, size, size, 0x3d21fa37)]);
  }
  const iterations = Math.max(1, Math.round((32 << 20) / size));
  for (const [name, run] of all) {
    for (let i = 0; i < iterations; i++) run(); // warm-up
    const samples: number[] = [];
    for (let s = 0; s < 7; s++) {
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) run();
      samples.push(((performance.now() - t0) * 1000) / (iterations * size / (1 << 20)));
    }
    samples.sort((x, y) => x - y);
    if (!results.has(name)) results.set(name, []);
    results.get(name)!.push(samples[3]);
  }
}
for (const [name, us] of results) rows.push([name, ...us.map((u) => u.toFixed(0))]);
console.log(`| ${header.join(" | ")} |`);
console.log(`| --- |${SIZES.map(() => " ---: |").join("")}`);
for (const row of rows) console.log(`| ${row.join(" | ")} |`);

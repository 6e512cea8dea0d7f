/**
 * The cost of a message buffer's first touch: allocate a buffer, fill it with
 * `set()` from 64 KiB chunks (as a message is assembled from reads), keep the
 * last two alive (two messages in flight), again and again. Prints ms per
 * buffer and minor page faults per MiB (Linux), for one way of allocating.
 *
 *     node bench/micro/fresh_memory.ts <u8|arraybuffer|unsafe|unsafe-slow|resizable|bun-unsafe> [size] [rounds]
 *     (or deno run -A …, bun …)
 *
 * Run each kind in a process of its own: allocators adapt, so a kind measured
 * after another inherits its memory.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import process from "node:process";

const kind = process.argv[2] ?? "u8";
const size = Number(process.argv[3] ?? 16 << 20);
const rounds = Number(process.argv[4] ?? 20);
const allocate: Record<string, (n: number) => Uint8Array> = {
  u8: (n) => new Uint8Array(n),
  arraybuffer: (n) => new Uint8Array(new ArrayBuffer(n)),
  unsafe: (n) => Buffer.allocUnsafe(n),
  "unsafe-slow": (n) => new Uint8Array(Buffer.allocUnsafeSlow(n).buffer, 0, n),
  // Bun only: Bun.allocUnsafe.
  "bun-unsafe": (n) => (globalThis as unknown as { Bun: { allocUnsafe(n: number): Uint8Array } }).Bun.allocUnsafe(n),
  // A resizable ArrayBuffer of the size.
  resizable: (n) => new Uint8Array(new ArrayBuffer(n, { maxByteLength: n })),
};
const make = allocate[kind];
if (make === undefined) throw new TypeError(`Unknown kind ${kind}: expected ${Object.keys(allocate).join(", ")}`);
const chunks: Uint8Array[] = [];
for (let at = 0; at < size; at += 65536) chunks.push(new Uint8Array(Math.min(65536, size - at)).fill(at & 0xff));
const faults = () => Number(readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")[7]);

const alive: Uint8Array[] = [];
let start = 0, f0 = 0;
for (let i = 0; i < rounds + 5; i++) {
  if (i === 5) {
    start = performance.now();
    f0 = faults();
  }
  const buffer = make(size);
  let at = 0;
  for (const chunk of chunks) {
    buffer.set(chunk, at);
    at += chunk.length;
  }
  alive.push(buffer);
  if (alive.length > 2) alive.shift();
  // Other short-lived allocations, as the socket's reads are.
  for (let j = 0; j < 16; j++) new Uint8Array(65536)[0] = 1;
}
const ms = (performance.now() - start) / rounds;
console.log(
  `${kind}, ${size >> 10} KiB: ${ms.toFixed(2)} ms per buffer, ` +
    `${((faults() - f0) / rounds / (size / 2 ** 20)).toFixed(0)} faults per MiB`,
);

/**
 * Whether detaching a read chunk once its bytes are copied gives its memory
 * back at once, so that the next read (or message) reuses warm memory instead
 * of faulting: the server side of a bulk echo without sockets. Each message of
 * `size` bytes arrives as fresh chunks of `chunk` bytes (a fresh `ArrayBuffer`
 * per read, filled, as Node's and Bun's sockets hand them over), is copied
 * into a fresh message buffer, and the last two messages stay alive (two in
 * flight). Prints ms and minor page faults (Linux) per MiB.
 *
 *     node bench/micro/detach_chunks.ts <keep|detach|early|early-detach> [size] [chunk] [MiB]
 *     (or deno run -A …, bun …)
 *
 * - keep: chunks queued until the message is complete, copied, left to the GC.
 * - detach: the same, then each chunk detached (`ArrayBuffer.prototype.transfer(0)`).
 * - early: each chunk copied into the message buffer as it arrives, left to the GC.
 * - early-detach: each chunk copied as it arrives, then detached.
 *
 * Run each way in a process of its own: allocators adapt.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";

const way = process.argv[2] ?? "keep";
const size = Number(process.argv[3] ?? 1 << 20);
const chunkSize = Number(process.argv[4] ?? 65536);
const total = Number(process.argv[5] ?? 2048) * 2 ** 20;
if (!["keep", "detach", "early", "early-detach"].includes(way)) throw new TypeError(`Unknown way ${way}`);
const detach = way.endsWith("detach");
const early = way.startsWith("early");

const faults = () => Number(readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")[7]);
const source = new Uint8Array(chunkSize).fill(7);
const free = (chunk: Uint8Array) => (chunk.buffer as ArrayBuffer).transfer(0);

const alive: Uint8Array[] = [];
let sink = 0;
function message(): void {
  const queued: Uint8Array[] = [];
  let buffer: Uint8Array | null = early ? new Uint8Array(size) : null;
  for (let at = 0; at < size; at += chunkSize) {
    // A read: a fresh buffer the runtime fills (the kernel's copy).
    const chunk = new Uint8Array(Math.min(chunkSize, size - at));
    chunk.set(source.subarray(0, chunk.length));
    if (early) {
      buffer!.set(chunk, at);
      if (detach) free(chunk);
    } else queued.push(chunk);
  }
  if (!early) {
    buffer = new Uint8Array(size);
    let at = 0;
    for (const chunk of queued) {
      buffer.set(chunk, at);
      at += chunk.length;
      if (detach) free(chunk);
    }
  }
  sink += buffer![size - 1];
  alive.push(buffer!);
  if (alive.length > 2) alive.shift();
}

const warm = Math.max(4, Math.ceil((64 << 20) / size));
for (let i = 0; i < warm; i++) message();
const rounds = Math.max(1, Math.round(total / size));
const f0 = faults();
const t0 = performance.now();
for (let i = 0; i < rounds; i++) message();
const ms = performance.now() - t0;
const mib = (rounds * size) / 2 ** 20;
console.log(
  `${way}, ${size >> 10} KiB in ${chunkSize >> 10} KiB chunks: ${(ms / mib * 1000).toFixed(0)} µs per MiB, ` +
    `${((faults() - f0) / mib).toFixed(1)} faults per MiB (${sink > 0 ? "ok" : "?"})`,
);

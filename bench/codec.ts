/**
 * permessage-deflate codecs side by side (issue 17): the one we use (pako 3,
 * through `src/codec/`), fflate 0.8 (streaming `Deflate`/`Inflate` with a
 * sync flush) and the runtime's own zlib (`node:zlib` streaming, asynchronous,
 * the way ws drives it: one `DeflateRaw`/`InflateRaw` per connection, a
 * `Z_SYNC_FLUSH` per message). All with context takeover, window 15, level 6
 * for deflate, memLevel 8, the same messages in one process:
 *
 * - **bitmap 16 KiB**: 1000 consecutive 16 KiB slices of a slowly varying
 *   image (the Autobahn 12.x corpus shape), MB/s of message bytes;
 * - **JSON 1.1 KB**: 5000 chat-like messages, µs per message (compress and
 *   inflate, the per-small-message cost);
 * - **heap per context**: heap growth for 200 contexts that each compressed
 *   and inflated one 1.1 KB message (zlib's window and state; pako and
 *   fflate keep them on the JavaScript heap, node:zlib in native memory, so
 *   RSS growth is shown too).
 *
 * Every round trip is checked byte for byte (a codec that corrupts is not a
 * candidate). Run: `node bench/codec.ts`, `deno run -A bench/codec.ts`,
 * `bun bench/codec.ts`. Results: bench/RESULTS.md.
 *
 * @module
 */
import zlib from "node:zlib";
import process from "node:process";
import { Buffer } from "node:buffer";
import * as fflate from "fflate";
import { Deflater } from "../src/codec/deflate.ts";
import { Inflater } from "../src/codec/inflate.ts";

const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

let v = 0, seed = 1;
const image = new Uint8Array(512 * 1024).map(() => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  if ((seed >>> 16) % 3 === 0) v = (v + ((seed >>> 8) % 9) - 4) & 0xff;
  return v;
});
const bitmaps = Array.from({ length: 1000 }, (_, k) => {
  const at = (k * 16384) % image.length;
  return image.subarray(at, at + 16384);
});
const jsons = Array.from({ length: 5000 }, (_, k) =>
  new TextEncoder().encode(JSON.stringify({
    type: "chat",
    id: k,
    user: `user${k % 37}`,
    text: "lorem ipsum dolor sit amet ".repeat(40) + k,
  })));

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One codec: a compress and an inflate per connection, with context takeover. */
interface Pair {
  compress(message: Uint8Array): Promise<Uint8Array> | Uint8Array;
  inflate(payload: Uint8Array): Promise<Uint8Array> | Uint8Array;
}

const codecs: Record<string, () => Pair> = {
  "pako 3 (ours, src/codec)": () => {
    const d = new Deflater({ contextTakeover: true, level: 6 });
    const i = new Inflater({ contextTakeover: true });
    return { compress: (m) => d.compress(m).slice(), inflate: (p) => i.inflate(p, 1 << 30) };
  },
  "fflate 0.8": () => {
    let out: Uint8Array[] = [];
    const d = new fflate.Deflate({ level: 6, mem: 8 }, (chunk) => out.push(chunk));
    let got: Uint8Array[] = [];
    const i = new fflate.Inflate((chunk) => got.push(chunk));
    const join = (parts: Uint8Array[]) => {
      if (parts.length === 1) return parts[0];
      const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) (all.set(p, at), at += p.length);
      return all;
    };
    return {
      compress(m) {
        out = [];
        d.push(m);
        d.flush();
        // fflate's flush() ends the block but emits no empty stored block
        // (no 00 00 ff ff for RFC 7692 to strip): framing it for the wire
        // would take bit-level work of our own. Measured as it comes.
        return join(out);
      },
      inflate(p) {
        got = [];
        i.push(p);
        return join(got);
      },
    };
  },
  "node:zlib streaming (async, as ws)": () => {
    const d = zlib.createDeflateRaw({ level: 6, memLevel: 8, windowBits: 15 });
    const i = zlib.createInflateRaw({ windowBits: 15 });
    const drain = (stream: zlib.DeflateRaw | zlib.InflateRaw, input: Uint8Array) =>
      new Promise<Uint8Array>((resolve, reject) => {
        const parts: Buffer[] = [];
        const onData = (chunk: Buffer) => parts.push(chunk);
        stream.on("data", onData);
        stream.once("error", reject);
        stream.write(input);
        stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          stream.off("data", onData);
          stream.off("error", reject);
          resolve(Buffer.concat(parts));
        });
      });
    return {
      async compress(m) {
        const all = await drain(d, m);
        return all.subarray(0, all.length - 4);
      },
      async inflate(p) {
        return await drain(i, Buffer.concat([p, TAIL]));
      },
    };
  },
};

const gc = (globalThis as { gc?: () => void }).gc ??
  (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc.bind(null, true);

async function measure(name: string, make: () => Pair): Promise<string[]> {
  // bitmap: compress all, then inflate all as one stream
  let pair = make();
  let t = performance.now();
  const packed: Uint8Array[] = [];
  for (const m of bitmaps) packed.push(await pair.compress(m));
  const tCompress = performance.now() - t;
  t = performance.now();
  for (let k = 0; k < packed.length; k++) {
    if (!same(await pair.inflate(packed[k]), bitmaps[k])) throw new Error(`${name}: bitmap ${k} corrupted`);
  }
  const tInflate = performance.now() - t;
  const mb = 16384 * bitmaps.length / 1e6;
  const ratio = packed.reduce((n, p) => n + p.length, 0) / (16384 * bitmaps.length);
  // small JSON: per message, both ways
  pair = make();
  t = performance.now();
  for (const m of jsons) {
    const back = await pair.inflate(await pair.compress(m));
    if (!same(back, m)) throw new Error(`${name}: JSON corrupted (${back.length} of ${m.length} bytes)`);
  }
  const tSmall = (performance.now() - t) / jsons.length * 1000;
  // memory per context
  gc?.();
  const heap0 = process.memoryUsage().heapUsed, rss0 = process.memoryUsage().rss;
  const keep: Pair[] = [];
  for (let k = 0; k < 200; k++) {
    const p = make();
    await p.inflate(await p.compress(jsons[k]));
    keep.push(p);
  }
  gc?.();
  const heap = (process.memoryUsage().heapUsed - heap0) / 200 / 1024;
  const rss = (process.memoryUsage().rss - rss0) / 200 / 1024;
  if (keep.length !== 200) throw new Error("unreachable");
  return [
    name,
    `${(mb / tCompress * 1000).toFixed(0)}`,
    `${(mb / tInflate * 1000).toFixed(0)}`,
    `${(ratio * 100).toFixed(1)} %`,
    `${tSmall.toFixed(1)}`,
    `${heap.toFixed(0)} / ${rss.toFixed(0)}`,
  ];
}

const runtime = "Deno" in globalThis
  ? `Deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : "Bun" in globalThis
  ? `Bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
  : `Node ${process.versions.node}`;
console.log(`${runtime}${gc === undefined ? " (no gc exposed: memory column is rough)" : ""}\n`);
console.log(
  "| codec | bitmap 16 KiB deflate, MB/s | bitmap inflate, MB/s | compressed size | JSON 1.1 KB round trip, µs | KiB per context, heap / RSS |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const [name, make] of Object.entries(codecs)) {
  try {
    console.log(`| ${(await measure(name, make)).join(" | ")} |`);
  } catch (error) {
    console.log(`| ${name} | not a candidate: ${(error as Error).message} | | | | |`);
  }
}

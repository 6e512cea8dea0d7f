// Quick codec throughput: 1000 messages of 16 KiB (slowly varying bytes, bitmap-like), context takeover,
// level 6: our Deflater/Inflater (pako) and, for scale, node:zlib's one-shot sync calls (no takeover).
//   node bench/codec_quick.ts | deno run -A bench/codec_quick.ts | bun bench/codec_quick.ts
import zlib from "node:zlib";
import { Deflater } from "../src/codec/deflate.ts";
import { Inflater } from "../src/codec/inflate.ts";
let v = 0, seed = 1;
const image = new Uint8Array(512 * 1024).map(() => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  if ((seed >>> 16) % 3 === 0) v = (v + ((seed >>> 8) % 9) - 4) & 0xff;
  return v;
});
const msgs = Array.from(
  { length: 1000 },
  (_, k) => image.subarray((k * 16384) % image.length, (k * 16384) % image.length + 16384),
);
const d = new Deflater({ contextTakeover: true });
const inf = new Inflater({ contextTakeover: true });
let t = performance.now();
const z = msgs.map((m) => d.compress(m).slice());
const tDeflate = performance.now() - t;
t = performance.now();
for (const p of z) inf.inflate(p, 1 << 20);
const tInflate = performance.now() - t;
t = performance.now();
const zz = msgs.map((m) => zlib.deflateRawSync(m, { level: 6 }));
const tZd = performance.now() - t;
t = performance.now();
for (const p of zz) zlib.inflateRawSync(p);
const tZi = performance.now() - t;
const mb = (16384 * 1000) / 1e6;
const small = new TextEncoder().encode(JSON.stringify({ type: "chat", user: "someone", text: "x".repeat(1100) }));
t = performance.now();
for (let i = 0; i < 5000; i++) inf.inflate(d.compress(small).slice(), 1 << 20);
const tSmall = (performance.now() - t) / 5000;
console.log(
  `pako deflate ${(mb / tDeflate * 1000).toFixed(0)} MB/s, inflate ${(mb / tInflate * 1000).toFixed(0)} MB/s; ` +
    `node:zlib sync deflate ${(mb / tZd * 1000).toFixed(0)} MB/s, inflate ${(mb / tZi * 1000).toFixed(0)} MB/s; ` +
    `1.1 KB JSON round trip ${(tSmall * 1000).toFixed(1)} µs`,
);

import process from "node:process";
import { Deflater } from "../src/codec/deflate.ts";
import { Inflater } from "../src/codec/inflate.ts";
import { nativeZlib } from "../src/runtime/zlib.ts";
const doc = (i: number) =>
  JSON.stringify({
    seq: i,
    items: Array.from(
      { length: 1300 },
      (_, j) => ({ id: j, name: `item-${j}`, price: (j * 37 + i) % 1000, ok: (j + i) % 3 === 0 }),
    ),
  });
const enc = new TextEncoder();
const msgs = Array.from({ length: 300 }, (_, i) => enc.encode(doc(i)));
const d = new Deflater({ contextTakeover: true, zlib: nativeZlib! });
const z = msgs.map((m) => d.compress(m).slice());
const inf = new Inflater({ contextTakeover: true, zlib: nativeZlib! });
const t = performance.now();
const c0 = process.cpuUsage();
for (let r = 0; r < 10; r++) for (const p of z) inf.inflate(p, 1 << 24);
const c1 = process.cpuUsage(c0);
console.log(
  "cpu",
  ((c1.user + c1.system) / z.length / 10).toFixed(0),
  "µs;",
  ((performance.now() - t) / z.length / 10 * 1000).toFixed(0),
  "µs",
);

/**
 * Where permessage-deflate's time goes, per message: our Deflater and
 * Inflater (src/codec/) over pako and over the runtime's zlib
 * (src/runtime/zlib.ts), next to node:zlib's asynchronous streams as ws
 * drives them (one write + flush per message), for a chat-like stream and
 * 64 KiB JSON documents, context takeover on.
 *
 *     node bench/codec_cost.ts | deno run -A bench/codec_cost.ts | bun bench/codec_cost.ts
 *
 * µs per message, CPU time of the process (`process.cpuUsage()`, zlib's
 * threads included) over the whole batch; every round trip is checked.
 */
import process from "node:process";
import zlib from "node:zlib";
import { Buffer } from "node:buffer";
import { Deflater } from "../src/codec/deflate.ts";
import { Inflater } from "../src/codec/inflate.ts";
import { pakoZlib } from "../src/codec/engine.ts";
import type { ZlibProvider } from "../src/codec/engine.ts";
import { nativeZlib } from "../src/runtime/zlib.ts";

function chat(i: number): string {
  return JSON.stringify({
    type: "message",
    room: "general",
    user: `user${i % 17}`,
    at: 1764000000000 + i * 1234,
    text: `message number ${i}: ${"lorem ipsum dolor sit amet ".slice(0, 10 + (i % 17))}`,
  });
}
function doc64(i: number): string {
  return JSON.stringify({
    seq: i,
    items: Array.from(
      { length: 1300 },
      (_, j) => ({ id: j, name: `item-${j}`, price: (j * 37 + i) % 1000, ok: (j + i) % 3 === 0 }),
    ),
  });
}

const encoder = new TextEncoder();
const TAIL = Buffer.from([0, 0, 0xff, 0xff]);

function cpu<T>(run: () => T): [T, number] {
  const start = process.cpuUsage();
  const result = run();
  const used = process.cpuUsage(start);
  return [result, (used.user + used.system) / 1000];
}
async function cpuAsync<T>(run: () => Promise<T>): Promise<[T, number]> {
  const start = process.cpuUsage();
  const result = await run();
  const used = process.cpuUsage(start);
  return [result, (used.user + used.system) / 1000];
}

function ours(provider: ZlibProvider, messages: Uint8Array[]): [number, number, number] {
  const deflater = new Deflater({ contextTakeover: true, zlib: provider });
  const inflater = new Inflater({ contextTakeover: true, zlib: provider });
  const [compressed, deflateMs] = cpu(() => messages.map((m) => deflater.compress(m).slice()));
  const [back, inflateMs] = cpu(() => compressed.map((z) => inflater.inflate(z, 1 << 24)));
  for (let i = 0; i < messages.length; i++) {
    if (!Buffer.from(back[i]).equals(messages[i])) throw new Error(`${provider.name}: message ${i} differs`);
  }
  const size = compressed.reduce((n, z) => n + z.length, 0) / messages.length;
  return [deflateMs, inflateMs, size];
}

/** One write + sync flush per message on a node:zlib stream, awaited in turn: how ws drives zlib. */
function flushed(stream: zlib.DeflateRaw | zlib.InflateRaw, input: Uint8Array): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const onData = (c: Buffer) => chunks.push(c);
  stream.on("data", onData);
  stream.write(input);
  return new Promise((resolve) => {
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      stream.off("data", onData);
      resolve(Buffer.concat(chunks));
    });
  });
}

async function asyncStreams(messages: Uint8Array[]): Promise<[number, number]> {
  const deflate = zlib.createDeflateRaw({ windowBits: 15, level: 6, memLevel: 8 });
  const inflate = zlib.createInflateRaw({ windowBits: 15 });
  const [compressed, deflateMs] = await cpuAsync(async () => {
    const out: Buffer[] = [];
    for (const m of messages) out.push((await flushed(deflate, m)).subarray(0, -4));
    return out;
  });
  const [back, inflateMs] = await cpuAsync(async () => {
    const out: Buffer[] = [];
    for (const z of compressed) out.push(await flushed(inflate, Buffer.concat([z, TAIL])));
    return out;
  });
  for (let i = 0; i < messages.length; i++) {
    if (!back[i].equals(messages[i])) throw new Error(`async: message ${i} differs`);
  }
  deflate.close();
  inflate.close();
  return [deflateMs, inflateMs];
}

const runtime = (globalThis as { Deno?: { version: { deno: string } } }).Deno
  ? "Deno"
  : (globalThis as { Bun?: unknown }).Bun
  ? "Bun"
  : "Node";
console.log(`| runtime | workload | codec | deflate µs/msg | inflate µs/msg | bytes/msg |`);
console.log(`|---|---|---|--:|--:|--:|`);
for (const [name, make, count] of [["chat ~120 B", chat, 20000], ["JSON 64 KiB", doc64, 300]] as const) {
  const messages = Array.from({ length: count }, (_, i) => encoder.encode(make(i)));
  const us = (ms: number) => (ms * 1000 / count).toFixed(count > 1000 ? 1 : 0);
  // Warm-up, then measured.
  for (const provider of nativeZlib === null ? [pakoZlib] : [pakoZlib, nativeZlib]) {
    ours(provider, messages.slice(0, 200));
    const [d, i, size] = ours(provider, messages);
    console.log(`| ${runtime} | ${name} | ours on ${provider.name} | ${us(d)} | ${us(i)} | ${size.toFixed(0)} |`);
  }
  await asyncStreams(messages.slice(0, 200));
  const [d, i] = await asyncStreams(messages);
  console.log(`| ${runtime} | ${name} | node:zlib streams, async (ws's way) | ${us(d)} | ${us(i)} | |`);
}

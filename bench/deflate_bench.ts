/**
 * The permessage-deflate encoder (src/protocol/deflate.ts) against the
 * runtime's zlib (`deflateRawSync`, levels 1 and 6) on the same data: speed
 * (µs per message or MB/s of input) and compressed size, with ratios. zlib is
 * native code and cannot keep a window between synchronous calls, so its
 * small-message rows compress each message on its own (what it would cost
 * without context takeover).
 *
 *     node bench/deflate_bench.ts      deno run -A bench/deflate_bench.ts      bun bench/deflate_bench.ts
 *
 * Each figure is the best of many 40 ms batches (this 2-core machine is shared
 * and noisy); compare ratios rather than absolute numbers.
 */
import { deflateRawSync } from "node:zlib";
import { Deflater } from "../src/codec/deflate.ts";

/**
 * Runs `fn` (which processes `units` units) in batches of about 40 ms for about
 * `ms` milliseconds in all, and returns the units per second of the fastest
 * batch: on a shared machine the best batch is the one least disturbed.
 */
function rate(fn: () => number, ms = 1500): number {
  const warm = performance.now();
  while (performance.now() - warm < 200) fn();
  let best = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    let units = 0;
    const batch = performance.now();
    let now = batch;
    while (now - batch < 40) {
      units += fn();
      now = performance.now();
    }
    best = Math.max(best, units / ((now - batch) / 1000));
  }
  return best;
}

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "the a to of and in is it you that he was for on are with as I his they be at one have this from or had by " +
  "hot word but what some we can out other were all there when up use your how said an each she which do their " +
  "time if will way about many then them write would like so these her long make thing see him two has look more " +
  "day could go come did number sound no most people my over know water than call first who may down side been now"
).split(" ");
const USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"];
const ROOMS = ["general", "random", "dev", "ops", "support"];

function sentence(random: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(random() * WORDS.length)]);
  return out.join(" ");
}

/** A chat stream: similar JSON messages of about 100 bytes. */
function chatMessages(count: number, seed: number): Uint8Array[] {
  const random = mulberry32(seed);
  const encoder = new TextEncoder();
  const out: Uint8Array[] = [];
  let ts = 1_700_000_000_000;
  for (let i = 0; i < count; i++) {
    ts += Math.floor(random() * 5000);
    out.push(encoder.encode(JSON.stringify({
      type: "message",
      room: ROOMS[Math.floor(random() * ROOMS.length)],
      user: USERS[Math.floor(random() * USERS.length)],
      text: sentence(random, 2 + Math.floor(random() * 5)),
      ts,
    })));
  }
  return out;
}

/** JSON-like text: an array of records with names, numbers, words and flags. */
function jsonText(size: number, seed: number): Uint8Array {
  const random = mulberry32(seed);
  const parts: string[] = ["["];
  let length = 1;
  for (let id = 1; length < size; id++) {
    const record = JSON.stringify({
      id,
      user: USERS[Math.floor(random() * USERS.length)] + Math.floor(random() * 100),
      email: `${USERS[Math.floor(random() * USERS.length)]}@example.${random() < 0.5 ? "com" : "org"}`,
      score: Math.round(random() * 1e6) / 100,
      active: random() < 0.7,
      tags: [WORDS[Math.floor(random() * WORDS.length)], WORDS[Math.floor(random() * WORDS.length)]],
      bio: sentence(random, 4 + Math.floor(random() * 12)),
      created: new Date(1_600_000_000_000 + Math.floor(random() * 1e11)).toISOString(),
    }) + ",\n";
    parts.push(record);
    length += record.length;
  }
  return new TextEncoder().encode(parts.join("").slice(0, size));
}

function randomBytes(size: number, seed: number): Uint8Array {
  const random = mulberry32(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (random() * 256) | 0;
  return out;
}

const fmtRate = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1)).padStart(6);

function messagesRow(name: string, messages: Uint8Array[], compress: (m: Uint8Array) => Uint8Array): [number, number] {
  let size = 0;
  for (const m of messages) size += compress(m).length;
  let i = 0;
  const perSecond = rate(() => {
    compress(messages[i]);
    i = (i + 1) % messages.length;
    return 1;
  });
  const us = 1e6 / perSecond;
  console.log(`  ${name.padEnd(34)} ${us.toFixed(2).padStart(7)} µs/msg   ${String(size).padStart(8)} bytes`);
  return [us, size];
}

function bulkRow(name: string, data: Uint8Array, compress: (m: Uint8Array) => Uint8Array): [number, number] {
  const size = compress(data).length;
  const mbps = rate(() => {
    compress(data);
    return data.length;
  }) / 1e6;
  console.log(`  ${name.padEnd(34)} ${fmtRate(mbps)} MB/s   ${String(size).padStart(8)} bytes`);
  return [mbps, size];
}

const zlib = (level: number) => (m: Uint8Array) => deflateRawSync(m, { level });

// ── small similar messages ──
const chat = chatMessages(2000, 7);
let chatBytes = 0;
for (const m of chat) chatBytes += m.length;
console.log(
  `chat stream: ${chat.length} JSON messages, ${(chatBytes / chat.length).toFixed(0)} bytes each on average`,
);
const rows: Record<string, [number, number]> = {};
{
  // A fresh deflater per pass over the stream, so the window always holds earlier messages of it.
  let takeover = new Deflater({ contextTakeover: true });
  let seen = 0;
  rows.takeover = messagesRow("wsd level 6, context takeover", chat, (m) => {
    if (seen++ % chat.length === 0) takeover = new Deflater({ contextTakeover: true });
    return takeover.compress(m);
  });
  let fast = new Deflater({ contextTakeover: true, level: 1 });
  seen = 0;
  rows.takeover1 = messagesRow("wsd level 1, context takeover", chat, (m) => {
    if (seen++ % chat.length === 0) fast = new Deflater({ contextTakeover: true, level: 1 });
    return fast.compress(m);
  });
  const alone = new Deflater({ contextTakeover: false });
  rows.alone = messagesRow("wsd level 6, no context takeover", chat, (m) => alone.compress(m));
  rows.z1 = messagesRow("zlib deflateRawSync level 1", chat, zlib(1));
  rows.z6 = messagesRow("zlib deflateRawSync level 6", chat, zlib(6));
  console.log(
    `  takeover vs zlib 6: ${(rows.z6[0] / rows.takeover[0]).toFixed(2)}× the speed, ` +
      `${(rows.takeover[1] / rows.z6[1]).toFixed(2)}× the size (${(chatBytes / rows.takeover[1]).toFixed(2)}:1)`,
  );
}

// ── bulk ──
for (
  const [name, data] of [
    ["1 MiB JSON-like text", jsonText(1 << 20, 11)],
    ["64 KiB JSON-like text", jsonText(1 << 16, 12)],
    ["1 MiB random bytes", randomBytes(1 << 20, 13)],
  ] as const
) {
  console.log(`${name}:`);
  const r: Record<string, [number, number]> = {};
  for (const level of [1, 6, 9]) {
    const d = new Deflater({ contextTakeover: false, level });
    r[`wsd${level}`] = bulkRow(`wsd level ${level}`, data, (m) => d.compress(m));
  }
  r.z1 = bulkRow("zlib deflateRawSync level 1", data, zlib(1));
  r.z6 = bulkRow("zlib deflateRawSync level 6", data, zlib(6));
  console.log(
    `  wsd 6 vs zlib 6: ${(r.wsd6[0] / r.z6[0]).toFixed(2)}× the speed, ${(r.wsd6[1] / r.z6[1]).toFixed(3)}× the size` +
      `; wsd 1 vs zlib 1: ${(r.wsd1[0] / r.z1[0]).toFixed(2)}× the speed, ${
        (r.wsd1[1] / r.z1[1]).toFixed(3)
      }× the size` +
      (name.includes("random")
        ? `; wsd 6 adds ${r.wsd6[1] - data.length} bytes (at most ${5 * Math.ceil(data.length / 65535) + 1} allowed)`
        : ""),
  );
}

/**
 * Micro benchmarks of the protocol layer, side by side with the `ws` package's
 * Receiver and Sender in the same process, reported as ratios (this 2-core
 * machine is noisy: compare ratios, not absolute numbers).
 *
 * ws unmasks received buffers in place, so every write hands both parsers a
 * fresh copy of the input (as a socket read would), and both pay for it.
 *
 *     deno run -A bench/protocol_bench.ts      node bench/protocol_bench.ts      bun bench/protocol_bench.ts
 *
 * Needs `ws` installed in tools/rt (`npm ci --prefix tools/rt`).
 */
import { createRequire } from "node:module";
import { Buffer } from "node:buffer";
import { Protocol } from "../src/protocol/protocol.ts";

const require = createRequire(import.meta.url);
const Receiver = require("../tools/rt/node_modules/ws/lib/receiver.js");
const Sender = require("../tools/rt/node_modules/ws/lib/sender.js");

/** Runs `fn` (which processes `units` units) for about `ms` milliseconds; returns units per second. */
function rate(fn: () => number, ms = 1500): number {
  for (let i = 0; i < 5; i++) fn(); // warm up
  let units = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    units += fn();
    now = performance.now();
  }
  return units / ((now - start) / 1000);
}

function clientFrames(make: (p: Protocol) => void): Uint8Array {
  const p = new Protocol({ role: "client" });
  make(p);
  const pieces = p.dataToSend();
  const total = pieces.reduce((n, x) => n + x.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const x of pieces) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}

function chunked(bytes: Uint8Array, size: number): Uint8Array[] {
  const out = [];
  for (let i = 0; i < bytes.length; i += size) {
    out.push(bytes.slice(i, i + size));
  }
  return out;
}

function row(name: string, unit: string, ours: number, theirs: number): void {
  const fmt = (n: number) =>
    n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(1);
  console.log(
    `${name.padEnd(44)} wsd ${fmt(ours).padStart(8)} ${unit}   ws ${fmt(theirs).padStart(8)} ${unit}   ratio ${
      (ours / theirs).toFixed(2)
    }x`,
  );
}

// 1. Many small masked text messages per read (pipelined traffic), server side.
{
  const MESSAGES = 256;
  const text = "0123456789abcdef0123456789abcdef"; // 32 bytes
  const input = clientFrames((p) => {
    for (let i = 0; i < MESSAGES; i++) p.sendText(text);
  });
  const ours = rate(() => {
    const p = new Protocol({ role: "server" });
    p.receiveData(input.slice());
    return p.eventsReceived().length;
  });
  const theirs = rate(() => {
    let n = 0;
    const r = new Receiver({ isServer: true, maxPayload: 0x3ffffff });
    r.on("message", () => n++);
    r.write(Buffer.from(input));
    return n;
  });
  row("parse 256 × 32 B text in one read", "msg/s", ours, theirs);
}

// 2. One small message per read.
{
  const input = clientFrames((p) => p.sendText("0123456789abcdef0123456789abcdef"));
  const ours = rate(() => {
    const p = new Protocol({ role: "server" });
    let n = 0;
    for (let i = 0; i < 100; i++) {
      p.receiveData(input.slice());
      n += p.eventsReceived().length;
    }
    return n;
  });
  const theirs = rate(() => {
    let n = 0;
    const r = new Receiver({ isServer: true, maxPayload: 0x3ffffff });
    r.on("message", () => n++);
    for (let i = 0; i < 100; i++) r.write(Buffer.from(input));
    return n;
  });
  row("parse 1 × 32 B text per read", "msg/s", ours, theirs);
}

// 3. A 1 MiB masked binary message arriving in 64 KiB reads.
{
  const payload = new Uint8Array(1 << 20).map((_, i) => i * 7);
  const chunks = chunked(clientFrames((p) => p.sendBinary(payload)), 65536);
  const MB = payload.length / 1e6;
  const ours = rate(() => {
    const p = new Protocol({ role: "server" });
    for (const c of chunks) p.receiveData(c.slice());
    return p.eventsReceived().length * MB;
  });
  const theirs = rate(() => {
    let n = 0;
    const r = new Receiver({ isServer: true, maxPayload: 0x3ffffff });
    r.on("message", () => n++);
    for (const c of chunks) r.write(Buffer.from(c));
    return n * MB;
  });
  row("parse 1 MiB binary in 64 KiB reads", "MB/s", ours, theirs);
}

// 4. Encoding 256 small server text frames (what an echo writes per read).
{
  const text = "0123456789abcdef0123456789abcdef";
  const ours = rate(() => {
    const p = new Protocol({ role: "server" });
    for (let i = 0; i < 256; i++) p.sendText(text);
    p.dataToSend();
    return 256;
  });
  const theirs = rate(() => {
    for (let i = 0; i < 256; i++) {
      Sender.frame(Buffer.from(text), {
        fin: true,
        rsv1: false,
        opcode: 1,
        mask: false,
        readOnly: false,
      });
    }
    return 256;
  });
  row("encode 256 × 32 B text (server)", "msg/s", ours, theirs);
}

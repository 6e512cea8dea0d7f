/**
 * Shared by the micro benchmarks: client frames made by our own encoder, and
 * the `ws` package's Receiver and Sender (from tools/rt) to compare with.
 *
 * @module
 */
import { createRequire } from "node:module";
import { Protocol } from "../../src/protocol/protocol.ts";

const require = createRequire(import.meta.url);

/** ws's frame parser (a Writable stream that emits "message"). */
// deno-lint-ignore no-explicit-any
export const Receiver: any = require("../../tools/rt/node_modules/ws/lib/receiver.js");
/** ws's frame encoder. */
// deno-lint-ignore no-explicit-any
export const Sender: any = require("../../tools/rt/node_modules/ws/lib/sender.js");

/** The bytes a client sends for what `make` does, in one buffer. */
export function clientFrames(make: (p: Protocol) => void): Uint8Array {
  const p = new Protocol({ role: "client" });
  make(p);
  const pieces = p.dataToSend();
  const out = new Uint8Array(pieces.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of pieces) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}

/** `bytes` cut into copies of `size` bytes (as socket reads would deliver them). */
export function chunked(bytes: Uint8Array, size: number): Uint8Array[] {
  const out = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.slice(i, i + size));
  return out;
}

/**
 * Helpers of the protocol tests (not a test file): ways to cut an input into
 * chunks, a seeded PRNG for property tests, and the protocol's events drained
 * into plain values; with hex vectors and the independent frame encoder and
 * decoder of tests/_shared/ (so that the library is never its own oracle)
 * passed on, so that a test of this folder imports from one place.
 *
 * @module
 */

import assert from "node:assert/strict";
import { END_OF_STREAM } from "../../src/protocol/protocol.ts";
import type { Protocol, ProtocolEvent } from "../../src/protocol/protocol.ts";
import type { DeflateParams } from "../../src/protocol/extensions.ts";
import { concat } from "../_shared/bytes.ts";
import { encodeFrame, frameHeader as header } from "../_shared/frames.ts";

// ───────────────────────────── bytes ─────────────────────────────

export { concat, hex, toHex, utf8 } from "../_shared/bytes.ts";

// ───────────────────────────── PRNG ─────────────────────────────

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded random source with the few draws the tests need. */
export class Rng {
  readonly seed: number;
  readonly #next: () => number;

  constructor(seed: number) {
    this.seed = seed;
    this.#next = mulberry32(seed);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.#next();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.#next() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

// ───────────────────────────── an independent frame codec ─────────────────────────────

export { closePayload, naiveMask, OP, parseFrames } from "../_shared/frames.ts";
export type { WireFrame as ParsedFrame } from "../_shared/frames.ts";

/** What {@linkcode frame} builds. */
export interface FrameSpec {
  opcode: number;
  /** @default {true} */
  fin?: boolean;
  /** The RSV bits as they sit in the first byte (0x40, 0x20, 0x10). @default {0} */
  rsv?: number;
  payload?: Uint8Array | string;
  /** A masking key, or none for an unmasked frame. */
  mask?: Uint8Array | null;
  /** Forces a length form, minimal or not. @default {the minimal one} */
  lengthForm?: 7 | 16 | 64;
}

/** Encodes one frame with the tests' own code (never the library's). */
export function frame(spec: FrameSpec): Uint8Array {
  return encodeFrame(spec.opcode, spec.payload ?? new Uint8Array(0), spec);
}

/** Only the header of a frame whose payload has `length` bytes (with its masking key, if any). */
export function frameHeader(
  spec: Omit<FrameSpec, "payload"> & { length: number },
): Uint8Array {
  return header(spec.opcode, spec.length, spec);
}

// ───────────────────────────── permessage-deflate ─────────────────────────────

/** permessage-deflate parameters with context takeover both ways and 15-bit windows (RFC 7692 §7's defaults). */
export const TAKEOVER: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

/** {@linkcode TAKEOVER} without context takeover either way. */
export const NO_TAKEOVER: DeflateParams = { ...TAKEOVER, serverNoContextTakeover: true, clientNoContextTakeover: true };

// ───────────────────────────── chunking ─────────────────────────────

/** How an input is cut into the chunks given to `receiveData`. */
export type Splitting =
  | { kind: "whole" }
  | { kind: "bytes" }
  /** Cut at these offsets (sorted, strictly inside the input). */
  | { kind: "at"; points: number[] }
  /** Random pieces of 1..maxPiece bytes. */
  | { kind: "random"; seed: number; maxPiece: number };

/** A short name of a splitting, for assertion messages. */
export function describeSplitting(s: Splitting): string {
  switch (s.kind) {
    case "whole":
      return "whole";
    case "bytes":
      return "byte by byte";
    case "at":
      return `split at ${s.points.join(",")}`;
    case "random":
      return `random pieces (seed ${s.seed}, max ${s.maxPiece})`;
  }
}

/**
 * Cuts `bytes` as `splitting` says. Chunks are views of `bytes` (so a test can
 * check that the library did not write into them) except every other random
 * piece, which is a copy at a fresh offset.
 */
export function chunksOf(
  bytes: Uint8Array,
  splitting: Splitting,
): Uint8Array[] {
  switch (splitting.kind) {
    case "whole":
      return [bytes];
    case "bytes": {
      const out: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i++) out.push(bytes.subarray(i, i + 1));
      return out;
    }
    case "at": {
      const out: Uint8Array[] = [];
      let last = 0;
      for (const p of splitting.points) {
        out.push(bytes.subarray(last, p));
        last = p;
      }
      out.push(bytes.subarray(last));
      return out;
    }
    case "random": {
      const rng = new Rng(splitting.seed);
      const out: Uint8Array[] = [];
      let at = 0;
      while (at < bytes.length) {
        const n = Math.min(bytes.length - at, 1 + rng.int(splitting.maxPiece));
        if (rng.chance(0.5)) {
          out.push(bytes.subarray(at, at + n));
        } else {
          // A copy inside a larger buffer, at an odd offset.
          const pad = rng.int(8);
          const buffer = new Uint8Array(pad + n + rng.int(8));
          buffer.set(bytes.subarray(at, at + n), pad);
          out.push(buffer.subarray(pad, pad + n));
        }
        at += n;
      }
      return out;
    }
  }
}

/**
 * The splittings every vector goes through: whole, byte by byte, split in two at
 * every point (at most `maxPoints` of them, spread evenly, plus the first and
 * last 16), and a few random ones.
 */
export function splittings(
  length: number,
  options: { maxPoints?: number; randoms?: number; seed?: number } = {},
): Splitting[] {
  const out: Splitting[] = [{ kind: "whole" }, { kind: "bytes" }];
  const maxPoints = options.maxPoints ?? 512;
  const points = new Set<number>();
  if (length - 1 <= maxPoints) {
    for (let p = 1; p < length; p++) points.add(p);
  } else {
    for (let p = 1; p < Math.min(17, length); p++) points.add(p);
    for (let p = Math.max(1, length - 16); p < length; p++) points.add(p);
    const step = (length - 1) / maxPoints;
    for (let i = 0; i < maxPoints; i++) points.add(1 + Math.floor(i * step));
  }
  for (const p of [...points].sort((a, b) => a - b)) {
    out.push({ kind: "at", points: [p] });
  }
  const randoms = options.randoms ?? 4;
  const seed = options.seed ?? 0x5eed;
  for (let i = 0; i < randoms; i++) {
    out.push({
      kind: "random",
      seed: seed + i,
      maxPiece: [3, 7, 64, 1000][i % 4],
    });
  }
  return out;
}

// ───────────────────────────── feeding and draining ─────────────────────────────

/** An event with its error reduced to comparable fields. */
export type PlainEvent =
  | { type: "text"; data: string }
  | { type: "binary"; data: Uint8Array }
  | { type: "ping"; data: Uint8Array }
  | { type: "pong"; data: Uint8Array }
  | { type: "close"; code: number; reason: string }
  | { type: "error"; errorType: string; code: number };

/** Makes events comparable with `deepEqual` (errors by type and code). */
export function plain(events: readonly ProtocolEvent[]): PlainEvent[] {
  return events.map((e): PlainEvent => {
    switch (e.type) {
      case "error":
        return { type: "error", errorType: e.error.type, code: e.error.code };
      case "text":
        return { type: "text", data: e.data };
      case "close":
        return { type: "close", code: e.code, reason: e.reason };
      default:
        return { type: e.type, data: Uint8Array.from(e.data) };
    }
  });
}

/** What the protocol wants written. */
export interface Output {
  /** The bytes before END_OF_STREAM, concatenated. */
  bytes: Uint8Array;
  /** Whether END_OF_STREAM was among the items (it must be the last one). */
  ended: boolean;
}

/** Takes `dataToSend()` and checks that END_OF_STREAM, if there, comes last. */
export function drain(protocol: Protocol): Output {
  const items = protocol.dataToSend();
  const end = items.indexOf(END_OF_STREAM);
  if (end !== -1) {
    assert.equal(end, items.length - 1, "END_OF_STREAM must be the last item");
  }
  for (const item of items) {
    if (item !== END_OF_STREAM) {
      assert.ok(item.length > 0, "dataToSend() must not hand out empty pieces");
    }
  }
  return {
    bytes: concat(...items.filter((item) => item !== END_OF_STREAM)),
    ended: end !== -1,
  };
}

/** Everything that came out of a {@linkcode feed}. */
export interface FeedResult {
  /** All events, in order. */
  events: ProtocolEvent[];
  /** Everything written, in order. */
  sent: Uint8Array;
  /** Whether END_OF_STREAM came out (exactly once, last). */
  ended: boolean;
}

/**
 * Feeds `bytes` to `protocol` cut as `splitting` says, draining events and
 * output after every chunk; checks that END_OF_STREAM comes at most once and
 * that nothing is written after it.
 */
export function feed(
  protocol: Protocol,
  bytes: Uint8Array,
  splitting: Splitting = { kind: "whole" },
): FeedResult {
  const events: ProtocolEvent[] = [];
  const sent: Uint8Array[] = [];
  let ended = false;
  for (const chunk of chunksOf(bytes, splitting)) {
    protocol.receiveData(chunk);
    // What a driver does: the work left pending (a message inflated in slices) goes on before more input.
    while (protocol.workPending) {
      events.push(...protocol.eventsReceived());
      protocol.resume();
    }
    events.push(...protocol.eventsReceived());
    const out = drain(protocol);
    if (ended) {
      assert.equal(
        out.bytes.length,
        0,
        "nothing may be written after END_OF_STREAM",
      );
      assert.equal(out.ended, false, "END_OF_STREAM must come once");
    }
    sent.push(out.bytes);
    ended ||= out.ended;
  }
  return { events, sent: concat(...sent), ended };
}

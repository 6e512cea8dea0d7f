/**
 * Helpers of the protocol tests (not a test file): hex vectors, an independent
 * frame encoder and decoder (so that the library is never its own oracle), ways
 * to cut an input into chunks, and a seeded PRNG for property tests.
 *
 * @module
 */

import assert from "node:assert/strict";
import { END_OF_STREAM } from "../../src/protocol/protocol.ts";
import type { Protocol, ProtocolEvent } from "../../src/protocol/protocol.ts";

// ───────────────────────────── bytes ─────────────────────────────

/** `hex("81 05 48 65")` → the bytes; spaces and newlines are ignored. */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "");
  if (digits.length % 2 !== 0 || /[^0-9a-fA-F]/.test(digits)) {
    throw new Error(`Bad hex string: ${JSON.stringify(text)}`);
  }
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

/** The bytes as lower-case hex pairs separated by spaces: `"81 05 48 65"`. */
export function toHex(bytes: Uint8Array): string {
  const parts: string[] = [];
  for (const b of bytes) parts.push(b.toString(16).padStart(2, "0"));
  return parts.join(" ");
}

/** Concatenates byte arrays into a fresh one. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const encoder = new TextEncoder();

/** UTF-8 of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

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

/** Opcodes, spelled out here again so the tests do not trust the library's table. */
export const OP = {
  CONT: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** XOR with a 4-byte key, the naive way (RFC 6455 §5.3). Returns a fresh array. */
export function naiveMask(
  data: Uint8Array,
  key: Uint8Array,
  phase = 0,
): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ^ key[(phase + i) % 4];
  return out;
}

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

/** Encodes one frame with this file's own code (never the library's). */
export function frame(spec: FrameSpec): Uint8Array {
  const payload = typeof spec.payload === "string" ? utf8(spec.payload) : spec.payload ?? new Uint8Array(0);
  const head = frameHeader({ ...spec, length: payload.length });
  return concat(head, spec.mask ? naiveMask(payload, spec.mask) : payload);
}

/** Only the header of a frame whose payload has `length` bytes (with its masking key, if any). */
export function frameHeader(
  spec: Omit<FrameSpec, "payload"> & { length: number },
): Uint8Array {
  const n = spec.length;
  const form = spec.lengthForm ?? (n < 126 ? 7 : n < 0x10000 ? 16 : 64);
  const head: number[] = [
    ((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv ?? 0) | spec.opcode,
  ];
  const maskBit = spec.mask ? 0x80 : 0;
  if (form === 7) {
    head.push(maskBit | n);
  } else if (form === 16) {
    head.push(maskBit | 126, (n >> 8) & 0xff, n & 0xff);
  } else {
    head.push(maskBit | 127);
    const high = Math.floor(n / 2 ** 32);
    for (let s = 24; s >= 0; s -= 8) head.push((high >>> s) & 0xff);
    for (let s = 24; s >= 0; s -= 8) head.push((n >>> s) & 0xff);
  }
  if (spec.mask) head.push(...spec.mask);
  return new Uint8Array(head);
}

/** A close frame's payload: the code in network order and the reason. */
export function closePayload(
  code: number,
  reason: string | Uint8Array = "",
): Uint8Array {
  const r = typeof reason === "string" ? utf8(reason) : reason;
  return concat(new Uint8Array([code >> 8, code & 0xff]), r);
}

/** A frame as {@linkcode parseFrames} decodes it. */
export interface ParsedFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  key: Uint8Array | null;
  /** Unmasked. */
  payload: Uint8Array;
  /** The raw header bytes. */
  header: Uint8Array;
}

/** Decodes a complete sequence of frames with this file's own code; throws on leftovers. */
export function parseFrames(bytes: Uint8Array): ParsedFrame[] {
  const frames: ParsedFrame[] = [];
  let at = 0;
  while (at < bytes.length) {
    const start = at;
    assert.ok(bytes.length - at >= 2, `truncated frame header at ${at}`);
    const b0 = bytes[at++], b1 = bytes[at++];
    let n = b1 & 0x7f;
    if (n === 126) {
      n = (bytes[at] << 8) | bytes[at + 1];
      at += 2;
    } else if (n === 127) {
      n = 0;
      for (let i = 0; i < 8; i++) n = n * 256 + bytes[at + i];
      at += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key: Uint8Array | null = null;
    if (masked) {
      key = bytes.slice(at, at + 4);
      at += 4;
    }
    assert.ok(at + n <= bytes.length, `truncated frame payload at ${start}`);
    const raw = bytes.slice(at, at + n);
    at += n;
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv: b0 & 0x70,
      opcode: b0 & 0x0f,
      masked,
      key,
      payload: key ? naiveMask(raw, key) : raw,
      header: bytes.slice(start, start + (at - start - n)),
    });
  }
  return frames;
}

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

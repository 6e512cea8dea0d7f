// The permessage-deflate decoder (src/protocol/inflate.ts): RFC 7692 §7.2.3's
// examples byte for byte, round trips against node:zlib (the oracle, used only
// here), every kind of invalid data, size limits and compression bombs, and
// fuzzing (random and mutated streams, checked against zlib).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { Buffer } from "node:buffer";
import { _largestAllocation, InflateDataError, InflateLimitError, Inflater } from "../../src/protocol/inflate.ts";
import type { InflaterOptions } from "../../src/protocol/inflate.ts";
import { concat, hex, Rng, utf8 } from "./_helpers.ts";

const MiB = 1 << 20;
const SYNC = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
const TRAILER = hex("00 00 ff ff");
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function inflateOnce(payload: Uint8Array, options: Partial<InflaterOptions> = {}, maxOutput = 64 * MiB): Uint8Array {
  return new Inflater({ contextTakeover: false, ...options }).inflate(payload, maxOutput);
}

/** What a permessage-deflate sender puts on the wire for `data`: raw DEFLATE, sync flush, 00 00 ff ff removed. */
function deflateMessage(data: Uint8Array, options: zlib.ZlibOptions = {}): Uint8Array {
  const full = zlib.deflateRawSync(data, { ...SYNC, ...options });
  assert.deepEqual(new Uint8Array(full.subarray(full.length - 4)), TRAILER);
  return new Uint8Array(full.subarray(0, full.length - 4));
}

/** zlib's reading of a message (the payload with 00 00 ff ff appended), or the error it throws. */
function zlibInflate(payload: Uint8Array): Uint8Array {
  return new Uint8Array(zlib.inflateRawSync(concat(payload, TRAILER), SYNC));
}

function equalBytes(actual: Uint8Array, expected: Uint8Array, message?: string): void {
  if (actual.length !== expected.length || Buffer.compare(Buffer.from(actual), Buffer.from(expected)) !== 0) {
    assert.fail(`${message ?? "bytes differ"}: ${actual.length} bytes, expected ${expected.length}`);
  }
}

// ───────────────────────────── inputs ─────────────────────────────

function jsonLike(size: number, rng: Rng): Uint8Array {
  const words = ["alpha", "beta", "gamma", "delta", "user", "admin", "online", "offline", "message", "ü€😀"];
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const line = JSON.stringify({
      id: i,
      user: `${rng.pick(words)}${rng.int(1000)}`,
      score: rng.int(1e6) / 100,
      tags: [rng.pick(words), rng.pick(words)],
      active: rng.chance(0.5),
    }) + "\n";
    parts.push(line);
    length += line.length;
  }
  return utf8(parts.join("")).subarray(0, size);
}

function proseLike(size: number, rng: Rng): Uint8Array {
  const words = "the quick brown fox jumps over a lazy dog while WebSocket frames carry compressed JSON".split(" ");
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const w = rng.pick(words);
    parts.push(w);
    length += w.length + 1;
  }
  return utf8(parts.join(" ")).subarray(0, size);
}

function repetitive(size: number): Uint8Array {
  const unit = utf8('{"type":"ping"}');
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = unit[i % unit.length];
  return out;
}

function inputs(rng: Rng): [string, Uint8Array][] {
  return [
    ["empty", new Uint8Array(0)],
    ["1 byte", utf8("x")],
    ["text", proseLike(5000, rng)],
    ["JSON", jsonLike(20000, rng)],
    ["random", rng.bytes(70000)],
    ["repetitive", repetitive(100000)],
    ["1 MiB+ JSON", jsonLike(MiB + 12345, rng)],
  ];
}

// ───────────────────────────── a DEFLATE writer for crafted streams ─────────────────────────────

/** Writes DEFLATE bit fields (RFC 1951 §3.1.1: least significant bit first; Huffman codes most significant bit first). */
class BitWriter {
  #bytes: number[] = [];
  #acc = 0;
  #n = 0;

  bits(value: number, count: number): this {
    for (let i = 0; i < count; i++) {
      this.#acc |= ((value >>> i) & 1) << this.#n;
      if (++this.#n === 8) this.#flushByte();
    }
    return this;
  }

  code(code: number, length: number): this {
    for (let i = length - 1; i >= 0; i--) this.bits((code >>> i) & 1, 1);
    return this;
  }

  align(): this {
    if (this.#n > 0) this.#flushByte();
    return this;
  }

  raw(bytes: Iterable<number>): this {
    this.align();
    for (const b of bytes) this.#bytes.push(b);
    return this;
  }

  done(): Uint8Array {
    this.align();
    return new Uint8Array(this.#bytes);
  }

  #flushByte(): void {
    this.#bytes.push(this.#acc);
    this.#acc = 0;
    this.#n = 0;
  }
}

/** Canonical Huffman codes of a list of code lengths (RFC 1951 §3.2.2). */
function canonicalCodes(lengths: number[]): number[] {
  const count = new Array(16).fill(0);
  for (const l of lengths) if (l) count[l]++;
  const next = new Array(16).fill(0);
  let code = 0;
  for (let bits = 1; bits < 16; bits++) {
    code = (code + count[bits - 1]) << 1;
    next[bits] = code;
  }
  return lengths.map((l) => (l ? next[l]++ : -1));
}

// deno-fmt-ignore
const LENGTH_BASE = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258
];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
// deno-fmt-ignore
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
  6145, 8193, 12289, 16385, 24577
];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

function lengthSymbol(length: number): [symbol: number, extraBits: number, extra: number] {
  let i = 28;
  while (LENGTH_BASE[i] > length) i--;
  if (length === 258) i = 28;
  return [257 + i, LENGTH_EXTRA[i], length - LENGTH_BASE[i]];
}

function distanceSymbol(distance: number): [symbol: number, extraBits: number, extra: number] {
  let i = 29;
  while (DIST_BASE[i] > distance) i--;
  return [i, DIST_EXTRA[i], distance - DIST_BASE[i]];
}

type Item = number | { length: number; distance: number } | { litlen: number } | { dist: number };

/** A fixed Huffman block (RFC 1951 §3.2.6) of literals (numbers), matches, and raw symbols. */
function fixedBlock(w: BitWriter, final: boolean, items: Item[], end = true): BitWriter {
  w.bits(final ? 1 : 0, 1).bits(1, 2);
  const lit = (s: number) => {
    if (s < 144) w.code(0x30 + s, 8);
    else if (s < 256) w.code(0x190 + s - 144, 9);
    else if (s < 280) w.code(s - 256, 7);
    else w.code(0xc0 + s - 280, 8);
  };
  for (const item of items) {
    if (typeof item === "number") lit(item);
    else if ("litlen" in item) lit(item.litlen);
    else if ("dist" in item) w.code(item.dist, 5);
    else {
      const [ls, lb, le] = lengthSymbol(item.length);
      lit(ls);
      w.bits(le, lb);
      const [ds, db, de] = distanceSymbol(item.distance);
      w.code(ds, 5);
      w.bits(de, db);
    }
  }
  if (end) lit(256);
  return w;
}

/** The header of a dynamic block: every code length sent as a literal code length symbol (0..15, 5 bits each) unless `clens` is given. */
function dynamicHeader(
  w: BitWriter,
  final: boolean,
  litLengths: number[],
  distLengths: number[],
  options: { hlit?: number; hdist?: number; clens?: number[]; symbols?: [number, number, number][] } = {},
): BitWriter {
  w.bits(final ? 1 : 0, 1).bits(2, 2);
  w.bits((options.hlit ?? litLengths.length) - 257, 5);
  w.bits((options.hdist ?? distLengths.length) - 1, 5);
  // Code length code: symbols 0..15 get 5 bits, 16 gets 2, 17 and 18 get 3 (complete: 16/32 + 1/4 + 2/8).
  const clens = options.clens ?? [5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 2, 3, 3];
  const order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
  w.bits(19 - 4, 4);
  for (const s of order) w.bits(clens[s], 3);
  const codes = canonicalCodes(clens);
  if (options.symbols) {
    for (const [s, extraBits, extra] of options.symbols) w.code(codes[s], clens[s]).bits(extra, extraBits);
  } else {
    for (const l of [...litLengths, ...distLengths]) w.code(codes[l], clens[l]);
  }
  return w;
}

/** A complete dynamic block with the given code lengths, coding `items` (literals, matches). */
function dynamicBlock(
  w: BitWriter,
  final: boolean,
  litLengths: number[],
  distLengths: number[],
  items: Item[],
): BitWriter {
  dynamicHeader(w, final, litLengths, distLengths);
  const lit = canonicalCodes(litLengths);
  const dist = canonicalCodes(distLengths);
  for (const item of [...items, { litlen: 256 }]) {
    if (typeof item === "number") w.code(lit[item], litLengths[item]);
    else if ("litlen" in item) w.code(lit[item.litlen], litLengths[item.litlen]);
    else if ("dist" in item) w.code(dist[item.dist], distLengths[item.dist]);
    else {
      const [ls, lb, le] = lengthSymbol(item.length);
      w.code(lit[ls], litLengths[ls]).bits(le, lb);
      const [ds, db, de] = distanceSymbol(item.distance);
      w.code(dist[ds], distLengths[ds]).bits(de, db);
    }
  }
  return w;
}

/** Ends a message the way a sync flush does: an empty stored block whose LEN/NLEN the sender removes. */
function syncFlush(w: BitWriter): Uint8Array {
  w.bits(0, 3);
  return w.done();
}

/** A small complete literal/length code: 'A' (65) and end-of-block in 2 bits, length code 257 (3) in 1 bit. */
const SMALL_LIT = [...new Array(65).fill(0), 2, ...new Array(190).fill(0), 2, 1];

// ───────────────────────────── tests ─────────────────────────────

describe("RFC 7692 §7.2.3: the examples, byte for byte", () => {
  it("§7.2.3.1: a message compressed into one block", () => {
    assert.equal(text(inflateOnce(hex("f2 48 cd c9 c9 07 00"))), "Hello");
  });

  it("§7.2.3.2: the same message twice, sharing the LZ77 window", () => {
    const inflater = new Inflater({ contextTakeover: true });
    assert.equal(text(inflater.inflate(hex("f2 48 cd c9 c9 07 00"), 1024)), "Hello");
    assert.equal(text(inflater.inflate(hex("f2 00 11 00 00"), 1024)), "Hello");
    assert.equal(text(inflater.inflate(hex("f2 00 11 00 00"), 1024)), "Hello", "and again");
  });

  it("§7.2.3.2: the second message is invalid without context takeover (distance too far back)", () => {
    const inflater = new Inflater({ contextTakeover: false });
    assert.equal(text(inflater.inflate(hex("f2 48 cd c9 c9 07 00"), 1024)), "Hello");
    assert.throws(() => inflater.inflate(hex("f2 00 11 00 00"), 1024), InflateDataError);
    assert.throws(() => inflateOnce(hex("f2 00 11 00 00")), /too far back/);
  });

  it("§7.2.3.3: a stored block (no compression)", () => {
    assert.equal(text(inflateOnce(hex("00 05 00 fa ff 48 65 6c 6c 6f 00"))), "Hello");
  });

  it("§7.2.3.3 without its last octet: the appended bytes cannot complete a block", () => {
    // Without the 0x00 (the empty stored block's header bits), 00 00 ff ff would
    // start a new stored block with LEN 0xff00: data ending mid-block.
    assert.throws(() => inflateOnce(hex("00 05 00 fa ff 48 65 6c 6c 6f")), InflateDataError);
  });

  it("§7.2.3.4: a block with BFINAL set, with the RFC's trailing octet and without it", () => {
    assert.equal(text(inflateOnce(hex("f3 48 cd c9 c9 07 00 00"))), "Hello");
    assert.equal(text(inflateOnce(hex("f3 48 cd c9 c9 07 00"))), "Hello");
  });

  it("§7.2.3.4: BFINAL does not reset the window; the next message may refer back into it", () => {
    for (const first of ["f3 48 cd c9 c9 07 00", "f3 48 cd c9 c9 07 00 00"]) {
      const inflater = new Inflater({ contextTakeover: true });
      assert.equal(text(inflater.inflate(hex(first), 1024)), "Hello");
      assert.equal(text(inflater.inflate(hex("f2 00 11 00 00"), 1024)), "Hello");
      // And a message that ends with BFINAL and refers back.
      assert.equal(text(inflater.inflate(hex("f3 00 11 00 00"), 1024)), "Hello");
      assert.equal(text(inflater.inflate(hex("f2 48 cd c9 c9 07 00"), 1024)), "Hello");
    }
  });

  it("§7.2.3.5: two DEFLATE blocks in one message", () => {
    assert.equal(text(inflateOnce(hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00"))), "Hello");
  });

  it("§7.2.3.6: an empty fragment (0x00) at the end of a message", () => {
    // "Hello" sync-flushed in a first fragment (00 00 ff ff kept), then a fragment 0x00.
    assert.equal(text(inflateOnce(hex("f2 48 cd c9 c9 07 00 00 00 ff ff 00"))), "Hello");
    assert.equal(text(inflateOnce(hex("00"))), "", "a message that is only the empty fragment");
  });

  it("an empty payload is an empty message, and leaves the window alone", () => {
    const inflater = new Inflater({ contextTakeover: true });
    assert.equal(inflater.inflate(hex("f2 48 cd c9 c9 07 00"), 1024).length, 5);
    assert.equal(inflater.inflate(new Uint8Array(0), 1024).length, 0);
    assert.equal(text(inflater.inflate(hex("f2 00 11 00 00"), 1024)), "Hello");
  });

  it("matches zlib's own encoding of the examples", () => {
    assert.deepEqual(deflateMessage(utf8("Hello")), hex("f2 48 cd c9 c9 07 00"));
    assert.deepEqual(deflateMessage(utf8("Hello"), { level: 0 }), hex("00 05 00 fa ff 48 65 6c 6c 6f 00"));
  });
});

describe("round trips against node:zlib (deflateRaw, Z_SYNC_FLUSH, 00 00 ff ff removed)", () => {
  const rng = new Rng(7692);
  const data = inputs(rng);
  for (const level of [0, 1, 6, 9]) {
    it(`level ${level}, windowBits 8..15, every input`, () => {
      for (const [name, input] of data) {
        for (let windowBits = 8; windowBits <= 15; windowBits++) {
          if (input.length > MiB && windowBits !== 9 && windowBits !== 15) continue; // the big one twice only
          const payload = deflateMessage(input, { level, windowBits });
          for (const contextTakeover of [false, true]) {
            const out = new Inflater({ windowBits, contextTakeover }).inflate(payload, input.length);
            equalBytes(out, input, `${name}, level ${level}, windowBits ${windowBits}`);
          }
        }
      }
    });
  }

  it("every zlib strategy (filtered, Huffman only, RLE, fixed), with several memory levels", () => {
    const rng = new Rng(1950);
    const samples = [jsonLike(30000, rng), proseLike(8000, rng), rng.bytes(3000), repetitive(20000), utf8("ab")];
    const { Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED, Z_DEFAULT_STRATEGY } = zlib.constants;
    for (const strategy of [Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED, Z_DEFAULT_STRATEGY]) {
      for (const memLevel of [1, 8, 9]) {
        for (const input of samples) {
          const payload = deflateMessage(input, { strategy, memLevel, level: 7 });
          equalBytes(inflateOnce(payload, {}, input.length), input, `strategy ${strategy}, memLevel ${memLevel}`);
        }
      }
    }
  });

  it("senders that end messages with BFINAL (§7.2.3.4), with and without the empty block's octet", () => {
    const rng = new Rng(1234);
    const inflater = new Inflater({ contextTakeover: true });
    for (const input of [utf8("Hello"), jsonLike(5000, rng), rng.bytes(700), repetitive(70000), new Uint8Array(0)]) {
      for (const level of [0, 6]) {
        const finished = new Uint8Array(zlib.deflateRawSync(input, { level })); // ends with a BFINAL block
        equalBytes(inflateOnce(finished), input, "as zlib wrote it");
        equalBytes(inflateOnce(concat(finished, hex("00"))), input, "with the octet §7.2.1 leaves");
        equalBytes(inflater.inflate(finished, MiB), input, "on one Inflater with context takeover");
      }
    }
  });

  it("a payload inside a larger buffer (a view with an offset) is read in place and not modified", () => {
    const input = jsonLike(3000, new Rng(1));
    const payload = deflateMessage(input);
    const backing = new Uint8Array(payload.length + 20).fill(0xee);
    backing.set(payload, 10);
    const view = backing.subarray(10, 10 + payload.length);
    const copy = view.slice();
    equalBytes(inflateOnce(view), input);
    assert.deepEqual(view, copy);
    assert.equal(backing[9], 0xee);
    assert.equal(backing[10 + payload.length], 0xee);
  });

  it("results are the caller's: later messages never overwrite them, and writing to them changes nothing", () => {
    const inflater = new Inflater({ contextTakeover: true });
    const messages = ["first message, first message", "second message, first message", "third"].map(utf8);
    const deflate = (m: Uint8Array, dictionary?: Uint8Array) =>
      deflateMessage(m, dictionary ? { dictionary: Buffer.from(dictionary) } : {});
    const a = inflater.inflate(deflate(messages[0]), 1024);
    const b = inflater.inflate(deflate(messages[1], messages[0]), 1024);
    assert.equal(text(a), "first message, first message");
    assert.equal(text(b), "second message, first message");
    a.fill(0x21); // the window is a copy: the next back-reference still sees the original bytes
    const c = inflater.inflate(deflate(messages[0], concat(messages[0], messages[1])), 1024);
    assert.equal(text(c), "first message, first message");
    assert.equal(text(b), "second message, first message");
  });
});

describe("context takeover: a stream of messages from ONE zlib deflate stream", () => {
  /** Compresses `messages` with one zlib stream and a sync flush after each, as a permessage-deflate sender does. */
  /**
   * Compresses `messages` with one zlib stream and a sync flush after each, as
   * a permessage-deflate sender does. With `flushesInside`, a message is also
   * flushed part way (as a sender streaming fragments does), leaving an
   * interior 00 00 ff ff in its payload.
   */
  async function deflateStream(
    messages: Uint8Array[],
    options: zlib.ZlibOptions,
    flushesInside = false,
  ): Promise<Uint8Array[]> {
    const deflate = zlib.createDeflateRaw(options);
    const chunks: Buffer[] = [];
    deflate.on("data", (chunk: Buffer) => chunks.push(chunk));
    const flush = () => new Promise<void>((resolve) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
    const payloads: Uint8Array[] = [];
    for (const message of messages) {
      if (flushesInside && message.length > 2) {
        const cut = message.length >> 1;
        deflate.write(message.subarray(0, cut));
        await flush();
        deflate.write(message.subarray(cut));
      } else {
        deflate.write(message);
      }
      await flush();
      const all = Buffer.concat(chunks.splice(0));
      // zlib writes nothing for an empty message right after a flush.
      if (all.length === 0) {
        payloads.push(new Uint8Array(0));
        continue;
      }
      assert.deepEqual(new Uint8Array(all.subarray(all.length - 4)), TRAILER);
      payloads.push(new Uint8Array(all.subarray(0, all.length - 4)));
    }
    await new Promise<void>((resolve) => deflate.close(() => resolve()));
    return payloads;
  }

  function messageMix(rng: Rng, count: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const templates = [jsonLike(400, rng), proseLike(300, rng)];
    for (let i = 0; i < count; i++) {
      switch (rng.int(8)) {
        case 0:
          out.push(new Uint8Array(0));
          break;
        case 1:
          out.push(rng.bytes(rng.int(300))); // incompressible: stored blocks
          break;
        case 2:
          out.push(jsonLike(rng.range(5000, 40000), rng)); // wraps the window
          break;
        case 3:
          out.push(repetitive(rng.range(1, 3000)));
          break;
        default: {
          // A small message that repeats parts of earlier ones: back-references across messages.
          const t = rng.pick(templates);
          const start = rng.int(t.length - 60);
          out.push(t.slice(start, start + rng.range(20, 60)));
        }
      }
    }
    return out;
  }

  for (const windowBits of [8, 9, 12, 15]) {
    for (const level of [1, 6, 9]) {
      it(`windowBits ${windowBits}, level ${level}: 120 messages decode one by one`, async () => {
        const rng = new Rng(windowBits * 100 + level);
        const messages = messageMix(rng, 120);
        const payloads = await deflateStream(messages, { level, windowBits });
        const inflater = new Inflater({ windowBits, contextTakeover: true });
        let crossing = 0;
        for (let i = 0; i < messages.length; i++) {
          equalBytes(inflater.inflate(payloads[i], MiB), messages[i], `message ${i}`);
          // Count messages that needed the window (zlib alone cannot read them).
          if (payloads[i].length > 0) {
            try {
              inflateOnce(payloads[i], { windowBits });
            } catch {
              crossing++;
            }
          }
        }
        assert.ok(crossing > (windowBits >= 12 ? 10 : 0), `only ${crossing} messages referred to earlier ones`);
      });
    }
  }

  it("messages flushed part way (an empty stored block inside the payload)", async () => {
    const rng = new Rng(17);
    const messages = messageMix(rng, 80);
    const payloads = await deflateStream(messages, { level: 6 }, true);
    const inflater = new Inflater({ contextTakeover: true });
    let inside = 0;
    for (let i = 0; i < messages.length; i++) {
      if (Buffer.from(payloads[i]).indexOf(Buffer.from(TRAILER)) >= 0) inside++;
      equalBytes(inflater.inflate(payloads[i], MiB), messages[i], `message ${i}`);
    }
    assert.ok(inside > 40, `${inside} payloads with an interior flush`);
  });

  it("the same stream decoded without context takeover fails with InflateDataError", async () => {
    const rng = new Rng(99);
    const messages = messageMix(rng, 60);
    const payloads = await deflateStream(messages, { level: 6 });
    const inflater = new Inflater({ contextTakeover: false });
    assert.throws(() => {
      for (const p of payloads) inflater.inflate(p, MiB);
    }, /too far back/);
  });

  it("without context takeover, messages compressed independently decode in sequence", () => {
    const rng = new Rng(5);
    const inflater = new Inflater({ contextTakeover: false, windowBits: 10 });
    for (let i = 0; i < 50; i++) {
      const message = i % 5 === 0 ? jsonLike(3000, rng) : proseLike(rng.range(1, 200), rng);
      equalBytes(inflater.inflate(deflateMessage(message, { windowBits: 10 }), MiB), message);
    }
  });
});

describe("distances: the window and the data seen so far", () => {
  it("reaches exactly 2^windowBits back into the previous message, and not one byte further", () => {
    for (const windowBits of [8, 9, 15]) {
      const size = 1 << windowBits;
      const first = new Uint8Array(size).map((_, i) => (i * 7 + 3) & 0xff);
      const stored = new BitWriter().bits(0, 3).raw([size & 0xff, size >> 8, ~size & 0xff, (~size >> 8) & 0xff])
        .raw(first);
      const inflater = new Inflater({ windowBits, contextTakeover: true });
      equalBytes(inflater.inflate(syncFlush(stored), size), first);
      const reach = syncFlush(fixedBlock(new BitWriter(), false, [{ length: 3, distance: size }]));
      assert.deepEqual(inflater.inflate(reach, 10), first.subarray(0, 3), `windowBits ${windowBits}`);
      if (windowBits < 15) {
        const tooFar = syncFlush(fixedBlock(new BitWriter(), false, [{ length: 3, distance: size + 1 }]));
        assert.throws(() => inflater.inflate(tooFar, 10), /beyond the window/);
      }
    }
  });

  it("inside one message, a distance beyond 2^windowBits is invalid even when the data is there", () => {
    const lits = [...new Uint8Array(1000).map((_, i) => 65 + (i % 26))];
    const message = syncFlush(fixedBlock(new BitWriter(), false, [...lits, { length: 10, distance: 600 }]));
    assert.equal(inflateOnce(message, { windowBits: 10 }).length, 1010);
    assert.throws(() => inflateOnce(message, { windowBits: 9 }), /beyond the window of 512 bytes/);
  });

  it("a reference that spans the window's wrap-around and the current message", () => {
    const windowBits = 8;
    const inflater = new Inflater({ windowBits, contextTakeover: true });
    // Fill the ring with 250 + 100 bytes so that its start moves; keep a model of the history.
    const history: number[] = [];
    for (const size of [250, 100]) {
      const m = [...new Uint8Array(size).map((_, i) => (size + i * 13) & 0xff)];
      const stored = new BitWriter().bits(0, 3).raw([size, 0, ~size & 0xff, 0xff]).raw(m);
      inflater.inflate(syncFlush(stored), size);
      history.push(...m);
    }
    // Two literals, then a 40-byte match 20 bytes before this message (overlapping into it).
    const out = inflater.inflate(
      syncFlush(fixedBlock(new BitWriter(), false, [1, 2, { length: 40, distance: 22 }])),
      100,
    );
    const expected = [1, 2];
    const all = [...history, 1, 2];
    for (let i = 0; i < 40; i++) {
      const b = all[all.length - 22];
      all.push(b);
      expected.push(b);
    }
    assert.deepEqual([...out], expected);
  });

  it("an overlapping match (distance < length) repeats the bytes, as LZ77 says", () => {
    const out = inflateOnce(syncFlush(fixedBlock(new BitWriter(), false, [97, 98, { length: 258, distance: 2 }])));
    assert.equal(text(out), "ab".repeat(130));
  });

  it("distance code 30 or 31, or a distance past the start of the data, is invalid", () => {
    for (const dist of [30, 31]) {
      const bad = syncFlush(fixedBlock(new BitWriter(), false, [65, { litlen: 257 }, { dist }]));
      assert.throws(() => inflateOnce(bad), /invalid distance code/);
    }
    const far = syncFlush(fixedBlock(new BitWriter(), false, [65, 66, { length: 3, distance: 3 }]));
    assert.throws(() => inflateOnce(far), /too far back/);
  });
});

describe("invalid data gives InflateDataError", () => {
  const cases: [string, Uint8Array][] = [
    ["block type 3", hex("06")],
    ["block type 3 with BFINAL", hex("07")],
    ["block type 3 after a good block", hex("f2 48 cd c9 c9 07 00 00 00 ff ff 06")],
    ["stored block LEN/NLEN mismatch", hex("00 05 00 fa fe 48 65 6c 6c 6f 00")],
    ["stored block longer than the data", hex("00 05 00 fa ff 48 65 6c")],
    ["literal/length code 286 in a fixed block", syncFlush(fixedBlock(new BitWriter(), false, [{ litlen: 286 }]))],
    ["literal/length code 287 in a fixed block", syncFlush(fixedBlock(new BitWriter(), false, [{ litlen: 287 }]))],
    ["a message cut in the middle of a block", hex("f2 48 cd c9")],
    ["a message cut before the empty stored block's header", hex("f2 48 cd c9 c9 07")],
    ["a fixed block without its end-of-block code", fixedBlock(new BitWriter(), false, [72, 105], false).done()],
    ["the 00 00 ff ff not removed by the sender", hex("f2 48 cd c9 c9 07 00 00 00 ff ff")],
    ["garbage after a BFINAL block: ff", hex("f3 48 cd c9 c9 07 00 ff")],
    ["garbage after a BFINAL block: 00 00", hex("f3 48 cd c9 c9 07 00 00 00")],
    ["garbage after a BFINAL block: 48 65", hex("f3 48 cd c9 c9 07 00 48 65")],
    ["garbage after a BFINAL block: ff ff ff ff", hex("f3 48 cd c9 c9 07 00 ff ff ff ff")],
    [
      "HLIT over 286 (287 literal/length codes)",
      syncFlush(dynamicHeader(new BitWriter(), false, new Array(287).fill(8), [5], { hlit: 287 })),
    ],
    [
      "HDIST over 30 (31 distance codes)",
      syncFlush(dynamicHeader(new BitWriter(), false, new Array(257).fill(8), new Array(31).fill(5), { hdist: 31 })),
    ],
    [
      "over-subscribed code length code",
      syncFlush(dynamicHeader(new BitWriter(), false, [], [], { hlit: 257, hdist: 1, clens: new Array(19).fill(1) })),
    ],
    [
      "incomplete code length code",
      syncFlush(
        dynamicHeader(new BitWriter(), false, [], [], { hlit: 257, hdist: 1, clens: [1, ...new Array(18).fill(0)] }),
      ),
    ],
    [
      "no code length codes at all",
      syncFlush(dynamicHeader(new BitWriter(), false, [], [], { hlit: 257, hdist: 1, clens: new Array(19).fill(0) })),
    ],
    [
      "repeat (16) of the previous length with nothing before it",
      syncFlush(dynamicHeader(new BitWriter(), false, [], [], { hlit: 257, hdist: 1, symbols: [[16, 2, 0]] })),
    ],
    [
      "repeat (18) past the last code length",
      syncFlush(
        dynamicHeader(new BitWriter(), false, [], [], {
          hlit: 257,
          hdist: 1,
          symbols: [[18, 7, 127], [18, 7, 127], [18, 7, 0]], // 138 + 138 + 11 > 258
        }),
      ),
    ],
    [
      "no end-of-block code (length of 256 is 0)",
      syncFlush(dynamicBlock(new BitWriter(), false, [...new Array(256).fill(8), 0], [1], [])),
    ],
    [
      "over-subscribed literal/length code",
      syncFlush(dynamicHeader(new BitWriter(), false, new Array(257).fill(1), [1])),
    ],
    [
      "incomplete literal/length code",
      syncFlush(dynamicHeader(new BitWriter(), false, [...new Array(256).fill(0), 2, 2, 2], [1])),
    ],
    ["over-subscribed distance code", syncFlush(dynamicHeader(new BitWriter(), false, SMALL_LIT, [1, 1, 1]))],
    [
      "incomplete distance code (two codes of 2 bits)",
      syncFlush(dynamicHeader(new BitWriter(), false, SMALL_LIT, [2, 2])),
    ],
    [
      "a distance code in a block whose distance code is empty",
      syncFlush(
        dynamicBlock(new BitWriter(), false, [...new Array(256).fill(0), 1, 1], [0], [{ litlen: 257 }, { dist: 0 }]),
      ),
    ],
    [
      "the unused code of a one-code distance code",
      (() => {
        // The distance code has one symbol, coded "0"; the code "1" is unused.
        const lit = canonicalCodes(SMALL_LIT);
        const w = dynamicHeader(new BitWriter(), false, SMALL_LIT, [1]);
        w.code(lit[65], 2).code(lit[257], 1).code(1, 1).code(lit[256], 2);
        return syncFlush(w);
      })(),
    ],
  ];

  for (const [name, payload] of cases) {
    it(name, () => {
      for (const contextTakeover of [false, true]) {
        assert.throws(
          () => new Inflater({ contextTakeover }).inflate(payload, MiB),
          (error: unknown) => error instanceof InflateDataError && /^Cannot inflate the message: /.test(error.message),
        );
      }
    });
  }

  it("zlib rejects the same header faults (the oracle agrees)", () => {
    // Only the cases that are not about the end of the message (zlib's sync flush waits for more
    // input instead), padded with zeros so that zlib never stops for want of input.
    for (const [name, payload] of cases.slice(0, 7).concat(cases.slice(15))) {
      if (name.startsWith("stored block longer")) continue;
      assert.throws(() => zlibInflate(concat(payload, new Uint8Array(64))), `zlib accepted: ${name}`);
    }
  });

  it("valid edge cases zlib also accepts: a one-code distance code, an empty distance code, a lone end-of-block", () => {
    const oneDist = syncFlush(dynamicBlock(new BitWriter(), false, SMALL_LIT, [1], [65, { length: 3, distance: 1 }]));
    assert.equal(text(inflateOnce(oneDist)), "AAAA");
    assert.equal(text(zlibInflate(oneDist)), "AAAA");
    const twoLits = [...new Array(65).fill(0), 1, ...new Array(190).fill(0), 1];
    const noDist = syncFlush(dynamicBlock(new BitWriter(), false, twoLits, [0], [65, 65]));
    assert.equal(text(inflateOnce(noDist)), "AA");
    assert.equal(text(zlibInflate(noDist)), "AA");
    const onlyEnd = syncFlush(dynamicBlock(new BitWriter(), false, [...new Array(256).fill(0), 1], [0], []));
    assert.equal(inflateOnce(onlyEnd).length, 0);
    assert.equal(zlibInflate(onlyEnd).length, 0);
  });

  it("code length repeats: 16 (previous, 3..6), 17 (zeros, 3..10), 18 (zeros, 11..138)", () => {
    // Literal/length lengths: 'A' 1 bit, 256..259 3 bits; distance lengths 2, 2, 1.
    const litLengths = [...new Array(65).fill(0), 1, ...new Array(190).fill(0), 3, 3, 3, 3];
    const distLengths = [2, 2, 1];
    const w = dynamicHeader(new BitWriter(), false, litLengths, distLengths, {
      symbols: [
        [18, 7, 65 - 11], // 0..64: zero
        [1, 0, 0], // 65: 1
        [18, 7, 138 - 11], // 66..203: zero
        [18, 7, 39 - 11], // 204..242: zero
        [17, 3, 10 - 3], // 243..252: zero
        [0, 0, 0],
        [0, 0, 0],
        [0, 0, 0], // 253..255: zero
        [3, 0, 0], // 256: 3
        [16, 2, 0], // 257..259: 3 again
        [2, 0, 0],
        [2, 0, 0],
        [1, 0, 0], // the distance code
      ],
    });
    const lit = canonicalCodes(litLengths);
    const dist = canonicalCodes(distLengths);
    // "A", "A", then length 5 (symbol 259) at distance 1 (symbol 0), end.
    w.code(lit[65], 1).code(lit[65], 1).code(lit[259], 3).code(dist[0], 2).code(lit[256], 3);
    const payload = syncFlush(w);
    assert.equal(text(inflateOnce(payload)), "A".repeat(7));
    assert.equal(text(zlibInflate(payload)), "A".repeat(7));
  });

  it("a valid block may follow a BFINAL block in the same message (a BFINAL flush, §7.2.3.4)", () => {
    assert.equal(text(inflateOnce(hex("f3 48 cd c9 c9 07 00 f2 48 cd c9 c9 07 00"))), "HelloHello");
    assert.equal(text(inflateOnce(hex("f3 48 cd c9 c9 07 00 01"))), "Hello", "then an empty final stored block");
  });

  it("after an error the Inflater stays failed", () => {
    const inflater = new Inflater({ contextTakeover: true });
    assert.throws(() => inflater.inflate(hex("06"), 100), InflateDataError);
    assert.throws(() => inflater.inflate(hex("f2 48 cd c9 c9 07 00"), 100), /failed on an earlier message/);
    const limited = new Inflater({ contextTakeover: false });
    assert.throws(() => limited.inflate(hex("f2 48 cd c9 c9 07 00"), 4), InflateLimitError);
    assert.throws(() => limited.inflate(hex("f2 48 cd c9 c9 07 00"), 100), TypeError);
  });
});

describe("maxOutput: limits and compression bombs", () => {
  it("output of exactly maxOutput bytes is allowed; one byte more is not", () => {
    const hello = hex("f2 48 cd c9 c9 07 00");
    assert.equal(inflateOnce(hello, {}, 5).length, 5);
    assert.throws(() => inflateOnce(hello, {}, 4), InflateLimitError);
    assert.equal(inflateOnce(hex("00"), {}, 0).length, 0);
    assert.throws(() => inflateOnce(hello, {}, 0), InflateLimitError);
    const stored = hex("00 05 00 fa ff 48 65 6c 6c 6f 00");
    assert.equal(inflateOnce(stored, {}, 5).length, 5);
    assert.throws(() => inflateOnce(stored, {}, 4), /more than 4 bytes/);
    // Around the boundaries of the internal buffers.
    const rng = new Rng(3);
    for (const size of [1023, 1024, 65535, 65536, 65537, 300000]) {
      const input = jsonLike(size, rng);
      const payload = deflateMessage(input);
      equalBytes(inflateOnce(payload, {}, size), input);
      assert.throws(() => inflateOnce(payload, {}, size - 1), InflateLimitError, `size ${size}`);
      assert.throws(() => inflateOnce(payload, {}, size >> 1), InflateLimitError, `size ${size}`);
    }
  });

  it("a match that would cross the limit fails before it is copied", () => {
    const run = syncFlush(fixedBlock(new BitWriter(), false, [97, { length: 258, distance: 1 }]));
    assert.equal(inflateOnce(run, {}, 259).length, 259);
    assert.throws(() => inflateOnce(run, {}, 258), InflateLimitError);
  });

  it("100 MB of zeros (a ~100 KB payload) fails fast against 1 MiB, allocating at most 1 MiB", () => {
    const bomb = deflateMessage(new Uint8Array(100 * 1000 * 1000), { level: 9 });
    assert.ok(bomb.length < 120_000, `${bomb.length} bytes`);
    for (const contextTakeover of [false, true]) {
      _largestAllocation();
      const start = performance.now();
      assert.throws(() => new Inflater({ contextTakeover }).inflate(bomb, MiB), InflateLimitError);
      const elapsed = performance.now() - start;
      assert.ok(elapsed < 1000, `took ${elapsed.toFixed(0)} ms`);
      const largest = _largestAllocation();
      assert.ok(largest <= MiB, `allocated ${largest} bytes`);
    }
  });

  it("a crafted stream of 258-byte matches with 2-bit codes fails against 64 KiB, allocating nothing", () => {
    // Literal 'a', then thousands of (length 258, distance 1): 3 bits per 258 bytes.
    const litLengths = [...new Array(97).fill(0), 2, ...new Array(158).fill(0), 2, ...new Array(28).fill(0), 1];
    const w = dynamicHeader(new BitWriter(), false, litLengths, [1]);
    const lit = canonicalCodes(litLengths);
    w.code(lit[97], 2);
    for (let i = 0; i < 8000; i++) w.code(lit[285], 1).code(0, 1);
    w.code(lit[256], 2);
    const payload = syncFlush(w);
    assert.ok(payload.length < 2400, `${payload.length} bytes`);
    equalBytes(inflateOnce(payload, {}, 1 + 8000 * 258), new Uint8Array(1 + 8000 * 258).fill(97));
    _largestAllocation();
    assert.throws(() => inflateOnce(payload, {}, 65536), InflateLimitError);
    assert.equal(_largestAllocation(), 0, "the shared 64 KiB buffer sufficed");
    assert.throws(() => inflateOnce(payload, {}, 100_000), InflateLimitError);
    assert.ok(_largestAllocation() <= 100_000);
  });

  it("a big stored block over the limit fails before it is copied", () => {
    const size = 60000;
    const stored = new BitWriter().bits(0, 3).raw([size & 0xff, size >> 8, ~size & 0xff, (~size >> 8) & 0xff]).raw(
      new Uint8Array(size),
    );
    const payload = syncFlush(stored);
    assert.equal(inflateOnce(payload, {}, size).length, size);
    assert.throws(() => inflateOnce(payload, {}, size - 1), InflateLimitError);
  });

  it("Infinity means no limit", () => {
    const input = repetitive(3 * MiB);
    equalBytes(inflateOnce(deflateMessage(input), {}, Infinity), input);
  });
});

describe("caller mistakes throw TypeError or RangeError", () => {
  it("bad options", () => {
    // @ts-expect-error: no options
    assert.throws(() => new Inflater(), TypeError);
    // @ts-expect-error: contextTakeover missing
    assert.throws(() => new Inflater({}), /contextTakeover must be true or false/);
    // @ts-expect-error: a typo
    assert.throws(() => new Inflater({ contextTakeover: true, windowbits: 9 }), /unknown option "windowbits"/);
    for (const windowBits of [7, 16, 9.5, Number.NaN]) {
      assert.throws(() => new Inflater({ contextTakeover: true, windowBits }), RangeError, String(windowBits));
    }
    assert.ok(new Inflater({ contextTakeover: false, windowBits: 8 }));
    assert.ok(new Inflater({ contextTakeover: false, windowBits: undefined }));
  });

  it("bad arguments to inflate", () => {
    const inflater = new Inflater({ contextTakeover: false });
    // @ts-expect-error: not bytes
    assert.throws(() => inflater.inflate("f2", 10), TypeError);
    for (const max of [-1, 1.5, Number.NaN]) {
      assert.throws(() => inflater.inflate(hex("00"), max), RangeError);
    }
    // Caller mistakes do not fail the Inflater.
    assert.equal(text(inflater.inflate(hex("f2 48 cd c9 c9 07 00"), 10)), "Hello");
  });
});

describe("fuzzing: only the two error classes, never a hang, never a disagreement with zlib", () => {
  /**
   * Inflates with both decoders: when zlib rejects the data, so must we; when
   * we accept it, zlib must too, and its output must be a prefix of ours (it
   * stops at the first BFINAL block; RFC 7692 lets more blocks follow).
   */
  function check(payload: Uint8Array, label: string): "ok" | "data" | "limit" {
    let ours: Uint8Array | Error;
    try {
      ours = inflateOnce(payload, {}, 4 * MiB);
    } catch (error) {
      if (!(error instanceof InflateDataError) && !(error instanceof InflateLimitError)) {
        throw new Error(`${label}: unexpected ${String(error)}`);
      }
      ours = error;
    }
    let theirs: Uint8Array | null;
    try {
      theirs = zlibInflate(payload);
    } catch {
      theirs = null;
    }
    if (theirs === null) {
      assert.ok(ours instanceof Error, `${label}: zlib rejects what we accept`);
    } else if (!(ours instanceof Error)) {
      assert.ok(theirs.length <= ours.length, `${label}: zlib output is longer`);
      equalBytes(ours.subarray(0, theirs.length), theirs, `${label}: outputs differ`);
    }
    return ours instanceof InflateLimitError ? "limit" : ours instanceof Error ? "data" : "ok";
  }

  it("random bytes", () => {
    const rng = new Rng(1951);
    const start = performance.now();
    const seen = { ok: 0, data: 0, limit: 0 };
    for (let i = 0; i < 4000; i++) {
      const payload = rng.bytes(rng.int(i < 2000 ? 16 : 400));
      if (rng.chance(0.3) && payload.length > 0) payload[0] &= 0xfb; // favour stored and fixed blocks
      seen[check(payload, `random #${i}`)]++;
    }
    assert.ok(seen.data > 1000, JSON.stringify(seen));
    assert.ok(performance.now() - start < 15000);
  });

  it("mutated valid messages: bit flips, byte changes, cuts, insertions", () => {
    const rng = new Rng(7692);
    const sources: Uint8Array[] = [];
    for (const level of [0, 1, 6, 9]) {
      sources.push(deflateMessage(jsonLike(rng.range(50, 3000), rng), { level }));
      sources.push(deflateMessage(proseLike(rng.range(50, 2000), rng), { level }));
      sources.push(deflateMessage(repetitive(rng.range(10, 5000)), { level }));
      sources.push(deflateMessage(jsonLike(40, rng), { level, strategy: zlib.constants.Z_FIXED }));
    }
    const start = performance.now();
    const seen = { ok: 0, data: 0, limit: 0 };
    for (let i = 0; i < 4000; i++) {
      const source = rng.pick(sources);
      let payload: Uint8Array = source.slice();
      const mutations = 1 + rng.int(3);
      for (let m = 0; m < mutations; m++) {
        switch (rng.int(4)) {
          case 0:
            if (payload.length) payload[rng.int(payload.length)] ^= 1 << rng.int(8);
            break;
          case 1:
            if (payload.length) payload[rng.int(Math.min(payload.length, 40))] = rng.int(256);
            break;
          case 2:
            payload = payload.subarray(0, rng.int(payload.length + 1));
            break;
          default: {
            const at = rng.int(payload.length + 1);
            payload = concat(payload.subarray(0, at), rng.bytes(1 + rng.int(3)), payload.subarray(at));
          }
        }
      }
      seen[check(payload, `mutation #${i}`)]++;
    }
    assert.ok(seen.ok > 50 && seen.data > 1000, JSON.stringify(seen));
    assert.ok(performance.now() - start < 20000);
  });

  it("random messages on one Inflater with context takeover", () => {
    const rng = new Rng(42);
    const good = [hex("f2 48 cd c9 c9 07 00"), hex("f2 00 11 00 00"), hex("f3 00 11 00 00"), hex("00")];
    let inflater = new Inflater({ contextTakeover: true, windowBits: 9 });
    let failures = 0;
    for (let i = 0; i < 3000; i++) {
      const payload = rng.chance(0.5) ? rng.pick(good).slice() : rng.bytes(rng.int(24));
      if (rng.chance(0.3) && payload.length) payload[rng.int(payload.length)] ^= 1 << rng.int(8);
      try {
        inflater.inflate(payload, 4096);
      } catch (error) {
        assert.ok(error instanceof InflateDataError || error instanceof InflateLimitError, String(error));
        failures++;
        inflater = new Inflater({ contextTakeover: true, windowBits: 9 });
      }
    }
    assert.ok(failures > 100);
  });
});

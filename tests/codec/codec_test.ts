// The permessage-deflate codec (src/codec/), over each zlib it can run on
// (pako, and the runtime's own through src/runtime/zlib.ts): RFC 7692
// vectors, the inflate limit, and differential fuzzing against node:zlib's
// streams, both ways, over every parameter combination. Seeded: a failure
// prints its seed.
// WSD_FUZZ_LONG=1 runs 20× more messages per context (minutes, not seconds).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { Buffer } from "node:buffer";
import process from "node:process";
import { Deflater } from "../../src/codec/deflate.ts";
import { InflateDataError, InflateLimitError, Inflater } from "../../src/codec/inflate.ts";
import { pakoZlib } from "../../src/codec/engine.ts";
import type { ZlibProvider } from "../../src/codec/engine.ts";
import { nativeZlib } from "../../src/runtime/zlib.ts";
import { hex, mulberry32, toHex, utf8 } from "../protocol/_helpers.ts";

const LONG = process.env.WSD_FUZZ_LONG === "1";
const TAIL = Buffer.from([0, 0, 0xff, 0xff]);

/** A seeded message generator: text, JSON, binary, random, repetitive, bitmap-like; 0 B – maxSize. */
function messages(seed: number, count: number, maxSize: number): Uint8Array[] {
  const rnd = mulberry32(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const out: Uint8Array[] = [];
  const words = ["alpha", "beta", "gamma", "delta", "événement", "日本語", "emoji 😀", "zeta", "\u0000"];
  for (let i = 0; i < count; i++) {
    // Mostly small, some large: sizes spread over orders of magnitude.
    const size = rnd() < 0.1 ? 0 : Math.min(maxSize, Math.floor(Math.exp(rnd() * Math.log(maxSize + 1))));
    const kind = int(6);
    const m = new Uint8Array(size);
    if (kind === 0) { // random
      for (let j = 0; j < size; j++) m[j] = int(256);
    } else if (kind === 1) { // highly repetitive
      const b = int(256);
      m.fill(b);
      for (let j = 0; j < size; j += 1 + int(4096)) m[j] = int(256);
    } else if (kind === 2) { // text
      const s: string[] = [];
      let n = 0;
      while (n < size) {
        const w = words[int(words.length)];
        s.push(w);
        n += w.length + 1;
      }
      const t = utf8(s.join(" "));
      m.set(t.subarray(0, size));
    } else if (kind === 3) { // JSON
      const s: string[] = [];
      let n = 0;
      while (n < size) {
        const w = JSON.stringify({
          id: int(1e6),
          name: words[int(words.length)],
          ok: rnd() < 0.5,
          v: [int(99), int(99)],
        });
        s.push(w);
        n += w.length;
      }
      m.set(utf8(s.join(",")).subarray(0, size));
    } else if (kind === 4) { // bitmap-like: slowly varying rows
      let v = int(256);
      for (let j = 0; j < size; j++) {
        if (int(8) === 0) v = (v + int(7) - 3) & 0xff;
        m[j] = v;
      }
    } else { // a copy of an earlier message with edits (context takeover pays here)
      const prev = out.length > 0 ? out[int(out.length)] : new Uint8Array(0);
      for (let j = 0; j < size; j++) m[j] = prev.length > 0 ? prev[j % prev.length] : j & 0xff;
      for (let k = 0; k < 4 && size > 0; k++) m[int(size)] = int(256);
    }
    out.push(m);
  }
  return out;
}

/** Writes to a node:zlib stream and collects what one sync flush gives. */
function flushed(stream: zlib.InflateRaw | zlib.DeflateRaw, input: Uint8Array): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const onData = (c: Buffer) => chunks.push(c);
  stream.on("data", onData);
  stream.write(input);
  return new Promise((resolve, reject) => {
    stream.once("error", reject);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      stream.off("data", onData);
      stream.off("error", reject);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** node:zlib's raw inflater as one stream (the window kept between messages), as a peer's. */
function zlibInflater(windowBits: number): (payload: Uint8Array) => Promise<Buffer> {
  const inflate = zlib.createInflateRaw({ windowBits: Math.max(windowBits, 9) });
  return (payload) => flushed(inflate, Buffer.concat([payload, TAIL]));
}

function zlibDeflater(windowBits: number, level: number): (message: Uint8Array) => Promise<Buffer> {
  const deflate = zlib.createDeflateRaw({ windowBits: Math.max(windowBits, 9), level });
  return async (message) => {
    const out = await flushed(deflate, message);
    assert.equal(toHex(out.subarray(out.length - 4)), "00 00 ff ff");
    return out.subarray(0, out.length - 4);
  };
}

const PROVIDERS: ZlibProvider[] = nativeZlib === null ? [pakoZlib] : [pakoZlib, nativeZlib];

it("the runtime's zlib can be driven synchronously here (else the codec falls back to pako)", () => {
  assert.notEqual(nativeZlib, null);
});

for (const Z of PROVIDERS) {
  describe(`over ${Z.name}`, () => {
    describe("RFC 7692 §7.2.3: the examples", () => {
      it('§7.2.3.1: "Hello" is f2 48 cd c9 c9 07 00', () => {
        const d = new Deflater({ zlib: Z, contextTakeover: false });
        assert.equal(toHex(d.compress(utf8("Hello"))), "f2 48 cd c9 c9 07 00");
        assert.equal(
          new TextDecoder().decode(
            new Inflater({ zlib: Z, contextTakeover: false }).inflate(hex("f2 48 cd c9 c9 07 00"), 100),
          ),
          "Hello",
        );
      });
      it('§7.2.3.2: with context takeover the second "Hello" refers back into the first', () => {
        const d = new Deflater({ zlib: Z, contextTakeover: true });
        const i = new Inflater({ zlib: Z, contextTakeover: true });
        const first = d.compress(utf8("Hello")).slice();
        const second = d.compress(utf8("Hello")).slice();
        // The runtimes' zlibs differ in their choices (Deno's and Bun's from Node's): only pako's bytes are known.
        if (Z === pakoZlib) assert.equal(toHex(second), "f2 00 11 00 00");
        assert.equal(new TextDecoder().decode(i.inflate(first, 100)), "Hello");
        assert.equal(new TextDecoder().decode(i.inflate(second, 100)), "Hello");
      });
      it("§7.2.3.3: a stored (uncompressed) block inflates", () => {
        const i = new Inflater({ zlib: Z, contextTakeover: false });
        assert.equal(new TextDecoder().decode(i.inflate(hex("0005 00fa ff48 656c 6c6f 00"), 100)), "Hello");
      });
      it("§7.2.3.6: the empty message is 00", () => {
        const d = new Deflater({ zlib: Z, contextTakeover: true });
        assert.equal(toHex(d.compress(new Uint8Array(0))), "00");
        assert.equal(toHex(d.compress(new Uint8Array(0))), "00");
        assert.equal(new Inflater({ zlib: Z, contextTakeover: true }).inflate(hex("00"), 10).length, 0);
      });
      it("a final block (BFINAL) inflates, and the next message starts a new stream", () => {
        const i = new Inflater({ zlib: Z, contextTakeover: true });
        const final = zlib.deflateRawSync(Buffer.from("Hello"));
        assert.equal(new TextDecoder().decode(i.inflate(final, 100)), "Hello");
        assert.equal(new TextDecoder().decode(i.inflate(hex("f2 48 cd c9 c9 07 00"), 100)), "Hello");
      });
    });

    describe("inflating: limits and invalid data", () => {
      it("a 100 MB bomb fails at maxLength + 1 bytes, fast, and the inflater recovers", () => {
        const bomb = zlib.deflateRawSync(Buffer.alloc(100 * 1024 * 1024), { level: 9 });
        const i = new Inflater({ zlib: Z, contextTakeover: false });
        assert.throws(() => i.inflate(bomb, 1024 * 1024), InflateLimitError);
        assert.equal(new TextDecoder().decode(i.inflate(hex("f2 48 cd c9 c9 07 00"), 100)), "Hello");
      });
      it("exactly maxLength passes, one more fails", async () => {
        const data = await zlibDeflater(15, 6)(new Uint8Array(5000).fill(7));
        assert.equal(new Inflater({ zlib: Z, contextTakeover: false }).inflate(data, 5000).length, 5000);
        assert.throws(() => new Inflater({ zlib: Z, contextTakeover: false }).inflate(data, 4999), InflateLimitError);
      });
      it("invalid data: reserved block type, bad stored length, a distance too far back (pako: a message ending inside a block)", () => {
        // node:zlib does not show whether zlib stopped inside a block (see src/runtime/zlib.ts).
        const cut = Z === pakoZlib ? ["f248cdc9c90700f200110000".slice(0, 8)] : [];
        for (const bad of ["ff", "0005 00ff ff48", ...cut, "f2 00 11 00 00"]) {
          assert.throws(
            () => new Inflater({ zlib: Z, contextTakeover: true }).inflate(hex(bad), 100),
            InflateDataError,
            bad,
          );
        }
      });
      it("large messages whose ratio changes from one to the next: right bytes, buffers of their own", async () => {
        const rnd = mulberry32(9);
        const noisy = new Uint8Array(300_000).map(() => Math.floor(rnd() * 256));
        const zeros = new Uint8Array(300_000);
        const text = utf8(JSON.stringify(Array.from({ length: 6000 }, (_, k) => ({ k, name: `item ${k}` }))));
        const deflate = zlibDeflater(15, 6);
        const i = new Inflater({ zlib: Z, contextTakeover: true });
        const seen = new Set<ArrayBufferLike>();
        for (const [k, m] of [noisy, zeros, noisy, text, zeros, text, text, noisy].entries()) {
          const z = await deflate(m);
          const budget = k % 2 === 0 ? Infinity : 64 * 1024;
          i.begin(z, 1 << 20);
          while (!i.step(budget));
          const back = i.take();
          assert.ok(Buffer.from(m).equals(back), `message ${k}: ${m.length} B, budget ${budget}`);
          assert.ok(
            back.buffer.byteLength <= back.length * 1.125 + 1024,
            `${back.buffer.byteLength} for ${back.length}`,
          );
          assert.ok(!seen.has(back.buffer), "a buffer of its own");
          seen.add(back.buffer);
        }
      });
      it("transient messages (text): exactly maxLength passes, one more fails, at sizes around the scratch buffer's", async () => {
        for (const size of [5000, 65_536, 70_000, 300_000, 1_100_000]) {
          const data = await zlibDeflater(15, 6)(new Uint8Array(size).fill(7));
          const i = new Inflater({ zlib: Z, contextTakeover: false });
          i.begin(data, size, true);
          assert.ok(i.step(Infinity));
          assert.equal(i.take().length, size);
          i.begin(data, size - 1, true);
          assert.throws(() => i.step(Infinity), InflateLimitError, `${size}`);
        }
      });
      it("transient messages go through the shared scratch buffer; kept (binary) messages in between are never overwritten", async () => {
        const rnd = mulberry32(11);
        const json = (size: number, k: number) =>
          utf8(
            JSON.stringify(Array.from({ length: Math.ceil(size / 40) }, (_, j) => ({ j, k, v: (j * 37 + k) % 1000 }))),
          );
        const noise = (size: number) => new Uint8Array(size).map(() => (rnd() < 0.7 ? 66 : Math.floor(rnd() * 256)));
        const deflateText = zlibDeflater(15, 6), deflateBinary = zlibDeflater(15, 6);
        const text = new Inflater({ zlib: Z, contextTakeover: true });
        const binary = new Inflater({ zlib: Z, contextTakeover: true });
        // Around the scratch buffer's first size (64 KiB), a work budget, and the most it is kept at (1 MiB).
        const sizes = [100, 70_000, 300_000, 1_200_000, 50, 900_000, 70_000, 2_000_000, 20];
        const kept: Array<[Uint8Array, Uint8Array]> = [];
        for (const [k, size] of sizes.entries()) {
          const m = json(size, k);
          text.begin(await deflateText(m), 4 << 20, true);
          assert.ok(text.step(Infinity));
          assert.ok(Buffer.from(m).equals(text.take()), `text ${k}: ${m.length} B`);
          const b = noise(sizes[sizes.length - 1 - k]);
          binary.begin(await deflateBinary(b), 4 << 20);
          assert.ok(binary.step(Infinity));
          kept.push([b, binary.take()]);
        }
        for (const [k, [b, back]] of kept.entries()) {
          assert.ok(Buffer.from(b).equals(back), `binary ${k}: ${b.length} B`);
        }
      });
      it("a transient message not done within a step moves off the shared buffer: another's in between leaves it whole", async () => {
        const rnd = mulberry32(12);
        const big = new Uint8Array(400_000).map(() => (rnd() < 0.8 ? 65 : Math.floor(rnd() * 256)));
        const other = new Uint8Array(200_000).map(() => (rnd() < 0.8 ? 90 : Math.floor(rnd() * 256)));
        const a = new Inflater({ zlib: Z, contextTakeover: true });
        const b = new Inflater({ zlib: Z, contextTakeover: true });
        a.begin(await zlibDeflater(15, 6)(big), 1 << 20, true);
        let steps = 0;
        for (let done = false; !done; steps++) {
          done = a.step(64 * 1024);
          if (done) break;
          // Another connection's text message between two steps of this one.
          b.begin(await zlibDeflater(15, 6)(other), 1 << 20, true);
          assert.ok(b.step(Infinity));
          assert.ok(Buffer.from(other).equals(b.take()));
        }
        assert.ok(steps > 2, `${steps} steps`);
        assert.ok(Buffer.from(big).equals(a.take()));
      });
      it("budgeted steps give the same bytes as one call, and never much more than the budget per step", async () => {
        const rnd = mulberry32(5);
        const msg = new Uint8Array(300_000).map(() => (rnd() < 0.9 ? 65 : Math.floor(rnd() * 256)));
        const z = await zlibDeflater(15, 6)(msg);
        const i = new Inflater({ zlib: Z, contextTakeover: true });
        i.begin(z, 1 << 20);
        let steps = 0;
        while (!i.step(16 * 1024)) steps++;
        assert.ok(steps >= 300_000 / (16 * 1024) - 2, `${steps} steps`);
        assert.deepEqual(i.take(), new Uint8Array(msg));
      });
    });

    // Every RFC 7692 parameter our side can meet: window 8..15 (8 compresses as 9),
    // context takeover on and off, levels 1, 6, 9.
    const combos: { bits: number; takeover: boolean; level: number }[] = [];
    for (let bits = 8; bits <= 15; bits++) {
      for (const takeover of [true, false]) {
        for (const level of [1, 6, 9]) combos.push({ bits, takeover, level });
      }
    }

    describe("differential fuzzing against node:zlib (byte-exact, one stream per context)", () => {
      const count = LONG ? 2000 : 60;
      const maxSize = LONG ? 256 * 1024 : 64 * 1024;
      it(`ours → zlib: ${combos.length} parameter sets × ${count} messages`, async () => {
        for (const [n, c] of combos.entries()) {
          const seed = 1000 + n;
          const d = new Deflater({ zlib: Z, windowBits: c.bits, contextTakeover: c.takeover, level: c.level });
          const inflate = c.takeover ? zlibInflater(c.bits) : null;
          for (const [k, m] of messages(seed, count, maxSize).entries()) {
            const z = d.compress(m).slice();
            const back = inflate !== null ? await inflate(z) : zlib.inflateRawSync(Buffer.concat([z, TAIL]), {
              windowBits: Math.max(c.bits, 9),
              finishFlush: zlib.constants.Z_SYNC_FLUSH,
            });
            assert.ok(Buffer.from(m).equals(back), `seed ${seed} message ${k} (${m.length} B) ${JSON.stringify(c)}`);
          }
        }
      });
      it(`zlib → ours: ${combos.length} parameter sets × ${count} messages, fragmented budgets too`, async () => {
        for (const [n, c] of combos.entries()) {
          const seed = 5000 + n;
          const deflate = zlibDeflater(c.bits, c.level);
          const i = new Inflater({ zlib: Z, windowBits: c.bits, contextTakeover: true });
          for (const [k, m] of messages(seed, count, maxSize).entries()) {
            const z = await deflate(m);
            i.begin(z, maxSize);
            const budget = k % 3 === 0 ? 1000 : Infinity;
            while (!i.step(budget));
            const back = i.take();
            assert.ok(Buffer.from(m).equals(back), `seed ${seed} message ${k} (${m.length} B) ${JSON.stringify(c)}`);
          }
        }
      });
      it("ours → ours, the Autobahn 12.2.x shape: 16 KiB slices of a bitmap with context takeover", async () => {
        const rnd = mulberry32(12);
        const image = new Uint8Array(512 * 1024);
        let v = 0;
        for (let j = 0; j < image.length; j++) {
          if (rnd() < 0.3) v = (v + Math.floor(rnd() * 9) - 4) & 0xff;
          image[j] = v;
        }
        const d = new Deflater({ zlib: Z, contextTakeover: true });
        const inflate = zlibInflater(15);
        const i = new Inflater({ zlib: Z, contextTakeover: true });
        for (let k = 0, at = 0; k < (LONG ? 1000 : 200); k++, at = (at + 16384) % image.length) {
          const m = image.subarray(at, at + 16384);
          const z = d.compress(m).slice();
          assert.ok(Buffer.from(m).equals(await inflate(z)), `message ${k}`);
          assert.ok(Buffer.from(m).equals(i.inflate(z, 1 << 20)), `message ${k}`);
        }
      });
    });
  });
}

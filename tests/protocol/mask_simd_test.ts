// The WebAssembly SIMD unmasking (src/protocol/mask_simd.ts) and the paths
// that use it (maskInPlace and maskCopy from 2 KiB, ChunkQueue.copy for large
// pieces), checked against the naive byte loop: every length 0–300 through the
// kernel itself, lengths around the threshold and the 64 KiB block, several
// MiB, unaligned offsets, every phase, and a masked frame cut at chunk
// boundaries of every kind.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { maskCopy, maskInPlace } from "../../src/protocol/mask.ts";
import { instantiateMaskKernel, xorThroughSimd } from "../../src/protocol/mask_simd.ts";
import { Protocol } from "../../src/protocol/protocol.ts";
import { frame, mulberry32, naiveMask, OP, plain, Rng, toHex } from "./_helpers.ts";

function keyWord(key: Uint8Array, phase: number): number {
  let word = 0;
  for (let i = 0; i < 4; i++) word |= key[(phase + i) & 3] << (8 * i);
  return word;
}

function guarded(length: number, offset: number): { buffer: Uint8Array; view: Uint8Array } {
  const buffer = new Uint8Array(offset + length + 8).fill(0xa5);
  return { buffer, view: buffer.subarray(offset, offset + length) };
}

function assertGuards(buffer: Uint8Array, from: number, to: number, where: string): void {
  for (let i = 0; i < from; i++) assert.equal(buffer[i], 0xa5, `guard before, ${where}`);
  for (let i = to; i < buffer.length; i++) assert.equal(buffer[i], 0xa5, `guard after, ${where}`);
}

const LARGE = [2047, 2048, 2049, 2051, 4096 + 1, 65535, 65536, 65537, 2 * 65536 + 3, (3 << 20) + 5];

describe("unmasking with WebAssembly SIMD", () => {
  it("Deno, Node and Bun all validate the SIMD module (else the JavaScript loop is used)", () => {
    // Not a requirement of the library, which falls back; a check that the pinned runtimes take the fast path.
    assert.notEqual(instantiateMaskKernel(), null);
    assert.notEqual(xorThroughSimd, null);
  });

  it("the kernel equals the byte loop for lengths 0..300, source offsets 0..7, destination offsets 0..3, phases 0..3", () => {
    const xor = xorThroughSimd!;
    const rng = new Rng(1);
    for (let length = 0; length <= 300; length++) {
      for (let offset = 0; offset < 8; offset++) {
        const key = rng.bytes(4);
        const original = rng.bytes(length);
        const src = guarded(length, offset);
        src.view.set(original);
        for (let pos = 0; pos < 4; pos++) {
          for (let phase = 0; phase < 4; phase++) {
            const where = `length ${length}, offset ${offset}, pos ${pos}, phase ${phase}, key ${toHex(key)}`;
            const dst = new Uint8Array(pos + length + 8).fill(0xa5);
            xor(src.view, dst, pos, keyWord(key, phase));
            assert.deepEqual(dst.subarray(pos, pos + length), naiveMask(original, key, phase), where);
            assertGuards(dst, pos, pos + length, where);
            assert.deepEqual(src.view, original, `source unchanged, ${where}`);
            assertGuards(src.buffer, offset, offset + length, `source, ${where}`);
          }
        }
        // In place: the destination is the source.
        const phase = rng.int(4);
        xor(src.view, src.buffer, offset, keyWord(key, phase));
        assert.deepEqual(src.view, naiveMask(original, key, phase), `in place, length ${length}`);
        assertGuards(src.buffer, offset, offset + length, `in place, length ${length}`);
      }
    }
  });

  it("maskInPlace and maskCopy equal the byte loop around the threshold, the 64 KiB block and at 3 MiB", () => {
    const rng = new Rng(2);
    for (const length of LARGE) {
      const original = rng.bytes(length);
      for (let offset = 0; offset < 4; offset++) {
        for (let phase = 0; phase < 4; phase++) {
          const key = rng.bytes(4);
          key[0] |= 1;
          const where = `length ${length}, offset ${offset}, phase ${phase}, key ${toHex(key)}`;
          const want = naiveMask(original, key, phase);
          const a = guarded(length, offset);
          a.view.set(original);
          maskInPlace(a.view, key, phase);
          assert.ok(a.view.every((b, i) => b === want[i]), `maskInPlace, ${where}`);
          assertGuards(a.buffer, offset, offset + length, `maskInPlace, ${where}`);
          const src = guarded(length, (offset + 2) & 3);
          src.view.set(original);
          const dst = new Uint8Array(offset + length + 8).fill(0xa5);
          maskCopy(src.view, dst, offset, key, phase);
          assert.ok(dst.subarray(offset, offset + length).every((b, i) => b === want[i]), `maskCopy, ${where}`);
          assertGuards(dst, offset, offset + length, `maskCopy, ${where}`);
          assert.ok(src.view.every((b, i) => b === original[i]), `maskCopy leaves its source, ${where}`);
        }
      }
    }
  });

  it("a payload copied in pieces of every size class with the running phase equals one pass", () => {
    const rng = new Rng(3);
    const key = rng.bytes(4);
    const data = rng.bytes(5 << 20);
    const want = naiveMask(data, key);
    const next = mulberry32(3);
    const out = new Uint8Array(data.length);
    for (let at = 0; at < data.length;) {
      const r = next();
      const n = Math.min(
        data.length - at,
        r < 0.3
          ? 1 + Math.floor(next() * 100)
          : r < 0.6
          ? 1900 + Math.floor(next() * 300)
          : Math.floor(next() * 300_000),
      );
      maskCopy(data.subarray(at, at + n), out, at, key, at);
      at += n;
    }
    assert.ok(out.every((b, i) => b === want[i]));
  });

  for (
    const [name, sizes] of [
      ["2047-byte chunks", () => 2047],
      ["2049-byte chunks", () => 2049],
      ["65537-byte chunks", () => 65537],
      [
        "random 1 B – 200 KiB chunks",
        (() => {
          const r = mulberry32(4);
          return () => (r() < 0.3 ? 1 + Math.floor(r() * 3000) : Math.floor(r() * 200_000));
        })(),
      ],
    ] as Array<[string, () => number]>
  ) {
    it(`a server reads a masked 3 MiB + 3 frame cut into ${name}`, () => {
      const payload = new Rng(5).bytes((3 << 20) + 3);
      const bytes = frame({ opcode: OP.BINARY, payload, mask: new Uint8Array([0x37, 0xfa, 0x21, 0x3d]) });
      const protocol = new Protocol({ role: "server" });
      const events = [];
      for (let at = 0; at < bytes.length;) {
        const n = Math.max(1, sizes());
        protocol.receiveData(bytes.slice(at, at + n));
        events.push(...protocol.eventsReceived());
        at += n;
      }
      const got = plain(events);
      assert.equal(got.length, 1);
      assert.equal(got[0].type, "binary");
      const data = (got[0] as { data: Uint8Array }).data;
      assert.equal(data.length, payload.length);
      assert.ok(data.every((b, i) => b === payload[i]));
    });
  }
});

// The large-frame pool of src/protocol/frame.ts: a frame of 64 KiB or more is
// encoded into a buffer of its own, which releaseFrame() gives back for a
// later large frame once the transport let go of it; never before, never to
// two frames at once, and the pool keeps a bounded number of bytes.
//
// The pool is shared by the whole process (and test runners may run other
// files in the same process), so each test uses a size of its own, and
// asserts only what other buffers in the pool cannot change.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FIN, OutgoingBuffer, releaseFrame } from "../../src/protocol/frame.ts";
import { sameBytes } from "../_shared/bytes.ts";

const BINARY = 0x2;

function filled(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 97) out[i] = (i + seed) & 0xff;
  out[n - 1] = seed & 0xff;
  return out;
}

/** Encodes one binary frame of `payload` and returns its single piece. */
function encode(payload: Uint8Array, maskKey: Uint8Array | null = null): Uint8Array {
  const out = new OutgoingBuffer();
  out.writeFrame(FIN | BINARY, payload, maskKey);
  const pieces = out.take();
  assert.equal(pieces.length, 1);
  return pieces[0];
}

/** The payload of an unmasked frame piece with a 64-bit length (payloads of 64 KiB or more). */
function payloadOf(piece: Uint8Array): Uint8Array {
  assert.equal(piece[1] & 0x7f, 127);
  return piece.subarray(10);
}

describe("the large-frame pool (frame.ts)", () => {
  it("a large frame's buffer is reused only after releaseFrame(), and holds the new frame whole", () => {
    const size = (5 << 20) + 12_345;
    const a = filled(size, 1), b = filled(size, 2), c = filled(size, 3);
    const pa = encode(a);
    const pb = encode(b);
    assert.notEqual(pb.buffer, pa.buffer, "a buffer still lent out is not reused");
    assert.ok(sameBytes(payloadOf(pa), a) && sameBytes(payloadOf(pb), b));
    releaseFrame(pa);
    const pc = encode(c);
    assert.equal(pc.buffer, pa.buffer, "the released buffer is reused");
    assert.ok(sameBytes(payloadOf(pc), c), "the new frame is whole");
    assert.ok(sameBytes(payloadOf(pb), b), "the frame still lent out is untouched");
    releaseFrame(pb);
    releaseFrame(pc);
  });

  it("releasing a piece twice does not hand its buffer to two frames", () => {
    const size = (6 << 20) + 777;
    const p = encode(filled(size, 4));
    releaseFrame(p);
    releaseFrame(p);
    const q = encode(filled(size, 5));
    const r = encode(filled(size, 6));
    assert.notEqual(q.buffer, r.buffer);
    assert.ok(sameBytes(payloadOf(q), filled(size, 5)));
    releaseFrame(q);
    releaseFrame(r);
  });

  it("pieces of small frames and foreign bytes are ignored", () => {
    const out = new OutgoingBuffer();
    out.writeFrame(FIN | BINARY, filled(100, 7), null);
    out.writeFrame(FIN | BINARY, filled(200, 8), null);
    const [small] = out.take();
    const before = small.slice();
    releaseFrame(small);
    const foreign = filled((7 << 20) + 5, 9);
    releaseFrame(foreign);
    // Neither may come back as a frame's buffer.
    const size = (7 << 20) + 5;
    const p = encode(filled(size, 10));
    assert.notEqual(p.buffer, foreign.buffer);
    assert.ok(sameBytes(foreign, filled(size, 9)), "a caller's bytes are never written");
    assert.notEqual(p.buffer, small.buffer);
    assert.ok(sameBytes(small, before));
    releaseFrame(p);
  });

  it("a masked frame (client) goes through the pool too, masked in the pooled copy only", () => {
    const size = (2 << 20) + 333;
    const payload = filled(size, 11);
    const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
    const first = encode(payload, key);
    releaseFrame(first);
    const piece = encode(payload, key);
    assert.equal(piece.buffer, first.buffer);
    assert.equal(piece[1], 0x80 | 127);
    const masked = piece.subarray(14);
    for (let i = 0; i < size; i += 4099) assert.equal(masked[i] ^ key[i & 3], payload[i]);
    assert.ok(sameBytes(payload, filled(size, 11)), "the payload itself is not changed");
    releaseFrame(piece);
  });

  it("keeps at most four free buffers", () => {
    const size = (1 << 20) + 40_000;
    const pieces = Array.from({ length: 6 }, (_, i) => encode(filled(size, 20 + i)));
    const buffers = new Set(pieces.map((p) => p.buffer));
    assert.equal(buffers.size, 6);
    for (const p of pieces) releaseFrame(p);
    const again = Array.from({ length: 6 }, (_, i) => encode(filled(size, 30 + i)));
    const reused = again.filter((p) => buffers.has(p.buffer)).length;
    assert.ok(reused >= 1 && reused <= 4, `reused ${reused} of the 6 released buffers`);
    assert.equal(new Set(again.map((p) => p.buffer)).size, 6, "no buffer holds two frames");
    for (const p of again) releaseFrame(p);
  });

  it("keeps at most about 32 MiB of free buffers, and none over 16 MiB and a header", () => {
    const size = 12 << 20;
    const pieces = Array.from({ length: 3 }, (_, i) => encode(filled(size, 40 + i)));
    const buffers = new Set(pieces.map((p) => p.buffer));
    for (const p of pieces) releaseFrame(p);
    const again = Array.from({ length: 3 }, (_, i) => encode(filled(size, 50 + i)));
    const reused = again.filter((p) => buffers.has(p.buffer)).length;
    assert.ok(reused <= 2, `reused ${reused} buffers of 12 MiB: more than 32 MiB kept`);
    for (const p of again) releaseFrame(p);

    const huge = encode(filled((16 << 20) + (1 << 17), 60));
    releaseFrame(huge);
    const next = encode(filled((16 << 20) + (1 << 17), 61));
    assert.notEqual(next.buffer, huge.buffer, "a buffer over the size limit is not kept");
  });
});

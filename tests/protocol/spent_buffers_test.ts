// Large buffers of the protocol's own that nothing can reach any more are
// freed at once (detached: src/protocol/reader.ts freeSpent): the buffer a
// fragmented message outgrew, and large outgoing frames the pool does not
// keep once the transport let go of them. Here every detach is recorded:
// some must happen (they fail without the freeing), and none may touch a
// message handed over (checked after everything), a frame not given back
// yet, or a frame the pool hands out again.
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../src/protocol/protocol.ts";
import { releaseFrame } from "../../src/protocol/frame.ts";
import { useEarlyCopy } from "../../src/protocol/reader.ts";
import type { ProtocolEvent } from "../../src/protocol/protocol.ts";
import { frame, OP, Rng } from "./_helpers.ts";
import { concatAll, pattern, sameBytes } from "../_shared/bytes.ts";

const KEY = new Uint8Array([0x31, 0xc4, 0x05, 0xee]);

/** Records every ArrayBuffer detached by `transfer` while installed. */
class DetachSpy {
  readonly detached = new Set<ArrayBuffer>();
  readonly #original = ArrayBuffer.prototype.transfer;
  install(): void {
    const detached = this.detached, original = this.#original;
    ArrayBuffer.prototype.transfer = function (this: ArrayBuffer, length?: number) {
      detached.add(this);
      return original.call(this, length);
    };
  }
  uninstall(): void {
    ArrayBuffer.prototype.transfer = this.#original;
  }
}

/** `bytes` cut into chunks of the given sizes (cycled), each over an ArrayBuffer of its own. */
function chunksOf(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.min(sizes[i % sizes.length], bytes.length - at);
    chunks.push(bytes.slice(at, at + n));
    at += n;
  }
  return chunks;
}

/** A message sent as fragments of the given sizes (a ping between the first two). */
function fragmented(opcode: number, payload: Uint8Array, sizes: number[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let at = 0, i = 0; at < payload.length; i++) {
    const n = Math.min(sizes[i % sizes.length], payload.length - at);
    const fin = at + n === payload.length;
    frames.push(frame({ opcode: i === 0 ? opcode : OP.CONT, fin, payload: payload.subarray(at, at + n), mask: KEY }));
    if (i === 0) frames.push(frame({ opcode: OP.PING, payload: pattern(20, 4), mask: KEY }));
    at += n;
  }
  return frames;
}

for (const early of [false, true]) {
  describe(`spent buffers freed at once (large frames copied as they come: ${early})`, () => {
    const spy = new DetachSpy();
    beforeEach(() => {
      useEarlyCopy(early);
      spy.install();
    });
    afterEach(() => {
      spy.uninstall();
      useEarlyCopy(false);
    });

    it("a fragmented message's outgrown buffers, never the messages handed over", () => {
      const sent: Uint8Array[] = [];
      const frames: Uint8Array[] = [];
      // 16 MiB in 256 KiB fragments: the buffer grows 256 KiB → 16 MiB, five buffers outgrown.
      const big = pattern(16 << 20, 5);
      sent.push(big);
      frames.push(...fragmented(OP.BINARY, big, [256 << 10]));
      // Uneven fragments, text across them, small messages between the large ones.
      const text = new TextEncoder().encode("ü".repeat(700_000) + "end");
      for (let i = 0; i < 50; i++) {
        const payload = pattern(1 + (i * 53) % 900, i);
        sent.push(payload);
        frames.push(frame({ opcode: OP.BINARY, payload, mask: KEY }));
      }
      sent.push(text);
      frames.push(...fragmented(OP.TEXT, text, [100_001, 3, 250_000, 77_777]));
      const second = pattern(3 << 20, 6);
      sent.push(second);
      frames.push(...fragmented(OP.BINARY, second, [70_000, 1, 600_000]));
      const rng = new Rng(4);
      const sizes = Array.from(
        { length: 40 },
        () => rng.range(1, 3) === 1 ? rng.range(1, 3000) : rng.range(1, 300_000),
      );
      const chunks = chunksOf(concatAll(frames), sizes);

      const protocol = new Protocol({ role: "server", maxLength: 64 << 20 });
      const events: ProtocolEvent[] = [];
      for (const chunk of chunks) {
        protocol.receiveData(chunk);
        events.push(...protocol.eventsReceived());
      }
      assert.deepEqual(events.filter((e) => e.type === "error"), []);
      const got = events.filter((e) => e.type === "binary" || e.type === "text");
      assert.equal(got.length, sent.length, "every message arrived");
      for (const [i, e] of got.entries()) {
        if (e.type === "binary") {
          const data = e.data as Uint8Array;
          assert.ok(!spy.detached.has(data.buffer as ArrayBuffer), `message ${i} was not detached`);
          assert.ok(sameBytes(data, sent[i]), `message ${i} (${sent[i].length} bytes) arrived whole`);
        } else assert.equal(e.data, new TextDecoder().decode(sent[i]));
      }
      // The chunks belong to the caller: never detached by the protocol.
      for (const chunk of chunks) assert.ok(!spy.detached.has(chunk.buffer as ArrayBuffer));
      // At least the large outgrown buffers of the 16 MiB and 3 MiB messages (256 KiB to 8 MiB, 1 to 2 MiB).
      assert.ok(spy.detached.size >= 6, `outgrown buffers were freed (${spy.detached.size})`);
      for (const buffer of spy.detached) assert.equal(buffer.byteLength, 0);
    });

    it("outgoing frames the pool does not keep, once given back; those pooled are reused whole", () => {
      const server = new Protocol({ role: "server", maxLength: 64 << 20 });
      // More 1 MiB frames at once than the pool keeps, one frame too large to keep at all.
      const payloads = [1, 2, 3, 4, 5, 6].map((i) => pattern((1 << 20) + i, i));
      payloads.push(pattern((16 << 20) + (128 << 10), 9));
      for (const p of payloads) server.sendBinary(p, false);
      const pieces = server.dataToSend() as Uint8Array[];
      assert.equal(pieces.length, payloads.length);
      const copies = pieces.map((p) => p.slice());
      const buffers = pieces.map((p) => p.buffer as ArrayBuffer);
      // Given back one by one: none is detached before its own release.
      for (const [i, piece] of pieces.entries()) {
        for (const later of buffers.slice(i)) assert.ok(!spy.detached.has(later), "not detached before release");
        assert.ok(sameBytes(piece, copies[i]), `frame ${i} intact until given back`);
        releaseFrame(piece);
      }
      // The 16 MiB + 128 KiB frame is beyond what the pool keeps: freed at once.
      assert.ok(spy.detached.has(buffers[6]), "the oversized frame's buffer was freed");
      // Six 1 MiB buffers and a pool of four: the two oldest were freed.
      assert.ok(spy.detached.has(buffers[0]) && spy.detached.has(buffers[1]), "evicted buffers were freed");
      // The pool's buffers are handed out again, whole, for new frames.
      const again = [7, 8, 9, 10].map((i) => pattern((1 << 20) + i, i));
      for (const p of again) server.sendBinary(p, false);
      const next = server.dataToSend() as Uint8Array[];
      for (const [i, piece] of next.entries()) {
        assert.ok(!spy.detached.has(piece.buffer as ArrayBuffer), "a pooled buffer is not detached");
        assert.ok(sameBytes(piece.subarray(piece.length - again[i].length), again[i]));
        releaseFrame(piece);
      }
    });
  });
}

// When Protocol.receiveData returns true, the transport may read into the
// chunk's memory again (Deno's native binding does) or free it at once (Node's
// and Bun's detach its ArrayBuffer: src/runtime/memory.ts freeChunk). Here
// every chunk the protocol lets go of is detached on the spot, as those
// runtimes do, and chunks are Node Buffers (whose slice() is a view, not a
// copy): every message must still arrive whole, including those kept for a
// long time while many more chunks come and go. A view of a released chunk
// left in the protocol would show here as a short or failed parse.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Protocol } from "../../src/protocol/protocol.ts";
import { useEarlyCopy } from "../../src/protocol/reader.ts";
import type { ProtocolEvent } from "../../src/protocol/protocol.ts";
import { frame, OP, Rng } from "./_helpers.ts";
import { concatAll, pattern, sameBytes } from "../_shared/bytes.ts";

const KEY = new Uint8Array([0x9a, 0x01, 0x7e, 0xc3]);

/** `bytes` cut into Node Buffers of the given sizes (cycled), each over an ArrayBuffer of its own. */
function bufferChunks(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.min(sizes[i % sizes.length], bytes.length - at);
    const chunk = Buffer.allocUnsafeSlow(n);
    chunk.set(bytes.subarray(at, at + n));
    chunks.push(chunk);
    at += n;
  }
  return chunks;
}

/** Feeds `chunks`, detaching each one the protocol lets go of; returns the events and how many were freed. */
function receiveFreeing(chunks: Uint8Array[]): { events: ProtocolEvent[]; freed: number } {
  const protocol = new Protocol({ role: "server", maxLength: 64 << 20 });
  const events: ProtocolEvent[] = [];
  let freed = 0;
  for (const chunk of chunks) {
    if (protocol.receiveData(chunk)) {
      (chunk.buffer as ArrayBuffer).transfer(0);
      freed++;
    }
    events.push(...protocol.eventsReceived());
  }
  return { events, freed };
}

/** The messages' payloads, checked against what was sent. */
function assertMessages(events: ProtocolEvent[], sent: Uint8Array[]): void {
  const errors = events.filter((e) => e.type === "error");
  assert.deepEqual(errors, []);
  const got = events.filter((e) => e.type === "binary" || e.type === "text");
  assert.equal(got.length, sent.length, "every message arrived");
  for (const [i, e] of got.entries()) {
    const bytes = e.type === "text" ? new TextEncoder().encode(e.data as string) : e.data as Uint8Array;
    assert.ok(sameBytes(bytes, sent[i]), `message ${i} (${sent[i].length} bytes) arrived as sent`);
  }
}

for (const early of [false, true]) {
  describe(`chunks the protocol lets go of, freed at once (large frames copied as they come: ${early})`, () => {
    // (useEarlyCopy(true) is what Node and Bun install: every chunk of a large frame is let go of on arrival.)
    before(() => useEarlyCopy(early));
    after(() => useEarlyCopy(false));

    it("frames whose ends leave a short tail in a chunk (the tail the protocol copies)", () => {
      // 64 KiB reads, frames of 1 MiB ± a little: each frame's end lands a few
      // bytes to a few KiB before a chunk's end, so the next frame's first bytes
      // are the short tail the protocol copies before letting the chunk go.
      const sent: Uint8Array[] = [];
      const frames: Uint8Array[] = [];
      for (const [i, size] of [(1 << 20) - 14, (1 << 20) - 3000, (1 << 20) - 4100, 70_000, (1 << 20) + 5].entries()) {
        const payload = pattern(size, i);
        sent.push(payload);
        frames.push(frame({ opcode: OP.BINARY, payload, mask: KEY }));
      }
      const { events, freed } = receiveFreeing(bufferChunks(concatAll(frames), [65536]));
      assertMessages(events, sent);
      // (Without the early copy, only the chunk each frame ends in is let go of at once.)
      assert.ok(freed >= (early ? 50 : 4), `chunks were let go of (${freed})`);
    });

    it("16 MiB messages made of many chunks, and fragmented ones, kept while many more chunks pass", () => {
      const sent: Uint8Array[] = [];
      const frames: Uint8Array[] = [];
      const whole = pattern(16 << 20, 7);
      sent.push(whole);
      frames.push(frame({ opcode: OP.BINARY, payload: whole, mask: KEY }));
      // A fragmented binary message and a fragmented text one, with a ping between fragments.
      const parts = [pattern(300_000, 1), pattern(5, 2), pattern(1 << 20, 3)];
      sent.push(concatAll(parts));
      parts.forEach((payload, i) =>
        frames.push(
          frame({ opcode: i === 0 ? OP.BINARY : OP.CONT, fin: i === parts.length - 1, payload, mask: KEY }),
        )
      );
      frames.push(frame({ opcode: OP.PING, payload: pattern(100, 9), mask: KEY }));
      const text = "é".repeat(200_000) + "ascii tail";
      sent.push(new TextEncoder().encode(text));
      const textBytes = new TextEncoder().encode(text);
      frames.push(frame({ opcode: OP.TEXT, fin: false, payload: textBytes.subarray(0, 123_457), mask: KEY }));
      frames.push(frame({ opcode: OP.CONT, payload: textBytes.subarray(123_457), mask: KEY }));
      // Many small messages after, several per chunk.
      for (let i = 0; i < 2000; i++) {
        const payload = pattern(1 + (i * 37) % 700, i);
        sent.push(payload);
        frames.push(frame({ opcode: OP.BINARY, payload, mask: KEY }));
      }
      const rng = new Rng(21);
      const sizes = Array.from(
        { length: 64 },
        () => rng.range(1, 3) === 1 ? rng.range(1, 5000) : rng.range(16_384, 524_288),
      );
      const { events, freed } = receiveFreeing(bufferChunks(concatAll(frames), sizes));
      assertMessages(events, sent);
      assert.ok(freed > 20, `chunks were let go of (${freed})`);
      // The messages kept all along are still whole (none is a view of a freed chunk).
      const binaries = events.filter((e) => e.type === "binary").map((e) => e.data as Uint8Array);
      assert.ok(sameBytes(binaries[0], whole));
      assert.equal(binaries[0].buffer.byteLength, 16 << 20);
    });
  });
}

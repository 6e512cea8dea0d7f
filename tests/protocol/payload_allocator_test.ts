// The payload allocator the runtime layer may hand down (usePayloadAllocator;
// Bun's, src/runtime/memory.ts, gives large payloads memory that is not
// zero-filled). Every byte of a buffer it returns must be written before a
// message is reported in it, a message's `buffer` must hold that message
// only, and only whole frames may use it: the buffer a fragmented message is
// assembled in grows and is reported as a view, so it stays zero-filled.
// Run on each runtime with the allocator itself, and with a stand-in that
// fills its buffers with garbage (so that a byte left unwritten shows).
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Protocol } from "../../src/protocol/protocol.ts";
import type { ProtocolEvent } from "../../src/protocol/protocol.ts";
import { payloadBuffer, useEarlyCopy, usePayloadAllocator } from "../../src/protocol/reader.ts";
import type { PayloadAllocator } from "../../src/protocol/reader.ts";
import {
  bunPayloadAllocator,
  HUGE_PAYLOAD,
  installPayloadAllocator,
  LARGE_PAYLOAD,
  unpooledBuffer,
} from "../../src/runtime/memory.ts";
import { concat, frame, OP } from "./_helpers.ts";
import { pattern } from "../_shared/bytes.ts";

const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

/** Each chunk a buffer of its own, `size` bytes (the last may be shorter). */
function split(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.slice(at, at + size));
  return chunks;
}

function receive(
  chunks: Uint8Array[],
  protocol = new Protocol({ role: "server", maxLength: 64 << 20 }),
): ProtocolEvent[] {
  const events: ProtocolEvent[] = [];
  for (const chunk of chunks) {
    protocol.receiveData(chunk);
    events.push(...protocol.eventsReceived());
  }
  return events;
}

/** Garbage-filled buffers from the allocator under test, each length recorded. */
function dirty(allocate: PayloadAllocator, lengths: number[]): PayloadAllocator {
  return (length) => {
    lengths.push(length);
    return allocate(length).fill(0xee);
  };
}

/** The binary messages among `events`, checked to own their whole buffer. */
function ownedBinaries(events: ProtocolEvent[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const e of events) {
    assert.notEqual(e.type, "error");
    if (e.type !== "binary") continue;
    assert.equal(e.data.byteOffset, 0, "a message starts its buffer");
    assert.equal(e.data.buffer.byteLength, e.data.length, "a message's buffer holds that message only");
    out.push(e.data);
  }
  return out;
}

const SIZES = [
  LARGE_PAYLOAD - 1,
  LARGE_PAYLOAD,
  LARGE_PAYLOAD + 1,
  LARGE_PAYLOAD + 65_537,
  HUGE_PAYLOAD - 1,
  HUGE_PAYLOAD,
];
const CHUNKS: Array<[string, number]> = [["64 KiB chunks", 65_536], ["512 KiB chunks", 512 * 1024], [
  "5 MiB chunks",
  5 << 20,
]];

describe("payload allocator (usePayloadAllocator)", () => {
  afterEach(() => {
    usePayloadAllocator(null);
    useEarlyCopy(false);
  });

  it("unpooledBuffer: a plain Uint8Array over an ArrayBuffer of exactly the length, a new one each time", () => {
    for (const length of [0, 1, 4095, 65_536, LARGE_PAYLOAD, LARGE_PAYLOAD + 3]) {
      const a = unpooledBuffer(length), b = unpooledBuffer(length);
      assert.equal(Object.getPrototypeOf(a), Uint8Array.prototype);
      assert.equal(a.length, length);
      assert.equal(a.byteOffset, 0);
      assert.equal(a.buffer.byteLength, length);
      assert.notEqual(a.buffer, b.buffer);
    }
    assert.equal(bunPayloadAllocator(LARGE_PAYLOAD - 1).buffer.byteLength, LARGE_PAYLOAD - 1);
    assert.equal(bunPayloadAllocator(LARGE_PAYLOAD).buffer.byteLength, LARGE_PAYLOAD);
    // Outside its sizes, zero-filled memory.
    for (const length of [LARGE_PAYLOAD - 1, HUGE_PAYLOAD]) {
      assert.ok(bunPayloadAllocator(length).every((b) => b === 0), `${length} bytes zero-filled`);
    }
  });

  it("installPayloadAllocator: Bun's on Bun, new Uint8Array elsewhere", () => {
    const lengths: number[] = [];
    usePayloadAllocator(dirty((n) => new Uint8Array(n), lengths));
    installPayloadAllocator("node");
    assert.deepEqual(payloadBuffer(LARGE_PAYLOAD), new Uint8Array(LARGE_PAYLOAD), "zero-filled");
    installPayloadAllocator("bun");
    assert.equal(payloadBuffer(LARGE_PAYLOAD).buffer.byteLength, LARGE_PAYLOAD);
    assert.deepEqual(payloadBuffer(HUGE_PAYLOAD), new Uint8Array(HUGE_PAYLOAD), "zero-filled");
    assert.deepEqual(lengths, [], "the stand-in was replaced both times");
  });

  for (
    const [allocatorName, allocator] of [["Bun's", bunPayloadAllocator], ["unpooledBuffer", unpooledBuffer]] as const
  ) {
    for (const [chunkName, chunkSize] of CHUNKS) {
      it(`${allocatorName}, whole frames around 1 MiB and 16 MiB, ${chunkName}: every byte written, kept messages unchanged`, () => {
        const lengths: number[] = [];
        usePayloadAllocator(dirty(allocator, lengths));
        const protocol = new Protocol({ role: "server", maxLength: 64 << 20 });
        const kept: Uint8Array[] = [];
        for (const [i, size] of SIZES.entries()) {
          const payload = pattern(size, i);
          const got = ownedBinaries(
            receive(split(frame({ opcode: OP.BINARY, payload, mask: KEY }), chunkSize), protocol),
          );
          assert.equal(got.length, 1);
          assert.ok(Buffer.compare(got[0], payload) === 0, `message ${i} (${size} bytes) as sent`);
          kept.push(got[0]);
        }
        // Received later, allocated later: no message shares memory with another.
        for (const [i, size] of SIZES.entries()) {
          assert.ok(Buffer.compare(kept[i], pattern(size, i)) === 0, `kept message ${i} unchanged`);
        }
        assert.equal(new Set(kept.map((m) => m.buffer)).size, kept.length);
        assert.deepEqual(lengths, SIZES, "one buffer per whole frame, of its length");
      });
    }
  }

  it("fragmented messages (16 MiB in fragments) do not use it; a whole text frame does, and decodes", () => {
    const lengths: number[] = [];
    usePayloadAllocator(dirty(bunPayloadAllocator, lengths));
    const a = pattern(9 << 20, 1), b = pattern(7 << 20, 2);
    const text = "ü€x".repeat(800_000); // 4 800 000 bytes of UTF-8
    const bytes = concat(
      frame({ opcode: OP.BINARY, payload: a, mask: KEY, fin: false }),
      frame({ opcode: OP.CONT, payload: b, mask: KEY }),
      frame({ opcode: OP.TEXT, payload: text, mask: KEY }),
    );
    for (const [, chunkSize] of CHUNKS) {
      lengths.length = 0;
      const events = receive(split(bytes, chunkSize));
      assert.deepEqual(events.map((e) => e.type), ["binary", "text"]);
      const message = (events[0] as { data: Uint8Array }).data;
      assert.ok(Buffer.compare(message, concat(a, b)) === 0, "the fragments, joined");
      assert.equal((events[1] as { data: string }).data, text);
      // Only the text frame's payload came from the allocator (the binary fragments never did).
      assert.ok(lengths.every((n) => n === new TextEncoder().encode(text).length), `allocated ${lengths}`);
    }
  });

  it("a whole frame cut short by the end of the input is never reported", () => {
    const lengths: number[] = [];
    usePayloadAllocator(dirty(bunPayloadAllocator, lengths));
    const whole = frame({ opcode: OP.BINARY, payload: pattern(16 << 20, 5), mask: KEY });
    const protocol = new Protocol({ role: "server", maxLength: 64 << 20 });
    const events = receive(split(whole.subarray(0, 9 << 20), 512 * 1024), protocol);
    protocol.receiveEof();
    events.push(...protocol.eventsReceived());
    assert.deepEqual(events.filter((e) => e.type === "binary"), []);
    assert.equal(protocol.closeCode, 1006);
  });
});

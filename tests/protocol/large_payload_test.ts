// Large payloads (RFC 6455 §5.2, §5.4): frames of 64 KiB and more, whole and
// fragmented, fed in chunks of every size class. Chunks of 256 KiB or more
// make the protocol copy a large frame's payload as it arrives (once an
// eighth of it is there) instead of at its end; both ways must give the same
// events, leave the received chunks unchanged, and fail invalid UTF-8 and
// oversized messages as early as before.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../src/protocol/protocol.ts";
import type { ProtocolEvent, Role } from "../../src/protocol/protocol.ts";
import { concat, frame, mulberry32, OP, plain } from "./_helpers.ts";
import { pattern } from "../_shared/bytes.ts";

const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
const CLOSE_1000 = new Uint8Array([0x03, 0xe8]);

/** Splits `bytes` into chunks of the sizes `next()` gives (the last may be shorter). */
function split(bytes: Uint8Array, next: () => number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = Math.max(1, next());
    // Each chunk in a buffer of its own, as transports hand them over.
    chunks.push(bytes.slice(at, at + n));
    at += n;
  }
  return chunks;
}

const SPLITS: Array<[string, (bytes: Uint8Array) => Uint8Array[]]> = [
  ["whole", (b) => [b.slice()]],
  ["64 KiB chunks (copied at the end)", (b) => split(b, () => 65536)],
  ["255 KiB chunks", (b) => split(b, () => 255 * 1024)],
  ["256 KiB chunks", (b) => split(b, () => 256 * 1024)],
  ["300 KiB + 7 chunks", (b) => split(b, () => 300 * 1024 + 7)],
  ["512 KiB chunks", (b) => split(b, () => 512 * 1024)],
  ["random 1 B – 700 KiB chunks", (b) => {
    const rng = mulberry32(42);
    return split(b, () => rng() < 0.2 ? 1 + Math.floor(rng() * 20) : Math.floor(rng() * 700 * 1024));
  }],
  ["random 200 KiB – 600 KiB chunks", (b) => {
    const rng = mulberry32(7);
    return split(b, () => 200 * 1024 + Math.floor(rng() * 400 * 1024));
  }],
];

function receive(role: Role, chunks: Uint8Array[], maxLength?: number): ProtocolEvent[] {
  const protocol = new Protocol({ role, maxLength });
  const events: ProtocolEvent[] = [];
  for (const chunk of chunks) {
    protocol.receiveData(chunk);
    events.push(...protocol.eventsReceived());
  }
  return events;
}

/** A stream of large frames, masked for a server to read (or not, for a client). */
function largeStream(masked: boolean): { bytes: Uint8Array; expected: ReturnType<typeof plain> } {
  const mask = masked ? KEY : undefined;
  const one = pattern(1 << 20, 1);
  const text = "é€a".repeat(100_000); // 600 000 bytes of UTF-8
  const partA = pattern(400_000, 2), partB = pattern(700_000, 3);
  const textA = "ü".repeat(150_000), textB = "x€".repeat(60_000); // fragments of a text message
  const bytes = concat(
    frame({ opcode: OP.BINARY, payload: one, mask }),
    frame({ opcode: OP.TEXT, payload: text, mask }),
    frame({ opcode: OP.BINARY, payload: partA, mask, fin: false }),
    frame({ opcode: OP.PING, payload: "in between", mask }),
    frame({ opcode: OP.CONT, payload: partB, mask }),
    frame({ opcode: OP.TEXT, payload: textA, mask, fin: false }),
    frame({ opcode: OP.CONT, payload: textB, mask }),
    frame({ opcode: OP.BINARY, payload: pattern(65_536, 4), mask }),
    frame({ opcode: OP.BINARY, payload: pattern(70_000, 5), mask }),
    frame({ opcode: OP.CLOSE, payload: CLOSE_1000, mask }),
  );
  const expected = plain([
    { type: "binary", data: one },
    { type: "text", data: text },
    { type: "ping", data: new TextEncoder().encode("in between") },
    { type: "binary", data: concat(partA, partB) },
    { type: "text", data: textA + textB },
    { type: "binary", data: pattern(65_536, 4) },
    { type: "binary", data: pattern(70_000, 5) },
    { type: "close", code: 1000, reason: "" },
  ]);
  return { bytes, expected };
}

describe("large payloads, in chunks of every size (RFC 6455 §5.2, §5.4)", () => {
  for (const role of ["server", "client"] as const) {
    const { bytes, expected } = largeStream(role === "server");
    for (const [name, chunker] of SPLITS) {
      it(`${role}: ${name}: the same messages, chunks unchanged, binary messages own their buffer`, () => {
        const chunks = chunker(bytes);
        const copies = chunks.map((c) => c.slice());
        const events = receive(role, chunks);
        assert.deepEqual(plain(events), expected);
        for (const e of events) {
          if (e.type === "binary") assert.equal(e.data.buffer.byteLength, e.data.length);
        }
        for (let i = 0; i < chunks.length; i++) {
          assert.deepEqual(chunks[i], copies[i], `chunk ${i} was changed`);
        }
      });
    }
  }

  it("a header alone, then its payload in large chunks", () => {
    const payload = pattern(3 << 20, 9);
    const whole = frame({ opcode: OP.BINARY, payload, mask: KEY });
    // The 14-byte header on its own, then the payload in 512 KiB pieces.
    const chunks = [whole.slice(0, 14), ...split(whole.subarray(14), () => 512 * 1024)];
    const events = receive("server", chunks);
    assert.deepEqual(plain(events), plain([{ type: "binary", data: payload }]));
  });

  it("invalid UTF-8 in a large text frame fails with 1007 on the chunk that carries it", () => {
    const good = new TextEncoder().encode("a".repeat(600_000));
    const bad = concat(good.subarray(0, 300_000), new Uint8Array([0xff]), good.subarray(300_001));
    const chunks = split(frame({ opcode: OP.TEXT, payload: bad, mask: KEY }), () => 256 * 1024);
    const protocol = new Protocol({ role: "server" });
    protocol.receiveData(chunks[0]);
    assert.deepEqual(protocol.eventsReceived(), []);
    protocol.receiveData(chunks[1]); // bytes 262 130 – 524 273 of the payload
    const events = protocol.eventsReceived();
    assert.equal(events.length, 1);
    assert.equal(events[0].type, "error");
    assert.equal((events[0] as { error: { code: number } }).error.code, 1007);
  });

  it("a fragmented message over maxLength fails with 1009 at the header that crosses it", () => {
    const mask = KEY;
    const bytes = concat(
      frame({ opcode: OP.BINARY, payload: pattern(600_000, 1), mask, fin: false }),
      frame({ opcode: OP.CONT, payload: pattern(600_000, 2), mask }),
    );
    const events = receive("server", split(bytes, () => 300_000), 1_000_000);
    assert.deepEqual(plain(events).map((e) => e.type), ["error"]);
    assert.equal((events[0] as { error: { code: number } }).error.code, 1009);
  });

  it("a close frame after a large frame that never completes: nothing is reported", () => {
    // The frame announces 4 MiB; 1 MiB arrives, in large chunks, then the input ends.
    const whole = frame({ opcode: OP.BINARY, payload: pattern(4 << 20, 3), mask: KEY });
    const protocol = new Protocol({ role: "server" });
    for (const chunk of split(whole.subarray(0, 1 << 20), () => 512 * 1024)) protocol.receiveData(chunk);
    assert.deepEqual(protocol.eventsReceived(), []);
    protocol.receiveEof();
    assert.equal(protocol.closeCode, 1006);
  });
});

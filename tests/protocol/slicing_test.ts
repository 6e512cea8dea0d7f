// Compressed messages inflated a work budget at a time (Protocol.workBudget,
// workPending, resume()): the events, close frames and error codes are those
// of inflating each message at once, byte for byte, whatever the budget and
// however the input is split; nothing after a pending message is parsed
// before it is done.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { MessageCompression } from "../../src/protocol/compression.ts";
import { deflateConfig } from "../../src/protocol/extensions.ts";
import type { DeflateParams } from "../../src/protocol/extensions.ts";
import { Protocol } from "../../src/protocol/protocol.ts";
import type { ProtocolEvent, Role } from "../../src/protocol/protocol.ts";
import { concat, drain, frame, hex, NO_TAKEOVER, OP, parseFrames, plain, TAKEOVER, utf8 } from "./_helpers.ts";

const KEY = hex("37 fa 21 3d");

function make(role: Role, options: { params?: DeflateParams; maxLength?: number; budget?: number } = {}): Protocol {
  const protocol = new Protocol({
    role,
    maxLength: options.maxLength,
    maskKey: () => KEY.slice(),
    compression: new MessageCompression(role, options.params ?? TAKEOVER, deflateConfig({ threshold: 0 }, "test")!),
  });
  if (options.budget !== undefined) protocol.workBudget = options.budget;
  return protocol;
}

/** A small seeded generator (LCG), so that failures reproduce. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 0x100000000;
}

/** zlib's raw deflate, sync-flushed, the 00 00 ff ff tail removed (RFC 7692 §7.2.1). */
function zlibDeflate(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH }));
  return out.subarray(0, -4);
}

interface Run {
  events: ProtocolEvent[];
  sent: Uint8Array;
  /** How many times the protocol stopped with work pending. */
  stops: number;
}

/**
 * Feeds `bytes` in chunks cut by `cut` (a chunk length per call), resuming
 * pending work the way the driver does (no input while work is pending, as
 * its transport is paused), with a budget from `budget` for each call.
 */
function run(
  protocol: Protocol,
  bytes: Uint8Array,
  cut: () => number = () => bytes.length,
  budget?: () => number,
): Run {
  const events: ProtocolEvent[] = [];
  const sent: Uint8Array[] = [];
  let stops = 0;
  const take = () => {
    events.push(...protocol.eventsReceived());
    sent.push(drain(protocol).bytes);
  };
  for (let at = 0; at < bytes.length;) {
    const n = Math.max(1, Math.min(cut(), bytes.length - at));
    if (budget) protocol.workBudget = budget();
    protocol.receiveData(bytes.subarray(at, at + n));
    at += n;
    take();
    while (protocol.workPending) {
      stops++;
      if (budget) protocol.workBudget = budget();
      protocol.resume();
      take();
    }
  }
  return { events, sent: concat(...sent), stops };
}

/** One-shot: the whole input at once, with no budget (every message inflated in one call). */
function oneShot(make_: () => Protocol, bytes: Uint8Array): Run {
  const protocol = make_();
  protocol.workBudget = Infinity;
  const result = run(protocol, bytes);
  assert.equal(result.stops, 0);
  return result;
}

/** Splits a compressed message's payload into fragments (RSV1 on the first only, RFC 7692 §6.1). */
function fragments(opcode: number, payload: Uint8Array, parts: number, rand: () => number): Uint8Array[] {
  const cuts = new Set<number>();
  for (let i = 1; i < parts; i++) cuts.add(Math.floor(rand() * payload.length));
  const points = [0, ...[...cuts].sort((a, b) => a - b), payload.length];
  const out: Uint8Array[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    out.push(frame({
      opcode: i === 0 ? opcode : OP.CONT,
      rsv: i === 0 ? 0x40 : 0,
      fin: i + 2 === points.length,
      payload: payload.subarray(points[i], points[i + 1]),
      mask: KEY,
    }));
  }
  return out;
}

/** Seeded messages of every kind a peer sends: text and binary, tiny to 300 KB, repetitive to random. */
function messageBody(rand: () => number): { opcode: number; data: Uint8Array } {
  const r = rand();
  const size = r < 0.6
    ? Math.floor(rand() * 2000)
    : r < 0.95
    ? Math.floor(rand() * 40_000)
    : Math.floor(rand() * 300_000);
  const kind = Math.floor(rand() * 4);
  if (kind === 0) {
    // Text with multi-byte characters (some cut at slice borders).
    const words = ["héllo", "wörld", "日本語", "🙂", "json", '{"a":1}', " ", "z"];
    let text = "";
    while (text.length < size) text += words[Math.floor(rand() * words.length)];
    return { opcode: OP.TEXT, data: utf8(text) };
  }
  const data = new Uint8Array(size);
  if (kind === 1) { for (let i = 0; i < size; i++) data[i] = Math.floor(rand() * 256); // incompressible
   } else if (kind === 2) { for (let i = 0; i < size; i++) data[i] = (i * 7) % 13; // very compressible
   }
  // kind 3: zeros
  return { opcode: OP.BINARY, data };
}

/** A client's stream of `count` compressed messages (its deflater keeps context across them), some fragmented, with pings between. */
function stream(seed: number, count: number, params: DeflateParams): { wire: Uint8Array; messages: number } {
  const rand = random(seed);
  const client = make("client", { params });
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const { opcode, data } = messageBody(rand);
    if (opcode === OP.TEXT) client.sendText(new TextDecoder().decode(data));
    else client.sendBinary(data);
    const wire = drain(client).bytes;
    if (rand() < 0.2) {
      const [f] = parseFrames(wire);
      const pieces = fragments(opcode, f.payload, 2 + Math.floor(rand() * 4), rand);
      // A ping between two fragments (control frames may come in the middle, RFC 6455 §5.4).
      if (pieces.length > 1) pieces.splice(1, 0, frame({ opcode: OP.PING, payload: `p${i}`, mask: KEY }));
      parts.push(...pieces);
    } else parts.push(wire);
  }
  return { wire: concat(...parts), messages: count };
}

describe("inflating in slices gives the results of inflating at once", () => {
  for (const [name, params] of [["context takeover", TAKEOVER], ["no context takeover", NO_TAKEOVER]] as const) {
    it(`3000 seeded messages (${name}), every budget and splitting`, () => {
      let seed = 1;
      let stops = 0;
      for (let batch = 0; batch < 30; batch++) {
        const { wire } = stream(seed++, 100, params);
        const expected = oneShot(() => make("server", { params }), wire);
        assert.equal(expected.events.filter((e) => e.type === "error").length, 0);
        const rand = random(seed++);
        const budgets = [0, 1, 1000, 4096, 65536];
        const budget = budgets[batch % budgets.length];
        const cuts = [() => wire.length, () => 1 + Math.floor(rand() * 3000), () => 1 + Math.floor(rand() * 100_000)];
        const sliced = run(
          make("server", { params }),
          wire,
          cuts[batch % cuts.length],
          batch % 7 === 3 ? () => Math.floor(rand() * 20_000) : () => budget,
        );
        assert.deepEqual(plain(sliced.events), plain(expected.events), `batch ${batch}`);
        assert.deepEqual(sliced.sent, expected.sent, `batch ${batch}: bytes sent`);
        stops += sliced.stops;
      }
      // The budgets were small enough that most large messages took several calls.
      assert.ok(stops > 100, `${stops} stops`);
    });
  }

  it("a message of exactly maxLength passes, one byte more fails with 1009, sliced or not", () => {
    for (const size of [1, 1023, 1024, 1025, 65536, 300_000]) {
      for (const data of [new Uint8Array(size), Uint8Array.from({ length: size }, (_, i) => (i * 31) % 251)]) {
        const wire = frame({ opcode: OP.BINARY, rsv: 0x40, payload: zlibDeflate(data), mask: KEY });
        for (const maxLength of [size - 1, size, size + 1]) {
          if (maxLength < 1) continue;
          const expected = oneShot(() => make("server", { maxLength }), wire);
          for (const budget of [0, 1, 1024, size - 1, size]) {
            const sliced = run(make("server", { maxLength, budget }), wire);
            assert.deepEqual(
              plain(sliced.events),
              plain(expected.events),
              `size ${size}, max ${maxLength}, budget ${budget}`,
            );
            assert.deepEqual(sliced.sent, expected.sent);
          }
          const first = plain(expected.events)[0];
          if (maxLength < size) {
            assert.deepEqual(first, { type: "error", errorType: "WSD_ERR_MESSAGE_TOO_BIG", code: 1009 });
          } else assert.equal(first.type, "binary");
        }
      }
    }
  });

  it("a decompression bomb stops after maxLength, a budget at a time, with 1009", () => {
    const bomb = zlibDeflate(new Uint8Array(64 << 20));
    const wire = concat(
      frame({ opcode: OP.BINARY, rsv: 0x40, payload: bomb, mask: KEY }),
      frame({ opcode: OP.PING, payload: "after", mask: KEY }),
    );
    const protocol = make("server", { maxLength: 4 << 20, budget: 64 * 1024 });
    const result = run(protocol, wire);
    assert.deepEqual(plain(result.events), [{ type: "error", errorType: "WSD_ERR_MESSAGE_TOO_BIG", code: 1009 }]);
    // 4 MiB in slices of 64 KiB (the last slice crosses the limit).
    assert.ok(result.stops >= 63 && result.stops <= 65, `${result.stops}`);
    const close = parseFrames(result.sent).at(-1)!;
    assert.equal((close.payload[0] << 8) | close.payload[1], 1009);
    assert.equal(protocol.workPending, false);
  });

  it("invalid DEFLATE data in the middle of a large message fails with 1007 after some slices", () => {
    const rand = random(7);
    const text = Array.from({ length: 200_000 }, () => "abcdefgh"[Math.floor(rand() * 8)]).join("");
    for (const at of [0.3, 0.6, 0.95]) {
      // A valid sync-flushed stream of the first part, then a block of the reserved type 11 (RFC 1951 §3.2.3).
      const prefix = zlib.deflateRawSync(utf8(text.slice(0, Math.floor(text.length * at))), {
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
      const payload = concat(new Uint8Array(prefix), hex("06 ff ff ff"));
      const wire = frame({ opcode: OP.TEXT, rsv: 0x40, payload, mask: KEY });
      const expected = oneShot(() => make("server"), wire);
      assert.equal(plain(expected.events)[0].type, "error");
      assert.equal((plain(expected.events)[0] as { code: number }).code, 1007);
      const sliced = run(make("server", { budget: 4096 }), wire);
      assert.deepEqual(plain(sliced.events), plain(expected.events));
      assert.deepEqual(sliced.sent, expected.sent);
      if (at > 0.5) assert.ok(sliced.stops > 0, "the error came after some slices");
    }
  });

  it("invalid UTF-8 in a sliced text message fails with 1007 once it is whole", () => {
    const data = concat(new Uint8Array(200_000).fill(0x61), hex("c3 28"), new Uint8Array(1000).fill(0x61));
    const wire = frame({ opcode: OP.TEXT, rsv: 0x40, payload: zlibDeflate(data), mask: KEY });
    const sliced = run(make("server", { budget: 1024 }), wire);
    assert.ok(sliced.stops > 100);
    assert.deepEqual(plain(sliced.events), [{ type: "error", errorType: "WSD_ERR_INVALID_UTF8", code: 1007 }]);
  });
});

describe("while a message is pending", () => {
  function pending(): { protocol: Protocol; data: Uint8Array } {
    const data = Uint8Array.from({ length: 500_000 }, (_, i) => i % 200);
    const protocol = make("server", { budget: 1024 });
    protocol.receiveData(frame({ opcode: OP.BINARY, rsv: 0x40, payload: zlibDeflate(data), mask: KEY }));
    assert.equal(protocol.workPending, true);
    assert.deepEqual(protocol.eventsReceived(), []);
    return { protocol, data };
  }

  function finish(protocol: Protocol): ProtocolEvent[] {
    const events: ProtocolEvent[] = [];
    let calls = 0;
    while (protocol.workPending) {
      protocol.resume();
      events.push(...protocol.eventsReceived());
      calls++;
    }
    assert.ok(calls > 1);
    return events;
  }

  it("input is queued, not parsed: frames after the message come after it, in order", () => {
    const { protocol, data } = pending();
    const after = concat(
      frame({ opcode: OP.PING, payload: "1", mask: KEY }),
      frame({ opcode: OP.TEXT, payload: "two", mask: KEY }),
    );
    // Byte by byte: every chunk is queued (and small ones copied, so the caller may reuse them).
    for (const byte of after) {
      const chunk = Uint8Array.of(byte);
      assert.equal(protocol.receiveData(chunk), true);
      chunk[0] = 0; // reused by the caller
    }
    assert.deepEqual(protocol.eventsReceived(), []);
    assert.equal(drain(protocol).bytes.length, 0, "no pong before the message is done");
    assert.deepEqual(plain(finish(protocol)), [
      { type: "binary", data },
      { type: "ping", data: utf8("1") },
      { type: "text", data: "two" },
    ]);
    assert.equal(parseFrames(drain(protocol).bytes)[0].opcode, OP.PONG);
  });

  it("a frame breaking the RSV1 rules behind it fails the connection after the message is reported", () => {
    const { protocol, data } = pending();
    protocol.receiveData(frame({ opcode: OP.CONT, rsv: 0x40, payload: "x", mask: KEY }));
    assert.deepEqual(plain(finish(protocol)), [
      { type: "binary", data },
      { type: "error", errorType: "WSD_ERR_RESERVED_BITS", code: 1002 },
    ]);
  });

  it("the end of the input drops the message (1006) and the work", () => {
    const { protocol } = pending();
    protocol.receiveEof();
    assert.equal(protocol.workPending, false);
    assert.equal(protocol.closeCode, 1006);
    protocol.resume();
    assert.deepEqual(protocol.eventsReceived(), []);
  });

  it("a short payload in the shared scratch buffer is kept apart (other connections reuse the buffer)", () => {
    const data = new Uint8Array(1 << 20).fill(7);
    const payload = zlibDeflate(data);
    assert.ok(payload.length < 16 * 1024);
    const a = make("server", { budget: 1024 });
    a.receiveData(frame({ opcode: OP.BINARY, rsv: 0x40, payload, mask: KEY }));
    assert.equal(a.workPending, true);
    // Another connection's short text and compressed messages go through the same scratch buffer meanwhile.
    const b = make("server");
    b.receiveData(frame({ opcode: OP.TEXT, payload: "x".repeat(10_000), mask: KEY }));
    b.receiveData(
      frame({ opcode: OP.BINARY, rsv: 0x40, payload: zlibDeflate(new Uint8Array(9000).fill(1)), mask: KEY }),
    );
    assert.equal(b.eventsReceived().length, 2);
    assert.deepEqual(plain(finish(a)), [{ type: "binary", data }]);
  });

  it("a message that fits in the budget is reported in the same call (no pending work)", () => {
    const protocol = make("server");
    protocol.receiveData(
      frame({ opcode: OP.TEXT, rsv: 0x40, payload: zlibDeflate(utf8("x".repeat(60_000))), mask: KEY }),
    );
    assert.equal(protocol.workPending, false);
    assert.equal(protocol.eventsReceived().length, 1);
  });
});

describe("large frames are copied as they arrive", () => {
  it("past 1 MiB waiting, each chunk of a large masked frame is unmasked on arrival (no call copies the whole frame)", () => {
    for (const opcode of [OP.BINARY, OP.TEXT]) {
      const data = Uint8Array.from({ length: 6 << 20 }, (_, i) => 0x20 + (i % 90));
      const wire = frame({ opcode, payload: data, mask: KEY });
      const protocol = new Protocol({ role: "server" });
      const chunk = 64 * 1024;
      let kept = 0;
      for (let at = 0; at < wire.length; at += chunk) {
        // A chunk of its own each time, as a transport hands them over.
        if (!protocol.receiveData(wire.slice(at, at + chunk))) kept++;
      }
      // Only the chunks before 1 MiB had arrived waited in the queue (before, all 96 did).
      assert.ok(kept <= 17, `${kept} chunks kept`);
      const [event] = protocol.eventsReceived();
      if (opcode === OP.TEXT) assert.equal(event.type === "text" && event.data, new TextDecoder().decode(data));
      else assert.deepEqual(event.type === "binary" && event.data, data);
    }
  });
});

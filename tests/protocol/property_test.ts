import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../src/protocol/protocol.ts";
import type { Role } from "../../src/protocol/protocol.ts";
import { concat, describeSplitting, drain, feed, OP, parseFrames, plain, Rng, toHex, utf8 } from "./_helpers.ts";
import type { PlainEvent, Splitting } from "./_helpers.ts";

/** What one generated case sends, and what the other end must see. */
interface Case {
  /** The sender's calls, in order. */
  send: (p: Protocol) => void;
  /** The receiver's events. */
  expected: PlainEvent[];
  /** The payloads of the pings, which the receiver must answer in order. */
  pings: Uint8Array[];
  /** Whether the case ends with a close frame. */
  closes: boolean;
}

const CHARS = [
  "a",
  "z",
  " ",
  "é",
  "ß",
  "€",
  "中",
  "😀",
  "\u{10ffff}",
  "\u0000",
  "\uFEFF",
  "\u07ff",
  "\u0800",
];

function randomText(rng: Rng, max: number): string {
  let s = "";
  const n = rng.int(max + 1);
  for (let i = 0; i < n; i++) s += rng.chance(0.5) ? "x" : rng.pick(CHARS);
  return s;
}

/** A payload size: mostly small, sometimes around the length-form boundaries, rarely large. */
function randomSize(rng: Rng): number {
  const r = rng.float();
  if (r < 0.6) return rng.int(20);
  if (r < 0.85) return rng.int(300);
  if (r < 0.97) {
    return rng.pick([125, 126, 127, 65535, 65536]) + rng.range(-1, 1);
  }
  return rng.range(66000, 140000);
}

/** Cuts `bytes` into 1..4 pieces at random points (pieces may be empty). */
function randomCuts(rng: Rng, bytes: Uint8Array): Uint8Array[] {
  const n = 1 + rng.int(4);
  const points = [0];
  for (let i = 1; i < n; i++) points.push(rng.int(bytes.length + 1));
  points.push(bytes.length);
  points.sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    out.push(bytes.subarray(points[i], points[i + 1]));
  }
  return out;
}

/** Generates a random valid sequence of frames. */
function randomCase(rng: Rng): Case {
  const steps: ((p: Protocol) => void)[] = [];
  const expected: PlainEvent[] = [];
  const pings: Uint8Array[] = [];
  const control = () => {
    const payload = rng.bytes(rng.chance(0.3) ? 0 : rng.int(126));
    if (rng.chance(0.5)) {
      steps.push((p) => p.sendPing(payload));
      expected.push({ type: "ping", data: payload });
      pings.push(payload);
    } else {
      steps.push((p) => p.sendPong(payload));
      expected.push({ type: "pong", data: payload });
    }
  };
  const items = rng.int(12);
  for (let i = 0; i < items; i++) {
    switch (rng.int(5)) {
      case 0: {
        const text = rng.chance(0.05) ? randomText(rng, 30000) : randomText(rng, 200);
        steps.push((p) => p.sendText(text));
        expected.push({ type: "text", data: text });
        break;
      }
      case 1: {
        const data = rng.bytes(randomSize(rng));
        steps.push((p) => p.sendBinary(data));
        expected.push({ type: "binary", data });
        break;
      }
      case 2:
        control();
        break;
      case 3:
      case 4: {
        // A fragmented message; text is cut at any byte, even inside a character.
        const text = rng.chance(0.5);
        const string = randomText(rng, 300);
        const whole = text ? utf8(string) : rng.bytes(randomSize(rng));
        const pieces = randomCuts(rng, whole);
        pieces.forEach((piece, k) => {
          const opcode = k === 0 ? (text ? OP.TEXT : OP.BINARY) : OP.CONT;
          const fin = k === pieces.length - 1;
          steps.push((p) => p.sendFrame(opcode, piece, fin));
          if (!fin && rng.chance(0.4)) control();
        });
        expected.push(
          text ? { type: "text", data: string } : { type: "binary", data: whole },
        );
        break;
      }
    }
  }
  const closes = rng.chance(0.2);
  if (closes) {
    const code = rng.pick([1000, 1001, 1011, 3000, 4999]);
    const reason = randomText(rng, 20);
    const r = utf8(reason).length <= 123 ? reason : "";
    steps.push((p) => p.sendClose(code, r));
    expected.push({ type: "close", code, reason: r });
  }
  return {
    send: (p) => steps.forEach((step) => step(p)),
    expected,
    pings,
    closes,
  };
}

/** Runs one case from `sender` to the other role, whole and in random splittings. */
function check(seed: number, sender: Role): void {
  const rng = new Rng(seed);
  const c = randomCase(rng);
  const from = new Protocol({
    role: sender,
    // Seeded keys (sometimes all zero) so a failure can be replayed.
    maskKey: () => (rng.chance(0.1) ? new Uint8Array(4) : rng.bytes(4)),
  });
  c.send(from);
  const out = drain(from);
  assert.equal(
    out.ended,
    false,
    `seed ${seed}: the sender does not end by itself`,
  );
  const input = out.bytes;
  const pristine = input.slice();

  // Every frame on the wire is masked iff a client sent it, and minimal.
  for (const f of parseFrames(input)) {
    assert.equal(f.masked, sender === "client", `seed ${seed}`);
    const n = f.payload.length;
    const lengthBytes = f.header.length - 2 - (f.masked ? 4 : 0);
    assert.equal(
      lengthBytes,
      n < 126 ? 0 : n < 65536 ? 2 : 8,
      `seed ${seed}: minimal length`,
    );
  }

  const receiverRole: Role = sender === "client" ? "server" : "client";
  const splittingsToTry: Splitting[] = [
    { kind: "whole" },
    { kind: "random", seed, maxPiece: 1 + new Rng(seed).int(16) },
    { kind: "random", seed: seed + 1, maxPiece: 200 },
    { kind: "random", seed: seed + 2, maxPiece: 5000 },
  ];
  let reference: PlainEvent[] | null = null;
  for (const s of splittingsToTry) {
    const where = `seed ${seed}, ${sender} → ${receiverRole}, ${describeSplitting(s)}`;
    const to = new Protocol({
      role: receiverRole,
      maskKey: () => new Uint8Array([1, 2, 3, 4]),
    });
    const result = feed(to, input, s);
    const events = plain(result.events);
    // The same messages as fed whole, and equal to what was sent.
    if (reference === null) reference = events;
    else assert.deepEqual(events, reference, where);
    assert.deepEqual(events, c.expected, where);
    // The chunks given to receiveData were never modified.
    assert.ok(
      input.length === pristine.length &&
        input.every((b, i) => b === pristine[i]),
      `${where}: the input was modified`,
    );
    // Each ping answered in order with a pong of the same payload, then the close echo.
    const answers = parseFrames(result.sent);
    const pongs = answers.filter((f) => f.opcode === OP.PONG);
    assert.deepEqual(
      pongs.map((f) => toHex(f.payload)),
      c.pings.map(toHex),
      where,
    );
    for (const f of answers) {
      assert.equal(f.masked, receiverRole === "client", where);
    }
    const closes = answers.filter((f) => f.opcode === OP.CLOSE);
    assert.equal(closes.length, c.closes ? 1 : 0, where);
    assert.equal(answers.length, pongs.length + closes.length, where);
    assert.equal(result.ended, c.closes && receiverRole === "server", where);
  }
}

describe("RFC 6455 §5 property: random valid frame sequences survive any chunking", () => {
  it("client → server (masked), 400 seeded cases", () => {
    for (let seed = 1; seed <= 400; seed++) check(seed, "client");
  });

  it("server → client (unmasked), 200 seeded cases", () => {
    for (let seed = 10001; seed <= 10200; seed++) check(seed, "server");
  });

  it("many messages in one stream, fed in random pieces, keep their order", () => {
    const rng = new Rng(77);
    const from = new Protocol({ role: "client", maskKey: () => rng.bytes(4) });
    const expected: PlainEvent[] = [];
    for (let i = 0; i < 2000; i++) {
      if (i % 2 === 0) {
        const text = `m${i}:` + randomText(rng, 10);
        from.sendText(text);
        expected.push({ type: "text", data: text });
      } else {
        const data = rng.bytes(rng.int(10));
        from.sendBinary(data);
        expected.push({ type: "binary", data });
      }
    }
    const input = concat(drain(from).bytes);
    const to = new Protocol({ role: "server" });
    const result = feed(to, input, { kind: "random", seed: 77, maxPiece: 13 });
    assert.deepEqual(plain(result.events), expected, "seed 77");
  });
});

describe("receiveData: tiny reads of a large frame", () => {
  it("a 100 000-byte frame fed in 1- to 3-byte chunks parses right (the queue is compacted)", () => {
    const rng = new Rng(5);
    const payload = rng.bytes(100_000);
    const from = new Protocol({ role: "client", maskKey: () => rng.bytes(4) });
    from.sendBinary(payload);
    from.sendText("after");
    const input = drain(from).bytes;
    const to = new Protocol({ role: "server" });
    const events = [];
    for (let at = 0; at < input.length;) {
      const n = Math.min(input.length - at, 1 + rng.int(3));
      to.receiveData(input.slice(at, at + n));
      events.push(...to.eventsReceived());
      at += n;
    }
    assert.equal(events.length, 2);
    assert.deepEqual(plain(events), [
      { type: "binary", data: Uint8Array.from(payload) },
      { type: "text", data: "after" },
    ]);
  });
});

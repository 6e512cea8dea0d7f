import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../src/protocol/protocol.ts";
import type { Role } from "../../src/protocol/protocol.ts";
import { ProtocolError } from "../../src/protocol/errors.ts";
import type { ProtocolErrorType } from "../../src/protocol/errors.ts";
import {
  closePayload,
  concat,
  describeSplitting,
  drain,
  feed,
  frame,
  frameHeader,
  hex,
  OP,
  parseFrames,
  plain,
  splittings,
  toHex,
  utf8,
} from "./_helpers.ts";
import type { FrameSpec, PlainEvent, Splitting } from "./_helpers.ts";

const KEY = hex("37 fa 21 3d");
const CLIENT_KEY = hex("a1 b2 c3 d4");

function make(role: Role, maxLength?: number): Protocol {
  return new Protocol({ role, maxLength, maskKey: () => CLIENT_KEY.slice() });
}

/** A frame as `role` expects to receive it: masked for a server, unmasked for a client. */
function to(role: Role, spec: FrameSpec): Uint8Array {
  return frame({ mask: role === "server" ? KEY : null, ...spec });
}

const ROLES: Role[] = ["server", "client"];

interface FailureOptions {
  /** Events expected before the error. */
  before?: PlainEvent[];
  /** How many frames the protocol writes before its close frame (pongs). */
  framesBefore?: number;
  maxLength?: number;
  /** The splittings to try (all of them by default). */
  only?: Splitting[];
  maxPoints?: number;
}

/**
 * Feeds `input` to a fresh `role` protocol, in every splitting, and checks the
 * whole RFC 6455 §7.1.7 "fail the WebSocket connection" path: an `error` event
 * with `type` and `code` (last), one close frame with `code` (masked only for a
 * client) after any earlier frames, then END_OF_STREAM; and that later input
 * is ignored.
 */
function expectFailure(
  role: Role,
  input: Uint8Array,
  type: ProtocolErrorType,
  code: number,
  options: FailureOptions = {},
): void {
  const cases = options.only ??
    splittings(input.length, { maxPoints: options.maxPoints ?? 200 });
  for (const s of cases) {
    const where = `${role}, ${describeSplitting(s)}, input ${toHex(input.subarray(0, 40))}`;
    const p = make(role, options.maxLength);
    const result = feed(p, input, s);
    assert.deepEqual(
      plain(result.events),
      [...(options.before ?? []), { type: "error", errorType: type, code }],
      where,
    );
    const error = result.events.at(-1)!;
    assert.ok(
      error.type === "error" && error.error instanceof ProtocolError,
      where,
    );
    assert.ok(error.error.message.length > 0, where);

    const frames = parseFrames(result.sent);
    assert.equal(
      frames.length,
      (options.framesBefore ?? 0) + 1,
      `frames written, ${where}`,
    );
    const close = frames.at(-1)!;
    assert.equal(close.opcode, OP.CLOSE, where);
    assert.equal(close.fin, true, where);
    assert.equal(
      close.masked,
      role === "client",
      `mask bit of the close frame, ${where}`,
    );
    assert.ok(close.payload.length >= 2, where);
    assert.equal(
      (close.payload[0] << 8) | close.payload[1],
      code,
      `close code sent, ${where}`,
    );
    assert.ok(close.payload.length <= 125, where);
    new TextDecoder("utf-8", { fatal: true }).decode(close.payload.subarray(2));
    assert.equal(result.ended, true, `END_OF_STREAM, ${where}`);

    assert.equal(p.closeCode, code, where);
    assert.equal(p.closeSent, true, where);
    assert.equal(p.ending, true, where);

    // Later input is ignored: no events, nothing written.
    p.receiveData(to(role, { opcode: OP.PING, payload: "later" }));
    p.receiveData(to(role, { opcode: OP.TEXT, payload: "later" }));
    p.receiveEof();
    assert.deepEqual(p.eventsReceived(), [], where);
    const after = drain(p);
    assert.equal(after.bytes.length, 0, where);
    assert.equal(after.ended, false, where);
    assert.equal(p.closeCode, code, where);
  }
}

describe("RFC 6455 §5.2 frame header violations", () => {
  for (const role of ROLES) {
    for (
      const [name, rsv] of [["RSV1", 0x40], ["RSV2", 0x20], ["RSV3", 0x10], [
        "RSV1|RSV3",
        0x50,
      ]] as const
    ) {
      it(`${role}: ${name} set without an extension → 1002`, () => {
        expectFailure(
          role,
          to(role, { opcode: OP.TEXT, rsv, payload: "Hello" }),
          "WSD_ERR_RESERVED_BITS",
          1002,
        );
        expectFailure(
          role,
          to(role, { opcode: OP.PING, rsv, payload: "" }),
          "WSD_ERR_RESERVED_BITS",
          1002,
        );
      });
    }

    for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
      it(`${role}: reserved opcode 0x${opcode.toString(16)} → 1002`, () => {
        expectFailure(
          role,
          to(role, { opcode }),
          "WSD_ERR_INVALID_OPCODE",
          1002,
        );
        expectFailure(
          role,
          to(role, { opcode, payload: "xyz" }),
          "WSD_ERR_INVALID_OPCODE",
          1002,
        );
        // Also in the middle of a fragmented message, after good frames.
        const input = concat(
          to(role, { opcode: OP.TEXT, payload: "ok" }),
          to(role, { opcode: OP.BINARY, fin: false, payload: "a" }),
          to(role, { opcode, fin: opcode < 8 ? false : true }),
        );
        expectFailure(role, input, "WSD_ERR_INVALID_OPCODE", 1002, {
          before: [{ type: "text", data: "ok" }],
        });
      });
    }

    it(`${role}: the length is minimal — 16-bit form for ≤ 125 bytes → 1002`, () => {
      for (const n of [0, 1, 125]) {
        const bad = to(role, {
          opcode: OP.BINARY,
          payload: new Uint8Array(n),
          lengthForm: 16,
        });
        // Fails from the header alone: feed only the 4 length bytes.
        expectFailure(
          role,
          bad.subarray(0, 4),
          "WSD_ERR_NON_MINIMAL_LENGTH",
          1002,
        );
        expectFailure(role, bad, "WSD_ERR_NON_MINIMAL_LENGTH", 1002, {
          maxPoints: 20,
        });
      }
    });

    it(`${role}: the length is minimal — 64-bit form for ≤ 65535 bytes → 1002`, () => {
      for (const n of [0, 125, 126, 65535]) {
        const bad = to(role, {
          opcode: OP.BINARY,
          payload: new Uint8Array(n),
          lengthForm: 64,
        });
        expectFailure(
          role,
          bad.subarray(0, 10),
          "WSD_ERR_NON_MINIMAL_LENGTH",
          1002,
        );
      }
      // The smallest 64-bit length is fine.
      const good = to(role, {
        opcode: OP.BINARY,
        payload: new Uint8Array(65536),
        lengthForm: 64,
      });
      const result = feed(make(role), good);
      assert.deepEqual(plain(result.events), [{
        type: "binary",
        data: new Uint8Array(65536),
      }]);
    });

    it(`${role}: a 64-bit length with its most significant bit set → 1002`, () => {
      const mask = role === "server" ? 0x80 : 0;
      for (
        const length of [
          "80 00 00 00 00 00 00 00",
          "ff ff ff ff ff ff ff ff",
          "80 00 00 00 00 00 00 05",
        ]
      ) {
        expectFailure(
          role,
          hex(`82 ${(mask | 127).toString(16)} ${length}`),
          "WSD_ERR_LENGTH_TOP_BIT",
          1002,
        );
      }
    });

    it(`${role}: a control frame over 125 bytes (length codes 126 and 127) → 1002`, () => {
      const mask = role === "server" ? 0x80 : 0;
      for (const opcode of [OP.CLOSE, OP.PING, OP.PONG]) {
        // From the first two header bytes alone.
        for (const code of [126, 127]) {
          const b0 = (0x80 | opcode).toString(16),
            b1 = (mask | code).toString(16);
          expectFailure(
            role,
            hex(`${b0} ${b1}`),
            "WSD_ERR_CONTROL_TOO_LONG",
            1002,
          );
        }
        expectFailure(
          role,
          to(role, { opcode, payload: new Uint8Array(126) }),
          "WSD_ERR_CONTROL_TOO_LONG",
          1002,
          {
            maxPoints: 20,
          },
        );
        // 125 bytes is fine (a ping or pong, which carry any bytes).
        if (opcode !== OP.CLOSE) {
          const ok = feed(
            make(role),
            to(role, { opcode, payload: new Uint8Array(125) }),
          );
          assert.deepEqual(plain(ok.events), [{
            type: opcode === OP.PING ? "ping" : "pong",
            data: new Uint8Array(125),
          }]);
        }
      }
    });

    it(`${role}: a fragmented control frame → 1002`, () => {
      for (const opcode of [OP.CLOSE, OP.PING, OP.PONG]) {
        expectFailure(
          role,
          to(role, { opcode, fin: false }),
          "WSD_ERR_CONTROL_FRAGMENTED",
          1002,
        );
        expectFailure(
          role,
          to(role, { opcode, fin: false, payload: closePayload(1000) }),
          "WSD_ERR_CONTROL_FRAGMENTED",
          1002,
        );
      }
    });
  }

  it("server: an unmasked frame from the client → 1002 (not 1003)", () => {
    for (const opcode of [OP.TEXT, OP.BINARY, OP.PING, OP.PONG, OP.CLOSE]) {
      expectFailure(
        "server",
        frame({
          opcode,
          payload: opcode === OP.CLOSE ? closePayload(1000) : "Hello",
        }),
        "WSD_ERR_MASK_EXPECTED",
        1002,
      );
    }
    expectFailure(
      "server",
      hex("81 05 48 65 6c 6c 6f"),
      "WSD_ERR_MASK_EXPECTED",
      1002,
    );
    // After a good frame, in the same chunk.
    expectFailure(
      "server",
      concat(
        hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
        hex("81 05 48 65 6c 6c 6f"),
      ),
      "WSD_ERR_MASK_EXPECTED",
      1002,
      { before: [{ type: "text", data: "Hello" }] },
    );
  });

  it("client: a masked frame from the server → 1002", () => {
    for (const opcode of [OP.TEXT, OP.BINARY, OP.PING, OP.PONG, OP.CLOSE]) {
      expectFailure(
        "client",
        frame({
          opcode,
          payload: opcode === OP.CLOSE ? closePayload(1000) : "Hello",
          mask: KEY,
        }),
        "WSD_ERR_MASK_UNEXPECTED",
        1002,
      );
    }
    expectFailure(
      "client",
      hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
      "WSD_ERR_MASK_UNEXPECTED",
      1002,
    );
  });

  it("a masked frame with an all-zero key is still a masked frame", () => {
    const input = frame({
      opcode: OP.TEXT,
      payload: "zero",
      mask: hex("00 00 00 00"),
    });
    assert.deepEqual(plain(feed(make("server"), input).events), [{
      type: "text",
      data: "zero",
    }]);
    expectFailure("client", input, "WSD_ERR_MASK_UNEXPECTED", 1002);
  });
});

describe("RFC 6455 §5.4 fragmentation violations", () => {
  for (const role of ROLES) {
    it(`${role}: a continuation frame with no message to continue → 1002`, () => {
      expectFailure(
        role,
        to(role, { opcode: OP.CONT, payload: "x" }),
        "WSD_ERR_UNEXPECTED_CONTINUATION",
        1002,
      );
      expectFailure(
        role,
        to(role, { opcode: OP.CONT, fin: false }),
        "WSD_ERR_UNEXPECTED_CONTINUATION",
        1002,
      );
      // After a message that ended.
      const input = concat(
        to(role, { opcode: OP.TEXT, fin: false, payload: "a" }),
        to(role, { opcode: OP.CONT, payload: "b" }),
        to(role, { opcode: OP.CONT, payload: "c" }),
      );
      expectFailure(role, input, "WSD_ERR_UNEXPECTED_CONTINUATION", 1002, {
        before: [{ type: "text", data: "ab" }],
      });
    });

    it(`${role}: a new data frame inside a fragmented message → 1002`, () => {
      for (const first of [OP.TEXT, OP.BINARY]) {
        for (const second of [OP.TEXT, OP.BINARY]) {
          for (const fin of [true, false]) {
            const input = concat(
              to(role, { opcode: first, fin: false, payload: "a" }),
              to(role, { opcode: OP.PING, payload: "p" }), // a control frame in between is fine
              to(role, { opcode: second, fin, payload: "b" }),
            );
            expectFailure(role, input, "WSD_ERR_EXPECTED_CONTINUATION", 1002, {
              before: [{ type: "ping", data: utf8("p") }],
              framesBefore: 1,
            });
          }
        }
      }
    });
  }
});

describe("RFC 6455 §5.5.1 and §7.4 close frame violations", () => {
  for (const role of ROLES) {
    it(`${role}: a close frame with a 1-byte payload → 1002`, () => {
      expectFailure(
        role,
        to(role, { opcode: OP.CLOSE, payload: hex("03") }),
        "WSD_ERR_CLOSE_PAYLOAD_LENGTH",
        1002,
      );
    });

    it(`${role}: a close reason that is not UTF-8 → 1007`, () => {
      for (
        const reason of [
          "ff",
          "c0 80",
          "ed a0 80",
          "e2 82",
          "61 62 f4 90 80 80",
        ]
      ) {
        expectFailure(
          role,
          to(role, {
            opcode: OP.CLOSE,
            payload: closePayload(1000, hex(reason)),
          }),
          "WSD_ERR_INVALID_UTF8",
          1007,
        );
      }
    });

    it(`${role}: a close reason with a BOM and multi-byte characters is kept as is`, () => {
      const result = feed(
        make(role),
        to(role, {
          opcode: OP.CLOSE,
          payload: closePayload(4000, "\uFEFFbye 😀"),
        }),
      );
      assert.deepEqual(plain(result.events), [{
        type: "close",
        code: 4000,
        reason: "\uFEFFbye 😀",
      }]);
    });
  }

  it("every close code 0..5000, on both roles: valid ones are echoed with their reason, others fail with 1002", () => {
    const isValid = (c: number) =>
      (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
      (c >= 3000 && c <= 4999);
    let valid = 0;
    for (let code = 0; code <= 5000; code++) {
      for (const role of ROLES) {
        const p = make(role);
        const result = feed(
          p,
          to(role, { opcode: OP.CLOSE, payload: closePayload(code, "r") }),
        );
        const frames = parseFrames(result.sent);
        assert.equal(frames.length, 1, `code ${code}, ${role}`);
        const sentCode = (frames[0].payload[0] << 8) | frames[0].payload[1];
        if (isValid(code)) {
          assert.deepEqual(plain(result.events), [{
            type: "close",
            code,
            reason: "r",
          }], `code ${code}, ${role}`);
          assert.equal(sentCode, code, `echo of ${code}, ${role}`);
          assert.deepEqual(
            frames[0].payload,
            closePayload(code, "r"),
            `the echo carries the reason too (${code}, ${role})`,
          );
          assert.equal(
            result.ended,
            role === "server",
            `code ${code}, ${role}`,
          );
          assert.equal(p.closeCode, code);
          assert.equal(p.closeReason, "r");
        } else {
          assert.deepEqual(
            plain(result.events),
            [{
              type: "error",
              errorType: "WSD_ERR_INVALID_CLOSE_CODE",
              code: 1002,
            }],
            `code ${code}, ${role}`,
          );
          assert.equal(sentCode, 1002, `answer to ${code}, ${role}`);
          assert.equal(result.ended, true);
          assert.equal(p.closeCode, 1002);
        }
      }
      if (isValid(code)) valid++;
    }
    assert.equal(valid, 4 + 8 + 2000);
  });

  it("close codes above 5000 fail with 1002", () => {
    for (const code of [5000, 5001, 0x7fff, 0x8000, 0xffff]) {
      expectFailure(
        "server",
        to("server", { opcode: OP.CLOSE, payload: closePayload(code) }),
        "WSD_ERR_INVALID_CLOSE_CODE",
        1002,
        {
          only: [{ kind: "whole" }, { kind: "bytes" }],
        },
      );
    }
  });
});

// ───────────────────────────── UTF-8 ─────────────────────────────

/** Byte sequences that are invalid wherever they appear. */
const INVALID_SEQUENCES: [string, string][] = [
  ["c0 80", "overlong 2-byte NUL"],
  ["c1 bf", "overlong 2-byte"],
  ["e0 80 80", "overlong 3-byte"],
  ["e0 9f bf", "overlong 3-byte, highest"],
  ["f0 80 80 80", "overlong 4-byte"],
  ["f0 8f bf bf", "overlong 4-byte, highest"],
  ["ed a0 80", "surrogate U+D800"],
  ["ed bf bf", "surrogate U+DFFF"],
  ["ed af bf ed b0 80", "a surrogate pair in CESU-8"],
  ["f4 90 80 80", "U+110000"],
  ["f7 bf bf bf", "U+1FFFFF"],
  ["f5", "F5"],
  ["f8 88 80 80 80", "5-byte form"],
  ["fc 84 80 80 80 80", "6-byte form"],
  ["fe", "FE"],
  ["ff", "FF"],
  ["80", "a lone continuation byte"],
  ["bf", "a lone continuation byte BF"],
  ["c2 41", "a lead byte followed by ASCII"],
  ["e2 82 41", "a 3-byte sequence cut by ASCII"],
  ["f0 9f 98 41", "a 4-byte sequence cut by ASCII"],
  ["e2 c2 a9", "a 3-byte sequence cut by a lead byte"],
];
for (let b = 0xf5; b <= 0xff; b++) {
  INVALID_SEQUENCES.push([b.toString(16), `lead byte ${b.toString(16)}`]);
}

/** Sequences that are only invalid because the message ends. */
const TRUNCATED_SEQUENCES = [
  "c2",
  "e2",
  "e2 82",
  "f0",
  "f0 9f",
  "f0 9f 98",
  "f4 8f bf",
];

/** Valid characters of every length, and the edges of the ranges. */
const VALID_CHARACTERS = [
  "é",
  "\u07ff",
  "€",
  "\u0800",
  "\ud7ff",
  "\ue000",
  "\uffff",
  "😀",
  "\u{10000}",
  "\u{10ffff}",
  "\ufeff",
];

describe("RFC 6455 §8.1 invalid UTF-8 in text messages → 1007", () => {
  for (const role of ROLES) {
    it(`${role}: every invalid sequence in a single frame, in every splitting`, () => {
      for (const [seq, name] of INVALID_SEQUENCES) {
        const payload = concat(utf8("ab"), hex(seq), utf8("cd"));
        const input = to(role, { opcode: OP.TEXT, payload });
        try {
          expectFailure(role, input, "WSD_ERR_INVALID_UTF8", 1007);
        } catch (e) {
          throw new Error(`${name} (${seq}): ${(e as Error).message}`);
        }
      }
    });

    it(`${role}: every invalid sequence in a fragmented message, cut at every byte`, () => {
      for (const [seq, name] of INVALID_SEQUENCES) {
        const payload = concat(utf8("ab"), hex(seq), utf8("cd"));
        for (let cut = 0; cut <= payload.length; cut++) {
          const input = concat(
            to(role, {
              opcode: OP.TEXT,
              fin: false,
              payload: payload.subarray(0, cut),
            }),
            to(role, { opcode: OP.PING, payload: "" }),
            to(role, {
              opcode: OP.CONT,
              fin: false,
              payload: payload.subarray(cut),
            }),
            to(role, { opcode: OP.CONT, payload: "tail" }),
          );
          // The ping is reported (and answered) only if the first fragment could
          // still begin a valid message.
          const firstValid = isViablePrefix(payload.subarray(0, cut));
          const p = make(role);
          const result = feed(p, input, { kind: "whole" });
          const events = plain(result.events);
          const where = `${name} (${seq}) cut at ${cut}, ${role}`;
          assert.deepEqual(events, [
            ...(firstValid ? [{ type: "ping" as const, data: new Uint8Array(0) }] : []),
            { type: "error", errorType: "WSD_ERR_INVALID_UTF8", code: 1007 },
          ], where);
          assert.equal(
            parseFrames(result.sent).length,
            firstValid ? 2 : 1,
            where,
          );
          assert.equal(result.ended, true, where);
          // The same result fed byte by byte.
          const bytewise = feed(make(role), input, { kind: "bytes" });
          assert.deepEqual(
            plain(bytewise.events),
            events,
            `${where}, byte by byte`,
          );
          assert.deepEqual(
            bytewise.sent,
            result.sent,
            `${where}, byte by byte`,
          );
        }
      }
    });

    it(`${role}: a truncated sequence at the end of a message`, () => {
      for (const seq of TRUNCATED_SEQUENCES) {
        const payload = concat(utf8("ab"), hex(seq));
        expectFailure(
          role,
          to(role, { opcode: OP.TEXT, payload }),
          "WSD_ERR_INVALID_UTF8",
          1007,
        );
        // Completed by no fragment: the message ends with an empty one.
        const fragmented = concat(
          to(role, { opcode: OP.TEXT, fin: false, payload }),
          to(role, { opcode: OP.CONT, payload: "" }),
        );
        expectFailure(role, fragmented, "WSD_ERR_INVALID_UTF8", 1007);
        // The last fragment ends in the middle of a character.
        const lastCut = concat(
          to(role, { opcode: OP.TEXT, fin: false, payload: "xy" }),
          to(role, { opcode: OP.CONT, payload }),
        );
        expectFailure(role, lastCut, "WSD_ERR_INVALID_UTF8", 1007);
        // A long frame (validated as it streams in) ending in the middle of a character.
        const long = concat(utf8("z".repeat(300)), hex(seq));
        expectFailure(
          role,
          to(role, { opcode: OP.TEXT, payload: long }),
          "WSD_ERR_INVALID_UTF8",
          1007,
          { maxPoints: 30 },
        );
      }
    });

    it(`${role}: failure is detected early, before the rest of a 100000-byte frame arrives`, () => {
      for (const [seq, name] of INVALID_SEQUENCES) {
        const payload = new Uint8Array(100000).fill(0x61);
        const bad = hex(seq);
        payload.set(bad, 3);
        const whole = to(role, { opcode: OP.TEXT, payload });
        const header = role === "server" ? 14 : 10;
        // Only the header and the first few payload bytes, up to the invalid one.
        const prefix = whole.subarray(0, header + 3 + bad.length);
        try {
          expectFailure(role, prefix, "WSD_ERR_INVALID_UTF8", 1007, {
            maxPoints: 30,
          });
        } catch (e) {
          throw new Error(`${name} (${seq}): ${(e as Error).message}`);
        }
      }
    });

    it(`${role}: failure is detected early in the middle of a fragmented message`, () => {
      for (const [seq, name] of INVALID_SEQUENCES) {
        const payload = new Uint8Array(100000).fill(0x62);
        const bad = hex(seq);
        payload.set(bad, 5);
        const continuation = to(role, { opcode: OP.CONT, payload });
        const header = role === "server" ? 14 : 10;
        const input = concat(
          to(role, { opcode: OP.TEXT, fin: false, payload: "€ first " }),
          to(role, { opcode: OP.PONG, payload: "p" }),
          continuation.subarray(0, header + 5 + bad.length),
        );
        try {
          expectFailure(role, input, "WSD_ERR_INVALID_UTF8", 1007, {
            before: [{ type: "pong", data: utf8("p") }],
            maxPoints: 40,
          });
        } catch (e) {
          throw new Error(`${name} (${seq}): ${(e as Error).message}`);
        }
      }
      // The first fragment of a large fragmented message, too.
      const payload = new Uint8Array(100000).fill(0x63);
      payload.set(hex("ed a0 80"), 10);
      const first = to(role, { opcode: OP.TEXT, fin: false, payload });
      const header = role === "server" ? 14 : 10;
      expectFailure(
        role,
        first.subarray(0, header + 13),
        "WSD_ERR_INVALID_UTF8",
        1007,
        { maxPoints: 30 },
      );
    });

    it(`${role}: an invalid byte in a complete non-final fragment fails before the message ends`, () => {
      const input = concat(
        to(role, { opcode: OP.TEXT, fin: false, payload: "ok" }),
        to(role, { opcode: OP.CONT, fin: false, payload: hex("61 ff 62") }),
      );
      expectFailure(role, input, "WSD_ERR_INVALID_UTF8", 1007);
    });

    it(`${role}: a partial character at the end of the bytes received so far is not an error yet`, () => {
      for (const seq of TRUNCATED_SEQUENCES) {
        const payload = concat(utf8("ab"), hex(seq));
        const whole = to(role, {
          opcode: OP.TEXT,
          payload: concat(payload, new Uint8Array(1000).fill(0x80)),
        });
        const header = role === "server" ? 8 : 4;
        for (
          const s of splittings(header + payload.length, { maxPoints: 40 })
        ) {
          const result = feed(
            make(role),
            whole.subarray(0, header + payload.length),
            s,
          );
          assert.deepEqual(
            result.events,
            [],
            `${seq}, ${describeSplitting(s)}`,
          );
          assert.equal(result.sent.length, 0);
        }
      }
    });

    it(`${role}: valid characters split across fragments and across chunks pass`, () => {
      for (const ch of VALID_CHARACTERS) {
        const text = `a${ch}b${ch}${ch}`;
        const bytes = utf8(text);
        for (let cut1 = 0; cut1 <= bytes.length; cut1++) {
          for (let cut2 = cut1; cut2 <= bytes.length; cut2 += 2) {
            const input = concat(
              to(role, {
                opcode: OP.TEXT,
                fin: false,
                payload: bytes.subarray(0, cut1),
              }),
              to(role, { opcode: OP.PING, payload: "" }),
              to(role, {
                opcode: OP.CONT,
                fin: false,
                payload: bytes.subarray(cut1, cut2),
              }),
              to(role, { opcode: OP.CONT, payload: bytes.subarray(cut2) }),
            );
            for (
              const s of splittings(input.length, {
                maxPoints: 8,
                randoms: 2,
                seed: cut1 * 100 + cut2,
              })
            ) {
              const result = feed(make(role), input, s);
              assert.deepEqual(
                plain(result.events),
                [{ type: "ping", data: new Uint8Array(0) }, {
                  type: "text",
                  data: text,
                }],
                `${JSON.stringify(ch)} cut at ${cut1}/${cut2}, ${describeSplitting(s)}`,
              );
              assert.equal(result.ended, false);
            }
          }
        }
        // One long frame fed in small chunks.
        const long = utf8(ch.repeat(500));
        for (const s of splittings(long.length + 14, { maxPoints: 16 })) {
          const result = feed(
            make(role),
            to(role, { opcode: OP.TEXT, payload: long }),
            s,
          );
          assert.deepEqual(plain(result.events), [{
            type: "text",
            data: ch.repeat(500),
          }], describeSplitting(s));
        }
      }
    });

    it(`${role}: a BOM at the start of a text message is kept as U+FEFF`, () => {
      const inputs = [
        to(role, { opcode: OP.TEXT, payload: "\uFEFFHi" }),
        concat(
          to(role, { opcode: OP.TEXT, fin: false, payload: hex("ef bb") }),
          to(role, { opcode: OP.CONT, payload: hex("bf 48 69") }),
        ),
        to(role, { opcode: OP.TEXT, payload: "\uFEFF" + "x".repeat(300) }),
      ];
      for (const input of inputs) {
        for (const s of splittings(input.length, { maxPoints: 20 })) {
          const [event] = feed(make(role), input, s).events;
          assert.ok(event?.type === "text", describeSplitting(s));
          assert.equal(event.data.charCodeAt(0), 0xfeff, describeSplitting(s));
          assert.ok(
            event.data === "\uFEFFHi" ||
              event.data === "\uFEFF" + "x".repeat(300),
          );
        }
      }
      // A BOM in a binary message is just bytes.
      const bin = feed(
        make(role),
        to(role, { opcode: OP.BINARY, payload: hex("ef bb bf") }),
      );
      assert.deepEqual(plain(bin.events), [{
        type: "binary",
        data: hex("ef bb bf"),
      }]);
    });

    it(`${role}: binary messages are not checked for UTF-8`, () => {
      const payload = hex("ff fe c0 80 ed a0 80");
      const input = concat(
        to(role, { opcode: OP.BINARY, payload }),
        to(role, {
          opcode: OP.BINARY,
          fin: false,
          payload: payload.subarray(0, 3),
        }),
        to(role, { opcode: OP.CONT, payload: payload.subarray(3) }),
        to(role, { opcode: OP.PING, payload }),
      );
      const result = feed(make(role), input, { kind: "bytes" });
      assert.deepEqual(plain(result.events), [
        { type: "binary", data: payload },
        { type: "binary", data: payload },
        { type: "ping", data: payload },
      ]);
    });
  }
});

/**
 * Whether `bytes` can begin a valid UTF-8 text: the WHATWG decoder in
 * streaming mode throws at the first byte that no continuation can save.
 */
function isViablePrefix(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

// ───────────────────────────── maxLength ─────────────────────────────

describe("RFC 6455 §10.4 message size limits (maxLength) → 1009", () => {
  for (const role of ROLES) {
    // The length fields alone: no masking key, no payload.
    const headerOnly = (n: number, opcode: number = OP.BINARY, fin = true) =>
      frameHeader({
        opcode,
        fin,
        length: n,
        mask: role === "server" ? KEY : null,
      }).subarray(0, n < 126 ? 2 : n < 65536 ? 4 : 10);

    it(`${role}: a frame header over the limit fails before any payload byte arrives`, () => {
      for (
        const [max, n] of [[10, 11], [125, 126], [200, 300], [65535, 65536], [
          70000,
          70001,
        ], [0, 1]]
      ) {
        expectFailure(role, headerOnly(n), "WSD_ERR_MESSAGE_TOO_BIG", 1009, {
          maxLength: max,
        });
        expectFailure(
          role,
          headerOnly(n, OP.TEXT, false),
          "WSD_ERR_MESSAGE_TOO_BIG",
          1009,
          { maxLength: max },
        );
      }
      // A 64-bit length far beyond any limit.
      const mask = role === "server" ? 0x80 : 0;
      expectFailure(
        role,
        hex(`82 ${(mask | 127).toString(16)} 7f ff ff ff ff ff ff ff`),
        "WSD_ERR_MESSAGE_TOO_BIG",
        1009,
      );
      expectFailure(
        role,
        hex(`82 ${(mask | 127).toString(16)} 00 00 00 00 04 00 00 00`),
        "WSD_ERR_MESSAGE_TOO_BIG",
        1009,
      );
    });

    it(`${role}: the default limit is 0x3ffffff`, () => {
      const ok = make(role);
      const n = 0x3ffffff;
      ok.receiveData(headerOnly(n));
      assert.deepEqual(ok.eventsReceived(), []);
      expectFailure(role, headerOnly(n + 1), "WSD_ERR_MESSAGE_TOO_BIG", 1009, {
        only: [{ kind: "whole" }],
      });
    });

    it(`${role}: exactly maxLength passes, single frame and fragmented`, () => {
      for (const max of [0, 1, 10, 125, 126, 1000]) {
        const data = new Uint8Array(max).fill(0x41);
        const single = feed(
          make(role, max),
          to(role, { opcode: OP.TEXT, payload: data }),
          { kind: "bytes" },
        );
        assert.deepEqual(plain(single.events), [{
          type: "text",
          data: "A".repeat(max),
        }], `maxLength ${max}`);
        const third = Math.floor(max / 3);
        const fragmented = concat(
          to(role, {
            opcode: OP.BINARY,
            fin: false,
            payload: data.subarray(0, third),
          }),
          to(role, { opcode: OP.PING, payload: "control frames do not count" }),
          to(role, {
            opcode: OP.CONT,
            fin: false,
            payload: data.subarray(third, 2 * third),
          }),
          to(role, { opcode: OP.CONT, payload: data.subarray(2 * third) }),
          // And the count starts again with the next message.
          to(role, { opcode: OP.BINARY, payload: data }),
        );
        const result = feed(make(role, max), fragmented);
        assert.deepEqual(plain(result.events), [
          { type: "ping", data: utf8("control frames do not count") },
          { type: "binary", data },
          { type: "binary", data },
        ], `maxLength ${max}`);
        assert.equal(result.ended, false);
      }
    });

    it(`${role}: the running total of a fragmented message over the limit → 1009 at the header`, () => {
      const max = 100;
      const input = concat(
        to(role, { opcode: OP.TEXT, fin: false, payload: "a".repeat(40) }),
        to(role, { opcode: OP.CONT, fin: false, payload: "b".repeat(40) }),
        to(role, { opcode: OP.PING, payload: "p" }),
        headerOnly(21, OP.CONT, true),
      );
      expectFailure(role, input, "WSD_ERR_MESSAGE_TOO_BIG", 1009, {
        maxLength: max,
        before: [{ type: "ping", data: utf8("p") }],
        framesBefore: 1,
      });
      // Many small fragments add up too.
      const many: Uint8Array[] = [
        to(role, { opcode: OP.BINARY, fin: false, payload: new Uint8Array(9) }),
      ];
      for (let i = 0; i < 10; i++) {
        many.push(
          to(role, { opcode: OP.CONT, fin: false, payload: new Uint8Array(9) }),
        );
      }
      expectFailure(role, concat(...many), "WSD_ERR_MESSAGE_TOO_BIG", 1009, {
        maxLength: 98,
        maxPoints: 20,
      });
    });

    it(`${role}: a flood of 100 000 empty continuation fragments is counted by bytes and completes`, () => {
      const parts: Uint8Array[] = [
        to(role, { opcode: OP.TEXT, fin: false, payload: "ab" }),
      ];
      const empty = to(role, { opcode: OP.CONT, fin: false });
      for (let i = 0; i < 100000; i++) parts.push(empty);
      parts.push(to(role, { opcode: OP.CONT, payload: "c" }));
      parts.push(to(role, { opcode: OP.BINARY, payload: "next" }));
      const input = concat(...parts);
      for (
        const s of [{ kind: "whole" }, {
          kind: "random",
          seed: 7,
          maxPiece: 1000,
        }] as Splitting[]
      ) {
        // A limit of 4 bytes ("abc" is 3, "next" 4): frames cost nothing, only bytes count.
        const result = feed(make(role, 4), input, s);
        assert.deepEqual(plain(result.events), [
          { type: "text", data: "abc" },
          { type: "binary", data: utf8("next") },
        ], describeSplitting(s));
        assert.equal(result.ended, false);
        assert.equal(result.sent.length, 0);
      }
    });
  }
});

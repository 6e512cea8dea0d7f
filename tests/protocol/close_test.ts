import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { END_OF_STREAM, Protocol } from "../../src/protocol/protocol.ts";
import type { Role } from "../../src/protocol/protocol.ts";
import { encodeClosePayload, isValidCloseCode, parseClosePayload, truncateReason } from "../../src/protocol/close.ts";
import { ProtocolError } from "../../src/protocol/errors.ts";
import { MAX_CLOSE_REASON_BYTES } from "../../src/protocol/constants.ts";
import {
  closePayload,
  concat,
  describeSplitting,
  drain,
  feed,
  frame,
  hex,
  OP,
  parseFrames,
  plain,
  Rng,
  splittings,
  toHex,
  utf8,
} from "./_helpers.ts";
import type { ParsedFrame } from "./_helpers.ts";

const KEY = hex("37 fa 21 3d");
const CLIENT_KEY = hex("a1 b2 c3 d4");

function make(role: Role): Protocol {
  return new Protocol({ role, maskKey: () => CLIENT_KEY.slice() });
}

/** A frame as `role` receives it: masked for a server. */
function to(
  role: Role,
  opcode: number,
  payload: Uint8Array | string = "",
): Uint8Array {
  return frame({ opcode, payload, mask: role === "server" ? KEY : null });
}

function closeOf(f: ParsedFrame): { code: number; reason: string } | null {
  assert.equal(f.opcode, OP.CLOSE);
  if (f.payload.length === 0) return null;
  return {
    code: (f.payload[0] << 8) | f.payload[1],
    reason: new TextDecoder("utf-8", { fatal: true }).decode(
      f.payload.subarray(2),
    ),
  };
}

describe("RFC 6455 §7.1.2–§7.1.5 the closing handshake, started by the peer", () => {
  it("server receiving close: close event, echo of the code and the reason, then END_OF_STREAM", () => {
    const input = to("server", OP.CLOSE, closePayload(1000, "bye"));
    for (const s of splittings(input.length)) {
      const p = make("server");
      const result = feed(p, input, s);
      assert.deepEqual(plain(result.events), [{
        type: "close",
        code: 1000,
        reason: "bye",
      }], describeSplitting(s));
      assert.equal(
        toHex(result.sent),
        "88 05 03 e8 62 79 65",
        describeSplitting(s),
      );
      assert.equal(result.ended, true);
      assert.equal(p.closeReceived, true);
      assert.equal(p.closeSent, true);
      assert.equal(p.ending, true);
      assert.equal(p.closeCode, 1000);
      assert.equal(p.closeReason, "bye");
    }
  });

  it("client receiving close: masked echo of the code and the reason, but no END_OF_STREAM (the server ends TCP, §7.1.1)", () => {
    const input = hex("88 05 03 e8 62 79 65");
    for (const s of splittings(input.length)) {
      const p = make("client");
      const result = feed(p, input, s);
      assert.deepEqual(plain(result.events), [{
        type: "close",
        code: 1000,
        reason: "bye",
      }]);
      const frames = parseFrames(result.sent);
      assert.equal(frames.length, 1);
      assert.equal(frames[0].masked, true);
      assert.deepEqual(frames[0].key, CLIENT_KEY);
      assert.deepEqual(closeOf(frames[0]), { code: 1000, reason: "bye" });
      // 03 e8 62 79 65 masked with a1 b2 c3 d4.
      assert.equal(
        toHex(result.sent),
        "88 85 a1 b2 c3 d4 a2 5a a1 ad c4",
        describeSplitting(s),
      );
      assert.equal(result.ended, false, describeSplitting(s));
      assert.equal(p.ending, false);
      assert.equal(p.closeSent, true);
      assert.equal(p.closeReceived, true);
      // The server then ends the TCP connection.
      p.receiveEof();
      assert.deepEqual(p.eventsReceived(), []);
      const last = drain(p);
      assert.equal(last.bytes.length, 0);
      assert.equal(last.ended, true);
      assert.equal(p.closeCode, 1000, "the peer's code stays");
      assert.equal(p.closeReason, "bye");
    }
  });

  it("server: a message and the close frame in one chunk — a reply sent between eventsReceived() and dataToSend() goes before the echo", () => {
    const p = make("server");
    p.receiveData(concat(
      to("server", OP.TEXT, "hello"),
      to("server", OP.CLOSE, closePayload(1000, "bye")),
    ));
    assert.deepEqual(plain(p.eventsReceived()), [
      { type: "text", data: "hello" },
      { type: "close", code: 1000, reason: "bye" },
    ]);
    // The echo waits for dataToSend(): nothing is written while parsing.
    assert.equal(p.closeSent, false);
    assert.equal(p.bytesToSend, 0);
    p.sendText("reply");
    const items = p.dataToSend();
    assert.ok(items.length >= 2, "the frames, then END_OF_STREAM");
    assert.equal(items[items.length - 1], END_OF_STREAM, "END_OF_STREAM last");
    const bytes = concat(...items.slice(0, -1));
    assert.equal(
      toHex(bytes),
      "81 05 72 65 70 6c 79" + // the reply
        " 88 05 03 e8 62 79 65", // then the echo of (1000, "bye")
    );
    assert.deepEqual(
      parseFrames(bytes).map((f) => f.opcode),
      [OP.TEXT, OP.CLOSE],
    );
    assert.equal(p.closeSent, true);
    assert.deepEqual(p.dataToSend(), [], "nothing after END_OF_STREAM");
  });

  for (const role of ["server", "client"] as Role[]) {
    it(`${role}: an empty close frame reports 1005 and is echoed with an empty payload`, () => {
      const p = make(role);
      const result = feed(p, to(role, OP.CLOSE));
      assert.deepEqual(plain(result.events), [{
        type: "close",
        code: 1005,
        reason: "",
      }]);
      assert.equal(
        toHex(result.sent),
        role === "server" ? "88 00" : "88 80 a1 b2 c3 d4",
      );
      assert.equal(result.ended, role === "server");
      assert.equal(p.closeCode, 1005);
      assert.equal(p.closeReason, "");
    });

    it(`${role}: every valid code is echoed as is, with its reason`, () => {
      for (
        const code of [
          1000,
          1001,
          1002,
          1003,
          1007,
          1008,
          1009,
          1010,
          1011,
          1012,
          1013,
          1014,
          3000,
          4999,
        ]
      ) {
        const result = feed(
          make(role),
          to(role, OP.CLOSE, closePayload(code, "why")),
        );
        assert.deepEqual(closeOf(parseFrames(result.sent)[0]), {
          code,
          reason: "why",
        }, `code ${code}`);
      }
    });

    it(`${role}: events before the close frame are delivered, everything after it is ignored`, () => {
      const input = concat(
        to(role, OP.TEXT, "before"),
        to(role, OP.PING, "p"),
        to(role, OP.CLOSE, closePayload(1001, "going")),
        to(role, OP.TEXT, "after"),
        to(role, OP.PING, "q"),
        hex("ff ff ff"), // even garbage
      );
      for (const s of splittings(input.length, { maxPoints: 100 })) {
        const p = make(role);
        const result = feed(p, input, s);
        assert.deepEqual(plain(result.events), [
          { type: "text", data: "before" },
          { type: "ping", data: utf8("p") },
          { type: "close", code: 1001, reason: "going" },
        ], describeSplitting(s));
        const frames = parseFrames(result.sent);
        assert.deepEqual(
          frames.map((f) => f.opcode),
          [OP.PONG, OP.CLOSE],
          describeSplitting(s),
        );
        assert.deepEqual(closeOf(frames[1]), {
          code: 1001,
          reason: "going",
        });
        p.receiveData(to(role, OP.PING, "later"));
        assert.deepEqual(p.eventsReceived(), []);
        assert.equal(drain(p).bytes.length, 0);
      }
    });

    it(`${role}: sendClose after the peer's close (the driver answering) sends nothing more`, () => {
      const p = make(role);
      feed(p, to(role, OP.CLOSE, closePayload(1000)));
      p.sendClose(1000, "late");
      const out = drain(p);
      assert.equal(out.bytes.length, 0);
      assert.equal(
        out.ended,
        false,
        "END_OF_STREAM was handed out already, or never for a client",
      );
    });
  }
});

describe("RFC 6455 §7.1.2 the closing handshake, started by us", () => {
  it("server: sendClose writes the frame, waits, and ends after the answer without a second close", () => {
    const p = make("server");
    p.sendClose(1000, "bye");
    assert.equal(p.closeSent, true);
    assert.equal(p.closeReceived, false);
    const first = drain(p);
    assert.equal(toHex(first.bytes), "88 05 03 e8 62 79 65");
    assert.equal(first.ended, false, "the server waits for the answer");
    assert.equal(p.ending, false);
    assert.equal(p.closeCode, 0);

    // Data frames still arrive until the answer (§7.1.2 allows them in flight).
    const result = feed(
      p,
      concat(
        to("server", OP.TEXT, "in flight"),
        to("server", OP.CLOSE, closePayload(1000, "ok")),
      ),
    );
    assert.deepEqual(plain(result.events), [
      { type: "text", data: "in flight" },
      { type: "close", code: 1000, reason: "ok" },
    ]);
    assert.equal(result.sent.length, 0, "no second close frame");
    assert.equal(result.ended, true, "then the server ends TCP");
    assert.equal(p.closeCode, 1000);
    assert.equal(p.closeReason, "ok");
  });

  it("client: sendClose, the server's answer: no second close frame and no END_OF_STREAM until EOF", () => {
    const p = make("client");
    p.sendClose(4000, "done");
    const [f] = parseFrames(drain(p).bytes);
    assert.equal(f.masked, true);
    assert.deepEqual(closeOf(f), { code: 4000, reason: "done" });
    const result = feed(p, hex("88 02 0f a0"));
    assert.deepEqual(plain(result.events), [{
      type: "close",
      code: 4000,
      reason: "",
    }]);
    assert.equal(result.sent.length, 0);
    assert.equal(result.ended, false);
    p.receiveEof();
    assert.equal(drain(p).ended, true);
    assert.equal(p.closeCode, 4000);
  });

  for (const role of ["server", "client"] as Role[]) {
    it(`${role}: after sendClose, received pings are reported but not answered`, () => {
      // Before: answered.
      const before = make(role);
      assert.equal(
        parseFrames(feed(before, to(role, OP.PING, "x")).sent).length,
        1,
      );

      const p = make(role);
      p.sendClose(1000, "");
      drain(p);
      const result = feed(
        p,
        concat(to(role, OP.PING, "x"), to(role, OP.PING, "")),
      );
      assert.deepEqual(plain(result.events), [
        { type: "ping", data: utf8("x") },
        { type: "ping", data: new Uint8Array(0) },
      ]);
      assert.equal(result.sent.length, 0);
      assert.equal(result.ended, false);
    });

    it(`${role}: sendClose twice writes one close frame`, () => {
      const p = make(role);
      p.sendClose(1000, "one");
      p.sendClose(1001, "two");
      const frames = parseFrames(drain(p).bytes);
      assert.equal(frames.length, 1);
      assert.deepEqual(closeOf(frames[0]), { code: 1000, reason: "one" });
    });

    it(`${role}: sendClose(1005) writes a close frame without a payload`, () => {
      const p = make(role);
      p.sendClose(1005, "");
      assert.equal(
        toHex(drain(p).bytes),
        role === "server" ? "88 00" : "88 80 a1 b2 c3 d4",
      );
    });

    it(`${role}: sendClose with a 123-byte reason fits a control frame and round-trips`, () => {
      const reason = "é".repeat(61) + "x";
      assert.equal(utf8(reason).length, 123);
      const p = make(role);
      p.sendClose(3000, reason);
      const wire = drain(p).bytes;
      const peer = make(role === "server" ? "client" : "server");
      const result = feed(peer, wire);
      assert.deepEqual(plain(result.events), [{
        type: "close",
        code: 3000,
        reason,
      }]);
    });

    it(`${role}: a violation after sendClose: error, no second close frame, END_OF_STREAM`, () => {
      const p = make(role);
      p.sendClose(1000, "");
      drain(p);
      const result = feed(
        p,
        hex(role === "server" ? "83 80 00 00 00 00" : "83 00"),
      );
      assert.deepEqual(plain(result.events), [{
        type: "error",
        errorType: "WSD_ERR_INVALID_OPCODE",
        code: 1002,
      }]);
      assert.equal(result.sent.length, 0);
      assert.equal(result.ended, true);
      assert.equal(p.closeCode, 1002);
    });

    it(`${role}: the loopback handshake — each side's output is the other's input, the echo carries the reason back`, () => {
      const a = make(role);
      const b = make(role === "server" ? "client" : "server");
      a.sendText("last words");
      a.sendClose(1000, "bye");
      const out1 = drain(a);
      const r1 = feed(b, out1.bytes);
      assert.deepEqual(plain(r1.events), [
        { type: "text", data: "last words" },
        { type: "close", code: 1000, reason: "bye" },
      ]);
      const r2 = feed(a, r1.sent);
      // The echo carries the reason back.
      assert.deepEqual(plain(r2.events), [{
        type: "close",
        code: 1000,
        reason: "bye",
      }]);
      assert.equal(r2.sent.length, 0);
      // Exactly one of them (the server) ends the stream on its own.
      const serverSide = role === "server"
        ? { first: r2.ended, second: r1.ended }
        : { first: r1.ended, second: r2.ended };
      assert.deepEqual(serverSide, { first: true, second: false });
    });
  }
});

describe("RFC 6455 §7.1.5 the connection closed without a close frame: 1006", () => {
  for (const role of ["server", "client"] as Role[]) {
    it(`${role}: receiveEof with no close frame → closeCode 1006, END_OF_STREAM, later input ignored`, () => {
      const p = make(role);
      assert.equal(p.closeCode, 0);
      assert.equal(p.closeReason, "");
      const r = feed(p, to(role, OP.TEXT, "hi"));
      assert.deepEqual(plain(r.events), [{ type: "text", data: "hi" }]);
      p.receiveEof();
      assert.equal(p.closeCode, 1006);
      assert.equal(p.closeReason, "");
      assert.equal(p.ending, true);
      assert.equal(p.closeReceived, false);
      assert.equal(p.closeSent, false);
      assert.deepEqual(p.eventsReceived(), []);
      const out = drain(p);
      assert.equal(out.bytes.length, 0, "no close frame on a dead connection");
      assert.equal(out.ended, true);
      p.receiveData(to(role, OP.TEXT, "late"));
      p.receiveEof();
      assert.deepEqual(p.eventsReceived(), []);
      assert.deepEqual(drain(p), { bytes: new Uint8Array(0), ended: false });
    });

    it(`${role}: receiveEof in the middle of a frame or a fragmented message → 1006, no message`, () => {
      const whole = concat(
        to(role, OP.TEXT, "frag"),
        frame({
          opcode: OP.BINARY,
          fin: false,
          payload: "x",
          mask: role === "server" ? KEY : null,
        }),
      );
      for (let cut = 1; cut <= whole.length; cut++) {
        const p = make(role);
        const r = feed(p, whole.subarray(0, cut));
        p.receiveEof();
        const events = [...r.events, ...p.eventsReceived()];
        assert.ok(events.every((e) => e.type === "text"), `cut ${cut}`);
        assert.equal(p.closeCode, 1006);
      }
    });

    it(`${role}: receiveEof after sendClose (no answer) → 1006`, () => {
      const p = make(role);
      p.sendClose(1000, "bye");
      p.receiveEof();
      assert.equal(p.closeCode, 1006);
      assert.equal(drain(p).ended, true);
    });

    it(`${role}: receiveEof after a violation keeps the violation's code`, () => {
      const p = make(role);
      feed(p, to(role, OP.CLOSE, hex("03")));
      p.receiveEof();
      assert.equal(p.closeCode, 1002);
      assert.ok(p.closeReason.length > 0);
    });
  }
});

describe("RFC 6455 §7.4 close codes: isValidCloseCode", () => {
  it("follows the rule on every 16-bit code", () => {
    const rule = (c: number) =>
      (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
      (c >= 3000 && c <= 4999);
    for (let code = 0; code <= 0xffff; code++) {
      assert.equal(isValidCloseCode(code), rule(code), `code ${code}`);
    }
  });

  it("refuses the reserved codes 1004, 1005, 1006 and 1015, accepts 1012–1014", () => {
    for (const code of [1004, 1005, 1006, 1015, 999, 2999, 5000]) {
      assert.equal(isValidCloseCode(code), false, `${code}`);
    }
    for (const code of [1012, 1013, 1014, 3000, 4999]) {
      assert.equal(isValidCloseCode(code), true, `${code}`);
    }
  });

  it("refuses fractions, in every range", () => {
    for (const code of [1000.5, 1007.5, 3000.5, 4998.25, NaN, Infinity]) {
      assert.equal(isValidCloseCode(code), false, `${code}`);
    }
  });
});

describe("RFC 6455 §5.5.1 close payload codec", () => {
  it("encodeClosePayload: code in network order, then the UTF-8 reason", () => {
    assert.equal(toHex(encodeClosePayload(1000, "bye")), "03 e8 62 79 65");
    assert.equal(toHex(encodeClosePayload(1000, "")), "03 e8");
    assert.equal(toHex(encodeClosePayload(4999, "é")), "13 87 c3 a9");
    assert.equal(toHex(encodeClosePayload(1005, "ignored")), "");
  });

  it("parseClosePayload: empty → 1005, code and reason otherwise, BOM kept", () => {
    assert.deepEqual(parseClosePayload(new Uint8Array(0)), {
      code: 1005,
      reason: "",
    });
    assert.deepEqual(parseClosePayload(hex("03 e8 62 79 65")), {
      code: 1000,
      reason: "bye",
    });
    assert.deepEqual(parseClosePayload(hex("0b b8")), {
      code: 3000,
      reason: "",
    });
    assert.deepEqual(parseClosePayload(hex("0f a0 ef bb bf 61")), {
      code: 4000,
      reason: "\uFEFFa",
    });
  });

  it("parseClosePayload throws ProtocolError with the right type and code", () => {
    const cases: [string, string, number][] = [
      ["03", "WSD_ERR_CLOSE_PAYLOAD_LENGTH", 1002],
      ["03 ed", "WSD_ERR_INVALID_CLOSE_CODE", 1002],
      ["03 ee", "WSD_ERR_INVALID_CLOSE_CODE", 1002],
      ["00 00", "WSD_ERR_INVALID_CLOSE_CODE", 1002],
      ["13 88", "WSD_ERR_INVALID_CLOSE_CODE", 1002],
      ["03 e8 ff", "WSD_ERR_INVALID_UTF8", 1007],
      ["03 e8 e2 82", "WSD_ERR_INVALID_UTF8", 1007],
      ["03 e8 ed a0 80", "WSD_ERR_INVALID_UTF8", 1007],
    ];
    for (const [bytes, type, code] of cases) {
      assert.throws(
        () => parseClosePayload(hex(bytes)),
        (e: unknown) => e instanceof ProtocolError && e.type === type && e.code === code,
        bytes,
      );
    }
  });

  it("encode then parse is the identity for every valid code and random reasons", () => {
    const rng = new Rng(7);
    const pieces = ["a", "é", "€", "😀", " ", "\uFEFF"];
    for (let code = 0; code <= 5000; code++) {
      if (!isValidCloseCode(code)) continue;
      let reason = "";
      const n = rng.int(30);
      for (let i = 0; i < n; i++) reason += rng.pick(pieces);
      assert.deepEqual(parseClosePayload(encodeClosePayload(code, reason)), {
        code,
        reason,
      }, `code ${code}, seed 7`);
    }
  });
});

describe("RFC 6455 §5.5.1 truncateReason: at most 123 bytes, whole characters", () => {
  const byteLength = (s: string) => utf8(s).length;

  it("keeps short reasons", () => {
    for (
      const r of [
        "",
        "bye",
        "x".repeat(123),
        "€".repeat(41),
        "é".repeat(61) + "x",
      ]
    ) {
      assert.equal(truncateReason(r), r);
    }
  });

  it("cuts long reasons at a character boundary", () => {
    assert.equal(truncateReason("x".repeat(200)), "x".repeat(123));
    assert.equal(truncateReason("x".repeat(124)), "x".repeat(123));
    assert.equal(truncateReason("é".repeat(100)), "é".repeat(61));
    assert.equal(truncateReason("€".repeat(42)), "€".repeat(41));
    assert.equal(truncateReason("😀".repeat(40)), "😀".repeat(30));
    assert.equal(
      truncateReason("xx" + "😀".repeat(40)),
      "xx" + "😀".repeat(30),
    );
    assert.equal(
      truncateReason("xxxx" + "😀".repeat(40)),
      "xxxx" + "😀".repeat(29),
    );
  });

  it("gives the longest prefix of whole characters within 123 bytes, on random strings", () => {
    const pieces = [
      "a",
      "é",
      "€",
      "😀",
      "\uD800",
      "\uDC00",
      "\u07FF",
      "\u0800",
    ];
    for (let seed = 1; seed <= 500; seed++) {
      const rng = new Rng(seed);
      let s = "";
      const n = rng.int(120);
      for (let i = 0; i < n; i++) s += rng.pick(pieces);
      const t = truncateReason(s);
      const where = `seed ${seed}: ${JSON.stringify(s)}`;
      assert.ok(s.startsWith(t), where);
      assert.ok(byteLength(t) <= MAX_CLOSE_REASON_BYTES, where);
      if (t.length < s.length) {
        // The next whole character would not fit.
        const next = String.fromCodePoint(s.codePointAt(t.length)!);
        const nextChar = s.slice(t.length, t.length + next.length);
        assert.ok(byteLength(t + nextChar) > MAX_CLOSE_REASON_BYTES, where);
        // A surrogate pair is never cut in half.
        const last = t.charCodeAt(t.length - 1);
        const following = s.charCodeAt(t.length);
        assert.ok(
          !(last >= 0xd800 && last <= 0xdbff && following >= 0xdc00 &&
            following <= 0xdfff),
          where,
        );
      }
    }
  });
});

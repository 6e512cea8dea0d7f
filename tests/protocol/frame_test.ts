import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../src/protocol/protocol.ts";
import type { Role } from "../../src/protocol/protocol.ts";
import { FIN, headerSize, OutgoingBuffer, writeHeader } from "../../src/protocol/frame.ts";
import {
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
import type { PlainEvent } from "./_helpers.ts";

// RFC 6455 §5.7's masking key.
const KEY = hex("37 fa 21 3d");
const fixedKey = () => KEY.slice();

function server(options: { maxLength?: number } = {}): Protocol {
  return new Protocol({ role: "server", ...options });
}

function client(options: { maxLength?: number } = {}): Protocol {
  return new Protocol({ role: "client", maskKey: fixedKey, ...options });
}

function filled(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + 3) & 0xff;
  return out;
}

/**
 * Feeds `input` to a fresh protocol of `role` in every splitting and checks that
 * each gives `expected` events, `expectedSent` output and no END_OF_STREAM.
 */
function decodesTo(
  role: Role,
  input: Uint8Array,
  expected: PlainEvent[],
  expectedSent = "",
  options: { maxPoints?: number } = {},
): void {
  for (const s of splittings(input.length, options)) {
    const protocol = role === "server" ? server() : client();
    const result = feed(protocol, input, s);
    assert.deepEqual(
      plain(result.events),
      expected,
      `${role}, ${describeSplitting(s)}`,
    );
    assert.equal(
      toHex(result.sent),
      expectedSent,
      `${role} output, ${describeSplitting(s)}`,
    );
    assert.equal(
      result.ended,
      false,
      `${role} must not end, ${describeSplitting(s)}`,
    );
  }
}

describe("RFC 6455 §5.7 examples", () => {
  describe("encoding", () => {
    it('a single-frame unmasked text message "Hello" (server)', () => {
      const s = server();
      s.sendText("Hello");
      assert.equal(s.bytesToSend, 7);
      assert.equal(toHex(drain(s).bytes), "81 05 48 65 6c 6c 6f");
      assert.equal(s.bytesToSend, 0);
    });

    it('a single-frame masked text message "Hello" (client)', () => {
      const c = client();
      c.sendText("Hello");
      assert.equal(toHex(drain(c).bytes), "81 85 37 fa 21 3d 7f 9f 4d 51 58");
    });

    it('a single-frame masked binary message "Hello" (client)', () => {
      const c = client();
      c.sendBinary(utf8("Hello"));
      assert.equal(toHex(drain(c).bytes), "82 85 37 fa 21 3d 7f 9f 4d 51 58");
    });

    it('a fragmented unmasked text message "Hel" + "lo" (server, sendFrame)', () => {
      const s = server();
      s.sendFrame(OP.TEXT, utf8("Hel"), false);
      s.sendFrame(OP.CONT, utf8("lo"), true);
      assert.equal(toHex(drain(s).bytes), "01 03 48 65 6c 80 02 6c 6f");
    });

    it('an unmasked ping "Hello" (server)', () => {
      const s = server();
      s.sendPing(utf8("Hello"));
      assert.equal(toHex(drain(s).bytes), "89 05 48 65 6c 6c 6f");
    });

    it('a masked pong "Hello" (client)', () => {
      const c = client();
      c.sendPong(utf8("Hello"));
      assert.equal(toHex(drain(c).bytes), "8a 85 37 fa 21 3d 7f 9f 4d 51 58");
    });

    it("256 bytes binary in a single unmasked frame: 82 7E 01 00", () => {
      const s = server();
      const data = filled(256);
      s.sendBinary(data);
      const out = drain(s).bytes;
      assert.equal(toHex(out.subarray(0, 4)), "82 7e 01 00");
      assert.equal(out.length, 4 + 256);
      assert.deepEqual(out.subarray(4), data);
    });

    it("64 KiB binary in a single unmasked frame: 82 7F 00 00 00 00 00 01 00 00", () => {
      const s = server();
      const data = filled(65536);
      s.sendBinary(data);
      const out = drain(s).bytes;
      assert.equal(toHex(out.subarray(0, 10)), "82 7f 00 00 00 00 00 01 00 00");
      assert.equal(out.length, 10 + 65536);
      assert.deepEqual(out.subarray(10), data);
    });

    it("the masked 256-byte and 64 KiB forms (client)", () => {
      const c = client();
      c.sendBinary(filled(256));
      c.sendBinary(filled(65536));
      const frames = parseFrames(drain(c).bytes);
      assert.equal(frames.length, 2);
      assert.equal(toHex(frames[0].header), "82 fe 01 00 37 fa 21 3d");
      assert.equal(
        toHex(frames[1].header),
        "82 ff 00 00 00 00 00 01 00 00 37 fa 21 3d",
      );
      assert.deepEqual(frames[0].payload, filled(256));
      assert.deepEqual(frames[1].payload, filled(65536));
    });

    it("sendBinary and sendFrame never change the caller's bytes", () => {
      const c = client();
      const data = filled(300);
      c.sendBinary(data);
      c.sendFrame(OP.BINARY, data, false);
      c.sendPing(data.subarray(0, 5));
      assert.deepEqual(data, filled(300));
    });
  });

  describe("decoding, fed whole, byte by byte and split at every point", () => {
    it('the unmasked text "Hello" (client receives)', () => {
      decodesTo("client", hex("81 05 48 65 6c 6c 6f"), [{
        type: "text",
        data: "Hello",
      }]);
    });

    it('the masked text "Hello" (server receives)', () => {
      decodesTo("server", hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), [{
        type: "text",
        data: "Hello",
      }]);
    });

    it('the fragmented text "Hel" + "lo" (client receives)', () => {
      decodesTo("client", hex("01 03 48 65 6c 80 02 6c 6f"), [{
        type: "text",
        data: "Hello",
      }]);
    });

    it("the fragmented text, masked (server receives)", () => {
      const input = concat(
        frame({ opcode: OP.TEXT, fin: false, payload: "Hel", mask: KEY }),
        frame({ opcode: OP.CONT, payload: "lo", mask: hex("01 02 03 04") }),
      );
      decodesTo("server", input, [{ type: "text", data: "Hello" }]);
    });

    it('the unmasked ping "Hello" (client receives and answers with the masked pong of §5.7)', () => {
      decodesTo(
        "client",
        hex("89 05 48 65 6c 6c 6f"),
        [{ type: "ping", data: utf8("Hello") }],
        "8a 85 37 fa 21 3d 7f 9f 4d 51 58",
      );
    });

    it('the masked ping "Hello" (server receives and answers with an unmasked pong)', () => {
      decodesTo(
        "server",
        hex("89 85 37 fa 21 3d 7f 9f 4d 51 58"),
        [{ type: "ping", data: utf8("Hello") }],
        "8a 05 48 65 6c 6c 6f",
      );
    });

    it('the masked pong "Hello" (server receives, no answer)', () => {
      decodesTo("server", hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"), [{
        type: "pong",
        data: utf8("Hello"),
      }]);
    });

    it("the 256-byte binary frame (client receives)", () => {
      const data = filled(256);
      decodesTo("client", concat(hex("82 7E 01 00"), data), [{
        type: "binary",
        data,
      }]);
    });

    it("the 64 KiB binary frame (client receives)", () => {
      const data = filled(65536);
      decodesTo(
        "client",
        concat(hex("82 7F 00 00 00 00 00 01 00 00"), data),
        [{ type: "binary", data }],
        "",
        { maxPoints: 64 },
      );
    });

    it("the 64 KiB binary frame, masked (server receives)", () => {
      const data = filled(65536);
      decodesTo(
        "server",
        frame({ opcode: OP.BINARY, payload: data, mask: KEY }),
        [{ type: "binary", data }],
        "",
        {
          maxPoints: 64,
        },
      );
    });

    it("several frames in one chunk, and a frame whose header and payload cross chunks", () => {
      const input = concat(
        hex("81 05 48 65 6c 6c 6f"),
        hex("89 00"),
        hex("01 03 48 65 6c"),
        hex("8a 01 21"),
        hex("80 02 6c 6f"),
        hex("82 00"),
      );
      decodesTo("client", input, [
        { type: "text", data: "Hello" },
        { type: "ping", data: new Uint8Array(0) },
        { type: "pong", data: utf8("!") },
        { type: "text", data: "Hello" },
        { type: "binary", data: new Uint8Array(0) },
      ], "8a 80 37 fa 21 3d");
    });
  });
});

describe("RFC 6455 §5.2 payload length forms", () => {
  const cases: [number, string][] = [
    [0, "00"],
    [1, "01"],
    [125, "7d"],
    [126, "7e 00 7e"],
    [127, "7e 00 7f"],
    [65535, "7e ff ff"],
    [65536, "7f 00 00 00 00 00 01 00 00"],
    [65537, "7f 00 00 00 00 00 01 00 01"],
  ];

  for (const [n, form] of cases) {
    it(`encodes ${n} bytes minimally, unmasked and masked`, () => {
      const s = server();
      s.sendBinary(filled(n));
      const out = drain(s).bytes;
      const header = `82 ${form}`;
      assert.equal(toHex(out.subarray(0, header.split(" ").length)), header);
      assert.equal(out.length, header.split(" ").length + n);

      const c = client();
      c.sendBinary(filled(n));
      const [f] = parseFrames(drain(c).bytes);
      const first = parseInt(form.slice(0, 2), 16) | 0x80;
      assert.equal(
        toHex(f.header),
        `82 ${first.toString(16)}${form.slice(2)} 37 fa 21 3d`,
      );
      assert.deepEqual(f.payload, filled(n));
    });

    it(`decodes ${n} bytes in the minimal form, both roles`, () => {
      const data = filled(n);
      const opts = { maxPoints: 24 };
      decodesTo(
        "client",
        frame({ opcode: OP.BINARY, payload: data }),
        [{ type: "binary", data }],
        "",
        opts,
      );
      decodesTo(
        "server",
        frame({ opcode: OP.BINARY, payload: data, mask: KEY }),
        [{ type: "binary", data }],
        "",
        opts,
      );
    });
  }

  it("headerSize and writeHeader agree on every boundary", () => {
    for (const n of [0, 125, 126, 65535, 65536, 2 ** 32, 2 ** 40 + 5]) {
      for (const masked of [false, true]) {
        const dst = new Uint8Array(20);
        const end = writeHeader(
          dst,
          3,
          FIN | OP.BINARY,
          n,
          masked ? KEY : null,
        );
        assert.equal(
          end - 3,
          headerSize(n, masked),
          `length ${n}, masked ${masked}`,
        );
      }
    }
    const dst = new Uint8Array(10);
    writeHeader(dst, 0, FIN | OP.BINARY, 2 ** 40 + 5, null);
    assert.equal(toHex(dst), "82 7f 00 00 01 00 00 00 00 05");
  });
});

describe("RFC 6455 §5.1–§5.3 client/server × sends/receives matrix", () => {
  const kinds = ["text", "binary", "ping", "pong", "fragmented"] as const;

  for (const sender of ["client", "server"] as const) {
    for (const kind of kinds) {
      it(`${sender} sends ${kind}: ${sender === "client" ? "masked" : "unmasked"}, and the other end reads it`, () => {
        const keys = [
          hex("00 00 00 00"),
          hex("ff ff ff ff"),
          hex("de ad be ef"),
        ];
        let k = 0;
        const from = sender === "client"
          ? new Protocol({
            role: "client",
            maskKey: () => keys[k++ % keys.length].slice(),
          })
          : new Protocol({ role: "server" });
        const payload = utf8("é€😀 bytes");
        let expected: PlainEvent[];
        switch (kind) {
          case "text":
            from.sendText("é€😀 bytes");
            expected = [{ type: "text", data: "é€😀 bytes" }];
            break;
          case "binary":
            from.sendBinary(payload);
            expected = [{ type: "binary", data: payload }];
            break;
          case "ping":
            from.sendPing(payload);
            expected = [{ type: "ping", data: payload }];
            break;
          case "pong":
            from.sendPong(payload);
            expected = [{ type: "pong", data: payload }];
            break;
          case "fragmented":
            from.sendFrame(OP.TEXT, payload.subarray(0, 3), false);
            from.sendFrame(OP.CONT, payload.subarray(3, 7), false);
            from.sendFrame(OP.CONT, payload.subarray(7), true);
            expected = [{ type: "text", data: "é€😀 bytes" }];
            break;
        }
        const wire = drain(from);
        assert.equal(wire.ended, false);
        const frames = parseFrames(wire.bytes);
        for (const [i, f] of frames.entries()) {
          assert.equal(f.masked, sender === "client", `frame ${i} mask bit`);
          if (sender === "client") {
            assert.deepEqual(f.key, keys[i % keys.length]);
          }
          assert.equal(f.rsv, 0);
        }
        for (const s of splittings(wire.bytes.length, { maxPoints: 40 })) {
          const receiver = sender === "client" ? server() : client();
          const result = feed(receiver, wire.bytes, s);
          assert.deepEqual(
            plain(result.events),
            expected,
            describeSplitting(s),
          );
          if (kind === "ping") {
            // The receiver answers with a pong of the same payload, masked iff it is the client.
            const [pong] = parseFrames(result.sent);
            assert.equal(pong.opcode, OP.PONG);
            assert.equal(pong.masked, sender === "server");
            assert.deepEqual(pong.payload, payload);
          } else {
            assert.equal(result.sent.length, 0, describeSplitting(s));
          }
        }
      });
    }

    it(`${sender} receiving its own kind of frames (${sender === "client" ? "masked" : "unmasked"}) fails with 1002`, () => {
      const bytes = frame({
        opcode: OP.TEXT,
        payload: "x",
        mask: sender === "client" ? KEY : null,
      });
      const result = feed(sender === "client" ? client() : server(), bytes);
      assert.deepEqual(plain(result.events), [{
        type: "error",
        errorType: sender === "client" ? "WSD_ERR_MASK_UNEXPECTED" : "WSD_ERR_MASK_EXPECTED",
        code: 1002,
      }]);
    });
  }

  it("a client draws a new masking key for every frame", () => {
    let n = 0;
    const c = new Protocol({
      role: "client",
      maskKey: () => new Uint8Array([n, n + 1, n + 2, n++ + 3]),
    });
    c.sendText("a");
    c.sendBinary(utf8("b"));
    c.sendPing(utf8("c"));
    c.sendPong(utf8("d"));
    c.sendFrame(OP.TEXT, utf8("e"), true);
    c.sendClose(1000, "");
    const frames = parseFrames(drain(c).bytes);
    assert.deepEqual(frames.map((f) => toHex(f.key!)), [
      "00 01 02 03",
      "01 02 03 04",
      "02 03 04 05",
      "03 04 05 06",
      "04 05 06 07",
      "05 06 07 08",
    ]);
    assert.deepEqual(
      frames.map((f) => f.payload[0]),
      [..."abcde"].map((c) => c.charCodeAt(0)).concat(0x03),
    );
  });

  it("a client without a maskKey option masks with random keys that round-trip", () => {
    const c = new Protocol({ role: "client" });
    for (let i = 0; i < 20; i++) c.sendText(`random keys ${i}`);
    const wire = drain(c).bytes;
    const frames = parseFrames(wire);
    assert.ok(frames.every((f) => f.masked));
    const keys = new Set(frames.map((f) => toHex(f.key!)));
    assert.ok(
      keys.size >= 19,
      `20 frames should have (nearly) 20 keys, got ${keys.size}`,
    );
    const events = plain(feed(server(), wire).events);
    assert.deepEqual(
      events,
      frames.map((_, i) => ({ type: "text", data: `random keys ${i}` })),
    );
  });
});

describe("RFC 6455 §5.6 text encoding on send", () => {
  it("sendText of every length 0..300 and around the direct-encoding limit gives the right frame", () => {
    const rng = new Rng(42);
    const alphabet = ["a", "é", "€", "😀", "\u0000", "\uFEFF"];
    const lengths = [
      ...Array(301).keys(),
      16383,
      16384,
      16385,
      21845,
      21846,
      40000,
    ];
    for (const role of ["server", "client"] as const) {
      for (const n of lengths) {
        let text = "";
        while (text.length < n) {
          const ch = rng.pick(alphabet);
          text += text.length + ch.length > n ? "a" : ch;
        }
        const p = role === "server" ? server() : client();
        p.sendText(text);
        const frames = parseFrames(drain(p).bytes);
        assert.equal(frames.length, 1, `length ${n}`);
        const [f] = frames;
        assert.equal(f.opcode, OP.TEXT);
        assert.equal(f.fin, true);
        assert.equal(f.masked, role === "client");
        const bytes = utf8(text);
        assert.deepEqual(f.payload, bytes, `seed 42, ${role}, length ${n}`);
        // The minimal length form.
        const expectedHeader = headerSize(bytes.length, role === "client");
        assert.equal(
          f.header.length,
          expectedHeader,
          `${role}, ${n} chars, ${bytes.length} bytes`,
        );
      }
    }
  });

  it("a lone surrogate is sent as U+FFFD", () => {
    const s = server();
    s.sendText("a\uD800b");
    assert.equal(toHex(drain(s).bytes), "81 05 61 ef bf bd 62");
  });

  it("many small sends are written back to back, in order, across outgoing blocks", () => {
    const s = server();
    const expected: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const text = `message ${i} ` + "x".repeat(i % 50);
      expected.push(text);
      if (i % 3 === 0) s.sendText(text);
      else s.sendBinary(utf8(text));
    }
    const wire = drain(s).bytes;
    const frames = parseFrames(wire);
    assert.deepEqual(
      frames.map((f) => new TextDecoder().decode(f.payload)),
      expected,
    );
  });
});

describe("OutgoingBuffer: views handed out stay valid", () => {
  it("bytes taken earlier are never overwritten by later frames", () => {
    const out = new OutgoingBuffer();
    const taken: Uint8Array[] = [];
    const copies: Uint8Array[] = [];
    for (let i = 0; i < 2000; i++) {
      out.writeFrame(FIN | OP.BINARY, filled(i % 200), null);
      if (i % 7 === 0) {
        for (const piece of out.take()) {
          taken.push(piece);
          copies.push(piece.slice());
        }
      }
    }
    for (const piece of out.take()) {
      taken.push(piece);
      copies.push(piece.slice());
    }
    for (let i = 0; i < taken.length; i++) {
      assert.deepEqual(taken[i], copies[i], `piece ${i}`);
    }
    const frames = parseFrames(concat(...taken));
    assert.equal(frames.length, 2000);
    for (let i = 0; i < 2000; i++) {
      assert.deepEqual(frames[i].payload, filled(i % 200));
    }
  });

  it("buffers of many connections share blocks, yet each hands out only its own frames, in order", () => {
    const outs = [new OutgoingBuffer(), new OutgoingBuffer(), new OutgoingBuffer()];
    const written: Uint8Array[][] = [[], [], []];
    const sent: number[][] = [[], [], []];
    const rng = new Rng(42);
    for (let i = 0; i < 3000; i++) {
      const who = rng.int(3);
      const size = rng.chance(0.02) ? rng.range(16_000, 70_000) : rng.int(300);
      outs[who].writeFrame(FIN | OP.BINARY, filled(size), rng.chance(0.5) ? KEY : null);
      sent[who].push(size);
      if (rng.chance(0.1)) written[who].push(...outs[who].take().map((piece) => piece.slice()));
    }
    for (let who = 0; who < 3; who++) {
      written[who].push(...outs[who].take());
      const frames = parseFrames(concat(...written[who]));
      assert.deepEqual(frames.map((f) => f.payload.length), sent[who]);
      for (const f of frames) assert.deepEqual(f.payload, filled(f.payload.length));
    }
  });

  it("size counts what is waiting, take() empties it, writeRaw appends as is", () => {
    const out = new OutgoingBuffer();
    assert.equal(out.size, 0);
    assert.deepEqual(out.take(), []);
    out.writeRaw(utf8("HTTP/1.1 101\r\n\r\n"));
    out.writeFrame(FIN | OP.TEXT, utf8("Hi"), KEY);
    assert.equal(out.size, 16 + 8);
    const all = concat(...out.take());
    assert.equal(out.size, 0);
    assert.equal(
      new TextDecoder().decode(all.subarray(0, 16)),
      "HTTP/1.1 101\r\n\r\n",
    );
    assert.equal(toHex(all.subarray(16)), "81 82 37 fa 21 3d 7f 93");
  });

  it("a large frame gets its own allocation and a sendText after it stays in order", () => {
    const s = server();
    s.sendText("before");
    s.sendBinary(filled(100000));
    s.sendText("after");
    const frames = parseFrames(drain(s).bytes);
    assert.deepEqual(frames.map((f) => f.payload.length), [6, 100000, 5]);
    assert.deepEqual(frames[1].payload, filled(100000));
  });
});

describe("sendText encodes long text directly, ASCII first", () => {
  for (
    const [name, text] of [
      ["ASCII", "a".repeat(5000)],
      ["ASCII then one non-ASCII character at the end", "a".repeat(5000) + "é"],
      ["non-ASCII", "héllo wörld ✓ 🎉 ".repeat(400)],
      ["lone surrogates become U+FFFD", "x".repeat(3000) + "\ud800" + "y".repeat(3000)],
    ] as const
  ) {
    it(`${name}: the frame carries exactly the UTF-8 encoding`, () => {
      for (const role of ["server", "client"] as const) {
        const protocol = new Protocol({ role, maskKey: () => hex("01 02 03 04") });
        protocol.sendText(text);
        const frames = parseFrames(drain(protocol).bytes);
        assert.equal(frames.length, 1);
        assert.deepEqual(frames[0].payload, new TextEncoder().encode(text));
      }
    });
  }
});

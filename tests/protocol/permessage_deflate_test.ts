// permessage-deflate inside the protocol core (RFC 7692 §6, §7.2): RSV1 rules,
// the RFC's own example frames byte for byte, maxLength on the inflated size,
// and what compressed messages look like on the wire. What involves the codec
// runs over pako and over the runtime's zlib (src/runtime/zlib.ts).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { MessageCompression } from "../../src/protocol/compression.ts";
import { pakoZlib } from "../../src/codec/engine.ts";
import type { ZlibProvider } from "../../src/codec/engine.ts";
import { nativeZlib } from "../../src/runtime/zlib.ts";
import { deflateConfig } from "../../src/protocol/extensions.ts";
import type { DeflateConfig, DeflateParams } from "../../src/protocol/extensions.ts";
import { Protocol } from "../../src/protocol/protocol.ts";
import type { Role } from "../../src/protocol/protocol.ts";
import {
  concat,
  drain,
  feed,
  frame,
  hex,
  NO_TAKEOVER,
  OP,
  parseFrames,
  plain,
  splittings,
  TAKEOVER,
  toHex,
  utf8,
} from "./_helpers.ts";

const KEY = hex("37 fa 21 3d");

type MakeOptions = { params?: DeflateParams; config?: Partial<DeflateConfig>; maxLength?: number };
const PROVIDERS: ZlibProvider[] = nativeZlib === null ? [pakoZlib] : [pakoZlib, nativeZlib];

function make(role: Role, options: MakeOptions = {}): Protocol {
  return makeWith(pakoZlib, role, options);
}

function makeWith(zlib: ZlibProvider, role: Role, options: MakeOptions = {}): Protocol {
  const config = deflateConfig({ threshold: 0, ...options.config }, "test")!;
  return new Protocol({
    role,
    maxLength: options.maxLength,
    maskKey: () => KEY.slice(),
    compression: new MessageCompression(role, options.params ?? TAKEOVER, config, zlib),
  });
}

/** zlib's raw deflate of `data`, sync-flushed, with the 00 00 ff ff tail removed (RFC 7692 §7.2.1). */
function zlibDeflate(data: Uint8Array, options: zlib.ZlibOptions = {}): Uint8Array {
  const out = new Uint8Array(zlib.deflateRawSync(data, { ...options, finishFlush: zlib.constants.Z_SYNC_FLUSH }));
  assert.equal(toHex(out.subarray(-4)), "00 00 ff ff");
  return out.subarray(0, -4);
}

/** zlib's raw inflate of a compressed message's payload (the tail appended again). */
function zlibInflate(payload: Uint8Array): Uint8Array {
  return new Uint8Array(
    zlib.inflateRawSync(concat(payload, hex("00 00 ff ff")), { finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  );
}

describe("RFC 7692 §7.2.3: the example frames, received", () => {
  const cases: Array<[string, string]> = [
    ["§7.2.3.1 a message in one compressed frame", "c1 07 f2 48 cd c9 c9 07 00"],
    ["§7.2.3.1 the same message in two fragments", "41 03 f2 48 cd 80 04 c9 c9 07 00"],
    ["§7.2.3.3 a DEFLATE block with no compression", "c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00"],
    ["§7.2.3.4 a DEFLATE block with BFINAL set", "c1 08 f3 48 cd c9 c9 07 00 00"],
    ["§7.2.3.5 two DEFLATE blocks in one message", "c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00"],
  ];
  for (const [name, bytes] of cases) {
    it(`${name}: "Hello", however the bytes are cut`, () => {
      for (const splitting of splittings(hex(bytes).length)) {
        const { events } = feed(make("client"), hex(bytes), splitting);
        assert.deepEqual(plain(events), [{ type: "text", data: "Hello" }]);
      }
    });
  }

  it('§7.2.3.2 the second "Hello" refers back into the first (context takeover)', () => {
    const client = make("client");
    const { events } = feed(client, hex("c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00"));
    assert.deepEqual(plain(events), [{ type: "text", data: "Hello" }, { type: "text", data: "Hello" }]);
  });

  it("§7.2.3.2 without context takeover the back-reference is invalid data: 1007", () => {
    const client = make("client", { params: NO_TAKEOVER });
    const { events, sent, ended } = feed(client, hex("c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00"));
    assert.deepEqual(plain(events), [
      { type: "text", data: "Hello" },
      { type: "error", errorType: "WSD_ERR_INVALID_COMPRESSED_DATA", code: 1007 },
    ]);
    const [close] = parseFrames(sent);
    assert.equal(close.opcode, OP.CLOSE);
    assert.equal((close.payload[0] << 8) | close.payload[1], 1007);
    assert.ok(ended);
  });
});

describe("RFC 7692 §7.2.3: the example frames, sent", () => {
  it('a server sends "Hello" as c1 07 f2 48 cd c9 c9 07 00, then c1 05 f2 00 11 00 00', () => {
    const server = make("server");
    server.sendText("Hello");
    assert.equal(toHex(drain(server).bytes), "c1 07 f2 48 cd c9 c9 07 00");
    server.sendText("Hello");
    assert.equal(toHex(drain(server).bytes), "c1 05 f2 00 11 00 00");
  });

  it("without context takeover every message starts afresh", () => {
    const server = make("server", { params: NO_TAKEOVER });
    server.sendText("Hello");
    server.sendText("Hello");
    assert.equal(toHex(drain(server).bytes), "c1 07 f2 48 cd c9 c9 07 00 c1 07 f2 48 cd c9 c9 07 00");
  });

  it("a client masks the compressed payload, RSV1 set on the one frame", () => {
    const client = make("client");
    client.sendBinary(utf8("Hello"));
    const [f] = parseFrames(drain(client).bytes);
    assert.equal(toHex(f.header), "c2 87 37 fa 21 3d");
    assert.equal(toHex(f.payload), "f2 48 cd c9 c9 07 00");
  });

  it("messages under the threshold go uncompressed, RSV1 clear; the rest are compressed", () => {
    const server = make("server", { config: { threshold: 6 } });
    server.sendText("Hello");
    server.sendBinary(utf8("Hello"));
    server.sendText("Hello!");
    const frames = parseFrames(drain(server).bytes);
    assert.deepEqual(frames.map((f) => [f.rsv, f.opcode]), [[0, OP.TEXT], [0, OP.BINARY], [0x40, OP.TEXT]]);
    assert.equal(new TextDecoder().decode(zlibInflate(frames[2].payload)), "Hello!");
  });

  it("control frames and fragmented sends are never compressed", () => {
    const server = make("server");
    server.sendPing(utf8("ping"));
    server.sendFrame(OP.TEXT, utf8("Hel"), false);
    server.sendFrame(OP.CONT, utf8("lo"), true);
    server.sendClose(1000, "bye");
    assert.deepEqual(parseFrames(drain(server).bytes).map((f) => f.rsv), [0, 0, 0, 0]);
  });
});

describe("RSV1 misuse (RFC 7692 §6.1, RFC 6455 §5.2): 1002", () => {
  const violations: Array<[string, Uint8Array]> = [
    ["on a ping", frame({ opcode: OP.PING, rsv: 0x40, payload: "x", mask: KEY })],
    ["on a close", frame({ opcode: OP.CLOSE, rsv: 0x40, payload: hex("03 e8"), mask: KEY })],
    ["on a pong", frame({ opcode: OP.PONG, rsv: 0x40, payload: "x", mask: KEY })],
    [
      "on the continuation of an uncompressed message",
      concat(
        frame({ opcode: OP.TEXT, fin: false, payload: "Hel", mask: KEY }),
        frame({ opcode: OP.CONT, rsv: 0x40, payload: "lo", mask: KEY }),
      ),
    ],
    [
      "on a continuation frame",
      concat(
        frame({ opcode: OP.TEXT, fin: false, rsv: 0x40, payload: hex("f2 48"), mask: KEY }),
        frame({ opcode: OP.CONT, rsv: 0x40, payload: hex("cd c9 c9 07 00"), mask: KEY }),
      ),
    ],
    ["RSV2", frame({ opcode: OP.TEXT, rsv: 0x20, payload: "x", mask: KEY })],
    ["RSV3", frame({ opcode: OP.BINARY, rsv: 0x10, payload: "x", mask: KEY })],
  ];
  for (const [name, bytes] of violations) {
    it(name, () => {
      const { events, sent } = feed(make("server"), bytes);
      assert.deepEqual(plain(events), [{ type: "error", errorType: "WSD_ERR_RESERVED_BITS", code: 1002 }]);
      const close = parseFrames(sent).at(-1)!;
      assert.equal((close.payload[0] << 8) | close.payload[1], 1002);
    });
  }

  it("RSV1 without the extension negotiated", () => {
    const server = new Protocol({ role: "server" });
    const { events } = feed(
      server,
      frame({ opcode: OP.TEXT, rsv: 0x40, payload: hex("f2 48 cd c9 c9 07 00"), mask: KEY }),
    );
    assert.deepEqual(plain(events), [{ type: "error", errorType: "WSD_ERR_RESERVED_BITS", code: 1002 }]);
  });
});

/** A compressed binary frame announcing 1000 bytes, with none of them sent. */
function frameHeaderOnly(): Uint8Array {
  return hex("c2 7e 03 e8");
}

for (const Z of PROVIDERS) {
  describe(`over ${Z.name}`, () => {
    const make = (role: Role, options: MakeOptions = {}): Protocol => makeWith(Z, role, options);
    describe("receiving compressed messages", () => {
      it("inflates text and binary, fragmented or not, with controls in between, in any chunking", () => {
        const json = utf8(
          JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })) }),
        );
        const text = zlibDeflate(json);
        const binary = zlibDeflate(new Uint8Array(5000).fill(7));
        const input = concat(
          frame({ opcode: OP.TEXT, rsv: 0x40, payload: text, mask: KEY }),
          frame({ opcode: OP.BINARY, fin: false, rsv: 0x40, payload: binary.subarray(0, 3), mask: KEY }),
          frame({ opcode: OP.PING, payload: "p", mask: KEY }),
          frame({ opcode: OP.CONT, fin: false, payload: binary.subarray(3, 5), mask: KEY }),
          frame({ opcode: OP.CONT, payload: binary.subarray(5), mask: KEY }),
          frame({ opcode: OP.TEXT, payload: "plain", mask: KEY }),
        );
        for (const splitting of splittings(input.length).slice(0, 6)) {
          // Context takeover is irrelevant here: zlib compressed each message on its own.
          const { events } = feed(make("server"), input, splitting);
          assert.deepEqual(plain(events), [
            { type: "text", data: new TextDecoder().decode(json) },
            { type: "ping", data: utf8("p") },
            { type: "binary", data: new Uint8Array(5000).fill(7) },
            { type: "text", data: "plain" },
          ]);
        }
      });

      it("an empty compressed message (a single 00 byte, §7.2.3.6)", () => {
        const { events } = feed(make("client"), hex("c1 01 00 c2 01 00"));
        assert.deepEqual(plain(events), [{ type: "text", data: "" }, { type: "binary", data: new Uint8Array(0) }]);
      });

      it("invalid UTF-8 after inflating fails with 1007", () => {
        const payload = zlibDeflate(hex("48 65 ff 6c"));
        const { events } = feed(make("client"), frame({ opcode: OP.TEXT, rsv: 0x40, payload }));
        assert.deepEqual(plain(events), [{ type: "error", errorType: "WSD_ERR_INVALID_UTF8", code: 1007 }]);
      });

      it("data that does not inflate fails with 1007", () => {
        // A message cut inside a block: only pako tells (node:zlib does not show where zlib stopped).
        const cut = Z === pakoZlib ? [hex("f2 48 cd")] : [];
        for (const payload of [hex("ff ff ff"), ...cut, hex("07 00 00 00 00 00")]) {
          const { events, ended } = feed(make("client"), frame({ opcode: OP.BINARY, rsv: 0x40, payload }));
          assert.deepEqual(plain(events), [{
            type: "error",
            errorType: "WSD_ERR_INVALID_COMPRESSED_DATA",
            code: 1007,
          }]);
          assert.ok(ended);
        }
      });
    });

    describe("maxLength bounds the inflated size (compression bombs)", () => {
      it("a message that inflates to exactly maxLength passes; one byte more is 1009", () => {
        const ok = feed(
          make("client", { maxLength: 1000 }),
          frame({ opcode: OP.BINARY, rsv: 0x40, payload: zlibDeflate(new Uint8Array(1000)) }),
        );
        assert.equal(plain(ok.events)[0].type, "binary");
        const over = feed(
          make("client", { maxLength: 1000 }),
          frame({ opcode: OP.BINARY, rsv: 0x40, payload: zlibDeflate(new Uint8Array(1001)) }),
        );
        assert.deepEqual(plain(over.events), [{ type: "error", errorType: "WSD_ERR_MESSAGE_TOO_BIG", code: 1009 }]);
        const close = parseFrames(over.sent).at(-1)!;
        assert.equal((close.payload[0] << 8) | close.payload[1], 1009);
      });

      it("a ~100 KB frame that would inflate to 100 MB fails fast with 1009", () => {
        const bomb = zlibDeflate(new Uint8Array(100 * 1024 * 1024), { level: 9 });
        assert.ok(bomb.length < 200_000, `${bomb.length}`);
        const start = performance.now();
        const { events } = feed(
          make("server", { maxLength: 1 << 20 }),
          frame({ opcode: OP.TEXT, rsv: 0x40, payload: bomb, mask: KEY }),
        );
        assert.deepEqual(plain(events), [{ type: "error", errorType: "WSD_ERR_MESSAGE_TOO_BIG", code: 1009 }]);
        // Inflating all 100 MB takes far longer than stopping after 1 MiB.
        assert.ok(performance.now() - start < 2000, `${performance.now() - start} ms`);
      });

      it("a bomb split over fragments, with a ping between them, fails the same way", () => {
        const bomb = zlibDeflate(new Uint8Array(8 * 1024 * 1024));
        const third = Math.floor(bomb.length / 3);
        const { events } = feed(
          make("server", { maxLength: 1 << 20 }),
          concat(
            frame({ opcode: OP.BINARY, fin: false, rsv: 0x40, payload: bomb.subarray(0, third), mask: KEY }),
            frame({ opcode: OP.PING, payload: "p", mask: KEY }),
            frame({ opcode: OP.CONT, fin: false, payload: bomb.subarray(third, 2 * third), mask: KEY }),
            frame({ opcode: OP.CONT, payload: bomb.subarray(2 * third), mask: KEY }),
          ),
        );
        assert.deepEqual(plain(events), [
          { type: "ping", data: utf8("p") },
          { type: "error", errorType: "WSD_ERR_MESSAGE_TOO_BIG", code: 1009 },
        ]);
      });

      it("a message within maxLength whose compressed form is a little longer still passes", () => {
        // Random bytes do not compress: DEFLATE stores them, with a few bytes more.
        let seed = 1;
        const random = Uint8Array.from({ length: 1000 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
        const sender = make("client");
        sender.sendBinary(random);
        const wire = drain(sender).bytes;
        assert.ok(parseFrames(wire)[0].payload.length > 1000);
        const { events } = feed(make("server", { maxLength: 1000 }), wire);
        assert.deepEqual(plain(events), [{ type: "binary", data: random }]);
      });

      it("the compressed size counts against maxLength too, before the payload is stored", () => {
        const { events } = feed(
          make("client", { maxLength: 10 }),
          frameHeaderOnly(),
        );
        assert.deepEqual(plain(events), [{ type: "error", errorType: "WSD_ERR_MESSAGE_TOO_BIG", code: 1009 }]);
      });
    });

    describe("windows of 8 bits", () => {
      it("our compressor keeps to 256-byte distances when 8 bits were agreed", () => {
        const params = { ...TAKEOVER, serverMaxWindowBits: 8, clientMaxWindowBits: 8 };
        const server = make("server", { params });
        const client = make("client", { params });
        const text = "abcdefghij".repeat(100) + JSON.stringify({ x: "y".repeat(300) }) + "abcdefghij".repeat(100);
        server.sendText(text);
        server.sendText(text);
        const atClient = feed(client, drain(server).bytes).events;
        assert.deepEqual(plain(atClient), [{ type: "text", data: text }, { type: "text", data: text }]);
      });
    });

    describe("both ends of the library agree", () => {
      it("a long exchange with context takeover both ways, any message size", () => {
        for (const params of [TAKEOVER, NO_TAKEOVER, { ...TAKEOVER, serverMaxWindowBits: 9, clientMaxWindowBits: 8 }]) {
          const server = make("server", { params });
          const client = make("client", { params });
          const sentTexts: string[] = [];
          for (let i = 0; i < 60; i++) {
            const text = JSON.stringify({ i, user: `user-${i % 7}`, body: "lorem ipsum ".repeat(i * 37 % 400) });
            sentTexts.push(text);
            client.sendText(text);
            server.sendText(text);
          }
          const toServer = drain(client).bytes;
          const toClient = drain(server).bytes;
          assert.ok(toServer.length < sentTexts.join("").length / 3, "compressed");
          const atServer = feed(server, toServer).events;
          const atClient = feed(client, toClient).events;
          const expected = sentTexts.map((data) => ({ type: "text", data }));
          assert.deepEqual(plain(atServer), expected);
          assert.deepEqual(plain(atClient), expected);
        }
      });

      it("what we compress, zlib inflates (one zlib stream across messages: context takeover)", async () => {
        const server = make("server");
        const inflate = zlib.createInflateRaw();
        const messages = Array.from({ length: 30 }, (_, i) => utf8(`{"seq":${i},"text":"${"abc".repeat(i * 50)}"}`));
        for (const message of messages) {
          server.sendBinary(message);
          const [f] = parseFrames(drain(server).bytes);
          inflate.write(concat(f.payload, hex("00 00 ff ff")));
          const out = await new Promise<Uint8Array>((resolve) => {
            const parts: Uint8Array[] = [];
            const onData = (d: Uint8Array) => parts.push(d);
            inflate.on("data", onData);
            inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
              inflate.off("data", onData);
              resolve(concat(...parts));
            });
          });
          assert.deepEqual(out, message);
        }
        inflate.close();
      });
    });

    describe("inflated binary messages own their memory", () => {
      it("each small message has an ArrayBuffer of its own (no bytes of other messages behind it)", () => {
        const client = make("client");
        const input = concat(
          frame({ opcode: OP.BINARY, rsv: 0x40, payload: zlibDeflate(utf8("first secret")) }),
          frame({ opcode: OP.BINARY, rsv: 0x40, payload: zlibDeflate(utf8("second")) }),
        );
        const events = feed(client, input).events;
        for (const event of events) {
          assert.equal(event.type, "binary");
          const data = (event as { data: Uint8Array }).data;
          assert.equal(data.byteOffset, 0);
          assert.equal(data.buffer.byteLength, data.byteLength);
        }
      });
    });
  });
}

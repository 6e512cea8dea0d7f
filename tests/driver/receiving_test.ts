/**
 * Receiving through the driver (src/driver/driver.ts) over in-memory streams:
 * messages and their events (RFC 6455 §5.4, §6.2), and each protocol
 * violation a peer can commit (§5.2, §5.5, §7.4, §8.1) failing the
 * connection with its close code and error type.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { WebSocketDriver } from "../../src/driver/driver.ts";
import { ProtocolError } from "../../src/protocol/errors.ts";
import {
  bytes,
  closePayload,
  concatAll,
  counted,
  encodeFrame,
  ms,
  OP,
  openClient,
  openServer,
  parseClose,
  TEST_KEY,
  withTimeout,
} from "./_pair.ts";

// ───────────────────────────── protocol violations ─────────────────────────────

interface Violation {
  name: string;
  role: "server" | "client";
  /** Frames that the driver must accept before the violation. */
  bytes: (mask: Uint8Array | null) => Uint8Array;
  code: number;
  type: string;
  options?: ConstructorParameters<typeof WebSocketDriver>[1];
}

const m = (mask: Uint8Array | null) => ({ mask });
const VIOLATIONS: Violation[] = [
  {
    name: "RSV1 without an extension",
    role: "server",
    bytes: (k) => encodeFrame(OP.TEXT, "x", { ...m(k), rsv: 0x40 }),
    code: 1002,
    type: "WSD_ERR_RESERVED_BITS",
  },
  {
    name: "RSV3 on a client's input",
    role: "client",
    bytes: (k) => encodeFrame(OP.BINARY, "x", { ...m(k), rsv: 0x10 }),
    code: 1002,
    type: "WSD_ERR_RESERVED_BITS",
  },
  {
    name: "reserved data opcode 0x3",
    role: "server",
    bytes: (k) => encodeFrame(0x3, "x", m(k)),
    code: 1002,
    type: "WSD_ERR_INVALID_OPCODE",
  },
  {
    name: "reserved control opcode 0xB",
    role: "client",
    bytes: (k) => encodeFrame(0xb, "", m(k)),
    code: 1002,
    type: "WSD_ERR_INVALID_OPCODE",
  },
  {
    name: "an unmasked frame from a client",
    role: "server",
    bytes: () => encodeFrame(OP.TEXT, "x", { mask: null }),
    code: 1002,
    type: "WSD_ERR_MASK_EXPECTED",
  },
  {
    name: "a masked frame from a server",
    role: "client",
    bytes: () => encodeFrame(OP.TEXT, "x", { mask: TEST_KEY }),
    code: 1002,
    type: "WSD_ERR_MASK_UNEXPECTED",
  },
  {
    name: "a 16-bit length for 5 bytes",
    role: "server",
    bytes: (k) => encodeFrame(OP.TEXT, "hello", { ...m(k), lengthForm: 16 }),
    code: 1002,
    type: "WSD_ERR_NON_MINIMAL_LENGTH",
  },
  {
    name: "a 64-bit length for 200 bytes",
    role: "client",
    bytes: (k) => encodeFrame(OP.BINARY, new Uint8Array(200), { ...m(k), lengthForm: 64 }),
    code: 1002,
    type: "WSD_ERR_NON_MINIMAL_LENGTH",
  },
  {
    name: "a 64-bit length with its top bit set",
    role: "server",
    bytes: (k) =>
      concatAll([
        bytes([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1]),
        k ?? new Uint8Array(0),
      ]),
    code: 1002,
    type: "WSD_ERR_LENGTH_TOP_BIT",
  },
  {
    name: "a ping of 126 bytes",
    role: "server",
    bytes: (k) => encodeFrame(OP.PING, new Uint8Array(126), m(k)),
    code: 1002,
    type: "WSD_ERR_CONTROL_TOO_LONG",
  },
  {
    name: "a fragmented ping",
    role: "client",
    bytes: (k) => encodeFrame(OP.PING, "x", { ...m(k), fin: false }),
    code: 1002,
    type: "WSD_ERR_CONTROL_FRAGMENTED",
  },
  {
    name: "a continuation with no message",
    role: "server",
    bytes: (k) => encodeFrame(OP.CONT, "x", m(k)),
    code: 1002,
    type: "WSD_ERR_UNEXPECTED_CONTINUATION",
  },
  {
    name: "a new message inside a fragmented one",
    role: "server",
    bytes: (k) =>
      concatAll([
        encodeFrame(OP.TEXT, "a", { ...m(k), fin: false }),
        encodeFrame(OP.TEXT, "b", m(k)),
      ]),
    code: 1002,
    type: "WSD_ERR_EXPECTED_CONTINUATION",
  },
  {
    name: "a close frame with a 1-byte payload",
    role: "server",
    bytes: (k) => encodeFrame(OP.CLOSE, bytes([0x03]), m(k)),
    code: 1002,
    type: "WSD_ERR_CLOSE_PAYLOAD_LENGTH",
  },
  {
    name: "close code 1005 on the wire",
    role: "server",
    bytes: (k) => encodeFrame(OP.CLOSE, closePayload(1005), m(k)),
    code: 1002,
    type: "WSD_ERR_INVALID_CLOSE_CODE",
  },
  {
    name: "close code 999",
    role: "client",
    bytes: (k) => encodeFrame(OP.CLOSE, closePayload(999), m(k)),
    code: 1002,
    type: "WSD_ERR_INVALID_CLOSE_CODE",
  },
  {
    name: "close code 1006 on the wire",
    role: "server",
    bytes: (k) => encodeFrame(OP.CLOSE, closePayload(1006), m(k)),
    code: 1002,
    type: "WSD_ERR_INVALID_CLOSE_CODE",
  },
  {
    name: "invalid UTF-8 in a text message (overlong)",
    role: "server",
    bytes: (k) => encodeFrame(OP.TEXT, bytes([0xc0, 0x80]), m(k)),
    code: 1007,
    type: "WSD_ERR_INVALID_UTF8",
  },
  {
    name: "invalid UTF-8 in the second fragment (a surrogate)",
    role: "client",
    bytes: (k) =>
      concatAll([
        encodeFrame(OP.TEXT, "ok", { ...m(k), fin: false }),
        encodeFrame(OP.CONT, bytes([0xed, 0xa0, 0x80]), m(k)),
      ]),
    code: 1007,
    type: "WSD_ERR_INVALID_UTF8",
  },
  {
    name: "a truncated UTF-8 sequence at the end of a message",
    role: "server",
    bytes: (k) => encodeFrame(OP.TEXT, bytes([0x61, 0xe2, 0x82]), m(k)),
    code: 1007,
    type: "WSD_ERR_INVALID_UTF8",
  },
  {
    name: "invalid UTF-8 in a close reason",
    role: "server",
    bytes: (k) => encodeFrame(OP.CLOSE, concatAll([closePayload(1000), bytes([0xff])]), m(k)),
    code: 1007,
    type: "WSD_ERR_INVALID_UTF8",
  },
  {
    name: "a message over maxLength",
    role: "server",
    options: { maxLength: 10 },
    bytes: (k) => encodeFrame(OP.BINARY, new Uint8Array(11), m(k)),
    code: 1009,
    type: "WSD_ERR_MESSAGE_TOO_BIG",
  },
  {
    name: "a fragmented message over maxLength",
    role: "client",
    options: { maxLength: 10 },
    bytes: (k) =>
      concatAll([
        encodeFrame(OP.TEXT, "123456", { ...m(k), fin: false }),
        encodeFrame(OP.CONT, "123456", m(k)),
      ]),
    code: 1009,
    type: "WSD_ERR_MESSAGE_TOO_BIG",
  },
  {
    name: "a header announcing 1 GiB, over the default maxLength, before any payload",
    role: "server",
    bytes: (k) =>
      concatAll([
        bytes([0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0]),
        k ?? new Uint8Array(0),
      ]),
    code: 1009,
    type: "WSD_ERR_MESSAGE_TOO_BIG",
  },
];

describe("WebSocketDriver: protocol violations from the peer", () => {
  for (const v of VIOLATIONS) {
    it(`${v.role}: ${v.name} → error ${v.type}, then close ${v.code}, with the close frame on the wire`, async () => {
      const peer = v.role === "server" ? await openServer(v.options) : await openClient(v.options);
      const key = peer.masks ? TEST_KEY : null;
      peer.send(encodeFrame(OP.TEXT, "fine", { mask: key }));
      peer.send(
        concatAll([v.bytes(key), encodeFrame(OP.TEXT, "ignored", { mask: key })]),
      );
      const frame = await peer.readFrame();
      assert.equal(frame.opcode, OP.CLOSE);
      assert.equal(frame.masked, v.role === "client");
      const sent = parseClose(frame.payload);
      assert.equal(sent.code, v.code);
      assert.ok(frame.payload.length <= 125);
      await peer.outputDone();
      assert.equal(
        peer.outputEnded,
        true,
        "the driver ends its output after failing",
      );
      peer.endInput();
      const [code, reason] = await withTimeout(peer.rec.closed, "close");
      assert.equal(code, v.code);
      assert.equal(typeof reason, "string");
      assert.deepEqual(peer.rec.names(), ["open", "message", "error", "close"]);
      assert.equal(peer.rec.events[1][1], "fine");
      const error = peer.rec.events[2][1];
      assert.ok(error instanceof ProtocolError, "a ProtocolError");
      assert.equal(error.code, v.code);
      assert.equal(error.type, v.type);
      assert.equal(error.name, "ProtocolError");
      assert.equal(sent.reason, error.message.slice(0, sent.reason.length));
      assert.equal(peer.frames().length, 1, "nothing but the close frame");
    });
  }

  it("a violation split across reads byte by byte is still caught, and closes with its code", async () => {
    const peer = await openServer();
    for (
      const b of encodeFrame(OP.TEXT, bytes([0x61, 0xc3, 0x28]), {
        mask: TEST_KEY,
      })
    ) peer.send(Uint8Array.of(b));
    const frame = await peer.readFrame();
    assert.equal(parseClose(frame.payload).code, 1007);
    peer.endInput();
    assert.equal((await withTimeout(peer.rec.closed, "close"))[0], 1007);
  });

  it("a violation while we wait for the answer to our close still reports error, with our close frame sent once", async () => {
    const peer = await openServer({ closeTimeout: ms(50) });
    peer.driver.closeConnection(4000);
    await peer.readFrame();
    peer.sendFrame(0x4, "bad");
    await peer.outputDone();
    peer.endInput();
    const [code] = await withTimeout(peer.rec.closed, "close");
    assert.equal(code, 1002);
    assert.deepEqual(peer.rec.names(), ["open", "error", "close"]);
    assert.equal(peer.frames().length, 1);
  });

  it("a message of exactly maxLength is accepted", async () => {
    const peer = await openServer({ maxLength: 10 });
    peer.sendFrame(OP.TEXT, "0123456789");
    peer.sendFrame(OP.TEXT, "01234", { fin: false });
    peer.sendFrame(OP.CONT, "56789");
    await withTimeout(peer.rec.nextMessages(2), "messages");
    assert.deepEqual(peer.rec.messages(), ["0123456789", "0123456789"]);
    assert.deepEqual(peer.rec.names(), ["open", "message", "message"]);
  });
});

// ───────────────────────────── receiving ─────────────────────────────

describe("WebSocketDriver: receiving", () => {
  it("text arrives as a string, binary as a Uint8Array, fragments reassembled, pings between fragments", async () => {
    const peer = await openServer();
    peer.sendFrame(OP.TEXT, "héllo");
    peer.sendFrame(OP.BINARY, bytes([0, 1, 255]));
    peer.sendFrame(OP.TEXT, "frag", { fin: false });
    peer.sendFrame(OP.PING, "mid");
    peer.sendFrame(OP.CONT, "men", { fin: false });
    peer.sendFrame(OP.CONT, "ted");
    peer.sendFrame(OP.BINARY, new Uint8Array(0));
    peer.sendFrame(OP.TEXT, "");
    await withTimeout(peer.rec.nextMessages(5), "messages");
    assert.deepEqual(peer.rec.names(), [
      "open",
      "message",
      "message",
      "ping",
      "message",
      "message",
      "message",
    ]);
    const msgs = peer.rec.messages();
    assert.equal(msgs[0], "héllo");
    assert.ok(msgs[1] instanceof Uint8Array);
    assert.deepEqual(msgs[1], bytes([0, 1, 255]));
    assert.equal(msgs[2], "fragmented");
    assert.deepEqual(msgs[3], new Uint8Array(0));
    assert.equal(msgs[4], "");
  });

  it("a masked frame split across reads at every byte is unmasked right (the seed got this wrong)", async () => {
    const payload = new Uint8Array(300);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const wire = concatAll([
      encodeFrame(OP.TEXT, "Hello, wörld €", { mask: TEST_KEY }),
      encodeFrame(OP.BINARY, payload, { mask: Uint8Array.of(1, 2, 3, 4) }),
    ]);
    const { transport, rec } = await counted("server");
    for (let i = 0; i < wire.length; i++) {
      transport.push(wire.subarray(i, i + 1));
    }
    assert.deepEqual(rec.messages(), ["Hello, wörld €", payload]);
  });

  it("a big message arriving in uneven chunks", async () => {
    const payload = new Uint8Array(200_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const wire = encodeFrame(OP.BINARY, payload, { mask: TEST_KEY });
    const { transport, rec } = await counted("server");
    for (let at = 0, n = 1; at < wire.length; at += n, n = (n * 3 + 1) % 7001) {
      transport.push(wire.subarray(at, at + n));
    }
    assert.equal(rec.messages().length, 1);
    assert.deepEqual(rec.messages()[0], payload);
  });

  it("the received bytes are the listener's own: later input does not change them", async () => {
    const { transport, rec } = await counted("client");
    const chunk = encodeFrame(OP.BINARY, bytes([1, 2, 3]));
    transport.push(chunk);
    const msg = rec.messages()[0] as Uint8Array;
    chunk.fill(0);
    transport.push(encodeFrame(OP.BINARY, bytes([4, 5, 6])));
    assert.deepEqual(msg, bytes([1, 2, 3]));
  });
});

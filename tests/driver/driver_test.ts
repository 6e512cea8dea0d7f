/**
 * The per-connection driver (src/driver/driver.ts) over in-memory streams:
 * the API table of DESIGN.md, event timing, the closing handshake (RFC 6455
 * §7), protocol violations as seen by a driver, corking, and the emitter.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { WebSocketDriver } from "../../src/driver/driver.ts";
import { EventEmitter } from "../../src/driver/emitter.ts";
import { ProtocolError } from "../../src/protocol/errors.ts";
import {
  bytes,
  captureUncaught,
  closePayload,
  concat,
  CountingTransport,
  delay,
  encodeFrame,
  memoryPair,
  ms,
  OP,
  parseClose,
  RawPeer,
  record,
  TEST_CLOSE_TIMEOUT,
  TEST_KEY,
  tick,
  withTimeout,
} from "./_pair.ts";
import type { Frame } from "./_pair.ts";

/** How many pong events the driver of `peer` emitted. */
const pongs = (peer: RawPeer): number => peer.rec.names().filter((n) => n === "pong").length;
const text = (frame: Frame): string => new TextDecoder().decode(frame.payload);
const hex = (data: Uint8Array): string => Array.from(data, (b) => b.toString(16).padStart(2, "0")).join(" ");

/** A server driver attached to a raw peer, opened. */
async function openServer(
  options?: ConstructorParameters<typeof WebSocketDriver>[1],
): Promise<RawPeer> {
  const peer = new RawPeer("server", options);
  await withTimeout(peer.rec.opened, "open");
  return peer;
}

/** A client driver attached to a raw peer, opened. */
async function openClient(
  options?: ConstructorParameters<typeof WebSocketDriver>[1],
): Promise<RawPeer> {
  const peer = new RawPeer("client", options);
  await withTimeout(peer.rec.opened, "open");
  return peer;
}

/** A driver over a CountingTransport, opened. */
async function counted(
  role: "server" | "client",
  options?: ConstructorParameters<typeof WebSocketDriver>[1],
): Promise<
  {
    driver: WebSocketDriver;
    transport: CountingTransport;
    rec: ReturnType<typeof record>;
  }
> {
  const driver = new WebSocketDriver(role, {
    closeTimeout: TEST_CLOSE_TIMEOUT,
    ...options,
  });
  const rec = record(driver);
  const transport = new CountingTransport();
  driver.attach(transport);
  await withTimeout(rec.opened, "open");
  return { driver, transport, rec };
}

const FIXED_KEY = (): Uint8Array => Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

// ───────────────────────────── construction ─────────────────────────────

describe("WebSocketDriver: construction and options", () => {
  it("version is hybi-13, and a new driver is connecting with nothing attached", () => {
    const ws = new WebSocketDriver("server");
    assert.equal(ws.version, "hybi-13");
    assert.equal(ws.readyState, "connecting");
    assert.equal(ws.protocol, null);
    assert.equal(ws.socket, null);
    assert.equal(ws.bufferedAmount, 0);
    assert.equal(ws.role, "server");
    assert.equal(new WebSocketDriver("client").role, "client");
  });

  it("rejects an unknown role with a TypeError", () => {
    assert.throws(() => new WebSocketDriver("peer" as "server"), {
      name: "TypeError",
      message: /role "peer"/,
    });
  });

  it("rejects unknown option keys with a TypeError naming the key", () => {
    assert.throws(
      () => new WebSocketDriver("server", { maxLenght: 10 } as never),
      {
        name: "TypeError",
        message: /Unknown option "maxLenght"/,
      },
    );
    assert.throws(
      () => new WebSocketDriver("server", { acceptProtocols: [] } as never),
      TypeError,
    );
  });

  it("rejects options that are not an object, and bad values", () => {
    assert.throws(
      () => new WebSocketDriver("server", null as never),
      TypeError,
    );
    assert.throws(() => new WebSocketDriver("server", 5 as never), TypeError);
    assert.throws(
      () => new WebSocketDriver("server", { maxLength: -1 }),
      RangeError,
    );
    assert.throws(
      () => new WebSocketDriver("server", { maxLength: 1.5 }),
      RangeError,
    );
    assert.throws(
      () => new WebSocketDriver("server", { closeTimeout: NaN }),
      RangeError,
    );
    assert.throws(
      () => new WebSocketDriver("server", { closeTimeout: -1 }),
      RangeError,
    );
    assert.throws(
      () => new WebSocketDriver("client", { maskKey: 5 as never }),
      TypeError,
    );
    // Known keys with valid values are fine.
    new WebSocketDriver("client", {
      maxLength: 0,
      closeTimeout: 0,
      maskKey: FIXED_KEY,
    });
    new WebSocketDriver("server", {});
  });
});

// ───────────────────────────── attach and open ─────────────────────────────

describe("WebSocketDriver: attach and open", () => {
  it("emits open asynchronously, never inside attach()", async () => {
    const peer = new RawPeer("server", undefined, null, false);
    peer.attach();
    assert.deepEqual(peer.rec.names(), []);
    assert.equal(peer.driver.readyState, "connecting");
    await withTimeout(peer.rec.opened, "open");
    assert.equal(peer.driver.readyState, "open");
    assert.deepEqual(peer.rec.names(), ["open"]);
  });

  it("protocol returns the attach() argument, socket the stream pair or transport", async () => {
    const peer = new RawPeer("server", undefined, "chat.v2");
    assert.equal(peer.driver.protocol, "chat.v2");
    const socket = peer.driver.socket as {
      readable: unknown;
      writable: unknown;
    };
    assert.equal(socket.readable, peer.readable);
    assert.equal(socket.writable, peer.writable);
    await peer.rec.opened;
    assert.equal(peer.driver.protocol, "chat.v2");

    const driver = new WebSocketDriver("client");
    const transport = new CountingTransport();
    driver.attach(transport);
    assert.equal(driver.socket, transport);
    assert.equal(driver.protocol, null);
    driver.closeConnection();
  });

  it("a second attach() throws a TypeError", () => {
    const peer = new RawPeer("server");
    assert.throws(() => peer.attach(), {
      name: "TypeError",
      message: /Cannot attach/,
    });
  });

  it("open comes before any message, even when input is already waiting", async () => {
    const peer = new RawPeer("server", undefined, null, false);
    peer.sendFrame(OP.TEXT, "early");
    peer.sendFrame(OP.BINARY, bytes([1, 2, 3]));
    peer.attach();
    await withTimeout(peer.rec.nextMessages(2), "two messages");
    assert.deepEqual(peer.rec.events.map((e) => e[0]), [
      "open",
      "message",
      "message",
    ]);
    assert.equal(peer.rec.events[1][1], "early");
    assert.deepEqual(peer.rec.events[2][1], bytes([1, 2, 3]));
  });

  it("readyState goes connecting → open → closing → closed", async () => {
    const peer = new RawPeer("server");
    const ws = peer.driver;
    const seen = [ws.readyState];
    ws.on("open", () => seen.push(ws.readyState));
    ws.on("close", () => seen.push(ws.readyState));
    await peer.rec.opened;
    ws.closeConnection();
    seen.push(ws.readyState);
    const close = await peer.readFrame();
    assert.equal(close.opcode, OP.CLOSE);
    peer.sendFrame(OP.CLOSE, closePayload(1000));
    await peer.outputDone();
    seen.push(ws.readyState);
    peer.endInput();
    await withTimeout(peer.rec.closed, "close");
    seen.push(ws.readyState);
    assert.deepEqual(seen, [
      "connecting",
      "open",
      "closing",
      "closing",
      "closed",
      "closed",
    ]);
  });
});

// ───────────────────────────── sending ─────────────────────────────

describe("WebSocketDriver: send, sendText, sendBinary", () => {
  it("a server sends a string as one unmasked text frame (RFC 6455 §5.7)", async () => {
    const peer = await openServer();
    peer.driver.send("Hello");
    const frame = await peer.readFrame();
    assert.equal(hex(peer.written), "81 05 48 65 6c 6c 6f");
    assert.equal(text(frame), "Hello");
  });

  it("a client masks every frame with its key (RFC 6455 §5.7 sample bytes)", async () => {
    const peer = await openClient({ maskKey: FIXED_KEY });
    peer.driver.send("Hello");
    await peer.readFrame();
    assert.equal(hex(peer.written), "81 85 37 fa 21 3d 7f 9f 4d 51 58");
  });

  it("a client draws a fresh key per frame by default", async () => {
    const peer = await openClient();
    for (let i = 0; i < 4; i++) peer.driver.send("same");
    for (let i = 0; i < 4; i++) {
      const frame = await peer.readFrame();
      assert.ok(frame.masked);
      assert.equal(text(frame), "same");
    }
    const keys = new Set<string>();
    let at = 0;
    for (let i = 0; i < 4; i++) {
      keys.add(hex(peer.written.subarray(at + 2, at + 6)));
      at += 2 + 4 + 4;
    }
    assert.ok(keys.size > 1, `four frames used ${keys.size} distinct key(s)`);
  });

  it("Uint8Array, ArrayBuffer, DataView and other views become binary frames of exactly their bytes", async () => {
    const peer = await openServer();
    const backing = Uint8Array.of(9, 1, 2, 3, 4, 9);
    peer.driver.send(backing.subarray(1, 5));
    peer.driver.send(Uint8Array.of(5, 6).buffer);
    peer.driver.send(new DataView(backing.buffer, 2, 3));
    peer.driver.sendBinary(Uint16Array.of(0x0102));
    peer.driver.send(new Uint8Array(0));
    const frames = [];
    for (let i = 0; i < 5; i++) frames.push(await peer.readFrame());
    for (const f of frames) assert.equal(f.opcode, OP.BINARY);
    assert.deepEqual(frames[0].payload, Uint8Array.of(1, 2, 3, 4));
    assert.deepEqual(frames[1].payload, Uint8Array.of(5, 6));
    assert.deepEqual(frames[2].payload, Uint8Array.of(2, 3, 4));
    assert.deepEqual(
      frames[3].payload,
      new Uint8Array(Uint16Array.of(0x0102).buffer),
    );
    assert.deepEqual(frames[4].payload, new Uint8Array(0));
  });

  it("sendText sends text, sendBinary binary", async () => {
    const peer = await openServer();
    peer.driver.sendText("héllo €");
    peer.driver.sendBinary(bytes("raw"));
    const a = await peer.readFrame();
    const b = await peer.readFrame();
    assert.equal(a.opcode, OP.TEXT);
    assert.equal(text(a), "héllo €");
    assert.equal(b.opcode, OP.BINARY);
    assert.deepEqual(b.payload, bytes("raw"));
  });

  it("copies the bytes: changing them after send does not change what the peer gets", async () => {
    const peer = await openServer();
    const data = Uint8Array.of(1, 2, 3, 4);
    const big = new Uint8Array(70_000).fill(7);
    peer.driver.send(data);
    peer.driver.send(big);
    data.fill(0xee);
    big.fill(0xee);
    const a = await peer.readFrame();
    const b = await peer.readFrame();
    assert.deepEqual(a.payload, Uint8Array.of(1, 2, 3, 4));
    assert.equal(b.payload.length, 70_000);
    assert.ok(b.payload.every((x) => x === 7));
  });

  it("never changes the caller's buffer, even when a client masks it", async () => {
    const peer = await openClient({ maskKey: FIXED_KEY });
    const data = new Uint8Array(100).fill(0x41);
    peer.driver.send(data);
    await peer.readFrame();
    assert.ok(data.every((x) => x === 0x41));
  });

  it("frame lengths use 7, 16 and 64-bit forms at 125/126 and 65535/65536", async () => {
    const peer = await openServer();
    for (const n of [125, 126, 65535, 65536]) {
      peer.driver.send(new Uint8Array(n));
    }
    for (const n of [125, 126, 65535, 65536]) {
      assert.equal((await peer.readFrame()).payload.length, n);
    }
    const all = peer.written;
    assert.equal(hex(all.subarray(0, 2)), "82 7d");
    assert.equal(hex(all.subarray(127, 131)), "82 7e 00 7e");
    const third = 127 + 4 + 126;
    assert.equal(hex(all.subarray(third, third + 4)), "82 7e ff ff");
    const fourth = third + 4 + 65535;
    assert.equal(
      hex(all.subarray(fourth, fourth + 10)),
      "82 7f 00 00 00 00 00 01 00 00",
    );
  });

  it("type errors: sendText needs a string, sendBinary and send need bytes", async () => {
    const peer = await openServer();
    const ws = peer.driver;
    assert.throws(() => ws.sendText(5 as never), {
      name: "TypeError",
      message: /Cannot send text: expected a string/,
    });
    assert.throws(() => ws.sendText(bytes("x") as never), TypeError);
    assert.throws(() => ws.sendBinary("x" as never), {
      name: "TypeError",
      message: /Cannot send binary/,
    });
    assert.throws(() => ws.sendBinary([1, 2] as never), TypeError);
    assert.throws(() => ws.send(42 as never), TypeError);
    assert.throws(() => ws.send(null as never), {
      name: "TypeError",
      message: /null/,
    });
    assert.throws(() => ws.send(undefined as never), TypeError);
    assert.throws(() => ws.send({ length: 1 } as never), TypeError);
    await tick();
    assert.equal(peer.writes, 0, "nothing was written");
  });

  it("sends and pings before open are queued and leave in order, in one write, after open", async () => {
    const peer = new RawPeer("server", undefined, null, false);
    const ws = peer.driver;
    let writesAtOpen = -1;
    ws.on("open", () => (writesAtOpen = peer.writes));
    ws.send("one");
    ws.sendPing("p1");
    ws.send(bytes([2]));
    ws.sendText("three");
    assert.ok(ws.bufferedAmount > 0);
    await tick();
    assert.equal(peer.writes, 0, "nothing is written before attach");
    peer.attach();
    ws.send("four"); // attached, not open yet
    const frames = [];
    for (let i = 0; i < 5; i++) frames.push(await peer.readFrame());
    assert.equal(writesAtOpen, 0, "open came before the first write");
    assert.deepEqual(
      frames.map((f) => [f.opcode, text(f)]),
      [[OP.TEXT, "one"], [OP.PING, "p1"], [OP.BINARY, "\x02"], [
        OP.TEXT,
        "three",
      ], [OP.TEXT, "four"]],
    );
    assert.equal(peer.writes, 1, "the queue left corked");
  });

  it("sends after closeConnection return false, throw nothing and write nothing", async () => {
    const peer = await openServer();
    const ws = peer.driver;
    ws.send("before");
    assert.equal(ws.closeConnection(), true);
    assert.equal(ws.send("after"), false);
    assert.equal(ws.sendText("after"), false);
    assert.equal(ws.sendBinary(bytes([1])), false);
    assert.equal(ws.sendPing(), false);
    // Caller mistakes still throw, whatever the state.
    assert.throws(() => ws.sendText(1 as unknown as string), TypeError);
    assert.throws(() => ws.sendPing(new Uint8Array(126)), RangeError);
    const a = await peer.readFrame();
    const b = await peer.readFrame();
    assert.equal(text(a), "before");
    assert.equal(b.opcode, OP.CLOSE);
    peer.sendFrame(OP.CLOSE, closePayload(1000));
    peer.endInput();
    await withTimeout(peer.rec.closed, "close");
    assert.equal(ws.send("late"), false);
    await tick();
    assert.equal(peer.frames().length, 2, "nothing after the close frame");
  });

  it("sends after the peer's close frame return false", async () => {
    const peer = await openServer();
    peer.sendFrame(OP.CLOSE, closePayload(1001));
    await peer.outputDone();
    assert.equal(peer.driver.send("x"), false);
    assert.equal(peer.frames().length, 1);
    peer.endInput();
  });
});

// ───────────────────────────── ping and pong ─────────────────────────────

describe("WebSocketDriver: sendPing and pongs", () => {
  it("sendPing sends a ping frame; empty by default; string payloads are UTF-8", async () => {
    const peer = await openServer();
    peer.driver.sendPing();
    peer.driver.sendPing("hé");
    peer.driver.sendPing(Uint8Array.of(1, 2));
    const frames = [
      await peer.readFrame(),
      await peer.readFrame(),
      await peer.readFrame(),
    ];
    assert.deepEqual(frames.map((f) => f.opcode), [OP.PING, OP.PING, OP.PING]);
    assert.deepEqual(frames[0].payload, new Uint8Array(0));
    assert.equal(text(frames[1]), "hé");
    assert.deepEqual(frames[2].payload, Uint8Array.of(1, 2));
  });

  it("a payload over 125 bytes is a RangeError, 125 is fine", async () => {
    const peer = await openServer();
    assert.throws(() => peer.driver.sendPing(new Uint8Array(126)), {
      name: "RangeError",
      message: /125/,
    });
    assert.throws(() => peer.driver.sendPing("x".repeat(126)), RangeError);
    assert.throws(() => peer.driver.sendPing("é".repeat(63)), RangeError); // 126 bytes of UTF-8
    peer.driver.sendPing(new Uint8Array(125));
    const frame = await peer.readFrame();
    assert.equal(frame.payload.length, 125);
    assert.equal(peer.frames().length, 1);
  });

  it("onPong must be a function", async () => {
    const peer = await openServer();
    assert.throws(() => peer.driver.sendPing("x", 5 as never), TypeError);
  });

  it("answers a ping with a pong of the same payload and emits ping", async () => {
    const peer = await openServer();
    peer.sendFrame(OP.PING, "are you there");
    const pong = await peer.readFrame();
    assert.equal(pong.opcode, OP.PONG);
    assert.equal(text(pong), "are you there");
    assert.equal(hex(peer.written.subarray(0, 2)), "8a 0d");
    assert.deepEqual(peer.rec.events[1], ["ping", bytes("are you there")]);
  });

  it("each onPong fires once, for its own pong, even with two pings of the same payload", async () => {
    const peer = await openServer();
    const calls: string[] = [];
    peer.driver.sendPing("same", () => calls.push("first"));
    peer.driver.sendPing("same", () => calls.push("second"));
    await peer.readFrame();
    await peer.readFrame();
    peer.sendFrame(OP.PONG, "same");
    await withTimeout(
      peer.until(() => peer.rec.names().includes("pong"), "pong"),
      "pong",
    );
    assert.deepEqual(calls, ["first"]);
    peer.sendFrame(OP.PONG, "same");
    await peer.until(
      () => peer.rec.names().filter((n) => n === "pong").length === 2,
      "second pong",
    );
    await tick();
    assert.deepEqual(calls, ["first", "second"]);
    peer.sendFrame(OP.PONG, "same"); // unsolicited: no callback left
    await peer.until(() => pongs(peer) === 3, "third pong");
    assert.deepEqual(calls, ["first", "second"]);
  });

  it("a pong answering only the latest ping acknowledges the earlier ones, in order", async () => {
    const peer = await openServer();
    const calls: string[] = [];
    peer.driver.sendPing("1", () => calls.push("1"));
    peer.driver.sendPing("2", () => calls.push("2"));
    peer.driver.sendPing("3", () => calls.push("3"));
    peer.sendFrame(OP.PONG, "2");
    await peer.until(() => pongs(peer) === 1, "pong 2");
    assert.deepEqual(calls, ["1", "2"]);
    peer.sendFrame(OP.PONG, "1"); // late answer to an acknowledged ping: nothing
    await peer.until(() => pongs(peer) === 2, "pong 1");
    assert.deepEqual(calls, ["1", "2"]);
    peer.sendFrame(OP.PONG, "3");
    await peer.until(() => pongs(peer) === 3, "pong 3");
    assert.deepEqual(calls, ["1", "2", "3"]);
  });

  it("an unsolicited pong emits pong and calls no callback", async () => {
    const peer = await openServer();
    let called = 0;
    peer.driver.sendPing("mine", () => called++);
    peer.sendFrame(OP.PONG, "heartbeat");
    await peer.until(() => pongs(peer) === 1, "pong");
    assert.equal(called, 0);
    assert.deepEqual(peer.rec.events.at(-1), ["pong", bytes("heartbeat")]);
  });

  it("callbacks of pings still waiting when the connection closes are never called", async () => {
    const peer = await openServer({ closeTimeout: ms(20) });
    let called = 0;
    peer.driver.sendPing("x", () => called++);
    peer.endInput();
    await withTimeout(peer.rec.closed, "close");
    await delay(10);
    assert.equal(called, 0);
  });

  it("pings are answered by a driver peer: the pair round trip", async () => {
    const { client, clientEvents, serverEvents } = memoryPair();
    await Promise.all([clientEvents.opened, serverEvents.opened]);
    const got = await withTimeout(
      new Promise<string>((resolve) => client.sendPing("rt", () => resolve("pong"))),
      "pong callback",
    );
    assert.equal(got, "pong");
    assert.deepEqual(serverEvents.events.at(-1), ["ping", bytes("rt")]);
    client.closeConnection();
    await withTimeout(
      Promise.all([clientEvents.closed, serverEvents.closed]),
      "close",
    );
  });
});

// ───────────────────────────── closeConnection ─────────────────────────────

describe("WebSocketDriver: closeConnection arguments", () => {
  it("no arguments: code 1000 with no reason", async () => {
    const peer = await openServer();
    peer.driver.closeConnection();
    await peer.readFrame();
    assert.equal(hex(peer.written), "88 02 03 e8");
  });

  it("the seed's order (reason, code) and the WHATWG order (code, reason) put the same bytes on the wire", async () => {
    const seed = await openServer();
    const whatwg = await openServer();
    assert.equal(seed.driver.closeConnection("bye", 4001), true);
    assert.equal(whatwg.driver.closeConnection(4001, "bye"), true);
    await seed.readFrame();
    await whatwg.readFrame();
    assert.equal(hex(seed.written), "88 05 0f a1 62 79 65");
    assert.equal(hex(whatwg.written), "88 05 0f a1 62 79 65");
  });

  it("only a reason: code 1000; only a code: no reason", async () => {
    const a = await openServer();
    const b = await openServer();
    a.driver.closeConnection("done");
    b.driver.closeConnection(3000);
    const fa = await a.readFrame();
    const fb = await b.readFrame();
    assert.deepEqual(parseClose(fa.payload), { code: 1000, reason: "done" });
    assert.deepEqual(parseClose(fb.payload), { code: 3000, reason: "" });
  });

  it("a client's close frame is masked", async () => {
    const peer = await openClient({ maskKey: FIXED_KEY });
    peer.driver.closeConnection(1001, "away");
    const frame = await peer.readFrame();
    assert.ok(frame.masked);
    assert.deepEqual(parseClose(frame.payload), { code: 1001, reason: "away" });
  });

  for (
    const code of [
      999,
      1004,
      1005,
      1006,
      1015,
      1016,
      2999,
      5000,
      1000.5,
      NaN,
      0,
      -1000,
    ]
  ) {
    it(`code ${code} is a RangeError, in both orders, and nothing is sent`, async () => {
      const peer = await openServer();
      assert.throws(() => peer.driver.closeConnection(code), {
        name: "RangeError",
        message: /close code/,
      });
      assert.throws(() => peer.driver.closeConnection("why", code), RangeError);
      assert.equal(peer.driver.readyState, "open");
      await tick();
      assert.equal(peer.writes, 0);
    });
  }

  it("a code that is not a number is a RangeError in the seed order", async () => {
    const peer = await openServer();
    assert.throws(
      () => peer.driver.closeConnection("why", "1000" as never),
      RangeError,
    );
  });

  it("a reason that is not a string is a TypeError", async () => {
    const peer = await openServer();
    assert.throws(() => peer.driver.closeConnection(1000, 5 as never), {
      name: "TypeError",
      message: /reason/,
    });
  });

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
    it(`code ${code} may be sent`, async () => {
      const { driver, transport } = await counted("server");
      assert.equal(driver.closeConnection(code), true);
      await tick();
      assert.deepEqual(parseClose(transport.frames()[0].payload), {
        code,
        reason: "",
      });
    });
  }

  it("a reason of 124 bytes of UTF-8 is a RangeError, 123 bytes is fine", async () => {
    const peer = await openServer();
    assert.throws(() => peer.driver.closeConnection("x".repeat(124)), {
      name: "RangeError",
      message: /123/,
    });
    assert.throws(
      () => peer.driver.closeConnection(1000, "é".repeat(62)),
      RangeError,
    ); // 124 bytes
    await tick();
    assert.equal(peer.writes, 0);
    const reason = "é".repeat(61) + "x"; // 123 bytes
    assert.equal(peer.driver.closeConnection(1000, reason), true);
    const frame = await peer.readFrame();
    assert.equal(frame.payload.length, 125);
    assert.deepEqual(parseClose(frame.payload), { code: 1000, reason });
  });

  it("returns false when already closing or closed", async () => {
    const peer = await openServer();
    assert.equal(peer.driver.closeConnection(), true);
    assert.equal(peer.driver.closeConnection(), false);
    assert.equal(peer.driver.closeConnection(4000, "again"), false);
    await peer.readFrame();
    peer.sendFrame(OP.CLOSE, closePayload(1000));
    peer.endInput();
    await withTimeout(peer.rec.closed, "close");
    assert.equal(peer.driver.closeConnection(), false);
    assert.equal(peer.frames().length, 1, "one close frame");
  });

  it("returns false once the peer's close frame arrived", async () => {
    const peer = await openServer();
    peer.sendFrame(OP.CLOSE, closePayload(1000));
    await peer.readFrame();
    assert.equal(peer.driver.closeConnection(), false);
    peer.endInput();
    await withTimeout(peer.rec.closed, "close");
    assert.equal(peer.frames().length, 1);
  });
});

describe("WebSocketDriver: closing before open", () => {
  it("close before attach: close(1006) once, never open, the transport is torn down unused", async () => {
    const peer = new RawPeer("server", undefined, null, false);
    peer.driver.send("queued");
    assert.equal(peer.driver.closeConnection(), true);
    assert.equal(peer.driver.readyState, "closed");
    assert.equal(peer.driver.closeConnection(), false);
    assert.deepEqual(
      peer.rec.names(),
      [],
      "close is not emitted synchronously",
    );
    const [code] = await withTimeout(peer.rec.closed, "close");
    assert.equal(code, 1006);
    peer.attach();
    await peer.until(
      () => peer.outputAborted && peer.inputCancelled,
      "the transport aborted",
    );
    await delay(10);
    assert.deepEqual(peer.rec.names(), ["close"]);
    assert.equal(peer.writes, 0);
    assert.equal(peer.driver.send("x"), false);
  });

  it("close between attach and open: close(1006), never open, nothing written", async () => {
    const peer = new RawPeer("server");
    peer.driver.send("queued");
    assert.equal(peer.driver.closeConnection(), true);
    const [code] = await withTimeout(peer.rec.closed, "close");
    assert.equal(code, 1006);
    await peer.until(() => peer.outputAborted, "the transport aborted");
    await delay(10);
    assert.deepEqual(peer.rec.names(), ["close"]);
    assert.equal(peer.writes, 0);
  });
});

// ───────────────────────────── the closing handshake ─────────────────────────────

describe("WebSocketDriver: the closing handshake (RFC 6455 §7)", () => {
  it("server closes: the peer's answer ends the server's output at once; close after the input ends", async () => {
    const peer = await openServer();
    peer.driver.closeConnection(4000, "bye");
    assert.deepEqual(parseClose((await peer.readFrame()).payload), {
      code: 4000,
      reason: "bye",
    });
    await delay(10);
    assert.equal(peer.outputEnded, false, "waits for the peer's close frame");
    peer.sendFrame(OP.CLOSE, closePayload(4000, "ok"));
    await peer.outputDone();
    assert.equal(
      peer.outputEnded,
      true,
      "the server ends the TCP connection first (§7.1.1)",
    );
    assert.equal(peer.outputAborted, false);
    assert.ok(
      !peer.rec.names().includes("close"),
      "close waits for the input to end",
    );
    peer.endInput();
    assert.deepEqual(await withTimeout(peer.rec.closed, "close"), [4000, "ok"]);
    assert.deepEqual(peer.rec.names(), ["open", "close"]);
  });

  it("client closes: it does not end its output when the answer comes, but waits for the server", async () => {
    const peer = await openClient();
    peer.driver.closeConnection("bye", 4000);
    const frame = await peer.readFrame();
    assert.ok(frame.masked);
    assert.deepEqual(parseClose(frame.payload), { code: 4000, reason: "bye" });
    peer.sendFrame(OP.CLOSE, closePayload(4000));
    await delay(20);
    assert.equal(
      peer.outputEnded,
      false,
      "the client waits for the server to end first",
    );
    assert.ok(!peer.rec.names().includes("close"));
    assert.equal(peer.driver.readyState, "closing");
    peer.endInput();
    assert.deepEqual(await withTimeout(peer.rec.closed, "close"), [4000, ""]);
    assert.equal(peer.outputEnded, true, "then the client ends its output");
  });

  it("the peer's close code and reason are reported, and echoed (code and reason) by a server", async () => {
    const peer = await openServer();
    peer.sendFrame(OP.CLOSE, closePayload(4002, "why"));
    const echo = await peer.readFrame();
    assert.equal(hex(peer.written), "88 05 0f a2 77 68 79");
    assert.deepEqual(parseClose(echo.payload), { code: 4002, reason: "why" });
    await peer.outputDone();
    assert.equal(peer.driver.readyState, "closing");
    peer.endInput();
    assert.deepEqual(await withTimeout(peer.rec.closed, "close"), [
      4002,
      "why",
    ]);
  });

  it("the peer's close frame is echoed, masked, with its reason, by a client, which then waits for the server", async () => {
    const peer = await openClient();
    peer.sendFrame(OP.CLOSE, closePayload(1001, "going"));
    const echo = await peer.readFrame();
    assert.ok(echo.masked);
    assert.deepEqual(parseClose(echo.payload), {
      code: 1001,
      reason: "going",
    });
    await delay(10);
    assert.equal(peer.outputEnded, false);
    peer.endInput();
    assert.deepEqual(await withTimeout(peer.rec.closed, "close"), [
      1001,
      "going",
    ]);
    assert.equal(peer.outputEnded, true);
  });

  it("an empty close frame is reported as 1005 and answered with an empty one", async () => {
    const peer = await openServer();
    peer.sendFrame(OP.CLOSE, new Uint8Array(0));
    await peer.readFrame();
    assert.equal(hex(peer.written), "88 00");
    peer.endInput();
    assert.deepEqual(await withTimeout(peer.rec.closed, "close"), [1005, ""]);
  });

  it("a message and the peer's close in one chunk: the message listener's echo goes out before the close frame, in the same write, with no uncaught error", async () => {
    // The core parses the whole chunk before the listeners run, but its answer
    // to the close waits for the next dataToSend(): what a listener of an
    // earlier event of that chunk sends is written first, then our close
    // frame, in one write. Nothing follows the close frame, and nothing throws
    // from inside the listener (that would kill an echo server).
    const peer = await openServer();
    const ws = peer.driver;
    const states: string[] = [];
    ws.on("message", (msg) => {
      states.push(ws.readyState);
      ws.send(msg);
      ws.sendPing();
    });
    const caught = await captureUncaught(async () => {
      peer.send(concat([
        encodeFrame(OP.TEXT, "echo me", { mask: TEST_KEY }),
        encodeFrame(OP.CLOSE, closePayload(1000), { mask: TEST_KEY }),
      ]));
      await peer.outputDone();
      peer.endInput();
      await withTimeout(peer.rec.closed, "close");
    });
    assert.deepEqual(caught, []);
    assert.deepEqual(states, ["open"]);
    assert.deepEqual(peer.rec.names(), ["open", "message", "close"]);
    const frames = peer.frames();
    assert.deepEqual(
      frames.map((f) => f.opcode),
      [OP.TEXT, OP.PING, OP.CLOSE],
      "the listener's echo and ping, then the close frame, nothing after it",
    );
    assert.equal(text(frames[0]), "echo me");
    assert.deepEqual(parseClose(frames[2].payload), { code: 1000, reason: "" });
    assert.equal(
      hex(peer.written),
      "81 07 65 63 68 6f 20 6d 65 89 00 88 02 03 e8",
    );
    assert.equal(peer.writes, 1, "in one write");
    assert.equal(ws.send("now it is known"), false);
  });

  it("a message and a violation in one chunk: the listener's echo goes out before the close frame, in the same write, nothing after it, no uncaught error", async () => {
    const peer = await openServer();
    const ws = peer.driver;
    ws.on("message", (msg) => ws.send(msg));
    const caught = await captureUncaught(async () => {
      peer.send(concat([
        encodeFrame(OP.TEXT, "echo me", { mask: TEST_KEY }),
        encodeFrame(0x3, "", { mask: TEST_KEY }),
      ]));
      await peer.outputDone();
      peer.endInput();
      await withTimeout(peer.rec.closed, "close");
    });
    assert.deepEqual(caught, []);
    assert.deepEqual(peer.rec.names(), ["open", "message", "error", "close"]);
    const frames = peer.frames();
    assert.deepEqual(frames.map((f) => f.opcode), [OP.TEXT, OP.CLOSE]);
    assert.equal(text(frames[0]), "echo me");
    const error = peer.rec.events[2][1] as ProtocolError;
    assert.ok(error instanceof ProtocolError);
    assert.deepEqual(parseClose(frames[1].payload), {
      code: 1002,
      reason: error.message,
    });
    assert.equal(peer.writes, 1, "in one write");
    assert.equal(ws.send("too late"), false);
  });

  it("frames after the peer's close frame are ignored", async () => {
    const peer = await openServer();
    peer.sendFrame(OP.TEXT, "before");
    peer.sendFrame(OP.CLOSE, closePayload(1000));
    peer.sendFrame(OP.TEXT, "after");
    peer.sendFrame(OP.PING, "after");
    peer.endInput();
    await withTimeout(peer.rec.closed, "close");
    assert.deepEqual(peer.rec.names(), ["open", "message", "close"]);
    assert.deepEqual(peer.rec.messages(), ["before"]);
    assert.equal(peer.frames().length, 1, "only the close echo, no pong");
  });

  it("a dropped connection (input ends without a close frame) closes with 1006 and ends the output", async () => {
    const peer = await openServer();
    peer.sendFrame(OP.TEXT, "last words");
    peer.endInput();
    assert.deepEqual(await withTimeout(peer.rec.closed, "close"), [1006, ""]);
    assert.deepEqual(peer.rec.names(), ["open", "message", "close"]);
    assert.equal(peer.outputEnded, true);
    assert.equal(peer.writes, 0, "no close frame into a dropped connection");
    assert.equal(peer.driver.readyState, "closed");
  });

  it("once the input ended without a close frame: readyState is closing and sends return false, until close", async () => {
    const driver = new WebSocketDriver("server", {
      closeTimeout: TEST_CLOSE_TIMEOUT,
    });
    const rec = record(driver);
    let endOutput!: () => void;
    const writes: Uint8Array[] = [];
    let sink!: { data(chunk: Uint8Array): void; end(error?: unknown): void };
    driver.attach({
      start: (s) => (sink = s),
      write: (chunk) => (writes.push(chunk), Promise.resolve()),
      end: () => new Promise<void>((resolve) => (endOutput = resolve)), // the output takes its time to end
      abort() {},
    });
    await rec.opened;
    sink.end();
    await tick();
    assert.deepEqual(
      rec.names(),
      ["open"],
      "close waits for the output to end",
    );
    assert.equal(driver.readyState, "closing");
    assert.equal(driver.send("into the void"), false);
    assert.equal(driver.closeConnection(), false);
    assert.equal(driver.bufferedAmount, 0);
    endOutput();
    assert.deepEqual(await withTimeout(rec.closed, "close"), [1006, ""]);
    assert.equal(writes.length, 0);
  });

  it("a client whose server drops the connection closes with 1006", async () => {
    const peer = await openClient();
    peer.endInput();
    assert.deepEqual(await withTimeout(peer.rec.closed, "close"), [1006, ""]);
  });

  it("an input error (a reset) closes with 1006", async () => {
    const peer = await openServer();
    peer.errorInput(new Error("ECONNRESET"));
    const [code] = await withTimeout(peer.rec.closed, "close");
    assert.equal(code, 1006);
    assert.deepEqual(peer.rec.names(), ["open", "close"]);
  });

  it("a peer that never answers our close: close(1006) after closeTimeout, the transport torn down", async () => {
    const timeout = ms(60);
    const peer = await openServer({ closeTimeout: timeout });
    const started = Date.now();
    peer.driver.closeConnection(1000, "bye");
    await peer.readFrame();
    assert.deepEqual(await withTimeout(peer.rec.closed, "close"), [1006, ""]);
    const elapsed = Date.now() - started;
    assert.ok(
      elapsed >= timeout - 5,
      `closed after ${elapsed} ms, the timeout is ${timeout} ms`,
    );
    await peer.until(
      () => peer.outputAborted && peer.inputCancelled,
      "the transport aborted",
    );
    assert.equal(peer.driver.readyState, "closed");
  });

  it("the close timeout also bounds a client waiting for the server to end: the server's code is kept", async () => {
    const peer = await openClient({ closeTimeout: ms(40) });
    peer.driver.closeConnection(4000);
    await peer.readFrame();
    peer.sendFrame(OP.CLOSE, closePayload(4000, "ack"));
    assert.deepEqual(await withTimeout(peer.rec.closed, "close"), [
      4000,
      "ack",
    ]);
    await peer.until(() => peer.outputAborted, "the transport aborted");
  });

  it("the close timeout also bounds a peer that closed but never ends its stream", async () => {
    const peer = await openServer({ closeTimeout: ms(40) });
    peer.sendFrame(OP.CLOSE, closePayload(1000));
    assert.deepEqual(await withTimeout(peer.rec.closed, "close"), [1000, ""]);
  });

  it("close is emitted exactly once, and no event follows it", async () => {
    const peer = await openServer({ closeTimeout: ms(30) });
    peer.driver.closeConnection();
    await peer.readFrame();
    peer.sendFrame(OP.CLOSE, closePayload(1000));
    peer.endInput();
    await withTimeout(peer.rec.closed, "close");
    await delay(60); // past the close timeout
    assert.deepEqual(peer.rec.names(), ["open", "close"]);
  });

  it("a write that fails closes with 1006 and tears the transport down", async () => {
    const driver = new WebSocketDriver("server");
    const rec = record(driver);
    let aborted = false;
    driver.attach({
      start() {},
      write: () => Promise.reject(new Error("EPIPE")),
      end: () => Promise.resolve(),
      abort: () => {
        aborted = true;
      },
    });
    await rec.opened;
    driver.send("doomed");
    assert.deepEqual(await withTimeout(rec.closed, "close"), [1006, ""]);
    assert.ok(aborted);
    assert.equal(driver.readyState, "closed");
    assert.equal(driver.bufferedAmount, 0);
  });

  it("two drivers: client-initiated and server-initiated close, both sides see the code and the reason", async () => {
    for (const initiator of ["client", "server"] as const) {
      const pair = memoryPair();
      await Promise.all([pair.serverEvents.opened, pair.clientEvents.opened]);
      pair[initiator].closeConnection(
        initiator === "client" ? 4100 : 4200,
        "from " + initiator,
      );
      const [s, c] = await withTimeout(
        Promise.all([pair.serverEvents.closed, pair.clientEvents.closed]),
        "close",
      );
      const code = initiator === "client" ? 4100 : 4200;
      // Each side reports the close frame it received: the initiator's, and
      // the echo of it, which carries the same code and reason.
      assert.deepEqual(s, [code, "from " + initiator]);
      assert.deepEqual(c, [code, "from " + initiator]);
      assert.equal(pair.server.readyState, "closed");
      assert.equal(pair.client.readyState, "closed");
    }
  });
});

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
      concat([
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
      concat([
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
      concat([
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
    bytes: (k) => encodeFrame(OP.CLOSE, concat([closePayload(1000), bytes([0xff])]), m(k)),
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
      concat([
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
      concat([
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
        concat([v.bytes(key), encodeFrame(OP.TEXT, "ignored", { mask: key })]),
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
    const wire = concat([
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

// ───────────────────────────── bufferedAmount and corking ─────────────────────────────

describe("WebSocketDriver: bufferedAmount", () => {
  it("grows on send and returns to 0 once the transport took the bytes", async () => {
    const { driver, transport } = await counted("server");
    transport.hold = true;
    assert.equal(driver.bufferedAmount, 0);
    driver.send("hello"); // 2 + 5
    assert.equal(driver.bufferedAmount, 7);
    driver.send(new Uint8Array(200)); // 4 + 200
    assert.equal(driver.bufferedAmount, 211);
    driver.sendPing("p"); // 2 + 1
    assert.equal(driver.bufferedAmount, 214);
    await tick();
    assert.equal(transport.writes.length, 1);
    assert.equal(
      driver.bufferedAmount,
      214,
      "still counted while the write is pending",
    );
    transport.release();
    await tick();
    assert.equal(driver.bufferedAmount, 0);
    driver.closeConnection(); // 2 + 2
    assert.equal(driver.bufferedAmount, 4);
    await tick();
    transport.release();
    await tick();
    assert.equal(driver.bufferedAmount, 0);
  });

  it("counts sends made before open and returns to 0 after the stream took them", async () => {
    const peer = new RawPeer("client", { maskKey: FIXED_KEY }, null, false);
    peer.driver.send("abc"); // 6 + 3
    assert.equal(peer.driver.bufferedAmount, 9);
    peer.attach();
    await peer.readFrame();
    await tick();
    assert.equal(peer.driver.bufferedAmount, 0);
  });
});

describe("WebSocketDriver: corking (one write per turn)", () => {
  it("100 sends in one tick reach the transport in ONE write, in order", async () => {
    const { driver, transport } = await counted("server");
    for (let i = 0; i < 100; i++) driver.send(`m${i}`);
    assert.equal(
      transport.writes.length,
      0,
      "nothing is written synchronously",
    );
    await tick();
    assert.equal(transport.writes.length, 1);
    const frames = transport.frames();
    assert.deepEqual(
      frames.map(text),
      Array.from({ length: 100 }, (_, i) => `m${i}`),
    );
  });

  it("100 sends inside one message handler leave in ONE write", async () => {
    const { driver, transport } = await counted("server");
    driver.on("message", (msg) => {
      for (let i = 0; i < 100; i++) driver.send(`${msg}:${i}`);
    });
    transport.push(encodeFrame(OP.TEXT, "go", { mask: TEST_KEY }));
    await tick();
    assert.equal(transport.writes.length, 1);
    assert.equal(transport.frames().length, 100);
    assert.equal(text(transport.frames()[99]), "go:99");
  });

  it("one input chunk of 10 pings and 10 messages, echoed: pongs and echoes in ONE write", async () => {
    const { driver, transport } = await counted("server");
    driver.on("message", (msg) => driver.send(msg));
    const parts = [];
    for (let i = 0; i < 10; i++) {
      parts.push(encodeFrame(OP.PING, `p${i}`, { mask: TEST_KEY }));
      parts.push(encodeFrame(OP.TEXT, `t${i}`, { mask: TEST_KEY }));
    }
    transport.push(concat(parts));
    await tick();
    assert.equal(transport.writes.length, 1);
    const frames = transport.frames();
    assert.equal(frames.length, 20);
    // The core answers pings while it parses, the echoes come from the
    // listeners after: each kind keeps its order.
    const pongs = frames.filter((f) => f.opcode === OP.PONG).map(text);
    const echoes = frames.filter((f) => f.opcode === OP.TEXT).map(text);
    assert.deepEqual(pongs, Array.from({ length: 10 }, (_, i) => `p${i}`));
    assert.deepEqual(echoes, Array.from({ length: 10 }, (_, i) => `t${i}`));
  });

  it("queued sends and sends made in the open listener leave in ONE write", async () => {
    const driver = new WebSocketDriver("server");
    const transport = new CountingTransport();
    driver.send("queued");
    driver.on("open", () => driver.send("from open"));
    driver.attach(transport);
    await tick();
    assert.equal(transport.writes.length, 1);
    assert.deepEqual(transport.frames().map(text), ["queued", "from open"]);
  });

  it("the pair echoes 1000 pipelined messages in order", async () => {
    const { server, client, clientEvents, serverEvents } = memoryPair();
    server.on("message", (msg) => server.send(msg));
    for (let i = 0; i < 1000; i++) {
      client.send(i % 2 === 0 ? `${i}` : bytes(`${i}`));
    }
    const got = await withTimeout(
      clientEvents.nextMessages(1000),
      "1000 echoes",
    );
    for (let i = 0; i < 1000; i++) {
      if (i % 2 === 0) assert.equal(got[i], `${i}`);
      else assert.deepEqual(got[i], bytes(`${i}`));
    }
    client.closeConnection();
    await withTimeout(
      Promise.all([clientEvents.closed, serverEvents.closed]),
      "close",
    );
  });
});

// ───────────────────────────── listeners that throw ─────────────────────────────

describe("WebSocketDriver: a listener that throws, with rethrowListenerErrors (safety_test.ts has the default)", () => {
  it("does not stop the other listeners nor the connection; the error surfaces as uncaught", async () => {
    const { server, client, clientEvents, serverEvents } = memoryPair({ server: { rethrowListenerErrors: true } });
    const order: string[] = [];
    server.on("message", () => {
      order.push("thrower");
      throw new Error("listener boom");
    });
    server.on("message", (msg) => {
      order.push("echo");
      server.send(msg);
    });
    const caught = await captureUncaught(async () => {
      client.send("one");
      await withTimeout(clientEvents.nextMessages(1), "first echo");
      client.send("two");
      await withTimeout(clientEvents.nextMessages(2), "second echo");
    });
    assert.deepEqual(clientEvents.messages(), ["one", "two"]);
    assert.deepEqual(order, ["thrower", "echo", "thrower", "echo"]);
    assert.equal(caught.length, 2);
    for (const error of caught) {
      assert.equal((error as Error).message, "listener boom");
    }
    client.closeConnection();
    await withTimeout(
      Promise.all([clientEvents.closed, serverEvents.closed]),
      "close",
    );
  });

  it("a throwing onPong, open or close listener does not break the driver", async () => {
    const peer = new RawPeer("server", { closeTimeout: ms(50), rethrowListenerErrors: true }, null, false);
    const ws = peer.driver;
    let closes = 0;
    ws.on("open", () => {
      throw new Error("open boom");
    });
    ws.on("close", () => {
      closes++;
      throw new Error("close boom");
    });
    const calls: string[] = [];
    const caught = await captureUncaught(async () => {
      peer.attach();
      await peer.rec.opened;
      ws.sendPing("a", () => {
        calls.push("a");
        throw new Error("pong boom");
      });
      ws.sendPing("b", () => calls.push("b"));
      peer.sendFrame(OP.PONG, "b");
      await peer.until(() => calls.length === 2, "both callbacks");
      ws.send("still works");
      const frames = [
        await peer.readFrame(),
        await peer.readFrame(),
        await peer.readFrame(),
      ];
      assert.equal(text(frames[2]), "still works");
      ws.closeConnection();
      await peer.readFrame();
      peer.sendFrame(OP.CLOSE, closePayload(1000));
      peer.endInput();
      await withTimeout(peer.rec.closed, "close");
    });
    assert.deepEqual(calls, ["a", "b"]);
    assert.equal(closes, 1);
    assert.deepEqual(caught.map((e) => (e as Error).message).sort(), [
      "close boom",
      "open boom",
      "pong boom",
    ]);
    assert.deepEqual(peer.rec.names(), ["open", "pong", "close"]);
  });
});

// ───────────────────────────── the emitter ─────────────────────────────

describe("EventEmitter", () => {
  type Events = { a: [n: number]; b: [] };

  it("on/addListener return this and run listeners in the order added, with the arguments", () => {
    const e = new EventEmitter<Events>();
    const got: string[] = [];
    assert.equal(e.on("a", (n) => got.push(`1:${n}`)), e);
    assert.equal(e.addListener("a", (n) => got.push(`2:${n}`)), e);
    assert.equal(e.emit("a", 7), true);
    assert.deepEqual(got, ["1:7", "2:7"]);
    assert.equal(e.emit("b"), false, "no listener");
  });

  it("once fires once, and its listener can be removed before it fired", () => {
    const e = new EventEmitter<Events>();
    let n = 0;
    const f = (): void => void n++;
    e.once("a", f);
    assert.equal(e.listenerCount("a"), 1);
    assert.deepEqual(
      e.listeners("a"),
      [f],
      "listeners() returns the original function",
    );
    e.emit("a", 1);
    e.emit("a", 2);
    assert.equal(n, 1);
    assert.equal(e.listenerCount("a"), 0);
    e.once("a", f);
    e.off("a", f);
    e.emit("a", 3);
    assert.equal(n, 1);
  });

  it("once and on with the same function: once removes only its own registration", () => {
    const e = new EventEmitter<Events>();
    let n = 0;
    const f = (): void => void n++;
    e.once("a", f);
    e.on("a", f);
    e.emit("a", 1); // both
    e.emit("a", 2); // the plain one
    e.emit("a", 3); // the plain one
    assert.equal(n, 4);
    assert.equal(e.listenerCount("a"), 1);
  });

  it("off / removeListener remove the most recent instance only; unknown listeners are ignored", () => {
    const e = new EventEmitter<Events>();
    const got: number[] = [];
    const f = (n: number): void => void got.push(n);
    const g = (n: number): void => void got.push(-n);
    e.on("a", f).on("a", g).on("a", f);
    assert.equal(e.listenerCount("a"), 3);
    assert.equal(e.off("a", f), e);
    assert.deepEqual(e.listeners("a"), [f, g]);
    assert.equal(e.removeListener("a", () => {}), e);
    assert.equal(e.listenerCount("a"), 2);
    e.removeListener("b", () => {});
    e.emit("a", 1);
    assert.deepEqual(got, [1, -1]);
  });

  it("listeners() returns a copy", () => {
    const e = new EventEmitter<Events>();
    const f = (): void => {};
    e.on("a", f);
    const list = e.listeners("a");
    list.push(() => {});
    assert.equal(e.listenerCount("a"), 1);
    assert.deepEqual(e.listeners("b"), []);
  });

  it("removeAllListeners(event) and removeAllListeners()", () => {
    const e = new EventEmitter<Events>();
    e.on("a", () => {}).on("a", () => {}).on("b", () => {});
    assert.equal(e.removeAllListeners("a"), e);
    assert.equal(e.listenerCount("a"), 0);
    assert.equal(e.listenerCount("b"), 1);
    e.on("a", () => {});
    e.removeAllListeners();
    assert.equal(e.listenerCount("a"), 0);
    assert.equal(e.listenerCount("b"), 0);
  });

  it("an emit in progress is not disturbed by listeners added or removed during it", () => {
    const e = new EventEmitter<Events>();
    const got: string[] = [];
    const late = (): void => void got.push("late");
    const second = (): void => void got.push("second");
    e.on("b", () => {
      got.push("first");
      e.on("b", late);
      e.off("b", second);
    });
    e.on("b", second);
    e.emit("b");
    assert.deepEqual(got, ["first", "second"]);
    e.emit("b");
    assert.deepEqual(got, ["first", "second", "first", "late"]);
  });

  it("a listener that is not a function is a TypeError", () => {
    const e = new EventEmitter<Events>();
    assert.throws(() => e.on("a", "nope" as never), {
      name: "TypeError",
      message: /function/,
    });
    assert.throws(() => e.once("a", null as never), TypeError);
  });

  it("the driver's events go through the same emitter verbs", async () => {
    const ws = new WebSocketDriver("server");
    const transport = new CountingTransport();
    const got: unknown[] = [];
    const onMsg = (msg: string | Uint8Array): void => void got.push(msg);
    assert.equal(ws.once("message", onMsg), ws);
    assert.equal(ws.listenerCount("message"), 1);
    assert.deepEqual(ws.listeners("message"), [onMsg]);
    const opened = new Promise<void>((resolve) => ws.on("open", () => resolve()));
    ws.attach(transport);
    await opened;
    transport.push(
      concat([
        encodeFrame(OP.TEXT, "1", { mask: TEST_KEY }),
        encodeFrame(OP.TEXT, "2", { mask: TEST_KEY }),
      ]),
    );
    assert.deepEqual(got, ["1"]);
    assert.equal(ws.listenerCount("message"), 0);
    ws.on("message", onMsg);
    ws.removeAllListeners("message");
    transport.push(encodeFrame(OP.TEXT, "3", { mask: TEST_KEY }));
    assert.deepEqual(got, ["1"]);
    assert.equal(ws.emit("message", "synthetic"), false);
    assert.equal(ws.listenerCount("open"), 1);
    ws.removeAllListeners();
    assert.equal(ws.listenerCount("open"), 0);
  });
});

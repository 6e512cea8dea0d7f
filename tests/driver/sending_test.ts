/**
 * Sending through the driver (src/driver/driver.ts) over in-memory streams:
 * send, sendText, sendBinary (RFC 6455 §5.6, §6.1), pings and the pongs they
 * get back (§5.5.2, §5.5.3), bufferedAmount, and corking (all the frames of
 * one turn leave in one write).
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { WebSocketDriver } from "../../src/driver/driver.ts";
import {
  bytes,
  closePayload,
  concatAll,
  counted,
  CountingTransport,
  delay,
  encodeFrame,
  FIXED_KEY,
  frameText,
  memoryPair,
  ms,
  OP,
  openClient,
  openServer,
  pongs,
  RawPeer,
  TEST_KEY,
  tick,
  toHex,
  withTimeout,
} from "./_pair.ts";

// ───────────────────────────── sending ─────────────────────────────

describe("WebSocketDriver: send, sendText, sendBinary", () => {
  it("a server sends a string as one unmasked text frame (RFC 6455 §5.7)", async () => {
    const peer = await openServer();
    peer.driver.send("Hello");
    const frame = await peer.readFrame();
    assert.equal(toHex(peer.written), "81 05 48 65 6c 6c 6f");
    assert.equal(frameText(frame), "Hello");
  });

  it("a client masks every frame with its key (RFC 6455 §5.7 sample bytes)", async () => {
    const peer = await openClient({ maskKey: FIXED_KEY });
    peer.driver.send("Hello");
    await peer.readFrame();
    assert.equal(toHex(peer.written), "81 85 37 fa 21 3d 7f 9f 4d 51 58");
  });

  it("a client draws a fresh key per frame by default", async () => {
    const peer = await openClient();
    for (let i = 0; i < 4; i++) peer.driver.send("same");
    for (let i = 0; i < 4; i++) {
      const frame = await peer.readFrame();
      assert.ok(frame.masked);
      assert.equal(frameText(frame), "same");
    }
    const keys = new Set<string>();
    let at = 0;
    for (let i = 0; i < 4; i++) {
      keys.add(toHex(peer.written.subarray(at + 2, at + 6)));
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
    assert.equal(frameText(a), "héllo €");
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
    assert.equal(toHex(all.subarray(0, 2)), "82 7d");
    assert.equal(toHex(all.subarray(127, 131)), "82 7e 00 7e");
    const third = 127 + 4 + 126;
    assert.equal(toHex(all.subarray(third, third + 4)), "82 7e ff ff");
    const fourth = third + 4 + 65535;
    assert.equal(
      toHex(all.subarray(fourth, fourth + 10)),
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
      frames.map((f) => [f.opcode, frameText(f)]),
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
    assert.equal(frameText(a), "before");
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
    assert.equal(frameText(frames[1]), "hé");
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
    assert.equal(frameText(pong), "are you there");
    assert.equal(toHex(peer.written.subarray(0, 2)), "8a 0d");
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
      frames.map(frameText),
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
    assert.equal(frameText(transport.frames()[99]), "go:99");
  });

  it("one input chunk of 10 pings and 10 messages, echoed: pongs and echoes in ONE write", async () => {
    const { driver, transport } = await counted("server");
    driver.on("message", (msg) => driver.send(msg));
    const parts = [];
    for (let i = 0; i < 10; i++) {
      parts.push(encodeFrame(OP.PING, `p${i}`, { mask: TEST_KEY }));
      parts.push(encodeFrame(OP.TEXT, `t${i}`, { mask: TEST_KEY }));
    }
    transport.push(concatAll(parts));
    await tick();
    assert.equal(transport.writes.length, 1);
    const frames = transport.frames();
    assert.equal(frames.length, 20);
    // The core answers pings while it parses, the echoes come from the
    // listeners after: each kind keeps its order.
    const pongs = frames.filter((f) => f.opcode === OP.PONG).map(frameText);
    const echoes = frames.filter((f) => f.opcode === OP.TEXT).map(frameText);
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
    assert.deepEqual(transport.frames().map(frameText), ["queued", "from open"]);
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

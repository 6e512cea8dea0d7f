/**
 * The closing handshake through the driver (src/driver/driver.ts) over
 * in-memory streams (RFC 6455 §7): closeConnection's arguments (§7.4), closing
 * before open, who sends and echoes the close frame, the close timeout, and
 * the close event's code and reason.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { WebSocketDriver } from "../../src/driver/driver.ts";
import { ProtocolError } from "../../src/protocol/errors.ts";
import { WRITTEN } from "../../src/driver/transport.ts";
import type { Transport, TransportSink } from "../../src/driver/transport.ts";
import {
  captureUncaught,
  closePayload,
  concatAll,
  counted,
  delay,
  encodeFrame,
  FIXED_KEY,
  frameText,
  memoryPair,
  ms,
  OP,
  openClient,
  openServer,
  parseClose,
  RawPeer,
  record,
  TEST_CLOSE_TIMEOUT,
  TEST_KEY,
  tick,
  toHex,
  withTimeout,
} from "./_pair.ts";

// ───────────────────────────── closeConnection ─────────────────────────────

describe("WebSocketDriver: closeConnection arguments", () => {
  it("no arguments: code 1000 with no reason", async () => {
    const peer = await openServer();
    peer.driver.closeConnection();
    await peer.readFrame();
    assert.equal(toHex(peer.written), "88 02 03 e8");
  });

  it("the seed's order (reason, code) and the WHATWG order (code, reason) put the same bytes on the wire", async () => {
    const seed = await openServer();
    const whatwg = await openServer();
    assert.equal(seed.driver.closeConnection("bye", 4001), true);
    assert.equal(whatwg.driver.closeConnection(4001, "bye"), true);
    await seed.readFrame();
    await whatwg.readFrame();
    assert.equal(toHex(seed.written), "88 05 0f a1 62 79 65");
    assert.equal(toHex(whatwg.written), "88 05 0f a1 62 79 65");
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
    assert.equal(toHex(peer.written), "88 05 0f a2 77 68 79");
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
    assert.equal(toHex(peer.written), "88 00");
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
      peer.send(concatAll([
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
    assert.equal(frameText(frames[0]), "echo me");
    assert.deepEqual(parseClose(frames[2].payload), { code: 1000, reason: "" });
    assert.equal(
      toHex(peer.written),
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
      peer.send(concatAll([
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
    assert.equal(frameText(frames[0]), "echo me");
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

// ───────────────────────────── the end of input, and the close timer ─────────────────────────────

describe("WebSocketDriver: a peer whose input ends without a closing handshake", () => {
  /** A transport whose end settles at once (`WRITTEN`, as a Node socket closed on the spot) or never. */
  class EndingTransport implements Transport {
    sink: TransportSink | null = null;
    ended = 0;
    readonly endsAtOnce: boolean;
    constructor(endsAtOnce: boolean) {
      this.endsAtOnce = endsAtOnce;
    }
    start(sink: TransportSink): void {
      this.sink = sink;
    }
    write(): Promise<void> {
      return WRITTEN;
    }
    end(): Promise<void> {
      this.ended++;
      return this.endsAtOnce ? WRITTEN : new Promise<void>(() => {});
    }
    abort(): void {}
  }

  /** Runs `body` counting the timers set with `delay` ms. */
  async function countingTimers(delay: number, body: () => Promise<void>): Promise<number> {
    const original = globalThis.setTimeout;
    let count = 0;
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      if (ms === delay) count++;
      return original(fn, ms);
    }) as typeof setTimeout;
    try {
      await body();
    } finally {
      globalThis.setTimeout = original;
    }
    return count;
  }

  it("an output that ended on the spot closes (1006) without a close timer; one whose end hangs is bounded by it", async () => {
    const closeTimeout = 4321;
    for (const endsAtOnce of [true, false]) {
      const transport = new EndingTransport(endsAtOnce);
      const driver = new WebSocketDriver("server", { closeTimeout: endsAtOnce ? closeTimeout : 150, heartbeat: false });
      const closed = new Promise<number>((resolve) => driver.once("close", (code: number) => resolve(code)));
      const timers = await countingTimers(endsAtOnce ? closeTimeout : 150, async () => {
        driver.attach(transport);
        await tick();
        transport.sink!.end();
      });
      const code = await withTimeout(closed, "close", 5_000);
      assert.equal(code, 1006);
      assert.equal(transport.ended, 1);
      assert.equal(timers, endsAtOnce ? 0 : 1, endsAtOnce ? "no close timer" : "the close timer");
      assert.equal(driver.readyState, "closed");
    }
  });
});

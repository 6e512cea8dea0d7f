/**
 * The driver's events (src/driver/driver.ts, src/driver/emitter.ts): a
 * listener that throws with rethrowListenerErrors (safety_test.ts has the
 * default), and the EventEmitter itself.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { WebSocketDriver } from "../../src/driver/driver.ts";
import { EventEmitter } from "../../src/driver/emitter.ts";
import {
  captureUncaught,
  closePayload,
  concatAll,
  CountingTransport,
  encodeFrame,
  frameText,
  memoryPair,
  ms,
  OP,
  RawPeer,
  TEST_KEY,
  withTimeout,
} from "./_pair.ts";

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
      assert.equal(frameText(frames[2]), "still works");
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

  it("one listener, then two, then one again and none: every verb sees the same list", () => {
    // One listener is kept without an array (an idle connection's usual case): the verbs must not tell.
    const e = new EventEmitter<Events>();
    const got: string[] = [];
    const first = (n: number) => got.push(`first:${n}`);
    const second = (n: number) => got.push(`second:${n}`);
    e.on("a", first);
    assert.equal(e.listenerCount("a"), 1);
    assert.deepEqual(e.listeners("a"), [first]);
    e.emit("a", 1);
    e.on("a", second);
    assert.equal(e.listenerCount("a"), 2);
    assert.deepEqual(e.listeners("a"), [first, second]);
    e.emit("a", 2);
    e.off("a", first);
    assert.deepEqual(e.listeners("a"), [second]);
    e.emit("a", 3);
    e.off("a", first); // not there any more: nothing happens
    e.off("a", second);
    assert.equal(e.listenerCount("a"), 0);
    assert.equal(e.emit("a", 4), false);
    e.once("a", first);
    assert.deepEqual(e.listeners("a"), [first], "a once listener is listed as itself");
    e.off("a", first);
    assert.equal(e.emit("a", 5), false, "a once listener removed before it fired");
    e.once("a", second);
    e.emit("a", 6);
    e.emit("a", 7);
    assert.deepEqual(got, ["first:1", "first:2", "second:2", "second:3", "second:6"]);
    // A lone listener that throws reaches listenerError like any other.
    const errors: unknown[] = [];
    class Catching extends EventEmitter<Events> {
      protected override listenerError(error: unknown): void {
        errors.push(error);
      }
    }
    const c = new Catching().on("b", () => {
      throw new Error("lone");
    });
    assert.equal(c.emit("b"), true);
    assert.equal((errors[0] as Error).message, "lone");
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
      concatAll([
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

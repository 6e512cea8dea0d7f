// A connection survives its own listeners and its peer: a listener's exception
// closes only that connection (1011), sends once closing return false, and a
// peer that sends without reading our answers is not read any more.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ListenerError, WebSocketDriver } from "../../mod.ts";
import type { DriverOptions } from "../../mod.ts";
import {
  captureUncaught,
  closePayload,
  concatAll,
  CountingTransport,
  delay,
  encodeFrame,
  OP,
  parseClose,
  record,
  TEST_KEY,
  tick,
  withTimeout,
} from "./_pair.ts";

async function open(options?: DriverOptions) {
  const driver = new WebSocketDriver("server", options);
  const rec = record(driver);
  const transport = new CountingTransport();
  driver.attach(transport);
  await rec.opened;
  return { driver, rec, transport };
}

const clientText = (s: string) => encodeFrame(OP.TEXT, s, { mask: TEST_KEY });

/** Runs `body` with console.error collected instead of printed. */
async function quietErrors(body: () => Promise<void>): Promise<unknown[][]> {
  const logged: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => logged.push(args);
  try {
    await body();
  } finally {
    console.error = original;
  }
  return logged;
}

describe("a listener's exception closes only its connection (1011)", () => {
  it("a throwing message listener: the other listeners run, error gets a ListenerError, 1011 is sent, nothing is uncaught", async () => {
    const { driver, rec, transport } = await open();
    const seen: string[] = [];
    const bug = new Error("bug in the handler");
    driver.on("message", () => {
      throw bug;
    });
    driver.on("message", (m) => seen.push(m as string));
    const caught = await captureUncaught(async () => {
      transport.push(clientText("hello"));
      await tick();
    });
    assert.deepEqual(caught, [], "nothing escapes");
    assert.deepEqual(seen, ["hello"], "the next listener still ran");
    const errors = rec.events.filter((e) => e[0] === "error").map((e) => e[1]);
    assert.equal(errors.length, 1);
    const error = errors[0] as ListenerError;
    assert.ok(error instanceof ListenerError);
    assert.equal(error.type, "WSD_ERR_LISTENER");
    assert.equal(error.code, 1011);
    assert.equal(error.event, "message");
    assert.equal(error.cause, bug);
    assert.equal(driver.readyState, "closing");
    const close = transport.frames().find((f) => f.opcode === OP.CLOSE)!;
    assert.deepEqual(parseClose(close.payload), { code: 1011, reason: "Internal error" });
    assert.equal(driver.send("after"), false, "sends now return false");
    transport.push(encodeFrame(OP.CLOSE, closePayload(1011), { mask: TEST_KEY }));
    transport.endInput();
    assert.deepEqual(await withTimeout(rec.closed, "close"), [1011, ""]);
  });

  it("an async listener whose promise rejects is treated the same", async () => {
    const { driver, rec, transport } = await open();
    driver.on("message", async () => {
      await delay(1);
      throw new Error("async bug");
    });
    const caught = await captureUncaught(async () => {
      transport.push(clientText("x"));
      await delay(20);
    });
    assert.deepEqual(caught, []);
    const error = rec.events.find((e) => e[0] === "error")?.[1] as ListenerError;
    assert.ok(error instanceof ListenerError);
    assert.equal((error.cause as Error).message, "async bug");
    assert.equal(driver.readyState, "closing");
    driver.terminate();
  });

  it("open and pong-callback exceptions close with 1011 too", async () => {
    const driver = new WebSocketDriver("server");
    const rec = record(driver);
    driver.on("open", () => {
      throw new Error("open bug");
    });
    const transport = new CountingTransport();
    const logged = await quietErrors(async () => {
      driver.attach(transport);
      await rec.opened;
      await tick();
    });
    assert.deepEqual(logged, [], "an error listener heard it: nothing on stderr");
    assert.equal(driver.readyState, "closing");
    assert.equal((rec.events.find((e) => e[0] === "error")?.[1] as ListenerError).event, "open");
    driver.terminate();

    const second = await open();
    second.driver.sendPing("p", () => {
      throw new Error("pong bug");
    });
    await tick();
    second.transport.push(encodeFrame(OP.PONG, "p", { mask: TEST_KEY }));
    await tick();
    assert.equal(second.driver.readyState, "closing");
    assert.equal((second.rec.events.find((e) => e[0] === "error")?.[1] as ListenerError).event, "pong");
    second.driver.terminate();
  });

  it("with no error listener, the exception is written to stderr; an error listener that throws is not called again", async () => {
    const driver = new WebSocketDriver("server");
    const transport = new CountingTransport();
    driver.attach(transport);
    await new Promise<void>((resolve) => driver.once("open", resolve));
    driver.on("message", () => {
      throw new Error("unheard");
    });
    const logged = await quietErrors(async () => {
      transport.push(clientText("x"));
      await tick();
    });
    assert.equal(logged.length, 1);
    assert.match(String(logged[0][0]), /"message" listener threw: unheard; the connection was closed with 1011/);

    const second = await open();
    let calls = 0;
    second.driver.on("error", () => {
      calls++;
      throw new Error("the error listener is buggy too");
    });
    second.driver.on("message", () => {
      throw new Error("first");
    });
    const logged2 = await quietErrors(async () => {
      second.transport.push(clientText("x"));
      await tick();
    });
    assert.equal(calls, 1, "no loop");
    assert.equal(logged2.length, 1, "the error listener's own exception went to stderr");
    assert.match(String(logged2[0][0]), /"error" listener threw/);
    driver.terminate();
    second.driver.terminate();
  });

  it("rethrowListenerErrors: true rethrows from a microtask and leaves the connection open", async () => {
    const { driver, transport } = await open({ rethrowListenerErrors: true });
    const bug = new Error("rethrown");
    driver.on("message", () => {
      throw bug;
    });
    const caught = await captureUncaught(async () => {
      transport.push(clientText("x"));
      await tick();
    });
    assert.deepEqual(caught, [bug]);
    assert.equal(driver.readyState, "open");
    driver.terminate();
  });
});

describe("a peer that does not read our answers is not read any more", () => {
  it("a ping flood whose pongs wait for the socket pauses the transport past outgoingHighWaterMark, and resumes once they are written", async () => {
    const { driver, transport } = await open({ outgoingHighWaterMark: 4096 });
    transport.hold = true; // the peer reads nothing
    const ping = encodeFrame(OP.PING, new Uint8Array(125), { mask: TEST_KEY });
    let pushed = 0;
    while (!transport.paused && pushed < 1000) {
      transport.push(concatAll([ping, ping, ping, ping]));
      pushed += 4;
    }
    assert.ok(transport.paused, "reading stopped");
    assert.ok(pushed * 127 <= 4096 + 4 * 131, `stopped after ${pushed} pings`);
    assert.ok(driver.bufferedAmount <= 4096 + 4 * 131, `${driver.bufferedAmount} bytes waiting`);
    transport.release();
    await tick();
    assert.equal(transport.paused, false, "read again once the pongs were written");
    assert.equal(transport.frames().filter((f) => f.opcode === OP.PONG).length, pushed, "every ping answered");
    driver.terminate();
  });

  it("an echo of messages nobody reads pauses too; the application's own sends do not", async () => {
    const { driver, transport } = await open({ outgoingHighWaterMark: 64 * 1024 });
    transport.hold = true;
    // The application's own backlog (a broadcast, a big upload) does not stop
    // reading: two peers of ours that both send a lot must not both wait.
    for (let i = 0; i < 10; i++) driver.send(new Uint8Array(32 * 1024));
    await tick();
    assert.ok(driver.bufferedAmount > 64 * 1024);
    assert.equal(transport.pauses, 0, "not paused by the application's sends");
    driver.on("message", (m) => driver.send(m));
    const message = encodeFrame(OP.BINARY, new Uint8Array(16 * 1024), { mask: TEST_KEY });
    let pushed = 0;
    while (!transport.paused && pushed < 100) {
      transport.push(message);
      pushed++;
    }
    assert.ok(transport.paused, "paused by the echoes");
    assert.ok(pushed <= 6, `after ${pushed} echoes of 16 KiB`);
    transport.release();
    await tick();
    assert.equal(transport.paused, false);
    driver.terminate();
  });

  it("the message iterator's pause and the answers' pause are independent reasons", async () => {
    const { driver, transport } = await open({ outgoingHighWaterMark: 1024, incomingHighWaterMark: 1024 });
    const messages = driver[Symbol.asyncIterator]();
    transport.hold = true;
    driver.on("message", (m) => driver.send(m));
    transport.push(encodeFrame(OP.BINARY, new Uint8Array(2000), { mask: TEST_KEY }));
    assert.equal(transport.paused, true);
    transport.release(); // answers written; the iterator still holds 2000 bytes
    await tick();
    assert.equal(transport.paused, true, "still paused for the iterator");
    await messages.next();
    assert.equal(transport.paused, false);
    await messages.return!();
    driver.terminate();
  });
});

describe("sendQueuePolicy: close", () => {
  it("closes with 1008 and later sends return false, never throw", async () => {
    const { driver, rec, transport } = await open({ outgoingHighWaterMark: 1024, sendQueuePolicy: "close" });
    transport.hold = true;
    driver.on("message", (m) => driver.send(m));
    const caught = await captureUncaught(async () => {
      for (let i = 0; i < 20; i++) transport.push(encodeFrame(OP.BINARY, new Uint8Array(600), { mask: TEST_KEY }));
      assert.equal(driver.send("more"), false);
      await tick();
    });
    assert.deepEqual(caught, []);
    transport.release();
    await tick();
    const close = transport.frames().find((f) => f.opcode === OP.CLOSE)!;
    assert.equal(parseClose(close.payload).code, 1008);
    assert.equal(rec.names().includes("error"), false, "not a listener error");
    driver.terminate();
  });
});

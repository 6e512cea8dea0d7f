// readable / writable streams, drained() and the drain event.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CloseError, WebSocketDriver } from "../../src/driver/driver.ts";
import { CountingTransport, delay, memoryPair, ms, withTimeout } from "./_pair.ts";

describe("ws.readable", () => {
  it("yields every message with its type, and closes on a clean close", async () => {
    const { server, client, serverEvents, clientEvents } = memoryPair();
    const reader = client.readable.getReader();
    await Promise.all([serverEvents.opened, clientEvents.opened]);
    server.send("text");
    server.send(new Uint8Array([1, 2, 3]));
    server.closeConnection(1000, "bye");
    assert.deepEqual(await reader.read(), { value: "text", done: false });
    assert.deepEqual(await reader.read(), { value: new Uint8Array([1, 2, 3]), done: false });
    assert.deepEqual(await withTimeout(reader.read(), "the end", 2000), { value: undefined, done: true });
    assert.equal(client.readable, client.readable, "one stream per connection");
  });

  it("errors with a CloseError on an abnormal close", async () => {
    const { server, client, serverEvents, clientEvents } = memoryPair();
    const reader = client.readable.getReader();
    await Promise.all([serverEvents.opened, clientEvents.opened]);
    server.closeConnection(4001, "nope");
    await assert.rejects(
      withTimeout(reader.read(), "the error", 2000),
      (e: unknown) => e instanceof CloseError && e.code === 4001,
    );
  });
});

describe("ws.writable", () => {
  it("sends each chunk in order, keeps types, and closing it closes the connection with 1000", async () => {
    const { server, client, serverEvents, clientEvents } = memoryPair();
    const chunks: Array<string | Uint8Array> = ["a", new Uint8Array([9]), "b"];
    await withTimeout(
      new ReadableStream<string | Uint8Array>({
        start(controller) {
          for (const c of chunks) controller.enqueue(c);
          controller.close();
        },
      }).pipeTo(client.writable),
      "pipeTo",
      2000,
    );
    assert.deepEqual(serverEvents.messages(), chunks);
    assert.deepEqual(await serverEvents.closed, [1000, ""]);
    assert.deepEqual(await clientEvents.closed, [1000, ""]);
    assert.equal(server.readyState, "closed");
  });

  it("aborting it closes with 1011", async () => {
    const { client, serverEvents, clientEvents } = memoryPair();
    await clientEvents.opened;
    await client.writable.abort(new Error("stop"));
    assert.deepEqual(await withTimeout(serverEvents.closed, "close", 2000), [1011, "The writable stream was aborted"]);
  });
});

describe("drained() and the drain event", () => {
  it("waits while bufferedAmount is over outgoingHighWaterMark, and drain fires once it falls back", async () => {
    const transport = new CountingTransport();
    transport.hold = true;
    const driver = new WebSocketDriver("server", { outgoingHighWaterMark: 1000 });
    const drains: number[] = [];
    driver.on("drain", () => drains.push(driver.bufferedAmount));
    driver.attach(transport);
    await driver.opened;
    driver.send(new Uint8Array(600));
    await driver.drained(); // under the mark: at once
    driver.send(new Uint8Array(600));
    assert.ok(driver.bufferedAmount > 1000);
    let done = false;
    const waiting = driver.drained().then(() => done = true);
    await delay(ms(20));
    assert.equal(done, false, "still over the mark");
    assert.deepEqual(drains, []);
    transport.release();
    await withTimeout(waiting, "drained", 2000);
    await delay(ms(10));
    assert.equal(driver.bufferedAmount, 0);
    assert.equal(drains.length, 1, "one drain per time over the mark");
    assert.ok(drains[0] <= 1000, `drain came at ${drains[0]} bytes`);
    driver.terminate();
  });

  it("resolves when the connection closes while full", async () => {
    const transport = new CountingTransport();
    transport.hold = true;
    const driver = new WebSocketDriver("server", { outgoingHighWaterMark: 10 });
    driver.attach(transport);
    await driver.opened;
    driver.send(new Uint8Array(100));
    const waiting = driver.drained();
    driver.terminate();
    await withTimeout(waiting, "drained", 2000);
  });

  it("rejects a bad outgoingHighWaterMark or incomingHighWaterMark", () => {
    assert.throws(() => new WebSocketDriver("server", { outgoingHighWaterMark: -1 }), RangeError);
    assert.throws(() => new WebSocketDriver("server", { incomingHighWaterMark: 1.5 }), RangeError);
  });
});

describe("sendQueuePolicy: what a send does while over outgoingHighWaterMark", () => {
  async function full(policy: "buffer" | "drop" | "close" | "throw") {
    const transport = new CountingTransport();
    transport.hold = true;
    const driver = new WebSocketDriver("server", { outgoingHighWaterMark: 100, sendQueuePolicy: policy });
    driver.on("error", () => {});
    driver.attach(transport);
    await driver.opened;
    assert.equal(driver.send(new Uint8Array(200)), true, "the first send is under the mark");
    return { driver, transport };
  }

  it('"buffer" (the default) queues anyway', async () => {
    const { driver } = await full("buffer");
    assert.equal(driver.send("more"), true);
    assert.ok(driver.bufferedAmount > 200);
    driver.terminate();
  });

  it('"drop" drops the message and returns false', async () => {
    const { driver, transport } = await full("drop");
    const before = driver.bufferedAmount;
    assert.equal(driver.send("dropped"), false);
    assert.equal(driver.bufferedAmount, before);
    transport.release();
    await driver.drained();
    assert.equal(driver.send("after"), true, "sends again once drained");
    driver.terminate();
  });

  it('"close" closes with 1008', async () => {
    const { driver, transport } = await full("close");
    assert.equal(driver.send("too much"), false);
    assert.equal(driver.readyState, "closing");
    transport.release();
    await delay(ms(10));
    const closeFrame = transport.frames().find((f) => f.opcode === 0x8)!;
    assert.deepEqual([...closeFrame.payload.subarray(0, 2)], [0x03, 0xf0], "code 1008");
    driver.terminate();
  });

  it('"throw" throws a RangeError that says what to do', async () => {
    const { driver } = await full("throw");
    assert.throws(() => driver.send("x"), (e: unknown) => e instanceof RangeError && /drained\(\)/.test(e.message));
    driver.terminate();
  });

  it("an unknown policy is a TypeError", () => {
    // deno-lint-ignore no-explicit-any
    assert.throws(() => new WebSocketDriver("server", { sendQueuePolicy: "wait" as any }), TypeError);
  });
});

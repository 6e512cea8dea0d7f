// The driver over the runtime adapters' transports (loopback TCP, the binding
// in use: native by default, WSD_BINDING=streams for the Web Streams one):
// messages of every length class both ways, the closing handshake with its
// half-closes, a consumer that falls behind (the driver pauses the transport
// and TCP slows the sender), and a torn-down peer.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { WebSocketDriver } from "../../src/driver/driver.ts";
import { binding, runtimeName } from "../../src/runtime/mod.ts";
import { driverPairs, pattern, sameBytes } from "./_drivers.ts";
import { delay, ms, withTimeout } from "../driver/_pair.ts";

const T = { timeout: 30_000 };

function closedOf(driver: WebSocketDriver): Promise<[number, string]> {
  return new Promise((resolve) => driver.once("close", (code, reason) => resolve([code, reason])));
}

describe(`the driver over ${runtimeName}'s transports (binding: ${binding})`, () => {
  const pair = driverPairs();

  it("echoes text and binary of every length class, in order, then closes with 1000 on both sides", T, async () => {
    const { server, client } = await pair();
    server.on("message", (m) => server.send(m));
    const got: Array<string | Uint8Array> = [];
    const all = new Promise<void>((resolve) =>
      client.on("message", (m) => {
        got.push(m);
        if (got.length === sent.length) resolve();
      })
    );
    const sent: Array<string | Uint8Array> = [];
    for (const size of [0, 1, 125, 126, 65535, 65536, 200_000, 1 << 20, 16 << 20]) {
      sent.push(pattern(size, size));
      if (size <= 1 << 20) sent.push("é".repeat(size >>> 1));
    }
    for (const m of sent) client.send(m);
    await withTimeout(all, "every echo", 20_000);
    for (let i = 0; i < sent.length; i++) {
      const a = sent[i], b = got[i];
      if (typeof a === "string") assert.equal(b, a, `message ${i}`);
      else assert.ok(b instanceof Uint8Array && sameBytes(a, b), `message ${i}`);
    }
    const closed = [closedOf(server), closedOf(client)];
    client.closeConnection("bye", 1000);
    assert.deepEqual(await withTimeout(Promise.all(closed), "both closes"), [[1000, "bye"], [1000, "bye"]]);
  });

  it("many small messages sent in one tick arrive whole (corked writes)", T, async () => {
    const { server, client } = await pair();
    let count = 0;
    const done = new Promise<void>((resolve) =>
      server.on("message", (m) => {
        assert.equal(m, `message ${count}`);
        if (++count === 10_000) resolve();
      })
    );
    for (let i = 0; i < 10_000; i++) client.send(`message ${i}`);
    await withTimeout(done, "10 000 messages");
    client.closeConnection();
    await withTimeout(closedOf(server), "the close");
  });

  it("a consumer that falls behind pauses the transport: the sender is held back, nothing is lost", T, async () => {
    const MESSAGE = 1 << 20, COUNT = 48, HWM = 2 << 20;
    const { server, client } = await pair({ server: { incomingHighWaterMark: HWM } });
    const messages = server[Symbol.asyncIterator]();
    let sent = 0;
    const producer = (async () => {
      const payload = new Uint8Array(MESSAGE);
      for (let i = 0; i < COUNT; i++) {
        payload[0] = i;
        client.send(payload);
        sent++;
        await client.drained();
      }
    })();
    await delay(ms(300));
    assert.ok(server.incomingBufferedAmount <= HWM + MESSAGE, `held ${server.incomingBufferedAmount} bytes`);
    assert.ok(sent < COUNT, `the sender was held back (sent ${sent} of ${COUNT})`);
    let maxHeld = 0;
    for (let i = 0; i < COUNT; i++) {
      const { value, done } = await withTimeout(messages.next(), `message ${i}`);
      assert.equal(done, false);
      assert.equal((value as Uint8Array)[0], i, `message ${i} in order`);
      maxHeld = Math.max(maxHeld, server.incomingBufferedAmount);
    }
    await withTimeout(producer, "the producer");
    assert.ok(maxHeld <= HWM + MESSAGE, `the consumer held at most ${maxHeld} bytes`);
    await messages.return!();
    client.closeConnection();
    await withTimeout(closedOf(server), "the close");
  });

  it("a peer torn down mid-connection: the other side closes with 1006", T, async () => {
    const { server, client } = await pair();
    const closed = closedOf(server);
    client.send("before");
    await new Promise<void>((resolve) => server.once("message", () => resolve()));
    client.terminate();
    const [code] = await withTimeout(closed, "the server's close");
    assert.equal(code, 1006);
  });
});

// Async iteration over messages, and the read backpressure it applies.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CloseError, WebSocketDriver } from "../../src/driver/driver.ts";
import { delay, memoryPair, ms, OP, RawPeer, withTimeout } from "./_pair.ts";

describe("for await … of ws", () => {
  it("yields 10 000 messages in order with their types", async () => {
    const { server, client, serverEvents, clientEvents } = memoryPair();
    const messages = client[Symbol.asyncIterator]();
    await Promise.all([serverEvents.opened, clientEvents.opened]);
    for (let i = 0; i < 10_000; i++) server.send(i % 3 === 0 ? new Uint8Array([i & 0xff, i >> 8]) : `m${i}`);
    server.closeConnection(1000, "done");
    const got: Array<string | Uint8Array> = [];
    for await (const message of { [Symbol.asyncIterator]: () => messages }) got.push(message);
    assert.equal(got.length, 10_000);
    for (let i = 0; i < 10_000; i++) {
      if (i % 3 === 0) assert.deepEqual(got[i], new Uint8Array([i & 0xff, i >> 8]), `message ${i}`);
      else assert.equal(got[i], `m${i}`, `message ${i}`);
    }
    assert.deepEqual(await clientEvents.closed, [1000, "done"]);
  });

  it("ends normally on 1001 and throws a CloseError on any other code", async () => {
    for (const [code, clean] of [[1001, true], [4000, false], [1011, false]] as const) {
      const peer = new RawPeer("client");
      await peer.rec.opened;
      const loop = (async () => {
        const got = [];
        for await (const m of peer.driver) got.push(m);
        return got;
      })();
      peer.sendFrame(OP.TEXT, "last");
      peer.sendFrame(OP.CLOSE, new Uint8Array([code >> 8, code & 0xff, 0x62, 0x79, 0x65]));
      peer.endInput();
      if (clean) {
        assert.deepEqual(await withTimeout(loop, "the loop", 2000), ["last"]);
      } else {
        await assert.rejects(withTimeout(loop, "the loop", 2000), (e: unknown) => {
          assert.ok(e instanceof CloseError);
          assert.equal(e.code, code);
          assert.equal(e.reason, "bye");
          return true;
        });
      }
    }
  });

  it("a dropped connection (1006) throws a CloseError", async () => {
    const peer = new RawPeer("server");
    await peer.rec.opened;
    const loop = (async () => {
      for await (const _ of peer.driver) { /* nothing */ }
    })();
    peer.endInput();
    await assert.rejects(
      withTimeout(loop, "the loop", 2000),
      (e: unknown) => e instanceof CloseError && e.code === 1006,
    );
  });

  it("break leaves the connection open, and a new loop can start", async () => {
    const peer = new RawPeer("client");
    await peer.rec.opened;
    peer.sendFrame(OP.TEXT, "one");
    for await (const m of peer.driver) {
      assert.equal(m, "one");
      break;
    }
    assert.equal(peer.driver.readyState, "open");
    assert.equal(peer.frames().length, 0, "nothing was sent");
    const again = peer.driver[Symbol.asyncIterator]();
    peer.sendFrame(OP.TEXT, "two");
    assert.deepEqual(await again.next(), { value: "two", done: false });
    await again.return!();
    peer.driver.terminate();
  });

  it("two loops at once are a TypeError", () => {
    const driver = new WebSocketDriver("server");
    driver[Symbol.asyncIterator]();
    assert.throws(() => driver[Symbol.asyncIterator](), TypeError);
  });

  it("a consumer that falls behind stops the reading: the sender's writes wait, nothing is lost", async () => {
    const size = 10 * 1024;
    const { server, client, serverEvents, clientEvents } = memoryPair({
      client: { incomingHighWaterMark: 64 * 1024 },
    });
    const messages = client[Symbol.asyncIterator]();
    await Promise.all([serverEvents.opened, clientEvents.opened]);
    for (let i = 0; i < 100; i++) server.send(new Uint8Array(size).fill(i));
    await delay(ms(100));
    // The client holds at most about the high-water mark (plus what was in
    // flight); the rest waits on the server's side.
    assert.ok(server.bufferedAmount >= 20 * size, `the server still holds ${server.bufferedAmount} bytes`);
    for (let i = 0; i < 100; i++) {
      const { value, done } = await withTimeout(messages.next(), `message ${i}`, 2000);
      assert.equal(done, false);
      assert.equal((value as Uint8Array).length, size);
      assert.equal((value as Uint8Array)[0], i, `message ${i} in order`);
    }
    await delay(ms(20));
    assert.equal(server.bufferedAmount, 0);
    await messages.return!();
    client.closeConnection();
    await clientEvents.closed;
  });

  it("events keep flowing to listeners, and nobody iterating means no buffering", async () => {
    const { server, client, serverEvents, clientEvents } = memoryPair({ client: { incomingHighWaterMark: 1024 } });
    await Promise.all([serverEvents.opened, clientEvents.opened]);
    for (let i = 0; i < 50; i++) server.send(new Uint8Array(1000));
    const got = await withTimeout(clientEvents.nextMessages(50), "50 messages", 2000);
    assert.equal(got.length, 50, "not paused: nobody iterates");
    client.closeConnection();
    await clientEvents.closed;
  });
});

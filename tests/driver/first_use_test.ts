/**
 * State made on first use: a driver makes its protocol state, input and
 * output only when something needs them (sends queued before the transport,
 * the transport itself), and its heartbeat when the connection opens; the
 * heartbeats' shared timer is moved only when an earlier one is due. None of
 * this may show: a driver made long before its transport, or used after an
 * idle period, behaves as one made and used at once.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { WebSocketDriver } from "../../src/driver/driver.ts";
import { closePayload, delay, memoryPair, ms, OP, parseClose, RawPeer, withTimeout } from "./_pair.ts";

describe("state made on first use", () => {
  it("a driver attached long after it was made: sends queued before go first, then the exchange, then 1000", async () => {
    const peer = new RawPeer("server", undefined, null, false);
    peer.driver.send("early text");
    peer.driver.send(new Uint8Array([1, 2, 3]));
    assert.ok(peer.driver.bufferedAmount > 0, "queued bytes are counted before the transport");
    assert.equal(peer.driver.readyState, "connecting");
    await delay(ms(100));
    peer.attach();
    await peer.rec.opened;
    await peer.until(() => peer.frames().length === 2, "the queued sends");
    const [text, binary] = peer.frames();
    assert.equal(text.opcode, OP.TEXT);
    assert.equal(new TextDecoder().decode(text.payload), "early text");
    assert.equal(binary.opcode, OP.BINARY);
    assert.deepEqual([...binary.payload], [1, 2, 3]);
    peer.sendFrame(OP.TEXT, "after");
    await peer.until(() => peer.rec.names().includes("message"), "the message");
    peer.sendFrame(OP.CLOSE, closePayload(1000, "bye"));
    assert.deepEqual(await withTimeout(peer.rec.closed, "close"), [1000, "bye"]);
    const close = peer.frames().find((f) => f.opcode === OP.CLOSE)!;
    assert.deepEqual(parseClose(close.payload), { code: 1000, reason: "bye" });
    assert.deepEqual(peer.rec.names(), ["open", "message", "close"]);
  });

  it("a driver closed or terminated before it was ever attached reports 1006 once, and never writes", async () => {
    for (const end of ["closeConnection", "terminate"] as const) {
      const driver = new WebSocketDriver("server");
      const closed = new Promise<[number, string]>((resolve) => driver.on("close", (c, r) => resolve([c, r])));
      driver[end]();
      const [code] = await withTimeout(closed, `close after ${end}`);
      assert.equal(code, 1006);
      assert.equal(driver.readyState, "closed");
      assert.equal(driver.bufferedAmount, 0);
      assert.equal(driver.send("late"), false);
    }
  });

  it("after an idle period: messages both ways, a violation still closes with its own code (1002)", async () => {
    const { client, server, serverEvents, clientEvents } = memoryPair();
    await Promise.all([serverEvents.opened, clientEvents.opened]);
    await delay(ms(150));
    const echoed = new Promise<unknown>((resolve) => client.once("message", resolve));
    server.on("message", (m) => server.send(m));
    client.send("still here");
    assert.equal(await withTimeout(echoed, "the echo"), "still here");
    client.closeConnection(4001, "done");
    assert.deepEqual(await withTimeout(serverEvents.closed, "server close"), [4001, "done"]);

    const peer = new RawPeer("server");
    await peer.rec.opened;
    await delay(ms(150));
    peer.sendFrame(OP.TEXT, "unmasked", { mask: null }); // RFC 6455 §5.1: a client must mask
    assert.deepEqual((await withTimeout(peer.rec.closed, "close"))[0], 1002);
    assert.deepEqual(peer.rec.names(), ["open", "error", "close"]);
  });

  it("the heartbeat starts at open: a connection idle from the start is pinged, and one that answers stays open", async () => {
    const interval = ms(50);
    const peer = new RawPeer("server", { heartbeat: { interval, timeout: ms(2000) } });
    await peer.rec.opened;
    for (let i = 0; i < 2; i++) {
      await peer.until(() => peer.frames().filter((f) => f.opcode === OP.PING).length > i, `ping ${i + 1}`, ms(3000));
      const ping = peer.frames().filter((f) => f.opcode === OP.PING)[i];
      peer.sendFrame(OP.PONG, ping.payload);
    }
    assert.equal(peer.driver.readyState, "open");
    peer.driver.terminate();
    await peer.rec.closed;
  });

  it("the shared heartbeat timer: a short interval opened after a long one still pings on its own time", async () => {
    const long = new RawPeer("server", { heartbeat: { interval: ms(20_000), timeout: ms(20_000) } });
    await long.rec.opened;
    const interval = ms(60);
    const short = new RawPeer("server", { heartbeat: { interval, timeout: ms(5000) } });
    await short.rec.opened;
    const start = performance.now();
    await short.until(() => short.frames().some((f) => f.opcode === OP.PING), "the short interval's ping", ms(3000));
    const after = performance.now() - start;
    assert.ok(after < interval + ms(1500), `pinged after ${after} ms for an interval of ${interval}`);
    assert.equal(long.frames().filter((f) => f.opcode === OP.PING).length, 0);
    // The long one leaves first, then the short one: the timer must not
    // outlive them (Node's runner would not exit).
    long.driver.terminate();
    short.driver.terminate();
    await Promise.all([long.rec.closed, short.rec.closed]);
  });

  it("connections coming and going around a pending heartbeat do not delay it", async () => {
    const interval = ms(80);
    const watched = new RawPeer("server", { heartbeat: { interval, timeout: ms(5000) } });
    await watched.rec.opened;
    const start = performance.now();
    for (let i = 0; i < 20; i++) {
      const passing = new RawPeer("server", { heartbeat: { interval: ms(40 + i), timeout: ms(5000) } });
      await passing.rec.opened;
      passing.driver.terminate();
      await passing.rec.closed;
    }
    await watched.until(() => watched.frames().some((f) => f.opcode === OP.PING), "the ping", ms(3000));
    const after = performance.now() - start;
    assert.ok(after < interval + ms(1500), `pinged after ${after} ms for an interval of ${interval}`);
    watched.driver.terminate();
    await watched.rec.closed;
  });
});

// terminate(), the opened/closed promises, ping() with its round-trip time, and
// the heartbeat (keepalive with dead-peer detection).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { WebSocketDriver } from "../../src/driver/driver.ts";
import type { ProtocolError } from "../../src/protocol/errors.ts";
import { delay, memoryPair, ms, OP, RawPeer, withTimeout } from "./_pair.ts";

describe("terminate()", () => {
  it("drops an open connection at once: close 1006 on both sides, no close frame", async () => {
    const peer = new RawPeer("server");
    await peer.rec.opened;
    peer.driver.terminate();
    assert.deepEqual(await withTimeout(peer.rec.closed, "the event", 1000), [1006, ""]);
    assert.equal(peer.driver.readyState, "closed");
    assert.equal(peer.frames().length, 0, "no close frame was written");
    assert.ok(peer.outputAborted || peer.inputCancelled, "the transport was torn down");
  });

  it("the other end of a terminated pair sees 1006", async () => {
    const { server, client, serverEvents, clientEvents } = memoryPair();
    await Promise.all([serverEvents.opened, clientEvents.opened]);
    client.terminate();
    assert.deepEqual(await withTimeout(clientEvents.closed, "the event", 1000), [1006, ""]);
    assert.deepEqual(await withTimeout(serverEvents.closed, "the event", 1000), [1006, ""]);
    assert.equal(server.readyState, "closed");
  });

  it("before open: close 1006, never open; twice is harmless", async () => {
    const driver = new WebSocketDriver("client");
    driver.terminate();
    driver.terminate();
    assert.equal(driver.readyState, "closed");
    assert.deepEqual(await withTimeout(driver.closed, "the event", 1000), {
      code: 1006,
      reason: "Terminated before the connection opened",
    });
  });
});

describe("opened and closed promises", () => {
  it("opened resolves on open, closed resolves with the close code and reason", async () => {
    const { server, client } = memoryPair();
    await withTimeout(Promise.all([server.opened, client.opened]), "the event", 1000);
    client.closeConnection(4001, "bye");
    assert.deepEqual(await withTimeout(client.closed, "the event", 1000), { code: 4001, reason: "bye" });
    assert.deepEqual(await withTimeout(server.closed, "the event", 1000), { code: 4001, reason: "bye" });
  });

  it("opened rejects when the connection closes before it opened, and an unawaited rejection is harmless", async () => {
    const driver = new WebSocketDriver("server");
    driver.closeConnection();
    await assert.rejects(withTimeout(driver.opened, "the event", 1000), /closed before it opened \(1006/);
    // Another one nobody awaits: the test runner would report an unhandled rejection.
    new WebSocketDriver("client").closeConnection();
    await delay(ms(20));
  });
});

describe("opened and closed asked for only after the events (they are made on first use)", () => {
  it("after open and close: opened is resolved, closed has the code and reason, both stay the same promise", async () => {
    const { server, client } = memoryPair();
    await new Promise<void>((resolve) => client.once("open", () => resolve()));
    client.closeConnection(4002, "later");
    await new Promise<void>((resolve) => server.once("close", () => resolve()));
    await withTimeout(server.opened, "the event", 1000);
    assert.equal(server.opened, server.opened);
    assert.deepEqual(await withTimeout(server.closed, "the event", 1000), { code: 4002, reason: "later" });
    assert.equal(server.closed, server.closed);
  });

  it("after a close before open: opened rejects with the close code, closed resolves", async () => {
    const driver = new WebSocketDriver("client");
    driver.closeConnection();
    await delay(ms(10));
    assert.equal(driver.readyState, "closed");
    await assert.rejects(withTimeout(driver.opened, "the event", 1000), /closed before it opened \(1006/);
    assert.deepEqual(await withTimeout(driver.closed, "the event", 1000), {
      code: 1006,
      reason: "Closed before the connection opened",
    });
  });
});

describe("ping(): a promise of the round-trip time", () => {
  it("resolves with a number of milliseconds, for each of several concurrent pings", async () => {
    const { client, server, clientEvents, serverEvents } = memoryPair();
    await Promise.all([clientEvents.opened, serverEvents.opened]);
    const rtts = await withTimeout(Promise.all([client.ping(), client.ping(), server.ping("x")]), "the event", 1000);
    for (const rtt of rtts) assert.ok(typeof rtt === "number" && rtt >= 0 && rtt < ms(1000), `rtt ${rtt}`);
    client.closeConnection();
    await clientEvents.closed;
  });

  it("gives each ping its own payload, answered one by one", async () => {
    const peer = new RawPeer("client");
    await peer.rec.opened;
    const first = peer.driver.ping();
    const second = peer.driver.ping();
    const a = await peer.readFrame();
    const b = await peer.readFrame();
    assert.equal(a.opcode, OP.PING);
    assert.equal(b.opcode, OP.PING);
    assert.notDeepEqual(a.payload, b.payload, "unique payloads");
    let secondDone = false;
    second.then(() => secondDone = true);
    peer.sendFrame(OP.PONG, a.payload);
    await first;
    await delay(ms(10));
    assert.equal(secondDone, false, "the second ping waits for its own pong");
    peer.sendFrame(OP.PONG, b.payload);
    assert.ok((await second) >= 0);
    peer.driver.terminate();
  });

  it("rejects when the connection ends before the pong", async () => {
    const peer = new RawPeer("server");
    await peer.rec.opened;
    const rtt = peer.driver.ping();
    await peer.readFrame();
    peer.endInput();
    await assert.rejects(withTimeout(rtt, "the event", 2000), /connection closed/);
  });

  it("rejects (does not throw) once closing", async () => {
    const peer = new RawPeer("server");
    await peer.rec.opened;
    peer.driver.closeConnection();
    await assert.rejects(peer.driver.ping(), (e: Error) => e.name === "InvalidStateError");
    peer.driver.terminate();
  });
});

describe("heartbeat", () => {
  it("rejects bad values with a RangeError", () => {
    for (
      const heartbeat of [{ interval: 0, timeout: 1 }, { interval: 1, timeout: -1 }, { interval: NaN, timeout: 1 }]
    ) {
      assert.throws(() => new WebSocketDriver("server", { heartbeat }), RangeError);
    }
  });

  it("pings a silent peer after `interval`, and drops it after `timeout` with WSD_ERR_HEARTBEAT_TIMEOUT, then 1006", async () => {
    const interval = ms(60), timeout = ms(60);
    const peer = new RawPeer("server", { heartbeat: { interval, timeout } });
    await peer.rec.opened;
    const start = performance.now();
    const ping = await peer.readFrame(ms(2000));
    assert.equal(ping.opcode, OP.PING);
    assert.ok(performance.now() - start >= interval * 0.8, "not before the interval");
    assert.deepEqual(await withTimeout(peer.rec.closed, "the event", 2000), [1006, ""]);
    const elapsed = performance.now() - start;
    assert.ok(elapsed >= (interval + timeout) * 0.8 && elapsed < interval + timeout + ms(1000), `after ${elapsed} ms`);
    assert.deepEqual(peer.rec.names(), ["open", "error", "close"]);
    const error = peer.rec.events[1][1] as ProtocolError;
    assert.equal(error.type, "WSD_ERR_HEARTBEAT_TIMEOUT");
    assert.equal(error.code, 1006);
  });

  it("keeps a connection whose peer answers the pings", async () => {
    const interval = ms(40), timeout = ms(40);
    const peer = new RawPeer("client", { heartbeat: { interval, timeout } });
    await peer.rec.opened;
    for (let i = 0; i < 3; i++) {
      const ping = await peer.readFrame(ms(2000));
      assert.equal(ping.opcode, OP.PING);
      peer.sendFrame(OP.PONG, ping.payload);
    }
    assert.equal(peer.driver.readyState, "open");
    peer.driver.terminate();
    await peer.rec.closed;
  });

  it("any frame counts as a sign of life: no ping while messages keep arriving", async () => {
    const interval = ms(80);
    const peer = new RawPeer("server", { heartbeat: { interval, timeout: ms(80) } });
    await peer.rec.opened;
    for (let i = 0; i < 6; i++) {
      peer.sendFrame(OP.TEXT, `m${i}`);
      await delay(interval / 3);
    }
    assert.equal(peer.frames().filter((f) => f.opcode === OP.PING).length, 0);
    peer.driver.terminate();
    await peer.rec.closed;
  });

  it("many connections with different intervals each ping on their own time (they share one timer)", async () => {
    const intervals = [ms(90), ms(30), ms(150), ms(60), ms(120), ms(45)];
    const peers = intervals.map((interval) => new RawPeer("server", { heartbeat: { interval, timeout: ms(5000) } }));
    // Each heartbeat runs from its own connection's open: measured from there
    // (a mark after all of them opened would move with the machine's load).
    const openedAt = await Promise.all(peers.map((peer) => peer.rec.opened.then(() => performance.now())));
    // One leaves before its first ping: the others must not be disturbed.
    peers[4].driver.terminate();
    const firstPing = await Promise.all(
      peers.map(async (peer, i) => {
        if (i === 4) return Infinity;
        const ping = await peer.readFrame(ms(3000));
        assert.equal(ping.opcode, OP.PING);
        return performance.now() - openedAt[i];
      }),
    );
    for (const [i, at] of firstPing.entries()) {
      if (i !== 4) {
        assert.ok(at >= intervals[i] * 0.8, `connection ${i} pinged after ${at} ms, interval ${intervals[i]}`);
      }
    }
    const order = [0, 1, 2, 3, 5].sort((a, b) => firstPing[a] - firstPing[b]);
    assert.deepEqual(order, [1, 5, 3, 0, 2], `first pings at ${firstPing.map((t) => Math.round(t)).join(", ")} ms`);
    assert.equal(peers[4].frames().filter((f) => f.opcode === OP.PING).length, 0);
    for (const peer of peers) peer.driver.terminate();
    await Promise.all(peers.map((peer) => peer.rec.closed));
  });

  it("two drivers with heartbeats answer each other and stay open; closing clears the timers", async () => {
    const heartbeat = { interval: ms(30), timeout: ms(30) };
    const { client, server, clientEvents, serverEvents } = memoryPair({ client: { heartbeat }, server: { heartbeat } });
    await Promise.all([clientEvents.opened, serverEvents.opened]);
    await delay(ms(200));
    assert.equal(client.readyState, "open");
    assert.equal(server.readyState, "open");
    client.closeConnection();
    await Promise.all([clientEvents.closed, serverEvents.closed]);
    // Node's runner would not exit if a heartbeat timer were left behind.
  });
});

// The hub in one process: subscriptions, publish (encoded once, types kept,
// `except`), the automatic leave on close, fan-out to 1,000 subscribers with
// some closing mid-way, the hub ↔ backplane contract (with a recording
// backplane and the in-process bus), argument errors, and the paths where a
// shared frame cannot be used (clients, connections not open yet, Deno's
// own socket).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHub, Hub, inProcessBackplane, makeServer, serve } from "../../mod.ts";
import type { Backplane, BackplaneSink } from "../../mod.ts";
import type { Server } from "../../mod.ts";
import { delay, memoryPair, OP, RawPeer, tick, withTimeout } from "../driver/_pair.ts";
import type { DriverPair } from "../driver/_pair.ts";
import { openClient } from "../server/_util.ts";
import { useExtensions } from "../../src/driver/driver.ts";
import { MessageCompression } from "../../src/protocol/compression.ts";
import { deflateConfig } from "../../src/protocol/extensions.ts";

const encoder = new TextEncoder();

/** `n` open in-memory pairs. */
async function pairs(n: number): Promise<DriverPair[]> {
  const list = Array.from({ length: n }, () => memoryPair());
  await Promise.all(list.map((p) => p.serverEvents.opened));
  await Promise.all(list.map((p) => p.clientEvents.opened));
  return list;
}

/** Closes every pair from the client side and waits for both ends. */
async function closeAll(list: DriverPair[]): Promise<void> {
  for (const p of list) if (p.client.readyState === "open") p.client.closeConnection();
  await withTimeout(Promise.all(list.map((p) => p.serverEvents.closed)), "every server to close");
  await withTimeout(Promise.all(list.map((p) => p.clientEvents.closed)), "every client to close");
}

/** A backplane that records every call, and lets the test deliver messages. */
class RecordingBackplane implements Backplane {
  calls: Array<[string, ...unknown[]]> = [];
  sink: BackplaneSink | null = null;
  throwOnPublish = false;
  start(sink: BackplaneSink): void {
    this.calls.push(["start"]);
    this.sink = sink;
  }
  publish(topic: string, message: Uint8Array): void {
    this.calls.push(["publish", topic, message]);
    if (this.throwOnPublish) throw new Error("boom");
  }
  subscribe(topic: string): void {
    this.calls.push(["subscribe", topic]);
  }
  unsubscribe(topic: string): void {
    this.calls.push(["unsubscribe", topic]);
  }
  close(): Promise<void> {
    this.calls.push(["close"]);
    return Promise.resolve();
  }
  published(): Uint8Array[] {
    return this.calls.filter((c) => c[0] === "publish").map((c) => c[2] as Uint8Array);
  }
}

/** A message as another hub would put it on a backplane. */
function envelope(opcode: number, payload: Uint8Array, origin = [9, 9, 9, 9, 9, 9, 9, 9]): Uint8Array {
  return Uint8Array.from([1, opcode, ...origin, ...payload]);
}

describe("Hub: subscriptions", () => {
  it("subscribe, unsubscribe, subscribers, subscriptions, isSubscribed, topics", async () => {
    const hub = createHub();
    const [a, b] = await pairs(2);
    assert.ok(hub instanceof Hub);
    assert.equal(hub.subscribe(a.server, "room:1"), true);
    assert.equal(hub.subscribe(a.server, "room:1"), false, "twice is once");
    assert.equal(hub.subscribe(a.server, "room:2"), true);
    assert.equal(hub.subscribe(b.server, "room:1"), true);
    assert.equal(hub.subscribers("room:1"), 2);
    assert.equal(hub.subscribers("room:2"), 1);
    assert.equal(hub.subscribers("nobody"), 0);
    assert.deepEqual(hub.subscriptions(a.server), ["room:1", "room:2"]);
    assert.deepEqual(hub.topics().sort(), ["room:1", "room:2"]);
    assert.equal(hub.isSubscribed(b.server, "room:1"), true);
    assert.equal(hub.isSubscribed(b.server, "room:2"), false);
    assert.equal(hub.unsubscribe(a.server, "room:1"), true);
    assert.equal(hub.unsubscribe(a.server, "room:1"), false);
    assert.equal(hub.subscribers("room:1"), 1);
    assert.equal(hub.unsubscribeAll(a.server), 1);
    assert.equal(hub.unsubscribeAll(a.server), 0);
    assert.deepEqual(hub.topics(), ["room:1"]);
    assert.equal(a.server.listenerCount("close"), 1, "only the recorder's close listener is left");
    await hub.close();
    await closeAll([a, b]);
  });

  it("a connection that closes leaves all its topics by itself; a closed one is never added", async () => {
    const hub = createHub();
    const [a, b, c] = await pairs(3);
    for (const p of [a, b, c]) {
      hub.subscribe(p.server, "x");
      hub.subscribe(p.server, "y");
    }
    a.client.closeConnection(); // the peer closes
    b.server.terminate(); // dropped at once
    await Promise.all([a.serverEvents.closed, b.serverEvents.closed]);
    assert.equal(hub.subscribers("x"), 1);
    assert.equal(hub.subscribers("y"), 1);
    assert.deepEqual(hub.subscriptions(a.server), []);
    assert.deepEqual(hub.subscriptions(b.server), []);
    assert.equal(hub.subscribe(a.server, "x"), false, "closed: not added");
    assert.equal(hub.subscribers("x"), 1);
    assert.equal(hub.publish("x", "still here"), 1);
    assert.deepEqual(await c.clientEvents.nextMessages(1), ["still here"]);
    await hub.close();
    await closeAll([c]);
  });

  it("close(): every connection leaves (and stays open), the backplane is closed, later calls throw", async () => {
    const backplane = new RecordingBackplane();
    const hub = createHub({ backplane });
    const [a] = await pairs(1);
    hub.subscribe(a.server, "x");
    const closing = hub.close();
    assert.equal(hub.close(), closing, "the same promise");
    await closing;
    assert.deepEqual(backplane.calls.map((c) => c[0]), ["start", "subscribe", "close"]);
    assert.equal(hub.subscribers("x"), 0);
    assert.equal(a.server.readyState, "open");
    assert.equal(a.server.listenerCount("close"), 1, "the hub's listener is gone");
    assert.throws(() => hub.publish("x", "late"), { name: "InvalidStateError" });
    assert.throws(() => hub.subscribe(a.server, "x"), { name: "InvalidStateError" });
    await closeAll([a]);
  });

  it("caller mistakes throw TypeError or RangeError, saying what to do", async () => {
    const hub = createHub();
    const [a] = await pairs(1);
    // deno-lint-ignore no-explicit-any
    const loose = hub as any;
    assert.throws(() => loose.subscribe({}, "x"), { name: "TypeError", message: /expected a connection/ });
    assert.throws(() => hub.subscribe(a.server, ""), { name: "TypeError", message: /non-empty string/ });
    assert.throws(() => loose.subscribe(a.server, 42), { name: "TypeError" });
    assert.throws(() => loose.publish("x", 42), { name: "TypeError", message: /Cannot publish/ });
    assert.throws(() => loose.publish("x", "m", { exept: a.server }), {
      name: "TypeError",
      message: /Unknown option "exept"/,
    });
    assert.throws(() => loose.publish("x", "m", { except: "me" }), { name: "TypeError" });
    // deno-lint-ignore no-explicit-any
    const make = createHub as (options: any) => Hub;
    assert.throws(() => make({ maxBuffered: 1 }), { name: "TypeError", message: /Unknown option "maxBuffered"/ });
    assert.throws(() => make({ maxBufferedAmount: -1 }), { name: "RangeError" });
    assert.throws(() => make({ maxBufferedAmount: 1.5 }), { name: "RangeError" });
    assert.throws(() => make({ slowSubscriberPolicy: "drop" }), { name: "TypeError", message: /"skip" or "close"/ });
    assert.throws(() => make({ backplane: { start() {} } }), { name: "TypeError", message: /no publish\(\) method/ });
    assert.throws(() => inProcessBackplane(7 as unknown as string), { name: "TypeError" });
    await hub.close();
    await closeAll([a]);
  });
});

describe("Hub: publish", () => {
  it("text stays text, binary stays binary; returns how many it was queued for; except skips one", async () => {
    const hub = createHub();
    const list = await pairs(3);
    for (const p of list) hub.subscribe(p.server, "t");
    assert.equal(hub.publish("t", "héllo ✓"), 3);
    assert.equal(hub.publish("t", new Uint8Array([1, 2, 3]), { except: list[0].server }), 2);
    assert.equal(hub.publish("t", new Uint16Array([0x0201]).buffer), 3); // an ArrayBuffer
    assert.equal(hub.publish("t", new DataView(Uint8Array.from([7, 8, 9]).buffer, 1, 2)), 3);
    assert.equal(hub.publish("elsewhere", "nobody"), 0);
    const [first, second] = await Promise.all([
      list[0].clientEvents.nextMessages(3),
      list[1].clientEvents.nextMessages(4),
    ]);
    assert.deepEqual(first, ["héllo ✓", new Uint8Array([1, 2]), new Uint8Array([8, 9])]);
    assert.deepEqual(second, ["héllo ✓", new Uint8Array([1, 2, 3]), new Uint8Array([1, 2]), new Uint8Array([8, 9])]);
    await delay(20);
    assert.equal(list[2].clientEvents.messages().length, 4, "nothing more");
    await hub.close();
    await closeAll(list);
  });

  it("binary data is copied at once: changing it afterwards changes nothing", async () => {
    const hub = createHub();
    const [a] = await pairs(1);
    hub.subscribe(a.server, "t");
    const data = new Uint8Array([1, 2, 3]);
    hub.publish("t", data);
    data.fill(0);
    assert.deepEqual(await a.clientEvents.nextMessages(1), [new Uint8Array([1, 2, 3])]);
    await hub.close();
    await closeAll([a]);
  });

  it("server connections get one shared frame, not send(): the same unmasked bytes on every wire", async () => {
    const hub = createHub();
    const peers = [new RawPeer("server"), new RawPeer("server"), new RawPeer("server")];
    await Promise.all(peers.map((p) => p.rec.opened));
    for (const p of peers) {
      // Fan-out must not go through the per-connection send path.
      p.driver.send = p.driver.sendText = p.driver.sendBinary = () => {
        throw new Error("send() was used");
      };
      hub.subscribe(p.driver, "t");
    }
    assert.equal(hub.publish("t", "shared"), 3);
    assert.equal(hub.publish("t", new Uint8Array(300).fill(7)), 3);
    const wires = await Promise.all(peers.map(async (p) => [await p.readFrame(), await p.readFrame()]));
    for (const [text, binary] of wires) {
      assert.equal(text.opcode, OP.TEXT);
      assert.equal(text.masked, false);
      assert.deepEqual(text.payload, encoder.encode("shared"));
      assert.equal(binary.opcode, OP.BINARY);
      assert.equal(binary.size, 2 + 2 + 300, "a 16-bit length");
      assert.deepEqual(binary.payload, new Uint8Array(300).fill(7));
    }
    for (const p of peers) assert.deepEqual(p.written, peers[0].written, "byte for byte the same");
    await hub.close();
    for (const p of peers) p.driver.terminate();
  });

  it("connections with permessage-deflate compress what they get (send(), not the shared frame)", async () => {
    const hub = createHub();
    const plain = new RawPeer("server");
    const compressing = new RawPeer("server");
    const config = deflateConfig({ threshold: 100 }, "test")!;
    const params = {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    };
    useExtensions(compressing.driver, "permessage-deflate", new MessageCompression("server", params, config));
    await Promise.all([plain.rec.opened, compressing.rec.opened]);
    hub.subscribe(plain.driver, "t");
    hub.subscribe(compressing.driver, "t");
    const json = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ id: i, name: `name ${i}` })));
    assert.equal(hub.publish("t", json), 2);
    const [uncompressed, compressed] = await Promise.all([plain.readFrame(), compressing.readFrame()]);
    assert.equal(uncompressed.rsv, 0);
    assert.deepEqual(uncompressed.payload, encoder.encode(json));
    assert.equal(compressed.rsv, 0x40, "RSV1: compressed");
    assert.ok(compressed.payload.length < json.length / 3, `${compressed.payload.length} bytes`);
    await hub.close();
    plain.driver.terminate();
    compressing.driver.terminate();
  });

  it("client connections get send() (each frame masked with its own key)", async () => {
    const hub = createHub();
    const peer = new RawPeer("client");
    await peer.rec.opened;
    hub.subscribe(peer.driver, "t");
    assert.equal(hub.publish("t", "to a client"), 1);
    const frame = await peer.readFrame();
    assert.equal(frame.masked, true);
    assert.equal(frame.opcode, OP.TEXT);
    assert.deepEqual(frame.payload, encoder.encode("to a client"));
    await hub.close();
    peer.driver.terminate();
  });

  it("a subscriber not open yet gets what is published meanwhile once it opens, in order", async () => {
    const hub = createHub();
    const peer = new RawPeer("server", undefined, null, false);
    hub.subscribe(peer.driver, "t");
    assert.equal(hub.publish("t", "before open"), 1);
    peer.attach();
    await peer.rec.opened;
    hub.publish("t", "after open");
    assert.deepEqual(new TextDecoder().decode((await peer.readFrame()).payload), "before open");
    assert.deepEqual(new TextDecoder().decode((await peer.readFrame()).payload), "after open");
    await hub.close();
    peer.driver.terminate();
  });

  it("1,000 subscribers: each gets each message once, in order; those that close mid-way are removed cleanly", async () => {
    const hub = createHub();
    const list = await pairs(1000);
    for (const p of list) hub.subscribe(p.server, "wide");
    const leaving = new Set(list.filter((_, i) => i % 10 === 3)); // 100 of them
    const COUNT = 40;
    for (let i = 0; i < COUNT; i++) {
      const delivered = hub.publish("wide", i % 2 === 0 ? `m${i}` : Uint8Array.of(i));
      if (i === COUNT / 2) {
        assert.equal(delivered, 1000);
        // Half-way: some drop out (terminated), others close their end.
        let k = 0;
        for (const p of leaving) {
          if (k++ % 2 === 0) p.server.terminate();
          else p.client.closeConnection();
        }
      }
      if (i > COUNT / 2) assert.equal(delivered, 900, `message ${i}`);
      if (i % 5 === 0) await tick();
    }
    const staying = list.filter((p) => !leaving.has(p));
    const expected = Array.from({ length: COUNT }, (_, i) => i % 2 === 0 ? `m${i}` : Uint8Array.of(i));
    const received = await withTimeout(
      Promise.all(staying.map((p) => p.clientEvents.nextMessages(COUNT))),
      "every message at every staying subscriber",
      20_000,
    );
    for (const messages of received) assert.deepEqual(messages, expected);
    await Promise.all([...leaving].map((p) => p.serverEvents.closed));
    for (const p of leaving) {
      const messages = p.clientEvents.messages();
      assert.ok(messages.length <= COUNT / 2 + 1, "nothing after it left");
      assert.deepEqual(messages, expected.slice(0, messages.length), "a prefix, in order");
      assert.deepEqual(hub.subscriptions(p.server), []);
    }
    assert.equal(hub.subscribers("wide"), 900);
    await delay(20);
    for (const p of staying) assert.equal(p.clientEvents.messages().length, COUNT, "once each");
    await hub.close();
    await closeAll(staying);
  });

  it("a connection's own sendQueuePolicy applies to shared frames too, and never throws out of publish", async () => {
    const hub = createHub();
    const policies = ["drop", "close", "throw"] as const;
    const peers = policies.map((sendQueuePolicy) =>
      new RawPeer("server", { outgoingHighWaterMark: 0, sendQueuePolicy })
    );
    await Promise.all(peers.map((p) => p.rec.opened));
    for (const p of peers) hub.subscribe(p.driver, "t");
    const slow: string[] = [];
    hub.on("slow", (ws) => slow.push(policies[peers.findIndex((p) => p.driver === ws)]));
    assert.equal(hub.publish("t", "first"), 3, "nothing is waiting yet");
    assert.equal(hub.publish("t", "second"), 0, "each is over its own mark until its flush");
    assert.deepEqual(slow, ["drop", "close", "throw"]);
    assert.equal(peers[1].driver.readyState, "closing", '"close" closed it');
    assert.equal(hub.publish("t", "third"), 0);
    assert.deepEqual(slow, ["drop", "close", "throw", "drop", "throw"], "a closing connection is not slow, just gone");
    await hub.close();
    for (const p of peers) p.driver.terminate();
  });

  it("a subscriber that closes during a fan-out (from a listener) is removed; the others are not disturbed", async () => {
    const hub = createHub({ maxBufferedAmount: 0 });
    const [a, b, c] = await pairs(3);
    for (const p of [a, b, c]) hub.subscribe(p.server, "t");
    a.server.send("queued directly"); // a is over the budget of 0 until its flush
    hub.on("slow", (ws) => {
      ws.terminate();
      c.server.terminate(); // not visited yet
    });
    assert.equal(hub.publish("t", "m"), 1, "only b");
    assert.equal(hub.subscribers("t"), 1);
    assert.deepEqual(await b.clientEvents.nextMessages(1), ["m"]);
    await Promise.all([a.serverEvents.closed, c.serverEvents.closed]);
    await hub.close();
    await closeAll([b]);
  });
});

describe("Hub and its backplane", () => {
  it("start once; subscribe on a topic's first local subscriber, unsubscribe after its last; publish an envelope", async () => {
    const backplane = new RecordingBackplane();
    const hub = createHub({ backplane });
    const [a, b] = await pairs(2);
    hub.subscribe(a.server, "t");
    hub.subscribe(b.server, "t");
    hub.publish("t", "text");
    hub.publish("nobody-here", Uint8Array.of(5, 6));
    hub.unsubscribe(a.server, "t");
    b.client.closeConnection();
    await b.serverEvents.closed;
    assert.deepEqual(backplane.calls.map((c) => c.slice(0, 2)), [
      ["start"],
      ["subscribe", "t"],
      ["publish", "t"],
      ["publish", "nobody-here"],
      ["unsubscribe", "t"],
    ]);
    const [text, binary] = backplane.published();
    assert.equal(text[0], 1, "version");
    assert.equal(text[1], OP.TEXT);
    assert.deepEqual(text.subarray(10), encoder.encode("text"));
    assert.equal(binary[1], OP.BINARY);
    assert.deepEqual(binary.subarray(10), Uint8Array.of(5, 6));
    assert.deepEqual(text.subarray(2, 10), binary.subarray(2, 10), "one origin per hub");
    await hub.close();
    await closeAll([a]);
  });

  it("delivers other hubs' messages once, types kept; drops its own echoes and other topics", async () => {
    const backplane = new RecordingBackplane();
    const hub = createHub({ backplane });
    const [a] = await pairs(1);
    hub.subscribe(a.server, "t");
    hub.publish("t", "mine");
    backplane.sink!.message("t", backplane.published()[0]); // our own echo
    backplane.sink!.message("t", envelope(OP.TEXT, encoder.encode("theirs ✓")));
    backplane.sink!.message("t", envelope(OP.BINARY, Uint8Array.of(1, 2)));
    backplane.sink!.message("other", envelope(OP.TEXT, encoder.encode("not for us")));
    assert.deepEqual(await a.clientEvents.nextMessages(3), ["mine", "theirs ✓", Uint8Array.of(1, 2)]);
    await delay(20);
    assert.equal(a.clientEvents.messages().length, 3);
    assert.equal(backplane.published().length, 1, "nothing received is published again");
    await hub.close();
    await closeAll([a]);
  });

  it("reports malformed messages, invalid UTF-8 and a throwing publish on `error`, and goes on", async () => {
    const backplane = new RecordingBackplane();
    const hub = createHub({ backplane });
    const errors: Error[] = [];
    hub.on("error", (error) => errors.push(error));
    const [a] = await pairs(1);
    hub.subscribe(a.server, "t");
    backplane.sink!.message("t", Uint8Array.of(1, 2, 3)); // too short
    backplane.sink!.message("t", envelope(OP.TEXT, Uint8Array.of(0x68)).map((v, i) => i === 0 ? 2 : v)); // version 2
    backplane.sink!.message("t", envelope(0x9, Uint8Array.of())); // a ping opcode
    backplane.sink!.message("t", envelope(OP.TEXT, Uint8Array.of(0xc3, 0x28))); // not UTF-8
    backplane.throwOnPublish = true;
    assert.equal(hub.publish("t", "local delivery goes on"), 1);
    backplane.sink!.error(new Error("lost"));
    assert.equal(errors.length, 6);
    assert.ok(errors.slice(0, 5).every((e) => e.name === "BackplaneError"));
    assert.match(errors[3].message, /not UTF-8/);
    assert.match(errors[4].message, /boom/);
    assert.deepEqual(await a.clientEvents.nextMessages(1), ["local delivery goes on"]);
    await delay(20);
    assert.equal(a.clientEvents.messages().length, 1, "nothing malformed was delivered");
    await hub.close();
    await closeAll([a]);
  });

  it("without an `error` listener, backplane errors are printed, never thrown", async () => {
    const backplane = new RecordingBackplane();
    const hub = createHub({ backplane });
    const printed: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => printed.push(args[0]);
    try {
      backplane.sink!.error(new Error("connection lost"));
    } finally {
      console.error = original;
    }
    assert.equal(printed.length, 1);
    assert.match(String((printed[0] as Error).message), /connection lost/);
    await hub.close();
  });

  it("in-process bus: hubs on one bus get each other's messages once, types kept; other buses do not", async () => {
    const a = createHub({ backplane: inProcessBackplane("bus-1") });
    const b = createHub({ backplane: inProcessBackplane("bus-1") });
    const c = createHub({ backplane: inProcessBackplane("bus-2") });
    const [pa, pb, pc] = await pairs(3);
    a.subscribe(pa.server, "t");
    b.subscribe(pb.server, "t");
    c.subscribe(pc.server, "t");
    a.publish("t", "from a");
    b.publish("t", Uint8Array.of(0xb));
    a.publish("t", "a again", { except: pa.server }); // except is local: b still gets it
    const [gotA, gotB] = await Promise.all([pa.clientEvents.nextMessages(2), pb.clientEvents.nextMessages(3)]);
    assert.deepEqual(gotA, ["from a", Uint8Array.of(0xb)]);
    assert.deepEqual(gotB, [Uint8Array.of(0xb), "from a", "a again"]);
    await delay(20);
    assert.equal(pa.clientEvents.messages().length, 2);
    assert.equal(pb.clientEvents.messages().length, 3);
    assert.equal(pc.clientEvents.messages().length, 0);
    await Promise.all([a.close(), b.close(), c.close()]);
    await closeAll([pa, pb, pc]);
  });
});

describe("Hub on served connections", () => {
  const isDeno = "Deno" in globalThis;
  const backends = isDeno ? (["tcp", "node", "deno"] as const) : (["tcp", "node"] as const);
  for (const backend of backends) {
    it(
      `serve(h, { backend: "${backend}" }): the room of the issue, with ${
        backend === "deno" ? "send() on Deno's own socket" : "shared frames"
      }`,
      {
        timeout: 20_000,
      },
      async () => {
        const hub = createHub();
        const servers: Server[] = [];
        let sends = 0;
        const handle = serve((request) => {
          const ws = makeServer(request);
          servers.push(ws);
          const [sendText, sendBinary] = [ws.sendText.bind(ws), ws.sendBinary.bind(ws)];
          ws.sendText = (data) => (sends++, sendText(data));
          ws.sendBinary = (data) => (sends++, sendBinary(data));
          ws.on("open", () => hub.subscribe(ws, "room:1"));
          ws.on("message", (m) => hub.publish("room:1", m, { except: ws }));
          return ws.startConnection();
        }, { port: 0, hostname: "127.0.0.1", backend, heartbeat: false });
        const { port } = await handle.ready;
        try {
          const clients = await Promise.all([0, 1, 2].map(() => openClient("ours", `ws://127.0.0.1:${port}/room`)));
          await withTimeout(
            (async () => {
              while (hub.subscribers("room:1") < 3) await delay(5);
            })(),
            "three subscribers",
          );
          clients[0].send("hello room");
          clients[0].send(Uint8Array.of(1, 2, 3));
          for (const client of clients.slice(1)) {
            assert.equal(await client.nextMessage(), "hello room");
            assert.deepEqual(await client.nextMessage(), Uint8Array.of(1, 2, 3));
          }
          if (backend === "deno") assert.equal(sends, 4, "Deno's socket takes no shared frames: send()");
          else assert.equal(sends, 0, "shared frames, no send()");
          for (const client of clients) client.close();
          await Promise.all(clients.map((c) => c.closed));
          await withTimeout(Promise.all(servers.map((s) => s.closed)), "the servers to close");
          assert.equal(hub.subscribers("room:1"), 0, "closed connections left the room");
        } finally {
          await hub.close();
          await handle.close();
          await handle.finished;
        }
      },
    );
  }
});

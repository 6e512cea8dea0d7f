// A stalled subscriber over real TCP: a raw client that does the handshake and
// then stops reading, next to fast clients that read everything, while a
// publisher sends 24 MiB to the topic. With each policy ("skip", "close"): the
// fast clients get every message in order at about the rate they get without
// the stalled one, the stalled one's queue on the server never exceeds the
// budget plus one message, and the stalled one is skipped (then gets whole
// frames, with gaps, once it reads again) or closed with 1008.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHub, makeClient, makeServer, serve } from "../../mod.ts";
import type { Client, Hub, Server, SlowSubscriberPolicy } from "../../mod.ts";
import { delay, parseFrames, parseHead, RawClient, requestHead, withTimeout } from "../server/_util.ts";

const MESSAGE = 32 * 1024;
const COUNT = 768; // 24 MiB per subscriber: well over what loopback sockets buffer
const BUDGET = 256 * 1024;
const FAST = 2;
const T = { timeout: 60_000 };

interface Run {
  /** Milliseconds from the first publish until every fast client had every message. */
  elapsed: number;
  /** The largest bufferedAmount of the stalled subscriber's server connection seen after a publish. */
  maxStalled: number;
  /** The largest sum of bufferedAmount over every server connection seen after a publish. */
  maxTotal: number;
  /** `slow` events, by which connection. */
  slowFast: number;
  slowStalled: number;
  /** The stalled client (still paused) and its server connection, for the checks after. */
  stalled: RawClient | null;
  stalledServer: Server | null;
  hub: Hub;
  /** Stops everything run() started. */
  cleanup(): Promise<void>;
}

/**
 * Serves a topic "feed", connects FAST reading clients (and a stalled one if
 * `policy` is given), publishes COUNT numbered messages paced by the fast
 * clients' drained(), and measures.
 */
async function run(policy: SlowSubscriberPolicy | null): Promise<Run> {
  const hub = createHub({ maxBufferedAmount: BUDGET, slowSubscriberPolicy: policy ?? "skip" });
  const fastServers: Server[] = [];
  let stalledServer: Server | null = null;
  const servers: Server[] = [];
  const handle = serve((request) => {
    const ws = makeServer(request, { outgoingHighWaterMark: 64 * 1024, closeTimeout: 10_000 });
    servers.push(ws);
    if (new URL(request.url).pathname === "/stalled") stalledServer = ws;
    else fastServers.push(ws);
    ws.on("open", () => hub.subscribe(ws, "feed"));
    return ws.startConnection();
  }, { port: 0, hostname: "127.0.0.1", heartbeat: false });
  const { port } = await handle.ready;
  const clients: Client[] = [];
  let stalled: RawClient | null = null;
  try {
    // The fast clients check order as they go and keep nothing.
    const done: Array<Promise<void>> = [];
    for (let i = 0; i < FAST; i++) {
      const client = makeClient(`ws://127.0.0.1:${port}/fast`);
      clients.push(client);
      let next = 0;
      const finished = Promise.withResolvers<void>();
      client.on("message", (message) => {
        const bytes = message as Uint8Array;
        const index = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);
        if (index !== next || bytes.length !== MESSAGE) {
          finished.reject(new Error(`fast client ${i}: message ${index} (${bytes.length} bytes), expected ${next}`));
        }
        if (++next === COUNT) finished.resolve();
      });
      client.on("close", (code) => finished.reject(new Error(`fast client ${i} closed with ${code}`)));
      client.startConnection();
      done.push(finished.promise);
    }
    if (policy !== null) {
      stalled = await RawClient.connect(port);
      stalled.write(requestHead({ target: "/stalled" }));
      await stalled.readHead();
      stalled.socket.pause(); // and reads nothing more
    }
    const expected = FAST + (policy === null ? 0 : 1);
    await withTimeout(
      (async () => {
        while (hub.subscribers("feed") < expected) await delay(5);
      })(),
      "every subscriber",
    );

    let slowFast = 0, slowStalled = 0;
    hub.on("slow", (ws) => ws === stalledServer ? slowStalled++ : slowFast++);
    let maxStalled = 0, maxTotal = 0;
    const start = performance.now();
    const payload = new Uint8Array(MESSAGE);
    const view = new DataView(payload.buffer);
    for (let i = 0; i < COUNT; i++) {
      view.setUint32(0, i);
      hub.publish("feed", payload);
      const buffered = (stalledServer as Server | null)?.bufferedAmount ?? 0;
      maxStalled = Math.max(maxStalled, buffered);
      maxTotal = Math.max(maxTotal, servers.reduce((sum, s) => sum + s.bufferedAmount, 0));
      // The publisher keeps pace with the fast clients only.
      if (i % 4 === 3) await Promise.all(fastServers.map((s) => s.drained()));
    }
    await withTimeout(Promise.all(done), "every message at every fast client", 40_000);
    const elapsed = performance.now() - start;
    return { elapsed, maxStalled, maxTotal, slowFast, slowStalled, stalled, stalledServer, hub, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }

  async function cleanup(): Promise<void> {
    for (const client of clients) client.closeConnection();
    await withTimeout(Promise.all(clients.map((c) => c.closed)), "the fast clients to close");
    await stalled?.close();
    await hub.close();
    await handle.close();
    await handle.finished;
  }
}

/** Reads what the stalled client has (after letting it read again) until `done` holds. */
async function readAgain(client: RawClient, done: () => boolean): Promise<void> {
  client.socket.resume();
  const deadline = Date.now() + 20_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("Timed out: the stalled client did not catch up");
    await delay(20);
  }
}

/** The opcodes of the whole frames at the start of `bytes` (headers only: payloads are skipped). */
function opcodes(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let at = 0;
  while (bytes.length - at >= 2) {
    let length = bytes[at + 1] & 0x7f, p = at + 2;
    if (length === 126) [length, p] = [(bytes[p] << 8) | bytes[p + 1], p + 2];
    else if (length === 127) [length, p] = [new DataView(bytes.buffer, bytes.byteOffset + p).getUint32(4), p + 8];
    if (p + length > bytes.length) break;
    out.push(bytes[at] & 0x0f);
    at = p + length;
  }
  return out;
}

describe("a stalled subscriber (raw TCP client that stops reading)", () => {
  let baseline = 0;

  it("baseline: the fast clients alone", T, async () => {
    const result = await run(null);
    await result.cleanup();
    baseline = result.elapsed;
    assert.equal(result.slowFast, 0);
  });

  it('"skip": the others keep their rate, its queue stays within the budget, it misses messages', T, async () => {
    const result = await run("skip");
    try {
      const stalledServer = result.stalledServer!;
      assert.equal(result.slowFast, 0, "no fast client was ever over the budget");
      assert.ok(result.slowStalled > 0, "the stalled one was skipped");
      assert.ok(result.maxStalled <= BUDGET + MESSAGE + 16, `its queue held at most ${result.maxStalled} bytes`);
      assert.ok(result.maxTotal <= 2 * BUDGET + FAST * 64 * 1024 + (FAST + 1) * MESSAGE, `all held ${result.maxTotal}`);
      assert.ok(
        result.elapsed < 3 * baseline + 1500,
        `the fast clients took ${result.elapsed.toFixed(0)} ms, ${baseline.toFixed(0)} ms alone`,
      );
      assert.equal(stalledServer.readyState, "open", "skipped, not closed");
      assert.equal(result.hub.subscribers("feed"), FAST + 1, "still subscribed");
      // Reading again, it gets whole frames, in order, with gaps.
      await readAgain(result.stalled!, () => stalledServer.bufferedAmount === 0);
      await delay(50);
      const frames = parseFrames(parseHead(result.stalled!.bytes()).rest);
      const indexes = frames.map((f) => new DataView(f.payload.buffer).getUint32(0));
      assert.ok(indexes.length > 0 && indexes.length < COUNT, `it got ${indexes.length} of ${COUNT}`);
      for (let i = 1; i < indexes.length; i++) assert.ok(indexes[i] > indexes[i - 1], "in order");
      assert.ok(frames.every((f) => f.payload.length === MESSAGE && f.opcode === 2));
    } finally {
      await result.cleanup();
    }
  });

  it('"close": the others keep their rate, it is closed with 1008 and leaves the topic at once', T, async () => {
    const result = await run("close");
    try {
      const stalledServer = result.stalledServer!;
      assert.equal(result.slowFast, 0);
      assert.equal(result.slowStalled, 1, "closed once");
      assert.ok(result.maxStalled <= BUDGET + MESSAGE + 16, `its queue held at most ${result.maxStalled} bytes`);
      assert.ok(
        result.elapsed < 3 * baseline + 1500,
        `the fast clients took ${result.elapsed.toFixed(0)} ms, ${baseline.toFixed(0)} ms alone`,
      );
      assert.notEqual(stalledServer.readyState, "open");
      assert.equal(result.hub.subscribers("feed"), FAST, "it left at once");
      // Reading again, it finds what was queued before, then a close frame with 1008.
      await readAgain(result.stalled!, () => opcodes(parseHead(result.stalled!.bytes()).rest).includes(8));
      const received = parseFrames(parseHead(result.stalled!.bytes()).rest);
      const close = received[received.length - 1];
      assert.equal(close.opcode, 8);
      assert.equal((close.payload[0] << 8) | close.payload[1], 1008);
      assert.ok(received.slice(0, -1).every((f) => f.opcode === 2 && f.payload.length === MESSAGE));
    } finally {
      await result.cleanup();
    }
  });
});

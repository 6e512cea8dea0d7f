// Fairness (issue 16 item 6): a compressed message that takes long to inflate
// (a decompression bomb, a large message) is inflated in slices, with the
// event loop running between them: timers fire and other connections are
// served before it is done, its connection's input is paused meanwhile, and
// its events keep their order. No timing assertions: the tests count what
// happened before the work was done.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { useExtensions, WebSocketDriver } from "../../src/driver/driver.ts";
import { MessageCompression } from "../../src/protocol/compression.ts";
import { deflateConfig } from "../../src/protocol/extensions.ts";
import { concat, frame, hex, OP, TAKEOVER } from "../protocol/_helpers.ts";
import { CountingTransport, record, withTimeout } from "./_pair.ts";
import type { Recorder } from "./_pair.ts";

const KEY = hex("37 fa 21 3d");

interface Peer {
  driver: WebSocketDriver;
  transport: CountingTransport;
  rec: Recorder;
}

/** A server connection with permessage-deflate agreed, over a transport the test feeds. */
async function open(maxLength: number): Promise<Peer> {
  const driver = new WebSocketDriver("server", { maxLength });
  useExtensions(driver, "permessage-deflate", new MessageCompression("server", TAKEOVER, deflateConfig({}, "test")!));
  const rec = record(driver);
  const transport = new CountingTransport();
  driver.attach(transport);
  await withTimeout(rec.opened, "open");
  return { driver, transport, rec };
}

/** A client's compressed binary frame of `data` (raw DEFLATE, sync flush tail removed). */
function compressed(data: Uint8Array, opcode: number = OP.BINARY): Uint8Array {
  const out = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return frame({ opcode, rsv: 0x40, payload: new Uint8Array(out.subarray(0, out.length - 4)), mask: KEY });
}

/** Counts macrotasks (setTimeout(0) callbacks) until stopped, noting how many peers were done at each. */
function ticker(done: () => number): { ticks: number[]; stop: () => void } {
  const ticks: number[] = [];
  let running = true;
  const tick = () => {
    if (!running) return;
    ticks.push(done());
    setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  return { ticks, stop: () => (running = false) };
}

describe("long inflating runs in slices, the event loop between them", () => {
  it("four 8 MiB messages: timers fire before they are done, input is paused, order is kept", async () => {
    const data = new Uint8Array(8 << 20).fill(0x61);
    const big = compressed(data);
    const after = frame({ opcode: OP.TEXT, payload: "after", mask: KEY });
    const peers = await Promise.all([0, 1, 2, 3].map(() => open(64 << 20)));
    const finished = () => peers.filter((p) => p.rec.messages().length === 2).length;
    const clock = ticker(finished);
    for (const p of peers) p.transport.push(concat(big, after));
    // Nothing of the large messages (nor what came behind them) was reported in the call that delivered them.
    assert.equal(peers.reduce((n, p) => n + p.rec.messages().length, 0), 0);
    for (const p of peers) assert.equal(p.transport.paused, true, "input paused while the work is pending");

    // A connection with small messages is served meanwhile, compressed ones included, at once.
    const small = await open(64 << 20);
    small.transport.push(compressed(new TextEncoder().encode("small"), OP.TEXT));
    assert.deepEqual(small.rec.messages(), ["small"]);

    await withTimeout(Promise.all(peers.map((p) => p.rec.nextMessages(2))), "the large messages", 60_000);
    clock.stop();
    for (const p of peers) {
      const [first, second] = p.rec.messages();
      assert.ok(first instanceof Uint8Array && first.length === data.length && first.every((b) => b === 0x61));
      assert.equal(second, "after");
      assert.equal(p.transport.paused, false, "input resumed");
      assert.ok(p.transport.pauses >= 1);
    }
    // The event loop ran between slices: timers fired while the work was not done.
    const before = clock.ticks.filter((n) => n < peers.length).length;
    assert.ok(
      before >= 4,
      `${before} timer callbacks ran before the messages were done (${clock.ticks.length} in all)`,
    );
    for (const p of [...peers, small]) p.driver.terminate();
  });

  it("a bomb fails with 1009 after its slices; the input's end waits for the work", async () => {
    const bomb = compressed(new Uint8Array(64 << 20));
    // 32 MiB of inflating before the limit: many slices of the work budget on any machine.
    const peer = await open(32 << 20);
    const clock = ticker(() => (peer.rec.names().includes("error") ? 1 : 0));
    peer.transport.push(bomb);
    peer.transport.endInput();
    assert.deepEqual(peer.rec.names(), ["open"]);
    const [code] = await withTimeout(peer.rec.closed, "close", 60_000);
    clock.stop();
    assert.equal(code, 1009);
    assert.deepEqual(peer.rec.names(), ["open", "error", "close"]);
    assert.ok(clock.ticks.filter((n) => n === 0).length >= 2, `ticks ${clock.ticks}`);
  });

  it("a large message is still delivered when the input ends right behind it", async () => {
    const data = new Uint8Array(4 << 20).fill(1);
    const peer = await open(64 << 20);
    peer.transport.push(compressed(data));
    peer.transport.endInput();
    const [code] = await withTimeout(peer.rec.closed, "close", 60_000);
    assert.equal(code, 1006);
    assert.deepEqual(peer.rec.names(), ["open", "message", "close"]);
    assert.equal((peer.rec.messages()[0] as Uint8Array).length, data.length);
  });

  it("terminate() drops the pending work; the next connection's work goes on", async () => {
    const a = await open(64 << 20);
    const b = await open(64 << 20);
    a.transport.push(compressed(new Uint8Array(16 << 20)));
    b.transport.push(compressed(new Uint8Array(2 << 20).fill(2)));
    a.driver.terminate();
    const [code] = await withTimeout(a.rec.closed, "close a", 10_000);
    assert.equal(code, 1006);
    const [message] = await withTimeout(b.rec.nextMessages(1), "b's message", 60_000);
    assert.equal((message as Uint8Array).length, 2 << 20);
    assert.deepEqual(a.rec.messages(), []);
    b.driver.terminate();
  });
});

// The driver's per-read path: whether the transport may reuse a chunk, writes
// finished on the spot (WRITTEN), message events without emit's argument
// arrays, and the heartbeat noting input with a flag.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { WebSocketDriver } from "../../src/driver/driver.ts";
import type { DriverEvents } from "../../src/driver/driver.ts";
import { WRITTEN } from "../../src/driver/transport.ts";
import type { Transport, TransportSink } from "../../src/driver/transport.ts";
import { delay, encodeFrame, ms, OP, RawPeer, TEST_KEY, tick, withTimeout } from "./_pair.ts";

/** A transport whose writes all finish on the spot; the test drives its input. */
function instantTransport() {
  let sink: TransportSink | null = null;
  const written: Uint8Array[] = [];
  const transport: Transport = {
    start(s) {
      sink = s;
    },
    write(chunk) {
      written.push(chunk.slice());
      return WRITTEN;
    },
    end: () => WRITTEN,
    abort() {},
  };
  return { transport, written, sink: () => sink! };
}

async function opened(driver: WebSocketDriver): Promise<void> {
  await withTimeout(driver.opened, "open");
  await tick();
}

describe("driver: the read path", () => {
  it("tells the transport it may reuse a chunk once its frames were parsed, not while a large frame waits in it", async () => {
    const { transport, sink, written } = instantTransport();
    const driver = new WebSocketDriver("server");
    driver.on("message", (m) => driver.send(m));
    driver.attach(transport);
    await opened(driver);
    assert.equal(sink().data(encodeFrame(OP.TEXT, "echo me", { mask: TEST_KEY })), true);
    assert.equal(written.length, 1, "the echo was written in the same turn");
    const big = encodeFrame(OP.BINARY, new Uint8Array(20_000).fill(1), { mask: TEST_KEY });
    assert.equal(sink().data(big.slice(0, 10_000)), false);
    assert.equal(sink().data(big.slice(10_000)), true);
    driver.terminate();
  });

  it("emits drain after writes that finished on the spot brought bufferedAmount back under the mark", async () => {
    const { transport } = instantTransport();
    const driver = new WebSocketDriver("server", { outgoingHighWaterMark: 10 });
    driver.attach(transport);
    await opened(driver);
    const drained = new Promise<void>((resolve) => driver.on("drain", resolve));
    driver.send("more than ten bytes of text");
    await withTimeout(drained, "drain", 2000);
    assert.equal(driver.bufferedAmount, 0);
    driver.terminate();
  });

  it("a subclass that overrides emit still sees every message", async () => {
    const seen: unknown[] = [];
    class Logged extends WebSocketDriver {
      override emit<K extends keyof DriverEvents>(event: K, ...args: DriverEvents[K]): boolean {
        if (event === "message") seen.push(args[0]);
        return super.emit(event, ...args);
      }
    }
    const { transport, sink } = instantTransport();
    const driver = new Logged("server");
    const heard: unknown[] = [];
    driver.on("message", (m) => heard.push(m));
    driver.attach(transport);
    await opened(driver);
    sink().data(encodeFrame(OP.TEXT, "one", { mask: TEST_KEY }));
    sink().data(encodeFrame(OP.BINARY, new Uint8Array([2]), { mask: TEST_KEY }));
    assert.deepEqual(seen, ["one", new Uint8Array([2])]);
    assert.deepEqual(heard, ["one", new Uint8Array([2])]);
    driver.terminate();
  });

  it("heartbeat: the ping comes no sooner than `interval` after the last input, and not much later", async () => {
    const interval = ms(120);
    const peer = new RawPeer("server", { heartbeat: { interval, timeout: ms(2000) } });
    await peer.rec.opened;
    for (let i = 0; i < 4; i++) {
      peer.sendFrame(OP.TEXT, `m${i}`);
      await delay(interval / 3);
    }
    const last = performance.now();
    peer.sendFrame(OP.TEXT, "last");
    const ping = await peer.readFrame(ms(3000));
    const after = performance.now() - last;
    assert.equal(ping.opcode, OP.PING);
    assert.ok(after >= interval * 0.95, `pinged ${after.toFixed(0)} ms after the last input`);
    assert.ok(after < interval * 1.25 + ms(500), `pinged ${after.toFixed(0)} ms after the last input`);
    peer.driver.terminate();
    await peer.rec.closed;
  });
});

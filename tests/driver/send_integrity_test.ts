// Large sends through the driver: what goes out is what send() was given
// (changing the bytes afterwards changes nothing), and the pooled buffers that
// large frames are encoded into are reused only for transports that say a
// written chunk is let go of (Transport.releasesChunks), and only after that
// chunk's write resolved.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { WebSocketDriver } from "../../src/driver/driver.ts";
import type { Transport, TransportSink } from "../../src/driver/transport.ts";
import { decodeFrames, memoryPair, tick, withTimeout } from "./_pair.ts";
import { pattern, sameBytes } from "../_shared/bytes.ts";
import { Buffer } from "node:buffer";
import { pingPayload } from "../../src/driver/options.ts";

const T = { timeout: 20_000 };

/**
 * A transport that keeps a reference to every chunk written (as a stream's
 * sink may), so that a chunk reused too early shows. Writes resolve at once,
 * or when released while `hold` is set.
 */
class KeepingTransport implements Transport {
  readonly chunks: Uint8Array[] = [];
  hold = false;
  #held: Array<() => void> = [];
  readonly releasesChunks: boolean;
  constructor(releasesChunks: boolean) {
    this.releasesChunks = releasesChunks;
  }
  start(_sink: TransportSink): void {}
  write(chunk: Uint8Array): Promise<void> {
    this.chunks.push(chunk);
    if (!this.hold) return Promise.resolve();
    return new Promise((resolve) => this.#held.push(resolve));
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
  abort(): void {}
  /** Resolves the writes held so far. */
  release(): void {
    const held = this.#held;
    this.#held = [];
    for (const resolve of held) resolve();
  }
  /** The payloads of every binary frame written, in order. */
  payloads(): Uint8Array[] {
    const all = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      all.set(c, at);
      at += c.length;
    }
    return decodeFrames(all).filter((f) => f.opcode === 0x2).map((f) => f.payload);
  }
}

async function openServer(transport: Transport): Promise<WebSocketDriver> {
  const driver = new WebSocketDriver("server");
  driver.attach(transport);
  await withTimeout(driver.opened, "open");
  return driver;
}

/** Lets the driver's flush (a microtask) and the writes' callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await tick();
}

describe("large sends", () => {
  it("changing the bytes after send() does not change what goes out (small and large)", T, async () => {
    for (const releasesChunks of [false, true]) {
      const transport = new KeepingTransport(releasesChunks);
      const driver = await openServer(transport);
      const sizes = [10, 1000, 70_000, 1 << 20];
      for (const size of sizes) {
        const bytes = pattern(size, size);
        driver.send(bytes);
        bytes.fill(0xee); // before the flush: the driver must have copied already
      }
      await settle();
      const got = transport.payloads();
      assert.equal(got.length, sizes.length);
      for (const [i, size] of sizes.entries()) {
        assert.ok(sameBytes(got[i], pattern(size, size)), `the ${size}-byte message went out as sent`);
      }
      driver.terminate();
    }
  });

  it("a transport that may keep its chunks never sees a written chunk change", T, async () => {
    const transport = new KeepingTransport(false);
    const driver = await openServer(transport);
    const size = (3 << 20) + 1234;
    for (let i = 0; i < 6; i++) {
      driver.send(pattern(size, i));
      await settle(); // each write resolved before the next send
    }
    const got = transport.payloads();
    assert.equal(got.length, 6);
    for (let i = 0; i < 6; i++) assert.ok(sameBytes(got[i], pattern(size, i)), `message ${i} is intact`);
    driver.terminate();
  });

  it("a releasing transport: a chunk is reused once its write resolved, never before", T, async () => {
    const transport = new KeepingTransport(true);
    transport.hold = true;
    const driver = await openServer(transport);
    const size = (3 << 20) + 100_000;
    driver.send(pattern(size, 1));
    await settle();
    driver.send(pattern(size, 2));
    await settle();
    const [a, b] = transport.chunks.slice(-2);
    assert.notEqual(a.buffer, b.buffer, "a chunk whose write is pending is not reused");
    const [pa, pb] = transport.payloads();
    assert.ok(sameBytes(pa, pattern(size, 1)) && sameBytes(pb, pattern(size, 2)));
    transport.release();
    await settle();
    transport.hold = false;
    driver.send(pattern(size, 3));
    await settle();
    const c = transport.chunks[transport.chunks.length - 1];
    assert.ok(c.buffer === a.buffer || c.buffer === b.buffer, "a released chunk's memory is reused");
    assert.ok(
      sameBytes(transport.payloads()[2].subarray(0), pattern(size, 3)),
      "the reused buffer holds the new frame",
    );
    driver.terminate();
  });

  it("a failed write's chunk is not reused", T, async () => {
    class Failing extends KeepingTransport {
      override write(chunk: Uint8Array): Promise<void> {
        super.write(chunk);
        return Promise.reject(new Error("broken"));
      }
    }
    const transport = new Failing(true);
    const driver = await openServer(transport);
    const closed = new Promise((resolve) => driver.once("close", resolve));
    const size = (3 << 20) + 200_000;
    driver.send(pattern(size, 7));
    await withTimeout(closed, "close after the failed write");
    const kept = transport.chunks[transport.chunks.length - 1];
    const other = new KeepingTransport(true);
    const second = await openServer(other);
    second.send(pattern(size, 8));
    await settle();
    assert.notEqual(other.chunks[other.chunks.length - 1].buffer, kept.buffer);
    assert.ok(sameBytes(transport.payloads()[0], pattern(size, 7)));
    second.terminate();
  });

  it("large messages through a stream pair arrive intact, many times over", T, async () => {
    const { server, client } = memoryPair();
    await Promise.all([server.opened, client.opened]);
    const got: Uint8Array[] = [];
    const sizes = [65_536, 1 << 20, 200_000, (1 << 20) + 5, 65_536, 3 << 20];
    const all = new Promise<void>((resolve) =>
      client.on("message", (m) => {
        got.push(m as Uint8Array);
        if (got.length === sizes.length) resolve();
      })
    );
    for (const [i, size] of sizes.entries()) {
      const bytes = pattern(size, 100 + i);
      server.send(bytes);
      bytes.fill(0);
      if (i % 2 === 0) await tick();
    }
    await withTimeout(all, "all messages");
    for (const [i, size] of sizes.entries()) assert.ok(sameBytes(got[i], pattern(size, 100 + i)), `message ${i}`);
    server.terminate();
    client.terminate();
  });

  it("a ping's payload given as a Node Buffer is copied at the call (Buffer's slice() is a view)", () => {
    const bytes = Buffer.from("heartbeat");
    const payload = pingPayload(bytes, undefined);
    bytes.fill(0);
    assert.equal(new TextDecoder().decode(payload), "heartbeat");
  });
});

// send(data, { transfer: true }): the caller hands its bytes over instead of
// having them copied. What goes out is what was given; the caller's buffer is
// detached once the send is accepted (so nothing can change what is sent),
// and left alone when the send is refused or the bytes cannot be taken (a
// view into part of a buffer, a shared buffer). Large payloads are written
// from the memory handed over, and that memory receives a later message of
// its length once written.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { Buffer } from "node:buffer";
import { useExtensions, WebSocketDriver } from "../../src/driver/driver.ts";
import type { Transport, TransportSink } from "../../src/driver/transport.ts";
import { MessageCompression } from "../../src/protocol/compression.ts";
import { messageBuffer } from "../../src/protocol/frame.ts";
import { deflateConfig } from "../../src/protocol/extensions.ts";
import { NO_TAKEOVER } from "../protocol/_helpers.ts";
import { decodeFrames, tick, withTimeout } from "./_pair.ts";
import { pattern, sameBytes } from "../_shared/bytes.ts";

const T = { timeout: 30_000 };

/**
 * A transport that copies what each write holds at the moment it is written
 * (what a socket sends), keeps the chunk itself (to see whether it was freed
 * afterwards), and resolves writes at once or, with `hold`, when released.
 */
class CopyingTransport implements Transport {
  readonly written: Uint8Array[] = [];
  readonly chunks: Uint8Array[] = [];
  readonly releasesChunks = true;
  hold = false;
  #held: Array<() => void> = [];
  start(_sink: TransportSink): void {}
  write(chunk: Uint8Array): Promise<void> {
    this.chunks.push(chunk);
    this.written.push(chunk.slice());
    if (!this.hold) return Promise.resolve();
    return new Promise((resolve) => this.#held.push(resolve));
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
  abort(): void {}
  release(): void {
    for (const resolve of this.#held.splice(0)) resolve();
  }
  /** Every frame written, unmasked. */
  frames(): { opcode: number; rsv1: boolean; payload: Uint8Array }[] {
    const all = new Uint8Array(this.written.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.written) {
      all.set(c, at);
      at += c.length;
    }
    return decodeFrames(all).map((f) => ({ opcode: f.opcode, rsv1: (f.rsv & 0x40) !== 0, payload: f.payload }));
  }
}

async function open(role: "server" | "client", deflate = false): Promise<[WebSocketDriver, CopyingTransport]> {
  const driver = new WebSocketDriver(role);
  if (deflate) {
    useExtensions(driver, "permessage-deflate", new MessageCompression(role, NO_TAKEOVER, deflateConfig({}, "test")!));
  }
  const transport = new CopyingTransport();
  driver.attach(transport);
  await withTimeout(driver.opened, "open");
  return [driver, transport];
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await tick();
}

const SIZES = [0, 1, 125, 126, 65_535, 65_536, 70_000, 1 << 20, (3 << 20) + 5];

describe("send with transfer", () => {
  for (const role of ["server", "client"] as const) {
    it(`${role}: every size goes out as given, the caller's buffer detached`, T, async () => {
      const [driver, transport] = await open(role);
      for (const [i, size] of SIZES.entries()) {
        const bytes = pattern(size, i);
        assert.equal(driver.send(bytes, { transfer: true }), true);
        assert.equal(bytes.byteLength, 0, `the ${size}-byte buffer is detached`);
        assert.equal(bytes.buffer.byteLength, 0);
      }
      await settle();
      const frames = transport.frames();
      assert.equal(frames.length, SIZES.length);
      for (const [i, size] of SIZES.entries()) {
        assert.equal(frames[i].opcode, 0x2);
        assert.ok(sameBytes(frames[i].payload, pattern(size, i)), `the ${size}-byte message went out as given`);
      }
      driver.terminate();
    });
  }

  it("a large payload is written from the memory handed over, which receives a later message", T, async () => {
    const [driver, transport] = await open("server");
    transport.hold = true;
    const size = 1 << 20;
    const bytes = pattern(size, 7);
    const memory = bytes.buffer;
    driver.send(bytes, { transfer: true });
    await settle();
    const piece = transport.chunks.find((c) => c.length === size);
    assert.ok(piece !== undefined, "the payload is a write of its own (no copy with its header)");
    assert.notEqual(piece.buffer, memory, "in a buffer of its own, not the caller's (detached) one");
    assert.ok(sameBytes(piece, pattern(size, 7)));
    assert.equal(piece.length, size, "still there while its write is pending");
    assert.notEqual(messageBuffer(size).buffer, piece.buffer, "not received into while its write is pending");
    transport.release();
    await settle();
    assert.ok(sameBytes(transport.frames()[0].payload, pattern(size, 7)));
    assert.equal(messageBuffer(size + 1).buffer === piece.buffer, false, "only a message of its length");
    assert.equal(messageBuffer(size).buffer, piece.buffer, "once written, the next message of its length goes there");
    driver.terminate();
  });

  it("bytes that cannot be taken are copied and left as they are", T, async () => {
    const [driver, transport] = await open("server");
    const whole = pattern(100_000, 1);
    const part = whole.subarray(10, 90_000);
    // From Node's pool (a view into a larger buffer) where the runtime has one.
    const pooled = Buffer.from(pattern(300, 2));
    const pooledWhole = pooled.byteLength === pooled.buffer.byteLength;
    const shared = new Uint8Array(new SharedArrayBuffer(80_000));
    shared.set(pattern(80_000, 3));
    const resizable = new Uint8Array(new ArrayBuffer(70_000, { maxByteLength: 140_000 }));
    resizable.set(pattern(70_000, 4));
    const sent = [part, pooled, shared, resizable];
    const expected = sent.map((b) => new Uint8Array(b)); // copies (a Buffer's slice() is a view)
    for (const b of sent) assert.equal(driver.send(b, { transfer: true }), true);
    for (const b of sent) b.fill(0xee); // copied at once: changing them now changes nothing
    for (const [i, b] of sent.entries()) {
      assert.equal(b.length, b === pooled && pooledWhole ? 0 : expected[i].length, `bytes ${i} taken or not`);
    }
    await settle();
    const frames = transport.frames();
    for (const [i, e] of expected.entries()) assert.ok(sameBytes(frames[i].payload, e), `message ${i} as given`);
    driver.terminate();
  });

  it("an ArrayBuffer and other views of a whole buffer are taken too", T, async () => {
    const [driver, transport] = await open("server");
    const buffer = pattern(200_000, 5).buffer as ArrayBuffer;
    const words = new Uint32Array(pattern(80_000, 6).buffer);
    const view = new DataView(pattern(66_000, 7).buffer);
    for (const data of [buffer, words, view]) assert.equal(driver.sendBinary(data, { transfer: true }), true);
    assert.equal(buffer.byteLength, 0);
    assert.equal(words.length, 0);
    assert.equal(view.buffer.byteLength, 0);
    await settle();
    const frames = transport.frames();
    assert.ok(sameBytes(frames[0].payload, pattern(200_000, 5)));
    assert.ok(sameBytes(frames[1].payload, pattern(80_000, 6)));
    assert.ok(sameBytes(frames[2].payload, pattern(66_000, 7)));
    driver.terminate();
  });

  it("a refused send leaves the caller's bytes alone", T, async () => {
    const [driver] = await open("server");
    driver.closeConnection();
    const bytes = pattern(100_000, 1);
    assert.equal(driver.send(bytes, { transfer: true }), false);
    assert.equal(bytes.length, 100_000);
    assert.ok(sameBytes(bytes, pattern(100_000, 1)));
    const dropped = new WebSocketDriver("server", { sendQueuePolicy: "drop", outgoingHighWaterMark: 1024 });
    const transport = new CopyingTransport();
    transport.hold = true;
    dropped.attach(transport);
    await withTimeout(dropped.opened, "open");
    dropped.send(pattern(4096, 0));
    await settle(); // the first write is pending: over the high-water mark
    const refused = pattern(100_000, 2);
    assert.equal(dropped.send(refused, { transfer: true }), false);
    assert.equal(refused.length, 100_000, "dropped by the policy: not taken");
    driver.terminate();
    dropped.terminate();
  });

  it("with permessage-deflate: compressed as given, the caller's buffer detached", T, async () => {
    for (const role of ["server", "client"] as const) {
      const [driver, transport] = await open(role, true);
      const sizes = [10, 70_000, 1 << 20];
      for (const [i, size] of sizes.entries()) {
        const bytes = pattern(size, i);
        assert.equal(driver.send(bytes, { transfer: true }), true);
        assert.equal(bytes.length, 0);
      }
      await settle();
      const frames = transport.frames();
      for (const [i, size] of sizes.entries()) {
        const { rsv1, payload } = frames[i];
        const data = rsv1
          ? zlib.inflateRawSync(Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]), {
            finishFlush: zlib.constants.Z_SYNC_FLUSH,
          })
          : Buffer.from(payload);
        assert.ok(sameBytes(new Uint8Array(data), pattern(size, i)), `${role}: the ${size}-byte message`);
      }
      driver.terminate();
    }
  });

  it("transfer must be a boolean", () => {
    const driver = new WebSocketDriver("server");
    assert.throws(
      () => driver.send(new Uint8Array(4), { transfer: 1 as unknown as boolean }),
      (e: Error) => e instanceof TypeError && /transfer must be true or false/.test(e.message),
    );
    assert.throws(() => driver.send(new Uint8Array(4), { move: true } as never), TypeError);
    // A string is always copied; the option is accepted.
    assert.equal(driver.send("text", { transfer: true }), true);
  });
});

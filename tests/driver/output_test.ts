// The output side of a connection (src/driver/output.ts) on its own, over a
// transport whose writes finish when the test says: corked flushes, bytes in
// flight in bufferedAmount, the answers rule (stop reading a peer that does
// not read our answers), drain, sendQueuePolicy, and the end of the output.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Output } from "../../src/driver/output.ts";
import type { OutputHost } from "../../src/driver/output.ts";
import { driverSettings } from "../../src/driver/options.ts";
import type { DriverOptions } from "../../src/driver/options.ts";
import { WRITTEN } from "../../src/driver/transport.ts";
import type { Transport } from "../../src/driver/transport.ts";
import { Protocol } from "../../src/protocol/protocol.ts";

/** A transport that writes on the spot, or holds each write until `finish()`. */
class HeldTransport implements Transport {
  readonly writes: Uint8Array[] = [];
  readonly held: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  hold = false;
  ended = 0;
  start(): void {}
  write(chunk: Uint8Array): Promise<void> {
    this.writes.push(chunk.slice());
    if (!this.hold) return WRITTEN;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.held.push({ resolve, reject });
    return promise;
  }
  end(): Promise<void> {
    this.ended++;
    return Promise.resolve();
  }
  abort(): void {}
  /** Finishes the oldest held write. */
  finish(error?: unknown): void {
    const w = this.held.shift()!;
    if (error === undefined) w.resolve();
    else w.reject(error);
  }
}

/** A connection as the output sees it: its transport, protocol and what it was told. */
interface Conn {
  transport: Transport | null;
  protocol: Protocol;
  log: string[];
}

const host: OutputHost<Conn> = {
  transport: (c) => c.transport,
  protocol: (c) => c.protocol,
  answersWaiting: (c, waiting) => c.log.push(`answers ${waiting ? "wait" : "flow"}`),
  queueFull: (c) => c.log.push("queue full"),
  drained: (c) => c.log.push("drain"),
  ended: (c) => c.log.push("ended"),
  failed: (c, error) => c.log.push(`failed ${(error as Error).message}`),
};

function setup(options?: DriverOptions) {
  const transport = new HeldTransport();
  const conn: Conn = { transport, protocol: new Protocol({ role: "server" }), log: [] };
  const output = new Output(conn, host, driverSettings(options));
  return { transport, conn, output };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("Output: corked writes", () => {
  it("writes every frame sent in one tick in one write, in a microtask", async () => {
    const { transport, conn, output } = setup();
    for (const text of ["a", "bb", "ccc"]) {
      conn.protocol.sendText(text, false);
      output.sent(false, conn.protocol.bytesToSend);
    }
    assert.equal(transport.writes.length, 0, "nothing written synchronously");
    await Promise.resolve();
    assert.equal(transport.writes.length, 1);
    assert.deepEqual([...transport.writes[0]], [0x81, 1, 0x61, 0x81, 2, 0x62, 0x62, 0x81, 3, 0x63, 0x63, 0x63]);
  });

  it("leaves sends made inside a turn to the turn's own flush", async () => {
    const { transport, conn, output } = setup();
    conn.protocol.sendText("x", false);
    output.sent(true, conn.protocol.bytesToSend);
    await tick();
    assert.equal(transport.writes.length, 0);
    output.flush(true);
    assert.equal(transport.writes.length, 1);
  });

  it("writes nothing without a transport", async () => {
    const { conn, output } = setup();
    conn.transport = null;
    conn.protocol.sendText("x", false);
    output.sent(false, conn.protocol.bytesToSend);
    await tick();
    output.flush();
    assert.equal(output.bufferedAmount, 3, "the frame waits in the protocol");
  });
});

describe("Output: bufferedAmount and drain", () => {
  it("counts bytes in the transport's hands until their write resolves, then drains once", async () => {
    const { transport, conn, output } = setup({ outgoingHighWaterMark: 1000 });
    transport.hold = true;
    conn.protocol.sendBinary(new Uint8Array(3000), false);
    output.sent(false, conn.protocol.bytesToSend);
    assert.equal(output.bufferedAmount, 3004, "encoded, not written");
    const drained = output.drained(false);
    await Promise.resolve();
    assert.equal(transport.writes.length, 1);
    assert.equal(output.bufferedAmount, 3004, "written, not resolved");
    let resolved = false;
    drained.then(() => resolved = true);
    await tick();
    assert.equal(resolved, false);
    transport.finish();
    await tick();
    assert.equal(output.bufferedAmount, 0);
    assert.equal(resolved, true);
    assert.deepEqual(conn.log, ["drain"]);
  });

  it("drains after a write finished on the spot when the queue had been full", async () => {
    const { conn, output } = setup({ outgoingHighWaterMark: 10 });
    conn.protocol.sendBinary(new Uint8Array(100), false);
    output.sent(false, conn.protocol.bytesToSend);
    await tick();
    assert.deepEqual(conn.log, ["drain"]);
  });

  it("lets drain waiters go when the connection finishes", async () => {
    const { transport, conn, output } = setup({ outgoingHighWaterMark: 10 });
    transport.hold = true;
    conn.protocol.sendBinary(new Uint8Array(100), false);
    output.sent(false, conn.protocol.bytesToSend);
    const drained = output.drained(false);
    output.finish();
    await drained;
    assert.deepEqual(conn.log, [], "no drain event");
    assert.equal(await output.drained(true), undefined, "a closed connection never waits");
  });
});

describe("Output: the answers rule", () => {
  it("stops reading a peer whose answers wait beyond the high-water mark, and reads again once written", async () => {
    const { transport, conn, output } = setup({ outgoingHighWaterMark: 1000 });
    transport.hold = true;
    conn.protocol.sendBinary(new Uint8Array(600), false);
    output.flush(true);
    assert.deepEqual(conn.log, [], "600 bytes: under the mark");
    conn.protocol.sendBinary(new Uint8Array(600), false);
    output.flush(true);
    assert.deepEqual(conn.log, ["answers wait"]);
    transport.finish();
    await tick();
    assert.deepEqual(conn.log, ["answers wait", "answers flow"]);
  });

  it("does not count what the application sends on its own", () => {
    const { transport, conn, output } = setup({ outgoingHighWaterMark: 1000 });
    transport.hold = true;
    conn.protocol.sendBinary(new Uint8Array(5000), false);
    output.flush(false);
    assert.deepEqual(conn.log, []);
  });

  it('closes the connection with sendQueuePolicy "close" when answers fill the queue', () => {
    const { transport, conn, output } = setup({ outgoingHighWaterMark: 100, sendQueuePolicy: "close" });
    transport.hold = true;
    conn.protocol.sendBinary(new Uint8Array(500), false);
    output.flush(true);
    assert.deepEqual(conn.log, ["answers wait", "queue full"]);
  });
});

describe("Output: sendQueuePolicy over the high-water mark", () => {
  for (
    const [policy, admitted, log] of [
      ["buffer", true, []],
      ["drop", false, []],
      ["close", false, ["queue full"]],
    ] as const
  ) {
    it(`"${policy}"`, () => {
      const { conn, output } = setup({ outgoingHighWaterMark: 10, sendQueuePolicy: policy });
      assert.equal(output.admit(), true, "under the mark: always");
      conn.protocol.sendBinary(new Uint8Array(100), false);
      assert.equal(output.admit(), admitted);
      assert.deepEqual(conn.log, log);
    });
  }

  it('"throw" throws a RangeError that says why', () => {
    const { conn, output } = setup({ outgoingHighWaterMark: 10, sendQueuePolicy: "throw" });
    conn.protocol.sendBinary(new Uint8Array(100), false);
    assert.throws(() => output.admit(), { name: "RangeError", message: /^Cannot send: 102 bytes are waiting/ });
  });
});

describe("Output: the end", () => {
  it("ends the transport after the close reply, once, and reports it", async () => {
    const { transport, conn, output } = setup();
    const client = new Protocol({ role: "client" });
    client.sendClose(1000, "");
    for (const chunk of client.dataToSend()) {
      if (chunk instanceof Uint8Array) conn.protocol.receiveData(chunk);
    }
    output.flush(true);
    assert.equal(transport.ended, 1);
    assert.equal(transport.writes.length, 1, "the close reply");
    assert.equal(transport.writes[0][0], 0x88);
    assert.equal(output.done, false, "not before end() resolved");
    await tick();
    assert.equal(output.done, true);
    assert.deepEqual(conn.log, ["ended"]);
    conn.protocol.sendText("late", false);
    output.flush();
    assert.equal(transport.writes.length, 1, "nothing after the end");
  });

  it("reports a failed write, and forgets its bytes", async () => {
    const { transport, conn, output } = setup();
    transport.hold = true;
    conn.protocol.sendBinary(new Uint8Array(10), false);
    output.flush();
    transport.finish(new Error("reset"));
    await tick();
    assert.deepEqual(conn.log, ["failed reset"]);
    assert.equal(output.bufferedAmount, 0);
  });

  it("ignores writes of a transport the connection no longer runs on", async () => {
    const { transport, conn, output } = setup();
    transport.hold = true;
    conn.protocol.sendBinary(new Uint8Array(10), false);
    output.flush();
    conn.transport = new HeldTransport();
    output.reset();
    transport.finish(new Error("old"));
    await tick();
    assert.deepEqual(conn.log, []);
    assert.equal(output.bufferedAmount, 0);
  });
});

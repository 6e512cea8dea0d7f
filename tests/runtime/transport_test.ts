// The runtime adapters' transports over loopback TCP, whichever binding is in
// use (native by default; WSD_BINDING=streams for the Web Streams one:
// tools/test_all.sh runs this file with both): bytes arrive whole and in
// order, chunks handed to a sink are never reused, half-close, abort, pause
// and resume (backpressure reaching the peer), large writes, and the
// hand-over of the input after a head (HeldInput).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { binding, runtimeAdapter, runtimeName } from "../../src/runtime/mod.ts";
import type { RuntimeAdapter, ServeBackend } from "../../src/runtime/types.ts";
import { WRITTEN } from "../../src/driver/transport.ts";
import type { Transport, TransportSink } from "../../src/driver/transport.ts";
import { delay, withTimeout } from "../driver/_pair.ts";
import { pattern, sameBytes } from "../_shared/bytes.ts";
import { PipeHeadReader } from "../driver/_held.ts";

const HOST = "127.0.0.1";
const T = { timeout: 20_000 };

/** A sink that records everything, keeping each chunk as it was handed over. */
class Recorder implements TransportSink {
  chunks: Uint8Array[] = [];
  /** Copies taken at delivery time, to tell whether a chunk was changed later. */
  copies: Uint8Array[] = [];
  bytes = 0;
  ended = false;
  endCount = 0;
  error: unknown = undefined;
  #waiters: Array<() => void> = [];
  data(chunk: Uint8Array): void {
    assert.ok(chunk instanceof Uint8Array);
    this.chunks.push(chunk);
    this.copies.push(chunk.slice());
    this.bytes += chunk.length;
    this.#wake();
  }
  end(error?: unknown): void {
    this.ended = true;
    this.endCount++;
    this.error = error;
    this.#wake();
  }
  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
  /** Resolves once `predicate()` holds. */
  async until(predicate: () => boolean, what: string, limit = 10_000): Promise<void> {
    const check = new Promise<void>((resolve) => {
      const test = () => predicate() ? resolve() : this.#waiters.push(test);
      test();
    });
    await withTimeout(check, what, limit);
  }
  /** Everything received, joined. */
  joined(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

describe(`runtime transports on ${runtimeName} (binding: ${binding})`, () => {
  let adapter: RuntimeAdapter;
  let listener: ServeBackend;
  const accepted: Array<(t: Transport) => void> = [];
  const pending: Transport[] = [];
  const open: Transport[] = [];

  before(async () => {
    adapter = await runtimeAdapter();
    listener = await adapter.listenTcp({ hostname: HOST, port: 0 }, (transport) => {
      const waiter = accepted.shift();
      if (waiter !== undefined) waiter(transport);
      else pending.push(transport);
    });
  });

  after(async () => {
    for (const t of open) t.abort();
    await listener.close();
  });

  /** A connected pair: our client's transport and the server's. */
  async function pair(): Promise<{ client: Transport; server: Transport }> {
    const serverSide = new Promise<Transport>((resolve) => {
      const next = pending.shift();
      if (next !== undefined) resolve(next);
      else accepted.push(resolve);
    });
    const client = await adapter.connect({ hostname: HOST, port: listener.addr.port, tls: false });
    const server = await withTimeout(serverSide, "the server side of the connection");
    open.push(client, server);
    return { client, server };
  }

  it("many writes arrive whole and in order; no chunk handed to a sink is changed later", T, async () => {
    const { client, server } = await pair();
    const got = new Recorder();
    server.start(got);
    client.start(new Recorder());
    // Sizes that make small reads (copied out of a reused buffer on Deno) and
    // large ones (handed over) alternate.
    const sizes = [1, 37, 3000, 70_000, 5, 200_000, 2, 64 * 1024, 9, 1 << 20, 100, 3];
    const sent: Uint8Array[] = [];
    for (let round = 0; round < 3; round++) {
      for (const [i, size] of sizes.entries()) {
        const bytes = pattern(size, round * 100 + i);
        sent.push(bytes);
        await client.write(bytes);
        // Small writes one at a time, so that reads stay small too.
        if (size < 100) await got.until(() => got.bytes >= sent.reduce((n, b) => n + b.length, 0), "a small write");
      }
    }
    const total = sent.reduce((n, b) => n + b.length, 0);
    await got.until(() => got.bytes >= total, "all bytes");
    assert.equal(got.bytes, total);
    const expected = new Uint8Array(total);
    let at = 0;
    for (const b of sent) {
      expected.set(b, at);
      at += b.length;
    }
    assert.ok(sameBytes(got.joined(), expected), "the bytes arrived in order");
    for (let i = 0; i < got.chunks.length; i++) {
      assert.ok(sameBytes(got.chunks[i], got.copies[i]), `chunk ${i} was changed after it was handed over`);
    }
  });

  it("a large write (16 MiB) resolves once written and arrives whole", T, async () => {
    const { client, server } = await pair();
    const got = new Recorder();
    server.start(got);
    client.start(new Recorder());
    const big = pattern(16 << 20, 7);
    const written = client.write(big);
    await got.until(() => got.bytes === big.length, "16 MiB");
    await withTimeout(written, "the write to resolve");
    assert.ok(sameBytes(got.joined(), big));
  });

  it("a write that fails rejects, with the writes queued behind it, later writes and end()", T, async () => {
    const { client, server } = await pair();
    server.start(new Recorder());
    client.start(new Recorder());
    // The server reads nothing: the 16 MiB write waits for the kernel, and
    // the next one queues behind it (on Deno, the first went straight to
    // conn.write: its failure must reach the queued one too).
    server.pause!();
    const first = client.write(pattern(16 << 20, 3));
    const queued = client.write(pattern(1000, 4));
    first.catch(() => {});
    queued.catch(() => {});
    await delay(50);
    // Closing with unread input resets the connection: the client's write fails.
    server.abort();
    await assert.rejects(withTimeout(first, "the first write to fail"));
    await assert.rejects(withTimeout(queued, "the queued write to fail"));
    await assert.rejects(client.write(pattern(1)), "a write after the failure rejects");
    await assert.rejects(withTimeout(client.end(), "end() after the failure"));
  });

  it("end() half-closes: the peer's input ends cleanly and it can still answer", T, async () => {
    const { client, server } = await pair();
    const atServer = new Recorder();
    const atClient = new Recorder();
    server.start(atServer);
    client.start(atClient);
    await client.write(pattern(10));
    // (The streams binding's end() resolves only once the whole socket is
    // closed on Node and Bun: it is awaited last.)
    const ended = client.end();
    ended.catch(() => {}); // awaited below, or aborted
    await atServer.until(() => atServer.ended, "the server's input to end");
    assert.equal(atServer.error, undefined);
    assert.equal(atServer.bytes, 10);
    if (runtimeName === "deno" && binding === "streams") {
      // Deno's conn.readable closes the connection's resource at the end of
      // its input, so the writable side fails after a peer's half-close: a
      // limit of that binding, which the native one does not have.
      client.abort();
      return;
    }
    // The other direction still works.
    await server.write(pattern(1000, 1));
    await atClient.until(() => atClient.bytes === 1000, "the answer after the half-close");
    assert.equal(atClient.ended, false);
    await server.end();
    await atClient.until(() => atClient.ended, "the client's input to end");
    assert.equal(atClient.error, undefined);
    assert.equal(atClient.endCount, 1);
    await withTimeout(ended, "end() to resolve");
    // Nothing may be written once ended.
    await assert.rejects(client.write(pattern(1)));
  });

  it("end() after the peer ended, with nothing being written: finished on the spot (WRITTEN)", T, async (t) => {
    // The native bindings say so with WRITTEN, so that the driver arms no
    // close timer for each connection whose peer went away (the streams
    // binding, over a WritableStream, cannot; on Deno its half-close closes
    // the whole connection, see above).
    if (binding !== "native") return t.skip("the native bindings only");
    const { client, server } = await pair();
    const atServer = new Recorder();
    const atClient = new Recorder();
    server.start(atServer);
    client.start(atClient);
    await server.write(pattern(10));
    client.end().catch(() => {});
    await atServer.until(() => atServer.ended, "the server's input to end");
    const ended = server.end();
    assert.equal(ended, WRITTEN);
    await withTimeout(ended, "end() to resolve");
    await atClient.until(() => atClient.ended, "the client's input to end");
    assert.equal(atClient.bytes, 10);
    await assert.rejects(server.write(pattern(1)));
  });

  it("abort() ends the local input once, and the peer's input", T, async () => {
    const { client, server } = await pair();
    const atServer = new Recorder();
    const atClient = new Recorder();
    server.start(atServer);
    client.start(atClient);
    await client.write(pattern(100));
    await atServer.until(() => atServer.bytes === 100, "the first bytes");
    client.abort();
    await atClient.until(() => atClient.ended, "the aborted side's input to end");
    await atServer.until(() => atServer.ended, "the peer's input to end");
    await delay(50);
    assert.equal(atClient.endCount, 1);
    assert.equal(atServer.endCount, 1);
    await assert.rejects(client.write(pattern(1)), "a write after abort() rejects");
    // A second abort is harmless.
    client.abort();
  });

  it("pause() stops the input until resume(): the peer's writes back up, then all arrive", T, async () => {
    const { client, server } = await pair();
    const got = new Recorder();
    server.start(got);
    client.start(new Recorder());
    server.pause!();
    const chunk = pattern(256 * 1024, 3);
    const total = 64 * chunk.length; // 16 MiB: more than any socket buffers hold
    let written = 0;
    const writing = (async () => {
      for (let i = 0; i < 64; i++) {
        await client.write(chunk);
        written += chunk.length;
      }
    })();
    await delay(400);
    const whilePaused = got.bytes;
    assert.ok(
      whilePaused < total / 2,
      `paused input delivered ${whilePaused} of ${total} bytes (at most one read may slip through)`,
    );
    assert.ok(written < total, "the writer is held back by TCP");
    server.resume!();
    await got.until(() => got.bytes === total, "everything after resume()");
    await withTimeout(writing, "the writes to finish");
    assert.equal(got.bytes, total);
  });

  it("a head reader hands over what came after the head, then what was held, then live input", T, async () => {
    const { client, server } = await pair();
    client.start(new Recorder());
    const reader = new PipeHeadReader(server);
    await client.write(new TextEncoder().encode("head|rest"));
    await withTimeout(
      (async () => {
        while (!reader.done) await delay(5);
      })(),
      "the head",
    );
    // Input while nobody reads is held (and the transport paused).
    await client.write(new TextEncoder().encode("-held"));
    await delay(100);
    const second = new Recorder();
    reader.resumeWith(second);
    await client.write(new TextEncoder().encode("-live"));
    client.end().catch(() => {}); // (resolves only once both ends closed, with the streams binding)
    await second.until(() => second.ended, "the end, at the second reader");
    assert.equal(new TextDecoder().decode(second.joined()), "rest-held-live");
    assert.equal(reader.saw.join(""), "head|rest", "the head reader gets nothing after its head");
    assert.throws(() => reader.resumeWith(new Recorder()), TypeError);
  });

  it("a head reader delivers an end that came while nobody read, after the held bytes", T, async () => {
    const { client, server } = await pair();
    client.start(new Recorder());
    const reader = new PipeHeadReader(server);
    assert.equal(reader.transport, server);
    await client.write(new TextEncoder().encode("|"));
    await withTimeout(
      (async () => {
        while (!reader.done) await delay(5);
      })(),
      "the head",
    );
    await client.write(pattern(5));
    await delay(100);
    // The transport is paused while held: resume it by hand, so the end can arrive.
    server.resume!();
    await client.write(pattern(2));
    client.end().catch(() => {});
    await delay(200);
    const second = new Recorder();
    reader.resumeWith(second);
    await second.until(() => second.ended, "the held end");
    assert.equal(second.bytes, 7);
    assert.equal(second.error, undefined);
  });
});

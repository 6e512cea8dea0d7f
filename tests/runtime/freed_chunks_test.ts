// Read chunks freed once the protocol lets go of them (src/runtime/memory.ts
// freeChunk: Node's socket events and Bun's socket handlers detach each read's
// ArrayBuffer): whatever the reads, every message stays whole for as long as
// the application keeps it, fragmented messages and 16 MiB ones made of
// hundreds of reads included; a chunk some other `data` listener was handed
// too is never freed. Run with the binding in use (WSD_BINDING=streams frees
// nothing: the same messages must arrive there too).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { WebSocketDriver } from "../../src/driver/driver.ts";
import { binding, runtimeAdapter, runtimeName } from "../../src/runtime/mod.ts";
import type { RuntimeAdapter, ServeBackend } from "../../src/runtime/types.ts";
import type { Transport } from "../../src/driver/transport.ts";
import { SocketTransport } from "../../src/runtime/node.ts";
import { FREED_CHUNK } from "../../src/runtime/memory.ts";
import { withTimeout } from "../driver/_pair.ts";
import { concatAll, pattern, sameBytes } from "../_shared/bytes.ts";
import { encodeFrame, OP } from "../_shared/frames.ts";

const HOST = "127.0.0.1";
const T = { timeout: 60_000 };
const KEY = new Uint8Array([0x0f, 0xe1, 0x55, 0x3c]);

/** A masked client frame. */
function masked(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  return encodeFrame(opcode, payload, { fin, mask: KEY });
}

describe(`messages kept while their reads are freed, on ${runtimeName} (binding: ${binding})`, () => {
  let adapter: RuntimeAdapter;
  let listener: ServeBackend;
  const accepted: Array<(t: Transport) => void> = [];
  const open: Array<{ terminate(): void } | Transport> = [];

  before(async () => {
    adapter = await runtimeAdapter();
    listener = await adapter.listenTcp({ hostname: HOST, port: 0 }, (t) => accepted.shift()!(t));
  });
  after(async () => {
    for (const o of open) "terminate" in o ? o.terminate() : o.abort();
    await listener.close();
  });

  it("16 MiB, 1 MiB and fragmented messages among small ones, written in uneven pieces", T, async () => {
    const serverSide = new Promise<Transport>((resolve) => accepted.push(resolve));
    const client = await adapter.connect({ hostname: HOST, port: listener.addr.port, tls: false });
    open.push(client);
    const server = new WebSocketDriver("server", { maxLength: 32 << 20 });
    open.push(server);
    server.attach(await withTimeout(serverSide, "the accepted connection"));
    client.start({ data() {}, end() {} });

    const expected: Array<Uint8Array | string> = [];
    const frames: Uint8Array[] = [];
    const binary = (payload: Uint8Array) => {
      expected.push(payload);
      frames.push(masked(OP.BINARY, payload));
    };
    binary(pattern(16 << 20, 1));
    for (const [i, size] of [(1 << 20) - 14, 1 << 20, (1 << 20) + 4000, 65_536, 300_001].entries()) {
      binary(pattern(size, 10 + i));
    }
    // A fragmented binary message with a ping between its fragments, and a fragmented text one.
    const parts = [pattern(200_000, 20), pattern(3, 21), pattern(2 << 20, 22)];
    expected.push(concatAll(parts));
    frames.push(masked(OP.BINARY, parts[0], false), masked(OP.PING, pattern(50, 23)));
    frames.push(masked(OP.CONT, parts[1], false), masked(OP.CONT, parts[2]));
    const text = "ü".repeat(150_000) + " end";
    const textBytes = new TextEncoder().encode(text);
    expected.push(text);
    frames.push(masked(OP.TEXT, textBytes.subarray(0, 99_999), false), masked(OP.CONT, textBytes.subarray(99_999)));
    for (let i = 0; i < 300; i++) binary(pattern(1 + (i * 131) % 3000, 100 + i));
    binary(pattern(16 << 20, 2));

    const got: Array<Uint8Array | string> = [];
    let done!: () => void;
    const all = new Promise<void>((resolve) => done = resolve);
    server.on("message", (m) => {
      got.push(m as Uint8Array | string);
      if (got.length === expected.length) done();
    });

    // Uneven writes (1 byte to 700 KiB), so that frames start and end anywhere in the server's reads.
    const wire = concatAll(frames);
    let seed = 7;
    for (let at = 0; at < wire.length;) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const n = Math.min(wire.length - at, seed % 5 === 0 ? 1 + (seed % 5000) : 1 + (seed % 700_000));
      await client.write(wire.slice(at, at + n));
      at += n;
    }
    await withTimeout(all, "every message", 50_000);
    // Checked only now, after every read: a message in freed memory would be empty or changed.
    assert.equal(got.length, expected.length);
    for (const [i, e] of expected.entries()) {
      if (typeof e === "string") assert.equal(got[i], e, `message ${i} (text)`);
      else {assert.ok(
          got[i] instanceof Uint8Array && sameBytes(got[i] as Uint8Array, e),
          `message ${i} (${e.length} bytes)`,
        );}
    }
  });
});

describe(`node:net socket events on ${runtimeName}: what is freed`, () => {
  /** Sends `bytes` to a SocketTransport whose sink keeps every chunk and says it kept nothing. */
  async function deliver(bytes: Uint8Array, otherListener: boolean) {
    const chunks: Uint8Array[] = [];
    const others: Array<{ chunk: Uint8Array; copy: Uint8Array }> = [];
    let received = 0;
    let wake: () => void = () => {};
    const sockets: net.Socket[] = [];
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      sockets.push(socket);
      if (otherListener) socket.on("data", (c: Uint8Array) => others.push({ chunk: c, copy: c.slice() }));
      new SocketTransport(socket).start({
        data(chunk) {
          chunks.push(chunk);
          received += chunk.length;
          wake();
          return true;
        },
        end() {},
      });
    });
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    const port = (server.address() as net.AddressInfo).port;
    const client = net.connect({ host: HOST, port });
    await new Promise((resolve) => client.once("connect", resolve));
    client.write(bytes);
    while (received < bytes.length) {
      await withTimeout(new Promise<void>((resolve) => wake = resolve), "the bytes", 10_000);
    }
    client.destroy();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    return { chunks, others };
  }

  it("a read the sink let go of is freed when ours is the only data listener", T, async () => {
    const { chunks } = await deliver(pattern(4 << 20, 3), false);
    // Every chunk was let go of: those over FREED_CHUNK bytes are detached now.
    assert.ok(chunks.some((c) => c.byteLength === 0), "some reads were freed");
  });

  it("never when another data listener was handed the same chunks", T, async () => {
    const { chunks, others } = await deliver(pattern(4 << 20, 4), true);
    assert.ok(others.length > 0);
    assert.ok(chunks.every((c) => c.byteLength > 0), "nothing freed");
    for (const { chunk, copy } of others) assert.ok(sameBytes(chunk, copy), "the other listener's chunks are intact");
    assert.ok(chunks.some((c) => c.byteLength >= FREED_CHUNK), "reads large enough to be freed came");
  });
});

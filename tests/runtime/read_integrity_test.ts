// The per-read path on this runtime: the ASCII decoder src/runtime/text.ts
// hands to the protocol, and transports reading into the same memory again
// when the sink says it kept nothing (Deno's native binding does).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { binding, runtimeAdapter, runtimeName } from "../../src/runtime/mod.ts";
import type { RuntimeAdapter, ServeBackend } from "../../src/runtime/types.ts";
import type { Transport, TransportSink } from "../../src/driver/transport.ts";
import { asciiDecoder } from "../../src/runtime/text.ts";
import { decodeShortText } from "../../src/protocol/utf8.ts";
import { withTimeout } from "../driver/_pair.ts";

const HOST = "127.0.0.1";
const T = { timeout: 20_000 };

describe(`the ASCII decoder on ${runtimeName}`, () => {
  it("is there, and decodes any range of ASCII bytes", () => {
    assert.notEqual(asciiDecoder, null, "node:buffer's latin1Slice is available on Node, Deno and Bun");
    const bytes = new Uint8Array(128);
    for (let i = 0; i < 128; i++) bytes[i] = i;
    for (const [start, end] of [[0, 0], [0, 128], [32, 127], [65, 66], [10, 74]]) {
      assert.equal(asciiDecoder!(bytes, start, end), String.fromCharCode(...bytes.subarray(start, end)));
    }
    assert.equal(decodeShortText(new TextEncoder().encode("short ASCII text!"), 17), "short ASCII text!");
  });
});

/** A sink that copies each chunk and says it kept nothing; notes every ArrayBuffer it saw. */
class Copier implements TransportSink {
  bytes: number[] = [];
  buffers = new Set<ArrayBufferLike>();
  reads = 0;
  #wake: (() => void) | null = null;
  data(chunk: Uint8Array): boolean {
    this.reads++;
    this.buffers.add(chunk.buffer);
    for (const b of chunk) this.bytes.push(b);
    this.#wake?.();
    return true;
  }
  end(): void {}
  async until(n: number): Promise<void> {
    while (this.bytes.length < n) {
      await withTimeout(new Promise<void>((resolve) => this.#wake = resolve), `${n} bytes`, 10_000);
    }
  }
}

describe(`reading into the same memory again on ${runtimeName} (binding: ${binding})`, () => {
  let adapter: RuntimeAdapter;
  let listener: ServeBackend;
  let serverSide: Promise<Transport>;
  let resolveServer: (t: Transport) => void;
  const open: Transport[] = [];

  before(async () => {
    adapter = await runtimeAdapter();
    serverSide = new Promise((resolve) => resolveServer = resolve);
    listener = await adapter.listenTcp({ hostname: HOST, port: 0 }, (t) => resolveServer(t));
  });

  after(async () => {
    for (const t of open) t.abort();
    await listener.close();
  });

  it("small reads arrive whole and in order when the sink releases each chunk", T, async () => {
    const client = await adapter.connect({ hostname: HOST, port: listener.addr.port, tls: false });
    const server = await withTimeout(serverSide, "the server side");
    open.push(client, server);
    const got = new Copier();
    server.start(got);
    client.start({ data() {}, end() {} });
    const expected: number[] = [];
    for (let i = 0; i < 40; i++) {
      const piece = new Uint8Array(1 + (i * 7) % 50).map((_, j) => (i * 13 + j) & 0xff);
      expected.push(...piece);
      await client.write(piece);
      await got.until(expected.length); // one read per write
    }
    assert.deepEqual(got.bytes, expected);
    if (runtimeName === "deno" && binding === "native") {
      assert.ok(got.buffers.size < got.reads / 2, `the read buffer was reused (${got.buffers.size} for ${got.reads})`);
    }
  });
});

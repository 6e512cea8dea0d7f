// Large messages echoed over the runtime adapters' transports (loopback TCP,
// the binding in use: native by default, WSD_BINDING=streams for the Web
// Streams one). The native transports let go of written chunks
// (Transport.releasesChunks), so large frames are encoded into pooled buffers
// reused from one write to the next: every message must still arrive as it
// was sent, while the sender changes its bytes right after send().
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { WebSocketDriver } from "../../src/driver/driver.ts";
import { binding, runtimeAdapter, runtimeName } from "../../src/runtime/mod.ts";
import type { RuntimeAdapter, ServeBackend } from "../../src/runtime/types.ts";
import type { Transport } from "../../src/driver/transport.ts";
import { withTimeout } from "../driver/_pair.ts";

const HOST = "127.0.0.1";
const T = { timeout: 60_000 };

function filled(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 13 + seed + (i >>> 11)) & 0xff;
  return out;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe(`large echoes over ${runtimeName}'s transports (binding: ${binding})`, () => {
  let adapter: RuntimeAdapter;
  let listener: ServeBackend;
  const accepted: Array<(t: Transport) => void> = [];
  const drivers: WebSocketDriver[] = [];

  before(async () => {
    adapter = await runtimeAdapter();
    listener = await adapter.listenTcp({ hostname: HOST, port: 0 }, (transport) => accepted.shift()!(transport));
  });

  after(async () => {
    for (const d of drivers) d.terminate();
    await listener.close();
  });

  async function pair(): Promise<{ server: WebSocketDriver; client: WebSocketDriver }> {
    const serverSide = new Promise<Transport>((resolve) => accepted.push(resolve));
    const clientTransport = await adapter.connect({ hostname: HOST, port: listener.addr.port, tls: false });
    const serverTransport = await withTimeout(serverSide, "the accepted connection");
    const server = new WebSocketDriver("server");
    const client = new WebSocketDriver("client");
    drivers.push(server, client);
    server.attach(serverTransport);
    client.attach(clientTransport);
    await Promise.all([server.opened, client.opened]);
    return { server, client };
  }

  it(
    "1 MiB and 16 MiB messages, two in flight, echoed intact while both ends reuse and overwrite their bytes",
    T,
    async () => {
      const { server, client } = await pair();
      // The server echoes, then overwrites the message it was given.
      server.on("message", (m) => {
        server.send(m);
        if (typeof m !== "string") m.fill(0x55);
      });
      const sizes = [1 << 20, 16 << 20, 1 << 20, (1 << 20) + 3, 16 << 20, 70_000, 1 << 20, 1 << 20];
      const got: Uint8Array[] = [];
      let done!: () => void;
      const all = new Promise<void>((resolve) => done = resolve);
      let next = 0;
      const sendNext = () => {
        if (next === sizes.length) return;
        const bytes = filled(sizes[next], next);
        next++;
        client.send(bytes);
        bytes.fill(0xaa); // the client's bytes change at once, too
      };
      client.on("message", (m) => {
        got.push(m as Uint8Array);
        if (got.length === sizes.length) done();
        else sendNext();
      });
      sendNext();
      sendNext();
      await withTimeout(all, "every echo", 50_000);
      for (const [i, size] of sizes.entries()) {
        assert.ok(same(got[i], filled(size, i)), `echo ${i} (${size} bytes) arrived as sent`);
      }
    },
  );
});

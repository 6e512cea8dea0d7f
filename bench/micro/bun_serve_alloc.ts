/**
 * Bytes the JavaScript of one `withWebSockets` handshake allocates, without
 * sockets: `Bun.serve`'s `server.upgrade()` is a stand-in that opens a plain
 * object as the `ServerWebSocket` at once (as Bun does, inside `upgrade()`),
 * and every handshake reuses one `Request` (Bun's own `Request`, `Headers`
 * and `ServerWebSocket` are left out: only what our code makes is counted).
 * The connections are kept open, as the `idle` scenario keeps them (`CLOSE=1`:
 * closed by the peer once open, batch by batch: the heap then stays the
 * same size, and so does JSC's ~8 MiB between eden collections).
 *
 *     BUN_JSC_logGC=1 bun bench/micro/bun_serve_alloc.ts [checkout] [handshakes] 2>&1 | \
 *       bun bench/micro/bun_serve_alloc.ts --sum [handshakes]
 *
 * JSC starts an eden collection after each ~8 MiB allocated and logs it
 * ("bytes allocated this cycle: …"); their sum over the handshakes, less what
 * is left over at the end (at most 8 MiB), gives the bytes per handshake.
 * It prints too what a handshake keeps (heap and objects per connection after
 * a full collection). Findings: bench/RESULTS.md, "Sixth round, Bun: the
 * adapter's idle connections".
 *
 * @module
 */
import process from "node:process";
import { createInterface } from "node:readline";

if (process.argv[2] === "--sum") {
  // Reads the log on standard input: the bytes of every collection made during the handshakes.
  const count = Number(process.argv[3] ?? 100000);
  let bytes = 0, on = false, gcs = 0;
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.startsWith("HANDSHAKES START")) on = true;
    else if (line.startsWith("HANDSHAKES END")) on = false;
    else if (!on) {
      if (!line.startsWith("[GC") && !line.startsWith("GC END") && !line.startsWith("Requesting")) console.log(line);
    } else {
      const m = /bytes allocated this cycle: (\d+)/.exec(line);
      if (m) {
        bytes += Number(m[1]);
        gcs++;
      }
    }
  }
  console.log(
    `${gcs} eden collections: ${(bytes / count).toFixed(0)} bytes per handshake (± ${(8388608 / count).toFixed(0)})`,
  );
  process.exit(0);
}

const root = process.argv[2] || new URL("../..", import.meta.url).pathname;
const count = Number(process.argv[3] ?? 100000);
// CLOSE=1: each connection is closed (by the peer) after it opened, and the close's garbage counts too.
const close = process.env.CLOSE === "1";
const { makeServer, withWebSockets } = await import(`${root}/mod.ts`);
const jsc = await import("bun:jsc" as string);
const bun = (globalThis as unknown as { Bun: { gc(full: boolean): void } }).Bun;

const parts = withWebSockets((request: Request) => {
  const ws = makeServer(request);
  ws.on("message", (message: string) => ws.send(message));
  return ws.startConnection();
});
/** The stand-in of Bun's `ServerWebSocket`: one object, its methods on the prototype. */
class StandIn {
  readyState = 1;
  binaryType = "nodebuffer";
  readonly data: unknown;
  constructor(data: unknown) {
    this.data = data;
  }
  sendText(): number {
    return 1;
  }
  sendBinary(): number {
    return 1;
  }
  ping(): number {
    return 1;
  }
  close(): void {}
  terminate(): void {}
  getBufferedAmount(): number {
    return 0;
  }
  pause(): void {}
  resume(): void {}
}
const sockets: StandIn[] = [];
const server = {
  upgrade(_request: Request, options: { data: unknown }): boolean {
    const ws = new StandIn(options.data);
    sockets.push(ws);
    parts.websocket.open(ws);
    return true;
  },
};
const request = new Request("http://127.0.0.1:1/", {
  headers: {
    host: "127.0.0.1:1",
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
  },
});
// Warm-up (the JIT's tiers), then a clean heap.
for (let i = 0; i < 2000; i++) parts.fetch(request, server);
await new Promise((resolve) => setTimeout(resolve, 10));
sockets.length = 0;
for (let i = 0; i < 3; i++) bun.gc(true);
const before = jsc.heapStats();
console.error("HANDSHAKES START");
for (let i = 0; i < count; i++) {
  parts.fetch(request, server);
  // The sockets that opened are told in a microtask, as with Bun's.
  if ((i & 63) === 63) await null;
  if (close && (i & 63) === 63) {
    for (const ws of sockets) {
      ws.readyState = 3;
      parts.websocket.close(ws, 1000, "");
    }
    sockets.length = 0;
  }
}
await null;
console.error("HANDSHAKES END");
for (let i = 0; i < 3; i++) bun.gc(true);
const after = jsc.heapStats();
console.log(
  `kept per connection: ${((after.heapSize - before.heapSize) / count).toFixed(0)} bytes, ${
    ((after.objectCount - before.objectCount) / count).toFixed(1)
  } objects (with the stand-in socket: 1 object)`,
);
process.exit(0);

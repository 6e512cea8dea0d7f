/**
 * The tcp backend's whole handshake in one process, without sockets: the
 * request head (what bench/echo/load.c sends) into a connection's head reader,
 * the README's echo handler, the 101 written, then the peer's end of input and
 * the driver's close, through a transport that only counts. What the
 * JavaScript of a handshake costs on each runtime, without the system calls
 * and the scheduling noise of the echo benchmark:
 *
 *     node --expose-gc bench/micro/handshake_path.ts
 *     deno run -A --v8-flags=--expose-gc bench/micro/handshake_path.ts
 *     bun bench/micro/handshake_path.ts
 *
 * With `--alloc` (Node, Deno), first the bytes allocated per handshake by
 * function, from V8's sampling heap profiler (garbage included;
 * `ALLOC_DUMP=file` keeps the whole profile). On Node, `SNAP_DIR=dir` writes
 * heap snapshots before and after the idle connections, for a per-class diff.
 *
 * Prints µs per handshake (best of 5 rounds of 20000) and the heap bytes left
 * per idle connection (2000 connections kept open after their handshake).
 * Findings: bench/RESULTS.md, "Handshakes and idle connections: where the cost
 * goes".
 *
 * @module
 */
import { makeServer } from "../../src/server/server.ts";
import { offerUpgrade } from "../../src/server/server.ts";
import type { Server } from "../../src/server/server.ts";
import { HeadDeadlines, HeadReader } from "../../src/server/http_connection.ts";
import type { ConnectionContext } from "../../src/server/http_connection.ts";
import { answerAtOnceWith, DEFAULT_SERVE_HEARTBEAT, internalError } from "../../src/server/handler.ts";
import { WRITTEN } from "../../src/driver/transport.ts";
import type { Transport, TransportSink } from "../../src/driver/transport.ts";
import process from "node:process";
import { installTextDecoders } from "../../src/runtime/text.ts";
import { installAcceptHash } from "../../src/runtime/hash.ts";

const request = new TextEncoder().encode(
  "GET / HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
);

/** A transport that takes writes at once and reports its end. */
class CountingTransport implements Transport {
  readonly releasesChunks = true;
  sink: TransportSink | null = null;
  written = 0;
  onDone: () => void = () => {};
  onWrite: () => void = () => {};
  start(sink: TransportSink): void {
    this.sink = sink;
  }
  write(chunk: Uint8Array): Promise<void> {
    this.written += chunk.length;
    this.onWrite();
    return WRITTEN;
  }
  end(): Promise<void> {
    return WRITTEN;
  }
  abort(): void {
    this.onDone();
  }
}

// What loading the runtime's adapter does first (serve() does it).
installTextDecoders();
if (!("Deno" in globalThis)) installAcceptHash();

// One server's defaults, shared by its connections as serve() shares them (a fresh object per connection would
// make a new set of driver options each time).
const defaults = { heartbeat: DEFAULT_SERVE_HEARTBEAT };
const open = new Set<Server>();
const context: ConnectionContext = {
  answer: answerAtOnceWith((req: Request): Response => {
    const ws = makeServer(req);
    ws.on("message", (message) => ws.send(message));
    return ws.startConnection();
  }, internalError),
  track: (server) => {
    open.add(server);
    server.on("close", () => open.delete(server));
  },
  maxHeadSize: 16384,
  offer: (req, copy) => offerUpgrade(req, defaults, copy),
  deadlines: new HeadDeadlines(10_000),
  hold: () => {},
  release: () => {},
};

/** One connection: its head arrives; once the 101 is out, the peer ends (or stays, `keep`). */
function handshake(keep: boolean): Promise<CountingTransport> {
  const transport = new CountingTransport();
  const { promise, resolve } = Promise.withResolvers<CountingTransport>();
  transport.onWrite = () => {
    transport.onWrite = () => {};
    if (keep) return resolve(transport);
    queueMicrotask(() => transport.sink!.end());
  };
  transport.onDone = () => resolve(transport);
  new HeadReader(transport, () => ({ hostname: "127.0.0.1", port: 1 }), false, context);
  transport.sink!.data(request);
  return promise;
}

async function rounds(n: number): Promise<number> {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    // 16 in flight, as the echo benchmark's handshake scenario.
    let next = 0;
    const lane = async () => {
      while (next++ < n) await handshake(false);
    };
    await Promise.all(Array.from({ length: 16 }, lane));
    best = Math.min(best, (performance.now() - t0) * 1000 / n);
  }
  return best;
}

/** Bytes allocated per handshake, by the function that allocated them (V8's sampling heap profiler). */
async function allocations(n: number): Promise<void> {
  const { Session } = await import("node:inspector/promises");
  const session = new Session();
  session.connect();
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  for (let i = 0; i < n; i++) await handshake(false);
  const { profile } = await session.post("HeapProfiler.stopSampling");
  if (process.env.ALLOC_DUMP) (await import("node:fs")).writeFileSync(process.env.ALLOC_DUMP, JSON.stringify(profile));
  session.disconnect();
  interface Node {
    callFrame: { functionName: string; url: string; lineNumber: number };
    selfSize: number;
    children: Node[];
  }
  const bySite = new Map<string, number>();
  let total = 0;
  const walk = (node: Node) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const site = `${functionName || "(anonymous)"} ${url.split("/").pop()}:${lineNumber + 1}`;
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children) walk(child);
  };
  walk(profile.head as unknown as Node);
  console.log(`${runtime}: ${(total / n).toFixed(0)} bytes allocated per handshake; by function:`);
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    console.log(`${(bytes / n).toFixed(0).padStart(7)}  ${site}`);
  }
}

const g = globalThis as { gc?: () => void; Bun?: { gc(full: boolean): void } };
const gc = () => g.Bun ? g.Bun.gc(true) : g.gc?.();
const heapUsed = async (): Promise<number> => {
  gc();
  await new Promise((r) => setTimeout(r, 50));
  gc();
  const { memoryUsage } = await import("node:process");
  return memoryUsage().heapUsed;
};

const runtime = "Bun" in globalThis ? "Bun" : "Deno" in globalThis ? "Deno" : "Node";
await rounds(5000);
if (process.argv.includes("--alloc")) await allocations(20_000);
console.log(`${runtime}: ${(await rounds(20_000)).toFixed(2)} µs per handshake (best of 5 rounds)`);
if (g.gc || g.Bun) {
  const before = await heapUsed();
  if (process.env.SNAP_DIR) {
    const v8 = await import("node:v8");
    v8.writeHeapSnapshot(`${process.env.SNAP_DIR}/before.heapsnapshot`);
  }
  const kept: CountingTransport[] = [];
  for (let i = 0; i < 2000; i++) kept.push(await handshake(true));
  const after = await heapUsed();
  if (process.env.SNAP_DIR) {
    const v8 = await import("node:v8");
    v8.writeHeapSnapshot(`${process.env.SNAP_DIR}/after.heapsnapshot`);
  }
  console.log(`${runtime}: ${((after - before) / 2000).toFixed(0)} heap bytes per idle connection`);
  for (const t of kept) t.sink!.end();
  await new Promise((r) => setTimeout(r, 50));
}
context.deadlines.stop();
for (const server of open) server.terminate();

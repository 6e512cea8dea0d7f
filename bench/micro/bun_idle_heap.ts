/**
 * What an idle connection keeps on Bun, object by object: the README's echo
 * server (serve()'s tcp backend, or Bun.serve with withWebSockets when
 * `WSD_BACKEND=bun-serve`; `WSD_BACKEND=bare` for bare Bun.serve) in this
 * process, bench/echo/load.c opening the connections (one echo each), and
 * `bun:jsc`'s `heapStats()` after `Bun.gc(true)` before and after: heap bytes
 * and objects per connection, the object types that grew, and the RSS.
 *
 *     bun bench/micro/bun_idle_heap.ts [connections]
 *
 * Build the generator first (`deno task bench:echo` does, into
 * bench/echo/.build/load). Findings: bench/RESULTS.md, "Handshakes and idle
 * connections: where the cost goes".
 *
 * @module
 */
import process from "node:process";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { makeServer, serve, withWebSockets } from "../../mod.ts";

// deno-lint-ignore no-explicit-any
const bun = (globalThis as any).Bun;
if (bun === undefined) throw new Error("Bun only");
const jsc = await import("bun:jsc" as string);
const count = Number(process.argv[2] ?? 2000);
const backend = process.env.WSD_BACKEND ?? "tcp";

const handler = (request: Request): Response => {
  const ws = makeServer(request);
  ws.on("message", (message) => ws.send(message));
  return ws.startConnection();
};

// BARE_GARBAGE=n: n small objects of garbage per handshake; BARE_KEEP=n: n kept per connection (bare only).
const garbageCount = Number(process.env.BARE_GARBAGE ?? 0);
const keepCount = Number(process.env.BARE_KEEP ?? 0);
let sink: unknown = null;
function garbage(): void {
  for (let i = 0; i < garbageCount; i++) sink = { i, next: sink === null ? null : 1, s: "x" + i };
  sink = null;
}
function keep(_: void): unknown {
  if (keepCount === 0) return undefined;
  const kept = [];
  for (let i = 0; i < keepCount; i++) kept.push({ i, a: 1, b: 2 });
  return kept;
}

let port: number;
let stop: () => Promise<void> | void;
if (backend === "bun-serve") {
  const server = bun.serve({ hostname: "127.0.0.1", port: 0, ...withWebSockets(handler) });
  port = server.port;
  stop = () => server.stop(true);
} else if (backend === "bare") {
  const server = bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request: Request, s: { upgrade(r: Request, o?: unknown): boolean }) =>
      s.upgrade(request, { data: keep(garbage()) }) ? undefined : new Response("no"),
    websocket: { message: (ws: { send(m: unknown): void }, m: unknown) => ws.send(m), idleTimeout: 0 },
  });
  port = server.port;
  stop = () => server.stop(true);
} else {
  const s = serve(handler, { hostname: "127.0.0.1", port: 0, onListen: () => {} });
  port = (await s.ready).port;
  stop = () => s.close();
}

const load = spawn(new URL("../echo/.build/load", import.meta.url).pathname, [], {
  stdio: ["pipe", "pipe", "inherit"],
});
const lines = createInterface({ input: load.stdout! })[Symbol.asyncIterator]();
async function ask(command: string): Promise<unknown> {
  load.stdin!.write(command + "\n");
  for (;;) {
    const { value, done } = await lines.next();
    if (done) throw new Error("load exited");
    const r = JSON.parse(value);
    if (!r.ready) return r;
  }
}
await ask("idle " + port + " 50"); // warm up, as bench:echo does
await ask("release");

async function snapshot() {
  for (let i = 0; i < 3; i++) {
    bun.gc(true);
    await new Promise((r) => setTimeout(r, 50));
  }
  const stats = jsc.heapStats();
  if (process.env.SNAPSHOT) {
    // The snapshot names each object by its constructor (heapStats says "Object" for class instances).
    const snap = bun.generateHeapSnapshot();
    const types: Record<string, number> = {};
    const { nodes, nodeClassNames } = snap as { nodes: number[]; nodeClassNames: string[] };
    const fields = (snap as { nodeFields?: string[] }).nodeFields?.length ?? 4;
    for (let i = 0; i < nodes.length; i += fields) {
      const name = nodeClassNames[nodes[i + 2]];
      types[name] = (types[name] ?? 0) + 1;
      types[name + " bytes"] = (types[name + " bytes"] ?? 0) + nodes[i + 1];
    }
    return { ...sizes(stats), types };
  }
  return { ...sizes(stats), types: stats.objectTypeCounts };
}
// deno-lint-ignore no-explicit-any
function sizes(stats: any) {
  return {
    rss: process.memoryUsage().rss,
    heap: stats.heapSize,
    capacity: stats.heapCapacity,
    extra: stats.extraMemorySize,
    malloc: stats.mimalloc?.malloc_normal?.current ?? 0,
    committed: stats.mimalloc?.committed?.current ?? 0,
    objects: stats.objectCount,
  };
}
const before = await snapshot();
console.log(JSON.stringify(await ask(`idle ${port} ${count}`)));
const after = await snapshot();
const per = (a: number, b: number) => ((b - a) / count);
console.log(
  `${backend}: per connection RSS ${(per(before.rss, after.rss) / 1024).toFixed(2)} KB, heap ${
    (per(before.heap, after.heap) / 1024).toFixed(2)
  } KB, objects ${per(before.objects, after.objects).toFixed(1)}`,
);
console.log(
  `  KB per connection: JS heap capacity ${(per(before.capacity, after.capacity) / 1024).toFixed(2)}, extra ${
    (per(before.extra, after.extra) / 1024).toFixed(2)
  }, mimalloc in use ${(per(before.malloc, after.malloc) / 1024).toFixed(2)}, committed ${
    (per(before.committed, after.committed) / 1024).toFixed(2)
  }`,
);
const grew = Object.entries(after.types as Record<string, number>)
  .map(([k, v]) => [k, (v - ((before.types as Record<string, number>)[k] ?? 0)) / count] as const)
  .filter(([, d]) => d >= 0.5)
  .sort((a, b) => b[1] - a[1]);
for (const [k, d] of grew) console.log(`  ${d.toFixed(2).padStart(6)}  ${k}`);
await ask("release");
load.stdin!.end();
await stop();
process.exit(0);

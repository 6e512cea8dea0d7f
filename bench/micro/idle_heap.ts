// What one idle connection holds on Deno, by constructor: V8 heap snapshots of a server (in this process) after a
// full GC with a few and with many idle connections (bench/echo/load.c's `idle`: open, one echo each, stay open),
// diffed and divided by their number. Also RSS and heapUsed per connection.
//
//   deno run -A --v8-flags=--expose-gc bench/micro/idle_heap.ts <server> [conns] [top]
//
// <server>: `deno` (Deno.serve + upgradeWebSocket, idleTimeout 0, as bench/echo/servers/deno_builtin.ts),
// `wsd-deno-native` (serve() with backend "deno"), `wsd-deno` (serve(), tcp backend), `deno-handlers` (the bare
// server with four event handlers on its socket). Needs bench/echo/.build/load (`deno task bench:echo` builds it,
// or `cc -O2 -o bench/echo/.build/load bench/echo/load.c`).
import v8 from "node:v8";
import { makeServer, serve } from "../../mod.ts";
import type { BackendName } from "../../mod.ts";

const which = Deno.args[0] ?? "wsd-deno-native";
const conns = Number(Deno.args[1] ?? 2000);
const top = Number(Deno.args[2] ?? 25);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("Run with --v8-flags=--expose-gc");

// The runtime's own objects of an open connection are held by roots a snapshot does not show (the server's
// pending operations): the connections' own objects are kept reachable from here, so that they are counted.
const kept: unknown[] = [];
const handler = (request: Request): Response => {
  const ws = makeServer(request);
  kept.push(ws);
  ws.on("message", (message) => ws.send(message));
  return ws.startConnection();
};

async function start(): Promise<{ port: number; stop: () => Promise<void> }> {
  if (which === "deno" || which === "deno-handlers") {
    const abort = new AbortController();
    const { promise, resolve } = Promise.withResolvers<number>();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: abort.signal, onListen: ({ port }) => resolve(port) },
      (request) => {
        const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 0 });
        kept.push(socket);
        if (which === "deno") socket.onmessage = (event) => socket.send(event.data);
        else {
          socket.onopen = () => {};
          socket.onmessage = (event) => socket.send(event.data);
          socket.onerror = () => {};
          socket.onclose = () => {};
        }
        return response;
      },
    );
    return { port: await promise, stop: () => (abort.abort(), server.finished) };
  }
  const backend: BackendName = which === "wsd-deno" ? "tcp" : "deno";
  const server = serve(handler, { hostname: "127.0.0.1", port: 0, backend });
  const { port } = await server.ready;
  return { port, stop: () => server.close() };
}

const generator = new Deno.Command(new URL("../echo/.build/load", import.meta.url).pathname, {
  stdin: "piped",
  stdout: "piped",
}).spawn();
const writer = generator.stdin.getWriter();
const lines = generator.stdout.pipeThrough(new TextDecoderStream()).getReader();
let pending = "";
async function line(): Promise<string> {
  for (;;) {
    const nl = pending.indexOf("\n");
    if (nl >= 0) {
      const l = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      return l;
    }
    const { value, done } = await lines.read();
    if (done) throw new Error("the generator ended");
    pending += value;
  }
}
async function ask(command: string): Promise<Record<string, unknown>> {
  await writer.write(new TextEncoder().encode(command + "\n"));
  return JSON.parse(await line());
}

async function collect(): Promise<void> {
  gc!();
  await new Promise((r) => setTimeout(r, 100));
  gc!();
}

function rssKB(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

/**
 * Self sizes and counts of every node of a heap snapshot, by type and name; objects also by their first property
 * names (V8 names an object made by `Object.create(proto)` after `Object` or its constructor, not reliably).
 */
function census(file: string): Map<string, { count: number; size: number }> {
  const snapshot = JSON.parse(Deno.readTextFileSync(file));
  Deno.removeSync(file);
  const meta = snapshot.snapshot.meta;
  const fields: string[] = meta.node_fields;
  const types: string[] = meta.node_types[0];
  const edgeFields: string[] = meta.edge_fields;
  const edgeTypes: string[] = meta.edge_types[0];
  const stride = fields.length, edgeStride = edgeFields.length;
  const iType = fields.indexOf("type"), iName = fields.indexOf("name"), iSize = fields.indexOf("self_size");
  const iEdges = fields.indexOf("edge_count");
  const eType = edgeFields.indexOf("type"), eName = edgeFields.indexOf("name_or_index");
  const nodes: number[] = snapshot.nodes;
  const edges: number[] = snapshot.edges;
  const strings: string[] = snapshot.strings;
  const out = new Map<string, { count: number; size: number }>();
  let edge = 0;
  for (let i = 0; i < nodes.length; i += stride) {
    const type = types[nodes[i + iType]];
    let name = strings[nodes[i + iName]];
    const edgeCount = nodes[i + iEdges];
    // Strings by kind only; objects by name and properties, code and others by name.
    if (type === "string" || type === "concatenated string" || type === "sliced string") name = "";
    else if (type === "object" && !name.startsWith("system /")) {
      const props: string[] = [];
      for (let e = edge; e < edge + edgeCount * edgeStride && props.length < 6; e += edgeStride) {
        const kind = edgeTypes[edges[e + eType]];
        if (kind === "property") props.push(strings[edges[e + eName]]);
      }
      name = `${name.slice(0, 40)} {${props.join(",")}}`;
    } else name = name.slice(0, 50);
    edge += edgeCount * edgeStride;
    const key = `${type}: ${name}`;
    const entry = out.get(key) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += nodes[i + iSize];
    out.set(key, entry);
  }
  return out;
}

const { port, stop } = await start();
// Warm up: what any connection needs (code, buffers) exists before the baseline.
await ask(`idle ${port} 50`);
await ask("release");
await new Promise((r) => setTimeout(r, 300));
await collect();
kept.length = 0;
const rss0 = rssKB(), heap0 = Deno.memoryUsage().heapUsed;
const before = census(v8.writeHeapSnapshot(`/tmp/idle_heap_${Deno.pid}_0.heapsnapshot`));
await collect();
const rss0b = rssKB(), heap0b = Deno.memoryUsage().heapUsed;
const opened = await ask(`idle ${port} ${conns}`);
if (opened.ok !== true) throw new Error(`idle failed: ${JSON.stringify(opened)}`);
await collect();
const rss1 = rssKB(), heap1 = Deno.memoryUsage().heapUsed;
const after = census(v8.writeHeapSnapshot(`/tmp/idle_heap_${Deno.pid}_1.heapsnapshot`));
await ask("release");
await ask("exit").catch(() => {});
await stop();

const rows: Array<[string, number, number]> = [];
for (const [key, a] of after) {
  const b = before.get(key) ?? { count: 0, size: 0 };
  rows.push([key, (a.count - b.count) / conns, (a.size - b.size) / conns]);
}
if (Deno.env.get("BY_COUNT")) {
  const r2 = [...after].map(([k, a]) => [k, a.count - (before.get(k)?.count ?? 0)] as const);
  console.log(r2.sort((x, y) => y[1] - x[1]).slice(0, top));
}
rows.sort((x, y) => Math.abs(y[2]) - Math.abs(x[2]));
let total = 0, count = 0;
for (const [, c, s] of rows) {
  total += s;
  count += c;
}
console.log(
  `${which}: ${conns} idle connections. RSS ${((rss1 - rss0b) / conns).toFixed(1)} KB per connection, heapUsed ${
    ((heap1 - heap0b) / conns / 1024).toFixed(2)
  } KB (${((heap1 - heap0) / conns / 1024).toFixed(2)} with the first snapshot); snapshot: ${
    (total / 1024).toFixed(2)
  } KB, ${count.toFixed(1)} nodes per connection`,
);
console.log("| nodes per conn | bytes per conn | type: name |");
for (const [key, c, s] of rows.slice(0, top)) {
  console.log(`| ${c.toFixed(2)} | ${s.toFixed(0)} | ${key} |`);
}
Deno.exit(0);

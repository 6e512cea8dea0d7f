// What one idle connection of a Deno server holds, by constructor: two V8 heap snapshots of the server (taken through
// the inspector protocol, after its full GC), with 50 connections opened and closed and then with N idle connections
// open (bench/echo/load.c's `idle`: each echoed one message), diffed and divided by N. (`writeHeapSnapshot` of
// `node:v8` is not used: on Deno 2.9 it loses objects once the heap is large.)
//
//   deno run -A bench/micro/idle_heap.ts [--conns 2000] [--top 40] id|file
//
// id: deno, wsd-deno, wsd-deno-native (bench/echo/servers), or a server file of one's own that prints "PORT n" (as
// bench/echo/servers/_control.mjs does). Needs bench/echo/.build/load.
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    conns: { type: "string", default: "2000" },
    top: { type: "string", default: "40" },
    // Also prints, for a few nodes of this constructor name, what holds them (a path towards the roots).
    retainers: { type: "string" },
  },
  allowPositionals: true,
});
const conns = Number(values.conns), top = Number(values.top);
const here = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const SERVERS: Record<string, { file: string; env?: Record<string, string> }> = {
  "deno": { file: `${here}/bench/echo/servers/deno_builtin.ts` },
  "wsd-deno": { file: `${here}/bench/echo/servers/wsd.ts` },
  "wsd-deno-native": { file: `${here}/bench/echo/servers/wsd.ts`, env: { WSD_BACKEND: "deno" } },
};
const which = positionals[0] ?? "wsd-deno-native";
const server = SERVERS[which] ?? { file: which };

class Lines {
  #pending = "";
  #reader: ReadableStreamDefaultReader<string>;
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }
  async next(): Promise<string> {
    for (;;) {
      const nl = this.#pending.indexOf("\n");
      if (nl >= 0) {
        const line = this.#pending.slice(0, nl);
        this.#pending = this.#pending.slice(nl + 1);
        return line;
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("ended");
      this.#pending += value;
    }
  }
}

const inspectPort = 19229 + (Deno.pid % 500);
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", "--config", `${here}/deno.json`, `--inspect=127.0.0.1:${inspectPort}`, server.file],
  env: server.env,
  stdin: "piped",
  stdout: "piped",
  stderr: "null",
}).spawn();
const port = Number(/PORT (\d+)/.exec(await new Lines(child.stdout).next())![1]);
const generator = new Deno.Command(`${here}/bench/echo/.build/load`, { stdin: "piped", stdout: "piped" }).spawn();
const genIn = generator.stdin.getWriter();
const genOut = new Lines(generator.stdout);
await genOut.next();
const ask = async (line: string) => {
  await genIn.write(new TextEncoder().encode(line + "\n"));
  return JSON.parse(await genOut.next());
};

/** A heap snapshot of the server after a full GC, through the inspector protocol. */
async function snapshot(): Promise<string> {
  const list = await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json();
  const ws = new WebSocket(list[0].webSocketDebuggerUrl);
  await new Promise((resolve) => ws.onopen = resolve);
  let id = 0;
  const pending = new Map<number, () => void>();
  const chunks: string[] = [];
  ws.onmessage = (event) => {
    const m = JSON.parse(event.data);
    if (m.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(m.params.chunk);
    else if (m.id !== undefined) pending.get(m.id)?.();
  };
  const call = (method: string, params = {}) =>
    new Promise<void>((resolve) => {
      pending.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call("HeapProfiler.enable");
  await call("HeapProfiler.collectGarbage");
  await new Promise((resolve) => setTimeout(resolve, 100));
  await call("HeapProfiler.collectGarbage");
  await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  ws.close();
  return chunks.join("");
}

/** Prints the retainer chains of up to 3 nodes named `name` (the 1000th, 1500th, … such node). */
function retainers(text: string, name: string): void {
  const snap = JSON.parse(text);
  const meta = snap.snapshot.meta;
  const fields: string[] = meta.node_fields, edgeFields: string[] = meta.edge_fields;
  const types: string[] = meta.node_types[0], edgeTypes: string[] = meta.edge_types[0];
  const stride = fields.length, edgeStride = edgeFields.length;
  const iType = fields.indexOf("type"), iName = fields.indexOf("name"), iEdges = fields.indexOf("edge_count");
  const eType = edgeFields.indexOf("type"), eName = edgeFields.indexOf("name_or_index");
  const eTo = edgeFields.indexOf("to_node");
  const { nodes, edges, strings } = snap as { nodes: number[]; edges: number[]; strings: string[] };
  const parents = new Map<number, Array<[number, string]>>();
  let edge = 0;
  for (let i = 0; i < nodes.length; i += stride) {
    for (let e = edge; e < edge + nodes[i + iEdges] * edgeStride; e += edgeStride) {
      const kind = edgeTypes[edges[e + eType]];
      if (kind === "weak") continue;
      const label = kind === "element" || kind === "hidden" ? `[${edges[e + eName]}]` : strings[edges[e + eName]];
      const to = edges[e + eTo];
      const list = parents.get(to) ?? [];
      list.push([i, `${kind}:${label}`]);
      parents.set(to, list);
    }
    edge += nodes[i + iEdges] * edgeStride;
  }
  const label = (i: number) => `${types[nodes[i + iType]]} ${strings[nodes[i + iName]].slice(0, 50)}`;
  const found: number[] = [];
  for (let i = 0; i < nodes.length; i += stride) if (strings[nodes[i + iName]] === name) found.push(i);
  for (const start of [found[1000], found[1500], found[found.length - 3]].filter((x) => x !== undefined)) {
    const chain: string[] = [label(start)];
    const seen = new Set([start]);
    let cur = start;
    for (let depth = 0; depth < 14; depth++) {
      const up = (parents.get(cur) ?? []).find(([p]) => !seen.has(p));
      if (up === undefined) break;
      chain.push(`<-${up[1]}- ${label(up[0])}`);
      seen.add(up[0]);
      cur = up[0];
    }
    console.log(chain.join("\n   "));
  }
}

/** Self sizes and counts by type and name (plain objects also by their first property names). */
function census(text: string): Map<string, { count: number; size: number }> {
  const snap = JSON.parse(text);
  const meta = snap.snapshot.meta;
  const fields: string[] = meta.node_fields, edgeFields: string[] = meta.edge_fields;
  const types: string[] = meta.node_types[0], edgeTypes: string[] = meta.edge_types[0];
  const stride = fields.length, edgeStride = edgeFields.length;
  const iType = fields.indexOf("type"), iName = fields.indexOf("name"), iSize = fields.indexOf("self_size");
  const iEdges = fields.indexOf("edge_count");
  const eType = edgeFields.indexOf("type"), eName = edgeFields.indexOf("name_or_index");
  const { nodes, edges, strings } = snap as { nodes: number[]; edges: number[]; strings: string[] };
  const out = new Map<string, { count: number; size: number }>();
  let edge = 0;
  for (let i = 0; i < nodes.length; i += stride) {
    const type = types[nodes[i + iType]];
    let name = strings[nodes[i + iName]];
    const edgeCount = nodes[i + iEdges];
    if (type === "string" || type === "concatenated string" || type === "sliced string") name = "";
    else if (type === "object" && name === "Object") {
      const props: string[] = [];
      for (let e = edge; e < edge + edgeCount * edgeStride && props.length < 5; e += edgeStride) {
        if (edgeTypes[edges[e + eType]] === "property") props.push(strings[edges[e + eName]]);
      }
      name = `{${props.join(",")}}`;
    } else name = name.slice(0, 60);
    edge += edgeCount * edgeStride;
    const key = `${type}: ${name}`;
    const entry = out.get(key) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += nodes[i + iSize];
    out.set(key, entry);
  }
  return out;
}

await ask(`idle ${port} 50`);
await ask("release");
await new Promise((resolve) => setTimeout(resolve, 300));
const before = census(await snapshot());
const opened = await ask(`idle ${port} ${conns}`);
if (!opened.ok) throw new Error(`idle failed: ${JSON.stringify(opened)}`);
const afterText = await snapshot();
if (Deno.env.get("IDLE_HEAP_SAVE")) Deno.writeTextFileSync(Deno.env.get("IDLE_HEAP_SAVE")!, afterText);
const after = census(afterText);
if (values.retainers !== undefined) retainers(afterText, values.retainers);
await ask("release");
await genIn.write(new TextEncoder().encode("exit\n"));
child.kill();
await child.status;

const rows: Array<[string, number, number]> = [];
for (const [key, a] of after) {
  const b = before.get(key) ?? { count: 0, size: 0 };
  rows.push([key, (a.count - b.count) / conns, (a.size - b.size) / conns]);
}
rows.sort((x, y) => Math.abs(y[2]) - Math.abs(x[2]));
const total = rows.reduce((sum, r) => sum + r[2], 0), count = rows.reduce((sum, r) => sum + r[1], 0);
console.log(
  `${which}: ${conns} idle connections, ${(total / 1024).toFixed(2)} KB in ${count.toFixed(1)} heap nodes each`,
);
console.log("| nodes per connection | bytes per connection | type: constructor or properties |");
console.log("| ---: | ---: | --- |");
for (const [key, c, s] of rows.slice(0, top)) console.log(`| ${c.toFixed(2)} | ${s.toFixed(0)} | ${key} |`);
Deno.exit(0);

/**
 * permessage-deflate: throughput and memory with compression on vs off, ours
 * next to `ws` (Node's zlib) in one run, as ratios.
 *
 *     node bench/compression_bench.ts [--quick] [--rounds N] [--only chat,doc8k,doc64k] [--no-pairs] [--no-split]
 *       [--sides server,client] [--no-memory]
 *     (also: deno run -A …, bun …)
 *
 * - echo: one client, 32 messages in flight, for a fixed time: messages/s and
 *   messages per CPU second of the process (client and server both run in
 *   it; `process.cpuUsage()` around the measured window, zlib's threads
 *   included) of a chat-like stream (small JSON that differs a little from
 *   message to message: context takeover pays), of 8 KB and of 64 KiB JSON
 *   documents. Four pairs: ours at both ends, ws at both ends, and each
 *   mixed pair, which shows the server side (ours server + ws client against
 *   ws + ws) and the client side (ws server + ours client against ws + ws);
 *   and ours at both ends on pako (`useZlib(null)`), the codec before the
 *   runtime's zlib;
 * - one side at a time (Linux): the server in a child process, whose CPU
 *   time is read from /proc, against ws's client; our client against ws's
 *   server in a child process; messages per CPU second of that side alone;
 * - wire: bytes per message on the wire for the same streams;
 * - memory: the heap + ArrayBuffer growth per open connection pair (client and
 *   server in this process) after one message each way, on and off.
 *
 * `ws` rows run where `ws` works (all three runtimes); its echo server is a
 * `WebSocketServer` on `node:http`, ours is `serve()` (tcp backend).
 */
import { createRequire } from "node:module";
import process from "node:process";
import { makeClient, makeServer, serve } from "../mod.ts";
import { currentZlib, MessageCompression, useZlib } from "../src/protocol/compression.ts";
import { runtimeAdapter } from "../src/runtime/mod.ts";
import type { ZlibProvider } from "../src/codec/engine.ts";
import { deflateConfig } from "../src/protocol/extensions.ts";
import { Protocol } from "../src/protocol/protocol.ts";

const quick = process.argv.includes("--quick");
const SECONDS = quick ? 1 : 3;
const argument = (name: string) => {
  const at = process.argv.indexOf(name);
  return at === -1 ? undefined : process.argv[at + 1];
};
const ROUNDS = Number(argument("--rounds") ?? (quick ? 1 : 3));
const ONLY = argument("--only")?.split(",");
const IN_FLIGHT = 32;
/** Which sides the one-side-at-a-time table measures. */
const SIDES = (argument("--sides")?.split(",") ?? ["server", "client"]) as Array<"server" | "client">;

// deno-lint-ignore no-explicit-any
type Any = any;
const require = createRequire(import.meta.url);
const ws = require("../tools/rt/node_modules/ws/index.js") as Any;

function chat(i: number): string {
  return JSON.stringify({
    type: "message",
    room: "general",
    user: `user${i % 17}`,
    at: 1764000000000 + i * 1234,
    text: `message number ${i}: ${"lorem ipsum dolor sit amet ".slice(0, 10 + (i % 17))}`,
  });
}
/** A JSON document of `length` items; prices and flags move with `i`, so no two are the same. */
function doc(length: number): (i: number) => string {
  return (i) =>
    JSON.stringify({
      seq: i,
      items: Array.from(
        { length },
        (_, j) => ({ id: j, name: `item-${j}`, price: (j * 37 + i) % 1000, ok: (j + i) % 3 === 0 }),
      ),
    });
}
const WORKLOADS: Array<[string, string, (i: number) => string]> = (
  [["chat", "chat ~150 B", chat], ["doc8k", "doc ~8 KB", doc(160)], ["doc64k", "doc 64 KiB", doc(1300)]] as Array<
    [string, string, (i: number) => string]
  >
).filter(([key]) => ONLY === undefined || ONLY.includes(key));

interface Endpoint {
  url: string;
  close(): Promise<void>;
}

async function ourServer(deflate: boolean): Promise<Endpoint> {
  const handle = serve((request) => {
    const server = makeServer(request, { perMessageDeflate: deflate && { threshold: 0 } });
    server.on("message", (m) => server.send(m));
    return server.startConnection();
  }, { port: 0, hostname: "127.0.0.1", heartbeat: false });
  const { port } = await handle.ready;
  return { url: `ws://127.0.0.1:${port}/`, close: () => handle.close() };
}

async function wsServer(deflate: boolean): Promise<Endpoint> {
  const wss = new ws.WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: deflate && { threshold: 0 } });
  await new Promise((resolve) => wss.once("listening", resolve));
  wss.on("connection", (socket: Any) => socket.on("message", (d: Any, binary: boolean) => socket.send(d, { binary })));
  return {
    url: `ws://127.0.0.1:${wss.address().port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** What both clients offer: send, and on/off for "message". */
interface Socket {
  send(data: string): unknown;
  on(event: "message", listener: () => void): unknown;
  off(event: "message", listener: () => void): unknown;
}

interface Rate {
  /** Echoes per second. */
  perSecond: number;
  /** Echoes per CPU second of this process (both ends). */
  perCpuSecond: number;
}

/** Keeps IN_FLIGHT messages made by `make` outstanding for SECONDS; resolves with the echo rates. */
function run(socket: Socket, make: (i: number) => string): Promise<Rate> {
  // The messages are made before the window, so that JSON.stringify is not measured.
  const made = Array.from({ length: 64 }, (_, i) => make(i));
  return new Promise((resolve) => {
    let sent = 0, received = 0;
    const start = performance.now();
    const cpu = process.cpuUsage();
    const end = start + SECONDS * 1000;
    const onMessage = () => {
      received++;
      if (performance.now() < end) socket.send(made[sent++ % made.length]);
      else if (received === sent) {
        const used = process.cpuUsage(cpu);
        const seconds = (performance.now() - start) / 1000;
        socket.off("message", onMessage);
        resolve({ perSecond: received / seconds, perCpuSecond: received / ((used.user + used.system) / 1e6) });
      }
    };
    socket.on("message", onMessage);
    for (let i = 0; i < IN_FLIGHT; i++) socket.send(made[sent++ % made.length]);
  });
}

interface LoadClient {
  socket: Socket;
  close(): void;
}

async function ourClient(url: string, deflate: boolean): Promise<LoadClient> {
  const client = makeClient(url, { perMessageDeflate: deflate && { threshold: 0 } });
  client.startConnection();
  await client.opened;
  return { socket: client, close: () => client.closeConnection() };
}

async function wsClient(url: string, deflate: boolean): Promise<LoadClient> {
  const socket = new ws.WebSocket(url, { perMessageDeflate: deflate && { threshold: 0 } });
  await new Promise((resolve) => socket.once("open", resolve));
  return { socket, close: () => socket.close() };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

type Impl = "ours" | "ws";
/** A server, a client, and which zlib ours uses. */
interface Pair {
  name: string;
  server: Impl;
  client: Impl;
  zlib: "runtime" | "pako";
}
const PAIRS: Pair[] = [
  { name: "ours + ours", server: "ours", client: "ours", zlib: "runtime" },
  { name: "ws + ws", server: "ws", client: "ws", zlib: "runtime" },
  { name: "ours server + ws client", server: "ours", client: "ws", zlib: "runtime" },
  { name: "ws server + ours client", server: "ws", client: "ours", zlib: "runtime" },
  { name: "ours + ours, pako", server: "ours", client: "ours", zlib: "pako" },
];

let runtimeZlib: ZlibProvider | undefined;

async function echoRate(pair: Pair, deflate: boolean, make: (i: number) => string): Promise<Rate> {
  runtimeZlib ??= (await runtimeAdapter(), currentZlib());
  useZlib(pair.zlib === "pako" ? null : runtimeZlib);
  const server = pair.server === "ours" ? await ourServer(deflate) : await wsServer(deflate);
  const client = pair.client === "ours" ? await ourClient(server.url, deflate) : await wsClient(server.url, deflate);
  const rate = await run(client.socket, make);
  client.close();
  await server.close();
  useZlib(runtimeZlib);
  return rate;
}

/** Bytes on the wire per message, from the protocol layer itself. */
function wireBytes(deflate: boolean, make: (i: number) => string): number {
  const params = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  const compression = deflate
    ? new MessageCompression("client", params, deflateConfig({ threshold: 0 }, "bench")!)
    : null;
  const protocol = new Protocol({ role: "client", compression });
  let total = 0;
  for (let i = 0; i < 1000; i++) {
    protocol.sendText(make(i));
    for (const piece of protocol.dataToSend()) total += piece.length;
  }
  return total / 1000;
}

function heap(): number {
  const m = process.memoryUsage();
  return m.heapUsed + (m.arrayBuffers ?? 0);
}

async function gc(): Promise<void> {
  const g = (globalThis as Any).gc ?? (globalThis as Any).Bun?.gc;
  for (let i = 0; i < 3; i++) {
    g?.(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Heap growth per connection pair (both ends in this process) after a message each way. */
async function memoryPerPair(deflate: boolean, n = quick ? 100 : 300): Promise<number> {
  const server = await ourServer(deflate);
  await gc();
  const before = heap();
  const clients = [];
  for (let i = 0; i < n; i++) {
    const client = makeClient(server.url, { perMessageDeflate: deflate && { threshold: 0 } });
    client.startConnection();
    clients.push(client);
  }
  await Promise.all(clients.map((c) => c.opened));
  await Promise.all(clients.map((c, i) =>
    new Promise((resolve) => {
      c.once("message", resolve);
      c.send(chat(i));
    })
  ));
  await gc();
  const per = (heap() - before) / n;
  for (const c of clients) c.closeConnection();
  await Promise.all(clients.map((c) => c.closed));
  await server.close();
  return per;
}

// `--serve ours|ws|pako`: a child process that runs one echo server with
// compression on, prints its URL, and runs until its stdin closes (the
// one-side-at-a-time measurement below reads its CPU time from /proc).
const serveArgument = argument("--serve");
if (serveArgument !== undefined) {
  await runtimeAdapter();
  if (serveArgument === "pako") useZlib(null);
  const server = serveArgument === "ws" ? await wsServer(true) : await ourServer(true);
  console.log(server.url);
  process.stdin.on("data", () => {});
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
  await new Promise(() => {});
}

const runtime = (globalThis as Any).Deno
  ? `Deno ${(globalThis as Any).Deno.version.deno}`
  : (globalThis as Any).Bun
  ? `Bun ${(globalThis as Any).Bun.version}`
  : `Node ${process.versions.node}`;
await runtimeAdapter();
console.log(
  `# permessage-deflate on ${runtime}${quick ? " (quick)" : ""}: ${ROUNDS} round(s) of ${SECONDS} s each; ` +
    `ours on ${currentZlib().name}\n`,
);
console.log(
  "| workload | pair (server + client) | msg/s off | msg/s on | msg per CPU s off | msg per CPU s on | on, per CPU s, vs ws + ws |",
);
console.log("|---|---|--:|--:|--:|--:|--:|");
const wire: string[] = [];
for (const [, name, make] of process.argv.includes("--no-pairs") ? [] : WORKLOADS) {
  const rates = new Map<string, Rate[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const pair of PAIRS) {
      for (const deflate of [false, true]) {
        // Off, pako is the same as off: measured once.
        if (!deflate && pair.zlib === "pako") continue;
        const key = `${pair.name} ${deflate ? "on" : "off"}`;
        rates.set(key, [...(rates.get(key) ?? []), await echoRate(pair, deflate, make)]);
      }
    }
  }
  const m = (key: string, field: keyof Rate) => {
    const list = rates.get(key);
    return list === undefined ? NaN : median(list.map((r) => r[field]));
  };
  const wsOn = m("ws + ws on", "perCpuSecond");
  for (const pair of PAIRS) {
    const on = m(`${pair.name} on`, "perCpuSecond");
    const k = (x: number) => Number.isNaN(x) ? "" : Math.round(x).toString();
    console.log(
      `| ${name} | ${pair.name} | ${k(m(`${pair.name} off`, "perSecond"))} | ${
        k(m(`${pair.name} on`, "perSecond"))
      } | ${k(m(`${pair.name} off`, "perCpuSecond"))} | ${k(on)} | ${
        pair.name === "ws + ws" ? "" : (on / wsOn).toFixed(2) + "×"
      } |`,
    );
  }
  wire.push(`| ${name} | ${wireBytes(false, make).toFixed(0)} | ${wireBytes(true, make).toFixed(0)} |`);
}
console.log("\n| workload | bytes/msg off | bytes/msg on (ours) |\n|---|--:|--:|");
for (const line of wire) console.log(line);

// One side at a time: the server in a child process (its CPU time read from
// /proc, Linux only), the client in this one; compression on. Server side:
// each server against ws's client; client side: each client against ws's
// server. Messages per CPU second of that side alone.
async function childServer(kind: "ours" | "ws" | "pako"): Promise<{ url: string; cpu(): number; close(): void }> {
  const { spawn } = await import("node:child_process");
  const { readFileSync } = await import("node:fs");
  const script = new URL(import.meta.url).pathname;
  const args = (globalThis as Any).Deno ? ["run", "-A", script] : [script];
  const child = spawn(process.execPath, [...args, "--serve", kind], { stdio: ["pipe", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout!.on("data", (chunk: Uint8Array) => {
      text += new TextDecoder().decode(chunk);
      if (text.includes("\n")) resolve(text.trim());
    });
    child.once("exit", (code: number) => reject(new Error(`server child exited with ${code}`)));
  });
  return {
    url,
    cpu() {
      // utime and stime, fields 14 and 15, in clock ticks (100 per second on Linux).
      const fields = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1].split(" ");
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    close() {
      child.stdin!.end();
      child.kill();
    },
  };
}

async function oneSide(
  side: "server" | "client",
  kind: "ours" | "ws" | "pako",
  make: (i: number) => string,
): Promise<number> {
  const server = await childServer(side === "server" ? kind : "ws");
  if (side === "client") useZlib(kind === "pako" ? null : runtimeZlib!);
  const client = side === "client" && kind !== "ws"
    ? await ourClient(server.url, true)
    : await wsClient(server.url, true);
  const serverBefore = server.cpu();
  const clientBefore = process.cpuUsage();
  const start = performance.now();
  const rate = await run(client.socket, make);
  const messages = rate.perSecond * (performance.now() - start) / 1000;
  const used = process.cpuUsage(clientBefore);
  const cpu = side === "server" ? server.cpu() - serverBefore : (used.user + used.system) / 1e6;
  client.close();
  server.close();
  useZlib(runtimeZlib!);
  return messages / cpu;
}

if (process.platform === "linux" && !process.argv.includes("--no-split")) {
  runtimeZlib ??= currentZlib();
  console.log(
    "\n| workload | side | ours, msg per CPU s of that side | ws | ours / ws | ours on pako / ws |\n|---|---|--:|--:|--:|--:|",
  );
  for (const [, name, make] of WORKLOADS) {
    for (const side of SIDES) {
      const rates: Record<string, number[]> = { ours: [], ws: [], pako: [] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const kind of ["ours", "ws", "pako"] as const) rates[kind].push(await oneSide(side, kind, make));
      }
      const ours = median(rates.ours), theirs = median(rates.ws), pako = median(rates.pako);
      console.log(
        `| ${name} | ${side} | ${Math.round(ours)} | ${Math.round(theirs)} | ${(ours / theirs).toFixed(2)}× | ${
          (pako / theirs).toFixed(2)
        }× |`,
      );
    }
  }
}

if (!process.argv.includes("--no-memory")) {
  const memOff = await memoryPerPair(false);
  const memOn = await memoryPerPair(true);
  console.log(
    `\nmemory per connection pair (client + server, after one message each way): off ${
      (memOff / 1024).toFixed(1)
    } KB, on ${(memOn / 1024).toFixed(1)} KB`,
  );
}
process.exit(0);

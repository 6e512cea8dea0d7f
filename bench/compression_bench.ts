/**
 * permessage-deflate: throughput and memory with compression on vs off, ours
 * next to `ws` (Node's zlib) in one run, as ratios.
 *
 *     node bench/compression_bench.ts [--quick]     (also: deno run -A …, bun …)
 *
 * - echo: one client, 32 messages in flight, for a fixed time: messages/s of a
 *   chat-like stream (small JSON that differs a little from message to
 *   message: context takeover pays) and of 16 KB JSON documents;
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
import { MessageCompression } from "../src/protocol/compression.ts";
import { deflateConfig } from "../src/protocol/extensions.ts";
import { Protocol } from "../src/protocol/protocol.ts";

const quick = process.argv.includes("--quick");
const SECONDS = quick ? 1 : 3;
const ROUNDS = quick ? 1 : 3;
const IN_FLIGHT = 32;

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
function doc(i: number): string {
  return JSON.stringify({
    seq: i,
    items: Array.from(
      { length: 160 },
      (_, j) => ({ id: j, name: `item-${j}`, price: (j * 37) % 1000, ok: j % 2 === 0 }),
    ),
  });
}
const WORKLOADS: Array<[string, (i: number) => string]> = [["chat ~150 B", chat], ["doc ~8 KB", doc]];

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

/** Keeps IN_FLIGHT messages made by `make` outstanding for SECONDS; resolves with the echoes per second. */
function run(socket: Socket, make: (i: number) => string): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0, received = 0;
    const end = performance.now() + SECONDS * 1000;
    const onMessage = () => {
      received++;
      if (performance.now() < end) socket.send(make(sent++));
      else if (received === sent) {
        socket.off("message", onMessage);
        resolve(received / SECONDS);
      }
    };
    socket.on("message", onMessage);
    for (let i = 0; i < IN_FLIGHT; i++) socket.send(make(sent++));
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

async function echoRate(
  impl: "ours" | "ws",
  deflate: boolean,
  make: (i: number) => string,
): Promise<number> {
  const server = impl === "ours" ? await ourServer(deflate) : await wsServer(deflate);
  const client = impl === "ours" ? await ourClient(server.url, deflate) : await wsClient(server.url, deflate);
  const rate = await run(client.socket, make);
  client.close();
  await server.close();
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

const runtime = (globalThis as Any).Deno
  ? `Deno ${(globalThis as Any).Deno.version.deno}`
  : (globalThis as Any).Bun
  ? `Bun ${(globalThis as Any).Bun.version}`
  : `Node ${process.versions.node}`;
console.log(`# permessage-deflate on ${runtime}${quick ? " (quick)" : ""}: ${ROUNDS} round(s) of ${SECONDS} s each\n`);
console.log("| workload | impl | msg/s off | msg/s on | on/off | ours/ws on | bytes/msg off | bytes/msg on |");
console.log("|---|---|--:|--:|--:|--:|--:|--:|");
for (const [name, make] of WORKLOADS) {
  const rates: Record<string, number[]> = { "ours off": [], "ours on": [], "ws off": [], "ws on": [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const impl of ["ours", "ws"] as const) {
      for (const deflate of [false, true]) {
        rates[`${impl} ${deflate ? "on" : "off"}`].push(await echoRate(impl, deflate, make));
      }
    }
  }
  const m = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]));
  const off = wireBytes(false, make), on = wireBytes(true, make);
  for (const impl of ["ours", "ws"]) {
    const ratio = impl === "ours" ? (m["ours on"] / m["ws on"]).toFixed(2) + "×" : "";
    console.log(
      `| ${name} | ${impl} | ${Math.round(m[`${impl} off`])} | ${Math.round(m[`${impl} on`])} | ${
        (m[`${impl} on`] / m[`${impl} off`]).toFixed(2)
      } | ${ratio} | ${impl === "ours" ? off.toFixed(0) : ""} | ${impl === "ours" ? on.toFixed(0) : ""} |`,
    );
  }
}
const memOff = await memoryPerPair(false);
const memOn = await memoryPerPair(true);
console.log(
  `\nmemory per connection pair (client + server, after one message each way): off ${
    (memOff / 1024).toFixed(1)
  } KB, on ${(memOn / 1024).toFixed(1)} KB`,
);
process.exit(0);

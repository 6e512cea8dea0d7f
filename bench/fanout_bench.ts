/**
 * Fan-out: one 64-byte binary message published to 1,000 subscribers, timed
 * per fan-out (the publish call and the socket writes it causes: each publish
 * is followed by one macrotask turn, so queued frames are written before the
 * next), in wall-clock time and in CPU time of the server's process (the
 * steadier of the two on a shared machine). Side by side, in one run:
 *
 * - Bun: the hub on serve() vs `Bun.serve`'s native `server.publish`;
 * - Node: the hub on serve() vs a hand-written loop over `ws` 8's clients
 *   (`for (const c of wss.clients) c.send(message)`);
 * - Deno: the hub on serve() vs a hand-written loop over `Deno.serve`'s
 *   `upgradeWebSocket` sockets.
 *
 * The 1,000 subscribers are raw TCP clients in a child process (the same
 * runtime) that only read; after each run they report the bytes they got,
 * which must be every frame. Ratios > 1 mean the hub is slower. The machine is
 * shared and noisy: compare ratios, not absolute numbers.
 *
 *     bun bench/fanout_bench.ts      node bench/fanout_bench.ts      deno run -A bench/fanout_bench.ts
 *
 * Needs `ws` installed in tools/rt (`npm ci --prefix tools/rt`) for Node.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import net from "node:net";
import process from "node:process";
import { setImmediate } from "node:timers";
import { createHub, makeServer, serve } from "../mod.ts";

const SUBSCRIBERS = 1000;
const WARMUP = 20;
const FANOUTS = 100;
const ROUNDS = 2;
const MESSAGE = new Uint8Array(64).fill(0x61);
const FRAME_BYTES = 2 + MESSAGE.length;
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

const runtime: "deno" | "bun" | "node" = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

/** A server under test: where the clients connect, and one fan-out. */
interface Target {
  name: string;
  port: number;
  /** Resolves once `n` subscribers are in. */
  subscribed(n: number): Promise<void>;
  publish(): void;
  close(): Promise<void>;
}

const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

async function until(condition: () => boolean, what: string, limit = 20_000): Promise<void> {
  const deadline = Date.now() + limit;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// ───────────────────────────── the servers ─────────────────────────────

async function ours(): Promise<Target> {
  const hub = createHub();
  const handle = serve((request) => {
    const ws = makeServer(request);
    ws.on("open", () => hub.subscribe(ws, "t"));
    return ws.startConnection();
  }, { port: 0, hostname: "127.0.0.1", heartbeat: false });
  const { port } = await handle.ready;
  return {
    name: "@x/wsd hub",
    port,
    subscribed: (n) => until(() => hub.subscribers("t") >= n, "subscribers"),
    publish: () => void hub.publish("t", MESSAGE),
    async close() {
      await hub.close();
      await handle.close();
      await handle.finished;
    },
  };
}

interface BunServer {
  port: number;
  publish(topic: string, data: Uint8Array): number;
  upgrade(request: Request): boolean;
  stop(force?: boolean): Promise<void> | void;
}
interface BunSocket {
  subscribe(topic: string): void;
}

function bunNative(): Promise<Target> {
  const Bun = (globalThis as unknown as {
    Bun: { serve(options: unknown): BunServer };
  }).Bun;
  let open = 0;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request: Request, server: BunServer) {
      if (server.upgrade(request)) return undefined;
      return new Response("no", { status: 400 });
    },
    websocket: {
      open(ws: BunSocket) {
        ws.subscribe("t");
        open++;
      },
      message() {},
      perMessageDeflate: false,
    },
  });
  return Promise.resolve({
    name: "Bun.serve publish",
    port: server.port,
    subscribed: (n) => until(() => open >= n, "subscribers"),
    publish: () => void server.publish("t", MESSAGE),
    async close() {
      await server.stop(true);
    },
  });
}

interface WsClient {
  send(data: Uint8Array): void;
}
interface WsServer {
  clients: Set<WsClient>;
  address(): { port: number };
  on(event: string, listener: () => void): void;
  close(callback: () => void): void;
}

async function wsLoop(): Promise<Target> {
  const require = createRequire(import.meta.url);
  const { WebSocketServer } = require("../tools/rt/node_modules/ws/index.js") as {
    WebSocketServer: new (options: unknown) => WsServer;
  };
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.on("listening", resolve));
  return {
    name: "ws loop",
    port: wss.address().port,
    subscribed: (n) => until(() => wss.clients.size >= n, "subscribers"),
    publish: () => {
      for (const client of wss.clients) client.send(MESSAGE);
    },
    async close() {
      for (const client of wss.clients) (client as unknown as { terminate(): void }).terminate();
      await new Promise<void>((resolve) => wss.close(resolve));
    },
  };
}

async function denoLoop(): Promise<Target> {
  const Deno = (globalThis as unknown as {
    Deno: {
      serve(options: unknown, handler: (request: Request) => Response): {
        addr: { port: number };
        shutdown(): Promise<void>;
      };
      upgradeWebSocket(request: Request): { socket: WebSocket; response: Response };
    };
  }).Deno;
  const sockets = new Set<WebSocket>();
  const listening = Promise.withResolvers<void>();
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => listening.resolve() }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onopen = () => sockets.add(socket);
    socket.onclose = () => sockets.delete(socket);
    return response;
  });
  await listening.promise;
  return {
    name: "Deno.serve loop",
    port: server.addr.port,
    subscribed: (n) => until(() => sockets.size >= n, "subscribers"),
    publish: () => {
      for (const socket of sockets) socket.send(MESSAGE);
    },
    async close() {
      for (const socket of sockets) socket.close();
      await server.shutdown();
    },
  };
}

// ───────────────────────────── the clients (child process) ─────────────────────────────

/** In the child: opens `count` WebSockets by hand, reads and counts; answers "bytes N" on each stdin line. */
function runClients(port: number, count: number): void {
  let bytes = 0;
  let open = 0;
  const request = `GET /t HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  const connect = (i: number) => {
    if (i >= count) return;
    const socket = net.connect({ port, host: "127.0.0.1" });
    let head: Uint8Array | null = new Uint8Array(0);
    socket.on("connect", () => {
      socket.write(request);
      connect(i + 1); // one at a time into the listen backlog, quickly
    });
    socket.on("error", (error) => {
      console.error(`client ${i}: ${error.message}`);
      process.exit(1);
    });
    socket.on("data", (chunk: Uint8Array) => {
      if (head === null) {
        bytes += chunk.length;
        return;
      }
      const all = new Uint8Array(head.length + chunk.length);
      all.set(head);
      all.set(chunk, head.length);
      const end = indexOfHeadEnd(all);
      if (end < 0) {
        head = all;
        return;
      }
      if (!new TextDecoder().decode(all.subarray(0, 12)).startsWith("HTTP/1.1 101")) {
        console.error(`client ${i}: ${new TextDecoder().decode(all.subarray(0, end))}`);
        process.exit(1);
      }
      head = null;
      bytes += all.length - end;
      if (++open === count) console.log("ready");
    });
  };
  connect(0);
  let input = "";
  process.stdin.on("data", (data) => {
    input += String(data);
    while (input.includes("\n")) {
      input = input.slice(input.indexOf("\n") + 1);
      console.log(`bytes ${bytes}`);
    }
  });
  process.stdin.on("end", () => process.exit(0));
}

function indexOfHeadEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) return i + 1;
  }
  return -1;
}

/** The child process of clients, and its answers. */
class Clients {
  readonly child: ChildProcess;
  #lines: string[] = [];
  #waiters: Array<() => void> = [];

  constructor(port: number) {
    const script = new URL(import.meta.url).pathname;
    const args = runtime === "deno" ? ["run", "-A", script] : [script];
    this.child = spawn(process.execPath, [...args, "--clients", String(port), String(SUBSCRIBERS)], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    let partial = "";
    this.child.stdout!.on("data", (data) => {
      const parts = (partial + String(data)).split("\n");
      partial = parts.pop()!;
      this.#lines.push(...parts);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  async line(prefix: string): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const index = this.#lines.findIndex((l) => l.startsWith(prefix));
      if (index >= 0) return this.#lines.splice(index, 1)[0];
      if (Date.now() > deadline) throw new Error(`The clients did not say "${prefix}"`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  /** The bytes the clients received so far. */
  async bytes(): Promise<number> {
    this.child.stdin!.write("report\n");
    return Number((await this.line("bytes ")).slice(6));
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    if (this.child.exitCode === null) await new Promise((resolve) => this.child.once("exit", resolve));
  }
}

// ───────────────────────────── the measurement ─────────────────────────────

/** Microseconds per fan-out, wall clock and CPU time of this process: the best of ROUNDS rounds of FANOUTS. */
async function measure(make: () => Promise<Target>): Promise<{ name: string; us: number; cpu: number }> {
  const target = await make();
  const clients = new Clients(target.port);
  try {
    await clients.line("ready");
    await target.subscribed(SUBSCRIBERS);
    let sent = 0;
    for (let i = 0; i < WARMUP; i++, sent++) {
      target.publish();
      await macrotask();
    }
    let best = Infinity, bestCpu = Infinity;
    for (let round = 0; round < ROUNDS; round++) {
      const start = performance.now();
      const cpuStart = process.cpuUsage();
      for (let i = 0; i < FANOUTS; i++, sent++) {
        target.publish();
        await macrotask();
      }
      const cpu = process.cpuUsage(cpuStart);
      best = Math.min(best, ((performance.now() - start) * 1000) / FANOUTS);
      bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / FANOUTS);
    }
    const expected = sent * SUBSCRIBERS * FRAME_BYTES;
    let got = 0;
    const deadline = Date.now() + 20_000;
    while ((got = await clients.bytes()) < expected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (got !== expected) throw new Error(`${target.name}: the clients got ${got} bytes, expected ${expected}`);
    return { name: target.name, us: best, cpu: bestCpu };
  } finally {
    await clients.stop();
    await target.close();
  }
}

async function main(): Promise<void> {
  const peer = runtime === "bun" ? bunNative : runtime === "node" ? wsLoop : denoLoop;
  console.log(
    `fan-out of one ${MESSAGE.length}-byte binary message to ${SUBSCRIBERS} subscribers on ${runtime}, ` +
      `best of ${ROUNDS} × ${FANOUTS}`,
  );
  // Interleaved, so that a noisy neighbour hurts both sides alike.
  const a1 = await measure(ours);
  const b1 = await measure(peer);
  const a2 = await measure(ours);
  const b2 = await measure(peer);
  const a = Math.min(a1.us, a2.us), b = Math.min(b1.us, b2.us);
  const ac = Math.min(a1.cpu, a2.cpu), bc = Math.min(b1.cpu, b2.cpu);
  const row = (name: string, wall: number, cpu: number) =>
    console.log(
      `  ${name.padEnd(20)} ${wall.toFixed(0).padStart(7)} µs per fan-out, ${cpu.toFixed(0).padStart(7)} µs of CPU`,
    );
  row(a1.name, a, ac);
  row(b1.name, b, bc);
  console.log(`  ratio (hub / ${b1.name}): ${(a / b).toFixed(2)} wall clock, ${(ac / bc).toFixed(2)} CPU`);
}

const argv = process.argv.slice(2);
if (argv[0] === "--clients") runClients(Number(argv[1]), Number(argv[2]));
else await main();

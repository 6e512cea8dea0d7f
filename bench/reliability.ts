/**
 * Production-safety measurements (issue 16): how a server built on @x/wsd
 * behaves when its process is told to stop under load, when a listener
 * throws, when a peer floods without reading, when peers send decompression
 * bombs, and when a TLS client drops mid-handshake. Each runtime's server
 * (`bench/reliability/server.ts`, the tcp backend unless `--backend node`)
 * and ws 8.23 on Node (`bench/reliability/ws_server.mjs`) run as child
 * processes; the load comes from raw `node:net` clients in this process
 * (`bench/reliability/_raw.ts`). Prints a markdown table.
 *
 *     deno run -A bench/reliability.ts [--clients 1000] [--flood-seconds 4] [--bombers 200]
 *         [--rounds 3] [--backend tcp|node] [--only shutdown,policy,throw,ping,echo,bomb,tls]
 *         [--servers node,deno,bun,ws] [-v]
 *
 * `WSD_PROJECT=/path/to/checkout` measures another checkout's server.ts (the
 * bench files always come from this one). See docs/reliability.md.
 *
 * @module
 */

import { parseArgs } from "node:util";
import net from "node:net";
import zlib from "node:zlib";
import { Buffer } from "node:buffer";
import { clientFrame, OP_BINARY, OP_PING, OP_TEXT, RawWs, repeated } from "./reliability/_raw.ts";

const here = new URL("./reliability/", import.meta.url).pathname;
const root = new URL("..", import.meta.url).pathname;
const bin = `${root}tools/rt/node_modules/.bin`;
const project = Deno.env.get("WSD_PROJECT") ?? root;

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    clients: { type: "string", default: "1000" },
    "flood-seconds": { type: "string", default: "4" },
    bombers: { type: "string", default: "200" },
    rounds: { type: "string", default: "3" },
    backend: { type: "string", default: "tcp" },
    only: { type: "string" },
    servers: { type: "string", default: "node,deno,bun,ws" },
    verbose: { type: "boolean", short: "v", default: false },
  },
});
const CLIENTS = Number(args.clients);
const FLOOD_MS = Number(args["flood-seconds"]) * 1000;
const BOMBERS = Number(args.bombers);
const ROUNDS = Number(args.rounds);
const BACKEND = args.backend;
const ONLY = args.only?.split(",");
const SERVERS = args.servers.split(",");
const verbose = args.verbose;

function log(...parts: unknown[]): void {
  if (verbose) console.error(...parts);
}

// ───────────────────────────── child servers ─────────────────────────────

interface Config {
  backend?: string;
  server?: Record<string, unknown>;
  serve?: Record<string, unknown>;
  tls?: boolean;
}

function command(server: string): string[] {
  switch (server) {
    case "node":
      return [`${bin}/node`, `${here}server.ts`];
    case "bun":
      return [`${bin}/bun`, `${here}server.ts`];
    case "deno":
      return [Deno.execPath(), "run", "-A", `${here}server.ts`];
    default:
      return [`${bin}/node`, `${here}ws_server.mjs`];
  }
}

/** A child server: its port and pid, its output, and its end. */
class Child {
  readonly process: Deno.ChildProcess;
  port = 0;
  pid = 0;
  stderr = "";
  /** Milliseconds after SIGTERM at which close() resolved, if it did. */
  closedAfter: number | null = null;
  exit: { code: number; signal: string | null; at: number } | null = null;
  readonly #ready: Promise<void>;
  readonly #exited: Promise<void>;
  #closedWaiters: Array<() => void> = [];

  constructor(server: string, config: Config) {
    const [cmd, ...rest] = command(server);
    const proc = new Deno.Command(cmd, {
      args: rest,
      env: {
        WSD_PROJECT: project,
        WSD_RELIAB: JSON.stringify(server === "ws" ? config : { backend: BACKEND, ...config }),
        NO_COLOR: "1",
        RUST_BACKTRACE: "0",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.process = proc;
    this.#exited = proc.status.then((status) => {
      this.exit = { code: status.code, signal: status.signal, at: Date.now() };
    });
    (async () => {
      for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) this.stderr += chunk;
    })();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#ready = promise;
    (async () => {
      let buffered = "";
      for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        let nl;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const [word, a, b] = line.split(" ");
          if (word === "READY") {
            this.port = Number(a);
            this.pid = Number(b);
            resolve();
          } else if (word === "CLOSED") {
            this.closedAfter = Number(a);
            for (const w of this.#closedWaiters) w();
          }
        }
      }
      reject(new Error(`The ${server} server did not start: ${this.stderr}`));
    })();
  }

  ready(): Promise<void> {
    return deadline(this.#ready, 15_000, "the child server to start");
  }

  /** Resolves with whether the process ended within `ms`. */
  async exited(ms: number): Promise<boolean> {
    await Promise.race([this.#exited, sleep(ms)]);
    return this.exit !== null;
  }

  /** Resolves with whether close() resolved within `ms`. */
  async closed(ms: number): Promise<boolean> {
    if (this.closedAfter !== null) return true;
    await Promise.race([new Promise<void>((r) => this.#closedWaiters.push(r)), sleep(ms)]);
    return this.closedAfter !== null;
  }

  get alive(): boolean {
    return this.exit === null;
  }

  /** The first line of stderr that names an error (else the first that is not blank). */
  get firstError(): string {
    const lines = this.stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    return lines.find((l) => /^(error: |Uncaught )|^[A-Za-z]*(Error|Exception)\b/.test(l)) ?? lines[0] ?? "";
  }

  /** /proc/PID/status VmRSS and VmHWM, in bytes. */
  memory(): { rss: number; hwm: number } {
    const status = Deno.readTextFileSync(`/proc/${this.pid}/status`);
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  }

  signal(signal: Deno.Signal): void {
    if (this.exit === null) {
      try {
        this.process.kill(signal);
      } catch { /* gone already */ }
    }
  }

  /** SIGTERM, then SIGKILL after `ms`; waits for the end. */
  async stop(ms = 8_000): Promise<void> {
    this.signal("SIGTERM");
    if (!(await this.exited(ms))) this.signal("SIGKILL");
    await this.#exited;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(`Timed out: ${what}`)), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function start(server: string, config: Config = {}): Promise<Child> {
  const child = new Child(server, config);
  await child.ready();
  return child;
}

/** Opens `n` raw clients, `batch` at a time. */
async function openMany(port: number, n: number, options: Parameters<typeof RawWs.open>[1] = {}): Promise<RawWs[]> {
  const out: RawWs[] = [];
  for (let i = 0; i < n; i += 50) {
    out.push(...await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => RawWs.open(port, options))));
  }
  return out;
}

/** Opens a client, sends one message, and resolves with the milliseconds until its echo (or null after `ms`). */
async function probe(port: number, ms = 10_000): Promise<number | null> {
  const t0 = performance.now();
  let ws: RawWs | undefined;
  try {
    ws = await RawWs.open(port, { timeout: ms });
    ws.send(OP_TEXT, "probe");
    const ok = await ws.until(() => ws!.messages >= 1, ms - (performance.now() - t0));
    return ok ? performance.now() - t0 : null;
  } catch {
    return null;
  } finally {
    ws?.socket.destroy();
  }
}

const MB = 1 << 20;
const mb = (n: number) => `${(n / MB).toFixed(n < 10 * MB ? 1 : 0)} MB`;
const ms = (n: number) => `${Math.round(n)} ms`;

function ending(child: Child): string {
  if (child.alive) return "alive";
  const e = child.exit!;
  const line = child.firstError;
  return `exit ${e.code}${e.signal ? ` (${e.signal})` : ""}${line ? `: \`${short(line)}\`` : ""}`;
}

function short(line: string): string {
  return line.length > 90 ? line.slice(0, 87) + "…" : line;
}

// ───────────────────────────── scenarios ─────────────────────────────

type Row = Record<string, string>;

/** (a) SIGTERM → close() while CLIENTS clients send continuously. */
async function shutdown(server: string): Promise<Row> {
  const child = await start(server);
  const clients = await openMany(child.port, CLIENTS);
  const message = "m".repeat(64);
  for (const c of clients) {
    c.onMessage = () => {
      if (c.closeCode === null) c.send(OP_TEXT, message);
    };
    c.send(OP_TEXT, message);
    c.send(OP_TEXT, message);
  }
  await sleep(1000);
  const echoed = clients.reduce((n, c) => n + c.messages, 0);
  const t0 = Date.now();
  child.signal("SIGTERM");
  const exited = await child.exited(15_000);
  const exitMs = exited ? child.exit!.at - t0 : null;
  await Promise.race([Promise.all(clients.map((c) => c.closed)), sleep(2000)]);
  const codes = new Map<string, number>();
  for (const c of clients) {
    const key = c.closeCode === null ? "none" : String(c.closeCode);
    codes.set(key, (codes.get(key) ?? 0) + 1);
  }
  for (const c of clients) c.socket.destroy();
  if (!exited) await child.stop(1000);
  log(server, "shutdown: echoed before SIGTERM", echoed, Object.fromEntries(codes));
  const got1001 = codes.get("1001") ?? 0;
  const others = [...codes].filter(([k]) => k !== "1001").map(([k, n]) =>
    `${n}× ${k === "none" ? "no close frame" : k}`
  );
  return {
    "a. clients that got 1001": `${got1001} / ${CLIENTS}${others.length ? ` (${others.join(", ")})` : ""}`,
    "a. exit": exited ? ending(child) : "still running after 15 s (killed)",
    "a. SIGTERM → close() resolved / exit": `${child.closedAfter === null ? "never" : ms(child.closedAfter)} / ${
      exitMs === null ? "—" : ms(exitMs)
    }`,
  };
}

/** (b) sendQueuePolicy "close", one client floods 16 KiB messages and never reads its echoes. */
async function policy(server: string): Promise<Row> {
  if (server === "ws") return { "b. policy close, non-reading client": "—" };
  const child = await start(server, { server: { sendQueuePolicy: "close" } });
  const flooder = await RawWs.open(child.port, { paused: true });
  await flooder.flood(repeated(clientFrame(OP_BINARY, new Uint8Array(16384)), 4), 3000);
  await child.exited(500);
  const echo = child.alive ? await probe(child.port, 3000) : null;
  flooder.socket.resume();
  await flooder.until(() => flooder.closeCode !== null, 3000);
  const code = flooder.closeCode;
  await flooder.destroy();
  const result = child.alive
    ? `alive, flooder closed with ${code ?? "no close frame"}, new client ${echo === null ? "not echoed" : "echoed"}`
    : ending(child);
  await child.stop();
  return { "b. policy close, non-reading client": result };
}

/** (c) a message listener throws. */
async function throwing(server: string): Promise<Row> {
  const child = await start(server);
  const [a, b] = await openMany(child.port, 2);
  a.send(OP_TEXT, "throw");
  await a.until(() => a.closeCode !== null, 1500);
  await child.exited(300);
  let other = "—";
  if (child.alive) {
    b.send(OP_TEXT, "still there?");
    other = (await b.until(() => b.messages >= 1, 2000)) ? "echoes" : "no echo";
  }
  const result = child.alive
    ? `alive; thrower closed with ${
      a.closeCode ?? (a.ended ? "no close frame" : "nothing (still open)")
    }; other client ${other}`
    : ending(child);
  await a.destroy();
  await b.destroy();
  await child.stop();
  return { "c. listener throws": result };
}

/** (d)/(e) a client that never reads floods pings or 16 KiB messages. */
async function flood(server: string, kind: "ping" | "echo"): Promise<Row> {
  const child = await start(server);
  await sleep(300);
  const before = child.memory();
  const flooder = await RawWs.open(child.port, { paused: true });
  const chunk = kind === "ping"
    ? repeated(clientFrame(OP_PING, new Uint8Array(125)), 512)
    : repeated(clientFrame(OP_BINARY, new Uint8Array(16384)), 4);
  const { accepted } = await flooder.flood(chunk, FLOOD_MS);
  await sleep(500);
  const alive = child.alive;
  const after = alive ? child.memory() : before;
  await flooder.destroy();
  await child.stop();
  const label = kind === "ping" ? "d. ping flood" : "e. 16 KiB echo flood";
  return {
    [`${label}: server RSS growth (peak)`]: alive ? mb(after.hwm - before.rss) : ending(child),
    [`${label}: bytes accepted in ${FLOOD_MS / 1000} s`]: mb(accepted),
  };
}

/** A permessage-deflate message of 16 MiB of zeros. */
function bomb(): Buffer {
  const deflated = zlib.deflateRawSync(Buffer.alloc(16 * MB), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return clientFrame(OP_BINARY, deflated.subarray(0, deflated.length - 4), true);
}

/** (f) BOMBERS connections send a bomb each at once; a fresh client measures handshake + one echo. */
async function bombs(server: string): Promise<Row> {
  const child = await start(server, { server: { maxLength: MB, perMessageDeflate: true } });
  const frame = bomb();
  const baseline: number[] = [];
  const latencies: number[] = [];
  const codes = new Map<string, number>();
  let negotiated = true;
  for (let round = 0; round < ROUNDS && child.alive; round++) {
    const bombers = await openMany(child.port, BOMBERS, { extensions: "permessage-deflate" });
    negotiated &&= bombers.every((b) => /permessage-deflate/i.test(b.head));
    baseline.push((await probe(child.port)) ?? Infinity);
    for (const b of bombers) b.socket.write(frame);
    latencies.push((await probe(child.port)) ?? Infinity);
    await Promise.race([Promise.all(bombers.map((b) => b.until(() => b.closeCode !== null, 10_000))), sleep(10_000)]);
    for (const b of bombers) {
      const key = b.closeCode === null ? "none" : String(b.closeCode);
      codes.set(key, (codes.get(key) ?? 0) + 1);
      b.socket.destroy();
    }
    await sleep(200);
  }
  const alive = child.alive;
  const result = alive ? child : null;
  await child.stop();
  const range = (xs: number[]) => {
    const s = [...xs].sort((x, y) => x - y);
    const f = (x: number) => (x === Infinity ? "timeout" : String(Math.round(x)));
    return s.length === 0 ? "—" : s[0] === s.at(-1) ? `${f(s[0])} ms` : `${f(s[0])}–${f(s.at(-1)!)} ms`;
  };
  return {
    "f. bombs: fresh client handshake + echo": result
      ? `${range(latencies)} (idle: ${range(baseline)})${negotiated ? "" : " (deflate not agreed!)"}`
      : ending(child),
    "f. bombs: bombers' close codes": [...codes].map(([k, n]) => `${n}× ${k === "none" ? "no close frame" : k}`).join(
      ", ",
    ),
  };
}

/** (g) a TCP client drops before the TLS handshake ends, then SIGTERM → close(). */
async function tlsDrop(server: string): Promise<Row> {
  if (server === "ws") return { "g. TLS drop, then close() (shutdownTimeout 1 s)": "—" };
  const child = await start(server, { tls: true, serve: { shutdownTimeout: 1000 } });
  // A ClientHello's first bytes (record header, handshake header), then nothing: the server waits for the rest.
  const socket = net.connect({ host: "127.0.0.1", port: child.port });
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.on("error", () => {});
  socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
  await sleep(300);
  socket.destroy();
  await sleep(300);
  child.signal("SIGTERM");
  const resolved = await child.closed(5000);
  await child.exited(1000);
  const result = resolved
    ? `resolved after ${ms(child.closedAfter!)}; ${child.alive ? "process still running" : `exit ${child.exit!.code}`}`
    : `not resolved after 5 s; ${child.alive ? "process still running" : ending(child)}`;
  await child.stop(1000);
  return { "g. TLS drop, then close() (shutdownTimeout 1 s)": result };
}

// ───────────────────────────── the run ─────────────────────────────

const scenarios: Array<[string, (server: string) => Promise<Row>]> = [
  ["shutdown", shutdown],
  ["policy", policy],
  ["throw", throwing],
  ["ping", (s) => flood(s, "ping")],
  ["echo", (s) => flood(s, "echo")],
  ["bomb", bombs],
  ["tls", tlsDrop],
];

async function version(cmd: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout).split("\n")[0].trim();
  } catch {
    return "?";
  }
}

const columns: Record<string, string> = {
  node: `@x/wsd on Node`,
  deno: `@x/wsd on Deno`,
  bun: `@x/wsd on Bun`,
  ws: "ws 8.23 on Node",
};
const table = new Map<string, Map<string, string>>();
const started = Date.now();
for (const [name, run] of scenarios) {
  if (ONLY && !ONLY.includes(name)) continue;
  for (const server of SERVERS) {
    console.error(`${name} on ${server}…`);
    let row: Row;
    try {
      row = await run(server);
    } catch (error) {
      row = { [`${name}`]: `bench error: ${(error as Error).message}` };
    }
    for (const [k, v] of Object.entries(row)) {
      if (!table.has(k)) table.set(k, new Map());
      table.get(k)!.set(server, v);
    }
  }
}

const rev = await version(["git", "-C", project, "log", "-1", "--format=%h %cs %s"]);
const versions = [
  `Node ${await version([`${bin}/node`, "--version"])}`,
  `${await version([Deno.execPath(), "--version"])}`,
  `Bun ${await version([`${bin}/bun`, "--version"])}`,
].join(", ");
console.log(`Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ${project} (${rev});`);
console.log(
  `${versions}; backend ${BACKEND}; ${CLIENTS} clients, ${
    FLOOD_MS / 1000
  } s floods, ${BOMBERS} bombers × ${ROUNDS} rounds; run took ${Math.round((Date.now() - started) / 1000)} s.\n`,
);
console.log(`| situation | ${SERVERS.map((s) => columns[s] ?? s).join(" | ")} |`);
console.log(`| --- | ${SERVERS.map(() => "---").join(" | ")} |`);
for (const [k, row] of table) {
  console.log(`| ${k} | ${SERVERS.map((s) => (row.get(s) ?? "").replaceAll("|", "\\|")).join(" | ")} |`);
}

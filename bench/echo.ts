/**
 * The echo load comparison: ws, faye's websocket-driver, Deno's and Bun's
 * built-in servers and ours on each runtime, side by side in one run, driven
 * by one load generator (raw TCP, pre-built masked frames: bench/echo/load.c).
 *
 *     deno task bench:echo [--quick] [--rounds N] [--only wsd-node,ws,…] [--skip …]
 *                          [--scenarios pipelined,oneper,…] [--write bench/RESULTS.md]
 *
 * Servers are pinned to core 0 and the generator to core 1 (`taskset`); the
 * client rows pin the client under test to core 0 and a Bun server to core 1.
 * Every scenario runs every implementation in turn, `rounds` times, in a
 * different order each round; the table shows medians, and each ratio is the
 * median of the per-round ratios (runs of one round are seconds apart, so
 * other load on the machine hits both sides of a ratio alike). Each
 * measurement also records the server's and the generator's CPU share: a
 * generator near 1.0 would mean the generator was the limit.
 *
 * The raw TCP rows (`tcp-node`, `tcp-deno`, `tcp-bun`: servers/_raw.mjs) are
 * each runtime's sockets echoing the frames re-framed and nothing else, the
 * limit for the bulk rows; `tcp-*-msg` (only with `--only`) add a fresh buffer
 * per message, the floor of any API that hands messages over. `wsd-node-js`
 * is our Node server built to JavaScript one file per TypeScript file
 * (bench/echo/build_js.mjs), as JSR's npm layer ships it and Node users run it:
 * importing `.ts` costs Node some 4 MB of heap.
 *
 * Idle memory is measured first, on fresh servers: RSS after a full GC, before
 * and after opening `idleConns` connections (each echoed one message). Then
 * every server is warmed up with each kind of load (handshakes for 2 s: the
 * JIT's compiles of a fresh server's handshake path would count as its CPU).
 *
 * @module
 */

import { parseArgs } from "node:util";

const here = new URL(".", import.meta.url).pathname;
const root = new URL("..", import.meta.url).pathname;
const bin = `${root}tools/rt/node_modules/.bin`;

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    duration: { type: "string" },
    only: { type: "string" },
    skip: { type: "string" },
    scenarios: { type: "string" },
    write: { type: "string" },
    streams: { type: "boolean", default: false },
    verbose: { type: "boolean", short: "v", default: false },
  },
});

const quick = args.quick;
const rounds = Number(args.rounds ?? (quick ? 2 : 5));
const duration = Number(args.duration ?? (quick ? 0.4 : 2));
const warmup = quick ? 0.2 : 0.5;
const idleConns = quick ? 600 : 2000;

// ───────────────────────────── implementations ─────────────────────────────

interface Impl {
  id: string;
  label: string;
  runtime: "node" | "deno" | "bun";
  cmd: string[];
  env?: Record<string, string>;
}

const node = (file: string) => [`${bin}/node`, "--expose-gc", `${here}echo/servers/${file}`];
const deno = (file: string) => [`${bin}/deno`, "run", "-A", "--v8-flags=--expose-gc", `${here}echo/servers/${file}`];
const bun = (file: string) => [`${bin}/bun`, `${here}echo/servers/${file}`];

const ALL: Impl[] = [
  { id: "ws", label: "ws 8 + bufferutil (Node)", runtime: "node", cmd: node("ws.mjs") },
  { id: "faye", label: "faye websocket-driver (Node)", runtime: "node", cmd: node("faye.mjs") },
  { id: "deno", label: "Deno.serve + upgradeWebSocket", runtime: "deno", cmd: deno("deno_builtin.ts") },
  { id: "bun", label: "Bun.serve websocket (uWS)", runtime: "bun", cmd: bun("bun_builtin.ts") },
  { id: "wsd-node", label: "@x/wsd serve() on Node", runtime: "node", cmd: node("wsd.ts") },
  { id: "wsd-deno", label: "@x/wsd serve() on Deno", runtime: "deno", cmd: deno("wsd.ts") },
  { id: "wsd-bun", label: "@x/wsd serve() on Bun", runtime: "bun", cmd: bun("wsd.ts") },
  // The same handler on the runtimes' own WebSockets (framing in the runtime): serve()'s deno backend, and
  // withWebSockets on Bun.serve.
  {
    id: "wsd-deno-native",
    label: "@x/wsd serve() on Deno, deno backend",
    runtime: "deno",
    cmd: deno("wsd.ts"),
    env: { WSD_BACKEND: "deno" },
  },
  {
    id: "wsd-bun-serve",
    label: "@x/wsd withWebSockets, Bun.serve",
    runtime: "bun",
    cmd: bun("wsd.ts"),
    env: { WSD_BACKEND: "bun-serve" },
  },
  // The raw TCP echo of each runtime (bench/echo/servers/_raw.mjs): the limit for the bulk rows.
  { id: "tcp-node", label: "raw TCP echo (Node)", runtime: "node", cmd: node("raw_node.mjs") },
  { id: "tcp-deno", label: "raw TCP echo (Deno)", runtime: "deno", cmd: deno("raw_deno.ts") },
  { id: "tcp-bun", label: "raw TCP echo (Bun)", runtime: "bun", cmd: bun("raw_bun.ts") },
];
// The raw echo plus a fresh buffer per message (RAW_MESSAGE=1, see _raw.mjs): only when asked for by --only.
for (const r of ["node", "deno", "bun"] as const) {
  const base = ALL.find((i) => i.id === `tcp-${r}`)!;
  ALL.push({
    ...base,
    id: `tcp-${r}-msg`,
    label: `${base.label}, a fresh buffer per message`,
    env: { RAW_MESSAGE: "1" },
  });
}
// Our Node server built to JavaScript one file per TypeScript file (bench/echo/.build/js/, built at start by
// buildJavaScriptServer), as JSR's npm layer ships it: what Node users run (Node does not strip types under
// node_modules), without the ~4 MB of heap that importing .ts costs on Node (see "Bulk messages: where the time goes"
// in bench/RESULTS.md).
ALL.push({
  id: "wsd-node-js",
  label: "@x/wsd serve() on Node, built to JavaScript (per file, as from npm)",
  runtime: "node",
  cmd: [`${bin}/node`, "--expose-gc", `${here}echo/.build/js/bench/echo/servers/wsd.js`],
});
// The universal Web Streams binding, for comparison (--streams).
for (const r of ["node", "deno", "bun"] as const) {
  const base = ALL.find((i) => i.id === `wsd-${r}`)!;
  ALL.push({
    ...base,
    id: `wsd-${r}-streams`,
    label: `${base.label}, streams binding`,
    env: { WSD_BINDING: "streams" },
  });
}

const wanted = (id: string) => {
  if (args.only) return args.only.split(",").includes(id);
  if (args.skip?.split(",").includes(id)) return false;
  if (id.endsWith("-msg")) return false;
  return args.streams || !id.endsWith("-streams");
};
const impls = ALL.filter((i) => wanted(i.id));

// ───────────────────────────── scenarios ─────────────────────────────

interface Scenario {
  id: string;
  title: string;
  unit: string;
  /** Generator command, given the port. */
  command?: (port: number) => string;
  /** The value of one result. */
  value?: (r: LoadResult) => number;
  higherIsBetter: boolean;
}

interface LoadResult {
  ok: boolean;
  error?: string;
  messages?: number;
  bytes?: number;
  handshakes?: number;
  seconds: number;
  cpu: number;
  /** CPU seconds the server used in the measured window. */
  server_cpu?: number;
}

const SCENARIOS: Scenario[] = [
  {
    id: "pipelined",
    title: "msg/s, 16 conns × 64 in flight",
    unit: "msg/s",
    command: (port) => `echo ${port} 16 64 32 0 ${warmup} ${duration}`,
    value: (r) => r.messages! / r.seconds,
    higherIsBetter: true,
  },
  {
    id: "oneper",
    title: "msg/s, 256 conns × 1 in flight",
    unit: "msg/s",
    command: (port) => `echo ${port} 256 1 32 0 ${warmup} ${duration}`,
    value: (r) => r.messages! / r.seconds,
    higherIsBetter: true,
  },
  {
    id: "bulk1m",
    title: "MB/s, 1 MiB binary echo",
    unit: "MB/s",
    command: (port) => `echo ${port} 1 2 ${1 << 20} 1 ${warmup} ${duration}`,
    value: (r) => r.bytes! / r.seconds / 1e6,
    higherIsBetter: true,
  },
  {
    id: "bulk16m",
    title: "MB/s, 16 MiB binary echo",
    unit: "MB/s",
    command: (port) => `echo ${port} 1 2 ${16 << 20} 1 ${warmup} ${duration * 1.5}`,
    value: (r) => r.bytes! / r.seconds / 1e6,
    higherIsBetter: true,
  },
  {
    id: "handshake",
    title: "handshakes/s",
    unit: "/s",
    command: (port) => `handshake ${port} 16 ${warmup} ${duration}`,
    value: (r) => r.handshakes! / r.seconds,
    higherIsBetter: true,
  },
  { id: "idle", title: "KB per idle connection", unit: "KB", higherIsBetter: false },
];
const scenarios = SCENARIOS.filter((s) => !args.scenarios || args.scenarios.split(",").includes(s.id));
const clientRows = !args.scenarios || args.scenarios.split(",").includes("client");

// ───────────────────────────── processes ─────────────────────────────

const pin = await hasTaskset() ? (core: number, cmd: string[]) => ["taskset", "-c", String(core), ...cmd] : (
  _core: number,
  cmd: string[],
) => cmd;

async function hasTaskset(): Promise<boolean> {
  try {
    return (await new Deno.Command("taskset", { args: ["-c", "0", "true"] }).output()).success;
  } catch {
    return false;
  }
}

/** A child process spoken to in lines. */
class Child {
  readonly process: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;
  constructor(cmd: string[], env?: Record<string, string>) {
    this.process = new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      env: { NO_COLOR: "1", ...env },
    }).spawn();
    this.#writer = this.process.stdin.getWriter();
    this.#lines = lines(this.process.stdout)[Symbol.asyncIterator]();
  }
  get pid(): number {
    return this.process.pid;
  }
  async send(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
  }
  async line(timeoutMs = 120_000): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from pid ${this.pid}`)), timeoutMs);
    });
    try {
      const { value, done } = await Promise.race([this.#lines.next(), timeout]);
      if (done) throw new Error(`pid ${this.pid} exited`);
      return value;
    } finally {
      clearTimeout(timer);
    }
  }
  async stop(): Promise<void> {
    try {
      await this.#writer.close();
    } catch { /* gone */ }
    const timer = setTimeout(() => {
      try {
        this.process.kill("SIGKILL");
      } catch { /* gone */ }
    }, 2000);
    await this.process.status;
    clearTimeout(timer);
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
    }
  }
}

/** CPU seconds a process used so far (all its threads). */
function cpuOf(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return NaN;
  }
}

/** Resident memory of a process, in KB. */
function rssOf(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

interface Server {
  impl: Impl;
  child: Child;
  port: number;
}

async function startServer(impl: Impl, core = 0): Promise<Server> {
  const child = new Child(pin(core, impl.cmd), impl.env);
  for (;;) {
    const line = await child.line(30_000);
    const m = /^PORT (\d+)$/.exec(line);
    if (m) return { impl, child, port: Number(m[1]) };
  }
}

async function gc(server: Server): Promise<void> {
  await server.child.send("gc");
  while ((await server.child.line(10_000)) !== "gc done");
}

/** Builds the C generator when needed; falls back to the JavaScript one on Bun. */
async function startGenerator(): Promise<Child> {
  const source = `${here}echo/load.c`;
  const out = `${here}echo/.build/load`;
  let build = true;
  try {
    build = Deno.statSync(out).mtime! < Deno.statSync(source).mtime!;
  } catch { /* not built yet */ }
  if (build) {
    Deno.mkdirSync(`${here}echo/.build`, { recursive: true });
    const cc = await new Deno.Command("cc", { args: ["-O2", "-o", out, source], stderr: "inherit" }).output()
      .catch(() => null);
    if (cc === null || !cc.success) {
      console.error("No C compiler: using the JavaScript generator on Bun (it limits the one-message-per-read rows).");
      return new Child(pin(1, [`${bin}/bun`, `${here}echo/load.ts`]));
    }
  }
  return new Child(pin(1, [out]));
}

const lexerVersion = "3.0.5";

/**
 * Builds servers/wsd.ts and every file it reaches into bench/echo/.build/js/, one JavaScript file per TypeScript file
 * (bench/echo/build_js.mjs, run by Node 26), as JSR's npm layer ships the library (`wsd-node-js`); installs the
 * lexer it rewrites the import specifiers with (es-module-lexer, pinned) into bench/echo/.build/npm/ when missing.
 * Then checks that the built server answers an echo.
 */
async function buildJavaScriptServer(): Promise<void> {
  const prefix = `${here}echo/.build/npm`;
  const lexer = `${prefix}/node_modules/es-module-lexer/dist/lexer.js`;
  const installed = (() => {
    try {
      return JSON.parse(Deno.readTextFileSync(`${prefix}/node_modules/es-module-lexer/package.json`)).version;
    } catch {
      return null;
    }
  })();
  if (installed !== lexerVersion) {
    const npm = await new Deno.Command("npm", {
      args: [
        "install",
        "--prefix",
        prefix,
        "--no-save",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        `es-module-lexer@${lexerVersion}`,
      ],
      stdout: "null",
      stderr: "inherit",
    }).output();
    if (!npm.success) throw new Error(`npm install of es-module-lexer@${lexerVersion} failed`);
  }
  const outDir = `${here}echo/.build/js`;
  try {
    Deno.removeSync(outDir, { recursive: true });
  } catch { /* not built yet */ }
  const out = await new Deno.Command(`${bin}/node`, {
    args: ["--no-warnings", `${here}echo/build_js.mjs`, outDir, lexer, `${here}echo/servers/wsd.ts`],
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("the per-file JavaScript build of bench/echo/servers/wsd.ts failed");
  const server = await startServer(ALL.find((i) => i.id === "wsd-node-js")!);
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}`);
    const echoed = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no echo within 10 s")), 10_000);
      ws.onopen = () => ws.send("built");
      ws.onmessage = (event) => {
        clearTimeout(timer);
        resolve(String(event.data));
      };
      ws.onerror = () => {
        clearTimeout(timer);
        reject(new Error("the connection failed"));
      };
    });
    ws.close();
    if (echoed !== "built") throw new Error(`echoed ${JSON.stringify(echoed)}`);
  } catch (e) {
    throw new Error(`The JavaScript build of the Node server does not echo: ${(e as Error).message}`);
  } finally {
    await server.child.stop();
  }
}

// ───────────────────────────── running ─────────────────────────────

const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** results[scenario][impl] = one value per round */
const results = new Map<string, Map<string, number[]>>();
const cpuNotes: string[] = [];
function record(scenario: string, impl: string, value: number, round: number) {
  if (!results.has(scenario)) results.set(scenario, new Map());
  const m = results.get(scenario)!;
  if (!m.has(impl)) m.set(impl, []);
  m.get(impl)![round] = value;
}

const started = performance.now();
const log = (s: string) => console.error(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}`);

const children: Child[] = [];
const cleanup = async () => {
  await Promise.all(children.map((c) => c.stop()));
};
Deno.addSignalListener("SIGINT", async () => {
  await cleanup();
  Deno.exit(130);
});

async function main() {
  const versions = await runtimeVersions();
  log(`versions: ${JSON.stringify(versions)}`);
  const generator = await startGenerator();
  children.push(generator);
  const hello = JSON.parse(await generator.line());
  log(`generator: ${hello.sockets}`);

  if (impls.some((i) => i.id === "wsd-node-js")) await buildJavaScriptServer();
  const servers: Server[] = [];
  for (const impl of impls) {
    const s = await startServer(impl);
    children.push(s.child);
    servers.push(s);
  }
  log(`servers: ${servers.map((s) => `${s.impl.id}:${s.port}`).join(" ")}`);

  const ask = async (line: string): Promise<LoadResult> => {
    await generator.send(line);
    return JSON.parse(await generator.line());
  };

  // 1. Idle memory, on fresh servers.
  if (scenarios.some((s) => s.id === "idle")) {
    for (const s of servers) {
      // Set up what any connection needs (code, buffers) before the baseline.
      await ask(`idle ${s.port} 50`);
      await ask("release");
      await gc(s);
      const before = rssOf(s.child.pid);
      const r = await ask(`idle ${s.port} ${idleConns}`) as LoadResult & { open: number };
      await gc(s);
      const after = rssOf(s.child.pid);
      await ask("release");
      const kb = r.ok ? (after - before) / idleConns : NaN;
      record("idle", s.impl.id, kb, 0);
      log(`idle ${s.impl.id}: ${r.ok ? kb.toFixed(1) + " KB/conn" : "FAILED " + JSON.stringify(r)}`);
    }
  }

  // 2. Warm-up of every server (JIT), then the rounds.
  const load = scenarios.filter((s) => s.command !== undefined);
  if (load.length > 0) {
    for (const s of servers) {
      await ask(`echo ${s.port} 16 64 32 0 0 ${quick ? 0.2 : 1}`);
      await ask(`echo ${s.port} 64 1 32 0 0 ${quick ? 0.15 : 0.5}`);
      await ask(`echo ${s.port} 1 1 ${1 << 20} 1 0 ${quick ? 0.15 : 0.5}`);
      // A server's first ten thousand or so handshakes run partly in the JIT's
      // lower tiers, and its compiler threads' CPU counts as the server's: 0.5 s
      // after the first handshake measures warm-up as much as handshakes.
      if (load.some((sc) => sc.id === "handshake")) await ask(`handshake ${s.port} 16 0 ${quick ? 0.2 : 2}`);
    }
    log("warmed up");
  }
  for (let round = 0; round < rounds; round++) {
    const order = servers.map((_, i) => servers[(i + round) % servers.length]);
    for (const sc of load) {
      for (const s of order) {
        const cpu0 = cpuOf(s.child.pid);
        const t0 = performance.now();
        const r = await ask(`${sc.command!(s.port)} ${s.child.pid}`);
        const serverCpu = (cpuOf(s.child.pid) - cpu0) / ((performance.now() - t0) / 1000);
        const v = r.ok ? sc.value!(r) : NaN;
        record(sc.id, s.impl.id, v, round);
        // Units per CPU second of the server: what one unit costs, whatever share of its core it got.
        const efficiency = r.ok && (r.server_cpu ?? 0) > 0 ? v * r.seconds / r.server_cpu! : NaN;
        record(`${sc.id}:cpu`, s.impl.id, efficiency, round);
        const note = `${sc.id} ${s.impl.id}: ${r.ok ? fmt(v) + " " + sc.unit : "FAILED " + r.error} ` +
          `(${fmt(efficiency)} per server CPU second; server busy ${
            ((r.server_cpu ?? NaN) / r.seconds).toFixed(2)
          } of the window, generator ${r.cpu?.toFixed(2)}; server ~${serverCpu.toFixed(2)} incl. setup)`;
        if (r.cpu > 0.9) cpuNotes.push(note);
        if (args.verbose || !r.ok) log(note);
      }
    }
    log(`round ${round + 1}/${rounds} done`);
  }

  for (const s of servers) await s.child.stop();

  // 3. The client rows: our client and ws's on Node, against Bun's server.
  if (clientRows) {
    // The server gets core 1 here; the client under test core 0.
    const server = await startServer(ALL.find((i) => i.id === "bun")!, 1);
    children.push(server.child);
    const clients = [
      { id: "client-wsd", label: "@x/wsd client (Node)", impl: "wsd" },
      { id: "client-ws", label: "ws client (Node)", impl: "ws" },
    ];
    const cases = [
      { id: "client-pipelined", conns: 16, inflight: 64 },
      { id: "client-oneper", conns: 64, inflight: 1 },
    ];
    for (let round = 0; round < rounds; round++) {
      for (const c of cases) {
        for (const cl of round % 2 ? [...clients].reverse() : clients) {
          const cmd = pin(0, [
            `${bin}/node`,
            `${here}echo/client.ts`,
            `--impl=${cl.impl}`,
            `--port=${server.port}`,
            `--conns=${c.conns}`,
            `--inflight=${c.inflight}`,
            `--warmup=${warmup * 2}`,
            `--duration=${duration}`,
          ]);
          const out = await new Deno.Command(cmd[0], {
            args: cmd.slice(1),
            stdout: "piped",
            stderr: "inherit",
          }).output();
          let v = NaN;
          try {
            const r = JSON.parse(new TextDecoder().decode(out.stdout));
            v = r.messages / r.seconds;
            if (args.verbose) log(`${c.id} ${cl.id}: ${fmt(v)} msg/s (client cpu ${r.cpu.toFixed(2)})`);
          } catch {
            log(`${c.id} ${cl.id}: FAILED`);
          }
          record(c.id, cl.id, v, round);
        }
      }
    }
    await server.child.stop();
    log("client rows done");
  }
  await cleanup();
  await report(versions);
}

async function runtimeVersions(): Promise<Record<string, string>> {
  const run = async (cmd: string, a: string[]) =>
    new TextDecoder().decode((await new Deno.Command(cmd, { args: a, stdout: "piped" }).output()).stdout).trim();
  const pkg = (name: string) =>
    JSON.parse(Deno.readTextFileSync(`${root}tools/rt/node_modules/${name}/package.json`)).version;
  let cc = "";
  try {
    cc = (await run("cc", ["--version"])).split("\n")[0];
  } catch { /* none */ }
  return {
    deno: (await run(`${bin}/deno`, ["--version"])).split("\n")[0].replace(/^deno /, "").split(" ")[0],
    node: (await run(`${bin}/node`, ["--version"])).replace(/^v/, ""),
    bun: await run(`${bin}/bun`, ["--version"]),
    ws: pkg("ws"),
    bufferutil: pkg("bufferutil"),
    "websocket-driver": pkg("websocket-driver"),
    cc,
  };
}

// ───────────────────────────── the report ─────────────────────────────

function fmt(n: number): string {
  if (!Number.isFinite(n)) return "–";
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  if (n >= 100) return n.toFixed(0);
  return n.toFixed(1);
}

/** The median over rounds of ours / theirs (paired by round). */
function ratio(scenario: string, ours: string, theirs: string): number {
  const a = results.get(scenario)?.get(ours), b = results.get(scenario)?.get(theirs);
  if (!a || !b) return NaN;
  const rs: number[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (Number.isFinite(a[i]) && Number.isFinite(b[i]) && b[i] !== 0) rs.push(a[i] / b[i]);
  }
  return median(rs);
}

interface Target {
  what: string;
  scenario: string;
  ours: string;
  theirs: string;
  /** ratio >= goal (or <= goal for memory) */
  goal: number;
}

const TARGETS: Target[] = [
  { what: "pipelined, Node vs ws", scenario: "pipelined", ours: "wsd-node", theirs: "ws", goal: 10 },
  { what: "pipelined, Deno vs Deno's", scenario: "pipelined", ours: "wsd-deno", theirs: "deno", goal: 10 },
  { what: "pipelined, Bun vs Bun's", scenario: "pipelined", ours: "wsd-bun", theirs: "bun", goal: 0.8 },
  { what: "one per read, Node vs ws", scenario: "oneper", ours: "wsd-node", theirs: "ws", goal: 1.0 },
  { what: "one per read, Deno vs Deno's", scenario: "oneper", ours: "wsd-deno", theirs: "deno", goal: 1.0 },
  { what: "one per read, Bun vs Bun's", scenario: "oneper", ours: "wsd-bun", theirs: "bun", goal: 0.9 },
  { what: "1 MiB, Node vs ws+bufferutil", scenario: "bulk1m", ours: "wsd-node", theirs: "ws", goal: 1.0 },
  { what: "1 MiB, Deno vs Deno's", scenario: "bulk1m", ours: "wsd-deno", theirs: "deno", goal: 0.9 },
  { what: "1 MiB, Bun vs Bun's", scenario: "bulk1m", ours: "wsd-bun", theirs: "bun", goal: 0.9 },
  { what: "16 MiB, Node vs ws+bufferutil", scenario: "bulk16m", ours: "wsd-node", theirs: "ws", goal: 1.0 },
  { what: "16 MiB, Deno vs Deno's", scenario: "bulk16m", ours: "wsd-deno", theirs: "deno", goal: 0.9 },
  { what: "16 MiB, Bun vs Bun's", scenario: "bulk16m", ours: "wsd-bun", theirs: "bun", goal: 0.9 },
  // What Node users run: the library as JavaScript (the wsd-node rows import .ts, which Node strips at a heap cost).
  { what: "pipelined, Node (JS) vs ws", scenario: "pipelined", ours: "wsd-node-js", theirs: "ws", goal: 10 },
  { what: "1 MiB, Node (JS) vs ws+bufferutil", scenario: "bulk1m", ours: "wsd-node-js", theirs: "ws", goal: 1.0 },
  { what: "16 MiB, Node (JS) vs ws+bufferutil", scenario: "bulk16m", ours: "wsd-node-js", theirs: "ws", goal: 1.0 },
  { what: "1 MiB, Node vs raw TCP", scenario: "bulk1m", ours: "wsd-node", theirs: "tcp-node", goal: 0.9 },
  { what: "1 MiB, Deno vs raw TCP", scenario: "bulk1m", ours: "wsd-deno", theirs: "tcp-deno", goal: 0.9 },
  { what: "1 MiB, Bun vs raw TCP", scenario: "bulk1m", ours: "wsd-bun", theirs: "tcp-bun", goal: 0.9 },
  { what: "16 MiB, Node vs raw TCP", scenario: "bulk16m", ours: "wsd-node", theirs: "tcp-node", goal: 0.9 },
  { what: "16 MiB, Deno vs raw TCP", scenario: "bulk16m", ours: "wsd-deno", theirs: "tcp-deno", goal: 0.9 },
  { what: "16 MiB, Bun vs raw TCP", scenario: "bulk16m", ours: "wsd-bun", theirs: "tcp-bun", goal: 0.9 },
  // Issue 21's goals for the tcp backend; the native backends' rows are for the README (no goal of their own).
  { what: "handshakes, Node vs ws", scenario: "handshake", ours: "wsd-node", theirs: "ws", goal: 1.0 },
  { what: "handshakes, Node (JS) vs ws", scenario: "handshake", ours: "wsd-node-js", theirs: "ws", goal: 1.0 },
  { what: "handshakes, Deno vs Deno's", scenario: "handshake", ours: "wsd-deno", theirs: "deno", goal: 0.6 },
  { what: "handshakes, Bun vs Bun's", scenario: "handshake", ours: "wsd-bun", theirs: "bun", goal: 0.8 },
  {
    what: "handshakes, Deno backend vs Deno's",
    scenario: "handshake",
    ours: "wsd-deno-native",
    theirs: "deno",
    goal: 0.6,
  },
  {
    what: "handshakes, Bun.serve adapter vs Bun's",
    scenario: "handshake",
    ours: "wsd-bun-serve",
    theirs: "bun",
    goal: 0.8,
  },
  { what: "idle memory, Node vs ws", scenario: "idle", ours: "wsd-node", theirs: "ws", goal: 1.0 },
  { what: "idle memory, Node (JS) vs ws", scenario: "idle", ours: "wsd-node-js", theirs: "ws", goal: 1.0 },
  { what: "idle memory, Deno vs Deno's", scenario: "idle", ours: "wsd-deno", theirs: "deno", goal: 1.0 },
  { what: "idle memory, Bun vs Bun's", scenario: "idle", ours: "wsd-bun", theirs: "bun", goal: 2.0 },
  { what: "idle memory, Deno backend vs Deno's", scenario: "idle", ours: "wsd-deno-native", theirs: "deno", goal: 1.0 },
  {
    what: "idle memory, Bun.serve adapter vs Bun's",
    scenario: "idle",
    ours: "wsd-bun-serve",
    theirs: "bun",
    goal: 2.0,
  },
  {
    what: "client, pipelined, vs ws client (Node)",
    scenario: "client-pipelined",
    ours: "client-wsd",
    theirs: "client-ws",
    goal: 1.0,
  },
  {
    what: "client, one in flight, vs ws client (Node)",
    scenario: "client-oneper",
    ours: "client-wsd",
    theirs: "client-ws",
    goal: 1.0,
  },
];

async function report(versions: Record<string, string>) {
  const out: string[] = [];
  const cols = scenarios;
  out.push(`| implementation | ${cols.map((c) => c.title).join(" | ")} |`);
  out.push(`|---|${cols.map(() => "--:").join("|")}|`);
  for (const impl of impls) {
    const cells = cols.map((c) => fmt(median(results.get(c.id)?.get(impl.id) ?? [])));
    out.push(`| ${impl.label} | ${cells.join(" | ")} |`);
  }
  const loadCols = cols.filter((c) => c.command !== undefined);
  if (loadCols.length > 0) {
    out.push("");
    out.push(
      "The same runs per CPU second of the server (what a unit costs, whatever share of its core the server got):",
    );
    out.push("");
    out.push(
      `| implementation | ${loadCols.map((c) => `${c.unit.replace(/\/s$/, "")} per CPU s, ${c.id}`).join(" | ")} |`,
    );
    out.push(`|---|${loadCols.map(() => "--:").join("|")}|`);
    for (const impl of impls) {
      const cells = loadCols.map((c) => fmt(median(results.get(`${c.id}:cpu`)?.get(impl.id) ?? [])));
      out.push(`| ${impl.label} | ${cells.join(" | ")} |`);
    }
  }
  if (clientRows) {
    out.push("");
    out.push(
      "| client (Node), against Bun's server | msg/s, 16 conns × 64 in flight | msg/s, 64 conns × 1 in flight |",
    );
    out.push("|---|--:|--:|");
    for (const [id, label] of [["client-wsd", "@x/wsd client"], ["client-ws", "ws client"]]) {
      const cell = (s: string) => fmt(median(results.get(s)?.get(id) ?? []));
      out.push(`| ${label} | ${cell("client-pipelined")} | ${cell("client-oneper")} |`);
    }
  }
  out.push("");
  out.push("| target | ratio | goal | | ratio per server CPU second |");
  out.push("|---|--:|--:|---|--:|");
  for (const t of TARGETS) {
    const r = ratio(t.scenario, t.ours, t.theirs);
    if (!Number.isFinite(r)) continue;
    const memory = t.scenario === "idle";
    const ok = memory ? r <= t.goal : r >= t.goal;
    const perCpu = ratio(`${t.scenario}:cpu`, t.ours, t.theirs);
    out.push(
      `| ${t.what} | ${r.toFixed(2)}× | ${memory ? "≤" : "≥"} ${t.goal}× | ${ok ? "reached" : "**not yet**"} | ${
        Number.isFinite(perCpu) ? perCpu.toFixed(2) + "×" : ""
      } |`,
    );
  }
  const table = out.join("\n");
  const command = `deno task bench:echo${Deno.args.length ? " " + Deno.args.join(" ") : ""}`;
  const meta = [
    `Date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC. Command: \`${command}\` ` +
    `(${rounds} rounds, ${duration} s per measurement after ${warmup} s of warm-up, every server warmed up first ` +
    `with each kind of load, handshakes for 2 s; ${idleConns} idle connections).`,
    `Versions: Deno ${versions.deno}, Node ${versions.node}, Bun ${versions.bun}, ws ${versions.ws} + bufferutil ` +
    `${versions.bufferutil}, websocket-driver ${versions["websocket-driver"]}; generator built with ${
      versions.cc || "(none: the JavaScript one)"
    }.`,
  ].join("\n");
  const notes = cpuNotes.length === 0 ? "" : [
    "",
    "Runs where the generator used more than 90% of its core (it may have been the limit; the per CPU second",
    "column is the fair comparison there):",
    "",
    ...cpuNotes.map((n) => `- ${n}`),
  ].join("\n");
  console.log(`\n${meta}\n\n${table}\n${notes}\n`);
  if (args.write) {
    const path = args.write;
    let text = "";
    try {
      text = Deno.readTextFileSync(path);
    } catch { /* new file */ }
    const start = "<!-- bench:echo start -->", end = "<!-- bench:echo end -->";
    const block = `${start}\n${meta}\n\n${table}\n${notes}\n${end}`;
    if (text.includes(start) && text.includes(end)) {
      text = text.slice(0, text.indexOf(start)) + block + text.slice(text.indexOf(end) + end.length);
    } else {
      text += (text ? "\n" : "") + block + "\n";
    }
    Deno.writeTextFileSync(path, text);
    // Padded tables, as `deno fmt --check` wants them.
    await new Deno.Command(`${bin}/deno`, { args: ["fmt", "-q", path] }).output();
    log(`wrote ${path}`);
  }
}

try {
  await main();
} catch (error) {
  console.error(error);
  await cleanup();
  Deno.exit(1);
}
Deno.exit(0);

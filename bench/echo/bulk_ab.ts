/**
 * A/B of the bulk echo between checkouts: the same server file of two (or
 * more) work trees, alternated round by round against one load generator
 * (bench/echo/load.c, built by bench/echo.ts), read per server CPU second and
 * per minor page fault of the server (from /proc/<pid>/stat over the window).
 *
 *     deno run -A bench/echo/bulk_ab.ts --runtime node|deno|bun [--size 1048576] [--seconds 2]
 *       [--rounds 6] [--env K=V] name=/path/to/checkout [name=/path …] [name=ws]
 *
 * `--conns N --inflight M --text` measure small messages instead (e.g.
 * `--conns 256 --inflight 1 --size 32 --text`, bench:echo's one per read, or
 * `--conns 16 --inflight 64 --size 32 --text`, its pipelined row): the figures
 * are then messages per server CPU second. `deno` (Deno.serve) names Deno's
 * reference server.
 *
 * `ws` (Node) and `bun` (Bun.serve) name the runtimes' reference servers of
 * this checkout, `tcp` the raw TCP echo of `--runtime` (servers/_raw.mjs); a
 * path ending in `.ts` or `.js` is a server file (`wsd-node-js`'s build, say).
 * Prints one line per measurement, the medians, and each server's ratio to the
 * first one named, round by round (sorted) and its median: the figure the
 * A/B sections of bench/RESULTS.md quote.
 *
 * @module
 */
import { parseArgs } from "node:util";

const here = new URL(".", import.meta.url).pathname;
const bin = new URL("../../tools/rt/node_modules/.bin", import.meta.url).pathname;
const { values: args, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    runtime: { type: "string", default: "node" },
    size: { type: "string", default: String(1 << 20) },
    seconds: { type: "string", default: "2" },
    rounds: { type: "string", default: "6" },
    env: { type: "string", multiple: true, default: [] },
    flags: { type: "string", default: "" },
    conns: { type: "string", default: "1" },
    inflight: { type: "string", default: "2" },
    text: { type: "boolean", default: false },
  },
});
const size = Number(args.size), seconds = Number(args.seconds), rounds = Number(args.rounds);
const env = Object.fromEntries(args.env.map((kv) => kv.split("=", 2)));
const flags = args.flags === "" ? [] : args.flags.split(" ");
const conns = Number(args.conns), inflight = Number(args.inflight), binary = args.text ? 0 : 1;
/** Small messages are counted as messages, bulk ones as MB. */
const perMessage = size < 65536;
const unit = perMessage ? "msg" : "MB";

function command(root: string): string[] {
  if (root === "ws") return [`${bin}/node`, `${here}servers/ws.mjs`];
  if (root === "bun") return [`${bin}/bun`, `${here}servers/bun_builtin.ts`];
  if (root === "deno") return [`${bin}/deno`, "run", "-A", `${here}servers/deno_builtin.ts`];
  if (root === "tcp") {
    if (args.runtime === "node") return [`${bin}/node`, `${here}servers/raw_node.mjs`];
    if (args.runtime === "bun") return [`${bin}/bun`, `${here}servers/raw_bun.ts`];
    return [`${bin}/deno`, "run", "-A", `${here}servers/raw_deno.ts`];
  }
  const file = /\.[mc]?[jt]s$/.test(root) ? root : `${root}/bench/echo/servers/wsd.ts`;
  if (args.runtime === "node") return [`${bin}/node`, ...flags, file];
  if (args.runtime === "bun") return [`${bin}/bun`, ...flags, file];
  return [`${bin}/deno`, "run", "-A", ...flags, file];
}

class Child {
  readonly process: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;
  constructor(cmd: string[]) {
    this.process = new Deno.Command("taskset", {
      args: ["-c", cmd[0].endsWith("/load") ? "1" : "0", ...cmd],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      env: { NO_COLOR: "1", ...env },
    }).spawn();
    this.#writer = this.process.stdin.getWriter();
    this.#lines = this.process.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TransformStream<string, string>(
        {
          transform(chunk, controller) {
            this.rest = (this.rest ?? "") + chunk;
            let nl;
            while ((nl = this.rest.indexOf("\n")) >= 0) {
              controller.enqueue(this.rest.slice(0, nl));
              this.rest = this.rest.slice(nl + 1);
            }
          },
        } as Transformer<string, string> & { rest?: string },
      ),
    )[Symbol.asyncIterator]();
  }
  async line(): Promise<string> {
    const { value, done } = await this.#lines.next();
    if (done) throw new Error("exited");
    return value;
  }
  send(line: string): Promise<void> {
    return this.#writer.write(new TextEncoder().encode(line + "\n"));
  }
  async stop(): Promise<void> {
    await this.#writer.close().catch(() => {});
    try {
      this.process.kill("SIGTERM");
    } catch { /* gone */ }
    await this.process.status;
  }
}

function faultsOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const generator = new Child([`${here}.build/load`]);
await generator.line();
const servers: { name: string; child: Child; port: number }[] = [];
for (const spec of positionals) {
  const [name, root] = spec.includes("=") ? spec.split("=", 2) : [spec, spec];
  const child = new Child(command(root));
  let port = 0;
  while (port === 0) {
    const m = /^PORT (\d+)$/.exec(await child.line());
    if (m) port = Number(m[1]);
  }
  servers.push({ name, child, port });
}
const results = new Map<string, { mb: number[]; faults: number[] }>();
try {
  // Warm-up of each.
  for (const s of servers) {
    await generator.send(`echo ${s.port} ${conns} ${inflight} ${size} ${binary} 0.2 0.5 ${s.child.process.pid}`);
    await generator.line();
  }
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const s of order) {
      const pid = s.child.process.pid;
      const f0 = faultsOf(pid);
      await generator.send(`echo ${s.port} ${conns} ${inflight} ${size} ${binary} 0.3 ${seconds} ${pid}`);
      const r = JSON.parse(await generator.line());
      if (!r.ok) throw new Error(`${s.name}: ${r.error ?? "the generator failed"}`);
      const f1 = faultsOf(pid);
      const mib = r.bytes / 2 ** 20;
      const mb = (perMessage ? r.messages : r.bytes / 1e6) / r.server_cpu;
      // (The faults include the 0.3 s warm-up: per MiB of the whole, approximately.)
      const faults = (f1 - f0) / (mib * (1 + 0.3 / seconds));
      const entry = results.get(s.name) ?? { mb: [], faults: [] };
      entry.mb.push(mb);
      entry.faults.push(faults);
      results.set(s.name, entry);
      console.log(
        `round ${round} ${s.name}: ${mb.toFixed(0)} ${unit} per CPU s, ${faults.toFixed(0)} faults per MiB, ` +
          `${((perMessage ? r.messages : r.bytes / 1e6) / r.seconds).toFixed(0)} ${unit}/s, server busy ` +
          `${(r.server_cpu / r.seconds).toFixed(2)}, generator ${r.cpu.toFixed(2)}`,
      );
    }
  }
} finally {
  for (const s of servers) await s.child.stop();
  await generator.send("exit").catch(() => {});
  await generator.stop();
}
for (const [name, r] of results) {
  console.log(
    `median ${name}: ${median(r.mb).toFixed(0)} ${unit} per CPU s (${Math.min(...r.mb).toFixed(0)}–${
      Math.max(...r.mb).toFixed(0)
    }), ${median(r.faults).toFixed(0)} faults per MiB (${Math.min(...r.faults).toFixed(0)}–${
      Math.max(...r.faults).toFixed(0)
    })`,
  );
}
const [first, ...others] = [...results.keys()];
for (const name of others) {
  const a = results.get(first)!.mb, b = results.get(name)!.mb;
  const ratios = a.map((x, i) => x / b[i]).sort((x, y) => x - y);
  console.log(
    `${first} / ${name} per round: ${ratios.map((x) => x.toFixed(2)).join(", ")}; median ${median(ratios).toFixed(2)}`,
  );
}

/**
 * Handshakes of two or more echo servers, alternated round by round (A/B
 * against another checkout, or against ws), on bench/echo's generator: the
 * server pinned to core 0, `load handshake <port> 16` to core 1.
 *
 *     deno run -A bench/micro/handshake_ab.ts [--rounds 4] [--duration 2] [--warmup 1] \
 *       main=node:/work/base/bench/echo/servers/wsd.ts branch=node:bench/echo/servers/wsd.ts \
 *       ws=node:bench/echo/servers/ws.mjs js=node:bench/echo/.build/js/bench/echo/servers/wsd.js
 *
 * A server is `name=runtime:file` (runtime node, deno or bun; the file prints
 * `PORT <n>` and runs until its standard input ends, as bench/echo/servers/*
 * do). Each round runs every server once, in an order rotated round by
 * round. Prints, per server, the medians of handshakes per server CPU second
 * and of the user and kernel µs per handshake (from `/proc/<pid>/stat`), and
 * each server's ratio to the first one per round (median and range). The
 * generator (bench/echo/.build/load) is built by `deno task bench:echo`.
 *
 * @module
 */

import { parseArgs } from "node:util";

const root = new URL("../..", import.meta.url).pathname;
const bin = `${root}tools/rt/node_modules/.bin`;
const { values: args, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    rounds: { type: "string", default: "4" },
    duration: { type: "string", default: "2" },
    warmup: { type: "string", default: "1" },
    parallel: { type: "string", default: "16" },
  },
});

const commands: Record<string, (file: string) => string[]> = {
  node: (file) => [`${bin}/node`, "--expose-gc", file],
  deno: (file) => [`${bin}/deno`, "run", "-A", "--v8-flags=--expose-gc", file],
  bun: (file) => [`${bin}/bun`, file],
};

/** A child process spoken to by lines. */
class Child {
  readonly process: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;

  constructor(cmd: string[]) {
    this.process = new Deno.Command(cmd[0], { args: cmd.slice(1), stdin: "piped", stdout: "piped", stderr: "inherit" })
      .spawn();
    this.#writer = this.process.stdin.getWriter();
    this.#lines = this.process.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(splitLines())[
      Symbol.asyncIterator
    ]();
  }

  async send(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
  }

  async line(): Promise<string> {
    const { value, done } = await this.#lines.next();
    if (done) throw new Error("the child ended");
    return value;
  }

  async stop(): Promise<void> {
    await this.#writer.close().catch(() => {});
    const timer = setTimeout(() => this.process.kill("SIGKILL"), 3000);
    await this.process.status;
    clearTimeout(timer);
  }
}

function splitLines(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      rest += chunk;
      let nl;
      while ((nl = rest.indexOf("\n")) >= 0) {
        controller.enqueue(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
      }
    },
  });
}

const pin = (core: number, cmd: string[]) => ["taskset", "-c", String(core), ...cmd];

/** User and kernel CPU seconds of `pid` so far. */
function cpuOf(pid: number): { user: number; kernel: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of the file (utime, stime) are 11 and 12 after the state.
  return { user: Number(fields[11]) / 100, kernel: Number(fields[12]) / 100 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Entry {
  name: string;
  child: Child;
  port: number;
  perCpu: number[];
  rate: number[];
  user: number[];
  kernel: number[];
}

const generator = new Child(pin(1, [`${root}bench/echo/.build/load`]));
await generator.line();
const entries: Entry[] = [];
for (const spec of positionals) {
  const m = /^([^=]+)=(node|deno|bun):(.+)$/.exec(spec);
  if (!m) throw new TypeError(`Cannot start ${spec}: expected name=runtime:file`);
  const child = new Child(pin(0, commands[m[2]](m[3])));
  let port = 0;
  while (port === 0) {
    const line = await child.line();
    const p = /^PORT (\d+)$/.exec(line);
    if (p) port = Number(p[1]);
  }
  entries.push({ name: m[1], child, port, perCpu: [], rate: [], user: [], kernel: [] });
}

async function run(entry: Entry, warmup: number, duration: number) {
  const pid = entry.child.process.pid;
  const before = cpuOf(pid);
  await generator.send(`handshake ${entry.port} ${args.parallel} ${warmup} ${duration} ${pid}`);
  const result = JSON.parse(await generator.line());
  const after = cpuOf(pid);
  if (!result.ok || result.failed > 0) throw new Error(`${entry.name}: ${JSON.stringify(result)}`);
  return { result, user: after.user - before.user, kernel: after.kernel - before.kernel };
}

const rounds = Number(args.rounds);
const duration = Number(args.duration);
for (const entry of entries) await run(entry, Number(args.warmup), 0.5);
for (let round = 0; round < rounds; round++) {
  const order = entries.map((_, i) => entries[(i + round) % entries.length]);
  const line: string[] = [];
  for (const entry of order) {
    // The warm-up of load.c counts in /proc's times but not in its handshakes: none here.
    const { result, user, kernel } = await run(entry, 0, duration);
    const n = result.handshakes;
    entry.rate.push(n / result.seconds);
    entry.perCpu.push(n / result.server_cpu);
    entry.user.push(user * 1e6 / n);
    entry.kernel.push(kernel * 1e6 / n);
    line.push(`${entry.name} ${(n / result.server_cpu / 1000).toFixed(2)}k/CPU s`);
  }
  console.error(`round ${round + 1}: ${line.join(", ")}`);
}
const first = entries[0];
console.log(
  `| server | handshakes/s | per server CPU s | user + kernel µs per handshake | vs ${first.name} per round |`,
);
console.log("| --- | --: | --: | --: | --- |");
for (const e of entries) {
  const ratios = e.perCpu.map((x, i) => x / first.perCpu[i]);
  const range = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
  console.log(
    `| ${e.name} | ${(median(e.rate) / 1000).toFixed(2)}k | ${(median(e.perCpu) / 1000).toFixed(2)}k | ${
      median(e.user).toFixed(0)
    } + ${median(e.kernel).toFixed(0)} | ${median(ratios).toFixed(2)}× (${range}) |`,
  );
}
for (const e of entries) await e.child.stop();
await generator.send("exit");
await generator.stop();

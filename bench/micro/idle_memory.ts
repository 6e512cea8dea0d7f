// Idle memory per connection of Deno servers, the way `bench/echo.ts` measures it (a fresh server process, 50
// connections opened and closed first, a full GC, RSS before and after opening the idle connections), plus the
// growth of V8's heapUsed, with servers of several checkouts alternated round by round (A/B against a base); with
// --handshakes, handshakes per CPU second of the server instead (`load.c handshake`, 16 at a time, 2 s).
//
//   deno run -A bench/micro/idle_memory.ts [--rounds 3] [--conns 2000] [--handshakes] id[@checkout] …
//
// id: deno (bench/echo/servers/deno_builtin.ts), wsd-deno (serve(), tcp backend), wsd-deno-native (serve(), deno
// backend); checkout: the root of another worktree (default: this one). Needs bench/echo/.build/load.
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    conns: { type: "string", default: "2000" },
    handshakes: { type: "boolean", default: false },
  },
  allowPositionals: true,
});
const rounds = Number(values.rounds), conns = Number(values.conns);
const here = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

const SERVERS: Record<string, { file: string; env?: Record<string, string> }> = {
  "deno": { file: "deno_builtin.ts" },
  "wsd-deno": { file: "wsd.ts" },
  "wsd-deno-native": { file: "wsd.ts", env: { WSD_BACKEND: "deno" } },
};

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

function spawn(cmd: string[], env?: Record<string, string>) {
  const child = new Deno.Command(cmd[0], { args: cmd.slice(1), stdin: "piped", stdout: "piped", env }).spawn();
  const writer = child.stdin.getWriter();
  const lines = new Lines(child.stdout);
  return {
    child,
    lines,
    send: (line: string) => writer.write(new TextEncoder().encode(line + "\n")),
    stop: async () => {
      await writer.close().catch(() => {});
      await child.status;
    },
  };
}

const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]);

const generator = spawn([`${here}/bench/echo/.build/load`]);
await generator.lines.next();
const ask = async (line: string) => {
  await generator.send(line);
  return JSON.parse(await generator.lines.next());
};

async function measure(spec: string): Promise<{ rss: number; heap: number }> {
  const [id, checkout = here] = spec.split("@");
  // An id that is a file: a server of one's own (printing "PORT n" and answering "gc" and "mem" as _control.mjs does).
  const server = SERVERS[id] ?? { file: id };
  const file = server.file.includes("/") ? server.file : `${checkout}/bench/echo/servers/${server.file}`;
  const s = spawn(
    [Deno.execPath(), "run", "-A", "--config", `${checkout}/deno.json`, "--v8-flags=--expose-gc", file],
    server.env,
  );
  const port = Number(/PORT (\d+)/.exec(await s.lines.next())![1]);
  const gc = async () => {
    await s.send("gc");
    while ((await s.lines.next()) !== "gc done");
  };
  const heap = async () => {
    await s.send("mem");
    const m = JSON.parse(await s.lines.next());
    if (Deno.env.get("MEM_DETAIL")) console.log(JSON.stringify(m));
    return m.heapUsed as number;
  };
  if (values.handshakes) {
    // Handshakes per CPU second of the server instead: 16 at a time, 0.5 s of warm-up, then 2 s.
    await ask(`handshake ${port} 16 0 0.5`);
    const h = await ask(`handshake ${port} 16 0 2 ${s.child.pid}`);
    await s.stop();
    return { rss: h.handshakes / h.server_cpu, heap: h.handshakes / h.seconds };
  }
  await ask(`idle ${port} 50`);
  await ask("release");
  await gc();
  const rss0 = rss(s.child.pid), heap0 = await heap();
  const r = await ask(`idle ${port} ${conns}`);
  if (!r.ok) throw new Error(`${spec}: ${JSON.stringify(r)}`);
  await gc();
  const rss1 = rss(s.child.pid), heap1 = await heap();
  await ask("release");
  await s.stop();
  return { rss: (rss1 - rss0) / conns, heap: (heap1 - heap0) / 1024 / conns };
}

const results = new Map<string, Array<{ rss: number; heap: number }>>();
for (let round = 0; round < rounds; round++) {
  for (const spec of positionals) {
    const m = await measure(spec);
    results.set(spec, [...(results.get(spec) ?? []), m]);
    console.log(
      values.handshakes
        ? `round ${round + 1} ${spec}: ${m.rss.toFixed(0)} handshakes per server CPU second (${m.heap.toFixed(0)}/s)`
        : `round ${round + 1} ${spec}: RSS ${m.rss.toFixed(1)} KB, heapUsed ${m.heap.toFixed(2)} KB per connection`,
    );
  }
}
await ask("exit").catch(() => {});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const [spec, ms] of results) {
  const r = ms.map((m) => m.rss), h = ms.map((m) => m.heap);
  if (values.handshakes) {
    console.log(
      `${spec}: ${median(r).toFixed(0)} (${Math.min(...r).toFixed(0)}–${Math.max(...r).toFixed(0)}) per CPU s`,
    );
    continue;
  }
  console.log(
    `${spec}: RSS ${median(r).toFixed(1)} KB (${Math.min(...r).toFixed(1)}–${Math.max(...r).toFixed(1)}), ` +
      `heapUsed ${median(h).toFixed(2)} KB (${Math.min(...h).toFixed(2)}–${Math.max(...h).toFixed(2)}) per connection`,
  );
}
Deno.exit(0);

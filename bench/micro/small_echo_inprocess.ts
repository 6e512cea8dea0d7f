/**
 * CPU per echoed 32-byte text message through a server `WebSocketDriver` on
 * a transport that writes on the spot, in one process: one frame per chunk
 * (the "one per read" row) and 64 frames per chunk (the "pipelined" row).
 * For A/B runs of the driver's turn (input.ts, output.ts) against another
 * checkout: `node bench/micro/small_echo_inprocess.ts [path of the checkout]`
 * (or `deno run -A`, `bun`), alternating checkouts.
 *
 * @module
 */
import process from "node:process";
import type { TransportSink } from "../../src/driver/transport.ts";

const root = process.argv[2] ?? new URL("../..", import.meta.url).pathname;
const { WebSocketDriver } = await import(`${root}/src/driver/driver.ts`);
const { Protocol } = await import(`${root}/src/protocol/protocol.ts`);
const { WRITTEN } = await import(`${root}/src/driver/transport.ts`);

const client = new Protocol({ role: "client" });
client.sendText("x".repeat(32), false);
const one = (client.dataToSend()[0] as Uint8Array).slice();
const batch = new Uint8Array(one.length * 64);
for (let i = 0; i < 64; i++) batch.set(one, i * one.length);

let sink: TransportSink | null = null;
let written = 0;
const transport = {
  releasesChunks: true,
  start(s: TransportSink) {
    sink = s;
  },
  write(chunk: Uint8Array) {
    written += chunk.length;
    return WRITTEN;
  },
  end: () => Promise.resolve(),
  abort() {},
};
const ws = new WebSocketDriver("server");
ws.on("message", (message: string) => ws.send(message));
ws.attach(transport);
await new Promise((resolve) => setTimeout(resolve, 10));

for (const [name, chunk, perChunk] of [["one per chunk", one, 1], ["64 per chunk", batch, 64]] as const) {
  for (let i = 0; i < 20000; i++) sink!.data(chunk);
  const chunks = perChunk === 1 ? 400_000 : 10_000;
  const before = process.cpuUsage();
  for (let i = 0; i < chunks; i++) sink!.data(chunk);
  const used = process.cpuUsage(before);
  const ns = (used.user + used.system) * 1000 / (chunks * perChunk);
  console.log(`${root}: ${name}: ${ns.toFixed(0)} ns of CPU per echoed message`);
}
if (written === 0) throw new Error("nothing was echoed");
ws.terminate();

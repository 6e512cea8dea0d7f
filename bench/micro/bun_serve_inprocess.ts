/**
 * CPU per echoed 32-byte text message through the whole `serve()` path of the
 * Bun `tcp` backend (the Bun transport, the handshake's relay, the server's
 * connection, the driver, the protocol), in one process: `Bun.listen` is
 * replaced by a stand-in that hands its socket handlers over, and a fake
 * socket writes nowhere. Each read is a fresh copy of the frames, as Bun hands
 * reads over. One frame per read (the "oneper" row) and 64 (the "pipelined"
 * row); what it leaves out is the kernel and Bun's own socket layer.
 *
 *     bun bench/micro/bun_serve_inprocess.ts [checkout] [one|pipe|both] [rounds]
 *
 * For A/B runs against another checkout, alternating the two. With
 * `BUN_JSC_logGC=1`, each "exceed bytes allowed" line is one eden collection
 * after ~8 MiB allocated: their count over the reads gives the bytes a read
 * allocates (bench/RESULTS.md, "Bun: small messages, where the JavaScript
 * goes").
 *
 * @module
 */
import process from "node:process";

const root = process.argv[2] ?? new URL("../..", import.meta.url).pathname;
const mode = process.argv[3] ?? "both";
const rounds = Number(process.argv[4] ?? 1);

interface Handlers {
  open(socket: unknown): void;
  data(socket: unknown, chunk: Uint8Array): void;
}
let handlers: Handlers | null = null;
const bun = (globalThis as unknown as { Bun: { listen: unknown } }).Bun;
bun.listen = (options: { socket: Handlers }) => {
  handlers = options.socket;
  return { port: 1, hostname: "127.0.0.1", stop() {} };
};

const { serve, makeServer } = await import(`${root}/mod.ts`);
const { Protocol } = await import(`${root}/src/protocol/protocol.ts`);
serve((request: Request) => {
  const ws = makeServer(request);
  ws.on("message", (message: string) => ws.send(message));
  return ws.startConnection();
}, { hostname: "127.0.0.1", port: 0 });
while (handlers === null) await new Promise((resolve) => setTimeout(resolve, 1));
const { open, data } = handlers as Handlers;

let written = 0;
const socket = {
  data: null,
  remoteAddress: "127.0.0.1",
  remotePort: 1,
  write(bytes: Uint8Array) {
    written += bytes.length;
    return bytes.length;
  },
  shutdown() {},
  end() {},
  terminate() {},
  pause() {},
  resume() {},
  setNoDelay() {},
};
open(socket);
data(
  socket,
  new TextEncoder().encode(
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  ),
);
await new Promise((resolve) => setTimeout(resolve, 20));
if (written === 0) throw new Error("no answer to the handshake");

const client = new Protocol({ role: "client" });
client.sendText("x".repeat(32), false);
const one = (client.dataToSend()[0] as Uint8Array).slice();
const batch = new Uint8Array(one.length * 64);
for (let i = 0; i < 64; i++) batch.set(one, i * one.length);

const cases = [["one", one, 1], ["pipe", batch, 64]] as const;
for (const [name, chunk, perRead] of cases) {
  if (mode !== "both" && mode !== name) continue;
  for (let i = 0; i < 20_000; i++) data(socket, chunk.slice());
  const reads = (perRead === 1 ? 400_000 : 10_000) * rounds;
  const before = written;
  const start = process.cpuUsage();
  for (let i = 0; i < reads; i++) data(socket, chunk.slice());
  const used = process.cpuUsage(start);
  if (written - before !== reads * perRead * 34) throw new Error("not every message was echoed");
  const ns = (used.user + used.system) * 1000 / (reads * perRead);
  console.log(`${root}: ${name}: ${ns.toFixed(0)} ns of CPU per echoed message`);
}
process.exit(0);

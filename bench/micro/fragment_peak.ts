/**
 * Peak RSS while a server `Protocol` receives 16 MiB binary messages sent in
 * 256 KiB fragments (read in 64 KiB chunks; no message kept): what the buffer
 * a fragmented message is assembled in costs while it grows by doubling, and
 * what freeing each outgrown buffer at once (`freeSpent`) gives back. Figures
 * in bench/RESULTS.md, "Fourth round".
 *
 *     node bench/micro/fragment_peak.ts [messages] [src directory]
 *     deno run -A bench/micro/fragment_peak.ts …      bun bench/micro/fragment_peak.ts …
 *
 * The second argument points at another checkout's `src` (an A/B).
 *
 * @module
 */
import process from "node:process";

const count = Number(process.argv[2] ?? 4);
const src = process.argv[3] ?? new URL("../../src", import.meta.url).pathname;
const { Protocol } = await import(`${src}/protocol/protocol.ts`);
const size = 16 << 20, fragment = 256 << 10, read = 64 << 10;

const client = new Protocol({ role: "client" });
const message = new Uint8Array(size).fill(65);
for (let at = 0; at < size; at += fragment) {
  const end = Math.min(at + fragment, size);
  client.sendFrame(at === 0 ? 2 : 0, message.subarray(at, end), end === size);
}
const pieces = client.dataToSend() as Uint8Array[];
const wire = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
pieces.reduce((at, p) => (wire.set(p, at), at + p.length), 0);

const server = new Protocol({ role: "server", maxLength: 64 << 20 });
const base = process.memoryUsage().rss;
let peak = base;
for (let i = 0; i < count; i++) {
  for (let at = 0; at < wire.length; at += read) {
    server.receiveData(wire.slice(at, at + read));
    peak = Math.max(peak, process.memoryUsage().rss);
    server.eventsReceived();
  }
}
console.log(`${src}: peak RSS ${((peak - base) / 2 ** 20).toFixed(0)} MiB over the start, ${count} messages`);

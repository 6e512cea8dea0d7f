/**
 * The server side of the bulk echo in one process, without sockets: masked
 * binary frames fed to a server `Protocol` in read-sized chunks, each message
 * echoed through `sendBinary` / `dataToSend` / `releaseFrame`. Prints MB echoed
 * per CPU second and minor page faults per MiB (Linux), the two figures of
 * bench/RESULTS.md "Bulk messages: where the time goes".
 *
 *     node bench/micro/bulk_echo_inprocess.ts [size] [messages] [chunk]
 *     deno run -A bench/micro/bulk_echo_inprocess.ts …      bun bench/micro/bulk_echo_inprocess.ts …
 *
 * `REUSE=1` reads into one reused buffer while the protocol lets go of it (as
 * the Deno binding does); otherwise every chunk is fresh memory (as Node's
 * and Bun's reads are). `FRAGMENT=<bytes>` sends each message as fragments
 * of that many bytes (the server assembles them in a buffer it grows).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { Protocol } from "../../src/protocol/protocol.ts";
import { releaseFrame } from "../../src/protocol/frame.ts";

const size = Number(process.argv[2] ?? 1 << 20);
const messages = Number(process.argv[3] ?? 300);
const chunkSize = Number(process.argv[4] ?? 64 * 1024);
const reuseReads = process.env.REUSE === "1";
const fragment = Number(process.env.FRAGMENT ?? 0);

const client = new Protocol({ role: "client" });
const message = new Uint8Array(size).fill(65);
if (fragment > 0) {
  for (let at = 0; at < size; at += fragment) {
    const end = Math.min(at + fragment, size);
    client.sendFrame(at === 0 ? 2 : 0, message.subarray(at, end), end === size);
  }
} else client.sendBinary(message, false);
const pieces = client.dataToSend() as Uint8Array[];
const frame = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
pieces.reduce((at, p) => (frame.set(p, at), at + p.length), 0);

/** Minor page faults of this process so far. */
const faults = () => Number(readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")[7]);
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const server = new Protocol({ role: "server", maxLength: 64 << 20 });
let readBuffer: Uint8Array | null = null;
let echoed = 0;
function echoOne(): void {
  for (let at = 0; at < frame.length; at += chunkSize) {
    const n = Math.min(chunkSize, frame.length - at);
    const buffer = reuseReads ? (readBuffer ??= new Uint8Array(chunkSize)) : new Uint8Array(n);
    const chunk = buffer.subarray(0, n);
    chunk.set(frame.subarray(at, at + n));
    if (!server.receiveData(chunk)) readBuffer = null;
    for (const event of server.eventsReceived()) {
      if (event.type !== "binary") continue;
      server.sendBinary(event.data, false);
      for (const piece of server.dataToSend() as Uint8Array[]) {
        echoed += piece.length;
        releaseFrame(piece);
      }
    }
  }
}

for (let i = 0; i < 20; i++) echoOne();
const f0 = faults(), c0 = cpuSeconds(), e0 = echoed;
for (let i = 0; i < messages; i++) echoOne();
const mib = messages * size / 2 ** 20;
if (echoed - e0 < messages * size) throw new Error("not every message was echoed");
console.log(
  `${size >> 10} KiB messages${fragment > 0 ? ` in ${fragment >> 10} KiB fragments` : ""} in ${chunkSize >> 10} KiB ` +
    `${reuseReads ? "reused" : "fresh"} reads: ` +
    `${(mib * 1.048576 / (cpuSeconds() - c0)).toFixed(0)} MB per CPU second, ${
      ((faults() - f0) / mib).toFixed(0)
    } faults per MiB`,
);

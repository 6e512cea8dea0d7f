/**
 * The client side of the echo comparison: `conns` clients of one library
 * (ours or ws) against an echo server, each keeping `inflight` text messages
 * of `size` bytes in flight (a new one sent for each echo received). Prints
 * one JSON line: messages echoed per second in the measured window, and this
 * process's CPU share.
 *
 *     node bench/echo/client.ts --impl wsd|ws --port N [--conns 16] [--inflight 64] [--size 32]
 *                                [--warmup 0.5] [--duration 1.5]
 *
 * @module
 */
import { createRequire } from "node:module";
import process from "node:process";
import { parseArgs } from "node:util";
import { makeClient } from "../../client.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    impl: { type: "string", default: "wsd" },
    port: { type: "string" },
    conns: { type: "string", default: "16" },
    inflight: { type: "string", default: "64" },
    size: { type: "string", default: "32" },
    warmup: { type: "string", default: "0.5" },
    duration: { type: "string", default: "1.5" },
  },
});
const url = `ws://127.0.0.1:${values.port}/`;
const conns = Number(values.conns), inflight = Number(values.inflight);
const message = "x".repeat(Number(values.size));
let received = 0;

interface Peer {
  send(m: string): void;
  close(): void;
}

function openWs(): Promise<Peer> {
  const require = createRequire(import.meta.url);
  const WebSocket = require("../../tools/rt/node_modules/ws");
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on("open", () => resolve({ send: (m) => ws.send(m), close: () => ws.terminate() }));
    ws.on("message", () => {
      received++;
      ws.send(message);
    });
    ws.on("error", reject);
  });
}

function openWsd(): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const ws = makeClient(url);
    ws.on("open", () => resolve({ send: (m) => ws.send(m), close: () => ws.terminate() }));
    ws.on("message", () => {
      received++;
      ws.send(message);
    });
    ws.on("error", reject);
    ws.startConnection();
  });
}

const peers: Peer[] = [];
for (let i = 0; i < conns; i++) peers.push(await (values.impl === "ws" ? openWs() : openWsd()));
for (const p of peers) for (let i = 0; i < inflight; i++) p.send(message);
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
await sleep(Number(values.warmup));
const r0 = received;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await sleep(Number(values.duration));
const count = received - r0;
const cpu = process.cpuUsage(cpu0);
const seconds = (performance.now() - t0) / 1000;
for (const p of peers) p.close();
process.stdout.write(JSON.stringify({ messages: count, seconds, cpu: (cpu.user + cpu.system) / 1e6 / seconds }) + "\n");
process.exit(0);

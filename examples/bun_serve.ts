/**
 * An echo server on `Bun.serve` with this library's API on Bun's own
 * WebSockets (Bun only): GET / answers "hello", /ws echoes every message
 * (text stays text, binary stays binary), with the library's default limits.
 *
 *     bun examples/bun_serve.ts --port 9000 --hostname 127.0.0.1
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { makeServer, withWebSockets } from "../mod.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    port: { type: "string", default: "8000" },
    hostname: { type: "string", default: "127.0.0.1" },
  },
});
const port = Number(values.port);
const hostname = values.hostname;

const handler = (request: Request): Response => {
  const url = new URL(request.url);
  if (url.pathname === "/ws") {
    const ws = makeServer(request);
    ws.on("message", (message) => ws.send(message));
    return ws.startConnection();
  }
  if (url.pathname === "/") return new Response("hello");
  return new Response("not found\n", { status: 404 });
};

// deno-lint-ignore no-explicit-any
const bun = (globalThis as any).Bun;
const server = bun.serve({ port, hostname, ...withWebSockets(handler) });
console.log(`Listening on http://${hostname}:${server.port}/ (WebSocket echo on /ws)`);

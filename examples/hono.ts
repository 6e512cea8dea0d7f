/**
 * A Hono app whose `/ws` route upgrades with this library: the route handler
 * returns `makeServer(c.req.raw).startConnection()`, like any Fetch handler.
 * `GET /` answers `hello`; `/ws` echoes every message (text as text, binary
 * as binary).
 *
 *     deno run -A examples/hono.ts [--port 8080] [--hostname 0.0.0.0]
 *     node examples/hono.ts …      bun examples/hono.ts …
 *
 * Each runtime runs the app on its natural server: on Node, Hono's
 * `@hono/node-server`, with `serve(app.fetch, { server })` taking its upgrade
 * requests; on Deno and Bun, `serve(app.fetch)`. (`Deno.serve(app.fetch)` works
 * too, on Deno's own WebSocket; on Bun's own, `Bun.serve({ ...withWebSockets(app.fetch) })`.)
 * Stops cleanly on SIGINT/SIGTERM.
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { Hono } from "hono";
import { makeServer, serve } from "../mod.ts";
import type { ServeHandle } from "../mod.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    port: { type: "string", default: "8080" },
    hostname: { type: "string", default: "0.0.0.0" },
  },
});
const port = Number(values.port);
const hostname = values.hostname;

const app = new Hono();
app.get("/", (c) => c.text("hello"));
app.get("/ws", (c) => {
  const ws = makeServer(c.req.raw);
  ws.on("message", (message) => ws.send(message));
  return ws.startConnection();
});

const listening = (where: string, port: number) =>
  console.log(`Hono app (${where}) listening on http://localhost:${port}/ (WebSockets on ws://localhost:${port}/ws)`);

let websockets: ServeHandle;
let stopServer = () => Promise.resolve();
if ("Deno" in globalThis || "Bun" in globalThis) {
  websockets = serve(app.fetch, { port, hostname, onListen: (addr) => listening("wsd serve", addr.port) });
} else {
  // Hono's Node server answers the plain requests; its upgrades come to us.
  // (Loaded on Node only: it replaces the global Request and Response with
  // its own, which Deno's and Bun's servers refuse.)
  const { serve: nodeServe } = await import("@hono/node-server");
  const server = nodeServe({ fetch: app.fetch, port, hostname }, (info) => listening("@hono/node-server", info.port));
  websockets = serve(app.fetch, { server });
  stopServer = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    });
}
websockets.ready.catch((error) => {
  console.error(`Cannot listen: ${error.message}`);
  process.exit(1);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await websockets.close();
    await stopServer();
    process.exit(0);
  });
}

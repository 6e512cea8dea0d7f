/**
 * WebSockets on an existing `node:http` server: the application keeps its
 * server and its plain requests (`GET /` answers `hello`), and
 * `serve(echo, { server, path: "/ws" })` takes the upgrades of `/ws`, where
 * every message comes back to its sender (text as text, binary as binary).
 *
 *     node examples/node_http.ts [--port 8080] [--hostname 0.0.0.0]
 *
 * The same file runs with `deno run -A` and `bun`. Stops cleanly on
 * SIGINT/SIGTERM: the WebSockets get 1001, then the server closes.
 */
import { createServer } from "node:http";
import process from "node:process";
import { parseArgs } from "node:util";
import { makeServer, serve } from "../mod.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    port: { type: "string", default: "8080" },
    hostname: { type: "string", default: "0.0.0.0" },
  },
});

// The application's own server, with its own routes.
const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/") {
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" }).end("hello");
  } else {
    res.writeHead(404).end();
  }
});

const echo = (request: Request): Response => {
  const ws = makeServer(request);
  ws.on("message", (message) => ws.send(message));
  return ws.startConnection();
};
const websockets = serve(echo, { server, path: "/ws" });

server.on("error", (error) => {
  console.error(`Cannot listen: ${error.message}`);
  process.exit(1);
});
server.listen(Number(values.port), values.hostname, () => {
  const { port } = server.address() as { port: number };
  console.log(`node:http server listening on http://localhost:${port}/ (WebSockets on ws://localhost:${port}/ws)`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await websockets.close(); // the WebSockets, not the server
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}

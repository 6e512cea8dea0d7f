/**
 * The seed's echo server: every message comes back to its sender, text as
 * text and binary as binary (handed back with `transfer`: the bytes are sent
 * from the memory they arrived in, not copied).
 *
 *     deno run -A examples/echo_server.ts [--port 5000] [--hostname 0.0.0.0]
 *                 [--max-length N] [--backend tcp|node|deno|list] [--deflate]
 *
 * `--deflate` turns permessage-deflate on (default parameters) where the
 * backend can compress: tcp and node; Deno's own socket (deno) cannot.
 *
 * The same file runs with `node` and `bun`. `--backend list` prints the
 * backends this runtime has, one per line. Stops cleanly on SIGINT/SIGTERM.
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { availableBackends, makeServer, serve } from "../mod.ts";
import type { BackendName } from "../mod.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    port: { type: "string", default: "5000" },
    hostname: { type: "string", default: "0.0.0.0" },
    "max-length": { type: "string" },
    backend: { type: "string", default: "tcp" },
    deflate: { type: "boolean", default: false },
  },
});

if (values.backend === "list") {
  console.log(availableBackends().join("\n"));
  process.exit(0);
}
const maxLength = values["max-length"] === undefined ? undefined : Number(values["max-length"]);

const echo = (request: Request): Response => {
  const ws = makeServer(request, { maxLength });
  ws.on("message", (message) => ws.send(message, { transfer: true }));
  return ws.startConnection();
};

const server = serve(echo, {
  port: Number(values.port),
  hostname: values.hostname,
  backend: values.backend as BackendName,
  perMessageDeflate: values.deflate,
  onListen: ({ port }) => {
    const compression = !values.deflate ? "" : values.backend === "deno" ? ", no compression on deno" : ", deflate";
    console.log(`Echo server (${values.backend}${compression}) listening on ws://localhost:${port}/echo`);
  },
});
server.ready.catch((error) => {
  console.error(`Cannot listen: ${error.message}`);
  process.exit(1);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await server.close();
    process.exit(0);
  });
}

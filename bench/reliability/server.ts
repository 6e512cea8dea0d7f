// The @x/wsd child server of bench/reliability.ts and tests/server/reliability_test.ts:
// serve() with an echo handler written the plain way (`ws.on("message", (m) =>
// ws.send(m))`, no readyState check), and `close()` on SIGTERM, nothing else:
// the process must then exit on its own. Runs unchanged on Deno, Node and Bun.
//
// Configured by the environment:
// - WSD_PROJECT: the checkout whose server.ts is served (default: this repo);
// - WSD_RELIAB: JSON `{ backend?, server?: ServerOptions, serve?: ServeOptions,
//   tls?: boolean }` (`tls` reads the test certificate of tests/client/fixtures).
// A message "throw" makes the message listener throw. Prints `READY <port>
// <pid>` once listening and `CLOSED <ms>` when close() resolved (ms after SIGTERM).
import process from "node:process";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

interface Config {
  backend?: string;
  server?: Record<string, unknown>;
  serve?: Record<string, unknown>;
  tls?: boolean;
}

const config: Config = JSON.parse(process.env.WSD_RELIAB ?? "{}");
const project = process.env.WSD_PROJECT
  ? pathToFileURL(process.env.WSD_PROJECT.replace(/\/?$/, "/")).href
  : new URL("../../", import.meta.url).href;
const { makeServer, serve } = await import(new URL("server.ts", project).href);

const fixtures = new URL("../../tests/client/fixtures/", import.meta.url);
const tls = config.tls
  ? {
    cert: readFileSync(new URL("server.pem", fixtures), "utf8"),
    key: readFileSync(new URL("server-key.pem", fixtures), "utf8"),
  }
  : {};

const handle = serve((request: Request) => {
  const ws = makeServer(request, config.server);
  ws.on("message", (message: string | Uint8Array) => {
    if (message === "throw") throw new Error("a listener failed on purpose");
    ws.send(message);
  });
  return ws.startConnection();
}, { hostname: "127.0.0.1", port: 0, backend: config.backend ?? "tcp", ...tls, ...config.serve });

const addr = await handle.ready;
process.stdout.write(`READY ${addr.port} ${process.pid}\n`);

process.on("SIGTERM", () => {
  const start = Date.now();
  handle.close().then(() => process.stdout.write(`CLOSED ${Date.now() - start}\n`));
});

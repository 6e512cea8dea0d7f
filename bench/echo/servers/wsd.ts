// @x/wsd: the README's echo handler, binary messages handed back with `{ transfer: true }` (sent from the memory they
// arrived in, not copied: what ws does with every send; WSD_ECHO=copy sends copies). Runs on Deno, Node and Bun: on
// serve() with its default backend (tcp), or with the backend WSD_BACKEND names ("node", "deno"), or on Bun.serve
// through withWebSockets (WSD_BACKEND=bun-serve).
import process from "node:process";
import { makeServer, serve, withWebSockets } from "../../../mod.ts";
import type { BackendName } from "../../../mod.ts";
import { ready } from "./_control.mjs";

const options = process.env.WSD_ECHO === "copy" ? undefined : { transfer: true };
const handler = (request: Request): Response => {
  const ws = makeServer(request);
  ws.on("message", (message) => ws.send(message, options));
  return ws.startConnection();
};

const backend = process.env.WSD_BACKEND;
if (backend === "bun-serve") {
  const bun = (globalThis as unknown as { Bun: { serve(options: unknown): { port: number } } }).Bun;
  ready(bun.serve({ hostname: "127.0.0.1", port: 0, ...withWebSockets(handler) }).port);
} else {
  serve(handler, {
    hostname: "127.0.0.1",
    port: 0,
    backend: backend as BackendName | undefined,
    onListen: ({ port }) => ready(port),
  });
}

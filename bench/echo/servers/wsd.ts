// @x/wsd: serve() with its default backend, the README's echo handler. Runs on Deno, Node and Bun.
import { makeServer, serve } from "../../../mod.ts";
import { ready } from "./_control.mjs";

serve((request) => {
  const ws = makeServer(request);
  ws.on("message", (message) => ws.send(message));
  return ws.startConnection();
}, { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => ready(port) });

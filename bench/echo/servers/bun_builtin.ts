// Bun.serve with its websocket handler (uWebSockets).
import { ready } from "./_control.mjs";

declare const Bun: {
  serve(options: unknown): { port: number };
};

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request: Request, server: { upgrade(r: Request): boolean }) {
    if (server.upgrade(request)) return undefined;
    return new Response("Upgrade required", { status: 426 });
  },
  websocket: {
    maxPayloadLength: 64 << 20,
    idleTimeout: 0,
    message(ws: { send(m: string | Uint8Array): number }, message: string | Uint8Array) {
      ws.send(message);
    },
  },
});
ready(server.port);

// A Hono app whose /ws route returns makeServer(c.req.raw).startConnection(),
// on each runtime's natural Hono server: @hono/node-server with serve(app.fetch,
// { server }) (Node, and Bun and Deno through their node:http), serve(app.fetch)
// on every backend, and Deno.serve(app.fetch) on Deno.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { cors } from "hono/cors";
import { availableBackends, makeServer, serve } from "../../server.ts";
import type { ServeHandle } from "../../server.ts";
import { HOST, openClient, pattern, sameBytes, withTimeout } from "./_util.ts";

function app(): Hono {
  const app = new Hono();
  // Middleware that touches `c.res` before the route (cors does) makes Hono
  // rebuild the route's answer: the upgrade must survive that copy.
  app.use("*", cors());
  app.get("/", (c) => c.text("hello"));
  app.get("/ws", (c) => {
    const ws = makeServer(c.req.raw, { acceptProtocols: ["chat"] });
    ws.on("message", (message) => ws.send(message));
    return ws.startConnection();
  });
  return app;
}

/** GET / → hello, and /ws echoes text and binary with the subprotocol agreed. */
async function check(port: number): Promise<void> {
  const response = await fetch(`http://${HOST}:${port}/`);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "hello");
  for (const kind of ["ours", "ws"] as const) {
    const client = await openClient(kind, `ws://${HOST}:${port}/ws`, { protocols: ["chat"] });
    assert.equal(client.protocol, "chat");
    client.send("hi from hono");
    assert.equal(await client.nextMessage(), "hi from hono");
    client.send(pattern(100_000));
    const back = await client.nextMessage();
    assert.ok(back instanceof Uint8Array && sameBytes(back, pattern(100_000)));
    client.close(1000, "bye");
    assert.deepEqual(await withTimeout(client.closed, "the close"), [1000, "bye"]);
  }
}

describe("Hono", () => {
  for (const backend of availableBackends()) {
    it(`serve(app.fetch, { backend: "${backend}" })`, async () => {
      const handle: ServeHandle = serve(app().fetch, { port: 0, hostname: HOST, backend });
      try {
        await check((await handle.ready).port);
      } finally {
        await handle.close();
      }
    });
  }

  if ("Deno" in globalThis) {
    it("Deno.serve(app.fetch): Deno's own WebSocket", async () => {
      const { promise: listening, resolve } = Promise.withResolvers<number>();
      const server = Deno.serve({ port: 0, hostname: HOST, onListen: (addr) => resolve(addr.port) }, app().fetch);
      try {
        await check(await listening);
      } finally {
        await server.shutdown();
      }
    });
  }

  it("@hono/node-server, its upgrades through serve(app.fetch, { server })", async () => {
    const { serve: nodeServe } = await import("@hono/node-server");
    const hono = app();
    const { promise: listening, resolve } = Promise.withResolvers<number>();
    const server = nodeServe(
      { fetch: hono.fetch, port: 0, hostname: HOST, overrideGlobalObjects: false },
      (info) => resolve(info.port),
    );
    const websockets = serve(hono.fetch, { server });
    try {
      await check(await listening);
    } finally {
      await websockets.close();
      await new Promise<void>((done) => {
        server.close(() => done());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    }
  });
});

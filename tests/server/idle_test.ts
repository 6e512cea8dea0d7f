/**
 * 2000 idle connections that then all send, on every backend of serve() and
 * (on Bun) on Bun.serve with withWebSockets: a connection keeps little while
 * idle and makes the rest on first use (see tests/driver/first_use_test.ts),
 * so each must still echo, keep its own `ws.request`, and close with the
 * peer's code. Also: the upgrade registry lets go of what Bun.serve's
 * upgrades no longer need, so a response the handler answers for a request
 * it did not upgrade still reaches the client.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { availableBackends, makeServer, serve, withWebSockets } from "../../server.ts";
import { delay, exchange, HOST, maskedFrame, RawClient, recordingHandler, requestHead, startServer } from "./_util.ts";
import { idleThenAllSend } from "./_idle.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const T = { timeout: 60_000 };
const COUNT = 2000;
// deno-lint-ignore no-explicit-any
const bun = (globalThis as any).Bun;

describe(`idle connections on ${runtime}`, () => {
  for (const backend of availableBackends()) {
    it(
      `serve() "${backend}": ${COUNT} idle connections, then every one sends, is echoed and closes with 1000`,
      T,
      async () => {
        const server = await startServer(backend);
        try {
          await idleThenAllSend(server.port, server.nextServer, COUNT);
        } finally {
          await server.close();
        }
      },
    );
  }

  if (bun === undefined) {
    it.skip("Bun.serve with withWebSockets: Bun only", () => {});
  } else {
    it(
      `Bun.serve with withWebSockets: ${COUNT} idle connections, then every one sends, is echoed and closes with 1000`,
      T,
      async () => {
        const { handler, nextServer } = recordingHandler();
        const server = bun.serve({
          port: 0,
          hostname: HOST,
          ...withWebSockets((request) => handler(request, { remoteAddr: { hostname: HOST, port: 0 } })),
        });
        try {
          await idleThenAllSend(server.port, nextServer, COUNT);
        } finally {
          server.stop(true);
        }
      },
    );

    for (const where of ['serve() "tcp"', "Bun.serve with withWebSockets"]) {
      it(
        `${where}: connections closed by the peer while idle leave nothing behind (their servers are collected)`,
        T,
        async () => {
          const refs: Array<WeakRef<object>> = [];
          let closed = 0;
          const handler = (request: Request): Response => {
            const ws = makeServer(request);
            ws.on("message", (message) => ws.send(message));
            ws.on("close", () => closed++);
            refs.push(new WeakRef(ws));
            return ws.startConnection();
          };
          let port: number;
          let stop: () => Promise<void> | void;
          if (where.startsWith("serve")) {
            const handle = serve(handler, { hostname: HOST, port: 0, backend: "tcp" });
            port = (await handle.ready).port;
            stop = () => handle.close();
          } else {
            const server = bun.serve({ port: 0, hostname: HOST, ...withWebSockets(handler) });
            port = server.port;
            stop = () => server.stop(true);
          }
          const n = 300;
          try {
            for (let i = 0; i < n; i += 50) {
              await Promise.all(Array.from({ length: 50 }, async () => {
                const raw = await RawClient.connect(port);
                raw.write(requestHead());
                await raw.readHead();
                const head = raw.bytes().length;
                raw.write(maskedFrame(0x1, "hello"));
                await raw.until(() => raw.bytes().length >= head + 7, "the echo");
                // Idle, then the peer goes away (no closing handshake).
                await delay(50);
                await raw.close();
              }));
            }
            for (let i = 0; i < 200 && closed < n; i++) await delay(20);
            assert.equal(closed, n, "every server saw its connection close");
            await delay(50);
            for (let i = 0; i < 5; i++) {
              bun.gc(true);
              await delay(20);
            }
            const left = refs.filter((ref) => ref.deref() !== undefined).length;
            // The collector scans the stack conservatively: a few may stay reachable by chance, not most.
            assert.ok(left <= n / 10, `${left} of ${n} closed servers still reachable`);
          } finally {
            await stop();
          }
        },
      );
    }

    it(
      "Bun.serve: a handler that made a server but answered something else gets its answer to the client",
      T,
      async () => {
        const server = bun.serve({
          port: 0,
          hostname: HOST,
          ...withWebSockets(async (request) => {
            const ws = makeServer(request);
            if (request.headers.get("x-refuse") === null) return ws.startConnection();
            await Promise.resolve();
            return new Response("not today", { status: 409 });
          }),
        });
        try {
          assert.equal((await exchange(server.port, requestHead({ headers: { "X-Refuse": "1" } }))).status, 409);
          assert.equal((await exchange(server.port, requestHead())).status, 101);
        } finally {
          server.stop(true);
        }
      },
    );
  }
});

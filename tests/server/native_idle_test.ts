/**
 * Idle connections on Deno's own socket (`serve(h, { backend: "deno" })`,
 * Deno only): what a connection keeps while idle is small (the link is its
 * socket's one listener object, the upgrade registry lets go of the answer),
 * so this checks that 2000 idle connections still all echo and keep their own
 * `ws.request` (read late: after the traffic and the close), and that the
 * state of a connection the peer dropped is let go at once, although Deno's
 * idle timer (serve()'s default heartbeat) keeps its socket until it fires.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runInNewContext } from "node:vm";
import v8 from "node:v8";
import { makeServer, serve } from "../../server.ts";
import type { Server } from "../../server.ts";
import { maskedFrame, parseHead, RawClient, requestHead, startServer, withTimeout } from "./_util.ts";
import type { ServerRecord } from "./_util.ts";
import { idleThenAllSend } from "./_idle.ts";

const isDeno = "Deno" in globalThis;
const T = { timeout: 90_000 };

/** A full collection, however the runtime was started (`--expose-gc` or not). */
function collector(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

describe('idle connections on serve({ backend: "deno" })', () => {
  if (!isDeno) {
    it.skip("Deno only", () => {});
    return;
  }

  it("2000 idle connections, then every one sends and is echoed; ws.request read late is its own", T, async () => {
    const server = await startServer("deno");
    const records: ServerRecord[] = [];
    try {
      await idleThenAllSend(server.port, async () => {
        const record = await server.nextServer();
        records.push(record);
        return record;
      }, 2000);
      assert.equal(records.length, 2000);
      for (const { server: ws } of records) {
        // Made again from the copy taken before the 101 (Deno's request is closed by now).
        const index = ws.request.headers.get("x-index");
        assert.ok(index !== null && Number(index) >= 0 && Number(index) < 2000);
        assert.equal(new URL(ws.request.url).pathname, "/");
        assert.equal(ws.request.headers.get("upgrade"), "websocket");
      }
      assert.equal(new Set(records.map((r) => r.server.request.headers.get("x-index"))).size, 2000);
    } finally {
      await server.close();
    }
  });

  it("a connection the peer dropped while idle lets its server go at once (WeakRef, full GC)", T, async () => {
    const gc = collector();
    const refs: Array<WeakRef<Server>> = [];
    const closed: Array<Promise<number>> = [];
    // serve()'s default heartbeat: Deno's idleTimeout of 30 s, whose timer keeps Deno's socket after a drop.
    const handle = serve((request) => {
      const ws = makeServer(request);
      ws.on("message", (message) => ws.send(message));
      refs.push(new WeakRef(ws));
      closed.push(new Promise((resolve) => ws.on("close", (code) => resolve(code))));
      return ws.startConnection();
    }, { backend: "deno", port: 0, hostname: "127.0.0.1" });
    const { port } = await handle.ready;
    try {
      const clients: RawClient[] = [];
      for (let i = 0; i < 20; i++) {
        const raw = await RawClient.connect(port);
        raw.write(requestHead());
        assert.equal((await raw.readHead()).status, 101);
        raw.write(maskedFrame(0x1, "hello"));
        await raw.until(() => parseHead(raw.bytes()).rest.length >= 7, "the echo", 5_000);
        clients.push(raw);
      }
      // Idle, then dropped without a close frame.
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const raw of clients) raw.socket.destroy();
      const codes = await withTimeout(Promise.all(closed), "every server's close", 10_000);
      assert.deepEqual(codes, new Array(20).fill(1006));
      let left = refs.length;
      for (let round = 0; round < 20 && left > 0; round++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        gc();
        left = refs.filter((r) => r.deref() !== undefined).length;
      }
      assert.equal(left, 0, "servers of dropped connections still reachable after a full GC");
    } finally {
      await handle.close();
    }
  });
});

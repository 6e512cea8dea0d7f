// The client's `signal` option: abort while connecting, and once open.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { makeClient } from "../../client.ts";
import { makeServer, serve } from "../../server.ts";

describe("makeClient({ signal })", () => {
  it("aborting while the server has not answered: error, then close 1006, opened rejects", async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket)); // never answers
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const controller = new AbortController();
      const client = makeClient(`ws://127.0.0.1:${port}/`, { signal: controller.signal });
      const events: string[] = [];
      client.on("open", () => events.push("open"));
      client.on("error", (e) => events.push(`error: ${e.message}`));
      client.startConnection();
      setTimeout(() => controller.abort(new Error("user gave up")), 50);
      assert.deepEqual(await client.closed, {
        code: 1006,
        reason: `Cannot connect to ws://127.0.0.1:${port}/: aborted (user gave up)`,
      });
      await assert.rejects(client.opened);
      assert.deepEqual(events, [`error: Cannot connect to ws://127.0.0.1:${port}/: aborted (user gave up)`]);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("a signal aborted before startConnection: never connects", async () => {
    const client = makeClient("ws://127.0.0.1:9/", { signal: AbortSignal.abort() });
    client.on("error", () => {});
    assert.equal((await client.closed).code, 1006);
    assert.equal(client.startConnection(), false);
  });

  it("aborting once open starts the closing handshake (1000)", async () => {
    const server = serve((request) => {
      const ws = makeServer(request);
      return ws.startConnection();
    }, { port: 0, hostname: "127.0.0.1" });
    const { port } = await server.ready;
    try {
      const controller = new AbortController();
      const client = makeClient(`ws://127.0.0.1:${port}/`, { signal: controller.signal });
      client.startConnection();
      await client.opened;
      controller.abort();
      assert.deepEqual(await client.closed, { code: 1000, reason: "" });
    } finally {
      await server.close();
    }
  });

  it("rejects a signal that is not an AbortSignal", () => {
    assert.throws(() => makeClient("ws://127.0.0.1:9/", { signal: {} as AbortSignal }), TypeError);
  });
});

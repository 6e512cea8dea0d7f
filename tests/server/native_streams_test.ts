// Iteration, drained() and ping() on the runtime's own socket (Deno's serve):
// the same API as on the raw backends. Deno only.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { makeClient } from "../../client.ts";
import { makeServer, serve } from "../../server.ts";
import type { Server } from "../../server.ts";

const onDeno = "Deno" in globalThis;

describe("the deno backend: for await, drained(), ping()", { skip: onDeno ? false : "Deno only" }, () => {
  it("a server loop reads every message with its type and ends on a clean close", async () => {
    let loop: Promise<Array<string | Uint8Array>> | undefined;
    let server: Server | undefined;
    const handle = serve((request) => {
      const ws = makeServer(request);
      server = ws;
      loop = (async () => {
        const got: Array<string | Uint8Array> = [];
        for await (const message of ws) {
          got.push(message);
          ws.send(message);
          await ws.drained();
        }
        return got;
      })();
      return ws.startConnection();
    }, { port: 0, hostname: "127.0.0.1", backend: "deno" });
    const { port } = await handle.ready;
    try {
      const client = makeClient(`ws://127.0.0.1:${port}/`);
      const echoes: Array<string | Uint8Array> = [];
      client.on("message", (m) => echoes.push(m));
      client.startConnection();
      await client.opened;
      client.send("one");
      client.send(new Uint8Array([1, 2]));
      client.send("three");
      while (echoes.length < 3) await new Promise((resolve) => setTimeout(resolve, 10));
      await assert.rejects(server!.ping(), (e: Error) => e.name === "NotSupportedError");
      client.closeConnection(1000, "bye");
      assert.deepEqual(await loop, ["one", new Uint8Array([1, 2]), "three"]);
      assert.deepEqual(echoes, ["one", new Uint8Array([1, 2]), "three"]);
      await client.closed;
    } finally {
      await handle.close();
    }
  });
});

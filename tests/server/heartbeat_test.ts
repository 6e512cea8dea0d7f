// serve()'s heartbeat: a silent client is found and dropped; one that answers
// pings stays; `false` turns it off; a handler's own choice wins.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { makeClient } from "../../client.ts";
import { makeServer, serve } from "../../server.ts";
import type { HeartbeatOptions, ServeOptions, Server } from "../../server.ts";
import { delay, ms } from "../_shared/time.ts";

/** An echo server that records its Server objects. */
async function start(options: ServeOptions, own?: HeartbeatOptions | false) {
  const servers: Server[] = [];
  const handle = serve((request) => {
    const ws = makeServer(request, own === undefined ? {} : { heartbeat: own });
    ws.on("error", () => {});
    servers.push(ws);
    return ws.startConnection();
  }, { port: 0, hostname: "127.0.0.1", ...options });
  const { port } = await handle.ready;
  return { handle, port, servers };
}

/** A raw client: handshake, then silence; collects what the server writes after the 101. */
async function silentClient(port: number): Promise<{ socket: Socket; received: () => Buffer[] }> {
  const socket = connect(port, "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  const chunks: Buffer[] = [];
  let head = true;
  socket.on("data", (data: Buffer) => {
    if (head) {
      const end = data.indexOf("\r\n\r\n");
      if (end >= 0) {
        head = false;
        if (end + 4 < data.length) chunks.push(data.subarray(end + 4));
      }
    } else chunks.push(data);
  });
  socket.on("error", () => {});
  return { socket, received: () => chunks };
}

for (const backend of ["tcp", "node"] as const) {
  describe(`serve({ backend: "${backend}", heartbeat })`, () => {
    it("pings a silent client and drops it: error WSD_ERR_HEARTBEAT_TIMEOUT, close 1006", async () => {
      const { handle, port, servers } = await start({ backend, heartbeat: { interval: ms(50), timeout: ms(50) } });
      const { socket, received } = await silentClient(port);
      try {
        await delay(20);
        const ws = servers[0];
        const errors: string[] = [];
        ws.on("error", (e) => errors.push((e as { type?: string }).type ?? ""));
        assert.deepEqual(await Promise.race([ws.closed, delay(2000).then(() => "timeout")]), {
          code: 1006,
          reason: "",
        });
        assert.deepEqual(errors, ["WSD_ERR_HEARTBEAT_TIMEOUT"]);
        assert.equal(received()[0]?.[0], 0x89, "a ping frame came first");
      } finally {
        socket.destroy();
        await handle.close();
      }
    });

    it("keeps a client that answers the pings", async () => {
      const { handle, port, servers } = await start({ backend, heartbeat: { interval: ms(30), timeout: ms(30) } });
      const client = makeClient(`ws://127.0.0.1:${port}/`);
      client.startConnection();
      await client.opened;
      await delay(250);
      assert.equal(servers[0].readyState, "open");
      assert.equal(client.readyState, "open");
      client.closeConnection();
      await client.closed;
      await handle.close();
    });

    it("heartbeat: false sends no pings; a handler's own heartbeat wins over serve's", async () => {
      const off = await start({ backend, heartbeat: false });
      const quiet = await silentClient(off.port);
      const own = await start({ backend, heartbeat: false }, { interval: ms(30), timeout: ms(1000) });
      const pinged = await silentClient(own.port);
      try {
        await delay(150);
        assert.equal(quiet.received().length, 0, "no ping with heartbeat: false");
        assert.equal(off.servers[0].readyState, "open");
        assert.equal(pinged.received()[0]?.[0], 0x89, "the handler's heartbeat pinged");
      } finally {
        quiet.socket.destroy();
        pinged.socket.destroy();
        await Promise.all([off.handle.close(), own.handle.close()]);
      }
    });
  });
}

// The deno backend: Deno's socket cannot ping, so serve()'s heartbeat becomes
// Deno's idleTimeout (whole seconds, at least 1: Deno pings after half of it).
describe('serve({ backend: "deno", heartbeat })', () => {
  if (!("Deno" in globalThis)) {
    it.skip("Deno only", () => {});
    return;
  }

  it(
    "serve()'s heartbeat is Deno's idleTimeout: a silent client is pinged, then dropped",
    { timeout: 10_000 },
    async () => {
      const { handle, port, servers } = await start({ backend: "deno", heartbeat: { interval: 500, timeout: 500 } });
      const { socket, received } = await silentClient(port);
      try {
        await delay(50);
        const ws = servers[0];
        const errors: string[] = [];
        ws.on("error", (e) => errors.push((e as { type?: string }).type ?? ""));
        const closed = await Promise.race([ws.closed, delay(5000).then(() => null)]);
        assert.equal(closed?.code, 1006);
        assert.deepEqual(errors, ["WSD_ERR_HEARTBEAT_TIMEOUT"]);
        assert.equal(received()[0]?.[0], 0x89, "Deno's ping frame came first");
      } finally {
        socket.destroy();
        await handle.close();
      }
    },
  );

  it("a handler's heartbeat: false wins over serve()'s: no ping from Deno", { timeout: 10_000 }, async () => {
    const on = await start({ backend: "deno", heartbeat: { interval: 500, timeout: 500 } });
    const pinged = await silentClient(on.port);
    const off = await start({ backend: "deno", heartbeat: { interval: 500, timeout: 500 } }, false);
    const quiet = await silentClient(off.port);
    try {
      await delay(1200);
      assert.equal(pinged.received()[0]?.[0], 0x89, "serve()'s heartbeat: Deno pinged");
      assert.equal(quiet.received().length, 0, "the handler's heartbeat: false: no ping");
      assert.equal(off.servers[0].readyState, "open");
    } finally {
      pinged.socket.destroy();
      quiet.socket.destroy();
      await Promise.all([on.handle.close(), off.handle.close()]);
    }
  });
});

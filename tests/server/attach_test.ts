// WebSockets on a node:http / node:https server the application made:
// serve(handler, { server, path }) and handleUpgrade(handler), on plain
// node:http and https, Express and Fastify; and serve() that cannot listen.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import express from "express";
import Fastify from "fastify";
import { handleUpgrade, makeServer, serve } from "../../server.ts";
import type { Server } from "../../server.ts";
import {
  exchange,
  fixture,
  HOST,
  openClient,
  parseFrames,
  parseHead,
  pattern,
  RawClient,
  requestHead,
  sameBytes,
  withTimeout,
} from "./_util.ts";
import type { TestClient } from "./_util.ts";

const servers: Server[] = [];
const echo = (request: Request): Response => {
  const ws = makeServer(request);
  servers.push(ws);
  ws.on("message", (message) => ws.send(message));
  return ws.startConnection();
};

function hello(_req: IncomingMessage, res: ServerResponse): void {
  res.end("hello");
}

function listen(server: HttpServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, HOST, () => resolve((server.address() as { port: number }).port)));
}

function stop(server: { close(cb: () => void): unknown; closeAllConnections?(): void }): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}

async function get(url: string, init?: RequestInit): Promise<[number, string]> {
  const response = await fetch(url, init);
  return [response.status, await response.text()];
}

/** Echoes a text and a binary message of `n` bytes through `client`. */
async function assertEchoes(client: TestClient, n = 70_000): Promise<void> {
  client.send("x".repeat(n));
  assert.equal(await client.nextMessage(), "x".repeat(n));
  client.send(pattern(n));
  const back = await client.nextMessage();
  assert.ok(back instanceof Uint8Array && sameBytes(back, pattern(n)));
}

/** The status line and body a raw upgrade request for `target` gets. */
async function rawUpgrade(port: number, target: string): Promise<string> {
  const response = await exchange(port, requestHead({ target }));
  return `${response.status} ${new TextDecoder().decode(response.rest).trim()}`;
}

/** Upgrades by hand, sends an unmasked frame, and returns the close code the server answers with. */
async function exchangeGarbage(port: number): Promise<number> {
  const raw = await RawClient.connect(port);
  try {
    raw.write(requestHead({ target: "/ws" }));
    await raw.readHead();
    raw.write(new Uint8Array([0x81, 0x02, 0x68, 0x69])); // "hi", unmasked: RFC 6455 §5.1 says fail
    const bytes = await raw.readToEnd();
    const frames = parseFrames(parseHead(bytes).rest);
    const close = frames.find((frame) => frame.opcode === 8)!;
    return (close.payload[0] << 8) | close.payload[1];
  } finally {
    await raw.close();
  }
}

after(() => {
  for (const ws of servers) ws.terminate();
});

describe("serve(handler, { server }) on an existing node:http server", () => {
  it("upgrades its path, leaves plain requests to the app, and close() leaves the server running", async () => {
    const http = createServer(hello);
    const port = await listen(http);
    const wsd = serve(echo, { server: http, path: "/ws" });
    try {
      assert.equal(wsd.backend, "node");
      assert.deepEqual(await wsd.ready, { hostname: HOST, port });
      assert.deepEqual(await get(`http://${HOST}:${port}/`), [200, "hello"]);
      const client = await openClient("ours", `ws://${HOST}:${port}/ws?room=1`);
      await assertEchoes(client);
      assert.equal(new URL(servers.at(-1)!.request.url).search, "?room=1");
      // Another path, and no other upgrade listener: 404, not a hung socket.
      assert.equal(await rawUpgrade(port, "/other"), "404 Not Found");

      await wsd.close();
      assert.deepEqual(await withTimeout(client.closed, "the 1001"), [1001, "Server shutting down"]);
      assert.equal(http.listenerCount("upgrade"), 0);
      assert.equal(http.listening, true);
      assert.deepEqual(await get(`http://${HOST}:${port}/`), [200, "hello"]);
    } finally {
      await wsd.close();
      await stop(http);
    }
  });

  it("waits for a server that listens later; without path every upgrade goes to the handler", async () => {
    const http = createServer(hello);
    let listened: unknown;
    const wsd = serve((request) => {
      if (new URL(request.url).pathname !== "/ws") return new Response("nope\n", { status: 403 });
      return echo(request);
    }, { server: http, onListen: (addr) => listened = addr });
    try {
      assert.equal(wsd.addr, null);
      const port = await listen(http);
      assert.deepEqual(await wsd.ready, { hostname: HOST, port });
      assert.deepEqual(listened, { hostname: HOST, port });
      assert.equal(wsd.port, port);
      await assertEchoes(await openClient("ours", `ws://${HOST}:${port}/ws`), 10);
      assert.equal(await rawUpgrade(port, "/elsewhere"), "403 nope");
    } finally {
      await wsd.close();
      await stop(http);
    }
  });

  it("two attachments by path on one server, next to another upgrade listener", async () => {
    const http = createServer(hello);
    const port = await listen(http);
    const upper = serve((request) => {
      const ws = makeServer(request);
      ws.on("message", (m) => ws.send(typeof m === "string" ? m.toUpperCase() : m));
      return ws.startConnection();
    }, { server: http, path: "/upper" });
    const plain = serve(echo, { server: http, path: "/echo" });
    // The application's own listener, for a path of its own.
    const own = (req: IncomingMessage, socket: Duplex) => {
      if (req.url === "/own") socket.end("HTTP/1.1 418 I'm a teapot\r\nConnection: close\r\n\r\n");
    };
    http.on("upgrade", own);
    try {
      const a = await openClient("ours", `ws://${HOST}:${port}/upper`);
      const b = await openClient("ws", `ws://${HOST}:${port}/echo`);
      a.send("abc");
      b.send("abc");
      assert.equal(await a.nextMessage(), "ABC");
      assert.equal(await b.nextMessage(), "abc");
      assert.equal(await rawUpgrade(port, "/own"), "418 ");
      await plain.close();
      assert.deepEqual(await withTimeout(b.closed, "b's 1001"), [1001, "Server shutting down"]);
      a.send("still");
      assert.equal(await a.nextMessage(), "STILL");
      a.close(1000, "bye");
      await withTimeout(a.closed, "a's close");
    } finally {
      await upper.close();
      await plain.close();
      http.off("upgrade", own);
      await stop(http);
    }
  });

  it("an https server: wss://, and the request's URL says https", async () => {
    const https = createHttpsServer({ cert: fixture("server.pem"), key: fixture("server-key.pem") }, hello);
    const port = await listen(https as unknown as HttpServer);
    const wsd = serve(echo, { server: https, path: "/ws", perMessageDeflate: true });
    try {
      await wsd.ready;
      const client = await openClient("ours", `wss://localhost:${port}/ws`, { caCerts: [fixture("ca.pem")] });
      await assertEchoes(client, 200_000);
      assert.equal(new URL(servers.at(-1)!.request.url).protocol, "https:");
      client.close(1000, "done");
      assert.deepEqual(await withTimeout(client.closed, "close"), [1000, "done"]);
    } finally {
      await wsd.close();
      await stop(https);
    }
  });

  it("100 clients at once, one of them sending garbage; close() sends every one 1001", async () => {
    const http = createServer(hello);
    const port = await listen(http);
    const wsd = serve(echo, { server: http, path: "/ws" });
    try {
      const clients = await Promise.all(
        Array.from({ length: 100 }, () => openClient("ours", `ws://${HOST}:${port}/ws`)),
      );
      // A peer that breaks the protocol (an unmasked frame) is closed with 1002; the others go on.
      const raw = await exchangeGarbage(port);
      assert.equal(raw, 1002);
      await Promise.all(clients.map(async (client, i) => {
        client.send(`m${i}`);
        assert.equal(await client.nextMessage(), `m${i}`);
      }));
      assert.deepEqual(await get(`http://${HOST}:${port}/`), [200, "hello"]);
      await wsd.close();
      for (const client of clients) {
        assert.deepEqual(await withTimeout(client.closed, "a 1001"), [1001, "Server shutting down"]);
      }
    } finally {
      await wsd.close();
      await stop(http);
    }
  });

  it("rejects what does not fit an existing server", () => {
    const http = createServer();
    assert.throws(() => serve(echo, { server: http, port: 8080 }), /Cannot serve: port does not apply/);
    assert.throws(() => serve(echo, { server: http, cert: "x", key: "y" }), /Cannot serve: cert does not apply/);
    assert.throws(() => serve(echo, { server: http, backend: "tcp" }), TypeError);
    assert.throws(() => serve(echo, { path: "/ws" }), /path must be .* goes with server/);
    assert.throws(() => serve(echo, { server: http, path: "ws" }), /path must be/);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => serve(echo, { server: {} as any }), /server must be a node:http/);
    assert.equal(http.listenerCount("upgrade"), 0);
  });
});

describe("handleUpgrade(handler) in the application's own upgrade listener", () => {
  it("routes by hand; a handler's plain answer is written as is", async () => {
    const http = createServer(hello);
    const port = await listen(http);
    const upgrade = handleUpgrade((request) => {
      if (request.headers.get("authorization") !== null) return echo(request);
      return new Response("who are you?\n", { status: 401 });
    }, { heartbeat: false });
    http.on("upgrade", (req, socket, head) => {
      if (req.url === "/ws") upgrade(req, socket, head);
      else socket.destroy();
    });
    try {
      const client = await openClient("ours", `ws://${HOST}:${port}/ws`, { headers: { Authorization: "Bearer x" } });
      await assertEchoes(client);
      assert.equal(await rawUpgrade(port, "/ws"), "401 who are you?");
      client.close(1000, "");
      await withTimeout(client.closed, "close");
    } finally {
      await stop(http);
    }
  });

  it("a handler that throws gets the onError answer", async () => {
    const http = createServer(hello);
    const port = await listen(http);
    http.on(
      "upgrade",
      handleUpgrade(() => {
        throw new Error("boom");
      }, { onError: (error) => new Response(`${(error as Error).message}\n`, { status: 503 }) }),
    );
    try {
      assert.equal(await rawUpgrade(port, "/"), "503 boom");
    } finally {
      await stop(http);
    }
  });

  it("a handler that starts a connection but answers something else: that server fails (error, then 1006)", async () => {
    const http = createServer(hello);
    const port = await listen(http);
    const events: unknown[] = [];
    const closed = Promise.withResolvers<void>();
    http.on(
      "upgrade",
      handleUpgrade((request) => {
        const ws = makeServer(request);
        ws.on("error", (error) => events.push((error as Error).name));
        ws.on("close", (code) => {
          events.push(code);
          closed.resolve();
        });
        ws.startConnection();
        return new Response("not now\n", { status: 503 });
      }),
    );
    try {
      assert.equal(await rawUpgrade(port, "/"), "503 not now");
      await withTimeout(closed.promise, "the server's close");
      assert.deepEqual(events, ["HandshakeError", 1006]);
    } finally {
      await stop(http);
    }
  });

  it("rejects a non-function and unknown options", () => {
    // deno-lint-ignore no-explicit-any
    assert.throws(() => handleUpgrade("x" as any), TypeError);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => handleUpgrade(echo, { path: "/ws" } as any), TypeError);
  });
});

describe("frameworks on node:http", () => {
  it("Express: serve(handler, { server: app.listen(), path })", async () => {
    const app = express();
    app.get("/", (_req: unknown, res: { send(body: string): void }) => res.send("hello"));
    const http = app.listen(0, HOST);
    const wsd = serve(echo, { server: http, path: "/ws" });
    try {
      const { port } = await wsd.ready;
      assert.deepEqual(await get(`http://${HOST}:${port}/`), [200, "hello"]);
      const client = await openClient("ws", `ws://${HOST}:${port}/ws`);
      await assertEchoes(client);
      client.close(1000, "");
      await withTimeout(client.closed, "close");
    } finally {
      await wsd.close();
      await stop(http);
    }
  });

  it("Fastify: fastify.server.on('upgrade', handleUpgrade(handler))", async () => {
    const fastify = Fastify();
    fastify.get("/", () => "hello");
    fastify.server.on("upgrade", handleUpgrade(echo));
    await fastify.listen({ port: 0, host: HOST });
    try {
      const { port } = fastify.server.address() as { port: number };
      assert.deepEqual(await get(`http://${HOST}:${port}/`), [200, "hello"]);
      const client = await openClient("ours", `ws://${HOST}:${port}/ws`);
      await assertEchoes(client);
      client.close(1000, "");
      await withTimeout(client.closed, "close");
    } finally {
      fastify.server.closeAllConnections();
      await fastify.close();
    }
  });
});

describe("serve() that cannot listen is never silent", () => {
  const RUNTIME = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
  const script = fileURLToPath(new URL("./_listen_taken.ts", import.meta.url));

  function run(port: number, mode: string): Promise<{ code: number | null; output: string }> {
    const args = RUNTIME === "deno" ? ["run", "-A", script] : [script];
    const child = spawn(process.execPath, [...args, String(port), mode], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let output = "";
    child.stdout!.setEncoding("utf8").on("data", (s: string) => output += s);
    child.stderr!.setEncoding("utf8").on("data", (s: string) => output += s);
    return withTimeout(
      new Promise((resolve) => child.once("exit", (code) => resolve({ code, output }))),
      "the child to exit",
      20_000,
    );
  }

  for (const backend of RUNTIME === "deno" ? ["tcp", "node", "deno"] : ["tcp", "node"]) {
    it(`${backend} backend, port taken, ready never read: the process fails naming EADDRINUSE`, async () => {
      const blocker = createServer();
      const port = await listen(blocker);
      try {
        const result = await run(port, backend);
        assert.notEqual(result.code, 0, result.output);
        assert.match(result.output, /EADDRINUSE/);
        assert.match(result.output, new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${port}`));
      } finally {
        await stop(blocker);
      }
    });
  }

  it("a caller that awaits ready handles the error itself", async () => {
    const blocker = createServer();
    const port = await listen(blocker);
    try {
      const result = await run(port, "awaited");
      assert.equal(result.code, 0, result.output);
      assert.match(result.output, /^handled: Cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    } finally {
      await stop(blocker);
    }
  });
});

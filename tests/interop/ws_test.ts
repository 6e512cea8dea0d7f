/**
 * Interoperability with the `ws` npm package (8.23.0, a test-only peer in
 * tools/rt/node_modules): our server driver on a `node:http` 'upgrade' socket
 * against a `ws` client, and our client driver against a `ws` server. The
 * opening handshakes are done by hand here; the drivers take over after them.
 * Every test stops what it starts (servers, sockets).
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import type { Buffer } from "node:buffer";
import { WebSocketDriver } from "../../src/driver/driver.ts";
import type { DriverOptions } from "../../src/driver/driver.ts";
import { computeAcceptKey, generateKey } from "../../src/protocol/handshake.ts";
import { captureUncaught, closeEvent, ms, record, socketStreams, withTimeout } from "../driver/_pair.ts";
import type { Recorder } from "../driver/_pair.ts";
import { pattern } from "../_shared/bytes.ts";
import { ws } from "../_shared/ws.ts";
import type { WsServer, WsSocket } from "../_shared/ws.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The next `event` of a ws object, as the array of its arguments. */
function next(
  emitter: WsSocket | WsServer,
  event: string,
  what = event,
): Promise<unknown[]> {
  return withTimeout(
    new Promise((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args))),
    what,
  );
}

/** Collects a ws socket's messages as [data, isBinary]. */
function collect(
  socket: WsSocket,
): { messages: Array<[Buffer, boolean]>; next(n: number): Promise<void> } {
  const messages: Array<[Buffer, boolean]> = [];
  const waiters: Array<[number, () => void]> = [];
  socket.on("message", (data: Buffer, isBinary: boolean) => {
    messages.push([data, isBinary]);
    for (const w of waiters.filter(([n]) => messages.length >= n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w[1]();
    }
  });
  return {
    messages,
    next(n: number): Promise<void> {
      if (messages.length >= n) return Promise.resolve();
      return withTimeout(
        new Promise<void>((resolve) => waiters.push([n, resolve])),
        `${n} message(s) at ws`,
        20_000,
      );
    },
  };
}

// ───────────────── our server on node:http 'upgrade', a ws client ─────────────────

interface ServerSide {
  url: string;
  /** Resolves with each accepted connection's driver, in order. */
  nextDriver(): Promise<
    { driver: WebSocketDriver; rec: Recorder; socket: net.Socket }
  >;
  stop(): Promise<void>;
}

/**
 * An http server whose 'upgrade' handler answers the handshake by hand and
 * runs a server driver on the socket. `setup` runs on each driver before it
 * is attached (add listeners there).
 */
async function startServer(
  setup: (driver: WebSocketDriver) => void = () => {},
  options: DriverOptions = {},
  acceptProtocol?: string,
): Promise<ServerSide> {
  const sockets = new Set<net.Socket>();
  const ready: Array<
    { driver: WebSocketDriver; rec: Recorder; socket: net.Socket }
  > = [];
  const waiting: Array<
    (v: { driver: WebSocketDriver; rec: Recorder; socket: net.Socket }) => void
  > = [];
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" });
    res.end("WebSocket only\n");
  });
  server.on(
    "upgrade",
    (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      const key = req.headers["sec-websocket-key"];
      if (
        typeof key !== "string" ||
        req.headers.upgrade?.toLowerCase() !== "websocket"
      ) {
        socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        return;
      }
      const offered = String(req.headers["sec-websocket-protocol"] ?? "").split(
        ",",
      ).map((s) => s.trim());
      const protocol = acceptProtocol !== undefined && offered.includes(acceptProtocol) ? acceptProtocol : null;
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\n" +
          "Upgrade: websocket\r\n" +
          "Connection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n` +
          (protocol !== null ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : "") +
          "\r\n",
      );
      // Bytes that came with the request belong to the WebSocket stream.
      if (head.length > 0) socket.unshift(head);
      const driver = new WebSocketDriver("server", options);
      const rec = record(driver);
      setup(driver);
      driver.attach(socketStreams(socket), protocol);
      const entry = { driver, rec, socket };
      const w = waiting.shift();
      if (w !== undefined) w(entry);
      else ready.push(entry);
    },
  );
  server.listen(0, "127.0.0.1");
  await withTimeout(
    new Promise<void>((resolve) => server.once("listening", () => resolve())),
    "listening",
  );
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/chat`,
    nextDriver() {
      const entry = ready.shift();
      if (entry !== undefined) return Promise.resolve(entry);
      return withTimeout(
        new Promise((resolve) => waiting.push(resolve)),
        "an upgraded connection",
      );
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections?.();
      await withTimeout(closed, "the http server closed");
    },
  };
}

/** A ws client connected to `url`, open. */
async function wsClient(
  url: string,
  protocols?: string[],
  options: Record<string, unknown> = {},
): Promise<WsSocket> {
  const client = new ws.WebSocket(url, protocols, options);
  client.on("error", () => {}); // reported through 'close'; asserted where it matters
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      client.once("open", () => resolve());
      client.once("error", reject);
    }),
    "ws client open",
  );
  return client;
}

/** Runs `body` with a started server and a ws client; stops both. */
async function withServerAndWsClient(
  body: (ctx: {
    client: WsSocket;
    driver: WebSocketDriver;
    rec: Recorder;
    socket: net.Socket;
    inbox: ReturnType<typeof collect>;
  }) => Promise<void>,
  setup?: (driver: WebSocketDriver) => void,
  options?: DriverOptions,
  clientOptions?: Record<string, unknown>,
): Promise<void> {
  const side = await startServer(setup, options);
  let client: WsSocket | undefined;
  try {
    client = await wsClient(side.url, undefined, clientOptions);
    const inbox = collect(client);
    const { driver, rec, socket } = await side.nextDriver();
    await withTimeout(rec.opened, "driver open");
    await body({ client, driver, rec, socket, inbox });
  } finally {
    client?.terminate();
    await side.stop();
  }
}

const echo = (driver: WebSocketDriver): void => {
  driver.on("message", (msg) => driver.send(msg));
};

describe("interop: our server driver (node:http upgrade) ← ws client", () => {
  it("ws accepts our handshake; the agreed subprotocol is on both sides", async () => {
    const side = await startServer(echo, {}, "chat");
    try {
      const client = await wsClient(side.url, ["superchat", "chat"]);
      const { driver, rec } = await side.nextDriver();
      await rec.opened;
      assert.equal(client.protocol, "chat");
      assert.equal(driver.protocol, "chat");
      assert.equal(
        client.extensions,
        "",
        "no permessage-deflate: we did not accept the offer",
      );
      client.terminate();
    } finally {
      await side.stop();
    }
  });

  it("a wrong Sec-WebSocket-Accept is refused by ws (the check is real)", async () => {
    const server = http.createServer();
    server.on("upgrade", (_req: http.IncomingMessage, socket: net.Socket) => {
      socket.end(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ==")}\r\n\r\n`,
      );
    });
    server.listen(0, "127.0.0.1");
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    try {
      const { port } = server.address() as net.AddressInfo;
      const client = new ws.WebSocket(`ws://127.0.0.1:${port}/`);
      const [error] = await next(client, "error", "ws handshake error");
      assert.match((error as Error).message, /Sec-WebSocket-Accept/);
      await next(client, "close");
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("text and binary from ws are received and echoed", async () => {
    await withServerAndWsClient(async ({ client, rec, inbox }) => {
      client.send("héllo from ws");
      client.send(new Uint8Array([0, 1, 2, 255]));
      client.send(pattern(70_000));
      await inbox.next(3);
      const msgs = rec.messages();
      assert.equal(msgs[0], "héllo from ws");
      assert.deepEqual(msgs[1], new Uint8Array([0, 1, 2, 255]));
      assert.deepEqual(msgs[2], pattern(70_000));
      const [[t, tBin], [b, bBin], [big, bigBin]] = inbox.messages;
      assert.equal(tBin, false);
      assert.equal(decoder.decode(t), "héllo from ws");
      assert.equal(bBin, true);
      assert.deepEqual(new Uint8Array(b), new Uint8Array([0, 1, 2, 255]));
      assert.equal(bigBin, true);
      assert.deepEqual(new Uint8Array(big), pattern(70_000));
    }, echo);
  });

  it("1 MiB text and binary echo", async () => {
    await withServerAndWsClient(async ({ client, inbox }) => {
      const text = "x".repeat(1024 * 1024);
      client.send(text);
      client.send(pattern(1024 * 1024));
      await inbox.next(2);
      assert.ok(decoder.decode(inbox.messages[0][0]) === text);
      assert.deepEqual(
        new Uint8Array(inbox.messages[1][0]),
        pattern(1024 * 1024),
      );
    }, echo);
  });

  it("a ping from ws is answered with its payload; our ping is answered by ws", async () => {
    await withServerAndWsClient(async ({ client, driver, rec }) => {
      const pong = next(client, "pong", "pong at ws");
      client.ping("are you there");
      const [data] = await pong;
      assert.equal(decoder.decode(data as Buffer), "are you there");
      assert.deepEqual(rec.events.find((e) => e[0] === "ping"), [
        "ping",
        encoder.encode("are you there"),
      ]);
      const ok = await withTimeout(
        new Promise<boolean>((resolve) => driver.sendPing("ours", () => resolve(true))),
        "our pong",
      );
      assert.equal(ok, true);
    });
  });

  it("ws closes with a code: we see it, ws sees our echo of its code and reason", async () => {
    await withServerAndWsClient(async ({ client, rec, socket }) => {
      const socketClosed = closeEvent(socket);
      const wsClosed = next(client, "close", "ws close");
      client.close(4001, "bye from ws");
      assert.deepEqual(await withTimeout(rec.closed, "driver close"), [
        4001,
        "bye from ws",
      ]);
      // Our echo carries the code and the reason ws sent.
      const [code, reason] = await wsClosed;
      assert.equal(code, 4001);
      assert.equal(decoder.decode(reason as Buffer), "bye from ws");
      await withTimeout(socketClosed, "socket closed");
    });
  });

  it("we close with a code: ws sees it and its reason", async () => {
    await withServerAndWsClient(async ({ client, driver, rec, socket }) => {
      const socketClosed = closeEvent(socket);
      const wsClosed = next(client, "close", "ws close");
      driver.closeConnection(4002, "bye from us");
      const [code, reason] = await wsClosed;
      assert.equal(code, 4002);
      assert.equal(decoder.decode(reason as Buffer), "bye from us");
      // ws echoes the code and the reason (RFC 6455 §5.5.1 lets it); we report
      // the close frame we received.
      assert.deepEqual(await withTimeout(rec.closed, "driver close"), [
        4002,
        "bye from us",
      ]);
      await withTimeout(socketClosed, "socket closed");
    });
  });

  it("ws sends then closes at once: our echo listener survives (no uncaught error)", async () => {
    for (let round = 0; round < 5; round++) {
      await withServerAndWsClient(async ({ client, rec }) => {
        const caught = await captureUncaught(async () => {
          client.send("last words");
          client.close(1000);
          await withTimeout(rec.closed, "driver close");
        });
        assert.deepEqual(caught, []);
        assert.deepEqual(rec.messages(), ["last words"]);
        assert.equal((await rec.closed)[0], 1000);
      }, echo);
    }
  });

  it("ws closing without a code is reported as 1005", async () => {
    await withServerAndWsClient(async ({ client, rec }) => {
      client.close();
      assert.deepEqual(await withTimeout(rec.closed, "driver close"), [
        1005,
        "",
      ]);
    });
  });

  it("a message over our maxLength: we close with 1009 and ws sees 1009", async () => {
    await withServerAndWsClient(
      async ({ client, rec }) => {
        const wsClosed = next(client, "close", "ws close");
        client.send(new Uint8Array(1025));
        const [code] = await wsClosed;
        assert.equal(code, 1009);
        assert.equal((await withTimeout(rec.closed, "driver close"))[0], 1009);
        assert.deepEqual(rec.names(), ["open", "error", "close"]);
      },
      undefined,
      { maxLength: 1024 },
    );
  });

  it("a message over ws's maxPayload: ws closes with 1009, we report 1009", async () => {
    await withServerAndWsClient(
      async ({ driver, rec }) => {
        driver.send(new Uint8Array(2048));
        assert.equal((await withTimeout(rec.closed, "driver close"))[0], 1009);
      },
      undefined,
      {},
      { maxPayload: 1024 },
    );
  });

  it("ws terminating the TCP connection: we close with 1006", async () => {
    await withServerAndWsClient(async ({ client, rec }) => {
      client.terminate();
      assert.equal((await withTimeout(rec.closed, "driver close"))[0], 1006);
    });
  });
});

// ───────────────── our client driver against a ws server ─────────────────

interface ClientSide {
  driver: WebSocketDriver;
  rec: Recorder;
  socket: net.Socket;
  /** The ws server's end of this connection. */
  peer: WsSocket;
  /** How many bytes followed the 101 head in the same read. */
  leftover: number;
}

/**
 * Connects to `port` with node:net, writes the GET request, reads the 101 head
 * and hands the socket, with the bytes that followed the head, to a client
 * driver. `serverSocket` resolves with the ws server's end.
 */
async function connectClient(
  port: number,
  serverSocket: Promise<WsSocket>,
  options: DriverOptions = {},
  waitForServerSend = false,
): Promise<ClientSide> {
  const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    }),
    "connect",
  );
  const key = generateKey();
  socket.write(
    "GET /chat HTTP/1.1\r\n" +
      `Host: 127.0.0.1:${port}\r\n` +
      "Upgrade: websocket\r\n" +
      "Connection: Upgrade\r\n" +
      `Sec-WebSocket-Key: ${key}\r\n` +
      "Sec-WebSocket-Version: 13\r\n" +
      "\r\n",
  );
  const peer = await serverSocket;
  // Let the server's first frames arrive before the head is read, so that
  // they share a read with it: the leftover path is then really taken.
  if (waitForServerSend) {
    await new Promise((resolve) => setTimeout(resolve, ms(30)));
  }
  const { head, rest } = await withTimeout(
    new Promise<{ head: string; rest: Uint8Array }>((resolve, reject) => {
      let buffered = new Uint8Array(0);
      const onData = (chunk: Uint8Array): void => {
        const joined = new Uint8Array(buffered.length + chunk.length);
        joined.set(buffered);
        joined.set(chunk, buffered.length);
        buffered = joined;
        for (let i = 3; i < buffered.length; i++) {
          if (
            buffered[i - 3] === 13 && buffered[i - 2] === 10 &&
            buffered[i - 1] === 13 && buffered[i] === 10
          ) {
            socket.off("data", onData);
            socket.off("error", reject);
            socket.pause();
            resolve({
              head: decoder.decode(buffered.subarray(0, i + 1)),
              rest: buffered.slice(i + 1),
            });
            return;
          }
        }
      };
      socket.on("data", onData);
      socket.once("error", reject);
    }),
    "the 101 head",
  );
  const lines = head.split("\r\n");
  assert.match(lines[0], /^HTTP\/1\.1 101 /);
  const accept = lines.find((l) => /^sec-websocket-accept:/i.test(l))?.split(
    ":",
  )[1].trim();
  assert.equal(accept, computeAcceptKey(key));
  // The bytes after the head are the first WebSocket bytes: put them back.
  if (rest.length > 0) socket.unshift(rest);
  const driver = new WebSocketDriver("client", options);
  const rec = record(driver);
  driver.attach(socketStreams(socket));
  return { driver, rec, socket, peer, leftover: rest.length };
}

/** A ws server; `connections` resolves its sockets in order. */
async function startWsServer(
  onConnection: (socket: WsSocket) => void = () => {},
  options: Record<string, unknown> = {},
): Promise<
  { port: number; nextConnection(): Promise<WsSocket>; stop(): Promise<void> }
> {
  const server = new ws.WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    ...options,
  });
  const ready: WsSocket[] = [];
  const waiting: Array<(s: WsSocket) => void> = [];
  server.on("connection", (socket: WsSocket) => {
    socket.on("error", () => {});
    onConnection(socket);
    const w = waiting.shift();
    if (w !== undefined) w(socket);
    else ready.push(socket);
  });
  await next(server, "listening");
  return {
    port: server.address().port,
    nextConnection() {
      const s = ready.shift();
      if (s !== undefined) return Promise.resolve(s);
      return withTimeout(
        new Promise((resolve) => waiting.push(resolve)),
        "a ws connection",
      );
    },
    async stop() {
      for (const c of server.clients) c.terminate();
      await withTimeout(
        new Promise<void>((resolve) => server.close(() => resolve())),
        "ws server closed",
      );
    },
  };
}

/** Runs `body` with a ws server and our connected client; stops both. */
async function withWsServerAndClient(
  body: (ctx: ClientSide) => Promise<void>,
  onConnection?: (socket: WsSocket) => void,
  options?: DriverOptions,
  serverOptions?: Record<string, unknown>,
  waitForServerSend = false,
): Promise<void> {
  const server = await startWsServer(onConnection, serverOptions);
  let ctx: ClientSide | undefined;
  try {
    ctx = await connectClient(
      server.port,
      server.nextConnection(),
      options,
      waitForServerSend,
    );
    await withTimeout(ctx.rec.opened, "client open");
    await body(ctx);
  } finally {
    ctx?.socket.destroy();
    await server.stop();
  }
}

const wsEcho = (socket: WsSocket): void => {
  socket.on(
    "message",
    (data: Buffer, isBinary: boolean) => socket.send(data, { binary: isBinary }),
  );
};

describe("interop: our client driver → ws server", () => {
  it("bytes that came in the same read as the 101 head are not lost", async () => {
    await withWsServerAndClient(
      async ({ rec, leftover }) => {
        const msgs = await withTimeout(
          rec.nextMessages(2),
          "the welcome messages",
        );
        assert.deepEqual(msgs, ["welcome", encoder.encode("binary welcome")]);
        assert.ok(leftover > 0, "the welcome frames arrived with the head");
      },
      (socket) => {
        socket.send("welcome");
        socket.send(encoder.encode("binary welcome"));
      },
      {},
      {},
      true,
    );
  });

  it("text and binary are echoed by ws (ws checks our masking)", async () => {
    await withWsServerAndClient(async ({ driver, rec }) => {
      driver.send("héllo from wsd");
      driver.send(new Uint8Array([0, 1, 2, 255]));
      driver.send("x".repeat(1024 * 1024));
      driver.send(pattern(1024 * 1024));
      const msgs = await withTimeout(rec.nextMessages(4), "echoes", 20_000);
      assert.equal(msgs[0], "héllo from wsd");
      assert.deepEqual(msgs[1], new Uint8Array([0, 1, 2, 255]));
      assert.ok(msgs[2] === "x".repeat(1024 * 1024));
      assert.deepEqual(msgs[3], pattern(1024 * 1024));
    }, wsEcho);
  });

  it("1000 pipelined messages echoed in order", async () => {
    await withWsServerAndClient(async ({ driver, rec }) => {
      for (let i = 0; i < 1000; i++) driver.send(`m${i}`);
      const msgs = await withTimeout(
        rec.nextMessages(1000),
        "1000 echoes",
        20_000,
      );
      assert.deepEqual(msgs, Array.from({ length: 1000 }, (_, i) => `m${i}`));
    }, wsEcho);
  });

  it("ws's ping is answered; our ping is answered by ws", async () => {
    await withWsServerAndClient(async ({ driver, rec, peer }) => {
      const pong = next(peer, "pong", "pong at ws");
      peer.ping("server ping");
      const [data] = await pong;
      assert.equal(decoder.decode(data as Buffer), "server ping");
      assert.ok(rec.names().includes("ping"));
      const calls: string[] = [];
      await withTimeout(
        new Promise<void>((resolve) => {
          driver.sendPing("a", () => calls.push("a"));
          driver.sendPing("a", () => {
            calls.push("b");
            resolve();
          });
        }),
        "our pongs",
      );
      assert.deepEqual(calls, ["a", "b"]);
    });
  });

  it("we close with a code: ws sees it, ws ends the TCP connection, we report its echo (ws echoes the reason)", async () => {
    await withWsServerAndClient(async ({ driver, rec, peer, socket }) => {
      const socketClosed = closeEvent(socket);
      const wsClosed = next(peer, "close", "ws close");
      driver.closeConnection("bye from wsd", 4001);
      const [code, reason] = await wsClosed;
      assert.equal(code, 4001);
      assert.equal(decoder.decode(reason as Buffer), "bye from wsd");
      assert.deepEqual(await withTimeout(rec.closed, "client close"), [
        4001,
        "bye from wsd",
      ]);
      await withTimeout(socketClosed, "socket closed");
    });
  });

  it("ws closes with a code: we echo it with its reason and report it", async () => {
    await withWsServerAndClient(async ({ rec, peer, socket }) => {
      const socketClosed = closeEvent(socket);
      const wsClosed = next(peer, "close", "ws close");
      peer.close(4002, "bye from ws");
      assert.deepEqual(await withTimeout(rec.closed, "client close"), [
        4002,
        "bye from ws",
      ]);
      // Our echo carries the code and the reason ws sent.
      const [code, reason] = await wsClosed;
      assert.equal(code, 4002);
      assert.equal(decoder.decode(reason as Buffer), "bye from ws");
      await withTimeout(socketClosed, "socket closed");
    });
  });

  it("ws's message over our maxLength: 1009 both ways", async () => {
    await withWsServerAndClient(
      async ({ rec, peer }) => {
        const wsClosed = next(peer, "close", "ws close");
        peer.send(new Uint8Array(100));
        const [code] = await wsClosed;
        assert.equal(code, 1009);
        assert.equal((await withTimeout(rec.closed, "client close"))[0], 1009);
        assert.deepEqual(rec.names(), ["open", "error", "close"]);
      },
      undefined,
      { maxLength: 99 },
    );
  });

  it("ws terminating the connection: we close with 1006", async () => {
    await withWsServerAndClient(async ({ rec, peer }) => {
      peer.terminate();
      assert.equal((await withTimeout(rec.closed, "client close"))[0], 1006);
    });
  });
});

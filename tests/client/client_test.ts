/**
 * The WebSocket client (`makeClient`) against real servers: a `ws` 8.23.0
 * server, Python `websockets` 10.4 in a subprocess, the runtime's own server
 * (Deno.serve / Bun.serve) when there is one, a fake `node:net` server for
 * the handshake request and every kind of bad answer, and a `ws` server over
 * TLS with a test-only CA (tests/client/fixtures). Every test stops what it
 * starts.
 */

import { after, before, describe, it } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Buffer } from "node:buffer";
import { makeClient } from "../../src/client/client.ts";
import type { Client, ClientOptions } from "../../src/client/client.ts";
import { computeAcceptKey } from "../../src/protocol/handshake.ts";
import {
  closedPort,
  delay,
  hasIPv6Loopback,
  serverClose,
  serverFrame,
  startFakeServer,
  startPythonEchoServer,
  startWsServer,
  trackUnhandled,
  watch,
  withTimeout,
} from "./_servers.ts";
import type { ClientRecorder, FakeConnection, FakeServer, ProcessServer, WsEchoServer } from "./_servers.ts";

const encoder = new TextEncoder();

function fixture(name: string): string {
  return readFileSync(
    fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)),
    "utf8",
  );
}

function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 131 + 7) & 0xff;
  return out;
}

/** ASCII text of exactly `n` bytes. */
function text(n: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let s = "";
  while (s.length < n) s += alphabet;
  return s.slice(0, n);
}

const SIZES = [0, 125, 126, 65536, 1 << 20];

/** Makes a client, starts it and waits for `open`. */
async function open(
  url: string,
  options?: ClientOptions,
): Promise<{ client: Client; rec: ClientRecorder }> {
  const client = makeClient(url, options);
  const rec = watch(client);
  assert.equal(client.startConnection(), true);
  await rec.opened;
  assert.equal(client.readyState, "open");
  return { client, rec };
}

/** Closes `client` (if it is still open) and waits for its `close`. */
async function shut(
  client: Client,
  rec: ClientRecorder,
): Promise<[number, string]> {
  if (client.readyState === "open") client.closeConnection();
  return await rec.closed;
}

/** Fake-server behaviour: answer 101, then answer the client's close frame and end. */
function acceptThenCloseBack(conn: FakeConnection): void {
  conn.accept();
  closeBack(conn);
}

function closeBack(conn: FakeConnection): void {
  conn.untilClose().then((frames) => {
    const close = frames.find((f) => f.opcode === 8)!;
    conn.socket.end(serverFrame(8, close.payload));
  }, () => conn.socket.destroy());
}

function base64Bytes(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

// deno-lint-ignore no-explicit-any
const runtime = globalThis as any;

// ───────────────────────────── URLs ─────────────────────────────

describe("makeClient: URLs", () => {
  it("throws a TypeError for a malformed URL", () => {
    for (const url of ["", "not a url", "ws://exa mple.com/", "//host/path"]) {
      assert.throws(
        () => makeClient(url),
        (e: unknown) => e instanceof TypeError && /Invalid WebSocket URL/.test(e.message),
        url,
      );
    }
    // deno-lint-ignore no-explicit-any
    assert.throws(() => makeClient(42 as any), TypeError);
  });

  it("throws a TypeError for a scheme other than ws, wss, http, https", () => {
    for (
      const url of ["ftp://example.com/", "file:///tmp/x", "mailto:a@b.c"]
    ) {
      assert.throws(
        () => makeClient(url),
        (e: unknown) => e instanceof TypeError && /scheme/.test(e.message),
        url,
      );
    }
  });

  it("throws a TypeError for a fragment, even an empty one", () => {
    for (
      const url of [
        "ws://example.com/#frag",
        "ws://example.com/chat#",
        "wss://example.com/?a=1#b",
      ]
    ) {
      assert.throws(
        () => makeClient(url),
        (e: unknown) => e instanceof TypeError && /fragment/.test(e.message),
        url,
      );
    }
  });

  it("throws a TypeError for a URL without a host", () => {
    for (const url of ["ws://", "ws://:5000/", "wss://?x=1", "http://"]) {
      assert.throws(
        () => makeClient(url),
        (e: unknown) => e instanceof TypeError && /Invalid WebSocket URL/.test(e.message),
        url,
      );
    }
  });

  it("maps http: to ws: and https: to wss:, and keeps the caller's URL", () => {
    assert.equal(
      makeClient("http://example.com/a?b=1").url.href,
      "ws://example.com/a?b=1",
    );
    assert.equal(
      makeClient("https://example.com:8443/x").url.href,
      "wss://example.com:8443/x",
    );
    const given = new URL("http://example.com:8080/chat");
    const client = makeClient(given);
    assert.equal(client.url.href, "ws://example.com:8080/chat");
    assert.equal(given.href, "http://example.com:8080/chat");
    assert.equal(client.readyState, "connecting");
  });

  it("throws before connecting for bad options", () => {
    assert.throws(
      () => makeClient("ws://h/", { acceptProtocols: ["a b"] }),
      TypeError,
    );
    assert.throws(
      () => makeClient("ws://h/", { acceptProtocols: ["chat", "chat"] }),
      TypeError,
    );
    assert.throws(
      () =>
        makeClient("ws://h/", {
          additionalHeaders: { "Sec-WebSocket-Key": "x" },
        }),
      TypeError,
    );
    assert.throws(
      () => makeClient("ws://h/", { openTimeout: 0 }),
      RangeError,
    );
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => makeClient("ws://h/", { handshakeTimout: 10 } as any),
      TypeError,
    );
  });

  it("connects to ws://[::1]:port/ (IPv6)", async (t: TestContext) => {
    if (!(await hasIPv6Loopback())) {
      t.skip("::1 is not available");
      return;
    }
    const server = await startWsServer({ host: "::1" });
    try {
      const { client, rec } = await open(`ws://[::1]:${server.port}/v6`);
      const conn = await server.nextConnection();
      assert.equal(conn.request.headers.host, `[::1]:${server.port}`);
      client.send("over IPv6");
      assert.deepEqual(await rec.nextMessages(1), ["over IPv6"]);
      assert.deepEqual(await shut(client, rec), [1000, ""]);
    } finally {
      await server.close();
    }
  });
});

// ───────────────────────────── the handshake request ─────────────────────────────

describe("makeClient: the handshake request, as the server sees it", () => {
  let fake: FakeServer;
  before(async () => {
    fake = await startFakeServer((conn) => {
      const offered = conn.headers.get("sec-websocket-protocol");
      conn.accept(
        offered?.includes("chat") ? { "Sec-WebSocket-Protocol": "chat" } : {},
      );
      closeBack(conn);
    });
  });
  after(() => fake.close());

  it("sends GET with the path and query, Host, Upgrade, Connection, Key, Version, protocols and additional headers", async () => {
    const { client, rec } = await open(
      `${fake.url}/chat/room?x=1&y=%20z`,
      {
        acceptProtocols: ["superchat", "chat"],
        additionalHeaders: {
          Authorization: "Bearer t0k3n",
          Origin: "http://example.com",
          Cookie: "a=1; b=2",
        },
      },
    );
    const conn = fake.connections.at(-1)!;
    assert.equal(conn.requestLine, "GET /chat/room?x=1&y=%20z HTTP/1.1");
    const h = conn.headers;
    assert.equal(h.get("host"), `127.0.0.1:${fake.port}`);
    assert.equal(
      conn.rawHeaders.filter(([n]) => n.toLowerCase() === "host").length,
      1,
    );
    assert.equal(h.get("upgrade")?.toLowerCase(), "websocket");
    assert.match(h.get("connection") ?? "", /(^|,\s*)upgrade(\s*,|$)/i);
    const key = h.get("sec-websocket-key") ?? "";
    assert.match(key, /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(base64Bytes(key).length, 16);
    assert.equal(h.get("sec-websocket-version"), "13");
    assert.equal(h.get("sec-websocket-protocol"), "superchat, chat");
    assert.equal(h.get("authorization"), "Bearer t0k3n");
    assert.equal(h.get("origin"), "http://example.com");
    assert.equal(h.get("cookie"), "a=1; b=2");
    assert.equal(h.get("sec-websocket-extensions"), null);
    assert.equal(conn.after().length, 0, "nothing after the head before open");
    // The answer.
    assert.equal(client.protocol, "chat");
    assert.equal(client.response?.status, 101);
    assert.equal(client.response?.statusText, "Switching Protocols");
    assert.equal(
      client.response?.headers.get("sec-websocket-accept"),
      computeAcceptKey(key),
    );
    assert.equal(client.version, "hybi-13");
    assert.deepEqual(await shut(client, rec), [1000, ""]);
    assert.deepEqual(rec.names(), ["open", "close"]);
  });

  it("sends no Sec-WebSocket-Protocol when none is offered, and path / for a bare host", async () => {
    const { client, rec } = await open(fake.url);
    const conn = fake.connections.at(-1)!;
    assert.equal(conn.requestLine, "GET / HTTP/1.1");
    assert.equal(conn.headers.get("sec-websocket-protocol"), null);
    assert.equal(client.protocol, null);
    await shut(client, rec);
  });

  it("draws a fresh Sec-WebSocket-Key for every connection", async () => {
    const keys = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const { client, rec } = await open(`${fake.url}/k${i}`);
      const key = fake.connections.at(-1)!.headers.get("sec-websocket-key")!;
      assert.equal(base64Bytes(key).length, 16);
      keys.add(key);
      await shut(client, rec);
    }
    assert.equal(keys.size, 4);
  });

  it("turns userinfo in the URL into Basic Authorization, and keeps it out of the request line and Host", async () => {
    const { client, rec } = await open(
      `ws://us%C3%A9r:p%40ss@127.0.0.1:${fake.port}/private`,
    );
    const conn = fake.connections.at(-1)!;
    const expected = "Basic " +
      btoa(String.fromCharCode(...encoder.encode("usér:p@ss")));
    assert.equal(conn.headers.get("authorization"), expected);
    assert.equal(conn.requestLine, "GET /private HTTP/1.1");
    assert.equal(conn.headers.get("host"), `127.0.0.1:${fake.port}`);
    assert.ok(!conn.head.includes("p%40ss") && !conn.head.includes("@127"));
    await shut(client, rec);
  });

  it("lets an Authorization in additionalHeaders win over userinfo (one header)", async () => {
    const { client, rec } = await open(
      `ws://user:pass@127.0.0.1:${fake.port}/`,
      { additionalHeaders: [["Authorization", "Bearer x"]] },
    );
    const conn = fake.connections.at(-1)!;
    assert.equal(conn.headers.get("authorization"), "Bearer x");
    assert.equal(
      conn.rawHeaders.filter(([n]) => n.toLowerCase() === "authorization")
        .length,
      1,
    );
    await shut(client, rec);
  });

  it("leaves the default port out of Host (ws://host:80/)", async (t: TestContext) => {
    let server: FakeServer;
    try {
      server = await startFakeServer(acceptThenCloseBack, 80);
    } catch (error) {
      t.skip(`cannot listen on 127.0.0.1:80 (${(error as Error).message})`);
      return;
    }
    try {
      for (const url of ["ws://127.0.0.1/", "ws://127.0.0.1:80/"]) {
        const { client, rec } = await open(url);
        assert.equal(
          server.connections.at(-1)!.headers.get("host"),
          "127.0.0.1",
        );
        await shut(client, rec);
      }
    } finally {
      await server.close();
    }
  });
});

// ───────────────────────────── against ws ─────────────────────────────

describe("makeClient against a ws server", () => {
  let server: WsEchoServer;
  before(async () => {
    server = await startWsServer({ protocols: ["chat"] });
  });
  after(() => server.close());

  it("opens: 101, the agreed subprotocol, the request as ws saw it", async () => {
    const { client, rec } = await open(`${server.url}/path?q=1`, {
      acceptProtocols: ["superchat", "chat"],
      additionalHeaders: { Origin: "http://example.com" },
    });
    const conn = await server.nextConnection();
    assert.equal(client.response?.status, 101);
    assert.equal(client.protocol, "chat");
    assert.equal(conn.socket.protocol, "chat");
    assert.equal(conn.request.url, "/path?q=1");
    assert.equal(conn.request.method, "GET");
    assert.equal(conn.request.headers.host, `127.0.0.1:${server.port}`);
    assert.equal(
      conn.request.headers["sec-websocket-protocol"],
      "superchat, chat",
    );
    assert.equal(conn.request.headers.origin, "http://example.com");
    assert.equal(conn.request.headers["sec-websocket-version"], "13");
    assert.deepEqual(await shut(client, rec), [1000, ""]);
    assert.deepEqual(await conn.closed, [1000, ""]);
  });

  it("opens with no subprotocol when the server supports none offered", async () => {
    const { client, rec } = await open(server.url, {
      acceptProtocols: ["v2.example"],
    });
    await server.nextConnection();
    assert.equal(client.protocol, null);
    await shut(client, rec);
  });

  it("connects with an http: URL (mapped to ws:)", async () => {
    const { client, rec } = await open(
      server.url.replace("ws:", "http:") + "/h",
    );
    await server.nextConnection();
    client.send("via http:");
    assert.deepEqual(await rec.nextMessages(1), ["via http:"]);
    await shut(client, rec);
  });

  it("echoes text of 0, 125, 126, 65536 and 1 MiB bytes, and non-ASCII text", async () => {
    const { client, rec } = await open(server.url);
    await server.nextConnection();
    const sent = [...SIZES.map(text), "héllo wörld 🌍 — ✓"];
    for (const s of sent) client.send(s);
    assert.deepEqual(await rec.nextMessages(sent.length), sent);
    await shut(client, rec);
  });

  it("echoes binary of 0, 125, 126, 65536 and 1 MiB bytes", async () => {
    const { client, rec } = await open(server.url);
    await server.nextConnection();
    const sent = SIZES.map(pattern);
    for (const b of sent) client.send(b);
    const got = await rec.nextMessages(sent.length);
    assert.equal(got.length, sent.length);
    for (let i = 0; i < sent.length; i++) {
      assert.ok(got[i] instanceof Uint8Array, `message ${i} is binary`);
      assert.deepEqual(got[i], sent[i]);
    }
    // sendText / sendBinary / ArrayBuffer / other views.
    client.sendText("t");
    client.sendBinary(Uint8Array.of(1, 2));
    client.send(Uint8Array.of(3, 4, 5).buffer);
    client.send(new Uint16Array([0x0201]));
    const more = (await rec.nextMessages(sent.length + 4)).slice(sent.length);
    assert.deepEqual(more, [
      "t",
      Uint8Array.of(1, 2),
      Uint8Array.of(3, 4, 5),
      new Uint8Array(new Uint16Array([0x0201]).buffer),
    ]);
    await shut(client, rec);
  });

  it("sends messages queued before open, in order, before later ones", async () => {
    const client = makeClient(server.url);
    const rec = watch(client);
    client.send("before start 0");
    client.send(Uint8Array.of(0));
    client.startConnection();
    assert.equal(client.startConnection(), false, "started once only");
    for (let i = 1; i < 20; i++) client.send(`before open ${i}`);
    assert.equal(client.readyState, "connecting");
    await rec.opened;
    await server.nextConnection();
    client.send("after open");
    const expected = [
      "before start 0",
      Uint8Array.of(0),
      ...Array.from({ length: 19 }, (_, i) => `before open ${i + 1}`),
      "after open",
    ];
    assert.deepEqual(await rec.nextMessages(expected.length), expected);
    assert.equal(rec.names()[0], "open");
    await shut(client, rec);
  });

  it("closes from the client with a code and reason (both argument orders)", async () => {
    {
      const { client, rec } = await open(server.url);
      const conn = await server.nextConnection();
      assert.equal(client.closeConnection(4000, "bye"), true);
      assert.equal(client.readyState, "closing");
      assert.equal(client.closeConnection(4001, "again"), false);
      assert.deepEqual(await conn.closed, [4000, "bye"]);
      assert.deepEqual(await rec.closed, [4000, "bye"]);
      assert.equal(client.readyState, "closed");
    }
    {
      const { client, rec } = await open(server.url);
      const conn = await server.nextConnection();
      client.closeConnection("going", 1001);
      assert.deepEqual(await conn.closed, [1001, "going"]);
      assert.deepEqual(await rec.closed, [1001, "going"]);
    }
  });

  it("closes when the server closes, with the server's code and reason", async () => {
    const { client, rec } = await open(server.url);
    const conn = await server.nextConnection();
    conn.socket.close(4001, "server bye");
    assert.deepEqual(await rec.closed, [4001, "server bye"]);
    // The client echoes the code (RFC 6455 §5.5.1); the reason is optional.
    assert.equal((await conn.closed)[0], 4001);
    assert.equal(client.readyState, "closed");
    assert.deepEqual(rec.names(), ["open", "close"]);
    assert.equal(client.send("late"), false);
  });

  it("pings: onPong once per ping (equal payloads too), pong events; answers the server's pings", async () => {
    const { client, rec } = await open(server.url);
    const conn = await server.nextConnection();
    const calls: string[] = [];
    const allPongs = new Promise<void>((resolve) => {
      client.sendPing("p1", () => calls.push("a"));
      client.sendPing("p1", () => calls.push("b"));
      client.sendPing(Uint8Array.of(1, 2, 3), () => {
        calls.push("c");
        resolve();
      });
    });
    await withTimeout(allPongs, "pongs");
    assert.deepEqual(calls, ["a", "b", "c"]);
    const pongs = rec.events.filter((e) => e[0] === "pong").map((e) => e[1]);
    assert.deepEqual(pongs, [
      encoder.encode("p1"),
      encoder.encode("p1"),
      Uint8Array.of(1, 2, 3),
    ]);
    const serverPong = new Promise<Buffer>((resolve) => conn.socket.once("pong", resolve));
    conn.socket.ping("from ws");
    const data = await withTimeout(serverPong, "pong at ws");
    assert.equal(data.toString(), "from ws");
    assert.deepEqual(
      rec.events.find((e) => e[0] === "ping")?.[1],
      encoder.encode("from ws"),
    );
    await shut(client, rec);
  });
});

describe("makeClient options against a ws server: maxLength", () => {
  it("fails with 1009 on a message over maxLength, and tells the server", async () => {
    const server = await startWsServer({ echo: false });
    try {
      const { client, rec } = await open(server.url, { maxLength: 1000 });
      const conn = await server.nextConnection();
      conn.socket.send(pattern(1000));
      assert.deepEqual(await rec.nextMessages(1), [pattern(1000)]);
      conn.socket.send(pattern(1001));
      const [code] = await rec.closed;
      assert.equal(code, 1009);
      assert.deepEqual(rec.names(), ["open", "message", "error", "close"]);
      assert.equal((rec.errors()[0] as Error & { code?: number }).code, 1009);
      assert.equal((await conn.closed)[0], 1009);
      assert.equal(client.readyState, "closed");
    } finally {
      await server.close();
    }
  });
});

// ───────────────────────────── masking, bytes after the head ─────────────────────────────

describe("makeClient on the wire (fake server)", () => {
  it("masks every frame it sends, with changing keys", async () => {
    const fake = await startFakeServer(acceptThenCloseBack);
    try {
      const { client, rec } = await open(fake.url);
      const conn = await fake.nextConnection();
      client.send("abc");
      client.send(pattern(200));
      client.send(pattern(70_000));
      client.sendPing("p");
      client.closeConnection(1000, "done");
      const frames = await conn.untilClose();
      assert.deepEqual(frames.map((f) => f.opcode), [1, 2, 2, 9, 8]);
      for (const f of frames) {
        assert.equal(f.masked, true, `frame with opcode ${f.opcode} is masked`);
        assert.equal(f.fin, true);
        assert.equal(f.rsv, 0);
      }
      assert.deepEqual(frames[0].payload, encoder.encode("abc"));
      assert.deepEqual(frames[1].payload, pattern(200));
      assert.deepEqual(frames[2].payload, pattern(70_000));
      assert.deepEqual(frames[3].payload, encoder.encode("p"));
      assert.deepEqual(
        frames[4].payload,
        Uint8Array.of(0x03, 0xe8, ...encoder.encode("done")),
      );
      const keys = new Set(frames.map((f) => f.key!.join(",")));
      assert.ok(keys.size > 1, "masking keys differ between frames");
      assert.deepEqual(await rec.closed, [1000, "done"]);
    } finally {
      await fake.close();
    }
  });

  it("delivers frames that came in the same write as the 101 head", async () => {
    const early = [
      serverFrame(1, "first"),
      serverFrame(2, Uint8Array.of(1, 2, 3)),
      serverFrame(1, "sec", false),
      serverFrame(0, "ond"),
    ];
    const trailing = new Uint8Array(early.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of early) {
      trailing.set(f, at);
      at += f.length;
    }
    const fake = await startFakeServer((conn) => {
      conn.accept({}, trailing);
      closeBack(conn);
    });
    try {
      const client = makeClient(fake.url);
      const rec = watch(client);
      client.startConnection();
      assert.deepEqual(await rec.nextMessages(3), [
        "first",
        Uint8Array.of(1, 2, 3),
        "second",
      ]);
      assert.equal(rec.names()[0], "open");
      await shut(client, rec);
    } finally {
      await fake.close();
    }
  });

  it("delivers frames the server sent in separate writes right after the 101, in order", async () => {
    const fake = await startFakeServer((conn) => {
      conn.socket.write(conn.acceptHead());
      conn.socket.write(serverFrame(1, "one"));
      conn.socket.write(serverFrame(1, "tw", false));
      setTimeout(() => {
        conn.socket.write(serverFrame(0, "o"));
        conn.socket.write(serverFrame(2, Uint8Array.of(3)));
      }, 1);
      closeBack(conn);
    });
    try {
      const client = makeClient(fake.url);
      const rec = watch(client);
      client.startConnection();
      assert.deepEqual(await rec.nextMessages(3), ["one", "two", Uint8Array.of(3)]);
      assert.equal(rec.names()[0], "open");
      await shut(client, rec);
    } finally {
      await fake.close();
    }
  });

  it("opens, delivers what came, then closes with 1006 when the server ends right after the 101", async () => {
    const fake = await startFakeServer((conn) => {
      conn.socket.end(new Uint8Array([...new TextEncoder().encode(conn.acceptHead()), ...serverFrame(1, "last")]));
    });
    try {
      const client = makeClient(fake.url);
      const rec = watch(client);
      client.startConnection();
      const [code] = await rec.closed;
      assert.equal(code, 1006);
      assert.deepEqual(rec.names().filter((n) => n !== "error"), ["open", "message", "close"]);
    } finally {
      await fake.close();
    }
  });

  it("closes with 1006 after closeTimeout when the server never answers the close", async () => {
    const fake = await startFakeServer((conn) => conn.accept());
    try {
      const { client, rec } = await open(fake.url, { closeTimeout: 200 });
      const conn = await fake.nextConnection();
      const started = Date.now();
      client.closeConnection(1000, "bye");
      assert.equal((await conn.untilClose()).at(-1)!.opcode, 8);
      const [code] = await rec.closed;
      const elapsed = Date.now() - started;
      assert.equal(code, 1006);
      assert.ok(elapsed >= 150 && elapsed < 5000, `closed after ${elapsed} ms`);
      await withTimeout(conn.ended, "the client's socket to end");
    } finally {
      await fake.close();
    }
  });

  it("closes with 1006 when the server drops the connection without a close frame", async () => {
    const fake = await startFakeServer((conn) => conn.accept());
    try {
      const { client, rec } = await open(fake.url);
      const conn = await fake.nextConnection();
      conn.socket.destroy();
      const [code] = await rec.closed;
      assert.equal(code, 1006);
      assert.equal(client.readyState, "closed");
      assert.equal(rec.names().at(-1), "close");
      assert.equal(rec.names().filter((n) => n === "close").length, 1);
    } finally {
      await fake.close();
    }
  });

  it("handles a close frame in the same write as the 101 head", async () => {
    const fake = await startFakeServer((conn) => {
      conn.accept({}, serverClose(4002, "right away"));
      conn.untilClose().then(() => conn.socket.end(), () => {});
    });
    try {
      const client = makeClient(fake.url);
      const rec = watch(client);
      client.startConnection();
      assert.deepEqual(await rec.closed, [4002, "right away"]);
      assert.deepEqual(rec.names(), ["open", "close"]);
      const frames = await fake.connections[0].untilClose();
      assert.equal(frames.at(-1)!.masked, true);
    } finally {
      await fake.close();
    }
  });
});

// ───────────────────────────── Python websockets ─────────────────────────────

describe("makeClient against Python websockets (subprocess)", () => {
  let py: ProcessServer;
  before(async () => {
    py = await startPythonEchoServer();
  });
  after(() => py.close());

  it("echoes text and binary, and closes cleanly with 1000", async () => {
    const { client, rec } = await open(`${py.url}/echo`);
    const sent = [
      "hello python",
      pattern(3),
      "",
      pattern(0),
      text(70_000),
      pattern(1 << 20),
    ];
    for (const m of sent) client.send(m);
    assert.deepEqual(await rec.nextMessages(sent.length), sent);
    assert.equal(client.closeConnection(), true);
    assert.deepEqual(await rec.closed, [1000, ""]);
    assert.deepEqual(rec.names().filter((n) => n !== "message"), [
      "open",
      "close",
    ]);
  });

  it("gets onPong from Python's automatic pong", async () => {
    const { client, rec } = await open(py.url);
    await withTimeout(
      new Promise<void>((resolve) => client.sendPing("py", resolve)),
      "pong from Python",
    );
    await shut(client, rec);
  });
});

// ───────────────────────────── the runtime's own server ─────────────────────────────

describe("makeClient against the runtime's own WebSocket server", () => {
  it("Deno.serve + Deno.upgradeWebSocket: echo and close 1000", async (t: TestContext) => {
    if (!("Deno" in globalThis)) {
      t.skip("not on Deno");
      return;
    }
    const Deno = runtime.Deno;
    let listening!: (port: number) => void;
    const port = new Promise<number>((resolve) => listening = resolve);
    const server = Deno.serve(
      {
        hostname: "127.0.0.1",
        port: 0,
        onListen: (addr: { port: number }) => listening(addr.port),
      },
      (req: Request) => {
        const { socket, response } = Deno.upgradeWebSocket(req);
        socket.binaryType = "arraybuffer";
        socket.onmessage = (e: MessageEvent) => socket.send(e.data);
        return response;
      },
    );
    try {
      const { client, rec } = await open(`ws://127.0.0.1:${await port}/`);
      const sent = ["deno", pattern(1000), text(70_000)];
      for (const m of sent) client.send(m);
      assert.deepEqual(await rec.nextMessages(sent.length), sent);
      assert.deepEqual(await shut(client, rec), [1000, ""]);
    } finally {
      await server.shutdown();
    }
  });

  it("Bun.serve({ websocket }): echo and close 1000", async (t: TestContext) => {
    if (!("Bun" in globalThis)) {
      t.skip("not on Bun");
      return;
    }
    const server = runtime.Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      // deno-lint-ignore no-explicit-any
      fetch(req: Request, srv: any) {
        if (srv.upgrade(req)) return undefined;
        return new Response("WebSocket only", { status: 426 });
      },
      websocket: {
        // deno-lint-ignore no-explicit-any
        message(ws: any, message: unknown) {
          ws.send(message);
        },
      },
    });
    try {
      const { client, rec } = await open(`ws://127.0.0.1:${server.port}/`);
      const sent = ["bun", pattern(1000), text(70_000)];
      for (const m of sent) client.send(m);
      assert.deepEqual(await rec.nextMessages(sent.length), sent);
      assert.deepEqual(await shut(client, rec), [1000, ""]);
    } finally {
      server.stop(true);
    }
  });
});

// ───────────────────────────── handshake failures ─────────────────────────────

/**
 * Runs a client that must fail to open: `error` (matching every pattern)
 * then `close` with 1006, state closed, no `open`, no unhandled rejection.
 */
async function expectFailure(
  url: string,
  options: ClientOptions | undefined,
  patterns: RegExp[],
): Promise<{ client: Client; rec: ClientRecorder; error: Error }> {
  const unhandled = trackUnhandled();
  try {
    const client = makeClient(url, options);
    const rec = watch(client);
    assert.equal(client.startConnection(), true);
    const [code, reason] = await rec.closed;
    await delay(30);
    assert.deepEqual(rec.names(), ["error", "close"]);
    assert.equal(code, 1006);
    assert.equal(client.readyState, "closed");
    const error = rec.errors()[0];
    assert.ok(error instanceof Error);
    assert.equal(reason, error.message);
    for (const p of patterns) assert.match(error.message, p);
    assert.deepEqual(unhandled.errors, []);
    assert.equal(client.startConnection(), false);
    return { client, rec, error };
  } finally {
    unhandled.stop();
  }
}

describe("makeClient: handshake failures → error, then close 1006", () => {
  /** A fake server that answers each request with `answer`, then waits. */
  async function answering(
    answer: string | ((conn: FakeConnection) => string),
    options: ClientOptions | undefined,
    patterns: RegExp[],
  ): Promise<Client> {
    const fake = await startFakeServer((conn) => {
      conn.socket.write(typeof answer === "string" ? answer : answer(conn));
    });
    try {
      const { client } = await expectFailure(fake.url, options, patterns);
      // The client let go of its socket.
      await withTimeout(
        fake.connections[0].ended,
        "the client's socket to end",
      );
      return client;
    } finally {
      await fake.close();
    }
  }

  it("a 404", async () => {
    const client = await answering(
      "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
      undefined,
      [/404/, /101/],
    );
    assert.equal(client.response?.status, 404);
    assert.equal(client.response?.statusText, "Not Found");
  });

  it("a 200 (an ordinary HTTP server)", async () => {
    const client = await answering(
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
      undefined,
      [/200/],
    );
    assert.equal(client.response?.status, 200);
  });

  it("a 101 without Upgrade", async () => {
    await answering((c) => c.acceptHead({ Upgrade: null }), undefined, [
      /Upgrade/,
    ]);
  });

  it("a 101 with a wrong Upgrade", async () => {
    await answering((c) => c.acceptHead({ Upgrade: "h2c" }), undefined, [
      /Upgrade/,
      /h2c/,
    ]);
  });

  it("a 101 without Connection", async () => {
    await answering((c) => c.acceptHead({ Connection: null }), undefined, [
      /Connection/,
    ]);
  });

  it("a wrong Sec-WebSocket-Accept", async () => {
    await answering(
      (c) =>
        c.acceptHead({
          "Sec-WebSocket-Accept": computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="),
        }),
      undefined,
      [/Sec-WebSocket-Accept/],
    );
  });

  it("a missing Sec-WebSocket-Accept", async () => {
    await answering(
      (c) => c.acceptHead({ "Sec-WebSocket-Accept": null }),
      undefined,
      [/Sec-WebSocket-Accept/],
    );
  });

  it("a subprotocol that was not offered", async () => {
    await answering(
      (c) => c.acceptHead({ "Sec-WebSocket-Protocol": "other" }),
      { acceptProtocols: ["chat"] },
      [/Sec-WebSocket-Protocol/, /other/],
    );
    await answering(
      (c) => c.acceptHead({ "Sec-WebSocket-Protocol": "chat" }),
      undefined,
      [/Sec-WebSocket-Protocol/, /chat/],
    );
  });

  it("an extension that was not offered", async () => {
    await answering(
      (c) => c.acceptHead({ "Sec-WebSocket-Extensions": "permessage-deflate" }),
      undefined,
      [/Sec-WebSocket-Extensions/, /permessage-deflate/],
    );
  });

  it("a malformed response head", async () => {
    for (
      const answer of [
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade websocket\r\n\r\n",
        "garbage\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\n",
        "HTTP/2 101\r\n\r\n",
      ]
    ) {
      await answering(answer, undefined, [/invalid handshake response/i]);
    }
  });

  it("a response head larger than the limit", async () => {
    await answering(
      (c) => c.acceptHead({ "X-Big": "a".repeat(20_000) }),
      undefined,
      [/invalid handshake response/i],
    );
  });

  it("the server closing before answering", async () => {
    const fake = await startFakeServer((conn) => conn.socket.end());
    try {
      await expectFailure(fake.url, undefined, [/closed the connection/]);
    } finally {
      await fake.close();
    }
  });

  it("the server resetting the connection before answering", async () => {
    const fake = await startFakeServer((conn) => {
      const socket = conn.socket as unknown as {
        resetAndDestroy?: () => void;
        destroy(): void;
      };
      if (socket.resetAndDestroy) socket.resetAndDestroy();
      else socket.destroy();
    });
    try {
      await expectFailure(fake.url, undefined, [/Cannot connect/]);
    } finally {
      await fake.close();
    }
  });

  it("the server answering half a head, then closing", async () => {
    const fake = await startFakeServer((conn) => {
      conn.socket.end("HTTP/1.1 101 Switching Protocols\r\nUpgrade: webs");
    });
    try {
      await expectFailure(fake.url, undefined, [/closed the connection/]);
    } finally {
      await fake.close();
    }
  });

  it("connection refused", async () => {
    const port = await closedPort();
    const { client } = await expectFailure(
      `ws://127.0.0.1:${port}/`,
      undefined,
      [/Cannot connect/, /refused|ECONNREFUSED/i],
    );
    assert.equal(client.response, null);
  });

  it("a failure with no listeners at all is quiet (no throw, no rejection)", async () => {
    const port = await closedPort();
    const unhandled = trackUnhandled();
    try {
      const client = makeClient(`ws://127.0.0.1:${port}/`);
      client.startConnection();
      for (let i = 0; i < 100 && client.readyState !== "closed"; i++) {
        await delay(20);
      }
      assert.equal(client.readyState, "closed");
      await delay(30);
      assert.deepEqual(unhandled.errors, []);
    } finally {
      unhandled.stop();
    }
  });

  it("a server that never answers → openTimeout", async () => {
    const fake = await startFakeServer(() => {});
    try {
      const started = Date.now();
      await expectFailure(fake.url, { openTimeout: 300 }, [
        /timed out/,
        /300 ms/,
      ]);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250, `waited ${elapsed} ms`);
      assert.ok(elapsed < 5000, `waited ${elapsed} ms`);
      await withTimeout(
        fake.connections[0].ended,
        "the client's socket to end",
      );
    } finally {
      await fake.close();
    }
  });

  it("closeConnection() while connecting → close 1006, no open, no error", async () => {
    const fake = await startFakeServer(() => {});
    const unhandled = trackUnhandled();
    try {
      const client = makeClient(fake.url);
      const rec = watch(client);
      client.startConnection();
      const conn = await fake.nextConnection();
      assert.equal(client.readyState, "connecting");
      assert.equal(client.closeConnection(), true);
      assert.equal(client.readyState, "closed");
      const [code] = await rec.closed;
      assert.equal(code, 1006);
      // A late answer must not open it.
      conn.accept();
      await withTimeout(conn.ended, "the client's socket to end");
      await delay(50);
      assert.deepEqual(rec.names(), ["close"]);
      assert.deepEqual(unhandled.errors, []);
    } finally {
      unhandled.stop();
      await fake.close();
    }
  });

  it("closeConnection() right after startConnection (while the TCP connect runs)", async () => {
    const server = await startWsServer();
    const unhandled = trackUnhandled();
    try {
      const client = makeClient(server.url);
      const rec = watch(client);
      client.startConnection();
      client.send("never sent");
      client.closeConnection();
      assert.deepEqual(await rec.closed, [
        1006,
        "Closed before the connection opened",
      ]);
      await delay(100);
      assert.deepEqual(rec.names(), ["close"]);
      assert.equal(server.connections.length, 0);
      assert.deepEqual(unhandled.errors, []);
    } finally {
      unhandled.stop();
      await server.close();
    }
  });

  it("closeConnection() before startConnection", async () => {
    const client = makeClient("ws://127.0.0.1:9/");
    const rec = watch(client);
    client.closeConnection();
    assert.deepEqual(await rec.closed, [
      1006,
      "Closed before the connection opened",
    ]);
    assert.equal(client.startConnection(), false);
    await delay(20);
    assert.deepEqual(rec.names(), ["close"]);
  });
});

// ───────────────────────────── wss:// ─────────────────────────────

describe("makeClient over TLS (wss://)", () => {
  const tls = { key: fixture("server-key.pem"), cert: fixture("server.pem") };
  const ca = fixture("ca.pem");
  let server: WsEchoServer;
  before(async () => {
    server = await startWsServer({ tls });
  });
  after(() => server.close());

  it("connects with caCerts: [the test CA] and echoes (127.0.0.1)", async () => {
    assert.ok(server.url.startsWith("wss://127.0.0.1:"));
    const { client, rec } = await open(`${server.url}/secure`, {
      caCerts: [ca],
    });
    const conn = await server.nextConnection();
    assert.equal(conn.request.url, "/secure");
    const sent = ["secure", pattern(100_000)];
    for (const m of sent) client.send(m);
    assert.deepEqual(await rec.nextMessages(2), sent);
    assert.deepEqual(await shut(client, rec), [1000, ""]);
  });

  it("connects to https://localhost:port (mapped to wss:, name checked)", async () => {
    const { client, rec } = await open(
      `https://localhost:${server.port}/`,
      { caCerts: [ca] },
    );
    const conn = await server.nextConnection();
    assert.equal(conn.request.headers.host, `localhost:${server.port}`);
    client.send("by name");
    assert.deepEqual(await rec.nextMessages(1), ["by name"]);
    await shut(client, rec);
  });

  it("fails without caCerts: the certificate is not trusted", async () => {
    const { client } = await expectFailure(server.url, undefined, [
      /Cannot connect/,
      /certificate|issuer/i,
    ]);
    assert.equal(client.response, null);
  });

  it("fails when the certificate does not name the host", async (t: TestContext) => {
    let other: WsEchoServer;
    try {
      other = await startWsServer({ tls, host: "127.0.0.2" });
    } catch (error) {
      t.skip(`cannot listen on 127.0.0.2 (${(error as Error).message})`);
      return;
    }
    try {
      await expectFailure(other.url, { caCerts: [ca] }, [
        /Cannot connect/,
        /certificate|altname|name|IP/i,
      ]);
      assert.equal(other.connections.length, 0);
    } finally {
      await other.close();
    }
  });
});

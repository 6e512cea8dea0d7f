// The WHATWG WebSocket facade: browser behaviours (after the Web Platform
// Tests' websockets/ suite), over this library's client.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "../../mod.ts";
import { makeServer, serve } from "../../server.ts";
import { closedPort, startWsServer, withTimeout } from "./_servers.ts";
import type { WsEchoServer } from "./_servers.ts";

/** Resolves with the next event of `type`. */
function next<T extends Event = Event>(ws: WebSocket, type: string): Promise<T> {
  return withTimeout(
    new Promise<T>((resolve) => ws.addEventListener(type, (e) => resolve(e as T), { once: true })),
    `a ${type} event`,
  );
}

/** Records the event types of `ws`, in order. */
function log(ws: WebSocket): string[] {
  const seen: string[] = [];
  for (const type of ["open", "message", "error", "close"]) ws.addEventListener(type, () => seen.push(type));
  return seen;
}

/** Catches what console.error reports while `body` runs. */
async function capturingConsoleError(body: () => Promise<void>): Promise<unknown[][]> {
  const reported: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => reported.push(args);
  try {
    await body();
  } finally {
    console.error = original;
  }
  return reported;
}

describe("WebSocket: the constructor", () => {
  it("has the numeric readyState constants, on the class and on instances", async () => {
    assert.deepEqual([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED], [0, 1, 2, 3]);
    const port = await closedPort();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.onerror = () => {};
    assert.deepEqual([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED], [0, 1, 2, 3]);
    assert.equal(ws.readyState, WebSocket.CONNECTING);
    assert.ok(ws instanceof EventTarget);
    await next(ws, "close");
  });

  it("throws SyntaxError for a relative URL, another scheme, a fragment, bad or repeated subprotocols", () => {
    const syntax = (e: unknown) => e instanceof DOMException && e.name === "SyntaxError";
    assert.throws(() => new WebSocket("/relative"), syntax);
    assert.throws(() => new WebSocket("ftp://example.com/"), syntax);
    assert.throws(() => new WebSocket("ws://example.com/#frag"), syntax);
    assert.throws(() => new WebSocket("ws://example.com/", "a b"), syntax);
    assert.throws(() => new WebSocket("ws://example.com/", ["chat", "chat"]), syntax);
    assert.throws(() => new WebSocket("ws://example.com/", { nope: 1 } as never), TypeError);
  });

  it("url is a string, http(s): mapped to ws(s):", async () => {
    const port = await closedPort();
    const ws = new WebSocket(new URL(`http://127.0.0.1:${port}/path?q=1`));
    ws.onerror = () => {};
    assert.equal(ws.url, `ws://127.0.0.1:${port}/path?q=1`);
    assert.equal(typeof ws.url, "string");
    assert.equal(ws.protocol, "");
    assert.equal(ws.extensions, "");
    assert.equal(ws.binaryType, "blob");
    await next(ws, "close");
  });
});

describe("WebSocket: talking to a ws echo server", () => {
  let server: WsEchoServer;
  let compressing: WsEchoServer;
  before(async () => {
    server = await startWsServer({ protocols: ["chat"] });
    compressing = await startWsServer({ perMessageDeflate: true });
  });
  after(async () => {
    await server.close();
    await compressing.close();
  });

  it("send() before open throws InvalidStateError", async () => {
    const ws = new WebSocket(server.url);
    assert.throws(
      () => ws.send("too early"),
      (e: unknown) => e instanceof DOMException && e.name === "InvalidStateError",
    );
    await next(ws, "open");
    ws.close();
    await next(ws, "close");
  });

  it("an echo conversation: open, messages of every type, a browser-style close", async () => {
    const ws = new WebSocket(server.url, "chat");
    const events = log(ws);
    const opened = await next(ws, "open");
    assert.equal(opened.type, "open");
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(ws.protocol, "chat");

    ws.send("text ü");
    const text = await next<MessageEvent>(ws, "message");
    assert.ok(text instanceof MessageEvent);
    assert.equal(text.data, "text ü");
    assert.equal(text.origin, new URL(server.url).origin);

    // binaryType "blob" (the default): a Blob.
    ws.send(new Uint8Array([1, 2, 3]));
    const blob = (await next<MessageEvent>(ws, "message")).data;
    assert.ok(blob instanceof Blob);
    assert.deepEqual([...new Uint8Array(await blob.arrayBuffer())], [1, 2, 3]);

    // binaryType switched: ArrayBuffers, from ArrayBuffer, views and Blobs sent.
    ws.binaryType = "arraybuffer";
    ws.binaryType = "nonsense" as never; // ignored, as in a browser
    assert.equal(ws.binaryType, "arraybuffer");
    const received: unknown[] = [];
    const four = new Promise<void>((resolve) => {
      ws.onmessage = (e) => {
        received.push(e.data);
        if (received.length === 4) resolve();
      };
    });
    ws.send(new Uint8Array([4, 5]).buffer);
    ws.send(new Blob([new Uint8Array([6, 7, 8])]));
    ws.send(new DataView(new Uint8Array([0, 9, 10, 0]).buffer, 1, 2));
    ws.send("after the blob");
    await withTimeout(four, "four echoes");
    assert.ok(received[0] instanceof ArrayBuffer);
    assert.deepEqual(received.slice(0, 3).map((b) => [...new Uint8Array(b as ArrayBuffer)]), [[4, 5], [6, 7, 8], [
      9,
      10,
    ]]);
    assert.equal(received[3], "after the blob"); // order kept behind the Blob

    ws.close(4000, "bye");
    assert.equal(ws.readyState, WebSocket.CLOSING);
    const before = ws.bufferedAmount;
    ws.send("dropped");
    assert.equal(ws.bufferedAmount, before + 7); // counted, not sent, no exception
    const closed = await next<CloseEvent>(ws, "close");
    assert.ok(closed instanceof CloseEvent);
    assert.deepEqual([closed.code, closed.reason, closed.wasClean], [4000, "bye", true]);
    assert.equal(ws.readyState, WebSocket.CLOSED);
    assert.deepEqual(await server.connections.at(-1)!.closed, [4000, "bye"]);
    assert.equal(events.filter((e) => e === "error").length, 0);
    ws.close(); // nothing happens once closed
  });

  it("send() once closing or closed: no exception, nothing sent, and bufferedAmount grows (WHATWG send steps)", async () => {
    const ws = new WebSocket(server.url);
    await next(ws, "open");
    const connection = server.connections.at(-1)!;
    const heard: unknown[] = [];
    connection.socket.on("message", (data: unknown) => heard.push(String(data)));
    ws.send("kept");
    await next(ws, "message");
    ws.close();
    const closing = ws.bufferedAmount;
    ws.send("ab");
    ws.send(new Uint8Array(3));
    ws.send(new Blob([new Uint8Array(4)]));
    assert.equal(ws.bufferedAmount, closing + 2 + 3 + 4);
    await next(ws, "close");
    assert.equal(ws.readyState, WebSocket.CLOSED);
    const closed = ws.bufferedAmount;
    assert.ok(closed >= 9);
    ws.send("é"); // 2 bytes of UTF-8
    ws.send(new ArrayBuffer(5));
    assert.equal(ws.bufferedAmount, closed + 7);
    await connection.closed;
    assert.deepEqual(heard, ["kept"]);
  });

  it("close(): codes other than 1000 and 3000–4999 → InvalidAccessError; reason over 123 bytes → SyntaxError", async () => {
    const ws = new WebSocket(server.url);
    await next(ws, "open");
    const access = (e: unknown) => e instanceof DOMException && e.name === "InvalidAccessError";
    for (const code of [0, 999, 1001, 1005, 1006, 2999, 5000, 65536]) assert.throws(() => ws.close(code), access);
    assert.throws(
      () => ws.close(1000, "é".repeat(62)),
      (e: unknown) => e instanceof DOMException && e.name === "SyntaxError",
    );
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close(1000, "é".repeat(61)); // 122 bytes: fine
    const closed = await next<CloseEvent>(ws, "close");
    assert.equal(closed.code, 1000);
    assert.equal(closed.reason, "é".repeat(61));
  });

  it("close() while connecting: error, then close 1006, not clean", async () => {
    const ws = new WebSocket(server.url);
    const events = log(ws);
    ws.close();
    const closed = await next<CloseEvent>(ws, "close");
    assert.deepEqual([closed.code, closed.wasClean], [1006, false]);
    assert.deepEqual(events, ["error", "close"]);
  });

  it("on* properties: set, replaced, cleared; handleEvent objects; removeEventListener", async () => {
    const ws = new WebSocket(server.url);
    const calls: string[] = [];
    ws.onopen = () => calls.push("first onopen");
    ws.onopen = () => calls.push("second onopen");
    const object = { handleEvent: (e: Event) => calls.push(`object ${e.type}`) };
    ws.addEventListener("open", object);
    const removed = () => calls.push("removed");
    ws.addEventListener("open", removed);
    ws.removeEventListener("open", removed);
    await next(ws, "open");
    assert.deepEqual(calls, ["second onopen", "object open"]);
    ws.onmessage = () => calls.push("message");
    ws.onmessage = null;
    assert.equal(ws.onmessage, null);
    ws.onclose = "not a function" as never;
    assert.equal(ws.onclose, null);
    ws.send("x");
    await next(ws, "message");
    assert.ok(!calls.includes("message"));
    ws.close();
    await next(ws, "close");
  });

  it("a listener that throws is reported; the other listeners and the connection go on", async () => {
    const ws = new WebSocket(server.url);
    const seen: string[] = [];
    const reported = await capturingConsoleError(async () => {
      ws.onmessage = () => {
        throw new Error("boom in onmessage");
      };
      ws.addEventListener("message", () => {
        throw new Error("boom in a listener");
      });
      ws.addEventListener("message", (e) => seen.push((e as MessageEvent).data));
      await next(ws, "open");
      ws.send("one");
      ws.send("two");
      await withTimeout(
        new Promise<void>((resolve) => ws.addEventListener("message", () => seen.length === 2 && resolve())),
        "two messages",
      );
    });
    assert.deepEqual(seen, ["one", "two"]);
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(reported.length, 4);
    assert.ok(reported.some((args) => args.some((a) => a instanceof Error && a.message === "boom in onmessage")));
    ws.close();
    await next(ws, "close");
  });

  it("takes this library's options: permessage-deflate shows in extensions; maxLength closes with 1009", async () => {
    const ws = new WebSocket(compressing.url, { perMessageDeflate: true, maxLength: 10 });
    const events = log(ws);
    await next(ws, "open");
    assert.match(ws.extensions, /^permessage-deflate/);
    ws.send("x".repeat(11)); // the echo is over maxLength
    const closed = await next<CloseEvent>(ws, "close");
    assert.equal(closed.code, 1009);
    assert.deepEqual(events, ["open", "error", "close"]);
  });

  it("a refused connection: error, then close 1006", async () => {
    const port = await closedPort();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const events = log(ws);
    const closed = await next<CloseEvent>(ws, "close");
    assert.deepEqual([closed.code, closed.wasClean], [1006, false]);
    assert.deepEqual(events, ["error", "close"]);
    assert.equal(ws.readyState, WebSocket.CLOSED);
  });
});

describe("WebSocket: with the reconnect option", () => {
  it("open fires again after a server restart, CONNECTING in between (send throws there), close once", async () => {
    let connections = 0;
    const server = serve((request) => {
      const peer = makeServer(request);
      const n = ++connections;
      peer.on("open", () => {
        if (n === 1) peer.closeConnection(1012, "restarting");
      });
      peer.on("message", (m) => peer.send(`${n}:${m}`));
      return peer.startConnection();
    }, { port: 0, hostname: "127.0.0.1" });
    const { port } = await server.ready;
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 50, maxDelay: 50, jitter: false } });
      const events = log(ws);
      const states: number[] = [];
      let secondOpen!: () => void;
      const reopened = new Promise<void>((resolve) => (secondOpen = resolve));
      ws.onopen = () => {
        states.push(ws.readyState);
        if (events.filter((e) => e === "open").length === 2) secondOpen();
      };
      await next(ws, "open");
      // The server closes with 1012: the client goes back to CONNECTING.
      await withTimeout(
        new Promise<void>((resolve) => {
          const poll = () => ws.readyState === WebSocket.CONNECTING ? resolve() : setTimeout(poll, 5);
          poll();
        }),
        "CONNECTING again",
      );
      assert.throws(
        () => ws.send("while reconnecting"),
        (e: unknown) => e instanceof DOMException && e.name === "InvalidStateError",
      );
      await withTimeout(reopened, "the second open");
      ws.send("hi");
      assert.equal((await next<MessageEvent>(ws, "message")).data, "2:hi");
      ws.close(1000, "done");
      const closed = await next<CloseEvent>(ws, "close");
      assert.deepEqual([closed.code, closed.reason, closed.wasClean], [1000, "done", true]);
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.deepEqual(events, ["open", "open", "message", "close"]);
      assert.deepEqual(states, [WebSocket.OPEN, WebSocket.OPEN]);
      assert.equal(connections, 2);
    } finally {
      await server.close();
    }
  });
});

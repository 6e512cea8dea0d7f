// makeClient(url, { reconnect }): the same client connects again after a
// dropped connection or a server restart; backoff; what is never retried.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ListenerError } from "../../mod.ts";
import { makeClient } from "../../client.ts";
import type { Client } from "../../client.ts";
import { makeServer, serve } from "../../server.ts";
import { backoffDelay, reconnectPolicy } from "../../src/client/reconnect.ts";
import {
  closedPort,
  serverClose,
  serverFrame,
  startFakeServer,
  startPythonEchoServer,
  withTimeout,
} from "./_servers.ts";

const FAST = { minDelay: 20, maxDelay: 100 };

/** Records every event of a reconnecting client. */
function record(client: Client) {
  const events: unknown[][] = [];
  const messages: Array<string | Uint8Array> = [];
  const waiters: Array<() => void> = [];
  const poke = () => {
    for (const w of waiters.splice(0)) w();
  };
  client.on("open", () => (events.push(["open"]), poke()));
  client.on("message", (m) => (messages.push(m), poke()));
  client.on("error", (e) => (events.push(["error", e.message]), poke()));
  client.on("close", (code, reason) => (events.push(["close", code, reason]), poke()));
  client.on("reconnecting", (attempt, delay, cause) => (events.push(["reconnecting", attempt, delay, cause]), poke()));
  const until = (what: string, done: () => boolean, limit = 10_000): Promise<void> =>
    withTimeout(
      new Promise<void>((resolve) => {
        const check = () => done() ? resolve() : waiters.push(check);
        check();
      }),
      what,
      limit,
    );
  const count = (name: string) => events.filter((e) => e[0] === name).length;
  return { events, messages, until, count };
}

describe("reconnect: the policy", () => {
  it("has defaults, checks its options, rejects unknown keys", () => {
    assert.equal(reconnectPolicy(undefined), null);
    assert.equal(reconnectPolicy(false), null);
    assert.deepEqual(reconnectPolicy(true), {
      retries: Infinity,
      minDelay: 1000,
      maxDelay: 30_000,
      factor: 2,
      jitter: true,
    });
    assert.throws(() => reconnectPolicy({ retry: 3 } as never), TypeError);
    assert.throws(() => reconnectPolicy({ minDelay: -1 }), RangeError);
    assert.throws(() => reconnectPolicy({ minDelay: 10, maxDelay: 5 }), RangeError);
    assert.throws(() => reconnectPolicy({ factor: 0.5 }), RangeError);
    assert.throws(() => reconnectPolicy({ retries: 1.5 }), RangeError);
    assert.throws(() => makeClient("ws://127.0.0.1:9/", { reconnect: "yes" as never }), TypeError);
  });

  it("backs off exponentially up to maxDelay; full jitter draws below each step", () => {
    const policy = reconnectPolicy({ minDelay: 100, maxDelay: 1000, factor: 2, jitter: false })!;
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(policy, n)), [100, 200, 400, 800, 1000, 1000]);
    const jittered = { ...policy, jitter: true };
    assert.equal(backoffDelay(jittered, 3, () => 0), 0);
    assert.equal(backoffDelay(jittered, 3, () => 0.5), 200);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(jittered, 10);
      assert.ok(d >= 0 && d <= 1000, String(d));
    }
  });
});

describe("reconnect: a server killed and restarted (Python websockets)", () => {
  it("reconnects, keeps its listeners, delivers what was sent while down in order and exactly once", async () => {
    let server = await startPythonEchoServer();
    const port = server.port;
    const client = makeClient(`ws://127.0.0.1:${port}/`, { reconnect: FAST });
    const r = record(client);
    try {
      client.startConnection();
      await r.until("first open", () => r.count("open") === 1);
      for (let i = 0; i < 5; i++) client.send(`a${i}`);
      await r.until("echoes before the kill", () => r.messages.length === 5);

      await server.close(); // killed: no closing handshake
      await r.until("reconnecting after the kill", () => r.count("reconnecting") >= 1);
      assert.equal(client.readyState, "connecting");
      const first = r.events.find((e) => e[0] === "reconnecting")!;
      assert.equal(first[1], 1);
      assert.equal((first[3] as { code?: number }).code, 1006);
      // Sent while the server is down: queued.
      for (let i = 0; i < 5; i++) assert.equal(client.send(`b${i}`), true);
      // Attempts against the dead port fail and are retried.
      await r.until("failed attempts", () => r.count("reconnecting") >= 3);
      const attempts = r.events.filter((e) => e[0] === "reconnecting").map((e) => e[1]);
      assert.deepEqual(attempts.slice(0, 3), [1, 2, 3]);
      assert.match((r.events.filter((e) => e[0] === "reconnecting")[1][3] as Error).message, /Cannot connect/);

      server = await startPythonEchoServer(port);
      await r.until("the second open", () => r.count("open") === 2, 15_000);
      await r.until("the queued messages' echoes", () => r.messages.length === 10);
      client.send("c0");
      await r.until("an echo after the reconnection", () => r.messages.length === 11);
      assert.deepEqual(r.messages, ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "b3", "b4", "c0"]);
      assert.equal(r.count("close"), 0);
      assert.equal(r.count("error"), 0);

      client.closeConnection(1000, "done");
      assert.deepEqual(await client.closed, { code: 1000, reason: "done" });
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(r.count("close"), 1);
      assert.equal(r.events.at(-1)![0], "close");
    } finally {
      client.terminate();
      await server.close();
    }
  });
});

describe("reconnect: which endings are retried", () => {
  it("a server close with 1012 (restart) is retried; a later 1000 from the server is final", async () => {
    let connections = 0;
    const server = serve((request) => {
      const ws = makeServer(request);
      const n = ++connections;
      ws.on("open", () => {
        if (n === 1) ws.closeConnection(1012, "restarting");
        else ws.send(`hello ${n}`);
      });
      ws.on("message", (m) => {
        if (m === "bye") ws.closeConnection(1000, "bye");
      });
      return ws.startConnection();
    }, { port: 0, hostname: "127.0.0.1" });
    const { port } = await server.ready;
    const client = makeClient(`ws://127.0.0.1:${port}/`, { reconnect: FAST });
    const r = record(client);
    try {
      client.startConnection();
      await r.until("hello 2", () => r.messages.includes("hello 2"));
      const reconnecting = r.events.filter((e) => e[0] === "reconnecting");
      assert.equal(reconnecting.length, 1);
      assert.equal((reconnecting[0][3] as { code: number }).code, 1012);
      assert.equal(r.count("open"), 2);
      client.send("bye");
      assert.deepEqual(await client.closed, { code: 1000, reason: "bye" });
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(connections, 2);
      assert.equal(r.count("reconnecting"), 1);
      assert.equal(r.count("close"), 1);
    } finally {
      client.terminate();
      await server.close();
    }
  });

  it("a for await loop carries over a reconnection and ends at the final close", async () => {
    let connections = 0;
    const server = serve((request) => {
      const ws = makeServer(request);
      const n = ++connections;
      ws.on("open", () => {
        ws.send(`from ${n}`);
        ws.closeConnection(n === 1 ? 1012 : 1000, "");
      });
      return ws.startConnection();
    }, { port: 0, hostname: "127.0.0.1" });
    const { port } = await server.ready;
    const client = makeClient(`ws://127.0.0.1:${port}/`, { reconnect: FAST });
    try {
      client.startConnection();
      const seen: Array<string | Uint8Array> = [];
      for await (const message of client) seen.push(message);
      assert.deepEqual(seen, ["from 1", "from 2"]);
      assert.equal((await client.closed).code, 1000);
    } finally {
      client.terminate();
      await server.close();
    }
  });

  it("a 503 answer is retried, a 404 is final (error, then close once)", async () => {
    let n = 0;
    const fake = await startFakeServer((c) => {
      n++;
      const status = n <= 2 ? "503 Service Unavailable" : "404 Not Found";
      c.socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\n\r\n`);
    });
    const client = makeClient(fake.url, { reconnect: FAST });
    const r = record(client);
    try {
      client.startConnection();
      assert.equal((await client.closed).code, 1006);
      assert.deepEqual(r.events.map((e) => e[0]), ["reconnecting", "reconnecting", "error", "close"]);
      assert.match(r.events[2][1] as string, /404/);
      assert.equal(n, 3);
    } finally {
      await fake.close();
    }
  });

  it("gives up after `retries` failed attempts in a row: error, then close, once", async () => {
    const port = await closedPort();
    const client = makeClient(`ws://127.0.0.1:${port}/`, { reconnect: { ...FAST, retries: 2 } });
    const r = record(client);
    client.startConnection();
    const { code } = await client.closed;
    assert.equal(code, 1006);
    assert.deepEqual(r.events.map((e) => e[0]), ["reconnecting", "reconnecting", "error", "close"]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(r.count("close"), 1);
    await assert.rejects(client.opened);
  });

  it("never reconnects after the application's close (closeConnection, terminate)", async () => {
    let connections = 0;
    const server = serve((request) => {
      connections++;
      return makeServer(request).startConnection();
    }, { port: 0, hostname: "127.0.0.1" });
    const { port } = await server.ready;
    try {
      const client = makeClient(`ws://127.0.0.1:${port}/`, { reconnect: FAST });
      const r = record(client);
      client.startConnection();
      await client.opened;
      client.closeConnection(4000, "mine");
      assert.deepEqual(await client.closed, { code: 4000, reason: "mine" });
      const terminated = makeClient(`ws://127.0.0.1:${port}/`, { reconnect: FAST });
      const t = record(terminated);
      terminated.startConnection();
      await terminated.opened;
      terminated.terminate();
      assert.equal((await terminated.closed).code, 1006);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(r.count("reconnecting") + t.count("reconnecting"), 0);
      assert.equal(connections, 2);
    } finally {
      await server.close();
    }
  });

  it("closeConnection() while waiting to reconnect stops it: close once, no further attempt", async () => {
    const port = await closedPort();
    const client = makeClient(`ws://127.0.0.1:${port}/`, {
      reconnect: { minDelay: 5000, maxDelay: 5000, jitter: false },
    });
    const r = record(client);
    client.startConnection();
    await r.until("reconnecting", () => r.count("reconnecting") === 1);
    client.closeConnection();
    assert.equal((await client.closed).code, 1006);
    assert.equal(r.count("close"), 1);
    assert.equal(r.count("error"), 0);
  });

  it("signal aborts everything, also the wait for the next attempt", async () => {
    const port = await closedPort();
    const controller = new AbortController();
    const client = makeClient(`ws://127.0.0.1:${port}/`, {
      reconnect: { minDelay: 5000, maxDelay: 5000, jitter: false },
      signal: controller.signal,
    });
    const r = record(client);
    client.startConnection();
    await r.until("reconnecting", () => r.count("reconnecting") === 1);
    controller.abort(new Error("stop"));
    assert.equal((await client.closed).code, 1006);
    assert.deepEqual(r.events.map((e) => e[0]), ["reconnecting", "error", "close"]);
  });

  it("while disconnected, the queue is bounded by outgoingHighWaterMark: over it send returns false", async () => {
    const port = await closedPort();
    const client = makeClient(`ws://127.0.0.1:${port}/`, {
      reconnect: { minDelay: 5000, maxDelay: 5000 },
      outgoingHighWaterMark: 100,
    });
    client.on("error", () => {});
    client.startConnection();
    assert.equal(client.send("x".repeat(60)), true);
    assert.equal(client.send("é".repeat(30)), false); // 60 bytes of UTF-8: over 100 in all
    assert.equal(client.send(new Uint8Array(30)), true);
    assert.equal(client.send(new Uint8Array(30)), false);
    client.closeConnection();
    await client.closed;
  });

  it("sends while closing return false and are not carried over to the next connection", async () => {
    const fake = await startFakeServer((c) => {
      // The first connection: a 1012 close, and the socket kept open, so the
      // client stays in "closing" until the test ends it.
      if (fake.connections.length === 1) c.accept(undefined, serverClose(1012, "restarting"));
      else c.accept();
    });
    const client = makeClient(fake.url, { reconnect: FAST });
    const r = record(client);
    try {
      client.startConnection();
      const first = await fake.nextConnection();
      const echoed = await withTimeout(first.untilClose(), "the close echo");
      assert.equal(echoed.at(-1)!.opcode, 8);
      assert.equal(client.readyState, "closing");
      // Not queued for the next connection, and not an exception: the same as without reconnect.
      assert.equal(client.send("while closing"), false);
      first.socket.end();
      const second = await withTimeout(fake.nextConnection(), "the reconnection");
      await r.until("the second open", () => r.count("open") === 2);
      assert.equal(client.send("after"), true);
      const frames = await withTimeout(second.frames(1), "the frame after");
      assert.deepEqual(frames.map((f) => new TextDecoder().decode(f.payload)), ["after"]);
      assert.deepEqual(r.events.map((e) => e[0]), ["open", "reconnecting", "open"]);
    } finally {
      client.terminate();
      await fake.close();
    }
  });
});

describe("reconnect: backpressure carries over", () => {
  it("a for await loop over its incomingHighWaterMark keeps the next connection unread until it catches up", async () => {
    const MESSAGES = 200;
    const SIZE = 10_000;
    const join = (parts: Uint8Array[]) => {
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) (out.set(p, at), at += p.length);
      return out;
    };
    const fake = await startFakeServer((c) => {
      if (fake.connections.length === 1) {
        // 5 × 50 bytes (over the mark of 100) and a 1012 close, in the same
        // read as the 101: the loop is behind when the connection ends.
        const first = Array.from({ length: 5 }, (_, i) => serverFrame(0x1, `first ${i} `.padEnd(50, ".")));
        c.accept(undefined, join([...first, serverClose(1012, "restarting")]));
      } else {
        c.accept();
        for (let i = 0; i < MESSAGES; i++) c.socket.write(serverFrame(0x1, `second ${i} `.padEnd(SIZE, ".")));
        c.socket.write(serverClose(1000, "done"));
        c.untilClose().then(() => c.socket.end(), () => {});
      }
    });
    // closeTimeout: the paused first connection does not read the server's end of it.
    const client = makeClient(fake.url, { reconnect: FAST, incomingHighWaterMark: 100, closeTimeout: 200 });
    const r = record(client);
    try {
      const iterator = client[Symbol.asyncIterator]();
      client.startConnection();
      await r.until("the second open", () => r.count("open") === 2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // The loop is still behind, so the new socket is not read either (a
      // chunk may have been read before the pause took effect).
      const early = r.messages.filter((m) => String(m).startsWith("second")).length;
      assert.ok(early < MESSAGES / 2, `${early} of ${MESSAGES} read while the loop was behind`);
      const seen: string[] = [];
      for (let result = await iterator.next(); !result.done; result = await iterator.next()) {
        seen.push(String(result.value).split(" ").slice(0, 2).join(" "));
      }
      assert.equal(seen.length, 5 + MESSAGES);
      assert.deepEqual(seen.slice(4, 7), ["first 4", "second 0", "second 1"]);
      assert.equal(seen.at(-1), `second ${MESSAGES - 1}`);
      assert.equal((await client.closed).code, 1000);
      assert.equal(r.count("reconnecting"), 1);
    } finally {
      client.terminate();
      await fake.close();
    }
  });
});

describe("reconnect: a listener that throws", () => {
  it("an open listener: 1011, reported on stderr, no reconnection (no loop), close once", async () => {
    let connections = 0;
    const closes: Array<[number, string]> = [];
    const server = serve((request) => {
      const ws = makeServer(request);
      connections++;
      ws.on("close", (code, reason) => closes.push([code, reason]));
      return ws.startConnection();
    }, { port: 0, hostname: "127.0.0.1" });
    const { port } = await server.ready;
    const client = makeClient(`ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 0, maxDelay: 0 } });
    const reported: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => reported.push(args);
    let closeEvents = 0;
    let reconnecting = 0;
    try {
      client.on("open", () => {
        throw new Error("bug in open");
      });
      client.on("close", () => closeEvents++);
      client.on("reconnecting", () => reconnecting++);
      client.startConnection();
      const { code } = await withTimeout(client.closed, "the close");
      assert.equal(code, 1011);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(connections, 1);
      assert.equal(reconnecting, 0);
      assert.equal(closeEvents, 1);
      assert.deepEqual(closes, [[1011, "Internal error"]]);
      // Nobody listens to error: the exception went to stderr, the process lives on.
      assert.ok(reported.some((args) => args.some((a) => a instanceof Error && a.message === "bug in open")));
    } finally {
      console.error = original;
      client.terminate();
      await server.close();
    }
  });

  it("a message listener after a reconnection: 1011, error with a ListenerError, close once", async () => {
    let connections = 0;
    const server = serve((request) => {
      const ws = makeServer(request);
      const n = ++connections;
      ws.on("open", () => {
        if (n === 1) ws.closeConnection(1012, "restarting");
        else ws.send("poison");
      });
      return ws.startConnection();
    }, { port: 0, hostname: "127.0.0.1" });
    const { port } = await server.ready;
    const client = makeClient(`ws://127.0.0.1:${port}/`, { reconnect: FAST });
    const r = record(client);
    try {
      client.on("message", (m) => {
        if (m === "poison") throw new Error("bug in message");
      });
      client.startConnection();
      assert.equal((await withTimeout(client.closed, "the close")).code, 1011);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(connections, 2);
      assert.deepEqual(r.events.map((e) => e[0]), ["open", "reconnecting", "open", "error", "close"]);
      assert.match(r.events[3][1] as string, /"message" listener threw: bug in message/);
    } finally {
      client.terminate();
      await server.close();
    }
  });

  it("a reconnecting listener: no further attempt, error then close once", async () => {
    const port = await closedPort();
    const client = makeClient(`ws://127.0.0.1:${port}/`, { reconnect: FAST });
    const errors: unknown[] = [];
    const r = record(client);
    client.on("error", (e) => errors.push(e));
    client.on("reconnecting", () => {
      throw new Error("bug in reconnecting");
    });
    client.startConnection();
    assert.equal((await withTimeout(client.closed, "the close")).code, 1006);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(r.events.map((e) => e[0]), ["reconnecting", "error", "close"]);
    assert.ok(errors[0] instanceof ListenerError);
    assert.equal((errors[0] as ListenerError).event, "reconnecting");
  });

  it("rethrowListenerErrors: the client is left alone (the exception is rethrown)", async () => {
    let connections = 0;
    const server = serve((request) => {
      connections++;
      return makeServer(request).startConnection();
    }, { port: 0, hostname: "127.0.0.1" });
    const { port } = await server.ready;
    const client = makeClient(`ws://127.0.0.1:${port}/`, { reconnect: FAST, rethrowListenerErrors: true });
    // What would be rethrown, caught here instead of ending the test process.
    const rethrown: unknown[] = [];
    const original = queueMicrotask;
    globalThis.queueMicrotask = (callback) =>
      original(() => {
        try {
          callback();
        } catch (error) {
          rethrown.push(error);
        }
      });
    try {
      client.on("open", () => {
        throw new Error("rethrown");
      });
      client.startConnection();
      await client.opened;
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(client.readyState, "open");
      assert.ok(rethrown.some((e) => e instanceof Error && e.message === "rethrown"));
    } finally {
      globalThis.queueMicrotask = original;
      client.closeConnection();
      await client.closed;
      await server.close();
    }
    assert.equal(connections, 1);
  });
});

/**
 * The tcp backend's handshake path after the work on handshakes per second
 * (issue 21): the request is built from a URL string, so the Host header is
 * checked first (RFC 9112 §3.2); the head timeouts of a server share one
 * queue and one timer; a connection that sat idle after its handshake still
 * takes messages at size (its per-connection state is made on first use).
 * Same file on Deno, Node and Bun.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  decoder,
  delay,
  encoder,
  exchange,
  HOST,
  maskedFrame,
  openClient,
  parseFrames,
  pattern,
  RawClient,
  requestHead,
  sameBytes,
  startServer,
  text,
} from "./_util.ts";
import type { TestClient, TestServer } from "./_util.ts";
import { encodeFrame } from "../_shared/frames.ts";
import { makeServer, serve } from "../../mod.ts";
import type { Server } from "../../mod.ts";

const T = { timeout: 30_000 };

async function withServer(
  options: Parameters<typeof startServer>[1],
  body: (server: TestServer) => Promise<void>,
): Promise<void> {
  const server = await startServer("tcp", options);
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

describe("the node backend and a bad Host", () => {
  it(
    "RFC 9112 §3.2: plain requests and upgrades with a Host that is not a host get 400; the server lives on",
    T,
    async () => {
      // Before: `Host: a b` made the URL parser throw inside node:http's request
      // listener, an unhandled rejection that ended the whole process on Node.
      const server = await startServer("node", {});
      try {
        for (const host of ["a b", "a#b", "user@host", "[::1", "evil.example/x"]) {
          const plain = await exchange(server.port, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
          assert.equal(plain.status, 400, `plain request, Host ${JSON.stringify(host)}`);
          const upgrade = await exchange(server.port, requestHead({ headers: { Host: host } }));
          assert.equal(upgrade.status, 400, `upgrade, Host ${JSON.stringify(host)}`);
        }
        assert.equal(server.servers.length, 0);
        const good = await exchange(server.port, requestHead({ headers: { Host: `${HOST}:${server.port}` } }));
        assert.equal(good.status, 101);
      } finally {
        await server.close();
      }
    },
  );
});

describe("the tcp backend's handshake path", () => {
  it("RFC 9112 §3.2: a Host that is not a host and port gets 400, and no server is made", T, async () => {
    await withServer({}, async (server) => {
      for (const host of ["evil.example/x", "a#b", "user@host", "a?b", "a\\b", "", "a b", "a, b"]) {
        const response = await exchange(server.port, requestHead({ headers: { Host: host } }));
        assert.equal(response.status, 400, `Host ${JSON.stringify(host)}`);
      }
      // Two Host lines are joined into "a, b": 400 as well.
      const twice = await exchange(
        server.port,
        `GET / HTTP/1.1\r\nHost: ${HOST}\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      assert.equal(twice.status, 400);
      assert.equal(server.servers.length, 0);
      // Hosts with a port, an IPv6 literal, sub-delims and percent signs are hosts.
      for (const host of [`${HOST}:${server.port}`, "[::1]:8080", "example.com", "ex-ample_1.test"]) {
        const response = await exchange(server.port, requestHead({ headers: { Host: host } }));
        assert.equal(response.status, 101, `Host ${JSON.stringify(host)}`);
        const record = await server.nextServer();
        assert.equal(new URL(record.request.url).host, host.replace(/:80$/, ""));
      }
    });
  });

  it("a target starting with // is a path of the Host's origin, not another host", T, async () => {
    await withServer({}, async (server) => {
      const response = await exchange(
        server.port,
        requestHead({ target: "//evil.example/x?y=1", headers: { Host: "good.example" } }),
      );
      assert.equal(response.status, 101);
      const url = new URL((await server.nextServer()).request.url);
      assert.equal(url.host, "good.example");
      assert.equal(url.pathname, "//evil.example/x");
      assert.equal(url.search, "?y=1");
    });
  });

  it("a method Fetch forbids (TRACE) is answered, not left hanging", T, async () => {
    await withServer({}, async (server) => {
      const response = await exchange(server.port, requestHead({ method: "TRACE" }));
      // 400 where Request refuses the method (Node, Deno); Bun's takes it, and the upgrade check answers 405.
      assert.ok(response.status === 400 || response.status === 405, `status ${response.status}`);
      // (On Bun the handler ran: its server was refused, and never opened.)
      assert.ok(server.servers.every((r) => r.server.readyState !== "open"));
    });
  });

  it(
    "head timeouts share one queue: each stalled connection is dropped after its own timeout, others go on",
    T,
    async () => {
      await withServer({ serve: { headTimeout: 400 } }, async (server) => {
        const started = Date.now();
        const first = await RawClient.connect(server.port);
        first.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        await delay(200);
        const second = await RawClient.connect(server.port);
        second.write("GET / HTTP/1.1\r\n");
        const third = await RawClient.connect(server.port);
        try {
          third.write("GET / HTTP/1.1\r\n");
          // The third one finishes its head after the first one's deadline: it is upgraded.
          await delay(300);
          third.write(requestHead().slice("GET / HTTP/1.1\r\n".length));
          const [firstEnded, secondEnded, thirdHead] = await Promise.all([
            first.readToEnd(5_000).then(() => Date.now() - started),
            second.readToEnd(5_000).then(() => Date.now() - started),
            third.readHead(),
          ]);
          assert.equal(thirdHead.status, 101);
          assert.ok(firstEnded >= 350 && firstEnded < 3_000, `the first dropped after ${firstEnded} ms`);
          assert.ok(secondEnded >= 550 && secondEnded < 3_000, `the second dropped after ${secondEnded} ms`);
          assert.equal(first.bytes().length, 0);
          assert.equal(second.bytes().length, 0);
          assert.equal(server.servers.length, 1);
          // The upgraded one is not dropped by a timeout later.
          await delay(600);
          const record = server.servers[0];
          assert.equal(record.server.readyState, "open");
        } finally {
          await Promise.all([first.close(), second.close(), third.close()]);
        }
      });
    },
  );

  it("many connections in their head at once: all answered, none dropped early", T, async () => {
    await withServer({ serve: { headTimeout: 2_000 } }, async (server) => {
      const clients = await Promise.all(Array.from({ length: 40 }, () => RawClient.connect(server.port)));
      try {
        const head = requestHead();
        for (const c of clients) c.write(head.slice(0, 20));
        await delay(100);
        for (const c of clients) c.write(head.slice(20));
        const heads = await Promise.all(clients.map((c) => c.readHead()));
        assert.deepEqual(heads.map((h) => h.status), clients.map(() => 101));
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
    });
  });

  it("a stalled head among many finished ones still times out (the queue is compacted, not lost)", T, async () => {
    await withServer({ serve: { headTimeout: 500 } }, async (server) => {
      const started = Date.now();
      const stalled = await RawClient.connect(server.port);
      stalled.write("GET / HTTP/1.1\r\n");
      try {
        // 150 handshakes finish behind it (more than the queue keeps before compacting).
        for (let round = 0; round < 5; round++) {
          const clients = await Promise.all(Array.from({ length: 30 }, () => RawClient.connect(server.port)));
          try {
            for (const c of clients) c.write(requestHead());
            const heads = await Promise.all(clients.map((c) => c.readHead()));
            assert.ok(heads.every((h) => h.status === 101));
          } finally {
            await Promise.all(clients.map((c) => c.close()));
          }
        }
        const late = await RawClient.connect(server.port);
        const lateStarted = Date.now();
        late.write("GET / HTTP/1.1\r\n");
        try {
          await stalled.readToEnd(5_000);
          const elapsed = Date.now() - started;
          assert.ok(elapsed >= 450 && elapsed < 4_000, `the stalled one dropped after ${elapsed} ms`);
          // And one that stalled later gets its own full timeout.
          await late.readToEnd(5_000);
          const lateElapsed = Date.now() - lateStarted;
          assert.ok(lateElapsed >= 450 && lateElapsed < 4_000, `the late one dropped after ${lateElapsed} ms`);
          assert.equal(late.bytes().length, 0);
        } finally {
          await late.close();
        }
      } finally {
        await stalled.close();
      }
    });
  });

  it("the handler reads remoteAddr after an await: still the peer's address", T, async () => {
    let seen: { hostname: string; port: number } | undefined;
    await withServer({
      route: async (_request, info) => {
        await delay(20);
        seen = info.remoteAddr;
        return undefined;
      },
    }, async (server) => {
      const raw = await RawClient.connect(server.port);
      try {
        raw.write(requestHead());
        assert.equal((await raw.readHead()).status, 101);
        assert.equal(seen?.hostname, HOST);
        assert.equal(seen?.port, raw.socket.localPort);
      } finally {
        await raw.close();
      }
    });
  });

  it("idle after the handshake, then messages at size: echoed whole (state made on first use)", T, async () => {
    await withServer({}, async (server) => {
      const client = await openClient("ours", server.url);
      try {
        await server.nextServer();
        await delay(300);
        const big = pattern(4 << 20);
        const words = text(100_000);
        client.send(big);
        client.send(words);
        client.send("short");
        const echoes = [
          await client.nextMessage("the 4 MiB echo"),
          await client.nextMessage("the 100 KB text echo"),
          await client.nextMessage("the short echo"),
        ];
        assert.ok(echoes[0] instanceof Uint8Array && sameBytes(echoes[0], big));
        assert.equal(echoes[1], words);
        assert.equal(echoes[2], "short");
      } finally {
        client.terminate();
      }
    });
  });

  it(
    "idle again after one echo: a 1 MiB text message in masked fragments over many writes, a ping, then a close",
    T,
    async () => {
      await withServer({}, async (server) => {
        const raw = await RawClient.connect(server.port);
        try {
          raw.write(requestHead());
          const head = await raw.readHead();
          assert.equal(head.status, 101);
          await server.nextServer();
          let seen = raw.bytes().length - head.rest.length;
          const frames = async (n: number, what: string) => {
            let found: ReturnType<typeof parseFrames> = [];
            await raw.until(() => (found = parseFrames(raw.bytes().subarray(seen))).length >= n, what);
            for (const f of found) seen += f.size;
            return found;
          };
          // One echo: the connection's parts are made, then it sits idle with nothing in them.
          raw.write(maskedFrame(0x1, "hi", new Uint8Array([9, 8, 7, 6])));
          assert.equal(decoder.decode((await frames(1, "the first echo"))[0].payload), "hi");
          await delay(300);
          // Non-ASCII text (validated as it arrives), in four fragments with keys of their own, written in pieces.
          const words = "héllo wörld €".repeat(1 << 16).slice(0, 1 << 20);
          const bytes = encoder.encode(words);
          const quarter = Math.ceil(bytes.length / 4);
          const wire: Uint8Array[] = [];
          for (let i = 0; i < 4; i++) {
            const mask = new Uint8Array([i + 1, 0x5a, 0xa5, 0xff]);
            wire.push(
              encodeFrame(i === 0 ? 0x1 : 0x0, bytes.subarray(i * quarter, (i + 1) * quarter), { fin: i === 3, mask }),
            );
          }
          for (const frame of wire) {
            for (let at = 0; at < frame.length; at += 50_000) {
              raw.write(frame.subarray(at, at + 50_000));
              await delay(1);
            }
          }
          const echo = await frames(1, "the 1 MiB echo");
          assert.equal(decoder.decode(echo[0].payload), words);
          raw.write(maskedFrame(0x9, "are you there"));
          const pong = await frames(1, "the pong");
          assert.equal(pong[0].opcode, 0xa);
          assert.equal(decoder.decode(pong[0].payload), "are you there");
          raw.write(maskedFrame(0x8, new Uint8Array([0x03, 0xe8])));
          const close = await frames(1, "the close echo");
          assert.equal(close[0].opcode, 0x8);
          assert.deepEqual([...close[0].payload], [0x03, 0xe8]);
        } finally {
          await raw.close();
        }
      });
    },
  );

  it("a connection that only sends, never receiving: its messages and its close arrive", T, async () => {
    await withServer({ echo: false }, async (server) => {
      const client = await openClient("ours", server.url);
      try {
        const record = await server.nextServer();
        await delay(200);
        record.server.send("one");
        record.server.send(pattern(100_000));
        record.server.sendPing();
        await delay(200);
        record.server.send("two");
        assert.equal(await client.nextMessage("the first message"), "one");
        const second = await client.nextMessage("the binary message");
        assert.ok(second instanceof Uint8Array && sameBytes(second, pattern(100_000)));
        assert.equal(await client.nextMessage("the last message"), "two");
        record.server.closeConnection(4001, "done");
        assert.deepEqual(await record.closed, [4001, "done"]);
      } finally {
        client.terminate();
      }
    });
  });

  it("ws.request read only after the connection sat idle: the URL, method and headers sent", T, async () => {
    await withServer({}, async (server) => {
      const raw = await RawClient.connect(server.port);
      try {
        // Two X-Multi lines: read back joined, as from any Headers.
        raw.write(
          requestHead({ target: "/room/9?who=%C3%A9&x=1", headers: { "X-Token": "secret" } })
            .replace("\r\n\r\n", "\r\nX-Multi: a\r\nX-Multi: b\r\n\r\n"),
        );
        assert.equal((await raw.readHead()).status, 101);
        const record = await server.nextServer();
        await delay(300);
        const request = record.server.request;
        assert.ok(request instanceof Request);
        assert.equal(record.server.request, request, "the same object on every read");
        assert.equal(request.url, `http://${HOST}/room/9?who=%C3%A9&x=1`);
        assert.equal(request.method, "GET");
        assert.equal(request.headers.get("x-token"), "secret");
        assert.equal(request.headers.get("x-multi"), "a, b");
        assert.equal(request.headers.get("upgrade"), "websocket");
        assert.deepEqual([...request.headers], [...record.request.headers]);
        assert.equal(request.body, null);
        // The connection works after the read.
        const headLength = raw.bytes().length;
        raw.write(maskedText("after"));
        await raw.until(() => raw.bytes().length >= headLength + 7, "the echo");
        assert.equal(new TextDecoder().decode(raw.bytes().subarray(headLength + 2)), "after");
      } finally {
        await raw.close();
      }
    });
  });

  it("idle connections, then 16 MiB through one of them: echoed whole; the others still echo", T, async () => {
    await withServer({}, async (server) => {
      const clients: TestClient[] = [];
      try {
        for (let i = 0; i < 20; i++) clients.push(await openClient("ours", server.url));
        await delay(300);
        const big = pattern(16 << 20);
        clients[7].send(big);
        const echo = await clients[7].nextMessage("the 16 MiB echo");
        assert.ok(echo instanceof Uint8Array && sameBytes(echo, big));
        for (const [i, c] of clients.entries()) c.send(`after ${i}`);
        for (const [i, c] of clients.entries()) assert.equal(await c.nextMessage(`echo ${i}`), `after ${i}`);
      } finally {
        for (const c of clients) c.terminate();
      }
    });
  });

  it(
    "1000 idle connections, then all send at once: every message echoed to its sender",
    { timeout: 120_000 },
    async () => {
      await withServer({ serve: { heartbeat: false } }, async (server) => {
        const clients: TestClient[] = [];
        try {
          for (let batch = 0; batch < 10; batch++) {
            clients.push(...await Promise.all(Array.from({ length: 100 }, () => openClient("ours", server.url))));
          }
          assert.equal(server.servers.length, 1000);
          await delay(300);
          for (const [i, c] of clients.entries()) c.send(i % 2 === 0 ? `message ${i}` : pattern(3000 + i));
          const echoes = await Promise.all(clients.map((c, i) => c.nextMessage(`echo ${i}`)));
          for (const [i, echo] of echoes.entries()) {
            if (i % 2 === 0) assert.equal(echo, `message ${i}`);
            else assert.ok(echo instanceof Uint8Array && sameBytes(echo, pattern(3000 + i)), `echo ${i}`);
          }
        } finally {
          for (const c of clients) c.terminate();
        }
      });
    },
  );
});

describe("the tcp backend and a handler that answers at once (no promise)", () => {
  it("upgrades, plain answers and a synchronous throw are all answered; the upgrade opens and echoes", T, async () => {
    const servers: Server[] = [];
    const errors: unknown[] = [];
    const handle = serve((request) => {
      const path = new URL(request.url).pathname;
      if (path === "/throw") throw new Error("thrown at once");
      if (path === "/plain") return new Response("plain\n", { headers: { "X-Plain": "yes" } });
      const ws = makeServer(request);
      servers.push(ws);
      ws.on("message", (message) => ws.send(message));
      return ws.startConnection();
    }, {
      hostname: HOST,
      port: 0,
      onError: (error) => {
        errors.push(error);
        return new Response("sorry\n", { status: 500 });
      },
    });
    const { port } = await handle.ready;
    try {
      const plain = await exchange(port, `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
      assert.equal(plain.status, 200);
      assert.equal(plain.headers.get("x-plain"), "yes");
      const thrown = await exchange(port, requestHead({ target: "/throw" }));
      assert.equal(thrown.status, 500);
      assert.equal((errors[0] as Error).message, "thrown at once");
      const client = await openClient("ours", `ws://${HOST}:${port}/ws`);
      try {
        client.send("at once");
        assert.equal(await client.nextMessage("the echo"), "at once");
        assert.equal(servers.length, 1);
        assert.equal(servers[0].readyState, "open");
        assert.equal(new URL(servers[0].request.url).pathname, "/ws");
      } finally {
        client.terminate();
      }
    } finally {
      await handle.close();
    }
  });
});

/** A masked client text frame (zero mask key) of a short ASCII string. */
function maskedText(s: string): Uint8Array {
  const frame = new Uint8Array(6 + s.length);
  frame[0] = 0x81;
  frame[1] = 0x80 | s.length;
  for (let i = 0; i < s.length; i++) frame[6 + i] = s.charCodeAt(i);
  return frame;
}

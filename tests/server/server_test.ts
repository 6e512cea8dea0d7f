/**
 * The server side (`makeServer` + `serve`) on every backend this runtime has
 * (`availableBackends()`: tcp and node everywhere, deno on Deno): handshakes
 * with three real clients (ours, the runtime's global `WebSocket`, `ws`),
 * echo of every length class, subprotocols, additional headers, maxLength,
 * every bad handshake answered by hand over a raw socket, plain HTTP on the
 * same handler, the handler's request and remote address, shutdown with 1001
 * (close() and signal), TLS, and frames pipelined behind the request head.
 * Every test stops what it starts.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { availableBackends, HandshakeError, serve } from "../../server.ts";
import type { BackendName } from "../../server.ts";
import { ProtocolError } from "../../mod.ts";
import {
  ACCEPT,
  bodyOf,
  CLIENT_KINDS,
  connect,
  decoder,
  delay,
  exchange,
  fixture,
  HOST,
  maskedFrame,
  openClient,
  parseFrames,
  parseHead,
  pattern,
  portIsFree,
  RawClient,
  requestHead,
  sameBytes,
  startServer,
  text,
  trackUnhandled,
  withClients,
  withTimeout,
  ws,
} from "./_util.ts";
import type { ServerRecord, StartOptions, TestClient, TestServer } from "./_util.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

const SIZES = [0, 125, 126, 65536, 1 << 20];
const T = { timeout: 20_000 };

/** Runs `body` with a server on `backend`, closing it (and the clients) after. */
async function withServer(
  backend: BackendName,
  options: StartOptions,
  body: (server: TestServer, clients: TestClient[]) => Promise<void>,
): Promise<void> {
  await withClients(await startServer(backend, options), body);
}

/** Asserts the events of a server that refused a handshake. */
async function assertRefused(record: ServerRecord, status: number) {
  const [code] = await withTimeout(record.closed, "the refused server's close");
  assert.equal(code, 1006);
  const names = record.events.map((e) => e[0]);
  assert.deepEqual(names, ["error", "close"]);
  const error = record.events[0][1];
  assert.ok(error instanceof HandshakeError, "error is a HandshakeError");
  assert.equal(error.status, status);
  assert.equal(record.server.readyState, "closed");
}

function plainHead(
  method: string,
  target: string,
  extra: Record<string, string> = {},
  body = "",
): string {
  return requestHead({
    method,
    target,
    headers: {
      Upgrade: null,
      Connection: "close",
      "Sec-WebSocket-Key": null,
      "Sec-WebSocket-Version": null,
      ...(body === "" ? {} : { "Content-Length": String(body.length) }),
      ...extra,
    },
  }) + body;
}

for (const backend of availableBackends()) {
  describe(`serve() with backend "${backend}" on ${runtime}`, () => {
    // ───────────────────────── handshake and echo ─────────────────────────

    for (const kind of CLIENT_KINDS) {
      it(
        `the ${kind} client connects; text and binary of every length class come back with their type`,
        T,
        async () => {
          await withServer(backend, {}, async (server, clients) => {
            const client = await connect(clients, kind, `${server.url}/echo`);
            const record = await server.nextServer();
            for (const n of SIZES) {
              const t = text(n);
              client.send(t);
              const echoed = await client.nextMessage(`text echo of ${n}`);
              assert.equal(typeof echoed, "string", `text ${n} stays text`);
              assert.ok(echoed === t, `text of ${n} bytes comes back intact`);
              const b = pattern(n);
              client.send(b);
              const back = await client.nextMessage(`binary echo of ${n}`);
              assert.ok(back instanceof Uint8Array, `binary ${n} stays binary`);
              assert.ok(sameBytes(back, b), `binary of ${n} bytes intact`);
            }
            assert.equal(record.server.readyState, "open");
            client.close(1000, "done");
            assert.deepEqual(
              await withTimeout(client.closed, "client close"),
              [1000, "done"],
            );
            assert.deepEqual(
              await withTimeout(record.closed, "server close"),
              [1000, "done"],
            );
            assert.equal(record.events[0][0], "open");
            assert.equal(
              record.events.filter((e) => e[0] === "message").length,
              2 * SIZES.length,
            );
            assert.ok(!record.events.some((e) => e[0] === "error"));
          });
        },
      );
    }

    it("sends made before open (before and after startConnection()) go first, in order", T, async () => {
      await withServer(backend, {
        beforeStart: (server) => {
          server.send("first");
          server.send(pattern(3));
          // Runs once startConnection() returned, before open.
          queueMicrotask(() => server.send("between"));
          server.on("open", () => server.send("third"));
        },
      }, async (server, clients) => {
        const client = await connect(clients, "ours", server.url);
        assert.equal(await client.nextMessage(), "first");
        const second = await client.nextMessage();
        assert.ok(second instanceof Uint8Array && sameBytes(second, pattern(3)));
        assert.equal(await client.nextMessage(), "between");
        assert.equal(await client.nextMessage(), "third");
      });
    });

    // ───────────────────────── subprotocols ─────────────────────────

    for (const kind of CLIENT_KINDS) {
      it(`acceptProtocols: the first offered protocol the server accepts is agreed (${kind} client)`, T, async () => {
        await withServer(
          backend,
          { server: { acceptProtocols: ["alpha", "beta"] } },
          async (server, clients) => {
            const client = await connect(clients, kind, server.url, {
              protocols: ["gamma", "beta", "alpha"],
            });
            const record = await server.nextServer();
            assert.equal(client.protocol, "beta");
            assert.equal(record.server.protocol, "beta");
            client.send("hi");
            assert.equal(await client.nextMessage(), "hi");
          },
        );
      });
    }

    // Only our client here: WHATWG clients (Node's global WebSocket; browsers)
    // and ws fail a connection whose offered subprotocols got no answer, which
    // is the client's decision; the header's absence is checked by hand below.
    for (const kind of ["ours"] as const) {
      it(`acceptProtocols: none in common → no protocol, the connection opens (${kind} client)`, T, async () => {
        await withServer(
          backend,
          { server: { acceptProtocols: ["alpha"] } },
          async (server, clients) => {
            const client = await connect(clients, kind, server.url, {
              protocols: ["gamma"],
            });
            const record = await server.nextServer();
            assert.equal(client.protocol, "");
            assert.equal(record.server.protocol, null);
            client.send("still open");
            assert.equal(await client.nextMessage(), "still open");
          },
        );
      });
    }

    it("acceptProtocols: the 101 has the agreed protocol, or no header at all", T, async () => {
      await withServer(
        backend,
        { server: { acceptProtocols: ["alpha", "beta"] } },
        async (server) => {
          const agreed = await exchange(
            server.port,
            requestHead({
              headers: { "Sec-WebSocket-Protocol": "gamma, beta,alpha" },
            }),
          );
          assert.equal(agreed.status, 101);
          assert.equal(agreed.headers.get("sec-websocket-protocol"), "beta");
          const none = await exchange(
            server.port,
            requestHead({ headers: { "Sec-WebSocket-Protocol": "gamma" } }),
          );
          assert.equal(none.status, 101);
          assert.equal(none.headers.get("sec-websocket-protocol"), null);
        },
      );
    });

    // ───────────────────────── additional headers ─────────────────────────

    it("additionalHeaders appear in the 101 answer (raw client)", T, async () => {
      await withServer(backend, {
        server: {
          additionalHeaders: [
            ["X-Extra", "yes"],
            ["Set-Cookie", "a=1; Path=/"],
            ["Set-Cookie", "b=2; Path=/"],
          ],
        },
      }, async (server) => {
        const response = await exchange(server.port, requestHead());
        assert.equal(response.status, 101);
        assert.equal(response.headers.get("sec-websocket-accept"), ACCEPT);
        assert.equal(response.headers.get("upgrade")?.toLowerCase(), "websocket");
        assert.equal(response.headers.get("x-extra"), "yes");
        assert.deepEqual(response.headers.getSetCookie(), [
          "a=1; Path=/",
          "b=2; Path=/",
        ]);
      });
    });

    it("additionalHeaders appear in the 101 answer (ws client's 'upgrade' event)", T, async () => {
      await withServer(
        backend,
        { server: { additionalHeaders: { "X-Extra": "from-server" } } },
        async (server) => {
          const socket = new ws.WebSocket(server.url, [], {
            perMessageDeflate: false,
          });
          socket.on("error", () => {});
          const closed = new Promise((resolve) => socket.once("close", resolve));
          // 'open' follows 'upgrade' in the same tick: listen to both now.
          const opened = new Promise((resolve) => socket.once("open", resolve));
          const upgraded = new Promise<{ headers: Record<string, string> }>(
            (resolve) => socket.once("upgrade", resolve),
          );
          try {
            const upgrade = await withTimeout(upgraded, "ws 'upgrade' event");
            assert.equal(upgrade.headers["x-extra"], "from-server");
            await withTimeout(opened, "ws open");
            socket.close(1000);
          } finally {
            socket.terminate();
            await withTimeout(closed, "ws client closed");
          }
        },
      );
    });

    // ───────────────────────── maxLength ─────────────────────────

    for (const kind of CLIENT_KINDS) {
      it(
        `maxLength: a longer message closes with 1009; the server emits error then close (${kind} client)`,
        T,
        async () => {
          await withServer(
            backend,
            { server: { maxLength: 100 } },
            async (server, clients) => {
              const client = await connect(clients, kind, server.url);
              const record = await server.nextServer();
              client.send(text(100));
              assert.equal(await client.nextMessage(), text(100));
              client.send(pattern(101));
              const [code] = await withTimeout(client.closed, "the client's close");
              assert.equal(code, 1009);
              const [serverCode] = await withTimeout(
                record.closed,
                "the server's close",
              );
              assert.equal(serverCode, 1009);
              const names = record.events.map((e) => e[0]);
              assert.deepEqual(names.slice(-2), ["error", "close"]);
              const error = record.events.at(-2)![1];
              assert.ok(error instanceof ProtocolError, "a ProtocolError");
              assert.equal(error.code, 1009);
              assert.ok(!names.includes("message") || names.indexOf("message") < names.indexOf("error"));
              assert.equal(names.filter((n) => n === "message").length, 1);
            },
          );
        },
      );
    }

    // ───────────────────────── bad handshakes ─────────────────────────

    it("missing Upgrade → 400; the server emits error (400) then close 1006, never open", T, async () => {
      await withServer(backend, {}, async (server) => {
        const response = await exchange(
          server.port,
          requestHead({ headers: { Upgrade: null } }),
        );
        assert.equal(response.status, 400);
        assert.match(bodyOf(response), /Upgrade/);
        await assertRefused(await server.nextServer(), 400);
      });
    });

    it("missing Sec-WebSocket-Key → 400; the server emits error (400) then close 1006, never open", T, async () => {
      await withServer(backend, {}, async (server) => {
        const response = await exchange(
          server.port,
          requestHead({ headers: { "Sec-WebSocket-Key": null } }),
        );
        assert.equal(response.status, 400);
        assert.match(bodyOf(response), /Sec-WebSocket-Key/);
        await assertRefused(await server.nextServer(), 400);
      });
    });

    it("an invalid Sec-WebSocket-Key → 400", T, async () => {
      await withServer(backend, {}, async (server) => {
        const response = await exchange(
          server.port,
          requestHead({ headers: { "Sec-WebSocket-Key": "not-a-key" } }),
        );
        assert.equal(response.status, 400);
        assert.match(bodyOf(response), /Sec-WebSocket-Key/);
        await assertRefused(await server.nextServer(), 400);
      });
    });

    it("Sec-WebSocket-Version: 8 → 426 with Sec-WebSocket-Version: 13", T, async () => {
      await withServer(backend, {}, async (server) => {
        const response = await exchange(
          server.port,
          requestHead({ headers: { "Sec-WebSocket-Version": "8" } }),
        );
        assert.equal(response.status, 426);
        assert.equal(response.headers.get("sec-websocket-version"), "13");
        await assertRefused(await server.nextServer(), 426);
      });
    });

    it("POST → 405 with Allow: GET", T, async () => {
      await withServer(backend, {}, async (server) => {
        const response = await exchange(
          server.port,
          requestHead({ method: "POST" }),
        );
        assert.equal(response.status, 405);
        assert.equal(response.headers.get("allow"), "GET");
        await assertRefused(await server.nextServer(), 405);
      });
    });

    if (backend === "tcp") {
      it("a request head over maxHeadSize → 431; the handler never runs", T, async () => {
        await withServer(
          backend,
          { serve: { maxHeadSize: 1024 } },
          async (server) => {
            const response = await exchange(
              server.port,
              requestHead({ headers: { "X-Big": "a".repeat(2000) } }),
            );
            assert.equal(response.status, 431);
            assert.equal(server.servers.length, 0);
            // A head just under the limit still passes.
            const small = await exchange(
              server.port,
              requestHead({ headers: { "X-Big": "a".repeat(700) } }),
            );
            assert.equal(small.status, 101);
          },
        );
      });

      it("a client that sends half a head and stalls is dropped after headTimeout", T, async () => {
        await withServer(
          backend,
          { serve: { headTimeout: 300 } },
          async (server) => {
            const raw = await RawClient.connect(server.port);
            try {
              const started = Date.now();
              raw.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: web");
              await raw.readToEnd(5_000);
              const elapsed = Date.now() - started;
              assert.ok(elapsed >= 250, `dropped after ${elapsed} ms, not before 300`);
              assert.ok(elapsed < 3_000, `dropped after ${elapsed} ms`);
              assert.equal(raw.bytes().length, 0, "nothing is answered");
              assert.equal(server.servers.length, 0);
            } finally {
              await raw.close();
            }
          },
        );
      });
    }

    // ───────────────────────── plain HTTP ─────────────────────────

    it("plain HTTP requests reach the handler and get its Response", T, async () => {
      await withServer(backend, {
        route: async (request) => {
          const url = new URL(request.url);
          if (url.pathname === "/health") {
            return new Response(`healthy ${url.search}`, {
              status: 203,
              headers: { "X-Route": "health", "Content-Type": "text/plain" },
            });
          }
          if (url.pathname === "/body") {
            return new Response(`got ${request.method} ${await request.text()}`);
          }
          if (url.pathname === "/empty") return new Response(null, { status: 204 });
          return undefined;
        },
      }, async (server) => {
        const health = await exchange(
          server.port,
          plainHead("GET", "/health?x=1"),
        );
        assert.equal(health.status, 203);
        assert.equal(health.headers.get("x-route"), "health");
        assert.equal(health.headers.get("content-type"), "text/plain");
        assert.equal(bodyOf(health), "healthy ?x=1");
        const posted = await exchange(
          server.port,
          plainHead("POST", "/body", {}, "hello body"),
        );
        assert.equal(posted.status, 200);
        assert.equal(bodyOf(posted), "got POST hello body");
        const empty = await exchange(server.port, plainHead("GET", "/empty"));
        assert.equal(empty.status, 204);
        assert.equal(bodyOf(empty), "");
        // The same server still upgrades.
        const upgraded = await exchange(server.port, requestHead());
        assert.equal(upgraded.status, 101);
        // fetch() as a client too.
        const fetched = await fetch(`http://${HOST}:${server.port}/health?y=2`);
        assert.equal(fetched.status, 203);
        assert.equal(await fetched.text(), "healthy ?y=2");
      });
    });

    it("a handler may refuse an upgrade with its own Response (401)", T, async () => {
      await withServer(backend, {
        route: (request) =>
          request.headers.get("authorization") === "Bearer ok" ? undefined : new Response("who are you?", {
            status: 401,
            headers: { "WWW-Authenticate": "Bearer" },
          }),
      }, async (server, clients) => {
        const refused = await exchange(server.port, requestHead());
        assert.equal(refused.status, 401);
        assert.equal(refused.statusText, "Unauthorized");
        assert.equal(refused.headers.get("www-authenticate"), "Bearer");
        assert.equal(bodyOf(refused), "who are you?");
        await assert.rejects(openClient("ours", server.url), /401/);
        const client = await connect(clients, "ours", server.url, {
          headers: { Authorization: "Bearer ok" },
        });
        client.send("let in");
        assert.equal(await client.nextMessage(), "let in");
      });
    });

    it("a large plain HTTP request body reaches the handler whole", T, async () => {
      const body = text(300_000);
      await withServer(backend, {
        route: async (request) => {
          const got = await request.text();
          return new Response(`${got.length} ${got === body}`);
        },
      }, async (server) => {
        const answer = await exchange(server.port, plainHead("POST", "/", {}, body));
        assert.equal(answer.status, 200);
        assert.equal(bodyOf(answer), "300000 true");
        const fetched = await fetch(`http://${HOST}:${server.port}/`, {
          method: "POST",
          body,
        });
        assert.equal(await fetched.text(), "300000 true");
      });
    });

    it("a handler that throws → 500 (plain HTTP and upgrade requests)", T, async () => {
      const logged: unknown[][] = [];
      const original = console.error;
      console.error = (...args: unknown[]) => void logged.push(args);
      try {
        await withServer(backend, {
          route: () => {
            throw new Error("boom");
          },
        }, async (server) => {
          const plain = await exchange(server.port, plainHead("GET", "/"));
          assert.equal(plain.status, 500);
          const upgrade = await exchange(server.port, requestHead());
          assert.equal(upgrade.status, 500);
        });
      } finally {
        console.error = original;
      }
      assert.ok(logged.length >= 2, "the errors were logged");
    });

    it("a handler that throws → onError's answer", T, async () => {
      const seen: unknown[] = [];
      await withServer(backend, {
        route: () => {
          throw new Error("boom");
        },
        serve: {
          onError: (error) => {
            seen.push(error);
            return new Response("sorry", {
              status: 503,
              headers: { "Retry-After": "5" },
            });
          },
        },
      }, async (server) => {
        const plain = await exchange(server.port, plainHead("GET", "/"));
        assert.equal(plain.status, 503);
        assert.equal(plain.headers.get("retry-after"), "5");
        assert.equal(bodyOf(plain), "sorry");
        const upgrade = await exchange(server.port, requestHead());
        assert.equal(upgrade.status, 503);
        assert.equal(bodyOf(upgrade), "sorry");
      });
      assert.equal(seen.length, 2);
      assert.ok(seen.every((e) => e instanceof Error && e.message === "boom"));
    });

    // ───────────────────────── the request ─────────────────────────

    it("ws.request has the original Request's URL, method and headers; the handler gets remoteAddr", T, async () => {
      await withServer(backend, {}, async (server, clients) => {
        await connect(clients, "ours", `${server.url}/room/7?user=ann&x=%20`, {
          headers: { "X-Token": "secret", Origin: "http://example.test" },
        });
        const record = await server.nextServer();
        // Once open, the server may have let the Request go and made an
        // equal one (see Server.request): the same on every read.
        assert.ok(record.server.request instanceof Request);
        assert.equal(record.server.request, record.server.request);
        assert.equal(record.server.request.url, record.request.url);
        assert.equal(record.server.request.method, record.request.method);
        assert.deepEqual([...record.server.request.headers], [...record.request.headers]);
        const url = new URL(record.server.request.url);
        assert.equal(url.pathname, "/room/7");
        assert.equal(url.search, "?user=ann&x=%20");
        assert.equal(url.searchParams.get("user"), "ann");
        assert.equal(url.host, `${HOST}:${server.port}`);
        assert.equal(url.protocol, "http:");
        assert.equal(record.request.method, "GET");
        assert.equal(record.request.headers.get("x-token"), "secret");
        assert.equal(record.request.headers.get("origin"), "http://example.test");
        assert.equal(record.request.headers.get("sec-websocket-version"), "13");
        assert.equal(record.info.remoteAddr.hostname, HOST);
        assert.ok(record.info.remoteAddr.port > 0);

        // The remote port is the client's own port.
        const raw = await RawClient.connect(server.port);
        try {
          raw.write(requestHead({ target: "/raw" }));
          assert.equal((await raw.readHead()).status, 101);
          const rawRecord = await server.nextServer();
          assert.equal(rawRecord.info.remoteAddr.port, raw.socket.localPort);
          assert.equal(new URL(rawRecord.request.url).pathname, "/raw");
        } finally {
          await raw.close();
        }
      });
    });

    it(
      "repeated request headers (any case) are joined as Headers joins them; a header named __proto__ is just a header",
      T,
      async () => {
        await withServer(backend, {}, async (server) => {
          const raw = await RawClient.connect(server.port);
          try {
            raw.write(
              requestHead({ target: "/dup" }).replace(
                "\r\n\r\n",
                "\r\nX-Thing: one\r\nx-thing: two\r\nX-THING: three\r\n__proto__: polluted\r\n" +
                  "Sec-WebSocket-Protocol: chat\r\nsec-websocket-protocol: superchat\r\n\r\n",
              ),
            );
            assert.equal((await raw.readHead()).status, 101);
            const record = await server.nextServer();
            assert.equal(record.request.headers.get("x-thing"), "one, two, three");
            assert.equal(record.request.headers.get("__proto__"), "polluted");
            assert.equal(record.request.headers.get("sec-websocket-protocol"), "chat, superchat");
            assert.equal(({} as Record<string, unknown>).polluted, undefined);
            assert.equal(Object.getPrototypeOf({}), Object.prototype);
          } finally {
            await raw.close();
          }
        });
      },
    );

    // ───────────────────────── shutdown ─────────────────────────

    for (const kind of CLIENT_KINDS) {
      it(
        `close(): open connections get 1001 "going away", finished resolves, the port is free (${kind} client)`,
        T,
        async () => {
          const server = await startServer(backend);
          let client: TestClient | undefined;
          try {
            client = await openClient(kind, server.url);
            const record = await server.nextServer();
            client.send("before");
            assert.equal(await client.nextMessage(), "before");
            const started = Date.now();
            await server.handle.close();
            await withTimeout(server.handle.finished, "finished");
            const [code, reason] = await withTimeout(client.closed, "client close");
            assert.equal(code, 1001);
            assert.equal(reason, "Server shutting down");
            assert.equal((await record.closed)[0], 1001);
            assert.ok(Date.now() - started < 1_900, "no wait for the timeout");
            assert.ok(await portIsFree(server.port), "the port is free");
            await assert.rejects(openClient("ours", server.url));
          } finally {
            client?.terminate();
            await server.close();
          }
        },
      );
    }

    it("the signal option stops the server like close()", T, async () => {
      const controller = new AbortController();
      const server = await startServer(backend, {
        serve: { signal: controller.signal },
      });
      let client: TestClient | undefined;
      try {
        client = await openClient("ours", server.url);
        await server.nextServer();
        controller.abort();
        await withTimeout(server.handle.finished, "finished after abort");
        assert.equal((await withTimeout(client.closed, "client close"))[0], 1001);
        assert.ok(await portIsFree(server.port), "the port is free");
      } finally {
        client?.terminate();
        await server.close();
      }
    });

    it("close() while a handler is still running: its upgrade is closed too, close() resolves", T, async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => release = resolve);
      let entered!: () => void;
      const inHandler = new Promise<void>((resolve) => entered = resolve);
      const server = await startServer(backend, {
        route: async () => {
          entered();
          await gate;
          return undefined;
        },
      });
      const raw = await RawClient.connect(server.port);
      try {
        raw.write(requestHead());
        await withTimeout(inHandler, "the handler to run");
        const closed = server.handle.close();
        await delay(50);
        release();
        // The late connection is not left open: it is refused, or upgraded
        // and then closed with 1001 (answered here, as a client does), or cut.
        const closeFrame = () => {
          const bytes = raw.bytes();
          if (bytes.length === 0) return false;
          try {
            return parseFrames(parseHead(bytes).rest).some((f) => f.opcode === 8);
          } catch {
            return false;
          }
        };
        await raw.until(closeFrame, "a close frame").catch(() => {});
        if (closeFrame()) {
          const frame = parseFrames(parseHead(raw.bytes()).rest)[0];
          assert.equal(frame.opcode, 0x8);
          assert.deepEqual([...frame.payload.subarray(0, 2)], [0x03, 0xe9]);
          raw.write(maskedFrame(0x8, frame.payload.subarray(0, 2)));
        }
        await withTimeout(closed, "close() with a late upgrade", 4_000);
        await withTimeout(server.handle.finished, "finished");
        await raw.readToEnd(4_000);
        assert.ok(await portIsFree(server.port), "the port is free");
      } finally {
        release();
        await raw.close();
        await server.close();
      }
    });

    it("close() ends a connection that never answers the close frame after shutdownTimeout", T, async () => {
      const server = await startServer(backend, {
        serve: { shutdownTimeout: 300 },
      });
      const raw = await RawClient.connect(server.port);
      try {
        raw.write(requestHead());
        assert.equal((await raw.readHead()).status, 101);
        const record = await server.nextServer();
        const started = Date.now();
        await withTimeout(server.handle.close(), "close()", 4_000);
        const elapsed = Date.now() - started;
        assert.ok(elapsed >= 250, `close() took ${elapsed} ms`);
        assert.ok(elapsed < 2_000, `close() took ${elapsed} ms`);
        const frames = parseFrames(parseHead(raw.bytes()).rest);
        assert.equal(frames[0]?.opcode, 0x8, "a close frame was sent");
        await raw.readToEnd(2_000);
        await withTimeout(record.closed, "the server's close", 2_000);
        assert.ok(await portIsFree(server.port), "the port is free");
      } finally {
        await raw.close();
        await server.close();
      }
    });

    it("close() does not wait past shutdownTimeout for a plain request whose handler hangs", T, async () => {
      let entered!: () => void;
      const inHandler = new Promise<void>((resolve) => entered = resolve);
      const server = await startServer(backend, {
        serve: { shutdownTimeout: 300 },
        route: () => {
          entered();
          return new Promise<Response>(() => {}); // never answers
        },
      });
      const raw = await RawClient.connect(server.port);
      try {
        raw.write(plainHead("GET", "/slow"));
        await withTimeout(inHandler, "the handler to run");
        const started = Date.now();
        await withTimeout(server.handle.close(), "close()", 4_000);
        const elapsed = Date.now() - started;
        assert.ok(elapsed < 2_000, `close() took ${elapsed} ms`);
        await raw.readToEnd(2_000);
        assert.ok(await portIsFree(server.port), "the port is free");
      } finally {
        await raw.close();
        await server.close();
      }
    });

    it("close() with nothing open, twice, resolves and frees the port", T, async () => {
      const server = await startServer(backend);
      await Promise.all([server.handle.close(), server.handle.close()]);
      await withTimeout(server.handle.finished, "finished");
      assert.ok(await portIsFree(server.port), "the port is free");
    });

    it("a busy port: ready and finished reject (no unhandled rejection), close() resolves", T, async () => {
      const blocker = await startServer(backend);
      const unhandled = trackUnhandled();
      try {
        const handle = serve(() => new Response("never"), {
          port: blocker.port,
          hostname: HOST,
          backend,
        });
        await assert.rejects(handle.ready);
        await delay(50); // let an unhandled rejection surface
        assert.deepEqual(unhandled.errors, []);
        await assert.rejects(handle.finished);
        await handle.close();
        assert.equal(handle.addr, null);
      } finally {
        unhandled.stop();
        await blocker.close();
      }
    });

    // ───────────────────────── TLS ─────────────────────────

    it("wss:// with a certificate and key (our client with caCerts)", T, async () => {
      await withServer(backend, {
        serve: { cert: fixture("server.pem"), key: fixture("server-key.pem") },
        server: { acceptProtocols: ["chat"] },
      }, async (server, clients) => {
        assert.match(server.url, /^wss:/);
        const client = await connect(clients, "ours", `${server.url}/secure`, {
          caCerts: [fixture("ca.pem")],
          protocols: ["chat"],
        });
        assert.equal(client.protocol, "chat");
        const record = await server.nextServer();
        assert.equal(new URL(record.request.url).pathname, "/secure");
        for (const n of [0, 126, 65536, 1 << 20]) {
          client.send(text(n));
          assert.ok(await client.nextMessage() === text(n));
          client.send(pattern(n));
          const back = await client.nextMessage();
          assert.ok(back instanceof Uint8Array && sameBytes(back, pattern(n)));
        }
        client.close(1000, "tls done");
        assert.deepEqual(await withTimeout(client.closed, "close"), [
          1000,
          "tls done",
        ]);
      });
    });

    // ───────────────────────── pipelining ─────────────────────────

    it("frames sent in the same packet as the request head are not lost", T, async () => {
      await withServer(backend, {}, async (server) => {
        const raw = await RawClient.connect(server.port);
        try {
          const head = new TextEncoder().encode(requestHead());
          const frames = [
            maskedFrame(0x1, "early bird"),
            maskedFrame(0x2, pattern(300)),
          ];
          const all = new Uint8Array(
            head.length + frames[0].length + frames[1].length,
          );
          all.set(head);
          all.set(frames[0], head.length);
          all.set(frames[1], head.length + frames[0].length);
          raw.write(all);
          const response = await raw.readHead();
          assert.equal(response.status, 101);
          assert.equal(response.headers.get("sec-websocket-accept"), ACCEPT);
          await raw.until(
            () => parseFrames(parseHead(raw.bytes()).rest).length >= 2,
            "two echoed frames",
          );
          const echoed = parseFrames(parseHead(raw.bytes()).rest);
          assert.equal(echoed[0].opcode, 0x1);
          assert.equal(echoed[0].masked, false);
          assert.equal(decoder.decode(echoed[0].payload), "early bird");
          assert.equal(echoed[1].opcode, 0x2);
          assert.ok(sameBytes(echoed[1].payload, pattern(300)));
          // Close cleanly: the server answers and ends the connection.
          raw.write(maskedFrame(0x8, new Uint8Array([0x03, 0xe8])));
          await raw.readToEnd();
          const last = parseFrames(parseHead(raw.bytes()).rest).at(-1)!;
          assert.equal(last.opcode, 0x8);
          assert.deepEqual([...last.payload.subarray(0, 2)], [0x03, 0xe8]);
        } finally {
          await raw.close();
        }
        const record = await server.nextServer();
        assert.deepEqual(await withTimeout(record.closed, "server close"), [
          1000,
          "",
        ]);
      });
    });
  });
}

it("availableBackends() lists tcp and node everywhere, deno on Deno only", () => {
  const backends = availableBackends();
  assert.ok(backends.includes("tcp"));
  assert.ok(backends.includes("node"));
  assert.equal(backends.includes("deno"), runtime === "deno");
});

it("an unavailable or unknown backend is a TypeError", () => {
  const handler = () => new Response("never");
  if (runtime !== "deno") {
    assert.throws(() => serve(handler, { backend: "deno", port: 0 }), TypeError);
  }
  assert.throws(
    () => serve(handler, { backend: "bun" as BackendName, port: 0 }),
    TypeError,
  );
});

/**
 * Bun.serve with withWebSockets (Bun only): a plain Fetch handler that routes
 * HTTP and upgrades in one place, with this library's API on Bun's own
 * WebSockets. Echo with three kinds of clients, the 101's headers, pings and
 * the heartbeat (Bun's socket can ping), drops (1006), close frames without a
 * code (1005), violations Bun found (error then the violation's code),
 * maxLength both ways, sendQueuePolicy, closeConnection, early sends,
 * permessage-deflate, allowOrigins. On every runtime: the options are checked,
 * and the fetch it makes just calls the handler where there is no Bun server.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHub, ListenerError, ProtocolError } from "../../mod.ts";
import { HandshakeError, makeServer, withWebSockets } from "../../server.ts";
import type { BunUpgradeServer, WithWebSocketsOptions } from "../../server.ts";
import {
  bodyOf,
  delay,
  exchange,
  HOST,
  maskedFrame,
  openClient,
  parseFrames,
  parseHead,
  pattern,
  RawClient,
  recordingHandler,
  requestHead,
  sameBytes,
  text,
  withTimeout,
  ws as wsPackage,
} from "./_util.ts";
import { clientFrame, OP_BINARY, OP_PING, RawWs, repeated } from "../../bench/reliability/_raw.ts";
import type { ServerRecord, StartOptions, TestClient } from "./_util.ts";

const T = { timeout: 20_000 };
// What a non-reading flooder may get accepted once the server stops reading
// (see tests/server/reliability_test.ts: the kernel's buffers both ways plus
// one outgoingHighWaterMark come to about 14 MB here).
const FLOOD_BOUND = 32 << 20;
// deno-lint-ignore no-explicit-any
const bun = (globalThis as any).Bun;

interface BunServer {
  port: number;
  url: string;
  nextServer(): Promise<ServerRecord>;
}

/** Bun.serve({ ...withWebSockets(handler) }) with a recording handler; GET /plain answers "hello". */
async function withBun(
  options: StartOptions & { bun?: WithWebSocketsOptions },
  body: (server: BunServer, clients: TestClient[]) => Promise<void>,
): Promise<void> {
  const { handler, nextServer } = recordingHandler({
    ...options,
    route: (request) => new URL(request.url).pathname === "/plain" ? new Response("hello") : undefined,
  });
  const server = bun.serve({
    port: 0,
    hostname: HOST,
    ...withWebSockets((request) => handler(request, { remoteAddr: { hostname: HOST, port: 0 } }), options.bun),
  });
  const clients: TestClient[] = [];
  try {
    await body({ port: server.port, url: `ws://${HOST}:${server.port}`, nextServer }, clients);
  } finally {
    for (const client of clients) client.terminate();
    server.stop(true);
  }
}

async function open(port: number, head = requestHead()): Promise<RawClient> {
  const raw = await RawClient.connect(port);
  raw.write(head);
  assert.equal((await raw.readHead()).status, 101);
  return raw;
}

function opened(record: ServerRecord): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve) =>
      record.server.readyState === "open" ? resolve() : record.server.once("open", () => resolve())
    ),
    "open",
  );
}

describe("withWebSockets (every runtime)", () => {
  it("checks its arguments", () => {
    // deno-lint-ignore no-explicit-any
    assert.throws(() => withWebSockets(42 as any), TypeError);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => withWebSockets(() => new Response(), { maxLenght: 1 } as any), TypeError);
    assert.throws(() => withWebSockets(() => new Response(), { maxLength: -1 }), RangeError);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => withWebSockets(() => new Response(), { perMessageDeflate: {} as any }), TypeError);
    assert.throws(() => withWebSockets(() => new Response(), { allowOrigins: ["example.com"] }), TypeError);
    const parts = withWebSockets(() => new Response());
    assert.equal(typeof parts.fetch, "function");
    assert.equal(parts.websocket.maxPayloadLength, 0x3ffffff);
    assert.equal(parts.websocket.idleTimeout, 0);
  });

  it("without a Bun server, fetch just calls the handler (plain answers pass through)", async () => {
    const seen: unknown[] = [];
    const parts = withWebSockets((request, server) => {
      seen.push(server);
      return new Response(`hello ${new URL(request.url).pathname}`);
    });
    const response = await parts.fetch(new Request(`http://${HOST}/x`), undefined as unknown as BunUpgradeServer);
    assert.equal(await response!.text(), "hello /x");
    const asyncParts = withWebSockets(() => Promise.resolve(new Response("later")));
    const later = await asyncParts.fetch(new Request(`http://${HOST}/`), {} as BunUpgradeServer);
    assert.equal(await later!.text(), "later");
    assert.equal(seen.length, 1);
  });
});

if (bun === undefined) {
  it.skip("Bun.serve with withWebSockets: Bun only", () => {});
} else {
  describe("Bun.serve with withWebSockets", () => {
    for (const kind of ["ours", "global", "ws"] as const) {
      it(
        `echo keeps text as text and binary as binary; plain routes in the same fetch (${kind} client)`,
        T,
        async () => {
          await withBun({}, async (server, clients) => {
            const plain = await fetch(`http://${HOST}:${server.port}/plain`);
            assert.equal(await plain.text(), "hello");
            const client = await openClient(kind, `${server.url}/echo`);
            clients.push(client);
            const record = await server.nextServer();
            for (const n of [0, 125, 126, 65536, 1 << 20]) {
              client.send(text(n));
              const t = await client.nextMessage();
              assert.ok(typeof t === "string" && t === text(n), `text ${n}`);
              client.send(pattern(n));
              const b = await client.nextMessage();
              assert.ok(b instanceof Uint8Array && sameBytes(b, pattern(n)), `binary ${n}`);
            }
            assert.equal(record.server.readyState, "open");
            assert.equal(typeof record.server.bufferedAmount, "number");
            client.close(1000, "done");
            assert.deepEqual(await withTimeout(client.closed, "client close"), [1000, "done"]);
            const [code, reason] = await withTimeout(record.closed, "server close");
            assert.deepEqual([code, reason], [1000, "done"]);
            assert.equal(record.events[0][0], "open");
          });
        },
      );
    }

    it("open is emitted after startConnection() returned (a listener added then still hears it)", T, async () => {
      const heard = Promise.withResolvers<string>();
      const server = bun.serve({
        port: 0,
        hostname: HOST,
        ...withWebSockets((request) => {
          const ws = makeServer(request);
          const response = ws.startConnection();
          ws.on("open", () => heard.resolve(ws.readyState));
          return response;
        }),
      });
      try {
        const raw = await open(server.port);
        assert.equal(await withTimeout(heard.promise, "open"), "open");
        await raw.close();
      } finally {
        server.stop(true);
      }
    });

    it("idle connections, then 16 MiB through one of them: echoed whole; the others still echo", T, async () => {
      await withBun({}, async (server, clients) => {
        for (let i = 0; i < 20; i++) clients.push(await openClient("ours", server.url));
        await delay(300);
        const big = pattern(16 << 20);
        clients[7].send(big);
        const echo = await clients[7].nextMessage("the 16 MiB echo");
        assert.ok(echo instanceof Uint8Array && sameBytes(echo, big));
        for (const [i, c] of clients.entries()) c.send(`after ${i}`);
        for (const [i, c] of clients.entries()) assert.equal(await c.nextMessage(`echo ${i}`), `after ${i}`);
      });
    });

    it("echo with transfer: binary messages intact, each one handed over detached", T, async () => {
      await withBun({ echo: "transfer" }, async (server, clients) => {
        const client = await openClient("ours", server.url);
        clients.push(client);
        const record = await server.nextServer();
        const sizes = [0, 125, 65536, 1 << 20, 16 << 20];
        for (const n of sizes) {
          client.send(pattern(n, n & 0xff));
          const b = await client.nextMessage(`echo of ${n}`);
          assert.ok(b instanceof Uint8Array && sameBytes(b, pattern(n, n & 0xff)), `binary ${n} intact`);
        }
        const received = record.events.filter((e) => e[0] === "message").map((e) => e[1] as Uint8Array);
        assert.equal(received.length, sizes.length);
        for (const m of received) assert.equal(m.length, 0, "the server's message was taken by its send");
      });
    });

    it("subprotocol and additional headers in the 101 answer", T, async () => {
      await withBun(
        { server: { acceptProtocols: ["beta"], additionalHeaders: { "X-Extra": "yes" } } },
        async (server) => {
          const response = await exchange(
            server.port,
            requestHead({ headers: { "Sec-WebSocket-Protocol": "alpha, beta" } }),
          );
          assert.equal(response.status, 101);
          assert.equal(response.headers.get("sec-websocket-protocol"), "beta");
          assert.equal(response.headers.get("x-extra"), "yes");
          assert.equal(response.headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
          const record = await server.nextServer();
          assert.equal(record.server.protocol, "beta");
        },
      );
    });

    it("ping() resolves with the round-trip time; sendPing's callback fires for its pong", T, async () => {
      await withBun({}, async (server, clients) => {
        clients.push(await openClient("ours", server.url));
        const record = await server.nextServer();
        await opened(record);
        const rtt = await withTimeout(record.server.ping(), "pong");
        assert.ok(typeof rtt === "number" && rtt >= 0);
        const pong = Promise.withResolvers<void>();
        record.server.sendPing("x", () => pong.resolve());
        await withTimeout(pong.promise, "sendPing callback");
        assert.ok(record.events.some((e) => e[0] === "pong"));
      });
    });

    it("heartbeat: a peer that answers nothing → error WSD_ERR_HEARTBEAT_TIMEOUT, close 1006", T, async () => {
      await withBun({ bun: { heartbeat: { interval: 100, timeout: 150 } } }, async (server) => {
        const raw = await open(server.port);
        const record = await server.nextServer();
        const [code] = await withTimeout(record.closed, "close", 5_000);
        assert.equal(code, 1006);
        const error = record.events.find((e) => e[0] === "error")?.[1];
        assert.ok(error instanceof ProtocolError && error.type === "WSD_ERR_HEARTBEAT_TIMEOUT");
        // It did ping first.
        assert.ok(parseFrames(parseHead(raw.bytes()).rest).some((f) => f.opcode === 0x9));
        await raw.close();
      });
    });

    it(
      "a message listener that throws: that connection closes with 1011 (ListenerError), the next one works",
      T,
      async () => {
        await withBun({
          echo: false,
          beforeStart: (ws) =>
            ws.on("message", (m) => {
              if (m === "boom") throw new Error("listener bug");
              ws.send(m);
            }),
        }, async (server, clients) => {
          const first = await openClient("ours", server.url);
          clients.push(first);
          const record = await server.nextServer();
          first.send("boom");
          assert.equal((await withTimeout(first.closed, "client close"))[0], 1011);
          const [code] = await withTimeout(record.closed, "server close");
          assert.equal(code, 1011);
          const error = record.events.find((e) => e[0] === "error")?.[1] as ListenerError;
          assert.ok(error instanceof ListenerError);
          assert.equal((error.cause as Error).message, "listener bug");
          const second = await openClient("ours", server.url);
          clients.push(second);
          second.send("still here");
          assert.equal(await second.nextMessage(), "still here");
        });
      },
    );

    for (
      const [what, frame, count] of [
        ["pings", clientFrame(OP_PING, new Uint8Array(125)), 512],
        ["16 KiB messages echoed", clientFrame(OP_BINARY, new Uint8Array(16384)), 4],
      ] as const
    ) {
      it(`a peer that floods ${what} and never reads: Bun stops reading (pause), the server serves on`, T, async () => {
        await withBun({}, async (server, clients) => {
          const flooder = await RawWs.open(server.port, { paused: true });
          try {
            const { accepted, stalled } = await flooder.flood(repeated(frame, count), 8_000, {
              limit: FLOOD_BOUND,
              idle: 1_000,
            });
            assert.ok(
              stalled && accepted < FLOOD_BOUND,
              `Bun did not stop reading: the flooder got ${(accepted / (1 << 20)).toFixed(1)} MB accepted`,
            );
            const other = await openClient("ours", server.url);
            clients.push(other);
            other.send("still here");
            assert.equal(await other.nextMessage(), "still here");
          } finally {
            await flooder.destroy();
          }
        });
      });
    }

    it("a peer killed mid-connection: close 1006; a close frame without a code: 1005", T, async () => {
      await withBun({}, async (server) => {
        const raw = await open(server.port);
        const record = await server.nextServer();
        await opened(record);
        raw.socket.resetAndDestroy();
        assert.equal((await withTimeout(record.closed, "close"))[0], 1006);
        assert.deepEqual(record.events.map((e) => e[0]), ["open", "close"]);
        const raw2 = await open(server.port);
        const record2 = await server.nextServer();
        raw2.write(maskedFrame(0x8, new Uint8Array(0)));
        assert.equal((await withTimeout(record2.closed, "close"))[0], 1005);
        await raw2.close();
      });
    });

    it("a violation Bun found: error (ProtocolError 1007) then close 1007; the peer got 1007", T, async () => {
      await withBun({}, async (server) => {
        const raw = await open(server.port);
        const record = await server.nextServer();
        raw.write(maskedFrame(0x1, new Uint8Array([0xff])));
        assert.equal((await withTimeout(record.closed, "close"))[0], 1007);
        const error = record.events.at(-2)?.[1];
        assert.ok(error instanceof ProtocolError && error.type === "WSD_ERR_INVALID_UTF8");
        await raw.until(() => parseFrames(parseHead(raw.bytes()).rest).some((f) => f.opcode === 0x8), "close frame");
        const close = parseFrames(parseHead(raw.bytes()).rest).find((f) => f.opcode === 0x8)!;
        assert.equal((close.payload[0] << 8) | close.payload[1], 1007);
        await raw.close();
      });
    });

    it(
      "maxLength: makeServer's (per message) and withWebSockets' (before buffering) both close with 1009",
      T,
      async () => {
        await withBun({ server: { maxLength: 100 } }, async (server, clients) => {
          const client = await openClient("ours", server.url);
          clients.push(client);
          const record = await server.nextServer();
          client.send("é".repeat(50));
          assert.equal(await client.nextMessage(), "é".repeat(50));
          client.send("é".repeat(50) + "x");
          assert.equal((await withTimeout(client.closed, "client close"))[0], 1009);
          assert.equal((await withTimeout(record.closed, "server close"))[0], 1009);
          assert.deepEqual(record.events.map((e) => e[0]), ["open", "message", "error", "close"]);
        });
        await withBun({ bun: { maxLength: 1000 } }, async (server, clients) => {
          const client = await openClient("ours", server.url);
          clients.push(client);
          const record = await server.nextServer();
          client.send(new Uint8Array(1001));
          assert.equal((await withTimeout(client.closed, "client close"))[0], 1009);
          assert.equal((await withTimeout(record.closed, "server close"))[0], 1009);
        });
      },
    );

    for (const policy of ["close", "drop", "throw"] as const) {
      it(`sendQueuePolicy "${policy}" applies over outgoingHighWaterMark (a peer that does not read)`, T, async () => {
        await withBun(
          { server: { sendQueuePolicy: policy, outgoingHighWaterMark: 1 << 16 }, echo: false },
          async (server) => {
            const raw = await open(server.port);
            raw.socket.pause();
            const record = await server.nextServer();
            await opened(record);
            const big = new Uint8Array(1 << 20);
            let result: boolean | Error = true;
            for (let i = 0; i < 64 && result === true; i++) {
              try {
                result = record.server.send(big);
              } catch (error) {
                result = error as Error;
              }
            }
            if (policy === "throw") assert.ok(result instanceof RangeError);
            else assert.equal(result, false);
            if (policy === "close") {
              const [code] = await withTimeout(record.closed, "close");
              assert.equal(code, 1008);
            } else {
              assert.equal(record.server.readyState, "open");
            }
            await raw.close();
          },
        );
      });
    }

    it(
      "drained() and drain follow Bun's drain; closeConnection reaches the client; later sends return false",
      T,
      async () => {
        await withBun({ echo: false, server: { outgoingHighWaterMark: 1 << 16 } }, async (server, clients) => {
          const client = await openClient("ws", server.url);
          clients.push(client);
          const record = await server.nextServer();
          await opened(record);
          for (let i = 0; i < 16; i++) record.server.send(new Uint8Array(1 << 20));
          await withTimeout(record.server.drained(), "drained");
          assert.ok(record.server.bufferedAmount <= 1 << 16);
          for (let i = 0; i < 16; i++) await client.nextMessage();
          assert.equal(record.server.closeConnection(4000, "bye"), true);
          assert.deepEqual(await withTimeout(client.closed, "client close"), [4000, "bye"]);
          assert.deepEqual(await withTimeout(record.closed, "server close"), [4000, "bye"]);
          assert.equal(record.server.send("late"), false);
          assert.equal(record.server.closeConnection(), false);
        });
      },
    );

    it("sends made before open go first, in order", T, async () => {
      await withBun({
        beforeStart: (server) => {
          server.send("first");
          server.send(pattern(3));
          queueMicrotask(() => server.send("between"));
          server.on("open", () => server.send("third"));
        },
      }, async (server, clients) => {
        const client = await openClient("ours", server.url);
        clients.push(client);
        assert.equal(await client.nextMessage(), "first");
        const second = await client.nextMessage();
        assert.ok(second instanceof Uint8Array && sameBytes(second, pattern(3)));
        assert.equal(await client.nextMessage(), "between");
        assert.equal(await client.nextMessage(), "third");
      });
    });

    it("perMessageDeflate: Bun agrees it with a client that offers it; messages round-trip", T, async () => {
      await withBun({ bun: { perMessageDeflate: true } }, async (server) => {
        const socket = new wsPackage.WebSocket(server.url, [], { perMessageDeflate: true });
        const got = Promise.withResolvers<string>();
        socket.on("open", () => socket.send("a".repeat(10_000)));
        socket.on("message", (data: { toString(): string }) => got.resolve(data.toString()));
        try {
          assert.equal(await withTimeout(got.promise, "echo"), "a".repeat(10_000));
          const record = await server.nextServer();
          assert.equal(record.server.extensions, "permessage-deflate");
        } finally {
          socket.terminate();
        }
      });
      // What extensions reports is what Bun answered.
      const offer = { "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits" };
      await withBun({ bun: { perMessageDeflate: true } }, async (server) => {
        const response = await exchange(server.port, requestHead({ headers: offer }));
        assert.match(response.headers.get("sec-websocket-extensions") ?? "", /^permessage-deflate/);
        assert.equal((await server.nextServer()).server.extensions, "permessage-deflate");
      });
      await withBun({}, async (server) => {
        const response = await exchange(server.port, requestHead({ headers: offer }));
        assert.equal(response.headers.get("sec-websocket-extensions"), null);
        assert.equal((await server.nextServer()).server.extensions, "");
      });
    });

    it("topics: a hub publishes to connections on Bun's sockets (as messages, not pre-encoded frames)", T, async () => {
      const hub = createHub();
      await withBun({
        echo: false,
        beforeStart: (server) => server.on("open", () => hub.subscribe(server, "room")),
      }, async (server, clients) => {
        const a = await openClient("ours", server.url);
        const b = await openClient("ws", server.url);
        clients.push(a, b);
        await opened(await server.nextServer());
        await opened(await server.nextServer());
        await delay(10);
        assert.equal(hub.publish("room", "hello"), 2);
        hub.publish("room", pattern(5));
        for (const client of [a, b]) {
          assert.equal(await client.nextMessage(), "hello");
          const bytes = await client.nextMessage();
          assert.ok(bytes instanceof Uint8Array && sameBytes(bytes, pattern(5)));
        }
      });
    });

    it("allowOrigins: 403 with a body, error (HandshakeError 403) then close 1006", T, async () => {
      await withBun({ bun: { allowOrigins: ["https://example.com"] } }, async (server) => {
        const ok = await exchange(server.port, requestHead({ headers: { Origin: "https://example.com" } }));
        assert.equal(ok.status, 101);
        await server.nextServer();
        const refused = await exchange(server.port, requestHead({ headers: { Origin: "https://evil.example" } }));
        assert.equal(refused.status, 403);
        assert.match(bodyOf(refused), /Origin not allowed/);
        const record = await server.nextServer();
        assert.equal((await withTimeout(record.closed, "close"))[0], 1006);
        const error = record.events[0][1];
        assert.ok(error instanceof HandshakeError && error.status === 403);
      });
    });

    it("a bad handshake gets its HTTP error (426)", T, async () => {
      await withBun({}, async (server) => {
        const response = await exchange(server.port, requestHead({ headers: { "Sec-WebSocket-Version": "8" } }));
        assert.equal(response.status, 426);
        await delay(0);
      });
    });
  });
}

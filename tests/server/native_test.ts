/**
 * The native path (Deno only): `makeServer` inside a handler run by Deno's own
 * server, where no raw socket exists and the server maps its API onto
 * `Deno.upgradeWebSocket`. Twice: through `serve(h, { backend: "deno" })`, and
 * through a plain `Deno.serve(h)` (as on Deno Deploy). Echo, subprotocols,
 * additional headers, maxLength, what the runtime's socket cannot do (pings),
 * and closeConnection. On Node and Bun, only the refusal of a request that
 * nothing can upgrade is checked. Every test stops what it starts.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { makeServer } from "../../server.ts";
import { ListenerError, ProtocolError } from "../../mod.ts";
import {
  ACCEPT,
  connect,
  delay,
  exchange,
  HOST,
  maskedFrame,
  parseFrames,
  parseHead,
  pattern,
  RawClient,
  recordingHandler,
  requestHead,
  sameBytes,
  startServer,
  text,
  withClients,
  withTimeout,
} from "./_util.ts";
import type { ServerRecord, StartOptions, TestClient } from "./_util.ts";
import { HandshakeError } from "../../server.ts";

const isDeno = "Deno" in globalThis;
const T = { timeout: 20_000 };

/** A running native server, either way. */
interface NativeServer {
  port: number;
  url: string;
  nextServer(): Promise<ServerRecord>;
  close(): Promise<void>;
}

type Setup = "serve-deno" | "Deno.serve";

async function startNative(
  setup: Setup,
  options: StartOptions = {},
): Promise<NativeServer> {
  if (setup === "serve-deno") return await startServer("deno", options);
  const { handler, nextServer } = recordingHandler(options);
  const listening = Promise.withResolvers<number>();
  const server = Deno.serve({
    port: 0,
    hostname: HOST,
    onListen: ({ port }) => listening.resolve(port),
  }, (request, info) =>
    handler(request, {
      remoteAddr: {
        hostname: info.remoteAddr.hostname,
        port: info.remoteAddr.port,
      },
    }));
  const port = await listening.promise;
  return {
    port,
    url: `ws://${HOST}:${port}`,
    nextServer,
    close: () => server.shutdown(),
  };
}

/** Runs `body` with a native server, closing it and the clients after. */
async function withNative(
  setup: Setup,
  options: StartOptions,
  body: (server: NativeServer, clients: TestClient[]) => Promise<void>,
): Promise<void> {
  await withClients(await startNative(setup, options), body);
}

if (!isDeno) {
  it("makeServer for a request that did not come from serve() cannot start on this runtime (TypeError)", () => {
    const request = new Request(`http://${HOST}/`, {
      headers: {
        Upgrade: "websocket",
        Connection: "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
      },
    });
    const server = makeServer(request);
    assert.throws(() => server.startConnection(), TypeError);
  });
  it.skip("the native path (Deno's serve and upgradeWebSocket): Deno only", () => {});
} else {
  for (const setup of ["serve-deno", "Deno.serve"] as const) {
    describe(`the native path through ${setup === "serve-deno" ? 'serve(h, { backend: "deno" })' : "Deno.serve(h)"}`, () => {
      for (const kind of ["ours", "global", "ws"] as const) {
        it(`echo of text and binary keeps the type (${kind} client)`, T, async () => {
          await withNative(setup, {}, async (server, clients) => {
            const client = await connect(clients, kind, `${server.url}/echo`);
            const record = await server.nextServer();
            for (const n of [0, 125, 126, 65536, 1 << 20]) {
              client.send(text(n));
              const t = await client.nextMessage();
              assert.ok(typeof t === "string" && t === text(n), `text ${n}`);
              client.send(pattern(n));
              const b = await client.nextMessage();
              assert.ok(b instanceof Uint8Array, `binary ${n} stays binary`);
              assert.ok(sameBytes(b, pattern(n)), `binary ${n} intact`);
            }
            assert.equal(record.server.readyState, "open");
            assert.ok(record.server.socket instanceof WebSocket);
            assert.equal(typeof record.server.bufferedAmount, "number");
            client.close(1000, "done");
            assert.deepEqual(await withTimeout(client.closed, "close"), [
              1000,
              "done",
            ]);
            const [code] = await withTimeout(record.closed, "server close");
            assert.equal(code, 1000);
            assert.equal(record.server.readyState, "closed");
            assert.equal(record.events[0][0], "open");
          });
        });
      }

      it("echo with transfer: binary messages intact, each one handed over detached", T, async () => {
        await withNative(setup, { echo: "transfer" }, async (server, clients) => {
          const client = await connect(clients, "ours", `${server.url}/echo`);
          const record = await server.nextServer();
          const sizes = [0, 125, 65536, 1 << 20, 4 << 20];
          for (const n of sizes) {
            client.send(pattern(n));
            const b = await client.nextMessage();
            assert.ok(b instanceof Uint8Array && sameBytes(b, pattern(n)), `binary ${n} intact`);
          }
          const received = record.events.filter((e) => e[0] === "message").map((e) => e[1] as Uint8Array);
          assert.equal(received.length, sizes.length);
          for (const m of received) assert.equal(m.length, 0, "the server's message was taken by its send");
        });
      });

      for (const kind of ["ours", "global", "ws"] as const) {
        it(`acceptProtocols: the first offered protocol the server accepts is agreed (${kind} client)`, T, async () => {
          await withNative(
            setup,
            { server: { acceptProtocols: ["alpha", "beta"] } },
            async (server, clients) => {
              const client = await connect(clients, kind, server.url, {
                protocols: ["gamma", "beta", "alpha"],
              });
              const record = await server.nextServer();
              assert.equal(client.protocol, "beta");
              assert.equal(record.server.protocol, "beta");
            },
          );
        });
      }

      it("acceptProtocols: the 101 header, whatever the list's spacing; none in common → no header", T, async () => {
        await withNative(
          setup,
          { server: { acceptProtocols: ["alpha", "beta"] } },
          async (server, clients) => {
            for (const offer of ["gamma,beta,alpha", "gamma, beta", "beta"]) {
              const response = await exchange(
                server.port,
                requestHead({ headers: { "Sec-WebSocket-Protocol": offer } }),
              );
              assert.equal(response.status, 101, offer);
              assert.equal(response.headers.get("sec-websocket-protocol"), "beta");
            }
            const none = await exchange(
              server.port,
              requestHead({ headers: { "Sec-WebSocket-Protocol": "gamma" } }),
            );
            assert.equal(none.status, 101);
            assert.equal(none.headers.get("sec-websocket-protocol"), null);
            const client = await connect(clients, "ours", server.url, {
              protocols: ["gamma"],
            });
            assert.equal(client.protocol, "");
          },
        );
      });

      it("additionalHeaders appear in the 101 answer", T, async () => {
        await withNative(setup, {
          server: {
            additionalHeaders: [
              ["X-Extra", "yes"],
              ["Set-Cookie", "a=1"],
              ["Set-Cookie", "b=2"],
            ],
          },
        }, async (server) => {
          const response = await exchange(server.port, requestHead());
          assert.equal(response.status, 101);
          assert.equal(response.headers.get("sec-websocket-accept"), ACCEPT);
          assert.equal(response.headers.get("x-extra"), "yes");
          assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
        });
      });

      for (const kind of ["ours", "ws"] as const) {
        it(
          `maxLength: a longer message closes with 1009; error then close on the server (${kind} client)`,
          T,
          async () => {
            await withNative(
              setup,
              { server: { maxLength: 100 } },
              async (server, clients) => {
                const client = await connect(clients, kind, server.url);
                const record = await server.nextServer();
                client.send("é".repeat(50)); // 100 bytes of UTF-8
                assert.equal(await client.nextMessage(), "é".repeat(50));
                client.send("é".repeat(50) + "x"); // 101 bytes
                const [code] = await withTimeout(client.closed, "client close");
                assert.equal(code, 1009);
                await withTimeout(record.closed, "server close");
                const names = record.events.map((e) => e[0]);
                assert.deepEqual(names, ["open", "message", "error", "close"]);
                const error = record.events[2][1];
                assert.ok(error instanceof ProtocolError);
                assert.equal(error.code, 1009);
                assert.equal(record.events[3][1], 1009);
              },
            );
          },
        );
      }

      it("sendPing throws a NotSupportedError DOMException; the client's pings are answered", T, async () => {
        await withNative(setup, {}, async (server, clients) => {
          await connect(clients, "ours", server.url);
          const record = await server.nextServer();
          assert.throws(
            () => record.server.sendPing("hello"),
            (error: unknown) =>
              error instanceof DOMException &&
              error.name === "NotSupportedError",
          );
          assert.equal(record.server.readyState, "open");
        });
      });

      for (const order of ['(4000, "bye")', '("bye", 4000)']) {
        it(`closeConnection${order} reaches the client`, T, async () => {
          await withNative(setup, {}, async (server, clients) => {
            const client = await connect(clients, "ours", server.url);
            const record = await server.nextServer();
            assert.equal(
              order.startsWith("(4000")
                ? record.server.closeConnection(4000, "bye")
                : record.server.closeConnection("bye", 4000),
              true,
            );
            assert.deepEqual(await withTimeout(client.closed, "client close"), [
              4000,
              "bye",
            ]);
            const [code, reason] = await withTimeout(record.closed, "server");
            assert.deepEqual([code, reason], [4000, "bye"]);
            assert.equal(record.server.closeConnection(1000), false);
            assert.equal(record.server.send("late"), false);
          });
        });
      }

      it("sends made before open (before and after startConnection()) go first, in order", T, async () => {
        await withNative(setup, {
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

      it("ws.request stays usable in later events (URL, headers)", T, async () => {
        await withNative(setup, {}, async (server, clients) => {
          const client = await connect(clients, "ours", `${server.url}/room?id=3`, {
            headers: { "X-Token": "secret" },
          });
          const record = await server.nextServer();
          client.send("x");
          await client.nextMessage();
          // After the 101 went out and a message went both ways.
          const url = new URL(record.server.request.url);
          assert.equal(url.pathname, "/room");
          assert.equal(url.searchParams.get("id"), "3");
          assert.equal(record.server.request.headers.get("x-token"), "secret");
          assert.equal(record.info.remoteAddr.hostname, HOST);
          assert.ok(record.info.remoteAddr.port > 0);
        });
      });

      it("a raw TCP peer killed mid-connection: close 1006 (not 1005), no error", T, async () => {
        await withNative(setup, {}, async (server) => {
          const raw = await RawClient.connect(server.port);
          raw.write(requestHead());
          assert.equal((await raw.readHead()).status, 101);
          const record = await server.nextServer();
          await withTimeout(
            new Promise((r) => record.server.readyState === "open" ? r(0) : record.server.once("open", () => r(0))),
            "open",
          );
          raw.socket.resetAndDestroy();
          const [code] = await withTimeout(record.closed, "server close");
          assert.equal(code, 1006);
          assert.deepEqual(record.events.map((e) => e[0]), ["open", "close"]);
          assert.equal(record.server.readyState, "closed");
        });
      });

      it(
        "a message listener that throws: that connection closes with 1011 (ListenerError), the next one works",
        T,
        async () => {
          await withNative(setup, {
            echo: false,
            beforeStart: (ws) =>
              ws.on("message", (m) => {
                if (m === "boom") throw new Error("listener bug");
                ws.send(m);
              }),
          }, async (server, clients) => {
            const first = await connect(clients, "ours", server.url);
            const record = await server.nextServer();
            first.send("boom");
            assert.equal((await withTimeout(first.closed, "client close"))[0], 1011);
            const [code] = await withTimeout(record.closed, "server close");
            assert.equal(code, 1011);
            const error = record.events.find((e) => e[0] === "error")?.[1] as ListenerError;
            assert.ok(error instanceof ListenerError);
            assert.equal(error.code, 1011);
            assert.equal((error.cause as Error).message, "listener bug");
            const second = await connect(clients, "ours", server.url);
            second.send("still here");
            assert.equal(await second.nextMessage(), "still here");
          });
        },
      );

      it("a close frame without a code: close 1005", T, async () => {
        await withNative(setup, {}, async (server) => {
          const raw = await RawClient.connect(server.port);
          raw.write(requestHead());
          await raw.readHead();
          const record = await server.nextServer();
          raw.write(maskedFrame(0x8, new Uint8Array(0)));
          const [code] = await withTimeout(record.closed, "server close");
          assert.equal(code, 1005);
          await raw.close();
        });
      });

      it("a protocol violation the runtime found: error (ProtocolError 1007) then close 1007", T, async () => {
        await withNative(setup, {}, async (server) => {
          const raw = await RawClient.connect(server.port);
          raw.write(requestHead());
          await raw.readHead();
          const record = await server.nextServer();
          raw.write(maskedFrame(0x1, new Uint8Array([0xff])));
          const [code] = await withTimeout(record.closed, "server close");
          assert.equal(code, 1007);
          assert.deepEqual(record.events.map((e) => e[0]).slice(-2), ["error", "close"]);
          const error = record.events.at(-2)![1];
          assert.ok(error instanceof ProtocolError);
          assert.equal(error.type, "WSD_ERR_INVALID_UTF8");
          await raw.close();
        });
      });

      it(
        "heartbeat (Deno's idleTimeout): a silent peer → error WSD_ERR_HEARTBEAT_TIMEOUT, then close 1006",
        T,
        async () => {
          await withNative(setup, { server: { heartbeat: { interval: 500, timeout: 500 } } }, async (server) => {
            const raw = await RawClient.connect(server.port);
            raw.write(requestHead());
            await raw.readHead();
            const record = await server.nextServer();
            const [code] = await withTimeout(record.closed, "server close", 5_000);
            assert.equal(code, 1006);
            const names = record.events.map((e) => e[0]);
            assert.deepEqual(names.slice(-2), ["error", "close"]);
            assert.equal(names.filter((n) => n === "close").length, 1);
            const error = record.events.at(-2)![1];
            assert.ok(error instanceof ProtocolError && error.type === "WSD_ERR_HEARTBEAT_TIMEOUT");
            await raw.close();
          });
        },
      );

      it("closeTimeout: a peer that never answers our close frame → close 1006 after the timeout", T, async () => {
        await withNative(setup, { server: { closeTimeout: 200 } }, async (server) => {
          const raw = await RawClient.connect(server.port);
          raw.write(requestHead());
          await raw.readHead();
          const record = await server.nextServer();
          await delay(20);
          assert.equal(record.server.closeConnection(4000, "bye"), true);
          assert.equal(record.server.readyState, "closing");
          assert.equal(record.server.send("late"), false);
          const [code] = await withTimeout(record.closed, "server close", 3_000);
          assert.equal(code, 1006);
          // The close frame went out.
          const frames = parseFrames(parseHead(raw.bytes()).rest);
          assert.equal(frames.at(-1)?.opcode, 0x8);
          await raw.close();
        });
      });

      for (const policy of ["close", "drop", "throw"] as const) {
        it(
          `sendQueuePolicy "${policy}" applies over outgoingHighWaterMark (a peer that does not read)`,
          T,
          async () => {
            await withNative(setup, {
              server: { sendQueuePolicy: policy, outgoingHighWaterMark: 1 << 16 },
              echo: false,
            }, async (server) => {
              const raw = await RawClient.connect(server.port);
              raw.write(requestHead());
              await raw.readHead();
              raw.socket.pause();
              const record = await server.nextServer();
              await delay(20);
              const big = new Uint8Array(1 << 20);
              // The first send is admitted (nothing waits yet); the kernel takes
              // a few MiB before Deno's buffer grows.
              let result: boolean | Error = true;
              for (let i = 0; i < 64 && result === true; i++) {
                try {
                  result = record.server.send(big);
                } catch (error) {
                  result = error as Error;
                }
              }
              if (policy === "throw") {
                assert.ok(result instanceof RangeError);
                assert.equal(record.server.readyState, "open");
              } else {
                assert.equal(result, false);
              }
              if (policy === "close") {
                assert.equal(record.server.readyState, "closing");
                record.server.terminate();
                const [code] = await withTimeout(record.closed, "close");
                assert.equal(code, 1006);
              } else {
                assert.equal(record.server.readyState, "open");
                record.server.terminate();
              }
              await raw.close();
            });
          },
        );
      }

      it(
        "allowOrigins: a listed origin opens, another gets 403 and error (HandshakeError 403) then close 1006",
        T,
        async () => {
          await withNative(setup, { server: { allowOrigins: ["https://example.com"] } }, async (server) => {
            const ok = await exchange(server.port, requestHead({ headers: { Origin: "https://EXAMPLE.com:443" } }));
            assert.equal(ok.status, 101);
            await server.nextServer();
            const refused = await exchange(server.port, requestHead({ headers: { Origin: "https://evil.example" } }));
            assert.equal(refused.status, 403);
            const record = await server.nextServer();
            const [code] = await withTimeout(record.closed, "close");
            assert.equal(code, 1006);
            const error = record.events[0][1];
            assert.ok(error instanceof HandshakeError && error.status === 403);
          });
        },
      );

      it("a bad handshake gets its HTTP error; the server emits error then close 1006", T, async () => {
        await withNative(setup, {}, async (server) => {
          const response = await exchange(
            server.port,
            requestHead({ headers: { "Sec-WebSocket-Version": "8" } }),
          );
          assert.equal(response.status, 426);
          assert.equal(response.headers.get("sec-websocket-version"), "13");
          const record = await server.nextServer();
          await withTimeout(record.closed, "close");
          assert.deepEqual(record.events.map((e) => e[0]), ["error", "close"]);
          assert.equal(record.events[1][1], 1006);
        });
      });
    });
  }
}

// wsd against real servers that are not ours: the `ws` package (8.23, in
// this process) and Python `websockets` (10.4, a child process); and
// permessage-deflate with --deflate.
import { describe, it } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { startPythonEchoServer, startWsServer } from "../client/_servers.ts";
import { runCli, startCli } from "./_cli.ts";
import { ws } from "../_shared/ws.ts";

describe("wsd against the ws package", () => {
  it("pipes lines and prints the echoes", async (t: TestContext) => {
    const server = await startWsServer();
    t.after(() => server.close());
    const result = await runCli(t, [`${server.url}/chat?room=1`], "hello\nworld\n");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "hello\nworld\n");
    const connection = await server.nextConnection();
    assert.equal(connection.request.url, "/chat?room=1");
    assert.deepEqual(await connection.closed, [1000, ""]);
  });

  it("-x and a subprotocol the server picks", async (t: TestContext) => {
    const server = await startWsServer({ protocols: ["v2.json"] });
    t.after(() => server.close());
    const result = await runCli(t, ["-s", "v1.json", "-s", "v2.json", "-x", '{"a":1}', `${server.url}/`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '{"a":1}\n');
    assert.match(result.stderr, /\n {2}subprotocol: v2\.json\n/);
  });

  it("/close 4000 bye reaches the ws server with that code and reason", async (t: TestContext) => {
    const server = await startWsServer();
    t.after(() => server.close());
    const cli = startCli(t, ["--slash", `${server.url}/`]);
    const connection = await server.nextConnection();
    cli.write("/close 4000 bye\n");
    assert.deepEqual(await connection.closed, [4000, "bye"]);
    const result = await cli.exited;
    assert.equal(result.code, 0);
    assert.match(result.stderr, /Closed: 4000 \(application\) "bye"\n$/);
  });

  it("--ping gets its pong from ws", async (t: TestContext) => {
    const server = await startWsServer();
    t.after(() => server.close());
    const result = await runCli(t, ["--ping", `${server.url}/`]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^pong: [\d.]+ ms\n$/);
  });

  it("a ws server closing with 1008 and a reason: reported, exit 1", async (t: TestContext) => {
    const server = await startWsServer({ echo: false });
    t.after(() => server.close());
    const cli = startCli(t, [`${server.url}/`]);
    const connection = await server.nextConnection();
    connection.socket.close(1008, "not allowed");
    const result = await cli.exited;
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Closed: 1008 \(policy violation\) "not allowed"\n$/);
  });
});

describe("wsd against Python websockets", () => {
  it("-x, binary lines, and --json", async (t: TestContext) => {
    const server = await startPythonEchoServer();
    t.after(() => server.close());
    const x = await runCli(t, ["-x", "from wsd", `${server.url}/`]);
    assert.equal(x.code, 0, x.stderr);
    assert.equal(x.stdout, "from wsd\n");
    // websockets answers a close at once, and drops a reply its handler had
    // not sent yet: --wait gives the echo time to come before the close.
    const json = await runCli(t, ["--json", "--binary", "--wait", "0.5", `${server.url}/`], "AB\n");
    assert.equal(json.code, 0, json.stderr);
    const events = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(events.slice(1), [
      { event: "message", type: "binary", length: 2, hex: "4142" },
      { event: "close", code: 1000, reason: "" },
    ]);
  });
});

// ws with permessage-deflate on: our own startWsServer turns it off.

describe("wsd --deflate (permessage-deflate)", () => {
  it("deflate: --deflate negotiates permessage-deflate with ws, shows it, and messages still echo", async (t: TestContext) => {
    const server = http.createServer();
    const wss = new ws.WebSocketServer({ server, perMessageDeflate: { threshold: 0 } });
    const extensions: string[] = [];
    wss.on(
      "connection",
      (
        socket: {
          on: (e: string, f: (d: unknown, b: boolean) => void) => void;
          send: (d: unknown, o: unknown) => void;
          extensions?: string;
        },
        request: http.IncomingMessage,
      ) => {
        extensions.push(request.headers["sec-websocket-extensions"] ?? "");
        socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const result = await runCli(t, ["--deflate", "-x", "squeeze me ".repeat(20), url]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "squeeze me ".repeat(20) + "\n");
    assert.match(extensions[0], /^permessage-deflate/, "offered in the request");
    assert.match(result.stderr, /\n {2}extensions: permessage-deflate/);
    const json = await runCli(t, ["--deflate", "--json", "-x", "z", url]);
    assert.match(JSON.parse(json.stdout.split("\n")[0]).extensions, /^permessage-deflate/);
  });

  it("deflate: without --deflate nothing is offered", async (t: TestContext) => {
    const server = await startWsServer();
    t.after(() => server.close());
    const result = await runCli(t, ["-x", "plain", `${server.url}/`]);
    assert.equal(result.code, 0);
    assert.equal((await server.nextConnection()).request.headers["sec-websocket-extensions"], undefined);
    assert.doesNotMatch(result.stderr, /extensions:/);
  });
});

// wsd --listen PORT: a server on the runtime's default backend, as a child
// process; clients are the ws package (not ours) and wsd itself.
import { describe, it } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import type { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runCli, startCli } from "./_cli.ts";
import type { RunningCli } from "./_cli.ts";
import { ws } from "../_shared/ws.ts";
import type { WsSocket as WsClient } from "../_shared/ws.ts";

const { WebSocket } = ws;

/** Starts `wsd --listen 0 --host 127.0.0.1 …` and waits for its port. */
async function listen(t: TestContext, args: string[], pty = false): Promise<{ cli: RunningCli; url: string }> {
  const cli = startCli(t, ["--listen", "0", "--host", "127.0.0.1", ...args], { pty });
  // The address is on stderr, or on stdout with --json (and in a terminal, where both are one).
  const stream = pty || args.includes("--json") ? "stdout" : "stderr";
  const match = await cli.waitFor(stream, /(wss?):\/\/127\.0\.0\.1:(\d+)\//);
  return { cli, url: `${match[1]}://127.0.0.1:${match[2]}` };
}

/** A ws client, open; closed by the test's `after`. */
async function wsClient(t: TestContext, url: string, protocols?: string[], options?: Record<string, unknown>): Promise<{
  socket: WsClient;
  messages: string[];
  closed: Promise<[number, string]>;
}> {
  const socket: WsClient = new WebSocket(url, protocols, options);
  const messages: string[] = [];
  socket.on(
    "message",
    (data: Buffer, binary: boolean) => messages.push(binary ? `binary:${data.toString("hex")}` : data.toString()),
  );
  socket.on("error", () => {});
  const closed = new Promise<[number, string]>((resolve) =>
    socket.once("close", (code: number, reason: Buffer) => resolve([code, reason.toString()]))
  );
  t.after(() => socket.terminate());
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  return { socket, messages, closed };
}

async function until(check: () => boolean, what: string, limit = 3000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > limit) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("wsd --listen", () => {
  it("--echo: prints each connection and message, echoes; SIGINT closes every connection with 1001, exit 0", async (t: TestContext) => {
    const { cli, url } = await listen(t, ["--echo"]);
    assert.match(cli.stderr, /^Listening on ws:\/\/127\.0\.0\.1:\d+\/, echoing; Ctrl-C stops\.\n/);
    const client = await wsClient(t, `${url}/room?x=1`);
    await cli.waitFor("stderr", /#1 connected from 127\.0\.0\.1:\d+: \/room\?x=1\n/);
    client.socket.send("hello");
    client.socket.send(new Uint8Array([1, 2, 3]));
    await until(() => client.messages.length === 2, "the echoes");
    assert.deepEqual(client.messages, ["hello", "binary:010203"]);
    await cli.waitFor("stdout", /#1 < hello\n#1 < binary message, 3 bytes\n {5}00000000 {2}01 02 03 /);
    const second = await wsClient(t, `${url}/`);
    await cli.waitFor("stderr", /#2 connected/);
    second.socket.close(4001, "leaving");
    await cli.waitFor("stderr", /#2 closed: 4001 \(application\) "leaving"\n/);
    cli.signal("SIGINT");
    assert.deepEqual(await client.closed, [1001, "Server shutting down"]);
    const result = await cli.exited;
    assert.equal(result.code, 0, JSON.stringify(result));
    assert.match(result.stderr, /Stopping: closing every connection with 1001…\n/);
    assert.match(result.stderr, /#1 closed: 1001 \(going away\) "Server shutting down"\n/);
  });

  it("without --echo, lines of input go to every open connection", async (t: TestContext) => {
    const { cli, url } = await listen(t, []);
    const a = await wsClient(t, url);
    const b = await wsClient(t, url);
    await cli.waitFor("stderr", /#2 connected/);
    cli.write("to everyone\n");
    await until(() => a.messages.length === 1 && b.messages.length === 1, "the broadcast");
    assert.deepEqual([a.messages, b.messages], [["to everyone"], ["to everyone"]]);
    a.socket.send("no echo");
    await cli.waitFor("stdout", /#1 < no echo\n/);
    assert.deepEqual(a.messages, ["to everyone"]);
    cli.end(); // the end of input does not stop a server
    b.socket.send("still serving");
    await cli.waitFor("stdout", /#2 < still serving\n/);
    cli.signal("SIGTERM");
    assert.equal((await cli.exited).code, 0);
  });

  it("--binary sends lines as binary; --slash takes commands from a pipe", async (t: TestContext) => {
    const { cli, url } = await listen(t, ["--binary", "--slash"]);
    const client = await wsClient(t, url);
    await cli.waitFor("stderr", /#1 connected/);
    cli.write("hi\n/binary 0a0b\n/nope\n");
    await until(() => client.messages.length === 2, "two messages");
    assert.deepEqual(client.messages, ["binary:6869", "binary:0a0b"]);
    await cli.waitFor("stderr", /error: unknown command \/nope/);
    cli.write("/close 4002\n");
    assert.deepEqual(await client.closed, [4002, ""]);
  });

  it("-s picks a subprotocol; --max-length refuses a larger message with 1009", async (t: TestContext) => {
    const { cli, url } = await listen(t, ["-s", "chat", "--max-length", "10"]);
    const client = await wsClient(t, url, ["other", "chat"]);
    assert.equal(client.socket.protocol, "chat");
    await cli.waitFor("stderr", /#1 connected from .*, subprotocol chat\n/);
    client.socket.send("more than ten bytes");
    assert.equal((await client.closed)[0], 1009);
    await cli.waitFor("stderr", /#1 closed: 1009 \(message too big\)/);
  });

  it("--json: listening, open, message and close events with connection ids", async (t: TestContext) => {
    const { cli, url } = await listen(t, ["--json", "--echo"]);
    const client = await wsClient(t, `${url}/j`);
    client.socket.send("x");
    await until(() => client.messages.length === 1, "the echo");
    client.socket.close(1000);
    await cli.waitFor("stdout", /"event":"close"/);
    cli.signal("SIGINT");
    const result = await cli.exited;
    assert.equal(result.stderr, "");
    const events = result.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(events[0].event, "listening");
    assert.equal(typeof events[0].port, "number");
    assert.deepEqual(events.slice(1).map((e) => [e.event, e.id]), [["open", 1], ["message", 1], ["close", 1]]);
    assert.equal(events[1].path, "/j");
    assert.deepEqual(events[2], { event: "message", id: 1, type: "text", data: "x" });
    assert.deepEqual(events[3], { event: "close", id: 1, code: 1000, reason: "" });
  });

  it("a request that is not an upgrade is refused and reported", async (t: TestContext) => {
    const { cli, url } = await listen(t, []);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(url).port), "127.0.0.1");
      let data = "";
      socket.on("data", (d: Buffer) => data += d.toString());
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
      socket.write("GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    });
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n(.*\r\n)*\r\nMissing or invalid Upgrade header/);
    await cli.waitFor("stderr", /error: #1 refused GET \/page from 127\.0\.0\.1:\d+: Missing .* \(HTTP 400\)\n/);
  });

  it("wsd talks to wsd: a client pipes lines to a listening echo server", async (t: TestContext) => {
    const { cli, url } = await listen(t, ["--echo"]);
    const client = await runCli(t, [`${url}/`], "ping pong\n");
    assert.equal(client.code, 0, client.stderr);
    assert.equal(client.stdout, "ping pong\n");
    await cli.waitFor("stdout", /#1 < ping pong\n/);
    await cli.waitFor("stderr", /#1 closed: 1000 \(normal closure\)\n/);
  });

  it("in a terminal: a prompt, typed lines to every connection, /close 4000 bye to all, /quit stops", async (t: TestContext) => {
    const { cli, url } = await listen(t, [], true);
    const client = await wsClient(t, url);
    await cli.waitFor("stdout", /#1 connected/);
    cli.write("hi there\r");
    await until(() => client.messages.length === 1, "the line typed");
    assert.deepEqual(client.messages, ["hi there"]);
    cli.write("/close 4000 bye\r");
    assert.deepEqual(await client.closed, [4000, "bye"]);
    cli.write("/quit\r");
    assert.equal((await cli.exited).code, 0);
  });

  it("a port in use: the error, exit 1", async (t: TestContext) => {
    const { url } = await listen(t, []);
    const result = await runCli(t, ["--listen", new URL(url).port, "--host", "127.0.0.1"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: Cannot listen on 127\.0\.0\.1:\d+: .*(in use|EADDRINUSE)/i);
    assert.doesNotMatch(result.stderr, /Cannot listen on .*Cannot listen on/, "the address is named once");
  });

  it("--cert and --key: wss://, to ws trusting the test CA and to wsd --ca", async (t: TestContext) => {
    const fixture = (name: string) => fileURLToPath(new URL(`../client/fixtures/${name}`, import.meta.url));
    const { cli, url } = await listen(t, [
      "--echo",
      "--cert",
      fixture("server.pem"),
      "--key",
      fixture("server-key.pem"),
    ]);
    assert.match(url, /^wss:\/\//);
    assert.match(cli.stderr, /^Listening on wss:\/\/127\.0\.0\.1:\d+\/, echoing/);
    const client = await wsClient(t, `${url}/secure`, undefined, { ca: readFileSync(fixture("ca.pem"), "utf8") });
    await cli.waitFor("stderr", /#1 connected from 127\.0\.0\.1:\d+: \/secure\n/);
    client.socket.send("over tls");
    await until(() => client.messages.length === 1, "the echo");
    assert.deepEqual(client.messages, ["over tls"]);
    const ours = await runCli(t, ["--ca", fixture("ca.pem"), "-x", "hi", `${url}/`]);
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(ours.stdout, "hi\n");
    // A client that does not trust the certificate cannot connect.
    const untrusting = await runCli(t, ["-x", "hi", `${url}/`]);
    assert.notEqual(untrusting.code, 0);
  });

  it("--cert without --key, a missing file or a file that is not PEM: a clear error, exit 2", async (t: TestContext) => {
    const pem = fileURLToPath(new URL("../client/fixtures/server.pem", import.meta.url));
    const alone = await runCli(t, ["--listen", "0", "--cert", pem]);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /--cert and --key go together/);
    const missing = await runCli(t, ["--listen", "0", "--cert", pem, "--key", "/nonexistent/key.pem"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Cannot read --key \/nonexistent\/key\.pem/);
    const notPem = await runCli(t, ["--listen", "0", "--cert", fileURLToPath(import.meta.url), "--key", pem]);
    assert.equal(notPem.code, 2);
    assert.match(notPem.stderr, /Invalid --cert: .* is not PEM/);
    const connecting = await runCli(t, ["--cert", pem, "ws://127.0.0.1:1/"]);
    assert.equal(connecting.code, 2);
    assert.match(connecting.stderr, /--cert needs --listen PORT/);
  });

  it("deflate: --listen --deflate accepts permessage-deflate", async (t: TestContext) => {
    const { cli, url } = await listen(t, ["--echo", "--deflate"]);
    const client = await wsClient(t, url, undefined, { perMessageDeflate: true });
    assert.match(client.socket.extensions, /^permessage-deflate/);
    await cli.waitFor("stderr", /#1 connected from .*, extensions permessage-deflate/);
    client.socket.send("compressed");
    await until(() => client.messages.length === 1, "the echo");
    assert.deepEqual(client.messages, ["compressed"]);
  });
});

// wsd URL as a script uses it: the CLI as a child process (the runtime that
// runs the tests), stdin and stdout as pipes, against our own server started
// in the test.
import { describe, it } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { delay, echo, runCli, startCli, startOwnServer } from "./_cli.ts";

const encoder = new TextEncoder();

describe("wsd URL, through pipes", () => {
  it("sends each line of a piped file, prints each answer, closes with 1000 at the end, exits 0", async (t: TestContext) => {
    const server = await startOwnServer(t);
    // CRLF, an empty line, and a last line without a newline, as files have.
    const result = await runCli(t, [`${server.url}/echo`], "one\ntwo words\r\n\nlast");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "one\ntwo words\n\nlast\n");
    const connection = await server.connection();
    assert.deepEqual(connection.messages, ["one", "two words", "", "last"]);
    assert.deepEqual(await connection.closed, [1000, ""]);
    assert.equal(new URL(connection.request.url).pathname, "/echo");
    assert.match(result.stderr, new RegExp(`^Connected to ${server.url}/echo \\(101 Switching Protocols\\)\n`));
    assert.match(result.stderr, /Closed: 1000 \(normal closure\)\n$/);
    assert.ok(!(result.stdout + result.stderr).includes("\x1b"), "no colours on pipes");
  });

  it("-x sends one message, prints the first answer only, closes and exits 0", async (t: TestContext) => {
    const server = await startOwnServer(t, (ws) => ws.on("message", (m) => ws.send(`${m}!`) && ws.send("second")));
    const result = await runCli(t, ["-x", "hello", server.url]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "hello!\n");
    const connection = await server.connection();
    assert.deepEqual(connection.messages, ["hello"]);
    assert.deepEqual(await connection.closed, [1000, ""]);
  });

  it("-x without an answer within --timeout: says so, closes, exits 1", async (t: TestContext) => {
    const server = await startOwnServer(t, () => {});
    const result = await runCli(t, ["--timeout", "0.3", "-x", "anyone?", server.url]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /error: No answer within 0\.3 s/);
    assert.deepEqual(await (await server.connection()).closed, [1000, ""]);
  });

  it("-x when the server closes first: says so, exits 1", async (t: TestContext) => {
    const server = await startOwnServer(t, (ws) => ws.on("message", () => ws.closeConnection(1000)));
    const result = await runCli(t, ["-x", "bye?", server.url]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /error: The connection closed before the answer came/);
  });

  it("--ping prints the round-trip time, closes, exits 0", async (t: TestContext) => {
    const server = await startOwnServer(t);
    const result = await runCli(t, ["--ping", server.url]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^pong: \d+(\.\d+)? ms\n$/);
    assert.deepEqual(await (await server.connection()).closed, [1000, ""]);
  });

  it("--binary sends lines (and -x) as binary messages", async (t: TestContext) => {
    const server = await startOwnServer(t);
    const result = await runCli(t, ["--binary", server.url], "ab\n");
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual((await server.connection()).messages, [encoder.encode("ab")]);
    assert.equal(
      result.stdout,
      "binary message, 2 bytes\n00000000  61 62                                             |ab|\n",
    );
    const x = await runCli(t, ["--binary", "-x", "é", server.url]);
    assert.deepEqual((await server.connection(1)).messages, [encoder.encode("é")]);
    assert.ok(x.stdout.startsWith("binary message, 2 bytes\n00000000  c3 a9 "), x.stdout);
  });

  it("prints binary messages as a hex dump with their length", async (t: TestContext) => {
    const bytes = new Uint8Array(20).map((_, i) => i * 13);
    const server = await startOwnServer(t, (ws) => ws.on("open", () => ws.send(bytes)));
    const result = await runCli(t, ["--wait", "0.3", server.url]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      "binary message, 20 bytes\n" +
        "00000000  00 0d 1a 27 34 41 4e 5b  68 75 82 8f 9c a9 b6 c3  |...'4AN[hu......|\n" +
        "00000010  d0 dd ea f7                                       |....|\n",
    );
  });

  it("--json: one JSON object per event on stdout, nothing on stderr", async (t: TestContext) => {
    const server = await startOwnServer(t, (ws) => {
      ws.on("open", () => ws.send(new Uint8Array([0, 255])));
      echo(ws, null!);
    }, { acceptProtocols: ["chat"] });
    const result = await runCli(t, ["--json", "-s", "chat", "--wait", "0.2", server.url], "hi\n");
    assert.equal(result.code, 0);
    assert.equal(result.stderr, "");
    const events = result.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => e.event), ["open", "message", "message", "close"]);
    assert.equal(events[0].status, 101);
    assert.equal(events[0].protocol, "chat");
    assert.equal(events[0].extensions, "");
    assert.equal(events[0].url, `${server.url}/`);
    assert.equal(events[0].headers.upgrade, "websocket");
    assert.deepEqual(events[1], { event: "message", type: "binary", length: 2, hex: "00ff" });
    assert.deepEqual(events[2], { event: "message", type: "text", data: "hi" });
    assert.deepEqual(events[3], { event: "close", code: 1000, reason: "" });
  });

  it("--json --ping reports the rtt and the pong", async (t: TestContext) => {
    const server = await startOwnServer(t);
    const result = await runCli(t, ["--json", "--ping", server.url]);
    const events = result.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => e.event), ["open", "pong", "rtt", "close"]);
    assert.equal(typeof events[2].ms, "number");
  });

  it("-H and -s reach the server; the summary names the subprotocol; -v shows headers", async (t: TestContext) => {
    const server = await startOwnServer(t, echo, { acceptProtocols: ["superchat"] });
    const result = await runCli(
      t,
      ["-v", "-H", "Authorization: Bearer abc", "-H", "X-Trace: 1", "-s", "chat", "-s", "superchat", server.url],
    );
    assert.equal(result.code, 0, result.stderr);
    const { request } = await server.connection();
    assert.equal(request.headers.get("authorization"), "Bearer abc");
    assert.equal(request.headers.get("x-trace"), "1");
    assert.equal(request.headers.get("sec-websocket-protocol"), "chat, superchat");
    assert.match(result.stderr, /\n {2}subprotocol: superchat\n/);
    assert.match(result.stderr, /\n {2}response headers:\n(.*\n)* {4}sec-websocket-accept: [A-Za-z0-9+/=]+\n/);
  });

  it("slash commands from a pipe with --slash: /ping, /binary, //text, unknown ones, /close 4000 bye", async (t: TestContext) => {
    const server = await startOwnServer(t);
    const cli = startCli(t, ["--slash", server.url]);
    cli.write("/ping\n");
    await cli.waitFor("stdout", /pong: [\d.]+ ms\n/);
    cli.write("/binary 00 01 ff\n//etc\n/nope\n");
    await cli.waitFor("stdout", /\/etc\n/);
    await cli.waitFor("stderr", /error: unknown command \/nope/);
    cli.write("/close 4000 bye\n");
    const result = await cli.exited;
    assert.equal(result.code, 0, "closing with the code you asked for is clean");
    const connection = await server.connection();
    assert.deepEqual(connection.messages, [new Uint8Array([0, 1, 255]), "/etc"]);
    assert.deepEqual(await connection.closed, [4000, "bye"]);
    assert.match(result.stderr, /Closed: 4000 \(application\) "bye"\n/);
  });

  it("/close with a code that may not be sent: the library's message, and the session goes on", async (t: TestContext) => {
    const server = await startOwnServer(t);
    const result = await runCli(t, ["--slash", server.url], "/close 1005\nstill here\n");
    assert.match(result.stderr, /error: \/close: .*1005/);
    assert.equal(result.stdout, "still here\n");
    assert.equal(result.code, 0);
  });

  it("without --slash, a pipe's lines are sent as they are", async (t: TestContext) => {
    const server = await startOwnServer(t);
    const result = await runCli(t, [server.url], "/close 4000 bye\n");
    assert.equal(result.code, 0);
    assert.deepEqual((await server.connection()).messages, ["/close 4000 bye"]);
  });

  it("--wait keeps receiving after the end of input", async (t: TestContext) => {
    const server = await startOwnServer(
      t,
      (ws) => ws.on("message", (m) => setTimeout(() => ws.send(`late ${m}`), 150)),
    );
    const result = await runCli(t, ["--wait", "0.6", server.url], "a\n");
    assert.equal(result.stdout, "late a\n");
    assert.equal(result.code, 0);
  });

  it("a message over --max-length: the 1009 close is reported, exit 1", async (t: TestContext) => {
    const server = await startOwnServer(t, (ws) => ws.on("open", () => ws.send("x".repeat(2000))));
    // --wait: stdin ends at once, and without it the CLI may close (1000) before the message arrives.
    const result = await runCli(t, ["--wait", "2", "--max-length", "1k", server.url]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /error: .*1024/);
    assert.match(result.stderr, /Closed: 1009 \(message too big\)/);
    assert.equal((await (await server.connection()).closed)[0], 1009);
  });

  it("exit status: 0 for 1001 from the server, 1 for 1011, 1 for a dropped connection", async (t: TestContext) => {
    const going = await startOwnServer(t, (ws) => ws.on("open", () => ws.closeConnection(1001, "restarting")));
    const a = await runCli(t, [going.url]);
    assert.equal(a.code, 0);
    assert.match(a.stderr, /Closed: 1001 \(going away\) "restarting"/);
    const failing = await startOwnServer(t, (ws) => ws.on("open", () => ws.closeConnection(1011, "oops")));
    const b = await runCli(t, [failing.url]);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /Closed: 1011 \(internal error\) "oops"/);
    const dropping = await startOwnServer(t, (ws) => ws.on("open", () => ws.terminate()));
    const c = await runCli(t, [dropping.url]);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /Closed: 1006 \(abnormal closure\)/);
  });

  it("a big input is sent with backpressure, all of it, in order", async (t: TestContext) => {
    const server = await startOwnServer(t, () => {});
    const lines = Array.from({ length: 2000 }, (_, i) => `${i} ${"z".repeat(1000)}`);
    const result = await runCli(t, [server.url], lines.join("\n") + "\n");
    assert.equal(result.code, 0, result.stderr);
    const { messages } = await server.connection();
    await delay(50);
    assert.equal(messages.length, 2000);
    assert.deepEqual(messages, lines);
  });
});

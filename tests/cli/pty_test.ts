// wsd as a person uses it: in a pseudo-terminal (tests/cli/_pty.py, Python's
// pty module), typing lines, slash commands, Ctrl-D and Ctrl-C, with colours
// unless NO_COLOR is set.
import { describe, it } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { startFakeServer } from "../client/_servers.ts";
import { plain, startCli, startOwnServer } from "./_cli.ts";

/** SGR (colour) sequences. */
// deno-lint-ignore no-control-regex
const SGR = /\x1b\[[0-9;]*m/;

describe("wsd in a terminal", () => {
  it("type a line, see the echo; /ping; /binary; /close 4000 bye reaches the server; colours", async (t: TestContext) => {
    const server = await startOwnServer(t);
    const cli = startCli(t, [`${server.url}/`], { pty: true, env: { NO_COLOR: undefined } });
    await cli.waitFor("stdout", /Connected to .*\n(.|\n)*> /);
    assert.match(cli.stdout, /Type a message and press Enter to send it; \/help lists the commands\./);
    cli.write("hello\r");
    await cli.waitFor("stdout", /< hello/);
    cli.write("/ping\r");
    await cli.waitFor("stdout", /pong: [\d.]+ ms/);
    cli.write("/binary 00 ff\r");
    await cli.waitFor("stdout", /binary message, 2 bytes/);
    cli.write("/close 4000 bye\r");
    const result = await cli.exited;
    assert.equal(result.code, 0);
    const connection = await server.connection();
    assert.deepEqual(connection.messages, ["hello", new Uint8Array([0, 255])]);
    assert.deepEqual(await connection.closed, [4000, "bye"]);
    const shown = plain(result.stdout);
    assert.match(shown, /< hello\n/);
    assert.match(shown, /< binary message, 2 bytes\n {2}00000000 {2}00 ff/);
    assert.match(shown, /Closed: 4000 \(application\) "bye"/);
    assert.ok(result.stdout.includes("\x1b[32mConnected to\x1b[39m"), "green on a terminal");
    assert.ok(result.stdout.includes("\x1b[36m< \x1b[39mhello"), "the incoming mark in cyan");
  });

  it("NO_COLOR: no colours at all", async (t: TestContext) => {
    const server = await startOwnServer(t);
    const cli = startCli(t, [`${server.url}/`], { pty: true, env: { NO_COLOR: "1" } });
    await cli.waitFor("stdout", /> /);
    cli.write("hi\r");
    await cli.waitFor("stdout", /< hi/);
    cli.write("/quit\r");
    const result = await cli.exited;
    assert.equal(result.code, 0);
    assert.doesNotMatch(result.stdout, SGR);
    assert.match(result.stdout, /Closed: 1000 \(normal closure\)/);
  });

  it("a message that arrives while a line is half typed is printed above it; the line is kept", async (t: TestContext) => {
    const server = await startOwnServer(t, (ws) => ws.on("message", (m) => ws.send(`got ${m}`)));
    const cli = startCli(t, [`${server.url}/`], { pty: true });
    await cli.waitFor("stdout", /> /);
    const connection = await server.connection();
    cli.write("abc");
    await cli.waitFor("stdout", /> abc/);
    const before = cli.stdout.length;
    connection.server.send("interruption");
    // Saved cursor, room made, one line inserted, the message, cursor restored
    // (the terminal turns each \n into \r\n).
    await cli.waitForRaw("stdout", "\x1b7\r\n\x1b[1A\x1b[1L\r< interruption\r\n\x1b8\x1b[1B");
    assert.ok(cli.stdout.indexOf("\x1b7", before) >= before);
    cli.write("def\r");
    await cli.waitFor("stdout", /< got abcdef/);
    assert.deepEqual(connection.messages, ["abcdef"]);
    cli.write("\x04");
    assert.equal((await cli.exited).code, 0);
  });

  it("Ctrl-D closes with 1000 and exits 0", async (t: TestContext) => {
    const server = await startOwnServer(t);
    const cli = startCli(t, [`${server.url}/`], { pty: true });
    await cli.waitFor("stdout", /> /);
    cli.write("\x04");
    const result = await cli.exited;
    assert.equal(result.code, 0);
    assert.deepEqual(await (await server.connection()).closed, [1000, ""]);
  });

  it("Ctrl-C closes cleanly; a second Ctrl-C quits at once with 130", async (t: TestContext) => {
    const server = await startOwnServer(t);
    const once = startCli(t, [`${server.url}/`], { pty: true });
    await once.waitFor("stdout", /> /);
    once.write("\x03");
    const result = await once.exited;
    assert.equal(result.code, 0);
    assert.match(result.stdout, /Closing… \(Ctrl-C again to quit at once\)/);
    assert.deepEqual(await (await server.connection()).closed, [1000, ""]);

    // A server that never answers the close: only the second Ctrl-C ends it.
    const silent = await startFakeServer();
    t.after(() => silent.close());
    const twice = startCli(t, [`${silent.url}/`], { pty: true });
    await twice.waitFor("stdout", /> /);
    twice.write("\x03");
    await twice.waitFor("stdout", /Closing…/);
    twice.write("\x03");
    assert.equal((await twice.exited).code, 130);
  });

  it("control characters from the server cannot drive the terminal", async (t: TestContext) => {
    const server = await startOwnServer(t, (ws) => ws.on("open", () => ws.send("\x1b]0;owned\x07\x1b[2Jtext")));
    const cli = startCli(t, [`${server.url}/`], { pty: true });
    await cli.waitFor("stdout", /text/);
    assert.ok(cli.stdout.includes("< \\x1b]0;owned\\x07\\x1b[2Jtext"), JSON.stringify(cli.stdout));
    assert.ok(!cli.stdout.includes("\x1b]0;owned"));
    cli.write("\x04");
    assert.equal((await cli.exited).code, 0);
  });

  it("a bad command is explained; //text is sent as /text", async (t: TestContext) => {
    const server = await startOwnServer(t);
    const cli = startCli(t, [`${server.url}/`], { pty: true });
    await cli.waitFor("stdout", /> /);
    cli.write("/close soon\r");
    await cli.waitFor("stdout", /error: usage: \/close \[code\] \[reason\], as in \/close 4000 bye/);
    cli.write("/help\r");
    await cli.waitFor("stdout", /\/binary HEX/);
    cli.write("//slash\r");
    await cli.waitFor("stdout", /< \/slash/);
    cli.write("\x04");
    assert.equal((await cli.exited).code, 0);
    assert.deepEqual((await server.connection()).messages, ["/slash"]);
  });
});

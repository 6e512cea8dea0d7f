// -x and --ping against servers that speak first: a greeting on open must not
// be taken for the answer to -x (nor start its close before the send), and
// data messages must not disturb --ping. Servers: ours (greeting in `open`),
// the `ws` package (greeting on `connection`), and a raw one that writes the
// greeting in the same TCP write as its 101, or answers no ping at all. Then
// --count, --wait and what -v and --json say about what was left out.
import { describe, it } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { serverFrame, startFakeServer, startWsServer } from "../client/_servers.ts";
import type { FakeConnection } from "../client/_servers.ts";
import { runCli, startOwnServer } from "./_cli.ts";
import type { Behaviour } from "./_cli.ts";

const decoder = new TextDecoder();

/** Greets on open, then answers each message with `message!`. */
const greeter: Behaviour = (ws) => {
  ws.on("open", () => ws.send("welcome"));
  ws.on("message", (m) => ws.send(`${m}!`));
};

/**
 * A raw server that writes its 101 and `greeting` frames in one TCP write,
 * answers each text frame with `text!` and pings with pongs unless `pong` is
 * false, and answers a close with a close.
 */
function rawGreeter(greetings: string[], pong = true): (c: FakeConnection) => void {
  return (connection) => {
    const greeting = greetings.map((g) => serverFrame(0x1, g));
    const trailing = new Uint8Array(greeting.reduce((n, f) => n + f.length, 0));
    greeting.reduce((at, f) => (trailing.set(f, at), at + f.length), 0);
    connection.accept({}, trailing);
    let seen = 0;
    const watch = async (): Promise<void> => {
      for (;;) {
        const frames = await connection.frames(seen + 1);
        for (const frame of frames.slice(seen)) {
          if (frame.opcode === 0x1) connection.socket.write(serverFrame(0x1, `${decoder.decode(frame.payload)}!`));
          if (frame.opcode === 0x9 && pong) connection.socket.write(serverFrame(0xa, frame.payload));
          if (frame.opcode === 0x8) return void connection.socket.end(serverFrame(0x8, frame.payload));
        }
        seen = frames.length;
      }
    };
    watch().catch(() => {});
  };
}

describe("wsd -x and --ping against a server that greets first", () => {
  it("-x prints the answer to its message, not our server's greeting (5 runs)", async (t: TestContext) => {
    const server = await startOwnServer(t, greeter);
    for (let run = 0; run < 5; run++) {
      const result = await runCli(t, ["-x", `hello ${run}`, server.url]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `hello ${run}!\n`, `run ${run}`);
      assert.doesNotMatch(result.stderr, /Cannot send/);
      const connection = await server.connection(run);
      assert.deepEqual(connection.messages, [`hello ${run}`], "the message was sent, once");
      assert.deepEqual(await connection.closed, [1000, ""]);
    }
  });

  it("-x against ws greeting on connection", async (t: TestContext) => {
    const server = await startWsServer({ echo: false });
    t.after(() => server.close());
    const answering = (async () => {
      for (let run = 0; run < 3; run++) {
        const { socket } = await server.nextConnection();
        socket.send("welcome");
        socket.on("message", (data: Uint8Array) => socket.send(`${decoder.decode(data)}!`));
      }
    })();
    for (let run = 0; run < 3; run++) {
      const result = await runCli(t, ["-x", "hi", `${server.url}/`]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "hi!\n", `run ${run}`);
    }
    await answering;
  });

  it("-x when the greetings come in the same TCP write as the 101", async (t: TestContext) => {
    const server = await startFakeServer(rawGreeter(["welcome", "rules: be nice"]));
    t.after(() => server.close());
    const result = await runCli(t, ["-x", "hi", server.url]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "hi!\n");
  });

  it("-x against a server that answers no ping: sends after 1 s all the same", async (t: TestContext) => {
    const server = await startFakeServer(rawGreeter(["welcome"], false));
    t.after(() => server.close());
    const started = Date.now();
    const result = await runCli(t, ["-x", "hi", server.url]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "hi!\n");
    assert.ok(Date.now() - started >= 1000, "it waited for the pong first");
  });

  it("--ping leaves data messages out and gets its pong (5 runs)", async (t: TestContext) => {
    const server = await startOwnServer(t, (ws) => {
      ws.on("open", () => {
        ws.send("welcome");
        ws.send(new Uint8Array([1, 2, 3]));
      });
    });
    for (let run = 0; run < 5; run++) {
      const result = await runCli(t, ["--ping", server.url]);
      assert.equal(result.code, 0, `run ${run}: ${result.stderr}`);
      assert.match(result.stdout, /^pong: \d+(\.\d+)? ms\n$/, `run ${run}`);
      assert.deepEqual(await (await server.connection(run)).closed, [1000, ""]);
    }
  });

  it("-v says what was left out; --json reports it as skipped", async (t: TestContext) => {
    const server = await startOwnServer(t, greeter);
    const verbose = await runCli(t, ["-v", "-x", "hi", server.url]);
    assert.equal(verbose.code, 0, verbose.stderr);
    assert.equal(verbose.stdout.split("\n").filter((l) => !l.startsWith("< p")).join("\n"), "hi!\n");
    assert.match(verbose.stderr, /\(before the send, left out: "welcome"\)/);
    const json = await runCli(t, ["--json", "-x", "hi", server.url]);
    const events = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const data = events.filter((e) => e.event === "message" || e.event === "skipped");
    assert.deepEqual(data, [
      { event: "skipped", type: "text", data: "welcome" },
      { event: "message", type: "text", data: "hi!" },
    ]);
    const pinged = await runCli(t, ["-v", "--ping", server.url]);
    assert.match(pinged.stderr, /\(not a pong, left out: "welcome"\)/);
  });
});

describe("wsd -x --count and --wait", () => {
  /** Answers each message with `count` numbered replies, 30 ms apart. */
  const replies = (count: number): Behaviour => (ws) => {
    ws.on("open", () => ws.send("welcome"));
    ws.on("message", (m) => {
      // The client may have closed before the last ones (--count).
      for (let i = 1; i <= count; i++) setTimeout(() => ws.readyState === "open" && ws.send(`${m} ${i}`), 30 * i);
    });
  };

  it("--count N prints the first N answers, then closes with 1000", async (t: TestContext) => {
    const server = await startOwnServer(t, replies(4));
    const result = await runCli(t, ["-x", "q", "--count", "3", server.url]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "q 1\nq 2\nq 3\n");
    assert.deepEqual(await (await server.connection()).closed, [1000, ""]);
  });

  it("fewer than --count answers within --timeout: prints them, says so, exits 1", async (t: TestContext) => {
    const server = await startOwnServer(t, replies(2));
    const result = await runCli(t, ["-x", "q", "-n", "3", "--timeout", "0.5", server.url]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "q 1\nq 2\n");
    assert.match(result.stderr, /error: Only 2 of 3 answers within 0\.5 s/);
  });

  it("--wait SECONDS prints every answer within that time, then closes", async (t: TestContext) => {
    const server = await startOwnServer(t, replies(4));
    const result = await runCli(t, ["-x", "q", "--wait", "0.6", server.url]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "q 1\nq 2\nq 3\nq 4\n");
  });

  it("--wait without any answer: says so, exits 1", async (t: TestContext) => {
    const server = await startOwnServer(t, (ws) => ws.on("open", () => ws.send("welcome")));
    const result = await runCli(t, ["-x", "q", "--wait", "0.3", server.url]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /error: No answer within 0\.3 s/);
  });

  it("--count 0 sends and closes without waiting", async (t: TestContext) => {
    const server = await startOwnServer(t, () => {});
    const result = await runCli(t, ["-x", "fire and forget", "--count", "0", server.url]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "");
    const connection = await server.connection();
    assert.deepEqual(await connection.closed, [1000, ""]);
    assert.deepEqual(connection.messages, ["fire and forget"]);
  });
});

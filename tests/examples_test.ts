// The README's first command and the examples it names, run as a newcomer runs
// them: examples/echo_server.ts as a child process (with the runtime running
// this test), examples/client.ts against it, with and without --deflate.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { withTimeout } from "./driver/_pair.ts";
import { makeClient } from "../client.ts";

const RUNTIME = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

function command(example: string, args: string[]): [string, string[]] {
  const file = fileURLToPath(new URL(`../examples/${example}`, import.meta.url));
  return [process.execPath, RUNTIME === "deno" ? ["run", "-A", file, ...args] : [file, ...args]];
}

function start(
  example: string,
  args: string[],
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const [cmd, argv] = command(example, args);
  const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (s: string) => output += s);
  child.stderr!.setEncoding("utf8").on("data", (s: string) => output += s);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function echoServer(args: string[]) {
  const server = start("echo_server.ts", ["--port", "0", "--hostname", "127.0.0.1", ...args]);
  const port = await withTimeout(
    new Promise<number>((resolve, reject) => {
      const check = setInterval(() => {
        const match = /listening on ws:\/\/localhost:(\d+)\/echo/.exec(server.output());
        if (match) {
          clearInterval(check);
          resolve(Number(match[1]));
        }
      }, 20);
      server.exited.then((code) => {
        clearInterval(check);
        reject(new Error(`echo_server exited with ${code}: ${server.output()}`));
      });
    }),
    "the echo server to listen",
    20_000,
  );
  return {
    port,
    output: server.output,
    async stop() {
      // process.kill, not child.kill: Deno's child_process then reports the
      // signal instead of the exit status the child chose.
      process.kill(server.child.pid!, "SIGTERM");
      return await withTimeout(server.exited, "the echo server to exit", 10_000);
    },
  };
}

/** Echoes one text and one binary message through `url`; resolves with what came back, then closes. */
function echoTwice(url: string): Promise<Array<string | Uint8Array>> {
  const client = makeClient(url);
  const received: Array<string | Uint8Array> = [];
  const done = new Promise<Array<string | Uint8Array>>((resolve, reject) => {
    client.on("error", reject);
    client.on("message", (message) => {
      received.push(message);
      if (received.length === 2) client.closeConnection();
    });
    client.on("close", () => resolve(received));
  });
  client.startConnection();
  client.send("hi");
  client.send(new Uint8Array([0, 1, 255]));
  return withTimeout(done, `the echo of ${url}`, 20_000);
}

/**
 * The examples with a fixed contract: `--port P --hostname H`, `GET /`
 * answers `hello`, `/ws` echoes (text stays text, binary stays binary).
 */
for (const example of ["node_http.ts", "hono.ts"]) {
  describe(`examples/${example}`, () => {
    it("answers GET / with hello and echoes on /ws; stops on SIGTERM", async () => {
      const server = start(example, ["--port", "0", "--hostname", "127.0.0.1"]);
      try {
        const port = await withTimeout(
          new Promise<number>((resolve, reject) => {
            const check = setInterval(() => {
              const match = /listening on http:\/\/localhost:(\d+)\//.exec(server.output());
              if (match) {
                clearInterval(check);
                resolve(Number(match[1]));
              }
            }, 20);
            server.exited.then((code) => {
              clearInterval(check);
              reject(new Error(`${example} exited with ${code}: ${server.output()}`));
            });
          }),
          `${example} to listen`,
          20_000,
        );
        const response = await fetch(`http://127.0.0.1:${port}/`);
        assert.equal(response.status, 200);
        assert.equal(await response.text(), "hello");
        assert.deepEqual(await echoTwice(`ws://127.0.0.1:${port}/ws`), ["hi", new Uint8Array([0, 1, 255])]);
      } finally {
        try {
          process.kill(server.child.pid!, "SIGTERM");
        } catch {
          // it exited already (the listen check reports why)
        }
        assert.equal(await withTimeout(server.exited, `${example} to exit`, 10_000), 0, server.output());
      }
    });
  });
}

describe("examples", () => {
  for (const deflate of [false, true]) {
    it(`echo_server.ts${deflate ? " --deflate" : ""} and client.ts${deflate ? " --deflate" : ""}`, async () => {
      const server = await echoServer(deflate ? ["--deflate"] : []);
      try {
        assert.match(server.output(), deflate ? /\(tcp, deflate\)/ : /\(tcp\)/);
        const client = start("client.ts", [`ws://127.0.0.1:${server.port}/echo`, ...(deflate ? ["--deflate"] : [])]);
        assert.equal(await withTimeout(client.exited, "the client to finish", 20_000), 0, client.output());
        assert.equal(
          client.output(),
          `${deflate ? "Connected (permessage-deflate)." : "Connected."}\nReceived: Hi\nClosed: 1000\n`,
        );
      } finally {
        assert.equal(await server.stop(), 0, server.output());
      }
    });
  }

  it("echo_server.ts --backend list prints this runtime's backends", async () => {
    const list = start("echo_server.ts", ["--backend", "list"]);
    assert.equal(await withTimeout(list.exited, "the listing", 20_000), 0);
    assert.deepEqual(list.output().trim().split("\n"), RUNTIME === "deno" ? ["tcp", "node", "deno"] : ["tcp", "node"]);
  });
});

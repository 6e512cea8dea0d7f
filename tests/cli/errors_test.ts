// Every error of wsd, as a child process: its message, and a non-zero exit
// status (2 for a mistake on the command line, 1 for a failed connection).
import { after, before, describe, it } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { closedPort, startFakeServer, startWsServer } from "../client/_servers.ts";
import type { FakeServer, WsEchoServer } from "../client/_servers.ts";
import { readFileSync } from "node:fs";
import { serve } from "../../server.ts";
import { runCli } from "./_cli.ts";

const encoder = new TextEncoder();
const fixtures = fileURLToPath(new URL("../client/fixtures/", import.meta.url));

describe("wsd: mistakes on the command line (status 2)", () => {
  it("an unknown option", async (t: TestContext) => {
    const result = await runCli(t, ["--nope", "ws://127.0.0.1:1/"]);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, 'wsd: Unknown option --nope\nRun "wsd --help" to see the options.\n');
    assert.equal(result.stdout, "");
  });

  it("no URL", async (t: TestContext) => {
    const result = await runCli(t, []);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^wsd: Missing the URL to connect to \(or --listen PORT\)\n/);
  });

  it("a URL that cannot be parsed, with a hint when the scheme is missing", async (t: TestContext) => {
    const result = await runCli(t, ["not a url"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^error: Invalid WebSocket URL "not a url": it cannot be parsed\n/);
    assert.match(result.stderr, /hint: a URL starts with ws:\/\/ or wss:\/\/, as in ws:\/\/not a url/);
  });

  it("a URL with another scheme", async (t: TestContext) => {
    const result = await runCli(t, ["ftp://example.com/"]);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /error: Invalid WebSocket URL ftp:\/\/example.com\/: the scheme must be ws:, wss:, http: or https:/,
    );
  });

  it("a subprotocol that is not a token (the library's check)", async (t: TestContext) => {
    const result = await runCli(t, ["-s", "two words", "ws://127.0.0.1:1/"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /error: Invalid subprotocol "two words": expected an HTTP token/);
  });

  it("a handshake header that cannot be set", async (t: TestContext) => {
    const result = await runCli(t, ["-H", "Sec-WebSocket-Key: x", "ws://127.0.0.1:1/"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /error: .*Sec-WebSocket-Key/i);
  });

  it("--ca: a missing file, and a file without a certificate", async (t: TestContext) => {
    const missing = await runCli(t, ["--ca", "/nonexistent/ca.pem", "wss://127.0.0.1:1/"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: Cannot read the CA file \/nonexistent\/ca\.pem: /);
    const bogus = await runCli(t, ["--ca", fileURLToPath(import.meta.url), "wss://127.0.0.1:1/"]);
    assert.equal(bogus.code, 2);
    assert.match(bogus.stderr, /error: Cannot use the CA file .*: it holds no PEM certificate/);
  });

  it("--help prints the help on stdout, status 0", async (t: TestContext) => {
    const result = await runCli(t, ["--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^wsd: talk to a WebSocket server/);
    assert.match(result.stdout, /Examples:\n/);
    assert.equal(result.stderr, "");
  });
});

describe("wsd: failed connections (status 1)", () => {
  let fake: FakeServer;
  const answers: Record<string, string> = {
    "/forbidden": "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 41\r\n\r\n" +
      "Missing token.\nSee https://example/docs\n\n",
    "/chunked": "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "b\r\nNo such pa\n\r\n3\r\nth\n\r\n0\r\n\r\n",
    "/ok": "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "/garbage": "SSH-2.0-OpenSSH_9.2\r\n\r\n",
  };
  before(async () => {
    fake = await startFakeServer((c) => {
      const path = c.requestLine.split(" ")[1];
      if (path === "/silent") return;
      c.socket.write(encoder.encode(answers[path] ?? "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"));
    });
  });
  after(() => fake.close());

  it("a refused connection", async (t: TestContext) => {
    const port = await closedPort();
    const result = await runCli(t, [`ws://127.0.0.1:${port}/`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^error: Cannot connect to ws://127\\.0\\.0\\.1:${port}/: .*refused`, "i"));
    assert.equal(result.stdout, "");
  });

  it("a non-101 answer: the status and the first lines of the body", async (t: TestContext) => {
    const result = await runCli(t, [`${fake.url}/forbidden`]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `error: Cannot connect to ${fake.url}/forbidden: Unexpected response status 403: expected 101 Switching Protocols\n` +
        "  HTTP 403 Forbidden\n" +
        "  | Missing token.\n" +
        "  | See https://example/docs\n",
    );
  });

  it("a chunked error body is shown without its chunk framing", async (t: TestContext) => {
    const result = await runCli(t, [`${fake.url}/chunked`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /\n {2}HTTP 404 Not Found\n {2}\| No such pa\n {2}\| th\n$/);
  });

  it("--json reports the status and the body in the error event", async (t: TestContext) => {
    const result = await runCli(t, ["--json", `${fake.url}/forbidden`]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, "");
    const events = result.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => e.event), ["error", "close"]);
    assert.equal(events[0].status, 403);
    assert.equal(events[0].statusText, "Forbidden");
    assert.equal(events[0].body, "Missing token.\nSee https://example/docs\n\n");
    assert.equal(events[1].code, 1006);
  });

  it("a 200 answer and an answer that is not HTTP", async (t: TestContext) => {
    const ok = await runCli(t, [`${fake.url}/ok`]);
    assert.equal(ok.code, 1);
    assert.match(ok.stderr, /Unexpected response status 200.*\n {2}HTTP 200 OK\n$/);
    const garbage = await runCli(t, [`${fake.url}/garbage`]);
    assert.equal(garbage.code, 1);
    assert.match(garbage.stderr, /^error: Cannot connect to .*: invalid handshake response/);
  });

  it("our own server refusing the upgrade with 404 and a text body", async (t: TestContext) => {
    const server = serve(() => new Response("No WebSocket here.\nTry /echo\n", { status: 404 }), {
      port: 0,
      hostname: "127.0.0.1",
    });
    t.after(() => server.close());
    const { port } = await server.ready;
    const result = await runCli(t, [`ws://127.0.0.1:${port}/nope`]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /Unexpected response status 404.*\n {2}HTTP 404 Not Found\n {2}\| No WebSocket here\.\n {2}\| Try \/echo\n$/,
    );
  });

  it("no answer within --timeout", async (t: TestContext) => {
    const result = await runCli(t, ["--timeout", "0.3", `${fake.url}/silent`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: Cannot connect to .*: the handshake timed out after 300 ms\n$/);
  });
});

describe("wsd: wss:// (a ws server with a test-only CA)", () => {
  let server: WsEchoServer;
  const ca = `${fixtures}ca.pem`;
  before(async () => {
    server = await startWsServer({
      tls: {
        key: readFileSync(`${fixtures}server-key.pem`, "utf8"),
        cert: readFileSync(`${fixtures}server.pem`, "utf8"),
      },
    });
  });
  after(() => server.close());

  it("a failed certificate check: the runtime's reason and what to do", async (t: TestContext) => {
    const result = await runCli(t, ["-x", "hi", `${server.url}/`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^error: Cannot connect to ${server.url}/: .+\n`));
    assert.match(result.stderr, /\nhint: the server's TLS certificate was not accepted\. --ca FILE trusts/);
    assert.match(result.stderr, /--insecure skips the check \(for testing only\)/);
  });

  it("--ca FILE trusts the CA: the connection works", async (t: TestContext) => {
    const result = await runCli(t, ["--ca", ca, "-x", "hi", `${server.url}/`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "hi\n");
  });

  it("--ca FILE with a host name (localhost, which the certificate names)", async (t: TestContext) => {
    const result = await runCli(t, ["--ca", ca, "-x", "hi", `wss://localhost:${server.port}/`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "hi\n");
  });

  it("--insecure accepts the certificate without the CA", async (t: TestContext) => {
    const result = await runCli(t, ["--insecure", "-x", "hi", `${server.url}/`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "hi\n");
  });
});

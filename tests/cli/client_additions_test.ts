// What the CLI needed from makeClient, tested on the library directly: the
// start of an HTTP error body in `client.response.body`, and
// `verifyCertificate: false` for wss:// servers with untrusted certificates.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { makeClient } from "../../src/client/client.ts";
import type { Client, ClientOptions } from "../../src/client/client.ts";
import { startFakeServer, startWsServer } from "../client/_servers.ts";
import type { FakeServer, WsEchoServer } from "../client/_servers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function fixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`../client/fixtures/${name}`, import.meta.url)), "utf8");
}

/** Connects and waits for the end; returns the client and the error it reported. */
async function attempt(url: string, options?: ClientOptions): Promise<{ client: Client; error: Error | null }> {
  const client = makeClient(url, options);
  let error: Error | null = null;
  client.on("error", (e) => error = e);
  client.startConnection();
  await client.closed;
  return { client, error };
}

describe("client.response.body: the start of an HTTP error answer", () => {
  let server: FakeServer;
  const answers: Record<string, string> = {
    "/length": "HTTP/1.1 403 Forbidden\r\nContent-Length: 23\r\n\r\nNo entry.\nSecond line.\nNOT PART OF THE BODY",
    "/chunked": "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "6\r\nNot fo\r\n7;ext=1\r\nund: /x\r\n0\r\n\r\n",
    "/close": "HTTP/1.0 500 Internal Server Error\r\n\r\nbroken\n",
    "/big": `HTTP/1.1 400 Bad Request\r\nContent-Length: 10000\r\n\r\n${"y".repeat(10000)}`,
    "/nocontent": "HTTP/1.1 204 No Content\r\n\r\n",
  };
  before(async () => {
    server = await startFakeServer((c) => {
      const path = c.requestLine.split(" ")[1];
      const answer = answers[path];
      // The chunked and length answers keep the connection open, as a
      // keep-alive server would: the client must stop at the body's end.
      if (path === "/close" || path === "/big") c.socket.end(encoder.encode(answer));
      else c.socket.write(encoder.encode(answer));
    });
  });
  after(() => server.close());

  it("reads Content-Length bytes and no more", async () => {
    const { client, error } = await attempt(`${server.url}/length`);
    assert.match(error!.message, /Unexpected response status 403/);
    assert.equal(client.response!.status, 403);
    assert.equal(decoder.decode(client.response!.body), "No entry.\nSecond line.\n");
  });

  it("removes chunked coding and stops at the last chunk, without waiting for the close", async () => {
    const start = performance.now();
    const { client } = await attempt(`${server.url}/chunked`);
    assert.equal(decoder.decode(client.response!.body), "Not found: /x");
    assert.ok(performance.now() - start < 900, "did not wait for the 1 s limit");
  });

  it("reads to the end of the connection when there is no length", async () => {
    const { client } = await attempt(`${server.url}/close`);
    assert.equal(client.response!.status, 500);
    assert.equal(decoder.decode(client.response!.body), "broken\n");
  });

  it("keeps at most 4096 bytes", async () => {
    const { client } = await attempt(`${server.url}/big`);
    assert.equal(client.response!.body.length, 4096);
  });

  it("has no body for 204, and an empty one for a successful handshake", async () => {
    const { client } = await attempt(`${server.url}/nocontent`);
    assert.equal(client.response!.status, 204);
    assert.equal(client.response!.body.length, 0);
    const ws = await startWsServer();
    try {
      const ok = makeClient(`${ws.url}/`);
      ok.startConnection();
      await ok.opened;
      assert.equal(ok.response!.status, 101);
      assert.equal(ok.response!.body.length, 0);
      ok.closeConnection();
      await ok.closed;
    } finally {
      await ws.close();
    }
  });
});

describe("verifyCertificate", () => {
  let server: WsEchoServer;
  before(async () => {
    server = await startWsServer({ tls: { key: fixture("server-key.pem"), cert: fixture("server.pem") } });
  });
  after(() => server.close());

  it("is on by default: an untrusted certificate fails the connection", async () => {
    const { client, error } = await attempt(`${server.url}/`);
    assert.ok(error !== null);
    assert.equal((await client.closed).code, 1006);
  });

  it("false accepts the certificate, and the connection works", async () => {
    const client = makeClient(`${server.url}/`, { verifyCertificate: false });
    const echoed = new Promise((resolve) => client.once("message", resolve));
    client.startConnection();
    client.send("over TLS");
    assert.equal(await echoed, "over TLS");
    client.closeConnection();
    assert.equal((await client.closed).code, 1000);
  });

  it("must be a boolean", () => {
    assert.throws(
      () => makeClient("wss://localhost/", { verifyCertificate: "no" as unknown as boolean }),
      /Invalid verifyCertificate: expected true or false/,
    );
  });
});

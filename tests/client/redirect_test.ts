// makeClient(url, { followRedirects }): 3xx answers of the opening handshake.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { makeClient } from "../../client.ts";
import type { ClientOptions } from "../../client.ts";
import { redirectTarget } from "../../src/client/redirect.ts";
import { startFakeServer, startWsServer } from "./_servers.ts";
import type { FakeConnection, FakeServer } from "./_servers.ts";

/** Answers `/redirect?to=<url>&status=<n>` with that redirect; anything else is accepted. */
function redirector(c: FakeConnection): void {
  const target = c.requestLine.split(" ")[1];
  const query = new URL(target, "http://x").searchParams;
  const path = target.split("?")[0];
  // A two-step loop: /ping → /pong → /ping.
  const to = path === "/ping" ? "/pong" : path === "/pong" ? "/ping" : query.get("to");
  if (to === null) return c.accept();
  const status = query.get("status") ?? "302";
  c.socket.end(`HTTP/1.1 ${status} Moved\r\nLocation: ${to}\r\nContent-Length: 0\r\n\r\n`);
}

/** Connects; resolves with the error message (or "" once open, then closes). */
async function attempt(url: string, options: ClientOptions): Promise<{ error: string; url: string }> {
  const client = makeClient(url, options);
  let error = "";
  client.on("error", (e) => error = e.message);
  client.on("open", () => client.terminate());
  client.startConnection();
  await client.closed;
  return { error, url: client.url.href };
}

describe("followRedirects", () => {
  let a: FakeServer, b: FakeServer;
  before(async () => {
    a = await startFakeServer(redirector);
    b = await startFakeServer(redirector);
  });
  after(async () => {
    await a.close();
    await b.close();
  });
  const heads = (server: FakeServer) => server.connections.map((c) => c.requestLine);

  it("without it, a 302 is an error that names the option", async () => {
    const { error } = await attempt(`${a.url}/redirect?to=/there`, {});
    assert.match(error, /Unexpected response status 302.*followRedirects/);
  });

  it("a 302 to a ws echo server on another port: open there, echo, close 1000", async () => {
    const echo = await startWsServer();
    try {
      const client = makeClient(`${a.url}/redirect?to=${encodeURIComponent(`${echo.url}/chat`)}`, {
        followRedirects: true,
      });
      const echoed = new Promise((resolve) => client.once("message", resolve));
      client.startConnection();
      client.send("hello after a redirect");
      assert.equal(await echoed, "hello after a redirect");
      assert.equal(client.url.href, `${echo.url}/chat`);
      assert.equal(client.response?.status, 101);
      assert.equal((await echo.nextConnection()).request.url, "/chat");
      client.closeConnection();
      assert.deepEqual(await client.closed, { code: 1000, reason: "" });
    } finally {
      await echo.close();
    }
  });

  it("follows 301, 302, 303, 307 and 308 to a relative Location, and url names the target", async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      const before = a.connections.length;
      const result = await attempt(`${a.url}/redirect?status=${status}&to=/landed-${status}`, {
        followRedirects: true,
      });
      assert.equal(result.error, "");
      assert.equal(result.url, `${a.url}/landed-${status}`);
      assert.deepEqual(heads(a).slice(before), [
        `GET /redirect?status=${status}&to=/landed-${status} HTTP/1.1`,
        `GET /landed-${status} HTTP/1.1`,
      ]);
    }
  });

  it("maps an http: Location to ws:; keeps credentials on the same origin and drops them on another", async () => {
    const options: ClientOptions = {
      followRedirects: true,
      additionalHeaders: { Authorization: "Bearer secret", Cookie: "session=1", "X-Other": "kept" },
    };
    const sameBefore = a.connections.length;
    await attempt(`${a.url}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${a.port}/same`)}`, options);
    const same = a.connections.slice(sameBefore);
    assert.equal(same.length, 2);
    assert.equal(same[1].headers.get("authorization"), "Bearer secret");
    assert.equal(same[1].headers.get("cookie"), "session=1");

    const bBefore = b.connections.length;
    const result = await attempt(`${a.url}/redirect?to=${encodeURIComponent(`${b.url}/other`)}`, options);
    assert.equal(result.error, "");
    const other = b.connections.slice(bBefore);
    assert.equal(other.length, 1);
    assert.equal(other[0].headers.get("authorization"), null);
    assert.equal(other[0].headers.get("cookie"), null);
    assert.equal(other[0].headers.get("x-other"), "kept");
    assert.equal(other[0].headers.get("host"), `127.0.0.1:${b.port}`);
  });

  it("drops Authorization from the URL's user info on another origin, also when the chain comes back", async () => {
    const back = encodeURIComponent(`${a.url}/back`);
    const via = encodeURIComponent(`${b.url}/redirect?to=${back}`);
    const aBefore = a.connections.length, bBefore = b.connections.length;
    const url = `${a.url}/redirect?to=${via}`.replace("ws://", "ws://user:pw@");
    assert.equal((await attempt(url, { followRedirects: true })).error, "");
    const first = a.connections.slice(aBefore);
    assert.equal(first[0].headers.get("authorization"), `Basic ${btoa("user:pw")}`);
    assert.equal(b.connections.slice(bBefore)[0].headers.get("authorization"), null);
    assert.equal(first[1].requestLine, "GET /back HTTP/1.1");
    assert.equal(first[1].headers.get("authorization"), null);
  });

  it("stops a loop with a clear error", async () => {
    const before = a.connections.length;
    const { error } = await attempt(`${a.url}/ping`, { followRedirects: true });
    assert.match(error, new RegExp(`Cannot connect to ${a.url}/ping: a redirect loop \\(back to ${a.url}/ping\\)`));
    assert.deepEqual(heads(a).slice(before), ["GET /ping HTTP/1.1", "GET /pong HTTP/1.1"]);
  });

  it("stops after the allowed number of redirects", async () => {
    let url = `${a.url}/end`;
    for (let i = 0; i < 3; i++) url = `${a.url}/redirect?hop=${i}&to=${encodeURIComponent(url)}`;
    assert.equal((await attempt(url, { followRedirects: 3 })).error, "");
    const { error } = await attempt(url, { followRedirects: 2 });
    assert.match(error, /too many redirects \(more than 2\)/);
  });

  it("refuses a Location that is not ws, wss, http or https, or none", async () => {
    const { error } = await attempt(`${a.url}/redirect?to=${encodeURIComponent("ftp://example.com/")}`, {
      followRedirects: true,
    });
    assert.match(error, /not a ws, wss, http or https URL/);
    assert.ok(redirectTarget(new URL("ws://h/"), null) instanceof Error);
    assert.equal((redirectTarget(new URL("wss://h/a/b"), "c#frag") as URL).href, "wss://h/a/c");
    assert.equal((redirectTarget(new URL("ws://h/"), "https://k:444/x") as URL).href, "wss://k:444/x");
  });

  it("checks the option", () => {
    assert.throws(() => makeClient("ws://h/", { followRedirects: -1 }), TypeError);
    assert.throws(() => makeClient("ws://h/", { followRedirects: "yes" as never }), TypeError);
  });
});

// makeClient(url, { proxy }) and the proxy environment variables: a CONNECT
// tunnel through a real proxy (Debian's tinyproxy), ws:// and wss://.
import { after, before, describe, it } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { makeClient } from "../../client.ts";
import type { ClientOptions } from "../../client.ts";
import { basicAuthorization, connectRequestHead, connectResponseError } from "../../src/protocol/proxy.ts";
import { bypassesProxy, proxyFromEnvironment } from "../../src/runtime/proxy.ts";
import { startWsServer } from "./_servers.ts";
import type { WsEchoServer } from "./_servers.ts";
import { startTinyproxy } from "./_proxy.ts";
import type { Tinyproxy } from "./_proxy.ts";

function fixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), "utf8");
}

/** Opens a client, sends `text`, waits for its echo, closes; resolves with the echo. */
async function echoOnce(url: string, options: ClientOptions, text = "through the tunnel"): Promise<string> {
  const client = makeClient(url, options);
  const echoed = new Promise<string>((resolve) => client.once("message", (m) => resolve(String(m))));
  client.startConnection();
  client.send(text);
  try {
    await client.opened;
    return await echoed;
  } finally {
    client.closeConnection();
    await client.closed;
  }
}

/** Connects, expecting a failure; resolves with the error event's message. */
async function failure(url: string, options: ClientOptions): Promise<string> {
  const client = makeClient(url, options);
  let message = "";
  client.on("error", (e) => message = e.message);
  client.on("open", () => assert.fail("opened"));
  client.startConnection();
  assert.equal((await client.closed).code, 1006);
  return message;
}

const PROXY_VARIABLES = [
  "http_proxy",
  "HTTP_PROXY",
  "https_proxy",
  "HTTPS_PROXY",
  "all_proxy",
  "ALL_PROXY",
  "no_proxy",
  "NO_PROXY",
];

/** Runs `body` with the proxy variables set to `values` (the others unset), then restores them. */
async function withEnvironment(values: Record<string, string>, body: () => Promise<void>): Promise<void> {
  const saved = new Map(PROXY_VARIABLES.map((name) => [name, process.env[name]]));
  for (const name of PROXY_VARIABLES) delete process.env[name];
  Object.assign(process.env, values);
  try {
    await body();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

describe("proxy: the CONNECT head and answer (sans-I/O)", () => {
  it("builds CONNECT host:port with Host and Proxy-Authorization; brackets IPv6", () => {
    const text = new TextDecoder().decode(connectRequestHead("example.com", 443, basicAuthorization("us%40r", "p:w")));
    assert.match(text, /^CONNECT example\.com:443 HTTP\/1\.1\r\n/);
    assert.match(text, /\r\nHost: example\.com:443\r\n/);
    assert.match(text, new RegExp(`\\r\\nProxy-Authorization: Basic ${btoa("us@r:p:w")}\\r\\n`));
    assert.match(new TextDecoder().decode(connectRequestHead("::1", 8080)), /^CONNECT \[::1\]:8080 HTTP\/1\.1\r\n/);
    assert.throws(() => connectRequestHead("evil\r\nX: y", 80), TypeError);
  });

  it("any 2xx opens the tunnel; anything else is an error with the status", () => {
    const head = (status: number, statusText: string) => ({
      version: "HTTP/1.1" as const,
      status,
      statusText,
      headers: new Headers(),
    });
    assert.equal(connectResponseError(head(200, "Connection established")), null);
    assert.equal(connectResponseError(head(204, "")), null);
    assert.match(
      connectResponseError(head(407, "Proxy Authentication Required"))!,
      /407 Proxy Authentication Required/,
    );
    assert.match(connectResponseError(head(403, "Access violation"))!, /403/);
  });
});

describe("proxy: the environment (https_proxy, http_proxy, all_proxy, no_proxy)", () => {
  const env = (values: Record<string, string>) => (name: string) => values[name];
  it("picks https_proxy for wss:, http_proxy for ws:, all_proxy for both; lower case first", () => {
    const vars = env({ HTTPS_PROXY: "http://s:1", http_proxy: "http://p:2", HTTP_PROXY: "http://P:3" });
    assert.equal(proxyFromEnvironment(new URL("wss://a.example/"), vars), "http://s:1");
    assert.equal(proxyFromEnvironment(new URL("ws://a.example/"), vars), "http://p:2");
    assert.equal(proxyFromEnvironment(new URL("ws://a.example/"), env({ ALL_PROXY: "q:4" })), "http://q:4");
    assert.equal(proxyFromEnvironment(new URL("wss://a.example/"), env({ http_proxy: "http://p:2" })), null);
    assert.equal(proxyFromEnvironment(new URL("ws://a.example/"), env({})), null);
  });

  it("no_proxy: *, domain suffixes (with or without a leading dot or *.), ports, IP addresses", () => {
    assert.equal(bypassesProxy("a.example", 80, "*"), true);
    assert.equal(bypassesProxy("example.com", 80, "example.com"), true);
    assert.equal(bypassesProxy("www.example.com", 80, "example.com"), true);
    assert.equal(bypassesProxy("www.example.com", 80, ".example.com"), true);
    assert.equal(bypassesProxy("www.example.com", 80, "*.example.com"), true);
    assert.equal(bypassesProxy("notexample.com", 80, "example.com"), false);
    assert.equal(bypassesProxy("Example.COM", 443, "other.org, example.com:443"), true);
    assert.equal(bypassesProxy("example.com", 80, "example.com:443"), false);
    assert.equal(bypassesProxy("127.0.0.1", 8080, "localhost 127.0.0.1"), true);
    assert.equal(bypassesProxy("127.0.0.10", 8080, "127.0.0.1"), false);
    assert.equal(bypassesProxy("[::1]", 8080, "[::1]:8080"), true);
    assert.equal(bypassesProxy("::1", 8080, "::1"), true);
    const vars = env({ https_proxy: "http://s:1", no_proxy: "internal.example" });
    assert.equal(proxyFromEnvironment(new URL("wss://api.internal.example/"), vars), null);
    assert.equal(proxyFromEnvironment(new URL("wss://api.example/"), vars), "http://s:1");
  });

  it("checks the proxy option: an http: URL or false", () => {
    assert.throws(() => makeClient("ws://a.example/", { proxy: "https://p:1" }), /only http: proxies/);
    assert.throws(() => makeClient("ws://a.example/", { proxy: "not a url" }), TypeError);
    assert.throws(() => makeClient("ws://a.example/", { proxy: 42 as never }), TypeError);
  });
});

describe("proxy: through tinyproxy", () => {
  let proxy: Tinyproxy;
  let plain: WsEchoServer;
  let secure: WsEchoServer;
  const ca = fixture("ca.pem");
  before(async () => {
    proxy = await startTinyproxy();
    plain = await startWsServer();
    secure = await startWsServer({ tls: { key: fixture("server-key.pem"), cert: fixture("server.pem") } });
  });
  after(async () => {
    await proxy?.close();
    await plain?.close();
    await secure?.close();
  });

  it("ws:// through the proxy option", async () => {
    assert.equal(await echoOnce(`${plain.url}/plain`, { proxy: proxy.url }), "through the tunnel");
    assert.match(proxy.log(), new RegExp(`CONNECT 127\\.0\\.0\\.1:${plain.port}`));
  });

  it("wss:// through the proxy: TLS to the target inside the tunnel", async () => {
    assert.equal(await echoOnce(`${secure.url}/secure`, { proxy: proxy.url, caCerts: [ca] }), "through the tunnel");
    assert.match(proxy.log(), new RegExp(`CONNECT 127\\.0\\.0\\.1:${secure.port}`));
    // https://localhost: the name in the certificate is the target's.
    assert.equal(
      await echoOnce(`https://localhost:${secure.port}/`, { proxy: proxy.url, caCerts: [ca] }),
      "through the tunnel",
    );
    assert.match(proxy.log(), new RegExp(`CONNECT localhost:${secure.port}`));
  });

  it("wss:// through the proxy: the certificate is checked against the target's name", async (t: TestContext) => {
    let other: WsEchoServer;
    try {
      other = await startWsServer({
        tls: { key: fixture("server-key.pem"), cert: fixture("server.pem") },
        host: "127.0.0.2",
      });
    } catch (error) {
      t.skip(`cannot listen on 127.0.0.2 (${(error as Error).message})`);
      return;
    }
    try {
      const message = await failure(other.url, { proxy: proxy.url, caCerts: [ca] });
      assert.match(message, /Cannot connect/);
      assert.match(message, /certificate|altname|name|IP/i);
      assert.equal(other.connections.length, 0);
    } finally {
      await other.close();
    }
  });

  it("from the environment: HTTP_PROXY for ws://, HTTPS_PROXY for wss://; NO_PROXY honoured", async () => {
    const tunnels = () => (proxy.log().match(/Request \(file descriptor \d+\): CONNECT /g) ?? []).length;
    const before = tunnels();
    const count = () => tunnels() - before;
    await withEnvironment({ HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url }, async () => {
      assert.equal(await echoOnce(plain.url, {}), "through the tunnel");
      assert.equal(await echoOnce(secure.url, { caCerts: [ca] }), "through the tunnel");
    });
    assert.equal(count(), 2);
    await withEnvironment({ http_proxy: proxy.url, no_proxy: `example.org, 127.0.0.1:${plain.port}` }, async () => {
      assert.equal(await echoOnce(plain.url, {}), "through the tunnel");
    });
    assert.equal(count(), 2);
    await withEnvironment({ HTTP_PROXY: proxy.url, NO_PROXY: "*" }, async () => {
      assert.equal(await echoOnce(plain.url, {}), "through the tunnel");
      // proxy: false wins over the environment.
    });
    await withEnvironment({ HTTP_PROXY: proxy.url }, async () => {
      assert.equal(await echoOnce(plain.url, { proxy: false }), "through the tunnel");
    });
    assert.equal(count(), 2);
  });

  it("a proxy that refuses CONNECT to the port: the proxy's status", async () => {
    const strict = await startTinyproxy({ connectPorts: [443] });
    try {
      const message = await failure(plain.url, { proxy: strict.url });
      assert.match(
        message,
        /Cannot connect to ws:\/\/127\.0\.0\.1:\d+\/: the proxy http:\/\/127\.0\.0\.1:\d+ answered CONNECT with 403/,
      );
    } finally {
      await strict.close();
    }
  });

  it("a proxy that is not running: a clear connection error", async () => {
    const gone = await startTinyproxy();
    const url = gone.url;
    await gone.close();
    assert.match(
      await failure(plain.url, { proxy: url }),
      /Cannot connect to ws:\/\/127\.0\.0\.1:\d+\/: .*(ECONNREFUSED|refused)/i,
    );
  });
});

describe("proxy: Basic auth (tinyproxy BasicAuth)", () => {
  let proxy: Tinyproxy;
  let plain: WsEchoServer;
  before(async () => {
    proxy = await startTinyproxy({ basicAuth: ["user", "pass"] });
    plain = await startWsServer();
  });
  after(async () => {
    await proxy?.close();
    await plain?.close();
  });

  it("user:pass in the proxy URL: tunnels", async () => {
    assert.equal(await echoOnce(plain.url, { proxy: proxy.url.replace("//", "//user:pass@") }), "through the tunnel");
  });

  it("no credentials, or wrong ones: 407 (tinyproxy: 401 for wrong ones) reported, not retried by reconnect", async () => {
    assert.match(await failure(plain.url, { proxy: proxy.url }), /answered CONNECT with 407/);
    const client = makeClient(plain.url, {
      proxy: proxy.url.replace("//", "//user:wrong@"),
      reconnect: { minDelay: 10, maxDelay: 10 },
    });
    const events: string[] = [];
    client.on("reconnecting", () => events.push("reconnecting"));
    client.on("error", (e) => events.push(`error ${e.message}`));
    client.startConnection();
    await client.closed;
    assert.equal(events.length, 1);
    assert.match(events[0], /^error .*answered CONNECT with 40[17]/);
    assert.doesNotMatch(events[0], /wrong/); // credentials stay out of messages
  });
});

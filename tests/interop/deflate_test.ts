/**
 * permessage-deflate (RFC 7692) against real peers: the `ws` package (its
 * compression is Node's zlib) as server and client, Python `websockets` (its
 * compression is CPython's zlib, 12-bit windows by default) as server and
 * client, and ours against ours over every backend. Each exchange mixes
 * messages that compress (JSON, repeated text) and messages that do not
 * (random bytes), text and binary, several in a row so that context takeover
 * is exercised both ways. Nothing here asserts on compressed bytes: those are
 * the peer's business (and byte-exact tests of ours are in
 * tests/protocol/permessage_deflate_test.ts).
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { availableBackends, makeClient, makeServer, serve } from "../../mod.ts";
import type { BackendName, Client, PerMessageDeflateOptions, Server } from "../../mod.ts";
import { PYTHON, startFakeServer, startPythonEchoServer, startWsServer, watch } from "../client/_servers.ts";
import { bodyOf, exchange as rawExchange, requestHead, ws } from "../server/_util.ts";
import { withTimeout } from "../driver/_pair.ts";

const encoder = new TextEncoder();

/** Messages worth compressing and not, text and binary. */
function messages(): Array<string | Uint8Array> {
  let seed = 12345;
  const random = (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      out[i] = seed >>> 24;
    }
    return out;
  };
  const json = (i: number) =>
    JSON.stringify({
      seq: i,
      user: "alice",
      items: Array.from({ length: 40 }, (_, j) => ({ id: j, ok: j % 3 === 0 })),
    });
  return [
    json(1),
    json(2), // mostly a back-reference into the previous message
    "short",
    "",
    random(3000),
    encoder.encode("binary that compresses well ".repeat(500)),
    "héllo wörld ✓ 🎉 ".repeat(300),
    random(70_000),
    json(3),
    new Uint8Array(200_000), // 200 KB of zeros
  ];
}

function describeMessage(m: string | Uint8Array): string {
  return typeof m === "string" ? `text(${m.length})` : `binary(${m.length})`;
}

/** Sends every message from `client` and checks each echo, in order (all of them within `limit` ms). */
async function exchange(client: Client, sent: Array<string | Uint8Array>, limit?: number): Promise<void> {
  const recorder = watch(client);
  client.startConnection();
  await recorder.opened;
  for (const m of sent) client.send(m);
  const echoes = await recorder.nextMessages(sent.length, limit);
  assert.equal(echoes.length, sent.length);
  for (let i = 0; i < sent.length; i++) {
    assert.deepEqual(echoes[i], sent[i], `echo ${i}: ${describeMessage(sent[i])}`);
  }
  client.closeConnection(1000, "done");
  assert.deepEqual(await recorder.closed, [1000, "done"]);
  assert.deepEqual(recorder.errors(), []);
}

describe("permessage-deflate: our client with a ws server", () => {
  const settings: Array<[string, Record<string, unknown>, PerMessageDeflateOptions | true]> = [
    ["defaults both sides", { threshold: 0 }, true],
    ["our threshold 0", { threshold: 0 }, { threshold: 0 }],
    [
      "server without context takeover, 9-bit window",
      { threshold: 0, serverNoContextTakeover: true, serverMaxWindowBits: 9 },
      { threshold: 0 },
    ],
    [
      "we ask for no takeover both ways and 10-bit windows",
      { threshold: 0 },
      {
        threshold: 0,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 10,
      },
    ],
    ["8-bit windows", { threshold: 0, clientMaxWindowBits: 8 }, { threshold: 0, serverMaxWindowBits: 8 }],
  ];
  for (const [name, wsSettings, ours] of settings) {
    it(`${name}: every message echoed`, async () => {
      const server = await startWsServer({ perMessageDeflate: wsSettings });
      try {
        const client = makeClient(server.url, { perMessageDeflate: ours });
        const connection = server.nextConnection();
        const done = exchange(client, messages());
        const { request, socket } = await connection;
        await done;
        assert.match(request.headers["sec-websocket-extensions"] ?? "", /^permessage-deflate/);
        assert.ok(client.extensions.startsWith("permessage-deflate"), client.extensions);
        assert.equal((socket as unknown as { extensions: string }).extensions !== "", true);
      } finally {
        await server.close();
      }
    });
  }

  it("a server that does not compress: the offer is declined and messages flow uncompressed", async () => {
    const server = await startWsServer({ perMessageDeflate: false });
    try {
      const client = makeClient(server.url, { perMessageDeflate: true });
      await exchange(client, messages().slice(0, 4));
      assert.equal(client.extensions, "");
    } finally {
      await server.close();
    }
  });

  it("a ws server's compression bomb closes our client with 1009 (maxLength on the inflated size)", async () => {
    const server = await startWsServer({ perMessageDeflate: { threshold: 0 }, echo: false });
    try {
      const client = makeClient(server.url, { perMessageDeflate: true, maxLength: 1 << 20 });
      const recorder = watch(client);
      const connection = server.nextConnection();
      client.startConnection();
      await recorder.opened;
      const { socket, closed } = await connection;
      socket.send(new Uint8Array(64 << 20)); // 64 MiB of zeros: ~64 KB on the wire
      assert.deepEqual((await recorder.closed)[0], 1009);
      assert.equal((await withTimeout(closed, "the ws server's close"))[0], 1009);
      const [error] = recorder.errors() as Array<Error & { type?: string }>;
      assert.equal(error.type, "WSD_ERR_MESSAGE_TOO_BIG");
    } finally {
      await server.close();
    }
  });
});

/** Messages per connection at size: 1000, or 10 000 with WSD_FUZZ_LONG=1 (minutes, not seconds). */
const AT_SIZE = process.env.WSD_FUZZ_LONG === "1" ? 10_000 : 1000;
/** How long the echoes of one at-size connection may take (a loaded 2-core CI box included). */
const AT_SIZE_LIMIT = AT_SIZE * 60;

/**
 * The Autobahn 12.2.x shape at size (the hand-written codec corrupted these):
 * AT_SIZE binary messages, slices of slowly varying bytes (a bitmap's), 16 KiB
 * mostly, every 100th 64 KiB, and one of 1 MiB, all with context takeover.
 */
function atSize(): Uint8Array[] {
  let v = 0, seed = 7;
  const image = new Uint8Array(2 * 1024 * 1024).map(() => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    if ((seed >>> 16) % 3 === 0) v = (v + ((seed >>> 8) % 9) - 4) & 0xff;
    return v;
  });
  const out: Uint8Array[] = [];
  for (let k = 0, at = 0; k < AT_SIZE; k++) {
    const size = k === AT_SIZE / 2 ? 1024 * 1024 : k % 100 === 0 ? 64 * 1024 : 16 * 1024;
    if (at + size > image.length) at = 0;
    out.push(image.slice(at, at + size));
    at += size;
  }
  return out;
}

/**
 * Text of every size around the inflater's shared buffers (its scratch buffer
 * starts at 64 KiB and is kept up to 1 MiB; a message over the 256 KiB work
 * budget is inflated in slices) between binary messages, which the user keeps:
 * every message is compared only once all have arrived.
 */
function textAndKeptBinary(): Array<string | Uint8Array> {
  const json = (size: number, k: number) =>
    JSON.stringify(Array.from({ length: Math.ceil(size / 40) }, (_, j) => ({ j, k, v: (j * 37 + k) % 1000 })));
  const out: Array<string | Uint8Array> = [];
  for (const [k, size] of [100, 70_000, 300_000, 1_200_000, 60, 900_000, 66_000, 2_000_000, 30].entries()) {
    out.push(json(size, k));
    out.push(new Uint8Array(20_000 + k * 9000).map((_, j) => (j * (k + 3)) >>> 4));
  }
  return out;
}

describe("permessage-deflate: received messages the user keeps", () => {
  it("our client with a ws server: binary messages kept while text of every size is inflated and decoded", async () => {
    const server = await startWsServer({ perMessageDeflate: { threshold: 0 }, maxPayload: 1 << 24 });
    try {
      const client = makeClient(server.url, { perMessageDeflate: true });
      const recorder = watch(client);
      client.startConnection();
      await recorder.opened;
      const sent = textAndKeptBinary();
      for (const m of sent) client.send(m);
      const echoes = await recorder.nextMessages(sent.length);
      // Compared without deepEqual, whose report of two different megabytes would be huge.
      for (const [i, m] of sent.entries()) {
        const echo = echoes[i];
        const same = typeof m === "string"
          ? echo === m
          : echo instanceof Uint8Array && echo.length === m.length && echo.every((b, j) => b === m[j]);
        assert.ok(same, `echo ${i}: ${describeMessage(m)}`);
      }
      client.closeConnection(1000, "done");
      assert.deepEqual(await recorder.closed, [1000, "done"]);
    } finally {
      await server.close();
    }
  });
});

describe(`permessage-deflate at size: ${AT_SIZE} messages of 16 KiB–1 MiB with context takeover`, () => {
  it("our client with a ws server", { timeout: AT_SIZE_LIMIT }, async () => {
    const server = await startWsServer({ perMessageDeflate: { threshold: 0 }, maxPayload: 1 << 24 });
    try {
      await exchange(makeClient(server.url, { perMessageDeflate: true }), atSize(), AT_SIZE_LIMIT);
    } finally {
      await server.close();
    }
  });
  it("our server (node backend) with our client, each checking every byte", { timeout: AT_SIZE_LIMIT }, async () => {
    const handle = serve((request) => {
      const server = makeServer(request, { perMessageDeflate: true });
      server.on("message", (m) => server.send(m));
      return server.startConnection();
    }, { port: 0, hostname: "127.0.0.1", backend: "node" });
    try {
      const { port } = await handle.ready;
      await exchange(makeClient(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true }), atSize(), AT_SIZE_LIMIT);
    } finally {
      await handle.close();
    }
  });
  it(
    "our client with a Python websockets server (12-bit windows, its defaults)",
    { timeout: AT_SIZE_LIMIT },
    async () => {
      const server = await startPythonEchoServer();
      try {
        const client = makeClient(server.url, { perMessageDeflate: true });
        await exchange(client, atSize(), AT_SIZE_LIMIT);
        assert.match(client.extensions, /^permessage-deflate/);
        assert.doesNotMatch(client.extensions, /no_context_takeover/);
      } finally {
        await server.close();
      }
    },
  );
  for (const backend of availableBackends().filter((b: BackendName) => b !== "deno")) {
    it(`a Python websockets client with our server (backend ${backend}), every echo checked by Python`, {
      timeout: AT_SIZE_LIMIT,
    }, async () => {
      const handle = serve((request) => {
        const server = makeServer(request, { perMessageDeflate: true });
        server.on("message", (m) => server.send(m));
        return server.startConnection();
      }, { port: 0, hostname: "127.0.0.1", backend });
      try {
        const { port } = await handle.ready;
        const script = fileURLToPath(new URL("./_py_at_size_client.py", import.meta.url));
        const child = spawn(PYTHON, [script, `ws://127.0.0.1:${port}/`, String(AT_SIZE)], {
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "", err = "";
        child.stdout!.setEncoding("utf8").on("data", (s: string) => out += s);
        child.stderr!.setEncoding("utf8").on("data", (s: string) => err += s);
        const exited = new Promise((resolve) => child.once("exit", resolve));
        const code = await withTimeout(exited, "the Python client", AT_SIZE_LIMIT).catch((error) => {
          child.kill();
          throw error;
        });
        assert.equal(code, 0, `${out}\n${err}`);
        const result = JSON.parse(out) as { extensions: string; echoes: number; mismatch: unknown };
        assert.deepEqual(result.mismatch, null);
        assert.equal(result.echoes, AT_SIZE);
        assert.match(result.extensions, /^permessage-deflate/);
        assert.doesNotMatch(result.extensions, /no_context_takeover/);
      } finally {
        await handle.close();
      }
    });
  }
});

describe("permessage-deflate: ws clients against our server", () => {
  for (const backend of availableBackends()) {
    const compresses = backend !== "deno";
    it(`backend ${backend}: ${compresses ? "negotiated, every message echoed" : "declined (Deno's own socket)"}`, async () => {
      const servers: Server[] = [];
      const handle = serve((request) => {
        const server = makeServer(request, { perMessageDeflate: { threshold: 0 } });
        server.on("message", (m) => server.send(m));
        servers.push(server);
        return server.startConnection();
      }, { port: 0, hostname: "127.0.0.1", backend });
      try {
        const { port } = await handle.ready;
        const socket = new ws.WebSocket(`ws://127.0.0.1:${port}/`, [], {
          perMessageDeflate: { threshold: 0 },
          maxPayload: 1 << 24,
        }) as unknown as {
          extensions: string;
          on(e: string, f: (...a: unknown[]) => void): void;
          once(e: string, f: (...a: unknown[]) => void): void;
          send(d: unknown, o?: unknown): void;
          close(c?: number, r?: string): void;
        };
        const received: Array<string | Uint8Array> = [];
        const sent = messages();
        const all = Promise.withResolvers<void>();
        socket.on("message", (data, isBinary) => {
          const bytes = new Uint8Array(data as ArrayBuffer);
          received.push(isBinary ? bytes : new TextDecoder().decode(bytes));
          if (received.length === sent.length) all.resolve();
        });
        await withTimeout(new Promise((resolve) => socket.once("open", resolve)), "ws open");
        assert.equal(socket.extensions, compresses ? "permessage-deflate" : "");
        for (const m of sent) socket.send(m, { binary: typeof m !== "string" });
        await withTimeout(all.promise, "the echoes");
        for (let i = 0; i < sent.length; i++) assert.deepEqual(received[i], sent[i], `echo ${i}`);
        assert.equal(servers[0].extensions, compresses ? "permessage-deflate" : "");
        const closed = new Promise((resolve) => socket.once("close", (code) => resolve(code)));
        socket.close(1000);
        assert.equal(await withTimeout(closed, "ws close"), 1000);
      } finally {
        await handle.close();
      }
    });
  }

  it("a ws client's compression bomb gets 1009 from our server", async () => {
    const serverClosed = Promise.withResolvers<number>();
    const handle = serve((request) => {
      const server = makeServer(request, { perMessageDeflate: true, maxLength: 1 << 20 });
      server.on("close", (code) => serverClosed.resolve(code));
      return server.startConnection();
    }, { port: 0, hostname: "127.0.0.1" });
    try {
      const { port } = await handle.ready;
      const socket = new ws.WebSocket(`ws://127.0.0.1:${port}/`, [], { perMessageDeflate: true }) as unknown as {
        once(e: string, f: (...a: unknown[]) => void): void;
        on(e: string, f: (...a: unknown[]) => void): void;
        send(d: unknown): void;
      };
      socket.on("error", () => {});
      await withTimeout(new Promise((resolve) => socket.once("open", resolve)), "ws open");
      const closed = new Promise((resolve) => socket.once("close", (code) => resolve(code)));
      socket.send(new Uint8Array(100 << 20)); // 100 MiB of zeros
      assert.equal(await withTimeout(closed, "ws close", 20_000), 1009);
      assert.equal(await withTimeout(serverClosed.promise, "our server's close"), 1009);
    } finally {
      await handle.close();
    }
  });
});

describe("permessage-deflate: Python websockets", () => {
  for (
    const ours of [
      { threshold: 0 },
      // zlib cannot compress with 8-bit raw windows: asking websockets for 8 fails it (HTTP 500).
      { threshold: 0, serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
    ]
  ) {
    it(`our client ${JSON.stringify(ours)} with a websockets server (12-bit windows by default)`, async () => {
      const server = await startPythonEchoServer();
      try {
        const client = makeClient(server.url, { perMessageDeflate: ours });
        await exchange(client, messages());
        assert.match(client.extensions, /^permessage-deflate/);
      } finally {
        await server.close();
      }
    });
  }

  for (
    const ours of [
      { threshold: 0 },
      { threshold: 0, serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
    ]
  ) {
    it(`a websockets client with our server ${JSON.stringify(ours)}`, () => pythonClient(ours));
  }

  async function pythonClient(ours: PerMessageDeflateOptions): Promise<void> {
    const handle = serve((request) => {
      const server = makeServer(request, { perMessageDeflate: ours });
      server.on("message", (m) => server.send(m));
      return server.startConnection();
    }, { port: 0, hostname: "127.0.0.1" });
    try {
      const { port } = await handle.ready;
      const sent = messages();
      const input = JSON.stringify(
        sent.map((m) =>
          typeof m === "string" ? { text: m } : { hex: Array.from(m, (b) => b.toString(16).padStart(2, "0")).join("") }
        ),
      );
      const script = fileURLToPath(new URL("./_py_deflate_client.py", import.meta.url));
      const child = spawn(PYTHON, [script, `ws://127.0.0.1:${port}/`], { stdio: ["pipe", "pipe", "pipe"] });
      let out = "", err = "";
      child.stdout!.setEncoding("utf8").on("data", (s: string) => out += s);
      child.stderr!.setEncoding("utf8").on("data", (s: string) => err += s);
      child.stdin!.end(input);
      const code = await withTimeout(
        new Promise((resolve) => child.once("exit", resolve)),
        "the Python client",
        30_000,
      );
      assert.equal(code, 0, err);
      const result = JSON.parse(out) as { extensions: string; echoes: Array<{ text?: string; hex?: string }> };
      assert.match(result.extensions, /^permessage-deflate/);
      assert.deepEqual(result.echoes, JSON.parse(input));
    } finally {
      await handle.close();
    }
  }
});

describe("permessage-deflate: our client refuses answers outside its offer", () => {
  const answers: Array<[string, PerMessageDeflateOptions | true]> = [
    ["permessage-deflate; foo=1", true],
    ["permessage-deflate; server_max_window_bits=7", true],
    ["permessage-deflate; client_max_window_bits", true],
    ["permessage-deflate, permessage-deflate", true],
    ["x-webkit-deflate-frame", true],
    ["permessage-deflate", { serverNoContextTakeover: true }],
    ["permessage-deflate; server_max_window_bits=12", { serverMaxWindowBits: 10 }],
  ];
  for (const [answer, ours] of answers) {
    it(`"${answer}" with ${JSON.stringify(ours)}: error, close 1006, never open`, async () => {
      const fake = await startFakeServer((c) => c.accept({ "Sec-WebSocket-Extensions": answer }));
      try {
        const client = makeClient(fake.url, { perMessageDeflate: ours });
        const recorder = watch(client);
        client.startConnection();
        const [code, reason] = await recorder.closed;
        assert.equal(code, 1006);
        assert.match(reason, /Invalid Sec-WebSocket-Extensions header/);
        assert.equal(recorder.names().includes("open"), false);
        assert.match(String(recorder.errors()[0]?.message), /Sec-WebSocket-Extensions/);
      } finally {
        await fake.close();
      }
    });
  }

  it("an extension answered to a client that offered none fails too", async () => {
    const fake = await startFakeServer((c) => c.accept({ "Sec-WebSocket-Extensions": "permessage-deflate" }));
    try {
      const client = makeClient(fake.url);
      const recorder = watch(client);
      client.startConnection();
      assert.equal((await recorder.closed)[0], 1006);
      assert.match(String(recorder.errors()[0]?.message), /did not offer/);
    } finally {
      await fake.close();
    }
  });
});

describe("permessage-deflate: ours with ours", () => {
  for (const backend of availableBackends().filter((b: BackendName) => b !== "deno")) {
    it(`backend ${backend}, options on serve(): messages echoed, extensions agreed`, async () => {
      const handle = serve((request) => {
        const server = makeServer(request);
        server.on("message", (m) => server.send(m));
        return server.startConnection();
      }, { port: 0, hostname: "127.0.0.1", backend, perMessageDeflate: { threshold: 0, serverMaxWindowBits: 11 } });
      try {
        const { port } = await handle.ready;
        const client = makeClient(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true });
        await exchange(client, messages());
        assert.equal(client.extensions, "permessage-deflate; server_max_window_bits=11");
      } finally {
        await handle.close();
      }
    });
  }

  it("a server without the option declines our offer", async () => {
    const handle = serve((request) => {
      const server = makeServer(request);
      server.on("message", (m) => server.send(m));
      return server.startConnection();
    }, { port: 0, hostname: "127.0.0.1" });
    try {
      const { port } = await handle.ready;
      const client = makeClient(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true });
      await exchange(client, messages().slice(0, 3));
      assert.equal(client.extensions, "");
    } finally {
      await handle.close();
    }
  });

  it("a malformed offer is answered 400 when the server compresses", async () => {
    const handle = serve((request) => makeServer(request, { perMessageDeflate: true }).startConnection(), {
      port: 0,
      hostname: "127.0.0.1",
    });
    try {
      const { port } = await handle.ready;
      const response = await rawExchange(
        port,
        requestHead({ headers: { "Sec-WebSocket-Extensions": "permessage-deflate; =" } }),
      );
      assert.equal(response.status, 400);
      assert.match(bodyOf(response), /Invalid Sec-WebSocket-Extensions/);
    } finally {
      await handle.close();
    }
  });
});

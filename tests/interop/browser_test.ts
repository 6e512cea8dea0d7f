/**
 * Interoperability with a real browser: headless Chromium (Debian's
 * `/usr/bin/chromium`, driven by `playwright-core` from tools/rt/node_modules)
 * opens `new WebSocket("ws://127.0.0.1:PORT/")` against our echo server,
 * made with `serve()` + `makeServer()`, on every backend this runtime has
 * (`availableBackends()`: tcp and node everywhere, deno on Deno). The server
 * runs in the test's own runtime; only the browser is a separate process.
 *
 * Chromium always offers permessage-deflate: the connection must work
 * without it (a server without the option declines) and with it (the
 * option on; Deno's own socket, the deno backend, still declines).
 *
 * Needs Chromium at /usr/bin/chromium (`apt-get install chromium`); without
 * it these tests FAIL, saying so. Set `WSD_SKIP_BROWSER=1` to skip them on
 * purpose. Playwright never downloads a browser here: it launches that
 * executable, with a fresh profile (`--user-data-dir`) in a temporary
 * directory that is removed after the tests.
 */

import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { availableBackends, makeServer, serve } from "../../mod.ts";
import type { BackendName, ServeHandle, Server, ServerOptions } from "../../mod.ts";
import { ms, withTimeout } from "../driver/_pair.ts";

const CHROMIUM = "/usr/bin/chromium";
const SKIP = process.env.WSD_SKIP_BROWSER === "1";
const skip = SKIP ? "WSD_SKIP_BROWSER=1" : false;

// ───────────────────── playwright-core, loaded by path ─────────────────────

// Only the few members used here; the module is loaded by path like `ws` in
// ws_test.ts (tools/rt/node_modules is not up the tree of this file), which
// works unchanged on Deno (with -A), Node and Bun.
interface Page {
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
}
interface BrowserContext {
  pages(): Page[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
interface Playwright {
  chromium: {
    launchPersistentContext(userDataDir: string, options: Record<string, unknown>): Promise<BrowserContext>;
  };
}

const require = createRequire(import.meta.url);

let launching: Promise<{ context: BrowserContext; page: Page }> | null = null;
/** The temporary directory of the profile and artifacts, once made. */
let tempDir: string | null = null;

/**
 * The shared browser and its one page (about:blank), launched by the first
 * test that needs them; every test runs its WebSocket there (a page per test
 * costs most of a second). The profile (a fresh `--user-data-dir`) and
 * playwright's artifacts go in one temporary directory that `after` removes
 * once the browser is closed: playwright's own temporary directories are not
 * always removed before Deno's test runner exits.
 */
async function blankPage(): Promise<Page> {
  launching ??= (async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not installed at ${CHROMIUM}: install it with ` +
          "`apt-get install chromium` (Debian/Ubuntu), or set " +
          "WSD_SKIP_BROWSER=1 to skip the browser tests",
      );
    }
    let playwright: Playwright;
    try {
      playwright = require("../../tools/rt/node_modules/playwright-core/index.js") as Playwright;
    } catch (error) {
      throw new Error(
        "playwright-core is missing from tools/rt/node_modules: run `npm ci --prefix tools/rt`",
        { cause: error },
      );
    }
    const dir = tempDir = await mkdtemp(join(tmpdir(), "wsd-chromium-"));
    const context = await playwright.chromium.launchPersistentContext(join(dir, "profile"), {
      executablePath: CHROMIUM,
      artifactsDir: join(dir, "artifacts"),
      headless: true,
      timeout: ms(30_000),
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      // A persistent context starts with one about:blank page.
      return { context, page: context.pages()[0] ?? await context.newPage() };
    } catch (error) {
      await context.close();
      throw error;
    }
  })();
  return (await launching).page;
}

after(async () => {
  const session = await launching?.catch(() => null);
  launching = null;
  try {
    await session?.context.close();
  } finally {
    if (tempDir !== null) await rm(tempDir, { recursive: true, force: true, maxRetries: 5 });
    tempDir = null;
  }
});

// ───────────────────────────── the page's side ─────────────────────────────

type Message =
  | { type: "text"; data: string }
  | { type: "binary"; data: number[] };

interface PageArgs {
  url: string;
  protocols: string[];
  /** Sent once open, in order. */
  send: Message[];
  /** Once every message was echoed, close with this; `null`: wait. */
  closeWith: { code: number; reason: string } | null;
  /** Milliseconds until the page gives up and reports what it has. */
  timeout: number;
}

interface PageResult {
  opened: boolean;
  protocol: string;
  extensions: string;
  messages: Message[];
  errors: number;
  close: { code: number; reason: string; wasClean: boolean } | null;
  timedOut: boolean;
}

/**
 * Runs in the page (playwright sends its source): must not refer to anything
 * outside itself. Resolves at the close event, or at `timeout`.
 */
function inPage(args: PageArgs): Promise<PageResult> {
  return new Promise((resolve) => {
    const result: PageResult = {
      opened: false,
      protocol: "",
      extensions: "",
      messages: [],
      errors: 0,
      close: null,
      timedOut: false,
    };
    const timer = setTimeout(() => {
      result.timedOut = true;
      resolve(result);
    }, args.timeout);
    const ws = new WebSocket(args.url, args.protocols);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      result.opened = true;
      result.protocol = ws.protocol;
      result.extensions = ws.extensions;
      for (const m of args.send) {
        ws.send(m.type === "text" ? m.data : new Uint8Array(m.data));
      }
    };
    ws.onmessage = (event: MessageEvent) => {
      const data = event.data;
      result.messages.push(
        typeof data === "string"
          ? { type: "text", data }
          : data instanceof ArrayBuffer
          ? { type: "binary", data: Array.from(new Uint8Array(data)) }
          : { type: "text", data: `unexpected ${String(data)}` },
      );
      if (
        args.closeWith !== null && result.messages.length === args.send.length
      ) {
        ws.close(args.closeWith.code, args.closeWith.reason);
      }
    };
    ws.onerror = () => {
      result.errors++;
    };
    ws.onclose = (event: CloseEvent) => {
      result.close = {
        code: event.code,
        reason: event.reason,
        wasClean: event.wasClean,
      };
      clearTimeout(timer);
      resolve(result);
    };
  });
}

/** Runs {@linkcode inPage} in the shared about:blank page. */
async function runInPage(args: PageArgs): Promise<PageResult> {
  const page = await blankPage();
  return await withTimeout(
    page.evaluate(inPage, args),
    "the page's WebSocket session",
    args.timeout + 5_000,
  );
}

// ───────────────────────────── our echo server ─────────────────────────────

interface Seen {
  server: Server;
  /** The Sec-WebSocket-Extensions the browser offered. */
  offeredExtensions: string;
  /** The Sec-WebSocket-Extensions of our 101 answer. */
  answeredExtensions: string;
  messages: Array<string | Uint8Array>;
  closed: Promise<[code: number, reason: string]>;
  errors: Error[];
}

interface Echo {
  handle: ServeHandle;
  url: string;
  /** Resolves with the first connection. */
  connection: Promise<Seen>;
  /** Resolves once `n` messages reached the first connection. */
  received(n: number): Promise<void>;
}

async function startEcho(backend: BackendName, options: ServerOptions = {}): Promise<Echo> {
  const connection = Promise.withResolvers<Seen>();
  const waiters: Array<() => void> = [];
  const handle = serve((request) => {
    const server = makeServer(request, { acceptProtocols: ["chat"], ...options });
    const errors: Error[] = [];
    const messages: Array<string | Uint8Array> = [];
    const closed = new Promise<[number, string]>((resolve) =>
      server.once("close", (code, reason) => resolve([code, reason]))
    );
    server.on("error", (error) => errors.push(error));
    server.on("message", (message) => {
      messages.push(message);
      server.send(message);
      for (const w of waiters.splice(0)) w();
    });
    // Read before startConnection(): Deno's upgradeWebSocket makes the
    // request's headers unreadable ("Request closed") once it upgraded.
    const offeredExtensions = request.headers.get("sec-websocket-extensions") ??
      "";
    const response = server.startConnection();
    connection.resolve({
      server,
      offeredExtensions,
      answeredExtensions: response.headers.get("sec-websocket-extensions") ??
        "",
      messages,
      closed,
      errors,
    });
    return response;
  }, { hostname: "127.0.0.1", port: 0, backend });
  const { port } = await withTimeout(handle.ready, `${backend} listening`);
  return {
    handle,
    url: `ws://127.0.0.1:${port}/`,
    connection: connection.promise,
    async received(n: number) {
      const seen = await connection.promise;
      while (seen.messages.length < n) {
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

// ───────────────────────────── the tests ─────────────────────────────

const TEXT = "héllo wörld ✓ 🎉";
const BYTES = Array.from({ length: 300 }, (_, i) => i & 0xff);

for (const backend of availableBackends()) {
  describe(`Chromium against serve({ backend: "${backend}" })`, () => {
    it(
      "echoes text and binary, agrees on the subprotocol, and closes 4000 'bye' cleanly",
      { skip },
      async () => {
        const echo = await startEcho(backend);
        try {
          const sent: Message[] = [
            { type: "text", data: TEXT },
            { type: "binary", data: BYTES },
          ];
          const result = await runInPage({
            url: echo.url,
            protocols: ["superchat", "chat"],
            send: sent,
            closeWith: { code: 4000, reason: "bye" },
            timeout: ms(10_000),
          });
          const seen = await withTimeout(echo.connection, "the connection");

          assert.equal(result.timedOut, false, JSON.stringify(result));
          assert.equal(result.opened, true);
          assert.equal(result.errors, 0);
          assert.deepEqual(result.messages, sent);
          assert.equal(result.protocol, "chat");
          assert.equal(seen.server.protocol, "chat");
          // Chromium offers permessage-deflate; what it uses is what we
          // answered (nothing, until the server negotiates it).
          assert.match(seen.offeredExtensions, /permessage-deflate/);
          assert.equal(result.extensions, seen.answeredExtensions);
          assert.deepEqual(result.close, {
            code: 4000,
            reason: "bye",
            wasClean: true,
          });

          assert.deepEqual(seen.messages, [TEXT, new Uint8Array(BYTES)]);
          assert.equal(typeof seen.messages[0], "string");
          assert.ok(seen.messages[1] instanceof Uint8Array);
          assert.deepEqual(
            await withTimeout(seen.closed, "the server's close event"),
            [4000, "bye"],
          );
          assert.deepEqual(seen.errors, []);
        } finally {
          await withTimeout(echo.handle.close(), `${backend} server closed`);
        }
      },
    );

    it(
      `with perMessageDeflate: ${
        backend === "deno" ? "declined" : "negotiated"
      }, compressible and random messages echoed`,
      { skip },
      async () => {
        const echo = await startEcho(backend, { perMessageDeflate: { threshold: 0 } });
        try {
          const json = JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i, name: `name ${i}` })));
          let seed = 7;
          const random = Array.from({ length: 20_000 }, () => (seed = (seed * 69069 + 1) >>> 0) >>> 24);
          const sent: Message[] = [
            { type: "text", data: json },
            { type: "text", data: json.replace("name 1", "NAME 1") },
            { type: "binary", data: random },
            { type: "text", data: TEXT },
            { type: "binary", data: Array.from({ length: 100_000 }, () => 0) },
            { type: "text", data: "" },
          ];
          const result = await runInPage({
            url: echo.url,
            protocols: ["chat"],
            send: sent,
            closeWith: { code: 1000, reason: "" },
            timeout: ms(15_000),
          });
          const seen = await withTimeout(echo.connection, "the connection");
          assert.equal(result.timedOut, false, JSON.stringify(result).slice(0, 500));
          assert.equal(result.errors, 0);
          assert.equal(result.extensions, backend === "deno" ? "" : "permessage-deflate");
          assert.equal(seen.server.extensions, result.extensions);
          assert.equal(result.messages.length, sent.length);
          for (let i = 0; i < sent.length; i++) assert.deepEqual(result.messages[i], sent[i], `message ${i}`);
          assert.deepEqual(result.close, { code: 1000, reason: "", wasClean: true });
          assert.deepEqual(seen.errors, []);
        } finally {
          await withTimeout(echo.handle.close(), `${backend} server closed`);
        }
      },
    );

    it(
      "sees the server close first with 1001 (serve().close())",
      { skip },
      async () => {
        const echo = await startEcho(backend);
        let closing: Promise<void> | null = null;
        try {
          const page = runInPage({
            url: echo.url,
            protocols: ["chat"],
            send: [{ type: "text", data: "ready" }],
            closeWith: null,
            timeout: ms(10_000),
          });
          page.catch(() => {}); // awaited below; not unhandled if we throw first
          // Close once the browser is surely open: its first message arrived.
          await withTimeout(
            Promise.race([echo.received(1), page]),
            "the browser's first message",
          );
          const seen = await withTimeout(echo.connection, "the connection");
          const started = Date.now();
          closing = echo.handle.close();
          const result = await page;
          await withTimeout(closing, `${backend} server closed`);
          const took = Date.now() - started;

          assert.equal(result.timedOut, false, JSON.stringify(result));
          assert.equal(result.errors, 0);
          assert.deepEqual(result.messages, [{ type: "text", data: "ready" }]);
          assert.equal(result.close?.code, 1001);
          const [code] = await withTimeout(seen.closed, "the server's close");
          // A full closing handshake: Chromium echoed 1001 (the server reports
          // the peer's code) and saw the TCP close after it. On the deno
          // backend this needs serve().close() to close the sockets before it
          // calls Deno's server.shutdown(): shut down first, Deno 2.9.6 closes
          // upgraded sockets itself, reports 1005 at once, and about 1 run in
          // 3 drops the TCP connection before Chromium's echo (wasClean false).
          assert.equal(result.close?.wasClean, true);
          assert.equal(code, 1001);
          assert.deepEqual(seen.errors, []);
          // The closing handshake finished; close() did not sit out its
          // shutdownTimeout (5 s).
          assert.ok(took < 4_500, `close() took ${took} ms`);
        } finally {
          await withTimeout(
            closing ?? echo.handle.close(),
            `${backend} server closed`,
          );
        }
      },
    );
  });
}

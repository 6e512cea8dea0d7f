/**
 * Production safety (issue 16), on the tcp backend of every runtime: what a
 * server does when a listener throws, when it is told to stop while its
 * peers are still sending, when a peer floods without reading, when the
 * send queue policy closes a connection, and when a TLS client drops in the
 * middle of its handshake. Where the question is "does the process survive"
 * the server runs as a child process (bench/reliability/server.ts, the same
 * one the bench measures: a plain `ws.on("message", (m) => ws.send(m))`
 * echo, `close()` on SIGTERM) and the test asserts its exit code and stderr.
 * Floods come from raw `node:net` peers that never read
 * (bench/reliability/_raw.ts); the measure is the bytes the flooder got the
 * kernel to accept, which stays bounded only if the server stops reading.
 */

import { describe, it } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import process from "node:process";
import { Buffer } from "node:buffer";
import { fileURLToPath } from "node:url";
import * as wsd from "../../mod.ts";
import type { ServeOptions, Server } from "../../server.ts";
import { delay, fixture, HOST, openClient, startServer, withTimeout } from "./_util.ts";
import type { TestServer } from "./_util.ts";
import { clientFrame, OP_BINARY, OP_PING, OP_TEXT, RawWs, repeated } from "../../bench/reliability/_raw.ts";

const RUNTIME: "deno" | "bun" | "node" = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const CHILD = fileURLToPath(new URL("../../bench/reliability/server.ts", import.meta.url));
const MB = 1 << 20;

// What a non-reading flooder may get accepted once the server stops reading:
// measured on loopback here (Linux, tcp_rmem max 32 MiB, tcp_wmem max 4 MiB),
// a reader that stops after reading at full speed leaves 4–6.5 MB in the
// kernel (its receive buffer and the writer's send buffer), on each
// runtime. Echoes and pongs fill the other direction the same way (about
// as much again) before bufferedAmount passes outgoingHighWaterMark (1 MiB)
// and the server pauses: about 14 MB in all. Today's server reads on and
// the flooder passes 60–200 MB in four seconds.
const FLOOD_BOUND = 32 * MB;

// ───────────────────────────── a child server ─────────────────────────────

interface ChildServer {
  port: number;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) once the process ended. */
  exited: Promise<number | string>;
  /** Whether the process still runs. */
  alive(): boolean;
  /** Resolves with the ms after SIGTERM at which close() resolved, once it did. */
  closed: Promise<number>;
  kill(signal?: "SIGTERM" | "SIGKILL"): void;
}

/** Starts bench/reliability/server.ts with this runtime; killed when the test ends. */
async function startChild(t: TestContext, config: Record<string, unknown> = {}): Promise<ChildServer> {
  const args = RUNTIME === "deno" ? ["run", "-A", CHILD] : [CHILD];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, WSD_RELIAB: JSON.stringify(config), NO_COLOR: "1", RUST_BACKTRACE: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "", stderr = "";
  let running = true;
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => {
      running = false;
      resolve(code ?? signal ?? "?");
    })
  );
  t.after(() => {
    if (running) child.kill("SIGKILL");
    return exited;
  });
  child.stderr.on("data", (chunk: Buffer) => void (stderr += chunk.toString()));
  let onClosed: (ms: number) => void = () => {};
  const closed = new Promise<number>((resolve) => onClosed = resolve);
  const port = await withTimeout(
    new Promise<number>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const ready = /READY (\d+)/.exec(stdout);
        if (ready) resolve(Number(ready[1]));
        const done = /CLOSED (\d+)/.exec(stdout);
        if (done) onClosed(Number(done[1]));
      });
      exited.then(() => reject(new Error(`The child server ended before listening: ${stderr}`)));
    }),
    "the child server to listen",
    20_000,
  );
  return {
    port,
    stderr: () => stderr,
    exited,
    alive: () => running,
    closed,
    // process.kill, not child.kill: Deno's child.kill reports the signal it
    // sent as the way the child ended, even when the child handled it and exited 0
    kill: (signal = "SIGTERM") => void process.kill(child.pid!, signal),
  };
}

/** Opens a raw client, sends a text message and waits for its echo. */
async function echoes(port: number): Promise<boolean> {
  const ws = await RawWs.open(port);
  try {
    ws.send(OP_TEXT, "are you there?");
    return await ws.until(() => ws.messages >= 1, 5_000);
  } finally {
    await ws.destroy();
  }
}

/** SIGTERM; asserts the child ends by itself with 0 and nothing thrown on stderr. */
async function assertCleanExit(child: ChildServer, what: string): Promise<void> {
  child.kill("SIGTERM");
  const code = await withTimeout(child.exited, `${what}: the child to exit after SIGTERM`, 15_000);
  assert.equal(code, 0, `${what}: exit code; stderr:\n${child.stderr()}`);
  assert.doesNotMatch(child.stderr(), /InvalidStateError|Uncaught|Error:/, `${what}: stderr`);
}

// ───────────────────────────── listener exceptions ─────────────────────────────

describe("a listener's exception", () => {
  it("closes that connection with 1011; the process and the other connections carry on", async (t) => {
    const child = await startChild(t);
    const thrower = await RawWs.open(child.port);
    const other = await RawWs.open(child.port);
    thrower.send(OP_TEXT, "throw");
    await thrower.until(() => thrower.closeCode !== null, 5_000);
    await delay(300); // a rethrown exception ends the process within a tick or two
    assert.ok(child.alive(), `the process died; stderr:\n${child.stderr()}`);
    assert.equal(thrower.closeCode, 1011, "the thrower's close code");
    other.send(OP_TEXT, "still here");
    assert.ok(await other.until(() => other.messages >= 1, 5_000), "the other connection echoes");
    assert.ok(await echoes(child.port), "a new connection echoes");
    // with no onListenerError the exception is logged to stderr
    assert.match(child.stderr(), /a listener failed on purpose/);
    await thrower.destroy();
    await other.destroy();
    child.kill("SIGTERM");
    assert.equal(await withTimeout(child.exited, "the child to exit", 15_000), 0);
  });

  it("emits error with a ListenerError (WSD_ERR_LISTENER, 1011) and calls serve()'s onListenerError", async (t) => {
    const ListenerError = (wsd as unknown as Record<string, unknown>).ListenerError as
      | (new (...args: never[]) => Error)
      | undefined;
    assert.equal(typeof ListenerError, "function", "mod.ts exports ListenerError");
    const thrown = new Error("thrown by a message listener");
    const reported: Array<[unknown, unknown]> = [];
    let server: Server | undefined;
    const errors: unknown[] = [];
    const options = {
      onListenerError: (error: unknown, ws: unknown) => void reported.push([error, ws]),
    } as unknown as Omit<ServeOptions, "port" | "hostname" | "backend">;
    const handle: TestServer = await startServer("tcp", {
      serve: options,
      echo: false,
      beforeStart: (s) => {
        server = s;
        s.on("error", (e) => void errors.push(e));
        s.on("message", () => {
          throw thrown;
        });
      },
    });
    t.after(() => handle.close());
    const client = await openClient("ws", handle.url);
    t.after(() => client.terminate());
    client.send("please throw");
    const [code] = await withTimeout(client.closed, "the client to see the close");
    assert.equal(code, 1011);
    const listenerErrors = errors.filter((e) => (e as { type?: string }).type === "WSD_ERR_LISTENER");
    assert.equal(listenerErrors.length, 1, "one error event with type WSD_ERR_LISTENER");
    const error = listenerErrors[0] as Error & { code?: number; cause?: unknown };
    assert.ok(error instanceof ListenerError!, "the error is a ListenerError");
    assert.equal(error.code, 1011);
    assert.equal(error.cause, thrown);
    assert.equal(reported.length, 1, "onListenerError called once");
    assert.ok(reported[0][0] === error || reported[0][0] === thrown, "onListenerError gets the error");
    assert.equal(reported[0][1], server, "onListenerError gets the connection");
  });
});

// ───────────────────────────── sends after closing ─────────────────────────────

describe("sending once closing started", () => {
  it("send, sendText, sendBinary and sendPing return false instead of throwing", async (t) => {
    let server: Server | undefined;
    const handle = await startServer("tcp", { echo: false, beforeStart: (s) => void (server = s) });
    t.after(() => handle.close());
    const client = await openClient("ws", handle.url);
    t.after(() => client.terminate());
    await withTimeout(
      (async () => {
        while (server?.readyState !== "open") await delay(10);
      })(),
      "the server to open",
    );
    const ws = server!;
    assert.equal(ws.closeConnection(1000, "bye"), true);
    assert.equal(ws.readyState, "closing");
    assert.equal(ws.send("late"), false);
    assert.equal(ws.sendText("late"), false);
    assert.equal(ws.sendBinary(new Uint8Array(3)), false);
    assert.equal(ws.sendPing() as unknown, false);
    await withTimeout(client.closed, "the close");
    await withTimeout(
      (async () => {
        while (ws.readyState !== "closed") await delay(10);
      })(),
      "the server to close",
    );
    assert.equal(ws.send("later"), false);
    assert.equal(ws.sendPing() as unknown, false);
  });
});

// ───────────────────────────── shutdown under load ─────────────────────────────

describe("serve().close() while peers are sending", () => {
  it("sends every client 1001, throws nothing, and the process exits 0 by itself", async (t) => {
    const child = await startChild(t);
    const clients: RawWs[] = [];
    for (let i = 0; i < 300; i += 50) {
      clients.push(...await Promise.all(Array.from({ length: 50 }, () => RawWs.open(child.port))));
    }
    t.after(() => clients.forEach((c) => c.socket.destroy()));
    const message = "m".repeat(64);
    for (const c of clients) {
      c.onMessage = () => {
        if (c.closeCode === null) c.send(OP_TEXT, message);
      };
      for (let i = 0; i < 4; i++) c.send(OP_TEXT, message);
    }
    // Every client mid-conversation before SIGTERM (seconds on a loaded machine).
    for (let waited = 0; waited < 15_000 && !clients.every((c) => c.messages > 0); waited += 50) await delay(50);
    assert.ok(clients.every((c) => c.messages > 0), "every client got echoes before SIGTERM");
    child.kill("SIGTERM");
    const code = await withTimeout(child.exited, "the child to exit after SIGTERM", 15_000);
    await withTimeout(Promise.all(clients.map((c) => c.closed)), "every connection to end");
    const counts = new Map<string, number>();
    for (const c of clients) {
      const key = c.closeCode === null ? "no close frame" : String(c.closeCode);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    assert.equal(
      counts.get("1001"),
      clients.length,
      `close codes seen: ${[...counts].map(([k, n]) => `${n}× ${k}`).join(", ")}`,
    );
    assert.equal(code, 0, `exit code; stderr:\n${child.stderr()}`);
    assert.doesNotMatch(child.stderr(), /InvalidStateError|Uncaught|Error:/);
  });
});

// ───────────────────────────── floods from peers that never read ─────────────────────────────

async function floodTest(frame: Uint8Array, count: number): Promise<void> {
  const server = await startServer("tcp");
  let flooder: RawWs | undefined;
  try {
    flooder = await RawWs.open(server.port, { paused: true });
    const { accepted, stalled } = await flooder.flood(repeated(frame, count), 8_000, {
      limit: FLOOD_BOUND,
      idle: 1_000,
    });
    assert.ok(
      stalled && accepted < FLOOD_BOUND,
      `the server did not stop reading: the flooder got ${(accepted / MB).toFixed(1)} MB accepted` +
        (stalled ? "" : " and was still writing"),
    );
    assert.ok(await echoes(server.port), "the server still serves others");
  } finally {
    await flooder?.destroy();
    await server.close();
  }
}

describe("a peer that floods and never reads", () => {
  it("pings: the server stops reading (pongs do not pile up)", async () => {
    await floodTest(clientFrame(OP_PING, new Uint8Array(125)), 512);
  });

  it("16 KiB messages echoed: the server stops reading", async () => {
    await floodTest(clientFrame(OP_BINARY, new Uint8Array(16384)), 4);
  });
});

describe('sendQueuePolicy "close"', () => {
  it("closes a non-reading peer with 1008; the process lives", async (t) => {
    const child = await startChild(t, { server: { sendQueuePolicy: "close" } });
    const flooder = await RawWs.open(child.port, { paused: true });
    t.after(() => flooder.socket.destroy());
    // small messages, many to a read: a server that pauses reading past the
    // high-water mark still handles the rest of what it read, and those
    // echoes find the queue full
    await flooder.flood(repeated(clientFrame(OP_BINARY, new Uint8Array(1024)), 64), 3_000, {
      limit: 64 * MB,
      idle: 1_000,
    });
    await delay(300);
    assert.ok(child.alive(), `the process died; stderr:\n${child.stderr()}`);
    flooder.socket.resume();
    await flooder.until(() => flooder.closeCode !== null, 5_000);
    assert.equal(flooder.closeCode, 1008);
    assert.ok(await echoes(child.port), "a new connection echoes");
    await assertCleanExit(child, "after the policy close");
  });
});

// ───────────────────────────── TLS ─────────────────────────────

describe("a TLS client that drops mid-handshake", () => {
  for (const backend of ["tcp", "node"] as const) {
    it(`does not hold up close() past shutdownTimeout (${backend} backend)`, async () => {
      const server = await startServer(backend, {
        serve: { cert: fixture("server.pem"), key: fixture("server-key.pem"), shutdownTimeout: 1_000 },
      });
      const socket = net.connect({ host: HOST, port: server.port });
      socket.on("error", () => {});
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
      // the first bytes of a ClientHello (record and handshake headers), then nothing
      socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
      await delay(200);
      socket.destroy();
      await delay(200);
      await withTimeout(server.close(), "close() after a TLS drop", 1_000 + 3_000);
    });
  }
});

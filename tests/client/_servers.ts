/**
 * Test helpers for the client (not a test file): real servers to connect to,
 * on 127.0.0.1 (or ::1) and port 0, each with a `close()` that stops
 * everything it started.
 *
 * - {@linkcode startWsServer}: a `ws` 8.23.0 echo server (optionally over TLS)
 *   that picks a subprotocol and keeps each connection's request for
 *   assertions;
 * - {@linkcode startPythonEchoServer}: Python `websockets` 10.4 as a
 *   subprocess (`/usr/bin/python3 _py_echo_server.py`);
 * - {@linkcode startFakeServer}: a `node:net` server that answers each
 *   connection with whatever bytes the test chooses, and records what the
 *   client sent (the request head, then raw frames);
 * - a recorder of a client's events and a tracker of unhandled rejections.
 *
 * @module
 */

import { spawn } from "node:child_process";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { fileURLToPath } from "node:url";
import type { IncomingMessage } from "node:http";
import type { Buffer } from "node:buffer";
import type { Client } from "../../src/client/client.ts";
import { computeAcceptKey } from "../../src/protocol/handshake.ts";
import { concat } from "../_shared/bytes.ts";
import { closePayload, completeFrames as parseFrames, encodeFrame } from "../_shared/frames.ts";
import type { WireFrame as RawFrame } from "../_shared/frames.ts";
import { record } from "../_shared/events.ts";
import type { Recorder } from "../_shared/events.ts";
import { withTimeout } from "../_shared/time.ts";
import { ws } from "../_shared/ws.ts";
import type { WsSocket } from "../_shared/ws.ts";
import { exited } from "../_shared/child.ts";

// ───────────────────────────── time ─────────────────────────────

export { delay, withTimeout } from "../_shared/time.ts";
export type { WsSocket } from "../_shared/ws.ts";

// ───────────────────────────── a ws echo server ─────────────────────────────

/** One WebSocket connection accepted by the `ws` server. */
export interface WsConnection {
  /** The server's end. */
  socket: WsSocket;
  /** The upgrade request, as Node's http server parsed it. */
  request: IncomingMessage;
  /** Resolves with the code and reason of the server end's `close` event. */
  closed: Promise<[code: number, reason: string]>;
}

/** A running `ws` echo server. */
export interface WsEchoServer {
  /** `ws://host:port` (or `wss://`), no path. */
  url: string;
  port: number;
  /** Every connection accepted so far. */
  connections: WsConnection[];
  /** Resolves with the next connection not returned before. */
  nextConnection(): Promise<WsConnection>;
  /** Stops the server, its connections and every raw socket. */
  close(): Promise<void>;
}

/** Options of {@linkcode startWsServer}. */
export interface WsServerOptions {
  /** Where to listen: "127.0.0.1" (the default) or "::1". */
  host?: string;
  /** The subprotocols the server supports; it picks the first one offered. */
  protocols?: string[];
  /** Serve over TLS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  /** Echo messages back (the default). */
  echo?: boolean;
  /** ws's `perMessageDeflate` option (off by default here). */
  perMessageDeflate?: boolean | Record<string, unknown>;
  /** ws's `maxPayload`. */
  maxPayload?: number;
}

/** Starts a `ws` WebSocketServer on its own http(s) server, on port 0. */
export async function startWsServer(
  options: WsServerOptions = {},
): Promise<WsEchoServer> {
  const host = options.host ?? "127.0.0.1";
  const server = options.tls
    ? https.createServer({ key: options.tls.key, cert: options.tls.cert })
    : http.createServer();
  const sockets = new Set<net.Socket>();
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  // TLS sockets that fail their handshake (an untrusted certificate) end up
  // here; nothing to do but not crash.
  server.on("tlsClientError", () => {});
  const supported = options.protocols ?? [];
  const wss = new ws.WebSocketServer({
    server,
    perMessageDeflate: options.perMessageDeflate ?? false,
    ...(options.maxPayload === undefined ? {} : { maxPayload: options.maxPayload }),
    handleProtocols: (offered: Set<string>) => {
      for (const p of offered) if (supported.includes(p)) return p;
      return false;
    },
  });
  const connections: WsConnection[] = [];
  const waiting: Array<(c: WsConnection) => void> = [];
  let handedOut = 0;
  wss.on("connection", (socket: WsSocket, request: IncomingMessage) => {
    const closed = new Promise<[number, string]>((resolve) =>
      socket.once(
        "close",
        (code: number, reason: Buffer) => resolve([code, reason.toString()]),
      )
    );
    socket.on("error", () => {});
    if (options.echo !== false) {
      socket.on("message", (data: Buffer, isBinary: boolean) => {
        if (socket.readyState === 1) socket.send(data, { binary: isBinary });
      });
    }
    const connection = { socket, request, closed };
    connections.push(connection);
    const waiter = waiting.shift();
    if (waiter) {
      handedOut++;
      waiter(connection);
    }
  });
  wss.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `${options.tls ? "wss" : "ws"}://${shownHost}:${port}`,
    port,
    connections,
    nextConnection(): Promise<WsConnection> {
      if (handedOut < connections.length) {
        return Promise.resolve(connections[handedOut++]);
      }
      return withTimeout(
        new Promise((resolve) => waiting.push(resolve)),
        "a connection at the ws server",
      );
    },
    async close(): Promise<void> {
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ───────────────────────────── Python websockets ─────────────────────────────

/** A running subprocess server. */
export interface ProcessServer {
  /** `ws://127.0.0.1:port` */
  url: string;
  port: number;
  /** Kills the subprocess and waits until it exited. */
  close(): Promise<void>;
}

/** The Python with Debian's `websockets` and `wsproto` (not the pyenv shim on PATH). */
export const PYTHON = "/usr/bin/python3";

/**
 * Starts `_py_echo_server.py` (Python `websockets`) on `port` (0: any free
 * one) and waits for the port it prints. Rejects if Python or the module is
 * missing. `close()` kills it (SIGTERM: no closing handshakes).
 */
export function startPythonEchoServer(port = 0): Promise<ProcessServer> {
  const script = fileURLToPath(
    new URL("./_py_echo_server.py", import.meta.url),
  );
  const child = spawn(PYTHON, [script, String(port)], { stdio: ["pipe", "pipe", "pipe"] });
  const gone = exited(child);
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (s: string) => stderr += s);
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    child.stdin!.destroy();
    await gone;
    child.stdout!.destroy();
    child.stderr!.destroy();
  };
  return withTimeout(
    new Promise<ProcessServer>((resolve, reject) => {
      let out = "";
      child.stdout!.setEncoding("utf8");
      child.stdout!.on("data", (s: string) => {
        out += s;
        const match = /PORT (\d+)/.exec(out);
        if (match) {
          const port = Number(match[1]);
          resolve({ url: `ws://127.0.0.1:${port}`, port, close });
        }
      });
      child.once("error", (error) => {
        close().then(() => reject(error));
      });
      child.once("exit", (code) => {
        reject(new Error(`${PYTHON} exited with ${code}: ${stderr}`));
      });
    }),
    "the Python echo server to start",
  ).catch(async (error) => {
    await close();
    throw error;
  });
}

// ───────────────────────────── a fake server ─────────────────────────────

const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

/** Parses the complete frames at the start of `bytes` (an unfinished one is left for later). */
export { parseFrames };
export type { RawFrame };

/** An unmasked frame, as a server writes it. */
export function serverFrame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  fin = true,
): Uint8Array {
  return encodeFrame(opcode, payload, { fin });
}

/** A close frame from the server. */
export function serverClose(code: number, reason = ""): Uint8Array {
  return serverFrame(0x8, closePayload(code, reason));
}

/** One connection to the fake server, once its request head arrived. */
export interface FakeConnection {
  socket: net.Socket;
  /** The request head as latin1 text, CRLF CRLF included. */
  head: string;
  /** The request line (`GET /path HTTP/1.1`). */
  requestLine: string;
  /** The request's header fields, in order, names as sent. */
  rawHeaders: Array<[name: string, value: string]>;
  /** The request's header fields. */
  headers: Headers;
  /** Every byte received after the head so far. */
  after(): Uint8Array;
  /** Resolves with the frames received after the head once there are `n`. */
  frames(n: number): Promise<RawFrame[]>;
  /** Resolves with the frames received after the head once one is a close frame. */
  untilClose(): Promise<RawFrame[]>;
  /** Resolves when the client's side of the socket ended or it closed. */
  ended: Promise<void>;
  /** Resolves when the socket is closed. */
  closed: Promise<void>;
  /**
   * The head of a valid 101 answer to this request (with `extra` headers, which
   * replace the defaults of the same name; a `null` value drops a header).
   */
  acceptHead(extra?: Record<string, string | null>): string;
  /** Writes a valid 101 answer, and `trailing` bytes in the same write. */
  accept(extra?: Record<string, string | null>, trailing?: Uint8Array): void;
}

/** A running fake server. */
export interface FakeServer {
  /** `ws://127.0.0.1:port` */
  url: string;
  port: number;
  /** Every connection whose head arrived so far. */
  connections: FakeConnection[];
  /** How many TCP connections were accepted (with or without a head). */
  accepted(): number;
  /** Resolves with the next connection (head received) not returned before. */
  nextConnection(): Promise<FakeConnection>;
  /** Destroys every socket and stops listening. */
  close(): Promise<void>;
}

/**
 * A `node:net` server on 127.0.0.1:0 that calls `onRequest` with each
 * connection once its request head (up to CRLF CRLF) arrived; what to answer
 * is the test's business (nothing at all, garbage, a 101 and frames, …).
 */
export async function startFakeServer(
  onRequest: (connection: FakeConnection) => void = (c) => c.accept(),
  port = 0,
): Promise<FakeServer> {
  const sockets = new Set<net.Socket>();
  const connections: FakeConnection[] = [];
  const waiting: Array<(c: FakeConnection) => void> = [];
  let handedOut = 0;
  let accepted = 0;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("error", () => {});
    let buffer: Uint8Array = new Uint8Array(0);
    let connection: FakeConnection | null = null;
    let frameWaiters: Array<
      [(f: RawFrame[]) => boolean, (f: RawFrame[]) => void]
    > = [];
    let endedResolve!: () => void;
    const ended = new Promise<void>((resolve) => (endedResolve = resolve));
    const closed = new Promise<void>((resolve) =>
      socket.once("close", () => {
        sockets.delete(socket);
        endedResolve();
        resolve();
      })
    );
    socket.on("end", () => endedResolve());
    const checkFrames = (): void => {
      if (frameWaiters.length === 0) return;
      const frames = parseFrames(buffer);
      const ready = frameWaiters.filter(([done]) => done(frames));
      frameWaiters = frameWaiters.filter(([done]) => !done(frames));
      for (const [, resolve] of ready) resolve(frames);
    };
    socket.on("data", (chunk: Buffer) => {
      buffer = concat(buffer, new Uint8Array(chunk));
      if (connection !== null) {
        checkFrames();
        return;
      }
      const text = latin1.decode(buffer);
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = text.slice(0, end + 4);
      buffer = buffer.slice(end + 4);
      const lines = head.slice(0, -4).split("\r\n");
      const rawHeaders: Array<[string, string]> = lines.slice(1).map((
        line,
      ) => {
        const colon = line.indexOf(":");
        return [line.slice(0, colon), line.slice(colon + 1).trim()];
      });
      const headers = new Headers();
      for (const [name, value] of rawHeaders) headers.append(name, value);
      const acceptHead = (extra: Record<string, string | null> = {}) => {
        const fields: Record<string, string | null> = {
          Upgrade: "websocket",
          Connection: "Upgrade",
          "Sec-WebSocket-Accept": computeAcceptKey(
            headers.get("sec-websocket-key") ?? "",
          ),
          ...extra,
        };
        let out = "HTTP/1.1 101 Switching Protocols\r\n";
        for (const [name, value] of Object.entries(fields)) {
          if (value !== null) out += `${name}: ${value}\r\n`;
        }
        return out + "\r\n";
      };
      connection = {
        socket,
        head,
        requestLine: lines[0],
        rawHeaders,
        headers,
        after: () => buffer,
        frames: (n) =>
          withTimeout(
            new Promise((resolve) => {
              frameWaiters.push([(f) => f.length >= n, resolve]);
              checkFrames();
            }),
            `${n} frame(s) at the fake server`,
          ),
        untilClose: () =>
          withTimeout(
            new Promise((resolve) => {
              frameWaiters.push([
                (f) => f.some((x) => x.opcode === 8),
                resolve,
              ]);
              checkFrames();
            }),
            "a close frame at the fake server",
          ),
        ended,
        closed,
        acceptHead,
        accept(extra, trailing) {
          const bytes = encoder.encode(acceptHead(extra));
          socket.write(trailing ? concat(bytes, trailing) : bytes);
        },
      };
      connections.push(connection);
      const waiter = waiting.shift();
      if (waiter) {
        handedOut++;
        waiter(connection);
      }
      onRequest(connection);
      checkFrames();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as net.AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${bound}`,
    port: bound,
    connections,
    accepted: () => accepted,
    nextConnection(): Promise<FakeConnection> {
      if (handedOut < connections.length) {
        return Promise.resolve(connections[handedOut++]);
      }
      return withTimeout(
        new Promise((resolve) => waiting.push(resolve)),
        "a request at the fake server",
      );
    },
    async close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on (a listener's, after it was closed). */
export { freePort as closedPort } from "../_shared/net.ts";

/** Whether this machine can listen on ::1. */
export async function hasIPv6Loopback(): Promise<boolean> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "::1", resolve);
    });
  } catch {
    return false;
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return true;
}

// ───────────────────────────── recording a client ─────────────────────────────

export type { Recorded } from "../_shared/events.ts";

/** What a client emitted, in order: a {@linkcode Recorder} whose promises time out. */
export interface ClientRecorder extends Omit<Recorder, "nextMessages"> {
  /** Resolves on `open`; rejects if `close` comes first (a fresh promise, with a timeout, each time). */
  readonly opened: Promise<void>;
  /** Resolves with the `close` event's code and reason (a fresh promise, with a timeout, each time). */
  readonly closed: Promise<[code: number, reason: string]>;
  /** Resolves once `n` messages arrived (rejects after `limit` ms, default 10 s). */
  nextMessages(n: number, limit?: number): Promise<Array<string | Uint8Array>>;
}

/** Records every event of `client`; add it before `startConnection()`. */
export function watch(client: Client): ClientRecorder {
  const rec = record(client);
  return {
    events: rec.events,
    names: rec.names,
    messages: rec.messages,
    errors: rec.errors,
    get opened() {
      return withTimeout(rec.opened, "open");
    },
    get closed() {
      return withTimeout(rec.closed, "close", 15_000);
    },
    nextMessages: (n, limit) => withTimeout(rec.nextMessages(n), `${n} message(s) at the client`, limit),
  };
}

// ───────────────────────────── unhandled rejections ─────────────────────────────

export { trackUnhandled } from "../_shared/uncaught.ts";

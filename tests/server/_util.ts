/**
 * Test helpers for the server side (not a test file): a server started with
 * `serve()` on port 0 of 127.0.0.1 that records every `Server` its handler
 * made, three kinds of real clients behind one small interface (ours, the
 * runtime's global `WebSocket`, the `ws` package), and a raw `node:net` client
 * that writes requests by hand and reads status line, headers and body. Each
 * thing started here has a `close()` that stops it; tests call it.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import net from "node:net";
import type { Buffer } from "node:buffer";
import { makeClient } from "../../client.ts";
import type { Client } from "../../client.ts";
import { makeServer, serve } from "../../server.ts";
import { latin1 } from "../_shared/bytes.ts";
import { encodeFrame } from "../_shared/frames.ts";
import { withTimeout } from "../_shared/time.ts";
import { ws } from "../_shared/ws.ts";
import type {
  BackendName,
  ServeHandle,
  ServeHandler,
  ServeHandlerInfo,
  ServeOptions,
  Server,
  ServerOptions,
} from "../../server.ts";

export const HOST = "127.0.0.1";

// ───────────────────────────── time ─────────────────────────────

export { delay, withTimeout } from "../_shared/time.ts";

// ───────────────────────────── data ─────────────────────────────

export const encoder: TextEncoder = new TextEncoder();
export const decoder: TextDecoder = new TextDecoder();

export { asciiText as text, pattern, sameBytes } from "../_shared/bytes.ts";

/** A test fixture of tests/client/fixtures (the test-only TLS CA and cert). */
export function fixture(name: string): string {
  return readFileSync(
    fileURLToPath(new URL(`../client/fixtures/${name}`, import.meta.url)),
    "utf8",
  );
}

// ───────────────────────────── a server ─────────────────────────────

/** One `Server` a handler made, with everything it emitted. */
export interface ServerRecord {
  server: Server;
  request: Request;
  info: ServeHandlerInfo;
  /** `[event, ...args]` in order. */
  events: Array<[string, ...unknown[]]>;
  /** Resolves with the code and reason of the server's `close` event. */
  closed: Promise<[code: number, reason: string]>;
}

/** A running `serve()` and the servers its handler made. */
export interface TestServer {
  handle: ServeHandle;
  port: number;
  /** `ws://127.0.0.1:port` (or `wss://`), no path. */
  url: string;
  /** Every server made so far. */
  servers: ServerRecord[];
  /** Resolves with the next server not returned before. */
  nextServer(): Promise<ServerRecord>;
  /** `handle.close()`, then waits for `finished`. */
  close(): Promise<void>;
}

/** What the handler does with a request besides makeServer (plain HTTP, say). */
export type Route = (
  request: Request,
  info: ServeHandlerInfo,
) => Response | undefined | Promise<Response | undefined>;

/** Options of {@linkcode startServer}. */
export interface StartOptions {
  /** Options of every makeServer. */
  server?: ServerOptions;
  /** Options of serve (port and hostname are set already). */
  serve?: Omit<ServeOptions, "port" | "hostname" | "backend">;
  /** Echo messages (the default); `"transfer"` echoes binary ones with `{ transfer: true }`. */
  echo?: boolean | "transfer";
  /** Answers a request before makeServer, when it returns a response. */
  route?: Route;
  /** Called with each server just before its startConnection(). */
  beforeStart?: (server: Server) => void;
}

/** Records every event of `server` into `events`. */
export function recordEvents(
  server: Server,
  events: Array<[string, ...unknown[]]>,
): Promise<[number, string]> {
  server.on("open", () => events.push(["open"]));
  server.on("message", (m) => events.push(["message", m]));
  server.on("error", (e) => events.push(["error", e]));
  server.on("ping", (d) => events.push(["ping", d]));
  server.on("pong", (d) => events.push(["pong", d]));
  return new Promise((resolve) =>
    server.on("close", (code, reason) => {
      events.push(["close", code, reason]);
      resolve([code, reason]);
    })
  );
}

/** A handler that makes (and records) a server per request. */
export interface RecordingHandler {
  handler: ServeHandler;
  /** Every server made so far. */
  servers: ServerRecord[];
  /** Resolves with the next server not returned before. */
  nextServer(): Promise<ServerRecord>;
}

/**
 * A handler that answers `options.route` first, else makes a server with
 * `options.server` (echoing unless `options.echo` is false), records it and
 * its events, and returns `startConnection()`.
 */
export function recordingHandler(
  options: StartOptions = {},
): RecordingHandler {
  const servers: ServerRecord[] = [];
  const waiting: Array<(r: ServerRecord) => void> = [];
  let handedOut = 0;
  const handler: ServeHandler = async (request, info) => {
    const routed = await options.route?.(request, info);
    if (routed !== undefined) return routed;
    const server = makeServer(request, options.server);
    const events: Array<[string, ...unknown[]]> = [];
    const closed = recordEvents(server, events);
    if (options.echo !== false) {
      server.on("message", (m) => {
        if (server.readyState === "open") server.send(m, options.echo === "transfer" ? { transfer: true } : undefined);
      });
    }
    const record = { server, request, info, events, closed };
    servers.push(record);
    const waiter = waiting.shift();
    if (waiter) {
      handedOut++;
      waiter(record);
    }
    options.beforeStart?.(server);
    return server.startConnection();
  };
  return {
    handler,
    servers,
    nextServer(): Promise<ServerRecord> {
      if (handedOut < servers.length) {
        return Promise.resolve(servers[handedOut++]);
      }
      return withTimeout(
        new Promise((resolve) => waiting.push(resolve)),
        "a server made by the handler",
      );
    },
  };
}

/**
 * Serves a {@linkcode recordingHandler} on `backend`, port 0 of 127.0.0.1.
 */
export async function startServer(
  backend: BackendName,
  options: StartOptions = {},
): Promise<TestServer> {
  const { handler, servers, nextServer } = recordingHandler(options);
  const handle = serve(handler, {
    shutdownTimeout: 2_000,
    ...options.serve,
    port: 0,
    hostname: HOST,
    backend,
  });
  const addr = await handle.ready;
  const tls = options.serve?.cert !== undefined;
  return {
    handle,
    port: addr.port,
    url: `${tls ? "wss" : "ws"}://${HOST}:${addr.port}`,
    servers,
    nextServer,
    async close(): Promise<void> {
      await handle.close();
      await handle.finished;
    },
  };
}

/** Resolves when `port` on 127.0.0.1 can be listened on again (checks once). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, HOST, () => probe.close(() => resolve(true)));
  });
}

// ───────────────────────────── clients ─────────────────────────────

/** The kinds of client the tests connect with. */
export type ClientKind = "ours" | "global" | "ws";
export const CLIENT_KINDS: readonly ClientKind[] = ["ours", "global", "ws"];

/** A connected client of any kind. */
export interface TestClient {
  kind: ClientKind;
  /** The subprotocol the client sees as agreed ("" for none). */
  protocol: string;
  send(data: string | Uint8Array): void;
  /** The next message: a string for text, a Uint8Array for binary. */
  nextMessage(what?: string): Promise<string | Uint8Array>;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Resolves with the close code and reason the client saw. */
  closed: Promise<[code: number, reason: string]>;
  /** Ends the connection at once (cleanup; idempotent). */
  terminate(): void;
}

/** Options of {@linkcode openClient}. */
export interface OpenOptions {
  protocols?: string[];
  caCerts?: string[];
  headers?: Record<string, string>;
}

export { ws } from "../_shared/ws.ts";
export type { WsSocket } from "../_shared/ws.ts";

/** A queue of messages with waiters. */
class Inbox {
  #messages: Array<string | Uint8Array> = [];
  #waiting: Array<(m: string | Uint8Array) => void> = [];
  push(m: string | Uint8Array): void {
    const waiter = this.#waiting.shift();
    if (waiter) waiter(m);
    else this.#messages.push(m);
  }
  next(what: string): Promise<string | Uint8Array> {
    const m = this.#messages.shift();
    if (m !== undefined) return Promise.resolve(m);
    return withTimeout(
      new Promise((resolve) => this.#waiting.push(resolve)),
      what,
    );
  }
}

/** Opens a client of `kind` to `url`; resolves once open, rejects if it failed. */
export function openClient(
  kind: ClientKind,
  url: string,
  options: OpenOptions = {},
): Promise<TestClient> {
  const opened = kind === "ours"
    ? openOurs(url, options)
    : kind === "global"
    ? openGlobal(url, options)
    : openWs(url, options);
  return withTimeout(opened, `the ${kind} client to open ${url}`);
}

/** Opens a `kind` client and adds it to `clients`, for {@linkcode withClients} to end. */
export async function connect(
  clients: TestClient[],
  kind: ClientKind,
  url: string,
  options?: OpenOptions,
): Promise<TestClient> {
  const client = await openClient(kind, url, options);
  clients.push(client);
  return client;
}

/**
 * Runs `body` with `server` and a list for the clients it opens (see
 * {@linkcode connect}); then ends those clients, closes the server, and waits
 * until every client saw its connection close.
 */
export async function withClients<S extends { close(): Promise<void> }>(
  server: S,
  body: (server: S, clients: TestClient[]) => Promise<void>,
): Promise<void> {
  const clients: TestClient[] = [];
  try {
    await body(server, clients);
  } finally {
    for (const client of clients) client.terminate();
    await server.close();
    await Promise.all(
      clients.map((c) => withTimeout(c.closed, `${c.kind} client closed`)),
    );
  }
}

function openOurs(url: string, options: OpenOptions): Promise<TestClient> {
  const client: Client = makeClient(url, {
    acceptProtocols: options.protocols,
    caCerts: options.caCerts,
    additionalHeaders: options.headers,
  });
  const inbox = new Inbox();
  client.on("message", (m) => inbox.push(m));
  const closed = new Promise<[number, string]>((resolve) =>
    client.on("close", (code, reason) => resolve([code, reason]))
  );
  return new Promise((resolve, reject) => {
    client.once("error", (error) => reject(error));
    client.once("open", () =>
      resolve({
        kind: "ours",
        protocol: client.protocol ?? "",
        send: (data) => client.send(data),
        nextMessage: (what = "a message at our client") => inbox.next(what),
        close: (code = 1000, reason = "") => {
          client.closeConnection(code, reason);
        },
        closed,
        terminate: () => {
          const socket = client.socket as { abort?: () => void } | null;
          if (client.readyState !== "closed") socket?.abort?.();
        },
      }));
    client.startConnection();
  });
}

function openGlobal(url: string, options: OpenOptions): Promise<TestClient> {
  const socket = new WebSocket(url, options.protocols);
  socket.binaryType = "arraybuffer";
  const inbox = new Inbox();
  socket.addEventListener("message", (event) => {
    const data = (event as MessageEvent).data;
    inbox.push(typeof data === "string" ? data : new Uint8Array(data));
  });
  const closed = new Promise<[number, string]>((resolve) =>
    socket.addEventListener("close", (event) => {
      const e = event as CloseEvent;
      resolve([e.code, e.reason]);
    })
  );
  return new Promise((resolve, reject) => {
    const onError = () => {
      reject(new Error(`The global WebSocket failed to open ${url}`));
    };
    socket.addEventListener("error", onError, { once: true });
    socket.addEventListener("open", () => {
      socket.removeEventListener("error", onError);
      resolve({
        kind: "global",
        protocol: socket.protocol,
        send: (data) => socket.send(data),
        nextMessage: (what = "a message at the global WebSocket") => inbox.next(what),
        close: (code = 1000, reason = "") => socket.close(code, reason),
        closed,
        terminate: () => {
          if (socket.readyState < 2) socket.close();
        },
      });
    }, { once: true });
  });
}

function openWs(url: string, options: OpenOptions): Promise<TestClient> {
  const socket = new ws.WebSocket(url, options.protocols ?? [], {
    perMessageDeflate: false,
    ca: options.caCerts,
    headers: options.headers,
  });
  const inbox = new Inbox();
  socket.on("message", (data: Buffer, isBinary: boolean) => {
    inbox.push(isBinary ? new Uint8Array(data) : data.toString("utf8"));
  });
  const closed = new Promise<[number, string]>((resolve) =>
    socket.once(
      "close",
      (code: number, reason: Buffer) => resolve([code, reason.toString()]),
    )
  );
  return new Promise((resolve, reject) => {
    socket.once("error", (error: Error) => reject(error));
    socket.once("open", () => {
      socket.on("error", () => {});
      resolve({
        kind: "ws",
        protocol: socket.protocol,
        send: (data) => socket.send(data, { binary: typeof data !== "string" }),
        nextMessage: (what = "a message at the ws client") => inbox.next(what),
        close: (code = 1000, reason = "") => socket.close(code, reason),
        closed,
        terminate: () => socket.terminate(),
      });
    });
  });
}

// ───────────────────────────── a raw client ─────────────────────────────

/** A parsed HTTP response head (and what followed it). */
export interface RawResponse {
  status: number;
  statusText: string;
  /** Names lower-cased; repeated fields appended. */
  headers: Headers;
  /** The header lines as sent, `[name, value]`. */
  rawHeaders: Array<[string, string]>;
  /** Every byte after the head received so far. */
  rest: Uint8Array;
}

/** A `node:net` connection that writes by hand and reads what comes back. */
export class RawClient {
  readonly socket: net.Socket;
  #chunks: Uint8Array[] = [];
  #length = 0;
  #changed: Array<() => void> = [];
  #ended = false;
  /** Resolves when the socket is closed (either end). */
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#chunks.push(new Uint8Array(chunk));
      this.#length += chunk.length;
      this.#wake();
    });
    socket.on("error", () => {});
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.#ended = true;
        this.#wake();
        resolve();
      })
    );
  }

  /** Connects to 127.0.0.1:`port`. */
  static connect(port: number): Promise<RawClient> {
    return withTimeout(
      new Promise((resolve, reject) => {
        const socket = net.connect({ host: HOST, port });
        socket.once("error", reject);
        socket.once("connect", () => {
          socket.off("error", reject);
          socket.setNoDelay(true);
          resolve(new RawClient(socket));
        });
      }),
      `a raw connection to port ${port}`,
    );
  }

  #wake(): void {
    const waiting = this.#changed;
    this.#changed = [];
    for (const w of waiting) w();
  }

  /** Every byte received so far. */
  bytes(): Uint8Array {
    if (this.#chunks.length !== 1) {
      const all = new Uint8Array(this.#length);
      let at = 0;
      for (const c of this.#chunks) {
        all.set(c, at);
        at += c.length;
      }
      this.#chunks = [all];
    }
    return this.#chunks[0] ?? new Uint8Array(0);
  }

  /** Whether the peer ended or the socket closed. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Resolves once `test()` holds, checked at each arrival and at the end. */
  async until(test: () => boolean, what: string, limit = 10_000): Promise<void> {
    const deadline = Date.now() + limit;
    while (!test()) {
      if (this.#ended) throw new Error(`The connection ended before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out after ${limit} ms: ${what}`);
      await withTimeout(
        new Promise<void>((resolve) => this.#changed.push(resolve)),
        what,
        left,
      );
    }
  }

  /** Writes bytes (or latin1 text). */
  write(data: string | Uint8Array): void {
    this.socket.write(typeof data === "string" ? latin1(data) : data);
  }

  /** Waits for a complete response head; returns it and the bytes after it. */
  async readHead(): Promise<RawResponse> {
    await this.until(
      () => headEnd(this.bytes()) >= 0,
      "a complete response head",
    );
    return parseHead(this.bytes());
  }

  /** Waits until the server ended the connection; returns all bytes. */
  async readToEnd(limit = 10_000): Promise<Uint8Array> {
    await withTimeout(
      new Promise<void>((resolve) => {
        const check = () => {
          if (this.#ended) resolve();
          else this.#changed.push(check);
        };
        check();
      }),
      "the server to end the connection",
      limit,
    );
    return this.bytes();
  }

  /** Destroys the socket and waits for it to close. */
  async close(): Promise<void> {
    this.socket.destroy();
    await this.closed;
  }
}

function headEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (
      bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 &&
      bytes[i - 3] === 13
    ) return i + 1;
  }
  return -1;
}

/** Parses the response head at the start of `bytes` (written independently of src/protocol). */
export function parseHead(bytes: Uint8Array): RawResponse {
  const end = headEnd(bytes);
  if (end < 0) throw new Error("No complete response head");
  const lines = new TextDecoder("latin1").decode(bytes.subarray(0, end - 4))
    .split("\r\n");
  const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]);
  if (!match) throw new Error(`Bad status line ${JSON.stringify(lines[0])}`);
  const headers = new Headers();
  const rawHeaders: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    rawHeaders.push([name, value]);
    headers.append(name, value);
  }
  return {
    status: Number(match[1]),
    statusText: match[2],
    headers,
    rawHeaders,
    rest: bytes.slice(end),
  };
}

/** The body after a head: Content-Length, chunked, or up to the end. */
export function bodyOf(response: RawResponse): string {
  const length = response.headers.get("content-length");
  if (length !== null) {
    return decoder.decode(response.rest.subarray(0, Number(length)));
  }
  if (response.headers.get("transfer-encoding")?.includes("chunked")) {
    const text = new TextDecoder("latin1").decode(response.rest);
    let body = "", at = 0;
    for (;;) {
      const lineEnd = text.indexOf("\r\n", at);
      const size = parseInt(text.slice(at, lineEnd), 16);
      if (!(size > 0)) break;
      body += text.slice(lineEnd + 2, lineEnd + 2 + size);
      at = lineEnd + 2 + size + 2;
    }
    return decoder.decode(latin1(body));
  }
  return decoder.decode(response.rest);
}

/** A valid key for hand-written handshakes. */
export const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
/** Its Sec-WebSocket-Accept. */
export const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** A hand-written request head; `headers` replace the defaults, null drops one. */
export function requestHead(
  options: {
    method?: string;
    target?: string;
    headers?: Record<string, string | null>;
  } = {},
): string {
  const fields: Record<string, string | null> = {
    Host: HOST,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": KEY,
    "Sec-WebSocket-Version": "13",
    ...options.headers,
  };
  let head = `${options.method ?? "GET"} ${options.target ?? "/"} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(fields)) {
    if (value !== null) head += `${name}: ${value}\r\n`;
  }
  return head + "\r\n";
}

/**
 * Sends `head` on a fresh raw connection and reads the whole answer (until the
 * server ends the connection, or the head and Content-Length body arrived).
 */
export async function exchange(
  port: number,
  head: string | Uint8Array,
): Promise<RawResponse> {
  const raw = await RawClient.connect(port);
  try {
    raw.write(head);
    const response = await raw.readHead();
    const length = response.headers.get("content-length");
    if (length !== null) {
      await raw.until(
        () => parseHead(raw.bytes()).rest.length >= Number(length),
        "the response body",
      );
    } else if (response.status !== 101) {
      await raw.readToEnd();
    }
    return parseHead(raw.bytes());
  } finally {
    await raw.close();
  }
}

// ───────────────────────────── frames ─────────────────────────────

/** A masked frame, as a client writes it. */
export function maskedFrame(
  opcode: number,
  payload: Uint8Array | string,
  key: Uint8Array = new Uint8Array([1, 2, 3, 4]),
): Uint8Array {
  return encodeFrame(opcode, payload, { mask: key });
}

/** Parses the complete frames at the start of `bytes` (an unfinished one is left for later). */
export { completeFrames as parseFrames } from "../_shared/frames.ts";
export type { WireFrame as RawFrame } from "../_shared/frames.ts";

// ───────────────────────────── unhandled rejections ─────────────────────────────

export { trackUnhandled } from "../_shared/uncaught.ts";

/**
 * The Node adapter (also used on Bun for TLS and node:http, and for
 * everything with the streams binding): TCP and TLS connections through
 * `node:net`/`node:tls`, bound with socket events ({@linkcode socketTransport})
 * or, with `WSD_BINDING=streams`, as Web streams with `Duplex.toWeb`.
 *
 * @module
 */

import { connect as netConnect, createServer as createNetServer, isIP } from "node:net";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import { connect as tlsConnect, createServer as createTlsServer, rootCertificates } from "node:tls";
import { createServer as createHttpServer, STATUS_CODES } from "node:http";
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { Duplex, Readable } from "node:stream";
import { ResponseHeadParser, serializeResponseHead } from "../protocol/http1.ts";
import { connectRequestHead, connectResponseError } from "../protocol/proxy.ts";
import { isHost } from "../protocol/syntax.ts";
import { redirectInput, streamTransport, WRITTEN } from "../driver/transport.ts";
import type { StreamPair, Transport, TransportSink } from "../driver/transport.ts";
import { binding } from "./binding.ts";
import { freeChunk, FREED_CHUNK } from "./memory.ts";
import type {
  ConnectOptions,
  HttpBackendContext,
  ListenOptions,
  NetAddr,
  ProxyTarget,
  RuntimeAdapter,
  ServeBackend,
} from "./types.ts";

/** Wraps a connected socket's two directions as Web streams. */
export function socketStreams(socket: Socket): StreamPair & { close(): void } {
  socket.setNoDelay(true);
  const streams = Duplex.toWeb(socket);
  return {
    readable: streams.readable as ReadableStream<Uint8Array>,
    writable: streams.writable as WritableStream<Uint8Array>,
    close: () => socket.destroy(),
  };
}

/** Where a socket's transport is kept, so that its listeners are shared by all sockets. */
const TRANSPORT = Symbol("wsd.transport");
type BoundSocket = Socket & { [TRANSPORT]: SocketTransport };

function onData(this: BoundSocket, chunk: Uint8Array): void {
  this[TRANSPORT].data(chunk);
}
function onEnd(this: BoundSocket): void {
  this[TRANSPORT].finish();
}
function onError(this: BoundSocket, error: Error): void {
  this[TRANSPORT].finish(error);
}
function ignore(): void {}

const EMPTY = new Uint8Array(0);

/**
 * The native binding of a `node:net` (or `node:tls`) socket: its `data`
 * events are the input (each chunk a buffer of its own, handed over as is),
 * writes go to `socket.write` and resolve in its callback (the bytes reached
 * the kernel), `end()` half-closes. `head` is delivered first (bytes read
 * with an HTTP head). The socket must allow half-open connections. Its
 * listeners are shared by all sockets, so a connection costs one object.
 */
export class SocketTransport implements Transport {
  /** A written chunk is not referenced once its write resolved (measured: the write waits for the kernel). */
  readonly releasesChunks = true;
  readonly #socket: BoundSocket;
  #head: Uint8Array | undefined;
  #sink: TransportSink | null = null;
  #inputDone = false;
  #aborted = false;

  /** Binds `socket`; nothing is delivered before {@linkcode SocketTransport.start}. */
  constructor(socket: Socket, head?: Uint8Array) {
    socket.setNoDelay(true);
    // Errors are reported through the sink once started; never as an uncaught 'error' event.
    socket.on("error", ignore);
    this.#socket = socket as BoundSocket;
    this.#socket[TRANSPORT] = this;
    this.#head = head;
  }

  /** Delivers the input to `sink` from now on (see {@linkcode redirectInput}). */
  [redirectInput](sink: TransportSink): void {
    this.#sink = sink;
  }

  /** Starts delivering input to `sink`. */
  start(sink: TransportSink): void {
    this.#sink = sink;
    const head = this.#head;
    this.#head = undefined;
    if (head !== undefined && head.length !== 0) sink.data(head);
    const socket = this.#socket;
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("error", onError);
    socket.on("close", onEnd);
    if (socket.destroyed) this.finish();
  }

  /**
   * A `data` event. A chunk the protocol let go of is freed at once when
   * ours was the only `data` listener (Node handed it to nobody else, and
   * its stream keeps no reference once the event is emitted; see
   * {@linkcode freeChunk}).
   */
  data(chunk: Uint8Array): void {
    if (this.#aborted) return;
    if (
      this.#sink!.data(chunk) === true && chunk.byteLength >= FREED_CHUNK && this.#socket.listenerCount("data") === 1
    ) freeChunk(chunk);
  }

  /** The input is over (`end`, `error`, `close`, or an abort): tells the sink, once. */
  finish(error?: unknown): void {
    if (this.#inputDone || this.#sink === null) return;
    this.#inputDone = true;
    this.#sink.end(this.#aborted ? undefined : error);
  }

  /** Writes `chunk`; resolves once the kernel has it. */
  write(chunk: Uint8Array): Promise<void> {
    const socket = this.#socket;
    // (Not for TLS sockets: their writes go through encryption first, and on
    // Deno's node:tls this path broke the connection.)
    if (socket.writableLength === 0 && socket.writable && !(socket as { encrypted?: boolean }).encrypted) {
      // Nothing queued: Node tries the write at once, and it usually goes
      // to the kernel whole, with no callback (and its tick) needed.
      socket.write(chunk);
      if (socket.writableLength === 0) return WRITTEN;
      // Part of it waits: an empty write calls back once everything before it is out.
      chunk = EMPTY;
    }
    return new Promise((resolve, reject) => {
      socket.write(chunk, (error) => error ? reject(error) : resolve());
    });
  }

  /**
   * Half-closes after what was written. When the peer's input is over
   * already and everything written is out, the socket is closed at once
   * instead (its FIN is the same): no `shutdown` system call, and none of
   * the stream's finishing steps, per connection. (Not for TLS: its
   * close_notify goes out with a proper end.)
   */
  end(): Promise<void> {
    const socket = this.#socket;
    if (
      this.#inputDone && !this.#aborted && !socket.destroyed && socket.writableLength === 0 &&
      !(socket as { encrypted?: boolean }).encrypted
    ) {
      socket.destroy();
      return WRITTEN;
    }
    return new Promise((resolve, reject) => {
      if (socket.destroyed) return reject(new Error("Cannot end the output: the socket is closed"));
      socket.end((error?: Error | null) => error ? reject(error) : resolve());
    });
  }

  /** Destroys the socket. */
  abort(): void {
    this.#aborted = true;
    this.#socket.destroy();
    this.finish();
  }

  /** Stops reading. */
  pause(): void {
    this.#socket.pause();
  }

  /** Reads again. */
  resume(): void {
    this.#socket.resume();
  }
}

/** A connected socket as a transport of the binding in use. */
export function bindSocket(socket: Socket, head?: Uint8Array): Transport {
  if (binding === "streams") {
    socket.on("error", ignore); // reported through the streams
    return streamTransport(socketStreams(socket), head);
  }
  return new SocketTransport(socket, head);
}

/** Opens a TCP or TLS connection with node:net / node:tls. */
export function connect(options: ConnectOptions): Promise<Transport> {
  if (options.proxy !== undefined) return connectThroughProxy(options, options.proxy);
  return new Promise((resolve, reject) => {
    const { hostname, port, signal } = options;
    if (signal?.aborted) return reject(signal.reason);
    // Half-open: the server ends first (RFC 6455 §7.1.1) and we still write our
    // end after that. (Deno's Duplex.toWeb also crashes without it.)
    const tcp = netConnect({ host: hostname, port, allowHalfOpen: true });
    let socket: Socket = tcp;
    if (options.tls) {
      socket = startTls(tcp, options);
      tcp.once("error", (error) => socket.destroy(error));
    }
    const onAbort = () => {
      socket.destroy();
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const onError = (error: Error) => {
      signal?.removeEventListener("abort", onAbort);
      reject(error);
    };
    socket.once("error", onError);
    socket.once(options.tls ? "secureConnect" : "connect", () => {
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      resolve(bindSocket(socket));
    });
  });
}

/** The TLS socket of a `wss:` connection over `tcp` (connected already, or connecting). */
function startTls(tcp: Socket, options: ConnectOptions): Socket {
  const { hostname } = options;
  const ca = options.caCerts?.length ? [...rootCertificates, ...options.caCerts] : undefined;
  const isIp = isIP(hostname) !== 0;
  // `host` is what the certificate is checked against for an IP address
  // (no servername): with `socket` given and no `host`, Node 26 and Deno
  // checked the name "localhost" instead, so any certificate for
  // localhost passed for wss://127.0.0.2/ (Bun took it from the socket).
  return tlsConnect({
    socket: tcp,
    host: hostname,
    ca,
    servername: isIp ? undefined : hostname,
    ALPNProtocols: ["http/1.1"],
    rejectUnauthorized: options.verifyCertificate !== false,
  });
}

/**
 * Opens a CONNECT tunnel (RFC 9110 §9.3.6) through `proxy` to
 * `options.hostname:port`, then TLS inside it for `wss:` (the certificate
 * checked against the target's name, not the proxy's).
 */
function connectThroughProxy(options: ConnectOptions, proxy: ProxyTarget): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const { signal } = options;
    if (signal?.aborted) return reject(signal.reason);
    const tcp = netConnect({ host: proxy.hostname, port: proxy.port, allowHalfOpen: true });
    let socket: Socket = tcp;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      tcp.off("data", onData);
      tcp.off("error", onError);
      tcp.off("close", onClose);
      socket.off("error", onError);
      return true;
    };
    const fail = (error: unknown) => {
      if (!settle()) return;
      socket.destroy();
      tcp.destroy();
      reject(error);
    };
    const onAbort = () => fail(signal!.reason);
    const onError = (error: Error) => fail(error);
    const onClose = () => fail(new Error(`the proxy ${proxy.label} closed the connection before answering CONNECT`));
    const parser = new ResponseHeadParser();
    const onData = (chunk: Uint8Array) => {
      const result = parser.push(chunk);
      if (result.state === "incomplete") return;
      tcp.off("data", onData);
      if (result.state === "error") {
        return fail(new Error(`the proxy ${proxy.label} answered CONNECT with an invalid head: ${result.message}`));
      }
      const problem = connectResponseError(result.head);
      if (problem !== null) {
        return fail(Object.assign(new Error(problem.replace("the proxy", `the proxy ${proxy.label}`)), {
          status: result.head.status,
        }));
      }
      // The target speaks only after our TLS hello or handshake request: nothing may follow the answer.
      if (result.rest.length !== 0) {
        return fail(new Error(`the proxy ${proxy.label} sent bytes after its answer to CONNECT`));
      }
      if (!options.tls) {
        if (settle()) resolve(bindSocket(tcp));
        return;
      }
      tcp.off("close", onClose);
      socket = startTls(tcp, options);
      socket.once("error", onError);
      tcp.once("error", onError);
      socket.once("secureConnect", () => {
        if (settle()) resolve(bindSocket(socket));
      });
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    tcp.on("error", onError);
    tcp.on("close", onClose);
    tcp.once("connect", () => {
      try {
        tcp.write(connectRequestHead(options.hostname, options.port, proxy.authorization));
      } catch (error) {
        return fail(error);
      }
      tcp.on("data", onData);
    });
  });
}

function remoteOf(socket: Socket): NetAddr {
  return { hostname: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
}

function listening(server: NetServer | HttpServer, options: ListenOptions): Promise<NetAddr> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      const address = server.address() as AddressInfo;
      resolve({ hostname: address.address, port: address.port });
    });
  });
}

function closing(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The tcp backend: node:net (or node:tls) sockets. */
export async function listenTcp(
  options: ListenOptions,
  onConnection: (connection: Transport, remoteAddr: () => NetAddr) => void,
): Promise<ServeBackend> {
  const accept = (socket: Socket) => {
    // (Errors are reported through the transport, which listens for them.)
    onConnection(bindSocket(socket), () => remoteOf(socket));
  };
  const secure = options.cert !== undefined;
  const server: NetServer = secure
    ? createTlsServer({ cert: options.cert, key: options.key, allowHalfOpen: true, handshakeTimeout: 10_000 }, accept)
    : createNetServer({ allowHalfOpen: true }, accept);
  // A TLS client that goes away (or stalls) before its handshake ends never
  // reaches `accept`, and server.close() would wait for it: every raw socket
  // is kept until it closes, so that closeAll can end them.
  const raw = new Set<Socket>();
  if (secure) {
    server.on("connection", (socket: Socket) => {
      raw.add(socket);
      socket.once("close", () => raw.delete(socket));
    });
    server.on("tlsClientError", (_error: Error, socket: Socket) => socket.destroy());
  }
  const addr = await listening(server, options);
  return {
    addr,
    close: () => closing(server),
    closeAll: () => {
      for (const socket of raw) socket.destroy();
    },
  };
}

function toRequest(req: IncomingMessage, secure: boolean, withBody: boolean): Request {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  // RFC 9112 §3.2, as the tcp backend: a Host that is not a host and port is
  // refused (the caller answers 400) before it can become part of the URL.
  const host = req.headers.host ?? "localhost";
  if (!isHost(host)) throw new TypeError("Invalid Host header");
  const url = new URL(req.url ?? "/", `${secure ? "https" : "http"}://${host}`);
  const method = req.method ?? "GET";
  const body = withBody && method !== "GET" && method !== "HEAD"
    ? Readable.toWeb(req) as ReadableStream<Uint8Array>
    : undefined;
  // @ts-ignore: `duplex` is required by Fetch for streamed bodies but not in every lib.
  return new Request(url, { method, headers, body, duplex: "half" });
}

async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: [string, string][] = [];
  response.headers.forEach((value, name) => headers.push([name, value]));
  res.writeHead(response.status, response.statusText || undefined, headers.flat());
  if (response.body === null) return void res.end();
  try {
    for await (const chunk of response.body) res.write(chunk);
  } finally {
    res.end();
  }
}

/** Writes a plain response on a raw socket (an upgrade request answered without upgrading). */
async function writeRaw(socket: Socket, response: Response): Promise<void> {
  const headers = new Headers(response.headers);
  headers.set("Connection", "close");
  const body = response.body === null ? new Uint8Array(0) : new Uint8Array(await response.arrayBuffer());
  headers.set("Content-Length", String(body.length));
  socket.write(
    serializeResponseHead(response.status, response.statusText || STATUS_CODES[response.status] || "", headers),
  );
  socket.end(body);
}

/**
 * One `upgrade` event of a node:http or node:https server (ours, or one the
 * application made): runs the handler, then writes the 101 head and runs the
 * server driver on the socket, or writes the handler's plain answer and ends
 * the socket. Whether it is TLS is read from the socket.
 */
export async function upgradeHttp(
  request: unknown,
  rawSocket: unknown,
  rawHead: unknown,
  context: HttpBackendContext,
): Promise<void> {
  const req = request as IncomingMessage;
  const socket = rawSocket as Socket;
  const head = rawHead as Uint8Array | undefined;
  socket.on("error", () => {});
  const secure = (socket as { encrypted?: boolean }).encrypted === true;
  let response: Response;
  let built: Request;
  try {
    built = toRequest(req, secure, false);
  } catch {
    return await writeRaw(socket, new Response("Invalid request\n", { status: 400 })).catch(() =>
      void socket.destroy()
    );
  }
  context.offerUpgrade(built);
  try {
    response = await context.answer(built, { remoteAddr: remoteOf(socket) });
  } catch {
    return void socket.destroy();
  }
  const upgrade = context.completeUpgrade(built, response);
  if (upgrade === null) return await writeRaw(socket, response).catch(() => void socket.destroy());
  socket.write(serializeResponseHead(101, "Switching Protocols", upgrade.headers));
  context.track(upgrade.server);
  upgrade.start(bindSocket(socket, head === undefined || head.length === 0 ? undefined : new Uint8Array(head)));
}

/** The node backend: node:http (or node:https) with its `upgrade` event. */
export async function listenHttp(options: ListenOptions, context: HttpBackendContext): Promise<ServeBackend> {
  const secure = options.cert !== undefined;
  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    let request: Request;
    try {
      request = toRequest(req, secure, true);
    } catch {
      // A head node:http took but Fetch cannot (a bad Host, a target the URL
      // parser refuses): this request's answer, not the server's end.
      res.writeHead(400, { "Content-Type": "text/plain; charset=utf-8", Connection: "close" });
      return void res.end("Invalid request\n");
    }
    const response = await context.answer(request, { remoteAddr: remoteOf(req.socket) });
    await writeResponse(res, response).catch(() => res.destroy());
  };
  const server: HttpServer = secure
    ? createHttpsServer({ cert: options.cert, key: options.key }, onRequest)
    : createHttpServer(onRequest);
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => upgradeHttp(req, socket, head, context));
  const addr = await listening(server, options);
  return {
    addr,
    close: () => {
      const closed = closing(server);
      server.closeIdleConnections?.();
      return closed;
    },
    closeAll: () => server.closeAllConnections?.(),
  };
}

/** The Node (and Bun) adapter. */
export const nodeAdapter: RuntimeAdapter = { name: "node", connect, listenTcp, listenHttp, upgradeHttp };

/**
 * One connection of the tcp backend before it is a WebSocket: its request
 * head read with this library's HTTP/1.1 parser under the server's head
 * timeout, the handler run for it, and the answer written: the 101 of an
 * upgrade (then the server driver takes the socket) or a plain response.
 *
 * ```text
 *   transport ── HeadReader (head bytes, HeadDeadlines) ── respond() ── handler(Request)
 *                                                          ├─ 101: completeUpgrade → Server
 *                                                          │   (attachStarted: the driver takes the
 *                                                          │    transport's input over from the reader)
 *                                                          └─ else: writePlain, close
 * ```
 *
 * @module
 */

import { hasToken } from "../protocol/handshake.ts";
import { isHost } from "../protocol/syntax.ts";
import { DEFAULT_MAX_HEADERS, parseWholeRequest, RequestHeadParser, serializeResponseHead } from "../protocol/http1.ts";
import type { HeadLimits, RequestHead } from "../protocol/http1.ts";
import { fieldList, fieldText } from "../protocol/head_syntax.ts";
import type { NetAddr } from "../runtime/types.ts";
import { completeUpgrade } from "./server.ts";
import type { Server } from "./server.ts";
import { packHead } from "./connection_state.ts";
import type { ServeHandlerInfo } from "./handler.ts";
import { HeldInput, WRITTEN } from "../driver/transport.ts";
import type { Transport, TransportSink } from "../driver/transport.ts";

/** What a connection of the tcp backend needs of its server. */
export interface ConnectionContext {
  /** Runs the handler: its answer, at once when the handler returned one (no promise). */
  answer: (request: Request, info: ServeHandlerInfo) => Response | Promise<Response>;
  track: (server: Server) => void;
  maxHeadSize: number;
  /** Marks an upgrade request as this server's (with what `ws.request` is made again from, once open: packHead's string). */
  offer: (request: Request, copy: string) => void;
  /** The head timeouts of this server's connections. */
  deadlines: HeadDeadlines;
  /**
   * The connection's HTTP part goes on after its head (a handler or an answer
   * that did not finish at once): the server keeps it until `release`, so
   * that a shutdown can end it. (One waiting for its head is in `deadlines`;
   * one upgraded at once, the usual case, is never kept: no work per
   * connection.)
   */
  hold: (connection: Transport) => void;
  /** The connection's HTTP part that was held is over (upgraded, answered, or dropped). */
  release: (connection: Transport) => void;
}

/**
 * The head timeouts of one server's connections. They all have the same
 * length, so they fall due in the order they were armed: one queue and one
 * timer for all of them, instead of a timer set and cleared per connection
 * (a measurable share of a handshake's JavaScript, most on Deno: see
 * bench/RESULTS.md). The queue is a list linked through the readers, and a
 * reader that is done leaves it at once: a queue that kept done readers
 * until a later compaction kept their sockets alive past young-generation
 * collections, which then copied and promoted them (bench/RESULTS.md,
 * "Third round, Node").
 */
export class HeadDeadlines {
  readonly #timeout: number;
  /** The reader armed first, still waiting; the one armed last. */
  #first: HeadReader | null = null;
  #last: HeadReader | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined = undefined;

  constructor(timeout: number) {
    this.#timeout = timeout;
  }

  /** Starts the clock of `reader`: its `expire()` runs after the timeout, unless `done()` first. */
  add(reader: HeadReader): void {
    reader.due = performance.now() + this.#timeout;
    reader.previous = this.#last;
    reader.next = null;
    if (this.#last === null) this.#first = reader;
    else this.#last.next = reader;
    this.#last = reader;
    this.#timer ??= setTimeout(this.#run, this.#timeout);
  }

  /**
   * `reader` got its head (or its connection ended): its timeout no longer
   * runs. The timer is left to run out even when nothing waits any more (it
   * then finds nothing due and stops): clearing it here would set and clear
   * one per connection again whenever connections come one at a time.
   */
  done(reader: HeadReader): void {
    if (reader.due < 0) return;
    reader.due = -1;
    this.#unlink(reader);
  }

  /** The server is shutting down: every reader still waiting for its head is dropped now. */
  expireAll(): void {
    for (let reader = this.#first; reader !== null; reader = this.#first) {
      reader.due = -1;
      this.#unlink(reader);
      reader.expire();
    }
  }

  /** The server is shutting down: no timer is left behind. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (let reader = this.#first; reader !== null; reader = this.#first) {
      reader.due = -1;
      this.#unlink(reader);
    }
  }

  #unlink(reader: HeadReader): void {
    const { previous, next } = reader;
    if (previous === null) this.#first = next;
    else previous.next = next;
    if (next === null) this.#last = previous;
    else next.previous = previous;
    reader.previous = reader.next = null;
  }

  /** The timer: expires what is due, then waits for the next one. */
  readonly #run = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    let reader = this.#first;
    while (reader !== null && reader.due <= now) {
      reader.due = -1;
      this.#unlink(reader);
      reader.expire();
      reader = this.#first;
    }
    if (reader !== null) this.#timer ??= setTimeout(this.#run, Math.max(0, reader.due - now));
  };
}

/**
 * One connection of the tcp backend: reads the request head (with a timeout
 * and size limits), runs the handler, then either upgrades (101 head, then
 * the server driver on the same transport) or answers plain HTTP and closes.
 * One object per connection: the sink of its input while the head arrives,
 * what its handler gets besides the request (the peer's address, asked of
 * the socket only if the handler reads it: on Node that is a system call per
 * connection), and the source of the input its next reader (the driver, a
 * request body) takes over, with what came after the head (held, and the
 * transport paused, while the handler takes its time: see
 * {@linkcode HeldInput}, shared with the client's handshake).
 */
export class HeadReader extends HeldInput implements TransportSink, ServeHandlerInfo {
  /** When the head timeout falls due (`performance.now()` time), or -1 once done. */
  due = 0;
  /** The neighbours in its server's {@linkcode HeadDeadlines} queue while it waits. */
  previous: HeadReader | null = null;
  next: HeadReader | null = null;
  readonly #peer: () => NetAddr;
  #remoteAddr: NetAddr | undefined = undefined;
  readonly #secure: boolean;
  readonly #context: ConnectionContext;
  /** The parser of a head that did not come whole in the first chunk (none is made for one that did). */
  #parser: RequestHeadParser | null = null;
  /** Whether the head was read (or the reader gave up): input is held for, then goes to, the next reader. */
  #done = false;

  constructor(connection: Transport, remoteAddr: () => NetAddr, secure: boolean, context: ConnectionContext) {
    super(connection);
    this.#peer = remoteAddr;
    this.#secure = secure;
    this.#context = context;
    context.deadlines.add(this);
    // Last: a transport may deliver input inside start().
    connection.start(this);
  }

  /** The peer's address (for the handler). */
  get remoteAddr(): NetAddr {
    return this.#remoteAddr ??= this.#peer();
  }

  /** Input: the head, then what follows it (held until the next reader starts). */
  data(chunk: Uint8Array): boolean | void {
    if (this.#done) return this.holdData(chunk);
    let parser = this.#parser;
    let result;
    if (parser === null) {
      const limits = headLimits(this.#context.maxHeadSize);
      result = parseWholeRequest(chunk, limits);
      if (result === null) (parser = this.#parser = new RequestHeadParser(limits)).push(chunk);
    } else result = parser.push(chunk);
    if (result === null || result.state === "incomplete") return;
    this.#finish();
    const connection = this.transport;
    let run: Promise<void> | void;
    try {
      if (result.state === "error") run = writePlain(connection, statusResponse(result.status, result.message));
      else {
        this.keepRest(result.rest);
        run = respond(this, result.head, this.#secure, this.#context);
      }
    } catch {
      // (Nothing above is expected to throw; a connection is never left open if it does.)
      connection.abort();
      run = undefined;
    }
    // An upgrade answered at once (the usual case) is over at once, without a promise.
    if (run !== undefined) {
      const context = this.#context;
      context.hold(connection);
      const release = () => context.release(connection);
      run.then(release, release);
    }
  }

  /** The input ended: before the head did (the connection is dropped), or after it (for the next reader). */
  end(error?: unknown): void {
    if (this.#done) return this.holdEnd(error);
    this.#finish();
    this.transport.abort();
  }

  /** The head timeout passed (or the server shuts down). */
  expire(): void {
    if (this.#done) return;
    this.#done = true;
    this.#parser = null;
    this.transport.abort();
  }

  #finish(): void {
    this.#done = true;
    this.#parser = null;
    this.#context.deadlines.done(this);
  }
}

/** The head limits of the last server seen (frozen: the parser checks one only once). */
let limits: Readonly<HeadLimits> = Object.freeze({ maxHeadSize: 0, maxHeaders: DEFAULT_MAX_HEADERS });

function headLimits(maxHeadSize: number): Readonly<HeadLimits> {
  if (limits.maxHeadSize !== maxHeadSize) limits = Object.freeze({ maxHeadSize, maxHeaders: DEFAULT_MAX_HEADERS });
  return limits;
}

/**
 * Runs the handler for a request head and answers it: an upgrade, or plain
 * HTTP. Returns nothing when the answer was given at once (a handler that
 * returned the upgrade's `Response`, and its 101 written on the spot), else
 * the promise of the answer. `info` is what the handler gets besides the
 * request (the connection's reader, which asks for the peer's address only
 * when the handler reads it).
 */
function respond(
  info: HeadReader,
  head: RequestHead,
  secure: boolean,
  context: ConnectionContext,
): Promise<void> | void {
  const connection = info.transport;
  // The fields read before the handler runs, in one pass over the head,
  // repeated lines joined with ", " as `Headers` does. The parser gives
  // common names as shared lower-case strings: they compare by identity.
  const lines = fieldList(head);
  let host: string | null = null, upgradeField: string | null = null, contentLength: string | null = null;
  let transferEncoding: string | null = null;
  for (let i = 0; i < lines.length; i += 2) {
    const name = lines[i], value = lines[i + 1];
    if (name === "host") host = join(host, value);
    else if (name === "upgrade") upgradeField = join(upgradeField, value);
    else if (name === "content-length") contentLength = join(contentLength, value);
    else if (name === "transfer-encoding") transferEncoding = join(transferEncoding, value);
  }
  // RFC 9112 §3.2: a Host that is not a host (and port) gets 400. (Without
  // one, as HTTP/1.0 may, the peer's address stands in.)
  host ??= hostOf(info.remoteAddr);
  if (!isHost(host)) return writePlain(connection, statusResponse(400, "Invalid Host header"));
  const upgrade = hasToken(upgradeField, "websocket");
  const length = Number(contentLength ?? 0);
  if (transferEncoding !== null) {
    return writePlain(
      connection,
      statusResponse(501, "Chunked request bodies are not supported; send Content-Length"),
    );
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    return writePlain(connection, statusResponse(400, "Invalid Content-Length"));
  }
  const method = head.method;
  const hasBody = length > 0 && method !== "GET" && method !== "HEAD";
  // The URL as a string (Request parses it once; a URL object would be
  // parsed, then serialized and parsed again), and only the init keys that
  // differ from the defaults: each one costs Request a conversion (most of
  // a Request's cost on Deno: bench/RESULTS.md). A request target that is
  // not a path (absolute or authority form, `*`) stands for `/`.
  const url = `${secure ? "https" : "http"}://${host}${head.target.startsWith("/") ? head.target : "/"}`;
  let init: RequestInit | undefined;
  if (method !== "GET") init = { method };
  if (hasBody) {
    // A body is read from the connection: the transport goes to it, and the
    // response (always `Connection: close`) is written on the same transport.
    init!.body = bodyStream(info, length);
    // @ts-ignore: `duplex` is required by Fetch for streamed bodies but not in every lib.
    init!.duplex = "half";
  }
  let request: Request;
  try {
    request = init === undefined ? new Request(url) : new Request(url, init);
    // The fields are appended to the request's own (empty) Headers rather
    // than given as `init.headers`: Fetch converts an init record or list
    // through its WebIDL rules (a property descriptor per field on Node),
    // which cost 2–3 times as much (bench/RESULTS.md). Repeated fields read
    // back joined with ", ", as from any Headers.
    const headers = request.headers;
    for (let i = 0; i < lines.length; i += 2) headers.append(lines[i], lines[i + 1]);
  } catch (error) {
    // An invalid URL (a host name the URL parser refuses), or a method Fetch forbids (CONNECT, TRACE).
    const why = error instanceof Error ? error.message : String(error);
    return writePlain(connection, statusResponse(400, `Invalid request: ${why}`));
  }
  // What `ws.request` is made again from once the connection is open: the
  // head's own text of its field lines (no string made per field).
  if (upgrade) context.offer(request, packHead(url, method, fieldText(head)));
  const answer = context.answer(request, info);
  // A handler that answered at once (what startConnection() does) is
  // followed at once: no promise, no turn of the microtask queue.
  if (answer instanceof Response) return upgradeOrAnswer(info, request, answer, upgrade, context);
  return answer.then((response) => upgradeOrAnswer(info, request, response, upgrade, context));
}

/** The handler's answer: the 101 and the server driver on the connection, or plain HTTP. */
function upgradeOrAnswer(
  reader: HeadReader,
  request: Request,
  response: Response,
  upgrade: boolean,
  context: ConnectionContext,
): Promise<void> | void {
  const connection = reader.transport;
  const upgraded = upgrade ? completeUpgrade(request, response) : null;
  if (upgraded === null) return writePlain(connection, response);
  let written: Promise<void>;
  try {
    written = connection.write(serializeResponseHead(101, "Switching Protocols", upgraded.headers));
  } catch {
    return connection.abort();
  }
  // Written on the spot (the usual case): the driver starts now, without
  // waiting a turn of the microtask queue for a settled promise. It runs on
  // the transport itself, and takes its input over from the reader.
  if (written === WRITTEN) {
    context.track(upgraded.server);
    return upgraded.start(connection, reader);
  }
  return written.then(() => {
    context.track(upgraded.server);
    upgraded.start(connection, reader);
  }, () => connection.abort());
}

/** An address as the host of a URL (IPv6 in brackets). */
function hostOf(addr: NetAddr): string {
  return addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
}

function join(before: string | null, value: string): string {
  return before === null ? value : `${before}, ${value}`;
}

/**
 * The request body: the first `length` bytes of the connection's input, as a
 * stream that reads only when pulled (a slow handler slows the client down).
 * The answer is written on the same connection (`Connection: close`).
 */
function bodyStream(reader: HeadReader, length: number): ReadableStream<Uint8Array> {
  const connection = reader.transport;
  let remaining = length;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      reader.resumeWith({
        data(chunk) {
          if (remaining === 0) return;
          const piece = chunk.subarray(0, remaining);
          remaining -= piece.length;
          controller.enqueue(piece);
          if (remaining === 0) controller.close();
          else if ((controller.desiredSize ?? 0) <= 0) connection.pause?.();
        },
        end(error) {
          if (remaining !== 0) controller.error(error ?? new Error("The connection closed inside the request body"));
        },
      });
    },
    pull() {
      connection.resume?.();
    },
  });
}

export function statusResponse(status: number, message: string): Response {
  return new Response(message + "\n", { status, headers: { "Content-Type": "text/plain; charset=utf-8" } });
}

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  204: "No Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** Writes `response` as HTTP/1.1 with `Connection: close`, then closes the connection. */
async function writePlain(connection: Transport, response: Response): Promise<void> {
  try {
    const headers = new Headers(response.headers);
    headers.set("Connection", "close");
    const body = response.body;
    if (body === null) headers.set("Content-Length", "0");
    const statusText = response.statusText || STATUS_TEXT[response.status] || "";
    await connection.write(serializeResponseHead(response.status, statusText, headers));
    if (body !== null) {
      for await (const chunk of body) await connection.write(chunk);
    }
    await connection.end();
  } catch {
    // The peer went away; nothing to answer.
  } finally {
    connection.abort();
  }
}

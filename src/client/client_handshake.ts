/**
 * The client's side of the opening handshake apart from the `Client` class:
 * reading the answer's head, the body of a refused answer, which failures are
 * permanent (never retried by `reconnect`), and the URLs it is given (the
 * WebSocket URL, a proxy's). What follows a redirect is in `redirect.ts`.
 *
 * @module
 */

import { ResponseHeadParser } from "../protocol/http1.ts";
import type { ResponseHead } from "../protocol/http1.ts";
import { basicAuthorization } from "../protocol/proxy.ts";
import { proxyFromEnvironment } from "../runtime/proxy.ts";
import type { ProxyTarget } from "../runtime/types.ts";
import { HeldInput } from "../driver/transport.ts";
import type { InputSource, Transport, TransportSink } from "../driver/transport.ts";

/** How much of the body of a refused handshake is kept in `response.body`. */
const MAX_ERROR_BODY = 4096;

/** How long the body of a refused handshake is waited for, in milliseconds. */
const ERROR_BODY_TIMEOUT = 1000;

/** Failures that another attempt would not mend (4xx, bad handshakes, redirect errors): never retried. */
const PERMANENT = new WeakSet<Error>();

/** Marks `error` as one that another attempt would not mend; returns it. */
export function permanent(error: Error): Error {
  PERMANENT.add(error);
  return error;
}

/** Whether `error` was marked by {@linkcode permanent}. */
export function isPermanent(error: Error): boolean {
  return PERMANENT.has(error);
}

/** The answer to the opening handshake: its head, and the connection, whose next bytes follow the head. */
export interface HandshakeAnswer {
  /** The response head. */
  head: ResponseHead;
  /** The connection (started: its input comes from `input`). */
  transport: Transport;
  /** The connection's input after the head, for the driver (`attachStarted`) or {@linkcode readErrorBody}. */
  input: InputSource;
}

/**
 * Reads the head of the answer to the opening handshake on `connection`; the
 * bytes after it are held for the driver (see {@linkcode HeldInput}). The
 * promise (already handled, so a failure before it is awaited is not
 * unhandled) rejects when the head is invalid or the connection ends first;
 * its `reject` lets the caller abort the wait.
 */
export function readResponseHead(connection: Transport, url: URL): PromiseWithResolvers<HandshakeAnswer> {
  return new ResponseHeadReader(connection, url).answer;
}

/** The sink of the connection while the answer's head comes, then the source of the input after it. */
class ResponseHeadReader extends HeldInput implements TransportSink {
  readonly answer: PromiseWithResolvers<HandshakeAnswer> = Promise.withResolvers<HandshakeAnswer>();
  /** Until the head was read (or was invalid, or the input ended first). */
  #parser: ResponseHeadParser | null = new ResponseHeadParser();
  readonly #url: URL;

  constructor(connection: Transport, url: URL) {
    super(connection);
    this.#url = url;
    this.answer.promise.catch(() => {});
    // Last: a transport may deliver input inside start().
    connection.start(this);
  }

  data(chunk: Uint8Array): boolean | void {
    const parser = this.#parser;
    if (parser === null) return this.holdData(chunk);
    const result = parser.push(chunk);
    if (result.state === "incomplete") return;
    this.#parser = null;
    if (result.state === "error") {
      return this.answer.reject(
        permanent(new Error(`Cannot connect to ${this.#url}: invalid handshake response: ${result.message}`)),
      );
    }
    this.keepRest(result.rest);
    this.answer.resolve({ head: result.head, transport: this.transport, input: this });
  }

  end(error?: unknown): void {
    if (this.#parser === null) return this.holdEnd(error);
    this.#parser = null;
    const url = this.#url;
    this.answer.reject(
      error === undefined
        ? new Error(`Cannot connect to ${url}: the server closed the connection during the handshake`)
        : new Error(`Cannot connect to ${url}: the connection failed during the handshake: ${describe(error)}`),
    );
  }
}

/**
 * Reads the start of the body of a refused handshake (RFC 9112 §6.3): up to
 * `Content-Length`, the last chunk, or the end of the connection, keeping at
 * most {@linkcode MAX_ERROR_BODY} bytes and waiting at most
 * {@linkcode ERROR_BODY_TIMEOUT} ms. Never throws: what arrived is kept.
 */
export function readErrorBody(answer: HandshakeAnswer, headers: Headers): Promise<Uint8Array> {
  const { transport, input } = answer;
  const chunked = (headers.get("transfer-encoding") ?? "").toLowerCase().includes("chunked");
  const declared = Number(headers.get("content-length") ?? NaN);
  const length = chunked || !Number.isSafeInteger(declared) || declared < 0 ? Infinity : declared;
  // Chunked framing takes some bytes of its own: keep room for it.
  const limit = chunked ? MAX_ERROR_BODY * 2 : Math.min(length, MAX_ERROR_BODY);
  const parts: Uint8Array[] = [];
  let size = 0;
  const complete = () => size >= limit || (chunked && endsChunked(parts, size));
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      transport.abort();
      const raw = new Uint8Array(size);
      let at = 0;
      for (const part of parts) {
        raw.set(part, at);
        at += part.length;
      }
      const body = chunked ? dechunk(raw) : raw;
      resolve(body.slice(0, Math.min(length, MAX_ERROR_BODY)));
    };
    const timer = setTimeout(finish, ERROR_BODY_TIMEOUT);
    if (complete()) return finish();
    // What came after the head arrives first; the connection failing keeps what arrived.
    input.resumeWith({
      data(chunk) {
        if (done) return;
        parts.push(chunk);
        size += chunk.length;
        if (complete()) finish();
      },
      end: finish,
    });
  });
}

/** Whether the `size` bytes read so far end with the last chunk ("0\r\n\r\n"). */
function endsChunked(parts: Uint8Array[], size: number): boolean {
  const end = size === 5 ? "0\r\n\r\n" : "\r\n0\r\n\r\n";
  let tail = "";
  for (let i = parts.length - 1; i >= 0 && tail.length < end.length; i--) {
    tail = String.fromCharCode(...parts[i].subarray(Math.max(0, parts[i].length - end.length))) + tail;
  }
  return tail.endsWith(end);
}

/** Removes chunked transfer coding (RFC 9112 §7.1), leniently: stops at anything malformed. */
function dechunk(raw: Uint8Array): Uint8Array {
  const out: number[] = [];
  let at = 0;
  while (at < raw.length) {
    let end = at;
    while (end + 1 < raw.length && !(raw[end] === 0x0d && raw[end + 1] === 0x0a)) end++;
    if (end + 1 >= raw.length) break;
    const size = parseInt(String.fromCharCode(...raw.subarray(at, end)).split(";")[0].trim(), 16);
    if (!Number.isFinite(size) || size <= 0) break;
    const start = end + 2;
    for (let i = start; i < Math.min(start + size, raw.length); i++) out.push(raw[i]);
    at = start + size + 2;
  }
  return new Uint8Array(out);
}

/** Checks and normalizes a WebSocket URL (WHATWG WebSockets §3.1, "parse a WebSocket URL"). */
export function parseUrl(input: string | URL): URL {
  if (typeof input !== "string" && !(input instanceof URL)) {
    throw new TypeError(`Invalid WebSocket URL: expected a string or a URL, got ${typeof input}`);
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new TypeError(`Invalid WebSocket URL ${JSON.stringify(String(input))}: it cannot be parsed`);
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new TypeError(`Invalid WebSocket URL ${url}: the scheme must be ws:, wss:, http: or https:`);
  }
  if (url.hash !== "" || String(input).includes("#")) {
    throw new TypeError(`Invalid WebSocket URL ${JSON.stringify(String(input))}: a fragment is not allowed`);
  }
  if (url.hostname === "") throw new TypeError(`Invalid WebSocket URL ${url}: it has no host`);
  return url;
}

/** Checks a proxy URL: `http://[user:password@]host[:port]`. */
export function parseProxyUrl(value: string | URL, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`Invalid ${what} ${JSON.stringify(String(value))}: it cannot be parsed as a URL`);
  }
  if (url.protocol !== "http:") {
    throw new TypeError(`Invalid ${what} ${url.protocol}//${url.host}: only http: proxies are supported`);
  }
  if (url.hostname === "") throw new TypeError(`Invalid ${what}: it has no host`);
  return url;
}

/**
 * The proxy to reach `url` through: `proxy` (the client's option: a URL, or
 * `false` for none), else the environment's (`https_proxy`, `http_proxy`,
 * `no_proxy`).
 */
export function proxyTarget(proxy: URL | false | undefined, url: URL): ProxyTarget | undefined {
  if (proxy === false) return undefined;
  if (proxy === undefined) {
    const fromEnvironment = proxyFromEnvironment(url);
    if (fromEnvironment === null) return undefined;
    try {
      proxy = parseProxyUrl(fromEnvironment, "proxy from the environment");
    } catch (error) {
      throw permanent(new Error(`Cannot connect to ${url}: ${(error as Error).message}`));
    }
  }
  return {
    hostname: unbracket(proxy.hostname),
    port: proxy.port === "" ? 80 : Number(proxy.port),
    authorization: proxy.username === "" ? undefined : basicAuthorization(proxy.username, proxy.password),
    label: `${proxy.protocol}//${proxy.host}`,
  };
}

/** A URL's hostname without the brackets of an IPv6 address. */
export function unbracket(hostname: string): string {
  return hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
}

/** An error's message, with its code when the message does not name it (Deno's do not). */
export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}

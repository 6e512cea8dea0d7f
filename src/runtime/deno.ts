/**
 * The Deno adapter: `Deno.connect` / `Deno.connectTls` and `Deno.listen` /
 * `Deno.listenTls`, bound with `conn.read` / `conn.write`
 * ({@linkcode connTransport}), or with `WSD_BINDING=streams` through
 * `conn.readable` / `conn.writable`. Works on Deno Deploy, where `node:net` is
 * not the way out.
 *
 * @module
 */

import { redirectInput, streamTransport, WRITTEN } from "../driver/transport.ts";
import type { Transport, TransportSink } from "../driver/transport.ts";
import { useMacrotask } from "../driver/slices.ts";
import { binding } from "./binding.ts";
import type {
  ConnectOptions,
  HttpBackendContext,
  ListenOptions,
  NetAddr,
  RuntimeAdapter,
  ServeBackend,
} from "./types.ts";

async function connect(options: ConnectOptions): Promise<Transport> {
  const { hostname, port, signal } = options;
  signal?.throwIfAborted();
  if (options.proxy !== undefined) {
    // The CONNECT tunnel, and TLS over it, through Deno's node:net and node:tls.
    const { nodeAdapter } = await import("./node.ts");
    return nodeAdapter.connect(options);
  }
  if (options.tls && options.verifyCertificate === false) {
    // Deno.connectTls cannot skip the certificate check for one connection
    // (only the process-wide --unsafely-ignore-certificate-errors flag can);
    // Deno's node:tls can (rejectUnauthorized: false), so that path takes it.
    const { nodeAdapter } = await import("./node.ts");
    return nodeAdapter.connect(options);
  }
  const attempt: Promise<Deno.Conn> = options.tls
    ? Deno.connectTls({
      hostname,
      port,
      caCerts: options.caCerts ? [...options.caCerts] : undefined,
      alpnProtocols: ["http/1.1"],
    })
    : Deno.connect({ hostname, port, transport: "tcp" });
  if (signal) attempt.then((c) => signal.aborted && c.close(), () => {});
  const conn: Deno.Conn = await abortable(attempt, signal);
  if (options.tls) {
    // Deno.connectTls resolves before the TLS handshake; an untrusted or
    // misnamed certificate would only surface on the first write, as a bare
    // error. Finish the handshake here, so that it fails as a connect error.
    try {
      await abortable((conn as Deno.TlsConn).handshake(), signal);
    } catch (error) {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
      throw error;
    }
  } else {
    (conn as Deno.TcpConn).setNoDelay(true);
  }
  return bindConn(conn);
}

/** A connection as a transport of the binding in use. */
function bindConn(conn: Deno.Conn): Transport {
  if (binding === "native") return new ConnTransport(conn);
  let closed = false;
  return streamTransport({
    readable: conn.readable,
    writable: conn.writable,
    close: () => {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch {
        // Closed already by the streams.
      }
    },
  });
}

// Slices of long work (src/driver/slices.ts) yield with setTimeout(0) here, in
// 4 ms runs: on Deno a chain of setImmediate callbacks runs ahead of socket
// reads (a read waits for the whole chain to end), while timers let them in.
useMacrotask((callback) => setTimeout(callback, 0), 4);

/** The read buffer a new connection starts with (its request head fits). */
const READ_FIRST = 2 * 1024;
/**
 * The smallest read buffer: what a connection that reads little holds while
 * its next read waits, as nearly every idle connection's does (each has its
 * own, pinned by the read in flight).
 */
const READ_MIN = 256;
/** The largest read buffer. */
const READ_MAX = 64 * 1024;
/** Queued writes up to this many bytes in all are merged into one. */
const MERGE_MAX = 64 * 1024;
/** The end of an output that ended on the spot (shared: settling it again does nothing). */
const ENDED_AT_ONCE: PromiseWithResolvers<void> = { promise: WRITTEN, resolve() {}, reject() {} };

/**
 * The native binding of a Deno connection: `conn.read` into a buffer whose
 * size follows the traffic (2 KiB for the request head, 256 bytes once reads
 * are small, so an idle connection holds little, up to 64 KiB for bulk), and `conn.write` of what
 * was written meanwhile, merged. Each read is handed over as a view of the
 * buffer, with no copy; the buffer is read into again when the sink says it
 * kept no reference to it (the protocol copies a few leftover bytes of a
 * frame cut by the read), and replaced otherwise.
 */
export class ConnTransport implements Transport {
  /** A written chunk is not referenced once its write resolved (measured: the write waits for the kernel). */
  readonly releasesChunks = true;
  readonly #conn: Deno.Conn;
  #sink: TransportSink | null = null;
  #buffer: Uint8Array | null = null;
  /** The buffer of the read in flight. */
  #inFlight: Uint8Array | null = null;
  #size = READ_FIRST;
  #reading = false;
  #paused = false;
  #inputDone = false;
  #aborted = false;
  #writing = false;
  /** The chunk of the write in flight that went straight to the socket. */
  #current: Uint8Array | null = null;
  #queue: Uint8Array[] = [];
  #waiting: Array<PromiseWithResolvers<void>> = [];
  #failure: unknown = null;
  #ending: PromiseWithResolvers<void> | null = null;

  /** Binds `conn`; nothing is read before {@linkcode ConnTransport.start}. */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Delivers the input to `sink` from now on (see {@linkcode redirectInput}). */
  [redirectInput](sink: TransportSink): void {
    this.#sink = sink;
  }

  /** Starts reading into `sink`. */
  start(sink: TransportSink): void {
    this.#sink = sink;
    this.#read();
  }

  /**
   * Starts a read, unless one is in flight or reading is paused or over.
   * A callback loop, not an async one: an idle connection then waits with one
   * pending promise, not a suspended function too.
   */
  #read(): void {
    if (this.#reading || this.#inputDone || this.#paused || this.#aborted) return;
    this.#reading = true;
    const buffer = this.#inFlight = this.#buffer ??= new Uint8Array(this.#size);
    let read: Promise<number | null>;
    try {
      read = this.#conn.read(buffer);
    } catch (error) {
      return this.#readFailed(error);
    }
    read.then(this.#afterRead, this.#readFailed);
  }

  /** A read finished: `n` bytes in the buffer, or `null` at the end of the input. */
  readonly #afterRead = (n: number | null): void => {
    const buffer = this.#inFlight!;
    this.#inFlight = null;
    if (this.#aborted || n === null) {
      this.#reading = false;
      return this.#endInput();
    }
    const size = buffer.length;
    if (n === size) this.#size = Math.min(size * 4, READ_MAX);
    else if (size <= READ_FIRST) {
      // Small reads (a head, a chat message): down to the smallest buffer at
      // once, so that a connection gone idle waits on 256 bytes, not 2 KiB.
      if (n <= size >>> 3 && size > READ_MIN) this.#size = READ_MIN;
    } else if (n < size >>> 4) this.#size = Math.max(size >>> 2, READ_MIN);
    let released: boolean;
    try {
      released = this.#sink!.data(n === size ? buffer : buffer.subarray(0, n)) === true;
    } catch (error) {
      return this.#readFailed(error);
    }
    // (An abort from inside the sink has dropped the buffer already.)
    if (!released || size !== this.#size) this.#buffer = null;
    this.#reading = false;
    this.#read();
  };

  /** A read failed (or the sink threw): the input ends with that error, or without one after an abort. */
  readonly #readFailed = (error: unknown): void => {
    this.#inFlight = null;
    this.#reading = false;
    this.#endInput(this.#aborted ? undefined : error);
  };

  /** The input is over (after an abort too): tells the sink, once. */
  #endInput(error?: unknown): void {
    if (this.#inputDone || this.#sink === null) return;
    this.#inputDone = true;
    this.#sink.end(error);
  }

  /** Writes `chunk` after what was written before; resolves once the kernel has all of it. */
  write(chunk: Uint8Array): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.#ending !== null) return Promise.reject(new Error("Cannot write: the output was ended"));
    if (!this.#writing) {
      // Nothing is being written: straight to the socket (Deno tries the
      // write at once), without resolvers, a queue or an async function;
      // the one reaction says when the kernel has it all.
      this.#writing = true;
      this.#current = chunk;
      let written: Promise<number>;
      try {
        written = this.#conn.write(chunk);
      } catch (error) {
        written = Promise.reject(error);
      }
      return written.then(this.#wrote, this.#writeFailed);
    }
    const done = Promise.withResolvers<void>();
    this.#queue.push(chunk);
    this.#waiting.push(done);
    return done.promise;
  }

  /** The write of {@linkcode write}'s fast path took `n` bytes: the rest follows, then what was queued meanwhile. */
  readonly #wrote = (n: number): Promise<void> | void => {
    const chunk = this.#current!;
    this.#current = null;
    if (n < chunk.length) return this.#writeRest(chunk.subarray(n));
    this.#wroteAll();
  };

  /** The rest of a chunk the kernel took only part of. */
  #writeRest(rest: Uint8Array): Promise<void> {
    return this.#writeAll(rest).then(() => this.#wroteAll(), this.#writeFailed);
  }

  /** Writes all of `bytes` (the kernel may take part of them at a time). */
  async #writeAll(bytes: Uint8Array): Promise<void> {
    const conn = this.#conn;
    let written = 0;
    while (written < bytes.length) written += await conn.write(written === 0 ? bytes : bytes.subarray(written));
  }

  /** The chunk in flight is written: the queue next, or the end of the output if one waits. */
  #wroteAll(): void {
    if (this.#queue.length !== 0) this.#flush();
    else this.#doneWriting();
  }

  /** The write in flight failed: it and every queued one reject with `error`. */
  readonly #writeFailed = (error: unknown): never => {
    this.#current = null;
    this.#failQueued(error);
    this.#doneWriting();
    throw error;
  };

  /** A write failed: the queued writes reject with `error`, and so will every later one. */
  #failQueued(error: unknown): void {
    this.#failure ??= error;
    for (const w of this.#waiting) w.reject(error);
    this.#queue = [];
    this.#waiting = [];
  }

  /** Nothing is being written any more: an `end()` waiting for the writes goes on. */
  #doneWriting(): void {
    this.#writing = false;
    if (this.#ending !== null) this.#closeWrite();
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length !== 0) {
      const chunks = this.#queue, waiting = this.#waiting;
      this.#queue = [];
      this.#waiting = [];
      try {
        for (const bytes of merge(chunks)) await this.#writeAll(bytes);
      } catch (error) {
        for (const w of waiting) w.reject(error);
        this.#failQueued(error);
        break;
      }
      for (const w of waiting) w.resolve();
    }
    this.#doneWriting();
  }

  /**
   * Half-closes once every write is done. When the peer's input is over
   * already and nothing is being written, there is nothing to half-close
   * for: the connection is closed at once (its FIN is the same), one
   * operation and one system call fewer per connection.
   */
  end(): Promise<void> {
    if (this.#ending !== null) return this.#ending.promise;
    if (this.#inputDone && !this.#writing && this.#failure === null) {
      // Done on the spot: no promise of its own, and the driver arms no close
      // timer for it (one set and cleared per connection whose peer went away).
      this.#ending = ENDED_AT_ONCE;
      this.abort();
      return WRITTEN;
    }
    this.#ending = Promise.withResolvers<void>();
    if (!this.#writing) this.#closeWrite();
    return this.#ending.promise;
  }

  async #closeWrite(): Promise<void> {
    const ending = this.#ending!;
    if (this.#failure !== null) return ending.reject(this.#failure);
    try {
      await this.#conn.closeWrite();
      ending.resolve();
    } catch (error) {
      ending.reject(error);
    }
  }

  /** Closes the connection at once. */
  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#buffer = null;
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
    // A pending read ends the input when it fails; without one, end it now.
    if (!this.#reading) this.#endInput();
  }

  /** Stops reading (after the read in progress). */
  pause(): void {
    this.#paused = true;
  }

  /** Reads again. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#sink !== null && !this.#aborted) this.#read();
  }
}

/** Small chunks merged into one (fewer writes), large ones as they are. */
function merge(chunks: Uint8Array[]): Uint8Array[] {
  if (chunks.length === 1) return chunks;
  let total = 0;
  for (const c of chunks) total += c.length;
  if (total > MERGE_MAX) return chunks;
  const merged = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    merged.set(c, at);
    at += c.length;
  }
  return [merged];
}

function netAddr(addr: Deno.Addr): NetAddr {
  return addr.transport === "tcp" ? { hostname: addr.hostname, port: addr.port } : { hostname: "", port: 0 };
}

/** The tcp backend on Deno: Deno.listen (or Deno.listenTls). */
function listenTcp(
  options: ListenOptions,
  onConnection: (connection: Transport, remoteAddr: () => NetAddr) => void,
): Promise<ServeBackend> {
  const listener = options.cert !== undefined
    ? Deno.listenTls({ hostname: options.hostname, port: options.port, cert: options.cert, key: options.key! })
    : Deno.listen({ hostname: options.hostname, port: options.port });
  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // the listener was closed
      }
      if (options.cert === undefined) (conn as Deno.TcpConn).setNoDelay(true);
      onConnection(bindConn(conn), () => netAddr(conn.remoteAddr));
    }
  })();
  return Promise.resolve({
    addr: netAddr(listener.addr),
    close: async () => {
      try {
        listener.close();
      } catch {
        // closed already
      }
      await accepting;
    },
  });
}

/** The node backend on Deno: node:http, loaded only when asked for. */
async function listenHttp(options: ListenOptions, context: HttpBackendContext): Promise<ServeBackend> {
  const { nodeAdapter } = await import("./node.ts");
  return nodeAdapter.listenHttp(options, context);
}

/** An upgrade event of a node:http server on Deno: loads node:http's code only when asked for. */
async function upgradeHttp(
  request: unknown,
  socket: unknown,
  head: unknown,
  context: HttpBackendContext,
): Promise<void> {
  const { nodeAdapter } = await import("./node.ts");
  return nodeAdapter.upgradeHttp(request, socket, head, context);
}

/** The deno backend: Deno.serve, whose upgrades are the runtime's own. */
function listenNative(
  options: ListenOptions,
  handler: (request: Request, info: { remoteAddr: NetAddr }) => Response | Promise<Response>,
): Promise<ServeBackend> {
  const { promise, resolve } = Promise.withResolvers<NetAddr>();
  // Deno's shutdown() waits for every request still in a handler, forever if
  // one never answers; aborting the server's signal ends everything at once,
  // but throws an uncaught BadResource once shutdown() was called. So close()
  // waits for the handlers first (closeAll ends that wait), then shuts down
  // gracefully, or aborts when forced.
  const abort = new AbortController();
  let inFlight = 0;
  let idle: (() => void) | undefined;
  let forced = false;
  let shuttingDown = false;
  const done = (): void => {
    if (--inFlight === 0) idle?.();
  };
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    cert: options.cert,
    key: options.key,
    signal: abort.signal,
    onListen: (addr) => resolve(netAddr(addr)),
  } as Deno.ServeTcpOptions, (request, info) => {
    // A handler that answers at once (an upgrade does) is not wrapped in a promise.
    inFlight++;
    let answer: Response | Promise<Response>;
    try {
      // (Read now: Deno's own info throws "Request closed" once the response went out.)
      answer = handler(request, { remoteAddr: netAddr(info.remoteAddr) });
    } catch (error) {
      done();
      throw error;
    }
    if (answer instanceof Response) {
      done();
      return answer;
    }
    return answer.finally(done);
  });
  return promise.then((addr) => ({
    addr,
    close: async () => {
      if (inFlight > 0 && !forced) await new Promise<void>((resolve) => idle = resolve);
      if (forced) {
        abort.abort();
        return await server.finished;
      }
      shuttingDown = true;
      await server.shutdown();
    },
    closeAll: () => {
      forced = true;
      if (!shuttingDown) abort.abort();
      idle?.();
    },
  }));
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
}

/** The Deno adapter. */
export const denoAdapter: RuntimeAdapter = { name: "deno", connect, listenTcp, listenHttp, upgradeHttp, listenNative };

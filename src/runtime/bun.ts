/**
 * The Bun adapter (native binding): plain TCP through `Bun.listen` and
 * `Bun.connect`, whose socket handlers are Bun's fastest path; TLS and the
 * node:http backend through the Node adapter (Bun's `node:tls` and
 * `node:http`), with socket events.
 *
 * @module
 */

import { redirectInput, WRITTEN } from "../driver/transport.ts";
import type { Transport, TransportSink } from "../driver/transport.ts";
import { freeChunk, FREED_CHUNK } from "./memory.ts";
import { connect as nodeConnect, listenHttp, listenTcp as nodeListenTcp, upgradeHttp } from "./node.ts";
import type { ConnectOptions, ListenOptions, NetAddr, RuntimeAdapter, ServeBackend } from "./types.ts";

/** What this adapter uses of a Bun socket. */
interface BunSocket {
  data: BunTransport;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  write(data: Uint8Array): number;
  shutdown(halfClose?: boolean): void;
  end(): void;
  /** Closes the socket (a FIN after what was written), without `end()`'s flush of a cork (Bun ≥ 1.2). */
  close?(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay?(noDelay: boolean): void;
}

/** The socket handlers, shared by every socket: each socket's state is its `data`. */
interface BunHandlers {
  /** What `data` gets: a plain `Uint8Array` rather than Bun's default `Buffer` (see `handlers`). */
  binaryType: "uint8array";
  open?(socket: BunSocket): void;
  data(socket: BunSocket, data: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
  connectError?(socket: BunSocket, error: Error): void;
}

interface BunListener {
  readonly port: number;
  readonly hostname: string;
  stop(closeActiveConnections?: boolean): void;
}

interface BunApi {
  listen(options: {
    hostname: string;
    port: number;
    allowHalfOpen: boolean;
    socket: BunHandlers;
  }): BunListener;
  connect(options: {
    hostname: string;
    port: number;
    allowHalfOpen: boolean;
    data: BunTransport;
    socket: BunHandlers;
  }): Promise<BunSocket>;
}

const bun = (globalThis as unknown as { Bun: BunApi }).Bun;

/** Shared by every transport with nothing waiting for `drain` (frozen: a push would throw, not mix sockets). */
const NO_CHUNKS: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];
const NO_WAITERS: Array<PromiseWithResolvers<void> | null> = Object.freeze([]) as unknown as Array<
  PromiseWithResolvers<void> | null
>;

/** The end of an output that ended on the spot (shared: settling it again does nothing). */
const ENDED_AT_ONCE: PromiseWithResolvers<void> = { promise: WRITTEN, resolve() {}, reject() {} };

/**
 * The native binding of a Bun socket. Bun hands each read over as a buffer
 * of its own; `write` may take only part of the bytes: the rest waits for
 * `drain`, in order.
 */
export class BunTransport implements Transport {
  /** A written chunk is not referenced once its write resolved (measured: the write waits for the kernel). */
  readonly releasesChunks = true;
  #socket: BunSocket | null = null;
  #sink: TransportSink | null = null;
  /** Input that arrived before start(). */
  #early: Uint8Array[] | null = null;
  #earlyEnd: { error: unknown } | null = null;
  #inputDone = false;
  #outputDone = false;
  #closed = false;
  /** Bytes waiting for `drain`, and who waits for each chunk to be written (made on first use). */
  #pending: Uint8Array[] = NO_CHUNKS;
  #waiting: Array<PromiseWithResolvers<void> | null> = NO_WAITERS;
  #ending: PromiseWithResolvers<void> | null = null;
  /** Whether the socket failed or closed: writes are refused. */
  #failed = false;
  /**
   * Why, once someone needs to know: an `Error` is made only then (it costs a
   * stack trace, and most connections end with nobody waiting on a write).
   */
  #failure: unknown = null;
  #failureMessage = "";

  /**
   * Attaches to `socket` (from the `open` handler, or `Bun.connect`).
   * `noDelay`: whether to turn Nagle's algorithm off (Bun's listeners do it
   * for every accepted socket already: a second time would be one more
   * system call per connection).
   */
  attach(socket: BunSocket, noDelay = true): void {
    this.#socket = socket;
    if (noDelay) socket.setNoDelay?.(true);
  }

  /** Delivers the input to `sink` from now on (see {@linkcode redirectInput}). */
  [redirectInput](sink: TransportSink): void {
    this.#sink = sink;
  }

  /** Starts delivering input to `sink`. */
  start(sink: TransportSink): void {
    this.#sink = sink;
    const early = this.#early;
    this.#early = null;
    if (early !== null) { for (const chunk of early) sink.data(chunk); }
    const end = this.#earlyEnd;
    if (end !== null) {
      this.#earlyEnd = null;
      sink.end(end.error);
    }
  }

  /** `data` handler. */
  onData(chunk: Uint8Array): void {
    if (this.#inputDone) return;
    const sink = this.#sink;
    // Bun hands each read to this handler only, in a fresh buffer it keeps
    // no reference to: once the protocol lets go of it, it is freed at once
    // (see freeChunk).
    if (sink === null) (this.#early ??= []).push(chunk);
    else if (sink.data(chunk) === true && chunk.byteLength >= FREED_CHUNK) freeChunk(chunk);
  }

  /** `end`, `close` and `error` handlers: the input is over. */
  onEnd(error?: unknown): void {
    if (this.#inputDone) return;
    this.#inputDone = true;
    const sink = this.#sink;
    if (sink !== null) sink.end(error);
    else this.#earlyEnd = { error };
  }

  /** `close` handler. */
  onClose(error?: unknown): void {
    this.#closed = true;
    this.#fail(error ?? null, "The connection closed");
    this.onEnd(error);
  }

  /** `drain` handler: writes what waited. */
  onDrain(): void {
    const socket = this.#socket;
    if (socket === null) return;
    const pending = this.#pending, waiting = this.#waiting;
    while (pending.length !== 0) {
      const bytes = pending[0];
      const n = socket.write(bytes);
      if (n < 0) return this.#fail(null, "Cannot write: the connection is closed");
      if (n < bytes.length) {
        pending[0] = bytes.subarray(n);
        return;
      }
      pending.shift();
      waiting.shift()?.resolve();
    }
    if (this.#ending !== null) this.#shutdown();
  }

  /** Writes `chunk`; resolves once the kernel has all of it. */
  write(chunk: Uint8Array): Promise<void> {
    if (this.#failed) return Promise.reject(this.#error());
    if (this.#ending !== null) return Promise.reject(new Error("Cannot write: the output was ended"));
    if (this.#pending.length === 0) {
      const n = this.#socket!.write(chunk);
      if (n === chunk.length) return WRITTEN;
      if (n < 0) {
        this.#fail(null, "Cannot write: the connection is closed");
        return Promise.reject(this.#error());
      }
      chunk = chunk.subarray(n);
    }
    const done = Promise.withResolvers<void>();
    if (this.#pending === NO_CHUNKS) {
      this.#pending = [];
      this.#waiting = [];
    }
    this.#pending.push(chunk);
    this.#waiting.push(done);
    return done.promise;
  }

  /** Half-closes once every write is done. */
  end(): Promise<void> {
    if (this.#ending !== null) return this.#ending.promise;
    if (!this.#failed && this.#pending.length === 0) {
      // Ended on the spot (the usual case): no promise of its own, and the
      // driver arms no close timer for it (a timer set and cleared per
      // connection whose peer went away, as on Node).
      this.#ending = ENDED_AT_ONCE;
      this.#shutdown();
      return WRITTEN;
    }
    // Failed, or writes wait for `drain` (which shuts the output down after them).
    this.#ending = Promise.withResolvers<void>();
    if (this.#failed) this.#ending.reject(this.#error());
    return this.#ending.promise;
  }

  #shutdown(): void {
    if (this.#outputDone) return;
    this.#outputDone = true;
    // When the peer has ended its side already, closing now is what the
    // half-close would have led to: one system call instead of two.
    // `close()` rather than `end()` where Bun has it: the same FIN after the
    // same bytes, without the `setsockopt(TCP_CORK)` `end()` makes first (one
    // system call per connection: bench/RESULTS.md, "Fifth round, Bun").
    if (this.#inputDone && !this.#closed) {
      this.#closed = true;
      const socket = this.#socket!;
      if (socket.close !== undefined) socket.close();
      else socket.end();
    } else this.#socket!.shutdown();
    this.#ending!.resolve();
  }

  /** The socket failed with `error`, or (`null`) for the reason `message` says. */
  #fail(error: unknown, message: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#failure = error;
    this.#failureMessage = message;
    const waiting = this.#waiting;
    this.#pending = NO_CHUNKS;
    this.#waiting = NO_WAITERS;
    for (const w of waiting) w?.reject(this.#error());
    if (this.#ending !== null && !this.#outputDone) this.#ending.reject(this.#error());
  }

  /** Why the socket failed, as an error. */
  #error(): unknown {
    return this.#failure ??= new Error(this.#failureMessage);
  }

  /** Closes the socket: gracefully once both directions are done, else at once. */
  abort(): void {
    const socket = this.#socket;
    this.#fail(null, "The connection was closed");
    if (socket !== null && !this.#closed) {
      this.#closed = true;
      if (this.#outputDone) socket.end();
      else socket.terminate();
    }
    this.onEnd();
  }

  /** Stops reading. */
  pause(): void {
    this.#socket?.pause();
  }

  /** Reads again. */
  resume(): void {
    this.#socket?.resume();
  }
}

const handlers: BunHandlers = {
  // Plain Uint8Arrays, like every other chunk the parser sees (its scratch
  // buffers, the tails it copies): one kind of array on the path of each
  // message instead of two, and no Buffer prototype set on each read.
  binaryType: "uint8array",
  data: (socket, data) => socket.data.onData(data),
  drain: (socket) => socket.data.onDrain(),
  end: (socket) => socket.data.onEnd(),
  close: (socket, error) => socket.data.onClose(error),
  error: (socket, error) => socket.data.onEnd(error),
};

/** The tcp backend: Bun.listen, or node:tls for TLS. */
function listenTcp(
  options: ListenOptions,
  onConnection: (connection: Transport, remoteAddr: () => NetAddr) => void,
): Promise<ServeBackend> {
  if (options.cert !== undefined) return nodeListenTcp(options, onConnection);
  let listener;
  try {
    listener = listenWith(onConnection, options);
  } catch (error) {
    // Bun says only "Failed to listen at <host>": name the cause, as Node does.
    const code = (error as { code?: unknown }).code;
    const message = (error as Error).message;
    return Promise.reject(
      typeof code === "string" && !message.includes(code)
        ? Object.assign(new Error(`${message}:${code === "EADDRINUSE" ? " address already in use" : ""} (${code})`), {
          code,
          cause: error,
        })
        : error,
    );
  }
  return Promise.resolve({
    addr: { hostname: listener.hostname, port: listener.port },
    close: () => {
      listener.stop(false);
      return Promise.resolve();
    },
  });
}

function listenWith(
  onConnection: (connection: Transport, remoteAddr: () => NetAddr) => void,
  options: ListenOptions,
) {
  return bun.listen({
    hostname: options.hostname,
    port: options.port,
    allowHalfOpen: true,
    socket: {
      ...handlers,
      open(socket) {
        const transport = new BunTransport();
        socket.data = transport;
        transport.attach(socket, false);
        onConnection(transport, () => ({ hostname: socket.remoteAddress, port: socket.remotePort ?? 0 }));
      },
    },
  });
}

/** Opens a connection: Bun.connect, or node:tls for TLS. */
async function connect(options: ConnectOptions): Promise<Transport> {
  // TLS and the CONNECT tunnel of a proxy go through Bun's node:net and node:tls.
  if (options.tls || options.proxy !== undefined) return nodeConnect(options);
  const { hostname, port, signal } = options;
  signal?.throwIfAborted();
  const transport = new BunTransport();
  const attempt = bun.connect({
    hostname,
    port,
    allowHalfOpen: true,
    data: transport,
    socket: {
      ...handlers,
      // Bun.connect rejects as well; nothing to do here.
      connectError() {},
    },
  });
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    if (signal === undefined) return;
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const socket = await Promise.race([attempt, aborted]);
    transport.attach(socket);
    return transport;
  } catch (error) {
    attempt.then((socket) => socket.terminate(), () => {});
    throw error;
  } finally {
    if (onAbort !== undefined) signal!.removeEventListener("abort", onAbort);
  }
}

/** The Bun adapter. */
export const bunAdapter: RuntimeAdapter = { name: "bun", connect, listenTcp, listenHttp, upgradeHttp };

/**
 * Test helpers for the driver (not a test file): in-memory driver pairs, a raw
 * peer that writes hand-made frames and reads what the driver wrote, a
 * transport that counts writes, loopback TCP pairs over `node:net`, and
 * drivers opened against those; with the frame codec, the time unit, the
 * event recorder and the uncaught-exception catcher of tests/_shared/ passed
 * on, so that a test of this folder imports from one place.
 *
 * @module
 */

import net from "node:net";
import { Duplex } from "node:stream";
import { WebSocketDriver } from "../../src/driver/driver.ts";
import type { DriverOptions } from "../../src/driver/driver.ts";
import type { StreamPair, Transport, TransportSink } from "../../src/driver/transport.ts";
import { concatAll } from "../_shared/bytes.ts";
import { decodeFrame, encodeFrame, parseFrames as decodeFrames } from "../_shared/frames.ts";
import type { FrameOptions, WireFrame as Frame } from "../_shared/frames.ts";
import { record } from "../_shared/events.ts";
import type { Recorder } from "../_shared/events.ts";
import { ms, withTimeout } from "../_shared/time.ts";

// ───────────────────────────── time ─────────────────────────────

export { delay, ms, tick, TIME_SCALE, withTimeout } from "../_shared/time.ts";

/** The close timeout of the drivers of {@linkcode RawPeer} unless a test sets one. */
export const TEST_CLOSE_TIMEOUT: number = ms(300);

// ───────────────────────────── uncaught exceptions ─────────────────────────────

export { captureUncaught } from "../_shared/uncaught.ts";

// ───────────────────────────── events ─────────────────────────────

export { record } from "../_shared/events.ts";
export type { Recorded, Recorder } from "../_shared/events.ts";

// ───────────────────────────── frames ─────────────────────────────

export { bytes, concat, concatAll, toHex } from "../_shared/bytes.ts";
export { closePayload, decodeFrame, encodeFrame, OP, parseFrames as decodeFrames } from "../_shared/frames.ts";
export type { FrameOptions as EncodeOptions, WireFrame as Frame } from "../_shared/frames.ts";

/** A fixed masking key for frames a raw "client" sends. */
export const TEST_KEY: Uint8Array = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

/** The code and reason of a close frame's payload (1005 when empty). */
export function parseClose(
  payload: Uint8Array,
): { code: number; reason: string } {
  if (payload.length === 0) return { code: 1005, reason: "" };
  return {
    code: (payload[0] << 8) | payload[1],
    reason: new TextDecoder().decode(payload.subarray(2)),
  };
}

// ───────────────────────────── in-memory pairs ─────────────────────────────

/** Options of {@linkcode memoryPair}. */
export interface PairOptions {
  /** Options of the server driver. */
  server?: DriverOptions;
  /** Options of the client driver. */
  client?: DriverOptions;
  /** The subprotocol both attach with. */
  protocol?: string | null;
}

/** Two drivers attached to each other over two TransformStreams. */
export interface DriverPair {
  server: WebSocketDriver;
  client: WebSocketDriver;
  /** Events of the server, recorded from before `open`. */
  serverEvents: Recorder;
  /** Events of the client, recorded from before `open`. */
  clientEvents: Recorder;
}

/** A server and a client driver talking over in-memory streams. */
export function memoryPair(options: PairOptions = {}): DriverPair {
  const up = new TransformStream<Uint8Array, Uint8Array>(); // client → server
  const down = new TransformStream<Uint8Array, Uint8Array>(); // server → client
  const server = new WebSocketDriver("server", options.server);
  const client = new WebSocketDriver("client", options.client);
  const serverEvents = record(server);
  const clientEvents = record(client);
  server.attach(
    { readable: up.readable, writable: down.writable },
    options.protocol ?? null,
  );
  client.attach(
    { readable: down.readable, writable: up.writable },
    options.protocol ?? null,
  );
  return { server, client, serverEvents, clientEvents };
}

// ───────────────────────────── the raw peer ─────────────────────────────

/**
 * The other end of one driver, played by the test: it writes hand-made bytes
 * into the driver's input and collects every chunk the driver wrote.
 */
export class RawPeer {
  /** The driver under test. */
  readonly driver: WebSocketDriver;
  /** Its events, recorded from before `open`. */
  readonly rec: Recorder;
  /** Every chunk the driver wrote, in order (as written, one entry per write). */
  readonly chunks: Uint8Array[] = [];
  /** Whether the driver ended its output (closed the writable stream). */
  outputEnded = false;
  /** Whether the driver aborted its output. */
  outputAborted = false;
  /** Whether the driver cancelled its input. */
  inputCancelled = false;
  readonly #input: ReadableStreamDefaultController<Uint8Array>;
  #inputClosed = false;
  #consumed = 0;
  #waiters: Array<() => void> = [];

  /**
   * Creates `role` driver with `options`, attached (with `protocol`) to this
   * peer. Set `attach` to false to attach later with {@linkcode RawPeer.attach}.
   */
  constructor(
    role: "server" | "client",
    options?: DriverOptions,
    protocol: string | null = null,
    attach = true,
  ) {
    // A short close timeout by default, so that a test that leaves a closing
    // handshake unfinished does not keep the process alive for 5 s.
    this.driver = new WebSocketDriver(role, {
      closeTimeout: TEST_CLOSE_TIMEOUT,
      ...options,
    });
    this.rec = record(this.driver);
    // Waiters are re-checked after every event too (after the recorder saw it).
    for (
      const event of [
        "open",
        "message",
        "error",
        "close",
        "ping",
        "pong",
      ] as const
    ) {
      this.driver.on(event, () => this.#notify());
    }
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      cancel: () => {
        this.inputCancelled = true;
        this.#notify();
      },
    });
    this.#input = controller;
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => {
        this.chunks.push(chunk.slice());
        this.#notify();
      },
      close: () => {
        this.outputEnded = true;
        this.#notify();
      },
      abort: () => {
        this.outputAborted = true;
        this.#notify();
      },
    });
    if (attach) this.attach(protocol);
  }

  /** The driver's input stream. */
  readonly readable: ReadableStream<Uint8Array>;
  /** The driver's output stream. */
  readonly writable: WritableStream<Uint8Array>;

  /** Attaches the driver to this peer's streams. */
  attach(protocol: string | null = null): void {
    this.driver.attach(
      { readable: this.readable, writable: this.writable },
      protocol,
    );
  }

  /** Whether the frames this peer sends must be masked (the driver is a server). */
  get masks(): boolean {
    return this.driver.role === "server";
  }

  /** Delivers raw bytes to the driver. */
  send(data: Uint8Array): void {
    if (this.#inputClosed) throw new Error("RawPeer: input already closed");
    this.#input.enqueue(data);
  }

  /** Sends a frame, masked with {@linkcode TEST_KEY} when the driver is a server. */
  sendFrame(
    opcode: number,
    data: string | Uint8Array = "",
    options: FrameOptions = {},
  ): void {
    this.send(
      encodeFrame(opcode, data, {
        mask: this.masks ? TEST_KEY : null,
        ...options,
      }),
    );
  }

  /** Ends the driver's input (the peer's FIN), without a close frame. */
  endInput(): void {
    if (this.#inputClosed) return;
    this.#inputClosed = true;
    this.#input.close();
  }

  /** Fails the driver's input, as a connection reset would. */
  errorInput(error: unknown = new Error("ECONNRESET")): void {
    if (this.#inputClosed) return;
    this.#inputClosed = true;
    this.#input.error(error);
  }

  /** Every byte the driver wrote so far. */
  get written(): Uint8Array {
    return concatAll(this.chunks);
  }

  /** How many writes the driver made. */
  get writes(): number {
    return this.chunks.length;
  }

  /** Every frame the driver wrote so far (whole frames only). */
  frames(): Frame[] {
    return decodeFrames(this.written);
  }

  /** Waits until `predicate` holds, re-checked after each event, write, end or abort. */
  async until(
    predicate: () => boolean,
    what: string,
    limit = 5_000,
  ): Promise<void> {
    const check = new Promise<void>((resolve) => {
      const test = (): void => {
        if (predicate()) resolve();
        else this.#waiters.push(test);
      };
      test();
    });
    await withTimeout(check, what, limit);
  }

  /** Returns the next frame the driver writes, after those already returned. */
  async readFrame(limit = 5_000): Promise<Frame> {
    let frame: Frame | null = null;
    await this.until(
      () => (frame = decodeFrame(this.written.subarray(this.#consumed))) !== null,
      "a frame",
      limit,
    );
    this.#consumed += frame!.size;
    return frame!;
  }

  /** Resolves once the driver ended or aborted its output. */
  async outputDone(limit = 5_000): Promise<void> {
    await this.until(
      () => this.outputEnded || this.outputAborted,
      "the end of the driver's output",
      limit,
    );
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

// ───────────────────────────── a counting transport ─────────────────────────────

/**
 * A hand-made {@linkcode Transport}: input is pushed by the test, writes are
 * counted and recorded; each write resolves at once (or when released).
 */
export class CountingTransport implements Transport {
  /** Every write, in order. */
  readonly writes: Uint8Array[] = [];
  /** Whether `end()` was called. */
  ended = false;
  /** Whether `abort()` was called. */
  aborted = false;
  /** Whether `start()` was called. */
  started = false;
  /** When true, writes stay pending until {@linkcode CountingTransport.release}. */
  hold = false;
  /** Whether the driver asked it to stop reading (pause without resume). */
  paused = false;
  /** How many times the driver paused and resumed it. */
  pauses = 0;
  resumes = 0;
  #sink: TransportSink | null = null;
  #held: Array<() => void> = [];

  start(sink: TransportSink): void {
    this.started = true;
    this.#sink = sink;
  }

  write(chunk: Uint8Array): Promise<void> {
    this.writes.push(chunk.slice());
    if (!this.hold) return Promise.resolve();
    return new Promise((resolve) => this.#held.push(resolve));
  }

  end(): Promise<void> {
    this.ended = true;
    return Promise.resolve();
  }

  abort(): void {
    this.aborted = true;
  }

  pause(): void {
    this.paused = true;
    this.pauses++;
  }

  resume(): void {
    this.paused = false;
    this.resumes++;
  }

  /** Resolves every held write. */
  release(): void {
    const held = this.#held;
    this.#held = [];
    for (const resolve of held) resolve();
  }

  /** Delivers input bytes to the driver (after `start`). */
  push(chunk: Uint8Array): void {
    if (this.#sink === null) throw new Error("CountingTransport: not started");
    this.#sink.data(chunk);
  }

  /** Ends the input. */
  endInput(error?: unknown): void {
    if (this.#sink === null) throw new Error("CountingTransport: not started");
    this.#sink.end(error);
  }

  /** Every frame written. */
  frames(): Frame[] {
    return decodeFrames(concatAll(this.writes));
  }
}

// ───────────────────────────── loopback TCP ─────────────────────────────

/** The Web streams of a `net.Socket`, as a byte stream where the runtime allows. */
export function socketStreams(socket: net.Socket): StreamPair {
  const toWeb = Duplex.toWeb as unknown as (
    duplex: Duplex,
    options?: { readableType?: string },
  ) => StreamPair;
  try {
    return toWeb(socket, { readableType: "bytes" });
  } catch {
    return toWeb(socket);
  }
}

/** A connected pair of drivers over real TCP, and what carries them. */
export interface TcpPair extends DriverPair {
  /** The server's socket. */
  serverSocket: net.Socket;
  /** The client's socket. */
  clientSocket: net.Socket;
  /** Destroys both sockets (if still open). The listener is closed already. */
  cleanup(): Promise<void>;
}

/** Options of {@linkcode tcpPair}. */
export interface TcpPairOptions extends PairOptions {
  /** `allowHalfOpen` of both sockets; default true (TCP half-close, as the driver expects). */
  allowHalfOpen?: boolean;
}

/** Waits for `event` on a node emitter, rejecting on `error`. */
function onceEvent<T = unknown>(
  emitter: net.Server | net.Socket,
  event: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onEvent = (value: T): void => {
      emitter.off("error", onError);
      resolve(value);
    };
    const onError = (error: Error): void => {
      emitter.off(event, onEvent);
      reject(error);
    };
    emitter.once(event, onEvent);
    emitter.once("error", onError);
  });
}

/** A promise of the `close` event of `socket`; take it before the socket can close. */
export function closeEvent(socket: net.Socket | net.Server): Promise<void> {
  return new Promise((resolve) => socket.once("close", () => resolve()));
}

/**
 * A server driver and a client driver over a real TCP connection on
 * 127.0.0.1. The listener is closed as soon as the connection is accepted;
 * call `cleanup()` at the end of the test in any case.
 */
export async function tcpPair(options: TcpPairOptions = {}): Promise<TcpPair> {
  const allowHalfOpen = options.allowHalfOpen ?? true;
  const listener = net.createServer({ allowHalfOpen });
  listener.listen(0, "127.0.0.1");
  await onceEvent(listener, "listening");
  const { port } = listener.address() as net.AddressInfo;
  const accepted = onceEvent<net.Socket>(listener, "connection");
  const clientSocket = net.connect({ port, host: "127.0.0.1", allowHalfOpen });
  const clientClosed = closeEvent(clientSocket);
  let serverSocket: net.Socket;
  // The listener's `close` comes once its connections are gone too.
  let listenerClosed: Promise<void>;
  try {
    [serverSocket] = await Promise.all([
      accepted,
      onceEvent(clientSocket, "connect"),
    ]);
  } catch (error) {
    clientSocket.destroy();
    throw error;
  } finally {
    listenerClosed = closeEvent(listener);
    listener.close();
  }
  const serverClosed = closeEvent(serverSocket);
  const server = new WebSocketDriver("server", options.server);
  const client = new WebSocketDriver("client", options.client);
  const serverEvents = record(server);
  const clientEvents = record(client);
  server.attach(socketStreams(serverSocket), options.protocol ?? null);
  client.attach(socketStreams(clientSocket), options.protocol ?? null);
  return {
    server,
    client,
    serverEvents,
    clientEvents,
    serverSocket,
    clientSocket,
    async cleanup(): Promise<void> {
      for (const socket of [serverSocket, clientSocket]) {
        if (!socket.destroyed) socket.destroy();
      }
      await Promise.all([serverClosed, clientClosed, listenerClosed]);
    },
  };
}

// ───────────────────────────── opened drivers ─────────────────────────────

/** A server driver attached to a raw peer, opened. */
export async function openServer(options?: DriverOptions): Promise<RawPeer> {
  const peer = new RawPeer("server", options);
  await withTimeout(peer.rec.opened, "open");
  return peer;
}

/** A client driver attached to a raw peer, opened. */
export async function openClient(options?: DriverOptions): Promise<RawPeer> {
  const peer = new RawPeer("client", options);
  await withTimeout(peer.rec.opened, "open");
  return peer;
}

/** A driver over a CountingTransport, opened. */
export async function counted(
  role: "server" | "client",
  options?: DriverOptions,
): Promise<{ driver: WebSocketDriver; transport: CountingTransport; rec: Recorder }> {
  const driver = new WebSocketDriver(role, {
    closeTimeout: TEST_CLOSE_TIMEOUT,
    ...options,
  });
  const rec = record(driver);
  const transport = new CountingTransport();
  driver.attach(transport);
  await withTimeout(rec.opened, "open");
  return { driver, transport, rec };
}

/** A fresh copy of {@linkcode TEST_KEY}, for a client driver's `maskKey` option. */
export const FIXED_KEY = (): Uint8Array => TEST_KEY.slice();

/** How many pong events the driver of `peer` emitted. */
export const pongs = (peer: RawPeer): number => peer.rec.names().filter((n) => n === "pong").length;

/** A frame's payload as UTF-8 text. */
export const frameText = (frame: Frame): string => new TextDecoder().decode(frame.payload);

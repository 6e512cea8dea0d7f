/**
 * A raw WebSocket client on `node:net` for the reliability bench and tests:
 * a hand-written handshake, masked frames built here, the server's frames
 * parsed as they come (messages counted, the close code kept), and a flood
 * writer that counts the bytes the kernel accepted. Independent of the
 * library under test; runs on Deno, Node and Bun.
 *
 * @module
 */

import net from "node:net";
import { Buffer } from "node:buffer";

export const OP_TEXT = 1;
export const OP_BINARY = 2;
export const OP_CLOSE = 8;
export const OP_PING = 9;

/** A masked client frame (mask key 0: the payload goes as is). */
export function clientFrame(opcode: number, payload: Uint8Array | string, rsv1 = false): Buffer {
  const data = typeof payload === "string" ? Buffer.from(payload) : payload;
  const n = data.length;
  const header = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.alloc(header + 4 + n);
  out[0] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  out.set(data, header + 4);
  return out;
}

/** A close frame with `code`. */
export function closeFrame(code: number): Buffer {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code, 0);
  return clientFrame(OP_CLOSE, payload);
}

/** Options of {@linkcode RawWs.open}. */
export interface RawOpenOptions {
  /** A `Sec-WebSocket-Extensions` offer. */
  extensions?: string;
  /** Stop reading once open (a peer that never reads). */
  paused?: boolean;
  /** Rejects after this many milliseconds. */
  timeout?: number;
}

/** A raw client connection. */
export class RawWs {
  readonly socket: net.Socket;
  /** The response head (status line and fields). */
  head = "";
  /** The code of the server's close frame; `null` until one came (1005 if it had none). */
  closeCode: number | null = null;
  /** Data messages (frames with an opcode under 8) received. */
  messages = 0;
  /** Bytes received after the head. */
  received = 0;
  /** Whether the socket closed. */
  ended = false;
  /** The error that ended the socket, if any. */
  error: Error | null = null;
  /** Resolves when the socket closed. */
  readonly closed: Promise<void>;
  /** Called on each data frame. */
  onMessage: ((opcode: number, payload: Buffer) => void) | null = null;
  /** Answer a close frame with one (a well-behaved client); on by default. */
  answerClose = true;
  #pending: Buffer = Buffer.alloc(0);
  #waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("close", () => {
      this.ended = true;
      this.#wake();
    });
    socket.on("error", (error) => {
      this.error = error;
    });
  }

  /** Connects to 127.0.0.1:`port` and completes the handshake. */
  static open(port: number, options: RawOpenOptions = {}): Promise<RawWs> {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.setNoDelay(true);
    const raw = new RawWs(socket);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`Timed out opening a raw WebSocket to port ${port}`));
      }, options.timeout ?? 10_000);
      socket.once("connect", () => {
        socket.write(
          "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
            (options.extensions ? `Sec-WebSocket-Extensions: ${options.extensions}\r\n` : "") + "\r\n",
        );
      });
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        clearTimeout(timer);
        raw.head = head.subarray(0, end).toString("latin1");
        if (!raw.head.startsWith("HTTP/1.1 101")) {
          socket.destroy();
          reject(new Error(`Handshake refused: ${raw.head.split("\r\n")[0]}`));
          return;
        }
        if (options.paused) socket.pause();
        socket.on("data", (c: Buffer) => raw.#receive(c));
        const rest = head.subarray(end + 4);
        if (rest.length > 0) raw.#receive(rest);
        resolve(raw);
      };
      socket.on("data", onData);
      socket.once("close", () => {
        clearTimeout(timer);
        reject(new Error(`The connection to port ${port} closed during the handshake`));
      });
      socket.once("error", () => {});
    });
  }

  #receive(chunk: Buffer): void {
    this.received += chunk.length;
    let buf = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    let at = 0;
    for (;;) {
      if (buf.length - at < 2) break;
      const opcode = buf[at] & 0x0f;
      let length = buf[at + 1] & 0x7f;
      let p = at + 2;
      if (length === 126) {
        if (buf.length - p < 2) break;
        length = buf.readUInt16BE(p);
        p += 2;
      } else if (length === 127) {
        if (buf.length - p < 8) break;
        length = Number(buf.readBigUInt64BE(p));
        p += 8;
      }
      if (buf[at + 1] & 0x80) p += 4;
      if (buf.length - p < length) break;
      const payload = buf.subarray(p, p + length);
      at = p + length;
      if (opcode === OP_CLOSE) {
        if (this.closeCode === null) {
          this.closeCode = length >= 2 ? payload.readUInt16BE(0) : 1005;
          if (this.answerClose && !this.socket.destroyed) {
            this.socket.write(closeFrame(this.closeCode === 1005 ? 1000 : this.closeCode));
          }
        }
      } else if (opcode < 8) {
        this.messages++;
        this.onMessage?.(opcode, payload);
      }
    }
    this.#pending = at === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(at));
    buf = this.#pending;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once `test()` holds or the socket ended (then `test()` is checked once more) or `limit` ms passed. */
  async until(test: () => boolean, limit: number): Promise<boolean> {
    const deadline = Date.now() + limit;
    while (!test() && !this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return test();
  }

  /** Writes a masked frame. */
  send(opcode: number, payload: Uint8Array | string, rsv1 = false): void {
    if (!this.socket.destroyed) this.socket.write(clientFrame(opcode, payload, rsv1));
  }

  /**
   * Writes `chunk` again and again for `ms` milliseconds, one write at a time
   * while the socket buffers (so what is counted is what the kernel took).
   * Stops early once `limit` bytes were accepted, or when nothing more was
   * accepted for `idle` ms (the peer stopped reading: `stalled`). Resolves
   * with the bytes accepted.
   */
  flood(
    chunk: Uint8Array,
    ms: number,
    options: { limit?: number; idle?: number } = {},
  ): Promise<{ accepted: number; stalled: boolean }> {
    const socket = this.socket;
    const limit = options.limit ?? Infinity;
    return new Promise((resolve) => {
      let accepted = 0;
      let done = false;
      let lastProgress = Date.now();
      let stalled = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(watch);
        socket.off("drain", pump);
        socket.off("close", finish);
        resolve({ accepted, stalled });
      };
      const timer = setTimeout(finish, ms);
      const watch = setInterval(() => {
        if (options.idle !== undefined && Date.now() - lastProgress >= options.idle) {
          stalled = true;
          finish();
        }
      }, 100);
      const counted = (error?: Error | null): void => {
        if (error) return;
        accepted += chunk.length;
        lastProgress = Date.now();
        if (accepted >= limit) finish();
      };
      const pump = (): void => {
        while (!done && !socket.destroyed) {
          if (!socket.write(chunk, counted)) return;
        }
      };
      socket.on("drain", pump);
      socket.once("close", finish);
      pump();
    });
  }

  /** Destroys the socket and waits until it closed. */
  async destroy(): Promise<void> {
    this.socket.destroy();
    await this.closed;
  }
}

/** `count` copies of `frame` in one buffer (a chunk for {@linkcode RawWs.flood}). */
export function repeated(frame: Uint8Array, count: number): Buffer {
  const out = Buffer.alloc(frame.length * count);
  for (let i = 0; i < count; i++) out.set(frame, i * frame.length);
  return out;
}

/**
 * The load generator of the echo comparison: raw TCP, pre-built masked
 * frames, no WebSocket library. It reads commands (one JSON object per line)
 * on stdin and answers each with one JSON line on stdout, so that one process
 * serves a whole run. The commands are those of load.c, which bench/echo.ts
 * prefers (this one is its fallback where no C compiler exists: on this
 * machine it tops out near 90k messages/s with one message per read):
 *
 *     echo <port> <conns> <inflight> <size> <binary 0|1> <warmup s> <duration s>
 *     handshake <port> <parallel> <warmup s> <duration s>
 *     idle <port> <conns>      then      release
 *
 * It never parses what the server sends beyond the 101 head: the server's
 * echo of a `size`-byte message is a frame of a known length, so completed
 * messages are counted from the bytes received, and each completed message is
 * replaced by a new one from a buffer of ready frames (one write per read).
 * Its own CPU time is measured over each window and reported as `cpu` (the
 * fraction of one core): near 1.0 means the generator, not the server, was
 * the limit.
 *
 * Runs on Bun (`Bun.connect`, the fastest here) and falls back to `node:net`
 * on Node and Deno.
 *
 * @module
 */

import net from "node:net";
import process from "node:process";
import { Buffer } from "node:buffer";

const HOST = "127.0.0.1";
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const MASK = [0x37, 0xfa, 0x21, 0x3d];

interface Sock {
  write(bytes: Uint8Array): void;
  close(): void;
}

interface Handlers {
  open(sock: Sock): void;
  data(sock: Sock, bytes: Uint8Array): void;
  close(): void;
}

// ───────────────────────────── sockets ─────────────────────────────

type BunSocket = {
  write(data: Uint8Array): number;
  end(): void;
  terminate(): void;
  data: { sock: Sock; pending: Uint8Array[]; h: Handlers };
};
const Bun = (globalThis as { Bun?: { connect(o: unknown): Promise<BunSocket> } }).Bun;
const useBun = Bun !== undefined && process.env.LOAD_SOCKETS !== "node";

/** Opens a connection whose events go to `h`. */
function connect(port: number, h: Handlers): void {
  if (useBun) {
    Bun!.connect({
      hostname: HOST,
      port,
      data: { sock: null, pending: [], h },
      socket: {
        open(s: BunSocket) {
          const state = s.data;
          state.sock = {
            write(bytes) {
              if (state.pending.length !== 0) return void state.pending.push(bytes);
              const n = s.write(bytes);
              if (n < bytes.length) state.pending.push(bytes.subarray(Math.max(n, 0)));
            },
            close() {
              s.terminate();
            },
          };
          h.open(state.sock);
        },
        drain(s: BunSocket) {
          const p = s.data.pending;
          while (p.length !== 0) {
            const bytes = p[0];
            const n = s.write(bytes);
            if (n < bytes.length) {
              p[0] = bytes.subarray(Math.max(n, 0));
              return;
            }
            p.shift();
          }
        },
        data(s: BunSocket, bytes: Uint8Array) {
          s.data.h.data(s.data.sock, bytes);
        },
        close(s: BunSocket) {
          s.data.h.close();
        },
        error() {},
        connectError(s: BunSocket) {
          s.data.h.close();
        },
      },
    }).catch(() => h.close());
    return;
  }
  const socket = net.connect({ host: HOST, port });
  socket.setNoDelay(true);
  const sock: Sock = {
    write: (bytes) => void socket.write(bytes),
    close: () => void socket.destroy(),
  };
  socket.on("connect", () => h.open(sock));
  socket.on("data", (bytes) => h.data(sock, bytes));
  socket.on("close", () => h.close());
  socket.on("error", () => {});
}

// ───────────────────────────── frames ─────────────────────────────

function request(port: number): Uint8Array {
  return Buffer.from(
    `GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
}

/** A masked client frame with a `size`-byte payload. */
function clientFrame(size: number, binary: boolean): Uint8Array {
  const header = size < 126 ? 2 : size < 65536 ? 4 : 10;
  const frame = new Uint8Array(header + 4 + size);
  frame[0] = 0x80 | (binary ? 2 : 1);
  if (size < 126) frame[1] = 0x80 | size;
  else if (size < 65536) {
    frame[1] = 0x80 | 126;
    frame[2] = size >>> 8;
    frame[3] = size & 0xff;
  } else {
    frame[1] = 0x80 | 127;
    new DataView(frame.buffer).setUint32(6, size);
  }
  frame.set(MASK, header);
  const payload = frame.subarray(header + 4);
  // Printable ASCII (valid UTF-8 for text), masked.
  for (let i = 0; i < size; i++) payload[i] = (0x41 + (i % 26)) ^ MASK[i & 3];
  return frame;
}

/** The length of the server's (unmasked) echo of a `size`-byte message. */
function echoLength(size: number): number {
  return (size < 126 ? 2 : size < 65536 ? 4 : 10) + size;
}

function repeat(frame: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(frame.length * n);
  for (let i = 0; i < n; i++) out.set(frame, i * frame.length);
  return out;
}

/** Index just past "\r\n\r\n" in `head`, or -1. */
function headEnd(head: Uint8Array): number {
  for (let i = 3; i < head.length; i++) {
    if (head[i] === 10 && head[i - 1] === 13 && head[i - 2] === 10 && head[i - 3] === 13) return i + 1;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const STATUS_101 = Buffer.from("HTTP/1.1 101");
function is101(head: Uint8Array): boolean {
  for (let i = 0; i < STATUS_101.length; i++) if (head[i] !== STATUS_101[i]) return false;
  return true;
}

// ───────────────────────────── measuring ─────────────────────────────

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

/** Counts `counter()` over a window after a warm-up; also the generator's CPU share. */
async function measure(counter: () => number, warmup: number, duration: number) {
  await sleep(warmup);
  const c0 = counter();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(duration);
  const c1 = counter();
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  return { count: c1 - c0, seconds, cpu: (cpu.user + cpu.system) / 1e6 / seconds };
}

// ───────────────────────────── scenarios ─────────────────────────────

interface EchoCommand {
  port: number;
  conns: number;
  inflight: number;
  size: number;
  binary: boolean;
  warmup: number;
  duration: number;
}

/**
 * Opens `conns` WebSocket connections; resolves with them once all are open
 * (or rejects if one is refused). `onFrames(sock, bytes)` then gets the bytes
 * after the 101 head.
 */
function openAll(
  port: number,
  conns: number,
  onOpen: (sock: Sock) => void,
  onBytes: (sock: Sock, n: number) => void,
): Promise<Sock[]> {
  const req = request(port);
  const socks: Sock[] = [];
  let opened = 0;
  return new Promise((resolve, reject) => {
    let started = 0;
    const BATCH = 64; // connects in flight at once (stay under the listen backlog)
    const next = () => {
      if (started >= conns) return;
      started++;
      let head: Uint8Array | null = new Uint8Array(0);
      let done = false;
      connect(port, {
        open(sock) {
          sock.write(req);
        },
        data(sock, bytes) {
          if (head === null) return onBytes(sock, bytes.length);
          head = concat(head, bytes);
          const end = headEnd(head);
          if (end < 0) return;
          if (!is101(head)) return reject(new Error(`No 101: ${Buffer.from(head).toString().split("\r\n")[0]}`));
          const rest = head.length - end;
          head = null;
          done = true;
          socks.push(sock);
          onOpen(sock);
          if (rest > 0) onBytes(sock, rest);
          if (++opened === conns) resolve(socks);
          else next();
        },
        close() {
          if (!done) reject(new Error("A connection closed during the handshake"));
        },
      });
    };
    for (let i = 0; i < Math.min(BATCH, conns); i++) next();
  });
}

async function echo(c: EchoCommand) {
  const frame = clientFrame(c.size, c.binary);
  const batch = repeat(frame, c.inflight);
  const reply = echoLength(c.size);
  let total = 0; // bytes received, all connections
  const received = new Map<Sock, number>();
  const socks = await openAll(
    c.port,
    c.conns,
    (sock) => {
      received.set(sock, 0);
      sock.write(batch);
    },
    (sock, n) => {
      const before = received.get(sock)!;
      const after = before + n;
      received.set(sock, after);
      total += n;
      const done = Math.floor(after / reply) - Math.floor(before / reply);
      if (done > 0) sock.write(done === c.inflight ? batch : batch.subarray(0, done * frame.length));
    },
  );
  const m = await measure(() => total, c.warmup, c.duration);
  for (const s of socks) s.close();
  await sleep(0.2); // let the server drop them before the next run
  return { messages: m.count / reply, bytes: m.count, seconds: m.seconds, cpu: m.cpu };
}

async function handshakes(c: { port: number; parallel: number; warmup: number; duration: number }) {
  const req = request(c.port);
  let count = 0;
  let failed = 0;
  let running = true;
  const loop = () => {
    if (!running) return;
    let head: Uint8Array = new Uint8Array(0);
    let done = false;
    connect(c.port, {
      open(sock) {
        sock.write(req);
      },
      data(sock, bytes) {
        if (done) return;
        head = concat(head, bytes);
        if (headEnd(head) < 0) return;
        done = true;
        if (is101(head)) count++;
        else failed++;
        sock.close();
        loop();
      },
      close() {
        if (!done) {
          done = true;
          failed++;
          loop();
        }
      },
    });
  };
  for (let i = 0; i < c.parallel; i++) loop();
  const m = await measure(() => count, c.warmup, c.duration);
  running = false;
  await sleep(0.3);
  return { handshakes: m.count, failed, seconds: m.seconds, cpu: m.cpu };
}

let idle: Sock[] = [];

async function openIdle(c: { port: number; conns: number }) {
  // Each connection echoes one small message, so that it is fully set up.
  const frame = clientFrame(16, false);
  const reply = echoLength(16);
  let echoed = 0;
  const got = new Map<Sock, number>();
  const { promise, resolve } = Promise.withResolvers<void>();
  idle = await openAll(c.port, c.conns, (sock) => {
    got.set(sock, 0);
    sock.write(frame);
  }, (sock, n) => {
    const before = got.get(sock)!;
    got.set(sock, before + n);
    if (before < reply && before + n >= reply && ++echoed === c.conns) resolve();
  });
  if (echoed < c.conns) await promise;
  return { open: idle.length };
}

async function release() {
  for (const s of idle) s.close();
  const n = idle.length;
  idle = [];
  await sleep(0.3);
  return { closed: n };
}

// ───────────────────────────── the command loop ─────────────────────────────

async function run(line: string) {
  const [op, ...words] = line.trim().split(/\s+/);
  const n = words.map(Number);
  switch (op) {
    case "echo": {
      const [port, conns, inflight, size, binary, warmup, duration] = n;
      return await echo({ port, conns, inflight, size, binary: binary === 1, warmup, duration });
    }
    case "handshake": {
      const [port, parallel, warmup, duration] = n;
      return await handshakes({ port, parallel, warmup, duration });
    }
    case "idle":
      return await openIdle({ port: n[0], conns: n[1] });
    case "release":
      return await release();
    case "exit":
      process.exit(0);
  }
  throw new Error(`unknown command ${op}`);
}

let buffered = "";
let queue = Promise.resolve();
process.stdin.on("data", (chunk: Buffer) => {
  buffered += chunk.toString();
  let nl;
  while ((nl = buffered.indexOf("\n")) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (line.trim() === "") continue;
    queue = queue.then(async () => {
      let answer;
      try {
        answer = { ok: true, ...(await run(line)) };
      } catch (error) {
        answer = { ok: false, error: String((error as Error)?.message ?? error) };
      }
      process.stdout.write(JSON.stringify(answer) + "\n");
    });
  }
});
process.stdin.on("end", () => queue.then(() => process.exit(0)));
process.stdout.write(JSON.stringify({ ok: true, ready: true, sockets: useBun ? "bun" : "node:net" }) + "\n");

/**
 * Test helpers for the Redis backplane (not a test file): a real
 * `redis-server` (Debian's package) on a free loopback port, without
 * persistence, that a test can kill and start again on the same port; and
 * child processes run with the runtime that runs the tests.
 *
 * @module
 */

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import net from "node:net";
import os from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { exited } from "../_shared/child.ts";
import { freePort } from "../_shared/net.ts";

/** The repository's root directory. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

export { freePort };

/** Whether a Redis server answers PING on `port`. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(String(data).startsWith("+PONG")));
  });
}

/** A `redis-server` on 127.0.0.1, no persistence; `kill()` and `start()` again on the same port. */
export class RedisServer {
  readonly port: number;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();

  private constructor(port: number) {
    this.port = port;
  }

  /** Starts a server on a free port; resolves once it answers PING. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.start();
    return server;
  }

  /** `redis://127.0.0.1:port`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (again) on this port; resolves once it answers PING. */
  async start(): Promise<void> {
    if (this.#child !== null) throw new Error("redis-server is running already");
    const child = spawn("redis-server", [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      os.tmpdir(),
      "--loglevel",
      "warning",
    ], { stdio: ["ignore", "ignore", "pipe"] });
    let failure = "";
    child.stderr!.on("data", (data) => failure += String(data));
    const spawnError = new Promise<never>((_, reject) =>
      child.once("error", (error) =>
        reject(
          new Error(
            `Cannot start redis-server (${error.message}); install it: apt-get install redis-server`,
          ),
        ))
    );
    spawnError.catch(() => {});
    this.#child = child;
    this.#exited = exited(child);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (await Promise.race([ping(this.port), spawnError])) return;
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${failure}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${this.port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Kills the server at once (SIGKILL, as a crash) and waits for it to exit. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
    child.kill("SIGKILL");
    await this.#exited;
  }
}

/** A child process whose stdout and stderr are collected line by line. */
export class Child {
  readonly process: ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  #waiters: Array<() => void> = [];
  #exited: Promise<void>;

  /** Runs `script` (relative to the root) with the runtime running this test, with `args`. */
  constructor(script: string, args: string[]) {
    const runtime = "Deno" in globalThis ? ["run", "-A"] : [];
    this.process = spawn(process.execPath, [...runtime, script, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const [stream, lines] of [[this.process.stdout!, this.stdout], [this.process.stderr!, this.stderr]] as const) {
      let partial = "";
      stream.on("data", (data) => {
        const parts = (partial + String(data)).split("\n");
        partial = parts.pop()!;
        lines.push(...parts);
        this.#wake();
      });
    }
    this.process.once("exit", () => this.#wake());
    this.#exited = exited(this.process);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves with the match of the first stdout line that matches `pattern`. */
  async line(pattern: RegExp, what: string, limit = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + limit;
    for (;;) {
      for (const line of this.stdout) {
        const match = line.match(pattern);
        if (match) return match;
      }
      if (this.process.exitCode !== null) {
        throw new Error(`The child exited (${this.process.exitCode}) before ${what}: ${this.stderr.join("\n")}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out: ${what}; stderr: ${this.stderr.join("\n")}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Stops the child (SIGTERM, then SIGKILL after 3 s) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.process;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

/** How many connections are subscribed to `channel` (Redis `PUBSUB NUMSUB`). */
export function numsub(port: number, channel: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const arg = (s: string) => `$${new TextEncoder().encode(s).length}\r\n${s}\r\n`;
    let reply = "";
    socket.once("error", reject);
    socket.once("connect", () => socket.write(`*3\r\n${arg("PUBSUB")}${arg("NUMSUB")}${arg(channel)}`));
    socket.on("data", (data) => {
      reply += String(data);
      const match = reply.match(/:(\d+)\r\n$/);
      if (match) {
        socket.destroy();
        resolve(Number(match[1]));
      }
    });
  });
}

/** Polls `condition` every 20 ms until it holds, or throws after `limit` ms naming `what`. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  limit = 15_000,
): Promise<void> {
  const deadline = Date.now() + limit;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${limit} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

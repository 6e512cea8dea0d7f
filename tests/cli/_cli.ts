/**
 * Test helpers for tests/cli (not a test file): run `cli.ts` as a child
 * process with the runtime that runs the tests (deno run -A, node, bun),
 * through pipes or through a pseudo-terminal (`_pty.py`, Python's `pty`
 * module), and our own recording server to talk to. Every child is killed
 * when its test ends.
 *
 * @module
 */

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { TestContext } from "node:test";
import { makeServer, serve } from "../../server.ts";
import type { Server } from "../../server.ts";
import { PYTHON } from "../client/_servers.ts";
import { delay, ms } from "../_shared/time.ts";

export { PYTHON };

/** The file under test. */
export const CLI: string = fileURLToPath(new URL("../../cli.ts", import.meta.url));

/** The pseudo-terminal relay. */
export const PTY: string = fileURLToPath(new URL("./_pty.py", import.meta.url));

/** Which runtime runs the tests (and so the CLI). */
export const RUNTIME: "deno" | "bun" | "node" = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

/** The command line that runs `cli.ts args` with this runtime. */
export function cliCommand(args: readonly string[]): string[] {
  const runtime = process.execPath;
  return RUNTIME === "deno" ? [runtime, "run", "-A", CLI, ...args] : [runtime, CLI, ...args];
}

export { delay };

/** The environment of a child: ours, with NO_COLOR=1 unless `env` says otherwise (`undefined` removes). */
function childEnv(env: Record<string, string | undefined> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...process.env, NO_COLOR: "1", RUST_BACKTRACE: "0", ...env })) {
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** What a finished child did. */
export interface Outcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode startCli}. */
export interface StartOptions {
  /** Variables to set (or, as `undefined`, remove) in the child's environment. */
  env?: Record<string, string | undefined>;
  /** Run it in a pseudo-terminal (stdout then holds everything it showed). */
  pty?: boolean;
}

/** A running CLI. */
export interface RunningCli {
  child: ChildProcess;
  /** What it wrote so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Writes to its stdin (in a pseudo-terminal: types). */
  write(text: string | Uint8Array): void;
  /** Ends its stdin. */
  end(): void;
  /**
   * Resolves once `stream` matches `pattern` (rejects after `limit` ms, with
   * what was written); in a pseudo-terminal, `stream` without escape
   * sequences and carriage returns.
   */
  waitFor(stream: "stdout" | "stderr", pattern: RegExp, limit?: number): Promise<RegExpMatchArray>;
  /** Resolves once `stream`, as written (escape sequences included), contains `text`. */
  waitForRaw(stream: "stdout" | "stderr", text: string, limit?: number): Promise<void>;
  /** Sends it `signal` (as Ctrl-C or a service manager would). */
  signal(signal: "SIGINT" | "SIGTERM"): void;
  /** Resolves once it exited. */
  readonly exited: Promise<Outcome>;
  /** Kills it (if still running) and waits for it. */
  kill(signal?: "SIGKILL" | "SIGINT" | "SIGTERM"): Promise<Outcome>;
}

/**
 * Starts `cli.ts args`; the test's `after` kills it. In a pseudo-terminal the
 * terminal is 80 columns wide, and stdout carries both of its streams.
 */
export function startCli(t: TestContext, args: readonly string[], options: StartOptions = {}): RunningCli {
  const command = cliCommand(args);
  const [file, ...rest] = options.pty ? [PYTHON, PTY, ...command] : command;
  const child = spawn(file, rest, { env: childEnv(options.env), stdio: ["pipe", "pipe", "pipe"] });
  const output = { stdout: "", stderr: "" };
  const waiters: Array<() => void> = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (s: string) => (output.stdout += s, wake()));
  child.stderr!.on("data", (s: string) => (output.stderr += s, wake()));
  child.stdin!.on("error", () => {}); // the child may exit before reading all
  let done = false;
  const exited = new Promise<Outcome>((resolve) => {
    child.once("close", (code, signal) => {
      done = true;
      wake();
      resolve({ code, signal, stdout: output.stdout, stderr: output.stderr });
    });
  });
  const kill = async (signal: "SIGKILL" | "SIGINT" | "SIGTERM" = "SIGKILL") => {
    if (!done) child.kill(signal);
    return await exited;
  };
  t.after(() => kill());
  return {
    child,
    get stdout() {
      return output.stdout;
    },
    get stderr() {
      return output.stderr;
    },
    write: (text) => void child.stdin!.write(text),
    end: () => void child.stdin!.end(),
    async waitForRaw(stream, text, limit = 5000) {
      await this.waitFor(stream, /(?:)/, limit); // fails if it exited
      const start = Date.now();
      while (!output[stream].includes(text)) {
        if (done || Date.now() - start > ms(limit)) {
          throw new Error(`${JSON.stringify(text)} did not appear on ${stream}: ${JSON.stringify(output[stream])}`);
        }
        await delay(10);
      }
    },
    waitFor(stream, pattern, limit = 5000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `Timed out after ${ms(limit)} ms waiting for ${pattern} on ${stream}\n` +
                `stdout: ${JSON.stringify(output.stdout)}\nstderr: ${JSON.stringify(output.stderr)}`,
            ),
          );
        }, ms(limit));
        const check = () => {
          // In a pseudo-terminal: matched against the text without escape sequences and CRs.
          const match = (options.pty ? plain(output[stream]) : output[stream]).match(pattern);
          if (match) {
            clearTimeout(timer);
            resolve(match);
          } else if (done) {
            clearTimeout(timer);
            reject(
              new Error(
                `Exited before ${pattern} appeared on ${stream}\n` +
                  `stdout: ${JSON.stringify(output.stdout)}\nstderr: ${JSON.stringify(output.stderr)}`,
              ),
            );
          } else {
            waiters.push(check);
          }
        };
        check();
      });
    },
    // Not child.kill(): Deno's node:child_process then reports the signal as
    // the cause of the exit even when the child handled it and exited 0.
    signal: (signal) => void process.kill(child.pid!, signal),
    exited,
    kill,
  };
}

/**
 * Runs `cli.ts args` to the end with `input` on its stdin (then closed);
 * fails the test if it takes longer than `limit` ms.
 */
export async function runCli(
  t: TestContext,
  args: readonly string[],
  input = "",
  options: StartOptions & { limit?: number } = {},
): Promise<Outcome> {
  const cli = startCli(t, args, options);
  cli.write(input);
  cli.end();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = ms(options.limit ?? 8000);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      cli.kill();
      reject(
        new Error(
          `cli ${args.join(" ")} did not exit within ${limit} ms\n` +
            `stdout: ${JSON.stringify(cli.stdout)}\nstderr: ${JSON.stringify(cli.stderr)}`,
        ),
      );
    }, limit);
  });
  try {
    return await Promise.race([cli.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Everything one server connection did. */
export interface Recorded {
  server: Server;
  request: Request;
  messages: Array<string | Uint8Array>;
  /** Resolves with the code and reason of its `close`. */
  closed: Promise<[number, string]>;
}

/** Our own server (serve(), tcp backend) on 127.0.0.1:0. */
export interface OwnServer {
  url: string;
  port: number;
  connections: Recorded[];
  /** Resolves with connection number `n` (0-based) once it opened. */
  connection(n?: number): Promise<Recorded>;
  close(): Promise<void>;
}

/** How a test server treats each connection; the default echoes. */
export type Behaviour = (ws: Server, recorded: Recorded) => void;

/** The default behaviour: echo every message. */
export const echo: Behaviour = (ws) => ws.on("message", (m) => ws.send(m));

/**
 * Starts our own server for a test (closed by the test's `after`): every
 * WebSocket is recorded and given `behaviour`; other requests get 404.
 */
export async function startOwnServer(
  t: TestContext,
  behaviour: Behaviour = echo,
  options: { acceptProtocols?: string[]; maxLength?: number } = {},
): Promise<OwnServer> {
  const connections: Recorded[] = [];
  const waiting: Array<() => void> = [];
  const handle = serve((request) => {
    if (request.headers.get("upgrade") === null) return new Response("Not Found here\n", { status: 404 });
    const ws = makeServer(request, options);
    const messages: Array<string | Uint8Array> = [];
    ws.on("message", (m) => messages.push(m));
    const closed = new Promise<[number, string]>((resolve) => ws.once("close", (c, r) => resolve([c, r])));
    const recorded = { server: ws, request, messages, closed };
    ws.on("open", () => {
      connections.push(recorded);
      waiting.splice(0).forEach((w) => w());
    });
    behaviour(ws, recorded);
    return ws.startConnection();
  }, { port: 0, hostname: "127.0.0.1", heartbeat: false, shutdownTimeout: 500 });
  const { port } = await handle.ready;
  t.after(() => handle.close());
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    connections,
    connection(n = 0) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`Timed out waiting for connection ${n}`)), ms(5000));
        const check = () => {
          if (connections.length > n) {
            clearTimeout(timer);
            resolve(connections[n]);
          } else waiting.push(check);
        };
        check();
      });
    },
    close: () => handle.close(),
  };
}

/** `text` without ANSI escape sequences (colours, cursor moves) and carriage returns. */
export function plain(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, "").replace(/\r/g, "");
}

/**
 * What the command-line tool (`cli.ts`, `src/cli/`) needs from the process it
 * runs in, in runtime-free terms: arguments, environment, standard streams,
 * terminals, signals, a file, and the exit. Deno gets its own APIs (so that
 * `deno run --allow-net` is enough for `ws://`); Node and Bun get `node:`
 * built-ins. Nothing of the library itself depends on this module.
 *
 * @module
 */

/** The signals the tool reacts to. */
export type CliSignal = "SIGINT" | "SIGTERM";

/** The two output streams. */
export type OutputStream = "stdout" | "stderr";

/** The process, as the command-line tool sees it. */
export interface CliProcess {
  /** The arguments after the script's name. */
  readonly args: readonly string[];
  /** An environment variable, or `undefined` when unset (or not readable). */
  env(name: string): string | undefined;
  /** Whether standard input is a terminal. */
  readonly stdinIsTerminal: boolean;
  /** Whether standard output is a terminal. */
  readonly stdoutIsTerminal: boolean;
  /** Whether standard error is a terminal. */
  readonly stderrIsTerminal: boolean;
  /** The width of the terminal on standard output, in columns (80 when unknown). */
  columns(): number;
  /**
   * Standard input as lines, without their `\n` (or `\r\n`); a last line
   * without a newline counts. Ends at the end of input. Call once.
   */
  lines(): AsyncIterable<string>;
  /** Writes `text` to a stream, in order with earlier writes to it. */
  write(stream: OutputStream, text: string): void;
  /** Reads a whole text file. */
  readTextFile(path: string): Promise<string>;
  /** Calls `handler` on each `signal`, until the returned function is called. */
  onSignal(signal: CliSignal, handler: () => void): () => void;
  /** Waits until everything written went out, then ends the process with `code`. */
  exit(code: number): Promise<never>;
}

/** Splits decoded text into lines across chunks. */
async function* splitLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of chunks) {
    pending += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      yield line.endsWith("\r") ? line.slice(0, -1) : line;
    }
  }
  pending += decoder.decode();
  if (pending !== "") yield pending.endsWith("\r") ? pending.slice(0, -1) : pending;
}

// ───────────────────────────── Deno ─────────────────────────────

function denoProcess(): CliProcess {
  const encoder = new TextEncoder();
  let broken = false;
  const writeAll = (file: typeof Deno.stdout, text: string) => {
    if (broken) return;
    const bytes = encoder.encode(text);
    try {
      for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
    } catch {
      // The reader went away (`wsd … | head -1`): nothing more can be shown.
      broken = true;
      Deno.exit(0);
    }
  };
  return {
    args: Deno.args,
    env: (name) => {
      // Deno knows NO_COLOR without --allow-env; asking for it would prompt.
      if (name === "NO_COLOR") return Deno.noColor ? "1" : undefined;
      if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return undefined;
      return Deno.env.get(name);
    },
    stdinIsTerminal: Deno.stdin.isTerminal(),
    stdoutIsTerminal: Deno.stdout.isTerminal(),
    stderrIsTerminal: Deno.stderr.isTerminal(),
    columns: () => {
      try {
        return Deno.consoleSize().columns || 80;
      } catch {
        return 80;
      }
    },
    lines: () => splitLines(Deno.stdin.readable),
    write: (stream, text) => writeAll(stream === "stdout" ? Deno.stdout : Deno.stderr, text),
    readTextFile: (path) => Deno.readTextFile(path),
    onSignal: (signal, handler) => {
      try {
        Deno.addSignalListener(signal, handler);
      } catch {
        return () => {}; // Windows has no SIGTERM
      }
      return () => Deno.removeSignalListener(signal, handler);
    },
    exit: (code) => Deno.exit(code),
  };
}

// ───────────────────────────── Node and Bun ─────────────────────────────

async function nodeProcess(): Promise<CliProcess> {
  const { default: process } = await import("node:process");
  if (!("Bun" in globalThis)) {
    // Node strips the types of every module at each start; its compile cache
    // (in the system's temporary directory) keeps the result, which halves
    // the start-up time of the tool. Modules loaded from now on use it.
    const { enableCompileCache } = await import("node:module");
    try {
      enableCompileCache?.();
    } catch {
      // No cache: a slower start, nothing worse.
    }
  }
  const { readFile } = await import("node:fs/promises");
  const streams = { stdout: process.stdout, stderr: process.stderr };
  // The last write of each stream: all earlier ones went out once it has.
  const written: Record<OutputStream, Promise<void>> = { stdout: Promise.resolve(), stderr: Promise.resolve() };
  for (const stream of Object.values(streams)) {
    // EPIPE: the reader went away (`wsd … | head -1`); nothing more can be shown.
    stream.on("error", () => process.exit(0));
  }
  return {
    args: process.argv.slice(2),
    env: (name) => process.env[name],
    stdinIsTerminal: process.stdin.isTTY === true,
    stdoutIsTerminal: process.stdout.isTTY === true,
    stderrIsTerminal: process.stderr.isTTY === true,
    columns: () => process.stdout.columns || 80,
    lines: () => splitLines(process.stdin as AsyncIterable<Uint8Array>),
    write: (name, text) => {
      written[name] = new Promise((resolve) => streams[name].write(text, () => resolve()));
    },
    readTextFile: (path) => readFile(path, "utf8"),
    onSignal: (signal, handler) => {
      process.on(signal, handler);
      return () => process.off(signal, handler);
    },
    exit: async (code) => {
      // A write whose callback never comes (a stuck pipe) must not keep the
      // process alive forever.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const limit = new Promise<void>((resolve) => timer = setTimeout(resolve, 2000));
      await Promise.race([Promise.all([written.stdout, written.stderr]), limit]);
      clearTimeout(timer);
      return process.exit(code);
    },
  };
}

/**
 * The process the tool runs in, on Deno, Node or Bun. On Node, modules
 * imported after this resolved start faster (the compile cache is on).
 *
 * @example
 * ```ts ignore
 * const io = await cliProcess();
 * io.write("stdout", `arguments: ${io.args.join(" ")}\n`);
 * await io.exit(0);
 * ```
 */
export function cliProcess(): Promise<CliProcess> {
  return "Deno" in globalThis ? Promise.resolve(denoProcess()) : nodeProcess();
}

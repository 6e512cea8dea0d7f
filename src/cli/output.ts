/**
 * Where the tool's output goes, and how it looks there: colours on terminals
 * (never with `NO_COLOR`), one JSON object per line with `--json`, and, when
 * a person types at a terminal, a `> ` prompt that output is printed above
 * without disturbing what is being typed.
 *
 * The prompt uses the terminal's own line editing (no raw mode): Backspace,
 * Ctrl-U and Ctrl-C work as everywhere. To print while a line is half typed,
 * lines are inserted above it (the technique of Python websockets' client):
 * save the cursor, make room, insert blank lines, write there, restore the
 * cursor and move it down by as many rows.
 *
 * @module
 */

import type { CliProcess, OutputStream } from "../runtime/process.ts";
import { hexDump, paint, rowsOf, sanitize } from "./format.ts";
import type { Style } from "./format.ts";

/** How output is shown. */
export interface OutputOptions {
  /** One JSON object per event on stdout; nothing on stderr but fatal usage errors. */
  json: boolean;
  /** Show a `> ` prompt and print above it (stdin and stdout are terminals). */
  prompt: boolean;
}

const ESC = "\x1b";

/** The tool's output. */
export class Output {
  readonly #io: CliProcess;
  readonly json: boolean;
  readonly promptMode: boolean;
  readonly #color: Record<OutputStream, boolean>;
  readonly #terminal: Record<OutputStream, boolean>;
  /** The prompt is on screen, with the cursor on the line being typed. */
  #promptShown = false;

  /** Output for `io`; colours where a stream is a terminal and `NO_COLOR` is unset or empty. */
  constructor(io: CliProcess, options: OutputOptions) {
    this.#io = io;
    this.json = options.json;
    this.promptMode = options.prompt && !options.json;
    const noColor = (io.env("NO_COLOR") ?? "") !== "";
    this.#terminal = { stdout: io.stdoutIsTerminal, stderr: io.stderrIsTerminal };
    this.#color = {
      stdout: !options.json && !noColor && io.stdoutIsTerminal,
      stderr: !options.json && !noColor && io.stderrIsTerminal,
    };
  }

  /** `text` in `style` if `stream` shows colours. */
  paint(stream: OutputStream, style: Style, text: string): string {
    return paint(this.#color[stream], style, text);
  }

  /** Whether `stream` is a terminal (remote text gets sanitized there). */
  isTerminal(stream: OutputStream): boolean {
    return this.#terminal[stream];
  }

  /** Text from the network, made safe when `stream` is a terminal. */
  remote(stream: OutputStream, text: string): string {
    return this.#terminal[stream] ? sanitize(text) : text;
  }

  /** Writes lines (each without its newline) to `stream`, above the prompt if it is shown. */
  lines(stream: OutputStream, lines: string[]): void {
    if (lines.length === 0) return;
    const text = lines.join("\n") + "\n";
    if (!this.#promptShown || !this.#terminal[stream]) return this.#io.write(stream, text);
    const columns = this.#io.columns();
    let rows = 0;
    for (const line of lines) rows += rowsOf(line, columns);
    // Save the cursor; make `rows` of room below (scrolling at the bottom);
    // back up; insert `rows` blank lines (the typed line moves down); write
    // there; restore the cursor and move it down onto the typed line again.
    this.#io.write(
      stream,
      `${ESC}7${"\n".repeat(rows)}${ESC}[${rows}A${ESC}[${rows}L\r${text}${ESC}8${ESC}[${rows}B`,
    );
  }

  /** Writes one line to `stream`. */
  line(stream: OutputStream, line: string): void {
    this.lines(stream, [line]);
  }

  /** Writes one JSON object as a line on stdout. */
  event(event: Record<string, unknown>): void {
    this.#io.write("stdout", JSON.stringify(event) + "\n");
  }

  /** A message received: `prefix` then text as is, or binary as a hex dump with its length. */
  message(data: string | Uint8Array, prefix: string): void {
    const stream = "stdout";
    const lead = prefix === "" ? "" : this.paint(stream, "cyan", prefix);
    if (typeof data === "string") return this.lines(stream, [lead + this.remote(stream, data)]);
    const head = lead +
      this.paint(stream, "magenta", `binary message, ${data.length} byte${data.length === 1 ? "" : "s"}`);
    const indent = prefix === "" ? "" : " ".repeat(prefix.length);
    this.lines(stream, [head, ...hexDump(data).map((l) => indent + this.paint(stream, "dim", l))]);
  }

  /** An error line on stderr: `error: …` in red, then detail lines. */
  error(message: string, details: string[] = []): void {
    this.lines("stderr", [`${this.paint("stderr", "red", "error:")} ${message}`, ...details]);
  }

  /** A line of information on stderr. */
  info(message: string): void {
    this.line("stderr", message);
  }

  /** Shows the `> ` prompt (in prompt mode). */
  prompt(): void {
    if (!this.promptMode || this.#promptShown) return;
    this.#io.write("stdout", this.paint("stdout", "bold", "> "));
    this.#promptShown = true;
  }

  /** The user pressed Enter: the cursor is on a fresh line, the prompt is gone. */
  promptTaken(): void {
    this.#promptShown = false;
  }

  /** Removes the prompt for good (the session is over). */
  endPrompt(): void {
    if (!this.#promptShown) return;
    this.#promptShown = false;
    this.#io.write("stdout", `\r${ESC}[K`);
  }
}

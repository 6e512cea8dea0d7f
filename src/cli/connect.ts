/**
 * `wsd URL`: connect, show the handshake, then an interactive session (lines
 * in, messages out), or `-x` (one message, its first answer) or `--ping` (one
 * round trip). Resolves with the exit status.
 *
 * ```text
 *   read --ca → makeClient (bad URL/option: status 2) → startConnection
 *     └─ failed: error (status, first lines of an HTTP error body, TLS hint) → 1
 *     └─ open: summary on stderr, then
 *          -x      ping; pong (or ≥ 1 s) → send; the answer(s) after the send; close 1000
 *          --ping  ping, RTT, close 1000 (data messages left out)
 *          else    each input line → a message (or a slash command); end of input → close 1000
 *     └─ close: code and reason on stderr → 0 if clean, else 1 (130: interrupted twice)
 * ```
 *
 * @module
 */

import { makeClient } from "../client/client.ts";
import type { Client, ClientOptions } from "../client/client.ts";
import type { CliProcess } from "../runtime/process.ts";
import type { CliOptions } from "./args.ts";
import { COMMAND_HELP, parseCommand } from "./commands.ts";
import type { Command } from "./commands.ts";
import { closeCodeName, describePayload, formatMs, toHex } from "./format.ts";
import { Output } from "./output.ts";

const encoder = new TextEncoder();

/** Close codes after which the exit status is 0 (besides the code of a close we started). */
const CLEAN_CODES = [1000, 1001, 1005];

/**
 * How long `-x` waits at least for the pong of its barrier ping before it
 * sends anyway (a server that answers no ping would otherwise never get the
 * message). A slow network or a busy machine stretches the wait: it is also
 * at least `BARRIER_HANDSHAKES` times as long as the opening handshake took.
 */
const BARRIER_MS = 1000;
const BARRIER_HANDSHAKES = 4;

/** How many lines of an HTTP error body are shown. */
const BODY_LINES = 8;

/** The negotiated extensions of a connection ("" when none, or before the library has them). */
export function extensionsOf(connection: unknown): string {
  const value = (connection as { extensions?: unknown }).extensions;
  return typeof value === "string" ? value : "";
}

/** Resolves after `ms`, unless cancelled: `[promise, cancel]`. */
function timer(ms: number): [Promise<"timeout">, () => void] {
  let handle: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<"timeout">((resolve) => handle = setTimeout(() => resolve("timeout"), ms));
  return [promise, () => clearTimeout(handle)];
}

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

/** Whether a connect error is a failed certificate check. */
function isCertificateError(message: string): boolean {
  return /certificate|CERT_|UnknownIssuer|self[- ]signed|unable to verify|altname|NotValidForName|does not match/i
    .test(message);
}

/** The first lines of an HTTP error body, for humans. */
function bodyLines(body: Uint8Array): string[] {
  const text = new TextDecoder().decode(body).replace(/\s+$/, "");
  if (text === "") return [];
  const lines = text.split(/\r?\n/);
  const shown = lines.slice(0, BODY_LINES).map((l) => l.length > 200 ? l.slice(0, 200) + "…" : l);
  if (lines.length > BODY_LINES) shown.push(`… ${lines.length - BODY_LINES} more lines`);
  return shown;
}

/** Reports a failure: an "error" event with `--json`, else a message and details on stderr. */
function report(out: Output, message: string, details: string[] = [], extra: Record<string, unknown> = {}): void {
  if (out.json) out.event({ event: "error", message, ...extra });
  else out.error(message, details);
}

/** The client's options from the command line (reads `--ca`); `null` when `--ca` is unusable (reported). */
async function clientOptionsOf(
  io: CliProcess,
  options: CliOptions,
  out: Output,
): Promise<ClientOptions & { perMessageDeflate?: boolean } | null> {
  let caCerts: string[] | undefined;
  if (options.ca !== undefined) {
    let pem: string;
    try {
      pem = await io.readTextFile(options.ca);
    } catch (error) {
      report(out, `Cannot read the CA file ${options.ca}: ${(error as Error).message}`);
      return null;
    }
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      report(out, `Cannot use the CA file ${options.ca}: it holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
      return null;
    }
    caCerts = [pem];
  }
  const clientOptions: ClientOptions & { perMessageDeflate?: boolean } = {
    acceptProtocols: options.protocols,
    additionalHeaders: options.headers,
    openTimeout: options.timeout,
  };
  if (options.maxLength !== undefined) clientOptions.maxLength = options.maxLength;
  if (caCerts !== undefined) clientOptions.caCerts = caCerts;
  if (options.insecure) clientOptions.verifyCertificate = false;
  if (options.deflate) clientOptions.perMessageDeflate = true;
  return clientOptions;
}

/** The client for `options.url`; `null` when the URL or an option is refused (reported). */
function createClient(options: CliOptions, clientOptions: ClientOptions, out: Output): Client | null {
  try {
    return makeClient(options.url, clientOptions);
  } catch (error) {
    const message = (error as Error).message;
    const hint = !options.url.includes("://") && message.includes("URL")
      ? [`hint: a URL starts with ws:// or wss://, as in ws://${options.url}`]
      : [];
    report(out, message, hint);
    return null;
  }
}

/** Runs `wsd URL …`; resolves with the exit status. */
export async function runClient(io: CliProcess, options: CliOptions): Promise<number> {
  const session = options.execute === undefined && !options.ping;
  const out = new Output(io, { json: options.json, prompt: session && io.stdinIsTerminal && io.stdoutIsTerminal });
  const clientOptions = await clientOptionsOf(io, options, out);
  if (clientOptions === null) return 2;
  const client = createClient(options, clientOptions, out);
  if (client === null) return 2;
  return await new ClientRun(io, options, out, client).run();
}

/** What `-x` came to: answers enough, the connection closed, the time ran out, or the send failed. */
type Outcome = "answer" | "closed" | "timeout" | "unsent";

/** One run of `wsd URL`: the client's events shown, then `-x`, `--ping` or a session. */
class ClientRun {
  readonly #io: CliProcess;
  readonly #options: CliOptions;
  readonly #out: Output;
  readonly #client: Client;
  /** Neither `-x` nor `--ping`: lines of input become messages. */
  readonly #session: boolean;
  #opened = false;
  /** The code of the close we started, if we did. */
  #ourCode: number | null = null;
  /** Set when the outcome is a failure whatever the close code (-x without answer). */
  #failed = false;
  #interrupts = 0;
  /** How long the opening handshake took (ms), for the -x barrier. */
  #handshakeMs = 0;
  // -x: messages are answers only once MESSAGE was sent; it waits for `wanted` of them.
  #answering = false;
  #answers = 0;
  readonly #wanted: number;
  #enough: (() => void) | undefined;
  readonly #answered: Promise<"answer">;
  readonly #closed: Promise<[number, string]>;

  constructor(io: CliProcess, options: CliOptions, out: Output, client: Client) {
    this.#io = io;
    this.#options = options;
    this.#out = out;
    this.#client = client;
    this.#session = options.execute === undefined && !options.ping;
    this.#wanted = options.count ?? (options.wait > 0 ? Infinity : 1);
    this.#answered = new Promise<"answer">((resolve) => this.#enough = () => resolve("answer"));
    this.#closed = new Promise<[number, string]>((resolve) =>
      client.once("close", (code, reason) => resolve([code, reason]))
    );
    client.on("open", () => this.#onOpen());
    client.on("message", (data) => this.#onMessage(data));
    for (const kind of ["ping", "pong"] as const) {
      client.on(kind, (data) => {
        if (out.json) out.event({ event: kind, hex: toHex(data) });
        else if (options.verbose) {
          out.line("stdout", out.paint("stdout", "yellow", `< ${kind} ${describePayload(data)}`));
        }
      });
    }
    client.on("error", (error) => this.#onError(error));
    client.on("close", (code, reason) => this.#onClose(code, reason));
  }

  /** Connects, then runs `-x`, `--ping` or the session; resolves with the exit status. */
  async run(): Promise<number> {
    // Ctrl-C: close cleanly; twice: drop the connection.
    const onInterrupt = () => this.#interrupt();
    const offSignals = [this.#io.onSignal("SIGINT", onInterrupt), this.#io.onSignal("SIGTERM", onInterrupt)];
    const started = Date.now();
    this.#client.startConnection();
    const opened = await this.#client.opened.then(() => true, () => false);
    this.#handshakeMs = Date.now() - started;
    if (!opened) {
      // Nothing to run.
    } else if (this.#options.execute !== undefined) {
      await this.#runExecute(this.#options.execute);
    } else if (this.#options.ping) {
      await this.#runPing();
    } else {
      this.#readInput().catch((error) => {
        this.#fail(`Cannot read the input: ${(error as Error).message}`);
        this.#startClose(1000);
      });
    }
    const [code] = await this.#closed;
    offSignals.forEach((off) => off());
    return this.#status(code);
  }

  #fail(message: string, details: string[] = [], extra: Record<string, unknown> = {}): void {
    report(this.#out, message, details, extra);
  }

  #startClose(code = 1000, reason = ""): void {
    if (this.#client.readyState === "connecting") this.#client.closeConnection(code, reason);
    else if (this.#client.closeConnection(code, reason)) this.#ourCode = code;
  }

  #status(code: number): number {
    if (this.#interrupts >= 2) return 130;
    if (!this.#opened || this.#failed || code === 1006) return 1;
    return CLEAN_CODES.includes(code) || code === this.#ourCode ? 0 : 1;
  }

  #interrupt(): void {
    this.#interrupts++;
    if (this.#interrupts === 1 && this.#client.readyState === "open") {
      if (!this.#out.json) this.#out.info(this.#out.paint("stderr", "dim", "Closing… (Ctrl-C again to quit at once)"));
      this.#startClose(1000);
    } else {
      this.#client.terminate();
      this.#interrupts = Math.max(this.#interrupts, 2);
    }
  }

  /** The summary of the handshake: status, subprotocol, extensions (and with -v the headers). */
  #onOpen(): void {
    const out = this.#out;
    const client = this.#client;
    this.#opened = true;
    const response = client.response!;
    const extensions = extensionsOf(client);
    if (out.json) {
      out.event({
        event: "open",
        url: client.url.href,
        status: response.status,
        statusText: response.statusText,
        protocol: client.protocol,
        extensions,
        headers: Object.fromEntries(response.headers),
      });
      return;
    }
    const lines = [
      `${out.paint("stderr", "green", "Connected to")} ${client.url.href} (${response.status} ${response.statusText})`,
    ];
    if (client.protocol !== null) lines.push(`  subprotocol: ${client.protocol}`);
    if (extensions !== "") lines.push(`  extensions: ${extensions}`);
    if (this.#options.verbose) {
      lines.push("  response headers:");
      for (const [name, value] of response.headers) lines.push(`    ${name}: ${out.remote("stderr", value)}`);
    }
    if (out.promptMode) {
      lines.push(out.paint("stderr", "dim", "Type a message and press Enter to send it; /help lists the commands."));
    }
    out.lines("stderr", lines);
  }

  #onMessage(data: string | Uint8Array): void {
    const out = this.#out;
    if (!this.#session && (!this.#answering || this.#answers >= this.#wanted)) return this.#onSkipped(data);
    if (!this.#session && ++this.#answers === this.#wanted) this.#enough!();
    if (out.json) {
      out.event(
        typeof data === "string"
          ? { event: "message", type: "text", data }
          : { event: "message", type: "binary", length: data.length, hex: toHex(data) },
      );
    } else {
      out.message(data, out.promptMode ? "< " : "");
    }
  }

  /**
   * --ping, and -x before its send (a greeting) or after its answers: a message
   * not shown as an answer; -v and --json tell what was left out.
   */
  #onSkipped(data: string | Uint8Array): void {
    const out = this.#out;
    if (out.json) {
      out.event(
        typeof data === "string"
          ? { event: "skipped", type: "text", data }
          : { event: "skipped", type: "binary", length: data.length, hex: toHex(data) },
      );
    } else if (this.#options.verbose) {
      const what = typeof data === "string" ? JSON.stringify(data) : `binary, ${data.length} bytes`;
      const why = this.#options.ping ? "not a pong" : this.#answering ? "after the answers" : "before the send";
      out.line("stderr", out.paint("stderr", "dim", out.remote("stderr", `(${why}, left out: ${what})`)));
    }
  }

  /** An error; before the open, with the HTTP answer's first lines and a TLS hint. */
  #onError(error: Error): void {
    if (this.#opened) return this.#fail(error.message);
    const out = this.#out;
    const response = this.#client.response;
    const details: string[] = [];
    const extra: Record<string, unknown> = {};
    if (response !== null && response.status !== 101) {
      details.push(`  HTTP ${response.status} ${out.remote("stderr", response.statusText)}`);
      for (const line of bodyLines(response.body)) details.push(`  | ${out.remote("stderr", line)}`);
      extra.status = response.status;
      extra.statusText = response.statusText;
      extra.body = new TextDecoder().decode(response.body);
    }
    if (this.#client.url.protocol === "wss:" && isCertificateError(error.message)) {
      details.push(
        "hint: the server's TLS certificate was not accepted. --ca FILE trusts the CA that signed it;",
        "      --insecure skips the check (for testing only).",
      );
    }
    this.#fail(error.message, details, extra);
  }

  #onClose(code: number, reason: string): void {
    const out = this.#out;
    out.endPrompt();
    if (out.json) return out.event({ event: "close", code, reason });
    if (!this.#opened) {
      // A failure was reported as an error already; an interruption was not.
      if (this.#interrupts > 0) out.info("Interrupted before the connection opened.");
      return;
    }
    const clean = code !== 1006 && (CLEAN_CODES.includes(code) || code === this.#ourCode);
    const text = `Closed: ${code} (${closeCodeName(code)})${reason === "" ? "" : ` ${JSON.stringify(reason)}`}`;
    out.line("stderr", out.paint("stderr", clean ? "green" : "yellow", out.remote("stderr", text)));
  }

  /** -x MESSAGE: sends it, waits for the answers, reports too few; the close is started. */
  async #runExecute(message: string): Promise<void> {
    const options = this.#options;
    const wanted = this.#wanted;
    const outcome = await this.#execute(message);
    const count = wanted === Infinity ? "" : ` of ${wanted}`;
    const within = `within ${seconds(options.wait > 0 ? options.wait : options.timeout)}`;
    if (outcome === "timeout") this.#startClose(1000);
    if (outcome === "answer" || this.#answers >= (wanted === Infinity ? 1 : wanted)) return;
    this.#failed = true;
    if (outcome === "unsent") {
      // said already
    } else if (this.#answers === 0) {
      this.#fail(outcome === "timeout" ? `No answer ${within}` : "The connection closed before the answer came");
    } else {
      this.#fail(
        outcome === "timeout"
          ? `Only ${this.#answers}${count} answers ${within}`
          : `The connection closed after ${this.#answers}${count} answers`,
      );
    }
  }

  /**
   * -x: a ping first, and MESSAGE once its pong is back. A server answers a
   * ping after it read it, and so after everything it sent before reading
   * anything from us (a greeting on open, say): TCP keeps the order, so those
   * messages arrive before the pong and are left out. Then the answers: until
   * `wanted` came, the connection closed, or the time is up (`--wait`, else
   * `--timeout`). The caller starts the close.
   */
  async #execute(message: string): Promise<Outcome> {
    const client = this.#client;
    const options = this.#options;
    const pong = client.ping().then(() => "pong" as const, () => "pong" as const);
    const [barrier, cancelBarrier] = timer(Math.max(BARRIER_MS, BARRIER_HANDSHAKES * this.#handshakeMs));
    if (await Promise.race([pong, barrier, this.#closed]) === "timeout") {
      // A process that was not scheduled for a while finds the timer due and
      // the pong already in its socket: one turn of the event loop reads it.
      const [turn] = timer(0);
      await Promise.race([pong, turn, this.#closed]);
    }
    cancelBarrier();
    if (client.readyState !== "open") return "closed";
    this.#answering = true;
    let sent: boolean;
    try {
      sent = options.binary ? client.sendBinary(encoder.encode(message)) : client.sendText(message);
    } catch (error) {
      this.#fail(`Cannot send: ${(error as Error).message}`);
      this.#startClose(1000);
      return "unsent";
    }
    if (!sent) {
      this.#fail("Cannot send: the connection is closing");
      return "unsent";
    }
    if (this.#wanted === 0) {
      this.#startClose(1000);
      return "answer";
    }
    const [timeout, cancel] = timer(options.wait > 0 ? options.wait : options.timeout);
    const outcome = await Promise.race([this.#answered, this.#closed.then(() => "closed" as const), timeout]);
    cancel();
    if (outcome === "answer") this.#startClose(1000);
    return outcome;
  }

  /** --ping: one round trip, its time shown; the close is started. */
  async #runPing(): Promise<void> {
    const out = this.#out;
    const timeoutMs = this.#options.timeout;
    const [timeout, cancel] = timer(timeoutMs);
    const outcome = await Promise.race([
      this.#client.ping().then((rtt) => {
        if (out.json) out.event({ event: "rtt", ms: rtt });
        else out.line("stdout", `pong: ${formatMs(rtt)}`);
        this.#startClose(1000);
        return "answer" as const;
      }, () => "error" as const),
      this.#closed.then(() => "closed" as const),
      timeout,
    ]);
    cancel();
    if (outcome === "timeout") {
      this.#failed = true;
      this.#fail(`No pong within ${seconds(timeoutMs)}`);
      this.#startClose(1000);
    } else if (outcome === "closed" || outcome === "error") {
      this.#failed = true;
      this.#fail("The connection closed before the pong came");
    }
  }

  /** The session: each line of input is a message (or a slash command); the end of input closes. */
  async #readInput(): Promise<void> {
    const out = this.#out;
    const client = this.#client;
    const slash = this.#options.slash ?? this.#io.stdinIsTerminal;
    out.prompt();
    for await (const line of this.#io.lines()) {
      out.promptTaken();
      if (client.readyState !== "open") {
        if (client.readyState === "closing") this.#fail("Cannot send: the connection is closing");
        continue;
      }
      await this.#command(slash ? parseCommand(line) : { kind: "text", text: line });
      if (client.readyState === "open") out.prompt();
    }
    // The end of input (Ctrl-D on a terminal).
    out.endPrompt();
    if (client.readyState !== "open") return;
    if (this.#options.wait > 0) {
      const [waited, cancel] = timer(this.#options.wait);
      await Promise.race([waited, this.#closed]);
      cancel();
    }
    this.#startClose(1000);
  }

  async #send(text: string | Uint8Array): Promise<void> {
    const client = this.#client;
    try {
      if (typeof text !== "string") client.sendBinary(text);
      else if (this.#options.binary) client.sendBinary(encoder.encode(text));
      else client.sendText(text);
    } catch (error) {
      return this.#fail(`Cannot send: ${(error as Error).message}`);
    }
    await client.drained(); // a big file is sent no faster than the server takes it
  }

  async #command(command: Command): Promise<void> {
    const out = this.#out;
    switch (command.kind) {
      case "text":
        return await this.#send(command.text);
      case "binary":
        return await this.#send(command.bytes);
      case "ping":
        try {
          this.#client.ping(command.data).then((rtt) => {
            if (out.json) out.event({ event: "rtt", ms: rtt });
            else out.line("stdout", `pong: ${formatMs(rtt)}`);
          }, () => {});
        } catch (error) {
          this.#fail(`/ping: ${(error as Error).message}`);
        }
        return;
      case "close":
        try {
          this.#startClose(command.code, command.reason);
        } catch (error) {
          this.#fail(`/close: ${(error as Error).message}`);
        }
        return;
      case "quit":
        return this.#startClose(1000);
      case "help":
        return out.lines("stderr", [...COMMAND_HELP]);
      case "invalid":
        return this.#fail(command.message);
    }
  }
}

/**
 * `wsd URL`: connect, show the handshake, then an interactive session (lines
 * in, messages out), or `-x` (one message, its first answer) or `--ping` (one
 * round trip). Resolves with the exit status.
 *
 * ```text
 *   read --ca → makeClient (bad URL/option: status 2) → startConnection
 *     └─ failed: error (status, first lines of an HTTP error body, TLS hint) → 1
 *     └─ open: summary on stderr, then
 *          -x      ping; pong (or 1 s) → send; the answer(s) after the send; close 1000
 *          --ping  ping, RTT, close 1000 (data messages left out)
 *          else    each input line → a message (or a slash command); end of input → close 1000
 *     └─ close: code and reason on stderr → 0 if clean, else 1 (130: interrupted twice)
 * ```
 *
 * @module
 */

import { makeClient } from "../driver/client.ts";
import type { Client, ClientOptions } from "../driver/client.ts";
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
 * How long `-x` waits for the pong of its barrier ping before it sends anyway
 * (a server that answers no ping would otherwise never get the message).
 */
const BARRIER_MS = 1000;

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

/** Runs `wsd URL …`; resolves with the exit status. */
export async function runClient(io: CliProcess, options: CliOptions): Promise<number> {
  const session = options.execute === undefined && !options.ping;
  const out = new Output(io, { json: options.json, prompt: session && io.stdinIsTerminal && io.stdoutIsTerminal });
  const slash = options.slash ?? io.stdinIsTerminal;

  const fail = (message: string, details: string[] = [], extra: Record<string, unknown> = {}): void => {
    if (out.json) out.event({ event: "error", message, ...extra });
    else out.error(message, details);
  };

  // ── the options of the client ──
  let caCerts: string[] | undefined;
  if (options.ca !== undefined) {
    let pem: string;
    try {
      pem = await io.readTextFile(options.ca);
    } catch (error) {
      fail(`Cannot read the CA file ${options.ca}: ${(error as Error).message}`);
      return 2;
    }
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      fail(`Cannot use the CA file ${options.ca}: it holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
      return 2;
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

  let client: Client;
  try {
    client = makeClient(options.url, clientOptions);
  } catch (error) {
    const message = (error as Error).message;
    const hint = !options.url.includes("://") && message.includes("URL")
      ? [`hint: a URL starts with ws:// or wss://, as in ws://${options.url}`]
      : [];
    fail(message, hint);
    return 2;
  }

  // ── events ──
  let opened = false;
  /** The code of the close we started, if we did. */
  let ourCode: number | null = null;
  /** Set when the outcome is a failure whatever the close code (-x without answer). */
  let failed = false;
  let interrupts = 0;
  // -x: messages are answers only once MESSAGE was sent; it waits for `wanted` of them.
  let answering = false;
  let answers = 0;
  const wanted = options.count ?? (options.wait > 0 ? Infinity : 1);
  let enough: (() => void) | undefined;
  const answered = new Promise<"answer">((resolve) => enough = () => resolve("answer"));
  const closed = new Promise<[number, string]>((resolve) =>
    client.once("close", (code, reason) => resolve([code, reason]))
  );

  const startClose = (code = 1000, reason = ""): void => {
    if (client.readyState === "connecting") client.closeConnection(code, reason);
    else if (client.closeConnection(code, reason)) ourCode = code;
  };

  client.on("open", () => {
    opened = true;
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
    if (options.verbose) {
      lines.push("  response headers:");
      for (const [name, value] of response.headers) lines.push(`    ${name}: ${out.remote("stderr", value)}`);
    }
    if (out.promptMode) {
      lines.push(out.paint("stderr", "dim", "Type a message and press Enter to send it; /help lists the commands."));
    }
    out.lines("stderr", lines);
  });

  client.on("message", (data) => {
    if (!session && (!answering || answers >= wanted)) {
      // --ping, and -x before its send (a greeting) or after its answers: not shown
      // as answers; -v and --json tell what was left out.
      if (out.json) {
        out.event(
          typeof data === "string"
            ? { event: "skipped", type: "text", data }
            : { event: "skipped", type: "binary", length: data.length, hex: toHex(data) },
        );
      } else if (options.verbose) {
        const what = typeof data === "string" ? JSON.stringify(data) : `binary, ${data.length} bytes`;
        const why = options.ping ? "not a pong" : answering ? "after the answers" : "before the send";
        out.line("stderr", out.paint("stderr", "dim", out.remote("stderr", `(${why}, left out: ${what})`)));
      }
      return;
    }
    if (!session && ++answers === wanted) enough!();
    if (out.json) {
      out.event(
        typeof data === "string"
          ? { event: "message", type: "text", data }
          : { event: "message", type: "binary", length: data.length, hex: toHex(data) },
      );
    } else {
      out.message(data, out.promptMode ? "< " : "");
    }
  });

  for (const kind of ["ping", "pong"] as const) {
    client.on(kind, (data) => {
      if (out.json) out.event({ event: kind, hex: toHex(data) });
      else if (options.verbose) out.line("stdout", out.paint("stdout", "yellow", `< ${kind} ${describePayload(data)}`));
    });
  }

  client.on("error", (error) => {
    if (opened) return fail(error.message);
    const response = client.response;
    const details: string[] = [];
    const extra: Record<string, unknown> = {};
    if (response !== null && response.status !== 101) {
      details.push(`  HTTP ${response.status} ${out.remote("stderr", response.statusText)}`);
      for (const line of bodyLines(response.body)) details.push(`  | ${out.remote("stderr", line)}`);
      extra.status = response.status;
      extra.statusText = response.statusText;
      extra.body = new TextDecoder().decode(response.body);
    }
    if (client.url.protocol === "wss:" && isCertificateError(error.message)) {
      details.push(
        "hint: the server's TLS certificate was not accepted. --ca FILE trusts the CA that signed it;",
        "      --insecure skips the check (for testing only).",
      );
    }
    fail(error.message, details, extra);
  });

  client.on("close", (code, reason) => {
    out.endPrompt();
    if (out.json) return out.event({ event: "close", code, reason });
    if (!opened) {
      // A failure was reported as an error already; an interruption was not.
      if (interrupts > 0) out.info("Interrupted before the connection opened.");
      return;
    }
    const clean = code !== 1006 && (CLEAN_CODES.includes(code) || code === ourCode);
    const text = `Closed: ${code} (${closeCodeName(code)})${reason === "" ? "" : ` ${JSON.stringify(reason)}`}`;
    out.line("stderr", out.paint("stderr", clean ? "green" : "yellow", out.remote("stderr", text)));
  });

  // ── Ctrl-C: close cleanly; twice: drop the connection ──
  const onInterrupt = () => {
    interrupts++;
    if (interrupts === 1 && client.readyState === "open") {
      if (!out.json) out.info(out.paint("stderr", "dim", "Closing… (Ctrl-C again to quit at once)"));
      startClose(1000);
    } else {
      client.terminate();
      interrupts = Math.max(interrupts, 2);
    }
  };
  const offSignals = [io.onSignal("SIGINT", onInterrupt), io.onSignal("SIGTERM", onInterrupt)];

  /**
   * -x: a ping first, and MESSAGE once its pong is back. A server answers a
   * ping after it read it, and so after everything it sent before reading
   * anything from us (a greeting on open, say): TCP keeps the order, so those
   * messages arrive before the pong and are left out. Then the answers: until
   * `wanted` came, the connection closed, or the time is up (`--wait`, else
   * `--timeout`). The caller starts the close.
   */
  const execute = async (message: string): Promise<"answer" | "closed" | "timeout" | "unsent"> => {
    const [barrier, cancelBarrier] = timer(BARRIER_MS);
    await Promise.race([client.ping().catch(() => {}), barrier, closed]);
    cancelBarrier();
    if (client.readyState !== "open") return "closed";
    answering = true;
    let sent: boolean;
    try {
      sent = options.binary ? client.sendBinary(encoder.encode(message)) : client.sendText(message);
    } catch (error) {
      fail(`Cannot send: ${(error as Error).message}`);
      startClose(1000);
      return "unsent";
    }
    if (!sent) {
      fail("Cannot send: the connection is closing");
      return "unsent";
    }
    if (wanted === 0) {
      startClose(1000);
      return "answer";
    }
    const [timeout, cancel] = timer(options.wait > 0 ? options.wait : options.timeout);
    const outcome = await Promise.race([answered, closed.then(() => "closed" as const), timeout]);
    cancel();
    if (outcome === "answer") startClose(1000);
    return outcome;
  };

  const status = (code: number): number => {
    if (interrupts >= 2) return 130;
    if (!opened || failed || code === 1006) return 1;
    return CLEAN_CODES.includes(code) || code === ourCode ? 0 : 1;
  };

  client.startConnection();
  if (!(await client.opened.then(() => true, () => false))) {
    const [code] = await closed;
    offSignals.forEach((off) => off());
    return status(code);
  }

  // ── -x and --ping ──
  if (options.execute !== undefined) {
    const outcome = await execute(options.execute);
    const count = wanted === Infinity ? "" : ` of ${wanted}`;
    const within = `within ${seconds(options.wait > 0 ? options.wait : options.timeout)}`;
    if (outcome === "timeout") startClose(1000);
    if (outcome !== "answer" && answers < (wanted === Infinity ? 1 : wanted)) {
      failed = true;
      if (outcome === "unsent") {
        // said already
      } else if (answers === 0) {
        fail(outcome === "timeout" ? `No answer ${within}` : "The connection closed before the answer came");
      } else {
        fail(
          outcome === "timeout"
            ? `Only ${answers}${count} answers ${within}`
            : `The connection closed after ${answers}${count} answers`,
        );
      }
    }
    const [code] = await closed;
    offSignals.forEach((off) => off());
    return status(code);
  }
  if (options.ping) {
    const [timeout, cancel] = timer(options.timeout);
    const outcome = await Promise.race([
      client.ping().then((rtt) => {
        if (out.json) out.event({ event: "rtt", ms: rtt });
        else out.line("stdout", `pong: ${formatMs(rtt)}`);
        startClose(1000);
        return "answer" as const;
      }, () => "error" as const),
      closed.then(() => "closed" as const),
      timeout,
    ]);
    cancel();
    if (outcome === "timeout") {
      failed = true;
      fail(`No pong within ${seconds(options.timeout)}`);
      startClose(1000);
    } else if (outcome === "closed" || outcome === "error") {
      failed = true;
      fail("The connection closed before the pong came");
    }
    const [code] = await closed;
    offSignals.forEach((off) => off());
    return status(code);
  }

  // ── the session ──
  const send = async (text: string | Uint8Array): Promise<void> => {
    try {
      if (typeof text !== "string") client.sendBinary(text);
      else if (options.binary) client.sendBinary(encoder.encode(text));
      else client.sendText(text);
    } catch (error) {
      return fail(`Cannot send: ${(error as Error).message}`);
    }
    await client.drained(); // a big file is sent no faster than the server takes it
  };

  const run = async (command: Command): Promise<void> => {
    switch (command.kind) {
      case "text":
        return await send(command.text);
      case "binary":
        return await send(command.bytes);
      case "ping":
        try {
          client.ping(command.data).then((rtt) => {
            if (out.json) out.event({ event: "rtt", ms: rtt });
            else out.line("stdout", `pong: ${formatMs(rtt)}`);
          }, () => {});
        } catch (error) {
          fail(`/ping: ${(error as Error).message}`);
        }
        return;
      case "close":
        try {
          startClose(command.code, command.reason);
        } catch (error) {
          fail(`/close: ${(error as Error).message}`);
        }
        return;
      case "quit":
        return startClose(1000);
      case "help":
        return out.lines("stderr", [...COMMAND_HELP]);
      case "invalid":
        return fail(command.message);
    }
  };

  const input = async (): Promise<void> => {
    out.prompt();
    for await (const line of io.lines()) {
      out.promptTaken();
      if (client.readyState !== "open") {
        if (client.readyState === "closing") fail("Cannot send: the connection is closing");
        continue;
      }
      await run(slash ? parseCommand(line) : { kind: "text", text: line });
      if (client.readyState === "open") out.prompt();
    }
    // The end of input (Ctrl-D on a terminal).
    out.endPrompt();
    if (client.readyState !== "open") return;
    if (options.wait > 0) {
      const [waited, cancel] = timer(options.wait);
      await Promise.race([waited, closed]);
      cancel();
    }
    startClose(1000);
  };
  input().catch((error) => {
    fail(`Cannot read the input: ${(error as Error).message}`);
    startClose(1000);
  });

  const [code] = await closed;
  offSignals.forEach((off) => off());
  return status(code);
}

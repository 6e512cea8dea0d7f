/**
 * `wsd --listen PORT`: a WebSocket server on the runtime's default backend
 * (`serve()`'s tcp backend) that prints each connection, message and close;
 * `--echo` sends every message back. Lines of input (and slash commands) go
 * to every open connection. Runs until Ctrl-C (or SIGTERM), then closes every
 * connection with 1001 and exits 0.
 *
 * @module
 */

import { serve } from "../server/serve.ts";
import { makeServer } from "../server/server.ts";
import type { Server, ServerOptions } from "../server/server.ts";
import type { CliProcess } from "../runtime/process.ts";
import type { CliOptions } from "./args.ts";
import { COMMAND_HELP, parseCommand } from "./commands.ts";
import type { Command } from "./commands.ts";
import { extensionsOf } from "./connect.ts";
import { closeCodeName, describePayload, formatMs, toHex } from "./format.ts";
import { Output } from "./output.ts";

const encoder = new TextEncoder();

/** Reports a failure: an "error" event with `--json`, else a message on stderr. */
function report(out: Output, message: string): void {
  if (out.json) out.event({ event: "error", message });
  else out.error(message);
}

/** The options of every connection's `Server`. */
function serverOptionsOf(options: CliOptions): ServerOptions & { perMessageDeflate?: boolean } {
  const serverOptions: ServerOptions & { perMessageDeflate?: boolean } = { acceptProtocols: options.protocols };
  if (options.maxLength !== undefined) serverOptions.maxLength = options.maxLength;
  if (options.deflate) serverOptions.perMessageDeflate = true;
  return serverOptions;
}

/** `--cert` and `--key` read and checked to be PEM; `undefined` without them. Throws an Error to show. */
async function readTls(io: CliProcess, options: CliOptions): Promise<{ cert: string; key: string } | undefined> {
  if (options.cert === undefined || options.key === undefined) return undefined;
  const read = async (option: string, path: string) => {
    try {
      return await io.readTextFile(path);
    } catch (error) {
      throw new Error(`Cannot read --${option} ${path}: ${(error as Error).message}`);
    }
  };
  const tls = { cert: await read("cert", options.cert), key: await read("key", options.key) };
  for (const [option, text] of [["cert", tls.cert], ["key", tls.key]]) {
    if (!text.includes("-----BEGIN ")) {
      throw new Error(`Invalid --${option}: ${options[option as "cert"]} is not PEM`);
    }
  }
  return tls;
}

/** Runs `wsd --listen PORT …`; resolves with the exit status. */
export async function runListen(io: CliProcess, options: CliOptions): Promise<number> {
  const out = new Output(io, { json: options.json, prompt: io.stdinIsTerminal && io.stdoutIsTerminal });
  const serverOptions = serverOptionsOf(options);
  // Caught here rather than in every request: an option the library refuses.
  try {
    makeServer(new Request("http://localhost/"), serverOptions);
  } catch (error) {
    report(out, (error as Error).message);
    return 2;
  }
  let tls: { cert: string; key: string } | undefined;
  try {
    tls = await readTls(io, options);
  } catch (error) {
    report(out, (error as Error).message);
    return 2;
  }
  return await new Listener(io, options, out, serverOptions).run(tls);
}

/** The server of `wsd --listen`: every connection shown, lines of input sent to all of them. */
class Listener {
  readonly #io: CliProcess;
  readonly #options: CliOptions;
  readonly #out: Output;
  readonly #serverOptions: ServerOptions;
  /** The open connections, by number. */
  readonly #open = new Map<number, Server>();
  #count = 0;
  #server: ReturnType<typeof serve> | undefined;
  readonly #stopped = Promise.withResolvers<number>();
  #stopping = false;

  constructor(io: CliProcess, options: CliOptions, out: Output, serverOptions: ServerOptions) {
    this.#io = io;
    this.#options = options;
    this.#out = out;
    this.#serverOptions = serverOptions;
  }

  /** Listens until Ctrl-C (or SIGTERM, or /quit); resolves with the exit status. */
  async run(tls: { cert: string; key: string } | undefined): Promise<number> {
    const options = this.#options;
    const server = serve(
      (request, info) => this.#accept(request, info),
      { port: options.port, hostname: options.host, ...tls },
    );
    this.#server = server;
    let addr;
    try {
      addr = await server.ready;
    } catch (error) {
      // serve()'s error already names the address ("Cannot listen on H:P: …").
      report(this.#out, (error as Error).message);
      return 1;
    }
    this.#announce(addr, tls !== undefined);
    const stop = () => this.#stop();
    const offSignals = [this.#io.onSignal("SIGINT", stop), this.#io.onSignal("SIGTERM", stop)];
    this.#readInput().catch(() => {});
    const code = await this.#stopped.promise;
    offSignals.forEach((off) => off());
    return code;
  }

  #tag(id: number): string {
    return this.#out.paint("stderr", "bold", `#${id}`);
  }

  #announce(addr: { hostname: string; port: number }, secure: boolean): void {
    const out = this.#out;
    const anyHost = addr.hostname === "0.0.0.0" || addr.hostname === "::";
    const host = anyHost ? "localhost" : addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    const url = `${secure ? "wss" : "ws"}://${host}:${addr.port}/`;
    if (out.json) {
      out.event({ event: "listening", url, hostname: addr.hostname, port: addr.port });
    } else {
      out.lines("stderr", [
        `${out.paint("stderr", "green", "Listening on")} ${url}${anyHost ? ` (all interfaces)` : ""}` +
        `${this.#options.echo ? ", echoing" : ""}; Ctrl-C stops.`,
        ...(out.promptMode
          ? [out.paint("stderr", "dim", "Lines typed go to every connection; /help lists the commands.")]
          : []),
      ]);
    }
  }

  #stop(): void {
    if (this.#stopping) return this.#stopped.resolve(130);
    this.#stopping = true;
    this.#out.endPrompt();
    if (!this.#out.json) {
      this.#out.info(this.#out.paint("stderr", "dim", "Stopping: closing every connection with 1001…"));
    }
    this.#server!.close().then(() => this.#stopped.resolve(0));
  }

  /** serve()'s handler: one more connection, its events shown. */
  #accept(request: Request, info: { remoteAddr: { hostname: string; port: number } }): Promise<Response> | Response {
    const id = ++this.#count;
    const ws = makeServer(request, this.#serverOptions);
    const path = new URL(request.url).pathname + new URL(request.url).search;
    const remote = `${
      info.remoteAddr.hostname.includes(":") ? `[${info.remoteAddr.hostname}]` : info.remoteAddr.hostname
    }:${info.remoteAddr.port}`;
    this.#show(ws, { id, method: request.method, path, remote });
    return ws.startConnection();
  }

  /** Shows the events of connection `id`, which asked `method path` from `remote`. */
  #show(ws: Server, { id, method, path, remote }: { id: number; method: string; path: string; remote: string }): void {
    const out = this.#out;
    const options = this.#options;
    let opened = false;
    ws.on("open", () => {
      opened = true;
      this.#open.set(id, ws);
      const extensions = extensionsOf(ws);
      if (out.json) {
        return out.event({ event: "open", id, remote, path, protocol: ws.protocol, extensions });
      }
      let line = `${this.#tag(id)} ${out.paint("stderr", "green", "connected")} from ${remote}: ${
        out.remote("stderr", path)
      }`;
      if (ws.protocol !== null) line += `, subprotocol ${ws.protocol}`;
      if (extensions !== "") line += `, extensions ${extensions}`;
      out.line("stderr", line);
    });
    ws.on("message", (data) => {
      if (out.json) {
        out.event(
          typeof data === "string"
            ? { event: "message", id, type: "text", data }
            : { event: "message", id, type: "binary", length: data.length, hex: toHex(data) },
        );
      } else {
        out.message(data, `#${id} < `);
      }
      if (options.echo && ws.readyState === "open") ws.send(data);
    });
    for (const kind of ["ping", "pong"] as const) {
      ws.on(kind, (data) => {
        if (out.json) out.event({ event: kind, id, hex: toHex(data) });
        else if (options.verbose) {
          out.line("stdout", out.paint("stdout", "yellow", `#${id} < ${kind} ${describePayload(data)}`));
        }
      });
    }
    ws.on("error", (error) => {
      const status = (error as { status?: number }).status;
      const what = opened ? error.message : `refused ${method} ${path} from ${remote}: ${error.message}`;
      if (out.json) out.event({ event: "error", id, message: what, ...(status === undefined ? {} : { status }) });
      else {out.error(
          `${this.#tag(id)} ${out.remote("stderr", what)}${status === undefined ? "" : ` (HTTP ${status})`}`,
        );}
    });
    ws.on("close", (code, reason) => {
      this.#open.delete(id);
      if (!opened) return;
      if (out.json) return out.event({ event: "close", id, code, reason });
      const text = `closed: ${code} (${closeCodeName(code)})${reason === "" ? "" : ` ${JSON.stringify(reason)}`}`;
      out.line("stderr", `${this.#tag(id)} ${out.remote("stderr", text)}`);
    });
  }

  /** Lines of input go to every connection; the end of input does not stop a server. */
  async #readInput(): Promise<void> {
    const out = this.#out;
    const slash = this.#options.slash ?? this.#io.stdinIsTerminal;
    out.prompt();
    for await (const line of this.#io.lines()) {
      out.promptTaken();
      if (this.#stopping) break;
      this.#command(slash ? parseCommand(line) : { kind: "text", text: line });
      if (!this.#stopping) out.prompt();
    }
  }

  /** Does `action` on every open connection, reporting each failure. */
  #each(what: string, action: (ws: Server, id: number) => void): void {
    const out = this.#out;
    if (this.#open.size === 0) {
      report(out, `Cannot ${what}: no open connection`);
      return;
    }
    for (const [id, ws] of this.#open) {
      try {
        action(ws, id);
      } catch (error) {
        if (out.json) out.event({ event: "error", id, message: `Cannot ${what}: ${(error as Error).message}` });
        else out.error(`${this.#tag(id)} cannot ${what}: ${(error as Error).message}`);
      }
    }
  }

  #command(command: Command): void {
    const out = this.#out;
    switch (command.kind) {
      case "text":
        return this.#each(
          "send",
          (ws) => this.#options.binary ? ws.sendBinary(encoder.encode(command.text)) : ws.sendText(command.text),
        );
      case "binary":
        return this.#each("send", (ws) => ws.sendBinary(command.bytes));
      case "ping":
        return this.#each("ping", (ws, id) => {
          ws.ping(command.data).then((rtt) => {
            if (out.json) out.event({ event: "rtt", id, ms: rtt });
            else out.line("stdout", `#${id} pong: ${formatMs(rtt)}`);
          }, () => {});
        });
      case "close":
        return this.#each("close", (ws) => ws.closeConnection(command.code, command.reason));
      case "quit":
        return this.#stop();
      case "help":
        return out.lines("stderr", [
          ...COMMAND_HELP.filter((l) => !l.startsWith("/quit")),
          "/quit                   stop the server (also Ctrl-C)",
        ]);
      case "invalid":
        return report(out, command.message);
    }
  }
}

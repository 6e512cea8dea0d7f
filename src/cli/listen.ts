/**
 * `wsd --listen PORT`: a WebSocket server on the runtime's default backend
 * (`serve()`'s tcp backend) that prints each connection, message and close;
 * `--echo` sends every message back. Lines of input (and slash commands) go
 * to every open connection. Runs until Ctrl-C (or SIGTERM), then closes every
 * connection with 1001 and exits 0.
 *
 * @module
 */

import { serve } from "../driver/serve.ts";
import { makeServer } from "../driver/server.ts";
import type { Server, ServerOptions } from "../driver/server.ts";
import type { CliProcess } from "../runtime/process.ts";
import type { CliOptions } from "./args.ts";
import { COMMAND_HELP, parseCommand } from "./commands.ts";
import type { Command } from "./commands.ts";
import { extensionsOf } from "./connect.ts";
import { closeCodeName, describePayload, formatMs, toHex } from "./format.ts";
import { Output } from "./output.ts";

const encoder = new TextEncoder();

/** Runs `wsd --listen PORT …`; resolves with the exit status. */
export async function runListen(io: CliProcess, options: CliOptions): Promise<number> {
  const out = new Output(io, { json: options.json, prompt: io.stdinIsTerminal && io.stdoutIsTerminal });
  const open = new Map<number, Server>();
  let count = 0;

  const serverOptions: ServerOptions & { perMessageDeflate?: boolean } = { acceptProtocols: options.protocols };
  if (options.maxLength !== undefined) serverOptions.maxLength = options.maxLength;
  if (options.deflate) serverOptions.perMessageDeflate = true;
  // Caught here rather than in every request: an option the library refuses.
  try {
    makeServer(new Request("http://localhost/"), serverOptions);
  } catch (error) {
    const message = (error as Error).message;
    if (out.json) out.event({ event: "error", message });
    else out.error(message);
    return 2;
  }

  const tag = (id: number) => out.paint("stderr", "bold", `#${id}`);

  let tls: { cert: string; key: string } | undefined;
  if (options.cert !== undefined && options.key !== undefined) {
    const read = async (option: string, path: string) => {
      try {
        return await io.readTextFile(path);
      } catch (error) {
        throw new Error(`Cannot read --${option} ${path}: ${(error as Error).message}`);
      }
    };
    try {
      tls = { cert: await read("cert", options.cert), key: await read("key", options.key) };
      for (const [option, text] of [["cert", tls.cert], ["key", tls.key]]) {
        if (!text.includes("-----BEGIN ")) {
          throw new Error(`Invalid --${option}: ${options[option as "cert"]} is not PEM`);
        }
      }
    } catch (error) {
      const message = (error as Error).message;
      if (out.json) out.event({ event: "error", message });
      else out.error(message);
      return 2;
    }
  }

  const server = serve((request, info) => {
    const id = ++count;
    const ws = makeServer(request, serverOptions);
    const path = new URL(request.url).pathname + new URL(request.url).search;
    const remote = `${
      info.remoteAddr.hostname.includes(":") ? `[${info.remoteAddr.hostname}]` : info.remoteAddr.hostname
    }:${info.remoteAddr.port}`;
    let opened = false;
    ws.on("open", () => {
      opened = true;
      open.set(id, ws);
      const extensions = extensionsOf(ws);
      if (out.json) {
        return out.event({ event: "open", id, remote, path, protocol: ws.protocol, extensions });
      }
      let line = `${tag(id)} ${out.paint("stderr", "green", "connected")} from ${remote}: ${
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
      const what = opened ? error.message : `refused ${request.method} ${path} from ${remote}: ${error.message}`;
      if (out.json) out.event({ event: "error", id, message: what, ...(status === undefined ? {} : { status }) });
      else out.error(`${tag(id)} ${out.remote("stderr", what)}${status === undefined ? "" : ` (HTTP ${status})`}`);
    });
    ws.on("close", (code, reason) => {
      open.delete(id);
      if (!opened) return;
      if (out.json) return out.event({ event: "close", id, code, reason });
      const text = `closed: ${code} (${closeCodeName(code)})${reason === "" ? "" : ` ${JSON.stringify(reason)}`}`;
      out.line("stderr", `${tag(id)} ${out.remote("stderr", text)}`);
    });
    return ws.startConnection();
  }, { port: options.port, hostname: options.host, ...tls });

  let addr;
  try {
    addr = await server.ready;
  } catch (error) {
    // serve()'s error already names the address ("Cannot listen on H:P: …").
    const message = (error as Error).message;
    if (out.json) out.event({ event: "error", message });
    else out.error(message);
    return 1;
  }
  const anyHost = addr.hostname === "0.0.0.0" || addr.hostname === "::";
  const host = anyHost ? "localhost" : addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `${tls === undefined ? "ws" : "wss"}://${host}:${addr.port}/`;
  if (out.json) {
    out.event({ event: "listening", url, hostname: addr.hostname, port: addr.port });
  } else {
    out.lines("stderr", [
      `${out.paint("stderr", "green", "Listening on")} ${url}${anyHost ? ` (all interfaces)` : ""}` +
      `${options.echo ? ", echoing" : ""}; Ctrl-C stops.`,
      ...(out.promptMode
        ? [out.paint("stderr", "dim", "Lines typed go to every connection; /help lists the commands.")]
        : []),
    ]);
  }

  const stopped = Promise.withResolvers<number>();
  let stopping = false;
  const stop = () => {
    if (stopping) return stopped.resolve(130);
    stopping = true;
    out.endPrompt();
    if (!out.json) out.info(out.paint("stderr", "dim", "Stopping: closing every connection with 1001…"));
    server.close().then(() => stopped.resolve(0));
  };
  const offSignals = [io.onSignal("SIGINT", stop), io.onSignal("SIGTERM", stop)];

  // ── lines of input go to every connection ──
  const each = (what: string, action: (ws: Server, id: number) => void): void => {
    if (open.size === 0) {
      if (out.json) out.event({ event: "error", message: `Cannot ${what}: no open connection` });
      else out.error(`Cannot ${what}: no open connection`);
      return;
    }
    for (const [id, ws] of open) {
      try {
        action(ws, id);
      } catch (error) {
        if (out.json) out.event({ event: "error", id, message: `Cannot ${what}: ${(error as Error).message}` });
        else out.error(`${tag(id)} cannot ${what}: ${(error as Error).message}`);
      }
    }
  };
  const run = (command: Command): void => {
    switch (command.kind) {
      case "text":
        return each(
          "send",
          (ws) => options.binary ? ws.sendBinary(encoder.encode(command.text)) : ws.sendText(command.text),
        );
      case "binary":
        return each("send", (ws) => ws.sendBinary(command.bytes));
      case "ping":
        return each("ping", (ws, id) => {
          ws.ping(command.data).then((rtt) => {
            if (out.json) out.event({ event: "rtt", id, ms: rtt });
            else out.line("stdout", `#${id} pong: ${formatMs(rtt)}`);
          }, () => {});
        });
      case "close":
        return each("close", (ws) => ws.closeConnection(command.code, command.reason));
      case "quit":
        return stop();
      case "help":
        return out.lines("stderr", [
          ...COMMAND_HELP.filter((l) => !l.startsWith("/quit")),
          "/quit                   stop the server (also Ctrl-C)",
        ]);
      case "invalid":
        if (out.json) out.event({ event: "error", message: command.message });
        else out.error(command.message);
        return;
    }
  };
  const slash = options.slash ?? io.stdinIsTerminal;
  (async () => {
    out.prompt();
    for await (const line of io.lines()) {
      out.promptTaken();
      if (stopping) break;
      run(slash ? parseCommand(line) : { kind: "text", text: line });
      if (!stopping) out.prompt();
    }
    // The end of input does not stop a server.
  })().catch(() => {});

  const code = await stopped.promise;
  offSignals.forEach((off) => off());
  return code;
}

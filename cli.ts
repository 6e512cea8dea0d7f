/**
 * `wsd`: talk to any WebSocket server, or run one, from the terminal; the same
 * tool on Deno, Node and Bun.
 *
 * ```sh
 * deno run -A jsr:@x/wsd/cli ws://localhost:5000/echo     # connect, then type lines
 * deno run -A jsr:@x/wsd/cli -x hello ws://localhost:5000/echo
 * deno run -A jsr:@x/wsd/cli --listen 5000 --echo          # an echo server
 * node cli.ts URL   bun cli.ts URL   deno task cli URL      # from a checkout
 * ```
 *
 * Connected, each line typed is sent as a text message and each message
 * received is printed (text as is, binary as a hex dump with its length); the
 * handshake, errors, and the close code and reason go to stderr. The exit
 * status is 0 after a clean close and non-zero otherwise. `--help` lists every
 * option (headers, subprotocols, `--deflate`, `--ca`, `--insecure`,
 * `--max-length`, `-x`, `--ping`, `--binary`, `--timeout`, `--json`) and the
 * slash commands of interactive sessions (`/ping`, `/close 4000 bye`,
 * `/binary 00ff`, `/quit`).
 *
 * This module runs the tool when it is imported; it exports nothing.
 *
 * @module
 */

import { cliProcess } from "./src/runtime/process.ts";

const io = await cliProcess();
// Loaded once the process is set up (on Node, with its compile cache on).
const { main } = await import("./src/cli/main.ts");
let status: number;
try {
  status = await main(io);
} catch (error) {
  io.write("stderr", `wsd: internal error: ${(error as Error)?.stack ?? error}\n`);
  status = 70;
}
await io.exit(status);

/**
 * `wsd`, the command-line tool: reads the command line and runs the client
 * (`wsd URL`) or the server (`wsd --listen PORT`). Everything it needs from
 * the runtime comes through a {@linkcode CliProcess}.
 *
 * @module
 */

import type { CliProcess } from "../runtime/process.ts";
import { parseArgs, USAGE, UsageError } from "./args.ts";
import { runClient } from "./connect.ts";
import { runListen } from "./listen.ts";

/** Runs `wsd` with the process's arguments; resolves with the exit status. */
export async function main(io: CliProcess): Promise<number> {
  let options;
  try {
    options = parseArgs(io.args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.write("stderr", `wsd: ${error.message}\nRun "wsd --help" to see the options.\n`);
    return 2;
  }
  if (options.mode === "help") {
    io.write("stdout", USAGE);
    return 0;
  }
  return options.mode === "listen" ? await runListen(io, options) : await runClient(io, options);
}

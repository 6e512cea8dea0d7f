/**
 * The slash commands of an interactive session: parsing, and running them
 * against one connection or, in listen mode, against every connection.
 *
 * @module
 */

import { parseHex } from "./format.ts";

/** A line of input, understood. */
export type Command =
  | { kind: "text"; text: string }
  | { kind: "ping"; data: string | undefined }
  | { kind: "close"; code: number; reason: string }
  | { kind: "binary"; bytes: Uint8Array }
  | { kind: "quit" }
  | { kind: "help" }
  | { kind: "invalid"; message: string };

/** The commands, as `/help` lists them. */
export const COMMAND_HELP: readonly string[] = [
  "/ping [data]            send a ping, print the round-trip time",
  "/close [code] [reason]  start the closing handshake (default 1000)",
  "/binary HEX             send a binary message (/binary 00 01 fe ff)",
  "/quit                   close with 1000 and exit (also Ctrl-D)",
  "/help                   this list",
  '//text                  send the line "/text"',
];

/**
 * Parses a line typed with slash commands on: `/command args`, `//text` (the
 * line `/text`), or plain text.
 */
export function parseCommand(line: string): Command {
  if (!line.startsWith("/")) return { kind: "text", text: line };
  if (line.startsWith("//")) return { kind: "text", text: line.slice(1) };
  const space = line.search(/\s/);
  const name = space < 0 ? line.slice(1) : line.slice(1, space);
  const rest = space < 0 ? "" : line.slice(space + 1);
  switch (name) {
    case "ping":
      return { kind: "ping", data: rest === "" ? undefined : rest };
    case "close": {
      const args = rest.trim();
      if (args === "") return { kind: "close", code: 1000, reason: "" };
      const match = /^(\d+)(?:\s+(.*))?$/s.exec(args);
      if (!match) return { kind: "invalid", message: "usage: /close [code] [reason], as in /close 4000 bye" };
      return { kind: "close", code: Number(match[1]), reason: match[2] ?? "" };
    }
    case "binary":
      try {
        return { kind: "binary", bytes: parseHex(rest) };
      } catch (error) {
        return { kind: "invalid", message: `/binary: ${(error as Error).message}` };
      }
    case "quit":
    case "exit":
      return { kind: "quit" };
    case "help":
    case "?":
      return { kind: "help" };
    default:
      return {
        kind: "invalid",
        message: `unknown command /${name} (/help lists them; //${name} sends the text "/${name}")`,
      };
  }
}

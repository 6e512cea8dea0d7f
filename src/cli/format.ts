/**
 * Pure formatting for the command-line tool: hex dumps, close-code names,
 * colours, making remote text safe for a terminal, and hex input.
 *
 * @module
 */

/** Names of the close codes of RFC 6455 §7.4.1 (and the IANA registry). */
const CLOSE_CODE_NAMES: Record<number, string> = {
  1000: "normal closure",
  1001: "going away",
  1002: "protocol error",
  1003: "unsupported data",
  1005: "no status code",
  1006: "abnormal closure",
  1007: "invalid payload data",
  1008: "policy violation",
  1009: "message too big",
  1010: "mandatory extension",
  1011: "internal error",
  1012: "service restart",
  1013: "try again later",
  1014: "bad gateway",
  1015: "TLS handshake",
};

/**
 * The name of a close code: `"normal closure"` for 1000, `"application"` for
 * 4000–4999, `"registered"` for 3000–3999, else `"unknown"`.
 */
export function closeCodeName(code: number): string {
  return CLOSE_CODE_NAMES[code] ??
    (code >= 4000 && code <= 4999 ? "application" : code >= 3000 && code <= 3999 ? "registered" : "unknown");
}

/** The bytes a hex dump shows at most; the rest is counted. */
export const HEX_DUMP_LIMIT = 4096;

/** `bytes` as lowercase hex digits, no separators. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

/**
 * A dump in the layout of `hexdump -C`: offset, 16 bytes in two groups of 8,
 * and the printable ASCII. Shows at most `limit` bytes, then says how many
 * more there are. One string per line, without newlines.
 */
export function hexDump(bytes: Uint8Array, limit: number = HEX_DUMP_LIMIT): string[] {
  const lines: string[] = [];
  const shown = Math.min(bytes.length, limit);
  for (let at = 0; at < shown; at += 16) {
    const row = bytes.subarray(at, Math.min(at + 16, shown));
    let hex = "";
    let ascii = "";
    for (let i = 0; i < 16; i++) {
      if (i === 8) hex += " ";
      hex += i < row.length ? row[i].toString(16).padStart(2, "0") + " " : "   ";
      if (i < row.length) ascii += row[i] >= 0x20 && row[i] < 0x7f ? String.fromCharCode(row[i]) : ".";
    }
    lines.push(`${at.toString(16).padStart(8, "0")}  ${hex} |${ascii}|`);
  }
  if (bytes.length > shown) lines.push(`… ${bytes.length - shown} more bytes not shown`);
  return lines;
}

/**
 * Parses the hex digits of `/binary`: pairs of digits, optionally separated
 * by spaces or colons, with an optional `0x` prefix.
 *
 * @throws {SyntaxError} saying what is wrong.
 */
export function parseHex(input: string): Uint8Array {
  let digits = input.trim();
  if (digits.startsWith("0x") || digits.startsWith("0X")) digits = digits.slice(2);
  digits = digits.replace(/[\s:]/g, "");
  if (digits === "") throw new SyntaxError("expected hex digits, as in /binary 00 01 fe ff");
  const bad = /[^0-9a-fA-F]/.exec(digits);
  if (bad) throw new SyntaxError(`${JSON.stringify(bad[0])} is not a hex digit`);
  if (digits.length % 2 !== 0) {
    throw new SyntaxError(`odd number of hex digits (${digits.length}): each byte takes two`);
  }
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/**
 * Makes text from the network safe to show on a terminal: control characters
 * (which could move the cursor, change colours or retitle the window) are
 * shown as `\xNN` escapes; newlines and tabs are kept.
 */
export function sanitize(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** The text of a control frame's payload: as text when it is printable UTF-8, else hex. */
export function describePayload(bytes: Uint8Array): string {
  if (bytes.length === 0) return "(empty)";
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    // deno-lint-ignore no-control-regex
    if (!/[\x00-\x1f\x7f-\x9f]/.test(text)) return JSON.stringify(text);
  } catch {
    // not UTF-8
  }
  return `0x${toHex(bytes)}`;
}

/** The SGR styles the tool uses. */
export type Style = "bold" | "dim" | "red" | "green" | "yellow" | "blue" | "magenta" | "cyan";

const SGR: Record<Style, [number, number]> = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
};

/** `text` in `style`, or as is when `enabled` is false. */
export function paint(enabled: boolean, style: Style, text: string): string {
  if (!enabled) return text;
  const [on, off] = SGR[style];
  return `\x1b[${on}m${text}\x1b[${off}m`;
}

/** `text` without SGR colour sequences. */
export function stripColors(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

/**
 * How many terminal rows `line` (no newlines) takes on a terminal `columns`
 * wide. Characters from U+1100 up count as two columns: an overestimate for
 * some, never an underestimate for wide ones (one row too many is harmless;
 * one too few would overwrite the line being typed).
 */
export function rowsOf(line: string, columns: number): number {
  let width = 0;
  for (const char of stripColors(line)) width += char.codePointAt(0)! >= 0x1100 ? 2 : 1;
  return Math.max(1, Math.ceil(width / Math.max(1, columns)));
}

/** Milliseconds as the tool shows them: `0.412 ms`, `12.3 ms`, `1234 ms`. */
export function formatMs(ms: number): string {
  return `${ms < 10 ? ms.toFixed(3) : ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

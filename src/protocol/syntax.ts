/**
 * The small lexical rules several protocol modules share, each in one place:
 * the HTTP `tchar` and `token` (RFC 9110 §5.6.2), base64 (RFC 4648 §4), and how a caller's or a peer's
 * value is quoted back in an error message. Pure functions, no I/O.
 *
 * @module
 */

/**
 * Whether the character code `code` is an RFC 9110 §5.6.2 `tchar`
 * (`!#$%&'*+-.^_`|~`, digits and letters). The one statement of the rule;
 * {@linkcode TCHAR} is made from it.
 *
 * @param code A UTF-16 code unit or a byte.
 * @returns `true` for a `tchar`.
 */
export function isTchar(code: number): boolean {
  // DIGIT, ALPHA
  if ((code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) {
    return true;
  }
  // A switch, not a table: it compiles to compares, which is faster for
  // the string loops (bench/micro/handshake_bench.ts, parseExtensions).
  switch (code) {
    case 0x21: // !
    case 0x23: // #
    case 0x24: // $
    case 0x25: // %
    case 0x26: // &
    case 0x27: // '
    case 0x2a: // *
    case 0x2b: // +
    case 0x2d: // -
    case 0x2e: // .
    case 0x5e: // ^
    case 0x5f: // _
    case 0x60: // `
    case 0x7c: // |
    case 0x7e: // ~
      return true;
    default:
      return false;
  }
}

/**
 * {@linkcode isTchar} as a 256-entry table indexed by byte (1 = tchar), for
 * the byte loops of the HTTP head parser.
 */
export const TCHAR: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let code = 0; code < 256; code++) table[code] = isTchar(code) ? 1 : 0;
  return table;
})();

/**
 * Whether `s` is an RFC 9110 §5.6.2 `token` (RFC 7230 §3.2.6 before it):
 * one or more `tchar`s (`!#$%&'*+-.^_`|~`, digits and letters).
 *
 * @param s The string to check.
 * @returns `true` when `s` is a non-empty token.
 *
 * @example
 * ```ts
 * import { isToken } from "./syntax.ts";
 * console.assert(isToken("chat.v2"));
 * console.assert(!isToken("a b"));
 * console.assert(!isToken(""));
 * ```
 */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    if (!isTchar(s.charCodeAt(i))) return false;
  }
  return true;
}

/** `Uint8Array.prototype.toBase64` (ES2026), where the runtime has it. */
const toBase64 = (Uint8Array.prototype as { toBase64?: (this: Uint8Array) => string }).toBase64;

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * The RFC 4648 §4 base64 of `bytes[0, length)`, with `=` padding.
 *
 * @param bytes The bytes to encode.
 * @param length How many of them (default: all).
 * @returns The base64 text.
 */
export function base64(bytes: Uint8Array, length: number = bytes.length): string {
  // The runtime's own (Deno, Node 26, Bun): one flat string, where the loop
  // below makes a rope of pieces, garbage for every handshake's accept key.
  if (toBase64 !== undefined) return toBase64.call(length === bytes.length ? bytes : bytes.subarray(0, length));
  let out = "";
  const whole = length - (length % 3);
  for (let i = 0; i < whole; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += BASE64[n >>> 18] + BASE64[(n >>> 12) & 63] + BASE64[(n >>> 6) & 63] + BASE64[n & 63];
  }
  if (length - whole === 1) {
    const n = bytes[whole];
    out += BASE64[n >>> 2] + BASE64[(n << 4) & 63] + "==";
  } else if (length - whole === 2) {
    const n = (bytes[whole] << 8) | bytes[whole + 1];
    out += BASE64[n >>> 10] + BASE64[(n >>> 4) & 63] + BASE64[(n << 2) & 63] + "=";
  }
  return out;
}

/** Whether `code` is in the RFC 4648 §4 base64 alphabet (the pad `=` excluded). */
export function isBase64Char(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x30 && code <= 0x39) || code === 0x2b || code === 0x2f;
}

/** Longest value quoted back in an error message: a peer's header value may be 16 KiB. */
const MAX_QUOTED_LENGTH = 64;

/**
 * Quote a value for an error message, JSON style, shortened with `…` past 64
 * characters.
 *
 * @param value The caller's or the peer's value.
 * @returns The quoted text.
 */
export function quote(value: string): string {
  const shown = value.length > MAX_QUOTED_LENGTH ? `${value.slice(0, MAX_QUOTED_LENGTH)}…` : value;
  return JSON.stringify(shown);
}

/**
 * Whether `host` is made only of what `uri-host [ ":" port ]` may contain
 * (RFC 9110 §7.2, RFC 3986 §3.2.2: unreserved, sub-delims, `%`, and `:[]` for
 * ports and IP literals), and is not empty. Nothing in it can then end the
 * authority of the URL it is put in (`/`, `?`, `#`, `@`, `\`, spaces); the
 * URL parser checks the rest.
 */
export function isHost(host: string): boolean {
  if (host.length === 0) return false;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (
      (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x3b) || (c >= 0x41 && c <= 0x5b) || c === 0x5d ||
      c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e || (c >= 0x24 && c <= 0x2c) || c === 0x21 ||
      c === 0x3d
    ) continue;
    return false;
  }
  return true;
}

/**
 * What both sides of the opening handshake share (RFC 6455 §4): the GUID and
 * the accept key, the client's key, the version, the handshake's own header
 * names, and the token-list reader that no regular expression is part of.
 * `handshake.ts` is the documented face; `handshake_server.ts` and
 * `handshake_client.ts` hold each side's checks.
 *
 * @module
 */

import { sha1, sha1Base64 } from "./sha1.ts";
import { base64, isBase64Char, quote } from "./syntax.ts";
import { utf8Encoder } from "./utf8.ts";

/**
 * The GUID that RFC 6455 §1.3 appends to `Sec-WebSocket-Key` before hashing
 * it into `Sec-WebSocket-Accept`.
 *
 * @example
 * ```ts
 * import { WEBSOCKET_GUID } from "./handshake.ts";
 *
 * if (WEBSOCKET_GUID !== "258EAFA5-E914-47DA-95CA-C5AB0DC85B11") throw new Error("RFC 6455 §1.3");
 * ```
 */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The only protocol version this library speaks (RFC 6455 §4.1, §11.6). */
export const WEBSOCKET_VERSION = "13";

/** Handshake headers a server's `additionalHeaders` must not set. */
export const SERVER_RESERVED_HEADERS: readonly string[] = [
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
];

/** Handshake headers a client's `additionalHeaders` must not set. */
export const CLIENT_RESERVED_HEADERS: readonly string[] = [
  ...SERVER_RESERVED_HEADERS,
  "sec-websocket-key",
  "sec-websocket-version",
];

/**
 * Extra header fields, in any form `new Headers()` takes: a `Headers`,
 * `[name, value]` pairs, or a record. The DOM's `HeadersInit`, spelled out so
 * that the published declarations compile without the DOM lib (a Node
 * TypeScript project with `@types/node` has `Headers` but no `HeadersInit`).
 */
export type HeaderFields = Headers | Array<[string, string]> | Record<string, string>;

/**
 * Compute `Sec-WebSocket-Accept` from `Sec-WebSocket-Key`:
 * `base64(SHA-1(key + GUID))` (RFC 6455 §4.2.2, step 5.4).
 *
 * @param key The client's `Sec-WebSocket-Key`.
 * @returns The value of `Sec-WebSocket-Accept`.
 *
 * @example
 * ```ts
 * import { computeAcceptKey } from "@x/wsd/server";
 *
 * const accept = computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ==");
 * if (accept !== "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") throw new Error("RFC 6455 §1.3's example");
 * ```
 */
export function computeAcceptKey(key: string): string {
  // The runtime's one-shot hash where it has a faster one (Node, Bun), for
  // the ASCII keys the hashes agree on (it hashes a string's UTF-8; ours
  // below hashes Latin-1 bytes: only a key no handshake accepts differs).
  if (acceptHash !== null && isAscii(key)) return acceptHash(key + WEBSOCKET_GUID);
  // A valid key is 24 ASCII characters: hashed without allocating.
  return sha1Base64(key, WEBSOCKET_GUID) ?? base64(sha1(utf8Encoder.encode(key + WEBSOCKET_GUID)));
}

/** `base64(SHA-1(UTF-8 of text))`, as a runtime computes it natively. */
export type AcceptHash = (text: string) => string;

let acceptHash: AcceptHash | null = null;

/**
 * Hands the protocol layer the runtime's SHA-1 for the accept key (or `null`
 * for this module's own): on Node and Bun, `crypto.hash("sha1", …,
 * "base64")` takes less than half the time of the JavaScript digest and
 * leaves no garbage (bench/RESULTS.md, "Third round, Node"). The runtime
 * layer installs it once, with its adapter.
 *
 * @example
 * ```ts
 * import { computeAcceptKey, useAcceptHash } from "./handshake_keys.ts";
 *
 * let calls = 0;
 * useAcceptHash((text) => (calls++, text.length === 60 ? "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" : ""));
 * if (computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ==") !== "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" || calls !== 1) {
 *   throw new Error("not used");
 * }
 * useAcceptHash(null); // back to this module's own
 * ```
 */
export function useAcceptHash(hash: AcceptHash | null): void {
  acceptHash = hash;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Generate a fresh `Sec-WebSocket-Key`: the base64 of 16 random bytes
 * (RFC 6455 §4.1, client requirement 7).
 *
 * @returns A 24-character base64 string.
 *
 * @example
 * ```ts
 * import { generateKey } from "@x/wsd/client";
 *
 * const key = generateKey();
 * if (key.length !== 24 || !key.endsWith("==") || key === generateKey()) throw new Error("not a fresh key");
 * ```
 */
export function generateKey(): string {
  return base64(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Whether `key` is a valid `Sec-WebSocket-Key`: the base64 of exactly 16
 * bytes, that is 22 base64 characters followed by `==` (RFC 6455 §4.1,
 * client requirement 7; §11.3.1).
 *
 * @param key The header value.
 * @returns `true` when the key is well formed.
 *
 * @example
 * ```ts
 * import { isValidKey } from "./handshake.ts";
 *
 * if (!isValidKey("dGhlIHNhbXBsZSBub25jZQ==")) throw new Error("valid");
 * if (isValidKey("dGhlIHNhbXBsZSBub25jZQ")) throw new Error("no padding");
 * if (isValidKey("")) throw new Error("empty");
 * ```
 */
export function isValidKey(key: string): boolean {
  // 16 bytes = 128 bits = 21 full sextets + 2 bits, so 22 characters and
  // two padding characters.
  if (key.length !== 24 || key[22] !== "=" || key[23] !== "=") return false;
  for (let i = 0; i < 22; i++) {
    if (!isBase64Char(key.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * Split a header value in the RFC 7230 §7 list syntax (`#element`) into its
 * elements: split on commas, strip optional whitespace (SP and HTAB) around
 * each element, and skip empty elements, as §7 requires recipients to do.
 *
 * The elements are not checked to be tokens: use {@linkcode isToken} for
 * that. Runs in time linear in the length of `value` and never throws.
 *
 * @param value A header value, or `null` when the header is absent.
 * @returns The non-empty elements, in order (empty for `null`).
 *
 * @example
 * ```ts
 * import { parseTokenList } from "./handshake.ts";
 *
 * const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
 * if (!same(parseTokenList("keep-alive, Upgrade"), ["keep-alive", "Upgrade"])) throw new Error("two");
 * if (!same(parseTokenList(" ,a,\t, b ,"), ["a", "b"])) throw new Error("empty elements skipped");
 * if (!same(parseTokenList(null), [])) throw new Error("absent");
 * ```
 */
export function parseTokenList(value: string | null): string[] {
  const result: string[] = [];
  if (value === null) return result;
  // One pass: `start` is the first non-OWS character of the current element
  // (-1 before one is seen), `end` is one past its last non-OWS character.
  let start = -1;
  let end = -1;
  const length = value.length;
  for (let i = 0; i <= length; i++) {
    const code = i < length ? value.charCodeAt(i) : COMMA;
    if (code === COMMA) {
      if (start !== -1) result.push(value.slice(start, end));
      start = -1;
      end = -1;
    } else if (code !== SPACE && code !== HTAB) {
      if (start === -1) start = i;
      end = i + 1;
    }
  }
  return result;
}

/**
 * Whether the list-valued header `value` contains `token`, compared
 * case-insensitively (as for `Connection: keep-alive, Upgrade`, RFC 7230
 * §6.1 and §6.7).
 *
 * @param value A header value, or `null` when the header is absent.
 * @param token The token to look for.
 * @returns `true` when one of the list's elements equals `token`,
 * ignoring ASCII case.
 *
 * @example
 * ```ts
 * import { hasToken } from "./handshake.ts";
 *
 * if (!hasToken("keep-alive, Upgrade", "upgrade")) throw new Error("case-insensitive");
 * if (hasToken("keep-alive", "upgrade") || hasToken(null, "upgrade")) throw new Error("absent");
 * ```
 */
export function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  const wanted = token.toLowerCase();
  // The elements as parseTokenList finds them, compared where they are: no
  // list, slices or lower-case copies (this runs on every handshake).
  let start = -1;
  let end = -1;
  const length = value.length;
  for (let i = 0; i <= length; i++) {
    const code = i < length ? value.charCodeAt(i) : COMMA;
    if (code === COMMA) {
      if (start !== -1 && end - start === wanted.length && equalsAsciiLowerCase(value, start, wanted)) return true;
      start = -1;
      end = -1;
    } else if (code !== SPACE && code !== HTAB) {
      if (start === -1) start = i;
      end = i + 1;
    }
  }
  return false;
}

/** Whether `value` has `lower` at `start`, ignoring ASCII case (the case-insensitivity of RFC 9110 §5.6.2's tokens). */
function equalsAsciiLowerCase(value: string, start: number, lower: string): boolean {
  for (let j = 0; j < lower.length; j++) {
    let code = value.charCodeAt(start + j);
    if (code >= 0x41 && code <= 0x5a) code |= 0x20;
    if (code !== lower.charCodeAt(j)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Helpers both sides use.

const HTAB = 0x09;
const SPACE = 0x20;
const COMMA = 0x2c;

/** Quote a header value for an error message, or say it is missing. */
export function quoteHeader(value: string | null): string {
  return value === null ? "no such header" : quote(value);
}

/** "sec-websocket-accept" → "Sec-WebSocket-Accept", for messages. */
export function canonicalName(lowerName: string): string {
  switch (lowerName) {
    case "sec-websocket-accept":
      return "Sec-WebSocket-Accept";
    case "sec-websocket-protocol":
      return "Sec-WebSocket-Protocol";
    case "sec-websocket-extensions":
      return "Sec-WebSocket-Extensions";
    case "sec-websocket-key":
      return "Sec-WebSocket-Key";
    case "sec-websocket-version":
      return "Sec-WebSocket-Version";
    case "upgrade":
      return "Upgrade";
    case "connection":
      return "Connection";
    default:
      return lowerName;
  }
}

/**
 * UTF-8 for text messages and close reasons: a streaming validator that fails at
 * the first byte that cannot start or continue a valid sequence (RFC 6455 §8.1:
 * fail "as soon as" invalid data is seen), and strict one-shot decoding.
 *
 * @module
 */

/** The validator's state after a byte that would make the input invalid. */
const INVALID = -1;

/**
 * Incremental UTF-8 validation (RFC 3629 §4, the same rules as the WHATWG
 * decoder: no overlong forms, no surrogates, nothing above U+10FFFF). Feed it
 * the message's bytes in any pieces; it answers `false` at the first invalid
 * byte, without waiting for the message to end.
 *
 * @example
 * ```ts
 * import { Utf8Validator } from "./utf8.ts";
 *
 * const v = new Utf8Validator();
 * if (!v.push(new Uint8Array([0xe2, 0x82]))) throw new Error("a sequence may continue");
 * if (!v.push(new Uint8Array([0xac]))) throw new Error('"€" is complete');
 * if (!v.end()) throw new Error("nothing left unfinished");
 * if (v.push(new Uint8Array([0xc0]))) throw new Error("0xc0 never starts a sequence");
 * ```
 */
export class Utf8Validator {
  /** Continuation bytes still expected, or INVALID. */
  #need = 0;
  #lower = 0x80;
  #upper = 0xbf;

  /** Forgets everything, for the next message. */
  reset(): void {
    this.#need = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
  }

  /**
   * Validates the next bytes, XORed with `key` at `phase` when a key is given
   * (so masked payload can be checked before it is unmasked).
   *
   * @returns `false` as soon as a byte makes the input invalid.
   */
  push(bytes: Uint8Array, key?: Uint8Array, phase = 0): boolean {
    let need = this.#need;
    if (need === INVALID) return false;
    let lower = this.#lower, upper = this.#upper;
    const length = bytes.length;
    for (let i = 0; i < length; i++) {
      const b = key === undefined ? bytes[i] : bytes[i] ^ key[(phase + i) & 3];
      if (need === 0) {
        if (b < 0x80) continue;
        if (b >= 0xc2 && b <= 0xdf) {
          need = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
          if (b === 0xe0) lower = 0xa0; // no overlong 3-byte forms
          else if (b === 0xed) upper = 0x9f; // no UTF-16 surrogates
          need = 2;
        } else if (b >= 0xf0 && b <= 0xf4) {
          if (b === 0xf0) lower = 0x90; // no overlong 4-byte forms
          else if (b === 0xf4) upper = 0x8f; // nothing above U+10FFFF
          need = 3;
        } else {
          this.#need = INVALID;
          return false;
        }
      } else {
        if (b < lower || b > upper) {
          this.#need = INVALID;
          return false;
        }
        lower = 0x80;
        upper = 0xbf;
        need--;
      }
    }
    this.#need = need;
    this.#lower = lower;
    this.#upper = upper;
    return true;
  }

  /** @returns `true` if the input so far is valid and no sequence is left unfinished. */
  end(): boolean {
    return this.#need === 0;
  }
}

const strictDecoder = new TextDecoder("utf-8", {
  fatal: true,
  ignoreBOM: true,
});
const looseDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Decodes UTF-8 strictly. A byte order mark is kept as U+FEFF: it is part of the
 * message.
 *
 * @returns The string, or `null` if `bytes` is not valid UTF-8.
 *
 * @example
 * ```ts
 * import { decodeUtf8 } from "./utf8.ts";
 *
 * if (decodeUtf8(new Uint8Array([0x48, 0x69])) !== "Hi") throw new Error("Hi");
 * if (decodeUtf8(new Uint8Array([0xc0, 0x80])) !== null) throw new Error("overlong");
 * ```
 */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * Decodes a whole message strictly, like {@linkcode decodeUtf8}, through the
 * runtime's ASCII decoder (see {@linkcode useAsciiDecoder}) when every byte is
 * ASCII, as in most JSON: for a 64 KiB document, a fatal `TextDecoder` takes
 * 5–10 times as long on Deno and Bun as the ASCII check and a Latin-1 slice
 * together (bench/RESULTS.md, "Compression: where the time goes").
 *
 * @returns The string, or `null` if `bytes` is not valid UTF-8.
 *
 * @example
 * ```ts
 * import { decodeText } from "./utf8.ts";
 *
 * if (decodeText(new TextEncoder().encode("{\"a\":1}".repeat(100))) !== "{\"a\":1}".repeat(100)) throw new Error("json");
 * if (decodeText(new Uint8Array([0xc0, 0x80])) !== null) throw new Error("overlong");
 * ```
 */
export function decodeText(bytes: Uint8Array): string | null {
  const decoder = asciiDecoder;
  if (decoder !== null && isAscii(bytes)) return decoder(bytes, 0, bytes.length);
  return decodeUtf8(bytes);
}

/** How many 32-bit words isAscii() reads between checks (non-ASCII text stops the scan early). */
const ASCII_CHECK_WORDS = 256;

/** Whether every byte is below 0x80: a word at a time where the view is aligned. */
function isAscii(bytes: Uint8Array): boolean {
  const length = bytes.length;
  let bits = 0;
  let i = 0;
  if (length >= 64) {
    const head = (4 - (bytes.byteOffset & 3)) & 3;
    for (; i < head; i++) bits |= bytes[i];
    const count = (length - i) >>> 2;
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset + i, count);
    for (let w = 0; w < count;) {
      const end = Math.min(count, w + ASCII_CHECK_WORDS);
      for (; w < end; w++) bits |= words[w];
      if ((bits & 0x80808080) !== 0) return false;
    }
    i += count * 4;
  }
  for (; i < length; i++) bits |= bytes[i];
  return (bits & 0x80808080) === 0;
}

/**
 * Decodes bytes that were already validated (by {@linkcode Utf8Validator}).
 *
 * @example
 * ```ts
 * import { decodeValidatedUtf8 } from "./utf8.ts";
 *
 * if (decodeValidatedUtf8(new Uint8Array([0x48, 0x69])) !== "Hi") throw new Error("Hi");
 * ```
 */
export function decodeValidatedUtf8(bytes: Uint8Array): string {
  return looseDecoder.decode(bytes);
}

/** Decodes `bytes[start, end)`, all below 0x80, as a string (Latin-1 decoding is enough). */
export type AsciiDecoder = (bytes: Uint8Array, start: number, end: number) => string;

/** The faster decoder of short ASCII text the runtime layer supplied (`installTextDecoders`), if any. */
let asciiDecoder: AsciiDecoder | null = null;

/**
 * Text at most this many bytes long is checked for ASCII and, if it is, given
 * to the runtime's {@linkcode AsciiDecoder}: for short text the check costs
 * less than the fixed cost of a `TextDecoder` call it saves (figures in
 * bench/RESULTS.md).
 */
export const SHORT_ASCII_TEXT = 128;

/**
 * Sets the decoder {@linkcode decodeShortText} uses for ASCII text, or `null`
 * for none. The runtime layer chooses it (the protocol layer names no
 * runtime): a native Latin-1 slice is several times faster than `TextDecoder`
 * for short strings on some runtimes.
 *
 * @example
 * ```ts
 * import { decodeAscii, useAsciiDecoder } from "./utf8.ts";
 *
 * let calls = 0;
 * useAsciiDecoder((bytes, start, end) => (calls++, String.fromCharCode(...bytes.subarray(start, end))));
 * if (decodeAscii(new Uint8Array([0x48, 0x69]), 2) !== "Hi" || calls !== 1) throw new Error("not used");
 * useAsciiDecoder(null); // back to TextDecoder
 * ```
 */
export function useAsciiDecoder(decoder: AsciiDecoder | null): void {
  asciiDecoder = decoder;
}

/**
 * Decodes the first `length` bytes of `bytes` strictly, like
 * {@linkcode decodeUtf8}, through the runtime's ASCII decoder when the text is
 * short and all ASCII.
 *
 * @returns The string, or `null` if the bytes are not valid UTF-8.
 *
 * @example
 * ```ts
 * import { decodeShortText } from "./utf8.ts";
 *
 * if (decodeShortText(new Uint8Array([0x48, 0x69, 0]), 2) !== "Hi") throw new Error("Hi");
 * ```
 */
export function decodeShortText(bytes: Uint8Array, length: number): string | null {
  const decoder = asciiDecoder;
  if (decoder !== null && length <= SHORT_ASCII_TEXT) {
    let bits = 0;
    for (let i = 0; i < length; i++) bits |= bytes[i];
    if (bits < 0x80) return decoder(bytes, 0, length);
  }
  return decodeUtf8(bytes.subarray(0, length));
}

/**
 * Decodes the first `length` bytes of `bytes`, which the caller checked are
 * all ASCII, with the runtime's ASCII decoder if there is one.
 *
 * @example
 * ```ts
 * import { decodeAscii } from "./utf8.ts";
 *
 * if (decodeAscii(new Uint8Array([0x48, 0x69, 0]), 2) !== "Hi") throw new Error("Hi");
 * ```
 */
export function decodeAscii(bytes: Uint8Array, length: number): string {
  const decoder = asciiDecoder;
  return decoder !== null ? decoder(bytes, 0, length) : looseDecoder.decode(bytes.subarray(0, length));
}

/**
 * `bytes[start, end)` as a string through the runtime's ASCII decoder, if
 * there is one and every byte is below 0x80; otherwise `null` (decode them
 * another way). For the short ASCII strings of HTTP heads.
 *
 * @example
 * ```ts
 * import { asciiSlice } from "./utf8.ts";
 *
 * const hi = asciiSlice(new Uint8Array([0x48, 0x69, 0x21]), 0, 2); // "Hi", or null without a runtime decoder
 * if (hi !== "Hi" && hi !== null) throw new Error("Hi");
 * ```
 */
export function asciiSlice(bytes: Uint8Array, start: number, end: number): string | null {
  const decoder = asciiDecoder;
  if (decoder === null) return null;
  let bits = 0;
  for (let i = start; i < end; i++) bits |= bytes[i];
  return bits < 0x80 ? decoder(bytes, start, end) : null;
}

/** A shared encoder: TextEncoder keeps no state between calls. */
export const utf8Encoder: TextEncoder = new TextEncoder();

/** Text payloads at most this long are decoded from a reused buffer. */
export const TEXT_SCRATCH = 16 * 1024;
/**
 * The buffer short text payloads are decoded from, shared by all connections:
 * decoding is synchronous, so no two uses overlap.
 */
let scratch: Uint8Array | null = null;
export function textScratch(): Uint8Array {
  return scratch ??= new Uint8Array(TEXT_SCRATCH);
}

/**
 * Bytes in tests (not a test file): joining, comparing, hex in and out, and a
 * fixed pattern to send, all written here rather than taken from `src/`, so
 * that the library is never its own oracle.
 *
 * @module
 */

const encoder = new TextEncoder();

/** UTF-8 of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Latin-1: each character one byte (throws above U+00FF: a test that wants UTF-8 says so). */
export function latin1(text: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw new Error(`Not Latin-1: U+${code.toString(16).padStart(4, "0")} at ${i}`);
    out[i] = code;
  }
  return out;
}

/** Bytes of a string (UTF-8), or a fresh copy of bytes or of a list of byte values. */
export function bytes(data: string | Uint8Array | number[]): Uint8Array {
  if (typeof data === "string") return encoder.encode(data);
  return Uint8Array.from(data);
}

/** The byte arrays one after the other, in a fresh array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  return concatAll(parts);
}

/** {@linkcode concat} for a list of any length (no spread of a long list into arguments). */
export function concatAll(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Whether two byte arrays hold the same bytes (a plain loop: fast enough for 16 MiB). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * `length` bytes of a fixed pattern that `seed` shifts. The `i >>> 8` term
 * makes every 256-byte block differ from its neighbours, so that blocks
 * dropped, repeated or swapped do not compare equal.
 */
export function pattern(length: number, seed = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed + (i >>> 8)) & 0xff;
  return out;
}

/** ASCII text of exactly `n` bytes (words, digits, spaces and newlines). */
export function asciiText(n: number): string {
  const unit = "The quick brown fox jumps over the lazy dog. 0123456789\n";
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
}

/** `hex("81 05 48 65")` → the bytes; spaces and newlines are ignored. */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "");
  if (digits.length % 2 !== 0 || /[^0-9a-fA-F]/.test(digits)) {
    throw new Error(`Bad hex string: ${JSON.stringify(text)}`);
  }
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

/** The bytes as lower-case hex pairs separated by spaces: `"81 05 48 65"`. */
export function toHex(bytes: Uint8Array): string {
  const parts: string[] = [];
  for (const b of bytes) parts.push(b.toString(16).padStart(2, "0"));
  return parts.join(" ");
}

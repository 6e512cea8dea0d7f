/**
 * A small synchronous SHA-1 (FIPS 180-4 §6.1).
 *
 * The WebSocket opening handshake (RFC 6455 §4.2.2) needs
 * `base64(SHA-1(key + GUID))`. `crypto.subtle.digest` is asynchronous only,
 * and the server must be able to build its `101 Switching Protocols` response
 * synchronously, so the digest lives here. SHA-1 is used for the handshake
 * only; it is not a security primitive in this library.
 *
 * @example
 * ```ts
 * import { sha1 } from "./sha1.ts";
 *
 * const digest = sha1(new TextEncoder().encode("abc"));
 * if (digest.length !== 20) throw new Error("20 bytes");
 * ```
 *
 * @module
 */

import { base64 } from "./syntax.ts";

/** FIPS 180-4 §5.3.1: the initial hash value H(0). */
const H0 = 0x67452301;
const H1 = 0xefcdab89;
const H2 = 0x98badcfe;
const H3 = 0x10325476;
const H4 = 0xc3d2e1f0;

/** FIPS 180-4 §4.2.1: the four round constants. */
const K0 = 0x5a827999;
const K1 = 0x6ed9eba1;
const K2 = 0x8f1bbcdc;
const K3 = 0xca62c1d6;

/** FIPS 180-4 §5.1.1: SHA-1 works on 512-bit (64-byte) blocks. */
const BLOCK_SIZE = 64;

/**
 * Compute the SHA-1 digest of `data` (FIPS 180-4 §6.1.2).
 *
 * Pure and synchronous: `data` is only read, and the result is a new
 * 20-byte array. Any input length is accepted.
 *
 * @param data The message to hash.
 * @returns The 20-byte digest.
 *
 * @example
 * ```ts
 * import { sha1 } from "./sha1.ts";
 *
 * const hex = Array.from(sha1(new TextEncoder().encode("abc")))
 *   .map((b) => b.toString(16).padStart(2, "0"))
 *   .join("");
 * if (hex !== "a9993e364706816aba3e25717850c26c9cd0d89d") throw new Error("FIPS 180-4 example");
 * ```
 */
export function sha1(data: Uint8Array): Uint8Array {
  const state = digest(data, data.length);
  // FIPS 180-4 §6.1.2 step 4: the digest is H0 || H1 || H2 || H3 || H4.
  const out = new Uint8Array(20);
  for (let i = 0; i < 5; i++) writeUint32BE(out, i * 4, state[i]);
  return out;
}

/**
 * The SHA-1 digest of the concatenation of `a` and `b`, in base64: what the
 * opening handshake needs (`Sec-WebSocket-Accept`), without allocating
 * anything but the result. Only for Latin-1 strings (every char code below
 * 256; the handshake's are ASCII) that fit in two blocks with their padding:
 * for others it returns `null` (hash their bytes with {@linkcode sha1}).
 *
 * @example
 * ```ts
 * import { sha1Base64 } from "./sha1.ts";
 *
 * const accept = sha1Base64("dGhlIHNhbXBsZSBub25jZQ==", "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
 * if (accept !== "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") throw new Error("RFC 6455 §1.3's example");
 * ```
 */
export function sha1Base64(a: string, b: string): string | null {
  const length = a.length + b.length;
  if (length > 2 * BLOCK_SIZE - 9) return null;
  let bad = 0;
  for (let i = 0; i < a.length; i++) bad |= scratch[i] = a.charCodeAt(i);
  for (let i = 0; i < b.length; i++) bad |= scratch[a.length + i] = b.charCodeAt(i);
  if (bad > 0xff) return null;
  const state = digest(scratch, length);
  for (let i = 0; i < 5; i++) writeUint32BE(digestBytes, i * 4, state[i]);
  return base64(digestBytes);
}

/** The message schedule W0..W79, reused: hashing is synchronous. */
const schedule = new Uint32Array(80);
/** Two blocks of padded tail (or a short message), reused. */
const scratch = new Uint8Array(2 * BLOCK_SIZE);
/** The hash state, reused. */
const hashState = new Uint32Array(5);
/** The digest of {@linkcode sha1Base64}, reused. */
const digestBytes = new Uint8Array(20);

/**
 * The one SHA-1 computation both faces share (FIPS 180-4 §6.1.2): hashes
 * `data[0, length)` (which may be `scratch` itself) into `hashState`.
 */
function digest(data: Uint8Array, length: number): Uint32Array {
  const state = hashState;
  state[0] = H0;
  state[1] = H1;
  state[2] = H2;
  state[3] = H3;
  state[4] = H4;
  const fullBlocksEnd = length - (length % BLOCK_SIZE);
  for (let offset = 0; offset < fullBlocksEnd; offset += BLOCK_SIZE) {
    processBlock(state, schedule, data, offset);
  }
  // FIPS 180-4 §5.1.1: append the bit "1", then k zero bits, then the
  // message length in bits as a 64-bit big-endian integer, so that the
  // padded length is a multiple of 512 bits. The tail (0..63 bytes) plus
  // the 9 bytes of padding needs one block when it is at most 55 bytes,
  // two blocks otherwise.
  const tailLength = length - fullBlocksEnd;
  const paddedLength = tailLength < 56 ? BLOCK_SIZE : 2 * BLOCK_SIZE;
  const tail = scratch;
  // (`set` copies correctly when `data` is `scratch` itself.)
  if (data !== tail || fullBlocksEnd !== 0) tail.set(data.subarray(fullBlocksEnd, length), 0);
  tail.fill(0, tailLength, paddedLength);
  tail[tailLength] = 0x80;
  // The bit length may exceed 2^32: split it into two 32-bit words
  // without going through 32-bit integer arithmetic for the high part.
  writeUint32BE(tail, paddedLength - 8, Math.floor(length / 0x20000000));
  writeUint32BE(tail, paddedLength - 4, (length << 3) >>> 0);
  for (let offset = 0; offset < paddedLength; offset += BLOCK_SIZE) {
    processBlock(state, schedule, tail, offset);
  }
  return state;
}

/** Hash one 64-byte block of `bytes` at `offset` into `state`. */
function processBlock(
  state: Uint32Array,
  w: Uint32Array,
  bytes: Uint8Array,
  offset: number,
): void {
  // FIPS 180-4 §6.1.2 step 1: prepare the message schedule.
  for (let t = 0; t < 16; t++) {
    const i = offset + t * 4;
    w[t] = (bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) |
      bytes[i + 3];
  }
  for (let t = 16; t < 80; t++) {
    const x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
    w[t] = (x << 1) | (x >>> 31);
  }

  // Steps 2 and 3: the 80 rounds, with f and K from §4.1.1 and §4.2.1.
  let a = state[0];
  let b = state[1];
  let c = state[2];
  let d = state[3];
  let e = state[4];
  for (let t = 0; t < 80; t++) {
    let f: number;
    let k: number;
    if (t < 20) {
      f = (b & c) | (~b & d); // Ch
      k = K0;
    } else if (t < 40) {
      f = b ^ c ^ d; // Parity
      k = K1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d); // Maj
      k = K2;
    } else {
      f = b ^ c ^ d; // Parity
      k = K3;
    }
    const temp = (((a << 5) | (a >>> 27)) + f + e + k + w[t]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = temp;
  }

  // Step 4: compute the intermediate hash value (Uint32Array wraps mod 2^32).
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  state[4] += e;
}

/** Write `value` as a 32-bit big-endian integer at `offset`. */
function writeUint32BE(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}

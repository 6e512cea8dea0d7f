/**
 * WebSocket frames in tests (not a test file): an encoder and a decoder of
 * RFC 6455 §5.2 frames written here, independently of `src/protocol`, so that
 * the library is never its own oracle. The encoder can also build what a
 * correct peer never sends (non-minimal lengths, a false 7-bit length, any
 * RSV bits), for the tests of what the library must refuse.
 *
 * @module
 */

import { concat, utf8 } from "./bytes.ts";

/** Opcodes, spelled out here so that tests do not trust the library's table. */
export const OP = {
  CONT: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** XOR with a 4-byte key, the naive way (RFC 6455 §5.3), from key byte `phase`. Returns a fresh array. */
export function naiveMask(
  data: Uint8Array,
  key: Uint8Array,
  phase = 0,
): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ^ key[(phase + i) % 4];
  return out;
}

/** Options of {@linkcode encodeFrame} and {@linkcode frameHeader}. */
export interface FrameOptions {
  /** The FIN bit. @default {true} */
  fin?: boolean;
  /** The RSV bits as they sit in the first byte (0x40, 0x20, 0x10). @default {0} */
  rsv?: number;
  /** The masking key, or null for an unmasked frame. @default {null} */
  mask?: Uint8Array | null;
  /** Forces a length form, minimal or not. @default {the minimal one} */
  lengthForm?: 7 | 16 | 64;
  /** Writes this into the 7-bit length field instead of the length (for broken frames). */
  rawLength?: number;
}

/** Only the header of a frame whose payload has `length` bytes (with its masking key, if any). */
export function frameHeader(
  opcode: number,
  length: number,
  options: FrameOptions = {},
): Uint8Array {
  const { fin = true, rsv = 0, mask = null } = options;
  const n = length;
  const form = options.lengthForm ?? (n < 126 ? 7 : n < 0x10000 ? 16 : 64);
  const head: number[] = [(fin ? 0x80 : 0) | rsv | opcode];
  const maskBit = mask ? 0x80 : 0;
  if (form === 7) {
    head.push(maskBit | (options.rawLength ?? n));
  } else if (form === 16) {
    head.push(maskBit | 126, (n >>> 8) & 0xff, n & 0xff);
  } else {
    head.push(maskBit | 127);
    const high = Math.floor(n / 2 ** 32);
    for (let s = 24; s >= 0; s -= 8) head.push((high >>> s) & 0xff);
    for (let s = 24; s >= 0; s -= 8) head.push((n >>> s) & 0xff);
  }
  if (mask) head.push(...mask);
  return new Uint8Array(head);
}

/** One frame of `data` (a string is sent as its UTF-8), masked when `options.mask` is a key. */
export function encodeFrame(
  opcode: number,
  data: string | Uint8Array,
  options: FrameOptions = {},
): Uint8Array {
  const payload = typeof data === "string" ? utf8(data) : data;
  const head = frameHeader(opcode, payload.length, options);
  return concat(head, options.mask ? naiveMask(payload, options.mask) : payload);
}

/** A close frame's payload: the code in network order, then the reason (a string is sent as its UTF-8). */
export function closePayload(
  code: number,
  reason: string | Uint8Array = "",
): Uint8Array {
  const r = typeof reason === "string" ? utf8(reason) : reason;
  return concat(new Uint8Array([code >>> 8, code & 0xff]), r);
}

/** A frame as {@linkcode decodeFrame} and {@linkcode parseFrames} decode it. */
export interface WireFrame {
  fin: boolean;
  /** The RSV bits as they sit in the first byte (0x40 is RSV1). */
  rsv: number;
  opcode: number;
  masked: boolean;
  /** The masking key, or null when not masked. */
  key: Uint8Array | null;
  /** The payload, unmasked. */
  payload: Uint8Array;
  /** The header bytes, masking key included. */
  header: Uint8Array;
  /** The size of the whole frame on the wire. */
  size: number;
}

/** Decodes the frame at the start of `bytes`, or returns null if it is not all there. */
export function decodeFrame(bytes: Uint8Array): WireFrame | null {
  if (bytes.length < 2) return null;
  const b0 = bytes[0], b1 = bytes[1];
  let length = b1 & 0x7f;
  let at = 2;
  if (length === 126) {
    if (bytes.length < 4) return null;
    length = (bytes[2] << 8) | bytes[3];
    at = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return null;
    length = 0;
    for (let i = 2; i < 10; i++) length = length * 256 + bytes[i];
    at = 10;
  }
  const masked = (b1 & 0x80) !== 0;
  let key: Uint8Array | null = null;
  if (masked) {
    if (bytes.length < at + 4) return null;
    key = bytes.slice(at, at + 4);
    at += 4;
  }
  if (bytes.length < at + length) return null;
  const raw = bytes.slice(at, at + length);
  return {
    fin: (b0 & 0x80) !== 0,
    rsv: b0 & 0x70,
    opcode: b0 & 0x0f,
    masked,
    key,
    payload: key ? naiveMask(raw, key) : raw,
    header: bytes.slice(0, at),
    size: at + length,
  };
}

/** Decodes every frame of `bytes`; throws if the last one is not all there. */
export function parseFrames(bytes: Uint8Array): WireFrame[] {
  const frames: WireFrame[] = [];
  let at = 0;
  while (at < bytes.length) {
    const frame = decodeFrame(bytes.subarray(at));
    if (frame === null) {
      throw new Error(`Incomplete frame at byte ${at} of ${bytes.length}`);
    }
    frames.push(frame);
    at += frame.size;
  }
  return frames;
}

/** Decodes the complete frames at the start of `bytes`, and leaves a frame not all there yet alone. */
export function completeFrames(bytes: Uint8Array): WireFrame[] {
  const frames: WireFrame[] = [];
  for (let at = 0;;) {
    const frame = decodeFrame(bytes.subarray(at));
    if (frame === null) return frames;
    frames.push(frame);
    at += frame.size;
  }
}

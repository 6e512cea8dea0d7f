/**
 * The validity of a received frame's first two bytes (RFC 6455 §5.2, §5.4,
 * §5.5; RFC 7692 §6.1), in one place: every rule a header can break, checked
 * in a fixed order, with the stable error type each one raises. The parser
 * (`protocol.ts`) calls it once per frame and fails the connection on what it
 * returns.
 *
 * @module
 */

import { MAX_CONTROL_PAYLOAD, Opcode } from "./constants.ts";
import type { ProtocolErrorType } from "./errors.ts";
import { FIN, RSV1, RSV2, RSV3 } from "./frame.ts";

/** A continuation frame (opcode 0x0). */
const CONTINUATION = 0;
/** The first frame of a message (text 0x1, binary 0x2). */
const MESSAGE_START = 1;
/** A control frame (close 0x8, ping 0x9, pong 0xA). */
const CONTROL = 2;
/** A reserved data opcode (0x3–0x7). */
const RESERVED_DATA = 3;
/** A reserved control opcode (0xB–0xF). */
const RESERVED_CONTROL = 4;

/** What each of the 16 opcodes is (RFC 6455 §5.2, §11.8). */
const OPCODE_KIND: Uint8Array = Uint8Array.of(
  CONTINUATION,
  MESSAGE_START,
  MESSAGE_START,
  RESERVED_DATA,
  RESERVED_DATA,
  RESERVED_DATA,
  RESERVED_DATA,
  RESERVED_DATA,
  CONTROL,
  CONTROL,
  CONTROL,
  RESERVED_CONTROL,
  RESERVED_CONTROL,
  RESERVED_CONTROL,
  RESERVED_CONTROL,
  RESERVED_CONTROL,
);

/** A rule a frame header broke. */
export interface HeaderViolation {
  /** The stable error type (its close code is in `CLOSE_CODES`). */
  type: ProtocolErrorType;
  /** What was wrong, in English. */
  message: string;
}

/**
 * Checks the first two bytes of a received frame.
 *
 * @param b0 FIN, RSV1–3 and the opcode.
 * @param b1 The mask bit and the 7-bit length.
 * @param client Whether the receiving end is the client (it expects unmasked frames).
 * @param compression Whether permessage-deflate was negotiated (RSV1 then marks a compressed message).
 * @param inMessage Whether a fragmented message is being received.
 * @returns `null` for a valid header, else the first rule it broke.
 */
export function checkHeader(
  b0: number,
  b1: number,
  client: boolean,
  compression: boolean,
  inMessage: boolean,
): HeaderViolation | null {
  const opcode = b0 & 0x0f;
  // RFC 6455 §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated".
  if ((b0 & (RSV1 | RSV2 | RSV3)) !== 0) {
    if ((b0 & (RSV2 | RSV3)) !== 0 || !compression) {
      return violation("WSD_ERR_RESERVED_BITS", "Invalid frame header: RSV bits set without a negotiated extension");
    }
    // RFC 7692 §6.1: RSV1 marks a compressed message, on its first frame only.
    if (opcode === Opcode.CONTINUATION || opcode >= Opcode.CLOSE) {
      return violation(
        "WSD_ERR_RESERVED_BITS",
        `Invalid frame header: RSV1 set on a ${opcode === Opcode.CONTINUATION ? "continuation" : "control"} frame`,
      );
    }
  }
  switch (OPCODE_KIND[opcode]) {
    case CONTROL:
      // RFC 6455 §5.5: "Control frames MUST NOT be fragmented" and carry at most 125 bytes.
      if ((b0 & FIN) === 0) {
        return violation("WSD_ERR_CONTROL_FRAGMENTED", "Invalid control frame: FIN must be set");
      }
      if ((b1 & 0x7f) > MAX_CONTROL_PAYLOAD) {
        return violation("WSD_ERR_CONTROL_TOO_LONG", "Invalid control frame: the payload is longer than 125 bytes");
      }
      break;
    case CONTINUATION:
      if (!inMessage) {
        return violation(
          "WSD_ERR_UNEXPECTED_CONTINUATION",
          "Invalid frame: a continuation frame with no message to continue",
        );
      }
      break;
    case MESSAGE_START:
      if (inMessage) {
        return violation(
          "WSD_ERR_EXPECTED_CONTINUATION",
          "Invalid frame: a new message started before the fragmented one ended",
        );
      }
      break;
    default:
      return violation("WSD_ERR_INVALID_OPCODE", `Invalid frame: reserved opcode 0x${opcode.toString(16)}`);
  }
  // RFC 6455 §5.1: clients mask every frame, servers none.
  if (((b1 & 0x80) !== 0) === client) {
    return client
      ? violation("WSD_ERR_MASK_UNEXPECTED", "Invalid frame: a server must not mask its frames")
      : violation("WSD_ERR_MASK_EXPECTED", "Invalid frame: a client must mask its frames");
  }
  return null;
}

/**
 * Reads a 64-bit payload length (RFC 6455 §5.2) at `bytes[at, at + 8)`.
 *
 * @param bytes The bytes holding the length.
 * @param at Where it starts.
 * @returns The length, or -1 when its most significant bit is set ("MUST be 0").
 */
export function readLength64(bytes: Uint8Array, at: number): number {
  const high = ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
  const low = ((bytes[at + 4] << 24) | (bytes[at + 5] << 16) | (bytes[at + 6] << 8) | bytes[at + 7]) >>> 0;
  if (high >= 0x80000000) return -1;
  return high * 0x100000000 + low;
}

/**
 * The most payload bytes a message may have on the wire: `maxLength`, plus,
 * for a compressed one, the few bytes by which DEFLATE can exceed its input
 * (stored blocks: 5 per 64 KiB), so that a message within the limit is never
 * refused for its compressed size. Its inflated size is held to `maxLength`
 * while inflating.
 *
 * @param maxLength The connection's `maxLength`.
 * @param compressed Whether the message is compressed.
 */
export function wireLimit(maxLength: number, compressed: boolean): number {
  return compressed ? maxLength + Math.ceil(maxLength / 16384) * 5 + 64 : maxLength;
}

/**
 * The validity of a frame's payload length (RFC 6455 §5.2): the most
 * significant bit of a 64-bit one is 0 (`readLength64` gave -1 otherwise), an
 * extended one is at least `least` (the shortest encoding), and a data
 * frame's adds up with its message to at most {@linkcode wireLimit}.
 *
 * @param length The length read (-1: its top bit was set).
 * @param least 126 for a 16-bit length, 0x10000 for a 64-bit one, 0 for a 7-bit one.
 * @param before The bytes of the message before this frame, or -1 for a control frame (not held to `maxLength`).
 * @param maxLength The connection's `maxLength`.
 * @param compressed Whether the message is compressed.
 */
export function checkLength(
  length: number,
  least: number,
  before: number,
  maxLength: number,
  compressed: boolean,
): HeaderViolation | null {
  if (length < 0) {
    return violation(
      "WSD_ERR_LENGTH_TOP_BIT",
      "Invalid frame length: the most significant bit of a 64-bit length must be 0",
    );
  }
  if (length < least) {
    return violation(
      "WSD_ERR_NON_MINIMAL_LENGTH",
      `Invalid frame length: ${length} must use the shortest length encoding`,
    );
  }
  if (before >= 0 && before + length > wireLimit(maxLength, compressed)) {
    return violation("WSD_ERR_MESSAGE_TOO_BIG", `Message too big: more than the limit of ${maxLength} bytes`);
  }
  return null;
}

function violation(type: ProtocolErrorType, message: string): HeaderViolation {
  return { type, message };
}

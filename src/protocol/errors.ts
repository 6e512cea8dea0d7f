/**
 * The error a protocol violation raises, and the table of its stable codes.
 *
 * @module
 */

/**
 * Stable identifiers of every protocol violation, with the close code each one
 * causes. The identifiers never change between releases; match on them rather
 * than on messages.
 *
 * | type | close code | cause |
 * |---|---|---|
 * | `WSD_ERR_RESERVED_BITS` | 1002 | RSV1–3 set with no extension that claims them; RSV1 on a control or continuation frame |
 * | `WSD_ERR_INVALID_OPCODE` | 1002 | a reserved opcode (3–7, 0xB–0xF) |
 * | `WSD_ERR_MASK_EXPECTED` | 1002 | a client sent an unmasked frame |
 * | `WSD_ERR_MASK_UNEXPECTED` | 1002 | a server sent a masked frame |
 * | `WSD_ERR_NON_MINIMAL_LENGTH` | 1002 | a length in a longer form than needed |
 * | `WSD_ERR_LENGTH_TOP_BIT` | 1002 | a 64-bit length with its most significant bit set |
 * | `WSD_ERR_CONTROL_TOO_LONG` | 1002 | a control frame over 125 bytes |
 * | `WSD_ERR_CONTROL_FRAGMENTED` | 1002 | a control frame without FIN |
 * | `WSD_ERR_UNEXPECTED_CONTINUATION` | 1002 | a continuation frame with no message to continue |
 * | `WSD_ERR_EXPECTED_CONTINUATION` | 1002 | a new data frame inside a fragmented message |
 * | `WSD_ERR_CLOSE_PAYLOAD_LENGTH` | 1002 | a close frame with a 1-byte payload |
 * | `WSD_ERR_INVALID_CLOSE_CODE` | 1002 | a close code that may not appear on the wire |
 * | `WSD_ERR_INVALID_UTF8` | 1007 | a text message or close reason that is not UTF-8 |
 * | `WSD_ERR_INVALID_COMPRESSED_DATA` | 1007 | a compressed message that does not inflate (permessage-deflate) |
 * | `WSD_ERR_MESSAGE_TOO_BIG` | 1009 | a message over `maxLength` |
 * | `WSD_ERR_HEARTBEAT_TIMEOUT` | 1006 | no answer within the heartbeat's timeout (the connection is dropped) |
 */
export type ProtocolErrorType =
  | "WSD_ERR_RESERVED_BITS"
  | "WSD_ERR_INVALID_OPCODE"
  | "WSD_ERR_MASK_EXPECTED"
  | "WSD_ERR_MASK_UNEXPECTED"
  | "WSD_ERR_NON_MINIMAL_LENGTH"
  | "WSD_ERR_LENGTH_TOP_BIT"
  | "WSD_ERR_CONTROL_TOO_LONG"
  | "WSD_ERR_CONTROL_FRAGMENTED"
  | "WSD_ERR_UNEXPECTED_CONTINUATION"
  | "WSD_ERR_EXPECTED_CONTINUATION"
  | "WSD_ERR_CLOSE_PAYLOAD_LENGTH"
  | "WSD_ERR_INVALID_CLOSE_CODE"
  | "WSD_ERR_INVALID_UTF8"
  | "WSD_ERR_INVALID_COMPRESSED_DATA"
  | "WSD_ERR_MESSAGE_TOO_BIG"
  | "WSD_ERR_HEARTBEAT_TIMEOUT";

/**
 * A violation of RFC 6455 by the peer. The connection that saw it is closed with
 * {@linkcode ProtocolError.code}; the `error` event receives this object just
 * before the `close` event.
 *
 * @example Telling violations apart
 * ```ts
 * import { ProtocolError } from "@x/wsd";
 *
 * const err = new ProtocolError("WSD_ERR_INVALID_UTF8", 1007, "Invalid UTF-8 in a text message");
 * console.assert(err.code === 1007 && err.type === "WSD_ERR_INVALID_UTF8");
 * ```
 */
export class ProtocolError extends Error {
  /** The close code this violation causes (1002, 1007, 1009, …). */
  readonly code: number;
  /** A stable identifier of the violation, see {@linkcode ProtocolErrorType}. */
  readonly type: ProtocolErrorType;

  /**
   * Creates a protocol error.
   *
   * @param type The stable identifier.
   * @param code The close code the violation causes.
   * @param message What the peer did wrong, in English.
   */
  constructor(type: ProtocolErrorType, code: number, message: string) {
    super(message);
    this.name = "ProtocolError";
    this.type = type;
    this.code = code;
  }
}

/**
 * The close code each violation causes: the table above, as data, so that the
 * one failure funnel needs only the type.
 */
export const CLOSE_CODES: Readonly<Record<ProtocolErrorType, number>> = Object.freeze({
  WSD_ERR_RESERVED_BITS: 1002,
  WSD_ERR_INVALID_OPCODE: 1002,
  WSD_ERR_MASK_EXPECTED: 1002,
  WSD_ERR_MASK_UNEXPECTED: 1002,
  WSD_ERR_NON_MINIMAL_LENGTH: 1002,
  WSD_ERR_LENGTH_TOP_BIT: 1002,
  WSD_ERR_CONTROL_TOO_LONG: 1002,
  WSD_ERR_CONTROL_FRAGMENTED: 1002,
  WSD_ERR_UNEXPECTED_CONTINUATION: 1002,
  WSD_ERR_EXPECTED_CONTINUATION: 1002,
  WSD_ERR_CLOSE_PAYLOAD_LENGTH: 1002,
  WSD_ERR_INVALID_CLOSE_CODE: 1002,
  WSD_ERR_INVALID_UTF8: 1007,
  WSD_ERR_INVALID_COMPRESSED_DATA: 1007,
  WSD_ERR_MESSAGE_TOO_BIG: 1009,
  WSD_ERR_HEARTBEAT_TIMEOUT: 1006,
});

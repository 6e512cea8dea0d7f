/**
 * Numbers of RFC 6455 and the limits this library applies by default.
 *
 * @module
 */

/** Which end of the connection this is: servers read masked frames, clients send them. */
export type Role = "server" | "client";

/** Opcodes of RFC 6455 §5.2. */
export const Opcode = {
  /** A continuation frame of a fragmented message. */
  CONTINUATION: 0x0,
  /** The first (or only) frame of a text message. */
  TEXT: 0x1,
  /** The first (or only) frame of a binary message. */
  BINARY: 0x2,
  /** A close frame. */
  CLOSE: 0x8,
  /** A ping frame. */
  PING: 0x9,
  /** A pong frame. */
  PONG: 0xa,
} as const;

/** Close status codes of RFC 6455 §7.4.1 and the IANA registry. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Reserved: never on the wire. Reported when a close frame had no code. */
  NO_STATUS: 1005,
  /** Reserved: never on the wire. Reported when the connection dropped without a close frame. */
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
} as const;

/**
 * The default limit on the size of one message, in bytes: 0x3ffffff (64 MiB - 1),
 * the Common Lisp websocket-driver's default. A larger message closes the
 * connection with 1009.
 */
export const DEFAULT_MAX_LENGTH = 0x3ffffff;

/** RFC 6455 §5.5: control frames carry at most 125 bytes of payload. */
export const MAX_CONTROL_PAYLOAD = 125;

/**
 * RFC 6455 §5.5.1: a close reason must fit in a control frame after the 2-byte
 * code.
 */
export const MAX_CLOSE_REASON_BYTES = MAX_CONTROL_PAYLOAD - 2;

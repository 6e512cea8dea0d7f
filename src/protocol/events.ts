/**
 * What goes into and comes out of `Protocol` (`protocol.ts`, which
 * re-exports these): its options, the events it reports, and the item of its
 * outgoing queue that means "end the transport".
 *
 * @module
 */

import type { MessageCompression } from "./compression.ts";
import type { Role } from "./constants.ts";
import type { ProtocolError } from "./errors.ts";

/** Options of `Protocol` (protocol.ts). */
export interface ProtocolOptions {
  /** Which end of the connection this is. */
  role: Role;
  /**
   * The largest message accepted, in bytes, checked from frame headers before
   * any payload is stored; a larger one fails the connection with 1009.
   *
   * @default {0x3ffffff}
   */
  maxLength?: number;
  /**
   * Where a client's masking keys come from (tests inject fixed keys).
   *
   * @default {randomMaskKey}
   */
  maskKey?: () => Uint8Array;
  /**
   * The permessage-deflate state when the extension was negotiated (RFC 7692):
   * RSV1 then marks compressed messages, both ways.
   *
   * @default {null}
   */
  compression?: MessageCompression | null;
}

/** What `Protocol.eventsReceived()` reports. */
export type ProtocolEvent =
  | { type: "text"; data: string }
  | { type: "binary"; data: Uint8Array }
  | { type: "ping"; data: Uint8Array }
  | { type: "pong"; data: Uint8Array }
  | { type: "close"; code: number; reason: string }
  | { type: "error"; error: ProtocolError };

/**
 * The item of `Protocol.dataToSend()` that means "end the transport now"
 * (half-close for a server, after its last frame). Compare by identity.
 */
export const END_OF_STREAM: Uint8Array = new Uint8Array(0);

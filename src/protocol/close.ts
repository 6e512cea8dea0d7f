/**
 * Close frames (RFC 6455 §5.5.1, §7.4): which codes may travel on the wire, and
 * the codec of the close payload.
 *
 * @module
 */

import { CloseCode, MAX_CLOSE_REASON_BYTES } from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import { decodeUtf8, utf8Encoder } from "./utf8.ts";

/**
 * RFC 6455 §7.4.1–§7.4.2 and the IANA registry: the codes a close frame may
 * carry. 1004 is reserved, 1005, 1006 and 1015 must never be sent, 0–999 and
 * 1016–2999 are unassigned or reserved for future RFCs, 3000–4999 belong to
 * libraries, frameworks and applications.
 *
 * @example
 * ```ts
 * import { isValidCloseCode } from "./close.ts";
 *
 * if (!isValidCloseCode(1000)) throw new Error("normal closure");
 * if (isValidCloseCode(1005)) throw new Error("only ever reported, never sent");
 * ```
 */
export function isValidCloseCode(code: number): boolean {
  return Number.isInteger(code) &&
    ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999));
}

/** A decoded close frame. */
export interface ClosePayload {
  /** The status code, 1005 when the frame carried none. */
  code: number;
  /** The reason, "" when the frame carried none. */
  reason: string;
}

/**
 * Decodes a close frame's payload.
 *
 * @throws {ProtocolError} 1002 for a 1-byte payload or a code that may not be
 * sent; 1007 for a reason that is not UTF-8.
 *
 * @example
 * ```ts
 * import { parseClosePayload } from "./close.ts";
 *
 * const bye = parseClosePayload(new Uint8Array([0x03, 0xe8, 0x62, 0x79, 0x65])); // { code: 1000, reason: "bye" }
 * const none = parseClosePayload(new Uint8Array(0)); // { code: 1005, reason: "" }
 * if (bye.code !== 1000 || bye.reason !== "bye" || none.code !== 1005) throw new Error("close payloads");
 * ```
 */
export function parseClosePayload(payload: Uint8Array): ClosePayload {
  if (payload.length === 0) return { code: CloseCode.NO_STATUS, reason: "" };
  if (payload.length === 1) {
    throw new ProtocolError(
      "WSD_ERR_CLOSE_PAYLOAD_LENGTH",
      CloseCode.PROTOCOL_ERROR,
      "Invalid close frame: a 1-byte payload cannot hold a status code",
    );
  }
  const code = (payload[0] << 8) | payload[1];
  if (!isValidCloseCode(code)) {
    throw new ProtocolError(
      "WSD_ERR_INVALID_CLOSE_CODE",
      CloseCode.PROTOCOL_ERROR,
      `Invalid close code ${code}`,
    );
  }
  const reason = decodeUtf8(payload.subarray(2));
  if (reason === null) {
    throw new ProtocolError(
      "WSD_ERR_INVALID_UTF8",
      CloseCode.INVALID_PAYLOAD,
      "Invalid UTF-8 in the close reason",
    );
  }
  return { code, reason };
}

/**
 * Encodes a close frame's payload: nothing for 1005 (no status), else the code
 * and the UTF-8 reason. The caller has checked the code and the reason's length.
 *
 * @example
 * ```ts
 * import { encodeClosePayload } from "./close.ts";
 *
 * const payload = encodeClosePayload(1000, "bye"); // 03 e8 62 79 65
 * if (payload.join() !== "3,232,98,121,101") throw new Error("03 e8 62 79 65");
 * ```
 */
export function encodeClosePayload(code: number, reason: string): Uint8Array {
  if (code === CloseCode.NO_STATUS) return new Uint8Array(0);
  const reasonBytes = utf8Encoder.encode(reason);
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

/**
 * Cuts `reason` to at most {@linkcode MAX_CLOSE_REASON_BYTES} bytes of UTF-8
 * without splitting a character, for reasons we make up ourselves (error
 * messages); a reason from the caller that is too long is a RangeError instead.
 *
 * @example
 * ```ts
 * import { truncateReason } from "./close.ts";
 *
 * // A close frame carries 125 bytes at most, 2 of them the code.
 * if (truncateReason("x".repeat(200)).length !== 123) throw new Error("truncated to 123 bytes");
 * ```
 */
export function truncateReason(reason: string): string {
  if (reason.length <= MAX_CLOSE_REASON_BYTES / 3) return reason;
  let bytes = 0;
  let i = 0;
  for (const ch of reason) {
    const cp = ch.codePointAt(0)!;
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + size > MAX_CLOSE_REASON_BYTES) break;
    bytes += size;
    i += ch.length;
  }
  return reason.slice(0, i);
}

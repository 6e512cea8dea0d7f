/**
 * A sans-I/O, incremental parser for HTTP/1.1 message heads (RFC 9112), with
 * hard limits, and the two serializers that go with it. This is what runs
 * before the first WebSocket frame on a raw TCP connection:
 *
 * - a server reads the upgrade request head with {@linkcode RequestHeadParser}
 *   and writes its answer with {@linkcode serializeResponseHead};
 * - a client writes its upgrade request with {@linkcode serializeRequestHead}
 *   and reads the server's answer with {@linkcode ResponseHeadParser}.
 *
 * The parsers own no socket: the caller pushes whatever bytes arrived, in
 * chunks of any size, until the result is not `"incomplete"`:
 *
 * ```
 *   socket ──chunk──▶ parser.push(chunk) ─┬─ incomplete → read more, push again
 *                                         ├─ done  → head + rest (first frames)
 *                                         └─ error → answer `status`, close
 * ```
 *
 * Bytes that follow the head in the same chunk (a client may send its first
 * frames in the same packet as the request) come back in `rest`, untouched.
 *
 * How it stays cheap on hostile input:
 *
 * - Each byte is looked at once by the end-of-head scan, whatever the chunk
 *   sizes: the scan state survives between pushes, so a head trickled in one
 *   byte at a time costs the same as one pushed whole.
 * - Over {@linkcode DEFAULT_MAX_HEAD_SIZE} bytes (or `maxHeadSize`) without
 *   the end of the head is a 431 at the very byte that crosses the limit; no
 *   more than the limit is ever stored, and no more than that is ever scanned
 *   even when a single huge chunk is pushed.
 * - No regular expression ever sees the input (ws CVE-2021-32640 was a ReDoS
 *   in header parsing): plain loops over bytes, decoded as latin1.
 *
 * How strict it is (RFC 9112 lets a recipient choose; these choices close the
 * doors request smuggling goes through):
 *
 * - Lines end with CRLF only. A bare LF (RFC 9112 §2.2 allows, but does not
 *   require, accepting it) or a bare CR is a 400.
 * - The request line is `method SP request-target SP HTTP-version` with single
 *   spaces (§3); the status line is `HTTP-version SP 3DIGIT SP reason` (§4),
 *   with the reason and even the space before it allowed to be missing.
 * - Only `HTTP/1.1` and `HTTP/1.0` are accepted; another well-formed version
 *   is a 505, a malformed one a 400 (§2.3, case-sensitive).
 * - No whitespace between a field name and its colon (§5.1), no obsolete line
 *   folding (§5.2), no control characters but HTAB in a field value (RFC 9110
 *   §5.5): all 400.
 * - A request must carry exactly one `Host` header when it is HTTP/1.1, and
 *   at most one otherwise (§3.2): 400. Several `Host` lines would be joined
 *   by `Headers` into one value and could not be told apart later.
 * - Empty lines before a request line are skipped, as §2.2 says a server
 *   SHOULD; they count towards `maxHeadSize`.
 *
 * The parsers interpret no header but `Host`: checking the WebSocket
 * handshake is `validateRequest`/`validateResponse`'s job (`handshake.ts`),
 * and neither `Content-Length` nor `Transfer-Encoding` means anything for an
 * upgrade.
 *
 * @example A server reading an upgrade request
 * ```ts ignore
 * const parser = new RequestHeadParser();
 * let result = parser.push(firstChunk);
 * while (result.state === "incomplete") {
 *   result = parser.push(await readChunk());
 * }
 * if (result.state === "error") {
 *   // An empty reason phrase is valid (RFC 9112 §4).
 *   await write(serializeResponseHead(result.status, "", new Headers({ Connection: "close" })));
 * } else {
 *   const { head, rest } = result; // rest: the first frames, if any
 * }
 * ```
 *
 * @module
 */

export {
  DEFAULT_MAX_HEAD_SIZE,
  DEFAULT_MAX_HEADERS,
  type HeadLimits,
  type HeadResult,
  parseWholeRequest,
  RequestHeadParser,
  ResponseHeadParser,
} from "./head_parser.ts";
export type { RequestHead, ResponseHead } from "./head_syntax.ts";
export { serializeRequestHead, serializeResponseHead } from "./head_serialize.ts";

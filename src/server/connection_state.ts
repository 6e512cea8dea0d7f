/**
 * What a server connection keeps while it is open, made compact: an idle
 * connection holds these for as long as it lives, so each is one object (or
 * one shared by every connection) rather than several.
 *
 * - The upgrade request, once let go (see `Server.request`): its URL, method
 *   and header fields packed in one string (on the tcp backend, the head's
 *   own text of its field lines: {@linkcode packHead}), made into a
 *   `Request` again on the first read of `ws.request`.
 * - A native session's options: shared by the connections made with the
 *   same ones.
 * - What a runtime's own upgrade is asked and answers: one object for every
 *   call, not an options object and a result per handshake.
 *
 * @module
 */

import { DEFAULT_CLOSE_TIMEOUT, DEFAULT_OUTGOING_HIGH_WATER_MARK } from "../driver/driver.ts";
import type { DriverOptions, HeartbeatOptions } from "../driver/driver.ts";
import type { NativeSessionOptions, NativeUpgradeCall, RequestFields } from "../driver/native.ts";

/**
 * A request's URL, method and header fields as one string, lines joined with
 * "\n": none of them can hold a line break (the URL parser drops them, and
 * `Headers` refuses CR and LF in a field), so `split("\n")` gives the parts
 * back. One string is one object on the heap; `[url, method, name, value,
 * …].join("\n")` makes it flat (no rope keeping the pieces alive). A GET
 * without fields is the URL alone.
 */
export function packRequest(url: string, method: string, fields: readonly string[]): string {
  // A GET without fields (an upgrade whose runtime kept the header fields) is its URL alone: the runtime's string, kept
  // as it is, not a new one and an array per handshake.
  if (fields.length === 0 && method === "GET") return url;
  return (fields.length === 0 ? [url, method] : [url, method, fields.join("\n")]).join("\n");
}

/**
 * As {@linkcode packRequest}, with the header fields as a head's field lines
 * (`name: value` lines joined by CRLF, as they came off the wire: a slice of
 * the head's text, no string made per field). Its parts are joined by CRLF,
 * which is how {@linkcode unpackRequest} tells the two forms apart
 * (`packRequest`'s string has no CR: neither a URL nor a `Headers` value can
 * hold one).
 */
export function packHead(url: string, method: string, lines: string): string {
  return lines === "" ? `${url}\r\n${method}` : `${url}\r\n${method}\r\n${lines}`;
}

/** {@linkcode packRequest} of a whole `Request` (its headers as the runtime lists them). */
export function packRequestOf(request: Request): string {
  const parts = [request.url, request.method];
  // forEach, not the iterator: no [name, value] array per field (garbage of every handshake).
  request.headers.forEach((value, name) => parts.push(name, value));
  return parts.join("\n");
}

/**
 * A `Request` equal to the one `packed` was made from (see
 * {@linkcode packRequest}): same URL, method and header fields (those of
 * `kept` too, when the runtime kept the request's header fields), no body.
 */
export function unpackRequest(packed: string, kept: RequestFields | null = null): Request {
  if (packed.includes("\r")) return unpackHead(packed);
  const [url, method = "GET", ...fields] = packed.split("\n");
  const request = method === "GET" ? new Request(url) : new Request(url, { method });
  const headers = request.headers;
  for (let i = 0; i < fields.length; i += 2) headers.append(fields[i], fields[i + 1]);
  if (kept instanceof Headers) kept.forEach((value, name) => headers.append(name, value));
  else {
    for (const name in kept) {
      const value = kept[name];
      if (typeof value === "string") headers.append(name, value);
      else for (const v of value) headers.append(name, v);
    }
  }
  return request;
}

/** The `Request` of {@linkcode packHead}'s string (`Headers` trims the whitespace around each value). */
function unpackHead(packed: string): Request {
  const [url, method, ...lines] = packed.split("\r\n");
  const request = method === "GET" ? new Request(url) : new Request(url, { method });
  const headers = request.headers;
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon), line.slice(colon + 1));
  }
  return request;
}

/** The session options made last, and what from: the next connection with the same ones shares them. */
let lastSession: {
  source: DriverOptions;
  maxLength: number;
  heartbeat: HeartbeatOptions | undefined;
  options: NativeSessionOptions;
} | null = null;

/**
 * A native session's options: one frozen object shared by the connections
 * made with the same options (the usual case: every connection of a server),
 * not one more object per idle connection.
 */
export function sessionOptions(
  source: DriverOptions,
  maxLength: number,
  heartbeat: HeartbeatOptions | undefined,
  compress: boolean,
): NativeSessionOptions {
  const last = lastSession;
  if (
    last !== null && last.source === source && last.maxLength === maxLength && last.heartbeat === heartbeat &&
    last.options.compress === compress
  ) return last.options;
  const options = Object.freeze({
    maxLength,
    closeTimeout: source.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
    outgoingHighWaterMark: source.outgoingHighWaterMark ?? DEFAULT_OUTGOING_HIGH_WATER_MARK,
    sendQueuePolicy: source.sendQueuePolicy ?? "buffer",
    heartbeat,
    compress,
  });
  lastSession = { source, maxLength, heartbeat, options };
  return options;
}

/** The one {@linkcode NativeUpgradeCall}: filled in for each upgrade, read at once. */
const UPGRADE_CALL: NativeUpgradeCall = { idleTimeout: undefined, link: null, fields: null };

/**
 * The call of a runtime's own upgrade for a server with `heartbeat`: the
 * runtime's idle timeout stands in for it where the socket cannot ping
 * (seconds; 0 for `false`, the runtime's default for none). The caller takes
 * `link` and `fields` at once and clears them.
 */
export function nativeUpgradeCall(heartbeat: HeartbeatOptions | false | undefined): NativeUpgradeCall {
  UPGRADE_CALL.idleTimeout = heartbeat === undefined
    ? undefined
    : heartbeat === false
    ? 0
    : Math.max(1, Math.round((heartbeat.interval + heartbeat.timeout) / 2000));
  UPGRADE_CALL.link = UPGRADE_CALL.fields = null;
  return UPGRADE_CALL;
}

/**
 * The HTTP CONNECT tunnel through a proxy (RFC 9110 §9.3.6), sans-I/O: the
 * request head to send, and the check of the proxy's answer (read with
 * {@linkcode ResponseHeadParser}).
 *
 * ```text
 *   client ── "CONNECT host:port HTTP/1.1" ──▶ proxy
 *   client ◀── "HTTP/1.1 200 …" ──────────── proxy     (any 2xx: the tunnel is open)
 *   client ══ TLS (wss:) and the WebSocket handshake, end to end ══▶ host:port
 * ```
 *
 * @module
 */

import { serializeRequestHead } from "./http1.ts";
import type { ResponseHead } from "./http1.ts";
import { base64 } from "./syntax.ts";
import { utf8Encoder } from "./utf8.ts";

/** `hostname:port`, with brackets around an IPv6 address: the CONNECT target and its Host. */
export function authority(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/**
 * The CONNECT request head for `hostname:port`, with `Proxy-Authorization`
 * when `authorization` is given (see {@linkcode basicAuthorization}).
 *
 * @throws {TypeError} for a host name or credentials that cannot appear in a head.
 */
export function connectRequestHead(hostname: string, port: number, authorization?: string): Uint8Array {
  const target = authority(hostname, port);
  const headers = new Headers({ Host: target });
  if (authorization !== undefined) headers.set("Proxy-Authorization", authorization);
  return serializeRequestHead("CONNECT", target, headers);
}

/** `Basic` credentials (RFC 7617) for a user name and password as they appear in a URL (percent-encoded). */
export function basicAuthorization(username: string, password: string): string {
  const credentials = `${decodeURIComponent(username)}:${decodeURIComponent(password)}`;
  return `Basic ${base64(utf8Encoder.encode(credentials))}`;
}

/**
 * Why the proxy's answer to CONNECT does not open a tunnel, or `null` when it
 * does (any 2xx status, RFC 9110 §9.3.6).
 */
export function connectResponseError(head: ResponseHead): string | null {
  if (head.status >= 200 && head.status <= 299) return null;
  const text = head.statusText === "" ? "" : ` ${head.statusText}`;
  const hint = head.status === 407 ? " (missing or wrong user:password in the proxy URL)" : "";
  return `the proxy answered CONNECT with ${head.status}${text}${hint}`;
}

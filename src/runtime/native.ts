/**
 * The runtime's own server-side upgrade, for handlers that run where no raw
 * socket exists (`Deno.serve`, Deno Deploy): `Deno.upgradeWebSocket`, and its
 * WebSocket as a {@linkcode NativeLink}.
 *
 * What Deno's socket reports, measured (Deno 2.9, see bench/RESULTS.md): a
 * peer that drops the TCP connection gives an `error` event ("Unexpected EOF",
 * "Connection reset by peer") then a `CloseEvent` with `code` 0 and
 * `wasClean: false`; a close frame without a code gives 1005 with
 * `wasClean: true`; a protocol violation gives an `error` event naming it
 * ("Invalid UTF-8", "Reserved bits are not zero", …), then code 0 and
 * `wasClean: false` — Deno drops the connection without a close frame. Its
 * `idleTimeout` ends a silent peer with an `error` ("No response from ping
 * frame.") and a close frame 1001 (then reports the close twice: 1001 and
 * 1005).
 *
 * @module
 */

import { CloseCode } from "../protocol/constants.ts";
import { ProtocolError } from "../protocol/errors.ts";
import type { ProtocolErrorType } from "../protocol/errors.ts";
import type { NativeLink, NativeLinkEvents, NativeUpgradeCall } from "../driver/native.ts";

/** The runtime's WebSocket object, as the server drives it. */
export type NativeSocket = WebSocket;

interface DenoUpgrade {
  upgradeWebSocket(request: Request, options?: { idleTimeout?: number }): { socket: WebSocket; response: Response };
}

/** Deno's messages of a peer's violations (and of its idle timeout), and what the driver calls them. */
const DENO_VIOLATIONS: Array<[RegExp, ProtocolErrorType, number]> = [
  // Its idleTimeout (our heartbeat on this socket): what the driver's heartbeat reports.
  [/no response from ping/i, "WSD_ERR_HEARTBEAT_TIMEOUT", CloseCode.ABNORMAL],
  [/utf-?8/i, "WSD_ERR_INVALID_UTF8", CloseCode.INVALID_PAYLOAD],
  [/reserved bits/i, "WSD_ERR_RESERVED_BITS", CloseCode.PROTOCOL_ERROR],
  [/fragmented/i, "WSD_ERR_CONTROL_FRAGMENTED", CloseCode.PROTOCOL_ERROR],
  [/ping frame too large|control frame/i, "WSD_ERR_CONTROL_TOO_LONG", CloseCode.PROTOCOL_ERROR],
  [/too large|too big/i, "WSD_ERR_MESSAGE_TOO_BIG", CloseCode.MESSAGE_TOO_BIG],
  [/continuation/i, "WSD_ERR_UNEXPECTED_CONTINUATION", CloseCode.PROTOCOL_ERROR],
  [/fragment/i, "WSD_ERR_EXPECTED_CONTINUATION", CloseCode.PROTOCOL_ERROR],
  [/close code|status code/i, "WSD_ERR_INVALID_CLOSE_CODE", CloseCode.PROTOCOL_ERROR],
  [/close frame/i, "WSD_ERR_CLOSE_PAYLOAD_LENGTH", CloseCode.PROTOCOL_ERROR],
  [/invalid value|opcode/i, "WSD_ERR_INVALID_OPCODE", CloseCode.PROTOCOL_ERROR],
];

/**
 * What an `error` event of Deno's socket means: `null` for a dropped
 * connection (reported as close 1006 alone, as the driver does), a
 * {@linkcode ProtocolError} for a violation Deno names, an `Error` otherwise.
 */
export function denoSocketError(message: string): Error | null {
  if (/unexpected eof|os error|reset by peer|broken pipe|connection (closed|aborted)/i.test(message)) return null;
  for (const [pattern, type, code] of DENO_VIOLATIONS) {
    if (pattern.test(message)) return new ProtocolError(type, code, `${message} (reported by Deno's WebSocket)`);
  }
  return new Error(`Deno's WebSocket failed: ${message}`);
}

/** The `open` listener goes once it ran: an idle connection keeps three listeners, not four. */
const ONCE: AddEventListenerOptions = Object.freeze({ once: true });

/**
 * Deno's `WebSocket` of an upgraded request, as a {@linkcode NativeLink}. The
 * link itself is the socket's event listener (`handleEvent`): no closure per
 * event and connection, and `addEventListener` costs Deno less than an `on…`
 * handler (which wraps each in a closure and a listener record of its own;
 * see bench/RESULTS.md, "Third round, Deno").
 */
class DenoLink implements NativeLink, EventListenerObject {
  readonly #socket: WebSocket;
  #events: NativeLinkEvents | null = null;

  constructor(socket: WebSocket) {
    this.#socket = socket;
  }

  get name(): string {
    return "Deno's built-in WebSocket (Deno serve, Deno Deploy)";
  }

  get canPing(): boolean {
    return false;
  }

  get reportsDrain(): boolean {
    return false;
  }

  get extensions(): string {
    return "";
  }

  get socket(): WebSocket {
    return this.#socket;
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  bind(events: NativeLinkEvents): void {
    const socket = this.#socket;
    this.#events = events;
    socket.binaryType = "arraybuffer";
    socket.addEventListener("open", this, ONCE);
    socket.addEventListener("message", this);
    socket.addEventListener("error", this);
    socket.addEventListener("close", this);
  }

  /** Every event of the socket, told to the session. */
  handleEvent(event: Event): void {
    const events = this.#events;
    if (events === null) return; // closed (Deno reports a second close after its idle timeout's)
    switch (event.type) {
      case "message": {
        const data = (event as MessageEvent).data;
        events.linkMessage(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
        break;
      }
      case "open":
        events.linkOpened();
        break;
      case "error": {
        const error = denoSocketError((event as ErrorEvent).message ?? "");
        if (error !== null) events.linkFailed(error);
        break;
      }
      case "close": {
        const { code, reason, wasClean } = event as CloseEvent;
        // Deno's idle timer keeps the socket (and so its listener, this link)
        // up to idleTimeout after a peer dropped the connection: the session,
        // and the server behind it, are let go now, not then.
        this.#events = null;
        // Code 0 and wasClean false: no close frame came (a drop, or a violation).
        events.linkClosed(wasClean ? code || CloseCode.NO_STATUS : CloseCode.ABNORMAL, reason);
        break;
      }
    }
  }

  send(data: string | Uint8Array): boolean {
    if (this.#socket.readyState !== 1) return false;
    this.#socket.send(data);
    return true;
  }

  ping(): void {
    throw new DOMException("Cannot send ping: Deno's built-in WebSocket cannot send pings", "NotSupportedError");
  }

  close(code: number, reason: string): void {
    if (this.#socket.readyState < 2) this.#socket.close(code, reason);
  }

  terminate(): void {
    // Deno's socket cannot be torn down: the best is to start its close.
    if (this.#socket.readyState < 2) this.#socket.close();
  }
}

/**
 * Upgrades `request` with the runtime's own WebSocket, answering with
 * `headers` (the accept key is recomputed by the runtime; the subprotocol and
 * additional headers are carried over): returns the response and sets
 * `call.link`. Returns `null` on a runtime without a built-in upgrade.
 * `call.idleTimeout` (seconds, 0 for none) is the runtime's own ping-based
 * keepalive.
 */
export function nativeUpgrade(request: Request, headers: Headers | null, call: NativeUpgradeCall): Response | null {
  const deno = (globalThis as { Deno?: DenoUpgrade }).Deno;
  if (deno?.upgradeWebSocket === undefined) return null;
  // (What `ws.request` needs after the response went out, when Deno's
  // serve() no longer reads the request, the server copied already.)
  // The subprotocol is not passed as the `protocol` option: Deno checks it
  // against the request's list split on ", " only, and throws for a list
  // written "a,b" (as the ws package and others send it). The header is set
  // below with the others.
  // idleTimeout (seconds): the runtime's own keepalive, the only one its socket has.
  const idleTimeout = call.idleTimeout;
  const { socket, response } = deno.upgradeWebSocket(request, idleTimeout === undefined ? {} : { idleTimeout });
  if (headers !== null) {
    // Names the runtime set itself are not overridden; every value of the
    // others is kept (several Set-Cookie).
    const own = new Set(response.headers.keys());
    for (const [name, value] of headers) {
      if (!own.has(name)) response.headers.append(name, value);
    }
  }
  call.link = new DenoLink(socket);
  return response;
}

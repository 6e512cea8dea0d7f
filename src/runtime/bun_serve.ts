/**
 * Bun's own WebSockets (`Bun.serve`'s `websocket` option, uWebSockets framing)
 * as {@linkcode NativeLink}s: the runtime half of `withWebSockets`
 * (src/server/bun_serve.ts), which checks options and offers the upgrade to
 * `makeServer`.
 *
 * Each connection is a `BunLink` over Bun's `ServerWebSocket`, whose state
 * hangs on the socket's `data`.
 *
 * Bun's behaviour, measured (Bun 1.4): `open` runs inside `server.upgrade()`;
 * a violation makes Bun send the right close code (1002, 1007, 1009) and
 * report 1006 with a reason naming it; `close(code)` reports the close at
 * once; `send` returns -1 when it buffered (backpressure), 0 when it dropped
 * the message (over `backpressureLimit`).
 *
 * @module
 */

import { CloseCode } from "../protocol/constants.ts";
import { ProtocolError } from "../protocol/errors.ts";
import type { ProtocolErrorType } from "../protocol/errors.ts";
import { parseExtensions } from "../protocol/extensions.ts";
import type { NativeLink, NativeLinkEvents, NativeUpgradeCall, NativeUpgrader } from "../driver/native.ts";

/** What this adapter uses of Bun's `ServerWebSocket`. */
export interface BunServerWebSocket {
  /** The state given to `server.upgrade()`. */
  readonly data: unknown;
  /** WHATWG numbering: 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** How binary messages are handed over. */
  binaryType?: string;
  /** Sends text; -1: buffered (backpressure), 0: dropped, else bytes sent. */
  sendText(data: string, compress?: boolean): number;
  /** Sends bytes; as `sendText`. */
  sendBinary(data: Uint8Array, compress?: boolean): number;
  /** Sends a ping. */
  ping(data?: Uint8Array): number;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Drops the connection. */
  terminate(): void;
  /** Bytes buffered by Bun. */
  getBufferedAmount(): number;
  /** Stops reading the socket. */
  pause(): void;
  /** Reads the socket again. */
  resume(): void;
}

/** What this adapter uses of the server Bun passes to `fetch`. */
export interface BunUpgradeServer {
  /** Upgrades `request`; `false` if Bun refused it. */
  upgrade(request: Request, options: { data: unknown; headers?: Headers }): boolean;
}

/** The `websocket` option of `Bun.serve` that `withWebSockets` makes. */
export interface BunWebSocketHandler {
  /** The largest message Bun accepts, in bytes (checked before buffering). */
  maxPayloadLength: number;
  /** Bytes Bun buffers per connection before it drops sends. */
  backpressureLimit: number;
  /** Whether Bun closes a connection over `backpressureLimit`. */
  closeOnBackpressureLimit: boolean;
  /** Bun's own idle timeout, in seconds (0: none; the heartbeat does that job). */
  idleTimeout: number;
  /** Whether Bun sends its own pings (no: the heartbeat does). */
  sendPings: boolean;
  /** Whether Bun agrees permessage-deflate. */
  perMessageDeflate: boolean;
  /** Bun's event handlers. */
  open(ws: BunServerWebSocket): void;
  /** A message. */
  message(ws: BunServerWebSocket, message: string | Uint8Array): void;
  /** The send buffer drained. */
  drain(ws: BunServerWebSocket): void;
  /** A ping arrived. */
  ping(ws: BunServerWebSocket, data: Uint8Array): void;
  /** A pong arrived. */
  pong(ws: BunServerWebSocket, data: Uint8Array): void;
  /** The connection closed. */
  close(ws: BunServerWebSocket, code: number, reason: string): void;
}

/** Bun's close reasons for a peer's violations, and what the driver calls them. */
const BUN_VIOLATIONS: Array<[RegExp, ProtocolErrorType, number]> = [
  [/utf-?8/i, "WSD_ERR_INVALID_UTF8", CloseCode.INVALID_PAYLOAD],
  [/too big/i, "WSD_ERR_MESSAGE_TOO_BIG", CloseCode.MESSAGE_TOO_BIG],
  [/masked/i, "WSD_ERR_MASK_EXPECTED", CloseCode.PROTOCOL_ERROR],
  [/opcode/i, "WSD_ERR_INVALID_OPCODE", CloseCode.PROTOCOL_ERROR],
  [/close/i, "WSD_ERR_INVALID_CLOSE_CODE", CloseCode.PROTOCOL_ERROR],
];

/** Handshake headers Bun writes itself. */
const BUN_OWN_HEADERS = new Set(["upgrade", "connection", "sec-websocket-accept", "sec-websocket-extensions"]);

/** Sessions whose socket opened, to be told in the next microtask (one queue, not a closure per connection). */
const opening: NativeLinkEvents[] = [];

/** Tells `events` its socket opened, in a microtask (in order with the others). */
function announceOpen(events: NativeLinkEvents): void {
  if (opening.push(events) === 1) queueMicrotask(drainOpening);
}

function drainOpening(): void {
  let i = 0;
  try {
    // Sessions added meanwhile (an `open` listener that made a connection) are told in this same loop.
    for (; i < opening.length; i++) opening[i].linkOpened();
  } finally {
    if (i >= opening.length) opening.length = 0;
    else {
      // linkOpened threw: the others are told in a new microtask.
      opening.splice(0, i + 1);
      if (opening.length !== 0) queueMicrotask(drainOpening);
    }
  }
}

/**
 * Bun's `ServerWebSocket` of one connection, as a {@linkcode NativeLink}: the
 * socket's `data`. An idle connection keeps it: three fields, what every link
 * says alike on the prototype (bench/RESULTS.md, "Sixth round, Bun: the
 * adapter's idle connections").
 */
class BunLink implements NativeLink {
  readonly extensions: string;
  /** Bun's socket, once it opened (Bun opens it inside `server.upgrade()`). */
  #ws: BunServerWebSocket | null = null;
  #events: NativeLinkEvents | null = null;

  constructor(extensions: string) {
    this.extensions = extensions;
  }

  get name(): string {
    return "Bun's ServerWebSocket (Bun.serve)";
  }

  get canPing(): boolean {
    return true;
  }

  get reportsDrain(): boolean {
    return true;
  }

  get socket(): BunServerWebSocket | null {
    return this.#ws;
  }

  get bufferedAmount(): number {
    return this.#ws === null || this.#ws.readyState > 1 ? 0 : this.#ws.getBufferedAmount();
  }

  bind(events: NativeLinkEvents): void {
    this.#events = events;
    // Bun opens the socket inside server.upgrade(), before the server could
    // listen: `open` goes out in a microtask, as the driver emits it.
    if (this.#ws !== null) announceOpen(events);
  }

  onOpen(ws: BunServerWebSocket): void {
    this.#ws = ws;
    ws.binaryType = "uint8array";
    const events = this.#events;
    if (events !== null) announceOpen(events);
  }

  onMessage(message: string | Uint8Array): void {
    this.#events?.linkMessage(message);
  }

  onPing(data: Uint8Array): void {
    this.#events?.linkPing(data);
  }

  onPong(data: Uint8Array): void {
    this.#events?.linkPong(data);
  }

  onDrain(): void {
    this.#events?.linkDrained();
  }

  onClose(code: number, reason: string): void {
    const events = this.#events;
    if (events === null) return;
    if (code === CloseCode.ABNORMAL && reason !== "") {
      // Bun sent the peer the violation's close code and reports 1006 with its name.
      const violation = BUN_VIOLATIONS.find(([pattern]) => pattern.test(reason));
      events.linkFailed(
        violation === undefined
          ? new Error(`Bun's WebSocket failed: ${reason}`)
          : new ProtocolError(violation[1], violation[2], `${reason} (reported by Bun's WebSocket)`),
      );
    }
    events.linkClosed(code || CloseCode.NO_STATUS, reason);
  }

  send(data: string | Uint8Array, compress: boolean): boolean {
    const ws = this.#ws;
    if (ws === null || ws.readyState !== 1) return false;
    const sent = typeof data === "string" ? ws.sendText(data, compress) : ws.sendBinary(data, compress);
    return sent !== 0;
  }

  ping(data: Uint8Array): void {
    if (this.#ws?.readyState === 1) this.#ws.ping(data);
  }

  pause(): void {
    if (this.#ws !== null && this.#ws.readyState < 2) this.#ws.pause();
  }

  resume(): void {
    if (this.#ws !== null && this.#ws.readyState < 2) this.#ws.resume();
  }

  close(code: number, reason: string): void {
    if (this.#ws !== null && this.#ws.readyState < 2) this.#ws.close(code, reason);
  }

  terminate(): void {
    if (this.#ws !== null && this.#ws.readyState < 3) this.#ws.terminate();
  }
}

function linkOf(ws: BunServerWebSocket): BunLink | null {
  return ws.data instanceof BunLink ? ws.data : null;
}

/** The options of every `server.upgrade()` call, filled in for each (Bun reads them at once). */
const UPGRADE_OPTIONS: { data: unknown; headers: Headers | undefined } = { data: null, headers: undefined };

/**
 * The upgrader `makeServer` calls for a request Bun's `server` got: upgrades
 * it to a `BunLink` (permessage-deflate agreed by Bun when `deflate` and the
 * client offered it) and returns a response that stands for Bun's own 101.
 */
export function bunUpgrader(server: BunUpgradeServer, deflate: boolean): NativeUpgrader {
  // Fetch cannot make a 101: a response (200, the default: no init to
  // convert) stands for it, and withWebSockets' fetch answers Bun nothing
  // for it (Bun wrote the 101 inside upgrade()). One for every upgrade of
  // this server, not one per handshake (a Response is ~360 bytes here, the
  // largest piece of a handshake's garbage; bench/RESULTS.md, "Sixth round,
  // Bun: the adapter's idle connections"); a new one if a middleware gave
  // the last one headers (which reach nobody: the 101 went out already).
  let standIn = new Response(null);
  return (request: Request, headers: Headers | null, call: NativeUpgradeCall) => {
    const offer = deflate ? request.headers.get("sec-websocket-extensions") : null;
    const offered = offer !== null && (parseExtensions(offer)?.some((e) => e.name === "permessage-deflate") ?? false);
    const link = new BunLink(offered ? "permessage-deflate" : "");
    let answer: Headers | undefined;
    if (headers !== null) {
      answer = new Headers();
      for (const [name, value] of headers) if (!BUN_OWN_HEADERS.has(name)) answer.append(name, value);
    }
    // Bun reads its options inside upgrade(): one object for every upgrade, not one more piece of garbage each.
    UPGRADE_OPTIONS.data = link;
    UPGRADE_OPTIONS.headers = answer;
    let upgraded: boolean;
    try {
      upgraded = server.upgrade(request, UPGRADE_OPTIONS);
    } finally {
      UPGRADE_OPTIONS.data = null;
      UPGRADE_OPTIONS.headers = undefined;
    }
    if (!upgraded) return null;
    call.link = link;
    // What `ws.request` keeps of the fields: Bun's `toJSON()`, one object of
    // the values' strings, instead of its `Headers` (364 bytes with their
    // native part; bench/RESULTS.md, "Sixth round, Bun: the adapter's idle
    // connections"), in one call (a copy field by field in JavaScript cost
    // more per handshake).
    const fields = request.headers as Headers & { toJSON?(): Record<string, string | string[]> };
    call.fields = fields.toJSON?.() ?? fields;
    if ((standIn.headers as Headers & { count?: number }).count !== 0) standIn = new Response(null);
    return standIn;
  };
}

/** Bun's `websocket` handlers for every connection, feeding each socket's `BunLink`. */
export function bunWebSocketHandler(maxLength: number, deflate: boolean): BunWebSocketHandler {
  return {
    maxPayloadLength: maxLength,
    // "buffer" is sendQueuePolicy's default: Bun must not drop what it was given.
    backpressureLimit: 2 ** 32 - 1,
    closeOnBackpressureLimit: false,
    idleTimeout: 0,
    sendPings: false,
    perMessageDeflate: deflate,
    open: (ws) => linkOf(ws)?.onOpen(ws),
    message: (ws, message) => linkOf(ws)?.onMessage(message),
    drain: (ws) => linkOf(ws)?.onDrain(),
    ping: (ws, data) => linkOf(ws)?.onPing(data),
    pong: (ws, data) => linkOf(ws)?.onPong(data),
    close: (ws, code, reason) => linkOf(ws)?.onClose(code, reason),
  };
}

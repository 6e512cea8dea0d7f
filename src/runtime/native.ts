/**
 * The runtime's own server-side upgrade, for handlers that run where no raw
 * socket exists (`Deno.serve`, Deno Deploy): `Deno.upgradeWebSocket`.
 *
 * @module
 */

/** The runtime's WebSocket object, as the server drives it. */
export type NativeSocket = WebSocket;

interface DenoUpgrade {
  upgradeWebSocket(request: Request, options?: { idleTimeout?: number }): { socket: WebSocket; response: Response };
}

/**
 * Upgrades `request` with the runtime's own WebSocket, answering with
 * `headers` (the accept key is recomputed by the runtime; the subprotocol and
 * additional headers are carried over). Returns `null` on a runtime without a
 * built-in upgrade. `idleTimeout` (seconds, 0 for none) is the runtime's own
 * ping-based keepalive.
 */
export function nativeUpgrade(
  request: Request,
  headers: Headers,
  idleTimeout?: number,
): { socket: NativeSocket; response: Response } | null {
  const deno = (globalThis as { Deno?: DenoUpgrade }).Deno;
  if (deno?.upgradeWebSocket === undefined) return null;
  // Deno's serve() reads a request's headers lazily from the connection, and
  // throws "Request closed" once the response went out: iterating them once
  // makes it copy them all into the Headers object, so that `ws.request`
  // stays usable in later events (open, message, close).
  void [...request.headers];
  // The subprotocol is not passed as the `protocol` option: Deno checks it
  // against the request's list split on ", " only, and throws for a list
  // written "a,b" (as the ws package and others send it). The header is set
  // below with the others.
  // idleTimeout (seconds): the runtime's own keepalive, the only one its socket has.
  const { socket, response } = deno.upgradeWebSocket(request, idleTimeout === undefined ? {} : { idleTimeout });
  // Names the runtime set itself are not overridden; every value of the
  // others is kept (several Set-Cookie).
  const own = new Set(response.headers.keys());
  for (const [name, value] of headers) {
    if (!own.has(name)) response.headers.append(name, value);
  }
  return { socket, response };
}

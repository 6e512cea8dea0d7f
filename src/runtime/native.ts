/**
 * The runtime's own server-side upgrade, for handlers that run where no raw
 * socket exists (`Deno.serve`, Deno Deploy): `Deno.upgradeWebSocket`.
 *
 * @module
 */

/** The runtime's WebSocket object, as the server drives it. */
export type NativeSocket = WebSocket;

interface DenoUpgrade {
  upgradeWebSocket(request: Request, options?: { protocol?: string }): { socket: WebSocket; response: Response };
}

/**
 * Upgrades `request` with the runtime's own WebSocket, answering with
 * `headers` (the accept key is recomputed by the runtime; the subprotocol and
 * additional headers are carried over). Returns `null` on a runtime without a
 * built-in upgrade.
 */
export function nativeUpgrade(
  request: Request,
  protocol: string | null,
  headers: Headers,
): { socket: NativeSocket; response: Response } | null {
  const deno = (globalThis as { Deno?: DenoUpgrade }).Deno;
  if (deno?.upgradeWebSocket === undefined) return null;
  const { socket, response } = deno.upgradeWebSocket(request, protocol === null ? {} : { protocol });
  for (const [name, value] of headers) {
    if (!response.headers.has(name)) response.headers.append(name, value);
  }
  return { socket, response };
}

/**
 * Following HTTP redirects of the opening handshake (RFC 9110 §15.4): which
 * answers are redirects, where they lead, and which request headers may go
 * along. Pure functions; the client makes the requests.
 *
 * @module
 */

/** The redirect statuses the client follows (RFC 9110 §15.4.2–§15.4.9). */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** How many redirects `followRedirects: true` follows, as python-websockets does. */
export const DEFAULT_MAX_REDIRECTS = 10;

/**
 * Checks the `followRedirects` option: the number of redirects to follow
 * (0 for none).
 *
 * @throws {TypeError} for anything but a boolean or a whole number, 0 or more.
 */
export function maxRedirects(value: boolean | number | undefined): number {
  if (value === undefined || value === false) return 0;
  if (value === true) return DEFAULT_MAX_REDIRECTS;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`Invalid followRedirects ${String(value)}: expected true, false or a whole number, 0 or more`);
  }
  return value;
}

/**
 * Where a redirect from `from` with `location` leads, as a WebSocket URL
 * (`http:` mapped to `ws:`, `https:` to `wss:`, any fragment dropped); an
 * Error saying why it cannot be followed.
 */
export function redirectTarget(from: URL, location: string | null): URL | Error {
  if (location === null || location.trim() === "") {
    return new Error(`Cannot follow the redirect from ${from}: the answer has no Location header`);
  }
  let target: URL;
  try {
    target = new URL(location.trim(), from);
  } catch {
    return new Error(`Cannot follow the redirect from ${from}: invalid Location ${JSON.stringify(location)}`);
  }
  if (target.protocol === "http:") target.protocol = "ws:";
  else if (target.protocol === "https:") target.protocol = "wss:";
  if (target.protocol !== "ws:" && target.protocol !== "wss:") {
    return new Error(`Cannot follow the redirect from ${from} to ${target}: not a ws, wss, http or https URL`);
  }
  target.hash = "";
  return target;
}

/**
 * Whether two WebSocket URLs have the same origin (scheme, host and port),
 * which decides whether credentials may be sent to the second.
 */
export function sameOrigin(a: URL, b: URL): boolean {
  return a.protocol === b.protocol && a.host === b.host;
}

/** The request headers that carry credentials: dropped when a redirect changes the origin. */
export const CREDENTIAL_HEADERS: readonly string[] = ["authorization", "cookie"];

/** `headers` without the credential headers. */
export function withoutCredentials(headers: HeadersInit | undefined): Headers | undefined {
  if (headers === undefined) return undefined;
  const copy = new Headers(headers);
  for (const name of CREDENTIAL_HEADERS) copy.delete(name);
  return copy;
}

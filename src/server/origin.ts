/**
 * The `allowOrigins` check of a server: which web pages may open a WebSocket,
 * by the `Origin` header browsers send with every WebSocket handshake (RFC
 * 6455 §10.2). Without it, any page a user visits can open a WebSocket to
 * the server with the user's cookies (cross-site WebSocket hijacking).
 *
 * @module
 */

/**
 * The origins a server allows: a list of serialized origins
 * (`"https://example.com"`, `"http://localhost:8000"`, or `"null"` for the
 * opaque origin), or a predicate given the `Origin` value (`null` when the
 * request has none) and the request.
 */
export type AllowOrigins = readonly string[] | ((origin: string | null, request: Request) => boolean);

/** Lists already checked and normalized, so each request costs a lookup. */
const normalized = new WeakMap<readonly string[], Set<string>>();

/**
 * The serialized origin of `value` (lower-case scheme and host, no default
 * port), `"null"` for the opaque origin, or `null` when it is no origin.
 */
function serializeOrigin(value: string): string | null {
  if (value === "null") return "null";
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  const origin = url.origin;
  if (origin === "null") return null;
  // An origin has no path, query, fragment or credentials.
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "" || url.username !== "") {
    return null;
  }
  return origin;
}

/**
 * Checks an `allowOrigins` option (a list of origins or a function).
 *
 * @throws {TypeError} naming `what` for anything else, or a list entry that is not an origin.
 */
export function checkAllowOrigins(value: unknown, what: string): void {
  if (typeof value === "function") return;
  if (!Array.isArray(value)) {
    throw new TypeError(`Invalid allowOrigins in ${what}: expected an array of origins or a function`);
  }
  list(value as readonly string[], what);
}

function list(origins: readonly string[], what = "options"): Set<string> {
  let set = normalized.get(origins);
  if (set !== undefined) return set;
  set = new Set();
  for (const entry of origins) {
    const origin = typeof entry === "string" ? serializeOrigin(entry) : null;
    if (origin === null) {
      throw new TypeError(
        `Invalid allowOrigins in ${what}: ${JSON.stringify(entry)} is not an origin ` +
          `(expected scheme://host[:port], as "https://example.com", or "null")`,
      );
    }
    set.add(origin);
  }
  normalized.set(origins, set);
  return set;
}

/**
 * Whether a request with this `Origin` value (`null`: no header) is allowed.
 * A list allows a request without `Origin` (browsers always send one, so it
 * comes from a program, which could send any origin it likes).
 */
export function originAllowed(allow: AllowOrigins, origin: string | null, request: Request): boolean {
  if (typeof allow === "function") return allow(origin, request) === true;
  if (origin === null) return true;
  const serialized = serializeOrigin(origin.trim());
  return serialized !== null && list(allow).has(serialized);
}

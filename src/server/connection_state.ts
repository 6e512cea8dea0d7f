/**
 * What a server connection keeps while it is open, made compact: an idle
 * connection holds these for as long as it lives, so each is one object (or
 * one shared by every connection) rather than several.
 *
 * - The upgrade request, once let go (see `Server.request`): its URL, method
 *   and header fields packed in one string, made into a `Request` again on
 *   the first read of `ws.request`.
 * - A native session's options: shared by the connections made with the
 *   same ones.
 * - What a runtime's own upgrade is asked and answers: one object for every
 *   call, not an options object and a result per handshake.
 * - A server's options, checked and with its backend's defaults applied
 *   ({@linkcode ServerConfig}): one object shared by the servers made alike
 *   (every server of a backend made without options), one field of each.
 *
 * @module
 */

import { DEFAULT_MAX_LENGTH } from "../protocol/constants.ts";
import { deflateConfig } from "../protocol/extensions.ts";
import type { DeflateConfig } from "../protocol/extensions.ts";
import { checkServerAdditionalHeaders, isToken } from "../protocol/handshake.ts";
import type { HeaderFields } from "../protocol/handshake.ts";
import { DEFAULT_CLOSE_TIMEOUT, DEFAULT_OUTGOING_HIGH_WATER_MARK, sharedDriverOptions } from "../driver/driver.ts";
import type { DriverOptions, HeartbeatOptions } from "../driver/driver.ts";
import type { ListenerError } from "../driver/errors.ts";
import type { NativeSessionOptions, NativeUpgradeCall, RequestFields } from "../driver/native.ts";
import { checkAllowOrigins } from "./origin.ts";
import type { AllowOrigins } from "./origin.ts";
import type { Server, ServerOptions, UpgradeDefaults } from "./server.ts";

/**
 * A request's URL, method and header fields as one string, lines joined with
 * "\n": none of them can hold a line break (the URL parser drops them, and
 * `Headers` refuses CR and LF in a field), so `split("\n")` gives the parts
 * back. One string is one object on the heap; `[url, method, name, value,
 * …].join("\n")` makes it flat (no rope keeping the pieces alive). A GET
 * without fields is the URL alone.
 */
export function packRequest(url: string, method: string, fields: readonly string[]): string {
  // A GET without fields (an upgrade whose `Headers` are kept: Bun's) is its URL alone: the runtime's string, kept
  // as it is, not a new one and an array per handshake.
  if (fields.length === 0 && method === "GET") return url;
  return (fields.length === 0 ? [url, method] : [url, method, fields.join("\n")]).join("\n");
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

/**
 * What a server was made with: its options checked, its backend's defaults
 * applied. Servers made without options by the same backend share one.
 */
export interface ServerConfig {
  /** The handler's own driver options (without the backend's heartbeat). */
  readonly driverOptions: DriverOptions;
  /** What the driver is made with: the handler's driver options, with the backend's heartbeat. */
  readonly driverWithDefaults: DriverOptions;
  /** The heartbeat: the handler's, else the backend's; `undefined` for neither. */
  readonly heartbeat: HeartbeatOptions | false | undefined;
  /** The backend's listener error hook. */
  readonly onListenerError: ((error: ListenerError, ws: Server) => void) | undefined;
  readonly allowOrigins: AllowOrigins | undefined;
  readonly acceptProtocols: readonly string[];
  readonly additionalHeaders: HeaderFields | undefined;
  readonly maxLength: number;
  readonly deflate: DeflateConfig | null;
}

/** The options of every server made without any (frozen, shared: so are the driver's settings made from them). */
export const NO_OPTIONS: ServerOptions = sharedDriverOptions({});
/** Shared by every server without `acceptProtocols`. */
const NO_PROTOCOLS: readonly string[] = Object.freeze([]);
/** The configs of servers made without options, by their backend's defaults (none: `undefined`'s, apart). */
const sharedConfigs = new WeakMap<UpgradeDefaults, ServerConfig>();
let noDefaultsConfig: ServerConfig | null = null;

/**
 * The config of a server made with `options` for a request of a backend with
 * `defaults`: checks the options (throws as the `Server` constructor says),
 * applies the defaults the options leave open (serve()'s heartbeat, origins,
 * compression, listener error hook).
 */
export function serverConfig(options: ServerOptions | undefined, defaults: UpgradeDefaults | undefined): ServerConfig {
  if (options === undefined) {
    const shared = defaults === undefined ? noDefaultsConfig : sharedConfigs.get(defaults);
    if (shared != null) return shared;
  }
  // Without options, the driver's are one shared empty object, not a copy per server.
  const { acceptProtocols, additionalHeaders, perMessageDeflate, allowOrigins } = options ?? NO_OPTIONS;
  const driverOptions = options === undefined ? NO_OPTIONS : driverPart(options);
  // serve()'s heartbeat applies unless the handler chose one (or false).
  const heartbeat = driverOptions.heartbeat ?? defaults?.heartbeat;
  if (allowOrigins !== undefined) checkAllowOrigins(allowOrigins, "server options");
  const protocols = acceptProtocols ?? NO_PROTOCOLS;
  if (!Array.isArray(protocols) || protocols.some((p) => typeof p !== "string" || !isToken(p))) {
    throw new TypeError("Invalid acceptProtocols: expected an array of HTTP tokens");
  }
  // A bad additionalHeaders should fail here, not in the middle of a handshake.
  if (additionalHeaders !== undefined) checkServerAdditionalHeaders(additionalHeaders);
  const config: ServerConfig = Object.freeze({
    driverOptions,
    // The driver's settings are shared too where its options are (sharedDriverOptions).
    driverWithDefaults: heartbeat === undefined || driverOptions.heartbeat !== undefined
      ? driverOptions
      : options === undefined
      ? sharedDriverOptions({ heartbeat })
      : { ...driverOptions, heartbeat },
    heartbeat,
    onListenerError: defaults?.onListenerError,
    allowOrigins: allowOrigins ?? defaults?.allowOrigins,
    acceptProtocols: protocols,
    additionalHeaders,
    maxLength: driverOptions.maxLength ?? DEFAULT_MAX_LENGTH,
    deflate: deflateConfig(perMessageDeflate ?? defaults?.perMessageDeflate, "server options"),
  });
  if (options === undefined) {
    if (defaults === undefined) noDefaultsConfig = config;
    else sharedConfigs.set(defaults, config);
  }
  return config;
}

/** The driver's part of a server's options. */
function driverPart(options: ServerOptions): DriverOptions {
  const { acceptProtocols: _p, additionalHeaders: _h, perMessageDeflate: _d, allowOrigins: _o, ...driverOptions } =
    options;
  return driverOptions;
}

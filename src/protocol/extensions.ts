/**
 * The `Sec-WebSocket-Extensions` header (RFC 6455 §9.1) and the negotiation of
 * permessage-deflate (RFC 7692 §7.1), for both ends. Pure functions: a header
 * value in, a decision out. Parsing is one pass over the value, linear in its
 * length whatever it contains (a backtracking regular expression here was
 * CVE-2020-7662 in another library).
 *
 * @module
 */

import { isTchar, isToken } from "./syntax.ts";

/** One element of a `Sec-WebSocket-Extensions` value: a name and its parameters, in order. */
export interface ExtensionElement {
  /** The extension's name, e.g. `permessage-deflate`. */
  name: string;
  /** The parameters in the order written; a parameter without a value has `null`. */
  params: Array<[name: string, value: string | null]>;
}

const HTAB = 0x09;
const SPACE = 0x20;
const QUOTE = 0x22;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;

/**
 * Parses a `Sec-WebSocket-Extensions` value:
 *
 * ```text
 * extension-list = 1#extension
 * extension      = token *( OWS ";" OWS extension-param )
 * extension-param = token [ OWS "=" OWS ( token | quoted-string ) ]
 * ```
 *
 * Empty list elements are skipped (RFC 9110 §5.6.1). Linear time; never
 * throws. This is the one parser of the header: the server reading offers,
 * the client reading the answer, and `validateResponse` all use it.
 *
 * @param value The header value.
 * @param quotedValues `"token"` (the default): a quoted parameter value must
 * be a token once unescaped, as RFC 6455 §9.1 requires ("the value after
 * quoted-string unescaping MUST conform to the 'token' ABNF"); this is what
 * a negotiation reading parameters applies. `"any"`: any RFC 9110 §5.6.4
 * quoted-string, for a check that reads extension names only and leaves
 * the parameters to the extension's own negotiation.
 * @returns The elements, or `null` when the value breaks the grammar.
 */
export function parseExtensions(value: string, quotedValues: "token" | "any" = "token"): ExtensionElement[] | null {
  const elements: ExtensionElement[] = [];
  const length = value.length;
  let i = 0;
  const skipOws = () => {
    while (i < length) {
      const c = value.charCodeAt(i);
      if (c !== SPACE && c !== HTAB) break;
      i++;
    }
  };
  const token = (): string | null => {
    const start = i;
    while (i < length && isTchar(value.charCodeAt(i))) i++;
    return i > start ? value.slice(start, i) : null;
  };
  for (;;) {
    skipOws();
    if (i === length) break;
    if (value.charCodeAt(i) === COMMA) {
      i++;
      continue;
    }
    const name = token();
    if (name === null) return null;
    const element: ExtensionElement = { name, params: [] };
    elements.push(element);
    skipOws();
    while (i < length && value.charCodeAt(i) === SEMICOLON) {
      i++;
      skipOws();
      const param = token();
      if (param === null) return null;
      skipOws();
      let paramValue: string | null = null;
      if (i < length && value.charCodeAt(i) === EQUALS) {
        i++;
        skipOws();
        if (i < length && value.charCodeAt(i) === QUOTE) {
          i++;
          let unquoted = "";
          let closed = false;
          while (i < length) {
            const c = value.charCodeAt(i++);
            if (c === QUOTE) {
              closed = true;
              break;
            }
            if (c === BACKSLASH) {
              if (i === length) return null;
              const escaped = value.charCodeAt(i);
              // RFC 9110 §5.6.4: quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
              if (!isQuotedText(escaped)) return null;
              unquoted += value[i++];
            } else {
              // RFC 9110 §5.6.4: qdtext excludes control characters but HTAB.
              if (!isQuotedText(c)) return null;
              unquoted += String.fromCharCode(c);
            }
          }
          if (!closed || (quotedValues === "token" && !isToken(unquoted))) return null;
          paramValue = unquoted;
        } else {
          paramValue = token();
          if (paramValue === null) return null;
        }
        skipOws();
      }
      element.params.push([param, paramValue]);
    }
    if (i === length) break;
    if (value.charCodeAt(i) !== COMMA) return null;
    i++;
  }
  return elements;
}

/** HTAB, SP, VCHAR or obs-text: what a quoted-string may hold (RFC 9110 §5.6.4). */
function isQuotedText(code: number): boolean {
  return code === HTAB || (code >= 0x20 && code !== 0x7f && code <= 0xff);
}

// ───────────────────────────── permessage-deflate ─────────────────────────────

/** The extension's registered name. */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/**
 * Settings of permessage-deflate (RFC 7692), the `perMessageDeflate` option of
 * `makeServer`, `makeClient` and `serve`. `true` means all defaults.
 *
 * @example
 * ```ts
 * import { makeServer } from "@x/wsd/server";
 *
 * const handler = (request: Request): Response => {
 *   const ws = makeServer(request, { perMessageDeflate: { threshold: 256, serverNoContextTakeover: true } });
 *   ws.on("message", (message) => ws.send(message));
 *   return ws.startConnection();
 * };
 * ```
 */
export interface PerMessageDeflateOptions {
  /**
   * Messages shorter than this many bytes (characters, for text) are sent
   * uncompressed: small messages gain nothing and cost time.
   *
   * @default {1024}
   */
  threshold?: number;
  /**
   * The compression level, 1 (fastest) to 9 (smallest).
   *
   * @default {6}
   */
  level?: number;
  /**
   * The server starts every message it sends with an empty window (less memory
   * per connection, worse compression of similar messages).
   *
   * @default {false}
   */
  serverNoContextTakeover?: boolean;
  /** The same for the messages the client sends. @default {false} */
  clientNoContextTakeover?: boolean;
  /**
   * The largest LZ77 window the server may use, as bits (8–15): 2^bits bytes
   * per connection of memory at each end. A peer is never asked for less than
   * 9 bits (zlib, in most peers, cannot do 8): 8 limits our own end only. A
   * server cannot limit a client that did not offer `client_max_window_bits`
   * (RFC 7692 §7.1.2.2): such a client may use 15 bits whatever this says.
   *
   * @default {15}
   */
  serverMaxWindowBits?: number;
  /** The same for the client's messages. @default {15} */
  clientMaxWindowBits?: number;
}

/** The parameters both ends agreed on: what each compressor may do. */
export interface DeflateParams {
  /** The server compresses each message with an empty window. */
  serverNoContextTakeover: boolean;
  /** The client compresses each message with an empty window. */
  clientNoContextTakeover: boolean;
  /** The largest window of the server's compressor, 8–15. */
  serverMaxWindowBits: number;
  /** The largest window of the client's compressor, 8–15. */
  clientMaxWindowBits: number;
}

/** The checked form of {@linkcode PerMessageDeflateOptions}. */
export interface DeflateConfig extends Required<PerMessageDeflateOptions> {}

const OPTION_KEYS = [
  "threshold",
  "level",
  "serverNoContextTakeover",
  "clientNoContextTakeover",
  "serverMaxWindowBits",
  "clientMaxWindowBits",
];

/**
 * Checks a `perMessageDeflate` option: `undefined`/`false` → `null` (off),
 * `true` → the defaults, an object → its settings over the defaults.
 *
 * @throws {TypeError} for a value of the wrong type or an unknown key.
 * @throws {RangeError} for a number out of its range.
 */
export function deflateConfig(option: unknown, what: string): DeflateConfig | null {
  if (option === undefined || option === false) return null;
  const config: DeflateConfig = {
    threshold: 1024,
    level: 6,
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  if (option === true) return config;
  if (option === null || typeof option !== "object" || Array.isArray(option)) {
    throw new TypeError(`${what}: perMessageDeflate must be a boolean or an object of settings`);
  }
  const settings = option as Record<string, unknown>;
  for (const key of Object.keys(settings)) {
    if (!OPTION_KEYS.includes(key)) {
      throw new TypeError(
        `${what}: unknown perMessageDeflate setting ${JSON.stringify(key)}; the settings are ${OPTION_KEYS.join(", ")}`,
      );
    }
  }
  const integer = (key: keyof DeflateConfig, min: number, max: number) => {
    const value = settings[key];
    if (value === undefined) return;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`${what}: perMessageDeflate.${key} must be an integer from ${min} to ${max}, got ${value}`);
    }
    (config[key] as number) = value;
  };
  const flag = (key: keyof DeflateConfig) => {
    const value = settings[key];
    if (value === undefined) return;
    if (typeof value !== "boolean") {
      throw new TypeError(`${what}: perMessageDeflate.${key} must be a boolean, got ${typeof value}`);
    }
    (config[key] as boolean) = value;
  };
  integer("threshold", 0, Number.MAX_SAFE_INTEGER);
  integer("level", 1, 9);
  integer("serverMaxWindowBits", 8, 15);
  integer("clientMaxWindowBits", 8, 15);
  flag("serverNoContextTakeover");
  flag("clientNoContextTakeover");
  return config;
}

/**
 * The parameters of one permessage-deflate offer or response, checked: known
 * names only, none twice, the right kind of value (RFC 7692 §7.1). `null` when
 * any of it is wrong.
 */
function readParams(
  params: ExtensionElement["params"],
): Partial<Record<keyof DeflateParams, number | true>> | null {
  const seen: Partial<Record<keyof DeflateParams, number | true>> = {};
  for (const [name, value] of params) {
    let key: keyof DeflateParams;
    switch (name) {
      case "server_no_context_takeover":
        key = "serverNoContextTakeover";
        break;
      case "client_no_context_takeover":
        key = "clientNoContextTakeover";
        break;
      case "server_max_window_bits":
        key = "serverMaxWindowBits";
        break;
      case "client_max_window_bits":
        key = "clientMaxWindowBits";
        break;
      default:
        return null;
    }
    if (seen[key] !== undefined) return null;
    if (key === "serverNoContextTakeover" || key === "clientNoContextTakeover") {
      if (value !== null) return null;
      seen[key] = true;
    } else if (value === null) {
      // Only client_max_window_bits may come without a value (§7.1.2.2).
      if (key !== "clientMaxWindowBits") return null;
      seen[key] = true;
    } else {
      // §7.1.2.1: a decimal integer from 8 to 15 without leading zeroes.
      if (!/^(?:8|9|1[0-5])$/.test(value)) return null;
      seen[key] = Number(value);
    }
  }
  return seen;
}

/**
 * A server's answer to the offers in a request's `Sec-WebSocket-Extensions`:
 * the first permessage-deflate offer it can accept (RFC 7692 §5.1), the
 * parameters it will use, and the response header's value.
 *
 * @returns `null` when no offer is acceptable (the connection goes on without
 * compression).
 */
export function acceptDeflateOffer(
  offers: readonly ExtensionElement[],
  config: DeflateConfig,
): { params: DeflateParams; response: string } | null {
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const p = readParams(offer.params);
    if (p === null) continue;
    const params: DeflateParams = {
      serverNoContextTakeover: config.serverNoContextTakeover || p.serverNoContextTakeover === true,
      clientNoContextTakeover: config.clientNoContextTakeover || p.clientNoContextTakeover === true,
      serverMaxWindowBits: Math.min(
        config.serverMaxWindowBits,
        typeof p.serverMaxWindowBits === "number" ? p.serverMaxWindowBits : 15,
      ),
      clientMaxWindowBits: 15,
    };
    const response = [PERMESSAGE_DEFLATE];
    if (params.serverNoContextTakeover) response.push("server_no_context_takeover");
    if (params.clientNoContextTakeover) response.push("client_no_context_takeover");
    // §7.1.2.1: answer server_max_window_bits when offered (never more than
    // the offer); name a smaller one of our own choice too, but never below 9
    // unasked: zlib cannot make raw windows of 8 bits, and some peers fail
    // outright (our compressor still keeps to 8 if so configured).
    if (typeof p.serverMaxWindowBits === "number") {
      response.push(`server_max_window_bits=${params.serverMaxWindowBits}`);
    } else if (params.serverMaxWindowBits < 15) {
      response.push(`server_max_window_bits=${Math.max(params.serverMaxWindowBits, 9)}`);
    }
    // §7.1.2.2: client_max_window_bits may be limited only if the client
    // offered the parameter; otherwise its compressor uses up to 15 bits. A
    // client is asked for 8 bits only if it offered 8 itself.
    if (p.clientMaxWindowBits !== undefined) {
      const offered = p.clientMaxWindowBits === true ? 15 : p.clientMaxWindowBits;
      params.clientMaxWindowBits = Math.min(offered, Math.max(config.clientMaxWindowBits, 9));
      if (params.clientMaxWindowBits < 15 || p.clientMaxWindowBits !== true) {
        response.push(`client_max_window_bits=${params.clientMaxWindowBits}`);
      }
    }
    return { params, response: response.join("; ") };
  }
  return null;
}

/**
 * The offer a client sends: `permessage-deflate` with
 * `client_max_window_bits` (we can compress with any window the server asks
 * for) and the limits of `config`.
 */
export function deflateOffer(config: DeflateConfig): string {
  const offer = [PERMESSAGE_DEFLATE];
  if (config.serverNoContextTakeover) offer.push("server_no_context_takeover");
  if (config.clientNoContextTakeover) offer.push("client_no_context_takeover");
  // Never below 9 (see acceptDeflateOffer); 8 still limits our own compressor.
  if (config.serverMaxWindowBits < 15) offer.push(`server_max_window_bits=${offeredBits(config.serverMaxWindowBits)}`);
  offer.push(
    config.clientMaxWindowBits < 15
      ? `client_max_window_bits=${offeredBits(config.clientMaxWindowBits)}`
      : "client_max_window_bits",
  );
  return offer.join("; ");
}

/** The window a client offers for a configured one: 8 is offered as 9. */
function offeredBits(bits: number): number {
  return Math.max(bits, 9);
}

/**
 * Checks a server's `Sec-WebSocket-Extensions` answer to
 * {@linkcode deflateOffer} (RFC 7692 §7.1): at most one permessage-deflate,
 * no other extension, parameters valid and within what the offer allowed.
 *
 * @returns The agreed parameters (`null`: the server declined compression),
 * or a message saying why the connection must fail.
 */
export function acceptDeflateResponse(
  header: string | null,
  config: DeflateConfig,
): { ok: true; params: DeflateParams | null } | { ok: false; message: string } {
  if (header === null) return { ok: true, params: null };
  const elements = parseExtensions(header);
  const fail = (why: string) => ({
    ok: false as const,
    message: `Invalid Sec-WebSocket-Extensions header in the response (${JSON.stringify(header)}): ${why}`,
  });
  if (elements === null) return fail("it is not valid extension syntax");
  if (elements.length === 0) return { ok: true, params: null };
  if (elements.length > 1) return fail("the server accepted more than one extension; the client offered one");
  const [element] = elements;
  if (element.name !== PERMESSAGE_DEFLATE) {
    return fail(`the server accepted extension ${JSON.stringify(element.name)}, which the client did not offer`);
  }
  const p = readParams(element.params);
  if (p === null) return fail("unknown, repeated or invalid permessage-deflate parameters");
  if (p.clientMaxWindowBits === true) return fail("client_max_window_bits needs a value in a response");
  // §7.1.2.1: a server that got server_max_window_bits must answer it, not higher.
  if (config.serverMaxWindowBits < 15) {
    const asked = offeredBits(config.serverMaxWindowBits);
    if (typeof p.serverMaxWindowBits !== "number" || p.serverMaxWindowBits > asked) {
      return fail(`the client asked for server_max_window_bits=${asked} or less`);
    }
  }
  // §7.1.1.1: a server that got server_no_context_takeover must answer it.
  if (config.serverNoContextTakeover && p.serverNoContextTakeover !== true) {
    return fail("the client asked for server_no_context_takeover and the server did not agree");
  }
  if (typeof p.clientMaxWindowBits === "number" && p.clientMaxWindowBits > offeredBits(config.clientMaxWindowBits)) {
    return fail(`the client offered client_max_window_bits=${offeredBits(config.clientMaxWindowBits)} at most`);
  }
  return {
    ok: true,
    params: {
      serverNoContextTakeover: p.serverNoContextTakeover === true,
      clientNoContextTakeover: config.clientNoContextTakeover || p.clientNoContextTakeover === true,
      serverMaxWindowBits: typeof p.serverMaxWindowBits === "number" ? p.serverMaxWindowBits : 15,
      // Our compressor: within the answer, and within our own setting (8 stays 8).
      clientMaxWindowBits: Math.min(
        typeof p.clientMaxWindowBits === "number" ? p.clientMaxWindowBits : 15,
        config.clientMaxWindowBits,
      ),
    },
  };
}

/**
 * The registry of upgrades, the one place where a backend and the servers its
 * handler makes meet (a handler passes them nothing but the request and the
 * response). Keyed by the request; a request is offered once, by the backend
 * that received it, before its handler runs.
 *
 * | step | who | reads / writes |
 * |---|---|---|
 * | offer | {@linkcode offerUpgrade} (serve()'s tcp and node backends, `attachUpgrades`), {@linkcode offerNativeUpgrade} (serve()'s deno backend, `withWebSockets` on Bun) | writes the entry: defaults and kind |
 * | make | the `Server` constructor ({@linkcode upgradeOf}) | reads `defaults` (serve()'s heartbeat, compression, origins, onListenerError) and `copy` |
 * | start | `Server.startConnection()` | reads the kind; {@linkcode Upgrade.answered} (a raw offer's 101 stand-in, or the runtime's upgrade response) |
 * | complete | {@linkcode completeUpgrade} (raw backends) | reads the answer and drops the entry (one upgrade per answer) |
 * | track | {@linkcode serverForResponse} (native backends) | reads the answer |
 * | forget | {@linkcode forgetUpgrade} (native backends) | drops the entry, kept for the next native offer |
 *
 * Dropped with the request: a WeakMap, so an upgrade that is never completed
 * (the handler threw, the client went away) leaves nothing behind. A request
 * no backend offered (Deno's `serve` used directly, Deno Deploy) has no entry:
 * its server uses the runtime's built-in upgrade, if any, and no defaults.
 *
 * One object per upgrade: the entry holds the answer too, and is what
 * {@linkcode completeUpgrade} hands back (its `start` a method, not a closure
 * per connection): a handshake's JavaScript is a few dozen small objects and
 * calls, each of which shows (bench/RESULTS.md, "Sixth round, Bun").
 *
 * @module
 */

import type { NativeUpgrader } from "../driver/native.ts";
import { attachStarted } from "../driver/driver.ts";
import type { WebSocketDriver } from "../driver/driver.ts";
import type { InputSource, Transport } from "../driver/transport.ts";

/**
 * A server, as this module sees it: server.ts's `Server` (which imports this
 * module: naming it here would make a cycle), whose functions of the same
 * names give it its own type back.
 */
type Server = WebSocketDriver;

/** The defaults of an offer: server.ts's `UpgradeDefaults` (see {@linkcode Server}). */
type UpgradeDefaults = object;

/** The headers a 101 is written from: the server's own record, or a `Headers`. */
export type AnswerHeaders = Headers | Readonly<Record<string, string>>;

/**
 * What a `Server` lets this module do with it, beyond its public API (set
 * once by the class's `static {}` block, see {@linkcode bindServer}).
 */
export interface ServerFriend {
  /** Fails a server whose upgrade answer the handler did not return (it answered `status`). */
  failUpgrade(server: Server, status: number): void;
  /** Lets the server's `Request` go, if it can be made again (the connection opens). */
  releaseRequest(server: Server): void;
}

let friend: ServerFriend;

/** Called by the `Server` class: how this module reaches its private members. */
export function bindServer(serverFriend: ServerFriend): void {
  friend = serverFriend;
}

/** The `native` part of an entry: which runtime upgrade serves it (`null`: Deno's `upgradeWebSocket`). */
export interface NativeKind {
  /** The upgrader, or `null` for Deno's `upgradeWebSocket`. */
  readonly upgrader: NativeUpgrader | null;
}

/** One upgrade in flight: a request a backend offered, and what its server answered. */
export class Upgrade {
  /** What the servers of this request default to (set again when a native offer's entry is reused). */
  defaults: UpgradeDefaults;
  /**
   * What the request can be made again from (`packRequest`'s string, see
   * connection_state.ts), or `null` (it is kept then).
   */
  readonly copy: string | null;
  /**
   * `null`: the backend has the raw socket, writes the 101 head and runs the
   * driver itself ({@linkcode offerUpgrade}). Otherwise the runtime's own
   * socket serves it ({@linkcode offerNativeUpgrade}).
   */
  native: NativeKind | null;
  /** The server that answered, once its `startConnection()` did (`null` before). */
  server: Server | null = null;
  protocol: string | null = null;
  response: Response | null = null;
  /**
   * The fields `response` was made with: the 101 head is written from them
   * (reading them back from `response.headers` makes the runtime sort and
   * combine its list first). `null` for the runtime's own upgrade.
   */
  headers: AnswerHeaders | null = null;

  constructor(defaults: UpgradeDefaults, copy: string | null, native: NativeKind | null) {
    this.defaults = defaults;
    this.copy = copy;
    this.native = native;
  }

  /** `server`'s `startConnection()` answered `response` (its 101 from `headers`), with `protocol` agreed. */
  answered(server: Server, protocol: string | null, response: Response, headers: AnswerHeaders | null): void {
    this.server = server;
    this.protocol = protocol;
    this.response = response;
    this.headers = headers;
  }

  /**
   * Runs the server on `transport`, once the 101 head was written (see
   * {@linkcode completeUpgrade}); with `source`, a transport started already,
   * whose input is taken over from `source`.
   */
  start(transport: Transport, source?: InputSource): void {
    const server = this.server!;
    friend.releaseRequest(server);
    if (source === undefined) server.attach(transport, this.protocol);
    else attachStarted(server, transport, this.protocol, source);
  }
}

/** What {@linkcode completeUpgrade} gives a backend: the 101's headers, the server, and how to start it. */
export interface CompletedUpgrade {
  /** The headers of the 101 answer. */
  readonly headers: AnswerHeaders;
  /** The server that answered. */
  readonly server: Server;
  /** Runs the server on the connection, once the 101 head is written (see {@linkcode Upgrade.start}). */
  start(transport: Transport, source?: InputSource): void;
}

const upgradeRegistry = new WeakMap<Request, Upgrade>();

/** The entry of `request`, if a backend offered it. */
export function upgradeOf(request: Request): Upgrade | undefined {
  return upgradeRegistry.get(request);
}

/**
 * Marks `request` as coming from a backend with a raw socket, which will write
 * the 101 answer and run the connection itself. For backends only.
 */
export function offerUpgrade(request: Request, defaults: UpgradeDefaults = {}, copy: string | null = null): void {
  upgradeRegistry.set(request, new Upgrade(defaults, copy, null));
}

/** The `native` part of the last native offer, for the next one with the same upgrader. */
let lastNative: NativeKind | null = null;

/**
 * Marks `request` as one that the runtime's own WebSocket will serve, with
 * `upgrader` (or, for `null`, Deno's `upgradeWebSocket`) and the defaults of
 * its server. For runtime adapters only.
 */
export function offerNativeUpgrade(request: Request, upgrader: NativeUpgrader | null, defaults: UpgradeDefaults): void {
  // One wrapper per upgrader (one per Bun server), not one per request: less garbage per handshake.
  let native = lastNative;
  if (native === null || native.upgrader !== upgrader) native = lastNative = { upgrader };
  // The entry a forgotten offer left, if any: no new object per handshake.
  const entry = spareEntry;
  if (entry === null) upgradeRegistry.set(request, new Upgrade(defaults, null, native));
  else {
    spareEntry = null;
    entry.defaults = defaults;
    entry.native = native;
    upgradeRegistry.set(request, entry);
  }
}

/** A native offer's entry that {@linkcode forgetUpgrade} emptied, for the next native offer. */
let spareEntry: Upgrade | null = null;

/**
 * Drops what the registry holds for `request` once its backend is done with
 * it (the handler answered): the request lives on as `ws.request` of an
 * upgraded connection, and the entry (its answer, the response) would live as
 * long. For native backends that need nothing of it afterwards.
 */
export function forgetUpgrade(request: Request): void {
  const entry = upgradeRegistry.get(request);
  if (entry === undefined) return;
  upgradeRegistry.delete(request);
  // Nothing can reach it now (the registry was the way to it): emptied, it serves the next native offer.
  if (entry.native !== null) {
    entry.server = null;
    entry.response = null;
    entry.protocol = null;
    entry.headers = null;
    spareEntry = entry;
  }
}

/**
 * The server whose `startConnection()` made `response` for `request` through
 * the runtime's own upgrade, if any: lets a backend track the connection. For
 * backends only.
 */
export function serverForResponse(request: Request, response: Response): Server | undefined {
  const upgrade = upgradeRegistry.get(request);
  if (upgrade === undefined || upgrade.native === null || upgrade.response !== response) return undefined;
  return upgrade.server ?? undefined;
}

/**
 * What a backend does with a handler's response to an offered request: if it
 * is the upgrade `startConnection()` made for this very request, returns the
 * headers of the 101 answer to write, the server, and `start`, which runs the
 * server on the connection once the head is written; otherwise `null` (answer
 * the response as plain HTTP).
 */
export function completeUpgrade(request: Request, response: Response): CompletedUpgrade | null {
  const upgrade = upgradeRegistry.get(request);
  if (upgrade === undefined || upgrade.native !== null || upgrade.server === null) return null;
  // Nothing reads the entry again (one upgrade per answer): it goes now,
  // not with the request, which the server keeps as `ws.request`.
  upgradeRegistry.delete(request);
  if (response !== upgrade.response) {
    if (!isCopyOf(response, upgrade.response!)) {
      // The handler (or a middleware around it) answered something else:
      // this connection will never open, and says so.
      friend.failUpgrade(upgrade.server, response.status);
      return null;
    }
    upgrade.headers = response.headers;
  }
  return upgrade as CompletedUpgrade;
}

/**
 * Whether `response` is a copy of the upgrade answer: frameworks rebuild a
 * handler's answer to add headers (Hono's middleware makes
 * `new Response(body, answer)`), and those headers then go in the 101 head.
 */
function isCopyOf(response: Response, upgrade: Response): boolean {
  return response.status === upgrade.status && response.body === null &&
    response.headers.get("sec-websocket-accept") === upgrade.headers.get("sec-websocket-accept");
}

/**
 * The `Response` that stands for a 101 (Fetch cannot make one) until the
 * backend writes the real head from the server's own fields: a 200, the
 * default status, which costs Response no conversion. Its `Headers` are
 * filled with those fields only when first read (by a middleware, or a
 * framework that copies the answer): a `Headers` filled on every handshake
 * for nobody cost ~0.3 µs on Bun, 0.5 on Deno, 1 on Node (bench/RESULTS.md,
 * "Sixth round, Bun").
 */
class StandInResponse extends Response {
  #fields: AnswerHeaders | null;

  constructor(fields: AnswerHeaders) {
    super(null);
    this.#fields = fields;
  }

  /** The answer's headers: the 101's fields. */
  // @ts-ignore: an accessor over the `headers` Fetch declares as a property (it is an accessor of the prototype).
  override get headers(): Headers {
    const headers = super.headers;
    const fields = this.#fields;
    if (fields !== null) {
      this.#fields = null;
      if (fields instanceof Headers) fields.forEach((value, name) => headers.append(name, value));
      else for (const name in fields) headers.append(name, fields[name]);
    }
    return headers;
  }

  /** A copy, with the headers. */
  override clone(): Response {
    void this.headers;
    return super.clone();
  }
}

/**
 * A {@linkcode StandInResponse} for the 101's `fields`. (The class stays in
 * this module: its `headers` accessor over Fetch's property is not a
 * declaration a TypeScript user's compiler accepts.)
 */
export function standInResponse(fields: AnswerHeaders): Response {
  return new StandInResponse(fields);
}

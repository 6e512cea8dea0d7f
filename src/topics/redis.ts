/**
 * The Redis backplane: hubs in any number of processes (and machines) that
 * use the same Redis server and channel prefix exchange their messages
 * through Redis pub/sub, with node-redis (npm `redis`) as the client. Only
 * the `@x/wsd/redis` entry point loads this module; the core has no
 * dependencies.
 *
 * Two connections per hub: one publishes, one subscribes (a connection in
 * subscriber mode can do nothing else). Each topic is the channel
 * `prefix + topic`, subscribed to while the hub has local subscribers to it.
 * When Redis goes away, both reconnect by themselves (node-redis's
 * `reconnectStrategy`: exponential back-off up to 2 s by default) and the
 * subscriptions are renewed; meanwhile the hub keeps serving its own
 * subscribers, what it publishes does not reach other processes (dropped,
 * not queued: memory stays bounded), and the hub's `error` event reports the
 * outage once per connection.
 *
 * @module
 */

import { createClient } from "redis";
import { BackplaneError } from "./backplane.ts";
import type { Backplane, BackplaneSink } from "./backplane.ts";

/**
 * Options of node-redis's `createClient`, passed to it as given (see the
 * node-redis documentation for all of them); the common ones are spelled out.
 * Typed here, not imported, so that this package's API does not depend on
 * node-redis's types.
 */
export interface RedisConnectionOptions {
  /** The ACL user name. */
  username?: string;
  /** The password (of `username`, or of the `default` user). */
  password?: string;
  /** The database number (`SELECT`). Pub/sub channels are shared by all databases. */
  database?: number;
  /** The connection's name (`CLIENT SETNAME`). */
  name?: string;
  /** Sends `PING` every this many milliseconds, to notice a dead connection sooner. */
  pingInterval?: number;
  /** How to reach the server and when to reconnect. */
  socket?: RedisSocketOptions;
  /** Any other option of node-redis's `createClient`. */
  [option: string]: unknown;
}

/** The `socket` options of node-redis's `createClient` (the common ones; any other is passed on too). */
export interface RedisSocketOptions {
  /** The host name; `url` sets it too. */
  host?: string;
  /** The port; `url` sets it too. */
  port?: number;
  /** Whether to connect over TLS (`rediss://` in `url` does too). */
  tls?: boolean;
  /** Milliseconds to wait for a connection. */
  connectTimeout?: number;
  /**
   * After a lost connection: `false` gives up, a number waits that many
   * milliseconds, a function of the attempt count and the cause returns
   * either. node-redis's default backs off exponentially up to 2 s.
   */
  reconnectStrategy?: false | number | ((retries: number, cause: Error) => false | Error | number);
  /** Any other socket option (`ca`, `cert`, `key`, … for TLS). */
  [option: string]: unknown;
}

/** Options of {@linkcode redisBackplane}. */
export interface RedisBackplaneOptions {
  /**
   * Where Redis is: `redis[s]://[[username][:password]@][host][:port][/db-number]`.
   * Overrides `clientOptions.url`.
   *
   * @default {"redis://localhost:6379"}
   */
  url?: string;
  /**
   * Any other option of node-redis's `createClient` (`password`, `username`,
   * `socket: { tls, connectTimeout, reconnectStrategy }`, `pingInterval`, …),
   * used for both connections. The publishing connection has
   * `disableOfflineQueue: true` unless set here: while Redis is unreachable,
   * publishes are dropped instead of piling up.
   *
   * @default {{}}
   */
  clientOptions?: RedisConnectionOptions;
  /**
   * The prefix of the Redis channel of each topic: hubs with different
   * prefixes do not hear each other on one Redis server.
   *
   * @default {"wsd:"}
   */
  prefix?: string;
}

const REDIS_OPTION_KEYS = ["url", "clientOptions", "prefix"];

/** The part of a node-redis client this backplane uses. */
interface Client {
  readonly isReady: boolean;
  on(event: string, listener: (...args: never[]) => void): unknown;
  connect(): Promise<unknown>;
  publish(channel: string, message: Uint8Array): Promise<unknown>;
  subscribe(channel: string, listener: (message: Uint8Array) => void, bufferMode: true): Promise<unknown>;
  unsubscribe(channel: string, listener: (message: Uint8Array) => void, bufferMode: true): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): void;
}

/** node-redis writes Buffers, not plain Uint8Arrays: the global Buffer, on every runtime. */
interface BufferClass {
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): Uint8Array;
}

/**
 * A backplane over Redis pub/sub (see the module doc). Make one with
 * {@linkcode redisBackplane}.
 *
 * @example
 * ```ts ignore
 * const backplane = redisBackplane({ url: "redis://127.0.0.1:6379" });
 * const hub = createHub({ backplane });
 * await backplane.ready; // optional: connected to Redis
 * ```
 */
export class RedisBackplane implements Backplane {
  /** The prefix of the Redis channel of each topic. */
  readonly prefix: string;
  readonly #options: RedisConnectionOptions;
  #publisher: Client | null = null;
  #subscriber: Client | null = null;
  #sink: BackplaneSink | null = null;
  readonly #listeners = new Map<string, (message: Uint8Array) => void>();
  readonly #ready = Promise.withResolvers<void>();
  #closed = false;
  #closing: Promise<void> | null = null;
  /** The connections whose outage was reported (once per outage). */
  readonly #down = new Set<string>();
  #dropped = false;

  /**
   * Checks the options; nothing connects until the backplane's hub starts it.
   *
   * @throws {TypeError} for unknown options or options of the wrong type.
   */
  constructor(options: RedisBackplaneOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Invalid Redis backplane options: expected an object");
    }
    for (const key of Object.keys(options)) {
      if (!REDIS_OPTION_KEYS.includes(key)) {
        throw new TypeError(
          `Unknown option "${key}" in Redis backplane options: expected one of url, clientOptions, prefix`,
        );
      }
    }
    const { url, clientOptions = {}, prefix = "wsd:" } = options;
    if (url !== undefined && typeof url !== "string") throw new TypeError("Invalid url: expected a string");
    if (typeof prefix !== "string") throw new TypeError("Invalid prefix: expected a string");
    if (clientOptions === null || typeof clientOptions !== "object") {
      throw new TypeError("Invalid clientOptions: expected an object of node-redis createClient options");
    }
    this.prefix = prefix;
    this.#options = url === undefined ? clientOptions : { ...clientOptions, url };
    this.#ready.promise.catch(() => {});
  }

  /**
   * Resolves once both connections to Redis are ready the first time;
   * rejects if the backplane is closed before. Nobody has to await it:
   * publishes before that reach this hub's subscribers, not Redis.
   */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** Whether both connections to Redis are up now. */
  get connected(): boolean {
    return (this.#publisher?.isReady ?? false) && (this.#subscriber?.isReady ?? false);
  }

  /** Connects to Redis (in the background: failures go to the hub's `error` event). */
  start(sink: BackplaneSink): void {
    if (this.#sink !== null) throw new TypeError("Cannot start the backplane: it serves a hub already");
    if (this.#closed) throw new TypeError("Cannot start the backplane: it is closed");
    this.#sink = sink;
    this.#publisher = this.#connect("publisher", { disableOfflineQueue: true, ...this.#options });
    this.#subscriber = this.#connect("subscriber", this.#options);
  }

  #connect(name: string, options: RedisConnectionOptions): Client {
    const client = createClient(options as Parameters<typeof createClient>[0]) as unknown as Client;
    client.on("error", (error: Error) => {
      if (this.#closed || this.#down.has(name)) return;
      this.#down.add(name);
      this.#report(`The Redis ${name} connection failed (${error.message}); reconnecting`, error);
    });
    client.on("ready", () => {
      this.#down.delete(name);
      if (name === "publisher") this.#dropped = false;
      if (this.connected) this.#ready.resolve();
    });
    client.connect().catch((error: Error) => {
      // Only when reconnectStrategy gave up (or the backplane was closed).
      if (!this.#closed) this.#report(`The Redis ${name} connection gave up: ${error.message}`, error);
    });
    return client;
  }

  /** Publishes `message` on the topic's channel; dropped (reported once) while Redis is unreachable. */
  publish(topic: string, message: Uint8Array): void {
    const publisher = this.#publisher;
    if (publisher === null || this.#closed) {
      this.#sink?.error(new BackplaneError("Cannot publish: the Redis backplane is closed"));
      return;
    }
    if (!publisher.isReady) {
      if (!this.#dropped) {
        this.#dropped = true;
        this.#report("Redis is unreachable: published messages reach this process only until it is back");
      }
      return;
    }
    const Buffer = (globalThis as { Buffer?: BufferClass }).Buffer!;
    publisher.publish(this.prefix + topic, Buffer.from(message.buffer, message.byteOffset, message.byteLength))
      .catch((error: Error) => {
        if (!this.#closed) this.#report(`Cannot publish to Redis: ${error.message}`, error);
      });
  }

  /** Subscribes to the topic's channel (renewed by node-redis after a reconnection). */
  subscribe(topic: string): void {
    const subscriber = this.#subscriber;
    if (subscriber === null || this.#closed || this.#listeners.has(topic)) return;
    const sink = this.#sink!;
    const listener = (message: Uint8Array) => sink.message(topic, message);
    this.#listeners.set(topic, listener);
    subscriber.subscribe(this.prefix + topic, listener, true).catch((error: Error) => {
      if (!this.#closed) this.#report(`Cannot subscribe to ${JSON.stringify(topic)}: ${error.message}`, error);
    });
  }

  /** Unsubscribes from the topic's channel. */
  unsubscribe(topic: string): void {
    const subscriber = this.#subscriber;
    const listener = this.#listeners.get(topic);
    if (subscriber === null || listener === undefined || this.#closed) return;
    this.#listeners.delete(topic);
    subscriber.unsubscribe(this.prefix + topic, listener, true).catch((error: Error) => {
      if (!this.#closed) this.#report(`Cannot unsubscribe from ${JSON.stringify(topic)}: ${error.message}`, error);
    });
  }

  /** Closes both connections (the publisher after its pending publishes). */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    this.#closed = true;
    this.#ready.reject(new Error("The Redis backplane was closed before it connected"));
    this.#listeners.clear();
    const clients = [this.#publisher, this.#subscriber];
    this.#closing = Promise.all(clients.map(async (client) => {
      if (client === null) return;
      try {
        if (client.isReady) await client.close();
        else client.destroy();
      } catch {
        client.destroy();
      }
    })).then(() => {});
    return this.#closing;
  }

  #report(message: string, cause?: unknown): void {
    this.#sink?.error(new BackplaneError(message, cause));
  }
}

/**
 * A backplane over Redis pub/sub (see {@linkcode RedisBackplane}): hubs in
 * every process that uses the same Redis server and `prefix` exchange their
 * messages, exactly once per process, text as text and binary as binary.
 *
 * @example Two processes, one room
 * ```ts ignore
 * import { createHub, makeServer, serve } from "jsr:@x/wsd";
 * import { redisBackplane } from "jsr:@x/wsd/redis";
 *
 * const hub = createHub({ backplane: redisBackplane({ url: "redis://127.0.0.1:6379" }) });
 * hub.on("error", (error) => console.warn(error.message)); // outages; it reconnects by itself
 * serve((request) => {
 *   const ws = makeServer(request);
 *   ws.on("open", () => hub.subscribe(ws, "room:1"));
 *   ws.on("message", (message) => hub.publish("room:1", message));
 *   return ws.startConnection();
 * }, { port: Number(globalThis.process?.argv[2] ?? 5000) }); // run it twice, on two ports
 * ```
 *
 * @example Connection settings
 * ```ts ignore
 * redisBackplane({
 *   url: "rediss://redis.example.com:6380",
 *   clientOptions: { password: "…", socket: { connectTimeout: 5_000 } },
 *   prefix: "chat:",
 * });
 * ```
 */
export function redisBackplane(options?: RedisBackplaneOptions): RedisBackplane {
  return new RedisBackplane(options);
}

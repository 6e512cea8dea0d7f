/**
 * What the runtime adapters provide to the rest of the library, in runtime-free
 * terms.
 *
 * @module
 */

import type { Transport } from "../driver/transport.ts";

/** Where and how to open a TCP (or TLS) connection. */
export interface ConnectOptions {
  /** A host name or an IP address (IPv6 without brackets). */
  hostname: string;
  /** The TCP port. */
  port: number;
  /** Whether to speak TLS (wss://). */
  tls: boolean;
  /** Extra trusted CA certificates, PEM, on top of the system's. */
  caCerts?: readonly string[];
  /**
   * `false` skips the check of the server's certificate (chain and name): for
   * test servers with self-signed certificates only.
   */
  verifyCertificate?: boolean;
  /** Aborts the attempt. */
  signal?: AbortSignal;
  /**
   * An HTTP proxy to open a CONNECT tunnel through (TLS, for `tls`, then runs
   * inside the tunnel, checked against `hostname`).
   */
  proxy?: ProxyTarget;
}

/** An HTTP proxy (see {@linkcode ConnectOptions.proxy}). */
export interface ProxyTarget {
  /** The proxy's host name or IP address (IPv6 without brackets). */
  hostname: string;
  /** The proxy's port. */
  port: number;
  /** The `Proxy-Authorization` value, if any. */
  authorization?: string;
  /** How the proxy is named in messages (its URL without credentials). */
  label: string;
}

/** The functions each runtime adapter exports. */
export interface RuntimeAdapter {
  /** The runtime's name, for messages. */
  name: string;
  /**
   * Opens a connection, as a transport not started yet (the handshake starts
   * it); rejects with an Error whose message says why.
   */
  connect(options: ConnectOptions): Promise<Transport>;
  /**
   * The tcp backend: a raw listener; `onConnection` gets each accepted
   * connection as a transport not started yet (`abort()` closes it), and
   * how to get the peer's address (asked only when wanted: on Node it is a
   * system call).
   */
  listenTcp(
    options: ListenOptions,
    onConnection: (connection: Transport, remoteAddr: () => NetAddr) => void,
  ): Promise<ServeBackend>;
  /** The node backend: a node:http server. */
  listenHttp(options: ListenOptions, context: HttpBackendContext): Promise<ServeBackend>;
  /**
   * One `upgrade` event (`request`, `socket`, `head`) of a node:http or
   * node:https server, possibly one the application made.
   */
  upgradeHttp(request: unknown, socket: unknown, head: unknown, context: HttpBackendContext): Promise<void>;
  /** The runtime's own server (Deno.serve), where there is one. */
  listenNative?(
    options: ListenOptions,
    handler: (request: Request, info: { remoteAddr: NetAddr }) => Response | Promise<Response>,
  ): Promise<ServeBackend>;
}

/** A network address. */
export interface NetAddr {
  /** The host name or IP address. */
  hostname: string;
  /** The port. */
  port: number;
}

/** Where a server listens. */
export interface ListenOptions {
  /** The address to listen on. */
  hostname: string;
  /** The port; 0 for any free one. */
  port: number;
  /** TLS certificate chain, PEM. */
  cert?: string;
  /** TLS private key, PEM. */
  key?: string;
}

/** A running listener of some backend. */
export interface ServeBackend {
  /** Where it listens. */
  addr: NetAddr;
  /** Stops accepting; resolves once the listener is closed. */
  close(): Promise<void>;
  /**
   * Tears down every connection the listener still holds, once `close()` was
   * called and the shutdown timeout passed, so that `close()` resolves.
   */
  closeAll?(): void;
}

/** What the node:http backend needs from the driver layer. */
export interface HttpBackendContext {
  /** Runs the handler (errors become answers). */
  answer(request: Request, info: { remoteAddr: NetAddr }): Promise<Response>;
  /** Marks a request as upgradable by this backend. */
  offerUpgrade(request: Request): void;
  /** Whether the handler's response is the upgrade made for this request. */
  completeUpgrade(
    request: Request,
    response: Response,
  ): {
    headers: Headers | Readonly<Record<string, string>>;
    server: TrackedServer;
    start: (transport: Transport) => void;
  } | null;
  /** Tracks an upgraded connection, for shutdown. */
  track(server: TrackedServer): void;
}

/** The server driver, as the backends see it. */
// deno-lint-ignore no-explicit-any
export type TrackedServer = any;

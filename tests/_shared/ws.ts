/**
 * The `ws` package (the version pinned in tools/rt/package.json), the real
 * peer most tests talk to, typed with the part of its API the tests use (not
 * a test file).
 *
 * Node and Bun resolve the bare specifier "ws" only from a node_modules up
 * the tree, which tools/rt/node_modules is not; a require by path works
 * unchanged on Deno (with -A), Node and Bun.
 *
 * @module
 */

import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

// deno-lint-ignore no-explicit-any
type Listener = (...args: any[]) => void;

/** The part of a `ws` WebSocket (either end) the tests use. */
export interface WsSocket {
  readonly readyState: number;
  readonly protocol: string;
  readonly extensions: string;
  on(event: string, listener: Listener): this;
  once(event: string, listener: Listener): this;
  send(data: unknown, options?: { binary?: boolean }): void;
  ping(data?: unknown): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

/** The part of a `ws` WebSocketServer the tests use. */
export interface WsServer {
  readonly clients: Set<WsSocket>;
  on(event: string, listener: Listener): this;
  once(event: string, listener: Listener): this;
  address(): AddressInfo;
  close(callback?: (error?: Error) => void): void;
}

/** The `ws` module's two classes. */
export interface WsModule {
  WebSocket: new (
    url: string,
    protocols?: string | string[],
    options?: Record<string, unknown>,
  ) => WsSocket;
  WebSocketServer: new (options: Record<string, unknown>) => WsServer;
}

const require = createRequire(import.meta.url);

/** The `ws` package. */
export const ws: WsModule = require("../../tools/rt/node_modules/ws/index.js") as WsModule;

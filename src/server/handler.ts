/**
 * What `serve()` and `handleUpgrade()` share about the Fetch-style handler:
 * its type, how its exceptions become an answer, and the heartbeat both give
 * their WebSockets by default. A module of its own so that neither entry
 * imports the other.
 *
 * @module
 */

import type { HeartbeatOptions } from "../driver/driver.ts";
import type { NetAddr } from "../runtime/types.ts";

/**
 * The heartbeat `serve()` gives its WebSockets by default: a ping after 30 s of
 * silence, and 30 s for any answer. Proxies and load balancers commonly drop
 * connections idle for 60 s; a ping every 30 s of silence keeps them open, and a
 * dead peer is found within a minute.
 */
export const DEFAULT_SERVE_HEARTBEAT: HeartbeatOptions = { interval: 30_000, timeout: 30_000 };

/** What a handler gets besides the request. */
export interface ServeHandlerInfo {
  /** The peer's address. */
  remoteAddr: NetAddr;
}

/** A Fetch-style handler, the same on every backend (and on Deno's `serve`). */
export type ServeHandler = (request: Request, info: ServeHandlerInfo) => Response | Promise<Response>;

/** The default `onError`: log, answer 500. */
export function internalError(error: unknown): Response {
  console.error("Error in the request handler:", error);
  return new Response("Internal Server Error\n", { status: 500 });
}

/** Runs `handler` for a request; a throw (or an answer that is not a Response) becomes `onError`'s answer. */
export function answerWith(
  handler: ServeHandler,
  onError: (error: unknown) => Response | Promise<Response>,
): (request: Request, info: ServeHandlerInfo) => Promise<Response> {
  const answer = answerAtOnceWith(handler, onError);
  return async (request, info) => await answer(request, info);
}

/**
 * As {@linkcode answerWith}, but a handler that returns a `Response` (not a
 * promise) is answered at once, without a promise: what the tcp backend
 * uses, where a handshake is short enough for a promise and its turn of the
 * microtask queue to show.
 */
export function answerAtOnceWith(
  handler: ServeHandler,
  onError: (error: unknown) => Response | Promise<Response>,
): (request: Request, info: ServeHandlerInfo) => Response | Promise<Response> {
  const later = async (answer: Promise<Response>): Promise<Response> => {
    try {
      const response = await answer;
      if (!(response instanceof Response)) throw new TypeError("The handler must return a Response");
      return response;
    } catch (error) {
      return await onError(error);
    }
  };
  return (request, info) => {
    let answer: Response | Promise<Response>;
    try {
      answer = handler(request, info);
    } catch (error) {
      return later(Promise.reject(error));
    }
    return answer instanceof Response ? answer : later(answer);
  };
}

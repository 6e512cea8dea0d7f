/**
 * The Redis backplane for topics: hubs in many processes, on many machines,
 * publish to each other's subscribers through Redis pub/sub. It uses the npm
 * package `redis` (node-redis), the only dependency of this package, loaded
 * by this entry point alone. Runs on Deno, Node and Bun.
 *
 * @example Every process of a cluster
 * ```ts ignore
 * import { createHub, makeServer, serve } from "jsr:@x/wsd";
 * import { redisBackplane } from "jsr:@x/wsd/redis";
 *
 * const hub = createHub({ backplane: redisBackplane({ url: "redis://127.0.0.1:6379" }) });
 * hub.on("error", (error) => console.warn("backplane:", error.message));
 * serve((request) => {
 *   const ws = makeServer(request);
 *   ws.on("open", () => hub.subscribe(ws, "room:1"));
 *   ws.on("message", (message) => hub.publish("room:1", message, { except: ws }));
 *   return ws.startConnection();
 * }, { port: 5000 });
 * ```
 *
 * @example Options, checked at once (nothing connects until a hub starts it)
 * ```ts
 * import { redisBackplane } from "@x/wsd/redis";
 *
 * const backplane = redisBackplane({ url: "redis://127.0.0.1:6379", prefix: "chat:" });
 * console.assert(backplane.prefix === "chat:" && !backplane.connected);
 * ```
 *
 * @module
 */

export { RedisBackplane, redisBackplane } from "./src/topics/redis.ts";
export type { RedisBackplaneOptions, RedisConnectionOptions, RedisSocketOptions } from "./src/topics/redis.ts";

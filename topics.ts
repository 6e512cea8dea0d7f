/**
 * Topics: `createHub()` gives a hub where connections subscribe to names and
 * a message published to a name reaches every subscriber, encoded once, with
 * slow subscribers skipped or closed instead of slowing the others. A
 * backplane carries the messages to the hubs of other processes: in-process
 * buses, a `BroadcastChannel` (Deno Deploy's isolates, workers), or Redis
 * (`@x/wsd/redis`). Also exported by the main entry point.
 *
 * @example A room
 * ```ts ignore
 * import { createHub } from "@x/wsd/topics";
 * import { makeServer, serve } from "@x/wsd/server";
 *
 * const hub = createHub();
 * serve((request) => {
 *   const ws = makeServer(request);
 *   ws.on("open", () => hub.subscribe(ws, "room:1"));
 *   ws.on("message", (message) => hub.publish("room:1", message, { except: ws }));
 *   return ws.startConnection();
 * }, { port: 5000 });
 * ```
 *
 * @example Publishing to nobody yet
 * ```ts
 * import { createHub } from "@x/wsd/topics";
 *
 * const hub = createHub({ slowSubscriberPolicy: "close" });
 * console.assert(hub.publish("news", "hello") === 0 && hub.subscribers("news") === 0);
 * await hub.close();
 * ```
 *
 * @module
 */

export { createHub, Hub } from "./src/topics/hub.ts";
export type { HubEvents, HubOptions, PublishOptions, SlowSubscriberPolicy } from "./src/topics/hub.ts";
export { BackplaneError } from "./src/topics/backplane.ts";
export type { Backplane, BackplaneSink } from "./src/topics/backplane.ts";
export { InProcessBackplane, inProcessBackplane } from "./src/topics/in_process.ts";
export { BroadcastChannelBackplane, broadcastChannelBackplane } from "./src/topics/broadcast_channel.ts";

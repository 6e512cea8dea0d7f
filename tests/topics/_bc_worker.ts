/**
 * A worker for broadcast_channel_test.ts (not a test file): a hub on the
 * BroadcastChannel backplane named in `workerData.channel`, with one
 * subscriber (an in-memory pair) to topic "t". It reports what that
 * subscriber receives and the hub's errors to the parent, and publishes what
 * the parent asks it to.
 *
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";
import { broadcastChannelBackplane, createHub } from "../../mod.ts";
import { memoryPair } from "../driver/_pair.ts";

const port = parentPort!;
const hub = createHub({ backplane: broadcastChannelBackplane((workerData as { channel: string }).channel) });
hub.on("error", (error) => port.postMessage({ error: error.message }));
const pair = memoryPair();
await pair.serverEvents.opened;
hub.subscribe(pair.server, "t");
pair.client.on("message", (message) => port.postMessage({ message }));
port.on("message", async (command: { publish?: string | Uint8Array; close?: true }) => {
  if (command.publish !== undefined) hub.publish("t", command.publish);
  if (command.close) {
    await hub.close();
    pair.client.closeConnection();
    await pair.clientEvents.closed;
    port.postMessage({ closed: true });
  }
});
port.postMessage({ ready: true });

/**
 * The `BroadcastChannel` backplane: hubs in different isolates of Deno
 * Deploy, or in different workers of one process (Deno, Node, Bun), that use
 * the same channel name exchange their messages.
 *
 * @module
 */

import { BackplaneError } from "./backplane.ts";
import type { Backplane, BackplaneSink } from "./backplane.ts";

/**
 * A backplane over one `BroadcastChannel`. Every message goes to every other
 * hub on the channel (a channel cannot filter by topic); each hub keeps
 * those of its own topics. A channel keeps the process alive while it is
 * open: close the hub to release it.
 *
 * @example
 * ```ts
 * import { BroadcastChannelBackplane, createHub } from "@x/wsd/topics";
 *
 * const hub = createHub({ backplane: new BroadcastChannelBackplane("chat") });
 * await hub.close();
 * ```
 */
export class BroadcastChannelBackplane implements Backplane {
  /** The channel's name. */
  readonly name: string;
  #channel: BroadcastChannel | null = null;
  #sink: BackplaneSink | null = null;
  #closed = false;

  /**
   * Creates the backplane of channel `name`; the channel opens when its hub
   * starts it.
   *
   * @throws {TypeError} if `name` is not a non-empty string, or if this
   * runtime has no `BroadcastChannel`.
   */
  constructor(name: string) {
    if (typeof name !== "string" || name.length === 0) {
      throw new TypeError(`Invalid channel name ${JSON.stringify(name)}: expected a non-empty string`);
    }
    if (typeof BroadcastChannel !== "function") {
      throw new TypeError("Cannot make a BroadcastChannel backplane: this runtime has no BroadcastChannel");
    }
    this.name = name;
  }

  /** Opens the channel. */
  start(sink: BackplaneSink): void {
    if (this.#sink !== null) throw new TypeError("Cannot start the backplane: it serves a hub already");
    if (this.#closed) throw new TypeError("Cannot start the backplane: it is closed");
    this.#sink = sink;
    const channel = new BroadcastChannel(this.name);
    channel.onmessage = (event: MessageEvent) => {
      const data = event.data;
      if (
        Array.isArray(data) && data.length === 2 && typeof data[0] === "string" && data[1] instanceof Uint8Array
      ) {
        sink.message(data[0], data[1]);
      } else {
        sink.error(new BackplaneError(`Ignored a message on channel ${JSON.stringify(this.name)} that no hub sent`));
      }
    };
    channel.onmessageerror = () => {
      sink.error(new BackplaneError(`A message on channel ${JSON.stringify(this.name)} could not be read`));
    };
    this.#channel = channel;
  }

  /** Posts `message` to the other hubs on the channel. */
  publish(topic: string, message: Uint8Array): void {
    const channel = this.#channel;
    if (channel === null) {
      this.#sink?.error(new BackplaneError("Cannot publish: the BroadcastChannel backplane is closed"));
      return;
    }
    try {
      channel.postMessage([topic, message]);
    } catch (error) {
      this.#sink!.error(
        new BackplaneError(
          `Cannot post to channel ${JSON.stringify(this.name)}: ${error instanceof Error ? error.message : error}`,
          error,
        ),
      );
    }
  }

  /** Nothing to do: every message reaches every hub, which keeps its own topics. */
  subscribe(_topic: string): void {}

  /** Nothing to do (see {@linkcode BroadcastChannelBackplane.subscribe}). */
  unsubscribe(_topic: string): void {}

  /** Closes the channel. */
  close(): Promise<void> {
    this.#closed = true;
    this.#channel?.close();
    this.#channel = null;
    return Promise.resolve();
  }
}

/**
 * A backplane over the `BroadcastChannel` named `name`: what Deno Deploy
 * offers between the isolates of one application, and what workers of one
 * process share, on every runtime. See {@linkcode BroadcastChannelBackplane}.
 *
 * @example
 * ```ts
 * import { broadcastChannelBackplane, createHub } from "@x/wsd";
 *
 * const hub = createHub({ backplane: broadcastChannelBackplane("chat") });
 * hub.publish("room:1", "hello, other isolates");
 * await hub.close(); // closes the channel
 * ```
 */
export function broadcastChannelBackplane(name: string): BroadcastChannelBackplane {
  return new BroadcastChannelBackplane(name);
}

// The BroadcastChannel backplane between two workers (node:worker_threads,
// on Deno, Node and Bun) and the main thread: each hub's subscriber gets
// every message published by any of the three exactly once, text as text and
// binary as binary; a hub does not get its own messages back.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { BroadcastChannelBackplane, broadcastChannelBackplane, createHub } from "../../mod.ts";
import { delay, memoryPair, withTimeout } from "../driver/_pair.ts";

type Report = { ready?: true; message?: string | Uint8Array; error?: string; closed?: true };

/** A worker running tests/topics/_bc_worker.ts, and what it reported. */
class HubWorker {
  readonly worker: Worker;
  readonly messages: Array<string | Uint8Array> = [];
  readonly errors: string[] = [];
  readonly ready: Promise<void>;
  readonly closed: Promise<void>;

  constructor(channel: string) {
    this.worker = new Worker(new URL("./_bc_worker.ts", import.meta.url), { workerData: { channel } });
    const ready = Promise.withResolvers<void>();
    const closed = Promise.withResolvers<void>();
    this.ready = ready.promise;
    this.closed = closed.promise;
    this.worker.on("error", (error) => ready.reject(error));
    this.worker.on("message", (report: Report) => {
      if (report.ready) ready.resolve();
      if (report.message !== undefined) this.messages.push(report.message);
      if (report.error !== undefined) this.errors.push(report.error);
      if (report.closed) closed.resolve();
    });
  }

  publish(data: string | Uint8Array): void {
    this.worker.postMessage({ publish: data });
  }

  async stop(): Promise<void> {
    this.worker.postMessage({ close: true });
    await withTimeout(this.closed, "the worker's hub to close", 10_000).catch(() => {});
    await this.worker.terminate();
  }
}

/** Sorted, printable forms of messages, so that arrival order between publishers does not matter. */
function shapes(messages: Array<string | Uint8Array>): string[] {
  return messages.map((m) => typeof m === "string" ? `text:${m}` : `binary:${[...m].join(",")}`).sort();
}

describe("BroadcastChannel backplane", () => {
  it("two workers and the main thread: every message once at every hub, types kept", { timeout: 30_000 }, async () => {
    const channel = `wsd-test-${Math.random().toString(36).slice(2)}`;
    const workers = [new HubWorker(channel), new HubWorker(channel)];
    const hub = createHub({ backplane: broadcastChannelBackplane(channel) });
    const errors: Error[] = [];
    hub.on("error", (error) => errors.push(error));
    const pair = memoryPair();
    try {
      await withTimeout(Promise.all(workers.map((w) => w.ready)), "both workers", 20_000);
      await pair.serverEvents.opened;
      hub.subscribe(pair.server, "t");
      workers[0].publish("from worker 0 ✓");
      workers[0].publish(Uint8Array.of(0, 1, 2));
      workers[1].publish("from worker 1");
      hub.publish("t", Uint8Array.of(9));
      hub.publish("not-subscribed", "nobody gets this");
      const expected = shapes(["from worker 0 ✓", Uint8Array.of(0, 1, 2), "from worker 1", Uint8Array.of(9)]);
      await withTimeout(
        (async () => {
          while (
            workers.some((w) => w.messages.length < 4) || pair.clientEvents.messages().length < 4
          ) await delay(10);
        })(),
        "every message at every hub",
        10_000,
      );
      await delay(100); // nothing more may come
      assert.deepEqual(shapes(workers[0].messages), expected);
      assert.deepEqual(shapes(workers[1].messages), expected);
      assert.deepEqual(shapes(pair.clientEvents.messages()), expected);
      assert.deepEqual([...workers[0].errors, ...workers[1].errors, ...errors.map((e) => e.message)], []);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await hub.close();
      if (pair.client.readyState === "open") pair.client.closeConnection();
      await pair.clientEvents.closed;
    }
  });

  it("a message on the channel that no hub sent is reported, not delivered", async () => {
    const channel = `wsd-test-${Math.random().toString(36).slice(2)}`;
    const hub = createHub({ backplane: broadcastChannelBackplane(channel) });
    const errors: Error[] = [];
    hub.on("error", (error) => errors.push(error));
    const pair = memoryPair();
    await pair.serverEvents.opened;
    hub.subscribe(pair.server, "t");
    const stranger = new BroadcastChannel(channel);
    try {
      stranger.postMessage({ hello: "world" });
      stranger.postMessage(["t", "a string, not bytes"]);
      await withTimeout(
        (async () => {
          while (errors.length < 2) await delay(10);
        })(),
        "two errors",
      );
      assert.match(errors[0].message, /no hub sent/);
      assert.equal(pair.clientEvents.messages().length, 0);
    } finally {
      stranger.close();
      await hub.close();
      pair.client.closeConnection();
      await pair.clientEvents.closed;
    }
  });

  it("checks its name; publishing after close is reported; a backplane serves one hub", async () => {
    assert.throws(() => broadcastChannelBackplane(""), { name: "TypeError" });
    const backplane = new BroadcastChannelBackplane("wsd-test-one-hub");
    const hub = createHub({ backplane });
    assert.throws(() => createHub({ backplane }), { name: "TypeError", message: /serves a hub already/ });
    const errors: Error[] = [];
    hub.on("error", (error) => errors.push(error));
    await hub.close();
    backplane.publish("t", Uint8Array.of(1));
    assert.match(errors[0]?.message ?? "", /closed/);
  });
});

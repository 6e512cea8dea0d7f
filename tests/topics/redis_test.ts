// The Redis backplane against a real redis-server (Debian's package, started
// here on a free loopback port without persistence, stopped after): hubs in
// one process and in two server processes (examples/chat_cluster.ts, run with
// the runtime that runs this test) get every message exactly once, text as
// text and binary as binary; an unreachable Redis is reported, never fatal;
// killed and restarted mid-run, Redis is reconnected to and cross-process
// delivery resumes while local delivery never stopped.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHub, makeClient } from "../../mod.ts";
import type { Client, Hub } from "../../mod.ts";
import { redisBackplane } from "../../redis.ts";
import type { RedisBackplane } from "../../redis.ts";
import { delay, memoryPair, withTimeout } from "../driver/_pair.ts";
import type { DriverPair } from "../driver/_pair.ts";
import { Child, eventually, freePort, numsub, RedisServer } from "./_redis.ts";

const T = { timeout: 60_000 };

/** Sorted, printable forms of messages (arrival order between publishers may vary). */
function shapes(messages: Array<string | Uint8Array>): string[] {
  return messages.map((m) => typeof m === "string" ? `text:${m}` : `binary:${[...m].join(",")}`).sort();
}

/**
 * A hub on `backplane` with one subscriber (an in-memory pair) to "t", and its
 * errors; connected to Redis unless `connect` is false (publishes before that
 * reach this process only).
 */
async function member(
  backplane: RedisBackplane,
  connect = true,
): Promise<{ hub: Hub; pair: DriverPair; errors: Error[]; backplane: RedisBackplane }> {
  const hub = createHub({ backplane });
  const errors: Error[] = [];
  hub.on("error", (error) => errors.push(error));
  const pair = memoryPair();
  await pair.serverEvents.opened;
  hub.subscribe(pair.server, "t");
  if (connect) await withTimeout(backplane.ready, "the backplane to connect");
  return { hub, pair, errors, backplane };
}

async function stop(...members: Array<{ hub: Hub; pair: DriverPair }>): Promise<void> {
  for (const { hub, pair } of members) {
    await withTimeout(hub.close(), "the hub to close");
    if (pair.client.readyState === "open") pair.client.closeConnection();
    await pair.clientEvents.closed;
  }
}

describe("Redis backplane (a real redis-server)", () => {
  let redis: RedisServer;
  before(async () => {
    redis = await RedisServer.start();
  });
  after(async () => {
    await redis?.kill();
  });

  it(
    "two hubs: every message once at each, text as text, binary as binary; another prefix hears nothing",
    T,
    async () => {
      const a = await member(redisBackplane({ url: redis.url }));
      const b = await member(redisBackplane({ url: redis.url }));
      const other = await member(redisBackplane({ url: redis.url, prefix: "other:" }));
      try {
        await eventually(async () => (await numsub(redis.port, "wsd:t")) === 2, "both hubs subscribed");
        a.hub.publish("t", "from a ✓");
        a.hub.publish("t", Uint8Array.of(0, 1, 255));
        b.hub.publish("t", "from b", { except: b.pair.server }); // except is local only
        b.hub.publish("elsewhere", "nobody");
        const expected = shapes(["from a ✓", Uint8Array.of(0, 1, 255), "from b"]);
        await eventually(() => a.pair.clientEvents.messages().length >= 3, "a's subscriber");
        await eventually(() => b.pair.clientEvents.messages().length >= 2, "b's subscriber");
        await delay(200); // nothing more may come
        assert.deepEqual(shapes(a.pair.clientEvents.messages()), expected);
        assert.deepEqual(shapes(b.pair.clientEvents.messages()), shapes(["from a ✓", Uint8Array.of(0, 1, 255)]));
        assert.equal(a.pair.clientEvents.messages()[0], "from a ✓", "a's own subscriber got it at once");
        assert.deepEqual(other.pair.clientEvents.messages(), []);
        assert.deepEqual([...a.errors, ...b.errors, ...other.errors], []);
        // The last local subscriber leaving unsubscribes the hub from Redis.
        b.hub.unsubscribe(b.pair.server, "t");
        await eventually(async () => (await numsub(redis.port, "wsd:t")) === 1, "b's hub unsubscribed");
      } finally {
        await stop(a, b, other);
      }
    },
  );

  it(
    "an unreachable Redis is reported on `error`, never fatal; local delivery goes on; close() does not hang",
    T,
    async () => {
      const port = await freePort(); // nobody listens there
      const backplane = redisBackplane({ url: `redis://127.0.0.1:${port}` });
      const m = await member(backplane, false);
      try {
        await eventually(() => m.errors.length > 0, "an error");
        assert.equal(m.errors[0].name, "BackplaneError");
        assert.match(m.errors[0].message, /connection failed .*reconnecting/);
        assert.equal(m.hub.publish("t", "local"), 1);
        assert.equal(m.hub.publish("t", "local 2"), 1);
        assert.deepEqual(await m.pair.clientEvents.nextMessages(2), ["local", "local 2"]);
        assert.ok(m.errors.some((e) => /unreachable/.test(e.message)), "publishes dropped, said once");
        assert.equal(m.errors.filter((e) => /unreachable/.test(e.message)).length, 1);
        assert.equal(backplane.connected, false);
      } finally {
        const start = Date.now();
        await stop(m);
        assert.ok(Date.now() - start < 3_000, "closed promptly");
      }
      await assert.rejects(backplane.ready, /closed before it connected/);
    },
  );

  it("checks its options", () => {
    // deno-lint-ignore no-explicit-any
    const make = redisBackplane as (options: any) => RedisBackplane;
    assert.throws(() => make({ host: "x" }), { name: "TypeError", message: /Unknown option "host"/ });
    assert.throws(() => make({ url: 6379 }), { name: "TypeError" });
    assert.throws(() => make({ prefix: 1 }), { name: "TypeError" });
    assert.throws(() => make({ clientOptions: "x" }), { name: "TypeError" });
    assert.equal(make(undefined).prefix, "wsd:");
  });

  it(
    "Redis killed and restarted mid-run: local delivery goes on, the outage is reported, delivery resumes",
    T,
    async () => {
      const a = await member(redisBackplane({ url: redis.url }));
      const b = await member(redisBackplane({ url: redis.url }));
      try {
        await eventually(async () => (await numsub(redis.port, "wsd:t")) === 2, "both hubs subscribed");
        a.hub.publish("t", "before");
        await eventually(() => b.pair.clientEvents.messages().length === 1, "b got 'before'");

        await redis.kill();
        await eventually(() => a.errors.length > 0 && b.errors.length > 0, "both hubs report the outage");
        assert.match(a.errors[0].message, /reconnecting/);
        a.hub.publish("t", Uint8Array.of(7)); // during the outage: a's own subscriber only
        await eventually(() => a.pair.clientEvents.messages().length === 2, "local delivery during the outage");

        await redis.start();
        await eventually(async () => (await numsub(redis.port, "wsd:t")) === 2, "both hubs subscribed again", 20_000);
        await eventually(() => a.backplane.connected && b.backplane.connected, "both reconnected", 20_000);
        b.hub.publish("t", "after");
        a.hub.publish("t", Uint8Array.of(8));
        await eventually(() => a.pair.clientEvents.messages().length === 4, "a got 'after'");
        await eventually(() => b.pair.clientEvents.messages().length === 3, "b got [8]");
        await delay(200);
        const atA = a.pair.clientEvents.messages();
        assert.deepEqual(atA.slice(0, 2), ["before", Uint8Array.of(7)]);
        assert.deepEqual(shapes(atA.slice(2)), shapes(["after", Uint8Array.of(8)]));
        assert.deepEqual(shapes(b.pair.clientEvents.messages()), shapes(["before", "after", Uint8Array.of(8)]));
      } finally {
        await stop(a, b);
      }
    },
  );

  it(
    "two server processes (examples/chat_cluster.ts): clients on both sides see every message once, across a Redis restart",
    {
      timeout: 90_000,
    },
    async () => {
      const servers = [new Child("examples/chat_cluster.ts", ["--port", "0", "--redis", redis.url])];
      servers.push(new Child("examples/chat_cluster.ts", ["--port", "0", "--redis", redis.url]));
      const clients: Array<{ client: Client; messages: string[] }> = [];
      try {
        const ports = await Promise.all(
          servers.map(async (s) => Number((await s.line(/Chat on http:\/\/localhost:(\d+)\//, "listening"))[1])),
        );
        await Promise.all(servers.map((s) => s.line(/Connected to Redis/, "connected to Redis")));
        const connect = async (port: number) => {
          const client = makeClient(`ws://127.0.0.1:${port}/chat`);
          const entry = { client, messages: [] as string[] };
          client.on("message", (m) => entry.messages.push(m as string));
          client.startConnection();
          await withTimeout(client.opened, "a client to open");
          clients.push(entry);
          return entry;
        };
        const a1 = await connect(ports[0]);
        const a2 = await connect(ports[0]);
        const b1 = await connect(ports[1]);
        const has = (c: { messages: string[] }, text: string) => c.messages.some((m) => m.includes(text));
        // Joins go everywhere once the room is subscribed on both sides.
        await eventually(async () => (await numsub(redis.port, "chat-example:room")) === 2, "both servers subscribed");

        a1.client.send("hello from a");
        b1.client.send("hello from b");
        for (const c of [a1, a2, b1]) {
          await eventually(() => has(c, ": hello from a") && has(c, ": hello from b"), "the hellos everywhere");
        }

        await redis.kill();
        a1.client.send("during the outage");
        await eventually(() => has(a1, ": during the outage") && has(a2, ": during the outage"), "local delivery");
        await eventually(
          () => servers.every((s) => s.stderr.some((l) => l.startsWith("backplane:"))),
          "the outage reported",
        );

        await redis.start();
        // Delivery across resumes once both servers reconnected and subscribed again.
        let probe = 0;
        await eventually(
          async () => {
            if (has(b1, ": probe")) return true;
            if ((await numsub(redis.port, "chat-example:room")) === 2) a1.client.send(`probe ${++probe}`);
            await delay(200);
            return false;
          },
          "delivery across to resume",
          30_000,
        );
        b1.client.send("after the restart");
        a2.client.send("and back");
        for (const c of [a1, a2, b1]) {
          await eventually(() => has(c, ": after the restart") && has(c, ": and back"), "after the restart everywhere");
        }
        await delay(300);
        assert.ok(!has(b1, ": during the outage"), "dropped during the outage, not replayed");
        for (const c of [a1, a2, b1]) {
          const seen = new Set<string>();
          for (const m of c.messages) {
            assert.ok(!seen.has(m), `${m} arrived twice`);
            seen.add(m);
          }
          assert.ok(has(c, ": hello from a") && has(c, ": hello from b"));
        }
        assert.equal(servers.every((s) => s.process.exitCode === null), true, "both servers still running");
      } finally {
        for (const { client } of clients) if (client.readyState === "open") client.closeConnection();
        await Promise.all(clients.map(({ client }) => withTimeout(client.closed, "a client to close").catch(() => {})));
        await Promise.all(servers.map((s) => s.stop()));
      }
    },
  );
});

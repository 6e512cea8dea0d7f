// Large messages echoed over the runtime adapters' transports (loopback TCP,
// the binding in use: native by default, WSD_BINDING=streams for the Web
// Streams one). The native transports let go of written chunks
// (Transport.releasesChunks), so large frames are encoded into pooled buffers
// reused from one write to the next: every message must still arrive as it
// was sent, while the sender changes its bytes right after send().
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { binding, runtimeName } from "../../src/runtime/mod.ts";
import { driverPairs, pattern, sameBytes } from "./_drivers.ts";
import { withTimeout } from "../driver/_pair.ts";
import type { WebSocketDriver } from "../../src/driver/driver.ts";

const T = { timeout: 60_000 };

/**
 * Sends messages of `sizes` from `client`, two in flight (`send` sends message
 * `i`'s bytes), and checks that each echo arrived as it was made.
 */
async function echoAll(
  client: WebSocketDriver,
  sizes: number[],
  send: (bytes: Uint8Array) => void,
): Promise<void> {
  const got: Uint8Array[] = [];
  let done!: () => void;
  const all = new Promise<void>((resolve) => done = resolve);
  let next = 0;
  const sendNext = () => {
    if (next === sizes.length) return;
    const bytes = pattern(sizes[next], next);
    next++;
    send(bytes);
  };
  client.on("message", (m) => {
    got.push(m as Uint8Array);
    if (got.length === sizes.length) done();
    else sendNext();
  });
  sendNext();
  sendNext();
  await withTimeout(all, "every echo", 50_000);
  for (const [i, size] of sizes.entries()) {
    assert.ok(sameBytes(got[i], pattern(size, i)), `echo ${i} (${size} bytes) arrived as sent`);
  }
}

describe(`large echoes over ${runtimeName}'s transports (binding: ${binding})`, () => {
  const pair = driverPairs();

  it(
    "1 MiB and 16 MiB messages, two in flight, echoed intact while both ends reuse and overwrite their bytes",
    T,
    async () => {
      const { server, client } = await pair();
      // The server echoes, then overwrites the message it was given.
      server.on("message", (m) => {
        server.send(m);
        if (typeof m !== "string") m.fill(0x55);
      });
      await echoAll(
        client,
        [1 << 20, 16 << 20, 1 << 20, (1 << 20) + 3, 16 << 20, 70_000, 1 << 20, 1 << 20],
        (bytes) => {
          client.send(bytes);
          bytes.fill(0xaa); // the client's bytes change at once, too
        },
      );
    },
  );

  it(
    "with transfer: 1 MiB and 16 MiB messages echoed intact, every buffer handed over detached",
    T,
    async () => {
      const { server, client } = await pair();
      const detached: boolean[] = [];
      server.on("message", (m) => {
        if (typeof m === "string") return;
        server.send(m, { transfer: true });
        detached.push(m.length === 0);
      });
      await echoAll(client, [1 << 20, 16 << 20, (1 << 20) + 3, 70_000, 16 << 20, 1 << 20], (bytes) => {
        client.send(bytes, { transfer: true });
        assert.equal(bytes.length, 0, "the client's bytes were taken");
      });
      // A message that arrived in a buffer of its own is taken; one assembled
      // in a larger buffer (fragments) is copied.
      assert.ok(detached.some((d) => d), "at least one echoed message was taken");
    },
  );
});

/**
 * Many idle connections that then all talk: what a connection makes only on
 * first use (its protocol state, input and output, its heartbeat; on
 * Bun.serve, nothing of the driver at all) must work after the connection sat
 * idle, and `ws.request` must still be its own request. Used by the serve()
 * backend tests and the Bun.serve adapter's.
 */

import assert from "node:assert/strict";
import { delay, maskedFrame, parseFrames, parseHead, RawClient, requestHead, withTimeout } from "./_util.ts";
import type { ServerRecord } from "./_util.ts";

const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;

/** Opens `count` connections at `port`, lets them idle, then has each send, be echoed and close with 1000. */
export async function idleThenAllSend(
  port: number,
  nextServer: () => Promise<ServerRecord>,
  count: number,
  idleMs = 300,
): Promise<void> {
  const clients: RawClient[] = [];
  try {
    // Opened a batch at a time: the point is many open at once, not a connect storm.
    for (let i = 0; i < count; i += 100) {
      const batch = [];
      for (let j = i; j < Math.min(count, i + 100); j++) {
        batch.push(
          RawClient.connect(port).then(async (raw) => {
            clients[j] = raw;
            raw.write(requestHead({ headers: { "X-Index": String(j) } }));
            assert.equal((await raw.readHead()).status, 101);
          }),
        );
      }
      await Promise.all(batch);
    }
    const records = new Map<number, ServerRecord>();
    for (let i = 0; i < count; i++) {
      const record = await nextServer();
      records.set(Number(record.request.headers.get("x-index")), record);
    }
    assert.equal(records.size, count, "one server per connection, each with its own request");
    await delay(idleMs);
    for (const [i, record] of records) {
      assert.equal(record.server.readyState, "open", `connection ${i} open after idling`);
      assert.equal(record.server.bufferedAmount, 0);
    }
    for (let i = 0; i < count; i++) clients[i].write(maskedFrame(OP_TEXT, `message ${i}`));
    await Promise.all(
      clients.map((raw, i) =>
        raw.until(() => echoed(raw).length === 1, `the echo on connection ${i}`, 15_000).then(() => {
          assert.equal(new TextDecoder().decode(echoed(raw)[0].payload), `message ${i}`);
        })
      ),
    );
    for (const [i, record] of records) {
      // Still the request this very connection sent, after the idle period and the traffic:
      // `ws.request`, read only now (made again from what the connection kept), equals the handler's.
      const late = record.server.request;
      assert.equal(late.headers.get("x-index"), String(i));
      assert.equal(late.url, record.request.url);
      assert.equal(late.method, record.request.method);
      assert.deepEqual([...late.headers], [...record.request.headers], `the headers of connection ${i}`);
      assert.equal(new URL(late.url).pathname, "/");
    }
    const close = new Uint8Array([0x03, 0xe8]); // 1000
    for (const raw of clients) raw.write(maskedFrame(OP_CLOSE, close));
    const codes = await withTimeout(
      Promise.all([...records.values()].map((r) => r.closed)),
      "every server's close",
      15_000,
    );
    for (const [code, reason] of codes) assert.deepEqual([code, reason], [1000, ""]);
    for (const [i, record] of records) {
      assert.deepEqual(record.events.map((e) => e[0]), ["open", "message", "close"], `events of connection ${i}`);
    }
  } finally {
    await Promise.all(clients.filter((c) => c !== undefined).map((c) => c.close()));
  }
}

function echoed(raw: RawClient) {
  return parseFrames(parseHead(raw.bytes()).rest).filter((f) => f.opcode === OP_TEXT);
}

// Backpressure end to end over loopback TCP: 200 MB from a sender that awaits
// drained() to a consumer that falls behind. The bound stated: the consumer
// never holds more than incomingHighWaterMark + one message unread, and the
// sender's own queue stays within outgoingHighWaterMark + one message.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { delay, ms, tcpPair, withTimeout } from "./_pair.ts";

const MESSAGE = 1 << 20; // 1 MiB
const COUNT = 200; // 200 MiB in all
const INCOMING_HWM = 4 << 20;
const OUTGOING_HWM = 2 << 20;

describe("backpressure over TCP (200 MB, a consumer that falls behind)", () => {
  it("keeps both sides' buffers bounded and loses nothing", async () => {
    const pair = await tcpPair({
      client: { incomingHighWaterMark: INCOMING_HWM },
      server: { outgoingHighWaterMark: OUTGOING_HWM },
    });
    try {
      const { server, client } = pair;
      const messages = client[Symbol.asyncIterator]();
      await Promise.all([pair.serverEvents.opened, pair.clientEvents.opened]);
      let maxOutgoing = 0;
      let sent = 0;
      const producer = (async () => {
        const payload = new Uint8Array(MESSAGE);
        for (let i = 0; i < COUNT; i++) {
          payload[0] = i & 0xff;
          server.send(payload);
          sent++;
          maxOutgoing = Math.max(maxOutgoing, server.bufferedAmount);
          await server.drained();
        }
      })();

      // The consumer falls behind: it reads nothing for a while.
      await delay(ms(300));
      assert.ok(client.incomingBufferedAmount <= INCOMING_HWM + MESSAGE, `held ${client.incomingBufferedAmount} bytes`);
      assert.ok(sent < COUNT, `the producer was slowed down (sent ${sent} of ${COUNT})`);

      let maxIncoming = 0;
      let total = 0;
      for (let i = 0; i < COUNT; i++) {
        const { value, done } = await withTimeout(messages.next(), `message ${i}`, 20_000);
        assert.equal(done, false);
        const bytes = value as Uint8Array;
        assert.equal(bytes.length, MESSAGE);
        assert.equal(bytes[0], i & 0xff, `message ${i} in order`);
        total += bytes.length;
        maxIncoming = Math.max(maxIncoming, client.incomingBufferedAmount);
        if (i % 50 === 0) await delay(ms(5)); // still slower than the network now and then
      }
      await producer;
      assert.equal(total, COUNT * MESSAGE);
      assert.ok(maxIncoming <= INCOMING_HWM + MESSAGE, `the consumer held at most ${maxIncoming} bytes`);
      assert.ok(maxOutgoing <= OUTGOING_HWM + MESSAGE + 64, `the sender queued at most ${maxOutgoing} bytes`);
      await messages.return!();
      client.closeConnection();
      await pair.clientEvents.closed;
    } finally {
      await pair.cleanup();
    }
  });
});

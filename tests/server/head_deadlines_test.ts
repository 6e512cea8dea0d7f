import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HeadDeadlines } from "../../src/server/http_connection.ts";
import type { HeadReader } from "../../src/server/http_connection.ts";

/** A stand-in for a connection in its head: records when it expired. */
function reader(name: string, expired: string[]): HeadReader {
  return { due: 0, previous: null, next: null, expire: () => expired.push(name) } as unknown as HeadReader;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("HeadDeadlines: one queue of head timeouts, linked through the readers", () => {
  it("expires the waiting readers in order, skips those done (first, middle, last), and lets go of them", async () => {
    const deadlines = new HeadDeadlines(50);
    const expired: string[] = [];
    const readers = Array.from({ length: 9 }, (_, i) => reader(`r${i}`, expired));
    try {
      for (const r of readers) deadlines.add(r);
      for (const i of [0, 4, 8]) deadlines.done(readers[i]);
      // A done reader holds no neighbour (nothing keeps the others alive through it), and done twice is harmless.
      for (const i of [0, 4, 8]) {
        assert.equal(readers[i].previous, null);
        assert.equal(readers[i].next, null);
        deadlines.done(readers[i]);
      }
      await delay(150);
      assert.deepEqual(expired, ["r1", "r2", "r3", "r5", "r6", "r7"]);
      assert.ok(readers.every((r) => r.due === -1 && r.previous === null && r.next === null));
      // Done after it expired changes nothing; the queue still works for later readers.
      deadlines.done(readers[1]);
      const late = reader("late", expired);
      deadlines.add(late);
      await delay(150);
      assert.deepEqual(expired.slice(6), ["late"]);
    } finally {
      deadlines.stop();
    }
  });

  it("a reader armed later waits its own full timeout; stop() drops the rest without expiring them", async () => {
    const deadlines = new HeadDeadlines(200);
    const expired: string[] = [];
    const early = reader("early", expired);
    const later = reader("later", expired);
    const kept = reader("kept", expired);
    deadlines.add(early);
    await delay(100);
    deadlines.add(later);
    const laterDue = later.due;
    while (expired.length === 0) await delay(10);
    // (Only asserted when the machine was quick enough to look before the later one's time.)
    if (performance.now() < laterDue - 20) assert.deepEqual(expired, ["early"]);
    while (expired.length < 2) await delay(10);
    assert.deepEqual(expired, ["early", "later"]);
    assert.ok(performance.now() >= laterDue - 5, "the later one kept its own timeout");
    deadlines.add(kept);
    deadlines.stop();
    await delay(200);
    assert.deepEqual(expired, ["early", "later"]);
    // A reader dropped by stop() and then done does not disturb the (empty) queue.
    deadlines.done(kept);
    const again = reader("again", expired);
    deadlines.add(again);
    deadlines.stop();
    assert.equal(again.due, -1);
  });
});

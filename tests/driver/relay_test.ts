/**
 * The TransportRelay's pauses (issue 21: a pause and a resume per connection
 * cost Bun two calls into its socket layer): the transport is paused only
 * when input arrives between the hand-off and the next reader, and resumed
 * when that reader starts, unless it paused itself. A fake transport counts
 * the calls.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TransportRelay } from "../../src/driver/transport.ts";
import type { Transport, TransportSink } from "../../src/driver/transport.ts";

/** A transport whose input the test pushes, counting pauses and resumes. */
class FakeTransport implements Transport {
  sink: TransportSink | null = null;
  pauses = 0;
  resumes = 0;
  paused = false;
  start(sink: TransportSink): void {
    this.sink = sink;
  }
  push(text: string): void {
    this.sink!.data(new TextEncoder().encode(text));
  }
  write(): Promise<void> {
    return Promise.resolve();
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
  abort(): void {}
  pause(): void {
    this.pauses++;
    this.paused = true;
  }
  resume(): void {
    this.resumes++;
    this.paused = false;
  }
}

/** A sink that keeps what it gets as text. */
function collector(): TransportSink & { got: string[]; ended: boolean } {
  const got: string[] = [];
  return {
    got,
    ended: false,
    data(chunk) {
      got.push(new TextDecoder().decode(chunk));
    },
    end() {
      this.ended = true;
    },
  };
}

describe("TransportRelay pauses", () => {
  it("no input between hand-off and the next reader: no pause, no resume", () => {
    const transport = new FakeTransport();
    const relay = new TransportRelay(transport, collector());
    const next = relay.handOff(new TextEncoder().encode("rest"));
    const sink = collector();
    next.start(sink);
    assert.deepEqual(sink.got, ["rest"]);
    assert.equal(transport.pauses, 0);
    assert.equal(transport.resumes, 0);
    transport.push("live");
    assert.deepEqual(sink.got, ["rest", "live"]);
  });

  it("input between hand-off and the next reader: held, the transport paused once, resumed at start", () => {
    const transport = new FakeTransport();
    const relay = new TransportRelay(transport, collector());
    const next = relay.handOff();
    transport.push("a");
    transport.push("b"); // a runtime may deliver what it read already
    assert.equal(transport.pauses, 1);
    assert.ok(transport.paused);
    const sink = collector();
    next.start(sink);
    assert.deepEqual(sink.got, ["a", "b"]);
    assert.equal(transport.resumes, 1);
    assert.ok(!transport.paused);
  });

  it("the next reader paused before its start: it stays paused until it resumes", () => {
    const transport = new FakeTransport();
    const relay = new TransportRelay(transport, collector());
    const next = relay.handOff();
    next.pause!();
    assert.ok(transport.paused);
    transport.push("x"); // held; no second pause
    assert.equal(transport.pauses, 1);
    const sink = collector();
    next.start(sink);
    assert.deepEqual(sink.got, ["x"]);
    assert.ok(transport.paused, "still paused: the reader asked for it");
    next.resume!();
    assert.ok(!transport.paused);
  });

  it("paused and resumed before its start: the transport reads again once it starts", () => {
    const transport = new FakeTransport();
    const relay = new TransportRelay(transport, collector());
    const next = relay.handOff();
    next.pause!();
    next.resume!();
    next.start(collector());
    assert.ok(!transport.paused);
    // After the start, pause and resume go straight to the transport.
    next.pause!();
    assert.ok(transport.paused);
    next.resume!();
    assert.ok(!transport.paused);
  });

  it("the end of the input while nobody reads is given to the next reader", () => {
    const transport = new FakeTransport();
    const relay = new TransportRelay(transport, collector());
    const next = relay.handOff();
    transport.push("last");
    transport.sink!.end();
    const sink = collector();
    next.start(sink);
    assert.deepEqual(sink.got, ["last"]);
    assert.ok(sink.ended);
  });
});

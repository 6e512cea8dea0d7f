/**
 * HeldInput, the hand-over of a transport's input from a head reader (the
 * server's and the client's) to the next reader: what follows the head is
 * held, the transport paused only when input arrives between the head and the
 * next reader (issue 21: a pause and a resume per connection cost Bun two
 * calls into its socket layer), and resumed when that reader starts, unless
 * it paused itself. A fake transport counts the calls.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { redirectInput } from "../../src/driver/transport.ts";
import type { Transport, TransportSink } from "../../src/driver/transport.ts";
import { PipeHeadReader } from "./_held.ts";

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

/** A fake transport that can redirect its input, as this library's native ones can. */
class RedirectingTransport extends FakeTransport {
  redirected = 0;
  [redirectInput](sink: TransportSink): void {
    this.redirected++;
    this.sink = sink;
  }
}

describe("HeldInput: the hand-over after a head", () => {
  it("no input between the head and the next reader: no pause, no resume", () => {
    const transport = new FakeTransport();
    const reader = new PipeHeadReader(transport);
    transport.push("head|rest");
    const sink = collector();
    reader.resumeWith(sink);
    assert.deepEqual(sink.got, ["rest"]);
    assert.equal(transport.pauses, 0);
    assert.equal(transport.resumes, 0);
    transport.push("live");
    assert.deepEqual(sink.got, ["rest", "live"]);
    assert.deepEqual(reader.saw, ["head|rest"], "the head reader gets nothing after its head");
  });

  it("input between the head and the next reader: held, the transport paused once, resumed at the hand-over", () => {
    const transport = new FakeTransport();
    const reader = new PipeHeadReader(transport);
    transport.push("he");
    transport.push("ad|r");
    transport.push("a");
    transport.push("b"); // a runtime may deliver what it read already
    assert.equal(transport.pauses, 1);
    assert.ok(transport.paused);
    const sink = collector();
    reader.resumeWith(sink);
    assert.deepEqual(sink.got, ["r", "a", "b"], "the rest of the head's chunk first of all");
    assert.equal(transport.resumes, 1);
    assert.ok(!transport.paused);
    assert.deepEqual(reader.saw, ["he", "ad|r"]);
  });

  it("a held chunk is kept (false): the transport must not reuse it", () => {
    const transport = new FakeTransport();
    const reader = new PipeHeadReader(transport);
    transport.push("head|");
    assert.equal(transport.sink!.data(new Uint8Array(3)), false, "held until the next reader starts");
    reader.resumeWith({ data: () => true, end() {} });
    assert.equal(transport.sink!.data(new Uint8Array(3)), true, "the next reader's answer, passed on");
  });

  it("the next reader pauses while it takes what was held: the transport stays paused until it resumes", () => {
    const transport = new FakeTransport();
    const reader = new PipeHeadReader(transport);
    transport.push("head|");
    transport.push("x"); // held: paused
    const sink = collector();
    reader.resumeWith({
      data(chunk) {
        sink.data(chunk);
        transport.pause();
      },
      end() {},
    });
    assert.deepEqual(sink.got, ["x"]);
    assert.ok(transport.paused, "still paused: the reader asked for it");
    transport.resume();
    assert.ok(!transport.paused);
  });

  it("the end of the input while nobody reads is given to the next reader, after what was held", () => {
    const transport = new FakeTransport();
    const reader = new PipeHeadReader(transport);
    transport.push("head|");
    transport.push("last");
    transport.sink!.end();
    const sink = collector();
    reader.resumeWith(sink);
    assert.deepEqual(sink.got, ["last"]);
    assert.ok(sink.ended);
  });

  it("a transport that delivers (and ends) inside start(): the rest, the other chunks, then the end, in order", () => {
    const chunks = ["GET|a", "b", "c"].map((t) => new TextEncoder().encode(t));
    const eager: Transport = {
      start(sink) {
        for (const chunk of chunks) sink.data(chunk);
        sink.end();
      },
      write: () => Promise.resolve(),
      end: () => Promise.resolve(),
      abort() {},
    };
    const reader = new PipeHeadReader(eager);
    assert.deepEqual(reader.saw, ["GET|a"]);
    const sink = collector();
    reader.resumeWith(sink);
    assert.deepEqual(sink.got, ["a", "b", "c"]);
    assert.ok(sink.ended);
  });

  it("a transport that can redirect its input delivers to the next reader directly; a second hand-over throws", () => {
    const transport = new RedirectingTransport();
    const reader = new PipeHeadReader(transport);
    transport.push("head|");
    const sink = collector();
    reader.resumeWith(sink);
    assert.equal(transport.redirected, 1);
    assert.equal(transport.sink, sink, "no object between the transport and the next reader");
    assert.throws(() => reader.resumeWith(collector()), TypeError);
  });

  it("without redirection, the head reader passes live input and the end on", () => {
    const transport = new FakeTransport();
    const reader = new PipeHeadReader(transport);
    transport.push("head|");
    const sink = collector();
    reader.resumeWith(sink);
    transport.push("live");
    transport.sink!.end();
    assert.deepEqual(sink.got, ["live"]);
    assert.ok(sink.ended);
    assert.throws(() => reader.resumeWith(collector()), TypeError);
  });
});

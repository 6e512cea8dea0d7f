// With the native binding of every runtime, a large frame is copied out of the
// reads as they come, so each read is let go of on arrival: Node's and Bun's
// are then freed (src/runtime/memory.ts freeChunk), and Deno's one read buffer
// is read into again instead of a fresh one being allocated per read (which
// measured 1.3x fewer MB per server CPU second at 1 MiB: bench/RESULTS.md,
// "Fourth round"). With the streams binding nothing is freed or reused, and
// the reads of a frame wait until it is complete.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../src/protocol/protocol.ts";
import { binding, runtimeAdapter, runtimeName } from "../../src/runtime/mod.ts";
import { pattern, sameBytes } from "../_shared/bytes.ts";
import { encodeFrame, OP } from "../_shared/frames.ts";

describe(`reads of a large frame, on ${runtimeName} (binding: ${binding})`, () => {
  before(async () => {
    await runtimeAdapter(); // installs the runtime's memory policy
  });

  it(binding === "native" ? "are let go of as they come" : "wait for the rest of the frame", () => {
    const payload = pattern(1 << 20, 5);
    const wire = encodeFrame(OP.BINARY, payload, { mask: new Uint8Array([1, 2, 3, 4]) });
    const protocol = new Protocol({ role: "server" });
    let letGo = 0, reads = 0;
    for (let at = 0; at < wire.length; at += 65_536) {
      reads++;
      if (protocol.receiveData(wire.slice(at, at + 65_536))) letGo++;
    }
    const events = protocol.eventsReceived();
    assert.equal(events.length, 1);
    assert.ok(events[0].type === "binary" && sameBytes(events[0].data, payload));
    // (The first eighth of the frame waits before the copy starts.)
    if (binding === "native") assert.ok(letGo >= reads - 3, `${letGo} of ${reads} reads let go of`);
    else assert.ok(letGo <= 2, `${letGo} of ${reads} reads let go of`);
  });
});
